/**
 * The payment loop's inbox (src/actors/Payments.ts `Inbox`) against Effect's unbounded `Queue`
 * taken the way the loop took it before (`takeBetween(queue, 1, max)`, handle, `yieldNow`): for
 * random scripts of producers (inputs offered at once or as effects, in runs, between yields, from
 * two fibers, and from the handler itself), the consumer sees the same batches and everything
 * happens in the same order (one log of offers, batches and the scheduler's tasks as they run).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Effect, Fiber, Queue, Scheduler } from "effect"
import { Inbox } from "../../src/actors/Payments.ts"

/** A producer's step: offer `n` inputs (at once, or each as an effect), or yield `n` times. */
type Step = { readonly _tag: "Offer"; readonly n: number; readonly unsafe: boolean } | { readonly _tag: "Yield"; readonly n: number }
interface Script {
  readonly producers: ReadonlyArray<ReadonlyArray<Step>>
  /** For the k-th batch handled: how many inputs the handler offers itself (0 mostly). */
  readonly handlerOffers: ReadonlyArray<number>
  readonly max: number
}

/** What the consumer and the producers do, with either inbox (`offer`, `offering`, and the loop's take). */
interface Port {
  readonly offerNow: (x: string) => void
  readonly offer: (x: string) => Effect.Effect<void>
  readonly take: Effect.Effect<ReadonlyArray<string>>
}

/** Effect's scheduler, each task it runs logged: a wake scheduled more often, or at another time, shows. */
const loggingScheduler = (log: Array<string>): Scheduler.Scheduler => {
  const inner = new Scheduler.MixedScheduler()
  const dispatcher = inner.makeDispatcher()
  const logged: Scheduler.SchedulerDispatcher = {
    scheduleTask: (task, priority) =>
      dispatcher.scheduleTask(() => {
        log.push("task")
        task()
      }, priority),
    flush: () => dispatcher.flush()
  }
  return { executionMode: inner.executionMode, shouldYield: (fiber) => inner.shouldYield(fiber), makeDispatcher: () => logged }
}

const run = (script: Script, port: Effect.Effect<Port>) => {
  const log: Array<string> = []
  return Effect.gen(function*() {
    const p = yield* port
    // Every input offered is taken: the producers' and those the handler offers (counted as offered).
    let total = script.producers.reduce((s, steps) => s + steps.reduce((t, st) => t + (st._tag === "Offer" ? st.n : 0), 0), 0)
    let taken = 0
    const consumer = yield* Effect.forkChild(Effect.gen(function*() {
      let k = 0
      while (taken < total) {
        const batch = yield* p.take
        taken += batch.length
        log.push(`batch ${batch.join(",")}`)
        const more = script.handlerOffers[k] ?? 0
        k += 1
        total += more
        for (let i = 0; i < more; i++) p.offerNow(`h${k}.${i}`)
        yield* Effect.yieldNow
      }
    }))
    const producers = yield* Effect.forEach(script.producers, (steps, who) =>
      Effect.forkChild(Effect.gen(function*() {
        let i = 0
        for (const step of steps) {
          if (step._tag === "Yield") {
            for (let k = 0; k < step.n; k++) yield* Effect.yieldNow
            log.push(`p${who} yielded ${step.n}`)
            continue
          }
          for (let k = 0; k < step.n; k++) {
            const x = `p${who}.${i++}`
            log.push(`offer ${x}`)
            if (step.unsafe) p.offerNow(x)
            else yield* p.offer(x)
          }
        }
      })))
    yield* Effect.forEach(producers, Fiber.join)
    yield* Fiber.join(consumer)
    return log
  }).pipe(Effect.provideService(Scheduler.Scheduler, loggingScheduler(log)))
}

const viaQueue = (max: number): Effect.Effect<Port> =>
  Effect.map(Queue.unbounded<string>(), (q) => ({
    offerNow: (x) => void Queue.offerUnsafe(q, x),
    offer: (x) => Effect.asVoid(Queue.offer(q, x)),
    take: Queue.takeBetween(q, 1, max)
  }))

const viaInbox = (max: number): Effect.Effect<Port> =>
  Effect.withFiber((fiber) => {
    const inbox = new Inbox<string>(fiber.currentDispatcher)
    const take: Effect.Effect<ReadonlyArray<string>> = Effect.gen(function*() {
      let batch = inbox.takeNow(max)
      while (batch === undefined) {
        yield* inbox.arrival
        batch = inbox.takeNow(max)
      }
      return batch
    })
    return Effect.succeed({ offerNow: (x: string) => inbox.offer(x), offer: (x: string) => inbox.offering(x), take })
  })

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ _tag: fc.constant("Offer" as const), n: fc.integer({ min: 0, max: 5 }), unsafe: fc.boolean() }),
  fc.record({ _tag: fc.constant("Yield" as const), n: fc.integer({ min: 0, max: 3 }) })
)
const script: fc.Arbitrary<Script> = fc.record({
  producers: fc.array(fc.array(step, { maxLength: 8 }), { minLength: 1, maxLength: 2 }),
  handlerOffers: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }), { maxLength: 10 }),
  max: fc.integer({ min: 1, max: 6 })
})

describe("Payments' inbox", () => {
  it("the same batches, in the same interleaving with the producers, as Effect's queue taken with takeBetween", async () => {
    let batched = 0
    await fc.assert(fc.asyncProperty(script, async (s) => {
      const expected = await Effect.runPromise(run(s, viaQueue(s.max)))
      const actual = await Effect.runPromise(run(s, viaInbox(s.max)))
      expect(actual).toEqual(expected)
      // Batches of more than one input and waits both occur over the runs.
      if (expected.some((l) => l.startsWith("batch ") && l.includes(","))) batched += 1
    }), { numRuns: 300, seed: 19 })
    expect(batched).toBeGreaterThan(10)
  })
})
