/**
 * Errors of the control API. Every one is JSON `{ "_tag": ..., "message": ... }` (plus details)
 * with its HTTP status, so a client always gets a reason it can show.
 */
import { Schema } from "effect"

/** The request is malformed: bad JSON, a missing field, a bad node id or port (400). */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()(
  "InvalidRequest",
  { message: Schema.String },
  { httpApiStatus: 400 }
) {}

/** No route for this method and path (404). */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()(
  "RouteNotFound",
  { message: Schema.String },
  { httpApiStatus: 404 }
) {}

/** The node id is not connected (404). */
export class PeerNotFound extends Schema.TaggedError<PeerNotFound>()(
  "PeerNotFound",
  { nodeId: Schema.String, message: Schema.String },
  { httpApiStatus: 404 }
) {}

/**
 * The connection could not be established: TCP failed, the handshake or `init` failed or timed
 * out, or the remote was rejected (502: the failure is on the remote side of this gateway).
 * `reason` is the registry's `DisconnectReason` tag, e.g. `TransportFailed`, `HandshakeFailed`.
 */
export class PeerConnectFailed extends Schema.TaggedError<PeerConnectFailed>()(
  "PeerConnectFailed",
  { nodeId: Schema.String, address: Schema.String, reason: Schema.String, message: Schema.String },
  { httpApiStatus: 502 }
) {}

/**
 * The invoice does not decode or its signature does not check (400). `reason` is the decoder's
 * error tag (`InvalidBech32`, `InvalidHrp`, `MissingField`, `InvalidSignature`, ...).
 */
export class InvalidInvoice extends Schema.TaggedError<InvalidInvoice>()(
  "InvalidInvoice",
  { reason: Schema.String, message: Schema.String },
  { httpApiStatus: 400 }
) {}
