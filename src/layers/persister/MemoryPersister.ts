/**
 * In-memory `MonitorPersister` with the knobs the channel tests and the simulation harness
 * need: complete persistence late, complete it out of order (across channels, or with the
 * completion events of one channel reversed), fail N writes (an outage, retried in the
 * background on the retry `Schedule`), lose completions, and crash at any persistence point.
 *
 * What is durable lives in a `MemoryPersisterData` the test keeps: after `crash`, a new
 * persister over the same data is the restarted node's, and its `load` gives exactly what was
 * written. Per channel, writes become durable in persist order, as in every layer.
 */
import { Context, Deferred, Effect, Layer, PubSub, Queue, Result, Schedule, type Scope, Stream } from "effect"
import { foldAccepted } from "../../protocol/monitor/apply.ts"
import type { MonitorState } from "../../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../protocol/monitor/update.ts"
import type { ChannelId } from "../../protocol/units.ts"
import {
  channelStateJson,
  declareFreeWrites,
  MonitorPersister,
  PersisterClosed,
  PersistOutOfOrder,
  PersistUnavailable,
  type ChannelStateValue,
  type ChannelWrite,
  type MonitorPersisterShape,
  type PersistCompletion,
  type PersistedChannel,
  type PersistStatus,
  type WriteNow
} from "../../services/MonitorPersister.ts"
import { channelKey, checkOrder, DEFAULT_COMPACT_EVERY, heldChannelKey } from "./replica.ts"

interface StoredChannel {
  readonly channelId: ChannelId
  /** Kept as given (a `LazyJson` is encoded only when `load` gives it back). */
  channelState: ChannelStateValue
  /** The updates after `monitor` (the whole log from `Opened` when there is no snapshot). */
  updates: Array<MonitorUpdate>
  /** The compacted log: the monitor state at its `latestUpdateId` (absent: not compacted yet). */
  monitor?: MonitorState
}

/** The last update id a stored channel holds (-1: none). */
const lastIdOf = (c: StoredChannel): bigint => c.updates.at(-1)?.updateId ?? c.monitor?.latestUpdateId ?? -1n

/**
 * Folds a stored channel's log into its snapshot (the older updates dropped) once it holds
 * `every` updates or more; `every` 0 or less: never. One replacement of the record, so a
 * crash leaves it before or after, both loadable. A log that does not fold (a bug elsewhere)
 * is kept whole: `load` reports it as it is. `monitorAfter`: the writer's monitor state after
 * the log (`WriteNow`), taken as the snapshot when it is at the log's last update (then it is
 * the fold: the same updates applied), so the log is not applied a second time.
 */
const compact = (c: StoredChannel, every: number, monitorAfter?: () => MonitorState | undefined): void => {
  if (every <= 0 || c.updates.length < every) return
  const given = monitorAfter?.()
  if (given !== undefined && given.latestUpdateId === c.updates[c.updates.length - 1]?.updateId) {
    c.monitor = given
    c.updates = []
    return
  }
  const folded = foldAccepted(c.monitor, c.updates)
  if (Result.isFailure(folded)) return
  c.monitor = folded.success
  c.updates = []
}

/** The durable side: what a restarted node finds. */
export interface MemoryPersisterData {
  readonly channels: Map<string, StoredChannel>
  readonly archived: Map<string, StoredChannel>
}

export const makeMemoryPersisterData = (): MemoryPersisterData => ({ channels: new Map(), archived: new Map() })

export interface HeldWrite {
  readonly channelId: ChannelId
  /** The channel's latest update id with this write (-1: none yet). */
  readonly updateId: bigint
}

export interface ReleaseOptions {
  /** How many of the channel's held writes, oldest first (default: all). */
  readonly count?: number
  /** Publish the completions of this release newest first. */
  readonly reverseCompletions?: boolean
  /** Make the writes durable but publish no completion (a completion lost in a crash). */
  readonly silent?: boolean
}

