/**
 * The codec's fast paths against the plain ones (equal outputs): a message's encoding written on
 * a shared slab (`encodeMessageWith`) against a fresh copy (`encodeWith`), across slab renewals,
 * long messages, values that move the slab's Writer out, nested and failed encodings; long byte
 * fields decoded into the slab against `slice`; the u64 reader and writer
 * without BigInt arithmetic below 2^53 and the truncated integers on numbers against the BigInt
 * forms, a counted list read into an array made at its length against one pushed, and the unchecked brands of
 * decoded channel ids, chain hashes, txids and short channel ids against the checked constructors.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ChainHash, chainHash, channelId, type Codec, ShortChannelId, shortChannelId, signature, u16, u16Array } from "../../../src/protocol/codec/fields.ts"
import { attempt, decodeWith, Reader } from "../../../src/protocol/codec/reader.ts"
import { EncodeError, fail, NonMinimalTruncatedInt } from "../../../src/protocol/codec/errors.ts"
import { copyToSlab, encodeMessage, encodeMessageWith, encodeWith, Writer } from "../../../src/protocol/codec/writer.ts"
import { txid } from "../../../src/protocol/messages/channel.ts"
import { LightningMessages } from "../../../src/protocol/messages/index.ts"
import { Txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { ChannelId } from "../../../src/protocol/units.ts"
import * as A from "../messages/arbitraries.ts"

const RUNS = 5_000
const U64_MAX = (1n << 64n) - 1n

/** The u64 around the 2^53 boundary, small values and the whole range. */
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 0n, max: 1n << 20n }),
  fc.bigInt({ min: (1n << 53n) - 1000n, max: (1n << 53n) + 1000n }),
  fc.constantFrom(0n, (1n << 32n) - 1n, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, U64_MAX)
)

const plainU64Bytes = (v: bigint): Uint8Array => {
  const out = new Uint8Array(8)
  for (let i = 7, t = v; i >= 0; i--, t >>= 8n) out[i] = Number(t & 0xffn)
  return out
}

const plainU64 = (b: Uint8Array): bigint => {
  let v = 0n
  for (const x of b) v = (v << 8n) | BigInt(x)
  return v
}

/** What a write gives: its bytes, or its EncodeError's field and reason (any other throw is rethrown). */
const outcome = (f: () => Uint8Array): Uint8Array | { readonly field: string; readonly reason: string } => {
  try {
    return f()
  } catch (e) {
    if (e instanceof EncodeError) return { field: e.field, reason: e.reason }
    throw e
  }
}

