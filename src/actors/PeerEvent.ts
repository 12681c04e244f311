/**
 * What the peer layer reports upward: why a connection ended (`DisconnectReason`), what a
 * live peer looks like (`PeerInfo`), the lossless per-connection stream for the layer above
 * (`PeerSessionEvent`, keyed by `SessionId`) and the registry's informational event stream
 * (`PeerEvent`). Reasons are plain tagged values so the control API can render them as JSON.
 */
import { Brand, Data, type Effect, Schema, type Scope } from "effect"
import type { LightningMessage } from "../protocol/messages/index.ts"
import { checkedBrand, type NodeId } from "../protocol/units.ts"
import type { SocketAddress } from "../services/Transport.ts"

/** Why a connection ended or could not be established. */
export type DisconnectReason = Data.TaggedEnum<{
  /** `Transport.connect` failed (refused, unreachable...). */
  TransportFailed: { readonly message: string }
  /** The byte stream closed under us (remote EOF/reset, or the transport went away). */
  ConnectionClosed: { readonly message: string }
  /** BOLT 8 acts 1-3 did not complete within the handshake timeout. */
  HandshakeTimeout: {}
  /** BOLT 8 handshake failed (bad version, bad key, MAC failure, wrong remote key). */
  HandshakeFailed: { readonly message: string }
  /** No `init` from the remote within the init timeout (BOLT 1). */
  InitTimeout: {}
  /** The first message after the handshake was not `init` (BOLT 1). */
  InitExpected: { readonly messageType: number }
  /** The remote requires feature bits we do not know or do not offer (BOLT 1/9); we sent a `warning`. */
  UnknownRequiredFeatures: { readonly bits: ReadonlyArray<number> }
  /** The remote's features miss a dependency BOLT 9 requires (e.g. payment_secret without var_onion_optin). */
  MissingFeatureDependency: { readonly message: string }
  /** The remote's `networks` TLV shares no chain with ours (BOLT 1). */
  NoCommonChain: {}
  /** A frame's declared length exceeds our limit (BOLT 8 framing). */
  FrameTooLong: { readonly length: number; readonly limit: number }
  /** A length or body failed its Poly1305 MAC (BOLT 8): the stream is corrupted or hostile. */
  DecryptionFailed: {}
  /** A known message failed to decode (BOLT 1: close the connection). */
  MalformedMessage: { readonly messageType: number; readonly message: string }
  /** An unknown even message type (BOLT 1: "it's OK to be odd", even ones close). */
  UnknownEvenMessage: { readonly messageType: number }
  /** No `pong` within the ping timeout (BOLT 1). */
  PingTimeout: {}
  /** A `pong` whose length matches no outstanding `ping` (BOLT 1 allows closing). */
  UnexpectedPong: { readonly length: number }
  /** A well-formed message the protocol forbids at this point: BOLT 1 allows `init` once per connection. */
  ProtocolViolation: { readonly messageType: number; readonly message: string }
  /** The remote sent an `error` for all channels (channel_id zero) (BOLT 1). */
  ReceivedError: { readonly message: string }
  /** Another connection to the same node id won the tie-break (see PeerManager). */
  DuplicateConnection: {}
  /** `disconnect` was called, or the node is shutting down (also what a `connect` cut short by the shutdown reports). */
  LocalRequest: {}
  /** Our outbound queue to this peer was full when a message was queued: the peer does not read fast enough. */
  OutboundQueueFull: { readonly capacity: number }
  /** The peer actor died on a bug (defect); the message is for logs. */
  InternalError: { readonly message: string }
}>
export const DisconnectReason = Data.taggedEnum<DisconnectReason>()

export type Direction = "inbound" | "outbound"

/**
 * One connection of the registry, from a counter (1, 2, 3... in the order connections are
 * created, so the same program gives the same ids). Messages for the layer above carry the
 * session they arrived on, and `send` targets a session: a message meant for a connection that
 * ended never goes out on the next one to the same node (BOLT 2 `channel_reestablish` decides
 * what is retransmitted after a reconnection, not the peer layer).
 */
export type SessionId = number & Brand.Brand<"SessionId">

/** A session id from a positive safe integer (anything else is a bug of the caller: it throws a `BrandError`). */
export const SessionId = checkedBrand<SessionId>(
  (n) => (Number.isSafeInteger(n) && n >= 1) || `session id must be a positive integer, got ${n}`
)

/** JSON form of a `SessionId` (a positive integer), for inputs that are recorded and replayed. */
export const SessionIdSchema: Schema.Codec<SessionId, number> = Schema.Int.pipe(
  Schema.check(Schema.isGreaterThanOrEqualTo(1)),
  Schema.brand("SessionId")
)

/** A peer whose handshake and `init` exchange completed. */
export interface PeerInfo {
  /** The connection this describes. */
  readonly session: SessionId
  readonly nodeId: NodeId
  readonly address: SocketAddress
  readonly direction: Direction
  /** Our `init` features as sent (BOLT 9 bit field, big-endian, bit 0 = last byte's LSB). */
  readonly localFeatures: Uint8Array
  /** The remote's `init` features: `globalfeatures` OR `features`, as BOLT 1 says to combine them. */
  readonly remoteFeatures: Uint8Array
  /** Feature bits negotiated per BOLT 1: offered by both, or offered by us as required. */
  readonly negotiatedFeatures: ReadonlyArray<number>
  /** The remote's `networks` TLV (chain hashes), if it sent one. */
  readonly remoteNetworks: ReadonlyArray<Uint8Array> | undefined
}

