/**
 * The persister over replicas (`MonitorReplica`): the local store alone (n = 1), or n replicas
 * of which k must acknowledge (the watchtower model). One engine for both.
 *
 * How a write travels:
 * - `persist` records the channel's new updates and state in memory, wakes one writer fiber per
 *   replica, and waits (at most `inlineWait`) for the quorum: `Completed`; otherwise, or as soon
 *   as a replica failure makes the quorum unreachable for now, `InProgress`, and the completion
 *   is published later. One replica that writes without suspending (`MonitorReplica.synchronous`:
 *   over a store in memory), idle and healthy, is written in the caller's turn instead (no hop to
 *   its writer; a failure goes to the writer, which retries it).
 * - A replica's writer takes EVERY channel it lags on (updates after the last one it
 *   acknowledged, and the latest state) and sends them as one replica write: group commit, one
 *   store write (one fsync) for many persists. On failure it retries with backoff (`retry`
 *   schedule, on the Clock) until it succeeds; a replica that was down catches up from its last
 *   acknowledged update. Nothing is dropped: updates stay in memory until every replica has them,
 *   at most `maxRetained` per channel: past that (a replica down for long), the persister asks an
 *   up-to-date state-keeping replica for the channel's monitor state (`MonitorReplica.monitorOf`),
 *   keeps it in place of the updates it covers, and the lagging replica catches up from that
 *   snapshot (as a replica behind a compacted log does). Without such a replica the updates stay.
 * - A write is complete when k replicas acknowledged it and at least one of them keeps channel
 *   states (the truth a restart reads). Replicas that keep no state (watchtowers) only receive
 *   updates that a state-keeping replica already holds, so at restart no replica is ever ahead
 *   of the truth.
 * - At start (construction), every replica is read: all state-keeping ones and at least n-k+1
 *   in all must answer (any k acknowledgements then intersect what is read). Per channel, the
 *   state-keeping replica with the longest log is the truth, and among equally long logs the
 *   one with the highest state version (every recorded state gets the next version, a state
 *   written alone too: the `Channel` actor writes one at `channel_ready`); lagging replicas
 *   catch up from it.
 */
import { Clock, Deferred, Duration, Effect, Exit, Layer, PubSub, Queue, Result, Schedule, type Schema, type Scope, Stream } from "effect"
import type { MonitorState } from "../../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../protocol/monitor/update.ts"
import type { ChannelId } from "../../protocol/units.ts"
import {
  channelStateJson,
  MonitorPersister,
  PersisterClosed,
  PersistOutOfOrder,
  PersistUnavailable,
  type ChannelWrite,
  type MonitorPersisterShape,
  type PersistCompletion,
  type PersistedChannel,
  type PersistStatus
} from "../../services/MonitorPersister.ts"
import { Store } from "../../services/Store.ts"
import {
  channelKey,
  checkOrder,
  DEFAULT_MAX_RETAINED,
  heldChannelKey,
  lastUpdateIdOf,
  type MonitorReplica,
  type ReplicaChannel,
  type ReplicaError,
  type ReplicaWrite
} from "./replica.ts"
import { makeStoreReplica, type StoreReplicaOptions } from "./StoreReplica.ts"

export interface ReplicatedPersisterOptions {
  readonly replicas: ReadonlyArray<MonitorReplica>
  /** k: acknowledgements a write needs (default: every replica). */
  readonly quorum?: number
  /** Delays between retries of a failed replica write (default: exponential from 10 ms, capped at 5 s, forever). */
  readonly retry?: Schedule.Schedule<unknown, ReplicaError>
  /** How long `persist` waits for the quorum before answering `InProgress` (default 500 ms). */
  readonly inlineWait?: Duration.Input
  /** Updates kept in memory per channel for lagging replicas before a snapshot replaces them (default `DEFAULT_MAX_RETAINED`). */
  readonly maxRetained?: number
}

export const defaultRetrySchedule: Schedule.Schedule<unknown, ReplicaError> = Schedule.min([
  Schedule.exponential("10 millis", 2),
  Schedule.spaced("5 seconds")
])

interface Waiter {
  readonly seq: number
  readonly updateId: bigint
  readonly status: Deferred.Deferred<PersistStatus>
}

