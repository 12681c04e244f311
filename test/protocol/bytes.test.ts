import { bytesToHex } from "@noble/hashes/utils.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"

describe("hex", () => {
  it("toHex writes what noble's bytesToHex writes, and fromHex reads it back", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const hex = toHex(bytes)
        expect(hex).toBe(bytesToHex(bytes))
        expect(fromHex(hex)).toEqual(bytes)
      }),
      { numRuns: 2000 }
    )
  })
  it("every byte value, lowercase", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(toHex(all)).toBe(Array.from(all, (b) => b.toString(16).padStart(2, "0")).join(""))
  })
})