export interface MemoryPersisterControl {
  /** `immediate`: writes are durable at once (`Completed`). `hold`: new writes wait (`InProgress`) until released. */
  readonly setMode: (mode: "immediate" | "hold") => Effect.Effect<void>
  /** Writes not durable yet, oldest first (held, or waiting behind a failed one). */
  readonly pending: Effect.Effect<ReadonlyArray<HeldWrite>>
  /** Makes held writes of one channel durable, in order; how many were released. */
  readonly release: (channelId: ChannelId, options?: ReleaseOptions) => Effect.Effect<number>
  /** Releases every held write, channel by channel in the order they were persisted. */
  readonly releaseAll: Effect.Effect<number>
  /** The next `n` write attempts fail; writes wait and are retried on the retry schedule. */
  readonly failNext: (n: number) => Effect.Effect<void>
  /** Write attempts so far (successful or failed). */
  readonly attempts: Effect.Effect<number>
  /**
   * A crash: writes not durable are lost, no completion is published any more, and every
   * later call fails with `PersisterClosed`. The data keeps what was durable.
   */
  readonly crash: Effect.Effect<void>
}

export class MemoryPersisterControls extends Context.Service<MemoryPersisterControls, MemoryPersisterControl>()(
  "effect-lightning/MemoryPersisterControls"
) {}

export interface MemoryPersisterOptions {
  readonly data?: MemoryPersisterData
  readonly mode?: "immediate" | "hold"
  /** Retry delays after a failed attempt (default: exponential from 10 ms, capped at 5 s). */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /**
   * Compaction: a channel's log is folded into a monitor snapshot once it holds this many
   * updates after the snapshot, and at start (default 16; 0: keep every update, as before).
   */
  readonly compactEvery?: number
}



interface Pending {
  readonly key: string
  readonly channelId: ChannelId
  readonly updates: ReadonlyArray<MonitorUpdate>
  readonly channelState: ChannelStateValue
  readonly updateId: bigint
  readonly status: Deferred.Deferred<PersistStatus>
  held: boolean
  silent: boolean
}

class AttemptFailed {
  readonly _tag = "AttemptFailed"
}

