/**
 * Quiescence: knowing when every fiber of the process is waiting, so that the inputs of a traced
 * node can be delivered one at a time, each at a point where the node has finished reacting to
 * the previous one.
 *
 * Why: a node is many fibers (a reader per peer, channel actors, the manager...). Given the same
 * inputs in the same order it computes the same outputs only if the inputs also arrive at the
 * same points of its computation. Real inputs (bytes from a socket, a timer) arrive whenever they
 * like. The recorder therefore holds each real input at a `Gate` until the process is quiescent
 * (no Effect task is queued: every fiber waits for something), delivers it and writes it into the
 * trace; replay delivers the recorded inputs in the recorded order, each at quiescence too. Between
 * two inputs the node runs alone and deterministically, so both runs see the same interleaving.
 *
 * `makeCountingScheduler` is an Effect `Scheduler` (provide it as `Scheduler.Scheduler` around the
 * whole program) that counts queued tasks and never yields on its own (the default yields after a
 * number of operations, which would make the interleaving depend on how many operations the
 * record and replay layers themselves take). `whenIdle` waits, on the host's `setImmediate`
 * queue, until no task is queued: microtasks have drained by then, so only timers and real I/O
 * (which the gates hold) can still wake a fiber.
 */
import { Effect, type Exit, type Scheduler, Semaphore } from "effect"

export interface CountingScheduler extends Scheduler.Scheduler {
  /** Tasks queued and not run yet, over every fiber using this scheduler. */
  readonly pending: () => number
  /** Waits until no task is queued (checked from the host's macrotask queue). */
  readonly whenIdle: Effect.Effect<void>
}

type Cancel = () => void

const onNextMacrotask = (f: () => void): Cancel => {
  const set: unknown = Reflect.get(globalThis, "setImmediate")
  const clear: unknown = Reflect.get(globalThis, "clearImmediate")
  if (typeof set === "function" && typeof clear === "function") {
    const h: unknown = set(f)
    return () => void clear(h)
  }
  const h = setTimeout(f, 0)
  return () => clearTimeout(h)
}

export const makeCountingScheduler = (): CountingScheduler => {
  // One queue for every fiber (the default gives each fiber its own dispatcher, and which batch a
  // task joins then depends on unrelated work that shared the dispatcher: other nodes, the test).
  // Tasks run by priority, in the order they were scheduled within a priority, a snapshot per
  // macrotask (as the default does).
  let buckets: Array<[number, Array<() => void>]> = []
  let pending = 0
  let scheduled = false
  const flush = () => {
    scheduled = false
    const run = buckets
    buckets = []
    for (const [, tasks] of run) {
      for (const task of tasks) {
        pending -= 1
        task()
      }
    }
  }
  const schedule = (task: () => void, priority: number) => {
    pending += 1
    let i = 0
    while (i < buckets.length && (buckets[i]?.[0] ?? 0) < priority) i++
    const bucket = buckets[i]
    if (bucket !== undefined && bucket[0] === priority) bucket[1].push(task)
    else buckets.splice(i, 0, [priority, [task]])
    if (!scheduled) {
      scheduled = true
      onNextMacrotask(flush)
    }
  }
  const runNow = () => {
    while (buckets.length > 0) flush()
  }
  const whenIdle = Effect.callback<void>((resume) => {
    let cancel: Cancel = () => {}
    const check = () => {
      if (pending === 0) resume(Effect.void)
      else cancel = onNextMacrotask(check)
    }
    cancel = onNextMacrotask(check)
    return Effect.sync(() => cancel())
  })
  return {
    executionMode: "async",
    shouldYield: () => false,
    makeDispatcher: () => ({ scheduleTask: schedule, flush: runNow }),
    pending: () => pending,
    whenIdle
  }
}

/**
 * Where a recorder holds real inputs: `deliver(produce, record)` waits for the input (`produce`,
 * e.g. a socket read), then, one input at a time, for quiescence, and then records it and hands
 * it to the node.
 */
export interface Gate {
  readonly deliver: <A, E, R>(produce: Effect.Effect<A, E, R>, record: (exit: Exit.Exit<A, E>) => void) => Effect.Effect<A, E, R>
}

/** No holding: inputs are recorded as they come (for runs that are deterministic anyway, e.g. on a TestClock in memory). */
export const passThroughGate: Gate = {
  deliver: (produce, record) => Effect.onExit(produce, (exit) => Effect.sync(() => record(exit)))

}

/** The recorder's gate over a counting scheduler. */
export const makeGate = (scheduler: CountingScheduler): Gate => {
  const lock = Semaphore.makeUnsafe(1)
  return {
    deliver: <A, E, R>(produce: Effect.Effect<A, E, R>, record: (exit: Exit.Exit<A, E>) => void) =>
      Effect.flatMap(Effect.exit(produce), (exit) =>
        lock.withPermits(1)(
          Effect.andThen(
            scheduler.whenIdle,
            Effect.suspend(() => {
              record(exit)
              return exit
            })
          )
        ))
  }
}
