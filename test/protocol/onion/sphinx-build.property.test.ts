/**
 * `buildOnion` generates of each filler stream only the bytes the filler uses, and derives each
 * hop's rho key once: every onion (1 to 20 hops, payment and onion-message sizes, payloads of any
 * size that fits) is byte for byte what the plain form (`sphinx-reference.ts`: whole streams) builds.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { buildOnion } from "../../../src/protocol/onion/index.ts"
import { nodeAt, secp, sessionKeyOf } from "./fixtures.ts"
import { buildOnionPlain } from "./sphinx-reference.ts"

const route = fc.record({
  size: fc.oneof(fc.constant(1300), fc.integer({ min: 40, max: 1400 })),
  hops: fc.integer({ min: 1, max: 20 }),
  seed: fc.integer(),
  ad: fc.uint8Array({ minLength: 0, maxLength: 40 }),
  // Payload sizes as shares of the room left (BigSize lengths of 1 and 3 bytes both occur).
  shares: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
  fill: fc.integer({ min: 0, max: 255 })
})

describe("buildOnion: the filler's streams generated in part", () => {
  it("builds the same packet and secrets as the plain form", () => {
    let built = 0
    fc.assert(
      fc.property(route, (r) => {
        const room = Math.max(0, Math.floor(r.size / r.hops) - 33)
        const hops = Array.from({ length: r.hops }, (_, i) => ({
          publicKey: nodeAt(i).publicKey,
          payload: new Uint8Array(Math.floor((r.shares[i] ?? 0) * room)).fill((r.fill + i) & 0xff)
        }))
        const fast = buildOnion(secp, sessionKeyOf(r.seed), hops, r.ad, r.size)
        const plain = buildOnionPlain(secp, sessionKeyOf(r.seed), hops, r.ad, r.size)
        if (plain === undefined) {
          expect(Result.isFailure(fast)).toBe(true)
          return
        }
        built += 1
        expect(Result.isSuccess(fast) ? fast.success : undefined).toEqual(plain)
      }),
      { numRuns: 200 }
    )
    expect(built).toBeGreaterThan(100)
  })
})
