/**
 * Typed channel errors (BOLT 2). Every receiver MUST of BOLT 2 is one variant, named after the
 * rule, so a test names the rule it checks and the channel actor decides, per variant, between
 * a `warning` and an `error` that fails the channel. A function that returns one of these leaves
 * its input unchanged: nothing was applied.
 *
 * Sections: normal operation (`commitments.ts`, helper E); channel establishment and close
 * (`open.ts`, `close.ts`) append theirs below and extend `ChannelError`.
 */
import { Data } from "effect"
import type { Msat } from "../units.ts"

// ---- Normal operation: update_add_htlc (BOLT 2 "Adding an HTLC: update_add_htlc") ----------------

/** `amount_msat` equal to 0. */
export class HtlcAmountZero extends Data.TaggedError("HtlcAmountZero")<{ readonly id: bigint }> {}

/** `amount_msat` below the receiving node's `htlc_minimum_msat`. */
export class HtlcAmountBelowMinimum extends Data.TaggedError("HtlcAmountBelowMinimum")<{
  readonly id: bigint
  readonly amount: Msat
  readonly minimum: Msat
}> {}

/** `cltv_expiry` greater or equal to 500000000 (a time in seconds, not a block height). */
export class HtlcCltvExpiryTooHigh extends Data.TaggedError("HtlcCltvExpiryTooHigh")<{ readonly id: bigint; readonly cltvExpiry: number }> {}

/** The HTLC `id` is not the next one (a repeated id, or one skipped). */
export class UnexpectedHtlcId extends Data.TaggedError("UnexpectedHtlcId")<{ readonly expected: bigint; readonly received: bigint }> {}

/**
 * The offering node cannot afford the HTLC at the current `feerate_per_kw` while keeping its
 * channel reserve (and, as funder, the commitment fee and the two anchors). `missing` is how
 * far short it falls.
 */
export class HtlcNotAffordable extends Data.TaggedError("HtlcNotAffordable")<{
  readonly id: bigint
  readonly missing: Msat
  readonly reserve: Msat
  readonly fees: Msat
}> {}

/**
 * Sending only (SHOULD NOT): after the HTLC, the funder could not pay the commitment fee at
 * twice the feerate with one more non-dust HTLC (the "fee spike buffer").
 */
export class FeeSpikeBufferNotMet extends Data.TaggedError("FeeSpikeBufferNotMet")<{ readonly missing: Msat }> {}

/**
 * Sending only (SHOULD NOT): the non-funder's HTLC would leave the funder unable to pay the
 * fee of the commitment that includes it while keeping its reserve.
 */
export class FunderCannotAffordFees extends Data.TaggedError("FunderCannotAffordFees")<{ readonly missing: Msat }> {}

/** More than the receiver's `max_accepted_htlcs` HTLCs offered to it in its commitment. */
export class TooManyAcceptedHtlcs extends Data.TaggedError("TooManyAcceptedHtlcs")<{ readonly limit: number; readonly count: number }> {}

/** More than the receiver's `max_htlc_value_in_flight_msat` worth of HTLCs offered to it. */
export class HtlcValueInFlightExceeded extends Data.TaggedError("HtlcValueInFlightExceeded")<{
  readonly limit: Msat
  readonly value: Msat
}> {}

/**
 * BOLT 2 "Bounding exposure to trimmed in-flight HTLCs": the trimmed (dust) HTLCs of one
 * commitment would exceed our `max_dust_htlc_exposure_msat`. An error when sending (SHOULD NOT
 * send) or on `update_fee` (MAY fail the channel); on a received HTLC a notice instead (SHOULD
 * fail it once committed), see `receiveAdd`.
 */
export class DustExposureExceeded extends Data.TaggedError("DustExposureExceeded")<{
  readonly commitment: "local" | "remote"
  readonly exposure: Msat
  readonly limit: Msat
}> {}

// ---- Normal operation: removing an HTLC (BOLT 2 "Removing an HTLC") ------------------------------

/** The `id` does not correspond to an HTLC in the current commitment transaction. */
export class UnknownHtlcId extends Data.TaggedError("UnknownHtlcId")<{ readonly id: bigint }> {}

/** The HTLC already has a fulfill or fail pending: it is removed once only. */
export class HtlcAlreadyRemoved extends Data.TaggedError("HtlcAlreadyRemoved")<{ readonly id: bigint }> {}

