/**
 * The `Channel` actor: the imperative shell around one channel's pure state machine
 * (ARCHITECTURE.md, "The actors"). It holds no BOLT 2 rule; it sequences.
 *
 * Guarantees:
 * - Inputs are handled one at a time, in mailbox order. Each is plain, Schema-encodable
 *   `ChannelInput` data; a reply slot (for commands) and the peer session (for `PeerConnected`)
 *   travel in the envelope around it, never in the input.
 * - A rejected input (`step` returns a `StepError`) leaves the state unchanged; a command's
 *   caller gets the typed error (`ChannelCommandRejected`), anything else is logged.
 * - Outputs are performed in order. `Persist` hands the update (with the state after the step)
 *   to the persistence port: `Completed` goes on; `InProgress` PAUSES the channel: every later
 *   peer-visible output (`Send`, `SendError`, `SendWarning`, `Emit`, `Broadcast`, `WatchFunding`,
 *   also those of later inputs) is held, in order, until every update up to the one it follows
 *   is complete. Completions (`PersistCompleted`) are applied in `updateId` order: one that
 *   arrives early waits for the earlier ones. Inputs keep being accepted while paused.
 * - Grouped writes (when the ports give `persistMany`, as the `ChannelManager` does): a step's
 *   `Persist` outputs are collected instead of written one by one, and a `PersistNow` is queued
 *   behind the mailbox; when it comes up, every update collected since the last write (of that
 *   step, of the `SignNow` that followed, of every input that was waiting in the mailbox) goes
 *   to the persister in ONE call with the state as of then. Until that write is durable the
 *   outputs that follow the collected updates are held, exactly as behind an `InProgress`. So a
 *   burst costs one write (one fsync) per channel, not one per update; and with many channels,
 *   the persister groups their concurrent writes (one fsync for many).
 * - State-only writes (grouped mode): a step that produces no `Persist` but changes what a restart
 *   must find (`ChannelCore.milestone`: by default a phase change, or `channel_ready` sent or
 *   received, BOLT 2 "The channel_ready Message") marks the state to be written alone: the next
 *   `PersistNow` hands it to `persistMany` with no update, once every earlier write is durable.
 *   The outputs of that step and every later one are held until it is durable, so no message that
 *   depends on it leaves before (BOLT 2: never send what depends on state not yet stored). Without
 *   it, the step WaitChannelReady -> Normal was never stored: a node restarted before the first
 *   HTLC came back in WaitChannelReady and force-closed on the peer's first `update_add_htlc`.
 *   Only after the channel's first update (`Opened`): an unfunded channel is not stored at all.
 * - `Sign` asks the `ChannelSigner` at once (after `readyChannel`, once the channel parameters
 *   are fixed) and the answer is fed back as `Signed` before any other input.
 * - Batching: after an input that leaves changes to sign, the actor queues a `Flush` behind
 *   what is already in its mailbox; when it comes up, `SignNow` is fed if changes are still
 *   pending. So a burst of updates goes out in one `commitment_signed`.
 * - `Rekey` (routing by the new channel id) is done before the other outputs of its step, so a
 *   reply to a message of that step finds the channel under its new id.
 * - Sends go to the session the channel was last connected on (the session comes with
 *   `PeerConnected`); after `PeerDisconnected` nothing is sent (and held sends of the old session
 *   are dropped by the peer layer as stale): `channel_reestablish` decides what is retransmitted.
 *
 * The core (`ChannelCore`) is the pure reducer plus a few read-only views of its state; the ports
 * (`ChannelPorts`) are the outside world, given by the `ChannelManager` (or a test).
 */
import { Data, Deferred, Effect, Exit, Result, type Scope } from "effect"
import { toHex } from "../protocol/bytes.ts"
import { signerChannelParameters } from "../protocol/channel/open.ts"
import type { StepError } from "../protocol/channel/step.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput, SignerRequest, SignerResult } from "../protocol/channel/io.ts"
import type { PublicKey } from "../protocol/keys/keys.ts"
import { makeError, makeWarning } from "../protocol/messages/error.ts"
import type { LightningMessage } from "../protocol/messages/index.ts"
import type { MonitorUpdate } from "../protocol/monitor/update.ts"
import { decodeTransaction } from "../protocol/tx/bitcoin/transaction.ts"
import type { ChannelId } from "../protocol/units.ts"
import {
  type ChannelKeyId,
  type ChannelParameters,
  type ChannelSignerNow,
  channelSignerNowOf,
  type ChannelSignerShape,
  type CommitmentState,
  CompactSignature,
  type CounterpartyCommitmentSignatures
} from "../services/ChannelSigner.ts"
import type { PersistStatus } from "../services/MonitorPersister.ts"
import * as Actor from "./Actor.ts"
import type { SessionId } from "./PeerEvent.ts"

// ---- the pure side -------------------------------------------------------------------------------

/** What `step` returns: the next state and the outputs to perform, in order. */
export interface ChannelStep<S> {
  readonly state: S
  readonly outputs: ReadonlyArray<ChannelOutput>
}

/**
 * The pure core the actor runs: `step` (BOLT 2, `src/protocol/channel`) closed over its context,
 * and read-only views of the state the shell needs.
 */
export interface ChannelCore<S> {
  readonly step: (state: S, input: ChannelInput) => Result.Result<ChannelStep<S>, StepError>
  /** The id the channel is known by now (the temporary one until `funding_created`). */
  readonly channelId: (state: S) => ChannelId
  /** The signer's key id of this channel. */
  readonly keyId: (state: S) => ChannelKeyId
  /**
   * The signer's parameters once the funding outpoint is known, else undefined: registered with
   * `readyChannel` before the first signature of this actor (a no-op for a signer that has them).
   * A `SignCounterpartyCommitment` that carries `channel` registers those parameters first anyway.
   */
  readonly signerParameters?: (state: S) => ChannelParameters | undefined
  /** The `Sign` request the state awaits an answer to (after a restart: re-issued first). */
  readonly awaitingSignature?: (state: S) => SignerRequest | undefined
  /** Whether there are updates to sign (`SignNow` would send a `commitment_signed`). */
  readonly hasPendingChanges: (state: S) => boolean
  /** Whether to feed `PersistCompleted` inputs (for updates that were `InProgress`) to `step`. */
  readonly feedCompletions: boolean
  /**
   * Whether the step from `before` to `after`, which produced no `Persist`, changed something a
   * restart must find, so the state is written alone (grouped mode only). Default:
   * `channelMilestone` (a phase change, or `channel_ready` sent or received). Called on every
   * step: keep it cheap.
   */
  readonly milestone?: (before: S, after: S) => boolean
}

