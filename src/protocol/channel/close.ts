/**
 * BOLT 2 "Channel Close" as pure rules: `shutdown` (allowed scriptpubkey forms, the upfront
 * script, no new HTLCs after it, HTLCs drain first), the legacy `closing_signed` fee
 * negotiation (with and without `fee_range`, both roles), and `option_simple_close`
 * (`closing_complete` / `closing_sig`, both roles, the three signature variants).
 *
 * The closing transactions are built by `src/protocol/tx/closing.ts` (BOLT 3). Nothing here
 * signs: a function that needs our signature returns the transaction to sign, and the caller
 * passes the signer's answer to the function that builds the message. The peer's signatures
 * are verified here (public keys only). A rejected input is a `ShutdownRejected` /
 * `ClosingRejected` naming the rule; the state given in is never changed.
 */
import { Result, Schema } from "effect"
import { equalBytes } from "../bytes.ts"
import { ChannelIdSchema } from "../codec/fields.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import type { FeatureName } from "../features.ts"
import {
  ClosingComplete,
  ClosingSig,
  ClosingSigned,
  Shutdown,
  type ClosingComplete as ClosingCompleteMessage,
  type ClosingSig as ClosingSigMessage,
  type ClosingSigned as ClosingSignedMessage,
  type Shutdown as ShutdownMessage
} from "../messages/channel.ts"
import { isOpReturn } from "../tx/bitcoin/script.ts"
import { weight, type Transaction } from "../tx/bitcoin/transaction.ts"
import {
  buildLegacyClosingTransaction,
  buildSimpleClosingTransaction,
  isValidShutdownScript,
  simpleCloseVariantsToSign,
  type ClosingTransaction,
  type SimpleCloseVariant
} from "../tx/closing.ts"
import { feeForWeight, isDust } from "../tx/fees.ts"
import { finalizeFundingSpend, fundingSpendInput, verifyInput } from "../tx/signing.ts"
import { SIGHASH_ALL } from "../tx/bitcoin/sighash.ts"
import { msat, msatToSat, sat, type Msat, type Sat } from "../units.ts"
import { reduceSpec, type Commitments } from "./commitments.ts"
import { ClosingRejected, ShutdownRejected } from "./errors.ts"
import { MsatSchema, OutPointSchema, PublicKeySchema, SatSchema, type ChannelParams } from "./params.ts"

// ---- features ----------------------------------------------------------------------------------------

/** The features of the current connection that the close rules read. */
export interface CloseFeatures {
  /** `option_shutdown_anysegwit`: witness v1..16 scripts allowed. */
  readonly anySegwit: boolean
  /** `option_simple_close`: `closing_complete`/`closing_sig` instead of `closing_signed`; OP_RETURN scripts allowed. */
  readonly simpleClose: boolean
  /** `option_upfront_shutdown_script` advertised by both: the upfront script binds. */
  readonly upfrontShutdown: boolean
}

export const closeFeatures = (features: ReadonlySet<FeatureName>): CloseFeatures => ({
  anySegwit: features.has("option_shutdown_anysegwit"),
  simpleClose: features.has("option_simple_close"),
  upfrontShutdown: features.has("option_upfront_shutdown_script")
})

/** BOLT 2 `shutdown` scriptpubkey forms under the negotiated features. */
export const isAllowedShutdownScript = (script: Uint8Array, features: CloseFeatures): boolean =>
  isValidShutdownScript(script, { anySegwit: features.anySegwit, simpleClose: features.simpleClose })

// ---- shutdown ----------------------------------------------------------------------------------------

/** Which `shutdown`s were sent and received, with their scripts. Persisted with the channel. */
export const ShutdownStateSchema = Schema.Struct({
  localScript: Schema.optional(Schema.Uint8ArrayFromHex),
  remoteScript: Schema.optional(Schema.Uint8ArrayFromHex)
})
export type ShutdownState = typeof ShutdownStateSchema.Type

export const noShutdown: ShutdownState = {}

/** What the shutdown rules need to know about the channel at that moment. */
export interface ShutdownContext {
  readonly params: ChannelParams
  readonly features: CloseFeatures
  /** We sent `funding_created` (funder) / `funding_signed` (fundee). */
  readonly fundingSent: boolean
  /** We received `funding_signed` (funder) / `funding_created` (fundee). */
  readonly fundingReceived: boolean
  /** Updates we sent that the peer's commitment does not include yet (signed or not). */
  readonly pendingUpdatesForRemote: boolean
}

/**
 * Our `shutdown` (BOLT 2 "Closing Initiation", sender): not before the funding messages, not
 * with updates pending on the peer's commitment, only once, with the upfront script if we
 * committed to one, and in an allowed form.
 */
