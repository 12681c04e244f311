/**
 * A bounded memo of ECDSA verifications that succeeded: (digest, signature, public key) triples
 * `secp.verify` accepted. Verification is a pure function of the three, so a hit answers exactly
 * what verifying again would. The channel path verifies most signatures twice: the reducer checks
 * a `commitment_signed` (BOLT 2: the commitment signature and one per HTLC transaction), then the
 * signer validates the same holder commitment before revoking the previous one; through one memo
 * the second check of each signature is a lookup.
 *
 * Only successes are kept (a failure is an error path, and caching it would let a bad signature
 * occupy the memo). Keyed by the digest (`bytesKey`: one character per byte, cheaper to make and
 * hash than hex); the entry holds copies of the signature and key (two arrays: a compact
 * signature's 64 bytes and a key's 33 stay on the JS heap, where one array of both would not),
 * compared on a hit. Least recently used entries go beyond `capacity`.
 */
import { equalBytes } from "../bytes.ts"
import { bytesKey, makeLru } from "../lru.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"

export interface VerifiedSignatures {
  readonly capacity: number
  /** `secp.verify(signature, digest, publicKey)`, answered from the memo when it holds the triple. */
  readonly verify: (secp: Secp256k1, signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array) => boolean
  readonly size: () => number
  readonly stats: () => { readonly hits: number; readonly misses: number }
  readonly clear: () => void
}

interface Entry {
  readonly signature: Uint8Array
  readonly publicKey: Uint8Array
}

/** A memo of at most `capacity` (>= 1) verified triples. Throws RangeError otherwise (a configuration bug). */
export const makeVerifiedSignatures = (capacity: number): VerifiedSignatures => {
  const memo = makeLru<Entry>(capacity, "verified signatures")
  return {
    capacity,
    verify: (secp, signature, digest, publicKey) => {
      const key = bytesKey(digest)
      const held = memo.get(key)
      if (held !== undefined && equalBytes(held.signature, signature) && equalBytes(held.publicKey, publicKey)) return true
      if (!secp.verify(signature, digest, publicKey)) return false
      memo.set(key, { signature: Uint8Array.from(signature), publicKey: Uint8Array.from(publicKey) })
      return true
    },
    size: memo.size,
    stats: memo.stats,
    clear: memo.clear
  }
}

/**
 * Entries of the shared memo (about 250 bytes each): the signatures of a few dozen channels'
 * commitments in flight with up to a few hundred HTLCs between them.
 */
export const SHARED_VERIFIED_SIGNATURES_CAPACITY = 2048

/** The process-wide memo `verifyInput` (tx/signing.ts) uses: shared by the reducer and the in-process signer. */
export const sharedVerifiedSignatures: VerifiedSignatures = makeVerifiedSignatures(SHARED_VERIFIED_SIGNATURES_CAPACITY)
