/**
 * BOLT 2 "Channel Establishment v1", as pure rules over plain data and messages: building and
 * validating `open_channel` / `accept_channel`, the bring-your-own funding transaction,
 * `funding_created` / `funding_signed` and `channel_ready`.
 *
 *     funder                                   fundee
 *     makeOpenChannel        --open_channel-->  receiveOpenChannel -> makeAcceptChannel
 *     receiveAcceptChannel  <--accept_channel--
 *       -> FundingNeeded (script, amount); the caller brings a signed tx
 *     fundChannel(tx) -> SignCounterpartyCommitment request
 *     completeFundingCreated(sig) --funding_created--> receiveFundingCreated (verifies)
 *                                                        -> SignCounterpartyCommitment request
 *     receiveFundingSigned (verifies) <--funding_signed-- completeFundingSigned(sig)
 *     makeChannelReady / receiveChannelReady (both sides, at `minimum_depth` or zero-conf)
 *
 * Every function takes everything it needs (keys, points, ids, feerate estimates, chain facts)
 * as arguments and returns a `Result`: a rejected input is a typed error naming the BOLT 2 rule
 * and changes nothing. Nothing here signs: signatures are requested (`SignCounterpartyCommitment`)
 * and passed back in; verification of the peer's signatures is pure (`Secp256k1`).
 */
import { Result, Schema } from "effect"
import { equalBytes } from "../bytes.ts"
import { channelTypeFromBits, type ChannelType } from "../channel-type.ts"
import { ChainHashSchema, ChannelIdSchema, type ChainHash, type ShortChannelId } from "../codec/fields.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { featuresFromBytes, featuresToBytes, type FeatureName } from "../features.ts"
import type { ChannelBasepoints } from "../keys/commitment-keys.ts"
import { parsePublicKey, type PublicKey } from "../keys/keys.ts"
import {
  AcceptChannel,
  CHANNEL_FLAG_ANNOUNCE,
  ChannelReady,
  FundingCreated,
  FundingSigned,
  OpenChannel,
  type AcceptChannel as AcceptChannelMessage,
  type ChannelReady as ChannelReadyMessage,
  type FundingCreated as FundingCreatedMessage,
  type FundingSigned as FundingSignedMessage,
  type OpenChannel as OpenChannelMessage
} from "../messages/channel.ts"
import { decodeTransaction, serializeTransaction, txid, type OutPoint, type Transaction } from "../tx/bitcoin/transaction.ts"
import type { CommitmentHtlc, CommitmentTransaction } from "../tx/commitment.ts"
import { commitmentFee } from "../tx/fees.ts"
import { fundingOutput } from "../tx/funding.ts"
import { isValidShutdownScript } from "../tx/closing.ts"
import { verifyCommitmentSignature } from "../tx/signing.ts"
import { buildCommitmentForSide } from "../tx/view.ts"
import { msat, msatToSat, type ChannelId, type Msat, type Sat } from "../units.ts"
import {
  acceptableFeerateRange,
  channelReserveFor,
  LARGE_CHANNEL_THRESHOLD,
  MAX_ACCEPTED_HTLCS_LIMIT,
  maxHtlcValueInFlightFor,
  MIN_DUST_LIMIT,
  shareOf,
  type ChannelPolicy,
  type LocalChannelConfig
} from "./config.ts"
import {
  AcceptChannelRejected,
  ChannelReadyRejected,
  FundingRejected,
  InvalidOpenCommand,
  OpenChannelRejected,
  type ChannelParameterRule
} from "./errors.ts"
import {
  ChannelParamsSchema,
  channelTypeByName,
  ChannelTypeNameSchema,
  channelView,
  MsatSchema,
  PartyParamsSchema,
  PublicKeySchema,
  SatSchema,
  type ChannelParams,
  type PartyParams
} from "./params.ts"

const hex32 = Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(32, 32)))

// ---- channel_type --------------------------------------------------------------------------------

/** BOLT 9 bits of the `channel_type` variations (`CHANNEL_TYPE_VARIATION_BITS` in channel-type.ts). */
const SCID_ALIAS_BIT = 46
const ZEROCONF_BIT = 50

/** A `channel_type` (BOLT 2 "Defined Channel Types"): a basic type and its variations. */
export const NegotiatedChannelTypeSchema = Schema.Struct({
  name: ChannelTypeNameSchema,
  /** `option_scid_alias` (bit 46). */
  scidAlias: Schema.Boolean,
  /** `option_zeroconf` (bit 50). */
  zeroConf: Schema.Boolean
})
export type NegotiatedChannelType = typeof NegotiatedChannelTypeSchema.Type

/** The `channel_type` TLV value: the smallest big-endian bitmap of the type's even bits. */
export const channelTypeToBytes = (t: NegotiatedChannelType): Uint8Array =>
  featuresToBytes(
    new Set([...channelTypeByName(t.name).featureBits, ...(t.scidAlias ? [SCID_ALIAS_BIT] : []), ...(t.zeroConf ? [ZEROCONF_BIT] : [])])
  )

/**
 * Reads a `channel_type`: a supported basic type with its variations, `"not_minimal"` when the
 * bitmap has leading zero bytes (BOLT 2: "MUST use the smallest bitmap possible"), or
 * `undefined` for an unknown type (odd bits, unknown bits, unsupported combinations).
 */
export const parseChannelType = (bytes: Uint8Array): NegotiatedChannelType | "not_minimal" | undefined => {
  if (bytes.length > 0 && bytes[0] === 0) return "not_minimal" // (an empty bitmap has no bytes[0]: `length > 0` is for the reader)
  const bits = [...featuresFromBytes(bytes)]
  const basic: ChannelType | undefined = channelTypeFromBits(bits)
  if (basic === undefined) return undefined
  return { name: basic.name, scidAlias: bits.includes(SCID_ALIAS_BIT), zeroConf: bits.includes(ZEROCONF_BIT) }
}

// ---- ids -------------------------------------------------------------------------------------------

const isChannelId = (bytes: Uint8Array): bytes is ChannelId => bytes.length === 32

/**
 * BOLT 2 "Definition of channel_id": the funding txid (internal byte order, as in
 * `funding_created`) XOR the output index, big-endian, in the last two bytes.
 */
export const channelIdFromFunding = (fundingTxid: Uint8Array, outputIndex: number): ChannelId => {
  const id = Uint8Array.from(fundingTxid)
  id[30] = (id[30] ?? 0) ^ ((outputIndex >> 8) & 0xff)
  id[31] = (id[31] ?? 0) ^ (outputIndex & 0xff)
  if (!isChannelId(id) || outputIndex < 0 || outputIndex > 0xffff) throw new RangeError("funding txid must be 32 bytes, index a u16")
  return id
}

