/**
 * A bounded cursor over bytes for the BOLT 1 fundamental types (big-endian), and for Bitcoin's
 * little-endian serialization (`u32le`, `u64le`, `compactSize`). Methods throw the private
 * `DecodeFailure` sentinel on bad input so that codecs read like the spec's field lists;
 * `decodeWith` is the public boundary that turns it into a `Result` (never throws on bad input).
 */
import { Result } from "effect"
import {
  DecodeFailure,
  type DecodeError,
  fail,
  InvalidFieldValue,
  InvalidPoint,
  NonCanonicalBigSize,
  NonMinimalTruncatedInt,
  UnexpectedEof
} from "./errors.ts"
import { copyToSlab } from "./writer.ts"

/** The longest typed array V8 keeps on its own heap; a longer one gets a backing store of its own (~10x the cost). */
const ON_HEAP_MAX = 64

export class Reader {
  private readonly buf: Uint8Array
  private pos: number
  private readonly end: number
  /** The buffer `bytes` cuts views of (a reader made by `Reader.viewing`), else undefined: `bytes` copies. */
  private readonly shared: ArrayBufferLike | undefined

  /** A reader over `buf[start, end)`; `shared` is `buf.buffer` for a viewing reader (`Reader.viewing`, its `sub` readers). */
  constructor(buf: Uint8Array, start = 0, end = buf.length, shared?: ArrayBufferLike) {
    this.buf = buf
    this.pos = start
    this.end = end
    this.shared = shared
  }

  /**
   * A reader over `buf` whose byte fields (`bytes`, `rest`, `point`, and those of its `sub`
   * readers) are views of `buf`'s own bytes, not copies: for bytes handed over to the decoder
   * (a received message, which nothing writes again), each field then costs one view, where a
   * copy costs a new array and its buffer (a 32-byte id about three objects) and an onion a piece
   * of a slab. A kept field keeps `buf`'s buffer alive. Only when `buf` is longer than 64 bytes:
   * a shorter one may be stored on V8's heap, whose buffer a view would first move off it
   * (copies are made then, as by `new Reader`).
   */
  static viewing(buf: Uint8Array): Reader {
    return new Reader(buf, 0, buf.length, buf.length > ON_HEAP_MAX ? buf.buffer : undefined)
  }

  /** Absolute offset in the underlying buffer (for error reports). */
  get offset(): number {
    return this.pos
  }

  get remaining(): number {
    return this.end - this.pos
  }

  get atEnd(): boolean {
    return this.pos >= this.end
  }

  private need(n: number): number {
    const at = this.pos
    if (this.end - at < n) fail(new UnexpectedEof({ at, needed: n, available: this.end - at }))
    this.pos = at + n
    return at
  }

  private byteAt(i: number): number {
    return this.buf[i] ?? 0
  }

  u8(): number {
    return this.byteAt(this.need(1))
  }

  u16(): number {
    const at = this.need(2)
    return (this.byteAt(at) << 8) | this.byteAt(at + 1)
  }

  u32(): number {
    const at = this.need(4)
    return (
      this.byteAt(at) * 0x1000000 + ((this.byteAt(at + 1) << 16) | (this.byteAt(at + 2) << 8) | this.byteAt(at + 3))
    )
  }

