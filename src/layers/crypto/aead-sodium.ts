/**
 * ChaCha20-Poly1305 (RFC 8439, IETF variant) from libsodium compiled to WebAssembly
 * (`libsodium-wrappers`, maintained by libsodium's author). Its per-call cost is far below
 * OpenSSL's through `node:crypto` (about 1 us against 3-5 us), which decides short inputs:
 * BOLT 8 seals a 2-byte length before every message. On large inputs OpenSSL is faster, so
 * `nodeChaChaPoly` (aead-node.ts) routes by size. It runs anywhere WebAssembly does.
 *
 * Loading is lazy: importing this module loads no WebAssembly (no top-level await, so the
 * package can also be `require`d). libsodium instantiates its WebAssembly asynchronously; the
 * first call starts that (`loadSodium`), and until it is done calls are served by the noble
 * implementation, which gives the same bytes. `await loadSodium()` first to be sure every call
 * goes to libsodium (tests do).
 */
import type Sodium from "libsodium-wrappers"
import { allocateShortLived, detach, nobleChaChaPoly, TAG_LENGTH, type ChaChaPoly } from "../../protocol/crypto/aead.ts"

let sodium: typeof Sodium | undefined
let loading: Promise<boolean> | undefined

/**
 * Loads libsodium once (later calls share the same promise). True when it is ready, false when
 * it cannot load here (no WebAssembly): then every call keeps going to noble.
 */
export const loadSodium = (): Promise<boolean> => {
  loading ??= import("libsodium-wrappers").then(
    async (m) => {
      await m.default.ready
      sodium = m.default
      return true
    },
    () => false
  )
  return loading
}

/** Whether libsodium has finished loading (calls go to it from then on). */
export const isSodiumLoaded = (): boolean => sodium !== undefined

/** libsodium once loaded; until then undefined, and the first ask starts the load. */
const ready = (): typeof Sodium | undefined => {
  if (sodium === undefined && loading === undefined) void loadSodium()
  return sodium
}

const seal = (s: typeof Sodium, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array =>
  s.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad.length === 0 ? null : ad, null, nonce, key)

export const sodiumChaChaPoly: ChaChaPoly = {
  name: "libsodium",
  allocate: allocateShortLived,
  encrypt: (key, nonce, ad, plaintext) => {
    const s = ready()
    return s === undefined ? nobleChaChaPoly.encrypt(key, nonce, ad, plaintext) : seal(s, key, nonce, ad, plaintext)
  },
  encryptInto: (key, nonce, ad, plaintext, out, offset) => {
    const s = ready()
    if (s === undefined) nobleChaChaPoly.encryptInto(key, nonce, ad, plaintext, out, offset)
    else out.set(seal(s, key, nonce, ad, plaintext), offset)
  },
  encryptDetached: (key, nonce, ad, plaintext) => {
    const s = ready()
    return s === undefined ? nobleChaChaPoly.encryptDetached(key, nonce, ad, plaintext) : detach(seal(s, key, nonce, ad, plaintext))
  },
  decrypt: (key, nonce, ad, sealed) => {
    const s = ready()
    if (s === undefined) return nobleChaChaPoly.decrypt(key, nonce, ad, sealed)
    if (sealed.length < TAG_LENGTH) return undefined
    try {
      return s.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, ad.length === 0 ? null : ad, nonce, key)
    } catch {
      // libsodium throws when the tag does not authenticate: that is the "undefined" answer.
      return undefined
    }
  }
}