// ---- the negotiated connection -------------------------------------------------------------------

/** What the caller knows about the connection and the chain when a channel is being opened. */
export interface OpenContext {
  /** The chain this node runs on (`chain_hash`, BOLT 0). */
  readonly chainHash: ChainHash
  /** The features negotiated on this connection (BOLT 1 `init`). */
  readonly features: ReadonlySet<FeatureName>
  /** Our current feerate estimate (sat per 1000 weight), for the feerate sanity rule. */
  readonly feerateEstimatePerKw: number
  /** Whether we trust this peer to open an unconfirmed (`option_zeroconf`) channel with us. */
  readonly peerTrustedForZeroConf: boolean
}

const shutdownScriptOptions = (features: ReadonlySet<FeatureName>) => ({
  anySegwit: features.has("option_shutdown_anysegwit"),
  simpleClose: features.has("option_simple_close")
})

// ---- phase data (Schemas: each is persisted as part of the channel state) ------------------------

/** The funder after sending `open_channel`. */
export const FunderAwaitingAcceptSchema = Schema.Struct({
  chainHash: ChainHashSchema,
  temporaryChannelId: ChannelIdSchema,
  keyId: hex32,
  fundingAmount: SatSchema,
  pushAmount: MsatSchema,
  feeratePerKw: Schema.Int,
  channelType: NegotiatedChannelTypeSchema,
  announce: Schema.Boolean,
  local: PartyParamsSchema,
  localFirstPerCommitmentPoint: PublicKeySchema
})
export type FunderAwaitingAccept = typeof FunderAwaitingAcceptSchema.Type

/**
 * Both sides once `open_channel` and `accept_channel` are agreed, before the funding outpoint
 * is known: the funder awaiting its funding transaction, the fundee awaiting `funding_created`.
 */
export const NegotiatedChannelSchema = Schema.Struct({
  chainHash: ChainHashSchema,
  temporaryChannelId: ChannelIdSchema,
  keyId: hex32,
  localIsFunder: Schema.Boolean,
  fundingAmount: SatSchema,
  pushAmount: MsatSchema,
  feeratePerKw: Schema.Int,
  channelType: NegotiatedChannelTypeSchema,
  announce: Schema.Boolean,
  /** `minimum_depth` of `accept_channel` (0 for zero-conf). */
  minimumDepth: Schema.Int,
  local: PartyParamsSchema,
  remote: PartyParamsSchema,
  localFirstPerCommitmentPoint: PublicKeySchema,
  remoteFirstPerCommitmentPoint: PublicKeySchema
})
export type NegotiatedChannel = typeof NegotiatedChannelSchema.Type

/**
 * The channel once the funding outpoint is known (after `fundChannel` for the funder, after
 * `funding_created` for the fundee): the final `ChannelParams` and what the first commitments
 * are built from. The funder keeps its funding transaction (serialized) to broadcast it once
 * `funding_signed` verified and the first monitor update is stored.
 */
export const FundedChannelSchema = Schema.Struct({
  temporaryChannelId: ChannelIdSchema,
  params: ChannelParamsSchema,
  feeratePerKw: Schema.Int,
  pushAmount: MsatSchema,
  minimumDepth: Schema.Int,
  localFirstPerCommitmentPoint: PublicKeySchema,
  remoteFirstPerCommitmentPoint: PublicKeySchema,
  fundingTx: Schema.optional(Schema.Uint8ArrayFromHex)
})
export type FundedChannel = typeof FundedChannelSchema.Type

/** The funding output the funder's wallet must create (the `FundingNeeded` event). */
export interface FundingNeeded {
  readonly temporaryChannelId: ChannelId
  readonly scriptPubKey: Uint8Array
  readonly witnessScript: Uint8Array
  readonly amount: Sat
}

/**
 * What the `ChannelSigner` is told about the channel (`readyChannel`): the same fields as its
 * `ChannelParameters` ("holder" = us), built here so protocol code does not import services.
 */
export interface SignerChannelParameters {
  readonly channelType: ChannelType
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  readonly holderIsFunder: boolean
  readonly counterpartyBasepoints: ChannelBasepoints
  readonly holderSelfDelay: number
  readonly counterpartySelfDelay: number
  readonly holderDustLimit: Sat
  readonly counterpartyDustLimit: Sat
}

export const signerChannelParameters = (params: ChannelParams): SignerChannelParameters => ({
  channelType: channelTypeByName(params.channelType),
  fundingOutpoint: params.fundingOutpoint,
  fundingAmount: params.fundingAmount,
  holderIsFunder: params.localIsFunder,
  counterpartyBasepoints: params.remote.basepoints,
  // The delay on OUR outputs is the one the peer asked of us (its `to_self_delay`), and vice versa.
  holderSelfDelay: params.remote.toSelfDelay,
  counterpartySelfDelay: params.local.toSelfDelay,
  holderDustLimit: params.local.dustLimit,
  counterpartyDustLimit: params.remote.dustLimit
})

/** One commitment's balances from its OWNER's point of view (the signer's `CommitmentState`). */
export interface CommitmentBalances {
  readonly commitmentNumber: bigint
  readonly feeratePerKw: number
  readonly toLocal: Msat
  readonly toRemote: Msat
  readonly htlcs: ReadonlyArray<CommitmentHtlc>
}

/**
 * Output: ask the signer to sign the counterparty's first commitment (after `readyChannel` with
 * `channel`); the signature comes back into `completeFundingCreated` / `completeFundingSigned`.
 */
export interface SignCounterpartyCommitment {
  readonly _tag: "SignCounterpartyCommitment"
  readonly keyId: Uint8Array
  readonly channel: SignerChannelParameters
  /** The counterparty's commitment, seen from the counterparty (its owner). */
  readonly commitment: CommitmentBalances
  readonly counterpartyPerCommitmentPoint: PublicKey
}

/** Our and their initial balances (msat), from our point of view: the funder holds funding - push. */
export const initialBalances = (c: {
  readonly localIsFunder: boolean
  readonly fundingAmount: Sat
  readonly pushAmount: Msat
}): { readonly toLocal: Msat; readonly toRemote: Msat } => {
  const funder = msat(c.fundingAmount * 1000n - c.pushAmount)
  return c.localIsFunder ? { toLocal: funder, toRemote: c.pushAmount } : { toLocal: c.pushAmount, toRemote: funder }
}

