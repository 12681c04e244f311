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
 * or hashed per check); the entry is a slot of the memo's `ByteSlots` holding a copy of the
 * digest, the signature and the key one after the other (nothing allocated per entry, where one
 * array of the three cost an allocation outside V8's heap per verification), compared on a hit:
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
import { makeByteSlots, makeLru, numberKeyOf } from "../lru.ts"
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
const TRIPLE_LENGTH = KEY_AT + KEY_LENGTH

/** A memo of at most `capacity` (>= 1) verified triples. Throws RangeError otherwise (a configuration bug). */
export const makeVerifiedSignatures = (capacity: number): VerifiedSignatures => {
  /** The digest, signature and key of each triple kept, one after the other in its slot. */
  const slots = makeByteSlots(TRIPLE_LENGTH)
  /** Each entry is the number of its slot, released when the entry leaves. */
  const memo = makeLru<number, number>(capacity, "verified signatures", slots.release)
  return {
    capacity,
    verify: (secp, signature, digest, publicKey) => {
      if (digest.length !== DIGEST_LENGTH || signature.length !== SIGNATURE_LENGTH || publicKey.length !== KEY_LENGTH) return secp.verify(signature, digest, publicKey)
      const key = numberKeyOf(digest)
      const held = memo.get(key)
      if (held !== undefined && slots.has(held, 0, digest) && slots.has(held, SIGNATURE_AT, signature) && slots.has(held, KEY_AT, publicKey)) {
        // Answered once: dropped (see above).
        memo.delete(key)
        return true
      }
      // Found under a number shared with other inputs: counted as a miss.
      if (held !== undefined) memo.mismatch()
      if (!secp.verify(signature, digest, publicKey)) return false
      // The entry under this number, if any, is replaced (its slot released).
      const slot = slots.take()
      slots.write(slot, 0, digest)
      slots.write(slot, SIGNATURE_AT, signature)
      slots.write(slot, KEY_AT, publicKey)
      memo.set(key, slot)
      return true
    },
    size: memo.size,
    stats: memo.stats,
    clear: () => {
      memo.clear()
      slots.clear()
    }
  }
}

/**
 * Entries of the shared memo (about 130 bytes of slot and a list node each): the signatures of a few dozen channels'
 * commitments in flight with up to a few hundred HTLCs between them.
 */
export const SHARED_VERIFIED_SIGNATURES_CAPACITY = 2048

/** The process-wide memo `verifyInput` (tx/signing.ts) uses: shared by the reducer and the in-process signer. */
export const sharedVerifiedSignatures: VerifiedSignatures = makeVerifiedSignatures(SHARED_VERIFIED_SIGNATURES_CAPACITY)
