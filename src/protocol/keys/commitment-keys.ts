/**
 * The per-commitment key set of one commitment transaction (BOLT 3 "Key Derivation"), named
 * as BOLT 3 names them: "local" is the owner of the commitment transaction (the side that can
 * broadcast it), "remote" the counterparty. Building the counterparty's commitment uses the
 * same function with the roles swapped.
 */
import { Result } from "effect"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { deriveRevocationPublicKey, derivePublicKey, type KeyDerivationError } from "./derivation.ts"
import type { PublicKey } from "./keys.ts"

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
