/**
 * ChaCha20-Poly1305 (RFC 8439, IETF variant) from libsodium compiled to WebAssembly
 * (`libsodium-wrappers`, maintained by libsodium's author). Its per-call cost is far below
 * OpenSSL's through `node:crypto` (about 1 us against 3-5 us), which decides short inputs:
 * BOLT 8 seals a 2-byte length before every message. On large inputs OpenSSL is faster, so
 * `nodeChaChaPoly` (aead-node.ts) routes by size. It runs anywhere WebAssembly does.
 *
 * libsodium must finish loading its WebAssembly before the first call: this module waits for
 * it at load time (top-level await), so importing it is enough.
 */
import sodium from "libsodium-wrappers"
import { allocateShortLived, detach, TAG_LENGTH, type ChaChaPoly } from "../../protocol/crypto/aead.ts"

await sodium.ready

const seal = (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array =>
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad.length === 0 ? null : ad, null, nonce, key)

export const sodiumChaChaPoly: ChaChaPoly = {
  name: "libsodium",
  allocate: allocateShortLived,
  encrypt: seal,
  encryptInto: (key, nonce, ad, plaintext, out, offset) => out.set(seal(key, nonce, ad, plaintext), offset),
  encryptDetached: (key, nonce, ad, plaintext) => detach(seal(key, nonce, ad, plaintext)),
  decrypt: (key, nonce, ad, sealed) => {
    if (sealed.length < TAG_LENGTH) return undefined
    try {
      return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, ad.length === 0 ? null : ad, nonce, key)
    } catch {
      // libsodium throws when the tag does not authenticate: that is the "undefined" answer.
      return undefined
    }
  }
}
