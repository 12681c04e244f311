/**
 * NetworkGraph: the public network as gossip (BOLT 7) told us, for the router and for gossip
 * sync. Every message goes in through `apply`, which checks every BOLT 7 receive rule
 * (signatures, chain, known channel, newer timestamp, not too far in the future, `dont_forward`,
 * `htlc_maximum_msat`...) and fails with the rule's typed `GossipError` (see
 * `protocol/gossip/errors.ts`: `severity` says whether to warn the peer or just ignore it);
 * a failed `apply` changed nothing. Time comes from `Clock`.
 *
 * Why a service: the graph is one shared, mutable, large structure (the whole public network
 * must fit in well under 100 MB); the layer decides how it is stored (`src/layers/graph/`:
 * compact in memory, persisted through `Store`). Readers get copies (views), never the store.
 */
import { Context, type Effect } from "effect"
import type { ShortChannelId } from "../protocol/codec/fields.ts"
import type { GossipError } from "../protocol/gossip/errors.ts"
import type { ChannelView, GossipApplied, NodeView, RangeEntry } from "../protocol/gossip/views.ts"
import type { StoreError, StoreInvalidRequest, StoreWriteError } from "./Store.ts"

export interface GraphStats {
  readonly nodes: number
  readonly channels: number
  /** Bumped on every change (readers cache on it). */
  readonly version: number
  /** Bytes of raw messages held. */
  readonly messageBytes: number
  /** Bytes the layer holds in its tables and message store, if it knows (typed arrays, buffers). */
  readonly memoryBytes: number
}

/** The stored messages of one channel, for answering `query_short_channel_ids`. */
export interface ChannelMessages {
  readonly announcement: Uint8Array
  /** [direction 0, direction 1] latest `channel_update`s. */
  readonly updates: readonly [Uint8Array | undefined, Uint8Array | undefined]
  /** [node_id_1, node_id_2] latest `node_announcement`s. */
  readonly nodeAnnouncements: readonly [Uint8Array | undefined, Uint8Array | undefined]
}

export interface NetworkGraphShape {
  /**
   * Applies one received `channel_announcement`, `node_announcement` or `channel_update` (raw,
   * type included, as it came off the wire). `capacitySat`: the funding output's value for a
   * `channel_announcement` when the caller checked it (`protocol/gossip/funding.ts`).
   * `signaturesVerified`: the caller verified this `channel_announcement`'s four signatures
   * itself (`verifyChannelAnnouncement`, before the funding lookup): they are not verified again.
   */
  readonly apply: (
    raw: Uint8Array,
    options?: { readonly capacitySat?: bigint; readonly signaturesVerified?: boolean }
  ) => Effect.Effect<GossipApplied, GossipError>
  /**
   * Every check of `apply` but the signatures, changing nothing (time from `Clock`): drop stale,
   * duplicate, unknown and malformed gossip cheaply before queueing it for `apply`.
   */
  readonly precheck: (raw: Uint8Array) => Effect.Effect<void, GossipError>
  readonly hasChannel: (scid: ShortChannelId) => Effect.Effect<boolean>
  /**
   * For a peer's `gossip_timestamp_filter`: stored messages with a timestamp in
   * `[first, first + range)`, a page of at most `limit` channels from `cursor` (start at 0);
   * `next` is the next page's cursor, undefined at the end.
   */
  readonly timeRange: (
    first: number,
    range: number,
    cursor: number,
    limit?: number
  ) => Effect.Effect<{ readonly messages: ReadonlyArray<Uint8Array>; readonly next: number | undefined }>
  /** Forgets a channel (its funding output was spent); nodes left without channels go too. */
  readonly removeChannel: (scid: ShortChannelId) => Effect.Effect<boolean>
  /** BOLT 7 pruning at the current time: channels whose oldest direction is over two weeks old. */
  readonly prune: Effect.Effect<ReadonlyArray<ShortChannelId>>
  readonly channel: (scid: ShortChannelId) => Effect.Effect<ChannelView | undefined>
  readonly node: (nodeId: Uint8Array) => Effect.Effect<NodeView | undefined>
  /** Every channel (views, built on demand). */
  readonly channels: Effect.Effect<ReadonlyArray<ChannelView>>
  readonly nodes: Effect.Effect<ReadonlyArray<NodeView>>
  /** For `reply_channel_range`: ascending, with timestamps and checksums. */
  readonly channelRange: (firstBlock: number, numberOfBlocks: number) => Effect.Effect<ReadonlyArray<RangeEntry>>
  readonly channelMessages: (scid: ShortChannelId) => Effect.Effect<ChannelMessages | undefined>
  readonly stats: Effect.Effect<GraphStats>
  /** Writes the graph to the layer's store (a no-op for a layer without one). */
  readonly save: Effect.Effect<void, StoreWriteError | StoreError | StoreInvalidRequest>
}

export class NetworkGraph extends Context.Service<NetworkGraph, NetworkGraphShape>()("effect-lightning/NetworkGraph") {}