interface Entry {
  readonly channelId: ChannelId
  readonly key: string
  /** Persists recorded (state versions). */
  seq: number
  /**
   * The latest state, kept until every state-keeping replica acknowledged it (then dropped: an
   * idle channel costs no copy of its state here).
   */
  state: Schema.Json | undefined
  /** Last update id recorded (-1: none). */
  latest: bigint
  /** The version of the latest state recorded (`ReplicaWrite.stateVersion`). */
  version: bigint
  /** Updates some replica has not acknowledged yet, in order. */
  retained: Array<MonitorUpdate>
  /**
   * The monitor snapshot the truth was compacted into at start, kept while a replica lags
   * behind it (it catches up from the snapshot: the updates before it are gone).
   */
  monitor: MonitorState | undefined
  readonly waiters: Array<Waiter>
  /** Per replica: last state version acknowledged (state-keeping replicas). */
  readonly ackedSeq: Array<number>
  /** Per replica: last update id acknowledged. */
  readonly ackedUpdate: Array<bigint>
}

interface Planned {
  readonly entry: Entry
  readonly seq: number
  readonly updateId: bigint
}

const jsonEqual = (a: Schema.Json | undefined, b: Schema.Json | undefined): boolean => JSON.stringify(a) === JSON.stringify(b)

