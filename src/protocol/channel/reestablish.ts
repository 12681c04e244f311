/**
 * BOLT 2 "Message Retransmission": what a channel forgets when the connection drops, the
 * `channel_reestablish` it sends when the peer is back, and what it retransmits (exactly what
 * the peer missed, in the original order) when it receives the peer's.
 *
 * On disconnection:
 * - before the funding is stored (funder: not broadcast; fundee: `funding_signed` not sent),
 *   the channel is forgotten (BOLT 2 SHOULD NOT remember it);
 * - the peer's updates we hold no `commitment_signed` for are reversed (BOLT 2 MUST), and their
 *   HTLC ids reused;
 * - OUR unsigned updates are kept: the peer forgot them, and we send them again after the
 *   retransmissions (the rationale of BOLT 2: "if the commit is not acknowledged (or wasn't
 *   sent) the updates are re-sent"), so a fulfill or an HTLC is never lost on a reconnection.
 *
 * On the peer's `channel_reestablish` (numbers as in BOLT 2; L = our current commitment number):
 * - `next_commitment_number` 0: fail the channel (MUST).
 * - `next_revocation_number` > L (`option_data_loss_protect`): the peer says it saw a
 *   revocation of ours we do not know: we check `your_last_per_commitment_secret` against our
 *   point for that number (the signer's, when we do not hold it); if it is ours we are behind:
 *   we MUST NOT broadcast our commitment, we send an `error` and wait for the peer's
 *   (`WaitRemoteClose`); if it is not, the peer lies: fail the channel.
 * - `your_last_per_commitment_secret` must be the secret we revealed for that number (we keep
 *   the last two), else fail the channel (SHOULD).
 * - revoke_and_ack: R = L: received; R = L - 1: our last one is sent again; otherwise fail.
 * - commitment_signed: awaiting their revocation of commitment N, and they expect N: our signed
 *   updates and the `commitment_signed` again (same signatures); expect N + 1: received;
 *   otherwise fail. The two retransmissions keep their original relative order
 *   (`commitSentAtLocalNumber`).
 * - Both `next_commitment_number` 1: `channel_ready` again (MUST; in Normal, Negotiating and
 *   Closing, which keep our alias for it). Then our unsigned updates,
 *   then our `shutdown` if we sent one (MUST), and a closing negotiation restarts.
 */
import { Result } from "effect"
import { equalBytes } from "../bytes.ts"
import { perCommitmentPoint as pointOfSecret } from "../keys/derivation.ts"
import { deriveOldSecret, indexOfCommitment } from "../keys/shachain.ts"
import { ChannelReady, ChannelReestablish, CommitmentSigned, RevokeAndAck, Shutdown, type ChannelMessage } from "../messages/channel.ts"
import type { ShortChannelId } from "../codec/fields.ts"
import type { PublicKey } from "../keys/keys.ts"
import type { ChannelId } from "../units.ts"
import type { Commitments } from "./commitments.ts"
import type { ChannelInput, SignerRequest, SignerResult } from "./io.ts"
import type { Awaiting, ChannelState, Closing, Negotiating, Normal, NormalFields, WaitChannelReady } from "./state.ts"
import { channelIdOf, makeNormal } from "./state.ts"
import { done, emit, failChannel, progressShutdown, send, sign, startNegotiationFrom, UnexpectedInput, type Out, type StepContext, type Step } from "./step.ts"
import type { StepError } from "./step.ts"

type StepResult = Result.Result<Step, StepError>
type WithCommitments = Normal | Negotiating | Closing

const ZEROS32 = new Uint8Array(32)

// ---- disconnection -------------------------------------------------------------------------------

/**
 * BOLT 2: reverses the peer's updates not yet covered by a `commitment_signed` we received
 * (`remoteChanges.proposed`), reusing their HTLC ids.
 */
export const dropUncommittedRemote = (c: Commitments): Commitments => {
  const adds = c.remoteChanges.proposed.filter((u) => u._tag === "UpdateAddHtlc").length
  return {
    ...c,
    remoteChanges: { ...c.remoteChanges, proposed: [] },
    remoteNextHtlcId: c.remoteNextHtlcId - BigInt(adds)
  }
}

