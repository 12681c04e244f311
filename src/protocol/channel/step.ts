/**
 * The channel state machine (BOLT 2), one pure reducer:
 *
 *     step(ctx, state, input) -> Result<{ state, outputs }, StepError>
 *
 * composing the rules of `open.ts` (establishment), `commitments.ts` (normal operation) and
 * `close.ts` (shutdown and closing negotiation), plus `reestablish.ts` (reconnection). It
 * signs nothing: it emits `Sign { request }` and takes the signer's answer as the next input
 * (`Signed`); it reads no clock and draws no random bytes; `ctx` holds plain values.
 *
 * Errors and failures (the line this module draws):
 * - A `StepError` (Result failure) means the INPUT is rejected and the state is unchanged:
 *   our own bad commands (a fulfill for an unknown HTLC, `update_fee` as non-funder, a
 *   `Close` while closing, a funding transaction without the funding output...), or an input
 *   that makes no sense in this phase (`UnexpectedInput`). `AddHtlc` is the exception: a
 *   refused HTLC is reported as an `HtlcRejected` event (success, state unchanged), so the
 *   payment layer hears about every request on one stream.
 * - A protocol violation by the PEER (every receiver MUST of BOLT 2 that says "fail the
 *   channel", an invalid signature, an unexpected message) is not an error of `step`: the
 *   channel fails. After funding is stored: state `Failed`, outputs
 *   `[SendError, Persist ForceClose, Emit ChannelClosed{ProtocolError}]` (the monitor
 *   broadcasts our latest commitment). Before that: state `Closed`,
 *   `[SendError, Emit ChannelClosed{FundingAborted}]`.
 * - SHOULD-warn rules (a `shutdown` script in a form not allowed, a `closing_complete` with
 *   the wrong closee script) answer with `SendWarning` and ignore the message.
 *
 * Output order is meaning: a `Send` that depends on a monitor update comes after its
 * `Persist` (`commitment_signed` after `CounterpartyCommitment`, `revoke_and_ack` after
 * `HolderCommitment`, `funding_signed` / the funding `Broadcast` after `Opened`,
 * `update_fulfill_htlc` after `PaymentPreimage`, `shutdown` after `ShutdownScript`).
 */
import { Data, Result, type Types } from "effect"
import { equalBytes } from "../bytes.ts"
import type { ChainHash, ShortChannelId } from "../codec/fields.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import type { FeatureName } from "../features.ts"
import type { ChannelBasepoints } from "../keys/commitment-keys.ts"
import { parsePublicKey, type PublicKey } from "../keys/keys.ts"
import { Shutdown, type ChannelMessage, type OpenChannel as OpenChannelMessage } from "../messages/channel.ts"
import type { MonitorUpdate } from "../monitor/update.ts"
import { decodeTransaction, serializeTransaction, txid as computeTxid } from "../tx/bitcoin/transaction.ts"
import { fundingOutput } from "../tx/funding.ts"
import { buildCommitmentForSide } from "../tx/view.ts"
import { commitmentTxid } from "../tx/commitment-builds.ts"
import { msatToSat, sat, type ChannelId, type Msat, type Sat } from "../units.ts"
import {
  cappedAtBalance,
  closeFeatures,
  closingChannel,
  closingFee,
  finalizeClosing,
  legacyClosingTx,
  legacyFeeRange,
  legacyInitialProposal,
  makeShutdown,
  noShutdown,
  proposeClosingComplete,
  readyToNegotiate,
  receiveClosingComplete,
  receiveClosingSig,
  receiveClosingSigned,
  receiveShutdown,
  sendClosingComplete,
  sendClosingSig,
  sendClosingSigned,
  startLegacyNegotiation,
  startSimpleClose,
  checkUpdateAfterShutdown,
  checkCloseFeerate,
  type ShutdownContext,
  type SimpleClose
} from "./close.ts"
import {
  completeCommit,
  completeRevoke,
  hasChangesToSign,
  makeCommitments,
  prepareCommit,
  receiveAdd,
  receiveCommit,
  receiveFail,
  receiveFailMalformed,
  receiveFee,
  receiveFulfill,
  receiveRevoke,
  sendAdd,
  sendFail,
  sendFailMalformed,
  sendFee,
  sendFulfill,
  type Commitments,
  type HtlcLimits,
  type LocalCommit,
  type RemoteCommit,
  type RevokeRequest,
  type SignCommitmentRequest
} from "./commitments.ts"
import type { ChannelPolicy, LocalChannelConfig } from "./config.ts"
import type { ChannelError, InvalidOpenCommand, OpenChannelRejected } from "./errors.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput, SignerRequest, SignerResult } from "./io.ts"
import {
  completeFundingCreated,
  completeFundingSigned,
  firstCommitments,
  fundChannel,
  fundingDepthReached,
  makeAcceptChannel,
  makeChannelReady,
  makeOpenChannel,
  receiveAcceptChannel,
  receiveChannelReady,
  receiveFundingCreated,
  receiveFundingSigned,
  receiveOpenChannel,
  type FirstCommitments,
  type FundedChannel,
  type NegotiatedChannelType,
  type OpenContext
} from "./open.ts"
import { counterpartyView } from "./params.ts"
import { onDisconnected, onConnected, onReestablish, onRetransmitSigned } from "./reestablish.ts"
import type {
  ChannelState,
  Closed,
  ClosedReason,
  Closing,
  Failed,
  Negotiating,
  Normal,
  WaitAcceptChannel,
  WaitChannelReady,
  WaitFundingCreated,
  WaitFundingSigned,
  WaitFundingTx,
  WaitRemoteClose
} from "./state.ts"
import { channelIdOf, makeNormal, type NormalFields, type ReceivedHtlc } from "./state.ts"
import { htlcReceivedEvent, stillReceived } from "./pending.ts"

// ---- context, results, errors --------------------------------------------------------------------

/** What `step` reads besides the state and the input: plain values, no services. */
export interface StepContext {
  readonly secp: Secp256k1
  readonly config: LocalChannelConfig
  readonly policy: ChannelPolicy
  readonly chainHash: ChainHash
  /**
   * Features negotiated on the current connection (both sides' `init`): `option_simple_close`
   * selects `closing_complete`/`closing_sig`, `option_upfront_shutdown_script` and
   * `option_shutdown_anysegwit` the shutdown rules, `option_support_large_channel` the open rules.
   */
  readonly features: ReadonlySet<FeatureName>
  /** Our current feerate estimate (sat per 1000 weight): `update_fee` sanity, closing fee. */
  readonly feerateEstimatePerKw: number
  /** `max_dust_htlc_exposure_msat` (BOLT 2 "Bounding exposure to trimmed in-flight HTLCs"). */
  readonly maxDustHtlcExposure: Msat
  /** Whether this peer may open `option_zeroconf` channels with us. */
  readonly peerTrustedForZeroConf: boolean
  /**
   * Our payout script for a close the peer initiates (used when we have no upfront script).
   * When the peer sends `shutdown` first we MUST reply with ours.
   */
  readonly shutdownScript: Uint8Array
}

export interface Step {
  readonly state: ChannelState
  readonly outputs: ReadonlyArray<ChannelOutput>
}

/** An input that is not valid in this phase (a command at the wrong time, an answer nobody asked for). */
export class UnexpectedInput extends Data.TaggedError("UnexpectedInput")<{
  readonly phase: ChannelState["_tag"]
  readonly input: ChannelInput["_tag"]
  readonly detail: string
}> {}

/** `openChannel` / `acceptChannel` for an `option_scid_alias` channel without our alias. */
export class AliasRequired extends Data.TaggedError("AliasRequired")<{}> {}

/** The funding transaction given to `FundingTransaction` does not parse. */
export class InvalidFundingTransaction extends Data.TaggedError("InvalidFundingTransaction")<{ readonly reason: string }> {}

export type StepError = ChannelError | UnexpectedInput | InvalidFundingTransaction

type StepResult = Result.Result<Step, StepError>

// ---- the output builder ----------------------------------------------------------------------------

/** Accumulates the outputs of one step and numbers its monitor updates. */
export interface Out {
  readonly outputs: Array<ChannelOutput>
  nextUpdateId: bigint
}

export const newOut = (nextUpdateId: bigint): Out => ({ outputs: [], nextUpdateId })

/**
 * Emits a monitor update made with the step's next id (`updateId: out.nextUpdateId`; another id is
 * a bug: thrown). The update is made by the caller as a literal, not by a callback given the id: a
 * closure per update, and the context V8 allocates on every call of a function whose parameters
 * such closures capture (the message handlers': every message, persisting or not).
 */
export const persist = (out: Out, update: MonitorUpdate): void => {
  if (update.updateId !== out.nextUpdateId) throw new RangeError(`monitor update ${update.updateId} out of order (next: ${out.nextUpdateId})`)
  out.outputs.push({ _tag: "Persist", update })
  out.nextUpdateId += 1n
}
export const send = (out: Out, message: ChannelMessage): void => void out.outputs.push({ _tag: "Send", message })
export const emit = (out: Out, event: ChannelEvent): void => void out.outputs.push({ _tag: "Emit", event })
export const sign = (out: Out, request: SignerRequest): void => void out.outputs.push({ _tag: "Sign", request })

/**
 * The step's result: `state` with the next update id. A step that numbered no update returns the
 * state as it is (no copy of the whole state only to write the same id again); so does a step
 * that wrote `out.nextUpdateId` into the state it built after its last `persist`. (A `Normal`
 * is copied by `makeNormal`, which keeps its one shape.)
 */
export const done = (out: Out, state: ChannelState): StepResult => {
  if (state.nextUpdateId === out.nextUpdateId) return Result.succeed({ state, outputs: out.outputs })
  if (state._tag === "Normal") return Result.succeed({ state: withCommitments(state, state.commitments, out), outputs: out.outputs })
  return Result.succeed({ state: { ...state, nextUpdateId: out.nextUpdateId }, outputs: out.outputs })
}

const unexpected = (state: ChannelState, input: ChannelInput, detail: string): StepResult =>
  Result.fail(new UnexpectedInput({ phase: state._tag, input: input._tag, detail }))

/**
 * An error as the text of an `error` / `warning` message: its tag (the rule) and detail. (Every
 * error with a `detail` has a string one: the `typeof` test alone, or either test alone, would
 * read the same.)
 */
