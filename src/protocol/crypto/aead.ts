/**
 * ChaCha20-Poly1305 (RFC 8439, the AEAD that BOLT 8 mandates) behind one small interface, so
 * the portable implementation here (noble, pure JavaScript) and a fast one
 * (`src/layers/crypto/aead-node.ts`, on Node's own OpenSSL) are interchangeable and pass the
 * same vectors. Protocol code that encrypts takes a `ChaChaPoly` value as a parameter.
 *
 * Conventions: 32-byte key, 12-byte nonce, any associated data; a sealed box is
 * `ciphertext || 16-byte tag`. Implementations must neither modify their inputs (key, nonce,
 * associated data, plaintext) nor keep references to them after returning: callers share
 * nonce tables and reuse scratch buffers.
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js"

/** Length of the Poly1305 authentication tag appended to every ciphertext. */
export const TAG_LENGTH = 16
export const KEY_LENGTH = 32
export const NONCE_LENGTH = 12

export interface ChaChaPoly {
  readonly name: string
  /**
   * A buffer of `length` bytes that the caller will overwrite entirely before use, so an
   * implementation may skip zeroing it (Node can; a 64 KiB zero-fill is a measurable share of
   * a BOLT 8 packet's cost). Used with `encryptInto` to build packets.
   */
  readonly allocate: (length: number) => Uint8Array
  /** Seals `plaintext`: returns a fresh `ciphertext || tag` (plaintext.length + 16 bytes). */
  readonly encrypt: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array) => Uint8Array
  /**
   * Seals `plaintext` into `out` at `offset` (writes plaintext.length + 16 bytes). Lets a
   * caller that frames several boxes into one packet (BOLT 8) avoid an extra copy.
   * `out` must be large enough; that is a caller invariant, not peer input.
   */
  readonly encryptInto: (
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number
  ) => void
  /**
   * Seals `plaintext` into a ciphertext and a separate 16-byte tag. Node's OpenSSL binding
   * returns both as fresh buffers, so this is the zero-copy way to seal there; a caller that
   * can write several chunks to its transport (writev) avoids copying into one packet.
   */
  readonly encryptDetached: (
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array
  ) => { readonly ciphertext: Uint8Array; readonly tag: Uint8Array }
  /**
   * Opens `sealed` (`ciphertext || tag`): the plaintext, or `undefined` when the tag does not
   * authenticate or `sealed` is shorter than a tag. Never throws on any `sealed` bytes.
   */
  readonly decrypt: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array) => Uint8Array | undefined
}

const SLAB_SIZE = 16384
const SLAB_MAX_REQUEST = 2048
let slab = new ArrayBuffer(SLAB_SIZE)
let slabUsed = 0

/**
 * Fresh zeroed bytes for short-lived outputs such as packets about to be written. Requests up to
 * 2 KiB are views carved from a shared 16 KiB `ArrayBuffer`, never handed out twice: creating an
 * off-heap typed array costs about ten times more than a view (measured: ~320 ns vs ~25 ns for
 * 134 bytes), which is a visible share of a small BOLT 8 message. A view keeps its slab alive,
 * so do not use this for data that may be retained for long (decrypted messages are not).
 */
export const allocateShortLived = (length: number): Uint8Array => {
  if (length > SLAB_MAX_REQUEST) return new Uint8Array(length)
  if (slabUsed + length > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, length)
  slabUsed += (length + 7) & ~7
  return out
}

/** Splits a sealed box into views of its ciphertext and tag (no copy). */
export const detach = (sealed: Uint8Array): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array } => ({
  ciphertext: sealed.subarray(0, sealed.length - TAG_LENGTH),
  tag: sealed.subarray(sealed.length - TAG_LENGTH)
})

/** Portable implementation: `@noble/ciphers`, pure JavaScript, runs anywhere. */
export const nobleChaChaPoly: ChaChaPoly = {
  name: "noble",
  allocate: allocateShortLived,
  encrypt: (key, nonce, ad, plaintext) => chacha20poly1305(key, nonce, ad).encrypt(plaintext),
  encryptInto: (key, nonce, ad, plaintext, out, offset) => {
    chacha20poly1305(key, nonce, ad).encrypt(plaintext, out.subarray(offset, offset + plaintext.length + TAG_LENGTH))
  },
  encryptDetached: (key, nonce, ad, plaintext) => detach(chacha20poly1305(key, nonce, ad).encrypt(plaintext)),
  decrypt: (key, nonce, ad, sealed) => {
    if (sealed.length < TAG_LENGTH) return undefined
    try {
      return chacha20poly1305(key, nonce, ad).decrypt(sealed)
    } catch {
      // noble throws on a tag mismatch: that is the "does not authenticate" answer.
      return undefined
    }
  }
}