/** The first commitment (number 0) of each side, with the balances each was built from. */
export interface FirstCommitments {
  readonly local: CommitmentTransaction<CommitmentHtlc>
  readonly remote: CommitmentTransaction<CommitmentHtlc>
  /** Our commitment 0 from our view (what the signer's `validateHolderCommitment` takes). */
  readonly localBalances: CommitmentBalances
  /** Their commitment 0 from their view (what `signCounterpartyCommitment` takes). */
  readonly remoteBalances: CommitmentBalances
}

export const firstCommitments = (secp: Secp256k1, funded: FundedChannel): Result.Result<FirstCommitments, FundingRejected> => {
  const { toLocal, toRemote } = initialBalances({
    localIsFunder: funded.params.localIsFunder,
    fundingAmount: funded.params.fundingAmount,
    pushAmount: funded.pushAmount
  })
  const view = channelView(funded.params, { feeratePerKw: funded.feeratePerKw, toLocal, toRemote, htlcs: [] })
  const local = buildCommitmentForSide(secp, view, "local", 0n, funded.localFirstPerCommitmentPoint)
  const remote = buildCommitmentForSide(secp, view, "remote", 0n, funded.remoteFirstPerCommitmentPoint)
  if (Result.isFailure(local)) return Result.fail(new FundingRejected({ rule: "CommitmentBuildFailed", detail: local.failure.reason }))
  if (Result.isFailure(remote)) return Result.fail(new FundingRejected({ rule: "CommitmentBuildFailed", detail: remote.failure.reason })) // unreachable once `local` built: same view, checked points
  return Result.succeed({
    local: local.success,
    remote: remote.success,
    localBalances: { commitmentNumber: 0n, feeratePerKw: funded.feeratePerKw, toLocal, toRemote, htlcs: [] },
    remoteBalances: { commitmentNumber: 0n, feeratePerKw: funded.feeratePerKw, toLocal: toRemote, toRemote: toLocal, htlcs: [] }
  })
}

// ---- shared parameter checks ---------------------------------------------------------------------

/** The funder's balance (sat) on the first commitments and what the commitment fee takes from it. */
const funderAfterFee = (type: ChannelType, fundingAmount: Sat, pushAmount: Msat, feeratePerKw: number): { readonly funder: bigint; readonly charge: bigint } => ({
  funder: msatToSat(msat(fundingAmount * 1000n - pushAmount)),
  charge: commitmentFee(type, feeratePerKw, 0) + 2n * type.anchorAmount
})

interface AnnouncedParams {
  readonly dustLimit: Sat
  readonly maxHtlcValueInFlight: Msat
  readonly channelReserve: Sat
  readonly htlcMinimum: Msat
  readonly toSelfDelay: number
  readonly maxAcceptedHtlcs: number
  readonly points: ReadonlyArray<readonly [string, Uint8Array]>
  readonly upfrontShutdownScript: Uint8Array | undefined
}

type ParameterFailure = { readonly rule: ChannelParameterRule; readonly detail: string }

/**
 * The checks `open_channel` and `accept_channel` share (BOLT 2: "Other fields have the same
 * requirements as their counterparts in `open_channel`"), in the spec's order.
 */
const checkAnnouncedParams = (
  secp: Secp256k1,
  policy: ChannelPolicy,
  features: ReadonlySet<FeatureName>,
  fundingAmount: Sat,
  p: AnnouncedParams
): Result.Result<ReadonlyArray<PublicKey>, ParameterFailure> => {
  const fail = (rule: ChannelParameterRule, detail: string) => Result.fail({ rule, detail })
  if (p.toSelfDelay > policy.maxToSelfDelay) return fail("ToSelfDelayTooLarge", `to_self_delay ${p.toSelfDelay} > ${policy.maxToSelfDelay}`)
  if (p.maxAcceptedHtlcs > MAX_ACCEPTED_HTLCS_LIMIT) return fail("MaxAcceptedHtlcsTooLarge", `max_accepted_htlcs ${p.maxAcceptedHtlcs} > 483`)
  const keys: Array<PublicKey> = []
  for (const [name, bytes] of p.points) {
    const k = parsePublicKey(secp, bytes)
    if (Result.isFailure(k)) return fail("InvalidPoint", `${name} is not a valid compressed secp256k1 point`)
    keys.push(k.success)
  }
  if (p.dustLimit < MIN_DUST_LIMIT) return fail("DustLimitTooSmall", `dust_limit_satoshis ${p.dustLimit} < 354`)
  if (p.dustLimit > policy.maxDustLimit) return fail("DustLimitTooLarge", `dust_limit_satoshis ${p.dustLimit} > ${policy.maxDustLimit}`)
  const maxReserve = shareOf(fundingAmount, policy.maxReserveBasisPoints)
  if (p.channelReserve > maxReserve) return fail("ReserveTooLarge", `channel_reserve_satoshis ${p.channelReserve} > ${maxReserve}`)
  if (p.htlcMinimum > policy.maxHtlcMinimum) return fail("HtlcMinimumTooLarge", `htlc_minimum_msat ${p.htlcMinimum} > ${policy.maxHtlcMinimum}`)
  const minInFlight = shareOf(fundingAmount * 1000n, policy.minMaxHtlcValueInFlightBasisPoints)
  if (p.maxHtlcValueInFlight < minInFlight)
    return fail("MaxHtlcValueInFlightTooSmall", `max_htlc_value_in_flight_msat ${p.maxHtlcValueInFlight} < ${minInFlight}`)
  if (p.maxAcceptedHtlcs < policy.minMaxAcceptedHtlcs)
    return fail("MaxAcceptedHtlcsTooSmall", `max_accepted_htlcs ${p.maxAcceptedHtlcs} < ${policy.minMaxAcceptedHtlcs}`)
  if (p.upfrontShutdownScript !== undefined && p.upfrontShutdownScript.length > 0 && !isValidShutdownScript(p.upfrontShutdownScript, shutdownScriptOptions(features)))
    return fail("InvalidUpfrontShutdownScript", "upfront_shutdown_script is not an allowed shutdown scriptpubkey form")
  return Result.succeed(keys)
}

const basepointsOf = (keys: ReadonlyArray<PublicKey>): { readonly basepoints: ChannelBasepoints; readonly firstPoint: PublicKey } | undefined => {
  const [fundingPubkey, revocationBasepoint, paymentBasepoint, delayedPaymentBasepoint, htlcBasepoint, firstPoint] = keys // always six (checkAnnouncedParams): the undefined tests are for the types
  // Stryker disable ConditionalExpression,LogicalOperator,EqualityOperator: unreachable, the six keys are always there (see above).
  if (
    fundingPubkey === undefined ||
    revocationBasepoint === undefined ||
    paymentBasepoint === undefined ||
    delayedPaymentBasepoint === undefined ||
    htlcBasepoint === undefined ||
    firstPoint === undefined
  )
    return undefined
  // Stryker restore ConditionalExpression,LogicalOperator,EqualityOperator
  return { basepoints: { fundingPubkey, revocationBasepoint, paymentBasepoint, delayedPaymentBasepoint, htlcBasepoint }, firstPoint }
}