/** Sending only: the HTLC is not yet irrevocably committed on both sides, it cannot be removed yet. */
export class HtlcNotIrrevocablyCommitted extends Data.TaggedError("HtlcNotIrrevocablyCommitted")<{ readonly id: bigint }> {}

/** The `payment_preimage` does not SHA256-hash to the HTLC's `payment_hash`. */
export class InvalidPaymentPreimage extends Data.TaggedError("InvalidPaymentPreimage")<{ readonly id: bigint }> {}

/** `update_fail_malformed_htlc` whose `failure_code` lacks the `BADONION` bit. */
export class FailMalformedWithoutBadOnion extends Data.TaggedError("FailMalformedWithoutBadOnion")<{
  readonly id: bigint
  readonly failureCode: number
}> {}

// ---- Normal operation: update_fee (BOLT 2 "Updating Fees: update_fee") ---------------------------

/** `update_fee` sent (or about to be sent) by the node not responsible for the fee. */
export class UpdateFeeFromNonFunder extends Data.TaggedError("UpdateFeeFromNonFunder")<{ readonly sender: "local" | "remote" }> {}

/** `feerate_per_kw` too low for timely processing. */
export class FeerateTooLow extends Data.TaggedError("FeerateTooLow")<{ readonly feeratePerKw: number; readonly minimum: number }> {}

/** `feerate_per_kw` unreasonably large. */
export class FeerateTooHigh extends Data.TaggedError("FeerateTooHigh")<{ readonly feeratePerKw: number; readonly maximum: number }> {}

/** The funder cannot afford the new feerate on the receiver's commitment (while keeping its reserve). */
export class FeerateNotAffordable extends Data.TaggedError("FeerateNotAffordable")<{
  readonly feeratePerKw: number
  readonly missing: Msat
}> {}

// ---- Normal operation: commitment_signed (BOLT 2 "Committing Updates So Far") --------------------

/** A `commitment_signed` that includes no update. */
export class CommitmentSignedWithoutChanges extends Data.TaggedError("CommitmentSignedWithoutChanges")<{}> {}

/**
 * A `commitment_signed` while we have not yet sent the `revoke_and_ack` for the previous one:
 * the peer cannot know our next per-commitment point yet.
 */
export class CommitmentSignedBeforeRevocation extends Data.TaggedError("CommitmentSignedBeforeRevocation")<{}> {}

/** `signature` is not valid (or not low-S) for our next commitment transaction. */
export class InvalidCommitmentSignature extends Data.TaggedError("InvalidCommitmentSignature")<{ readonly commitmentNumber: bigint }> {}

/** `num_htlcs` differs from the number of HTLC outputs of our next commitment transaction. */
export class WrongHtlcSignatureCount extends Data.TaggedError("WrongHtlcSignatureCount")<{
  readonly expected: number
  readonly received: number
}> {}

/** An `htlc_signature` is not valid (or not low-S) for its HTLC transaction. */
export class InvalidHtlcSignature extends Data.TaggedError("InvalidHtlcSignature")<{
  readonly commitmentNumber: bigint
  /** Index in `htlc_signature` (the commitment's HTLC output order). */
  readonly index: number
}> {}

/** The commitment described by the state does not build (a bad per-commitment point, amounts that do not add up). */
export class CommitmentNotBuildable extends Data.TaggedError("CommitmentNotBuildable")<{ readonly reason: string }> {}

// ---- Normal operation: revoke_and_ack (BOLT 2 "Completing the Transition") -----------------------

/** A `revoke_and_ack` while no `commitment_signed` of ours awaits one. */
export class UnexpectedRevokeAndAck extends Data.TaggedError("UnexpectedRevokeAndAck")<{}> {}

/** `per_commitment_secret` is not a valid secret key or does not generate the previous per-commitment point. */
export class InvalidRevocationSecret extends Data.TaggedError("InvalidRevocationSecret")<{ readonly commitmentNumber: bigint }> {}

/** `per_commitment_secret` was not generated as BOLT 3 requires (it does not fit the shachain of the earlier ones). */
export class RevocationSecretNotFromShachain extends Data.TaggedError("RevocationSecretNotFromShachain")<{
  readonly commitmentNumber: bigint
  readonly reason: string
}> {}

