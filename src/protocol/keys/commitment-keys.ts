/**
 * The per-commitment key set of one commitment transaction (BOLT 3 "Key Derivation"), named
 * as BOLT 3 names them: "local" is the owner of the commitment transaction (the side that can
 * broadcast it), "remote" the counterparty. Building the counterparty's commitment uses the
 * same function with the roles swapped.
 */
import { Result } from "effect"
import { pointMultiplyTweakAdd, type Secp256k1 } from "../crypto/secp256k1.ts"
import { sha256ConcatInto } from "../tx/bitcoin/hash.ts"
import { deriveRevocationPublicKey, derivePublicKey, type KeyDerivationError } from "./derivation.ts"
import { PublicKey } from "./keys.ts"
import { equalBytes } from "../bytes.ts"

/** The basepoints a party announces in `open_channel` / `accept_channel`. */
export interface ChannelBasepoints {
  readonly fundingPubkey: PublicKey
  readonly revocationBasepoint: PublicKey
  readonly paymentBasepoint: PublicKey
  readonly delayedPaymentBasepoint: PublicKey
  readonly htlcBasepoint: PublicKey
}

export interface CommitmentKeys {
  /** The owner's per-commitment point for this commitment number. */
  readonly perCommitmentPoint: PublicKey
  /** From the counterparty's revocation basepoint: lets the counterparty punish a revoked state. */
  readonly revocationPubkey: PublicKey
  /** local_delayedpubkey: the owner's delayed key (to_local and second-stage HTLC outputs). */
  readonly localDelayedPubkey: PublicKey
  /** local_htlcpubkey: the owner's HTLC key. */
  readonly localHtlcPubkey: PublicKey
  /** remote_htlcpubkey: the counterparty's HTLC key. */
  readonly remoteHtlcPubkey: PublicKey
  /** remotepubkey: with option_static_remotekey, the counterparty's payment_basepoint itself. */
  readonly remotePaymentPubkey: PublicKey
}

/**
 * Where the two revocation tweaks and the delayed key's tweak of the derivations with our secrets
 * are hashed (`sha256ConcatInto`): each goes to the curve at once and is never kept, so no array is
 * made per tweak (three per commitment's keys). Hashes of public points.
 */
const h1Scratch = new Uint8Array(32)
const h2Scratch = new Uint8Array(32)
const delayedTweakScratch = new Uint8Array(32)

/**
 * Derives the keys of the commitment owned by `owner`, at the owner's `perCommitmentPoint`.
 * With option_static_remotekey (every channel type here), `remotepubkey` is not tweaked.
 */
export const deriveCommitmentKeys = (
  secp: Secp256k1,
  owner: ChannelBasepoints,
  counterparty: ChannelBasepoints,
  perCommitmentPoint: PublicKey
): Result.Result<CommitmentKeys, KeyDerivationError> => {
  // Written out rather than with `Result.gen`: this runs for every new commitment of every channel.
  const revocationPubkey = deriveRevocationPublicKey(secp, counterparty.revocationBasepoint, perCommitmentPoint)
  if (Result.isFailure(revocationPubkey)) return Result.fail(revocationPubkey.failure)
  const localDelayedPubkey = derivePublicKey(secp, owner.delayedPaymentBasepoint, perCommitmentPoint)
  if (Result.isFailure(localDelayedPubkey)) return Result.fail(localDelayedPubkey.failure)
  const localHtlcPubkey = derivePublicKey(secp, owner.htlcBasepoint, perCommitmentPoint)
  if (Result.isFailure(localHtlcPubkey)) return Result.fail(localHtlcPubkey.failure)
  const remoteHtlcPubkey = derivePublicKey(secp, counterparty.htlcBasepoint, perCommitmentPoint)
  if (Result.isFailure(remoteHtlcPubkey)) return Result.fail(remoteHtlcPubkey.failure)
  return Result.succeed({
    perCommitmentPoint,
    revocationPubkey: revocationPubkey.success,
    localDelayedPubkey: localDelayedPubkey.success,
    localHtlcPubkey: localHtlcPubkey.success,
    remoteHtlcPubkey: remoteHtlcPubkey.success,
    remotePaymentPubkey: counterparty.paymentBasepoint
  })
}

