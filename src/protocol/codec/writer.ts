/**
 * A growable byte buffer for the BOLT 1 fundamental types (big-endian), and for Bitcoin's
 * little-endian serialization (`u32le`, `u64le`, `compactSize`). Values out of a field's range are
 * programming errors on our side (we only encode our own typed values), reported as a thrown
 * `EncodeError` that public `encode*` functions turn into a `Result`.
 */
import { Result } from "effect"
import { EncodeError } from "./errors.ts"

/**
 * Buffers `Writer.scratch` lends: allocating a `Uint8Array` of more than 64 bytes costs about ten
 * times a small one in V8 (its backing store lives off the JS heap), and the channel path
 * serializes, hashes and encodes hundreds of transactions, digests and messages per HTLC round
 * trip. At most `POOL_SIZE` buffers of at most `POOL_BUFFER_MAX` bytes are kept.
 */
const pool: Array<Writer> = []
const POOL_SIZE = 8
const POOL_BUFFER_MAX = 1 << 16
const POOL_BUFFER_MIN = 1024

export class Writer {
  private buf: Uint8Array
  private len = 0
  /** Where this Writer's bytes begin in `buf`: 0, but for the message slab's Writer (`Writer.onSlab`). */
  private start = 0

  /** A Writer over `buffer` when given (`scratch`'s pooled ones), else over a new one of `initialCapacity` bytes. */
  constructor(initialCapacity = 64, buffer?: Uint8Array) {
    this.buf = buffer ?? new Uint8Array(Math.max(16, initialCapacity))
  }

  /**
   * Runs `write` on a Writer over a reused buffer, then returns `use(written)`. `written` views
   * that buffer: it is valid only during `use`, which must not keep it (copy it with `slice`, or
   * hash it). Nested calls (in `write` or `use`) get buffers of their own. The output is what a
   * fresh Writer would have written.
   */
  static scratch<A>(write: (w: Writer) => void, use: (written: Uint8Array) => A): A {
    const w = Writer.lend()
    try {
      write(w)
      return use(w.buf.subarray(0, w.len))
    } finally {
      Writer.giveBack(w)
    }
  }

  /**
   * `write(w, value)` on the Writer of the message slab, which writes straight into the slab's
   * free space: the result is a view of the slab (as `copyToSlab` would cut), with no buffer to
   * copy it from and no second view made. The slab is renewed before when less than
   * `SLAB_PIECE_MAX` bytes are left, so a message up to that size is never moved; a longer one
   * gets a buffer of its own, as from `copyToSlab` (moved out as it grows when it must be). Not
   * re-entered: a nested call (a `write` that encodes a message) gets a copy of its own.
   * `type`, when given, is written first as a u16 (a wire message's type: no closure made to
   * write it).
   */
  static onSlab<A>(write: (w: Writer, a: A) => void, value: A, type?: number): Uint8Array {
    if (slabWriterBusy) return Writer.scratch((w) => write(type === undefined ? w : w.u16(type), value), copyOf)
    if (SLAB_SIZE - slabUsed < SLAB_PIECE_MAX) newSlab()
    const w = slabWriter
    w.buf = slabBytes
    w.start = slabUsed
    w.len = slabUsed
    slabWriterBusy = true
    try {
      write(type === undefined ? w : w.u16(type), value)
    } finally {
      slabWriterBusy = false
    }
    const n = w.len - w.start
    // Moved out (longer than the space left) or longer than a slab piece: a buffer of its own.
    if (w.buf !== slabBytes || n > SLAB_PIECE_MAX) return w.buf.slice(w.start, w.len)
    const out = new Uint8Array(slab, w.start, n)
    // 8-byte aligned, so a later reader may view its piece with wider integer arrays.
    slabUsed += (n + 7) & ~7
    return out
  }

  /** A pooled Writer (its buffer with it: no Writer made per use), emptied; `giveBack` returns it. */
  private static lend(): Writer {
    const w = pool.pop()
    if (w === undefined) return new Writer(0, new Uint8Array(POOL_BUFFER_MIN))
    w.len = 0
    return w
  }

  private static giveBack(w: Writer): void {
    if (pool.length < POOL_SIZE && w.buf.length <= POOL_BUFFER_MAX) pool.push(w)
  }