/** `next_per_commitment_point` is not a valid point. */
export class InvalidNextPerCommitmentPoint extends Data.TaggedError("InvalidNextPerCommitmentPoint")<{}> {}

// ---- Normal operation: our own commands ----------------------------------------------------------

/** `prepareCommit` with nothing to sign (BOLT 2: MUST NOT send a `commitment_signed` without updates). */
export class NothingToSign extends Data.TaggedError("NothingToSign")<{}> {}

/** `prepareCommit` while our previous `commitment_signed` awaits its `revoke_and_ack` (or its signatures). */
export class AwaitingRevocation extends Data.TaggedError("AwaitingRevocation")<{}> {}

/** `completeCommit` without a preceding `prepareCommit`, or signatures for another commitment. */
export class NoSignatureRequested extends Data.TaggedError("NoSignatureRequested")<{ readonly reason: string }> {}

/** `completeRevoke` while no revocation is owed, or with a secret that is not our previous commitment's. */
export class NoRevocationOwed extends Data.TaggedError("NoRevocationOwed")<{}> {}

/** The signer's secret does not generate the per-commitment point of the commitment being revoked. */
export class SignerSecretMismatch extends Data.TaggedError("SignerSecretMismatch")<{ readonly commitmentNumber: bigint }> {}

/** Every error of normal operation (`commitments.ts`). */
export type CommitmentsError =
  | HtlcAmountZero
  | HtlcAmountBelowMinimum
  | HtlcCltvExpiryTooHigh
  | UnexpectedHtlcId
  | HtlcNotAffordable
  | FeeSpikeBufferNotMet
  | FunderCannotAffordFees
  | TooManyAcceptedHtlcs
  | HtlcValueInFlightExceeded
  | DustExposureExceeded
  | UnknownHtlcId
  | HtlcAlreadyRemoved
  | HtlcNotIrrevocablyCommitted
  | InvalidPaymentPreimage
  | FailMalformedWithoutBadOnion
  | UpdateFeeFromNonFunder
  | FeerateTooLow
  | FeerateTooHigh
  | FeerateNotAffordable
  | CommitmentSignedWithoutChanges
  | CommitmentSignedBeforeRevocation
  | InvalidCommitmentSignature
  | WrongHtlcSignatureCount
  | InvalidHtlcSignature
  | CommitmentNotBuildable
  | UnexpectedRevokeAndAck
  | InvalidRevocationSecret
  | RevocationSecretNotFromShachain
  | InvalidNextPerCommitmentPoint
  | NothingToSign
  | AwaitingRevocation
  | NoSignatureRequested
  | NoRevocationOwed
  | SignerSecretMismatch

/**
 * Every channel error. Establishment and close (helper F) add their variants to this union
 * (`| OpenError | CloseError`).
 */
export type ChannelError = CommitmentsError | OpenError | CloseError

// ---- Channel establishment and close (helper F appends below) ------------------------------------
//
// One class per message (or command), each with a `rule` literal naming the BOLT 2 requirement
// that failed, so tests and the actor match on the rule. A rejected input leaves the state as
// it was; whether to answer with a `warning` or an `error` (failing the channel) is the actor's.

/** A rule of an `open_channel` / `accept_channel` that both messages share ("Other fields have the same requirements"). */
export type ChannelParameterRule =
  | "ToSelfDelayTooLarge"
  | "MaxAcceptedHtlcsTooLarge"
  | "MaxAcceptedHtlcsTooSmall"
  | "InvalidPoint"
  | "DustLimitTooSmall"
  | "DustLimitTooLarge"
  | "ReserveTooLarge"
  | "HtlcMinimumTooLarge"
  | "MaxHtlcValueInFlightTooSmall"
  | "BothBalancesBelowReserve"
  | "ChannelTypeMissing"
  | "InvalidUpfrontShutdownScript"

/** BOLT 2 "The open_channel Message", receiver requirements (we are the fundee). */
export type OpenChannelRule =
  | ChannelParameterRule
  | "UnknownChainHash"
  | "DualFundNegotiated"
  | "FundingTooLarge"
  | "FundingTooSmall"
  | "FundingAbovePolicy"
  | "PushExceedsFunding"
  | "FeerateTooLow"
  | "FeerateTooHigh"
  | "DustLimitAboveReserve"
  | "FunderCannotPayFee"
  | "ChannelTypeUnsupported"
  | "ChannelTypeNotMinimal"
  | "ScidAliasOnAnnouncedChannel"
  | "ZeroConfNotTrusted"

