/**
 * ChannelSigner: the only holder of a channel's private keys (bring your own keys). The engine
 * asks it for public material (basepoints, per-commitment points), for per-commitment secrets
 * when it revokes a commitment (BOLT 2 `revoke_and_ack`), and for signatures: on the
 * counterparty's commitment and its HTLC transactions (`commitment_signed`), on our own
 * commitment and HTLC transactions when we must broadcast them, on our spends of our outputs,
 * on closing transactions and on justice (penalty) transactions (BOLT 3, BOLT 5).
 *
 * Why requests describe transactions instead of carrying sighashes: a signer that signs any
 * digest it is handed can be made to sign anything. Here the signer REBUILDS what it signs from
 * the channel parameters it was given (`readyChannel`) and a description of the state (BOLT 3
 * builders in `src/protocol/tx`): it computes every witness script and key itself and can
 * enforce policy, e.g. never release the secret of a commitment it still holds as current, never
 * sign our own commitment once revoked, only sign justice transactions with a secret that
 * matches the counterparty's point. A hardware or remote signer implements the same shape.
 *
 * Every operation is an Effect (a remote signer is asynchronous). Errors carry reasons and
 * public data only, never key material. Implementations: `src/layers/signer/` (in-process,
 * deterministic from a seed).
 */
import { Context, Data, type Effect, type Brand } from "effect"
import type { ChannelType } from "../protocol/channel-type.ts"
import type { ChannelBasepoints } from "../protocol/keys/commitment-keys.ts"
import type { PublicKey } from "../protocol/keys/keys.ts"
import type { OutPoint, Transaction } from "../protocol/tx/bitcoin/transaction.ts"
import type { CommitmentHtlc } from "../protocol/tx/commitment.ts"
import type { Msat, Sat } from "../protocol/units.ts"

/**
 * Identifies a channel's keys to the signer (LDK's `channel_keys_id`): 32 bytes chosen by the
 * node when it creates the channel (e.g. from `Entropy`) and persisted with the channel. It is
 * not secret: the keys are derived from it AND the signer's seed.
 */
export type ChannelKeyId = Uint8Array & Brand.Brand<"ChannelKeyId">

/** Brands 32 bytes as a channel key id; undefined for another length. */
export const channelKeyId = (bytes: Uint8Array): ChannelKeyId | undefined =>
  bytes.length === 32 ? (Uint8Array.from(bytes) as ChannelKeyId) : undefined

/** A 64-byte compact ECDSA signature (r || s, low S): the form BOLT 2 messages carry. */
export type CompactSignature = Uint8Array & Brand.Brand<"CompactSignature">

/** The request is malformed or does not match the channel (bad amounts, unknown channel...). */
export class InvalidSigningRequest extends Data.TaggedError("InvalidSigningRequest")<{ readonly reason: string }> {}

/** The request is well formed but the signer's policy refuses it (it would risk funds). */
export class SignerPolicyViolation extends Data.TaggedError("SignerPolicyViolation")<{ readonly reason: string }> {}

/** A signature received from the counterparty does not verify (BOLT 2: fail the channel). */
export class InvalidCounterpartySignature extends Data.TaggedError("InvalidCounterpartySignature")<{
  readonly reason: string
  /** Index in `htlc_signatures`, or undefined for the commitment signature. */
  readonly htlcIndex: number | undefined
}> {}

export type ChannelSignerError = InvalidSigningRequest | SignerPolicyViolation

/**
 * What the signer needs to know about a channel to rebuild its transactions (LDK's
 * `ChannelTransactionParameters`). "holder" is us, "counterparty" the peer. Contains no secret.
 */
export interface ChannelParameters {
  readonly channelType: ChannelType
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  /** Whether we opened the channel (the funder pays the commitment fee). */
  readonly holderIsFunder: boolean
  readonly counterpartyBasepoints: ChannelBasepoints
  /** The delay on OUR outputs: the `to_self_delay` the counterparty asked of us. */
  readonly holderSelfDelay: number
  /** The delay on THEIR outputs: the `to_self_delay` we asked of them. */
  readonly counterpartySelfDelay: number
  readonly holderDustLimit: Sat
  readonly counterpartyDustLimit: Sat
}

