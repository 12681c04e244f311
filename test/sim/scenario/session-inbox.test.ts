/**
 * `SessionInbox` (the simulated node's session events) replaces an Effect `Queue`: a delivery
 * resumes the waiting taker at once instead of through a scheduler task. Properties, against the
 * plain form (`Stream.fromQueue` over an unbounded `Queue`) run on the same simulated runtime:
 * for random programs of offers, pumps, and a consumer that sometimes suspends while handling,
 * the consumer sees every event once, in the order offered, and by the end of each pump it has
 * seen the same events either way; a delivery to a waiting consumer is seen before `offer`
 * returns, with no fiber task.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Effect, Fiber, Queue, Stream } from "effect"
import { SimRuntime } from "../../../src/sim/index.ts"
import { SessionInbox } from "../../../src/sim/SessionInbox.ts"

type Op = { readonly _tag: "offer"; readonly slow: boolean } | { readonly _tag: "pump" }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("offer" as const), slow: fc.boolean() }),
  fc.record({ _tag: fc.constant("pump" as const) })
)

/** Runs `ops` against a consumer of `events`; returns what it had seen at each pump and at the end. */
const run = (
  ops: ReadonlyArray<Op>,
  make: (rt: SimRuntime) => { readonly offer: (n: number) => void; readonly events: Stream.Stream<number> }
) => {
  const rt = new SimRuntime()
  const inbox = make(rt)
  const seen: Array<number> = []
  const slow = new Set<number>()
  const consumer = rt.fork(
    Stream.runForEachArray(inbox.events, (batch) =>
      Effect.gen(function*() {
        for (const n of batch) {
          seen.push(n)
          // Some events suspend their handling: what arrives meanwhile waits for the next pull.
          if (slow.has(n)) yield* Effect.yieldNow
        }
      }))
  )
  rt.scheduler.pump()
  const atPumps: Array<ReadonlyArray<number>> = []
  let next = 0
  for (const o of ops) {
    if (o._tag === "pump") {
      rt.scheduler.pump()
      atPumps.push([...seen])
      continue
    }
    const n = next++
    if (o.slow) slow.add(n)
    inbox.offer(n)
  }
  rt.scheduler.pump()
  atPumps.push([...seen])
  rt.runNow(Fiber.interrupt(consumer))
  return { atPumps, offered: next }
}

describe("SessionInbox", () => {
  it("gives the consumer every event once, in order, and the same events by each pump as a Queue", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const fast = run(ops, () => {
          const inbox = new SessionInbox<number>()
          return { offer: (n) => inbox.offer(n), events: inbox.stream }
        })
        const plain = run(ops, (rt) => {
          const queue = rt.runNow(Queue.unbounded<number>())
          return { offer: (n) => void Queue.offerUnsafe(queue, n), events: Stream.fromQueue(queue) }
        })
        expect(fast.atPumps).toEqual(plain.atPumps)
        expect(fast.atPumps.at(-1)).toEqual(Array.from({ length: fast.offered }, (_, i) => i))
      }),
      { numRuns: 300 }
    )
  })

  it("a delivery to a waiting consumer is taken before offer returns, with no fiber task", () => {
    const rt = new SimRuntime()
    const inbox = new SessionInbox<number>()
    const seen: Array<number> = []
    rt.fork(Stream.runForEachArray(inbox.stream, (batch) => Effect.sync(() => void seen.push(...batch))))
    rt.scheduler.pump()
    const tasks = rt.scheduler.tasksRun
    for (let i = 0; i < 100; i++) {
      inbox.offer(i)
      expect(seen.length).toBe(i + 1)
      rt.scheduler.pump()
    }
    expect(rt.scheduler.tasksRun - tasks).toBe(0)
    expect(inbox.size).toBe(0)
  })
})