const messagePoints = (m: {
  readonly fundingPubkey: Uint8Array
  readonly revocationBasepoint: Uint8Array
  readonly paymentBasepoint: Uint8Array
  readonly delayedPaymentBasepoint: Uint8Array
  readonly htlcBasepoint: Uint8Array
  readonly firstPerCommitmentPoint: Uint8Array
}): ReadonlyArray<readonly [string, Uint8Array]> => [
  ["funding_pubkey", m.fundingPubkey],
  ["revocation_basepoint", m.revocationBasepoint],
  ["payment_basepoint", m.paymentBasepoint],
  ["delayed_payment_basepoint", m.delayedPaymentBasepoint],
  ["htlc_basepoint", m.htlcBasepoint],
  ["first_per_commitment_point", m.firstPerCommitmentPoint]
]

const nonEmpty = (script: Uint8Array | undefined): Uint8Array | undefined => (script !== undefined && script.length > 0 ? script : undefined)

const withUpfront = (p: Omit<PartyParams, "upfrontShutdownScript">, script: Uint8Array | undefined): PartyParams =>
  script === undefined ? p : { ...p, upfrontShutdownScript: script }

// ---- open_channel (funder) -----------------------------------------------------------------------

/** Our command to open a channel: every input is given (ids, keys, points, feerate). */
export interface OpenChannelCommand {
  readonly chainHash: ChainHash
  /** Unique among our channels with this peer (the caller draws it at random). */
  readonly temporaryChannelId: ChannelId
  /** The signer's key id for this channel (32 bytes). */
  readonly keyId: Uint8Array
  readonly fundingAmount: Sat
  readonly pushAmount: Msat
  readonly feeratePerKw: number
  readonly channelType: NegotiatedChannelType
  /** `announce_channel` (`channel_flags` bit 0). */
  readonly announce: boolean
  readonly basepoints: ChannelBasepoints
  /** Our per-commitment point for commitment 0. */
  readonly firstPerCommitmentPoint: PublicKey
}

/**
 * Builds our `open_channel` (BOLT 2 "The open_channel Message", sender requirements) from our
 * config and the command; fails when the command would break a sender MUST.
 */
export const makeOpenChannel = (
  config: LocalChannelConfig,
  features: ReadonlySet<FeatureName>,
  cmd: OpenChannelCommand
): Result.Result<{ readonly message: OpenChannelMessage; readonly state: FunderAwaitingAccept }, InvalidOpenCommand> => {
  const fail = (rule: InvalidOpenCommand["rule"], detail: string) => Result.fail(new InvalidOpenCommand({ rule, detail }))
  if (cmd.temporaryChannelId.length !== 32 || cmd.keyId.length !== 32) return fail("InvalidTemporaryChannelId", "temporary channel id and key id must be 32 bytes")
  if (cmd.fundingAmount >= LARGE_CHANNEL_THRESHOLD && !features.has("option_support_large_channel"))
    return fail("FundingTooLarge", "funding_satoshis >= 2^24 needs option_support_large_channel on both sides")
  if (cmd.pushAmount < 0n || cmd.pushAmount > cmd.fundingAmount * 1000n) return fail("PushExceedsFunding", "push_msat must be <= 1000 * funding_satoshis")
  if (cmd.announce && cmd.channelType.scidAlias) return fail("ScidAliasOnAnnouncedChannel", "an announced channel must not use option_scid_alias")
  if (config.dustLimit < MIN_DUST_LIMIT) return fail("DustLimitTooSmall", "our dust_limit_satoshis must be >= 354")
  const type = channelTypeByName(cmd.channelType.name)
  const { funder, charge } = funderAfterFee(type, cmd.fundingAmount, cmd.pushAmount, cmd.feeratePerKw)
  if (funder < charge) return fail("FunderCannotPayFee", `our balance ${funder} sat cannot pay the first commitment's ${charge} sat`)
  const local = withUpfront(
    {
      dustLimit: config.dustLimit,
      maxHtlcValueInFlight: maxHtlcValueInFlightFor(config, cmd.fundingAmount),
      channelReserve: channelReserveFor(config, cmd.fundingAmount),
      htlcMinimum: config.htlcMinimum,
      toSelfDelay: config.toSelfDelay,
      maxAcceptedHtlcs: config.maxAcceptedHtlcs,
      basepoints: cmd.basepoints
    },
    nonEmpty(config.upfrontShutdownScript)
  )
  const message = OpenChannel.make(
    {
      chainHash: cmd.chainHash,
      temporaryChannelId: cmd.temporaryChannelId,
      fundingSatoshis: cmd.fundingAmount,
      pushMsat: cmd.pushAmount,
      dustLimitSatoshis: local.dustLimit,
      maxHtlcValueInFlightMsat: local.maxHtlcValueInFlight,
      channelReserveSatoshis: local.channelReserve,
      htlcMinimumMsat: local.htlcMinimum,
      feeratePerKw: cmd.feeratePerKw,
      toSelfDelay: local.toSelfDelay,
      maxAcceptedHtlcs: local.maxAcceptedHtlcs,
      fundingPubkey: cmd.basepoints.fundingPubkey,
      revocationBasepoint: cmd.basepoints.revocationBasepoint,
      paymentBasepoint: cmd.basepoints.paymentBasepoint,
      delayedPaymentBasepoint: cmd.basepoints.delayedPaymentBasepoint,
      htlcBasepoint: cmd.basepoints.htlcBasepoint,
      firstPerCommitmentPoint: cmd.firstPerCommitmentPoint,
      channelFlags: cmd.announce ? CHANNEL_FLAG_ANNOUNCE : 0
    },
    // "if it includes open_channel_tlvs: MUST include upfront_shutdown_script" (zero-length = none).
    { upfrontShutdownScript: local.upfrontShutdownScript ?? new Uint8Array(0), channelType: channelTypeToBytes(cmd.channelType) }
  )
  return Result.succeed({
    message,
    state: {
      chainHash: cmd.chainHash,
      temporaryChannelId: cmd.temporaryChannelId,
      keyId: Uint8Array.from(cmd.keyId),
      fundingAmount: cmd.fundingAmount,
      pushAmount: cmd.pushAmount,
      feeratePerKw: cmd.feeratePerKw,
      channelType: cmd.channelType,
      announce: cmd.announce,
      local,
      localFirstPerCommitmentPoint: cmd.firstPerCommitmentPoint
    }
  })
}