/**
 * `deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)` for the COUNTERPARTY's
 * commitment, computed by the holder of the secret of `counterparty`'s revocation basepoint
 * (our signer: on their commitment we are BOLT 3's "remote"). The same points, with
 * revocation_basepoint * h1 = (revocation_basepoint_secret * h1) * G joined to the other half in
 * one double multiplication (`pointMultiplyTweakAdd`, no separate point addition); the two HTLC
 * keys are derived on first read (`withLazyHtlcKeys`). The secret must be that of
 * `counterparty.revocationBasepoint`, as plain bytes: the signer keeps the secrets it uses on
 * every commitment unwrapped in its private records (each `Redacted.value` is two lookups in a
 * process-wide `WeakMap`). Any step that does not succeed (an input out of range, which the public
 * derivation refuses too) falls back to `deriveCommitmentKeys`, so the result and the error are
 * always its own.
 */
export const deriveCounterpartyCommitmentKeys = (
  secp: Secp256k1,
  owner: ChannelBasepoints,
  counterparty: ChannelBasepoints,
  perCommitmentPoint: PublicKey,
  secrets: { readonly revocationBasepointSecret: Uint8Array }
): Result.Result<CommitmentKeys, KeyDerivationError> => {
  const revocationBasepoint = counterparty.revocationBasepoint
  sha256ConcatInto(revocationBasepoint, perCommitmentPoint, h1Scratch, 0)
  sha256ConcatInto(perCommitmentPoint, revocationBasepoint, h2Scratch, 0)
  // per_commitment_point * h2 + (revocation_basepoint_secret * h1) * G: one double multiplication
  // where the implementation has one, else a point multiplication and a tweak-add.
  const scalar = secp.secretMultiply(secrets.revocationBasepointSecret, h1Scratch)
  const revocationPubkey = scalar === undefined ? undefined : pointMultiplyTweakAdd(secp, perCommitmentPoint, h2Scratch, scalar)
  if (revocationPubkey === undefined) return deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
  const localDelayedPubkey = derivePublicKey(secp, owner.delayedPaymentBasepoint, perCommitmentPoint)
  if (Result.isFailure(localDelayedPubkey)) return Result.fail(localDelayedPubkey.failure)
  return withLazyHtlcKeys(secp, owner, counterparty, perCommitmentPoint, PublicKey(revocationPubkey), localDelayedPubkey.success) ?? deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
}

/**
 * `deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)` for OUR commitment,
 * computed by the holder of the per-commitment secret and of `owner`'s delayed-payment basepoint
 * secret (our signer): per_commitment_point * h2 = (per_commitment_secret * h2) * G joined to
 * the other half in one double multiplication, and local_delayedpubkey = (basepoint_secret +
 * SHA256(per_commitment_point || basepoint)) * G, a generator multiplication in place of a
 * tweak; the two HTLC keys are derived on first read (`withLazyHtlcKeys`). The secrets must be
 * those of `perCommitmentPoint` and `owner.delayedPaymentBasepoint`, as plain bytes (both are
 * kept unwrapped in the signer's private records, see `deriveCounterpartyCommitmentKeys`). Any
 * step that does not succeed falls back to `deriveCommitmentKeys`, so the result and the error
 * are always its own.
 */
