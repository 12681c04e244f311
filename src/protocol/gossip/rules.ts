/**
 * The BOLT 7 receive rules that compare a message with what the graph already holds. Pure:
 * the graph passes the facts in (the last timestamp, the last update's bytes) and applies the
 * answer.
 */
import { Result } from "effect"
import type { ShortChannelId } from "../codec/fields.ts"
import { ConflictingUpdate, StaleTimestamp } from "./errors.ts"

/** BOLT 7 "Recommendation on Pruning Stale Entries": two weeks, in seconds. */
export const STALE_CHANNEL_SECONDS = 1_209_600

// channel_update: type 2 + signature 64 + chain_hash 32 + scid 8, then timestamp 4.
const UPDATE_AFTER_TIMESTAMP = 2 + 64 + 32 + 8 + 4

const sameAfterTimestamp = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = UPDATE_AFTER_TIMESTAMP; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * BOLT 7 `channel_update`, against the last one received for this channel and direction:
 * a lower timestamp is ignored; an equal one is ignored when the fields below `timestamp` are
 * equal (a duplicate) and is a `ConflictingUpdate` (MAY blacklist) when they differ.
 */
export const checkUpdateIsNewer = (
  shortChannelId: ShortChannelId,
  timestamp: number,
  raw: Uint8Array,
  previous: { readonly timestamp: number; readonly raw: Uint8Array } | undefined
): Result.Result<void, StaleTimestamp | ConflictingUpdate> => {
  if (previous === undefined || timestamp > previous.timestamp) return Result.void
  if (timestamp < previous.timestamp || sameAfterTimestamp(raw, previous.raw)) {
    return Result.fail(new StaleTimestamp({ message: "channel_update", timestamp, latest: previous.timestamp }))
  }
  return Result.fail(new ConflictingUpdate({ shortChannelId, timestamp }))
}

/** BOLT 7 `node_announcement`: SHOULD ignore one whose timestamp is not greater than the last one's. */
export const checkNodeAnnouncementIsNewer = (timestamp: number, previous: number | undefined): Result.Result<void, StaleTimestamp> =>
  previous === undefined || timestamp > previous
    ? Result.void
    : Result.fail(new StaleTimestamp({ message: "node_announcement", timestamp, latest: previous }))

/**
 * BOLT 7 pruning: a channel is stale when the latest `channel_update` of either direction is
 * older than two weeks. A direction without any update counts from when the channel was
 * announced to us (both sides must be active for the channel to be usable).
 */
export const isStaleChannel = (
  now: number,
  announcedAt: number,
  timestamps: readonly [number | undefined, number | undefined],
  staleAfter = STALE_CHANNEL_SECONDS
): boolean => {
  const oldest = Math.min(timestamps[0] ?? announcedAt, timestamps[1] ?? announcedAt)
  return oldest < now - staleAfter
}