const field = (s: object, name: string): unknown => (name in s ? Reflect.get(s, name) : undefined)

/**
 * The default `ChannelCore.milestone`, read from the state's shape (the actor does not know the
 * state type): the phase (`_tag`) changed, or, in `WaitChannelReady` (BOLT 2 "The
 * channel_ready Message"), our `channel_ready` was sent (`localReadySent`) or theirs received
 * (`remoteReady`), or the fundee's funding timeout started (`unfundedSince`). A state without
 * `_tag` has no milestone.
 */
export const channelMilestone = (before: unknown, after: unknown): boolean => {
  if (before === after || typeof before !== "object" || before === null || typeof after !== "object" || after === null) return false
  const tag = field(after, "_tag")
  if (typeof tag !== "string") return false
  if (field(before, "_tag") !== tag) return true
  if (tag !== "WaitChannelReady") return false
  const readySent = field(before, "localReadySent") !== field(after, "localReadySent")
  // The fundee's funding timeout started counting (BOLT 2): a restart keeps counting from there.
  const counting = field(before, "unfundedSince") !== field(after, "unfundedSince")
  return readySent || counting || (field(before, "remoteReady") === undefined) !== (field(after, "remoteReady") === undefined)
}

// ---- the ports -----------------------------------------------------------------------------------

/** The chain-facing outputs (`Broadcast`, `WatchFunding`), for a chain source / broadcaster. */
export type ChainRequest = Extract<ChannelOutput, { readonly _tag: "Broadcast" | "WatchFunding" }>

export interface ChannelPorts<S> {
  /**
   * Stores `update` together with `state` (the channel state after the step that produced it).
   * Never fails: a store outage is the persister's to retry (it answers `InProgress`).
   */
  readonly persist: (update: MonitorUpdate, state: S) => Effect.Effect<PersistStatus>
  /**
   * Grouped persistence (optional; preferred when given): stores several updates, contiguous and
   * in order, with `state` (the channel state after the last step that produced one of them,
   * or later), in ONE write: `Completed` or `InProgress` for all of them. When it is given, the
   * actor does not persist inside a step: it collects the `Persist` outputs of every input
   * handled until a `PersistNow` it queued behind its mailbox comes up (so what arrived
   * together is written together), then makes this one call. Outputs that follow a collected
   * update are held meanwhile, exactly as behind an `InProgress` write. The completion of an
   * `InProgress` group may carry its last id alone (it then completes the whole group).
   */
  readonly persistMany?: (updates: ReadonlyArray<MonitorUpdate>, state: S) => Effect.Effect<PersistStatus>
  /**
   * Grouped mode (optional): `persistMany` done at once when it can be (a persister and a signer
   * in memory): the status, or an effect to run that gives it (e.g. waiters to wake), or
   * undefined when nothing was written (then `persistMany` is called).
   */
  readonly persistManyNow?: (updates: ReadonlyArray<MonitorUpdate>, state: S) => PersistStatus | Effect.Effect<PersistStatus> | undefined
  /**
   * Grouped mode (optional): whether a write now costs no more alone than grouped (the persister's
   * `writesFreeOf`): the `PersistNow` then writes at once instead of yielding first for the other
   * half of a message pair. Absent: it yields.
   */
  readonly writesFree?: () => boolean
  /**
   * Queues `message` on `session`; a stale session drops it (reestablish retransmits). Never waits
   * on the peer. Undefined when it was done at once (no effect to run: a message per send saved).
   */
  readonly send: (session: SessionId, message: LightningMessage) => Effect.Effect<void> | undefined
  /** Publishes an event of this channel (undefined: done at once, as `send`). */
  readonly emit: (event: ChannelEvent) => Effect.Effect<void> | undefined
  /** Hands a broadcast or a watch to the chain side (undefined: done at once, as `send`). */
  readonly chain: (request: ChainRequest) => Effect.Effect<void> | undefined
  /** The channel's id changed (temporary -> final): routing must follow. */
  readonly rekey: (from: ChannelId, to: ChannelId) => Effect.Effect<void>
}

// ---- the mailbox ---------------------------------------------------------------------------------

/** What a handled input produced that a caller may want: the events it emitted (sent or held). */
export interface StepReport {
  readonly events: ReadonlyArray<ChannelEvent>
}

/**
 * A command's answer: its events, and where the channel's writes stood once it was handled, so a
 * caller that waits for what the command wrote to be durable needs no snapshot (no second trip
 * through a busy mailbox).
 */
export interface CommandReport extends StepReport {
  /** The highest update id produced so far, the command's own included (-1 before the first). */
  readonly lastUpdateId: bigint
  /** Every update up to this id was stored when the command was answered. */
  readonly durableThrough: bigint
}

/** A command was refused by the state machine: nothing changed. */
export class ChannelCommandRejected extends Data.TaggedError("ChannelCommandRejected")<{
  readonly channelId: ChannelId
  readonly input: ChannelInput["_tag"]
  readonly error: StepError
}> {}

/** A snapshot of the actor: the state and its persistence bookkeeping. */
export interface ChannelSnapshot<S> {
  readonly state: S
  readonly channelId: ChannelId
  /** The session the channel sends on, if connected. */
  readonly session: SessionId | undefined
  /** The highest update id produced: handed to the persister, or collected for the next grouped write (-1 before the first). */
  readonly lastPersisted: bigint
  /** Every update up to this id is stored (-1 before the first). */
  readonly durableThrough: bigint
  /** Outputs held until their updates (or the state written alone) are stored. */
  readonly held: number
  /** A state-only write is wanted or not durable yet (grouped mode). */
  readonly stateWritePending: boolean
}

/**
 * One mailbox entry. `Input` carries a `ChannelInput` (plain data) and, around it, an optional
 * reply slot and, for `PeerConnected`, the session to send on.
 */
