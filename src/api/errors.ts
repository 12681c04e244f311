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

/** No channel with this id, temporary or final (404). */
export class ChannelNotFound extends Schema.TaggedError<ChannelNotFound>()(
  "ChannelNotFound",
  { channelId: Schema.String, message: Schema.String },
  { httpApiStatus: 404 }
) {}

/**
 * `POST /v1/channels` refused before anything was sent: the open rules (amount below the
 * minimum, push above the funding...) (400). `reason` is the rule's error tag and detail.
 */
export class OpenChannelFailed extends Schema.TaggedError<OpenChannelFailed>()(
  "OpenChannelFailed",
  { reason: Schema.String, message: Schema.String },
  { httpApiStatus: 400 }
) {}

/** The peer refused the channel (`error` for the temporary id, or it disconnected) (502). */
export class ChannelOpenRefused extends Schema.TaggedError<ChannelOpenRefused>()(
  "ChannelOpenRefused",
  { channelId: Schema.String, reason: Schema.String, message: Schema.String },
  { httpApiStatus: 502 }
) {}

/**
 * The channel refused the command in its current phase (closing a channel still opening, a
 * funding transaction without the funding output...) and nothing changed (409). `command` is
 * the input (`Close`, `FundingTransaction`...), `reason` the channel's error tag and detail.
 */
export class ChannelCommandRejected extends Schema.TaggedError<ChannelCommandRejected>()(
  "ChannelCommandRejected",
  { channelId: Schema.String, command: Schema.String, reason: Schema.String, message: Schema.String },
  { httpApiStatus: 409 }
) {}

/** The channel's actor stopped (the node is shutting down) or crashed (503). */
export class ChannelUnavailable extends Schema.TaggedError<ChannelUnavailable>()(
  "ChannelUnavailable",
  { channelId: Schema.String, message: Schema.String },
  { httpApiStatus: 503 }
) {}
