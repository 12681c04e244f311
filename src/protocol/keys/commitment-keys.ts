/**
 * The per-commitment key set of one commitment transaction (BOLT 3 "Key Derivation"), named
 * as BOLT 3 names them: "local" is the owner of the commitment transaction (the side that can
 * broadcast it), "remote" the counterparty. Building the counterparty's commitment uses the
 * same function with the roles swapped.
 */
import { Redacted, Result } from "effect"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { sha256Concat } from "../tx/bitcoin/hash.ts"
import { deriveRevocationPublicKey, derivePublicKey, type KeyDerivationError } from "./derivation.ts"
import { PublicKey, type PrivateKey } from "./keys.ts"

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
 * commitment, computed by the holder of the secrets of `counterparty`'s revocation and HTLC
 * basepoints (our signer: on their commitment we are BOLT 3's "remote"). The same points, with
 * generator multiplications where the public derivation multiplies a variable point:
 * revocation_basepoint * h1 = (revocation_basepoint_secret * h1) * G (added to the other half
 * in one tweak-add, no separate point addition), and remote_htlcpubkey =
 * (htlc_basepoint_secret + SHA256(per_commitment_point || htlc_basepoint)) * G (libsecp256k1's
 * generator multiplication is about a third cheaper than a point multiplication or a tweak).
 * The secrets must be those of `counterparty.revocationBasepoint` and `counterparty.htlcBasepoint`.
 * Any step that does not succeed (an input out of range, which the public derivation refuses
 * too) falls back to `deriveCommitmentKeys`, so the result and the error are always its own.
 */
export const deriveCounterpartyCommitmentKeys = (
  secp: Secp256k1,
  owner: ChannelBasepoints,
  counterparty: ChannelBasepoints,
  perCommitmentPoint: PublicKey,
  secrets: { readonly revocationBasepointSecret: PrivateKey; readonly htlcBasepointSecret: PrivateKey }
): Result.Result<CommitmentKeys, KeyDerivationError> => {
  const fallback = () => deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
  const revocationBasepoint = counterparty.revocationBasepoint
  const h1 = sha256Concat(revocationBasepoint, perCommitmentPoint)
  const h2 = sha256Concat(perCommitmentPoint, revocationBasepoint)
  // per_commitment_point * h2 + (revocation_basepoint_secret * h1) * G: one tweak-add.
  const scalar = secp.secretMultiply(Redacted.value(secrets.revocationBasepointSecret), h1)
  const b = secp.pointMultiply(perCommitmentPoint, h2)
  const revocationPubkey = scalar === undefined || b === undefined ? undefined : secp.pointTweakAdd(b, scalar)
  if (revocationPubkey === undefined) return fallback()
  const htlcSecret = secp.secretAdd(Redacted.value(secrets.htlcBasepointSecret), sha256Concat(perCommitmentPoint, counterparty.htlcBasepoint))
  const remoteHtlcPubkey = htlcSecret === undefined ? undefined : secp.publicKey(htlcSecret)
  if (remoteHtlcPubkey === undefined) return fallback()
  const localDelayedPubkey = derivePublicKey(secp, owner.delayedPaymentBasepoint, perCommitmentPoint)
  if (Result.isFailure(localDelayedPubkey)) return Result.fail(localDelayedPubkey.failure)
  const localHtlcPubkey = derivePublicKey(secp, owner.htlcBasepoint, perCommitmentPoint)
  if (Result.isFailure(localHtlcPubkey)) return Result.fail(localHtlcPubkey.failure)
  return Result.succeed({
    perCommitmentPoint,
    revocationPubkey: PublicKey(revocationPubkey),
    localDelayedPubkey: localDelayedPubkey.success,
    localHtlcPubkey: localHtlcPubkey.success,
    remoteHtlcPubkey: PublicKey(remoteHtlcPubkey),
    remotePaymentPubkey: counterparty.paymentBasepoint
  })
}

/**
 * `deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)` for OUR commitment,
 * computed by the holder of the per-commitment secret and of `owner`'s delayed-payment and HTLC
 * basepoint secrets (our signer): per_commitment_point * h2 = (per_commitment_secret * h2) * G,
 * and local_delayedpubkey / local_htlcpubkey = (basepoint_secret + SHA256(per_commitment_point
 * || basepoint)) * G, generator multiplications in place of a point multiplication and two
 * tweaks (the revocation key's halves joined by one tweak-add). The secrets must be those of
 * `perCommitmentPoint`, `owner.delayedPaymentBasepoint`
 * and `owner.htlcBasepoint`. Any step that does not succeed falls back to
 * `deriveCommitmentKeys`, so the result and the error are always its own.
 */
export const deriveHolderCommitmentKeys = (
  secp: Secp256k1,
  owner: ChannelBasepoints,
  counterparty: ChannelBasepoints,
  perCommitmentPoint: PublicKey,
  secrets: {
    readonly perCommitmentSecret: Uint8Array
    readonly delayedPaymentBasepointSecret: PrivateKey
    readonly htlcBasepointSecret: PrivateKey
  }
): Result.Result<CommitmentKeys, KeyDerivationError> => {
  const fallback = () => deriveCommitmentKeys(secp, owner, counterparty, perCommitmentPoint)
  const revocationBasepoint = counterparty.revocationBasepoint
  const h1 = sha256Concat(revocationBasepoint, perCommitmentPoint)
  const h2 = sha256Concat(perCommitmentPoint, revocationBasepoint)
  // revocation_basepoint * h1 + (per_commitment_secret * h2) * G: one tweak-add.
  const a = secp.pointMultiply(revocationBasepoint, h1)
  const scalar = secp.secretMultiply(secrets.perCommitmentSecret, h2)
  const revocationPubkey = a === undefined || scalar === undefined ? undefined : secp.pointTweakAdd(a, scalar)
  if (revocationPubkey === undefined) return fallback()
  const ownKey = (secret: PrivateKey, basepoint: Uint8Array): Uint8Array | undefined => {
    const key = secp.secretAdd(Redacted.value(secret), sha256Concat(perCommitmentPoint, basepoint))
    return key === undefined ? undefined : secp.publicKey(key)
  }
  const localDelayedPubkey = ownKey(secrets.delayedPaymentBasepointSecret, owner.delayedPaymentBasepoint)
  const localHtlcPubkey = ownKey(secrets.htlcBasepointSecret, owner.htlcBasepoint)
  if (localDelayedPubkey === undefined || localHtlcPubkey === undefined) return fallback()
  const remoteHtlcPubkey = derivePublicKey(secp, counterparty.htlcBasepoint, perCommitmentPoint)
  if (Result.isFailure(remoteHtlcPubkey)) return Result.fail(remoteHtlcPubkey.failure)
  return Result.succeed({
    perCommitmentPoint,
    revocationPubkey: PublicKey(revocationPubkey),
    localDelayedPubkey: PublicKey(localDelayedPubkey),
    localHtlcPubkey: PublicKey(localHtlcPubkey),
    remoteHtlcPubkey: remoteHtlcPubkey.success,
    remotePaymentPubkey: counterparty.paymentBasepoint
  })
}
