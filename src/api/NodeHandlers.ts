/**
 * Handlers of the `node` group (`NodeApi.ts`), over the node's `PeerManager` and `NodeNetwork`,
 * and its `ChainSource` when it follows a chain (the tip's height as `blockHeight`).
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { PeerManager } from "../actors/PeerManager.ts"
import { toHex } from "../protocol/bytes.ts"
import { ChainSource } from "../services/ChainSource.ts"
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
    const chain = yield* Effect.serviceOption(ChainSource)
    // The tip when the chain answers; a chain source that is unreachable leaves the field out.
    const blockHeight: Effect.Effect<number | undefined> = chain._tag === "None"
      ? Effect.succeed(undefined)
      : chain.value.tip.pipe(Effect.map((tip) => tip.height), Effect.orElseSucceed(() => undefined))
    return handlers.handle("info", () =>
      Effect.map(blockHeight, (height) => ({
        nodeId: toHex(peers.nodeId),
        features: features(peers.features),
        listenAddress: peers.listenAddress === undefined ? null : formatAddress(peers.listenAddress),
        network: network.name,
        chainHash: toHex(network.chainHash),
        ...(height === undefined ? {} : { blockHeight: height })
      })))
  })
)
