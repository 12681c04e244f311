/**
 * BigSize (BOLT 1 Appendix A): a big-endian CompactSize. Decoding enforces the canonical
 * (shortest) form, as the spec requires for TLV types and lengths.
 */
import type { Result } from "effect"
import type { DecodeError } from "./errors.ts"
import { decodeWith } from "./reader.ts"
import { Writer } from "./writer.ts"

export const MAX_BIGSIZE = 0xffffffffffffffffn

/** Decodes one BigSize from the start of `bytes`; trailing bytes are left unread. */
export const decodeBigSize = (bytes: Uint8Array): Result.Result<bigint, DecodeError> =>
  decodeWith(bytes, (r) => r.bigsize())

/** Encodes a BigSize. Precondition: 0 <= value <= 2^64-1 (throws otherwise: a caller bug). */
export const encodeBigSize = (value: bigint): Uint8Array => new Writer(9).bigsize(value).finish()

/** The encoded length of a BigSize (1, 3, 5 or 9). */
export const bigSizeLength = (value: bigint): number =>
  value < 0xfdn ? 1 : value <= 0xffffn ? 3 : value <= 0xffffffffn ? 5 : 9
