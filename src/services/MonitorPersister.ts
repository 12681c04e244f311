/**
 * MonitorPersister: where a channel's monitor updates and state become durable.
 *
 * One source of truth per channel: each `persist` writes the channel's new `MonitorUpdate`s
 * (`src/protocol/monitor`) AND the channel state they belong to, together, atomically (one
 * store write in the local layer). At start, `load` gives back, per channel, the last state and
 * the update log that were written with it: they cannot disagree. A remote replica (a
 * watchtower) receives the same updates.
 *
 * The contract the `Channel` actor relies on:
 * - `persist` returns `Completed` once the write is durable, or `InProgress` when it is not yet
 *   (slow disk, outage, a replica quorum not reached): the channel then PAUSES (sends nothing
 *   that depends on these updates) until a completion for its channel with that `updateId`
 *   arrives on `subscribe`/`completions`. Every `InProgress` is followed by exactly one
 *   completion (unless the process dies first: then `load` at the next start says what was
 *   written, and the channel resumes from there).
 * - Per channel, writes become durable in `persist` order and completions are published in
 *   that order; a completion for update n means every update <= n of that channel is durable.
 * - An outage never wedges a channel and never drops an update: the persister keeps the
 *   writes and retries in the background (backoff from an Effect `Schedule`, on the `Clock`)
 *   until they succeed. `persist` itself fails only for a caller bug (`PersistOutOfOrder`) or
 *   a closed persister.
 * - Concurrent persists (many channels, or a channel that keeps going) are grouped by the
 *   layers into few store writes (one fsync for many); `persistMany` submits several channels'
 *   writes at once.
 *
 * `updateId`s are per channel: `Opened` is 0, then +1 each (the `MonitorUpdate` rule); a
 * `persist` with no updates writes the channel state alone (its completion carries the
 * channel's latest `updateId`, or -1 before any). Layers: `src/layers/persister/`.
 */
import { Context, Data, type Effect, type PubSub, Result, Schema, type Scope, type Stream } from "effect"
import type { MonitorState } from "../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../protocol/monitor/update.ts"
import type { ChannelId } from "../protocol/units.ts"

export type PersistStatus = "Completed" | "InProgress"

/** Every update of `channelId` up to `updateId` is durable, with the state written with it. */
export interface PersistCompletion {
  readonly channelId: ChannelId
  readonly updateId: bigint
}

/**
 * A JSON value computed when first asked for, at most once (memoized). The channel manager
 * hands its record over this way: a persister that writes bytes asks for it at once (the same
 * value as an eager encoding); one that keeps values in memory asks only when `load` gives it
 * back, so a write that is never loaded costs no encoding. The encoder must read only
 * immutable values (it may run later than the write).
 *
 * Made with an encoder, or extended by a class that holds its inputs as fields and overrides
 * `compute` and `release` (one object per value: no encoder closure and context per write).
 */
export class LazyJson {
  #encode: (() => Schema.Json) | undefined
  #value: Schema.Json = null
  #computed = false
  constructor(encode?: () => Schema.Json) {
    this.#encode = encode
  }
  /** The value (encoded on the first call, then kept; the encoder, or a subclass's inputs, let go once it ran). */
  get value(): Schema.Json {
    if (!this.#computed) {
      this.#value = this.compute()
      this.#computed = true
      this.#encode = undefined
      this.release()
    }
    return this.#value
  }
  /** Computes the value, once: the encoder given to the constructor (none: null). */
  protected compute(): Schema.Json {
    return this.#encode === undefined ? null : this.#encode()
  }
  /** Lets go of what `compute` read, once it ran (a subclass's fields). */
  protected release(): void {}
}

/** A channel state as `persist` takes it: its JSON, or that JSON still to be computed. */
export type ChannelStateValue = Schema.Json | LazyJson

/** The JSON of a `ChannelStateValue` (computes a `LazyJson`'s value, once). */
export const channelStateJson = (state: ChannelStateValue): Schema.Json => (state instanceof LazyJson ? state.value : state)

/** One channel's write: its new updates (contiguous, after the last persisted) and its state after them. */
export interface ChannelWrite {
  readonly channelId: ChannelId
  readonly updates: ReadonlyArray<MonitorUpdate>
  /** The channel's state (its Schema's JSON encoding, possibly lazy: `channelStateJson`), written with the updates. */
  readonly channelState: ChannelStateValue
}

/** What the store holds for one channel. */
export interface PersistedChannel {
  readonly channelId: ChannelId
  readonly channelState: Schema.Json
  /**
   * The monitor update log: the whole of it, `Opened` first, when there is no `monitor`
   * snapshot (empty only for a channel persisted without updates); otherwise the updates after
   * the snapshot (`monitor.latestUpdateId + 1` on), possibly none.
   */
  readonly updates: ReadonlyArray<MonitorUpdate>
  /**
   * The monitor state at `monitor.latestUpdateId`, when the persister compacted the log (the
   * updates up to it folded into this snapshot and dropped): replay `updates` from it.
   */
  readonly monitor?: MonitorState
  /** The last `updateId` written (-1 if none): what completed, whatever completions were seen. */
  readonly latestUpdateId: bigint
}

