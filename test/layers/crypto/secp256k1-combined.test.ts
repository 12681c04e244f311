/**
 * `pointMultiplyTweakAdd` (point * scalar + tweak * G, one double multiplication: native and WASM
 * through public key recovery, noble directly) gives exactly what `pointMultiply` then
 * `pointTweakAdd` give, on every backend, for random inputs and for the refusals (a point off the
 * curve or with a bad prefix, a scalar of 0 or >= n, a tweak >= n, a sum at infinity).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import {
  nobleSecp256k1,
  pointMultiplyTweakAdd,
  pointMultiplyTweakAddByRecovery,
  scalarToBytes,
  type Secp256k1
} from "../../../src/protocol/crypto/secp256k1.ts"
import { fastBackends, secp256k1Backends } from "./backends.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const show = (b: Uint8Array | undefined): string => (b === undefined ? "undefined" : toHex(b))
const reference = (s: Secp256k1, point: Uint8Array, scalar: Uint8Array, tweak: Uint8Array): string => {
  const product = s.pointMultiply(point, scalar)
  return show(product === undefined ? undefined : s.pointTweakAdd(product, tweak))
}
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
/** Scalars of every kind: random, 0, 1, n - 1, n, 2^256 - 1. */
const scalar = fc.oneof(
  { arbitrary: bytes32, weight: 6 },
  fc.constantFrom(scalarToBytes(0n), scalarToBytes(1n), scalarToBytes(N - 1n), scalarToBytes(N), new Uint8Array(32).fill(0xff))
)

describe.each(secp256k1Backends.map((s) => [s.name, s] as const))("pointMultiplyTweakAdd on %s", (_, s) => {
  it("has its own double multiplication", () => {
    expect(s.pointMultiplyTweakAdd).toBeDefined()
  })

  it("equals pointMultiply then pointTweakAdd, on valid points and any scalars", () => {
    fc.assert(
      fc.property(bytes32, scalar, scalar, (secret, k, t) => {
        const point = nobleSecp256k1.publicKey(secret)
        fc.pre(point !== undefined)
        if (point === undefined) return
        expect(show(pointMultiplyTweakAdd(s, point, k, t))).toBe(reference(s, point, k, t))
        expect(reference(s, point, k, t)).toBe(reference(nobleSecp256k1, point, k, t))
      }),
      { numRuns: 200 }
    )
  })

  it("refuses what the two calls refuse: bad points, a sum at infinity", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 33, maxLength: 33 }), scalar, scalar, (point, k, t) => {
        expect(show(pointMultiplyTweakAdd(s, point, k, t))).toBe(reference(s, point, k, t))
        const prefixed = Uint8Array.of(2 + (point[0] ?? 0) % 2, ...point.subarray(1))
        expect(show(pointMultiplyTweakAdd(s, prefixed, k, t))).toBe(reference(s, prefixed, k, t))
      }),
      { numRuns: 200 }
    )
    // G * 1 + (n - 1) * G: infinity.
    const g = nobleSecp256k1.publicKey(scalarToBytes(1n))
    expect(g).toBeDefined()
    if (g !== undefined) {
      expect(pointMultiplyTweakAdd(s, g, scalarToBytes(1n), scalarToBytes(N - 1n))).toBeUndefined()
      expect(show(pointMultiplyTweakAdd(s, g, scalarToBytes(2n), scalarToBytes(N - 1n)))).toBe(toHex(g))
    }
    // Wrong lengths.
    expect(pointMultiplyTweakAdd(s, new Uint8Array(32), scalarToBytes(1n), scalarToBytes(1n))).toBeUndefined()
  })
})

describe.each(fastBackends.map((s) => [s.name, s] as const))("pointMultiplyTweakAddByRecovery on %s", (_, s) => {
  // The recovery path itself (not the two plain calls the layer falls back to): it must answer,
  // and answer the reference, for valid points and scalars in 1..n-1 (it refuses only an
  // x-coordinate >= n, probability ~2^-128, and sums at infinity).
  const inRange = bytes32.filter((b) => {
    let v = 0n
    for (const x of b) v = (v << 8n) | BigInt(x)
    return v > 0n && v < N
  })
  it("gives pointMultiply then pointTweakAdd, without falling back", () => {
    fc.assert(
      fc.property(bytes32, inRange, inRange, (secret, k, t) => {
        const point = nobleSecp256k1.publicKey(secret)
        fc.pre(point !== undefined)
        if (point === undefined) return
        const fast = pointMultiplyTweakAddByRecovery(s.recover, s.secretMultiply, point, k, t)
        expect(fast).toBeDefined()
        expect(show(fast)).toBe(reference(nobleSecp256k1, point, k, t))
      }),
      { numRuns: 200 }
    )
  })
  it("refuses (undefined: the plain calls decide) a tweak of 0, bad lengths and prefixes", () => {
    const g = nobleSecp256k1.publicKey(scalarToBytes(1n))
    expect(g).toBeDefined()
    if (g === undefined) return
    expect(pointMultiplyTweakAddByRecovery(s.recover, s.secretMultiply, g, scalarToBytes(2n), scalarToBytes(0n))).toBeUndefined()
    expect(pointMultiplyTweakAddByRecovery(s.recover, s.secretMultiply, g, scalarToBytes(1n), scalarToBytes(N - 1n))).toBeUndefined()
    expect(pointMultiplyTweakAddByRecovery(s.recover, s.secretMultiply, g.subarray(1), scalarToBytes(2n), scalarToBytes(3n))).toBeUndefined()
    expect(pointMultiplyTweakAddByRecovery(s.recover, s.secretMultiply, Uint8Array.of(4, ...g.subarray(1)), scalarToBytes(2n), scalarToBytes(3n))).toBeUndefined()
    // 2G + 3G = 5G
    expect(show(pointMultiplyTweakAddByRecovery(s.recover, s.secretMultiply, g, scalarToBytes(2n), scalarToBytes(3n)))).toBe(show(nobleSecp256k1.publicKey(scalarToBytes(5n))))
  })
})
