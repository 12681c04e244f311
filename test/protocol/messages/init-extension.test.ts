import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { decodeMessage, encodeMessage, Init } from "../../../src/protocol/messages/index.ts"
import vectors from "../../vectors/bolt01-init-extension.json" with { type: "json" }

describe("init extension (BOLT 1 Appendix C)", () => {
  it("the base init is the bare message", () => {
    expect(Result.map(Init.encode(Init.make({ globalFeatures: new Uint8Array(0), features: new Uint8Array(0) })), toHex)).toEqual(
      Result.succeed(vectors.base_init)
    )
  })
  for (const v of vectors.valid) {
    it(`accepts: ${v.note}`, () => {
      const r = decodeMessage(fromHex(v.message))
      if (Result.isFailure(r)) throw new Error(`unexpected ${r.failure._tag}`)
      expect(r.success._tag).toBe("Init")
      if (r.success._tag !== "Init") return
      // Unknown odd records are kept and re-encoded in place.
      expect(Result.map(encodeMessage(r.success), toHex)).toEqual(Result.succeed(v.message))
    })
  }
  const expectedTags: Record<string, string> = {
    "the extension is present but truncated": "UnexpectedEof",
    "the extension contains unknown even TLV records (assuming that TLV type 0xca is unknown)": "TlvUnknownEvenType",
    "the extension TLV stream is invalid (duplicate TLV record type 0xc9)": "TlvDuplicateType"
  }
  for (const v of vectors.invalid) {
    it(`rejects: ${v.note}`, () => {
      const r = decodeMessage(fromHex(v.message))
      expect(Result.isFailure(r)).toBe(true)
      if (Result.isFailure(r)) expect(r.failure._tag).toBe(expectedTags[v.note])
    })
  }
})