  get length(): number {
    return this.len - this.start
  }

  /** Room for `n` more bytes: where they go in `buf` (after a move to a larger buffer when needed, which starts at 0). */
  private reserve(n: number): number {
    const at = this.len
    const needed = at + n
    if (needed > this.buf.length) {
      const used = at - this.start
      let cap = Math.max(16, this.buf.length - this.start) * 2
      while (cap < used + n) cap *= 2
      const next = new Uint8Array(cap)
      next.set(this.buf.subarray(this.start, at))
      this.buf = next
      this.start = 0
      this.len = used + n
      return used
    }
    this.len = needed
    return at
  }

  private checkRange(field: string, v: number | bigint, min: number | bigint, max: number | bigint): void {
    if (typeof v === "number" && !Number.isInteger(v)) {
      throw new EncodeError({ field, reason: `not an integer: ${v}` })
    }
    if (v < min || v > max) throw new EncodeError({ field, reason: `${v} out of range [${min}, ${max}]` })
  }

  // The unsigned writers test their range with one integer operation (true exactly for the
  // integers in range) and call `checkRange` only otherwise, which throws its usual error: this
  // code mostly runs in Maglev, where each call is a call.

  u8(v: number): this {
    if ((v & 0xff) !== v) this.checkRange("u8", v, 0, 0xff)
    const at = this.reserve(1) // reserve may replace this.buf: call it first
    this.buf[at] = v
    return this
  }

  u16(v: number): this {
    if ((v & 0xffff) !== v) this.checkRange("u16", v, 0, 0xffff)
    const at = this.reserve(2)
    this.buf[at] = v >>> 8
    this.buf[at + 1] = v & 0xff
    return this
  }

  u32(v: number): this {
    if (v >>> 0 !== v) this.checkRange("u32", v, 0, 0xffffffff)
    const at = this.reserve(4)
    this.buf[at] = (v >>> 24) & 0xff
    this.buf[at + 1] = (v >>> 16) & 0xff
    this.buf[at + 2] = (v >>> 8) & 0xff
    this.buf[at + 3] = v & 0xff
    return this
  }

  u64(v: bigint): this {
    if (v >= 0n && v <= 0x1fffffffffffffn) {
      // An exact double: split without BigInt arithmetic (each BigInt operation allocates).
      const n = Number(v)
      this.u32(Math.floor(n / 0x100000000))
      return this.u32(n >>> 0)
    }
    this.checkRange("u64", v, 0n, 0xffffffffffffffffn)
    this.u32(Number(v >> 32n))
    return this.u32(Number(v & 0xffffffffn))
  }

  s8(v: number): this {
    this.checkRange("s8", v, -0x80, 0x7f)
    return this.u8(v < 0 ? v + 0x100 : v)
  }

  s16(v: number): this {
    this.checkRange("s16", v, -0x8000, 0x7fff)
    return this.u16(v < 0 ? v + 0x10000 : v)
  }

  s32(v: number): this {
    this.checkRange("s32", v, -0x80000000, 0x7fffffff)
    return this.u32(v < 0 ? v + 0x100000000 : v)
  }

  s64(v: bigint): this {
    this.checkRange("s64", v, -(1n << 63n), (1n << 63n) - 1n)
    return this.u64(BigInt.asUintN(64, v))
  }

  /** Minimal big-endian bytes (no leading zeros; zero is empty), BOLT 1 truncated integers. */
  private truncated(field: string, v: bigint, maxWidth: number): this {
    this.checkRange(field, v, 0n, (1n << BigInt(maxWidth * 8)) - 1n)
    let width = 0
    for (let t = v; t > 0n; t >>= 8n) width++
    const at = this.reserve(width)
    for (let i = width - 1, t = v; i >= 0; i--, t >>= 8n) this.buf[at + i] = Number(t & 0xffn)
    return this
  }

  /**
   * `truncated` of an integer 0 <= v < 2^53 (a checked tu16/tu32, a tu64 amount), computed on
   * numbers: no BigInt made per byte (onion payloads write two or three per hop).
   */
  private truncatedNumber(v: number): this {
    let width = 0
    for (let t = v; t > 0; t = Math.floor(t / 256)) width++
    const at = this.reserve(width)
    for (let i = width - 1, t = v; i >= 0; i--, t = Math.floor(t / 256)) this.buf[at + i] = t % 256
    return this
  }

