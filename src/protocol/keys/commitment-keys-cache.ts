/**
 * A bounded memo of `deriveCommitmentKeys` (BOLT 3 "Key Derivation"). Deriving one commitment's
 * keys (the revocation key and three tweaked keys: two point multiplications and four
 * additions) costs more than building and signing the transaction, and every commitment's keys
 * are needed several times: the channel builds our commitment and theirs, the signer rebuilds
 * each to sign or verify it, and again for its HTLC transactions. Through one cache they are
 * derived once.
 *
 * The memo is of a pure function of public data: an entry is keyed by every input the
 * derivation reads (the owner's delayed-payment and HTLC basepoints, the counterparty's
 * revocation, HTLC and payment basepoints, and the per-commitment point), so a hit returns
 * exactly what deriving again would, whichever channel asks, and no secret is kept (the
 * in-process signer may fill an entry through `deriveWith`, computing the same public keys with
 * its secrets; a point array asked again is recognised by comparing the inputs' bytes with a
 * copy of those its key was made of, without making the key again). Only
 * successes are kept (a failure is cheap to find again and says nothing worth keeping). Entries
 * are evicted least-recently-used beyond `capacity`, so memory stays bounded however many
 * channels share a cache.
 *
 * `sharedCommitmentKeysCache` is the process-wide instance the builders (`tx/view.ts`) and the
 * in-process signer use by default, which is what lets a commitment built by the channel be
 * signed without deriving its keys again. Its only observable effect is speed.
 */
import { Result } from "effect"
import { equalBytes, toHex } from "../bytes.ts"
import { bytesKey, makeLru, memoizeResult } from "../lru.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { deriveCommitmentKeys, type ChannelBasepoints, type CommitmentKeys } from "./commitment-keys.ts"
import type { KeyDerivationError } from "./derivation.ts"
import type { PublicKey } from "./keys.ts"

export interface CommitmentKeysCache {
  /** The most entries kept. */
  readonly capacity: number
  /** `Lru.resize`: a simulation running many nodes in one process sizes the shared memo for its run. */
  readonly resize: (capacity: number) => void
  /** `deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)`, from the cache when it holds them. */
  readonly derive: (
    secp: Secp256k1,
    owner: ChannelBasepoints,
    counterparty: ChannelBasepoints,
    perCommitmentPoint: PublicKey
  ) => Result.Result<CommitmentKeys, KeyDerivationError>
  /**
   * The same entry, computed on a miss by `compute`, which must give exactly what
   * `deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)` gives (a signer
   * deriving with its secrets: `deriveCounterpartyCommitmentKeys`).
   */
  readonly deriveWith: (
    owner: ChannelBasepoints,
    counterparty: ChannelBasepoints,
    perCommitmentPoint: PublicKey,
    compute: () => Result.Result<CommitmentKeys, KeyDerivationError>
  ) => Result.Result<CommitmentKeys, KeyDerivationError>
  /** Entries held now (at most `capacity`). */
  readonly size: () => number
  /** Lookups answered from the cache and lookups that derived, since creation or `clear`. */
  readonly stats: () => { readonly hits: number; readonly misses: number }
  /** Drops every entry and resets the counts. */
  readonly clear: () => void
}

const KEY_LENGTH = 33
/** The key's bytes, reused by every call (filled and read synchronously). */
const keyBytes = new Uint8Array(6 * KEY_LENGTH)

/**
 * Writes every input `deriveCommitmentKeys` reads into `keyBytes`: the six 33-byte keys back to
 * back (point first). False when one has another length (never a valid point).
 */
const fillKeyBytes = (owner: ChannelBasepoints, counterparty: ChannelBasepoints, point: PublicKey): boolean => {
  const fields = [
    point,
    owner.delayedPaymentBasepoint,
    owner.htlcBasepoint,
    counterparty.revocationBasepoint,
    counterparty.htlcBasepoint,
    counterparty.paymentBasepoint
  ]
  let at = 0
  for (const field of fields) {
    if (field.length !== KEY_LENGTH) return false
    keyBytes.set(field, at)
    at += KEY_LENGTH
  }
  return true
}

/**
 * Every input `deriveCommitmentKeys` reads, as one string: `keyBytes` one character per byte
 * (`bytesKey`, 198 characters) once filled; hex fields joined with ":" for keys of another
 * length (never a valid point): that form has an odd length, so the two never meet.
 */
const hexKeyOf = (owner: ChannelBasepoints, counterparty: ChannelBasepoints, point: PublicKey): string =>
  [point, owner.delayedPaymentBasepoint, owner.htlcBasepoint, counterparty.revocationBasepoint, counterparty.htlcBasepoint, counterparty.paymentBasepoint]
    .map(toHex)
    .join(":")

/** Memo keys made per point array, with a copy of the bytes each was made of: at most this many per array. */
const INDEXED_PER_POINT = 4

/**
 * A cache of at most `capacity` (>= 1) commitments' keys. A channel's commitment dance touches
 * about four key sets at a time (ours and theirs, current and next), so a few per active
 * channel suffice. Throws RangeError for a capacity below 1 (a configuration bug).
 */
export const makeCommitmentKeysCache = (capacity: number): CommitmentKeysCache => {
  const memo = makeLru<CommitmentKeys>(capacity, "commitment keys cache")
  /**
   * The keys made for inputs at each per-commitment point array (a channel passes the same
   * point array for a commitment again and again), with a copy of the 198 bytes each was made
   * of: a lookup whose bytes equal one of them asks the memo under that key (the same string
   * object, its hash cached) instead of making the key again. The memo decides as before (an
   * evicted key is a miss). Weak: an entry lives as long as its point array.
   */
  const index = new WeakMap<Uint8Array, Array<{ readonly key: string; readonly bytes: Uint8Array }>>()
  const deriveWith = (
    owner: ChannelBasepoints,
    counterparty: ChannelBasepoints,
    perCommitmentPoint: PublicKey,
    compute: () => Result.Result<CommitmentKeys, KeyDerivationError>
  ): Result.Result<CommitmentKeys, KeyDerivationError> => {
    if (!fillKeyBytes(owner, counterparty, perCommitmentPoint)) return memoizeResult(memo, hexKeyOf(owner, counterparty, perCommitmentPoint), compute)
    const seen = index.get(perCommitmentPoint)
    if (seen !== undefined) {
      for (const i of seen) {
        // Evicted or not, this is the key that would be made again.
        if (equalBytes(i.bytes, keyBytes)) return memoizeResult(memo, i.key, compute)
      }
    }
    const key = bytesKey(keyBytes)
    const indexed = { key, bytes: keyBytes.slice() }
    if (seen === undefined) index.set(perCommitmentPoint, [indexed])
    else {
      if (seen.length >= INDEXED_PER_POINT) seen.shift()
      seen.push(indexed)
    }
    return memoizeResult(memo, key, compute)
  }
  return {
    get capacity() {
      return memo.capacity
    },
    resize: memo.resize,
    derive: (secp, owner, counterparty, perCommitmentPoint) =>
      deriveWith(owner, counterparty, perCommitmentPoint, () => deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)),
    deriveWith,
    size: memo.size,
    stats: memo.stats,
    clear: memo.clear
  }
}

/** Entries of the shared cache (about 1.5 KB each): the working sets of a hundred channels updating at once. */
export const SHARED_COMMITMENT_KEYS_CAPACITY = 512

/** The process-wide cache used by default by `tx/view.ts` and the in-process signer. */
export const sharedCommitmentKeysCache: CommitmentKeysCache = makeCommitmentKeysCache(SHARED_COMMITMENT_KEYS_CAPACITY)