/**
 * One commitment's state, seen from the commitment's OWNER (BOLT 3 "local"): `toLocal` is the
 * owner's balance, and HTLC directions are as the owner sees them. The same channel state gives
 * our commitment and theirs with the roles swapped.
 */
export interface CommitmentState {
  readonly commitmentNumber: bigint
  readonly feeratePerKw: number
  readonly toLocal: Msat
  readonly toRemote: Msat
  readonly htlcs: ReadonlyArray<CommitmentHtlc>
}

/** Our signatures for the counterparty's commitment (the content of `commitment_signed`). */
export interface CounterpartyCommitmentSignatures {
  readonly signature: CompactSignature
  /** One per HTLC output, in the commitment's output order (BOLT 2 `htlc_signatures`). */
  readonly htlcSignatures: ReadonlyArray<CompactSignature>
}

/**
 * The output an own-spend or justice input spends, described so the signer can derive the key
 * and rebuild the witness script itself. `holder` commitments are ours, `counterparty` ones theirs.
 */
export type SpendDescriptor =
  /** to_local of our commitment `commitmentNumber`, or an output of one of its HTLC txs, after the CSV delay. */
  | { readonly _tag: "HolderDelayed"; readonly commitmentNumber: bigint }
  /** Our to_remote output on the counterparty's commitment (P2WPKH, or the anchors CSV-1 script). */
  | { readonly _tag: "CounterpartyToRemote" }
  /** The anchor of our funding key, on either side's commitment. */
  | { readonly _tag: "Anchor" }
  /**
   * An HTLC on the counterparty's commitment, at its per-commitment point: one they offered us
   * (`direction: "offered"` from their view), claimed with the preimage; or one we offered
   * (`"received"` from their view), taken back after its CLTV expiry.
   */
  | {
      readonly _tag: "CounterpartyHtlc"
      readonly perCommitmentPoint: PublicKey
      readonly htlc: CommitmentHtlc
    }
  /**
   * Justice: an output of a REVOKED counterparty commitment (or of one of its HTLC txs), with
   * the per-commitment secret they gave us. `output` says which script it is.
   */
  | {
      readonly _tag: "Revoked"
      readonly perCommitmentSecret: Uint8Array
      readonly output:
        | { readonly _tag: "ToLocal" }
        | { readonly _tag: "HtlcTxOutput" }
        | { readonly _tag: "Htlc"; readonly htlc: CommitmentHtlc }
    }

export interface SpendRequest {
  /** The spending transaction (its witnesses are ignored). */
  readonly tx: Transaction
  readonly inputIndex: number
  /** The amount of the output spent (BIP 143 commits to it). */
  readonly amount: Sat
  readonly spend: SpendDescriptor
}

/** A signature for a witness, and the script the signer computed for it (last witness item, if P2WSH). */
export interface SpendSignature {
  readonly signature: CompactSignature
  readonly sighashType: number
  /** The P2WSH witness script, or, for P2WPKH, undefined (the witness then takes `publicKey`). */
  readonly witnessScript: Uint8Array | undefined
  /** The public key the signature verifies under (needed by P2WPKH and HTLC revocation witnesses). */
  readonly publicKey: PublicKey
}

/** Our commitment, fully signed, ready to broadcast (force close). */
export interface SignedHolderCommitment {
  readonly commitmentNumber: bigint
  readonly tx: Transaction
}

