/**
 * INSECURE, TEST-ONLY crypto for large simulations (as LDK's fuzzers do): the `Crypto` shape
 * (`src/services/Crypto.ts`) with a curve whose every operation is a few big-integer additions
 * or multiplications, and signatures that always verify.
 *
 * The "curve" is the additive group of integers modulo the secp256k1 order n with generator 1:
 * a public key is `0x02 || secret` (33 bytes, so every length check holds), ECDH of a secret and
 * a point is the SHA-256 of their product, point addition is addition, tweaks add or multiply. This keeps every
 * algebraic identity the protocol relies on (BOLT 3 key derivation, BOLT 4 onion blinding and
 * shared secrets, BOLT 8 ECDH: both sides compute the same values), so nodes using it interoperate
 * with each other, but discrete logarithms are trivial: anyone can read every secret off its
 * public key. A signature is the signer's public key (32 bytes) and a low-S scalar from the secret
 * (the digest is not read, so the BIP 143 sighashes are not computed for it: `signsWithoutDigest`);
 * `verify` always says yes; `recover` returns the public key in the
 * signature (so BOLT 11 payee recovery still finds the payee). The AEAD is the real one
 * (noble's ChaCha20-Poly1305: BOLT 8 transport costs the same everywhere and the simulation has none).
 *
 * Hashing is not swapped: SHA-256 is called directly where the protocol needs it (payment
 * hashes, txids, shachain, key tweaks, onions), so those stay exact; only signature digests,
 * which nothing but a signature reads, are skipped. Never exported from `src/index.ts`; exported
 * from `effect-lightning/testing` only. Nodes using it cannot talk to any real node.
 */
import { sha256 } from "../protocol/tx/bitcoin/hash.ts"
import { nobleChaChaPoly } from "../protocol/crypto/aead.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import type { CryptoShape } from "../services/Crypto.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** One reused 32-byte buffer and its view: a scalar is read and written through it (no view allocated per call). */
const scratch = new Uint8Array(32)
const scratchView = new DataView(scratch.buffer)

/** 32 big-endian bytes from `offset` as an integer (four 64-bit reads). */
const toScalar = (bytes: Uint8Array, offset = 0): bigint => {
  if (bytes.length < offset + 32) return 0n
  for (let i = 0; i < 32; i++) scratch[i] = bytes[offset + i]!
  const v = scratchView
  return (v.getBigUint64(0) << 192n) | (v.getBigUint64(8) << 128n) | (v.getBigUint64(16) << 64n) | v.getBigUint64(24)
}

/** An integer below 2^256 as 32 big-endian bytes in `scratch` (four 64-bit writes), valid until the next use of it. */
const scratchScalar = (n: bigint): Uint8Array => {
  const v = scratchView
  v.setBigUint64(0, n >> 192n)
  v.setBigUint64(8, BigInt.asUintN(64, n >> 128n))
  v.setBigUint64(16, BigInt.asUintN(64, n >> 64n))
  v.setBigUint64(24, BigInt.asUintN(64, n))
  return scratch
}

/** An integer below 2^256 as 32 big-endian bytes of their own, after a prefix byte if given. */
const fromScalar = (n: bigint, prefix?: number): Uint8Array => {
  const start = prefix === undefined ? 0 : 1
  const out = new Uint8Array(32 + start)
  if (prefix !== undefined) out[0] = prefix
  out.set(scratchScalar(n), start)
  return out
}

/** The order as 32 big-endian bytes: validity is a byte comparison, no integer made. */
const ORDER = fromScalar(N)

/** Whether the 32 bytes at `offset` are an integer in [1, n) (big-endian). */
const inRange = (b: Uint8Array, offset: number): boolean => {
  let any = 0
  let below = false
  for (let i = 0; i < 32; i++) {
    const x = b[offset + i]!
    any |= x
    if (!below) {
      const y = ORDER[i]!
      if (x < y) below = true
      else if (x > y) return false
    }
  }
  return below && any !== 0
}

/** Whether the 32 bytes at `offset` are all zero. */
const isZero = (b: Uint8Array, offset: number): boolean => {
  let any = 0
  for (let i = 0; i < 32; i++) any |= b[offset + i]!
  return any === 0
}

/**
 * (a + b) mod n of the 32 big-endian bytes of `a` at `aOffset` (below n) and of `b` at `bOffset`
 * (any 32 bytes: a tweak is not reduced first), as a point (`0x02 ||`) or a secret; undefined
 * when it is zero. Added and reduced byte by byte, no integer made: the sum is below
 * n + 2^256 < 3n, so n is subtracted at most twice (the carry out of the sum counts as 2^256).
 */
