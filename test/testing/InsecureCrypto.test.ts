/**
 * The insecure curve's byte-level fast paths (range checks by byte comparison, a public key and a
 * signature's r copied from the secret, scalars read and written through one reused buffer, sums
 * added and reduced in bytes, the combined multiply-then-tweak) give exactly what the plain BigInt
 * definitions below give, for any input: valid and out-of-range scalars (0, n - 1, n, 2^256 - 1),
 * other lengths and prefixes.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { nobleSecp256k1, pointMultiplyTweakAdd } from "../../src/protocol/crypto/secp256k1.ts"
import { NO_DIGEST } from "../../src/protocol/tx/signing.ts"
import { insecureSecp256k1 as fast } from "../../src/testing/index.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** The plain definitions: every scalar a BigInt, made and written a byte at a time. */
const toScalar = (b: Uint8Array, offset = 0): bigint => {
  let n = 0n
  for (let i = 0; i < 32; i++) n = (n << 8n) | BigInt(b[offset + i] ?? 0)
  return b.length < offset + 32 ? 0n : n
}
const fromScalar = (n: bigint, prefix?: number): Uint8Array => {
  const out = new Uint8Array(prefix === undefined ? 32 : 33)
  if (prefix !== undefined) out[0] = prefix
  let v = n
  for (let i = out.length - 1; i >= out.length - 32; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}
const secretOf = (b: Uint8Array) => {
  if (b.length !== 32) return undefined
  const n = toScalar(b)
  return n > 0n && n < N ? n : undefined
}
const pointOf = (b: Uint8Array) => {
  if (b.length !== 33 || (b[0] !== 2 && b[0] !== 3)) return undefined
  const n = toScalar(b, 1)
  return n > 0n && n < N ? n : undefined
}
const mod = (n: bigint) => ((n % N) + N) % N
const point = (n: bigint) => (mod(n) === 0n ? undefined : fromScalar(mod(n), 2))
const secret = (n: bigint) => (mod(n) === 0n ? undefined : fromScalar(mod(n)))
const plain = {
  publicKey: (s: Uint8Array) => {
    const k = secretOf(s)
    return k === undefined ? undefined : point(k)
  },
  isValidSecret: (s: Uint8Array) => secretOf(s) !== undefined,
  isValidPoint: (p: Uint8Array) => pointOf(p) !== undefined,
  ecdh: (s: Uint8Array, p: Uint8Array) => {
    const k = secretOf(s)
    const q = pointOf(p)
    const shared = k === undefined || q === undefined ? undefined : point(k * q)
    return shared === undefined ? undefined : sha256(shared)
  },
  sign: (_digest: Uint8Array, s: Uint8Array) => {
    const sig = new Uint8Array(64)
    const pub = plain.publicKey(s)
    if (pub !== undefined) sig.set(pub.subarray(1), 0)
    sig.set(s.subarray(0, 31), 33)
    sig[63] = sig[63]! | 1
    return sig
  },
  recover: (signature: Uint8Array) => {
    if (signature.length !== 64) return undefined
    const pub = new Uint8Array(33)
    pub[0] = 2
    pub.set(signature.subarray(0, 32), 1)
    return pointOf(pub) === undefined ? undefined : pub
  },
  pointAdd: (a: Uint8Array, b: Uint8Array) => {
    const x = pointOf(a)
    const y = pointOf(b)
    return x === undefined || y === undefined ? undefined : point(x + y)
  },
  pointTweakAdd: (p: Uint8Array, t: Uint8Array) => {
    const x = pointOf(p)
    return x === undefined || t.length !== 32 ? undefined : point(x + toScalar(t))
  },
  pointMultiply: (p: Uint8Array, k: Uint8Array) => {
    const x = pointOf(p)
    return x === undefined || k.length !== 32 ? undefined : point(x * toScalar(k))
  },
  secretAdd: (a: Uint8Array, b: Uint8Array) => {
    const x = secretOf(a)
    return x === undefined || b.length !== 32 ? undefined : secret(x + toScalar(b))
  },
  secretMultiply: (a: Uint8Array, b: Uint8Array) => {
    const x = secretOf(a)
    return x === undefined || b.length !== 32 ? undefined : secret(x * toScalar(b))
  }
}

/** 32-byte scalars, edges included: 0, 1, n - 1, n, n + 1, 2^256 - 1, and bytes near them. */
const edges = [0n, 1n, N - 1n, N, N + 1n, (1n << 256n) - 1n].map((n) => fromScalar(n))
const scalar = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.constantFrom(...edges),
  // n's leading bytes with a random tail: the comparison decides late.
  fc.tuple(fc.integer({ min: 1, max: 31 }), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([keep, tail]) => {
    const b = new Uint8Array(tail)
    b.set(edges[3]!.subarray(0, keep))
    return b
  })
)
/** Any length now and then. */
const bytes = fc.oneof({ weight: 6, arbitrary: scalar }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) })
const pointBytes = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(2, 3, 2, 3, 4, 0), scalar).map(([prefix, s]) => Uint8Array.of(prefix, ...s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) }
)
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 })