const errorText = (e: object & { readonly _tag: string }): string =>
  // Stryker disable next-line LogicalOperator: equivalent, see above.
  "detail" in e && typeof e.detail === "string" ? `${e._tag}: ${e.detail}` : e._tag

// ---- failing the channel -------------------------------------------------------------------------

/** The txid of our latest commitment, when the state has one. */
const localCommitTxidOf = (s: ChannelState): Uint8Array | undefined => {
  switch (s._tag) {
    case "WaitChannelReady":
      return s.localCommit.txid
    case "Normal":
    case "Negotiating":
    case "Closing":
      return s.commitments.localCommit.txid
    // (Unreached for Failed and the unfunded phases: a failed channel is not failed again, and
    // the funding output spent is handled before; kept so the function is total.)
    // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable, see above.
    case "Failed":
      return s.localCommitTxid
    // Stryker disable next-line ConditionalExpression: unreachable, see above.
    default:
      return undefined
  }
}

const isFunded = (s: ChannelState): boolean =>
  s._tag === "WaitChannelReady" || s._tag === "Normal" || s._tag === "Negotiating" || s._tag === "Closing"

/**
 * Fails the channel (BOLT 2 "fail the channel"): `error` to the peer (unless it sent one), the
 * monitor told to broadcast our commitment (funded channels), the event. Before funding is
 * stored the channel is simply forgotten. Only "peer-error" and "local" are told apart ("local"
 * only once funded, in the reason), so "peer-violation", or "local" before the funding, could be
 * another text.
 */
export const failChannel = (
  state: ChannelState,
  out: Out,
  reason: string,
  by: "peer-violation" | "peer-error" | "local"
): StepResult => {
  const channelId = channelIdOf(state)
  if (by !== "peer-error") out.outputs.push({ _tag: "SendError", channelId: asChannelId(channelId), message: reason })
  if (!isFunded(state)) {
    const closed: ClosedReason = { _tag: "FundingAborted", reason }
    emit(out, { _tag: "ChannelClosed", channelId: asChannelId(channelId), reason: closed })
    return done(out, { _tag: "Closed", nextUpdateId: out.nextUpdateId, channelId: asChannelId(channelId), reason: closed })
  }
  persist(out, { _tag: "ForceClose", updateId: out.nextUpdateId, reason })
  const closed: ClosedReason =
    by === "local" ? { _tag: "LocalForceClose", reason } : { _tag: "ProtocolError", reason, sentByPeer: by === "peer-error" }
  emit(out, { _tag: "ChannelClosed", channelId: asChannelId(channelId), reason: closed })
  const txid = localCommitTxidOf(state)
  return done(out, {
    _tag: "Failed",
    nextUpdateId: out.nextUpdateId,
    channelId: asChannelId(channelId),
    reason: closed,
    errorMessage: reason,
    // (Every funded phase has a commitment txid: the undefined case is for the type.)
    ...(txid === undefined ? {} : { localCommitTxid: txid })
  })
}

/** A peer violation: the rule broken, as the error text. */
const violation = (state: ChannelState, out: Out, e: object & { readonly _tag: string }): StepResult =>
  // Stryker disable next-line StringLiteral: equivalent, failChannel tells apart only "peer-error" and "local".
  failChannel(state, out, errorText(e), "peer-violation")

const isChannelIdBytes = (b: Uint8Array): b is ChannelId => b.length === 32
const asChannelId = (b: Uint8Array): ChannelId => {
  // Stryker disable next-line StringLiteral: unreachable (the message of a guard no state can fail).
  if (!isChannelIdBytes(b)) throw new RangeError("channel id must be 32 bytes") // unreachable: ids in states are 32 bytes
  return b
}

// ---- constructors ----------------------------------------------------------------------------------

const openContext = (ctx: StepContext): OpenContext => ({
  chainHash: ctx.chainHash,
  features: ctx.features,
  feerateEstimatePerKw: ctx.feerateEstimatePerKw,
  peerTrustedForZeroConf: ctx.peerTrustedForZeroConf
})

export interface OpenChannelArgs {
  readonly temporaryChannelId: ChannelId
  /** The signer's key id for this channel (32 bytes). */
  readonly keyId: Uint8Array
  readonly fundingAmount: Sat
  readonly pushAmount: Msat
  /** `ChannelSigner.channelPublicKeys(keyId)`. */
  readonly basepoints: ChannelBasepoints
  /** `ChannelSigner.perCommitmentPoint(keyId, 0)`. */
  readonly firstPerCommitmentPoint: PublicKey
  readonly feeratePerKw: number
  readonly channelType: NegotiatedChannelType
  readonly announce: boolean
  /** Our `short_channel_id` alias for `channel_ready` (required with `option_scid_alias`). */
  readonly localAlias?: ShortChannelId
}

/** We open a channel (BOLT 2 `open_channel`, funder): state `WaitAcceptChannel`, outputs `[Send open_channel]`. */
export const openChannel = (ctx: StepContext, args: OpenChannelArgs): Result.Result<Step, InvalidOpenCommand | AliasRequired> => {
  if (args.channelType.scidAlias && args.localAlias === undefined) return Result.fail(new AliasRequired())
  const made = makeOpenChannel(ctx.config, ctx.features, {
    chainHash: ctx.chainHash,
    temporaryChannelId: args.temporaryChannelId,
    keyId: args.keyId,
    fundingAmount: args.fundingAmount,
    pushAmount: args.pushAmount,
    feeratePerKw: args.feeratePerKw,
    channelType: args.channelType,
    announce: args.announce,
    basepoints: args.basepoints,
    firstPerCommitmentPoint: args.firstPerCommitmentPoint
  })
  if (Result.isFailure(made)) return Result.fail(made.failure)
  const state: WaitAcceptChannel = {
    _tag: "WaitAcceptChannel",
    nextUpdateId: 0n,
    open: made.success.state,
    ...(args.localAlias === undefined ? {} : { localAlias: args.localAlias })
  }
  return Result.succeed({ state, outputs: [{ _tag: "Send", message: made.success.message }] })
}

export interface AcceptChannelArgs {
  readonly keyId: Uint8Array
  readonly basepoints: ChannelBasepoints
  readonly firstPerCommitmentPoint: PublicKey
  readonly localAlias?: ShortChannelId
}

/**
 * A peer's `open_channel` (we are the fundee): validated (BOLT 2 receiver rules), answered
 * with `accept_channel`; state `WaitFundingCreated`. On failure the caller answers with an
 * `error` for the temporary channel id (no channel exists).
 */
export const acceptChannel = (
  ctx: StepContext,
  open: OpenChannelMessage,
  args: AcceptChannelArgs
): Result.Result<Step, OpenChannelRejected | AliasRequired> => {
  const validated = receiveOpenChannel(ctx.secp, ctx.policy, openContext(ctx), open)
  if (Result.isFailure(validated)) return Result.fail(validated.failure)
  if (validated.success.channelType.scidAlias && args.localAlias === undefined) return Result.fail(new AliasRequired())
  const made = makeAcceptChannel(ctx.config, validated.success, args)
  const state: WaitFundingCreated = {
    _tag: "WaitFundingCreated",
    nextUpdateId: 0n,
    negotiated: made.state,
    ...(args.localAlias === undefined ? {} : { localAlias: args.localAlias })
  }
  return Result.succeed({ state, outputs: [{ _tag: "Send", message: made.message }] })
}

// ---- step ---------------------------------------------------------------------------------------------

/** The channel state machine: one input, the next state and the outputs (in order), or a rejection. */
export const step = (ctx: StepContext, state: ChannelState, input: ChannelInput): StepResult => {
  const out = newOut(state.nextUpdateId)
  // Inputs every phase treats alike.
  switch (input._tag) {
    case "PersistCompleted":
    case "Tick":
    case "FeerateEstimate":
    case "PeerWarning":
      return done(out, state)
    case "PeerDisconnected":
      return onDisconnected(ctx, state, out)
    case "PeerConnected":
      return onConnected(ctx, state, out)
    case "FundingSpent":
      return onFundingSpent(state, out, input.txid)
    case "PeerError":
      if (state._tag === "Closed" || state._tag === "Failed" || state._tag === "WaitRemoteClose" || state._tag === "Closing") return done(out, state)
      return failChannel(state, out, `peer error: ${input.message}`, "peer-error")
    case "ForceClose":
      if (state._tag === "Closed" || state._tag === "Failed") return unexpected(state, input, "the channel is already closed")
      if (state._tag === "WaitRemoteClose") return unexpected(state, input, "our state is stale: broadcasting our commitment would lose funds")
      return failChannel(state, out, input.reason, "local")
    case "PeerMessage":
      if (input.message._tag === "ChannelReestablish") return onReestablish(ctx, state, out, input.message)
      break
    default:
      break
  }
  switch (state._tag) {
    case "WaitAcceptChannel":
      return stepWaitAccept(ctx, state, input, out)
    case "WaitFundingTx":
      return stepWaitFundingTx(ctx, state, input, out)
    case "WaitFundingSigned":
      return stepWaitFundingSigned(ctx, state, input, out)
    case "WaitFundingCreated":
      return stepWaitFundingCreated(ctx, state, input, out)
    case "WaitChannelReady":
      return stepWaitChannelReady(ctx, state, input, out)
    case "Normal":
      return stepNormal(ctx, state, input, out)
    case "Negotiating":
    case "Closing":
      return stepClosing(ctx, state, input, out)
    case "Closed":
    case "Failed":
    case "WaitRemoteClose":
      // BOLT 2: a channel in an error state ignores every other message.
      if (input._tag === "PeerMessage") return done(out, state)
      if (input._tag === "AddHtlc") return rejectHtlc(state, out, input.requestId, "the channel is closed")
      if (input._tag === "ClaimPreimage") return claimAfterClose(state, input, out)
      return unexpected(state, input, "the channel is closed")
  }
}

/**
 * A preimage for a channel that closed with commitments on chain (ours, force-closed; theirs; or
 * the one the peer will publish when we are behind). BOLT 5 "HTLC Output Handling: ... Remote
 * Offers": a node that "receives (or already possesses) a payment preimage for an unresolved HTLC
 * output that it has been offered ... MUST resolve the output by spending it" (HTLC-success), so
 * the monitor is given it (a `PaymentPreimage` update; its `ForceClosed` state accepts one) and
 * nothing goes to the peer.
 * Which HTLC it pays is the monitor's business (by payment hash): the channel no longer holds
 * its commitments. A cooperative close has no HTLC left (BOLT 2: none once `shutdown` is done),
 * and its monitor is closed: refused.
 */
