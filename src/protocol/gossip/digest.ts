/**
 * What the BOLT 7 signatures and checksums cover, over the raw message (2-byte type included,
 * as it came off the wire): hashing the received bytes keeps "any future fields appended to
 * the end" covered without re-encoding.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { crc32c } from "./crc32c.ts"

/** `channel_announcement`: type (2) + four signatures (4 * 64). */
export const CHANNEL_ANNOUNCEMENT_SIGNED_FROM = 2 + 4 * 64
/** `node_announcement` and `channel_update`: type (2) + one signature (64). */
export const SIGNED_AFTER_ONE_SIGNATURE = 2 + 64

const sha256d = (bytes: Uint8Array): Uint8Array => sha256(sha256(bytes))

/** BOLT 7: the double-SHA256 of the `channel_announcement` from offset 256 of its payload on. */
export const channelAnnouncementDigest = (raw: Uint8Array): Uint8Array => sha256d(raw.subarray(CHANNEL_ANNOUNCEMENT_SIGNED_FROM))

/** BOLT 7: the double-SHA256 of the message following the `signature` field. */
export const nodeAnnouncementDigest = (raw: Uint8Array): Uint8Array => sha256d(raw.subarray(SIGNED_AFTER_ONE_SIGNATURE))

/** BOLT 7: the double-SHA256 of the message following the `signature` field. */
export const channelUpdateDigest = (raw: Uint8Array): Uint8Array => sha256d(raw.subarray(SIGNED_AFTER_ONE_SIGNATURE))

// channel_update layout: type 2, signature 64, chain_hash 32, short_channel_id 8, timestamp 4.
const UPDATE_CHAIN_HASH = 2 + 64
const UPDATE_TIMESTAMP = UPDATE_CHAIN_HASH + 32 + 8
const UPDATE_AFTER_TIMESTAMP = UPDATE_TIMESTAMP + 4

/**
 * BOLT 7 `reply_channel_range` checksums: the CRC32C of the `channel_update` without its
 * `signature` and `timestamp` fields (the type is not part of the message's fields either).
 */
export const channelUpdateChecksum = (raw: Uint8Array): number => {
  // CRC32C over two ranges = the CRC of their concatenation.
  const joined = new Uint8Array(raw.length - UPDATE_AFTER_TIMESTAMP + (UPDATE_TIMESTAMP - UPDATE_CHAIN_HASH))
  joined.set(raw.subarray(UPDATE_CHAIN_HASH, UPDATE_TIMESTAMP), 0)
  joined.set(raw.subarray(UPDATE_AFTER_TIMESTAMP), UPDATE_TIMESTAMP - UPDATE_CHAIN_HASH)
  return crc32c(joined)
}