/** `dropUncommittedRemote` for a channel in normal operation (and the flags of the HTLCs dropped). */
const forgetUncommitted = (s: Normal): NormalFields => {
  const next = makeNormal(s)
  next.commitments = dropUncommittedRemote(s.commitments)
  const remoteNextHtlcId = next.commitments.remoteNextHtlcId
  // (Another default than [] is filtered away here: the ids kept are bigints below the next id.)
  const kept = (s.dustExposed ?? []).filter((id) => id < remoteNextHtlcId)
  next.dustExposed = kept.length === 0 ? undefined : kept
  return next
}

export const onDisconnected = (_ctx: StepContext, state: ChannelState, out: Out): StepResult => {
  switch (state._tag) {
    case "WaitAcceptChannel":
    case "WaitFundingTx":
    case "WaitFundingSigned":
    case "WaitFundingCreated": {
      const channelId = channelIdOfState(state)
      const reason = { _tag: "FundingAborted" as const, reason: "disconnected before the funding was signed" }
      emit(out, { _tag: "ChannelClosed", channelId, reason })
      return done(out, { _tag: "Closed", nextUpdateId: out.nextUpdateId, channelId, reason })
    }
    case "WaitChannelReady":
      return done(out, { ...state, connection: "Disconnected" })
    case "Normal":
      if (state.awaiting !== undefined) return Result.fail(awaitingFirst(state))
      const next = forgetUncommitted(state)
      next.connection = "Disconnected"
      return done(out, next)
    case "Negotiating":
    case "Closing":
      if (state.awaiting !== undefined) return Result.fail(awaitingFirst(state))
      return done(out, { ...state, connection: "Disconnected" })
    case "Closed":
    case "Failed":
    case "WaitRemoteClose":
      return done(out, state)
  }
}

const awaitingFirst = (state: ChannelState): UnexpectedInput =>
  new UnexpectedInput({ phase: state._tag, input: "PeerDisconnected", detail: "the signer's answer (Signed) must come first" })

// A guard the states make unreachable (their ids are 32 bytes by their Schema): no test can fail it.
const isChannelId = (b: Uint8Array): b is ChannelId => b.length === 32
const channelIdOfState = (state: ChannelState): ChannelId => {
  const id = channelIdOf(state)
  // Stryker disable next-line StringLiteral: unreachable, the states' ids are 32 bytes (their Schema).
  if (!isChannelId(id)) throw new RangeError("channel id must be 32 bytes") // unreachable: states hold 32-byte ids
  return id
}

// ---- connection ------------------------------------------------------------------------------------

/** Our `channel_reestablish` for a channel in normal operation (or closing). */
export const reestablishFor = (c: Commitments): ChannelReestablish => {
  const last = c.remoteCommit.number
  // BOLT 2: zeros when next_revocation_number is 0 (the shachain lookup of "commitment -1" fails
  // too: the test only says it), and zeros when the secret is not in the store.
  const secret =
    last === 0n ? ZEROS32 : Result.getOrElse(deriveOldSecret(c.remotePerCommitmentSecrets, indexOfCommitment(last - 1n)), () => ZEROS32)
  return ChannelReestablish.make({
    channelId: c.params.channelId,
    nextCommitmentNumber: c.localCommit.number + 1n,
    nextRevocationNumber: last,
    yourLastPerCommitmentSecret: secret,
    myCurrentPerCommitmentPoint: c.localCommit.perCommitmentPoint
  })
}