  tu16(v: number): this {
    this.checkRange("tu16", v, 0, 0xffff)
    return this.truncatedNumber(v)
  }

  tu32(v: number): this {
    this.checkRange("tu32", v, 0, 0xffffffff)
    return this.truncatedNumber(v)
  }

  tu64(v: bigint): this {
    return v >= 0n && v <= 0x1fffffffffffffn ? this.truncatedNumber(Number(v)) : this.truncated("tu64", v, 8)
  }

  /** BigSize (BOLT 1 Appendix A), always the canonical form. */
  bigsize(v: bigint): this {
    if (v >= 0n && v < 0xfdn) return this.u8(Number(v))
    this.checkRange("bigsize", v, 0n, 0xffffffffffffffffn)
    if (v <= 0xffffn) return this.u8(0xfd).u16(Number(v))
    if (v <= 0xffffffffn) return this.u8(0xfe).u32(Number(v))
    return this.u8(0xff).u64(v)
  }

  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length) // reserve may replace this.buf: call it first
    this.buf.set(b, at)
    return this
  }

  /**
   * `codec.write(this, value)` preceded by the BigSize length of what it wrote (a TLV record's
   * value): written in place, the length's byte reserved first and the value moved when its
   * length needs a longer BigSize. The same bytes as writing the value elsewhere and copying it
   * in after its length, without the second buffer and the copy.
   */
  lengthPrefixed<A>(codec: { readonly write: (w: Writer, a: A) => void }, value: A): this {
    // Relative to `start`: writing the value may move the bytes to a larger buffer.
    const lengthOffset = this.reserve(1) - this.start
    codec.write(this, value)
    const lengthAt = this.start + lengthOffset
    const n = this.len - lengthAt - 1
    if (n < 0xfd) {
      this.buf[lengthAt] = n
      return this
    }
    const width = n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9
    // Room for the longer length: the value moves right by `width - 1` bytes (reserve first: it may replace `buf`).
    this.reserve(width - 1)
    this.buf.copyWithin(lengthAt + width, lengthAt + 1, lengthAt + 1 + n)
    const end = this.len
    this.len = lengthAt
    this.bigsize(BigInt(n))
    this.len = end
    return this
  }

  /** Exactly `n` bytes: catches a fixed-size field given a value of the wrong size. */
  fixed(field: string, b: Uint8Array, n: number): this {
    if (b.length !== n) throw new EncodeError({ field, reason: `expected ${n} bytes, got ${b.length}` })
    // `bytes`, written out: one call fewer per fixed field (this code mostly runs in Maglev).
    const at = this.reserve(n)
    this.buf.set(b, at)
    return this
  }

  /** The written bytes (a fresh copy, the Writer can keep growing). */
  finish(): Uint8Array {
    return this.buf.slice(this.start, this.len)
  }

  // Bitcoin's little-endian serialization (transactions, sighash, blocks). Bitcoin's 32-bit
  // fields are int32 or uint32 by field (a header's version is signed): written modulo 2^32.

  /** 4 bytes little-endian, `v` modulo 2^32. */
  u32le(v: number): this {
    const at = this.reserve(4)
    const x = v >>> 0
    this.buf[at] = x & 0xff
    this.buf[at + 1] = (x >>> 8) & 0xff
    this.buf[at + 2] = (x >>> 16) & 0xff
    this.buf[at + 3] = x >>> 24
    return this
  }

  /** 8 bytes little-endian, `v` modulo 2^64. */
  u64le(v: bigint): this {
    if (v >= 0n && v <= 0x1fffffffffffffn) {
      // An exact double (every amount): split without BigInt arithmetic (each BigInt operation allocates).
      const n = Number(v)
      return this.u32le(n >>> 0).u32le(Math.floor(n / 0x100000000))
    }
    const x = BigInt.asUintN(64, v)
    return this.u32le(Number(x & 0xffffffffn)).u32le(Number(x >> 32n))
  }

  /** Bitcoin CompactSize ("varint"), its shortest form. */
  compactSize(v: number): this {
    if (v < 0xfd) return this.u8(v)
    if (v <= 0xffff) return this.u8(0xfd).u8(v & 0xff).u8(v >>> 8)
    if (v <= 0xffffffff) return this.u8(0xfe).u32le(v)
    return this.u8(0xff).u64le(BigInt(v))
  }

  /** CompactSize length, then the bytes (Bitcoin's scripts and witness items). */
  varBytes(b: Uint8Array): this {
    return this.compactSize(b.length).bytes(b)
  }
}

