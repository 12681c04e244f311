/**
 * `Rng` (src/sim/Random.ts) computes SplitMix64 on 32-bit halves: the same numbers as the
 * 64-bit BigInt definition below, for any seed, at every step.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Rng } from "../../../src/sim/index.ts"

const MASK = (1n << 64n) - 1n

/** SplitMix64 over BigInt, seeded as `Rng` is (the first 8 bytes of SHA-256 of the seed, big-endian). */
const reference = (seed: string) => {
  const h = sha256(new TextEncoder().encode(seed))
  let state = 0n
  for (let i = 0; i < 8; i++) state = (state << 8n) | BigInt(h[i]!)
  const nextU64 = (): bigint => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK
    let z = state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK
    return z ^ (z >> 31n)
  }
  return { nextU64, next: () => Number(nextU64() >> 11n) / 2 ** 53 }
}

describe("Rng", () => {
  it("draws the BigInt SplitMix64's numbers (nextU64 and next, interleaved)", () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.boolean(), { minLength: 1, maxLength: 300 }), (seed, kinds) => {
        const rng = new Rng(seed)
        const ref = reference(seed)
        for (const wide of kinds) {
          if (wide) expect(rng.nextU64()).toBe(ref.nextU64())
          else expect(rng.next()).toBe(ref.next())
        }
      }),
      { numRuns: 300 }
    )
  })

  it("keeps a known stream (seed \"s\")", () => {
    const rng = new Rng("s")
    const ref = reference("s")
    for (let i = 0; i < 10_000; i++) expect(rng.nextU64()).toBe(ref.nextU64())
  })
})
