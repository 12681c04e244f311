/** Handlers of the `peers` group (`PeersApi.ts`), over the node's `PeerManager`. */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { PeerManager } from "../actors/PeerManager.ts"
import { equalBytes, toHex } from "../protocol/bytes.ts"
import { formatAddress } from "../services/Transport.ts"
import { ControlApi } from "./ControlApi.ts"
import { describeReason, nodeIdFromHex, peerToJson } from "./convert.ts"
import { InvalidRequest, PeerConnectFailed, PeerNotFound } from "./errors.ts"

export const PeersHandlers = HttpApiBuilder.group(
  ControlApi,
  "peers",
  Effect.fn(function*(handlers) {
    const peers = yield* PeerManager
    return handlers
      .handle("connect", ({ payload }) =>
        Effect.gen(function*() {
          const nodeId = nodeIdFromHex(payload.nodeId)
          if (equalBytes(nodeId, peers.nodeId)) {
            return yield* new InvalidRequest({ message: "cannot connect to our own node id" })
          }
          const address = { host: payload.host, port: payload.port }
          const peer = yield* peers.connect(nodeId, address).pipe(
            Effect.mapError((error) =>
              new PeerConnectFailed({
                nodeId: toHex(nodeId),
                address: formatAddress(address),
                reason: error.reason._tag,
                message: `could not connect to ${toHex(nodeId)}@${formatAddress(address)}: ${describeReason(error.reason)}`
              })
            )
          )
          return peerToJson(peer)
        }))
      .handle("list", () => Effect.map(peers.peers, (list) => list.map(peerToJson)))
      .handle("disconnect", ({ params }) =>
        peers.disconnect(nodeIdFromHex(params.nodeId)).pipe(
          Effect.mapError((error) =>
            new PeerNotFound({ nodeId: toHex(error.nodeId), message: `peer ${toHex(error.nodeId)} is not connected` })
          )
        ))
  })
)