export const makeShutdown = (
  ctx: ShutdownContext,
  state: ShutdownState,
  script: Uint8Array
): Result.Result<{ readonly message: ShutdownMessage; readonly state: ShutdownState }, ShutdownRejected> => {
  const fail = (rule: ShutdownRejected["rule"], detail: string) => Result.fail(new ShutdownRejected({ rule, detail }))
  if (!ctx.fundingSent) return fail("NotFunded", "no shutdown before funding_created / funding_signed was sent")
  if (state.localScript !== undefined) return fail("AlreadySent", "shutdown was already sent")
  if (ctx.pendingUpdatesForRemote) return fail("PendingUpdates", "updates are pending on the peer's commitment: send commitment_signed first")
  const upfront = ctx.params.local.upfrontShutdownScript
  if (upfront !== undefined && upfront.length > 0 && !equalBytes(upfront, script))
    return fail("UpfrontScriptMismatch", "shutdown must use our upfront_shutdown_script")
  if (!isAllowedShutdownScript(script, ctx.features)) return fail("InvalidScript", "not an allowed shutdown scriptpubkey form")
  return Result.succeed({
    message: Shutdown.make({ channelId: ctx.params.channelId, scriptpubkey: script }),
    state: { ...state, localScript: Uint8Array.from(script) }
  })
}

/**
 * A received `shutdown` (BOLT 2, receiver): our channel; not before the funding messages (SHOULD
 * fail); an allowed form (SHOULD warn: `InvalidScript`); the upfront script when both
 * advertised `option_upfront_shutdown_script` (MUST fail the connection); only once per
 * connection (a repeat with the same script is idempotent). `mustReply`: we have not sent ours,
 * so we MUST reply with a `shutdown` once no updates are outstanding on the peer.
 */
export const receiveShutdown = (
  ctx: ShutdownContext,
  state: ShutdownState,
  m: ShutdownMessage
): Result.Result<{ readonly state: ShutdownState; readonly mustReply: boolean }, ShutdownRejected> => {
  const fail = (rule: ShutdownRejected["rule"], detail: string) => Result.fail(new ShutdownRejected({ rule, detail }))
  if (!equalBytes(m.channelId, ctx.params.channelId)) return fail("ChannelIdMismatch", "shutdown for another channel id")
  if (!ctx.fundingReceived) return fail("NotFunded", "shutdown before funding_signed / funding_created")
  if (state.remoteScript !== undefined && !equalBytes(state.remoteScript, m.scriptpubkey))
    return fail("AlreadyReceived", "a second shutdown with another script")
  if (!isAllowedShutdownScript(m.scriptpubkey, ctx.features)) return fail("InvalidScript", "not an allowed shutdown scriptpubkey form")
  const upfront = ctx.params.remote.upfrontShutdownScript
  if (ctx.features.upfrontShutdown && upfront !== undefined && upfront.length > 0 && !equalBytes(upfront, m.scriptpubkey))
    return fail("UpfrontScriptMismatch", "shutdown scriptpubkey differs from the peer's upfront_shutdown_script")
  return Result.succeed({ state: { ...state, remoteScript: Uint8Array.from(m.scriptpubkey) }, mustReply: state.localScript === undefined })
}

/**
 * Whether an update may be sent or accepted in the shutdown phase (BOLT 2): no
 * `update_add_htlc` after the sender's `shutdown`; once the channel is empty (no HTLC in either
 * commitment, no revocation owed) after both shutdowns, no update at all.
 */
export const checkUpdateAfterShutdown = (
  state: ShutdownState,
  update: {
    /** `send`: we want to send it; `receive`: the peer sent it. */
    readonly direction: "send" | "receive"
    readonly kind: "add" | "other"
    /** No HTLCs remain in either commitment and no `revoke_and_ack` is owed. */
    readonly channelEmpty: boolean
  }
): Result.Result<void, ShutdownRejected> => {
  const senderShutdown = update.direction === "send" ? state.localScript : state.remoteScript
  if (update.kind === "add" && senderShutdown !== undefined)
    return Result.fail(new ShutdownRejected({ rule: "UpdateAfterShutdown", detail: "update_add_htlc after shutdown" }))
  if (update.channelEmpty && state.localScript !== undefined && state.remoteScript !== undefined)
    return Result.fail(new ShutdownRejected({ rule: "UpdateAfterShutdown", detail: "no update once the channel is empty after shutdown" }))
  return Result.succeed(undefined)
}

/**
 * Closing negotiation may start (BOLT 2): both `shutdown`s exchanged, no HTLC left in either
 * commitment, no revocation owed and every update included in both commitments.
 */
export const readyToNegotiate = (
  state: ShutdownState,
  channel: { readonly htlcCount: number; readonly pendingUpdates: boolean; readonly revocationOwed: boolean }
): boolean =>
  state.localScript !== undefined && state.remoteScript !== undefined && channel.htlcCount === 0 && !channel.pendingUpdates && !channel.revocationOwed

// ---- shared: the closing transaction's funding input ---------------------------------------------

/** What every closing transaction of the channel shares. */
export const ClosingChannelSchema = Schema.Struct({
  channelId: ChannelIdSchema,
  fundingOutpoint: OutPointSchema,
  fundingAmount: SatSchema,
  localFundingPubkey: PublicKeySchema,
  remoteFundingPubkey: PublicKeySchema,
  localIsFunder: Schema.Boolean,
  localDustLimit: SatSchema,
  remoteDustLimit: SatSchema,
  /** Final balances (no HTLC left). */
  toLocal: MsatSchema,
  toRemote: MsatSchema
})
export type ClosingChannel = typeof ClosingChannelSchema.Type

