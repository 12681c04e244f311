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
 * The policy state behind those refusals (how far we revoked, the last counterparty commitment
 * signed, the validated holder commitments with the counterparty's signatures, the parameters)
 * must survive a restart: a signer that forgot it would sign what it must refuse. The signer
 * exports it per channel as a `SignerChannelState` (Schema-declared, JSON-encodable, public data
 * only: numbers, keys, txids, the counterparty's signatures, never a secret), the channel layer
 * persists it with the channel after each operation that changes it, and gives it back with
 * `restoreChannel` at start. A state older than what the signer already holds is refused, so a
 * stale copy cannot roll the policy back.
 *
 * Every operation is an Effect (a remote signer is asynchronous). Errors carry reasons and
 * public data only, never key material. Implementations: `src/layers/signer/` (in-process,
 * deterministic from a seed).
 */
import { CommitmentNumberSchema, CommitmentStateSchema, MAX_COMMITMENT_NUMBER } from "../protocol/channel/io.ts"
import { Brand, Context, Data, Schema, type Effect, type Result } from "effect"
import { CompactSignature } from "../protocol/crypto/secp256k1.ts"
import type { ChannelType } from "../protocol/channel-type.ts"
import {
  ChannelBasepointsSchema,
  ChannelTypeNameSchema,
  OutPointSchema,
  SatSchema
} from "../protocol/channel/params.ts"
import type { ChannelBasepoints } from "../protocol/keys/commitment-keys.ts"
import type { PublicKey } from "../protocol/keys/keys.ts"
import type { OutPoint, Transaction, Txid } from "../protocol/tx/bitcoin/transaction.ts"
import type { CommitmentHtlc } from "../protocol/tx/commitment.ts"
import { checkedBrand, type Msat, type Sat } from "../protocol/units.ts"

/**
 * Identifies a channel's keys to the signer (LDK's `channel_keys_id`): 32 bytes chosen by the
 * node when it creates the channel (e.g. from `Entropy`) and persisted with the channel. It is
 * not secret: the keys are derived from it AND the signer's seed.
 */
export type ChannelKeyId = Uint8Array & Brand.Brand<"ChannelKeyId">

/** A channel key id from 32 bytes (a `BrandError` for another length). */
export const ChannelKeyId = checkedBrand<ChannelKeyId>((b) => b.length === 32 || `a channel key id is 32 bytes, got ${b.length}`)

/** A copy of 32 bytes as a channel key id; undefined for another length. */
export const channelKeyId = (bytes: Uint8Array): ChannelKeyId | undefined =>
  bytes.length === 32 ? ChannelKeyId(Uint8Array.from(bytes)) : undefined

/** A 64-byte compact ECDSA signature (r || s, low S): the form BOLT 2 messages carry (`protocol/crypto/secp256k1.ts`). */
export { CompactSignature }

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

/**
 * `restoreChannel` was given a state older than (or conflicting with) what the signer already
 * holds for the channel: restoring it would roll the signer's policy back. Nothing is changed.
 */
export class StaleSignerState extends Data.TaggedError("StaleSignerState")<{ readonly reason: string }> {}

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
  /**
   * The txid of the commitment signed, when the signer gives it (it built that commitment to
   * sign it): the channel's `CounterpartyCommitment` monitor update takes it instead of building
   * the commitment again to learn it. A signer may leave it out.
   */
  readonly txid?: Txid
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
  /**
   * Our `bitcoin_signature` on a `channel_announcement` (BOLT 7): `unsigned` is the message from
   * `len` to its end (what follows the type and the four signatures), of which the signer
   * computes the double-SHA256 itself. Refused (`InvalidSigningRequest`) unless the channel's
   * funding pubkey is `bitcoin_key_1` or `bitcoin_key_2` and, once the parameters are
   * registered, the other key is the counterparty's funding pubkey: it cannot be made to sign
   * an arbitrary digest.
   */
  readonly signChannelAnnouncement: (keyId: ChannelKeyId, unsigned: Uint8Array) => Effect.Effect<CompactSignature, ChannelSignerError>
  /**
   * The signer's policy state of a channel, to persist with the channel (encode it with
   * `SignerChannelStateSchema`). Changes after `readyChannel`, `validateHolderCommitment`,
   * `releaseCommitmentSecret` and `signCounterpartyCommitment`; persist it before acting on
   * what those returned (e.g. before sending `commitment_signed` or `revoke_and_ack`).
   */
  readonly channelState: (keyId: ChannelKeyId) => Effect.Effect<SignerChannelState, InvalidSigningRequest>
  /**
   * Optional: the same value as `channelState`, returned at once by a signer in this process
   * (`undefined` where `channelState` would fail: the caller then asks `channelState` for the
   * error). The channel layer reads it before every write; a remote signer leaves it out.
   */
  readonly channelStateNow?: (keyId: ChannelKeyId) => SignerChannelState | undefined
  /**
   * Restores a channel's policy state (at start, from the channel's store). The state is
   * checked (its key id, its parameters, its numbers, and each held commitment rebuilt with the
   * counterparty's signatures verified: `InvalidSigningRequest` otherwise) and compared with
   * what the signer holds: one that is behind it in any respect (fewer revocations, an older
   * validated or signed commitment, other parameters, a different transaction under a number)
   * is refused with `StaleSignerState`. Restoring the state the signer already holds, or a newer
   * one, succeeds. On failure nothing changes.
   */
  readonly restoreChannel: (keyId: ChannelKeyId, state: SignerChannelState) => Effect.Effect<void, InvalidSigningRequest | StaleSignerState>
}

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))