/** Updates that do not follow what was persisted for the channel (a caller bug; nothing written). */
export class PersistOutOfOrder extends Data.TaggedError("PersistOutOfOrder")<{
  readonly channel: string
  readonly expected: bigint
  readonly received: bigint
}> {
  override get message(): string {
    return `persist for channel ${this.channel}: update ${this.received} out of order, expected ${this.expected}`
  }
}

/** The store (or too many replicas) cannot be reached for a read or an archive: retry later. */
export class PersistUnavailable extends Data.TaggedError("PersistUnavailable")<{ readonly reason: string }> {}

/** The persister was shut down (its scope closed, or a simulated crash). */
export class PersisterClosed extends Data.TaggedError("PersisterClosed")<{}> {}

export type PersistError = PersistOutOfOrder | PersisterClosed

export interface MonitorPersisterShape {
  readonly persist: (
    channelId: ChannelId,
    updates: ReadonlyArray<MonitorUpdate>,
    channelState: ChannelStateValue
  ) => Effect.Effect<PersistStatus, PersistError>
  /** Several channels' writes (at most one per channel), grouped; one status per write, in order. */
  readonly persistMany: (writes: ReadonlyArray<ChannelWrite>) => Effect.Effect<ReadonlyArray<PersistStatus>, PersistError>
  /** Completions of writes that returned `InProgress`, from now on (buffered until taken). */
  readonly subscribe: Effect.Effect<PubSub.Subscription<PersistCompletion>, never, Scope.Scope>
  /** The same, as a stream (subscribes when run). */
  readonly completions: Stream.Stream<PersistCompletion>
  /**
   * Every live channel as the store held it when this persister started (call once, at start,
   * before persisting): the channel state and the update log written with it.
   */
  readonly load: Effect.Effect<ReadonlyArray<PersistedChannel>, PersistUnavailable>
  /** Moves a closed channel out of the live set (kept under an archive prefix, never loaded again). */
  readonly archive: (channelId: ChannelId) => Effect.Effect<void, PersistUnavailable | PersisterClosed>
  /** Deletes a channel's data for good. */
  readonly remove: (channelId: ChannelId) => Effect.Effect<void, PersistUnavailable | PersisterClosed>
}

/**
 * Persisters whose writes can be free, by object, with the test saying whether they are now: a
 * write handed over then is durable at once and costs no more alone than grouped (in memory, no
 * encoding, no I/O, nothing waiting), so a caller writes at once instead of waiting to group
 * writes (the `Channel` actor's yield before a grouped write). Kept by object, not as a field, so
 * a wrapper (a new object, e.g. one that spreads a persister's fields to record, delay or count
 * its writes) is never taken for free.
 */
const freeWriters = new WeakMap<MonitorPersisterShape, () => boolean>()

/**
 * One channel's write done at once, with no effect: the status `persist` would give, or undefined
 * when it cannot be done at once (then `persist` does it; nothing was written). It fails only as
 * `persist` would for a caller bug: it gives undefined then too, and `persist` reports it.
 *
 * `monitorAfter` (optional): the caller's monitor state once these updates are applied, asked for
 * only when needed (a persister compacting its log now). When its `latestUpdateId` is the last of
 * the log being compacted, every update of that log was applied to it (`apply`, which checks what
 * `applyAccepted` checks and more), so it IS the fold of the log (`foldAccepted`): the persister
 * takes it as its snapshot instead of folding the same updates again (and shares the monitor's
 * objects rather than holding a copy). Anything else (undefined, another id): the persister folds.
 */
export type WriteNow = (
  channelId: ChannelId,
  updates: ReadonlyArray<MonitorUpdate>,
  channelState: ChannelStateValue,
  monitorAfter?: () => MonitorState | undefined
) => PersistStatus | undefined

const nowWriters = new WeakMap<MonitorPersisterShape, WriteNow>()

/**
 * Declares `persister`'s writes free whenever `now()` says so (see `writesFreeOf`), and, with
 * `write`, how a write is done at once (see `writeNowOf`; by object too, so a wrapper that records
 * or counts writes never has them bypass it).
 */
export const declareFreeWrites = (persister: MonitorPersisterShape, now: () => boolean, write?: WriteNow): void => {
  freeWriters.set(persister, now)
  if (write !== undefined) nowWriters.set(persister, write)
}

/** The test of whether `persister`'s writes are free now, if it declared one (`declareFreeWrites`). */
export const writesFreeOf = (persister: MonitorPersisterShape): (() => boolean) | undefined => freeWriters.get(persister)

/** `persister`'s write done at once (no effect), if it declared one (`declareFreeWrites`). */
export const writeNowOf = (persister: MonitorPersisterShape): WriteNow | undefined => nowWriters.get(persister)

export class MonitorPersister extends Context.Service<MonitorPersister, MonitorPersisterShape>()(
  "effect-lightning/MonitorPersister"
) {}

const decodeJson = Schema.decodeUnknownResult(Schema.Json)

/**
 * A value's JSON form through its Schema, checked to be JSON (what `persist` takes as
 * `channelState`). Fails only for a Schema that does not encode to JSON (a bug).
 */
export const encodeJsonWith =
  <A>(schema: Schema.Codec<A, unknown>) =>
  (value: A): Result.Result<Schema.Json, Schema.SchemaError> =>
    Result.flatMap(Schema.encodeUnknownResult(schema)(value), decodeJson)