export const closingChannel = (params: ChannelParams, balances: { readonly toLocal: Msat; readonly toRemote: Msat }): ClosingChannel => ({
  channelId: params.channelId,
  fundingOutpoint: params.fundingOutpoint,
  fundingAmount: params.fundingAmount,
  localFundingPubkey: params.local.basepoints.fundingPubkey,
  remoteFundingPubkey: params.remote.basepoints.fundingPubkey,
  localIsFunder: params.localIsFunder,
  localDustLimit: params.local.dustLimit,
  remoteDustLimit: params.remote.dustLimit,
  toLocal: balances.toLocal,
  toRemote: balances.toRemote
})

const verifyClosing = (secp: Secp256k1, c: ClosingChannel, tx: Transaction, signature: Uint8Array): boolean =>
  verifyInput(secp, fundingSpendInput(tx, c.fundingAmount, c.localFundingPubkey, c.remoteFundingPubkey), SIGHASH_ALL, signature, c.remoteFundingPubkey)

/** The closing transaction with both signatures (the 2-of-2 witness), ready to broadcast. */
export const finalizeClosing = (c: ClosingChannel, tx: Transaction, localSignature: Uint8Array, remoteSignature: Uint8Array): Transaction =>
  finalizeFundingSpend(tx, localSignature, remoteSignature, c.localFundingPubkey, c.remoteFundingPubkey)

/** Weight of the 2-of-2 witness (BOLT 3 Appendix A: 222) plus the segwit marker and flag (2). */
const CLOSING_WITNESS_WEIGHT = 224

/** The fee of `tx` (unsigned closing transaction) at `feeratePerKw` once signed. */
export const closingFee = (tx: Transaction, feeratePerKw: number): Sat => feeForWeight(feeratePerKw, weight(tx) + CLOSING_WITNESS_WEIGHT)

// ---- legacy closing_signed -------------------------------------------------------------------------

export const FeeRangeSchema = Schema.Struct({ min: SatSchema, max: SatSchema })
export type FeeRange = typeof FeeRangeSchema.Type

/** The legacy negotiation in progress (BOLT 2 "Legacy Closing Negotiation"). */
export const LegacyNegotiationSchema = Schema.Struct({
  channel: ClosingChannelSchema,
  localScript: Schema.Uint8ArrayFromHex,
  remoteScript: Schema.Uint8ArrayFromHex,
  /** The `fee_range` we send (the non-funder raises its max to the funder's, BOLT 2 SHOULD). */
  feeRange: FeeRangeSchema,
  /** Our last `fee_satoshis`, and whether it carried our `fee_range`. */
  lastSent: Schema.optional(SatSchema),
  sentRange: Schema.optional(FeeRangeSchema),
  /** Their last `fee_satoshis` (the "strictly between" rule). */
  lastReceived: Schema.optional(SatSchema)
})
export type LegacyNegotiation = typeof LegacyNegotiationSchema.Type

/**
 * Our `fee_range` for a legacy close around `fee` (the fee at our feerate estimate), from our
 * config's percentages; the non-funder, who does not pay, starts from a low minimum.
 */
export const legacyFeeRange = (
  config: { readonly closingFeeMinPercent: number; readonly closingFeeMaxPercent: number },
  localIsFunder: boolean,
  fee: Sat
): FeeRange => ({
  min: sat(localIsFunder ? (fee * BigInt(config.closingFeeMinPercent)) / 100n : 0n),
  max: sat((fee * BigInt(config.closingFeeMaxPercent)) / 100n)
})

/**
 * The funder's fee range capped at its balance (BOLT 2: `fee_range` is what the sender "is prepared
 * to pay"; BOLT 3: in a legacy close the funder's output pays the whole fee, and a fee of all of
 * it leaves that output out). A close the peer started is priced at our own estimate, which may
 * exceed what we hold: we then offer what we can pay instead of failing the channel (a `Close` we
 * ask for is refused up front instead, `checkCloseFeerate`).
 */
export const cappedAtBalance = (range: FeeRange, balance: Sat): FeeRange => ({
  min: range.min > balance ? balance : range.min,
  max: range.max > balance ? balance : range.max
})

export const startLegacyNegotiation = (input: {
  readonly channel: ClosingChannel
  readonly localScript: Uint8Array
  readonly remoteScript: Uint8Array
  readonly feeRange: FeeRange
}): Result.Result<LegacyNegotiation, ClosingRejected> =>
  input.feeRange.min > input.feeRange.max
    ? Result.fail(new ClosingRejected({ rule: "InvalidFeeRange", detail: "min_fee_satoshis > max_fee_satoshis" }))
    : Result.succeed({ channel: input.channel, localScript: input.localScript, remoteScript: input.remoteScript, feeRange: input.feeRange })

/** Our variant of the legacy closing transaction at `fee` (built with OUR dust limit). */
export const legacyClosingTx = (n: LegacyNegotiation, fee: Sat): Result.Result<ClosingTransaction, ClosingRejected> =>
  Result.mapError(
    buildLegacyClosingTransaction({
      fundingOutpoint: n.channel.fundingOutpoint,
      fundingAmount: n.channel.fundingAmount,
      localScript: n.localScript,
      remoteScript: n.remoteScript,
      toLocal: n.channel.toLocal,
      toRemote: n.channel.toRemote,
      localIsFunder: n.channel.localIsFunder,
      fee,
      dustLimit: n.channel.localDustLimit
    }),
    (e) => new ClosingRejected({ rule: e.rule === "FeeExceedsBalance" ? "FeeExceedsBalance" : "NoOutputLeft", detail: e.reason })
  )

