/**
 * What the peer layer reports upward: why a connection ended (`DisconnectReason`), what a
 * live peer looks like (`PeerInfo`), and the registry's event stream (`PeerEvent`).
 * Reasons are plain tagged values so the control API can render them as JSON.
 */
import { Data } from "effect"
import type { NodeId } from "../protocol/units.ts"
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
  /** The remote sent an `error` for all channels (channel_id zero) (BOLT 1). */
  ReceivedError: { readonly message: string }
  /** Another connection to the same node id won the tie-break (see PeerManager). */
  DuplicateConnection: {}
  /** `disconnect` was called, or the node is shutting down (also what a `connect` cut short by the shutdown reports). */
  LocalRequest: {}
  /** The peer actor died on a bug (defect); the message is for logs. */
  InternalError: { readonly message: string }
}>
export const DisconnectReason = Data.taggedEnum<DisconnectReason>()

export type Direction = "inbound" | "outbound"

/** A peer whose handshake and `init` exchange completed. */
export interface PeerInfo {
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
 * The registry's event stream. `PeerConnected` is published once a connection finished its
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

/** A message to send is not a Lightning message: shorter than its 2-byte type or longer than 65535 bytes (BOLT 8). */
export class InvalidOutgoingMessage extends Data.TaggedError("InvalidOutgoingMessage")<{ readonly length: number }> {}