// ---- open_channel (fundee) -----------------------------------------------------------------------

/** A received `open_channel` that passed every check: the funder's parameters, validated. */
export interface ValidatedOpenChannel {
  readonly chainHash: ChainHash
  readonly temporaryChannelId: ChannelId
  readonly fundingAmount: Sat
  readonly pushAmount: Msat
  readonly feeratePerKw: number
  readonly channelType: NegotiatedChannelType
  readonly announce: boolean
  readonly remote: PartyParams
  readonly remoteFirstPerCommitmentPoint: PublicKey
}

/**
 * Validates a received `open_channel` (BOLT 2 "The open_channel Message", receiver: every MUST
 * and, through `policy`, the MAY-fail rules).
 */
export const receiveOpenChannel = (
  secp: Secp256k1,
  policy: ChannelPolicy,
  ctx: OpenContext,
  m: OpenChannelMessage
): Result.Result<ValidatedOpenChannel, OpenChannelRejected> => {
  const fail = (rule: OpenChannelRejected["rule"], detail: string) => Result.fail(new OpenChannelRejected({ rule, detail }))
  if (!equalBytes(m.chainHash, ctx.chainHash)) return fail("UnknownChainHash", "chain_hash is not our chain")
  if (ctx.features.has("option_dual_fund")) return fail("DualFundNegotiated", "option_dual_fund negotiated: open_channel2 must be used")
  // channel_type: required by the current spec, a defined type we support, minimal, allowed variations.
  const rawType = m.tlvs.channelType
  if (rawType === undefined) return fail("ChannelTypeMissing", "open_channel without channel_type")
  const channelType = parseChannelType(rawType)
  if (channelType === "not_minimal") return fail("ChannelTypeNotMinimal", "channel_type is not the smallest bitmap")
  if (channelType === undefined) return fail("ChannelTypeUnsupported", "unknown channel_type")
  if (channelType.name === "anchors_zero_fee_htlc_tx" && !policy.acceptAnchors) return fail("ChannelTypeUnsupported", "anchors channels are not accepted")
  if (channelType.scidAlias && !policy.acceptScidAlias) return fail("ChannelTypeUnsupported", "option_scid_alias channels are not accepted")
  const announce = (m.channelFlags & CHANNEL_FLAG_ANNOUNCE) !== 0
  if (announce && channelType.scidAlias) return fail("ScidAliasOnAnnouncedChannel", "announce_channel with option_scid_alias")
  if (channelType.zeroConf && !(policy.acceptZeroConf && ctx.peerTrustedForZeroConf))
    return fail("ZeroConfNotTrusted", "option_zeroconf from a peer we do not trust")
  // Funding and push.
  if (m.fundingSatoshis >= LARGE_CHANNEL_THRESHOLD && !(ctx.features.has("option_support_large_channel") && policy.acceptLargeChannels))
    return fail("FundingTooLarge", `funding_satoshis ${m.fundingSatoshis} >= 2^24 without option_support_large_channel`)
  if (m.fundingSatoshis < policy.minFunding) return fail("FundingTooSmall", `funding_satoshis ${m.fundingSatoshis} < ${policy.minFunding}`)
  if (m.fundingSatoshis > policy.maxFunding) return fail("FundingAbovePolicy", `funding_satoshis ${m.fundingSatoshis} > ${policy.maxFunding}`)
  if (m.pushMsat > m.fundingSatoshis * 1000n) return fail("PushExceedsFunding", "push_msat > 1000 * funding_satoshis")
  // Feerate sanity.
  const type = channelTypeByName(channelType.name)
  const range = acceptableFeerateRange(policy, ctx.feerateEstimatePerKw, type.anchors)
  if (m.feeratePerKw < range.min) return fail("FeerateTooLow", `feerate_per_kw ${m.feeratePerKw} < ${range.min}`)
  if (m.feeratePerKw > range.max) return fail("FeerateTooHigh", `feerate_per_kw ${m.feeratePerKw} > ${range.max}`)
  const checked = checkAnnouncedParams(secp, policy, ctx.features, m.fundingSatoshis, {
    dustLimit: m.dustLimitSatoshis,
    maxHtlcValueInFlight: m.maxHtlcValueInFlightMsat,
    channelReserve: m.channelReserveSatoshis,
    htlcMinimum: m.htlcMinimumMsat,
    toSelfDelay: m.toSelfDelay,
    maxAcceptedHtlcs: m.maxAcceptedHtlcs,
    points: messagePoints(m),
    upfrontShutdownScript: m.tlvs.upfrontShutdownScript
  })
  if (Result.isFailure(checked)) return fail(checked.failure.rule, checked.failure.detail)
  if (m.dustLimitSatoshis > m.channelReserveSatoshis)
    return fail("DustLimitAboveReserve", `dust_limit_satoshis ${m.dustLimitSatoshis} > channel_reserve_satoshis ${m.channelReserveSatoshis}`)
  // The first commitments: the funder pays the fee; someone has more than the reserve.
  const { funder, charge } = funderAfterFee(type, m.fundingSatoshis, m.pushMsat, m.feeratePerKw)
  if (funder < charge) return fail("FunderCannotPayFee", `funder's ${funder} sat cannot pay the first commitment's ${charge} sat`)
  if (funder - charge <= m.channelReserveSatoshis && msatToSat(m.pushMsat) <= m.channelReserveSatoshis)
    return fail("BothBalancesBelowReserve", "both initial balances are <= channel_reserve_satoshis")
  const keys = basepointsOf(checked.success)
  if (keys === undefined) return fail("InvalidPoint", "missing point") // unreachable: six points were checked
  return Result.succeed({
    chainHash: m.chainHash,
    temporaryChannelId: m.temporaryChannelId,
    fundingAmount: m.fundingSatoshis,
    pushAmount: m.pushMsat,
    feeratePerKw: m.feeratePerKw,
    channelType,
    announce,
    remote: withUpfront(
      {
        dustLimit: m.dustLimitSatoshis,
        maxHtlcValueInFlight: m.maxHtlcValueInFlightMsat,
        channelReserve: m.channelReserveSatoshis,
        htlcMinimum: m.htlcMinimumMsat,
        toSelfDelay: m.toSelfDelay,
        maxAcceptedHtlcs: m.maxAcceptedHtlcs,
        basepoints: keys.basepoints
      },
      nonEmpty(m.tlvs.upfrontShutdownScript)
    ),
    remoteFirstPerCommitmentPoint: keys.firstPoint
  })
}

