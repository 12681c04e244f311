/**
 * `seenKeyOf`, the key of the per-HTLC dedupe maps: injective over (channel number, HTLC id,
 * result), a number in its range (mostly a small integer), a string outside it.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { seenKeyOf } from "../../src/actors/Payments.ts"

const result = fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const)
/** Mostly small, sometimes at or past the edges of the numeric range. */
const channel = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(1022, 1023, 1024, 1025, 5000))
const htlcId = fc.oneof(
  fc.bigInt({ min: 0n, max: 300n }),
  fc.constantFrom(2n ** 18n - 1n, 2n ** 18n, 2n ** 40n - 1n, 2n ** 40n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
)
const triple = fc.tuple(channel, htlcId, result)

describe("seenKeyOf", () => {
  it("gives different keys to different (channel, id, result) and the same key to the same", () => {
    fc.assert(fc.property(fc.array(triple, { minLength: 2, maxLength: 60 }), (xs) => {
      const byKey = new Map<number | string, string>()
      for (const [c, id, r] of xs) {
        const k = seenKeyOf(c, id, r)
        const who = `${c}/${id}/${r}`
        const before = byKey.get(k)
        if (before !== undefined) expect(before).toBe(who)
        byKey.set(k, who)
      }
    }), { seed: 14, numRuns: 500 })
  })

  it("is a safe integer below 1,024 channels and 2^40 ids, a small integer for a channel's first 2^18 ids, else a string", () => {
    fc.assert(fc.property(triple, ([c, id, r]) => {
      const k = seenKeyOf(c, id, r)
      if (c < 1024 && id < 2n ** 40n) {
        expect(typeof k).toBe("number")
        expect(Number.isSafeInteger(k)).toBe(true)
        expect(k).toBe(Number((id * 1024n + BigInt(c)) * 4n + BigInt(r)))
        if (id < 2n ** 18n) expect(k).toBeLessThan(2 ** 30)
      } else expect(k).toBe(`${c}/${id}/${r}`)
    }), { seed: 14, numRuns: 1000 })
  })
})