/**
 * The stream the layer above (the channel manager) consumes: `PeerManager.sessionEvents`.
 * Lossless and ordered per session: `Connected`, then that session's `Message`s in the order
 * they arrived, then `Disconnected`; and per node, a session's `Disconnected` comes before the
 * next session's `Connected`. A session that never completed `init` has no events.
 *
 * `Message` carries every decoded message the Peer does not handle itself (see `Peer`):
 * BOLT 2 messages, `warning`, and `error` (also an `error` for all channels, which is then
 * followed by `Disconnected` with `ReceivedError`).
 */
export type PeerSessionEvent = Data.TaggedEnum<{
  Connected: { readonly session: SessionId; readonly peer: PeerInfo }
  Message: { readonly session: SessionId; readonly nodeId: NodeId; readonly message: LightningMessage }
  Disconnected: { readonly session: SessionId; readonly nodeId: NodeId; readonly reason: DisconnectReason }
}>
const sessionEventConstructors = Data.taggedEnum<PeerSessionEvent>()
/**
 * `Data.taggedEnum`'s constructors, each taken once: the enum is a `Proxy` whose every property
 * read makes a new constructor closure (a trap and a closure per event; a peer layer makes one
 * `Message` per message received). Same values (the fields, then `_tag`).
 */
export const PeerSessionEvent = {
  Connected: sessionEventConstructors.Connected,
  Message: sessionEventConstructors.Message,
  Disconnected: sessionEventConstructors.Disconnected,
  $is: sessionEventConstructors.$is,
  $match: sessionEventConstructors.$match
}

/**
 * The consumer of the session events handed over when they are produced (a plain call, no queue,
 * no fiber woken per event): what the channel manager attaches to a peer layer that declared it
 * can call one (`declareSessionEventSink`). Called in order, where the consumer's fiber, woken by
 * the event, would run first: outside any fiber, with no fiber runnable (a simulated network
 * between the steps of its event loop). Not from inside another fiber's work (a wire that
 * delivers in the sender's call): the message would then be handled before what the runnable
 * fibers queue meanwhile, which is what lets a channel batch (test/actors/ChannelManager.batching:
 * such a wire took 0.14 to 1.4 `commitment_signed` per payment). A sink has no backpressure: what
 * the consumer cannot handle at once waits in its queue, unbounded, so only a peer layer whose
 * producer is bounded otherwise may declare one (the simulator: its scenario's workload); a real
 * peer layer keeps the stream, whose reads apply backpressure at the socket.
 */
export type SessionEventSink = (event: PeerSessionEvent) => void

/**
 * Attaches `sink` until the scope closes: from then on every session event goes to `sink` in
 * order (those queued before, at once, first), none to `sessionEvents` (one consumer, as the stream has).
 */
export type AttachSessionEventSink = (sink: SessionEventSink) => Effect.Effect<void, never, Scope.Scope>

const sinkAttachers = new WeakMap<object, AttachSessionEventSink>()

/**
 * Declares that `peers` (a peer layer: `PeerManagerShape`) can hand its session events to a sink
 * as they come (`AttachSessionEventSink`), so its consumer handles each one at once instead of
 * waking a fiber on the stream per event. Declared by object, as `declareSendNow`: a wrapper
 * that spreads the fields and replaces `sessionEvents` does not inherit it.
 */
export const declareSessionEventSink = <P extends object>(peers: P, attach: AttachSessionEventSink): P => {
  sinkAttachers.set(peers, attach)
  return peers
}

/** The sink attachment `peers` itself declared (`declareSessionEventSink`), if any. */
export const sessionEventSinkOf = (peers: object): AttachSessionEventSink | undefined => sinkAttachers.get(peers)

/**
 * The registry's informational event stream (`PeerManager.events`/`subscribe`): for monitoring
 * and for a caller waiting to see a peer appear. Each subscriber's buffer slides, so a slow
 * subscriber loses the oldest events; the layer above uses `PeerSessionEvent` instead. `PeerConnected` is published once a connection finished its
 * handshake and `init` (before `connect` returns), `PeerDisconnected` when such a connection
 * ends; a connection that fails earlier yields no event (`connect` reports it instead). Peers
 * still connected when the registry's scope closes end without an event.
 */
export type PeerEvent = Data.TaggedEnum<{
  PeerConnected: { readonly peer: PeerInfo }
  PeerDisconnected: {
    readonly nodeId: NodeId
    readonly address: SocketAddress
    readonly direction: Direction
    readonly reason: DisconnectReason
  }
}>
export const PeerEvent = Data.taggedEnum<PeerEvent>()

/** `PeerManager.connect` failed: the reason says at which step. */
export class PeerConnectFailed extends Data.TaggedError("PeerConnectFailed")<{
  readonly nodeId: NodeId
  readonly address: SocketAddress
  readonly reason: DisconnectReason
}> {}

/** The node id is not connected. */
export class PeerNotConnected extends Data.TaggedError("PeerNotConnected")<{ readonly nodeId: NodeId }> {}

/** The session is not live: its connection ended (or was replaced), or it never existed. Nothing was sent. */
export class StaleSession extends Data.TaggedError("StaleSession")<{ readonly session: SessionId }> {}

/** `PeerManager.sessionEvents` is already being consumed: it has one consumer at a time. */
export class SessionEventsBusy extends Data.TaggedError("SessionEventsBusy")<{}> {}

/** A message to send could not be encoded (e.g. a field over its wire limit). */
export class UnencodableMessage extends Data.TaggedError("UnencodableMessage")<{
  readonly messageTag: string
  readonly reason: string
}> {}

/** A message to send is not a Lightning message: shorter than its 2-byte type or longer than 65535 bytes (BOLT 8). */
export class InvalidOutgoingMessage extends Data.TaggedError("InvalidOutgoingMessage")<{ readonly length: number }> {}