// ---- accept_channel (fundee) ---------------------------------------------------------------------

/** Our side of an `accept_channel`: keys and points from the signer, the key id for this channel. */
export interface AcceptChannelCommand {
  readonly keyId: Uint8Array
  readonly basepoints: ChannelBasepoints
  readonly firstPerCommitmentPoint: PublicKey
}

/**
 * Builds our `accept_channel` for a validated `open_channel` (BOLT 2 "The accept_channel
 * Message", sender): same temporary id and channel type; our reserve >= the funder's dust
 * limit; our dust limit <= the funder's reserve (lowered to it if our config asks more);
 * `minimum_depth` 0 for zero-conf.
 */
export const makeAcceptChannel = (
  config: LocalChannelConfig,
  open: ValidatedOpenChannel,
  cmd: AcceptChannelCommand
): { readonly message: AcceptChannelMessage; readonly state: NegotiatedChannel } => {
  // Stryker disable next-line EqualityOperator: equivalent, `<` picks the same value when the two are equal.
  const dustLimit = config.dustLimit <= open.remote.channelReserve ? config.dustLimit : open.remote.channelReserve
  const local = withUpfront(
    {
      dustLimit,
      maxHtlcValueInFlight: maxHtlcValueInFlightFor(config, open.fundingAmount),
      channelReserve: channelReserveFor({ ...config, dustLimit }, open.fundingAmount, open.remote.dustLimit),
      htlcMinimum: config.htlcMinimum,
      toSelfDelay: config.toSelfDelay,
      maxAcceptedHtlcs: config.maxAcceptedHtlcs,
      basepoints: cmd.basepoints
    },
    nonEmpty(config.upfrontShutdownScript)
  )
  const minimumDepth = open.channelType.zeroConf ? 0 : config.minimumDepth
  const message = AcceptChannel.make(
    {
      temporaryChannelId: open.temporaryChannelId,
      dustLimitSatoshis: local.dustLimit,
      maxHtlcValueInFlightMsat: local.maxHtlcValueInFlight,
      channelReserveSatoshis: local.channelReserve,
      htlcMinimumMsat: local.htlcMinimum,
      minimumDepth,
      toSelfDelay: local.toSelfDelay,
      maxAcceptedHtlcs: local.maxAcceptedHtlcs,
      fundingPubkey: cmd.basepoints.fundingPubkey,
      revocationBasepoint: cmd.basepoints.revocationBasepoint,
      paymentBasepoint: cmd.basepoints.paymentBasepoint,
      delayedPaymentBasepoint: cmd.basepoints.delayedPaymentBasepoint,
      htlcBasepoint: cmd.basepoints.htlcBasepoint,
      firstPerCommitmentPoint: cmd.firstPerCommitmentPoint
    },
    { upfrontShutdownScript: local.upfrontShutdownScript ?? new Uint8Array(0), channelType: channelTypeToBytes(open.channelType) }
  )
  return {
    message,
    state: {
      chainHash: open.chainHash,
      temporaryChannelId: open.temporaryChannelId,
      keyId: Uint8Array.from(cmd.keyId),
      localIsFunder: false,
      fundingAmount: open.fundingAmount,
      pushAmount: open.pushAmount,
      feeratePerKw: open.feeratePerKw,
      channelType: open.channelType,
      announce: open.announce,
      minimumDepth,
      local,
      remote: open.remote,
      localFirstPerCommitmentPoint: cmd.firstPerCommitmentPoint,
      remoteFirstPerCommitmentPoint: open.remoteFirstPerCommitmentPoint
    }
  }
}

// ---- accept_channel (funder) ---------------------------------------------------------------------

/**
 * Validates the fundee's `accept_channel` (BOLT 2 receiver requirements, plus the `open_channel`
 * counterparts) and gives the funding output the wallet must create (`FundingNeeded`).
 */
export const receiveAcceptChannel = (
  secp: Secp256k1,
  policy: ChannelPolicy,
  features: ReadonlySet<FeatureName>,
  state: FunderAwaitingAccept,
  m: AcceptChannelMessage
): Result.Result<{ readonly state: NegotiatedChannel; readonly fundingNeeded: FundingNeeded }, AcceptChannelRejected> => {
  const fail = (rule: AcceptChannelRejected["rule"], detail: string) => Result.fail(new AcceptChannelRejected({ rule, detail }))
  if (!equalBytes(m.temporaryChannelId, state.temporaryChannelId)) return fail("TemporaryChannelIdMismatch", "temporary_channel_id differs from open_channel's")
  const rawType = m.tlvs.channelType
  if (rawType === undefined) return fail("ChannelTypeMissing", "accept_channel without channel_type")
  if (!equalBytes(rawType, channelTypeToBytes(state.channelType))) return fail("ChannelTypeMismatch", "channel_type differs from open_channel's")
  if (state.channelType.zeroConf && m.minimumDepth !== 0) return fail("ZeroConfNonZeroDepth", "option_zeroconf requires minimum_depth 0")
  if (m.minimumDepth > policy.maxMinimumDepth) return fail("MinimumDepthTooLarge", `minimum_depth ${m.minimumDepth} > ${policy.maxMinimumDepth}`)
  if (m.channelReserveSatoshis < state.local.dustLimit)
    return fail("ReserveBelowFunderDustLimit", `channel_reserve_satoshis ${m.channelReserveSatoshis} < our dust_limit_satoshis ${state.local.dustLimit}`)
  if (state.local.channelReserve < m.dustLimitSatoshis)
    return fail("FunderReserveBelowDustLimit", `our channel_reserve_satoshis ${state.local.channelReserve} < dust_limit_satoshis ${m.dustLimitSatoshis}`)
  const checked = checkAnnouncedParams(secp, policy, features, state.fundingAmount, {
    dustLimit: m.dustLimitSatoshis,
    maxHtlcValueInFlight: m.maxHtlcValueInFlightMsat,
    channelReserve: m.channelReserveSatoshis,
    htlcMinimum: m.htlcMinimumMsat,
    toSelfDelay: m.toSelfDelay,
    maxAcceptedHtlcs: m.maxAcceptedHtlcs,
    points: messagePoints(m),
    upfrontShutdownScript: m.tlvs.upfrontShutdownScript
  })
  if (Result.isFailure(checked)) return fail(checked.failure.rule, checked.failure.detail)
  const type = channelTypeByName(state.channelType.name)
  const { funder, charge } = funderAfterFee(type, state.fundingAmount, state.pushAmount, state.feeratePerKw)
  if (funder - charge <= m.channelReserveSatoshis && msatToSat(state.pushAmount) <= m.channelReserveSatoshis)
    return fail("BothBalancesBelowReserve", "both initial balances are <= channel_reserve_satoshis")
  const keys = basepointsOf(checked.success)
  if (keys === undefined) return fail("InvalidPoint", "missing point") // unreachable
  const negotiated: NegotiatedChannel = {
    chainHash: state.chainHash,
    temporaryChannelId: state.temporaryChannelId,
    keyId: state.keyId,
    localIsFunder: true,
    fundingAmount: state.fundingAmount,
    pushAmount: state.pushAmount,
    feeratePerKw: state.feeratePerKw,
    channelType: state.channelType,
    announce: state.announce,
    minimumDepth: m.minimumDepth,
    local: state.local,
    remote: withUpfront(
      {
        dustLimit: m.dustLimitSatoshis,
        maxHtlcValueInFlight: m.maxHtlcValueInFlightMsat,
        channelReserve: m.channelReserveSatoshis,
        htlcMinimum: m.htlcMinimumMsat,
        toSelfDelay: m.toSelfDelay,
        maxAcceptedHtlcs: m.maxAcceptedHtlcs,
        basepoints: keys.basepoints
      },
      nonEmpty(m.tlvs.upfrontShutdownScript)
    ),
    localFirstPerCommitmentPoint: state.localFirstPerCommitmentPoint,
    remoteFirstPerCommitmentPoint: keys.firstPoint
  }
  return Result.succeed({ state: negotiated, fundingNeeded: fundingNeededFor(negotiated) })
}

