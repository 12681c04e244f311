/**
 * The simulation runtime: events in (time, insertion) order, `Effect.sleep` served by the event
 * queue in simulated time (an interrupted sleep leaves no event), and fibers run only when the
 * scheduler is pumped. Plus the topology generators' shapes.
 */
import { Effect, Fiber } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { buildChannels, EventQueue, Rng, SimRuntime, type Scenario } from "../../../src/sim/index.ts"
import { SimTask } from "../../../src/sim/Runtime.ts"

/** A task event (`EventQueue.pushTask`) whose action is a callback, for comparing with `push`. */
class CallbackTask extends SimTask {
  private readonly action: () => void
  constructor(action: () => void) {
    super()
    this.action = action
  }
  run(): void {
    this.action()
  }
}

describe("sim runtime", () => {
  it("orders events by time, then by insertion", () => {
    const q = new EventQueue()
    const seen: Array<string> = []
    q.push(5, () => seen.push("b"))
    q.push(1, () => seen.push("a"))
    const c = q.push(5, () => seen.push("c"))
    q.push(5, () => seen.push("d"))
    q.cancel(c)
    expect(q.size).toBe(3)
    for (let e = q.pop(); e !== undefined; e = q.pop()) e.run()
    expect(seen).toEqual(["a", "b", "d"])
  })

  it("an event queued later with a reserved insertion number runs as if queued when the number was reserved", () => {
    const q = new EventQueue()
    const seen: Array<string> = []
    q.push(5, () => seen.push("before"))
    const first = q.reserve(3)
    q.push(5, () => seen.push("after"))
    // Queued last, in reverse: among equal times they still come in reserved order, before "after".
    q.pushReserved(5, first + 2, () => seen.push("r2"))
    q.pushReserved(7, first + 1, () => seen.push("r1 later"))
    q.pushReserved(5, first, () => seen.push("r0"))
    for (let e = q.pop(); e !== undefined; e = q.pop()) e.run()
    expect(seen).toEqual(["before", "r0", "r2", "after", "r1 later"])
  })

  it("pops events in (time, insertion) order through any mix of pushes (callbacks and tasks), cancels and pops (past its first growth)", () => {
    // The plain definition: the live events, sorted by time, then by insertion.
    type Op = { readonly kind: "push"; readonly time: number; readonly task: boolean } | { readonly kind: "cancel"; readonly pick: number } | { readonly kind: "pop" }
    const op: fc.Arbitrary<Op> = fc.oneof(
      // Few distinct times (ties: insertion decides) or any time.
      { arbitrary: fc.record({ kind: fc.constant("push" as const), time: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 1e6, noNaN: true })), task: fc.boolean() }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }), weight: 1 },
      { arbitrary: fc.constant({ kind: "pop" as const }), weight: 2 }
    )
    /** The most live events at once over the runs: the key arrays start at 1,024 and must have grown. */
    let mostQueued = 0
    fc.assert(
      fc.property(fc.array(op, { minLength: 3_000, maxLength: 5_000 }), (ops) => {
        const q = new EventQueue()
        const pushed: Array<{ readonly time: number; readonly seq: number; readonly event: ReturnType<EventQueue["push"]> }> = []
        const live = new Set<number>()
        const popped: Array<number> = []
        const done = new Set<number>()
        const expected: Array<number> = []
        // The reference pop: the smallest (time, seq) among live events.
        const referencePop = (): number | undefined => {
          let best: { readonly time: number; readonly seq: number } | undefined
          for (const seq of live) {
            const e = pushed[seq]!
            if (best === undefined || e.time < best.time || (e.time === best.time && e.seq < best.seq)) best = e
          }
          return best?.seq
        }
        for (const o of ops) {
          if (o.kind === "push") {
            const seq = pushed.length
            const action = () => void popped.push(seq)
            pushed.push({ time: o.time, seq, event: o.task ? q.pushTask(o.time, new CallbackTask(action)) : q.push(o.time, action) })
            live.add(seq)
          } else if (o.kind === "cancel") {
            // An event still queued (a popped one is no timer any more), cancelled ones again included.
            const queued = pushed.filter((e) => !done.has(e.seq))
            if (queued.length === 0) continue
            const seq = queued[o.pick % queued.length]!.seq
            q.cancel(pushed[seq]!.event)
            live.delete(seq)
          } else {
            const want = referencePop()
            const got = q.pop()
            expect(got?.seq).toBe(want)
            if (got !== undefined) {
              got.run()
              done.add(got.seq)
              expected.push(got.seq)
              live.delete(got.seq)
            }
          }
          expect(q.size).toBe(live.size)
          mostQueued = Math.max(mostQueued, live.size)
        }
        expect(popped).toEqual(expected)
      }),
      { numRuns: 12, seed: 11, endOnFailure: true }
    )
    expect(mostQueued).toBeGreaterThan(1024)
  })

  it("serves sleeps from the event queue in simulated time; fibers run only when pumped", () => {
    const rt = new SimRuntime(0)
    const log: Array<string> = []
    const fiber = rt.fork(Effect.gen(function*() {
      log.push("start")
      yield* Effect.sleep("10 seconds")
      log.push(`woke at ${rt.clock.now}`)
      return 42
    }))
    expect(log).toEqual(["start"])
    rt.scheduler.pump()
    expect(rt.events.size).toBe(1)
    expect(rt.events.peekTime()).toBe(10_000)
    expect(rt.step()).toBe(true)
    expect(log).toEqual(["start", "woke at 10000"])
    expect(fiber.pollUnsafe()?._tag).toBe("Success")
    // An interrupted sleep removes its timer.
    const sleeper = rt.fork(Effect.sleep("1 hour"))
    rt.scheduler.pump()
    expect(rt.events.size).toBe(1)
    rt.fork(Fiber.interrupt(sleeper))
    rt.scheduler.pump()
    expect(rt.events.size).toBe(0)
    expect(rt.runNow(Effect.as(Effect.sleep("5 seconds"), "done"))).toBe("done")
    expect(rt.clock.now).toBe(15_000)
  })

  it("generates the topologies the specs name", () => {
    const scenario = (channels: Scenario["channels"]): Scenario => ({
      name: "t",
      nodes: { count: 30 },
      channels,
      workload: { payments: 0, amountMsat: { kind: "constant", value: 1 }, pairs: { kind: "uniform" } }
    })
    const cap = { kind: "constant", value: 1_000_000 } as const
    const ring = buildChannels(new Rng("s"), scenario([{ kind: "ring", capacitySat: cap, pushFraction: 0.25 }]), 30)
    expect(ring.length).toBe(30)
    expect(ring[0]!.pushMsat).toBe(250_000_000n)
    const hubs = buildChannels(new Rng("s"), scenario([{ kind: "hubs", hubs: 3, perSpoke: 2, capacitySat: cap }]), 30)
    expect(hubs.length).toBe(3 + 27 * 2)
    expect(hubs.every((c) => c.a < 3 || c.b < 3)).toBe(true)
    const sf = buildChannels(new Rng("s"), scenario([{ kind: "scaleFree", perNode: 3, capacitySat: cap }]), 30)
    expect(sf.length).toBe(6 + 26 * 3)
    const keys = new Set(sf.map((c) => `${Math.min(c.a, c.b)}-${Math.max(c.a, c.b)}`))
    expect(keys.size).toBe(sf.length)
  })
})