export const onConnected = (_ctx: StepContext, state: ChannelState, out: Out): StepResult => {
  switch (state._tag) {
    case "Failed":
    case "WaitRemoteClose":
      // BOLT 2: a channel in an error state retransmits the error.
      out.outputs.push({ _tag: "SendError", channelId: state.channelId, message: state.errorMessage })
      return done(out, state)
    case "WaitChannelReady":
      send(
        out,
        ChannelReestablish.make({
          channelId: state.params.channelId,
          nextCommitmentNumber: 1n,
          nextRevocationNumber: 0n,
          yourLastPerCommitmentSecret: ZEROS32,
          myCurrentPerCommitmentPoint: state.localCommit.perCommitmentPoint
        })
      )
      return done(out, { ...state, connection: "Reestablishing" })
    case "Normal": {
      // A state restored after a restart may not have seen the disconnection: forget the peer's
      // uncommitted updates now (idempotent after a PeerDisconnected: the test only saves the work).
      // Stryker disable next-line StringLiteral: equivalent, forgetUncommitted is idempotent (see above).
      const next = state.connection === "Disconnected" ? makeNormal(state) : forgetUncommitted(state)
      send(out, reestablishFor(next.commitments))
      next.connection = "Reestablishing"
      return done(out, next)
    }
    case "Negotiating":
    case "Closing":
      send(out, reestablishFor(state.commitments))
      return done(out, { ...state, connection: "Reestablishing" })
    default:
      return done(out, state)
  }
}

// ---- the peer's channel_reestablish -------------------------------------------------------------------

export const onReestablish = (ctx: StepContext, state: ChannelState, out: Out, m: ChannelReestablish): StepResult => {
  switch (state._tag) {
    case "WaitChannelReady":
      if (state.connection !== "Reestablishing") return done(out, state)
      return reestablishWaitReady(state, out, m)
    case "Normal":
    case "Negotiating":
    case "Closing":
      if (state.connection !== "Reestablishing") return done(out, state)
      if (!equalBytes(m.channelId, state.commitments.params.channelId))
        return failChannel(state, out, "channel_reestablish for another channel", "peer-violation")
      return reestablishCommitments(ctx, state, out, m)
    default:
      // Closed, failed, not yet funded: nothing to reestablish.
      return done(out, state)
  }
}

const reestablishWaitReady = (state: WaitChannelReady, out: Out, m: ChannelReestablish): StepResult => {
  if (m.nextCommitmentNumber === 0n) return failChannel(state, out, "channel_reestablish with next_commitment_number 0", "peer-violation")
  if (m.nextCommitmentNumber !== 1n || m.nextRevocationNumber !== 0n)
    return failChannel(state, out, "channel_reestablish ahead of a channel that never moved", "peer-violation")
  if (state.localReadySent) send(out, channelReady(state.params.channelId, state.localSecondPoint, state.localAlias))
  return done(out, { ...state, connection: "Connected" })
}

/** Our `revoke_and_ack` for commitment `L - 1`, rebuilt from what we revealed (undefined: ask the signer). */
const lastRevocation = (s: WithCommitments): RevokeAndAck | undefined => {
  const c = s.commitments
  const revealed = s.revealedSecrets.find((r) => r.commitmentNumber === c.localCommit.number - 1n)
  if (revealed === undefined) return undefined
  return RevokeAndAck.make({ channelId: c.params.channelId, perCommitmentSecret: revealed.secret, nextPerCommitmentPoint: c.localNextPerCommitmentPoint })
}