/** Uint8Arrays compared by value (undefined stays undefined). */
const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) => expect(a === undefined ? undefined : [...a]).toEqual(b === undefined ? undefined : [...b])

describe("insecure crypto fast paths", () => {
  it("equal the plain BigInt definitions on every operation", () => {
    fc.assert(
      fc.property(bytes, bytes, pointBytes, pointBytes, digest, (s1, s2, p1, p2, d) => {
        same(fast.publicKey(s1), plain.publicKey(s1))
        expect(fast.isValidSecret(s1)).toBe(plain.isValidSecret(s1))
        expect(fast.isValidPoint(p1)).toBe(plain.isValidPoint(p1))
        same(fast.ecdh(s1, p1), plain.ecdh(s1, p1))
        same(fast.sign(d, s1), plain.sign(d, s1))
        same(fast.signRecoverable(d, s1).signature, plain.sign(d, s1))
        const sig = plain.sign(d, s1)
        same(fast.recover(sig, 0, d), plain.recover(sig))
        same(fast.pointAdd(p1, p2), plain.pointAdd(p1, p2))
        same(fast.pointTweakAdd(p1, s2), plain.pointTweakAdd(p1, s2))
        same(fast.pointMultiply(p1, s2), plain.pointMultiply(p1, s2))
        same(fast.secretAdd(s1, s2), plain.secretAdd(s1, s2))
        same(fast.secretMultiply(s1, s2), plain.secretMultiply(s1, s2))
        // The combined call is the two plain calls, refusals included.
        const chained = plain.pointMultiply(p1, s1)
        same(pointMultiplyTweakAdd(fast, p1, s1, s2), chained === undefined ? undefined : plain.pointTweakAdd(chained, s2))
      }),
      { numRuns: 3000 }
    )
  })

  it("returns arrays of its own (a caller may keep or change them)", () => {
    const s = fromScalar(12345n)
    const pub = fast.publicKey(s)!
    pub[1] = 0xff
    expect(s[0]).toBe(0)
    const sig = fast.sign(new Uint8Array(32), s)
    const rec = fast.recover(sig, 0, new Uint8Array(32))!
    rec[5] = 7
    expect(sig[4]).toBe(0)
  })

  it("signs without its digest, so NO_DIGEST in place of a sighash gives the same signature; a real curve does not claim it", () => {
    expect(fast.signsWithoutDigest).toBe(true)
    expect(nobleSecp256k1.signsWithoutDigest).toBeUndefined()
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (s, d) => {
        expect(fast.sign(d, s)).toEqual(fast.sign(NO_DIGEST, s))
        expect(fast.signRecoverable(d, s).signature).toEqual(fast.sign(NO_DIGEST, s))
        expect(fast.verify(fast.sign(NO_DIGEST, s), d, new Uint8Array(33))).toBe(true)
      }),
      { numRuns: 500, seed: 19 }
    )
  })
})
