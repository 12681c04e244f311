/**
 * GossipTap: how the peer layer hands BOLT 7 traffic to a gossip layer (`GossipSync`) without
 * going through the channel manager's session stream (`PeerManager.sessionEvents`, one consumer).
 *
 * A `PeerManager` built with `gossip: tap` calls, for each connection that completed `init`:
 * `connected` (after the session's `Connected` went to the session stream), then `message` for
 * each gossip message (`channel_announcement` 256 .. `gossip_timestamp_filter` 265, and
 * `announcement_signatures` 259) in the order they arrived, whether or not `gossip_queries` was
 * negotiated, and `disconnected` at the end. They run in the peer's reader fiber: `message` may
 * wait (backpressure: the socket is not read meanwhile, and the ping timeout is suspended, see
 * `Peer`), and failing it with a `DisconnectReason` ends the connection with that reason (a
 * malformed message, a peer flooding invalid gossip).
 *
 * `link.sendWait` queues one encoded message for that connection, waiting while the connection's
 * outbound queue is full (bulk replies to gossip queries must not end the connection with
 * `OutboundQueueFull`); it fails once the connection is over. `link.disconnect` ends it.
 */
import type { Effect } from "effect"
import type { NodeId } from "../protocol/units.ts"
import type { DisconnectReason, PeerInfo, SessionId } from "./PeerEvent.ts"

/** What the gossip layer may do with one connection. */
export interface GossipLink {
  /** Queues an encoded message, waiting while the outbound queue is full; fails once the connection is over. */
  readonly sendWait: (message: Uint8Array) => Effect.Effect<void, DisconnectReason>
  /** Ends the connection with `reason` and waits until it is closed. */
  readonly disconnect: (reason: DisconnectReason) => Effect.Effect<void>
}

export interface GossipTap {
  readonly connected: (session: SessionId, peer: PeerInfo, link: GossipLink) => Effect.Effect<void>
  readonly message: (session: SessionId, nodeId: NodeId, type: number, message: Uint8Array) => Effect.Effect<void, DisconnectReason>
  readonly disconnected: (session: SessionId, nodeId: NodeId, reason: DisconnectReason) => Effect.Effect<void>
}

/** `announcement_signatures` (BOLT 7, type 259): between a channel's two ends, routed with gossip. */
export const ANNOUNCEMENT_SIGNATURES_TYPE = 259

/** Whether the tap receives a message of this type: BOLT 7 256..265 (259 included). */
export const isTappedType = (type: number): boolean => type >= 256 && type <= 265
