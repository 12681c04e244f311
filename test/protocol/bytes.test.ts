import { bytesToHex } from "@noble/hashes/utils.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { equalBytes, equalBytesAt, fromHex, lastKeyOf, toHex } from "../../src/protocol/bytes.ts"

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
  it("toHex of sequences of short (<= 64 bytes: the reused views) and long inputs, the scratch grown in between, equals noble's", () => {
    const input = fc.oneof(fc.uint8Array({ maxLength: 70 }), fc.uint8Array({ minLength: 60, maxLength: 66 }), fc.uint8Array({ maxLength: 5000 }))
    fc.assert(
      fc.property(fc.array(input, { maxLength: 20 }), (inputs) => {
        const hexes = inputs.map(toHex)
        // Each result is a string of its own: none changed by the calls that followed it.
        inputs.forEach((b, i) => expect(hexes[i]).toBe(bytesToHex(b)))
      }),
      { numRuns: 500, seed: 64 }
    )
  })
  it("every byte value, lowercase", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(toHex(all)).toBe(Array.from(all, (b) => b.toString(16).padStart(2, "0")).join(""))
  })
})

describe("byte equality", () => {
  const plainEqual = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])
  const plainEqualAt = (bytes: Uint8Array, at: number, field: Uint8Array): boolean =>
    at + field.length <= bytes.length && field.every((x, i) => bytes[at + i] === x)
  it("equalBytes and equalBytesAt answer what a plain element-by-element comparison answers", () => {
    const small = fc.uint8Array({ maxLength: 40 }).map((b) => b.map((x) => x % 3))
    fc.assert(
      fc.property(small, small, fc.nat(45), (a, b, at) => {
        expect(equalBytes(a, b)).toBe(plainEqual(a, b))
        expect(equalBytes(a, a.slice())).toBe(true)
        expect(equalBytesAt(a, at, b)).toBe(plainEqualAt(a, at, b))
        if (at <= a.length) expect(equalBytesAt(a, at, a.subarray(at))).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("lastKeyOf", () => {
  it("gives the key of the bytes as they are now, asked again, refilled in place or new; the key made once per change", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 4 })), { maxLength: 30 }), (steps) => {
        let made = 0
        const keyOf = lastKeyOf((b: Uint8Array) => (made++, toHex(b)))
        const held = new Uint8Array(4)
        let last: string | undefined
        let expectedMade = 0
        for (const [refill, bytes] of steps) {
          // Either the caller's one array refilled in place, or a fresh array.
          const asked = refill ? (held.fill(0), held.set(bytes), held) : bytes
          const hex = toHex(asked)
          if (hex !== last) expectedMade++
          last = hex
          expect(keyOf(asked)).toBe(hex)
          expect(made).toBe(expectedMade)
        }
      }),
      { seed: 1407, numRuns: 500 }
    )
  })
})