  u64(): bigint {
    const hi = this.u32()
    const lo = this.u32()
    // Below 2^53 the value is an exact double: one BigInt made instead of four (ids, amounts).
    return hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo)
  }

  /** Signed integers: big-endian two's complement (BOLT 1 Appendix D). */
  s8(): number {
    const v = this.u8()
    return v >= 0x80 ? v - 0x100 : v
  }

  s16(): number {
    const v = this.u16()
    return v >= 0x8000 ? v - 0x10000 : v
  }

  s32(): number {
    const v = this.u32()
    return v >= 0x80000000 ? v - 0x100000000 : v
  }

  s64(): bigint {
    return BigInt.asIntN(64, this.u64())
  }

  /**
   * A truncated unsigned integer of at most `maxWidth` bytes occupying ALL remaining bytes of
   * this reader (truncated integers are only ever the final value of a TLV record, BOLT 1):
   * checks it and moves past it, and gives its width (its bytes start where this reader stood).
   * Leading zero bytes are rejected: the encoding must be minimal.
   */
  private truncated(maxWidth: number): number {
    const at = this.pos
    const width = this.remaining
    if (width > maxWidth) fail(new NonMinimalTruncatedInt({ at, width, maxWidth }))
    if (width > 0 && this.byteAt(at) === 0) fail(new NonMinimalTruncatedInt({ at, width, maxWidth }))
    this.pos = this.end
    return width
  }

  /** The `n` bytes at `at`, big-endian, as a number (exact: `n` is at most 6). */
  private uintAt(at: number, n: number): number {
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + this.byteAt(at + i)
    return v
  }

  tu16(): number {
    const at = this.pos
    return this.uintAt(at, this.truncated(2))
  }

  tu32(): number {
    const at = this.pos
    return this.uintAt(at, this.truncated(4))
  }

  /** Summed as numbers, 6 bytes (below 2^48, exact) at a time: one BigInt made, not three per byte (amounts). */
  tu64(): bigint {
    const at = this.pos
    const width = this.truncated(8)
    if (width <= 6) return BigInt(this.uintAt(at, width))
    const high = width - 6
    return (BigInt(this.uintAt(at, high)) << 48n) | BigInt(this.uintAt(at + high, 6))
  }

  /** BigSize (BOLT 1 Appendix A): canonical (shortest) encoding enforced. */
  bigsize(): bigint {
    const at = this.pos
    const first = this.u8()
    if (first < 0xfd) return BigInt(first)
    let value: bigint
    let min: bigint
    if (first === 0xfd) {
      value = BigInt(this.u16())
      min = 0xfdn
    } else if (first === 0xfe) {
      value = BigInt(this.u32())
      min = 0x10000n
    } else {
      value = this.u64()
      min = 0x100000000n
    }
    if (value < min) fail(new NonCanonicalBigSize({ at, value }))
    return value
  }

  /**
   * The next `n` bytes: a view of them for a reader made by `Reader.viewing`, else a copy (so
   * decoded values never alias a buffer the caller may reuse). Over 64 bytes the copy is cut
   * from a shared slab (`copyToSlab`: a view of its own bytes, `byteOffset` not 0) instead of a
   * buffer of its own off V8's heap, which costs several times the decoding of the rest of the
   * message (an `update_add_htlc`'s 1,366-byte onion).
   */
  bytes(n: number): Uint8Array {
    const at = this.need(n)
    if (this.shared !== undefined) return new Uint8Array(this.shared, this.buf.byteOffset + at, n)
    return n <= ON_HEAP_MAX ? this.buf.slice(at, at + n) : copyToSlab(this.buf.subarray(at, at + n))
  }

  /** Every byte left (a `...*byte` field). */
  rest(): Uint8Array {
    return this.bytes(this.remaining)
  }

  /** Skips `n` bytes without copying them. */
  skip(n: number): void {
    this.need(n)
  }

  /** A 33-byte compressed point: only the SEC 1 prefix is checked here (curve checks cost a sqrt). */
  point(): Uint8Array {
    const at = this.pos
    const p = this.bytes(33)
    const prefix = p[0] ?? 0
    if (prefix !== 2 && prefix !== 3) fail(new InvalidPoint({ at, prefix }))
    return p
  }

  /** A reader over the next `n` bytes; this reader moves past them. */
  sub(n: number): Reader {
    const at = this.need(n)
    return new Reader(this.buf, at, at + n, this.shared)
  }

  // Bitcoin's little-endian serialization (transactions, blocks).

  /** 4 bytes little-endian, unsigned. */
  u32le(): number {
    const at = this.need(4)
    return (this.byteAt(at) | (this.byteAt(at + 1) << 8) | (this.byteAt(at + 2) << 16)) + this.byteAt(at + 3) * 0x1000000
  }

  /** 8 bytes little-endian, unsigned. */
  u64le(): bigint {
    const lo = this.u32le()
    const hi = this.u32le()
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  /**
   * Bitcoin CompactSize, shortest form only, at most `max` (a count or length bounded by the
   * bytes left, so a count cannot make a decoder allocate more than the input justifies).
   */
  compactSize(max: number): number {
    const at = this.pos
    const first = this.u8()
    let v: number
    if (first < 0xfd) v = first
    else if (first === 0xfd) {
      v = this.u8() | (this.u8() << 8)
      if (v < 0xfd) fail(new InvalidFieldValue({ at, field: "CompactSize", reason: "non-canonical CompactSize" }))
    } else if (first === 0xfe) {
      v = this.u32le()
      if (v <= 0xffff) fail(new InvalidFieldValue({ at, field: "CompactSize", reason: "non-canonical CompactSize" }))
    } else {
      const big = this.u64le()
      return fail(new InvalidFieldValue({ at, field: "CompactSize", reason: big <= 0xffffffffn ? "non-canonical CompactSize" : "CompactSize too large" }))
    }
    if (v > max) fail(new InvalidFieldValue({ at, field: "CompactSize", reason: "count or length exceeds the remaining data" }))
    return v
  }
}

/**
 * The public decoding boundary: runs `f` over `bytes` and turns the internal sentinel into a
 * typed failure. Only `DecodeFailure` is caught: any other exception is a bug and propagates.
 */
export const decodeWith = <A>(bytes: Uint8Array, f: (r: Reader) => A): Result.Result<A, DecodeError> => {
  try {
    return Result.succeed(f(new Reader(bytes)))
  } catch (e) {
    if (e instanceof DecodeFailure) return Result.fail(e.error)
    throw e
  }
}

/**
 * `decodeWith` over `Reader.viewing(bytes)`: the decoded byte fields view `bytes` (see there),
 * which the caller hands over: it must not change them afterwards, nor reuse their buffer.
 */
export const decodeViewing = <A>(bytes: Uint8Array, f: (r: Reader) => A): Result.Result<A, DecodeError> => {
  try {
    return Result.succeed(f(Reader.viewing(bytes)))
  } catch (e) {
    if (e instanceof DecodeFailure) return Result.fail(e.error)
    throw e
  }
}

/** Like `decodeWith`, but for code that already holds a Reader. */
export const attempt = <A>(f: () => A): Result.Result<A, DecodeError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    if (e instanceof DecodeFailure) return Result.fail(e.error)
    throw e
  }
}