/**
 * The fee we would propose first at `feeratePerKw` (the funder SHOULD send first), within our
 * range: the transaction to sign comes with it.
 */
export const legacyInitialProposal = (
  n: LegacyNegotiation,
  feeratePerKw: number
): Result.Result<{ readonly fee: Sat; readonly tx: ClosingTransaction }, ClosingRejected> => {
  const draft = legacyClosingTx(n, sat(0n))
  if (Result.isFailure(draft)) return Result.fail(draft.failure)
  const estimate = closingFee(draft.success.tx, feeratePerKw)
  const fee = sat(estimate < n.feeRange.min ? n.feeRange.min : estimate > n.feeRange.max ? n.feeRange.max : estimate)
  return Result.map(legacyClosingTx(n, fee), (tx) => ({ fee, tx }))
}

/**
 * A `Close` command's feerate, before our `shutdown` goes out (BOLT 3 "Closing Transaction": in a
 * legacy close the funder's output pays the whole fee; BOLT 2 "Legacy Closing Negotiation": the
 * funder proposes first, at its estimate). Asked by the funder, a feerate whose fee it cannot pay
 * is refused (`FeeExceedsBalance`, or `NoOutputLeft` when nothing but dust would be left): once
 * the shutdowns are exchanged the negotiation could only fail the channel. Nothing to check for
 * the fundee (it pays nothing), nor with `option_simple_close` (each side pays for its own
 * `closing_complete`; one that cannot pay only signs the peer's).
 *
 * Checked against the lowest balance the funder can hold when the negotiation starts: its
 * balance with every update in flight applied and the HTLCs still pending taken away (each one
 * left either comes back to it or was never its own); the fee for a transaction with both
 * outputs and, while the peer's script is unknown, the longest one its `shutdown` may carry.
 */
export const checkCloseFeerate = (
  features: CloseFeatures,
  c: Commitments,
  scripts: { readonly local: Uint8Array; readonly remote: Uint8Array | undefined },
  feeratePerKw: number
): Result.Result<void, ClosingRejected> => {
  if (features.simpleClose || !c.params.localIsFunder) return Result.succeed(undefined)
  const lowest = reduceSpec(c.localCommit.spec, [...c.localChanges.acked, ...c.localChanges.signed, ...c.localChanges.proposed], c.remoteChanges.proposed)
  const remoteScript = scripts.remote ?? LONGEST_LEGACY_SHUTDOWN_SCRIPT
  const half = msat((c.params.fundingAmount * 1000n) / 2n)
  const negotiation = (toLocal: Msat, toRemote: Msat): LegacyNegotiation => ({
    channel: closingChannel(c.params, { toLocal, toRemote }),
    localScript: scripts.local,
    remoteScript,
    // Stryker disable next-line ObjectLiteral: equivalent, legacyClosingTx reads no fee range (the type wants one).
    feeRange: { min: sat(0n), max: sat(0n) }
  })
  // Both outputs (half the funding each): the heaviest closing transaction.
  const heaviest = legacyClosingTx(negotiation(half, half), sat(0n))
  // (Half a funding amount is far above every dust limit: the draft has its two outputs and this
  // failure does not happen; `false` for the test is equivalent, `true` is not.)
  if (Result.isFailure(heaviest)) return Result.fail(heaviest.failure)
  const fee = closingFee(heaviest.success.tx, feeratePerKw)
  const priced = legacyClosingTx(negotiation(lowest.toLocal, lowest.toRemote), fee)
  if (Result.isFailure(priced))
    return Result.fail(
      new ClosingRejected({
        rule: priced.failure.rule,
        detail: `a closing fee of ${fee} sat at ${feeratePerKw} sat/kw: ${priced.failure.detail} (${msatToSat(lowest.toLocal)} sat)`
      })
    )
  return Result.succeed(undefined)
}

/** The longest `shutdown` script without `option_simple_close`: a witness v1-16 program of 40 bytes (BOLT 2). */
const LONGEST_LEGACY_SHUTDOWN_SCRIPT = Uint8Array.of(0x60, 40, ...new Uint8Array(40))

/** Our `closing_signed` for `fee` once the signer signed `legacyClosingTx(n, fee)`; always with our `fee_range`. */
export const sendClosingSigned = (
  n: LegacyNegotiation,
  fee: Sat,
  signature: Uint8Array
): { readonly message: ClosingSignedMessage; readonly state: LegacyNegotiation } => ({
  message: ClosingSigned.make(
    { channelId: n.channel.channelId, feeSatoshis: fee, signature },
    { feeRange: { minFeeSatoshis: n.feeRange.min, maxFeeSatoshis: n.feeRange.max } }
  ),
  state: { ...n, lastSent: fee, sentRange: n.feeRange }
})

/** What to do with a received fee (the decision alone, see `decideLegacyFee`). */
export type LegacyDecision =
  /** Agree on `fee`; `reply`: send `closing_signed` with the same fee (it differs from our last one). */
  | { readonly _tag: "Agree"; readonly fee: Sat; readonly reply: boolean }
  /** Propose `fee` instead. */
  | { readonly _tag: "Counter"; readonly fee: Sat }