export const makeReplicatedPersister = (
  options: ReplicatedPersisterOptions
): Effect.Effect<MonitorPersisterShape, PersistUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const replicas = options.replicas
    const n = replicas.length
    const k = options.quorum ?? n
    const retry = options.retry ?? defaultRetrySchedule
    const inlineWait = Duration.fromInputUnsafe(options.inlineWait ?? "500 millis")
    const maxRetained = Math.max(1, options.maxRetained ?? DEFAULT_MAX_RETAINED)
    if (n === 0 || k < 1 || k > n) return yield* new PersistUnavailable({ reason: `bad quorum ${k} of ${n}` })
    const stateReplicas = replicas.flatMap((r, i) => (r.keepsChannelState ? [i] : []))
    if (stateReplicas.length === 0) return yield* new PersistUnavailable({ reason: "no replica keeps channel states" })

    // ---- start: read every replica ----
    const loaded = yield* Effect.forEach(replicas, (r) => Effect.result(r.load), { concurrency: "unbounded" })
    const answered = loaded.filter(Result.isSuccess).length
    for (const i of stateReplicas) {
      const l = loaded[i]
      if (l !== undefined && Result.isFailure(l)) return yield* new PersistUnavailable({ reason: l.failure.message })
    }
    if (answered < n - k + 1) return yield* new PersistUnavailable({ reason: `${answered} of ${n} replicas answered, ${n - k + 1} needed` })

    const channels = new Map<string, Entry>()
    /** Drops the entry's state once every state-keeping replica holds its latest version. */
    const dropStateIfStored = (e: Entry | undefined): void => {
      if (e === undefined || e.state === undefined) return
      for (const i of stateReplicas) if ((e.ackedSeq[i] ?? 0) < e.seq) return
      e.state = undefined
    }
    const views = loaded.map((l) => new Map<string, ReplicaChannel>(Result.isSuccess(l) ? l.success.map((c) => [channelKey(c.channelId), c]) : []))
    let snapshot: Array<PersistedChannel> | undefined = []
    const keys = new Set<string>()
    for (const i of stateReplicas) for (const key of views[i]?.keys() ?? []) keys.add(key)
    for (const key of keys) {
      let best: ReplicaChannel | undefined
      for (const i of stateReplicas) {
        const c = views[i]?.get(key)
        if (c === undefined || c.channelState === undefined) continue
        if (
          best === undefined ||
          lastUpdateIdOf(c) > lastUpdateIdOf(best) ||
          (lastUpdateIdOf(c) === lastUpdateIdOf(best) && (c.stateVersion ?? 0n) > (best.stateVersion ?? 0n))
        )
          best = c
      }
      if (best === undefined || best.channelState === undefined) continue
      const latest = lastUpdateIdOf(best)
      const ackedUpdate = replicas.map((_, i) => {
        const c = views[i]?.get(key)
        return c === undefined ? -1n : lastUpdateIdOf(c)
      })
      const ackedSeq = replicas.map((r, i) => {
        const c = views[i]?.get(key)
        return r.keepsChannelState &&
          c !== undefined &&
          lastUpdateIdOf(c) === latest &&
          (c.stateVersion ?? 0n) === (best.stateVersion ?? 0n) &&
          jsonEqual(c.channelState, best.channelState)
          ? 1
          : 0
      })
      const floor = ackedUpdate.reduce((a, b) => (b < a ? b : a), latest)
      channels.set(key, {
        channelId: best.channelId,
        key,
        seq: 1,
        state: best.channelState,
        latest,
        version: best.stateVersion ?? 0n,
        retained: best.updates.filter((u) => u.updateId > floor),
        monitor: best.monitor !== undefined && floor < best.monitor.latestUpdateId ? best.monitor : undefined,
        waiters: [],
        ackedSeq,
        ackedUpdate
      })
      snapshot.push({
        channelId: best.channelId,
        channelState: best.channelState,
        updates: best.updates,
        ...(best.monitor === undefined ? {} : { monitor: best.monitor }),
        latestUpdateId: latest
      })
      dropStateIfStored(channels.get(key))
    }

    // What was read is in `channels` and `snapshot` now: the replicas' copies go (this generator's
    // variables live as long as the persister's fibers do).
    for (const v of views) v.clear()
    loaded.length = 0

    // ---- the engine ----
    const scope = yield* Effect.scope
    const completions = yield* PubSub.unbounded<PersistCompletion>()
    const wake = yield* Effect.forEach(replicas, () => Queue.sliding<void>(1))
    const failing = replicas.map(() => false)
    /** Per replica: the channels it may lag on (the only ones a write plan looks at). */
    const dirty = replicas.map(() => new Set<Entry>(channels.values()))
    let closed = false

    const acks = (e: Entry, w: Waiter, i: number): boolean =>
      replicas[i]?.keepsChannelState === true ? (e.ackedSeq[i] ?? 0) >= w.seq : (e.ackedUpdate[i] ?? -1n) >= w.updateId
    const quorumReached = (e: Entry, w: Waiter): boolean => {
      let count = 0
      let state = false
      for (let i = 0; i < n; i++) {
        if (!acks(e, w, i)) continue
        count += 1
        if (replicas[i]?.keepsChannelState === true) state = true
      }
      return count >= k && state
    }
    /** Whether the quorum can be reached by replicas that acknowledged or are not failing. */
    const quorumReachable = (e: Entry, w: Waiter): boolean => {
      let count = 0
      let state = false
      for (let i = 0; i < n; i++) {
        if (!acks(e, w, i) && failing[i] === true) continue
        count += 1
        if (replicas[i]?.keepsChannelState === true) state = true
      }
      return count >= k && state
    }

    const completedExit: Exit.Exit<PersistStatus> = Exit.succeed<PersistStatus>("Completed")
    /**
     * Answers, in order, the waiters of `e` the quorum now covers; the completions of those that
     * were already answered `InProgress` go to `late` (published by the caller).
     */
    const settleNow = (e: Entry, late: Array<PersistCompletion>): void => {
      while (e.waiters.length > 0) {
        const w = e.waiters[0]
        if (w === undefined || !quorumReached(e, w)) break
        e.waiters.shift()
        if (!Deferred.doneUnsafe(w.status, completedExit)) late.push({ channelId: e.channelId, updateId: w.updateId })
      }
    }
    const publishAll = (late: ReadonlyArray<PersistCompletion>): Effect.Effect<void> =>
      Effect.forEach(late, (c) => PubSub.publish(completions, c), { discard: true })

    const firstWake = wake[0]
    const wakeAll = wake.length === 1 && firstWake !== undefined
      ? Effect.asVoid(Queue.offer(firstWake, undefined))
      : Effect.forEach(wake, (q) => Queue.offer(q, undefined), { discard: true })
    /** The writers of the replicas that keep no channel state (watchtowers). */
    const updateOnly = wake.filter((_, i) => replicas[i]?.keepsChannelState === false)
    const wakeUpdateOnly = Effect.forEach(updateOnly, (q) => Queue.offer(q, undefined), { discard: true })

    /** What replica i lags on: one write per channel. */
    const plan = (i: number): { readonly writes: Array<ReplicaWrite>; readonly planned: Array<Planned> } => {
      const replica = replicas[i]
      const writes: Array<ReplicaWrite> = []
      const planned: Array<Planned> = []
      if (replica === undefined) return { writes, planned }
      const candidates = dirty[i] ?? new Set<Entry>()
      for (const e of [...candidates]) {
        if (channels.get(e.key) !== e) {
          candidates.delete(e) // retired
          continue
        }
        const ackedUpdate = e.ackedUpdate[i] ?? -1n
        if (replica.keepsChannelState) {
          if ((e.ackedSeq[i] ?? 0) >= e.seq) {
            candidates.delete(e)
            continue
          }
          if (e.state === undefined) {
            candidates.delete(e) // unreachable: a state not yet on this replica is kept
            continue
          }
          writes.push({
            channelId: e.channelId,
            updates: e.retained.filter((u) => u.updateId > ackedUpdate),
            channelState: e.state,
            stateVersion: e.version,
            ...(e.monitor !== undefined && ackedUpdate < e.monitor.latestUpdateId ? { monitor: e.monitor } : {})
          })
          planned.push({ entry: e, seq: e.seq, updateId: e.latest })
        } else {
          // only what a state-keeping replica already holds
          let cap = -1n
          for (const s of stateReplicas) if ((e.ackedUpdate[s] ?? -1n) > cap) cap = e.ackedUpdate[s] ?? -1n
          if (ackedUpdate >= cap) {
            candidates.delete(e) // marked dirty again when a state-keeping replica acknowledges more
            continue
          }
          writes.push({
            channelId: e.channelId,
            updates: e.retained.filter((u) => u.updateId > ackedUpdate && u.updateId <= cap),
            channelState: e.state ?? null,
            ...(e.monitor !== undefined && ackedUpdate < e.monitor.latestUpdateId ? { monitor: e.monitor } : {})
          })
          planned.push({ entry: e, seq: e.seq, updateId: cap })
        }
      }
      return { writes, planned }
    }

    /** Replica i holds what `planned` says: waiters answered, retained updates dropped (no generator: one per write). */
    const acknowledged = (i: number, planned: ReadonlyArray<Planned>): Effect.Effect<void> =>
      Effect.suspend(() => {
        failing[i] = false
        const keepsState = replicas[i]?.keepsChannelState === true
        const late: Array<PersistCompletion> = []
        let snapshots: Array<Entry> | undefined
        for (const p of planned) {
          const e = p.entry
          if ((e.ackedSeq[i] ?? 0) < p.seq) e.ackedSeq[i] = p.seq
          if ((e.ackedUpdate[i] ?? -1n) < p.updateId) e.ackedUpdate[i] = p.updateId
          const floor = e.ackedUpdate.reduce((a, b) => (b < a ? b : a), e.latest)
          if (e.retained.length > 0 && (e.retained[0]?.updateId ?? 0n) <= floor) e.retained = e.retained.filter((u) => u.updateId > floor)
          if (e.monitor !== undefined && floor >= e.monitor.latestUpdateId) e.monitor = undefined
          dropStateIfStored(e)
          if (e.retained.length > maxRetained && keepsState) (snapshots ??= []).push(e)
          settleNow(e, late)
          // watchtowers may now receive what this replica holds
          if (keepsState) for (let j = 0; j < n; j++) if (replicas[j]?.keepsChannelState === false) dirty[j]?.add(e)
        }
        const after: Array<Effect.Effect<void>> = []
        if (late.length > 0) after.push(publishAll(late))
        if (snapshots !== undefined) for (const e of snapshots) after.push(snapshotRetained(i, e))
        // Watchtowers may now receive what this replica holds (none: nothing to wake).
        if (keepsState && updateOnly.length > 0) after.push(wakeUpdateOnly)
        return after.length === 0 ? Effect.void : after.length === 1 ? (after[0] ?? Effect.void) : Effect.forEach(after, (a) => a, { discard: true })
      })

    /**
     * Replaces the retained updates of `e` up to what state-keeping replica `i` holds (it just
     * acknowledged them) by its monitor state there: the replicas behind catch up from it. A
     * replica that cannot give it (or fails to) leaves the updates as they are.
     */
    const snapshotRetained = (i: number, e: Entry) =>
      Effect.gen(function*() {
        const monitorOf = replicas[i]?.monitorOf
        if (monitorOf === undefined) return
        const m = yield* Effect.result(monitorOf(e.channelId))
        if (Result.isFailure(m) || m.success === undefined) return
        const at = m.success.latestUpdateId
        // only a state this replica acknowledged, newer than what is kept, and not ahead of what was recorded
        if (at > (e.ackedUpdate[i] ?? -1n) || at > e.latest || (e.monitor !== undefined && at <= e.monitor.latestUpdateId)) return
        e.monitor = m.success
        e.retained = e.retained.filter((u) => u.updateId > at)
      })

    const failed = (i: number, error: ReplicaError) =>
      Effect.gen(function*() {
        failing[i] = true
        yield* Effect.logWarning(`monitor replica write failed, retrying: ${error.message}`)
        for (const e of [...channels.values()])
          for (const w of [...e.waiters]) if (!quorumReachable(e, w)) yield* Deferred.succeed(w.status, "InProgress")
      })

    /** One attempt: write what replica i lags on; true if there was something to write. */
    const attempt = (i: number): Effect.Effect<boolean, ReplicaError> =>
      Effect.suspend(() => {
        const replica = replicas[i]
        const { writes, planned } = plan(i)
        if (replica === undefined || writes.length === 0) return Effect.succeed(false)
        return replica.write(writes).pipe(
          Effect.tapError((e) => failed(i, e)),
          Effect.flatMap(() => acknowledged(i, planned)),
          Effect.as(true)
        )
      })

    /**
     * Retries replica i's write on the `retry` schedule after a first attempt failed with
     * `first`: the schedule sees that failure as its first (its first delay, then an attempt).
     */
    const retryAfter = (i: number, first: ReplicaError): Effect.Effect<boolean> => {
      let pending: ReplicaError | undefined = first
      const again = Effect.suspend((): Effect.Effect<boolean, ReplicaError> => {
        if (pending === undefined) return attempt(i)
        const e = pending
        pending = undefined
        return Effect.fail(e)
      })
      // a finite custom schedule gave up: wait for the next wake
      return Effect.catch(Effect.retry(again, retry), () => Effect.succeed(false))
    }

    /**
     * Per replica: whether a write of it is under way (its writer draining, or a caller's write
     * started on the caller's fiber), whether its writer was woken meanwhile (it takes its turn
     * after that write), and the failure of a caller's write that its writer retries from.
     */
    const writing = replicas.map(() => false)
    const wokenWhileWriting = replicas.map(() => false)
    const handedOver: Array<ReplicaError | undefined> = replicas.map(() => undefined)
    const idle = (i: number): Effect.Effect<void> =>
      Effect.sync(() => {
        writing[i] = false
      })

    /** Writes what replica i lags on until it lags on nothing; the retry schedule only once an attempt failed. */
    const drain = (i: number): Effect.Effect<void> =>
      Effect.flatMap(
        Effect.catch(attempt(i), (e) => retryAfter(i, e)),
        (wrote) => (wrote ? drain(i) : idle(i))
      )
    /** The writer's turn: retrying a caller's failed write first (its failure is the schedule's first), then draining. */
    const writerTurn = (i: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (writing[i] === true) {
          // a caller's write is under way: this turn comes after it
          wokenWhileWriting[i] = true
          return Effect.void
        }
        writing[i] = true
        const first = handedOver[i]
        if (first === undefined) return drain(i)
        handedOver[i] = undefined
        return Effect.flatMap(retryAfter(i, first), (wrote) => (wrote ? drain(i) : idle(i)))
      })

    yield* Effect.forEach(
      wake,
      (q, i) => Queue.take(q).pipe(Effect.andThen(writerTurn(i)), Effect.forever, Effect.forkScoped),
      { discard: true }
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        for (const e of channels.values()) for (const w of e.waiters) yield* Deferred.succeed(w.status, "InProgress")
      })
    )
    // Catch up lagging replicas found at start.
    yield* wakeAll

    // ---- the service ----
    /** Records a write (after its validation): its entry and its waiter, or why it is refused. */
    const record = (write: ChannelWrite): readonly [Entry, Waiter] | PersistOutOfOrder | PersisterClosed => {
      if (closed) return new PersisterClosed()
      const key = heldChannelKey(write.channelId)
      const existing = channels.get(key)
      const invalid = checkOrder(key, existing?.latest ?? -1n, write.updates)
      if (invalid !== undefined) return invalid
      // Replicas write bytes: the state's JSON now (a `LazyJson` encoded here, once).
      const state = channelStateJson(write.channelState)
      const e: Entry = existing ?? {
        channelId: write.channelId,
        key,
        seq: 0,
        state,
        latest: -1n,
        version: 0n,
        retained: [],
        monitor: undefined,
        waiters: [],
        ackedSeq: replicas.map(() => 0),
        ackedUpdate: replicas.map(() => -1n)
      }
      if (existing === undefined) channels.set(key, e)
      for (const d of dirty) d.add(e)
      e.seq += 1
      e.version += 1n
      e.state = state
      for (const u of write.updates) e.retained.push(u)
      e.latest = write.updates.at(-1)?.updateId ?? e.latest
      const w: Waiter = { seq: e.seq, updateId: e.latest, status: Deferred.makeUnsafe<PersistStatus>() }
      e.waiters.push(w)
      return [e, w]
    }

    /**
     * The bounded waits in progress, oldest first (every deadline is the clock at the wait's
     * start plus `inlineWait`, so they come in order), and whether the one timer fiber that
     * answers the overdue ones `InProgress` runs. One timer for all: a timed wait per persist
     * (`timeoutOption`) cost two fibers and a timer each, at every persist on a store that
     * answers asynchronously (the files store: every one).
     */
    const timed: Array<{ readonly waiter: Waiter; readonly deadline: number }> = []
    let timerRunning = false
    const inlineWaitMillis = Duration.toMillis(inlineWait)
    /** Drops the answered waits at the front; undefined when none is left, else the first's deadline. */
    const nextDeadline = (): number | undefined => {
      for (let first = timed[0]; first !== undefined && Deferred.isDoneUnsafe(first.waiter.status); first = timed[0]) timed.shift()
      return timed[0]?.deadline
    }
    const timer: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const deadline = nextDeadline()
      if (deadline === undefined) {
        timerRunning = false
        return Effect.void
      }
      if (deadline > now) return Effect.andThen(Effect.sleep(deadline - now), timer)
      const overdue = timed.shift()
      return overdue === undefined ? timer : Effect.andThen(Deferred.succeed(overdue.waiter.status, "InProgress"), timer)
    })

    /** The bounded wait: the quorum's answer, or `InProgress` after `inlineWait`. */
    const awaitBounded = (w: Waiter): Effect.Effect<PersistStatus> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        nextDeadline()
        timed.push({ waiter: w, deadline: now + inlineWaitMillis })
        if (timerRunning) return Deferred.await(w.status)
        timerRunning = true
        return Effect.andThen(Effect.forkIn(timer, scope), Deferred.await(w.status))
      })

    /**
     * `InProgress` at once while failing replicas make the quorum unreachable; else wait (bounded).
     * The writers get one turn first: a replica that writes at once (in memory) has answered by
     * then, and no timer is armed (a timed wait costs two fibers and a timer).
     */
    const answer = (e: Entry, w: Waiter): Effect.Effect<PersistStatus> =>
      Effect.suspend(() => {
        if (!quorumReachable(e, w)) return Effect.andThen(Deferred.succeed(w.status, "InProgress"), Deferred.await(w.status))
        return Effect.andThen(Effect.yieldNow, Effect.suspend(() => (Deferred.isDoneUnsafe(w.status) ? Deferred.await(w.status) : awaitBounded(w))))
      })

    /**
     * One replica that writes without suspending (over a store in memory): an idle, healthy one is
     * written at once in the caller's turn, on a fiber started there (`startImmediately`), so the
     * answer is known when the persist looks (no hop to the writer fiber and back, no turn given
     * up; replayed channel-bench writes: ~85 -> ~60 us per persist). Should the write suspend
     * after all, the caller waits as for the writer (bounded) while that fiber finishes it. A
     * failed write is handed to the writer, which retries it on the `retry` schedule as if it
     * had made it; writes of a replica never overlap (`writing`).
     */
    const inlineReplica = n === 1 && replicas[0]?.synchronous === true
    /** A caller's write, run on a fiber started at once (so a store that suspends after all does not hold the caller past its bounded wait). */
    const callerWrite: Effect.Effect<void> = Effect.flatMap(Effect.result(attempt(0)), (r) => {
      writing[0] = false
      if (Result.isFailure(r)) handedOver[0] = r.failure
      else if (!wokenWhileWriting[0]) return Effect.void
      wokenWhileWriting[0] = false
      return wakeAll
    })
    const writeInline = (e: Entry, w: Waiter): Effect.Effect<PersistStatus> => {
      writing[0] = true
      return Effect.flatMap(Effect.forkIn(callerWrite, scope, { startImmediately: true }), () =>
        Deferred.isDoneUnsafe(w.status) ? Deferred.await(w.status) : answer(e, w)
      )
    }

    /** One channel's write (a channel's persist): answered on the caller's fiber (no generator; over a store in memory, written in the caller's turn). */
    const persistOne = (write: ChannelWrite): Effect.Effect<PersistStatus, PersistOutOfOrder | PersisterClosed> =>
      Effect.suspend(() => {
        const recorded = record(write)
        if (isRefusal(recorded)) return Effect.fail(recorded)
        const [e, w] = recorded
        if (inlineReplica && writing[0] === false && failing[0] === false) return writeInline(e, w)
        return Effect.andThen(wakeAll, answer(e, w))
      })

    const persistMany = (writes: ReadonlyArray<ChannelWrite>): Effect.Effect<Array<PersistStatus>, PersistOutOfOrder | PersisterClosed> =>
      Effect.suspend(() => {
        // all-or-nothing validation, then record every write before any replica write starts
        for (const w of writes) {
          const key = heldChannelKey(w.channelId)
          const invalid = checkOrder(key, channels.get(key)?.latest ?? -1n, w.updates)
          if (invalid !== undefined) return Effect.fail(invalid)
        }
        const only = writes.length === 1 ? writes[0] : undefined
        if (only !== undefined) return Effect.map(persistOne(only), (status) => [status])
        const waiters: Array<readonly [Entry, Waiter]> = []
        for (const w of writes) {
          const recorded = record(w)
          if (isRefusal(recorded)) return Effect.andThen(waiters.length > 0 ? wakeAll : Effect.void, Effect.fail(recorded))
          waiters.push(recorded)
        }
        return Effect.andThen(wakeAll, Effect.forEach(waiters, ([e, w]) => answer(e, w), { concurrency: "unbounded" }))
      })

    const retire = (channelId: ChannelId, how: "archive" | "remove") =>
      Effect.gen(function*() {
        if (closed) return yield* new PersisterClosed()
        const key = channelKey(channelId)
        const e = channels.get(key)
        if (e !== undefined) {
          const behind = replicas.some((r, i) => (r.keepsChannelState ? (e.ackedSeq[i] ?? 0) < e.seq : (e.ackedUpdate[i] ?? -1n) < e.latest))
          if (behind) return yield* new PersistUnavailable({ reason: "the channel has writes not yet on every replica" })
          channels.delete(key)
        }
        yield* Effect.forEach(replicas, (r) => (how === "archive" ? r.archive(channelId) : r.remove(channelId)), { discard: true }).pipe(
          Effect.mapError((err) => new PersistUnavailable({ reason: err.message }))
        )
      })

    return {
      persist: (channelId, updates, channelState) => persistOne({ channelId, updates, channelState }),
      persistMany,
      subscribe: PubSub.subscribe(completions),
      completions: Stream.fromPubSub(completions),
      // Handed over once (the contract: at start): the persister keeps no copy of every state.
      load: Effect.suspend(() => {
        const s = snapshot
        snapshot = undefined
        return s === undefined ? Effect.fail(new PersistUnavailable({ reason: "load was already called (it is given once, at start)" })) : Effect.succeed(s)
      }),
      archive: (channelId) => retire(channelId, "archive"),
      remove: (channelId) => retire(channelId, "remove")
    } satisfies MonitorPersisterShape
  })