describe("codec fast paths", () => {
  it("a message's slab encoding equals the fresh copy, and later encodings never overwrite it", () => {
    const kept: Array<readonly [Uint8Array, Uint8Array]> = []
    fc.assert(
      fc.property(A.lightningMessage, (m) => {
        const write = (w: Writer) => {
          const def = LightningMessages.byTag(m._tag)
          if (def === undefined) throw new Error(`unregistered ${m._tag}`)
          def.writePayload(w.u16(def.type), m as never)
        }
        const plain = Result.getOrThrow(encodeWith(write))
        const slab = Result.getOrThrow(encodeMessageWith(write))
        expect(slab).toEqual(plain)
        expect(Result.getOrThrow(LightningMessages.encode(m))).toEqual(plain)
        if (kept.length < 500) kept.push([slab, plain.slice()])
      }),
      { numRuns: RUNS }
    )
    // Every result is its own bytes: none was changed by the encodings that followed it.
    for (const [slab, copy] of kept) expect(slab).toEqual(copy)
  })

  it("slab encodings of any length, nested, failing, or moved out as they grow, equal the fresh copies and stay intact", () => {
    /** One encoding: some bytes, a length-prefixed value, maybe a nested encoding inside, maybe a failure at the end. */
    const step = fc.record({
      head: fc.uint8Array({ maxLength: 600 }),
      value: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1000, max: 9000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff))),
      nested: fc.option(fc.uint8Array({ maxLength: 3000 }), { nil: undefined }),
      fails: fc.boolean(),
      type: fc.integer({ min: 0, max: 0xffff })
    })
    const raw = { write: (w: Writer, a: Uint8Array) => void w.bytes(a) }
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const kept: Array<readonly [Uint8Array, Uint8Array]> = []
        for (const s of steps) {
          const nestedResults: Array<Uint8Array> = []
          const write = (w: Writer): void => {
            w.bytes(s.head).lengthPrefixed(raw, s.value)
            if (s.nested !== undefined) {
              const inner = s.nested
              const r = Result.getOrThrow(encodeMessageWith((iw) => void iw.bytes(inner)))
              nestedResults.push(r)
              w.bytes(r)
            }
            if (s.fails) throw new EncodeError({ field: "test", reason: "fails" })
          }
          const slab = encodeMessageWith(write)
          const plain = encodeWith(write)
          expect(Result.isSuccess(slab)).toBe(!s.fails)
          expect(Result.isSuccess(plain)).toBe(!s.fails)
          if (Result.isSuccess(slab) && Result.isSuccess(plain)) {
            expect(slab.success).toEqual(plain.success)
            kept.push([slab.success, plain.success])
          }
          for (const r of nestedResults) kept.push([r, r.slice()])
          // With its type: the same bytes after the u16.
          const typed = encodeMessage(s.type, (w: Writer, v: typeof s) => void w.bytes(v.head), s)
          expect(Result.getOrThrow(typed)).toEqual(new Writer().u16(s.type).bytes(s.head).finish())
          kept.push([Result.getOrThrow(typed), Result.getOrThrow(typed).slice()])
        }
        // Every result is its own bytes: none was changed by the encodings that followed it.
        for (const [out, copy] of kept) expect(out).toEqual(copy)
      }),
      { numRuns: 300, seed: 42 }
    )
  })

  it("Reader.bytes: the bytes `slice` gives, in arrays of their own (long ones cut from the slab)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), fc.array(fc.integer({ min: 0, max: 2500 }), { maxLength: 12 }), (input, sizes) => {
        const source = input.slice()
        const r = new Reader(source)
        const outs: Array<Uint8Array> = []
        let at = 0
        for (const n of sizes) {
          if (n > r.remaining) break
          const out = r.bytes(n)
          expect(out).toEqual(input.slice(at, at + n))
          outs.push(out)
          at += n
        }
        // Neither the input nor another result shares their bytes.
        source.fill(0x5a)
        let offset = 0
        for (const out of outs) {
          expect(out).toEqual(input.slice(offset, offset + out.length))
          offset += out.length
        }
        outs.forEach((out, i) => out.fill(i + 1))
        outs.forEach((out, i) => expect(out.every((x) => x === i + 1)).toBe(true))
      }),
      { numRuns: 1_000, seed: 7 }
    )
  })

  it("copyToSlab: equal bytes, disjoint views (small and large)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 20 }), (inputs) => {
        const outs = inputs.map(copyToSlab)
        outs.forEach((o, i) => expect(o).toEqual(inputs[i]))
        for (const o of outs) o.fill(0xee)
        outs.forEach((o) => expect(o.every((x) => x === 0xee)).toBe(true))
        inputs.forEach((input, i) => expect(outs[i]?.length).toBe(input.length))
      }),
      { numRuns: 2_000 }
    )
  })

  it("Writer.u8/u16/u32/u64/bigsize accept, write and refuse what the plain range check does (same EncodeError)", () => {
    /** The range check every writer ran before its one-operation test, as it was. */
    const plainCheck = (field: string, v: number | bigint, min: number | bigint, max: number | bigint): void => {
      if (typeof v === "number" && !Number.isInteger(v)) throw new EncodeError({ field, reason: `not an integer: ${v}` })
      if (v < min || v > max) throw new EncodeError({ field, reason: `${v} out of range [${min}, ${max}]` })
    }
    const bigEndian = (v: bigint, width: number): Uint8Array => plainU64Bytes(v).subarray(8 - width)
    const number = fc.oneof(
      fc.integer({ min: -5, max: 300 }),
      fc.integer({ min: 0xfff0, max: 0x10010 }),
      fc.constantFrom(-0, 0.5, 255.5, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 32 - 1, 2 ** 32, 2 ** 31, -(2 ** 31), 2 ** 53, 2 ** 32 + 255),
      fc.double(),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => n * 3)
    )
    const bigint = fc.oneof(u64, fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.constantFrom(-1n, 0xfcn, 0xfdn, U64_MAX, U64_MAX + 1n))
    fc.assert(
      fc.property(number, bigint, (n, b) => {
        for (const [field, width, max] of [["u8", 1, 0xff], ["u16", 2, 0xffff], ["u32", 4, 0xffffffff]] as const) {
          const fast = outcome(() => {
            const w = new Writer()
            if (field === "u8") w.u8(n)
            else if (field === "u16") w.u16(n)
            else w.u32(n)
            return w.finish()
          })
          const plain = outcome(() => {
            plainCheck(field, n, 0, max)
            return bigEndian(BigInt(n), width).slice()
          })
          expect(fast).toEqual(plain)
        }
        expect(outcome(() => new Writer().u64(b).finish())).toEqual(outcome(() => (plainCheck("u64", b, 0n, U64_MAX), plainU64Bytes(b))))
        const plainBigSize = (): Uint8Array => {
          plainCheck("bigsize", b, 0n, U64_MAX)
          if (b < 0xfdn) return Uint8Array.of(Number(b))
          if (b <= 0xffffn) return Uint8Array.of(0xfd, ...bigEndian(b, 2))
          if (b <= 0xffffffffn) return Uint8Array.of(0xfe, ...bigEndian(b, 4))
          return Uint8Array.of(0xff, ...bigEndian(b, 8))
        }
        expect(outcome(() => new Writer().bigsize(b).finish())).toEqual(outcome(plainBigSize))
      }),
      { numRuns: RUNS, seed: 3 }
    )
  })

  it("Writer.u64 writes what the BigInt form writes; Reader.u64 reads it back", () => {
    fc.assert(
      fc.property(u64, (v) => {
        const written = new Writer().u64(v).finish()
        expect(written).toEqual(plainU64Bytes(v))
        expect(new Reader(written).u64()).toBe(v)
        expect(new Reader(plainU64Bytes(v)).u64()).toBe(plainU64(written))
      }),
      { numRuns: RUNS }
    )
  })

  it("truncated integers on numbers: Writer.tu16/tu32/tu64 write and refuse, Reader.tu16/tu32/tu64 read and refuse, what the BigInt forms do", () => {
    /** The range check and the writer as they were (BigInt per byte). */
    const plainCheck = (field: string, v: number | bigint, min: number | bigint, max: number | bigint): void => {
      if (typeof v === "number" && !Number.isInteger(v)) throw new EncodeError({ field, reason: `not an integer: ${v}` })
      if (v < min || v > max) throw new EncodeError({ field, reason: `${v} out of range [${min}, ${max}]` })
    }
    const plainWrite = (field: string, v: bigint, maxWidth: number): Uint8Array => {
      plainCheck(field, v, 0n, (1n << BigInt(maxWidth * 8)) - 1n)
      let width = 0
      for (let t = v; t > 0n; t >>= 8n) width++
      const out = new Uint8Array(width)
      for (let i = width - 1, t = v; i >= 0; i--, t >>= 8n) out[i] = Number(t & 0xffn)
      return out
    }
    const number = fc.oneof(
      fc.integer({ min: -5, max: 0x1_0000_0100 }),
      fc.integer({ min: 0, max: 0x10010 }),
      fc.constantFrom(-0, 0.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 16 - 1, 2 ** 16, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 24),
      fc.double()
    )
    const bigint = fc.oneof(u64, fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.constantFrom(-1n, 1n << 48n, (1n << 48n) - 1n, U64_MAX, U64_MAX + 1n))
    fc.assert(
      fc.property(number, bigint, (n, b) => {
        expect(outcome(() => new Writer().tu16(n).finish())).toEqual(outcome(() => (plainCheck("tu16", n, 0, 0xffff), plainWrite("tu16", BigInt(n), 2))))
        expect(outcome(() => new Writer().tu32(n).finish())).toEqual(outcome(() => (plainCheck("tu32", n, 0, 0xffffffff), plainWrite("tu32", BigInt(n), 4))))
        expect(outcome(() => new Writer().tu64(b).finish())).toEqual(outcome(() => plainWrite("tu64", b, 8)))
      }),
      { numRuns: RUNS, seed: 5 }
    )
    /** The reader as it was: the checks, then the value summed as a BigInt byte by byte. */
    const plainRead = (maxWidth: number) => (r: Reader): bigint => {
      const at = r.offset
      const width = r.remaining
      if (width > maxWidth) fail(new NonMinimalTruncatedInt({ at, width, maxWidth }))
      const bytes = r.rest()
      if (width > 0 && bytes[0] === 0) fail(new NonMinimalTruncatedInt({ at, width, maxWidth }))
      let v = 0n
      for (const x of bytes) v = (v << 8n) | BigInt(x)
      return v
    }
    // Values at an offset in a larger buffer (as a TLV record's value stands), minimal or not, of every width up to 10.
    const placedValue = fc.tuple(fc.uint8Array({ maxLength: 4 }), fc.oneof(fc.uint8Array({ maxLength: 10 }), u64.map(plainU64Bytes).map((b) => b.subarray(b.findIndex((x) => x !== 0) < 0 ? 8 : b.findIndex((x) => x !== 0)))), fc.uint8Array({ maxLength: 3 }))
    fc.assert(
      fc.property(placedValue, ([before, value, after]) => {
        const buf = Uint8Array.of(...before, ...value, ...after)
        const read = <A>(f: (r: Reader) => A) => attempt(() => f(new Reader(buf, before.length, before.length + value.length)))
        expect(read((r) => r.tu16())).toEqual(read((r) => Number(plainRead(2)(r))))
        expect(read((r) => r.tu32())).toEqual(read((r) => Number(plainRead(4)(r))))
        expect(read((r) => r.tu64())).toEqual(read(plainRead(8)))
      }),
      { numRuns: RUNS, seed: 6 }
    )
  })

  it("u16Array's read (an array made at its length) gives what a pushed array gives, with no holes, or the same error", () => {
    /** The read as it was: items pushed onto an empty array. */
    const plainRead = <A>(item: { readonly read: (r: Reader) => A }) => (r: Reader): Array<A> => {
      const n = r.u16()
      const out: Array<A> = []
      for (let i = 0; i < n; i++) out.push(item.read(r))
      return out
    }
    /** Written, then read whole and cut short (an item missing: the same error). */
    const check = <A>(item: Codec<A>, values: ReadonlyArray<A>, drop: number): void => {
      const codec = u16Array(item)
      const w = new Writer()
      codec.write(w, values)
      const bytes = w.finish()
      for (const input of [bytes, bytes.subarray(0, Math.max(0, bytes.length - drop))]) {
        const fast = decodeWith(input, codec.read)
        expect(fast).toEqual(decodeWith(input, plainRead(item)))
        if (Result.isSuccess(fast)) expect(Object.keys(fast.success).length).toBe(fast.success.length)
      }
    }
    const sigs = fc.array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { maxLength: 60 })
    fc.assert(
      fc.property(sigs, fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }), fc.nat(8), (ss, ns, drop) => {
        check(signature, ss, drop)
        check(u16, ns, drop)
      }),
      { numRuns: 1_000, seed: 8 }
    )
  })

  it("Writer.u64le writes what the BigInt form writes (modulo 2^64: negative and wider values too)", () => {
    const anyBigInt = fc.oneof(u64, fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.constantFrom(-1n, -(1n << 53n), 1n << 64n))
    fc.assert(
      fc.property(anyBigInt, (v) => {
        expect(new Writer().u64le(v).finish()).toEqual(plainU64Bytes(BigInt.asUintN(64, v)).reverse())
      }),
      { numRuns: RUNS }
    )
  })

  it("decoded channel ids, chain hashes, txids and short channel ids equal the checked constructors' values", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), u64, (b, v) => {
        expect(Result.getOrThrow(decodeWith(b, (r) => channelId.read(r)))).toEqual(ChannelId(b.slice()))
        expect(Result.getOrThrow(decodeWith(b, (r) => chainHash.read(r)))).toEqual(ChainHash(b.slice()))
        expect(Result.getOrThrow(decodeWith(b, (r) => txid.read(r)))).toEqual(Txid(b.slice()))
        expect(Result.getOrThrow(decodeWith(plainU64Bytes(v), (r) => shortChannelId.read(r)))).toBe(ShortChannelId(v))
      }),
      { numRuns: RUNS }
    )
  })
})