/**
 * BOLT 2 legacy receiver rules on `fee_satoshis` / `fee_range`, without signatures: the
 * negotiation logic on its own (property-tested for convergence). `n.feeRange` is the range
 * we send (or are about to send); the non-funder raises its max to the funder's.
 */
export const decideLegacyFee = (
  n: LegacyNegotiation,
  fee: Sat,
  theirRange: FeeRange | undefined
): Result.Result<{ readonly decision: LegacyDecision; readonly feeRange: FeeRange }, ClosingRejected> => {
  const fail = (rule: ClosingRejected["rule"], detail: string) => Result.fail(new ClosingRejected({ rule, detail }))
  const ok = (decision: LegacyDecision, feeRange: FeeRange = n.feeRange) => Result.succeed({ decision, feeRange })
  if (n.lastSent !== undefined && fee === n.lastSent) return ok({ _tag: "Agree", fee, reply: false })
  if (n.sentRange !== undefined && fee >= n.sentRange.min && fee <= n.sentRange.max) return ok({ _tag: "Agree", fee, reply: true })
  if (theirRange !== undefined) {
    if (theirRange.min > theirRange.max) return fail("InvalidFeeRange", "min_fee_satoshis > max_fee_satoshis")
    // The non-funder SHOULD set its max to at least the funder's (it does not pay).
    const ours =
      !n.channel.localIsFunder && n.sentRange === undefined && theirRange.max > n.feeRange.max ? { min: n.feeRange.min, max: theirRange.max } : n.feeRange
    const lo = ours.min > theirRange.min ? ours.min : theirRange.min
    const hi = ours.max < theirRange.max ? ours.max : theirRange.max
    if (lo > hi) return fail("FeeRangeNoOverlap", "no overlap between the fee ranges")
    const inOverlap = fee >= lo && fee <= hi
    if (n.channel.localIsFunder) {
      if (!inOverlap) return fail("FeeOutsideOverlap", `fee_satoshis ${fee} outside the overlap [${lo}, ${hi}]`)
      return ok({ _tag: "Agree", fee, reply: true }, ours)
    }
    if (n.lastSent !== undefined) return fail("FeeChanged", `fee_satoshis ${fee} differs from the ${n.lastSent} we sent`)
    if (inOverlap) return ok({ _tag: "Agree", fee, reply: true }, ours)
    return ok({ _tag: "Counter", fee: sat(fee < lo ? lo : hi) }, ours)
  }
  // No fee_range: the "strictly between" rule.
  if (n.lastSent !== undefined && n.lastReceived !== undefined) {
    const [a, b] = n.lastSent < n.lastReceived ? [n.lastSent, n.lastReceived] : [n.lastReceived, n.lastSent]
    if (!(fee > a && fee < b)) return fail("FeeNotBetween", `fee_satoshis ${fee} not strictly between ${a} and ${b}`)
  }
  if (fee >= n.feeRange.min && fee <= n.feeRange.max) return ok({ _tag: "Agree", fee, reply: true })
  if (n.lastSent === undefined) return ok({ _tag: "Counter", fee: sat(fee < n.feeRange.min ? n.feeRange.min : n.feeRange.max) })
  const mid = (fee + n.lastSent) / 2n
  // Nothing strictly between (1 sat apart): take theirs, the negotiation cannot progress otherwise.
  if (mid === fee || mid === n.lastSent) return ok({ _tag: "Agree", fee, reply: true })
  return ok({ _tag: "Counter", fee: sat(mid) })
}

/** The outcome of a received `closing_signed`. */
export type LegacyOutcome =
  /**
   * Agreed on `fee`: `tx` is the transaction THEY signed (their variant); sign it, finalize it
   * with `remoteSignature` (`finalizeClosing`) and broadcast; if `reply`, also send
   * `closing_signed` with this fee and that signature (`sendClosingSigned`).
   */
  | { readonly _tag: "Agreed"; readonly fee: Sat; readonly tx: Transaction; readonly remoteSignature: Uint8Array; readonly reply: boolean }
  /** We counter with `fee`: sign `tx` and send it (`sendClosingSigned`). */
  | { readonly _tag: "Counter"; readonly fee: Sat; readonly tx: Transaction }

/**
 * A received `closing_signed` (BOLT 2 legacy receiver): the signature must verify on one of
 * the sender's two variants (with or without its own output, built with ITS dust limit); no
 * output may be below the Bitcoin dust threshold of its script; then the fee rules
 * (`decideLegacyFee`).
 */