export class OpenChannelRejected extends Data.TaggedError("OpenChannelRejected")<{
  readonly rule: OpenChannelRule
  readonly detail: string
}> {}

/** Our own `open_channel` would break a sender MUST (bad command). */
export type OpenCommandRule =
  | "FundingTooLarge"
  | "PushExceedsFunding"
  | "ScidAliasOnAnnouncedChannel"
  | "FunderCannotPayFee"
  | "ChannelTypeUnsupported"
  | "DustLimitTooSmall"
  | "InvalidTemporaryChannelId"

export class InvalidOpenCommand extends Data.TaggedError("InvalidOpenCommand")<{
  readonly rule: OpenCommandRule
  readonly detail: string
}> {}

/** BOLT 2 "The accept_channel Message", receiver requirements (we are the funder). */
export type AcceptChannelRule =
  | ChannelParameterRule
  | "TemporaryChannelIdMismatch"
  | "MinimumDepthTooLarge"
  | "ZeroConfNonZeroDepth"
  | "ReserveBelowFunderDustLimit"
  | "FunderReserveBelowDustLimit"
  | "ChannelTypeMismatch"

export class AcceptChannelRejected extends Data.TaggedError("AcceptChannelRejected")<{
  readonly rule: AcceptChannelRule
  readonly detail: string
}> {}

/** The funding transaction, `funding_created` and `funding_signed` (BOLT 2, BOLT 3 "Funding Transaction Output"). */
export type FundingRule =
  | "TemporaryChannelIdMismatch"
  | "ChannelIdMismatch"
  | "FundingOutputMissing"
  | "FundingAmountMismatch"
  | "FundingOutputIndexTooLarge"
  | "FundingInputNotSegwit"
  | "InvalidSignature"
  | "CommitmentBuildFailed"

export class FundingRejected extends Data.TaggedError("FundingRejected")<{
  readonly rule: FundingRule
  readonly detail: string
}> {}

/** BOLT 2 "The channel_ready Message". */
export type ChannelReadyRule =
  | "ChannelIdMismatch"
  | "InvalidPoint"
  | "AliasMissing"
  | "SecondPointChanged"
  | "DepthNotReached"

export class ChannelReadyRejected extends Data.TaggedError("ChannelReadyRejected")<{
  readonly rule: ChannelReadyRule
  readonly detail: string
}> {}

/** BOLT 2 "Closing Initiation: shutdown" (sending and receiving), and updates after it. */
export type ShutdownRule =
  | "ChannelIdMismatch"
  | "NotFunded"
  | "InvalidScript"
  | "UpfrontScriptMismatch"
  | "AlreadySent"
  | "AlreadyReceived"
  | "PendingUpdates"
  | "UpdateAfterShutdown"

export class ShutdownRejected extends Data.TaggedError("ShutdownRejected")<{
  readonly rule: ShutdownRule
  readonly detail: string
}> {}

/** BOLT 2 "Legacy Closing Negotiation: closing_signed" and "Closing Negotiation: closing_complete and closing_sig". */
export type ClosingRule =
  | "ChannelIdMismatch"
  | "NotReady"
  | "InvalidSignature"
  | "InvalidFeeRange"
  | "FeeRangeNoOverlap"
  | "FeeOutsideOverlap"
  | "FeeChanged"
  | "FeeNotBetween"
  | "OutputBelowDust"
  | "FeeExceedsBalance"
  | "NoOutputLeft"
  | "LocktimeOutOfRange"
  | "CloseeScriptMismatch"
  | "InvalidCloserScript"
  | "SignatureMissing"
  | "ClosingSigMismatch"
  | "NotExactlyOneSignature"
  | "UnexpectedSignatureVariant"
  | "NoPendingClosingComplete"
  | "ClosingCompletePending"

export class ClosingRejected extends Data.TaggedError("ClosingRejected")<{
  readonly rule: ClosingRule
  readonly detail: string
}> {}

/** Every error of channel establishment (open.ts). */
export type OpenError = OpenChannelRejected | InvalidOpenCommand | AcceptChannelRejected | FundingRejected | ChannelReadyRejected

/** Every error of the close (close.ts). */
export type CloseError = ShutdownRejected | ClosingRejected