/** The size of Bitcoin's CompactSize encoding of `v`. */
export const compactSizeLength = (v: number): number => (v < 0xfd ? 1 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9)

const copyOf = (written: Uint8Array): Uint8Array => written.slice()

/**
 * Encoded messages are cut from shared slabs, as Node's `Buffer.allocUnsafe` pool does: a copy
 * of more than 64 bytes is otherwise a backing store of its own off the JS heap (V8), which costs
 * about as much as the whole encoding and most of the garbage collector's work on it. Each result
 * is a view of its own bytes (never shared with another result, `byteOffset` not 0); one that is
 * kept keeps its slab (at most `SLAB_SIZE` bytes) alive. Larger results get their own buffer.
 * Messages are written straight into the slab (`Writer.onSlab`); other copies (`copyToSlab`:
 * the long fields a Reader decodes) are cut from the same slab.
 */
const SLAB_SIZE = 8192
const SLAB_PIECE_MAX = 2048
let slab = new ArrayBuffer(SLAB_SIZE)
let slabBytes = new Uint8Array(slab)
let slabUsed = 0
/** The Writer `Writer.onSlab` lends, and whether it is lent (nothing else may take slab space meanwhile). */
const slabWriter = new Writer(0, slabBytes)
let slabWriterBusy = false

const newSlab = (): void => {
  slab = new ArrayBuffer(SLAB_SIZE)
  slabBytes = new Uint8Array(slab)
  slabUsed = 0
}

/** A copy of `written` in a slab (or alone when large, or while a message is being written on the slab). */
export const copyToSlab = (written: Uint8Array): Uint8Array => {
  const n = written.length
  if (n > SLAB_PIECE_MAX || slabWriterBusy) return written.slice()
  if (slabUsed + n > SLAB_SIZE) newSlab()
  const out = new Uint8Array(slab, slabUsed, n)
  out.set(written)
  // 8-byte aligned, so a later reader may view its piece with wider integer arrays.
  slabUsed += (n + 7) & ~7
  return out
}

/** `finish` of what `f` writes on a pooled Writer, an `EncodeError` turned into a `Result`. */
const encodeTo = (f: (w: Writer) => void, finish: (written: Uint8Array) => Uint8Array): Result.Result<Uint8Array, EncodeError> => {
  try {
    return Result.succeed(Writer.scratch(f, finish))
  } catch (e) {
    if (e instanceof EncodeError) return Result.fail(e)
    throw e
  }
}

/** The public encoding boundary: runs `f` on a fresh Writer, turning `EncodeError` into a `Result`. */
export const encodeWith = (f: (w: Writer) => void, _initialCapacity = 64): Result.Result<Uint8Array, EncodeError> => encodeTo(f, copyOf)

/** `encodeWith` whose result is written on the message slab (`Writer.onSlab`): a wire message's encoding. */
export const encodeMessageWith = (f: (w: Writer) => void): Result.Result<Uint8Array, EncodeError> => encodeOnSlab(callWith, f)

const callWith = (w: Writer, f: (w: Writer) => void): void => f(w)

/** A wire message (its u16 `type`, then `writePayload`) on the message slab, as `encodeMessageWith` gives it. */
export const encodeMessage = <M>(type: number, writePayload: (w: Writer, m: M) => void, value: M): Result.Result<Uint8Array, EncodeError> =>
  encodeOnSlab(writePayload, value, type)

/** `Writer.onSlab`, after the u16 `type` when given, an `EncodeError` turned into a `Result`. */
const encodeOnSlab = <A>(write: (w: Writer, a: A) => void, value: A, type?: number): Result.Result<Uint8Array, EncodeError> => {
  try {
    return Result.succeed(Writer.onSlab(write, value, type))
  } catch (e) {
    if (e instanceof EncodeError) return Result.fail(e)
    throw e
  }
}