export type ChannelEnvelope<S> =
  | {
      readonly _tag: "Input"
      readonly input: ChannelInput
      readonly session?: SessionId
      readonly reply?: Actor.Reply<CommandReport, ChannelCommandRejected>
    }
  | { readonly _tag: "Flush" }
  /**
   * Writes the updates collected so far in one `persistMany` call (queued behind the mailbox).
   * The first time it comes up (`again` absent) it yields once and, if anything arrived meanwhile
   * (the other half of a message pair, the `Flush` of the step), queues itself again behind it, so
   * that joins the write; if nothing arrived it writes at once. When writes are free
   * (`ChannelPorts.writesFree`) it writes at once, with no yield.
   */
  | { readonly _tag: "PersistNow"; readonly again?: true }
  /** After a restart: re-issue the `Sign` the restored state awaits (queued first by `makeChannel`). */
  | { readonly _tag: "Resume" }
  /** The outputs of the step that created the channel (queued first by `makeChannel`). */
  | { readonly _tag: "Perform"; readonly outputs: ReadonlyArray<ChannelOutput> }
  | { readonly _tag: "Snapshot"; readonly reply: Actor.Reply<ChannelSnapshot<S>> }

export interface ChannelHandle<S> {
  readonly actor: Actor.Actor<ChannelEnvelope<S>>
  /** Queues an input (no reply). `session` is read with `PeerConnected` only. */
  readonly tell: (input: ChannelInput, session?: SessionId) => Effect.Effect<void, Actor.ActorStopped>
  /** `tell` with no effect when none is needed (`Actor.post`): undefined once queued on a running actor; a stopped one drops it. */
  readonly offer: (input: ChannelInput, session?: SessionId) => Effect.Effect<void> | undefined
  /** Runs a command and waits for its outcome (the events it produced). */
  readonly command: (
    input: ChannelInput
  ) => Effect.Effect<CommandReport, ChannelCommandRejected | Actor.ActorStopped | Actor.ActorCrashed>
  readonly snapshot: Effect.Effect<ChannelSnapshot<S>, Actor.ActorStopped | Actor.ActorCrashed>
  /** The snapshot at once when the actor is idle (what `snapshot` would answer now), else undefined (then use `snapshot`). */
  readonly snapshotNow: () => ChannelSnapshot<S> | undefined
}

export interface ChannelOptions<S> {
  readonly name?: string
  readonly core: ChannelCore<S>
  readonly ports: ChannelPorts<S>
  readonly signer: ChannelSignerShape
  /** The state to start from (fresh, or restored from the store). */
  readonly state: S
  /** A channel created on a live connection (open/accept): the session to send on until the next `PeerConnected`. */
  readonly session?: SessionId
  /** Outputs of the step that created the state (`openChannel` / `acceptChannel`), performed first. */
  readonly initialOutputs?: ReadonlyArray<ChannelOutput>
  /** For a restored channel: the last update id in its store (all of them are durable). */
  readonly lastUpdateId?: bigint
  /** Mailbox capacity (default 1024). */
  readonly capacity?: number
}

// ---- signing -------------------------------------------------------------------------------------

/** A 64-byte signature from a `Signed`-able request (a copy: `slice`, not the iterating `Uint8Array.from`), branded after its length is checked. */
const compactSignature = (bytes: Uint8Array): CompactSignature | undefined => (bytes.length === 64 ? CompactSignature(bytes.slice()) : undefined)

const describe = (e: unknown): string => {
  if (typeof e === "object" && e !== null && "_tag" in e) {
    const reason = "reason" in e && typeof e.reason === "string" ? `: ${e.reason}` : ""
    return `${String(e._tag)}${reason}`
  }
  return String(e)
}

const signerFailed = (reason: string): SignerResult => ({ _tag: "SignerFailed", reason })

const toCommitmentState = (c: Extract<SignerRequest, { readonly _tag: "SignCounterpartyCommitment" }>["commitment"]): CommitmentState => ({
  commitmentNumber: c.commitmentNumber,
  feeratePerKw: c.feeratePerKw,
  toLocal: c.toLocal,
  toRemote: c.toRemote,
  htlcs: c.htlcs
})

/** A revocation's answer: the next point, after the secret released (absent at funding). */
const revocationOf = (nextPerCommitmentPoint: PublicKey, perCommitmentSecret: Uint8Array | undefined): SignerResult =>
  perCommitmentSecret === undefined ? { _tag: "Revocation", nextPerCommitmentPoint } : { _tag: "Revocation", perCommitmentSecret, nextPerCommitmentPoint }

/** The signer's answer as the reducer's input, its txid when it gave one (the reducer then builds nothing to learn it). */
const counterpartySignatures = (s: CounterpartyCommitmentSignatures): SignerResult =>
  s.txid === undefined
    ? { _tag: "CounterpartySignatures", signature: s.signature, htlcSignatures: s.htlcSignatures }
    : { _tag: "CounterpartySignatures", signature: s.signature, htlcSignatures: s.htlcSignatures, txid: s.txid }

/**
 * The peer's signatures of a `ValidateAndRevoke`, branded once their lengths are checked; undefined
 * if one is not 64 bytes. A plain loop (no `map` and `flatMap` arrays): one per commitment received.
 */
const signaturesOf = (
  request: Extract<SignerRequest, { readonly _tag: "ValidateAndRevoke" }>
): { readonly signature: CompactSignature; readonly htlcSignatures: ReadonlyArray<CompactSignature> } | undefined => {
  const signature = compactSignature(request.signature)
  if (signature === undefined) return undefined
  const htlcSignatures: Array<CompactSignature> = []
  for (const bytes of request.htlcSignatures) {
    const htlcSignature = compactSignature(bytes)
    if (htlcSignature === undefined) return undefined
    htlcSignatures.push(htlcSignature)
  }
  return { signature, htlcSignatures }
}
const badLength = signerFailed("signature is not 64 bytes")

/**
 * Performs one `SignerRequest` against the `ChannelSigner` and describes the answer as a
 * `SignerResult` (a refusal included: `SignerFailed`, never key material). Exported for tests.
 */
