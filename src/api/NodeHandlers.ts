/** Handlers of the `node` group (`NodeApi.ts`), over the node's `PeerManager` and `NodeNetwork`. */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { PeerManager } from "../actors/PeerManager.ts"
import { toHex } from "../protocol/bytes.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { formatAddress } from "../services/Transport.ts"
import { ControlApi } from "./ControlApi.ts"
import { features } from "./convert.ts"

export const NodeHandlers = HttpApiBuilder.group(
  ControlApi,
  "node",
  Effect.fn(function*(handlers) {
    const peers = yield* PeerManager
    const network = yield* NodeNetwork
    return handlers.handle("info", () =>
      Effect.succeed({
        nodeId: toHex(peers.nodeId),
        features: features(peers.features),
        listenAddress: peers.listenAddress === undefined ? null : formatAddress(peers.listenAddress),
        network: network.name,
        chainHash: toHex(network.chainHash)
      }))
  })
)