export interface ChannelSignerShape {
  /** The funding pubkey and basepoints of a channel (for `open_channel` / `accept_channel`). */
  readonly channelPublicKeys: (keyId: ChannelKeyId) => Effect.Effect<ChannelBasepoints>
  /**
   * Registers the negotiated parameters of a channel (after `accept_channel`, before the first
   * commitment is signed). Registering different parameters for the same key id is refused.
   */
  readonly readyChannel: (keyId: ChannelKeyId, parameters: ChannelParameters) => Effect.Effect<void, ChannelSignerError>
  /** Our per-commitment point for commitment number `n` (counting up from 0). */
  readonly perCommitmentPoint: (keyId: ChannelKeyId, commitmentNumber: bigint) => Effect.Effect<PublicKey, ChannelSignerError>
  /**
   * Records that the counterparty signed our commitment `state.commitmentNumber`: rebuilds it,
   * verifies their commitment and HTLC signatures, and keeps them (to broadcast it later).
   * Only then may older commitments be revoked. At most two unrevoked commitments are held
   * (BOLT 2: the current one and the next), and a number validated once stays that transaction.
   */
  readonly validateHolderCommitment: (
    keyId: ChannelKeyId,
    state: CommitmentState,
    counterpartySignature: CompactSignature,
    counterpartyHtlcSignatures: ReadonlyArray<CompactSignature>
  ) => Effect.Effect<void, ChannelSignerError | InvalidCounterpartySignature>
  /**
   * Revokes our commitment `n` and returns its per-commitment secret (for `revoke_and_ack`).
   * Refused unless a newer commitment (n + 1 or later) was validated: the secret of a
   * commitment we may still need to broadcast is never released.
   */
  readonly releaseCommitmentSecret: (keyId: ChannelKeyId, commitmentNumber: bigint) => Effect.Effect<Uint8Array, ChannelSignerError>
  /**
   * Signs the counterparty's commitment at their per-commitment point, and its HTLC transactions.
   * Commitment numbers must advance by one (the same number again only for the identical
   * transaction, e.g. a retransmission).
   */
  readonly signCounterpartyCommitment: (
    keyId: ChannelKeyId,
    state: CommitmentState,
    counterpartyPerCommitmentPoint: PublicKey
  ) => Effect.Effect<CounterpartyCommitmentSignatures, ChannelSignerError>
  /** Our latest validated commitment, with both funding signatures. Refused once revoked. */
  readonly signHolderCommitment: (keyId: ChannelKeyId, commitmentNumber: bigint) => Effect.Effect<SignedHolderCommitment, ChannelSignerError>
  /**
   * A fully signed HTLC-success (with `preimage`) or HTLC-timeout transaction spending HTLC
   * output `htlcIndex` (in `htlc_signatures` order) of our validated commitment.
   *
   * With anchors the HTLC transaction pays no fee: the broadcaster adds inputs and outputs,
   * which the counterparty's SIGHASH_SINGLE|ANYONECANPAY signature allows. Pass that larger
   * transaction as `feeBumped`: its input `inputIndex` must spend the HTLC output with the
   * HTLC transaction's nSequence, its output `inputIndex` must be the HTLC transaction's
   * output (SINGLE pairs them), with the same version and locktime. The result carries the
   * HTLC witness at `inputIndex`; the other inputs are the caller's to sign.
   */
  readonly signHolderHtlcTransaction: (
    keyId: ChannelKeyId,
    commitmentNumber: bigint,
    htlcIndex: number,
    preimage: Uint8Array | undefined,
    feeBumped?: { readonly tx: Transaction; readonly inputIndex: number }
  ) => Effect.Effect<Transaction, ChannelSignerError>
  /** Signs one input spending an output of ours, or a justice input (SIGHASH_ALL). */
  readonly signSpend: (keyId: ChannelKeyId, request: SpendRequest) => Effect.Effect<SpendSignature, ChannelSignerError>
  /** Signs a mutual close transaction (its single input must be the funding output). */
  readonly signClosing: (keyId: ChannelKeyId, tx: Transaction) => Effect.Effect<CompactSignature, ChannelSignerError>
}

export class ChannelSigner extends Context.Service<ChannelSigner, ChannelSignerShape>()("effect-lightning/ChannelSigner") {}
