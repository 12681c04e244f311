import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import { Writer } from "../../../src/protocol/codec/writer.ts"
import vectors from "../../vectors/bolt01-signed-integers.json" with { type: "json" }

// BOLT 1 Appendix D: each value is listed in the narrowest of s8/s16/s32/s64 that holds it.
describe("signed integers (BOLT 1 Appendix D)", () => {
  for (const v of vectors.vectors) {
    it(`${v.value} <-> ${v.bytes}`, () => {
      const value = BigInt(String(v.value))
      const bytes = fromHex(v.bytes)
      const w = new Writer()
      let decoded: Result.Result<bigint, unknown>
      switch (bytes.length) {
        case 1:
          w.s8(Number(value))
          decoded = decodeWith(bytes, (r) => BigInt(r.s8()))
          break
        case 2:
          w.s16(Number(value))
          decoded = decodeWith(bytes, (r) => BigInt(r.s16()))
          break
        case 4:
          w.s32(Number(value))
          decoded = decodeWith(bytes, (r) => BigInt(r.s32()))
          break
        default:
          w.s64(value)
          decoded = decodeWith(bytes, (r) => r.s64())
      }
      expect(toHex(w.finish())).toBe(v.bytes)
      expect(decoded).toEqual(Result.succeed(value))
    })
  }
})
