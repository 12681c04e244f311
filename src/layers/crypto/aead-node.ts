/**
 * Fast `ChaChaPoly` on Node, behind the same interface as the portable noble implementation
 * (`src/protocol/crypto/aead.ts`). It lives in `layers/` because it needs `node:crypto`. Every
 * implementation runs the same BOLT 8 vectors and is checked against the others (one seals,
 * another opens) by property tests (test/layers/crypto/aead.test.ts, test/protocol/noise/).
 *
 * Speed notes (measured with `bench/noise.bench.ts`, CPU time): OpenSSL's ChaCha20-Poly1305 is
 * about ten times faster than JavaScript on large inputs (~1.3 GB/s per direction at 64 KiB
 * against ~0.17 GB/s), but each call costs a fixed ~3-4 us (a cipher context is created per
 * nonce; Node has no re-keying API), which dominates short inputs: a BOLT 8 length prefix is 2
 * bytes, so short inputs go to libsodium (`aead-sodium.ts`). Outputs are plain `Uint8Array` views, not
 * `Buffer`s (whose `slice` shares memory), and are not copied.
 */
import { createCipheriv, createDecipheriv } from "node:crypto"
import { allocateShortLived, TAG_LENGTH, type ChaChaPoly } from "../../protocol/crypto/aead.ts"
import { sodiumChaChaPoly } from "./aead-sodium.ts"

const ALGORITHM = "chacha20-poly1305"
const OPTIONS = { authTagLength: TAG_LENGTH } as const

const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

/**
 * Large buffers come uninitialised from Node (no zero-fill; the caller overwrites them
 * entirely), and never from Node's shared pool, so no other data shares their memory. Small
 * ones are cheap views from `allocateShortLived`.
 */
const allocate = (length: number): Uint8Array =>
  length >= 4096 ? view(Buffer.allocUnsafeSlow(length)) : allocateShortLived(length)

const encryptInto = (
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number
): void => {
  const cipher = createCipheriv(ALGORITHM, key, nonce, OPTIONS)
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length })
  const body = cipher.update(plaintext)
  out.set(body, offset)
  // final() emits nothing for a stream cipher; it computes the tag.
  cipher.final()
  out.set(cipher.getAuthTag(), offset + plaintext.length)
}

/** Node's built-in ChaCha20-Poly1305 (OpenSSL) for every input size. */
export const opensslChaChaPoly: ChaChaPoly = {
  name: "openssl",
  allocate,
  encrypt: (key, nonce, ad, plaintext) => {
    const out = allocate(plaintext.length + TAG_LENGTH)
    encryptInto(key, nonce, ad, plaintext, out, 0)
    return out
  },
  encryptInto,
  encryptDetached: (key, nonce, ad, plaintext) => {
    const cipher = createCipheriv(ALGORITHM, key, nonce, OPTIONS)
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length })
    const ciphertext = view(cipher.update(plaintext))
    cipher.final()
    return { ciphertext, tag: view(cipher.getAuthTag()) }
  },
  decrypt: (key, nonce, ad, sealed) => {
    if (sealed.length < TAG_LENGTH) return undefined
    const split = sealed.length - TAG_LENGTH
    try {
      const decipher = createDecipheriv(ALGORITHM, key, nonce, OPTIONS)
      decipher.setAuthTag(sealed.subarray(split))
      if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: split })
      const plaintext = decipher.update(sealed.subarray(0, split))
      decipher.final() // throws when the tag does not authenticate
      return view(plaintext)
    } catch {
      return undefined
    }
  }
}

/**
 * Inputs up to this many bytes go to libsodium, larger ones to OpenSSL: where OpenSSL's fixed
 * per-call cost stops dominating (measured with bench/noise.bench.ts on this project's machine).
 */
export const SHORT_INPUT_LIMIT = 2048

const short = (plaintextLength: number, ad: Uint8Array): boolean => plaintextLength + ad.length <= SHORT_INPUT_LIMIT

/**
 * The fast `ChaChaPoly` on Node: libsodium (WebAssembly) for short inputs such as BOLT 8
 * length prefixes and small messages, OpenSSL for large ones. Both are RFC 8439 and
 * byte-identical; each also runs every vector on its own.
 */
export const nodeChaChaPoly: ChaChaPoly = {
  name: "node (libsodium + openssl)",
  allocate,
  encrypt: (key, nonce, ad, plaintext) =>
    (short(plaintext.length, ad) ? sodiumChaChaPoly : opensslChaChaPoly).encrypt(key, nonce, ad, plaintext),
  encryptInto: (key, nonce, ad, plaintext, out, offset) =>
    (short(plaintext.length, ad) ? sodiumChaChaPoly : opensslChaChaPoly).encryptInto(key, nonce, ad, plaintext, out, offset),
  encryptDetached: (key, nonce, ad, plaintext) =>
    (short(plaintext.length, ad) ? sodiumChaChaPoly : opensslChaChaPoly).encryptDetached(key, nonce, ad, plaintext),
  decrypt: (key, nonce, ad, sealed) =>
    (short(sealed.length - TAG_LENGTH, ad) ? sodiumChaChaPoly : opensslChaChaPoly).decrypt(key, nonce, ad, sealed)
}
