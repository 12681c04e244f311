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
 * or hashed per check); the entry holds a copy of the digest, the signature and the key in one
 * array (`packBytes`: ~430 bytes, 129 of them outside the heap, where three small arrays took
 * ~930), compared on a hit:
 * another triple under the same number is a miss and replaces it. Only triples of the channel
 * path's lengths (a 32-byte digest, a 64-byte compact signature, a 33-byte key) are kept, so each
 * part is at a fixed place; others are verified without the memo. Least recently used entries go
 * beyond `capacity`.
 *
 * An entry answers once, then is dropped: on the channel path each signature is checked exactly
 * twice (the reducer, then the signer), and an entry kept until evicted (the capacity serves many
 * channels: a few hundred round trips of one channel) outlived two scavenges and was copied into
 * V8's old generation, ~11 KB per round trip. A triple checked a third time (a restored signer
 * validating its held commitments) is verified again.
 */
import { makeLru, numberKeyOf, packBytes, packedHas } from "../lru.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"

export interface VerifiedSignatures {
  readonly capacity: number
  /** `secp.verify(signature, digest, publicKey)`, answered from the memo when it holds the triple. */
  readonly verify: (secp: Secp256k1, signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array) => boolean
  readonly size: () => number
  readonly stats: () => { readonly hits: number; readonly misses: number }
  readonly clear: () => void
}

/** The lengths of the triples kept: digest, compact signature, compressed key (`SIGNATURE_AT`, `KEY_AT`: where each starts in an entry). */
const DIGEST_LENGTH = 32
const SIGNATURE_LENGTH = 64
const KEY_LENGTH = 33
const SIGNATURE_AT = DIGEST_LENGTH
const KEY_AT = SIGNATURE_AT + SIGNATURE_LENGTH

/** A memo of at most `capacity` (>= 1) verified triples. Throws RangeError otherwise (a configuration bug). */
export const makeVerifiedSignatures = (capacity: number): VerifiedSignatures => {
  /** The digest, signature and key of a triple kept, one after the other (`packBytes`). */
  const memo = makeLru<Uint8Array, number>(capacity, "verified signatures")
  return {
    capacity,
    verify: (secp, signature, digest, publicKey) => {
      if (digest.length !== DIGEST_LENGTH || signature.length !== SIGNATURE_LENGTH || publicKey.length !== KEY_LENGTH) return secp.verify(signature, digest, publicKey)
      const key = numberKeyOf(digest)
      const held = memo.get(key)
      if (held !== undefined && packedHas(held, 0, digest) && packedHas(held, SIGNATURE_AT, signature) && packedHas(held, KEY_AT, publicKey)) {
        // Answered once: dropped (see above).
        memo.delete(key)
        return true
      }
      // Found under a number shared with other inputs: counted as a miss.
      if (held !== undefined) memo.mismatch()
      if (!secp.verify(signature, digest, publicKey)) return false
      memo.set(key, packBytes([digest, signature, publicKey]))
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
