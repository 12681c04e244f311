/**
 * The Noise symmetric-state primitives BOLT 8 uses ("Handshake State", "Key Rotation"): the
 * two-output HKDF, the running handshake hash, and the 96-bit nonce encoding. Shared by the
 * handshake and the transport cipher.
 */
import { hkdf } from "@noble/hashes/hkdf.js"
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import { NONCE_LENGTH } from "../crypto/aead.ts"
import { sha256, sha256Concat } from "../crypto/hash-node.ts"

/** `HKDF(salt, ikm)` with an empty info, split into its two 32-byte halves (RFC 5869, BOLT 8). */
export const hkdf2 = (salt: Uint8Array, ikm: Uint8Array): readonly [Uint8Array, Uint8Array] => {
  const out = hkdf(nobleSha256, ikm, salt, undefined, 64)
  return [out.subarray(0, 32), out.subarray(32, 64)]
}

/** `h = SHA-256(h || data)`: the platform's SHA-256 (`crypto/hash-node.ts`), no hasher made per call. */
export const mixHash = (h: Uint8Array, data: Uint8Array): Uint8Array => sha256Concat(h, data)

/**
 * The ChaCha20-Poly1305 nonce for counter `n`: 32 zero bits then `n` as a little-endian 64-bit
 * value (the Noise convention, not BOLT's usual big-endian). BOLT 8 rotates keys at n = 1000,
 * so `n` always fits in a few bytes; it is written as a safe integer anyway.
 */
export const encodeNonce = (n: number): Uint8Array => {
  const nonce = new Uint8Array(NONCE_LENGTH)
  let v = n
  for (let i = 4; i < NONCE_LENGTH && v > 0; i++) {
    nonce[i] = v & 0xff
    v = Math.floor(v / 256)
  }
  return nonce
}

export const EMPTY = new Uint8Array(0)

/** `Noise_XK_secp256k1_ChaChaPoly_SHA256`, hashed into the initial state. */
export const PROTOCOL_NAME = "Noise_XK_secp256k1_ChaChaPoly_SHA256"
export const PROLOGUE = "lightning"

const ascii = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

/** `ck = SHA-256(protocolName)`: the chaining key both sides start from. */
export const INITIAL_CK: Uint8Array = sha256(ascii(PROTOCOL_NAME))
/** `h = SHA-256(ck || prologue)`: the handshake hash before the responder's static key is mixed in. */
export const INITIAL_H: Uint8Array = mixHash(INITIAL_CK, ascii(PROLOGUE))