const addMod = (a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, asPoint: boolean): Uint8Array | undefined => {
  const start = asPoint ? 1 : 0
  const out = new Uint8Array(32 + start)
  if (asPoint) out[0] = 2
  let carry = 0
  for (let i = 31; i >= 0; i--) {
    const v = a[aOffset + i]! + b[bOffset + i]! + carry
    out[start + i] = v & 0xff
    carry = v >>> 8
  }
  // Below 2^256 and not in [1, n): zero (refused) or at least n (reduced).
  while (carry === 1 || !inRange(out, start)) {
    if (carry === 0 && isZero(out, start)) return undefined
    let borrow = 0
    for (let i = 31; i >= 0; i--) {
      const v = out[start + i]! - ORDER[i]! - borrow
      borrow = v < 0 ? 1 : 0
      out[start + i] = v + (borrow << 8)
    }
    carry -= borrow
  }
  return out
}

const isSecret = (b: Uint8Array): boolean => b.length === 32 && inRange(b, 0)
const isPoint = (b: Uint8Array): boolean => b.length === 33 && (b[0] === 2 || b[0] === 3) && inRange(b, 1)

const secretOf = (b: Uint8Array): bigint | undefined => (isSecret(b) ? toScalar(b) : undefined)
const pointOf = (b: Uint8Array): bigint | undefined => (isPoint(b) ? toScalar(b, 1) : undefined)

/**
 * `n` reduced modulo the order. Sums and products of values in [1, n) are never negative, so one
 * remainder does (a product of two scalars is 512 bits: one BigInt division, not two).
 */
const mod = (n: bigint): bigint => (n >= 0n ? (n < N ? n : n % N) : ((n % N) + N) % N)

const point = (n: bigint): Uint8Array | undefined => {
  const m = mod(n)
  return m === 0n ? undefined : fromScalar(m, 2)
}

const secret = (n: bigint): Uint8Array | undefined => {
  const m = mod(n)
  return m === 0n ? undefined : fromScalar(m)
}

/** A valid secret's public key: `0x02 || secret` (the secret is its own discrete log), copied. */
const publicKeyOf = (s: Uint8Array): Uint8Array => {
  const pub = new Uint8Array(33)
  pub[0] = 2
  pub.set(s, 1)
  return pub
}

export const insecureSecp256k1: Secp256k1 = {
  name: "insecure (test only)",
  signsWithoutDigest: true,
  publicKey: (s) => (isSecret(s) ? publicKeyOf(s) : undefined),
  isValidSecret: isSecret,
  isValidPoint: isPoint,
  ecdh: (s, p) => {
    const k = secretOf(s)
    const q = pointOf(p)
    const shared = k === undefined || q === undefined ? undefined : point(k * q)
    // BOLT 8 / libsecp256k1: the SHA-256 of the compressed shared point.
    return shared === undefined ? undefined : sha256(shared)
  },
  sign: (_digest, s) => {
    const sig = new Uint8Array(64)
    // r: the signer's public key without its prefix (the secret itself); s: the secret's first
    // 31 bytes under a zero byte (a valid low-S scalar, so DER and compact encoders take it). The
    // digest is not read (`signsWithoutDigest`): the callers that know it pass no sighash.
    if (isSecret(s)) sig.set(s, 0)
    // Copied byte by byte: no subarray view per signature.
    for (let i = 0; i < 31 && i < s.length; i++) sig[33 + i] = s[i]!
    sig[63] = sig[63]! | 1
    return sig
  },
  verify: () => true,
  signRecoverable: (digest, s) => ({ signature: insecureSecp256k1.sign(digest, s), recovery: 0 }),
  recover: (signature) => {
    if (signature.length !== 64 || !inRange(signature, 0)) return undefined
    return publicKeyOf(signature.subarray(0, 32))
  },
  // Sums are added in bytes (`addMod`); products go through BigInt (faster there than 16-bit limbs in JavaScript).
  pointAdd: (a, b) => (isPoint(a) && isPoint(b) ? addMod(a, 1, b, 1, true) : undefined),
  pointTweakAdd: (p, t) => (isPoint(p) && t.length === 32 ? addMod(p, 1, t, 0, true) : undefined),
  pointMultiply: (p, k) => {
    const x = pointOf(p)
    return x === undefined || k.length !== 32 ? undefined : point(x * toScalar(k))
  },
  // `pointTweakAdd(pointMultiply(p, k), t)` without the product's bytes in between.
  pointMultiplyTweakAdd: (p, k, t) => {
    const x = pointOf(p)
    if (x === undefined || k.length !== 32) return undefined
    const product = mod(x * toScalar(k))
    return product === 0n || t.length !== 32 ? undefined : addMod(scratchScalar(product), 0, t, 0, true)
  },
  secretAdd: (a, b) => (isSecret(a) && b.length === 32 ? addMod(a, 0, b, 0, false) : undefined),
  secretMultiply: (a, b) => {
    const x = secretOf(a)
    return x === undefined || b.length !== 32 ? undefined : secret(x * toScalar(b))
  }
}

/** The insecure pair as a `Crypto` value: `Effect.provideService(Crypto, insecureCrypto)` (tests and simulations only). */
export const insecureCrypto: CryptoShape = { secp: insecureSecp256k1, aead: nobleChaChaPoly }