const reestablishCommitments = (ctx: StepContext, state: WithCommitments, out: Out, m: ChannelReestablish): StepResult => {
  const c = state.commitments
  const L = c.localCommit.number
  const N = m.nextCommitmentNumber
  const R = m.nextRevocationNumber
  // Every `failChannel` here is "peer-violation"; `failChannel` tells apart only "peer-error" and
  // "local", so another text there behaves the same.
  if (N === 0n) return failChannel(state, out, "channel_reestablish with next_commitment_number 0", "peer-violation")
  // option_data_loss_protect: the peer saw a revocation of ours we do not know of.
  if (R > L) {
    const n = R - 1n
    const known = n === L ? c.localCommit.perCommitmentPoint : n === L + 1n ? c.localNextPerCommitmentPoint : undefined
    if (known !== undefined) return dataLossVerdict(ctx, state, out, m.yourLastPerCommitmentSecret, known)
    const request: SignerRequest = { _tag: "PerCommitmentPoint", commitmentNumber: n }
    sign(out, request)
    return done(out, withAwaiting(state, { _tag: "DataLossCheck", request, commitmentNumber: n, secret: m.yourLastPerCommitmentSecret }))
  }
  // (R = 0: there is no secret for commitment -1 to compare, so `R >= 0n` would behave the same.)
  if (R > 0n) {
    const expected = state.revealedSecrets.find((r) => r.commitmentNumber === R - 1n)
    if (expected !== undefined && !equalBytes(expected.secret, m.yourLastPerCommitmentSecret))
      return failChannel(state, out, "your_last_per_commitment_secret is not the secret we revealed", "peer-violation")
  }
  // Stryker disable next-line BooleanLiteral: equivalent, every branch below sets `resendRevoke`.
  let resendRevoke = false
  if (R === L) resendRevoke = false
  // (`L > 0n` only keeps `L - 1n` meaningful: R is unsigned, so `L >= 0n` or `true` behave the same.)
  else if (L > 0n && R === L - 1n) resendRevoke = true
  else return failChannel(state, out, `next_revocation_number ${R}: expected ${L}`, "peer-violation")
  const info = c.remoteNextCommitInfo
  const commitMessages: Array<ChannelMessage> = []
  if (info._tag === "WaitingForRevocation") {
    if (N === info.next.number) {
      commitMessages.push(...c.localChanges.signed)
      commitMessages.push(
        CommitmentSigned.make(
          { channelId: c.params.channelId, signature: info.signature, htlcSignatures: info.htlcSignatures },
          { fundingTxid: c.params.fundingOutpoint.txid }
        )
      )
    } else if (N !== info.next.number + 1n) return failChannel(state, out, `next_commitment_number ${N}: expected ${info.next.number} or ${info.next.number + 1n}`, "peer-violation")
  } else if (N !== c.remoteCommit.number + 1n)
    return failChannel(state, out, `next_commitment_number ${N}: expected ${c.remoteCommit.number + 1n}`, "peer-violation")
  // channel_ready again when neither commitment moved (both next_commitment_number are 1), BOLT 2
  // MUST, in every phase: the peer may have sent its shutdown before it got our channel_ready
  // (BOLT 2 allows a shutdown before channel_ready), so Negotiating and Closing too.
  const before: Array<ChannelMessage> = []
  const ready = L === 0n && N === 1n ? readyAgain(state) : undefined
  if (ready !== undefined) before.push(ready)
  // Order: if our commitment_signed left after our last revoke_and_ack, the revocation goes first.
  // (Negotiating/Closing have no commitment_signed in flight: `commitMessages` is empty, the order moot.)
  // Stryker disable next-line BooleanLiteral: equivalent, see the line above.
  const revokeFirst = state._tag === "Normal" ? state.commitSentAtLocalNumber === L : true
  const after = followUps(state)
  if (!resendRevoke) {
    for (const msg of [...before, ...commitMessages, ...after]) send(out, msg)
    return connected(ctx, state, out)
  }
  const revoke = lastRevocation(state)
  const pre = revokeFirst ? before : [...before, ...commitMessages]
  const post = revokeFirst ? [...commitMessages, ...after] : after
  if (revoke !== undefined) {
    for (const msg of [...pre, revoke, ...post]) send(out, msg)
    return connected(ctx, state, out)
  }
  const request: SignerRequest = { _tag: "ReleaseRevoked", revokeCommitmentNumber: L - 1n, nextCommitmentNumber: L + 1n }
  sign(out, request)
  return done(out, withAwaiting(state, { _tag: "RetransmitRevoke", request, before: pre, after: post }))
}

/** `state` awaiting the signer's answer (a `Normal` copied by `makeNormal`, which keeps its one shape). */
const withAwaiting = (state: WithCommitments, awaiting: Awaiting): WithCommitments => {
  if (state._tag !== "Normal") return { ...state, awaiting }
  const next = makeNormal(state)
  next.awaiting = awaiting
  return next
}

/**
 * Our `channel_ready` again (point 1, our alias). Undefined for an `option_scid_alias` channel
 * whose alias the state does not hold (a Negotiating/Closing record written before those phases
 * kept it): BOLT 2 requires the alias in that channel's `channel_ready`, so none is sent, as
 * before (a peer that reached Normal has ours already).
 */
