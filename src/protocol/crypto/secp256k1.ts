/**
 * The secp256k1 operations the BOLTs need, behind one small interface so that the portable
 * implementation (noble, pure JS) and a fast one (libsecp256k1 in WASM, see
 * `src/layers/crypto/`) are interchangeable and pass the same vectors.
 *
 * Conventions: secret keys are 32 bytes, public keys 33-byte compressed points, ECDSA
 * signatures 64-byte compact (r || s) with low S, message digests 32 bytes (no hashing here).
 * Operations on untrusted input return `undefined` for an invalid key, point or signature
 * instead of throwing, so callers can map that to their own typed error.
 */
import * as secp from "@noble/secp256k1"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import type { Brand } from "effect"
import { checkedBrand } from "../units.ts"

/** A 64-byte compact ECDSA signature (r || s, low S): the form BOLT 2 messages carry. */
export type CompactSignature = Uint8Array & Brand.Brand<"CompactSignature">
/** A compact signature from 64 bytes (a `BrandError` for another length). */
export const CompactSignature = checkedBrand<CompactSignature>((b) => b.length === 64 || `a compact signature is 64 bytes, got ${b.length}`)

export interface Secp256k1 {
  readonly name: string
  /**
   * Set only by a test curve whose `sign` and `verify` do not read the digest
   * (`src/testing/InsecureCrypto.ts`, whose `verify` accepts every signature): a signature digest
   * made only to be signed or verified (the BIP 143 sighashes of `tx/signing.ts`) is then not
   * computed, and a constant stands for it; verification still goes through the curve. No real
   * curve sets it (the "cheap hashing where the protocol allows" for the insecure layer).
   */
  readonly signsWithoutDigest?: true
  /** Compressed public key of a valid secret; undefined for an invalid secret. */
  readonly publicKey: (secret: Uint8Array) => Uint8Array | undefined
  readonly isValidSecret: (secret: Uint8Array) => boolean
  readonly isValidPoint: (point: Uint8Array) => boolean
  /** BOLT 8 ECDH: SHA256 of the compressed shared point. */
  readonly ecdh: (secret: Uint8Array, point: Uint8Array) => Uint8Array | undefined
  /**
   * RFC 6979 deterministic, low-S, compact 64-byte signature over a 32-byte digest. Signing
   * uses our own keys: a wrong-length digest or an invalid secret is a caller bug and throws.
   */
  readonly sign: (digest: Uint8Array, secret: Uint8Array) => Uint8Array
  /** Verifies a compact signature; a high-S signature does not verify. */
  readonly verify: (signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array) => boolean
  /** Recoverable signature: 64-byte compact plus a recovery id 0..3 (BOLT 11). Throws like `sign`. */
  readonly signRecoverable: (digest: Uint8Array, secret: Uint8Array) => { readonly signature: Uint8Array; readonly recovery: number }
  /** The signer's key; undefined for a bad signature, recovery id (not 0..3) or digest length. */
  readonly recover: (signature: Uint8Array, recovery: number, digest: Uint8Array) => Uint8Array | undefined
  /** a + b (points); undefined if either is invalid or the sum is infinity. */
  readonly pointAdd: (a: Uint8Array, b: Uint8Array) => Uint8Array | undefined
  /**
   * point + tweak * G (32-byte big-endian tweak, 0 <= tweak < n); undefined if an input is
   * invalid or the sum is infinity. One call where BOLT 3 key derivation would otherwise need
   * `publicKey(tweak)` then `pointAdd` (libsecp256k1's `ec_pubkey_tweak_add`).
   */
  readonly pointTweakAdd: (point: Uint8Array, tweak: Uint8Array) => Uint8Array | undefined
  /** point * scalar (32-byte big-endian scalar, 0 < scalar < n). */
  readonly pointMultiply: (point: Uint8Array, scalar: Uint8Array) => Uint8Array | undefined
  /**
   * point * scalar + tweak * G: exactly `pointTweakAdd(pointMultiply(point, scalar), tweak)`
   * (undefined where that is), in one double multiplication where the implementation has one
   * (BOLT 3's revocation key with one of its two secrets known). Optional: without it,
   * `pointMultiplyTweakAdd` below makes the two calls.
   */
  readonly pointMultiplyTweakAdd?: (point: Uint8Array, scalar: Uint8Array, tweak: Uint8Array) => Uint8Array | undefined
  /** (a + b) mod n for secrets/scalars; undefined if the result is zero or an input is out of range. */
  readonly secretAdd: (a: Uint8Array, b: Uint8Array) => Uint8Array | undefined
  /** (a * b) mod n. */
  readonly secretMultiply: (a: Uint8Array, b: Uint8Array) => Uint8Array | undefined
}