export const receiveClosingSigned = (
  secp: Secp256k1,
  n: LegacyNegotiation,
  m: ClosingSignedMessage
): Result.Result<{ readonly state: LegacyNegotiation; readonly outcome: LegacyOutcome }, ClosingRejected> => {
  const fail = (rule: ClosingRejected["rule"], detail: string) => Result.fail(new ClosingRejected({ rule, detail }))
  if (!equalBytes(m.channelId, n.channel.channelId)) return fail("ChannelIdMismatch", "closing_signed for another channel id")
  // The sender's variants: built from its point of view with its dust limit, its own output kept or omitted.
  const variant = (omit: boolean) =>
    buildLegacyClosingTransaction({
      fundingOutpoint: n.channel.fundingOutpoint,
      fundingAmount: n.channel.fundingAmount,
      localScript: n.remoteScript,
      remoteScript: n.localScript,
      toLocal: n.channel.toRemote,
      toRemote: n.channel.toLocal,
      localIsFunder: !n.channel.localIsFunder,
      fee: m.feeSatoshis,
      dustLimit: n.channel.remoteDustLimit,
      omitLocalOutput: omit
    })
  let signed: ClosingTransaction | undefined
  for (const omit of [false, true]) {
    const v = variant(omit)
    if (Result.isSuccess(v) && verifyClosing(secp, n.channel, v.success.tx, m.signature)) {
      signed = v.success
      break
    }
  }
  if (signed === undefined) return fail("InvalidSignature", "closing_signed signature is valid for neither variant")
  for (const o of signed.outputs) if (isDust(o.value, o.scriptPubKey)) return fail("OutputBelowDust", `an output of ${o.value} sat is dust for its script`)
  const theirRange = m.tlvs.feeRange === undefined ? undefined : { min: m.tlvs.feeRange.minFeeSatoshis, max: m.tlvs.feeRange.maxFeeSatoshis }
  const decided = decideLegacyFee(n, m.feeSatoshis, theirRange)
  if (Result.isFailure(decided)) return Result.fail(decided.failure)
  const state: LegacyNegotiation = { ...n, feeRange: decided.success.feeRange, lastReceived: m.feeSatoshis }
  const d = decided.success.decision
  if (d._tag === "Agree") return Result.succeed({ state, outcome: { _tag: "Agreed", fee: d.fee, tx: signed.tx, remoteSignature: m.signature, reply: d.reply } })
  const counter = legacyClosingTx(state, d.fee)
  if (Result.isFailure(counter)) return Result.fail(counter.failure)
  return Result.succeed({ state, outcome: { _tag: "Counter", fee: d.fee, tx: counter.success.tx } })
}

// ---- option_simple_close: closing_complete / closing_sig ---------------------------------------------

const VariantSchema = Schema.Literals(["closer_output_only", "closee_output_only", "closer_and_closee_outputs"])

/** A `closing_complete` we sent, awaiting its `closing_sig`. */
export const PendingClosingCompleteSchema = Schema.Struct({
  closerScript: Schema.Uint8ArrayFromHex,
  closeeScript: Schema.Uint8ArrayFromHex,
  fee: SatSchema,
  locktime: Schema.Int,
  /** Our signature per variant sent (to finalize the one they sign). */
  signatures: Schema.Array(Schema.Struct({ variant: VariantSchema, signature: Schema.Uint8ArrayFromHex }))
})
export type PendingClosingComplete = typeof PendingClosingCompleteSchema.Type

/** The simple-close negotiation (BOLT 2 "Closing Negotiation"). */
export const SimpleCloseSchema = Schema.Struct({
  channel: ClosingChannelSchema,
  /** Our current closer script. */
  localScript: Schema.Uint8ArrayFromHex,
  /** The last script the peer sent (its `shutdown`, then its `closing_complete`'s closer script). */
  remoteScript: Schema.Uint8ArrayFromHex,
  pending: Schema.optional(PendingClosingCompleteSchema)
})
export type SimpleClose = typeof SimpleCloseSchema.Type

export const startSimpleClose = (input: { readonly channel: ClosingChannel; readonly localScript: Uint8Array; readonly remoteScript: Uint8Array }): SimpleClose => ({
  channel: input.channel,
  localScript: input.localScript,
  remoteScript: input.remoteScript
})

/** Our proposal: the transactions to sign, one per variant BOLT 2 makes us send. */
export interface ClosingCompleteProposal {
  readonly closerScript: Uint8Array
  readonly closeeScript: Uint8Array
  readonly fee: Sat
  readonly locktime: number
  readonly toSign: ReadonlyArray<{ readonly variant: SimpleCloseVariant; readonly tx: Transaction }>
}

const simpleTx = (
  c: ClosingChannel,
  closer: "local" | "remote",
  closerScript: Uint8Array,
  closeeScript: Uint8Array,
  fee: Sat,
  locktime: number,
  variant: SimpleCloseVariant
) =>
  buildSimpleClosingTransaction({
    fundingOutpoint: c.fundingOutpoint,
    fundingAmount: c.fundingAmount,
    closerScript,
    closeeScript,
    closerBalance: closer === "local" ? c.toLocal : c.toRemote,
    closeeBalance: closer === "local" ? c.toRemote : c.toLocal,
    fee,
    locktime,
    variant
  })

/**
 * Our `closing_complete` (BOLT 2, closer): fee <= our balance, at least one output not dust,
 * the closee script is the last one the peer sent, the variants the spec requires (omitting
 * our output when we hold less and it is dust, or when `omitOwnOutputIfLesser`). Not while a
 * previous `closing_complete` awaits its `closing_sig`.
 */
