/**
 * `peers` group of the control API: connect to a node (BOLT 8 handshake + BOLT 1 `init`), list
 * the connected peers, disconnect one.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Schema } from "effect"
import { InvalidRequest, PeerConnectFailed, PeerNotFound } from "./errors.ts"
import { ConnectRequest, NodeIdHex, Peer } from "./schemas.ts"

export class PeersApi extends HttpApiGroup.make("peers")
  .add(
    HttpApiEndpoint.post("connect", "/v1/peers", {
      payload: ConnectRequest,
      success: Peer,
      error: [InvalidRequest, PeerConnectFailed]
    }).annotate(
      OpenApi.Description,
      "Connects to a node and returns once the handshake and the init exchange are done. Succeeds at once if already connected."
    ),
    HttpApiEndpoint.get("list", "/v1/peers", { success: Schema.Array(Peer) }).annotate(
      OpenApi.Description,
      "Peers whose handshake and init exchange completed, sorted by node id."
    ),
    HttpApiEndpoint.delete("disconnect", "/v1/peers/:nodeId", {
      params: { nodeId: NodeIdHex },
      success: HttpApiSchema.NoContent,
      error: [InvalidRequest, PeerNotFound]
    }).annotate(OpenApi.Description, "Closes the connection to a peer; returns once it is closed.")
  )
  .annotateMerge(OpenApi.annotations({ title: "Peers" }))
{}
