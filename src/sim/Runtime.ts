/**
 * The simulation's runtime: a discrete-event loop over Effect fibers, deterministic and as fast
 * as the CPU allows.
 *
 * - `SimScheduler` is an Effect `Scheduler` whose tasks wait in one queue until `pump` runs them
 *   (lowest priority number first, FIFO within a priority), synchronously. Nothing goes through
 *   `setImmediate`, so when `pump` returns every fiber of every node is suspended: a quiescent
 *   point, reached without polling.
 * - `SimClock` is an Effect `Clock` whose time is the event loop's: `sleep` puts a timer in the
 *   event queue (removed if the sleeping fiber is interrupted), and time jumps from one event to
 *   the next. Simulated time never waits for wall time.
 * - `EventQueue` is a binary heap of events ordered by (time, insertion order): equal times keep
 *   the order they were scheduled in, so a run is a function of its inputs.
 *
 * The node code needs no change for this: it reads time through `Clock` and runs on whatever
 * `Scheduler` its fiber has, and every service of a simulated node is in memory.
 */
import { Clock, Context, Duration, Effect, type Fiber, References, Scheduler } from "effect"

// ---- events -------------------------------------------------------------------------------------------

export interface SimEvent {
  readonly time: number
  readonly seq: number
  /** The event's action (called as a method: a `SimTask`'s is on its prototype). */
  run(): void
  cancelled: boolean
}

/**
 * An event that is its own action (a subclass's `run`), for the kinds made by the thousand (a
 * delivered message): one object per event, where `at` makes the event, a closure and the
 * closure's context. `EventQueue.pushTask` sets `time` and `seq`.
 */
export abstract class SimTask implements SimEvent {
  time = 0
  seq = 0
  cancelled = false
  abstract run(): void
}

/** A min-heap of events by (time, seq). */
export class EventQueue {
  private readonly heap: Array<SimEvent> = []
  private seq = 0
  private live = 0

  get size(): number {
    return this.live
  }

  push(time: number, run: () => void): SimEvent {
    const e: SimEvent = { time, seq: this.seq++, run, cancelled: false }
    this.insert(e)
    return e
  }

  /** Queues `task` (not queued before) at `time`, in insertion order among equal times as `push`. */
  pushTask<T extends SimTask>(time: number, task: T): T {
    task.time = time
    task.seq = this.seq++
    this.insert(task)
    return task
  }

  /**
   * Sets aside the next `n` insertion numbers (returns the first) for events queued later with
   * `pushReserved`: among equal times they run as if queued now, one after the other.
   */
  reserve(n: number): number {
    const first = this.seq
    this.seq += n
    return first
  }

  /** Queues `run` at `time` with insertion number `seq`, one `reserve` set aside (each used once). */
  pushReserved(time: number, seq: number, run: () => void): SimEvent {
    const e: SimEvent = { time, seq, run, cancelled: false }
    this.insert(e)
    return e
  }

  private insert(e: SimEvent): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(e, h[p]!)) break
      h[i] = h[p]!
      i = p
    }
    h[i] = e
    this.live += 1
  }

  cancel(e: SimEvent): void {
    if (e.cancelled) return
    e.cancelled = true
    this.live -= 1
  }

  /** The next live event's time (undefined if none). */
  peekTime(): number | undefined {
    this.dropCancelled()
    return this.heap[0]?.time
  }

  pop(): SimEvent | undefined {
    this.dropCancelled()
    const e = this.popRaw()
    if (e !== undefined) this.live -= 1
    return e
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.popRaw()
  }

  private popRaw(): SimEvent | undefined {
    const h = this.heap
    const top = h[0]
    if (top === undefined) return undefined
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      const n = h.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && before(h[r]!, h[l]!) ? r : l
        if (!before(h[c]!, last)) break
        h[i] = h[c]!
        i = c
      }
      h[i] = last
    }
    return top
  }
}

const before = (a: SimEvent, b: SimEvent): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq)

// ---- the scheduler -----------------------------------------------------------------------------------

/** Tasks of one priority waiting for `pump`: the first `count` slots of `tasks` (kept between pumps: no array per batch). */
interface Bucket {
  tasks: Array<(() => void) | undefined>
  count: number
}

/** Runs fiber tasks only when `pump` is called. */
export class SimScheduler implements Scheduler.Scheduler {
  readonly executionMode = "async" as const
  /** Every priority seen so far (they are few: fibers use 0), kept with their bucket: no map entry made and dropped per batch. */
  private readonly buckets = new Map<number, Bucket>()
  /** The priorities of `buckets`, lowest first. */
  private priorities: Array<Bucket & { readonly priority: number }> = []
  /** Tasks waiting in all buckets. */
  private waiting = 0
  /** An emptied batch's array, reused by the next batch taken out of a bucket. */
  private spare: Array<(() => void) | undefined> | undefined
  /** Tasks run so far (a measure of work). */
  tasksRun = 0
  private readonly dispatcher: Scheduler.SchedulerDispatcher

  private readonly maxOps: number

  constructor(maxOps = 2048) {
    this.maxOps = maxOps
    const self = this
    this.dispatcher = {
      scheduleTask(task, priority) {
        self.schedule(task, priority)
      },
      flush() {
        self.pump()
      }
    }
  }