export const deriveHolderCommitmentKeys = (
  secp: Secp256k1,
  owner: ChannelBasepoints,
  counterparty: ChannelBasepoints,
  perCommitmentPoint: PublicKey,
  secrets: {
    readonly perCommitmentSecret: Uint8Array
    readonly delayedPaymentBasepointSecret: Uint8Array
  }
): Result.Result<CommitmentKeys, KeyDerivationError> => {
  const revocationBasepoint = counterparty.revocationBasepoint
  sha256ConcatInto(revocationBasepoint, perCommitmentPoint, h1Scratch, 0)
  sha256ConcatInto(perCommitmentPoint, revocationBasepoint, h2Scratch, 0)
  // revocation_basepoint * h1 + (per_commitment_secret * h2) * G: one double multiplication
  // where the implementation has one, else a point multiplication and a tweak-add.
  const scalar = secp.secretMultiply(secrets.perCommitmentSecret, h2Scratch)
  const revocationPubkey = scalar === undefined ? undefined : pointMultiplyTweakAdd(secp, revocationBasepoint, h1Scratch, scalar)
  if (revocationPubkey === undefined) return deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
  sha256ConcatInto(perCommitmentPoint, owner.delayedPaymentBasepoint, delayedTweakScratch, 0)
  const delayed = secp.secretAdd(secrets.delayedPaymentBasepointSecret, delayedTweakScratch)
  const localDelayedPubkey = delayed === undefined ? undefined : secp.publicKey(delayed)
  if (localDelayedPubkey === undefined) return deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
  return withLazyHtlcKeys(secp, owner, counterparty, perCommitmentPoint, PublicKey(revocationPubkey), PublicKey(localDelayedPubkey)) ?? deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
}

/**
 * Basepoints found valid, per implementation, each with a copy of its bytes as checked (a hit
 * compares them): the two HTLC basepoints of a channel are checked once, not per commitment.
 */
const checkedBasepoints = new WeakMap<Secp256k1, WeakMap<Uint8Array, Uint8Array>>()
/** A private copy of `basepoint` if it is a valid point, else undefined. */
const checkedBasepoint = (secp: Secp256k1, basepoint: Uint8Array): Uint8Array | undefined => {
  let checked = checkedBasepoints.get(secp)
  if (checked === undefined) {
    checked = new WeakMap()
    checkedBasepoints.set(secp, checked)
  }
  const held = checked.get(basepoint)
  if (held !== undefined && equalBytes(held, basepoint)) return held
  if (!secp.isValidPoint(basepoint)) return undefined
  const copy = Uint8Array.from(basepoint)
  checked.set(basepoint, copy)
  return copy
}

/** `derivePublicKey` of a basepoint checked valid: it fails only for a tweak >= n (probability ~2^-128) or a sum at infinity. */
const derivedKey = (secp: Secp256k1, basepoint: Uint8Array, perCommitmentPoint: PublicKey): PublicKey => {
  const key = derivePublicKey(secp, basepoint, perCommitmentPoint)
  if (Result.isFailure(key)) throw new Error(`unreachable: HTLC key derivation failed on a valid basepoint (${key.failure.reason})`)
  return key.success
}

/**
 * A key set whose two HTLC keys (local_htlcpubkey, remote_htlcpubkey: BOLT 3's public
 * derivation, one tweak-add each) are computed on first read and then kept: a commitment without
 * HTLC outputs (half of those of an HTLC round trip: the ones after the fulfill) never reads
 * them, and its builder, its signature checks and the memos skip them. What they are derived
 * from is in private fields (no spread, `JSON.stringify` or deep equality sees them), the
 * basepoints as private copies as they were checked (a caller changing its array later changes
 * nothing). Own enumerable properties in `deriveCommitmentKeys`' order, like the others: a
 * spread, `JSON.stringify` or a deep equality reads them (the two HTLC keys as own accessors,
 * installed in the constructor between the fields before and after them).
 */