const claimAfterClose = (
  state: Closed | Failed | WaitRemoteClose,
  input: Extract<ChannelInput, { readonly _tag: "ClaimPreimage" }>,
  out: Out
): StepResult => {
  if (state._tag === "Closed" && (state.reason._tag === "Cooperative" || state.reason._tag === "FundingAborted"))
    return unexpected(state, input, "the channel closed with no HTLC on chain")
  persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: input.preimage })
  return done(out, state)
}

const rejectHtlc = (state: ChannelState, out: Out, requestId: string, reason: string): StepResult => {
  emit(out, { _tag: "HtlcRejected", channelId: asChannelId(channelIdOf(state)), requestId, reason })
  return done(out, state)
}

const peerMessageUnexpected = (state: ChannelState, out: Out, message: ChannelMessage): StepResult =>
  failChannel(state, out, `unexpected ${message._tag} in ${state._tag}`, "peer-violation")

/** Inputs of the funding phases that are not theirs. */
const otherFundingInput = (state: ChannelState, input: ChannelInput, out: Out): StepResult => {
  if (input._tag === "PeerMessage") return peerMessageUnexpected(state, out, input.message)
  if (input._tag === "AddHtlc") return rejectHtlc(state, out, input.requestId, "the channel is not ready")
  if (input._tag === "SignNow") return done(out, state)
  return unexpected(state, input, "not valid before the channel is funded")
}

// ---- funder: open_channel sent --------------------------------------------------------------------

const stepWaitAccept = (ctx: StepContext, state: WaitAcceptChannel, input: ChannelInput, out: Out): StepResult => {
  if (input._tag !== "PeerMessage" || input.message._tag !== "AcceptChannel") return otherFundingInput(state, input, out)
  const accepted = receiveAcceptChannel(ctx.secp, ctx.policy, ctx.features, state.open, input.message)
  if (Result.isFailure(accepted)) return violation(state, out, accepted.failure)
  const { fundingNeeded } = accepted.success
  emit(out, {
    _tag: "FundingNeeded",
    temporaryChannelId: fundingNeeded.temporaryChannelId,
    scriptPubKey: fundingNeeded.scriptPubKey,
    amount: fundingNeeded.amount
  })
  return done(out, {
    _tag: "WaitFundingTx",
    nextUpdateId: out.nextUpdateId,
    negotiated: accepted.success.state,
    ...(state.localAlias === undefined ? {} : { localAlias: state.localAlias })
  })
}

// ---- funder: the funding transaction ----------------------------------------------------------------

const firstSignRequest = (funded: FundedChannel, first: FirstCommitments): SignerRequest => ({
  _tag: "SignCounterpartyCommitment",
  commitment: first.remoteBalances,
  theirPerCommitmentPoint: funded.remoteFirstPerCommitmentPoint,
  channel: funded.params
})

const stepWaitFundingTx = (ctx: StepContext, state: WaitFundingTx, input: ChannelInput, out: Out): StepResult => {
  if (input._tag !== "FundingTransaction") return otherFundingInput(state, input, out)
  const tx = decodeTransaction(input.tx)
  if (Result.isFailure(tx)) return Result.fail(new InvalidFundingTransaction({ reason: String(tx.failure) }))
  const funded = fundChannel(ctx.secp, state.negotiated, state.negotiated.temporaryChannelId, tx.success)
  if (Result.isFailure(funded)) return Result.fail(funded.failure)
  const request = firstSignRequest(funded.success.state, funded.success.first)
  sign(out, request)
  return done(out, {
    _tag: "WaitFundingSigned",
    nextUpdateId: out.nextUpdateId,
    funded: funded.success.state,
    ...(state.localAlias === undefined ? {} : { localAlias: state.localAlias }),
    awaiting: { _tag: "FundingCreatedSignature", request }
  })
}

/** The `Opened` monitor update: both first commitments, signed. */
const openedUpdate = (funded: FundedChannel, first: FirstCommitments, remoteSignature: Uint8Array, updateId: bigint): MonitorUpdate => {
  const p = funded.params
  return {
    _tag: "Opened",
    updateId,
    params: p,
    fundingScript: fundingOutput(p.fundingAmount, p.local.basepoints.fundingPubkey, p.remote.basepoints.fundingPubkey).scriptPubKey,
    holderCommitment: {
      commitmentNumber: 0n,
      feeratePerKw: first.localBalances.feeratePerKw,
      toLocal: first.localBalances.toLocal,
      toRemote: first.localBalances.toRemote,
      htlcs: [],
      counterpartySignature: compactSignature(remoteSignature),
      counterpartyHtlcSignatures: []
    },
    counterpartyCommitment: {
      commitmentNumber: 0n,
      perCommitmentPoint: funded.remoteFirstPerCommitmentPoint,
      feeratePerKw: first.remoteBalances.feeratePerKw,
      toLocal: first.remoteBalances.toLocal,
      toRemote: first.remoteBalances.toRemote,
      htlcs: [],
      txid: computeTxid(first.remote.tx)
    }
  }
}

type CompactSig = Extract<MonitorUpdate, { _tag: "HolderCommitment" }>["commitment"]["counterpartySignature"]
const isCompactSig = (b: Uint8Array): b is CompactSig => b.length === 64
const compactSignature = (b: Uint8Array): CompactSig => {
  // Stryker disable next-line StringLiteral: unreachable (the message of a guard the codec makes unreachable).
  if (!isCompactSig(b)) throw new RangeError("a compact signature is 64 bytes") // unreachable: checked by the message codec
  return b
}

/** Both sides: funding stored; what `WaitChannelReady` starts from. */
const channelReadyPhase = (
  ctx: StepContext,
  out: Out,
  funded: FundedChannel,
  first: FirstCommitments,
  remoteSignature: Uint8Array,
  localSecondPoint: PublicKey,
  localAlias: ShortChannelId | undefined
): StepResult => {
  const p = funded.params
  const localCommit: LocalCommit = {
    number: 0n,
    spec: { feeratePerKw: funded.feeratePerKw, toLocal: first.localBalances.toLocal, toRemote: first.localBalances.toRemote, htlcs: [] },
    perCommitmentPoint: funded.localFirstPerCommitmentPoint,
    txid: computeTxid(first.local.tx),
    remoteSignature,
    remoteHtlcSignatures: []
  }
  const remoteCommit: RemoteCommit = {
    number: 0n,
    spec: { feeratePerKw: funded.feeratePerKw, toLocal: first.remoteBalances.toLocal, toRemote: first.remoteBalances.toRemote, htlcs: [] },
    perCommitmentPoint: funded.remoteFirstPerCommitmentPoint
  }
  out.outputs.push({
    _tag: "WatchFunding",
    outpoint: p.fundingOutpoint,
    scriptPubKey: fundingOutput(p.fundingAmount, p.local.basepoints.fundingPubkey, p.remote.basepoints.fundingPubkey).scriptPubKey,
    minimumDepth: funded.minimumDepth
  })
  emit(out, { _tag: "ChannelPending", channelId: p.channelId, fundingOutpoint: p.fundingOutpoint })
  const state: WaitChannelReady = {
    _tag: "WaitChannelReady",
    nextUpdateId: out.nextUpdateId,
    connection: "Connected",
    params: p,
    minimumDepth: funded.minimumDepth,
    localCommit,
    remoteCommit,
    localSecondPoint,
    ...(funded.fundingTx === undefined ? {} : { fundingTx: funded.fundingTx }),
    ...(localAlias === undefined ? {} : { localAlias }),
    localReadySent: false
  }
  // Zero-conf: channel_ready at once (BOLT 2 `option_zeroconf`).
  return maybeSendChannelReady(ctx, state, out)
}

// ---- funder: funding_created sent ----------------------------------------------------------------

const stepWaitFundingSigned = (ctx: StepContext, state: WaitFundingSigned, input: ChannelInput, out: Out): StepResult => {
  const awaiting = state.awaiting
  if (input._tag === "Signed") {
    const result = input.result
    if (result._tag === "SignerFailed") return failChannel(state, out, `signer: ${result.reason}`, "local")
    if (awaiting?._tag === "FundingCreatedSignature" && result._tag === "CounterpartySignatures") {
      send(out, completeFundingCreated(state.funded, result.signature))
      out.outputs.push({ _tag: "Rekey", from: state.funded.temporaryChannelId, to: state.funded.params.channelId })
      const { awaiting: _done, ...rest } = state
      return done(out, rest)
    }
    if (awaiting?._tag === "FunderValidate" && result._tag === "Revocation") {
      const first = firstCommitments(ctx.secp, state.funded)
      if (Result.isFailure(first)) return violation(state, out, first.failure)
      persist(out, openedUpdate(state.funded, first.success, awaiting.remoteSignature, out.nextUpdateId))
      // Never before funding_signed is verified and `Opened` is stored (the order of these outputs).
      if (state.funded.fundingTx !== undefined) out.outputs.push({ _tag: "Broadcast", tx: state.funded.fundingTx, label: "funding" })
      return channelReadyPhase(ctx, out, state.funded, first.success, awaiting.remoteSignature, result.nextPerCommitmentPoint, state.localAlias)
    }
    return unexpected(state, input, `signer answer ${result._tag} while awaiting ${awaiting?._tag ?? "nothing"}`)
  }
  if (input._tag === "PeerMessage" && input.message._tag === "FundingSigned" && awaiting === undefined) {
    const verified = receiveFundingSigned(ctx.secp, state.funded, input.message)
    if (Result.isFailure(verified)) return violation(state, out, verified.failure)
    const request: SignerRequest = {
      _tag: "ValidateAndRevoke",
      holderCommitment: verified.success.first.localBalances,
      signature: verified.success.remoteSignature,
      htlcSignatures: [],
      nextCommitmentNumber: 1n
    }
    sign(out, request)
    return done(out, { ...state, awaiting: { _tag: "FunderValidate", request, remoteSignature: verified.success.remoteSignature } })
  }
  return otherFundingInput(state, input, out)
}

// ---- fundee: accept_channel sent ---------------------------------------------------------------------