export const proposeClosingComplete = (
  s: SimpleClose,
  input: { readonly fee: Sat; readonly locktime: number; readonly closerScript?: Uint8Array; readonly omitOwnOutputIfLesser?: boolean }
): Result.Result<ClosingCompleteProposal, ClosingRejected> => {
  const fail = (rule: ClosingRejected["rule"], detail: string) => Result.fail(new ClosingRejected({ rule, detail }))
  if (s.pending !== undefined) return fail("ClosingCompletePending", "wait for closing_sig before another closing_complete")
  if (input.fee > msatToSat(s.channel.toLocal)) return fail("FeeExceedsBalance", "fee_satoshis exceeds our balance")
  const closerScript = input.closerScript ?? s.localScript
  const variants = simpleCloseVariantsToSign({
    closerBalance: s.channel.toLocal,
    closeeBalance: s.channel.toRemote,
    fee: input.fee,
    closerScript,
    closeeScript: s.remoteScript,
    omitOwnOutputIfLesser: input.omitOwnOutputIfLesser ?? false
  })
  if (variants.length === 0) return fail("NoOutputLeft", "every output would be dust at this fee")
  const toSign: Array<{ variant: SimpleCloseVariant; tx: Transaction }> = []
  for (const variant of variants) {
    const t = simpleTx(s.channel, "local", closerScript, s.remoteScript, input.fee, input.locktime, variant)
    // nLockTime is 32 bits: a larger one asked of us is its own rule, not "no output left".
    if (Result.isFailure(t)) return fail(t.failure.rule === "LocktimeOutOfRange" ? "LocktimeOutOfRange" : "NoOutputLeft", t.failure.reason)
    toSign.push({ variant, tx: t.success.tx })
  }
  return Result.succeed({ closerScript, closeeScript: s.remoteScript, fee: input.fee, locktime: input.locktime, toSign })
}

const tlvsOf = (sigs: ReadonlyArray<{ readonly variant: SimpleCloseVariant; readonly signature: Uint8Array }>) => {
  const out: { closerOutputOnly?: Uint8Array; closeeOutputOnly?: Uint8Array; closerAndCloseeOutputs?: Uint8Array } = {}
  for (const { variant, signature } of sigs) {
    if (variant === "closer_output_only") out.closerOutputOnly = signature
    else if (variant === "closee_output_only") out.closeeOutputOnly = signature
    else out.closerAndCloseeOutputs = signature
  }
  return out
}

const sigsOf = (tlvs: ClosingCompleteMessage["tlvs"]): ReadonlyArray<{ readonly variant: SimpleCloseVariant; readonly signature: Uint8Array }> => [
  ...(tlvs.closerOutputOnly === undefined ? [] : [{ variant: "closer_output_only" as const, signature: tlvs.closerOutputOnly }]),
  ...(tlvs.closeeOutputOnly === undefined ? [] : [{ variant: "closee_output_only" as const, signature: tlvs.closeeOutputOnly }]),
  ...(tlvs.closerAndCloseeOutputs === undefined ? [] : [{ variant: "closer_and_closee_outputs" as const, signature: tlvs.closerAndCloseeOutputs }])
]

/** Our `closing_complete` with the signer's signatures (one per `proposal.toSign`, same order). */
export const sendClosingComplete = (
  s: SimpleClose,
  proposal: ClosingCompleteProposal,
  signatures: ReadonlyArray<Uint8Array>
): Result.Result<{ readonly message: ClosingCompleteMessage; readonly state: SimpleClose }, ClosingRejected> => {
  if (signatures.length !== proposal.toSign.length)
    return Result.fail(new ClosingRejected({ rule: "SignatureMissing", detail: "one signature per variant to sign" }))
  const sigs = proposal.toSign.map((t, i) => ({ variant: t.variant, signature: signatures[i] ?? new Uint8Array(0) }))
  return Result.succeed({
    message: ClosingComplete.make(
      {
        channelId: s.channel.channelId,
        closerScriptpubkey: proposal.closerScript,
        closeeScriptpubkey: proposal.closeeScript,
        feeSatoshis: proposal.fee,
        locktime: proposal.locktime
      },
      tlvsOf(sigs)
    ),
    state: {
      ...s,
      localScript: proposal.closerScript,
      pending: { closerScript: proposal.closerScript, closeeScript: proposal.closeeScript, fee: proposal.fee, locktime: proposal.locktime, signatures: sigs }
    }
  })
}

/** A verified `closing_complete`: sign `tx`, answer with `sendClosingSig`, broadcast the result. */
export interface ReceivedClosingComplete {
  readonly variant: SimpleCloseVariant
  readonly tx: Transaction
  readonly remoteSignature: Uint8Array
  readonly message: ClosingCompleteMessage
}

/**
 * A received `closing_complete` (BOLT 2, closee): fee <= the closer's balance (MUST fail); the
 * closee script is our last one and the closer script an allowed form (SHOULD ignore and warn:
 * `CloseeScriptMismatch` / `InvalidCloserScript`); the signature selected by the spec's rule
 * (our output dust or uneconomical -> `closer_output_only`; else both outputs if present; else
 * `closee_output_only`) must exist and verify. Their closer script becomes the closee script of
 * our future `closing_complete`.
 */