  shouldYield(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return fiber.currentOpCount >= this.maxOps
  }

  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return this.dispatcher
  }

  private schedule(task: () => void, priority: number): void {
    let bucket = this.buckets.get(priority)
    if (bucket === undefined) {
      const made = { priority, tasks: [], count: 0 }
      this.buckets.set(priority, made)
      this.priorities.push(made)
      this.priorities.sort((a, b) => a.priority - b.priority)
      bucket = made
    }
    bucket.tasks[bucket.count++] = task
    this.waiting += 1
  }

  /** Whether any task waits. */
  get busy(): boolean {
    return this.waiting > 0
  }

  /**
   * Runs tasks until none is left (every fiber suspended): the lowest priority's waiting tasks
   * as one batch, in the order they came; tasks scheduled meanwhile wait for a later batch.
   */
  pump(): void {
    while (this.waiting > 0) {
      let bucket: Bucket | undefined
      for (const b of this.priorities)
        if (b.count > 0) {
          bucket = b
          break
        }
      if (bucket === undefined) return
      // The batch leaves its bucket before it runs (a task may schedule more, or pump again).
      const batch = bucket.tasks
      const n = bucket.count
      bucket.tasks = this.spare ?? []
      bucket.count = 0
      this.spare = undefined
      this.waiting -= n
      for (let i = 0; i < n; i++) {
        const task = batch[i]!
        batch[i] = undefined
        this.tasksRun += 1
        task()
      }
      this.spare = batch
    }
  }
}

// ---- the clock -------------------------------------------------------------------------------------------

/** Simulated time: what the event loop says, starting at `epochMillis`. */
export class SimClock implements Clock.Clock {
  /** Milliseconds since the start of the run. */
  now = 0

  private readonly events: EventQueue
  readonly epochMillis: number

  constructor(events: EventQueue, epochMillis: number) {
    this.events = events
    this.epochMillis = epochMillis
  }

  currentTimeMillisUnsafe(): number {
    return this.epochMillis + Math.floor(this.now)
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => this.currentTimeMillisUnsafe())
  }
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.currentTimeMillisUnsafe()) * 1_000_000n
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.currentTimeNanosUnsafe())
  }
  monotonicTimeNanosUnsafe(): bigint {
    return BigInt(Math.floor(this.now * 1_000_000))
  }
  get monotonicTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.monotonicTimeNanosUnsafe())
  }
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const ms = Duration.toMillis(duration)
    if (!Number.isFinite(ms)) return Effect.never
    return Effect.callback<void>((resume) => {
      const e = this.events.push(this.now + Math.max(0, ms), () => resume(Effect.void))
      return Effect.sync(() => this.events.cancel(e))
    })
  }
}

// ---- the runtime --------------------------------------------------------------------------------------

/** The event queue, the clock and the scheduler of one run, and a way to start fibers on them. */
export class SimRuntime {
  readonly events = new EventQueue()
  readonly scheduler = new SimScheduler()
  readonly clock: SimClock
  /** `Effect.runForkWith` over this run's context, made once (not per fork). */
  private readonly runFork: ReturnType<typeof Effect.runForkWith<never>>
  /** Events handled so far. */
  handled = 0

  constructor(epochMillis = 1_767_225_600_000) {
    this.clock = new SimClock(this.events, epochMillis)
    this.runFork = Effect.runForkWith(
      Context.empty().pipe(
        Context.add(Scheduler.Scheduler, this.scheduler),
        Context.add(Clock.Clock, this.clock),
        Context.add(References.MinimumLogLevel, "None"),
        // No spans: a simulation exports none (its `Trace` records are another service), and
        // a disabled tracer makes `withSpan` a no-op span instead of a live one per call.
        Context.add(References.TracerEnabled, false)
      )
    )
  }

  /**
   * Starts an effect as a fiber on the simulated scheduler and clock: it runs at once, up to its
   * first suspension (`runForkWith` evaluates it before returning); what it schedules runs at the
   * next `pump`.
   */
  fork<A, E>(effect: Effect.Effect<A, E>): Fiber.Fiber<A, E> {
    // No `{ scheduler }` option: the context has it, and the option would add it again (a new
    // context and fiber cache per fork).
    return this.runFork(effect)
  }

  /** Schedules `run` at simulated time `atMillis` (not before now). */
  at(atMillis: number, run: () => void): SimEvent {
    return this.events.push(Math.max(this.clock.now, atMillis), run)
  }

  /** Sets aside `n` insertion numbers for `atReserved` (the first returned). */
  reserve(n: number): number {
    return this.events.reserve(n)
  }

  /** Schedules `run` at simulated time `atMillis` (not before now) with a reserved insertion number `seq`. */
  atReserved(atMillis: number, seq: number, run: () => void): SimEvent {
    return this.events.pushReserved(Math.max(this.clock.now, atMillis), seq, run)
  }

  /** Schedules `task` at simulated time `atMillis` (not before now), as `at` would its action. */
  atTask<T extends SimTask>(atMillis: number, task: T): T {
    return this.events.pushTask(Math.max(this.clock.now, atMillis), task)
  }

  /** Schedules an effect at a time (forked then, then pumped with the rest). */
  atEffect(atMillis: number, effect: Effect.Effect<unknown, unknown>): SimEvent {
    return this.at(atMillis, () => void this.fork(effect))
  }

  /**
   * Runs an effect to its end now, pumping fibers and (if it waits on simulated time) events:
   * for setup steps outside the event loop. Fails if the effect cannot finish.
   */
  runNow<A, E>(effect: Effect.Effect<A, E>): A {
    const fiber = this.fork(effect)
    this.scheduler.pump()
    while (fiber.pollUnsafe() === undefined) {
      if (!this.step()) throw new Error("runNow: the effect cannot finish (no event left)")
    }
    const exit = fiber.pollUnsafe()!
    if (exit._tag === "Failure") throw new Error(`runNow: ${String(exit.cause)}`)
    return exit.value
  }

  /** Handles the next event and pumps; false if no event is left. */
  step(): boolean {
    const e = this.events.pop()
    if (e === undefined) return false
    if (e.time > this.clock.now) this.clock.now = e.time
    this.handled += 1
    e.run()
    this.scheduler.pump()
    return true
  }
}