const stepWaitFundingCreated = (ctx: StepContext, state: WaitFundingCreated, input: ChannelInput, out: Out): StepResult => {
  const awaiting = state.awaiting
  const received = state.received
  if (input._tag === "Signed") {
    const result = input.result
    if (result._tag === "SignerFailed") return failChannel(state, out, `signer: ${result.reason}`, "local")
    if (received === undefined) return unexpected(state, input, "no funding_created received")
    const first = firstCommitments(ctx.secp, received.funded)
    if (Result.isFailure(first)) return violation(state, out, first.failure)
    if (awaiting?._tag === "FundingSignedSignature" && result._tag === "CounterpartySignatures") {
      const request: SignerRequest = {
        _tag: "ValidateAndRevoke",
        holderCommitment: first.success.localBalances,
        signature: received.remoteSignature,
        htlcSignatures: [],
        nextCommitmentNumber: 1n
      }
      sign(out, request)
      return done(out, { ...state, awaiting: { _tag: "FundeeValidate", request, localSignature: result.signature } })
    }
    if (awaiting?._tag === "FundeeValidate" && result._tag === "Revocation") {
      persist(out, openedUpdate(received.funded, first.success, received.remoteSignature, out.nextUpdateId))
      send(out, completeFundingSigned(received.funded, awaiting.localSignature))
      return channelReadyPhase(ctx, out, received.funded, first.success, received.remoteSignature, result.nextPerCommitmentPoint, state.localAlias)
    }
    return unexpected(state, input, `signer answer ${result._tag} while awaiting ${awaiting?._tag ?? "nothing"}`)
  }
  if (input._tag === "PeerMessage" && input.message._tag === "FundingCreated" && received === undefined) {
    const verified = receiveFundingCreated(ctx.secp, state.negotiated, input.message)
    if (Result.isFailure(verified)) return violation(state, out, verified.failure)
    const funded = verified.success.state
    const request = firstSignRequest(funded, verified.success.first)
    out.outputs.push({ _tag: "Rekey", from: state.negotiated.temporaryChannelId, to: funded.params.channelId })
    sign(out, request)
    return done(out, {
      ...state,
      received: { funded, remoteSignature: verified.success.remoteSignature },
      awaiting: { _tag: "FundingSignedSignature", request }
    })
  }
  return otherFundingInput(state, input, out)
}

// ---- channel_ready ---------------------------------------------------------------------------------------

/** Sends our `channel_ready` once the depth is reached (or at once for zero-conf); `Normal` once both are. */
const maybeSendChannelReady = (ctx: StepContext, state: WaitChannelReady, out: Out): StepResult => {
  let s = state
  if (!s.localReadySent && fundingDepthReached(s.params, s.minimumDepth, s.depth)) {
    const ready = makeChannelReady(s.params, {
      minimumDepth: s.minimumDepth,
      depth: s.depth,
      secondPerCommitmentPoint: s.localSecondPoint,
      alias: s.localAlias
    })
    if (Result.isFailure(ready)) return failChannel(s, out, errorText(ready.failure), "local")
    // While disconnected it is sent on reestablish (both next_commitment_number are 1 then).
    if (s.connection === "Connected") send(out, ready.success)
    s = { ...s, localReadySent: true }
  }
  if (s.localReadySent && s.remoteReady !== undefined) return toNormal(s, out)
  return done(out, s)
}

const toNormal = (s: WaitChannelReady, out: Out): StepResult => {
  const remoteReady = s.remoteReady
  if (remoteReady === undefined) return done(out, s)
  const commitments = makeCommitments({
    params: s.params,
    localCommit: s.localCommit,
    remoteCommit: s.remoteCommit,
    localNextPerCommitmentPoint: s.localSecondPoint,
    remoteNextPerCommitmentPoint: remoteReady.secondPerCommitmentPoint
  })
  emit(out, {
    _tag: "ChannelReady",
    channelId: s.params.channelId,
    ...(s.shortChannelId === undefined ? {} : { shortChannelId: s.shortChannelId }),
    ...(s.localAlias === undefined ? {} : { alias: s.localAlias })
  })
  const normal = makeNormal({
    nextUpdateId: out.nextUpdateId,
    connection: s.connection,
    commitments,
    shutdown: noShutdown,
    shortChannelId: s.shortChannelId,
    localAlias: s.localAlias,
    remoteAlias: remoteReady.alias,
    revealedSecrets: [],
    fulfilledByPeer: []
  })
  return done(out, normal)
}

/**
 * BOLT 2 (`funding_signed`): the fundee "SHOULD forget the channel if it does not see the
 * correct funding transaction after a timeout of 2016 blocks". Counted from the first chain
 * height seen while unconfirmed; a confirmation (then a reorg) starts the count again.
 */
export const FUNDING_TIMEOUT_BLOCKS = 2016

/** Fundee: the height the funding timeout counts from after this fact (undefined: not counting; the funder never does). */
const unfundedSinceAfter = (state: WaitChannelReady, input: Extract<ChannelInput, { readonly _tag: "FundingDepth" }>): number | undefined =>
  state.params.localIsFunder || input.depth > 0 ? undefined : (state.unfundedSince ?? input.tipHeight)

/** The fundee forgets the channel once the funding timeout passed (BOLT 2); undefined: not yet. */
const fundingTimeout = (state: WaitChannelReady, input: Extract<ChannelInput, { readonly _tag: "FundingDepth" }>, out: Out): StepResult | undefined => {
  const since = unfundedSinceAfter(state, input)
  if (since === undefined || input.tipHeight === undefined || input.tipHeight - since < FUNDING_TIMEOUT_BLOCKS) return undefined
  const channelId = asChannelId(state.params.channelId)
  const reason: ClosedReason = { _tag: "FundingAborted", reason: `funding transaction not seen after ${FUNDING_TIMEOUT_BLOCKS} blocks` }
  emit(out, { _tag: "ChannelClosed", channelId, reason })
  return done(out, { _tag: "Closed", nextUpdateId: out.nextUpdateId, channelId, reason })
}

const stepWaitChannelReady = (ctx: StepContext, state: WaitChannelReady, input: ChannelInput, out: Out): StepResult => {
  switch (input._tag) {
    case "FundingDepth": {
      const timeout = fundingTimeout(state, input, out)
      if (timeout !== undefined) return timeout
      const since = unfundedSinceAfter(state, input)
      const { unfundedSince: _, ...rest } = state
      return maybeSendChannelReady(
        ctx,
        {
          ...rest,
          depth: input.depth,
          ...(input.shortChannelId === undefined ? {} : { shortChannelId: input.shortChannelId }),
          ...(since === undefined ? {} : { unfundedSince: since })
        },
        out
      )
    }
    case "PeerMessage": {
      const m = input.message
      if (state.connection !== "Connected") return unexpected(state, input, "not reestablished yet")
      if (m._tag === "ChannelReady") {
        const ready = receiveChannelReady(ctx.secp, state.params, state.remoteReady?.secondPerCommitmentPoint, m)
        if (Result.isFailure(ready)) return violation(state, out, ready.failure)
        const remoteReady = {
          secondPerCommitmentPoint: ready.success.secondPerCommitmentPoint,
          ...(ready.success.alias === undefined ? {} : { alias: ready.success.alias })
        }
        return maybeSendChannelReady(ctx, { ...state, remoteReady }, out)
      }
      if (m._tag === "Shutdown") {
        // BOLT 2 allows shutdown before channel_ready; not supported here yet: warn, ignore.
        out.outputs.push({ _tag: "SendWarning", channelId: state.params.channelId, message: "shutdown before channel_ready is not supported" })
        return done(out, state)
      }
      return peerMessageUnexpected(state, out, m)
    }
    case "AddHtlc":
      return rejectHtlc(state, out, input.requestId, "the channel is not ready")
    case "SignNow":
      return done(out, state)
    default:
      return unexpected(state, input, "not valid before channel_ready")
  }
}

// ---- normal operation ----------------------------------------------------------------------------

/**
 * `state` with new commitments, as of this step (`out`'s next update id): the usual step of
 * normal operation, a copy the step may complete before handing it out (`makeNormal`).
 */
const withCommitments = (state: Normal, commitments: Commitments, out: Out): NormalFields => {
  const next = makeNormal(state)
  next.nextUpdateId = out.nextUpdateId
  next.commitments = commitments
  return next
}

/** What an `HtlcResolved` event reports. */
type HtlcResult = Extract<ChannelEvent, { readonly _tag: "HtlcResolved" }>["result"]

/** The context is the limits it holds (`HtlcLimits` is the one field of it): no object made per HTLC. */
const limitsOf = (ctx: StepContext): HtlcLimits => ctx

/** Updates of ours not yet in the peer's commitment (no `shutdown` may be sent with these, BOLT 2). */
const pendingForRemote = (c: Commitments): boolean => c.localChanges.proposed.length > 0 || c.remoteChanges.acked.length > 0

const shutdownContext = (ctx: StepContext, c: Commitments): ShutdownContext => ({
  params: c.params,
  features: closeFeatures(ctx.features),
  fundingSent: true,
  fundingReceived: true,
  pendingUpdatesForRemote: pendingForRemote(c)
})

const htlcCount = (c: Commitments): number => c.localCommit.spec.htlcs.length + c.remoteCommit.spec.htlcs.length
const anyPending = (c: Commitments): boolean =>
  c.localChanges.proposed.length + c.localChanges.signed.length + c.localChanges.acked.length > 0 ||
  c.remoteChanges.proposed.length + c.remoteChanges.acked.length + c.remoteChanges.signed.length > 0
const channelEmpty = (c: Commitments): boolean => htlcCount(c) === 0 && c.owedRevocation === null && c.remoteNextCommitInfo._tag === "NextPoint"

