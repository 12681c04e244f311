import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeBigSize, encodeBigSize } from "../../../src/protocol/codec/bigsize.ts"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import vectors from "../../vectors/bolt01-bigsize.json" with { type: "json" }

describe("BigSize (BOLT 1 Appendix A)", () => {
  for (const v of vectors.decoding) {
    it(`decodes: ${v.name}`, () => {
      const r = decodeBigSize(fromHex(v.bytes))
      if ("exp_error" in v && v.exp_error !== undefined) {
        expect(Result.isFailure(r)).toBe(true)
        if (Result.isFailure(r)) {
          const expected = v.exp_error === "decoded bigsize is not canonical" ? "NonCanonicalBigSize" : "UnexpectedEof"
          expect(r.failure._tag).toBe(expected)
        }
      } else {
        expect(r).toEqual(Result.succeed(BigInt(String(v.value))))
      }
    })
  }
  for (const v of vectors.encoding_tests) {
    it(`encodes: ${v.name}`, () => {
      expect(toHex(encodeBigSize(BigInt(String(v.value))))).toBe(v.bytes)
    })
  }
})