export const performSignerRequest = (
  signer: ChannelSignerShape,
  keyId: ChannelKeyId,
  request: SignerRequest
): Effect.Effect<SignerResult> => {
  // No generator: a revocation is on every commitment's path. The secret is released first, then the next point asked for.
  const revocation = (revoke: bigint | undefined, next: bigint) =>
    revoke === undefined
      ? Effect.map(signer.perCommitmentPoint(keyId, next), (point) => revocationOf(point, undefined))
      : Effect.flatMap(signer.releaseCommitmentSecret(keyId, revoke), (secret) => Effect.map(signer.perCommitmentPoint(keyId, next), (point) => revocationOf(point, secret)))
  const run = ((): Effect.Effect<SignerResult, { readonly _tag: string }> => {
    switch (request._tag) {
      case "SignCounterpartyCommitment":
        return Effect.map(signer.signCounterpartyCommitment(keyId, toCommitmentState(request.commitment), request.theirPerCommitmentPoint), counterpartySignatures)
      case "ValidateAndRevoke": {
        const sigs = signaturesOf(request)
        if (sigs === undefined) return Effect.succeed(badLength)
        return Effect.flatMap(signer.validateHolderCommitment(keyId, toCommitmentState(request.holderCommitment), sigs.signature, sigs.htlcSignatures), () =>
          revocation(request.revokeCommitmentNumber, request.nextCommitmentNumber)
        )
      }
      case "ReleaseRevoked":
        return revocation(request.revokeCommitmentNumber, request.nextCommitmentNumber)
      case "PerCommitmentPoint":
        return signer
          .perCommitmentPoint(keyId, request.commitmentNumber)
          .pipe(Effect.map((point): SignerResult => ({ _tag: "Point", commitmentNumber: request.commitmentNumber, point })))
      case "SignClosing": {
        const tx = decodeTransaction(request.tx)
        if (Result.isFailure(tx)) return Effect.succeed(signerFailed(`closing tx does not decode: ${tx.failure.message}`))
        return signer.signClosing(keyId, tx.success).pipe(Effect.map((signature): SignerResult => ({ _tag: "ClosingSignature", signature })))
      }
    }
  })()
  // Data-first (no `pipe`): one of these per signature.
  return Effect.catch(run, signerRefused)
}

/** A signer's refusal as the `SignerResult` the core reads. */
const refused = (e: unknown): SignerResult => signerFailed(describe(e))
const signerRefused = (e: unknown): Effect.Effect<SignerResult> => Effect.succeed(refused(e))

/**
 * `performSignerRequest` with a signer's answers at once (`ChannelSignerNow`), for the requests
 * of every commitment (signing theirs, validating ours and revoking): the same calls in the same
 * order, the same `SignerResult`. Undefined for the others (rare: the caller performs them).
 * Exported for tests.
 */
export const performSignerRequestNow = (now: ChannelSignerNow, keyId: ChannelKeyId, request: SignerRequest): SignerResult | undefined => {
  // No `Result.gen`: a generator over results costs microseconds per request, more than the signer's bookkeeping.
  if (request._tag === "SignCounterpartyCommitment") {
    const signed = now.signCounterpartyCommitment(keyId, toCommitmentState(request.commitment), request.theirPerCommitmentPoint)
    return Result.isSuccess(signed) ? counterpartySignatures(signed.success) : refused(signed.failure)
  }
  if (request._tag !== "ValidateAndRevoke") return undefined
  const sigs = signaturesOf(request)
  if (sigs === undefined) return badLength
  const validated = now.validateHolderCommitment(keyId, toCommitmentState(request.holderCommitment), sigs.signature, sigs.htlcSignatures)
  if (Result.isFailure(validated)) return refused(validated.failure)
  const revoke = request.revokeCommitmentNumber
  const secret = revoke === undefined ? undefined : now.releaseCommitmentSecret(keyId, revoke)
  if (secret !== undefined && Result.isFailure(secret)) return refused(secret.failure)
  const point = now.perCommitmentPoint(keyId, request.nextCommitmentNumber)
  return Result.isSuccess(point) ? revocationOf(point.success, secret?.success) : refused(point.failure)
}

// ---- the actor -----------------------------------------------------------------------------------

/** The outcome of a handled message that emitted no event (most: one value shared, not a result and an array per message). */
const noEvents: Result.Result<StepReport, StepError> = Result.succeed({ events: Object.freeze([]) })
/** The `SignNow` a `Flush` steps (plain data, read only: one value shared). */
const signNow: ChannelInput = { _tag: "SignNow" }

/** The end of a `drive` whose caller wants its outcome as the effect's value. */
const returned = (result: Result.Result<StepReport, StepError>): Effect.Effect<Result.Result<StepReport, StepError>> => Effect.succeed(result)

type OrderedOutput = Exclude<ChannelOutput, { readonly _tag: "Persist" | "Sign" | "Rekey" }>

interface Held {
  /** The output leaves once every update up to this id is stored. */
  readonly barrier: bigint
  /** ... and every state write up to this one (`stateWanted` when it was held). */
  readonly stateBarrier: number
  /** The session it was produced for (sends only). */
  readonly session: SessionId | undefined
  readonly output: OrderedOutput
}

/**
 * Starts a channel actor in the current scope. The open-time outputs (`initialOutputs`) are
 * held apart from the options the actor's closures keep, and let go once performed: a long-lived
 * channel does not keep its `open_channel`/`accept_channel` messages.
 */
export const makeChannel = <S>(options: ChannelOptions<S>): Effect.Effect<ChannelHandle<S>, never, Scope.Scope> => {
  const { initialOutputs, ...rest } = options
  return startChannel(rest, { outputs: initialOutputs })
}