class LazyHtlcKeySet implements CommitmentKeys {
  readonly perCommitmentPoint: PublicKey
  readonly revocationPubkey: PublicKey
  readonly localDelayedPubkey: PublicKey
  declare readonly localHtlcPubkey: PublicKey
  declare readonly remoteHtlcPubkey: PublicKey
  declare readonly remotePaymentPubkey: PublicKey
  readonly #secp: Secp256k1
  readonly #ownHtlcBasepoint: Uint8Array
  readonly #theirHtlcBasepoint: Uint8Array
  #local: PublicKey | undefined
  #remote: PublicKey | undefined
  constructor(
    secp: Secp256k1,
    ownHtlcBasepoint: Uint8Array,
    theirHtlcBasepoint: Uint8Array,
    perCommitmentPoint: PublicKey,
    revocationPubkey: PublicKey,
    localDelayedPubkey: PublicKey,
    remotePaymentPubkey: PublicKey
  ) {
    this.perCommitmentPoint = perCommitmentPoint
    this.revocationPubkey = revocationPubkey
    this.localDelayedPubkey = localDelayedPubkey
    this.#secp = secp
    this.#ownHtlcBasepoint = ownHtlcBasepoint
    this.#theirHtlcBasepoint = theirHtlcBasepoint
    this.#local = undefined
    this.#remote = undefined
    Object.defineProperty(this, "localHtlcPubkey", localHtlcPubkeyGetter)
    Object.defineProperty(this, "remoteHtlcPubkey", remoteHtlcPubkeyGetter)
    this.remotePaymentPubkey = remotePaymentPubkey
  }
  /** `o.localHtlcPubkey` of a key set of this class (the getter's body). */
  static localHtlcPubkeyOf(o: object): PublicKey {
    if (!(#local in o)) throw new TypeError("not a key set with lazy HTLC keys") // unreachable: the getters live only on such objects
    o.#local ??= derivedKey(o.#secp, o.#ownHtlcBasepoint, o.perCommitmentPoint)
    return o.#local
  }
  /** `o.remoteHtlcPubkey` of a key set of this class (the getter's body). */
  static remoteHtlcPubkeyOf(o: object): PublicKey {
    if (!(#remote in o)) throw new TypeError("not a key set with lazy HTLC keys") // unreachable: the getters live only on such objects
    o.#remote ??= derivedKey(o.#secp, o.#theirHtlcBasepoint, o.perCommitmentPoint)
    return o.#remote
  }
}

/**
 * The getters, one pair of functions for every key set: own accessors made of functions shared by
 * all the objects keep them in V8's fast mode with one shared shape; an object literal with
 * getters (two closures per object) is a dictionary (about four times the cost to make, each
 * property read a hash-table probe). What they read is in the instance's private fields: two
 * `defineProperty` calls per key set and no side record (a separate record behind a third,
 * symbol-keyed property cost ~60% more to make: 334 against 204 ns in a loop).
 */
const localHtlcPubkeyGetter = {
  get(this: object): PublicKey {
    return LazyHtlcKeySet.localHtlcPubkeyOf(this)
  },
  enumerable: true,
  configurable: true
}
const remoteHtlcPubkeyGetter = {
  get(this: object): PublicKey {
    return LazyHtlcKeySet.remoteHtlcPubkeyOf(this)
  },
  enumerable: true,
  configurable: true
}

/**
 * The keys with lazy HTLC keys (`LazyHtlcKeySet`). Both HTLC basepoints are checked valid first
 * (once per basepoint array, `checkedBasepoint`), so a bad one is still `deriveCommitmentKeys`'
 * typed error (undefined here: the caller falls back to it).
 */
const withLazyHtlcKeys = (
  secp: Secp256k1,
  owner: ChannelBasepoints,
  counterparty: ChannelBasepoints,
  perCommitmentPoint: PublicKey,
  revocationPubkey: PublicKey,
  localDelayedPubkey: PublicKey
): Result.Result<CommitmentKeys, KeyDerivationError> | undefined => {
  const ownHtlcBasepoint = checkedBasepoint(secp, owner.htlcBasepoint)
  const theirHtlcBasepoint = checkedBasepoint(secp, counterparty.htlcBasepoint)
  if (ownHtlcBasepoint === undefined || theirHtlcBasepoint === undefined) return undefined
  return Result.succeed(
    new LazyHtlcKeySet(secp, ownHtlcBasepoint, theirHtlcBasepoint, perCommitmentPoint, revocationPubkey, localDelayedPubkey, counterparty.paymentBasepoint)
  )
}
