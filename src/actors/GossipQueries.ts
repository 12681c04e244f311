/**
 * The pure parts of gossip sync (BOLT 7 "Query Messages", "The `gossip_timestamp_filter`
 * Message", "Rebroadcasting"): splitting our answer to a `query_channel_range` into
 * `reply_channel_range`s, deciding what to ask for from a peer's replies, and the timestamp
 * filter test. No Effect, no I/O: `GossipSync` calls these.
 */
import type { ChainHash, ShortChannelId } from "../protocol/codec/fields.ts"
import { shortChannelIdParts } from "../protocol/codec/fields.ts"
import { encodeShortChannelIds, encodeTimestamps, QUERY_FLAG_CHANNEL_ANNOUNCEMENT, QUERY_FLAG_CHANNEL_UPDATE_1, QUERY_FLAG_CHANNEL_UPDATE_2, QUERY_FLAG_NODE_ANNOUNCEMENT_1, QUERY_FLAG_NODE_ANNOUNCEMENT_2 } from "../protocol/gossip/encoding.ts"
import {
  type ChannelUpdateChecksums,
  QUERY_OPTION_WANT_CHECKSUMS,
  QUERY_OPTION_WANT_TIMESTAMPS,
  ReplyChannelRange
} from "../protocol/messages/gossip.ts"

const U32_MAX = 0xffffffff

/** What we know of one channel, for `reply_channel_range` (timestamps and checksums 0 when there is no update). */
export interface ChannelSummary {
  readonly scid: ShortChannelId
  readonly timestamp1: number
  readonly timestamp2: number
  readonly checksum1: number
  readonly checksum2: number
}

/** The block height of a short channel id (BOLT 7 "Definition of `short_channel_id`"). */
export const blockOf = (scid: ShortChannelId): number => shortChannelIdParts(scid).block

/** Short channel ids per `reply_channel_range`: what fits 65535 bytes with both extensions (8 + 8 + 8 bytes each). */
export const MAX_SCIDS_PER_REPLY = 2600
/** Short channel ids per reply without extensions. */
export const MAX_PLAIN_SCIDS_PER_REPLY = 8000

/**
 * Our answer to `query_channel_range(first, count, options)` over `channels` (those whose block is
 * in the range, ascending): one or more replies, the first starting at or before `first`, each
 * starting at or after the previous one, the last reaching `first + count` with `sync_complete`
 * set (BOLT 7 requirements on the receiver of `query_channel_range`). Timestamps and checksums
 * are appended when asked for. `perReply` caps the ids of one reply (tests use small ones).
 */
export const replyChannelRange = (
  chainHash: ChainHash,
  firstBlocknum: number,
  numberOfBlocks: number,
  queryOption: bigint | undefined,
  channels: ReadonlyArray<ChannelSummary>,
  perReply?: number
): ReadonlyArray<ReplyChannelRange> => {
  const wantTimestamps = queryOption !== undefined && (queryOption & QUERY_OPTION_WANT_TIMESTAMPS) !== 0n
  const wantChecksums = queryOption !== undefined && (queryOption & QUERY_OPTION_WANT_CHECKSUMS) !== 0n
  const limit = Math.max(1, perReply ?? (wantTimestamps || wantChecksums ? MAX_SCIDS_PER_REPLY : MAX_PLAIN_SCIDS_PER_REPLY))
  const end = Math.min(U32_MAX, firstBlocknum + numberOfBlocks)
  const chunks: Array<ReadonlyArray<ChannelSummary>> = []
  for (let i = 0; i < channels.length; i += limit) chunks.push(channels.slice(i, i + limit))
  if (chunks.length === 0) chunks.push([])
  return chunks.map((chunk, i) => {
    const last = i === chunks.length - 1
    const head = chunk[0]
    const start = i === 0 || head === undefined ? firstBlocknum : blockOf(head.scid)
    const next = chunks[i + 1]?.[0]
    const tail = chunk[chunk.length - 1]
    const stop = last || next === undefined
      ? Math.max(end, start + 1)
      : Math.max(blockOf(next.scid), tail === undefined ? start + 1 : blockOf(tail.scid) + 1)
    const tlvs = {
      ...(wantTimestamps
        ? { timestampsTlv: encodeTimestamps(chunk.map((c) => ({ timestampNodeId1: c.timestamp1, timestampNodeId2: c.timestamp2 }))) }
        : {}),
      ...(wantChecksums
        ? { checksumsTlv: chunk.map((c): ChannelUpdateChecksums => ({ checksumNodeId1: c.checksum1, checksumNodeId2: c.checksum2 })) }
        : {})
    }
    return ReplyChannelRange.make({
      chainHash,
      firstBlocknum: start,
      numberOfBlocks: Math.min(U32_MAX, Math.max(1, stop - start)),
      syncComplete: last ? 1 : 0,
      encodedShortIds: encodeShortChannelIds(chunk.map((c) => c.scid))
    }, tlvs)
  })
}

/** Everything about a channel (`query_flags` bits 0-4). */
export const ALL_QUERY_FLAGS = QUERY_FLAG_CHANNEL_ANNOUNCEMENT | QUERY_FLAG_CHANNEL_UPDATE_1 | QUERY_FLAG_CHANNEL_UPDATE_2 |
  QUERY_FLAG_NODE_ANNOUNCEMENT_1 | QUERY_FLAG_NODE_ANNOUNCEMENT_2

/**
 * What to ask a peer for about a channel it listed in `reply_channel_range`: everything when we
 * do not know the channel; when we do, the updates the peer has newer (when it sent timestamps);
 * nothing otherwise. 0n means "do not ask".
 */
export const wantedFlags = (
  ours: ChannelSummary | undefined,
  theirs: { readonly timestamp1: number; readonly timestamp2: number } | undefined
): bigint => {
  if (ours === undefined) return ALL_QUERY_FLAGS
  if (theirs === undefined) return 0n
  let flags = 0n
  if (theirs.timestamp1 > ours.timestamp1) flags |= QUERY_FLAG_CHANNEL_UPDATE_1
  if (theirs.timestamp2 > ours.timestamp2) flags |= QUERY_FLAG_CHANNEL_UPDATE_2
  return flags
}

/** A peer's `gossip_timestamp_filter`: relay gossip with `first <= timestamp < first + range`. */
export interface TimestampFilter {
  readonly first: number
  readonly range: number
}

/** Whether relayed gossip with `timestamp` passes the peer's filter (BOLT 7). */
export const passesFilter = (filter: TimestampFilter, timestamp: number): boolean =>
  timestamp >= filter.first && timestamp - filter.first < filter.range

/** Whether a reply ends the range we asked for (BOLT 7: `first_blocknum + number_of_blocks` reaches ours). */
export const replyCompletes = (
  asked: { readonly first: number; readonly count: number },
  reply: { readonly firstBlocknum: number; readonly numberOfBlocks: number; readonly syncComplete: number }
): boolean =>
  reply.firstBlocknum + reply.numberOfBlocks >= Math.min(U32_MAX, asked.first + asked.count)