/** The funding output (BOLT 3 "Funding Transaction Output") the funder's transaction must pay. */
export const fundingNeededFor = (c: NegotiatedChannel): FundingNeeded => {
  const out = fundingOutput(c.fundingAmount, c.local.basepoints.fundingPubkey, c.remote.basepoints.fundingPubkey)
  return { temporaryChannelId: c.temporaryChannelId, scriptPubKey: out.scriptPubKey, witnessScript: out.witnessScript, amount: c.fundingAmount }
}

// ---- funding ---------------------------------------------------------------------------------------

const paramsFor = (c: NegotiatedChannel, fundingOutpoint: OutPoint): ChannelParams => ({
  chainHash: c.chainHash,
  channelId: channelIdFromFunding(fundingOutpoint.txid, fundingOutpoint.vout),
  channelType: c.channelType.name,
  scidAlias: c.channelType.scidAlias,
  zeroConf: c.channelType.zeroConf,
  localIsFunder: c.localIsFunder,
  fundingAmount: c.fundingAmount,
  fundingOutpoint,
  keyId: c.keyId,
  announce: c.announce,
  local: c.local,
  remote: c.remote
})

const fundedFrom = (c: NegotiatedChannel, fundingOutpoint: OutPoint, fundingTx: Uint8Array | undefined): FundedChannel => {
  const base = {
    temporaryChannelId: c.temporaryChannelId,
    params: paramsFor(c, fundingOutpoint),
    feeratePerKw: c.feeratePerKw,
    pushAmount: c.pushAmount,
    minimumDepth: c.minimumDepth,
    localFirstPerCommitmentPoint: c.localFirstPerCommitmentPoint,
    remoteFirstPerCommitmentPoint: c.remoteFirstPerCommitmentPoint
  }
  return fundingTx === undefined ? base : { ...base, fundingTx }
}

const signRequestFor = (funded: FundedChannel, first: FirstCommitments): SignCounterpartyCommitment => ({
  _tag: "SignCounterpartyCommitment",
  keyId: funded.params.keyId,
  channel: signerChannelParameters(funded.params),
  commitment: first.remoteBalances,
  counterpartyPerCommitmentPoint: funded.remoteFirstPerCommitmentPoint
})

/**
 * The funder brings its signed funding transaction (`fundChannel(temporaryId, tx)`): it must
 * pay exactly `funding_satoshis` to the funding script (BOLT 3) at an index that fits
 * `funding_output_index` (u16), and spend only segwit inputs (BOLT 2: a non-malleable
 * transaction; every input carries a witness). Gives the final `ChannelParams` and the request
 * to sign the fundee's first commitment. The transaction is kept, NOT to be broadcast before
 * `funding_signed` verified and the first monitor update is stored.
 */
export const fundChannel = (
  secp: Secp256k1,
  state: NegotiatedChannel,
  temporaryChannelId: ChannelId,
  tx: Transaction
): Result.Result<{ readonly state: FundedChannel; readonly first: FirstCommitments; readonly signRequest: SignCounterpartyCommitment }, FundingRejected> => {
  const fail = (rule: FundingRejected["rule"], detail: string) => Result.fail(new FundingRejected({ rule, detail }))
  if (!equalBytes(temporaryChannelId, state.temporaryChannelId)) return fail("TemporaryChannelIdMismatch", "unknown temporary channel id")
  const needed = fundingNeededFor(state)
  const index = tx.outputs.findIndex((o) => equalBytes(o.scriptPubKey, needed.scriptPubKey))
  if (index < 0) return fail("FundingOutputMissing", "the transaction has no output to the funding script")
  const output = tx.outputs[index]
  if (output === undefined || output.value !== needed.amount) return fail("FundingAmountMismatch", `the funding output pays ${output?.value} sat, not ${needed.amount}`) // output is defined here (index >= 0)
  if (index > 0xffff) return fail("FundingOutputIndexTooLarge", "funding_output_index must fit in a u16")
  if (tx.inputs.length === 0 || tx.inputs.some((i) => i.witness.length === 0))
    return fail("FundingInputNotSegwit", "every funding input must be a segwit spend (non-malleable txid)")
  const funded = fundedFrom(state, { txid: txid(tx), vout: index }, serializeTransaction(tx))
  return Result.map(firstCommitments(secp, funded), (first) => ({ state: funded, first, signRequest: signRequestFor(funded, first) }))
}

/** The funder's `funding_created` once the signer signed the fundee's first commitment. */
export const completeFundingCreated = (funded: FundedChannel, signature: Uint8Array): FundingCreatedMessage =>
  FundingCreated.make({
    temporaryChannelId: funded.temporaryChannelId,
    fundingTxid: funded.params.fundingOutpoint.txid,
    fundingOutputIndex: funded.params.fundingOutpoint.vout,
    signature
  })