const startChannel = <S>(
  options: Omit<ChannelOptions<S>, "initialOutputs">,
  initial: { outputs: ReadonlyArray<ChannelOutput> | undefined }
): Effect.Effect<ChannelHandle<S>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { core, ports, signer } = options
    let state = options.state
    let session: SessionId | undefined = options.session
    let lastPersisted = options.lastUpdateId ?? -1n
    let durableThrough = lastPersisted
    /** Completed ids above `durableThrough + 1` (waiting for an earlier one). */
    const completedAhead = new Set<bigint>()
    /** Ids that were `InProgress`: their completion is fed to `step` when `core.feedCompletions`. */
    const inProgress = new Set<bigint>()
    const held: Array<Held> = []
    /** Grouped mode (`ports.persistMany`): updates produced but not handed to the persister yet, in order. */
    const persistMany = ports.persistMany
    let collected: Array<MonitorUpdate> | undefined
    /**
     * Collects an update for the next grouped write. The array is handed to the persister as it
     * is (no copy), so it is made at the first update at its size, and at the second at its new
     * size (most writes hold one or two): not an array kept per channel that grows again after
     * each write (V8 grows one to ~17 slots at its first push) and is copied out at each write.
     */
    const collect = (update: MonitorUpdate): void => {
      const now = collected
      const first = now?.[0]
      if (now === undefined || first === undefined) collected = [update]
      else if (now.length === 1) collected = [first, update]
      else now.push(update)
    }
    /** Grouped mode: an `InProgress` group's last id -> its first id (its completion may carry the last id alone). */
    const groups = new Map<bigint, bigint>()
    let persistScheduled = false
    /** The queued `PersistNow` went behind a `Flush` once already (reset by each write). */
    let waitedForFlush = false
    /**
     * State-only writes (grouped mode). `stateWanted`: milestones seen (each wants the state
     * stored); `stateIssued`: the last one a write handed to the persister carried (a write
     * carries the state as of then); `stateDurable`: the last one known durable.
     */
    const milestone = core.milestone ?? channelMilestone
    let stateWanted = 0
    let stateIssued = 0
    let stateDurable = 0
    /**
     * The state-only write answered `InProgress`: its completion carries `at`, the channel's
     * latest update id when it was issued (every update write before it was complete then, so
     * the next completion with an id >= `at` is its own or a later write's: writes of a
     * channel become durable in order).
     */
    let stateWrite: { readonly seq: number; readonly at: bigint } | undefined
    /** Grouped mode: an `InProgress` group's last id -> the state write it carries. */
    const groupStates = new Map<bigint, number>()
    let readied: string | undefined
    let flushScheduled = false
    /** Whether a write now costs no more alone than grouped (`ChannelPorts.writesFree`). */
    const writesFree = ports.writesFree
    let self: Actor.Actor<ChannelEnvelope<S>> | undefined
    const name = options.name ?? `channel ${toHex(core.channelId(state))}`

    /** Undefined when done at once (a send the ports made without an effect). */
    const performOrdered = (output: OrderedOutput, to: SessionId | undefined): Effect.Effect<void> | undefined => {
      switch (output._tag) {
        case "Send":
          return to === undefined ? Effect.logDebug(`${name}: not connected, ${output.message._tag} dropped`) : ports.send(to, output.message)
        case "SendError":
          return to === undefined ? undefined : ports.send(to, makeError(output.message, output.channelId))
        case "SendWarning":
          return to === undefined ? undefined : ports.send(to, makeWarning(output.message, output.channelId))
        case "Emit":
          return ports.emit(output.event)
        case "Broadcast":
        case "WatchFunding":
          return ports.chain(output)
      }
    }

    /**
     * Performs the held outputs whose updates are all stored, in order. No generator: it runs
     * after every write (and at once when nothing is held, the common case).
     */
    const release: Effect.Effect<void> = Effect.suspend(() => releaseNext())
    const releaseNext = (): Effect.Effect<void> => {
      for (;;) {
        const next = held[0]
        if (next === undefined || next.barrier > durableThrough || next.stateBarrier > stateDurable) return Effect.void
        held.shift()
        const effect = performOrdered(next.output, next.session)
        if (effect !== undefined) return Effect.flatMap(effect, releaseNext)
      }
    }

    /**
     * Marks `id` complete (with its whole group when it ends one); `newly`, when given, gets the
     * ids that became durable, in order. The next id in order (the common case: a channel's writes
     * land in order) becomes durable with no entry in `completedAhead` (which never holds
     * `durableThrough + 1` between calls: an id completed ahead is taken as soon as its turn
     * comes), and no list is made for a caller that needs none.
     */
    const complete = (id: bigint, newly?: Array<bigint>): void => {
      if (id <= durableThrough || id > lastPersisted) return
      // No lookup by a bigint key per update while no group is in progress (writes done at once: always).
      const first = groups.size === 0 ? undefined : groups.get(id)
      if (first !== undefined) {
        groups.delete(id)
        for (let i = first; i < id; i++) if (i > durableThrough) completedAhead.add(i)
      }
      let next = durableThrough + 1n
      if (id === next) {
        becameDurable(id, newly)
        next = id + 1n
      } else completedAhead.add(id)
      while (completedAhead.size > 0 && completedAhead.delete(next)) {
        becameDurable(next, newly)
        next += 1n
      }
    }
    /** `id` (the one after `durableThrough`) is durable, with the state write its group carried. */
    const becameDurable = (id: bigint, newly: Array<bigint> | undefined): void => {
      durableThrough = id
      newly?.push(id)
      if (groupStates.size === 0) return
      const carried = groupStates.get(id)
      if (carried !== undefined) {
        groupStates.delete(id)
        stateStored(carried)
      }
    }

    /** The state write `seq` is durable (and so every earlier one). */
    const stateStored = (seq: number): void => {
      if (seq > stateDurable) stateDurable = seq
      if (stateWrite !== undefined && stateWrite.seq <= seq) stateWrite = undefined
    }

    /** Whether a state-only write can go now: one is wanted, none is in flight, every update write is durable and none is collected. */
    const stateWriteDue = (): boolean =>
      persistMany !== undefined && stateIssued < stateWanted && stateWrite === undefined && durableThrough >= lastPersisted && collected === undefined

    /** The hex of the key id last asked for (the same array from step to step: converted once). */
    let keyRef: ChannelKeyId | undefined
    let keyHexOfRef = ""
    const keyHexOf = (keyId: ChannelKeyId): string => {
      if (keyRef !== keyId) {
        keyRef = keyId
        keyHexOfRef = toHex(keyId)
      }
      return keyHexOfRef
    }

    /** The signer's answers at once, when it declared them itself (`channelSignerNowOf`: a wrapper's are its effects). */
    const signerNow = channelSignerNowOf(signer)
    /**
     * The signer's answer to `request`, for the state as it is now: at once when the signer gives
     * it so and nothing is to be registered first, else the effect (built when it is to run: no `suspend`).
     */
    const sign = (request: SignerRequest): SignerResult | Effect.Effect<SignerResult> => {
      const keyId = core.keyId(state)
      const keyHex = keyHexOf(keyId)
      const parameters =
        request._tag === "SignCounterpartyCommitment" && request.channel !== undefined
          ? signerChannelParameters(request.channel)
          : readied === keyHex
            ? undefined
            : core.signerParameters?.(state)
      if (parameters === undefined) return (signerNow && performSignerRequestNow(signerNow, keyId, request)) ?? performSignerRequest(signer, keyId, request)
      return Effect.flatMap(Effect.result(signer.readyChannel(keyId, parameters)), (ready) => {
        if (Result.isFailure(ready)) return Effect.succeed(signerFailed(describe(ready.failure)))
        readied = keyHex
        return performSignerRequest(signer, keyId, request)
      })
    }

    /**
     * What one handled message steps: the inputs (the first one, then the `Signed` answers its
     * `Sign` outputs lead to, before anything else) and the outputs of the step being performed.
     */
    interface Work<A> {
      /**
       * The next input to step (the caller's, then each `Signed` answer in turn), and the ones after
       * it, in order (rare: a step asking for two signatures): a handled message makes no array for
       * its one input, nor grows one per signature.
       */
      next: ChannelInput | undefined
      later: Array<ChannelInput> | undefined
      /** The events emitted so far; undefined while none (most messages emit none: no array made). */
      events: Array<ChannelEvent> | undefined
      /** The next input is the caller's: its rejection is returned (a later one is logged). */
      first: boolean
      outputs: ReadonlyArray<ChannelOutput> | undefined
      index: number
      /** What follows: given the rejection of the first input, or the events emitted (no effect in between). */
      readonly done: (result: Result.Result<StepReport, StepError>) => Effect.Effect<A>
    }

    /** Appends `input` to the work's inputs. */
    const enqueue = (w: Work<unknown>, input: ChannelInput): void => {
      if (w.next === undefined && (w.later === undefined || w.later.length === 0)) w.next = input
      else (w.later ??= []).push(input)
    }
    /** Takes the work's next input (undefined when none is left). */
    const dequeue = (w: Work<unknown>): ChannelInput | undefined => {
      const next = w.next
      if (next === undefined) return w.later?.shift()
      w.next = undefined
      return next
    }
    /** A work of one input (a handled message's). */
    const workOf = <A>(input: ChannelInput, done: (result: Result.Result<StepReport, StepError>) => Effect.Effect<A>): Work<A> => ({
      next: input,
      later: undefined,
      events: undefined,
      first: true,
      outputs: undefined,
      index: 0,
      done
    })

    /**
     * Performs one output: synchronously when it needs no effect (a `Persist` collected for a
     * grouped write, an output held behind a write, a `Rekey` done before), else the effect to run.
     * `Sign` answers are appended to the work's inputs, events to its events.
     */
    const performOne = (output: ChannelOutput, w: Work<unknown>): Effect.Effect<void> | undefined => {
      switch (output._tag) {
        case "Persist": {
          const id = output.update.updateId
          if (persistMany !== undefined) {
            // Written by the next `PersistNow`, with whatever else comes before it.
            collect(output.update)
            if (id > lastPersisted) lastPersisted = id
            return undefined
          }
          return Effect.map(ports.persist(output.update, state), (status) => {
            if (id > lastPersisted) lastPersisted = id
            if (status === "Completed") complete(id)
            else inProgress.add(id)
          })
        }
        case "Sign":
          // Handled by `drive` (the answer is stepped next, with no effect in between).
          return undefined
        case "Rekey":
          return undefined
        default: {
          // The first event makes an array of its size (an empty one's first push grows it to ~17 slots).
          if (output._tag === "Emit") {
            if (w.events === undefined) w.events = [output.event]
            else w.events.push(output.event)
          }
          if (held.length > 0 || durableThrough < lastPersisted || stateDurable < stateWanted) {
            held.push({ barrier: lastPersisted, stateBarrier: stateWanted, session, output })
            return undefined
          }
          return performOrdered(output, session)
        }
      }
    }

    /**
     * Steps the work's inputs in order and performs each step's outputs in order, in a plain loop:
     * an effect is built only for an output that needs one (a send, an emit, a signature...), and
     * the loop resumes after it. Ends with `w.done` of the rejection of the first input, or of the events emitted.
     */
    const drive = <A>(w: Work<A>): Effect.Effect<A> => {
      for (;;) {
        const outputs = w.outputs
        if (outputs !== undefined) {
          while (w.index < outputs.length) {
            const output = outputs[w.index]
            w.index += 1
            if (output === undefined) continue
            if (output._tag === "Sign") {
              const signed = sign(output.request)
              if (!Effect.isEffect(signed)) {
                enqueue(w, { _tag: "Signed", result: signed })
                continue
              }
              return Effect.flatMap(signed, (result) => {
                enqueue(w, { _tag: "Signed", result })
                return drive(w)
              })
            }
            const effect = performOne(output, w)
            if (effect !== undefined) return Effect.flatMap(effect, () => drive(w))
          }
          w.outputs = undefined
        }
        const input = dequeue(w)
        if (input === undefined) return w.done(w.events === undefined ? noEvents : Result.succeed({ events: w.events }))
        const result = core.step(state, input)
        if (Result.isFailure(result)) {
          if (w.first) return w.done(Result.fail(result.failure))
          return Effect.flatMap(Effect.logWarning(`${name}: ${input._tag} rejected: ${describe(result.failure)}`), () => drive(w))
        }
        w.first = false
        const before = state
        state = result.success.state
        lastSnapshot = undefined
        const stepOutputs = result.success.outputs
        let persists = false
        let rekeys: Array<Effect.Effect<void>> | undefined
        for (const o of stepOutputs) {
          if (o._tag === "Persist") persists = true
          else if (o._tag === "Rekey") (rekeys ??= []).push(ports.rekey(o.from, o.to))
        }
        // Before the outputs: this step's own sends wait for the state write.
        if (persistMany !== undefined && lastPersisted >= 0n && !persists && milestone(before, state)) stateWanted += 1
        w.outputs = stepOutputs
        w.index = 0
        // Routing first: a reply to a `Send` of this step may already carry the new id.
        if (rekeys !== undefined) return Effect.flatMap(Effect.all(rekeys, { discard: true }), () => drive(w))
      }
    }

    /** Steps `first`, then every `Signed` answer it leads to, before anything else. */
    const run = (first: ChannelInput): Effect.Effect<Result.Result<StepReport, StepError>> => Effect.suspend(() => drive(workOf(first, returned)))

    /** A completion (`PersistCompleted`): the shell's, applied in `updateId` order; fed to `step` when the core wants them. */
    const handleCompletion = (updateId: bigint): Effect.Effect<Result.Result<StepReport, StepError>> =>
      Effect.gen(function*() {
        const newly: Array<bigint> = []
        complete(updateId, newly)
        if (stateWrite !== undefined && updateId >= stateWrite.at) stateStored(stateWrite.seq)
        yield* release
        const events: Array<ChannelEvent> = []
        if (core.feedCompletions) {
          for (const id of newly) {
            if (!inProgress.delete(id)) continue
            const r = yield* run({ _tag: "PersistCompleted", updateId: id })
            if (Result.isFailure(r)) yield* Effect.logDebug(`${name}: completion ${id} not used: ${describe(r.failure)}`)
            else events.push(...r.success.events)
          }
        } else {
          for (const id of newly) inProgress.delete(id)
        }
        return Result.succeed({ events })
      })

    /** Handles an input, then `done` with its outcome: completions are the shell's (in order), the rest goes to `step`. */
    const handleInput = (
      input: ChannelInput,
      connectedOn: SessionId | undefined,
      done: (result: Result.Result<StepReport, StepError>) => Effect.Effect<void>
    ): Effect.Effect<void> => {
      if (input._tag === "PeerConnected") session = connectedOn
      if (input._tag === "PeerDisconnected") session = undefined
      if (input._tag === "PersistCompleted") return Effect.flatMap(handleCompletion(input.updateId), done)
      return drive(workOf(input, done))
    }

    /**
     * Queues a `Flush` behind the mailbox if changes are pending (so updates batch). Called from
     * the handler only (the actor is running: the message is queued synchronously). Returns the
     * effect to run now when the `Flush` could not be queued (a full mailbox: sign now rather
     * than never), else undefined.
     */
    const scheduleFlushNow = (): Effect.Effect<void> | undefined => {
      if (flushScheduled || self === undefined || !core.hasPendingChanges(state)) return undefined
      // Nothing queued: a `Flush` would be the next message handled. It runs now instead (no trip through the mailbox).
      if (self.waiting() === 0) return flushThenPersist()
      flushScheduled = true
      if (self.offerFromHandler({ _tag: "Flush" })) return undefined
      flushScheduled = false
      return Effect.suspend(flushThenPersist)
    }

    const persistManyNow = ports.persistManyNow
    /** `persistMany`, at once when `persistManyNow` can, then `then` with the status. */
    const write = (updates: ReadonlyArray<MonitorUpdate>, then: (status: PersistStatus) => Effect.Effect<void>): Effect.Effect<void> => {
      const now = persistManyNow?.(updates, state)
      if (now === undefined) return persistMany === undefined ? Effect.void : Effect.flatMap(persistMany(updates, state), then)
      return typeof now === "string" ? then(now) : Effect.flatMap(now, then)
    }

    /** Grouped mode: the state alone (no update), when a milestone wants it and nothing else is in flight. */
    const persistStateAlone: Effect.Effect<void> = Effect.suspend(() => {
      if (persistMany === undefined || !stateWriteDue()) return Effect.void
      const seq = stateWanted
      stateIssued = seq
      return write([], (status) => {
        if (status !== "Completed") {
          stateWrite = { seq, at: lastPersisted }
          return Effect.void
        }
        stateStored(seq)
        return release
      })
    })

    /** Grouped mode: hands every collected update to the persister in one write, with the current state. */
    const persistCollectedNow = (): Effect.Effect<void> => {
      persistScheduled = false
      waitedForFlush = false
      if (persistMany === undefined) return Effect.void
      const updates = collected
      if (updates === undefined) return persistStateAlone
      collected = undefined
      // The state goes with the updates: every milestone so far is in it.
      const seq = stateWanted
      stateIssued = seq
      // Written at once (a status): no callback made for it (one write per handled message, most of them so).
      const now = persistManyNow?.(updates, state)
      if (typeof now === "string") return collectedWritten(updates, seq, now)
      const then = (status: PersistStatus) => collectedWritten(updates, seq, status)
      return now === undefined ? Effect.flatMap(persistMany(updates, state), then) : Effect.flatMap(now, then)
    }
    /** After a grouped write of `updates` carrying state write `seq`: recorded as durable, or as in progress. */
    const collectedWritten = (updates: ReadonlyArray<MonitorUpdate>, seq: number, status: PersistStatus): Effect.Effect<void> => {
      if (status !== "Completed") {
        const first = updates[0]?.updateId ?? 0n
        const last = updates[updates.length - 1]?.updateId ?? first
        groups.set(last, first)
        groupStates.set(last, seq)
        for (const u of updates) inProgress.add(u.updateId)
        return Effect.void
      }
      for (const u of updates) complete(u.updateId)
      stateStored(seq)
      return releaseNext()
    }

    /**
     * Grouped mode: queues a `PersistNow` behind the mailbox if updates were collected, or a state
     * write is due (so inputs that arrived together are written together). From the handler only;
     * returns the write to run now when the mailbox is full (write now rather than wait for room).
     */
    const schedulePersistNow = (): Effect.Effect<void> | undefined => {
      if (persistScheduled || (collected === undefined && !stateWriteDue()) || self === undefined) return undefined
      // Free writes with nothing queued: the `PersistNow` would come up next and write at once; it writes now instead.
      if (self.waiting() === 0 && writesFree !== undefined && writesFree()) return persistCollectedNow()
      persistScheduled = true
      return self.offerFromHandler({ _tag: "PersistNow" }) ? undefined : Effect.suspend(persistCollectedNow)
    }
    const schedulePersist: Effect.Effect<void> = Effect.suspend(() => schedulePersistNow() ?? Effect.void)

    /**
     * After a handled message: the `Flush` (if changes wait), then the `PersistNow` (if updates were
     * collected); with no effect in between when the `Flush` was done at once (the handler's effect
     * is then a success already, or the write's: no fiber for it, `Actor`).
     */
    const afterHandled = (): Effect.Effect<void> => {
      const flushNow = scheduleFlushNow()
      if (flushNow === undefined || (Exit.isExit(flushNow) && Exit.isSuccess(flushNow))) return schedulePersistNow() ?? Effect.void
      return Effect.andThen(flushNow, schedulePersist)
    }
    const scheduleAfter: Effect.Effect<void> = Effect.suspend(afterHandled)

    /**
     * A `Flush`: `SignNow` if changes are still pending, then a `PersistNow` queued if updates were
     * collected (or the write itself when the mailbox is full).
     */
    const flushThenPersist = (): Effect.Effect<void> => {
      flushScheduled = false
      if (!core.hasPendingChanges(state)) return schedulePersistNow() ?? Effect.void
      return drive(workOf(signNow, afterSignNowThenPersist))
    }
    const afterSignNowThenPersist = (r: Result.Result<StepReport, StepError>): Effect.Effect<void> =>
      Result.isFailure(r) ? Effect.andThen(Effect.logDebug(`${name}: SignNow: ${describe(r.failure)}`), schedulePersist) : (schedulePersistNow() ?? Effect.void)

    /**
     * The first `PersistNow` yields and goes behind the mailbox again (if anything arrived during
     * the yield: else it writes at once, which is the same); the second writes.
     */
    const afterYield: Effect.Effect<void> = Effect.suspend(() => {
      if (self === undefined || self.waiting() === 0) return persistCollectedNow()
      return self.offerFromHandler({ _tag: "PersistNow", again: true }) ? Effect.void : persistCollectedNow()
    })
    /**
     * The second `PersistNow`: if an input handled meanwhile left changes to sign (its `Flush` is
     * queued behind), it goes behind that `Flush` once, so the signature's update joins this write:
     * one write (one fsync) instead of two, and what this write holds (e.g. the `update_add_htlc`
     * of a command that came in while a revocation's secret waited to be written) leaves with the
     * `commitment_signed` as soon as both are durable. Nothing leaves earlier than before.
     */
    const persistAgain = (): Effect.Effect<void> => {
      if (!flushScheduled || waitedForFlush || self === undefined || !self.offerFromHandler({ _tag: "PersistNow", again: true })) return persistCollectedNow()
      waitedForFlush = true
      return Effect.void
    }
    /** Writes at once when writes are free (no scheduler hop for a grouping that saves nothing). */
    const persistNow = (again: boolean): Effect.Effect<void> =>
      self === undefined || (writesFree !== undefined && writesFree())
        ? persistCollectedNow()
        : again
          ? persistAgain()
          : Effect.andThen(Effect.yieldNow, afterYield)

    /** An input: stepped, the caller answered (or the rejection logged), then a `Flush` and a `PersistNow` queued as needed. */
    const handleEnvelope = (msg: Extract<ChannelEnvelope<S>, { readonly _tag: "Input" }>): Effect.Effect<void> => {
      return handleInput(msg.input, msg.session, (result) => {
        const reply = msg.reply
        // A rejected input left the state, and so the channel id, as they were: read only then.
        if (Result.isFailure(result)) {
          const answered =
            reply !== undefined
              ? Deferred.fail(reply, new ChannelCommandRejected({ channelId: core.channelId(state), input: msg.input._tag, error: result.failure }))
              : Effect.logWarning(`${name}: ${msg.input._tag} rejected: ${describe(result.failure)}`)
          return Effect.andThen(answered, scheduleAfter)
        }
        // Answered now, as the `Deferred.succeed` effect run next would (no effect built per command).
        if (reply !== undefined) Deferred.doneUnsafe(reply, Exit.succeed({ events: result.success.events, lastUpdateId: lastPersisted, durableThrough }))
        return afterHandled()
      })
    }

    /**
     * What `snapshotNow` made last, given again while every field still holds (the channel's
     * listing, asked per route and per forward by the payments, finds most channels as it left
     * them: no object made and no channel id looked up again). Let go when the state changes, so
     * it never keeps a state the channel has left.
     */
    let lastSnapshot: ChannelSnapshot<S> | undefined
    const snapshotNow = (): ChannelSnapshot<S> => {
      const last = lastSnapshot
      const stateWritePending = stateDurable < stateWanted
      if (
        last !== undefined && last.state === state && last.session === session && last.lastPersisted === lastPersisted &&
        last.durableThrough === durableThrough && last.held === held.length && last.stateWritePending === stateWritePending
      ) return last
      const made = { state, channelId: core.channelId(state), session, lastPersisted, durableThrough, held: held.length, stateWritePending }
      lastSnapshot = made
      return made
    }

    const handle = (msg: ChannelEnvelope<S>): Effect.Effect<void> => {
      switch (msg._tag) {
        case "Input":
          return handleEnvelope(msg)
        case "PersistNow":
          return persistNow(msg.again === true)
        case "Snapshot":
          return Deferred.succeed(msg.reply, snapshotNow())
        case "Flush":
          // Not rescheduled: a `SignNow` that could not sign (awaiting a revocation) waits for the next input.
          return flushThenPersist()
        case "Perform":
          return Effect.andThen(handleRare(msg), schedulePersist)
        case "Resume":
          return Effect.andThen(handleRare(msg), schedulePersist)
      }
    }

    /** The messages queued once, at start. */
    const handleRare = (msg: Extract<ChannelEnvelope<S>, { readonly _tag: "Perform" | "Resume" }>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (msg._tag === "Perform") {
          const w: Work<Result.Result<StepReport, StepError>> = { next: undefined, later: undefined, events: undefined, first: false, outputs: msg.outputs, index: 0, done: returned }
          // Routing first, as for a step's outputs.
          for (const output of msg.outputs) if (output._tag === "Rekey") yield* ports.rekey(output.from, output.to)
          yield* drive(w)
          yield* scheduleAfterFlushOnly
          return
        }
        const request = core.awaitingSignature?.(state)
        if (request === undefined) return
        const signed = sign(request)
        const r = yield* run({ _tag: "Signed", result: Effect.isEffect(signed) ? yield* signed : signed })
        if (Result.isFailure(r)) yield* Effect.logWarning(`${name}: resumed signature rejected: ${describe(r.failure)}`)
        yield* scheduleAfterFlushOnly
      })
    const scheduleAfterFlushOnly: Effect.Effect<void> = Effect.suspend(() => scheduleFlushNow() ?? Effect.void)

    const actor = yield* Actor.make<ChannelEnvelope<S>>({ name, capacity: options.capacity ?? 1024, handle })
    self = actor
    const initialOutputs = initial.outputs
    initial.outputs = undefined
    if (initialOutputs !== undefined && initialOutputs.length > 0) {
      yield* Effect.ignore(actor.tell({ _tag: "Perform", outputs: initialOutputs }))
    }
    if (core.awaitingSignature?.(state) !== undefined) yield* Effect.ignore(actor.tell({ _tag: "Resume" }))
    const askSnapshot = actor.ask<ChannelSnapshot<S>>((reply) => ({ _tag: "Snapshot", reply }))
    /** What `snapshot` answers at once: the snapshot of an idle actor (nothing queued before it), else undefined. */
    const snapshotIfIdle = (): ChannelSnapshot<S> | undefined => (actor.idle() ? snapshotNow() : undefined)
    return {
      actor,
      tell: (input, connectedOn) =>
        actor.tell(connectedOn === undefined ? { _tag: "Input", input } : { _tag: "Input", input, session: connectedOn }),
      offer: (input, connectedOn) =>
        actor.post(connectedOn === undefined ? { _tag: "Input", input } : { _tag: "Input", input, session: connectedOn }),
      command: (input) => actor.ask<CommandReport, ChannelCommandRejected>((reply) => ({ _tag: "Input", input, reply })),
      // An idle actor's snapshot is what it holds now (nothing is queued before it): read at once,
      // with no trip through the mailbox (a poll of many channels wakes none of them).
      snapshot: Effect.suspend(() => {
        const now = snapshotIfIdle()
        return now !== undefined ? Effect.succeed(now) : askSnapshot
      }),
      snapshotNow: snapshotIfIdle
    }
  })