// noble v3 needs its synchronous hashes wired in for RFC 6979 signing.
secp.hashes.sha256 = sha256
secp.hashes.hmacSha256 = (key, message) => hmac(sha256, key, message)

const N = secp.Point.CURVE().n

/** A 32-byte big-endian scalar as a bigint (no range check); undefined for another length. */
export const scalarFromBytes = (bytes: Uint8Array): bigint | undefined => {
  if (bytes.length !== 32) return undefined
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

/** A scalar below 2^256 as 32 big-endian bytes. */
export const scalarToBytes = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  let v = n
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/**
 * `point * scalar + tweak * G` on any implementation: its own `pointMultiplyTweakAdd`, else the
 * two calls it stands for.
 */
export const pointMultiplyTweakAdd = (s: Secp256k1, point: Uint8Array, scalar: Uint8Array, tweak: Uint8Array): Uint8Array | undefined => {
  const combined = s.pointMultiplyTweakAdd
  return combined !== undefined ? combined(point, scalar, tweak) : multiplyThenTweakAdd(s.pointMultiply, s.pointTweakAdd, point, scalar, tweak)
}

/** The two plain calls `pointMultiplyTweakAdd` stands for: their result, or their refusal. */
const multiplyThenTweakAdd = (
  pointMultiply: Secp256k1["pointMultiply"],
  pointTweakAdd: Secp256k1["pointTweakAdd"],
  point: Uint8Array,
  scalar: Uint8Array,
  tweak: Uint8Array
): Uint8Array | undefined => {
  const product = pointMultiply(point, scalar)
  return product === undefined ? undefined : pointTweakAdd(product, tweak)
}

/**
 * A layer's `pointMultiplyTweakAdd` over libsecp256k1's public key recovery
 * (`pointMultiplyTweakAddByRecovery`, native and WASM, with the layer's own scalar product);
 * where the recovery refuses, the layer's own two plain calls decide (the reference, refusals
 * included).
 */
export const pointMultiplyTweakAddWith =
  (
    recover: Secp256k1["recover"],
    secretMultiply: Secp256k1["secretMultiply"],
    pointMultiply: Secp256k1["pointMultiply"],
    pointTweakAdd: Secp256k1["pointTweakAdd"]
  ) =>
  (point: Uint8Array, scalar: Uint8Array, tweak: Uint8Array): Uint8Array | undefined =>
    pointMultiplyTweakAddByRecovery(recover, secretMultiply, point, scalar, tweak) ??
    multiplyThenTweakAdd(pointMultiply, pointTweakAdd, point, scalar, tweak)

/**
 * `point * scalar + tweak * G` through ECDSA public key recovery, for an implementation whose
 * `recover` is libsecp256k1's (one Strauss double multiplication, cheaper than a point
 * multiplication and a tweak-add: ~63 against ~76 us native). Recovery computes
 * Q = (s/r) * R - (m/r) * G for the point R of x-coordinate r and y parity the recovery id. With
 * r = the x-coordinate of `point`, R = -`point` (the other parity), s = scalar * r and
 * m = tweak * r (mod n, the implementation's `secretMultiply`: no bigint here),
 * Q = -(scalar * point) - tweak * G, the negation of the point wanted: its compressed form with
 * the other parity byte. Undefined where a step refuses (an x-coordinate of 0 or not below n, a
 * scalar or tweak of 0 or not below n, a point not on the curve, a sum at infinity) or the
 * inputs have other lengths: the caller then makes the two plain calls, whose result (or
 * refusal) is the reference.
 */
export const pointMultiplyTweakAddByRecovery = (
  recover: Secp256k1["recover"],
  secretMultiply: Secp256k1["secretMultiply"],
  point: Uint8Array,
  scalar: Uint8Array,
  tweak: Uint8Array
): Uint8Array | undefined => {
  if (point.length !== 33 || scalar.length !== 32 || tweak.length !== 32) return undefined
  const prefix = point[0]
  if (prefix !== 2 && prefix !== 3) return undefined
  const r = point.subarray(1)
  const s = secretMultiply(scalar, r)
  const m = s === undefined ? undefined : secretMultiply(tweak, r)
  if (s === undefined || m === undefined || s.length !== 32 || m.length !== 32) return undefined
  const signature = new Uint8Array(64)
  signature.set(r, 0)
  signature.set(s, 32)
  const negated = recover(signature, prefix === 3 ? 0 : 1, m)
  if (negated === undefined || negated.length !== 33) return undefined
  const sum = Uint8Array.from(negated)
  sum[0] = (sum[0] ?? 0) ^ 1
  return sum
}

const parsePoint = (bytes: Uint8Array): secp.Point | undefined => {
  if (bytes.length !== 33) return undefined
  try {
    return secp.Point.fromBytes(bytes)
  } catch {
    return undefined
  }
}

const validScalar = (bytes: Uint8Array): bigint | undefined => {
  const n = scalarFromBytes(bytes)
  return n !== undefined && n > 0n && n < N ? n : undefined
}

/** Portable implementation: `@noble/secp256k1`, pure JavaScript, runs anywhere. */
export const nobleSecp256k1: Secp256k1 = {
  name: "noble",
  publicKey: (secret) => (secp.utils.isValidSecretKey(secret) ? secp.getPublicKey(secret, true) : undefined),
  isValidSecret: (secret) => secret.length === 32 && secp.utils.isValidSecretKey(secret),
  isValidPoint: (point) => parsePoint(point) !== undefined,
  ecdh: (secret, point) => {
    const p = parsePoint(point)
    const k = validScalar(secret)
    if (p === undefined || k === undefined) return undefined
    return sha256(p.multiply(k).toBytes(true))
  },
  sign: (digest, secret) => {
    if (digest.length !== 32) throw new Error("sign: digest must be 32 bytes")
    return secp.sign(digest, secret, { prehash: false, lowS: true, format: "compact" })
  },
  verify: (signature, digest, publicKey) => {
    if (signature.length !== 64 || publicKey.length !== 33 || digest.length !== 32) return false
    try {
      return secp.verify(signature, digest, publicKey, { prehash: false, lowS: true, format: "compact" })
    } catch {
      return false
    }
  },
  signRecoverable: (digest, secret) => {
    if (digest.length !== 32) throw new Error("signRecoverable: digest must be 32 bytes")
    const sig = secp.sign(digest, secret, { prehash: false, lowS: true, format: "recovered" })
    // noble's "recovered" format is recovery byte first, then r || s.
    return { recovery: sig[0] ?? 0, signature: sig.slice(1) }
  },
  recover: (signature, recovery, digest) => {
    if (signature.length !== 64 || digest.length !== 32) return undefined
    if (recovery !== 0 && recovery !== 1 && recovery !== 2 && recovery !== 3) return undefined
    try {
      const sig = new Uint8Array(65)
      sig[0] = recovery
      sig.set(signature, 1)
      return secp.recoverPublicKey(sig, digest, { prehash: false })
    } catch {
      return undefined
    }
  },
  pointAdd: (a, b) => {
    const pa = parsePoint(a)
    const pb = parsePoint(b)
    if (pa === undefined || pb === undefined) return undefined
    const sum = pa.add(pb)
    return sum.is0() ? undefined : sum.toBytes(true)
  },
  pointTweakAdd: (point, tweak) => {
    const p = parsePoint(point)
    const t = scalarFromBytes(tweak)
    if (p === undefined || t === undefined || t >= N) return undefined
    const sum = t === 0n ? p : p.add(secp.Point.BASE.multiply(t))
    return sum.is0() ? undefined : sum.toBytes(true)
  },
  pointMultiply: (point, scalar) => {
    const p = parsePoint(point)
    const k = validScalar(scalar)
    if (p === undefined || k === undefined) return undefined
    return p.multiply(k).toBytes(true)
  },
  pointMultiplyTweakAdd: (point, scalar, tweak) => {
    const p = parsePoint(point)
    const k = validScalar(scalar)
    const t = scalarFromBytes(tweak)
    if (p === undefined || k === undefined || t === undefined || t >= N) return undefined
    const product = p.multiply(k)
    const sum = t === 0n ? product : product.add(secp.Point.BASE.multiply(t))
    return sum.is0() ? undefined : sum.toBytes(true)
  },
  secretAdd: (a, b) => {
    const x = scalarFromBytes(a)
    const y = scalarFromBytes(b)
    if (x === undefined || y === undefined || x >= N || y >= N) return undefined
    const r = (x + y) % N
    return r === 0n ? undefined : scalarToBytes(r)
  },
  secretMultiply: (a, b) => {
    const x = validScalar(a)
    const y = validScalar(b)
    if (x === undefined || y === undefined) return undefined
    return scalarToBytes((x * y) % N)
  }
}
