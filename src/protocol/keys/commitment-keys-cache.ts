/**
 * A bounded memo of `deriveCommitmentKeys` (BOLT 3 "Key Derivation"). Deriving one commitment's
 * keys (the revocation key and three tweaked keys: two point multiplications and four
 * additions) costs more than building and signing the transaction, and every commitment's keys
 * are needed several times: the channel builds our commitment and theirs, the signer rebuilds
 * each to sign or verify it, and again for its HTLC transactions. Through one cache they are
 * derived once.
 *
 * The memo is of a pure function of public data: an entry keeps a copy of every input the
 * derivation reads (the owner's delayed-payment and HTLC basepoints, the counterparty's
 * revocation, HTLC and payment basepoints, and the per-commitment point) and is served only to
 * equal inputs, so a hit returns exactly what deriving again would, whichever channel asks, and
 * no secret is kept (the in-process signer may fill an entry through `deriveWith`, computing the
 * same public keys with its secrets). Entries are found under 30 bits mixed from the inputs, a
 * small integer: no key string of the inputs is made or hashed per lookup; other inputs under the same
 * number are a miss and replace the entry. Only successes are kept (a failure is cheap to find again and says nothing worth keeping). Entries
 * are evicted least-recently-used beyond `capacity`, so memory stays bounded however many
 * channels share a cache.
 *
 * `sharedCommitmentKeysCache` is the process-wide instance the builders (`tx/view.ts`) and the
 * in-process signer use by default, which is what lets a commitment built by the channel be
 * signed without deriving its keys again. Its only observable effect is speed.
 */
import { Result } from "effect"
import { makeByteSlots, makeLru, type ByteSlots } from "../lru.ts"
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
  /**
   * `deriveWith` in two calls, for a caller that computes a miss itself with no closure made per
   * lookup (the in-process signer, on every commitment): the keys held for these inputs (a hit),
   * or undefined (a miss), counted as `deriveWith` counts them.
   */
  readonly held: (owner: ChannelBasepoints, counterparty: ChannelBasepoints, perCommitmentPoint: PublicKey) => CommitmentKeys | undefined
  /**
   * After `held` missed: keeps `computed` if it is a success (it must be exactly what
   * `deriveCommitmentKeys` gives for these inputs, as for `deriveWith`) and returns it.
   */
  readonly keep: (
    owner: ChannelBasepoints,
    counterparty: ChannelBasepoints,
    perCommitmentPoint: PublicKey,
    computed: Result.Result<CommitmentKeys, KeyDerivationError>
  ) => Result.Result<CommitmentKeys, KeyDerivationError>
  /** Entries held now (at most `capacity`). */
  readonly size: () => number
  /** Lookups answered from the cache and lookups that derived, since creation or `clear`. */
  readonly stats: () => { readonly hits: number; readonly misses: number }
  /** Drops every entry and resets the counts. */
  readonly clear: () => void
}

const KEY_LENGTH = 33

/**
 * Every input `deriveCommitmentKeys` reads, the six 33-byte keys (point first), as an entry keeps
 * them: one after the other in its slot of the memo's `ByteSlots` (198 bytes in a buffer the GC
 * does not mark, nothing allocated per entry, where one array per entry cost ~540 bytes with an
 * allocation outside V8's heap, and six small arrays ~1.8 KB; a simulation keeps thousands of
 * entries). Only inputs of these lengths are kept, so each key is at a fixed offset.
 */
const INPUTS_LENGTH = 6 * KEY_LENGTH

/** Whether every input has the length of a compressed point (else the entry is not kept). */
const keptLengths = (owner: ChannelBasepoints, counterparty: ChannelBasepoints, point: PublicKey): boolean =>
  point.length === KEY_LENGTH &&
  owner.delayedPaymentBasepoint.length === KEY_LENGTH &&
  owner.htlcBasepoint.length === KEY_LENGTH &&
  counterparty.revocationBasepoint.length === KEY_LENGTH &&
  counterparty.htlcBasepoint.length === KEY_LENGTH &&
  counterparty.paymentBasepoint.length === KEY_LENGTH

/** Copies the inputs (of `keptLengths`) into `slot`. */
const writeInputs = (slots: ByteSlots, slot: number, owner: ChannelBasepoints, counterparty: ChannelBasepoints, point: PublicKey): void => {
  slots.write(slot, 0, point)
  slots.write(slot, KEY_LENGTH, owner.delayedPaymentBasepoint)
  slots.write(slot, 2 * KEY_LENGTH, owner.htlcBasepoint)
  slots.write(slot, 3 * KEY_LENGTH, counterparty.revocationBasepoint)
  slots.write(slot, 4 * KEY_LENGTH, counterparty.htlcBasepoint)
  slots.write(slot, 5 * KEY_LENGTH, counterparty.paymentBasepoint)
}

/** Whether the inputs are those `writeInputs` copied into `slot` (a key of another length is at no offset: it is never kept). */
const sameInputs = (slots: ByteSlots, slot: number, owner: ChannelBasepoints, counterparty: ChannelBasepoints, point: PublicKey): boolean =>
  keptLengths(owner, counterparty, point) &&
  slots.has(slot, 0, point) &&
  slots.has(slot, KEY_LENGTH, owner.delayedPaymentBasepoint) &&
  slots.has(slot, 2 * KEY_LENGTH, owner.htlcBasepoint) &&
  slots.has(slot, 3 * KEY_LENGTH, counterparty.revocationBasepoint) &&
  slots.has(slot, 4 * KEY_LENGTH, counterparty.htlcBasepoint) &&
  slots.has(slot, 5 * KEY_LENGTH, counterparty.paymentBasepoint)

