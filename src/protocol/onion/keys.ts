/**
 * BOLT 4 key generation, pseudo-random streams and ephemeral key blinding: the primitives that
 * the Sphinx packet, the return (failure) packets, attribution data and route blinding share.
 *
 * - Key generation (BOLT 4 "Key Generation"): HMAC-SHA256 keyed by the ASCII key type (no
 *   terminating zero) over the 32-byte shared secret.
 * - Pseudo-random byte stream (BOLT 4 "Pseudo Random Byte Stream"): ChaCha20 with a 96-bit zero
 *   nonce over zero bytes. A fixed nonce is safe because every key is used for one stream only.
 * - Shared secret (BOLT 4 "Shared Secret"): SHA256 of the compressed ECDH point, which is what
 *   `Secp256k1.ecdh` returns.
 * - Blinding factor (BOLT 4 "Blinding Ephemeral Onion Keys"): SHA256(ephemeral pubkey || secret).
 */
import { chacha20 } from "@noble/ciphers/chacha.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256Concat, sha256Hash } from "../crypto/hash-node.ts"

/** Every key type the BOLTs use with this derivation. */
export type KeyType = "rho" | "mu" | "um" | "pad" | "ammag" | "ammagext" | "blinded_node_id"

const keyTypeBytes: Record<KeyType, Uint8Array> = {
  rho: new TextEncoder().encode("rho"),
  mu: new TextEncoder().encode("mu"),
  um: new TextEncoder().encode("um"),
  pad: new TextEncoder().encode("pad"),
  ammag: new TextEncoder().encode("ammag"),
  ammagext: new TextEncoder().encode("ammagext"),
  blinded_node_id: new TextEncoder().encode("blinded_node_id")
}

/** An HMAC-SHA256 keyed with one key type, its key blocks already absorbed. */
const keyedHmac = (type: KeyType) => hmac.create(sha256Hash, keyTypeBytes[type])
type KeyedHmac = ReturnType<typeof keyedHmac>
const keyedByType = new Map<KeyType, KeyedHmac>()
const workHmac = (keyed: KeyedHmac) => keyed.clone()
/** Where each derivation is computed: a copy of its type's keyed HMAC, overwritten each time (`_cloneInto`). */
let work: ReturnType<typeof workHmac> | undefined

/**
 * Where every HMAC here is finished before it is copied out. noble's HMAC finishes into a
 * `subarray` of the output array: a fresh 32-byte array lives on the JS heap without an
 * `ArrayBuffer` of its own, and the view gives it one (a backing store off the heap, for every
 * digest). This array got its buffer once; the copy handed out (`slice`) is a plain array on the
 * heap again. Synchronous, never re-entered.
 */
const digestScratch = new Uint8Array(32)

/**
 * HMAC256(key type, secret): BOLT 4 key generation. The key is always one of seven constants:
 * each type's keyed HMAC is made once and copied into one working HMAC per derivation (no key
 * blocks hashed again, no hash objects made); the hashing is noble's. Synchronous, never re-entered.
 */
export const deriveKey = (type: KeyType, secret: Uint8Array): Uint8Array => {
  let keyed = keyedByType.get(type)
  if (keyed === undefined) {
    keyed = keyedHmac(type)
    keyedByType.set(type, keyed)
  }
  const w = work ?? (work = workHmac(keyed))
  keyed._cloneInto(w)
  w.update(secret).digestInto(digestScratch)
  return digestScratch.slice()
}

const ZERO_NONCE = new Uint8Array(12)

/** `length` bytes of ChaCha20 keystream (zero nonce, counter 0). */
export const generateStream = (key: Uint8Array, length: number): Uint8Array =>
  chacha20(key, ZERO_NONCE, new Uint8Array(length))

/** `length` bytes of the keystream of `key` from byte `offset` on (ChaCha20's block counter, then the bytes skipped within the block). */
export const generateStreamFrom = (key: Uint8Array, offset: number, length: number): Uint8Array => {
  const block = Math.floor(offset / 64)
  const skip = offset - block * 64
  return chacha20(key, ZERO_NONCE, new Uint8Array(skip + length), undefined, block).subarray(skip)
}

/** XORs `data` in place with the keystream of `key` (same as encrypting with ChaCha20). */
export const xorStreamInPlace = (key: Uint8Array, data: Uint8Array): Uint8Array =>
  chacha20(key, ZERO_NONCE, data, data)

/** XORs `data` in place with the keystream of `key` from 64-byte block `block` on (a stream XORed a part at a time). */
export const xorStreamInPlaceFrom = (key: Uint8Array, data: Uint8Array, block: number): Uint8Array =>
  chacha20(key, ZERO_NONCE, data, data, block)

/** XORs `source` into `target` in place, starting at `targetOffset`. */
export const xorInto = (target: Uint8Array, source: Uint8Array, targetOffset = 0): void => {
  const n = Math.min(source.length, target.length - targetOffset)
  for (let i = 0; i < n; i++) target[targetOffset + i] = (target[targetOffset + i] ?? 0) ^ (source[i] ?? 0)
}

/** HMAC-SHA256 (finished in `digestScratch`, then copied: see there). */
export const hmacSha256 = (key: Uint8Array, ...message: ReadonlyArray<Uint8Array>): Uint8Array => {
  const h = hmac.create(sha256Hash, key)
  // Several parts: fed one after the other (no concatenated copy, e.g. of a 1,300-byte packet).
  for (let i = 0; i < message.length; i++) {
    const m = message[i]
    if (m !== undefined) h.update(m)
  }
  h.digestInto(digestScratch)
  return digestScratch.slice()
}

/** SHA256(ephemeral public key || shared secret): the per-hop blinding factor of the onion key. */
export const blindingFactor = (ephemeralPublicKey: Uint8Array, sharedSecret: Uint8Array): Uint8Array =>
  sha256Concat(ephemeralPublicKey, sharedSecret)

/** Compares two byte strings in time independent of where they differ (HMAC checks). */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

/** True when every byte is zero: an all-zero `next_hmac` marks the final hop (BOLT 4). */
export const isAllZero = (bytes: Uint8Array): boolean => {
  let acc = 0
  // An index loop: `for...of` makes an iterator object per call.
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i] ?? 0
  return acc === 0
}
