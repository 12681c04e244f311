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
 * public key. A signature is the signer's public key (32 bytes) and a low-S scalar from the digest;
 * `verify` always says yes; `recover` returns the public key in the
 * signature (so BOLT 11 payee recovery still finds the payee). The AEAD is the real one
 * (noble's ChaCha20-Poly1305: BOLT 8 transport costs the same everywhere and the simulation has none).
 *
 * Hashing is not swapped: SHA-256 is called directly where the protocol needs it (payment
 * hashes, txids, shachain), so those stay exact. Never exported from `src/index.ts`; exported
 * from `effect-lightning/testing` only. Nodes using it cannot talk to any real node.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { nobleChaChaPoly } from "../protocol/crypto/aead.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import type { CryptoShape } from "../services/Crypto.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** 32 big-endian bytes from `offset` as an integer (four 64-bit reads: far cheaper than a shift per byte or a hex string). */
const toScalar = (bytes: Uint8Array, offset = 0): bigint => {
  if (bytes.length < offset + 32) return 0n
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 32)
  return (v.getBigUint64(0) << 192n) | (v.getBigUint64(8) << 128n) | (v.getBigUint64(16) << 64n) | v.getBigUint64(24)
}

/** A lowercase hex digit's value (`toString(16)` writes only those). */
const nibble = (c: number): number => (c <= 57 ? c - 48 : c - 87)

/** An integer below 2^256 as 32 big-endian bytes, after a prefix byte if given. */
const fromScalar = (n: bigint, prefix?: number): Uint8Array => {
  const start = prefix === undefined ? 0 : 1
  const out = new Uint8Array(32 + start)
  if (prefix !== undefined) out[0] = prefix
  const hex = n.toString(16).padStart(64, "0")
  for (let i = 0; i < 32; i++) out[start + i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1))
  return out
}

const secretOf = (b: Uint8Array): bigint | undefined => {
  if (b.length !== 32) return undefined
  const n = toScalar(b)
  return n > 0n && n < N ? n : undefined
}

const pointOf = (b: Uint8Array): bigint | undefined => {
  if (b.length !== 33 || (b[0] !== 2 && b[0] !== 3)) return undefined
  const n = toScalar(b, 1)
  return n > 0n && n < N ? n : undefined
}

/** `n` reduced modulo the order (sums and products of values in [1, n) are never negative). */
const mod = (n: bigint): bigint => (n >= 0n && n < N ? n : ((n % N) + N) % N)

const point = (n: bigint): Uint8Array | undefined => {
  const m = mod(n)
  return m === 0n ? undefined : fromScalar(m, 2)
}

const secret = (n: bigint): Uint8Array | undefined => {
  const m = mod(n)
  return m === 0n ? undefined : fromScalar(m)
}

export const insecureSecp256k1: Secp256k1 = {
  name: "insecure (test only)",
  publicKey: (s) => {
    const k = secretOf(s)
    return k === undefined ? undefined : point(k)
  },
  isValidSecret: (s) => secretOf(s) !== undefined,
  isValidPoint: (p) => pointOf(p) !== undefined,
  ecdh: (s, p) => {
    const k = secretOf(s)
    const q = pointOf(p)
    const shared = k === undefined || q === undefined ? undefined : point(k * q)
    // BOLT 8 / libsecp256k1: the SHA-256 of the compressed shared point.
    return shared === undefined ? undefined : sha256(shared)
  },
  sign: (digest, s) => {
    const sig = new Uint8Array(64)
    const pub = insecureSecp256k1.publicKey(s)
    if (pub !== undefined) sig.set(pub.subarray(1), 0)
    // s: the digest's first 31 bytes under a zero byte (a valid low-S scalar, so DER and
    // compact encoders take it).
    sig.set(digest.subarray(0, 31), 33)
    sig[63] = sig[63]! | 1
    return sig
  },
  verify: () => true,
  signRecoverable: (digest, s) => ({ signature: insecureSecp256k1.sign(digest, s), recovery: 0 }),
  recover: (signature) => {
    if (signature.length !== 64) return undefined
    const pub = new Uint8Array(33)
    pub[0] = 2
    pub.set(signature.subarray(0, 32), 1)
    return pointOf(pub) === undefined ? undefined : pub
  },
  pointAdd: (a, b) => {
    const x = pointOf(a)
    const y = pointOf(b)
    return x === undefined || y === undefined ? undefined : point(x + y)
  },
  pointTweakAdd: (p, t) => {
    const x = pointOf(p)
    return x === undefined || t.length !== 32 ? undefined : point(x + toScalar(t))
  },
  pointMultiply: (p, k) => {
    const x = pointOf(p)
    return x === undefined || k.length !== 32 ? undefined : point(x * toScalar(k))
  },
  secretAdd: (a, b) => {
    const x = secretOf(a)
    return x === undefined || b.length !== 32 ? undefined : secret(x + toScalar(b))
  },
  secretMultiply: (a, b) => {
    const x = secretOf(a)
    return x === undefined || b.length !== 32 ? undefined : secret(x * toScalar(b))
  }
}

/** The insecure pair as a `Crypto` value: `Effect.provideService(Crypto, insecureCrypto)` (tests and simulations only). */
export const insecureCrypto: CryptoShape = { secp: insecureSecp256k1, aead: nobleChaChaPoly }
