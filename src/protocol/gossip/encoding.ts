/**
 * BOLT 7 "Query Messages": the encoded arrays of the gossip queries (`encoded_short_ids`,
 * `encoded_query_flags`, `encoded_timestamps`). One `encoding_type` byte, then the items:
 * type 0 is the uncompressed array (short channel ids in ascending order); type 1 (zlib)
 * MUST NOT be used, so it is refused like any unknown type. Decoders never throw: bad input
 * is an `EncodedListError`.
 */
import { Data, Result } from "effect"
import { decodeWith } from "../codec/reader.ts"
import { Writer } from "../codec/writer.ts"
import { shortChannelIdFromParts, type ShortChannelId } from "../codec/fields.ts"

/** `0`: uncompressed array. */
export const ENCODING_UNCOMPRESSED = 0
/** `1`: zlib, which MUST NOT be used (BOLT 7). */
export const ENCODING_ZLIB = 1

/** An encoded list with an encoding type other than 0 (zlib included: it must not be used). */
export class UnsupportedEncoding extends Data.TaggedError("UnsupportedEncoding")<{ readonly list: string; readonly encodingType: number }> {}
/** An encoded list that does not decode into a whole number of items (or is empty of its type byte). */
export class MalformedEncodedList extends Data.TaggedError("MalformedEncodedList")<{ readonly list: string; readonly reason: string }> {}
/** `encoded_short_ids` not in strictly ascending order (BOLT 7: encoding type 0 is ascending). */
export class ShortIdsNotAscending extends Data.TaggedError("ShortIdsNotAscending")<{ readonly index: number }> {}
/** `encoded_query_flags` / `encoded_timestamps` not giving exactly one item per short channel id. */
export class ListLengthMismatch extends Data.TaggedError("ListLengthMismatch")<{
  readonly list: string
  readonly expected: number
  readonly actual: number
}> {}

export type EncodedListError = UnsupportedEncoding | MalformedEncodedList | ShortIdsNotAscending | ListLengthMismatch

/** `channel_update_timestamps`: the timestamp of each direction's update, 0 when there is none. */
export interface ChannelUpdateTimestamps {
  readonly timestampNodeId1: number
  readonly timestampNodeId2: number
}

const body = (list: string, bytes: Uint8Array): Result.Result<Uint8Array, EncodedListError> => {
  if (bytes.length === 0) return Result.fail(new MalformedEncodedList({ list, reason: "no encoding type" }))
  const type = bytes[0] ?? 0
  if (type !== ENCODING_UNCOMPRESSED) return Result.fail(new UnsupportedEncoding({ list, encodingType: type }))
  return Result.succeed(bytes.subarray(1))
}

/** `encoded_short_ids` (type byte included) -> the ids, checked ascending. */
export const decodeShortChannelIds = (bytes: Uint8Array): Result.Result<ReadonlyArray<ShortChannelId>, EncodedListError> =>
  Result.flatMap(body("encoded_short_ids", bytes), (items): Result.Result<ReadonlyArray<ShortChannelId>, EncodedListError> => {
    if (items.length % 8 !== 0) {
      return Result.fail(new MalformedEncodedList({ list: "encoded_short_ids", reason: `${items.length} bytes is not a whole number of short_channel_id` }))
    }
    const out: Array<ShortChannelId> = []
    const view = new DataView(items.buffer, items.byteOffset, items.byteLength)
    for (let i = 0; i < items.length; i += 8) {
      const scid = shortChannelIdFromParts(view.getUint32(i) >>> 8, ((view.getUint32(i) & 0xff) << 16) | view.getUint16(i + 4), view.getUint16(i + 6))
      const prev = out[out.length - 1]
      if (prev !== undefined && scid <= prev) return Result.fail(new ShortIdsNotAscending({ index: out.length }))
      out.push(scid)
    }
    return Result.succeed(out)
  })

/** The ids (which must be ascending) as `encoded_short_ids` with encoding type 0. */
export const encodeShortChannelIds = (ids: ReadonlyArray<ShortChannelId>): Uint8Array => {
  const w = new Writer(1 + 8 * ids.length).u8(ENCODING_UNCOMPRESSED)
  for (const id of ids) w.u64(id)
  return w.finish()
}

/** `encoded_timestamps` -> one pair per id; `expected` is the number of short channel ids. */
export const decodeTimestamps = (
  encodingType: number,
  encoded: Uint8Array,
  expected: number
): Result.Result<ReadonlyArray<ChannelUpdateTimestamps>, EncodedListError> => {
  const list = "encoded_timestamps"
  if (encodingType !== ENCODING_UNCOMPRESSED) return Result.fail(new UnsupportedEncoding({ list, encodingType }))
  if (encoded.length % 8 !== 0) return Result.fail(new MalformedEncodedList({ list, reason: `${encoded.length} bytes is not a whole number of timestamp pairs` }))
  if (encoded.length / 8 !== expected) return Result.fail(new ListLengthMismatch({ list, expected, actual: encoded.length / 8 }))
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength)
  const out: Array<ChannelUpdateTimestamps> = []
  for (let i = 0; i < encoded.length; i += 8) out.push({ timestampNodeId1: view.getUint32(i), timestampNodeId2: view.getUint32(i + 4) })
  return Result.succeed(out)
}

/** Timestamp pairs as the `timestamps_tlv` value (encoding type 0). */
export const encodeTimestamps = (
  items: ReadonlyArray<ChannelUpdateTimestamps>
): { readonly encodingType: number; readonly encodedTimestamps: Uint8Array } => {
  const w = new Writer(8 * items.length)
  for (const t of items) w.u32(t.timestampNodeId1).u32(t.timestampNodeId2)
  return { encodingType: ENCODING_UNCOMPRESSED, encodedTimestamps: w.finish() }
}

/** `query_flags` bits (BOLT 7 `query_short_channel_ids`). */
export const QUERY_FLAG_CHANNEL_ANNOUNCEMENT = 1n
export const QUERY_FLAG_CHANNEL_UPDATE_1 = 2n
export const QUERY_FLAG_CHANNEL_UPDATE_2 = 4n
export const QUERY_FLAG_NODE_ANNOUNCEMENT_1 = 8n
export const QUERY_FLAG_NODE_ANNOUNCEMENT_2 = 16n

/** `encoded_query_flags` -> one minimally-encoded bigsize per id (`expected` ids). */
export const decodeQueryFlags = (
  encodingType: number,
  encoded: Uint8Array,
  expected: number
): Result.Result<ReadonlyArray<bigint>, EncodedListError> => {
  const list = "encoded_query_flags"
  if (encodingType !== ENCODING_UNCOMPRESSED) return Result.fail(new UnsupportedEncoding({ list, encodingType }))
  const read = decodeWith(encoded, (r) => {
    const out: Array<bigint> = []
    while (!r.atEnd) out.push(r.bigsize())
    return out
  })
  if (Result.isFailure(read)) return Result.fail(new MalformedEncodedList({ list, reason: read.failure._tag }))
  if (read.success.length !== expected) return Result.fail(new ListLengthMismatch({ list, expected, actual: read.success.length }))
  return Result.succeed(read.success)
}

/** Query flags as the `query_flags` TLV value (encoding type 0). */
export const encodeQueryFlags = (
  flags: ReadonlyArray<bigint>
): { readonly encodingType: number; readonly encodedQueryFlags: Uint8Array } => {
  const w = new Writer(flags.length)
  for (const f of flags) w.bigsize(f)
  return { encodingType: ENCODING_UNCOMPRESSED, encodedQueryFlags: w.finish() }
}
