/**
 * The hash functions Bitcoin scripts and transactions use, delegated to `@noble/hashes`.
 *
 * SHA-256 runs on one reused noble hasher: `sha256(x)` would construct a hasher (a 64-byte block
 * buffer, a DataView, the state) and view a fresh output array through a DataView (which moves a
 * small array's bytes off the JS heap), together about twice the cost of hashing the 32-100
 * bytes most calls here hash (keys, scripts, secrets; ~120 hashes per HTLC round trip). Before
 * each hash the initial state is copied in with noble's own `_cloneInto`; the hashing is noble's,
 * and so is the digest: `digest()` writes it into the hasher's own block buffer through the
 * DataView the hasher keeps (`digestInto` an array of ours would make a DataView per call) and
 * returns a copy, the fresh array each call returns. Synchronous and never re-entered (no
 * callback runs in between), so one hasher serves every call. RIPEMD-160 (HASH160, the HTLC
 * scripts' payment hashes) runs on a reused hasher too.
 */
import { ripemd160 } from "@noble/hashes/legacy.js"
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"

const initial = nobleSha256.create()
const hasher = nobleSha256.create()

/** SHA256(x), a fresh array (noble's `digest()`: the hasher is reset before its next use). */
export const sha256 = (data: Uint8Array): Uint8Array => {
  initial._cloneInto(hasher)
  hasher.update(data)
  return hasher.digest()
}
/**
 * SHA256(a || b) without joining the two: each part goes into the hasher's block buffer as it
 * is (one input of more than a block would be viewed through a DataView of its own).
 */
export const sha256Concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  initial._cloneInto(hasher)
  hasher.update(a)
  hasher.update(b)
  return hasher.digest()
}
/** SHA256(SHA256(x)): txids, BIP 143 intermediate hashes, legacy sighash. */
export const hash256 = (data: Uint8Array): Uint8Array => sha256(sha256(data))
/** SHA256(SHA256(x)) written into `out` at `at` (BIP 143's intermediate hashes go straight into the preimage). */
export const hash256Into = (data: Uint8Array, out: Uint8Array, at: number): void => {
  out.set(sha256(sha256(data)), at)
}

/** RIPEMD-160 the same way: one reused noble hasher, reset from a fresh one's state before each hash. */
const ripemdInitial = ripemd160.create()
const ripemdHasher = ripemd160.create()

export const ripemd = (data: Uint8Array): Uint8Array => {
  ripemdInitial._cloneInto(ripemdHasher)
  ripemdHasher.update(data)
  return ripemdHasher.digest()
}
/** RIPEMD160(SHA256(x)): P2WPKH / P2PKH key hashes, BOLT 3 revocation key hash. */
export const hash160 = (data: Uint8Array): Uint8Array => ripemd(sha256(data))
