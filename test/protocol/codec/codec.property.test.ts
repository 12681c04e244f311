import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeBigSize, encodeBigSize } from "../../../src/protocol/codec/bigsize.ts"
import * as F from "../../../src/protocol/codec/fields.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import { decodeRawTlvStream, encodeRawTlvStream, type TlvRecord, tlvField, tlvStream } from "../../../src/protocol/codec/tlv.ts"
import { Writer } from "../../../src/protocol/codec/writer.ts"

const RUNS = 10_000
const U64_MAX = (1n << 64n) - 1n

/** A decoder result must be a Result: a value or a typed error, never an exception. */
const isTyped = (r: Result.Result<unknown, { readonly _tag: string }>): boolean =>
  Result.isSuccess(r) || typeof r.failure._tag === "string"

const stream = tlvStream("test", {
  amount: tlvField(1, F.tu64),
  scid: tlvField(2, F.shortChannelId),
  node: tlvField(3, F.struct({ nodeId: F.point, a: F.u64, b: F.u64 })),
  delta: tlvField(254, F.u16),
  small: tlvField(0x10000, F.tu32),
  flag: tlvField(0x10001, F.empty),
  hashes: tlvField(7, F.restArray(F.sha256))
})
const knownTypes = new Set([1n, 2n, 3n, 254n, 0x10000n, 0x10001n, 7n])

const point = fc.tuple(fc.constantFrom(2, 3), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([p, x]) => Uint8Array.of(p, ...x))
const u64 = fc.bigInt({ min: 0n, max: U64_MAX })
const unknownOdd: fc.Arbitrary<ReadonlyArray<TlvRecord>> = fc
  .uniqueArray(fc.bigInt({ min: 0n, max: (U64_MAX - 1n) / 2n }), { maxLength: 4 })
  .map((xs) => xs.map((x) => 2n * x + 1n).filter((t) => !knownTypes.has(t)).sort((a, b) => (a < b ? -1 : 1)))
  .chain((types) => fc.tuple(...types.map((type) => fc.uint8Array({ maxLength: 40 }).map((value) => ({ type, value })))))

const streamValue = fc
  .record(
    {
      amount: u64,
      scid: u64.map((x) => x as F.ShortChannelId),
      node: fc.record({ nodeId: point, a: u64, b: u64 }),
      delta: fc.integer({ min: 0, max: 0xffff }),
      small: fc.integer({ min: 0, max: 0xffffffff }),
      flag: fc.constant(true as const),
      hashes: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 3 }),
      unknown: unknownOdd.filter((u) => u.length > 0)
    },
    { requiredKeys: [] }
  )

describe("codec properties", () => {
  it("BigSize: decode(encode(x)) = x, and the encoding is canonical", () => {
    fc.assert(
      fc.property(u64, (x) => {
        const bytes = encodeBigSize(x)
        expect(decodeBigSize(bytes)).toEqual(Result.succeed(x))
      }),
      { numRuns: RUNS }
    )
  })
  it("BigSize: arbitrary bytes give a value or a typed error", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 12 }), (b) => isTyped(decodeBigSize(b))), { numRuns: RUNS })
  })
  it("signed and truncated integers round-trip", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -128, max: 127 }),
        fc.integer({ min: -32768, max: 32767 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
        u64,
        (a, b, c, d, e) => {
          const bytes = new Writer().s8(a).s16(b).s32(c).s64(d).finish()
          expect(decodeWith(bytes, (r) => [r.s8(), r.s16(), r.s32(), r.s64()])).toEqual(Result.succeed([a, b, c, d]))
          expect(decodeWith(new Writer().tu64(e).finish(), (r) => r.tu64())).toEqual(Result.succeed(e))
        }
      ),
      { numRuns: RUNS }
    )
  })
  it("TLV stream: decode(encode(v)) = v, unknown odd records included", () => {
    fc.assert(
      fc.property(streamValue, (v) => {
        const bytes = stream.encode(v)
        expect(stream.decode(bytes)).toEqual(Result.succeed(v))
        // The raw view sees strictly increasing types.
        const raw = Result.getOrThrow(decodeRawTlvStream(bytes))
        for (let i = 1; i < raw.length; i++) expect((raw[i]?.type ?? 0n) > (raw[i - 1]?.type ?? 0n)).toBe(true)
        expect(encodeRawTlvStream(raw)).toEqual(bytes)
      }),
      { numRuns: RUNS }
    )
  })
  it("TLV stream: arbitrary bytes give a value or a typed error (typed and raw decoders)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => isTyped(stream.decode(b)) && isTyped(decodeRawTlvStream(b))),
      { numRuns: RUNS }
    )
  })
  it("TLV stream: mutated valid streams give a value or a typed error", () => {
    fc.assert(
      fc.property(streamValue, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, pos, byte) => {
        const bytes = stream.encode(v)
        if (bytes.length === 0) return true
        const mutated = bytes.slice()
        mutated[pos % bytes.length] = byte
        return isTyped(stream.decode(mutated)) && isTyped(stream.decode(bytes.subarray(0, pos % bytes.length)))
      }),
      { numRuns: RUNS }
    )
  })
  it("short_channel_id text form round-trips", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffff }), (b, t, o) => {
        const scid = F.shortChannelIdFromParts(b, t, o)
        expect(F.parseShortChannelId(F.formatShortChannelId(scid))).toBe(scid)
        expect(F.shortChannelIdParts(scid)).toEqual({ block: b, txIndex: t, outputIndex: o })
      }),
      { numRuns: 1000 }
    )
  })
})