export const receiveClosingComplete = (
  secp: Secp256k1,
  s: SimpleClose,
  features: CloseFeatures,
  m: ClosingCompleteMessage,
  options: { readonly ownOutputUneconomical?: boolean } = {}
): Result.Result<{ readonly state: SimpleClose; readonly received: ReceivedClosingComplete }, ClosingRejected> => {
  const fail = (rule: ClosingRejected["rule"], detail: string) => Result.fail(new ClosingRejected({ rule, detail }))
  if (!equalBytes(m.channelId, s.channel.channelId)) return fail("ChannelIdMismatch", "closing_complete for another channel id")
  if (m.feeSatoshis > msatToSat(s.channel.toRemote)) return fail("FeeExceedsBalance", "fee_satoshis exceeds the closer's balance")
  if (!equalBytes(m.closeeScriptpubkey, s.localScript)) return fail("CloseeScriptMismatch", "closee_scriptpubkey is not the last script we sent")
  if (!isAllowedShutdownScript(m.closerScriptpubkey, features)) return fail("InvalidCloserScript", "closer_scriptpubkey is not an allowed form")
  const ours = isOpReturn(s.localScript) ? sat(0n) : msatToSat(s.channel.toLocal)
  const sigs = sigsOf(m.tlvs)
  const variant: SimpleCloseVariant =
    isDust(ours, s.localScript) || ((options.ownOutputUneconomical ?? false) && !isOpReturn(s.localScript))
      ? "closer_output_only"
      : m.tlvs.closerAndCloseeOutputs !== undefined
        ? "closer_and_closee_outputs"
        : "closee_output_only"
  const selected = sigs.find((x) => x.variant === variant)
  if (selected === undefined) return fail("SignatureMissing", `closing_complete lacks the ${variant} signature`)
  const tx = simpleTx(s.channel, "remote", m.closerScriptpubkey, m.closeeScriptpubkey, m.feeSatoshis, m.locktime, variant)
  if (Result.isFailure(tx)) return fail("NoOutputLeft", tx.failure.reason)
  if (!verifyClosing(secp, s.channel, tx.success.tx, selected.signature)) return fail("InvalidSignature", `the ${variant} signature does not verify`)
  return Result.succeed({
    state: { ...s, remoteScript: Uint8Array.from(m.closerScriptpubkey) },
    received: { variant, tx: tx.success.tx, remoteSignature: selected.signature, message: m }
  })
}

/**
 * Our `closing_sig` for a verified `closing_complete` (one signature, in the same TLV field),
 * and the fully signed closing transaction to broadcast.
 */
export const sendClosingSig = (
  s: SimpleClose,
  received: ReceivedClosingComplete,
  signature: Uint8Array
): { readonly message: ClosingSigMessage; readonly tx: Transaction } => ({
  message: ClosingSig.make(
    {
      channelId: s.channel.channelId,
      closerScriptpubkey: received.message.closerScriptpubkey,
      closeeScriptpubkey: received.message.closeeScriptpubkey,
      feeSatoshis: received.message.feeSatoshis,
      locktime: received.message.locktime
    },
    tlvsOf([{ variant: received.variant, signature }])
  ),
  tx: finalizeClosing(s.channel, received.tx, signature, received.remoteSignature)
})

/**
 * A received `closing_sig` (BOLT 2): it answers our pending `closing_complete` (same scripts,
 * fee, locktime), carries exactly one signature, for a variant we sent, valid. Gives the fully
 * signed closing transaction to broadcast; we may then send another `closing_complete`.
 */
export const receiveClosingSig = (
  secp: Secp256k1,
  s: SimpleClose,
  m: ClosingSigMessage
): Result.Result<{ readonly state: SimpleClose; readonly variant: SimpleCloseVariant; readonly tx: Transaction }, ClosingRejected> => {
  const fail = (rule: ClosingRejected["rule"], detail: string) => Result.fail(new ClosingRejected({ rule, detail }))
  if (!equalBytes(m.channelId, s.channel.channelId)) return fail("ChannelIdMismatch", "closing_sig for another channel id")
  const p = s.pending
  if (p === undefined) return fail("NoPendingClosingComplete", "closing_sig without a closing_complete of ours")
  if (!equalBytes(m.closerScriptpubkey, p.closerScript) || !equalBytes(m.closeeScriptpubkey, p.closeeScript) || m.feeSatoshis !== p.fee || m.locktime !== p.locktime)
    return fail("ClosingSigMismatch", "closing_sig does not match our closing_complete")
  const sigs = sigsOf(m.tlvs)
  const only = sigs[0]
  if (sigs.length !== 1 || only === undefined) return fail("NotExactlyOneSignature", `closing_sig carries ${sigs.length} signatures`)
  const ours = p.signatures.find((x) => x.variant === only.variant)
  if (ours === undefined) return fail("UnexpectedSignatureVariant", `we did not send ${only.variant}`)
  const tx = simpleTx(s.channel, "local", p.closerScript, p.closeeScript, p.fee, p.locktime, only.variant)
  if (Result.isFailure(tx)) return fail("NoOutputLeft", tx.failure.reason)
  if (!verifyClosing(secp, s.channel, tx.success.tx, only.signature)) return fail("InvalidSignature", `the ${only.variant} signature does not verify`)
  const { pending: _done, ...rest } = s
  return Result.succeed({ state: rest, variant: only.variant, tx: finalizeClosing(s.channel, tx.success.tx, ours.signature, only.signature) })
}