const readyAgain = (state: WithCommitments): ChannelMessage | undefined => {
  const c = state.commitments
  if (state.localAlias === undefined && c.params.scidAlias) return undefined
  return channelReady(c.params.channelId, c.localNextPerCommitmentPoint, state.localAlias)
}

/** Our `channel_ready` as first sent: point 1 and our alias. */
const channelReady = (channelId: ChannelId, secondPerCommitmentPoint: PublicKey, alias: ShortChannelId | undefined): ChannelMessage =>
  ChannelReady.make({ channelId, secondPerCommitmentPoint }, alias === undefined ? {} : { shortChannelId: alias })

/** What follows the retransmissions: our unsigned updates, then our `shutdown` (BOLT 2 MUST). */
const followUps = (state: WithCommitments): ReadonlyArray<ChannelMessage> => {
  if (state._tag === "Closing") return state.retransmit
  const c = state.commitments
  // (Negotiating holds no unsigned update: the test only says so.)
  const msgs: Array<ChannelMessage> = state._tag === "Normal" ? [...c.localChanges.proposed] : []
  if (state.shutdown.localScript !== undefined)
    msgs.push(Shutdown.make({ channelId: c.params.channelId, scriptpubkey: state.shutdown.localScript }))
  return msgs
}

/** Reestablished: normal operation resumes (a closing negotiation restarts, BOLT 2). */
const connected = (ctx: StepContext, state: WithCommitments, out: Out): StepResult => {
  if (state._tag === "Normal") {
    const next = makeNormal(state)
    next.awaiting = undefined
    next.connection = "Connected"
    return progressShutdown(ctx, next, out)
  }
  const { awaiting: _done, ...rest } = state
  if (rest._tag === "Negotiating") return startNegotiationFrom(ctx, { ...rest, connection: "Connected" }, out)
  return done(out, { ...rest, connection: "Connected" })
}

const dataLossVerdict = (ctx: StepContext, state: WithCommitments, out: Out, secret: Uint8Array, point: Uint8Array): StepResult => {
  const derived = ctx.secp.isValidSecret(secret) ? pointOfSecret(ctx.secp, secret) : undefined
  const proven = derived !== undefined && Result.isSuccess(derived) && equalBytes(derived.success, point)
  if (!proven) return failChannel(state, out, "channel_reestablish claims a revocation we never made", "peer-violation")
  // We are behind: never broadcast our (revoked) commitment; ask the peer to close.
  const errorMessage = "our channel state is outdated (option_data_loss_protect): please close the channel"
  const c = state.commitments
  out.outputs.push({ _tag: "SendError", channelId: c.params.channelId, message: errorMessage })
  return done(out, { _tag: "WaitRemoteClose", nextUpdateId: out.nextUpdateId, channelId: c.params.channelId, params: c.params, errorMessage })
}

/** The signer's answer to a retransmission request (`ReleaseRevoked`, or a point for the data-loss check). */
export const onRetransmitSigned = (
  ctx: StepContext,
  state: WithCommitments,
  awaiting: Extract<Awaiting, { readonly _tag: "RetransmitRevoke" | "DataLossCheck" }>,
  result: SignerResult,
  out: Out
): StepResult => {
  if (awaiting._tag === "DataLossCheck") {
    if (result._tag !== "Point") return unexpectedAnswer(state, result)
    return dataLossVerdict(ctx, state, out, awaiting.secret, result.point)
  }
  // (Only a Revocation carries a secret: the second test alone would refuse the other answers.)
  if (result._tag !== "Revocation" || result.perCommitmentSecret === undefined) return unexpectedAnswer(state, result)
  const c = state.commitments
  const revoke = RevokeAndAck.make({ channelId: c.params.channelId, perCommitmentSecret: result.perCommitmentSecret, nextPerCommitmentPoint: result.nextPerCommitmentPoint })
  for (const msg of [...awaiting.before, revoke, ...awaiting.after]) send(out, msg)
  return connected(ctx, state, out)
}

const unexpectedAnswer = (state: ChannelState, result: SignerResult): StepResult => {
  const input: ChannelInput = { _tag: "Signed", result }
  return Result.fail(new UnexpectedInput({ phase: state._tag, input: input._tag, detail: `signer answer ${result._tag} not expected` }))
}