/**
 * The fundee receives `funding_created`: learns the outpoint, verifies the funder's signature
 * on OUR first commitment (BOLT 2: incorrect or high-S -> fail), and asks the signer for ours
 * on theirs. `first.local` with `remoteSignature` is what the signer's `validateHolderCommitment`
 * and the monitor's first update record.
 */
export const receiveFundingCreated = (
  secp: Secp256k1,
  state: NegotiatedChannel,
  m: FundingCreatedMessage
): Result.Result<
  {
    readonly state: FundedChannel
    readonly first: FirstCommitments
    readonly remoteSignature: Uint8Array
    readonly signRequest: SignCounterpartyCommitment
  },
  FundingRejected
> => {
  const fail = (rule: FundingRejected["rule"], detail: string) => Result.fail(new FundingRejected({ rule, detail }))
  if (!equalBytes(m.temporaryChannelId, state.temporaryChannelId)) return fail("TemporaryChannelIdMismatch", "temporary_channel_id differs from open_channel's")
  const funded = fundedFrom(state, { txid: m.fundingTxid, vout: m.fundingOutputIndex }, undefined)
  const first = firstCommitments(secp, funded)
  // (Unreachable: the same balances and points built both first commitments when the open was
  // accepted; `false` for this test is equivalent, `true` is not.)
  if (Result.isFailure(first)) return Result.fail(first.failure)
  if (!verifyCommitmentSignature(secp, first.success.local, m.signature, state.remote.basepoints.fundingPubkey))
    return fail("InvalidSignature", "funding_created signature does not verify on our first commitment")
  return Result.succeed({ state: funded, first: first.success, remoteSignature: m.signature, signRequest: signRequestFor(funded, first.success) })
}

/** The fundee's `funding_signed` once the signer signed the funder's first commitment. */
export const completeFundingSigned = (funded: FundedChannel, signature: Uint8Array): FundingSignedMessage =>
  FundingSigned.make({ channelId: funded.params.channelId, signature })

/**
 * The funder receives `funding_signed`: the channel id must be the one derived from the
 * funding outpoint, and the signature must verify on OUR first commitment. Then (and only then,
 * after the first monitor update is stored) the funding transaction may be broadcast: it is
 * returned decoded.
 */
export const receiveFundingSigned = (
  secp: Secp256k1,
  funded: FundedChannel,
  m: FundingSignedMessage
): Result.Result<
  { readonly first: FirstCommitments; readonly remoteSignature: Uint8Array; readonly fundingTx: Transaction | undefined },
  FundingRejected
> => {
  const fail = (rule: FundingRejected["rule"], detail: string) => Result.fail(new FundingRejected({ rule, detail }))
  if (!equalBytes(m.channelId, funded.params.channelId)) return fail("ChannelIdMismatch", "funding_signed for another channel id")
  const first = firstCommitments(secp, funded)
  // (Unreachable, as in receiveFundingCreated: fundChannel built these commitments already.)
  if (Result.isFailure(first)) return Result.fail(first.failure)
  if (!verifyCommitmentSignature(secp, first.success.local, m.signature, funded.params.remote.basepoints.fundingPubkey))
    return fail("InvalidSignature", "funding_signed signature does not verify on our first commitment")
  const decoded = funded.fundingTx === undefined ? undefined : decodeTransaction(funded.fundingTx)
  const fundingTx = decoded !== undefined && Result.isSuccess(decoded) ? decoded.success : undefined
  return Result.succeed({ first: first.success, remoteSignature: m.signature, fundingTx })
}

// ---- channel_ready -------------------------------------------------------------------------------

/**
 * Whether we may send `channel_ready` (BOLT 2): the funding output reached `minimum_depth`
 * confirmations (`depth` from chain facts; undefined = not seen), or the channel is zero-conf.
 */
// (`depth !== undefined` read as `true` is equivalent: `undefined >= n` is false too.)
export const fundingDepthReached = (params: ChannelParams, minimumDepth: number, depth: number | undefined): boolean =>
  params.zeroConf || (depth !== undefined && depth >= Math.max(1, minimumDepth))

/**
 * Builds `channel_ready` with our per-commitment point for commitment 1 and, with
 * `option_scid_alias` (MUST) or whenever the caller gives one (MAY), an alias.
 */
export const makeChannelReady = (
  params: ChannelParams,
  input: {
    readonly minimumDepth: number
    readonly depth: number | undefined
    readonly secondPerCommitmentPoint: PublicKey
    readonly alias: ShortChannelId | undefined
  }
): Result.Result<ChannelReadyMessage, ChannelReadyRejected> => {
  if (params.scidAlias && input.alias === undefined)
    return Result.fail(new ChannelReadyRejected({ rule: "AliasMissing", detail: "option_scid_alias: channel_ready must carry an alias" }))
  if (!fundingDepthReached(params, input.minimumDepth, input.depth))
    return Result.fail(new ChannelReadyRejected({ rule: "DepthNotReached", detail: `funding depth ${input.depth ?? "unseen"} < ${input.minimumDepth}` }))
  return Result.succeed(
    ChannelReady.make(
      { channelId: params.channelId, secondPerCommitmentPoint: input.secondPerCommitmentPoint },
      input.alias === undefined ? {} : { shortChannelId: input.alias }
    )
  )
}

/**
 * Validates a received `channel_ready`: our channel, a valid point, an alias when
 * `option_scid_alias` was negotiated, and (for a repeated one, e.g. after reconnection) the same
 * point as before; a new alias is allowed (BOLT 2: MAY send several).
 */
export const receiveChannelReady = (
  secp: Secp256k1,
  params: ChannelParams,
  previousPoint: PublicKey | undefined,
  m: ChannelReadyMessage
): Result.Result<{ readonly secondPerCommitmentPoint: PublicKey; readonly alias: ShortChannelId | undefined }, ChannelReadyRejected> => {
  const fail = (rule: ChannelReadyRejected["rule"], detail: string) => Result.fail(new ChannelReadyRejected({ rule, detail }))
  if (!equalBytes(m.channelId, params.channelId)) return fail("ChannelIdMismatch", "channel_ready for another channel id")
  const point = parsePublicKey(secp, m.secondPerCommitmentPoint)
  if (Result.isFailure(point)) return fail("InvalidPoint", "second_per_commitment_point is not a valid point")
  if (previousPoint !== undefined && !equalBytes(previousPoint, point.success))
    return fail("SecondPointChanged", "a repeated channel_ready changed second_per_commitment_point")
  const alias = m.tlvs.shortChannelId
  if (params.scidAlias && alias === undefined) return fail("AliasMissing", "option_scid_alias negotiated but no alias")
  return Result.succeed({ secondPerCommitmentPoint: point.success, alias })
}
