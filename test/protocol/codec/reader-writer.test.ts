import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { EncodeError } from "../../../src/protocol/codec/errors.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import { encodeWith, Writer } from "../../../src/protocol/codec/writer.ts"

const tag = <A, E extends { _tag: string }>(r: Result.Result<A, E>): string => (Result.isFailure(r) ? r.failure._tag : "ok")

describe("Reader", () => {
  it("reads big-endian unsigned integers", () => {
    const r = decodeWith(fromHex("01" + "0203" + "04050607" + "08090a0b0c0d0e0f"), (r) => [r.u8(), r.u16(), r.u32(), r.u64()])
    expect(r).toEqual(Result.succeed([1, 0x0203, 0x04050607, 0x08090a0b0c0d0e0fn]))
    expect(decodeWith(fromHex("ffffffff"), (r) => r.u32())).toEqual(Result.succeed(0xffffffff))
    expect(decodeWith(fromHex("ffffffffffffffff"), (r) => r.u64())).toEqual(Result.succeed(0xffffffffffffffffn))
  })
  it("reports EOF with position and sizes", () => {
    const r = decodeWith(fromHex("0102"), (r) => {
      r.u8()
      return r.u32()
    })
    expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "UnexpectedEof", at: 1, needed: 4, available: 1 })
  })
  it("truncated integers take the rest and must be minimal", () => {
    expect(decodeWith(fromHex(""), (r) => r.tu64())).toEqual(Result.succeed(0n))
    expect(decodeWith(fromHex("0100"), (r) => r.tu16())).toEqual(Result.succeed(256))
    expect(decodeWith(fromHex("ffffffff"), (r) => r.tu32())).toEqual(Result.succeed(0xffffffff))
    expect(tag(decodeWith(fromHex("00"), (r) => r.tu64()))).toBe("NonMinimalTruncatedInt")
    expect(tag(decodeWith(fromHex("0001"), (r) => r.tu16()))).toBe("NonMinimalTruncatedInt")
    expect(tag(decodeWith(fromHex("010000"), (r) => r.tu16()))).toBe("NonMinimalTruncatedInt")
    expect(tag(decodeWith(fromHex("0100000000"), (r) => r.tu32()))).toBe("NonMinimalTruncatedInt")
    expect(tag(decodeWith(fromHex("010000000000000000"), (r) => r.tu64()))).toBe("NonMinimalTruncatedInt")
  })
  it("points need a 02/03 prefix", () => {
    const key = "023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"
    expect(Result.map(decodeWith(fromHex(key), (r) => r.point()), toHex)).toEqual(Result.succeed(key))
    expect(tag(decodeWith(fromHex(`04${key.slice(2)}`), (r) => r.point()))).toBe("InvalidPoint")
    expect(tag(decodeWith(fromHex(key.slice(0, 64)), (r) => r.point()))).toBe("UnexpectedEof")
  })
  it("bytes are copies, not views of the input", () => {
    const input = fromHex("aabbcc")
    const r = decodeWith(input, (r) => r.bytes(2))
    input[0] = 0
    expect(Result.map(r, toHex)).toEqual(Result.succeed("aabb"))
  })
  it("sub-readers are bounded", () => {
    const r = decodeWith(fromHex("0102030405"), (r) => {
      const sub = r.sub(2)
      const a = sub.u16()
      return [a, sub.atEnd, r.u8(), r.remaining]
    })
    expect(r).toEqual(Result.succeed([0x0102, true, 3, 2]))
    expect(tag(decodeWith(fromHex("0102030405"), (r) => r.sub(2).u32()))).toBe("UnexpectedEof")
  })
})

describe("Writer", () => {
  it("grows and writes every width", () => {
    const w = new Writer(1)
    w.u8(1).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d0e0fn)
    for (let i = 0; i < 100; i++) w.u8(i)
    const out = w.finish()
    expect(toHex(out.subarray(0, 15))).toBe("0102030405060708090a0b0c0d0e0f")
    expect(out.length).toBe(115)
    expect([...out.subarray(15)]).toEqual(Array.from({ length: 100 }, (_, i) => i))
    const big = new Writer(1).bytes(new Uint8Array(1000).fill(7)).u8(9).finish()
    expect(big.length).toBe(1001)
    expect(big.every((b, i) => b === (i < 1000 ? 7 : 9))).toBe(true)
  })
  it("writes minimal truncated integers", () => {
    expect(toHex(new Writer().tu64(0n).finish())).toBe("")
    expect(toHex(new Writer().tu64(1n).finish())).toBe("01")
    expect(toHex(new Writer().tu64(0x0100000000000000n).finish())).toBe("0100000000000000")
    expect(toHex(new Writer().tu16(256).finish())).toBe("0100")
    expect(toHex(new Writer().tu32(0xffffffff).finish())).toBe("ffffffff")
  })
  it("rejects out-of-range values with an EncodeError", () => {
    expect(encodeWith((w) => w.u8(256))).toEqual(Result.fail(new EncodeError({ field: "u8", reason: "256 out of range [0, 255]" })))
    expect(tag(encodeWith((w) => w.u16(-1)))).toBe("EncodeError")
    expect(tag(encodeWith((w) => w.u32(1.5)))).toBe("EncodeError")
    expect(tag(encodeWith((w) => w.u64(1n << 64n)))).toBe("EncodeError")
    expect(tag(encodeWith((w) => w.s8(128)))).toBe("EncodeError")
    expect(tag(encodeWith((w) => w.tu16(0x10000)))).toBe("EncodeError")
    expect(tag(encodeWith((w) => w.fixed("point", new Uint8Array(32), 33)))).toBe("EncodeError")
  })
})

describe("Writer.scratch (pooled buffers)", () => {
  const write = (w: Writer, chunks: ReadonlyArray<Uint8Array>): void => {
    for (const c of chunks) w.u16(c.length).bytes(c)
  }
  it("property: writes what a fresh Writer writes, nested calls and a reused pool included", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 12 }), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (outer, inner) => {
        const fresh = new Writer()
        write(fresh, outer)
        const expected = toHex(fresh.finish())
        const got = Writer.scratch(
          (w) => {
            write(w, outer)
            // a nested call (as a TLV value or a sighash inside an encoder) gets a buffer of its own
            const nested = Writer.scratch((n) => write(n, inner), (b) => b.slice())
            const alone = new Writer()
            write(alone, inner)
            expect(toHex(nested)).toBe(toHex(alone.finish()))
          },
          (written) => toHex(written)
        )
        expect(got).toBe(expected)
        // what encodeWith returns is a copy: later scratch writes do not change it
        const kept = encodeWith((w) => write(w, outer))
        Writer.scratch((w) => void w.bytes(new Uint8Array(4096).fill(0xee)), () => undefined)
        expect(Result.isSuccess(kept) && toHex(kept.success)).toBe(expected)
      }),
      { numRuns: 200 }
    )
  })
  it("returns its buffer to the pool when the writer throws, and encodeWith still reports the EncodeError", () => {
    expect(() => Writer.scratch((w) => void w.u8(300), () => 0)).toThrow(EncodeError)
    expect(tag(encodeWith((w) => void w.u8(-1)))).toBe("EncodeError")
    expect(Result.isSuccess(encodeWith((w) => void w.u8(7))) ? "ok" : "failed").toBe("ok")
  })
})
