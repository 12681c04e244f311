/**
 * The hash functions Bitcoin scripts and transactions use. SHA-256 comes from the platform's
 * module (`crypto/hash-node.ts`: noble's reused hasher for inputs below 512 bytes, which is
 * nearly every call here (keys, scripts, BIP 143 preimages, transactions), Node's OpenSSL for
 * longer ones; noble throughout in a browser, whose build swaps the module), so every caller
 * gets the faster of the two at each size with the same bytes. RIPEMD-160 (HASH160, the HTLC
 * scripts' payment hashes) hashes 32-byte digests and payment hashes: one reused noble hasher.
 */
import { ripemd160 } from "@noble/hashes/legacy.js"
import { sha256, sha256Into } from "../../crypto/hash-node.ts"

export { sha256, sha256Concat, sha256Into } from "../../crypto/hash-node.ts"
/**
 * SHA256(a || b) into the caller's array, for BOLT 3 tweaks and memo keys (two points or a tag
 * and a secret: 65-66 bytes, where the platform's module runs noble too): noble's reused hasher on
 * every platform.
 */
export { sha256ConcatInto } from "../../crypto/hash-noble.ts"

/** The inner hash of `hash256` / `hash256Into`: hashed again at once, never handed out (synchronous, never re-entered). */
const innerHash = new Uint8Array(32)

/** SHA256(SHA256(x)): txids, BIP 143 intermediate hashes, legacy sighash (the outer hash, of 32 bytes, in JavaScript). */
export const hash256 = (data: Uint8Array): Uint8Array => {
  sha256Into(data, innerHash, 0)
  return sha256(innerHash)
}
/** SHA256(SHA256(x)) written into `out` at `at` (BIP 143's intermediate hashes go straight into the preimage). */
export const hash256Into = (data: Uint8Array, out: Uint8Array, at: number): void => {
  sha256Into(data, innerHash, 0)
  sha256Into(innerHash, out, at)
}

/** RIPEMD-160 on one reused noble hasher, reset from a fresh one's state before each hash. */
const ripemdInitial = ripemd160.create()
const ripemdHasher = ripemd160.create()

export const ripemd = (data: Uint8Array): Uint8Array => {
  ripemdInitial._cloneInto(ripemdHasher)
  ripemdHasher.update(data)
  return ripemdHasher.digest()
}
/** RIPEMD160(SHA256(x)): P2WPKH / P2PKH key hashes, BOLT 3 revocation key hash. */
export const hash160 = (data: Uint8Array): Uint8Array => ripemd(sha256(data))
