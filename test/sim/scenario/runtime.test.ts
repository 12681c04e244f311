/**
 * The simulation runtime: events in (time, insertion) order, `Effect.sleep` served by the event
 * queue in simulated time (an interrupted sleep leaves no event), and fibers run only when the
 * scheduler is pumped. Plus the topology generators' shapes.
 */
import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { buildChannels, EventQueue, Rng, SimRuntime, type Scenario } from "../../../src/sim/index.ts"

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