const isRefusal = (r: object): r is PersistOutOfOrder | PersisterClosed => r instanceof PersistOutOfOrder || r instanceof PersisterClosed

/** The persister over the node's `Store` alone (the files store in production). */
export const layerLocal = (
  options: {
    readonly replica?: StoreReplicaOptions
    readonly retry?: Schedule.Schedule<unknown, ReplicaError>
    readonly inlineWait?: Duration.Input
    readonly maxRetained?: number
  } = {}
): Layer.Layer<MonitorPersister, PersistUnavailable, Store> =>
  Layer.effect(
    MonitorPersister,
    Effect.gen(function*() {
      const store = yield* Store
      return yield* makeReplicatedPersister({
        replicas: [makeStoreReplica(store, options.replica)],
        quorum: 1,
        ...(options.retry === undefined ? {} : { retry: options.retry }),
        ...(options.inlineWait === undefined ? {} : { inlineWait: options.inlineWait }),
        ...(options.maxRetained === undefined ? {} : { maxRetained: options.maxRetained })
      })
    })
  )

/** The persister over n replicas, complete when `quorum` acknowledged. */
export const layer = (options: ReplicatedPersisterOptions): Layer.Layer<MonitorPersister, PersistUnavailable> =>
  Layer.effect(MonitorPersister, makeReplicatedPersister(options))