const stepNormal = (ctx: StepContext, state: Normal, input: ChannelInput, out: Out): StepResult => {
  const c = state.commitments
  switch (input._tag) {
    case "Signed":
      return normalSigned(ctx, state, input.result, out)
    case "PeerMessage":
      if (state.connection !== "Connected") return unexpected(state, input, "a message before channel_reestablish")
      if (state.awaiting !== undefined) return unexpected(state, input, "a message while the signer is working (Signed must come first)")
      return normalMessage(ctx, state, input.message, out)
    case "AddHtlc": {
      if (state.connection !== "Connected") return rejectHtlc(state, out, input.requestId, "the peer is not connected")
      if (state.shutdown.localScript !== undefined || state.pendingClose !== undefined)
        return rejectHtlc(state, out, input.requestId, "the channel is closing")
      if (state.shutdown.remoteScript !== undefined) return rejectHtlc(state, out, input.requestId, "the peer is closing the channel")
      // (An undefined `pathKey` stands for none: `sendAdd` reads it so. No spread of an optional
      // part after the other fields: V8 copies that through a generic path.)
      const added = sendAdd(
        c,
        { amount: input.amount, paymentHash: input.paymentHash, cltvExpiry: input.cltvExpiry, onionRoutingPacket: input.onion, pathKey: input.pathKey },
        limitsOf(ctx)
      )
      if (Result.isFailure(added)) return rejectHtlc(state, out, input.requestId, errorText(added.failure))
      send(out, added.success.message)
      emit(out, { _tag: "HtlcAdded", channelId: c.params.channelId, requestId: input.requestId, htlcId: added.success.message.id })
      return done(out, withCommitments(state, added.success.commitments, out))
    }
    case "FulfillHtlc": {
      // (`sendFulfill` reads an undefined attributionData as none.)
      const r = sendFulfill(c, { id: input.htlcId, paymentPreimage: input.preimage, attributionData: input.attributionData })
      if (Result.isFailure(r)) return Result.fail(r.failure)
      persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: input.preimage })
      if (state.connection === "Connected") send(out, r.success.message)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "ClaimPreimage": {
      // The same checks as a fulfill (BOLT 2 "Removing an HTLC"), but only the monitor learns the preimage.
      const r = sendFulfill(c, { id: input.htlcId, paymentPreimage: input.preimage })
      if (Result.isFailure(r)) return Result.fail(r.failure)
      persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: input.preimage })
      return done(out, state)
    }
    case "FailHtlc": {
      // (`sendFail` reads an undefined attributionData as none.)
      const r = sendFail(c, { id: input.htlcId, reason: input.reason, attributionData: input.attributionData })
      if (Result.isFailure(r)) return Result.fail(r.failure)
      if (state.connection === "Connected") send(out, r.success.message)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "FailMalformedHtlc": {
      const r = sendFailMalformed(c, { id: input.htlcId, sha256OfOnion: input.sha256OfOnion, failureCode: input.failureCode })
      if (Result.isFailure(r)) return Result.fail(r.failure)
      if (state.connection === "Connected") send(out, r.success.message)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "UpdateFee": {
      const r = sendFee(c, input.feeratePerKw, limitsOf(ctx))
      if (Result.isFailure(r)) return Result.fail(r.failure)
      if (state.connection === "Connected") send(out, r.success.message)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "SignNow":
      return signNow(ctx, state, out)
    case "Close": {
      if (state.shutdown.localScript !== undefined || state.pendingClose !== undefined)
        return unexpected(state, input, "shutdown was already sent")
      const check = makeShutdown(shutdownContext(ctx, { ...c, localChanges: { ...c.localChanges, proposed: [] }, remoteChanges: { ...c.remoteChanges, acked: [] } }), state.shutdown, input.scriptPubKey)
      if (Result.isFailure(check)) return Result.fail(check.failure)
      // A funder's feerate it cannot pay is refused here, not met by a failed negotiation (close.ts).
      const affordable = checkCloseFeerate(closeFeatures(ctx.features), c, { local: input.scriptPubKey, remote: state.shutdown.remoteScript }, input.feeratePerKw)
      if (Result.isFailure(affordable)) return Result.fail(affordable.failure)
      // Sent as soon as no update of ours is pending on the peer's commitment (BOLT 2 MUST NOT before).
      const next = makeNormal(state)
      next.pendingClose = { scriptPubKey: input.scriptPubKey }
      next.closingFeeratePerKw = input.feeratePerKw
      return progressShutdown(ctx, next, out)
    }
    case "FundingDepth": {
      if (input.shortChannelId === undefined) return done(out, state)
      const next = makeNormal(state)
      next.shortChannelId = input.shortChannelId
      return done(out, next)
    }
    default:
      return unexpected(state, input, "not valid in normal operation")
  }
}

/** Our `commitment_signed`, when there is something to sign and we may (BOLT 2). No-op otherwise. */
const signNow = (ctx: StepContext, state: Normal, out: Out): StepResult => {
  const c = state.commitments
  if (state.connection !== "Connected" || state.awaiting !== undefined) return done(out, state)
  if (c.remoteNextCommitInfo._tag !== "NextPoint" || !hasChangesToSign(c)) return progressShutdown(ctx, state, out)
  const prepared = prepareCommit(c)
  if (Result.isFailure(prepared)) return done(out, state)
  const request = signCommitmentRequest(prepared.success.request)
  sign(out, request)
  const next = withCommitments(state, prepared.success.commitments, out)
  next.awaiting = { _tag: "Commit", request }
  return done(out, next)
}

const normalSigned = (ctx: StepContext, state: Normal, result: SignerResult, out: Out): StepResult => {
  const awaiting = state.awaiting
  if (awaiting === undefined) return Result.fail(new UnexpectedInput({ phase: state._tag, input: "Signed", detail: "no signer request pending" }))
  if (result._tag === "SignerFailed") return failChannel(state, out, `signer: ${result.reason}`, "local")
  const c = state.commitments
  if (awaiting._tag === "Commit" && result._tag === "CounterpartySignatures") {
    const completed = completeCommit(c, result)
    if (Result.isFailure(completed)) return failChannel(state, out, errorText(completed.failure), "local")
    const info = completed.success.commitments.remoteNextCommitInfo
    // (Unreachable, as is the build failure below: `completeCommit` always leaves
    // WaitingForRevocation, and `prepareCommit` built the same commitment already.)
    if (info._tag !== "WaitingForRevocation") return failChannel(state, out, "commitment not pending after signing", "local")
    const next = info.next
    // The txid the signer gave (it built this commitment to sign it), else the commitment built
    // again (a builds-memo lookup). `next.spec` is stated from THEIR side (its owner): their view
    // of the channel, as is.
    let txid = result.txid
    if (txid === undefined) {
      const built = buildCommitmentForSide(ctx.secp, counterpartyView(c.params, next.spec), "local", next.number, next.perCommitmentPoint)
      if (Result.isFailure(built)) return failChannel(state, out, `their commitment does not build: ${built.failure.reason}`, "local")
      txid = commitmentTxid(built.success)
    }
    const commitmentId = txid
    persist(out, {
      _tag: "CounterpartyCommitment",
      updateId: out.nextUpdateId,
      commitment: {
        commitmentNumber: next.number,
        perCommitmentPoint: next.perCommitmentPoint,
        feeratePerKw: next.spec.feeratePerKw,
        toLocal: next.spec.toLocal,
        toRemote: next.spec.toRemote,
        // (A monitor's HTLC is the channel's `SpecHtlc`: the spec's immutable array is shared, not copied.)
        htlcs: next.spec.htlcs,
        txid: commitmentId
      }
    })
    send(out, completed.success.message)
    const signed = withCommitments(state, completed.success.commitments, out)
    signed.awaiting = undefined
    signed.commitSentAtLocalNumber = c.localCommit.number
    return progressShutdown(ctx, signed, out)
  }
  if (awaiting._tag === "Revoke" && result._tag === "Revocation") {
    const secret = result.perCommitmentSecret
    if (secret === undefined) return failChannel(state, out, "the signer released no secret", "local")
    const owed = c.owedRevocation
    // (`owed === null` makes `completeRevoke` fail first: "no revocation owed" is for the type.)
    const revoked = completeRevoke(ctx.secp, c, secret, result.nextPerCommitmentPoint)
    if (Result.isFailure(revoked) || owed === null) return failChannel(state, out, Result.isFailure(revoked) ? errorText(revoked.failure) : "no revocation owed", "local")
    const lc = c.localCommit
    persist(out, {
      _tag: "HolderCommitment",
      updateId: out.nextUpdateId,
      commitment: {
        commitmentNumber: lc.number,
        feeratePerKw: lc.spec.feeratePerKw,
        toLocal: lc.spec.toLocal,
        toRemote: lc.spec.toRemote,
        htlcs: lc.spec.htlcs,
        counterpartySignature: compactSignature(lc.remoteSignature),
        counterpartyHtlcSignatures: lc.remoteHtlcSignatures.map(compactSignature)
      }
    })
    send(out, revoked.success.message)
    const last = state.revealedSecrets[state.revealedSecrets.length - 1]
    const revealed = { commitmentNumber: owed.commitmentNumber, secret }
    // A received HTLC whose removal this revocation made irrevocable is no longer pending (pending.ts).
    const receivedHtlcs = stillReceived(revoked.success.commitments, state.receivedHtlcs ?? [])
    const next = withCommitments(state, revoked.success.commitments, out)
    next.awaiting = undefined
    // The last two (newest last).
    next.revealedSecrets = last === undefined ? [revealed] : [last, revealed]
    next.receivedHtlcs = receivedHtlcs.length > 0 ? receivedHtlcs : undefined
    return progressShutdown(ctx, next, out)
  }
  if ((awaiting._tag === "RetransmitRevoke" && result._tag === "Revocation") || (awaiting._tag === "DataLossCheck" && result._tag === "Point")) {
    const next = makeNormal(state)
    next.awaiting = undefined
    return onRetransmitSigned(ctx, next, awaiting, result, out)
  }
  return unexpected(state, { _tag: "Signed", result }, `signer answer ${result._tag} while awaiting ${awaiting._tag}`)
}

/** An update allowed (`checkUpdateAfterShutdown`'s success), made once. */
const allowed: Result.Result<void, ChannelError> = Result.succeed(undefined)

/**
 * Whether the peer may send an update now (BOLT 2 after `shutdown`). (`checkUpdateAfterShutdown`
 * tells apart only "add". For a removal the channel is never empty (the HTLC is still in it), so
 * a fail or malformed fail is always allowed here.)
 */
const updateAllowed = (state: Normal, kind: "add" | "other"): Result.Result<void, ChannelError> =>
  // Before any `shutdown` every update is allowed (what the check answers then): the usual case, without the emptiness test.
  state.shutdown.localScript === undefined && state.shutdown.remoteScript === undefined
    ? allowed
    : checkUpdateAfterShutdown(state.shutdown, { direction: "receive", kind, channelEmpty: channelEmpty(state.commitments) && !anyPending(state.commitments) })

const normalMessage = (ctx: StepContext, state: Normal, m: ChannelMessage, out: Out): StepResult => {
  const c = state.commitments
  switch (m._tag) {
    case "UpdateAddHtlc": {
      const permitted = updateAllowed(state, "add")
      if (Result.isFailure(permitted)) return violation(state, out, permitted.failure)
      const r = receiveAdd(c, m, limitsOf(ctx))
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      // BOLT 2: over the dust exposure limit, the HTLC is accepted but SHOULD be failed once committed.
      const dustExposed = r.success.dustExposureExceeded === undefined ? state.dustExposed : [...(state.dustExposed ?? []), m.id]
      const next = withCommitments(state, r.success.commitments, out)
      next.dustExposed = dustExposed
      return done(out, next)
    }
    case "UpdateFulfillHtlc": {
      const permitted = updateAllowed(state, "other")
      if (Result.isFailure(permitted)) return violation(state, out, permitted.failure)
      const r = receiveFulfill(c, m)
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      // BOLT 2: the preimage may be used at once (relayed upstream); stored first.
      if (state.fulfilledByPeer.includes(m.id)) return done(out, withCommitments(state, r.success.commitments, out))
      persist(out, { _tag: "PaymentPreimage", updateId: out.nextUpdateId, preimage: m.paymentPreimage })
      // (The TLV only when the peer sent one, set after the other fields: no spread, see `sendAdd` above.)
      const fulfilled: Types.Mutable<Extract<HtlcResult, { readonly _tag: "Fulfilled" }>> = { _tag: "Fulfilled", preimage: m.paymentPreimage }
      if (m.tlvs.attributionData !== undefined) fulfilled.attributionData = m.tlvs.attributionData
      emit(out, { _tag: "HtlcResolved", channelId: c.params.channelId, htlcId: m.id, result: fulfilled })
      const next = withCommitments(state, r.success.commitments, out)
      next.fulfilledByPeer = [...state.fulfilledByPeer, m.id]
      return done(out, next)
    }
    case "UpdateFailHtlc": {
      // Stryker disable next-line StringLiteral: equivalent, only "add" is told apart (see updateAllowed).
      const permitted = updateAllowed(state, "other")
      if (Result.isFailure(permitted)) return violation(state, out, permitted.failure)
      const r = receiveFail(c, m)
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "UpdateFailMalformedHtlc": {
      // Stryker disable next-line StringLiteral: equivalent, only "add" is told apart (see updateAllowed).
      const permitted = updateAllowed(state, "other")
      if (Result.isFailure(permitted)) return violation(state, out, permitted.failure)
      const r = receiveFailMalformed(c, m)
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "UpdateFee": {
      const permitted = updateAllowed(state, "other")
      if (Result.isFailure(permitted)) return violation(state, out, permitted.failure)
      const r = receiveFee(
        c,
        m,
        { estimatedFeeratePerKw: ctx.feerateEstimatePerKw, minPercent: ctx.policy.feerateMinPercent, maxPercent: ctx.policy.feerateMaxPercent },
        limitsOf(ctx)
      )
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      return done(out, withCommitments(state, r.success.commitments, out))
    }
    case "CommitmentSigned": {
      const r = receiveCommit(ctx.secp, c, m)
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      const request = validateAndRevokeRequest(r.success.request)
      sign(out, request)
      const next = withCommitments(state, r.success.commitments, out)
      next.awaiting = { _tag: "Revoke", request }
      return done(out, next)
    }
    case "RevokeAndAck": {
      const r = receiveRevoke(ctx.secp, c, m)
      if (Result.isFailure(r)) return violation(state, out, r.failure)
      persist(out, { _tag: "CommitmentSecret", updateId: out.nextUpdateId, commitmentNumber: r.success.revokedCommitmentNumber, secret: m.perCommitmentSecret })
      let fulfilledByPeer = state.fulfilledByPeer
      const flagged = state.dustExposed
      let received: Array<ReceivedHtlc> | undefined
      // Their adds committed now, when some of theirs are flagged (the flags of those go).
      let committedAdds: Set<bigint> | undefined
      // (Indexed: where V8 does not optimize a `for...of` away, it allocates an iterator and a result per update.)
      const committed = r.success.irrevocablyCommitted
      for (let i = 0; i < committed.length; i++) {
        const u = committed[i]
        if (u === undefined) continue
        if (u._tag === "UpdateAddHtlc") {
          const entry: Types.Mutable<ReceivedHtlc> = {
            htlcId: u.id,
            amount: u.amountMsat,
            paymentHash: u.paymentHash,
            cltvExpiry: u.cltvExpiry,
            onion: u.onionRoutingPacket
          }
          const pathKey = pathKeyOf(ctx, u.tlvs.blindedPath)
          if (pathKey !== undefined) entry.pathKey = pathKey
          if (flagged !== undefined && flagged.includes(u.id)) entry.dustExposureExceeded = true
          received ??= []
          received.push(entry)
          if (flagged !== undefined) {
            committedAdds ??= new Set()
            committedAdds.add(u.id)
          }
          emit(out, htlcReceivedEvent(c.params.channelId, entry))
        } else if (u._tag === "UpdateFailHtlc") {
          const failed: Types.Mutable<Extract<HtlcResult, { readonly _tag: "Failed" }>> = { _tag: "Failed", reason: u.reason }
          if (u.tlvs.attributionData !== undefined) failed.attributionData = u.tlvs.attributionData
          emit(out, { _tag: "HtlcResolved", channelId: c.params.channelId, htlcId: u.id, result: failed })
        } else if (u._tag === "UpdateFailMalformedHtlc")
          emit(out, {
            _tag: "HtlcResolved",
            channelId: c.params.channelId,
            htlcId: u.id,
            result: { _tag: "Malformed", sha256OfOnion: u.sha256OfOnion, failureCode: u.failureCode }
          })
        else if (u._tag === "UpdateFulfillHtlc") {
          const id = u.id
          // (A new array only when the id is there: the same array otherwise, as its encoding is memoized by array.)
          if (fulfilledByPeer.includes(id)) fulfilledByPeer = fulfilledByPeer.filter((x) => x !== id)
        }
      }
      const held = state.receivedHtlcs
      const added = committedAdds
      const dustExposed = flagged === undefined || added === undefined ? flagged : flagged.filter((id) => !added.has(id))
      const receivedHtlcs = stillReceived(r.success.commitments, received === undefined ? (held ?? []) : held === undefined ? received : [...held, ...received])
      const next = withCommitments(state, r.success.commitments, out)
      next.commitSentAtLocalNumber = undefined
      next.fulfilledByPeer = fulfilledByPeer
      next.dustExposed = dustExposed !== undefined && dustExposed.length > 0 ? dustExposed : undefined
      next.receivedHtlcs = receivedHtlcs.length > 0 ? receivedHtlcs : undefined
      return progressShutdown(ctx, next, out)
    }
    case "Shutdown": {
      const r = receiveShutdown(shutdownContext(ctx, c), state.shutdown, m)
      if (Result.isFailure(r)) {
        if (r.failure.rule === "InvalidScript") {
          out.outputs.push({ _tag: "SendWarning", channelId: c.params.channelId, message: errorText(r.failure) })
          return done(out, state)
        }
        return violation(state, out, r.failure)
      }
      if (state.shutdown.remoteScript !== undefined) return done(out, state) // a repeat (idempotent)
      persist(out, { _tag: "ShutdownScript", updateId: out.nextUpdateId, side: "counterparty", script: m.scriptpubkey })
      if (state.shutdown.localScript === undefined && state.pendingClose === undefined)
        emit(out, { _tag: "ShutdownStarted", channelId: c.params.channelId, initiator: "remote" })
      const next = makeNormal(state)
      next.shutdown = r.success.state
      return progressShutdown(ctx, next, out)
    }
    case "ClosingSigned":
    case "ClosingComplete": {
      // The peer became ready to negotiate with the message that made us ready too: start, then handle it.
      if (!negotiationReady(state)) return peerMessageUnexpected(state, out, m)
      const started = startNegotiation(ctx, state, out)
      if (Result.isFailure(started)) return started
      const s = started.success.state
      if (s._tag !== "Negotiating" || s.awaiting !== undefined) return peerMessageUnexpected(state, out, m)
      return stepClosing(ctx, s, { _tag: "PeerMessage", message: m }, newOutFrom(out, s))
    }
    case "ChannelReady":
      // BOLT 2: ignore a redundant channel_ready (after reconnection); a new alias is allowed.
      if (m.tlvs.shortChannelId === undefined) return done(out, state)
      const next = makeNormal(state)
      next.remoteAlias = m.tlvs.shortChannelId
      return done(out, next)
    default:
      return peerMessageUnexpected(state, out, m)
  }
}

/** The `blinded_path` TLV's point (invalid points are left out: the payment layer fails the HTLC). */
const pathKeyOf = (ctx: StepContext, bytes: Uint8Array | undefined): PublicKey | undefined => {
  if (bytes === undefined) return undefined
  const key = parsePublicKey(ctx.secp, bytes)
  return Result.isSuccess(key) ? key.success : undefined
}

/**
 * The signer requests of normal operation, `{ _tag, ...request }` written out field by field
 * (same fields, same order): V8 copies a spread that follows other properties through a
 * generic path, ~10x the cost of these stores (~250 ns against ~25 measured), and every
 * `commitment_signed` sent or received made one.
 */
export const signCommitmentRequest = (r: SignCommitmentRequest): SignerRequest => ({
  _tag: "SignCounterpartyCommitment",
  commitment: r.commitment,
  theirPerCommitmentPoint: r.theirPerCommitmentPoint
})
/** `{ _tag: "ValidateAndRevoke", ...request }` field by field (see `signCommitmentRequest`). */
export const validateAndRevokeRequest = (r: RevokeRequest): SignerRequest => ({
  _tag: "ValidateAndRevoke",
  holderCommitment: r.holderCommitment,
  signature: r.signature,
  htlcSignatures: r.htlcSignatures,
  revokeCommitmentNumber: r.revokeCommitmentNumber,
  nextCommitmentNumber: r.nextCommitmentNumber
})

/** Continues an `Out` after a nested step that already produced outputs. */
const newOutFrom = (out: Out, s: ChannelState): Out => ({ outputs: out.outputs, nextUpdateId: s.nextUpdateId })

// ---- shutdown and closing negotiation ------------------------------------------------------------

const negotiationReady = (s: Normal): boolean =>
  s.awaiting === undefined &&
  readyToNegotiate(s.shutdown, {
    htlcCount: htlcCount(s.commitments),
    pendingUpdates: anyPending(s.commitments),
    revocationOwed: s.commitments.owedRevocation !== null || s.commitments.remoteNextCommitInfo._tag !== "NextPoint"
  })

/**
 * After every change in normal operation: send our pending `shutdown` (ours, or the reply BOLT
 * 2 requires) once no update of ours is pending on the peer's commitment; start the closing
 * negotiation once both `shutdown`s are exchanged and the channel is empty.
 */
export const progressShutdown = (ctx: StepContext, state: Normal, out: Out): StepResult => {
  if (state.connection !== "Connected" || state.awaiting !== undefined) return done(out, state)
  // No `shutdown` sent, received or asked for: nothing to send and no negotiation (both tests
  // below need one of these), the usual case.
  if (state.shutdown.localScript === undefined && state.shutdown.remoteScript === undefined && state.pendingClose === undefined) return done(out, state)
  let s = state
  const c = s.commitments
  if (s.shutdown.localScript === undefined && !pendingForRemote(c) && (s.pendingClose !== undefined || s.shutdown.remoteScript !== undefined)) {
    const script = s.pendingClose?.scriptPubKey ?? c.params.local.upfrontShutdownScript ?? ctx.config.upfrontShutdownScript ?? ctx.shutdownScript
    const made = makeShutdown(shutdownContext(ctx, c), s.shutdown, script)
    if (Result.isFailure(made)) return failChannel(s, out, `cannot send shutdown: ${errorText(made.failure)}`, "local")
    persist(out, { _tag: "ShutdownScript", updateId: out.nextUpdateId, side: "holder", script })
    send(out, made.success.message)
    if (s.shutdown.remoteScript === undefined) emit(out, { _tag: "ShutdownStarted", channelId: c.params.channelId, initiator: "local" })
    const sent = makeNormal(s)
    sent.pendingClose = undefined
    sent.shutdown = made.success.state
    s = sent
  }
  if (negotiationReady(s)) return startNegotiation(ctx, s, out)
  return done(out, s)
}

/** A closing negotiation restarts after reconnection (BOLT 2: "negotiation restarts on reconnection"). */
export const startNegotiationFrom = (ctx: StepContext, s: Negotiating, out: Out): StepResult =>
  startNegotiation(
    ctx,
    makeNormal({
      nextUpdateId: out.nextUpdateId,
      connection: s.connection,
      commitments: s.commitments,
      shutdown: s.shutdown,
      closingFeeratePerKw: s.closingFeeratePerKw,
      revealedSecrets: s.revealedSecrets,
      localAlias: s.localAlias,
      // (Dropped again by `startNegotiation`: whatever stands here is never read.)
      // Stryker disable next-line ArrayDeclaration: equivalent, never read.
      fulfilledByPeer: []
    }),
    out
  )

/** The closing negotiation starts (BOLT 2 "Closing Negotiation" / "Legacy Closing Negotiation"). */
const startNegotiation = (ctx: StepContext, s: Normal, out: Out): StepResult => {
  const c = s.commitments
  const localScript = s.shutdown.localScript
  const remoteScript = s.shutdown.remoteScript
  // (Both callers come with both scripts: the guard is for the type.)
  // Stryker disable next-line LogicalOperator: equivalent, both scripts are always there.
  if (localScript === undefined || remoteScript === undefined) return done(out, s)
  const channel = closingChannel(c.params, { toLocal: c.localCommit.spec.toLocal, toRemote: c.localCommit.spec.toRemote })
  const feerate = s.closingFeeratePerKw ?? ctx.feerateEstimatePerKw
  const base = {
    _tag: "Negotiating" as const,
    nextUpdateId: out.nextUpdateId,
    connection: s.connection,
    commitments: c,
    shutdown: s.shutdown,
    closingFeeratePerKw: feerate,
    revealedSecrets: s.revealedSecrets,
    // Kept for channel_ready retransmitted on reestablish (reestablish.ts).
    ...(s.localAlias === undefined ? {} : { localAlias: s.localAlias })
  }
  if (closeFeatures(ctx.features).simpleClose) {
    const close = startSimpleClose({ channel, localScript, remoteScript })
    return proposeSimple(ctx, { ...base, mode: { _tag: "Simple", close, closingTxids: [] } }, out)
  }
  const draft = startLegacyNegotiation({ channel, localScript, remoteScript, feeRange: { min: sat(0n), max: c.params.fundingAmount } })
  if (Result.isFailure(draft)) return failChannel(s, out, errorText(draft.failure), "local")
  const draftTx = legacyClosingTx(draft.success, sat(0n))
  if (Result.isFailure(draftTx)) return failChannel(s, out, errorText(draftTx.failure), "local")
  const wanted = legacyFeeRange(ctx.config, c.params.localIsFunder, closingFee(draftTx.success.tx, feerate))
  // As the funder, never more than our output can pay: a close the peer started, priced at our
  // estimate, would otherwise fail the channel.
  const feeRange = c.params.localIsFunder ? cappedAtBalance(wanted, msatToSat(c.localCommit.spec.toLocal)) : wanted
  const negotiation = startLegacyNegotiation({ channel, localScript, remoteScript, feeRange })
  if (Result.isFailure(negotiation)) return failChannel(s, out, errorText(negotiation.failure), "local")
  const state: Negotiating = { ...base, mode: { _tag: "Legacy", negotiation: negotiation.success } }
  // The funder SHOULD send the first closing_signed; the other side waits for it.
  if (!c.params.localIsFunder) return done(out, state)
  const proposal = legacyInitialProposal(negotiation.success, feerate)
  if (Result.isFailure(proposal)) return failChannel(s, out, errorText(proposal.failure), "local")
  const request: SignerRequest = { _tag: "SignClosing", tx: serializeTransaction(proposal.success.tx.tx) }
  sign(out, request)
  return done(out, { ...state, awaiting: { _tag: "ClosingSigned", request, signing: { _tag: "Propose", fee: proposal.success.fee } } })
}

/** Our `closing_complete` (simple close), when our balance can pay a fee leaving an output. */
const proposeSimple = (ctx: StepContext, state: Negotiating | Closing, out: Out): StepResult => {
  const close = simpleOf(state)
  // (Called only as a negotiation starts, connected, with a fresh close and nothing pending: the
  // guard, and the Closing branch of the feerate below, are for the types. A draft at fee 0
  // always has a variant (one side holds at least its reserve, above dust; ours may be left
  // out), so the draft's failure and the empty lists below do not happen either; only the
  // priced proposal can fail.)
  // Stryker disable next-line LogicalOperator: equivalent, none of the three holds.
  if (close === undefined || close.pending !== undefined || state.connection !== "Connected") return done(out, state)
  const draft = proposeClosingComplete(close, { fee: sat(0n), locktime: 0 })
  if (Result.isFailure(draft)) return done(out, state)
  const largest = draft.success.toSign[draft.success.toSign.length - 1]
  if (largest === undefined) return done(out, state)
  const feerate = state._tag === "Negotiating" ? state.closingFeeratePerKw : ctx.feerateEstimatePerKw
  const fee = closingFee(largest.tx, feerate)
  const proposal = proposeClosingComplete(close, { fee, locktime: 0 })
  // Our balance cannot pay for a closing transaction: we only sign the peer's.
  if (Result.isFailure(proposal)) return done(out, state)
  const firstTx = proposal.success.toSign[0]
  if (firstTx === undefined) return done(out, state)
  const request: SignerRequest = { _tag: "SignClosing", tx: serializeTransaction(firstTx.tx) }
  sign(out, request)
  return done(out, { ...state, awaiting: { _tag: "ClosingComplete", request, fee, locktime: 0, signatures: [] } })
}

// (A legacy mode has no `close`, and a negotiation's `closingTxids` stay empty until it becomes
// Closing; `withSimple` is given only a simple negotiation: in these three helpers the mode tests
// could read `true` / `false` the same.)
const simpleOf = (s: Negotiating | Closing): SimpleClose | undefined =>
  s._tag === "Negotiating" ? (s.mode._tag === "Simple" ? s.mode.close : undefined) : s.simple

const closingTxidsOf = (s: Negotiating | Closing): ReadonlyArray<Uint8Array> =>
  s._tag === "Closing" ? s.closingTxids : s.mode._tag === "Simple" ? s.mode.closingTxids : []

const withSimple = (s: Negotiating | Closing, close: SimpleClose): Negotiating | Closing =>
  s._tag === "Closing" ? { ...s, simple: close } : s.mode._tag === "Simple" ? { ...s, mode: { ...s.mode, close } } : s

/** A mutual close was signed and broadcast: `Closing` (more simple-close rounds may follow). */
const closeBroadcast = (
  s: Negotiating | Closing,
  out: Out,
  tx: Uint8Array,
  txid: Uint8Array,
  close: SimpleClose | undefined,
  closingSigned?: ChannelMessage
): StepResult => {
  out.outputs.push({ _tag: "Broadcast", tx, label: "mutual-close" })
  const previous = closingTxidsOf(s)
  const c = s.commitments
  if (previous.length === 0)
    emit(out, { _tag: "ChannelClosed", channelId: c.params.channelId, reason: { _tag: "Cooperative", closingTxid: txid } })
  const { awaiting: _done, ...rest } = s
  const closing: Closing = {
    _tag: "Closing",
    nextUpdateId: out.nextUpdateId,
    connection: s.connection,
    channelId: c.params.channelId,
    params: c.params,
    closingTxids: previous.some((t) => equalBytes(t, txid)) ? previous : [...previous, txid],
    localCommitTxid: c.localCommit.txid,
    commitments: c,
    revealedSecrets: rest.revealedSecrets,
    ...(s.localAlias === undefined ? {} : { localAlias: s.localAlias }),
    retransmit:
      s._tag === "Closing"
        ? s.retransmit
        : [
            // (A negotiation always has our script: the empty case is for the type.)
            ...(s.shutdown.localScript === undefined ? [] : [Shutdown.make({ channelId: c.params.channelId, scriptpubkey: s.shutdown.localScript })]),
            ...(closingSigned === undefined ? [] : [closingSigned])
          ],
    ...(close === undefined ? {} : { simple: close })
  }
  return done(out, closing)
}

const stepClosing = (ctx: StepContext, state: Negotiating | Closing, input: ChannelInput, out: Out): StepResult => {
  const c = state.commitments
  switch (input._tag) {
    case "Signed":
      return closingSigned(ctx, state, input.result, out)
    case "PeerMessage": {
      const m = input.message
      if (state.connection !== "Connected") return unexpected(state, input, "a message before channel_reestablish")
      if (state.awaiting !== undefined) return unexpected(state, input, "a message while the signer is working (Signed must come first)")
      if (m._tag === "ClosingSigned" && state._tag === "Negotiating" && state.mode._tag === "Legacy") {
        const r = receiveClosingSigned(ctx.secp, state.mode.negotiation, m)
        if (Result.isFailure(r)) return violation(state, out, r.failure)
        const negotiating: Negotiating = { ...state, mode: { _tag: "Legacy", negotiation: r.success.state } }
        const o = r.success.outcome
        const request: SignerRequest = { _tag: "SignClosing", tx: serializeTransaction(o.tx) }
        sign(out, request)
        const signing =
          o._tag === "Agreed"
            ? { _tag: "Agree" as const, fee: o.fee, tx: serializeTransaction(o.tx), remoteSignature: o.remoteSignature, reply: o.reply }
            : { _tag: "Propose" as const, fee: o.fee }
        return done(out, { ...negotiating, awaiting: { _tag: "ClosingSigned", request, signing } })
      }
      const close = simpleOf(state)
      if (m._tag === "ClosingComplete" && close !== undefined) {
        const r = receiveClosingComplete(ctx.secp, close, closeFeatures(ctx.features), m)
        if (Result.isFailure(r)) {
          if (r.failure.rule === "CloseeScriptMismatch" || r.failure.rule === "InvalidCloserScript") {
            out.outputs.push({ _tag: "SendWarning", channelId: c.params.channelId, message: errorText(r.failure) })
            return done(out, state)
          }
          return violation(state, out, r.failure)
        }
        const request: SignerRequest = { _tag: "SignClosing", tx: serializeTransaction(r.success.received.tx) }
        sign(out, request)
        return done(out, { ...withSimple(state, r.success.state), awaiting: { _tag: "ClosingSig", request, message: m } })
      }
      if (m._tag === "ClosingSig" && close !== undefined) {
        const r = receiveClosingSig(ctx.secp, close, m)
        if (Result.isFailure(r)) return violation(state, out, r.failure)
        return closeBroadcast(withSimple(state, r.success.state), out, serializeTransaction(r.success.tx), computeTxid(r.success.tx), r.success.state)
      }
      // Repeats after reconnection (shutdown, channel_ready, a late closing_signed once closing) are ignored.
      if (m._tag === "Shutdown" || m._tag === "ChannelReady" || state._tag === "Closing") return done(out, state)
      return peerMessageUnexpected(state, out, m)
    }
    case "AddHtlc":
      return rejectHtlc(state, out, input.requestId, "the channel is closing")
    case "SignNow":
    case "FundingDepth":
      return done(out, state)
    default:
      return unexpected(state, input, `not valid in ${state._tag}`)
  }
}

const closingSigned = (ctx: StepContext, state: Negotiating | Closing, result: SignerResult, out: Out): StepResult => {
  const awaiting = state.awaiting
  if (awaiting === undefined) return Result.fail(new UnexpectedInput({ phase: state._tag, input: "Signed", detail: "no signer request pending" }))
  if (result._tag === "SignerFailed") return failChannel(state, out, `signer: ${result.reason}`, "local")
  if (awaiting._tag === "RetransmitRevoke" || awaiting._tag === "DataLossCheck") return onRetransmitSigned(ctx, state, awaiting, result, out)
  if (result._tag !== "ClosingSignature") return unexpected(state, { _tag: "Signed", result }, `signer answer ${result._tag} while awaiting ${awaiting._tag}`)
  const { awaiting: _done, ...rest } = state
  const s: Negotiating | Closing = rest
  if (awaiting._tag === "ClosingSigned" && s._tag === "Negotiating" && s.mode._tag === "Legacy") {
    const n = s.mode.negotiation
    const signing = awaiting.signing
    if (signing._tag === "Propose") {
      const sent = sendClosingSigned(n, signing.fee, result.signature)
      send(out, sent.message)
      return done(out, { ...s, mode: { _tag: "Legacy", negotiation: sent.state } })
    }
    const tx = decodeTransaction(signing.tx)
    if (Result.isFailure(tx)) return failChannel(state, out, "closing transaction does not parse", "local")
    // Our closing_signed for the agreed fee: sent now if the rules say reply, and kept to
    // retransmit on reconnection (BOLT 2: closing_signed has no acknowledgment).
    const agreed = sendClosingSigned(n, signing.fee, result.signature)
    if (signing.reply) send(out, agreed.message)
    const finalTx = finalizeClosing(n.channel, tx.success, result.signature, signing.remoteSignature)
    return closeBroadcast({ ...s, mode: { _tag: "Legacy", negotiation: agreed.state } }, out, serializeTransaction(finalTx), computeTxid(finalTx), undefined, agreed.message)
  }
  const close = simpleOf(s)
  if (awaiting._tag === "ClosingComplete" && close !== undefined) {
    const signatures = [...awaiting.signatures, result.signature]
    // (The same proposal succeeded when the request was made, and one signature per variant is
    // given: this failure and `sendClosingComplete`'s, like the re-check of a closing_complete
    // below, cannot happen; they keep the channel safe if that ever changes.)
    const proposal = proposeClosingComplete(close, { fee: awaiting.fee, locktime: awaiting.locktime })
    if (Result.isFailure(proposal)) return failChannel(state, out, errorText(proposal.failure), "local")
    const nextTx = proposal.success.toSign[signatures.length]
    if (nextTx !== undefined) {
      const request: SignerRequest = { _tag: "SignClosing", tx: serializeTransaction(nextTx.tx) }
      sign(out, request)
      return done(out, { ...s, awaiting: { ...awaiting, request, signatures } })
    }
    const sent = sendClosingComplete(close, proposal.success, signatures)
    if (Result.isFailure(sent)) return failChannel(state, out, errorText(sent.failure), "local")
    send(out, sent.success.message)
    return done(out, withSimple(s, sent.success.state))
  }
  if (awaiting._tag === "ClosingSig" && close !== undefined && awaiting.message._tag === "ClosingComplete") {
    const r = receiveClosingComplete(ctx.secp, close, closeFeatures(ctx.features), awaiting.message)
    if (Result.isFailure(r)) return failChannel(state, out, errorText(r.failure), "local")
    const sent = sendClosingSig(close, r.success.received, result.signature)
    send(out, sent.message)
    return closeBroadcast(s, out, serializeTransaction(sent.tx), computeTxid(sent.tx), close)
  }
  return unexpected(state, { _tag: "Signed", result }, `signer answer ${result._tag} while awaiting ${awaiting._tag}`)
}

// ---- the funding output spent ---------------------------------------------------------------------

/** Txids of the closing transactions we signed during this negotiation (any of them may confirm). */
const signedClosingTxids = (state: Negotiating): ReadonlyArray<Uint8Array> => {
  const mode = state.mode
  if (mode._tag === "Legacy") {
    const fee = mode.negotiation.lastSent
    const tx = fee === undefined ? undefined : legacyClosingTx(mode.negotiation, fee)
    // (Whatever stands for "none" here matches no 32-byte txid.)
    return tx === undefined || Result.isFailure(tx) ? [] : [computeTxid(tx.success.tx)]
  }
  // Our `closing_complete` still awaiting its `closing_sig`: the variants we signed, rebuilt.
  const { pending, ...settled } = mode.close
  if (pending === undefined) return mode.closingTxids
  const proposal = proposeClosingComplete(settled, { fee: pending.fee, locktime: pending.locktime, closerScript: pending.closerScript })
  if (Result.isFailure(proposal)) return mode.closingTxids
  const signed = proposal.success.toSign.filter((t) => pending.signatures.some((s) => s.variant === t.variant))
  return [...mode.closingTxids, ...signed.map((t) => computeTxid(t.tx))]
}

const onFundingSpent = (state: ChannelState, out: Out, txid: Uint8Array): StepResult => {
  const channelId = asChannelId(channelIdOf(state))
  const closed = (reason: ClosedReason, announce: boolean): StepResult => {
    if (announce) emit(out, { _tag: "ChannelClosed", channelId, reason })
    return done(out, { _tag: "Closed", nextUpdateId: out.nextUpdateId, channelId, reason })
  }
  switch (state._tag) {
    case "Closed":
      return done(out, state)
    case "Failed": {
      if (state.localCommitTxid === undefined || equalBytes(state.localCommitTxid, txid)) return closed(state.reason, false)
      return closed({ _tag: "RemoteForceClose", txid }, true)
    }
    case "Closing":
      if (state.closingTxids.some((t) => equalBytes(t, txid))) {
        persist(out, { _tag: "ChannelClosed", updateId: out.nextUpdateId, closingTxid: computeTxidBrand(txid) })
        return closed({ _tag: "Cooperative", closingTxid: txid }, false)
      }
      break
    case "WaitRemoteClose":
      return closed({ _tag: "RemoteForceClose", txid }, true)
    case "Negotiating":
      // The peer may broadcast a closing transaction we signed before its last message reached us
      // (it accepted our fee, or completed our `closing_complete`): that is a cooperative close.
      if (signedClosingTxids(state).some((t) => equalBytes(t, txid))) {
        persist(out, { _tag: "ChannelClosed", updateId: out.nextUpdateId, closingTxid: computeTxidBrand(txid) })
        return closed({ _tag: "Cooperative", closingTxid: txid }, true)
      }
      break
    case "WaitChannelReady":
    case "Normal":
      break
    default:
      return unexpected(state, { _tag: "FundingSpent", txid }, "the channel is not funded")
  }
  const local = localCommitTxidOf(state)
  if (local !== undefined && equalBytes(local, txid)) return closed({ _tag: "LocalForceClose", reason: "our commitment was published" }, true)
  return closed({ _tag: "RemoteForceClose", txid }, true)
}

type MonitorTxid = NonNullable<Extract<MonitorUpdate, { _tag: "ChannelClosed" }>["closingTxid"]>
const isMonitorTxid = (b: Uint8Array): b is MonitorTxid => b.length === 32
const computeTxidBrand = (b: Uint8Array): MonitorTxid => {
  // Stryker disable next-line StringLiteral: unreachable (the message of a guard the input schema makes unreachable).
  if (!isMonitorTxid(b)) throw new RangeError("a txid is 32 bytes") // unreachable: the input schema checks it
  return b
}
