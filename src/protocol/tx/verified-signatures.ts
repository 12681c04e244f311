/**
 * A bounded memo of ECDSA verifications that succeeded: (digest, signature, public key) triples
 * `secp.verify` accepted. Verification is a pure function of the three, so a hit answers exactly
 * what verifying again would. The channel path verifies most signatures twice: the reducer checks
 * a `commitment_signed` (BOLT 2: the commitment signature and one per HTLC transaction), then the
 * signer validates the same holder commitment before revoking the previous one; through one memo
 * the second check of each signature is a lookup.
 *
 * Only successes are kept (a failure is an error path, and caching it would let a bad signature
 * occupy the memo). Keyed by 30 bits of the digest as a number (`numberKeyOf`: no string made
 * or hashed per check); the entry holds copies of the digest, the signature and the key (arrays of
 * at most 64 bytes stay on the JS heap, where one array of all three would not), compared on a
 * hit: another triple under the same number is a miss and replaces it. Least recently used
 * entries go beyond `capacity`.
 *
 * An entry answers once, then is dropped: on the channel path each signature is checked exactly
 * twice (the reducer, then the signer), and an entry kept until evicted (the capacity serves many
 * channels: a few hundred round trips of one channel) outlived two scavenges and was copied into
 * V8's old generation, ~11 KB per round trip. A triple checked a third time (a restored signer
 * validating its held commitments) is verified again.
 */
import { equalBytes } from "../bytes.ts"
import { makeLru, numberKeyOf } from "../lru.ts"
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
  readonly digest: Uint8Array
  readonly signature: Uint8Array
  readonly publicKey: Uint8Array
}

/** A memo of at most `capacity` (>= 1) verified triples. Throws RangeError otherwise (a configuration bug). */
export const makeVerifiedSignatures = (capacity: number): VerifiedSignatures => {
  const memo = makeLru<Entry, number>(capacity, "verified signatures")
  return {
    capacity,
    verify: (secp, signature, digest, publicKey) => {
      const key = numberKeyOf(digest)
      const held = memo.get(key)
      if (held !== undefined && equalBytes(held.digest, digest) && equalBytes(held.signature, signature) && equalBytes(held.publicKey, publicKey)) {
        // Answered once: dropped (see above).
        memo.delete(key)
        return true
      }
      // Found under a number shared with other inputs: counted as a miss.
      if (held !== undefined) memo.mismatch()
      if (!secp.verify(signature, digest, publicKey)) return false
      // Copies by the typed-array constructor (about half the cost of `Uint8Array.from`, which iterates).
      memo.set(key, { digest: new Uint8Array(digest), signature: new Uint8Array(signature), publicKey: new Uint8Array(publicKey) })
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