export const makeMemoryPersister = (
  options: MemoryPersisterOptions = {}
): Effect.Effect<{ readonly persister: MonitorPersisterShape; readonly control: MemoryPersisterControl }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const data = options.data ?? makeMemoryPersisterData()
    const retry = options.retry ?? Schedule.min([Schedule.exponential("10 millis", 2), Schedule.spaced("5 seconds")])
    let mode = options.mode ?? "immediate"
    let failures = 0
    let attemptCount = 0
    let closed = false
    const pending: Array<Pending> = []
    /** Latest update id recorded per channel, durable or pending. */
    const latest = new Map<string, bigint>()
    const compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY
    for (const [key, c] of data.channels) {
      // At start: a log written before compaction (or by a persister that did not compact) is folded now.
      if (c.updates.length > 0) compact(c, compactEvery === 0 ? 0 : 1)
      latest.set(key, lastIdOf(c))
    }

    const snapshot: ReadonlyArray<PersistedChannel> = [...data.channels.values()].map((c) => ({
      channelId: c.channelId,
      channelState: channelStateJson(c.channelState),
      updates: [...c.updates],
      ...(c.monitor === undefined ? {} : { monitor: c.monitor }),
      latestUpdateId: lastIdOf(c)
    }))

    const completions = yield* PubSub.unbounded<PersistCompletion>()
    const wake = yield* Queue.sliding<void>(1)

    /**
     * Makes durable every pending write that may go (not held, none of its channel before it),
     * in order, until an attempt fails. Returns the writes made durable, and whether one failed.
     */
    const flush = (): { readonly done: Array<Pending>; readonly failed: boolean } => {
      const done: Array<Pending> = []
      const blocked = new Set<string>()
      let failed = false
      for (const p of [...pending]) {
        if (blocked.has(p.key) || p.held) {
          blocked.add(p.key)
          continue
        }
        attemptCount += 1
        if (failures > 0) {
          failures -= 1
          failed = true
          break
        }
        const stored = data.channels.get(p.key) ?? { channelId: p.channelId, channelState: p.channelState, updates: [] }
        stored.channelState = p.channelState
        for (const u of p.updates) stored.updates.push(u)
        compact(stored, compactEvery)
        data.channels.set(p.key, stored)
        pending.splice(pending.indexOf(p), 1)
        done.push(p)
      }
      return { done, failed }
    }

    const publish = (done: ReadonlyArray<Pending>, reverse = false) =>
      Effect.forEach(reverse ? [...done].reverse() : done, (p) =>
        Effect.gen(function*() {
          const answered = yield* Deferred.succeed(p.status, "Completed")
          if (!answered && !p.silent && !closed) yield* PubSub.publish(completions, { channelId: p.channelId, updateId: p.updateId })
        }), { discard: true })

    // Background retries after a failed attempt.
    yield* Queue.take(wake).pipe(
      Effect.andThen(
        Effect.suspend(() => {
          if (closed) return Effect.void
          const r = flush()
          return Effect.andThen(publish(r.done), r.failed ? Effect.fail(new AttemptFailed()) : Effect.void)
        }).pipe(Effect.retry(retry), Effect.ignore)
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const orderOf = (updates: ReadonlyArray<MonitorUpdate>, key: string): PersistOutOfOrder | undefined => checkOrder(key, latest.get(key) ?? -1n, updates)

    /** Whether a write lands at once now: immediate mode, no write waiting (held or behind a failure), no failure planned. */
    const landsNow = (): boolean => !closed && mode === "immediate" && failures === 0 && pending.length === 0

    /** Lands one write now (checked already), exactly as `flush` would land it (`monitorAfter`: see `compact`). */
    const land = (
      key: string,
      channelId: ChannelId,
      updates: ReadonlyArray<MonitorUpdate>,
      channelState: ChannelStateValue,
      monitorAfter: (() => MonitorState | undefined) | undefined
    ): void => {
      const last = updates[updates.length - 1]
      if (last !== undefined) latest.set(key, last.updateId)
      else if (!latest.has(key)) latest.set(key, -1n)
      attemptCount += 1
      const known = data.channels.get(key)
      const stored = known ?? { channelId, channelState, updates: [] }
      stored.channelState = channelState
      for (const u of updates) stored.updates.push(u)
      compact(stored, compactEvery, monitorAfter)
      // A channel's record is replaced in place: the map is written for a new channel only.
      if (known === undefined) data.channels.set(key, stored)
    }

    /**
     * The common case without a Deferred, a queue entry or a publication: `landsNow`, the updates
     * in order. The write lands now and is `Completed` (the other path would answer the same,
     * with no completion published). Undefined: nothing written (`persist` does it, or reports why).
     */
    const writeNow: WriteNow = (channelId, updates, channelState, monitorAfter) => {
      if (!landsNow()) return undefined
      const key = heldChannelKey(channelId)
      if (orderOf(updates, key) !== undefined) return undefined
      land(key, channelId, updates, channelState, monitorAfter)
      return "Completed"
    }

    const persistMany = (writes: ReadonlyArray<ChannelWrite>): Effect.Effect<ReadonlyArray<PersistStatus>, PersistOutOfOrder | PersisterClosed> =>
      Effect.suspend(() => {
        // One channel's write (the common call) at once if it can be; several go through the queue.
        const w = writes.length === 1 ? writes[0] : undefined
        const now = w === undefined ? undefined : writeNow(w.channelId, w.updates, w.channelState)
        return now !== undefined ? Effect.succeed([now]) : persistQueued(writes)
      })

    const persistQueued = (writes: ReadonlyArray<ChannelWrite>) =>
      Effect.gen(function*() {
        if (closed) return yield* new PersisterClosed()
        for (const w of writes) {
          const bad = orderOf(w.updates, channelKey(w.channelId))
          if (bad !== undefined) return yield* bad
        }
        const mine: Array<Pending> = []
        for (const w of writes) {
          const key = channelKey(w.channelId)
          const updateId = w.updates.at(-1)?.updateId ?? latest.get(key) ?? -1n
          latest.set(key, updateId)
          const p: Pending = {
            key,
            channelId: w.channelId,
            updates: w.updates,
            channelState: w.channelState,
            updateId,
            status: yield* Deferred.make<PersistStatus>(),
            held: mode === "hold",
            silent: false
          }
          pending.push(p)
          mine.push(p)
        }
        const r = flush()
        yield* publish(r.done)
        if (r.failed) yield* Queue.offer(wake, undefined)
        return yield* Effect.forEach(mine, (p) =>
          Effect.flatMap(Deferred.succeed(p.status, "InProgress"), () => Deferred.await(p.status))
        )
      })

    const release = (channelId: ChannelId, o: ReleaseOptions = {}) =>
      Effect.gen(function*() {
        if (closed) return 0
        const key = channelKey(channelId)
        let n = 0
        for (const p of pending) {
          if (p.key !== key || !p.held) continue
          if (o.count !== undefined && n >= o.count) break
          p.held = false
          p.silent = o.silent === true
          n += 1
        }
        const r = flush()
        yield* publish(r.done, o.reverseCompletions === true)
        if (r.failed) yield* Queue.offer(wake, undefined)
        return n
      })

    const retire = (channelId: ChannelId, archive: boolean) =>
      Effect.gen(function*() {
        if (closed) return yield* new PersisterClosed()
        const key = channelKey(channelId)
        if (pending.some((p) => p.key === key)) return yield* new PersistUnavailable({ reason: "the channel has writes not yet durable" })
        const c = data.channels.get(key)
        if (c !== undefined && archive) data.archived.set(key, c)
        data.channels.delete(key)
        latest.delete(key)
      })

    const persister: MonitorPersisterShape = {
      persist: (channelId, updates, channelState) =>
        Effect.suspend(() => {
          const now = writeNow(channelId, updates, channelState)
          return now !== undefined ? Effect.succeed(now) : Effect.map(persistQueued([{ channelId, updates, channelState }]), (s) => s[0] ?? "InProgress")
        }),
      persistMany,
      subscribe: PubSub.subscribe(completions),
      completions: Stream.fromPubSub(completions),
      load: Effect.succeed(snapshot),
      archive: (channelId) => retire(channelId, true),
      remove: (channelId) => retire(channelId, false)
    }

    // Free while `writeNow` would take a write: immediate mode, nothing waiting, no failure planned.
    declareFreeWrites(persister, landsNow, writeNow)

    const control: MemoryPersisterControl = {
      setMode: (m) => Effect.sync(() => void (mode = m)),
      pending: Effect.sync(() => pending.map((p) => ({ channelId: p.channelId, updateId: p.updateId }))),
      release,
      releaseAll: Effect.gen(function*() {
        let n = 0
        for (const key of new Set(pending.map((p) => p.key))) {
          const p = pending.find((q) => q.key === key)
          if (p !== undefined) n += yield* release(p.channelId)
        }
        return n
      }),
      failNext: (count) => Effect.sync(() => void (failures = count)),
      attempts: Effect.sync(() => attemptCount),
      crash: Effect.gen(function*() {
        closed = true
        for (const p of pending.splice(0)) yield* Deferred.succeed(p.status, "InProgress")
      })
    }
    return { persister, control }
  })

/** `MonitorPersister` in memory, with its `MemoryPersisterControls`. */
export const layer = (options: MemoryPersisterOptions = {}): Layer.Layer<MonitorPersister | MemoryPersisterControls> =>
  Layer.unwrap(
    Effect.map(makeMemoryPersister(options), ({ persister, control }) =>
      Layer.mergeAll(Layer.succeed(MonitorPersister, persister), Layer.succeed(MemoryPersisterControls, control))
    )
  )
