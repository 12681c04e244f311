/**
 * The memo of per-commitment points (`per-commitment-points.ts`): the same answers as
 * `perCommitmentPoint`, successes remembered (a second ask is a lookup), failures not, bounded.
 */
import fc from "fast-check"
import { Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 as secp } from "../../../src/protocol/crypto/secp256k1.ts"
import { perCommitmentPoint } from "../../../src/protocol/keys/derivation.ts"
import { makePerCommitmentPoints } from "../../../src/protocol/keys/per-commitment-points.ts"

const hexOf = (r: Result.Result<Uint8Array, unknown>): string => (Result.isSuccess(r) ? toHex(r.success) : "failure")

describe("makePerCommitmentPoints", () => {
  it("answers as perCommitmentPoint, and a second ask is a hit", () => {
    const memo = makePerCommitmentPoints(64)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
        const expected = hexOf(perCommitmentPoint(secp, secret))
        const before = memo.stats()
        expect(hexOf(memo.pointOf(secp, secret))).toBe(expected)
        expect(hexOf(memo.pointOf(secp, Uint8Array.from(secret)))).toBe(expected)
        const after = memo.stats()
        // A valid secret is computed once; an invalid one (zero, >= n) every time.
        if (expected === "failure") expect(after.hits).toBe(before.hits)
        else expect(after.hits).toBe(before.hits + 1)
      }),
      { numRuns: 200 }
    )
  })

  it("refuses invalid secrets (zero, the group order, wrong lengths) without remembering them", () => {
    const memo = makePerCommitmentPoints(8)
    const n = Uint8Array.from(Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex"))
    for (const bad of [new Uint8Array(32), n, new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)]) {
      expect(Result.isFailure(memo.pointOf(secp, bad))).toBe(true)
      expect(Result.isFailure(memo.pointOf(secp, bad))).toBe(true)
    }
    expect(memo.size()).toBe(0)
  })

  it("keeps each curve implementation's points apart (a test-only curve never reads the real one's)", () => {
    const memo = makePerCommitmentPoints(8)
    const secret = new Uint8Array(32).fill(7)
    const fake = { ...secp, name: "fake", publicKey: (s: Uint8Array) => Uint8Array.of(0x02, ...s) }
    const real = memo.pointOf(secp, secret)
    const other = memo.pointOf(fake, secret)
    expect(Result.isSuccess(real) && Result.isSuccess(other)).toBe(true)
    if (Result.isSuccess(real) && Result.isSuccess(other)) {
      expect(toHex(other.success)).toBe(`02${"07".repeat(32)}`)
      expect(toHex(real.success)).not.toBe(toHex(other.success))
    }
    expect(memo.size()).toBe(2)
  })

  it("property: any sequence of secrets through a small memo (entries evicted, their hash slots taken again) answers as perCommitmentPoint, a hit only for a secret held", () => {
    // A cheap stand-in curve (the point is the secret behind a prefix byte): what is checked is the memo's bookkeeping.
    const fake = { ...secp, name: "slots", publicKey: (s: Uint8Array) => Uint8Array.of(0x03, ...s) }
    const pool = Array.from({ length: 6 }, (_, i) => sha256(Uint8Array.of(i)))
    fc.assert(
      fc.property(fc.array(fc.nat({ max: pool.length - 1 }), { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (picks, capacity) => {
        const memo = makePerCommitmentPoints(capacity)
        // The model: secrets held, least recently used first.
        let held: Array<number> = []
        for (const i of picks) {
          const secret = pool[i] ?? new Uint8Array(32)
          const before = memo.stats()
          expect(hexOf(memo.pointOf(fake, Uint8Array.from(secret)))).toBe(hexOf(perCommitmentPoint(fake, secret)))
          expect(memo.stats().hits - before.hits).toBe(held.includes(i) ? 1 : 0)
          held = [...held.filter((k) => k !== i), i].slice(-capacity)
        }
      }),
      { numRuns: 300, seed: 16 }
    )
  })

  it("property: with secrets revealed in between (moved under their own bytes), answers, hits, sizes and eviction order are those of the plain memo (a model LRU where a reveal of a held secret makes it the most recent)", () => {
    const fake = { ...secp, name: "reveal", publicKey: (s: Uint8Array) => Uint8Array.of(0x03, ...s) }
    const pool = Array.from({ length: 6 }, (_, i) => sha256(Uint8Array.of(i)))
    const action = fc.tuple(fc.constantFrom("point" as const, "reveal" as const), fc.nat({ max: pool.length - 1 }))
    fc.assert(
      fc.property(fc.array(action, { maxLength: 50 }), fc.integer({ min: 1, max: 4 }), (actions, capacity) => {
        const memo = makePerCommitmentPoints(capacity)
        let held: Array<number> = []
        for (const [what, i] of actions) {
          const secret = Uint8Array.from(pool[i] ?? new Uint8Array(32))
          const before = memo.stats()
          if (what === "reveal") {
            memo.reveal(fake, secret)
            expect(memo.stats()).toEqual(before)
            if (held.includes(i)) held = [...held.filter((k) => k !== i), i]
          } else {
            expect(hexOf(memo.pointOf(fake, secret))).toBe(hexOf(perCommitmentPoint(fake, secret)))
            expect(memo.stats().hits - before.hits).toBe(held.includes(i) ? 1 : 0)
            expect(memo.stats().hits + memo.stats().misses).toBe(before.hits + before.misses + 1)
            held = [...held.filter((k) => k !== i), i].slice(-capacity)
          }
          expect(memo.size()).toBe(held.length)
        }
      }),
      { numRuns: 400, seed: 19 }
    )
  })

  it("a revealed secret is answered without a hash; an unrevealed one is never kept in the clear", () => {
    const memo = makePerCommitmentPoints(8)
    const secret = sha256(Uint8Array.of(42))
    const expected = hexOf(perCommitmentPoint(secp, secret))
    expect(hexOf(memo.pointOf(secp, secret))).toBe(expected)
    memo.reveal(secp, secret)
    expect(hexOf(memo.pointOf(secp, Uint8Array.from(secret)))).toBe(expected)
    expect(memo.stats()).toEqual({ hits: 1, misses: 1 })
    expect(memo.size()).toBe(1)
    // A reveal of a secret the memo does not hold changes nothing.
    memo.reveal(secp, sha256(Uint8Array.of(43)))
    expect(memo.size()).toBe(1)
  })

  it("property: secrets sharing the memo key of their revealed entries (their first bytes) are told apart by their bytes: every answer is perCommitmentPoint's", () => {
    const fake = { ...secp, name: "clash", publicKey: (s: Uint8Array) => Uint8Array.of(0x02, ...s) }
    const pool = Array.from({ length: 5 }, (_, i) => {
      const s = sha256(Uint8Array.of(i))
      s.set([1, 2, 3, 4])
      return s
    })
    const action = fc.tuple(fc.boolean(), fc.nat({ max: pool.length - 1 }))
    fc.assert(
      fc.property(fc.array(action, { maxLength: 50 }), fc.integer({ min: 1, max: 4 }), (actions, capacity) => {
        const memo = makePerCommitmentPoints(capacity)
        for (const [reveal, i] of actions) {
          const secret = Uint8Array.from(pool[i] ?? new Uint8Array(32))
          if (reveal) memo.reveal(fake, secret)
          else expect(hexOf(memo.pointOf(fake, secret))).toBe(hexOf(perCommitmentPoint(fake, secret)))
          expect(memo.size()).toBeLessThanOrEqual(capacity)
        }
      }),
      { numRuns: 300, seed: 19 }
    )
  })

  it("is bounded, least recently used out", () => {
    const memo = makePerCommitmentPoints(3)
    const secrets = [0, 1, 2, 3, 4].map((i) => sha256(Uint8Array.of(i)))
    for (const s of secrets) memo.pointOf(secp, s)
    expect(memo.size()).toBe(3)
    memo.clear()
    expect(memo.stats()).toEqual({ hits: 0, misses: 0 })
    expect(() => makePerCommitmentPoints(0)).toThrow(RangeError)
  })
})