// The commitment and HTLC schemas are the channel core's own (src/protocol/channel/io.ts).
export { CommitmentHtlcSchema, CommitmentNumberSchema, CommitmentStateSchema, MAX_COMMITMENT_NUMBER } from "../protocol/channel/io.ts"

/** `ChannelParameters` as persisted: the channel type by name. */
export const SignerChannelParametersSchema = Schema.Struct({
  channelType: ChannelTypeNameSchema,
  fundingOutpoint: OutPointSchema,
  fundingAmount: SatSchema,
  holderIsFunder: Schema.Boolean,
  counterpartyBasepoints: ChannelBasepointsSchema,
  holderSelfDelay: Schema.Int,
  counterpartySelfDelay: Schema.Int,
  holderDustLimit: SatSchema,
  counterpartyDustLimit: SatSchema
})
export type SignerChannelParameters = typeof SignerChannelParametersSchema.Type

/** A validated, unrevoked holder commitment: its state and the counterparty's signatures on it. */
export const SignedHolderStateSchema = Schema.Struct({
  state: CommitmentStateSchema,
  counterpartySignature: hexOfLength(64),
  counterpartyHtlcSignatures: Schema.Array(hexOfLength(64))
})

/**
 * What the signer remembers about one channel, to be persisted with the channel and handed back
 * with `restoreChannel` at start. Public data only (no secret, no secret-derived value other
 * than public keys and txids), so it can sit in the channel's store and its JSON.
 */
export const SignerChannelStateSchema = Schema.Struct({
  /** Format version of this record. */
  version: Schema.Literal(1),
  /** The channel's key id (hex), so a state cannot be restored under another channel's keys. */
  keyId: hexOfLength(32),
  /** The parameters registered with `readyChannel`, or null before. */
  parameters: Schema.NullOr(SignerChannelParametersSchema),
  /** Every holder commitment below this number is revoked (its secret released). */
  revokedBelow: Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: MAX_COMMITMENT_NUMBER + 1n }))),
  /** The highest holder commitment number validated, or null. */
  highestValidated: Schema.NullOr(CommitmentNumberSchema),
  /** The last counterparty commitment signed: its number and txid (internal byte order, hex), or null. */
  lastCounterpartySigned: Schema.NullOr(Schema.Struct({ commitmentNumber: CommitmentNumberSchema, txid: hexOfLength(32) })),
  /** The validated, unrevoked holder commitments (at most two), in increasing number. */
  holderCommitments: Schema.Array(SignedHolderStateSchema)
})
export type SignerChannelState = typeof SignerChannelStateSchema.Type

export class ChannelSigner extends Context.Service<ChannelSigner, ChannelSignerShape>()("effect-lightning/ChannelSigner") {}

/**
 * A signer's answers on the commitment path, given at once by a signer in this process: each as
 * the shape's method of the same name (the same checks, the same state change), its value or its
 * typed failure as a `Result`. A channel then signs with no effect per request.
 */
export type ChannelSignerNow = {
  readonly [K in "perCommitmentPoint" | "validateHolderCommitment" | "releaseCommitmentSecret" | "signCounterpartyCommitment"]: AtOnce<ChannelSignerShape[K]>
}

/** A method of the shape answering at once: the same arguments, its value or typed failure as a `Result`. */
type AtOnce<F> = F extends (...args: infer Args) => Effect.Effect<infer A, infer E> ? (...args: Args) => Result.Result<A, E> : never

const signersNow = new WeakMap<ChannelSignerShape, ChannelSignerNow>()

/**
 * Declares `signer`'s answers at once (`ChannelSignerNow`). By object: a wrapper that spreads the
 * fields and replaces a method does not inherit it (its method is never bypassed).
 */
export const declareChannelSignerNow = <S extends ChannelSignerShape>(signer: S, now: ChannelSignerNow): S => {
  signersNow.set(signer, now)
  return signer
}

/** The answers at once `signer` itself declared (`declareChannelSignerNow`), if any. */
export const channelSignerNowOf = (signer: ChannelSignerShape): ChannelSignerNow | undefined => signersNow.get(signer)