/** Three bytes of `key` from `at` as a 24-bit number (0 past its end). */
const bits24 = (key: Uint8Array, at: number): number => ((key[at] ?? 0) << 16) | ((key[at + 1] ?? 0) << 8) | (key[at + 2] ?? 0)

/**
 * The memo key of the inputs: 48 bits mixed from their x-coordinates (the point's first six
 * bytes, each basepoint's at its own offset, so swapped roles give another number) folded into
 * 30, a small integer (`numberKeyOf`): no string of the inputs is made or hashed per lookup, and
 * no number allocated. Inputs sharing a number are told apart by the entry's copy of its inputs.
 */
const keyOf = (owner: ChannelBasepoints, counterparty: ChannelBasepoints, point: Uint8Array): number => {
  const d = owner.delayedPaymentBasepoint
  const h = owner.htlcBasepoint
  const r = counterparty.revocationBasepoint
  const c = counterparty.htlcBasepoint
  const p = counterparty.paymentBasepoint
  const high = bits24(point, 1) ^ bits24(d, 7) ^ bits24(h, 10) ^ bits24(r, 13) ^ bits24(c, 16) ^ bits24(p, 19)
  const low = bits24(point, 4) ^ bits24(d, 22) ^ bits24(h, 25) ^ bits24(r, 28) ^ bits24(c, 1) ^ bits24(p, 4)
  return (low ^ (high << 6)) & 0x3fffffff
}

/** An entry: the keys, with the slot holding a copy of the inputs they were derived from (`writeInputs`). */
interface Entry {
  readonly slot: number
  readonly keys: CommitmentKeys
}

/**
 * A cache of at most `capacity` (>= 1) commitments' keys. A channel's commitment dance touches
 * about four key sets at a time (ours and theirs, current and next), so a few per active
 * channel suffice. Throws RangeError for a capacity below 1 (a configuration bug).
 */
export const makeCommitmentKeysCache = (capacity: number): CommitmentKeysCache => {
  const slots = makeByteSlots(INPUTS_LENGTH)
  const memo = makeLru<Entry, number>(capacity, "commitment keys cache", (dropped) => slots.release(dropped.slot))
  /** The keys held for these inputs under `key`, or undefined (a miss, counted). */
  const lookup = (key: number, owner: ChannelBasepoints, counterparty: ChannelBasepoints, perCommitmentPoint: PublicKey): CommitmentKeys | undefined => {
    const held = memo.get(key)
    if (held !== undefined && sameInputs(slots, held.slot, owner, counterparty, perCommitmentPoint)) return held.keys
    // Found under a number shared with other inputs: counted as a miss.
    if (held !== undefined) memo.mismatch()
    return undefined
  }
  /** Keeps a success under `key` (inputs of other lengths are not kept); returns `computed`. */
  const keep = (
    key: number,
    owner: ChannelBasepoints,
    counterparty: ChannelBasepoints,
    perCommitmentPoint: PublicKey,
    computed: Result.Result<CommitmentKeys, KeyDerivationError>
  ): Result.Result<CommitmentKeys, KeyDerivationError> => {
    if (Result.isSuccess(computed) && keptLengths(owner, counterparty, perCommitmentPoint)) {
      // Other inputs under this number (sharing 30 bits of their mix) are replaced (their slot released).
      const slot = slots.take()
      writeInputs(slots, slot, owner, counterparty, perCommitmentPoint)
      memo.set(key, { slot, keys: computed.success })
    }
    return computed
  }
  const deriveWith = (
    owner: ChannelBasepoints,
    counterparty: ChannelBasepoints,
    perCommitmentPoint: PublicKey,
    compute: () => Result.Result<CommitmentKeys, KeyDerivationError>
  ): Result.Result<CommitmentKeys, KeyDerivationError> => {
    const key = keyOf(owner, counterparty, perCommitmentPoint)
    const held = lookup(key, owner, counterparty, perCommitmentPoint)
    return held !== undefined ? Result.succeed(held) : keep(key, owner, counterparty, perCommitmentPoint, compute())
  }
  // `capacity` a data property kept in step with `resize` (an accessor would make this a dictionary-mode object).
  const self: Omit<CommitmentKeysCache, "capacity"> & { capacity: number } = {
    capacity: memo.capacity,
    resize: (n) => {
      memo.resize(n)
      self.capacity = memo.capacity
    },
    // Written out, not through `deriveWith`: no closure made per lookup (most of them hits).
    derive: (secp, owner, counterparty, perCommitmentPoint) => {
      const key = keyOf(owner, counterparty, perCommitmentPoint)
      const held = lookup(key, owner, counterparty, perCommitmentPoint)
      return held !== undefined ? Result.succeed(held) : keep(key, owner, counterparty, perCommitmentPoint, deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint))
    },
    deriveWith,
    held: (owner, counterparty, perCommitmentPoint) => lookup(keyOf(owner, counterparty, perCommitmentPoint), owner, counterparty, perCommitmentPoint),
    keep: (owner, counterparty, perCommitmentPoint, computed) => keep(keyOf(owner, counterparty, perCommitmentPoint), owner, counterparty, perCommitmentPoint, computed),
    size: memo.size,
    stats: memo.stats,
    clear: () => {
      memo.clear()
      slots.clear()
    }
  }
  return self
}

/** Entries of the shared cache (about 1-1.5 KB each, the key set included): the working sets of a hundred channels updating at once. */
export const SHARED_COMMITMENT_KEYS_CAPACITY = 512

/** The process-wide cache used by default by `tx/view.ts` and the in-process signer. */
export const sharedCommitmentKeysCache: CommitmentKeysCache = makeCommitmentKeysCache(SHARED_COMMITMENT_KEYS_CAPACITY)
