/**
 * Fiber tasks per peer message in a simulation (issue 11): the network hands a delivered message
 * to its node's channel manager (`declareSessionEventSink`: no fiber woken for it) and, while
 * writes are free, the idle channel it is for runs at once (`Actor.postSync`, no task for its
 * fiber's start). A count, not a time: the scheduler counts the tasks it runs. This scenario makes
 * 0.84 tasks per message; 1.83 through the `sessionEvents` stream (the same fingerprint both ways:
 * session-sink.test.ts).
 */
import { describe, expect, it } from "vitest"
import { runScenario } from "../../../src/sim/index.ts"
import { insecureSecp256k1 as secp } from "../../../src/testing/index.ts"

describe("simulation: fiber tasks per message", () => {
  it("stays under 1.2 per peer message", async () => {
    const r = await runScenario(
      {
        name: "tasks-ring",
        nodes: { count: 8 },
        channels: [{ kind: "ring", capacitySat: { kind: "constant", value: 1_000_000 }, pushFraction: 0.5 }],
        workload: { payments: 40, durationSeconds: 10, amountMsat: { kind: "uniform", min: 1_000_000, max: 20_000_000 }, pairs: { kind: "uniform" } }
      },
      { seed: 5, secp }
    )
    expect(r.summary.invariantViolations).toEqual([])
    expect(r.summary.payments.succeeded).toBeGreaterThan(20)
    const messages = r.summary.faults.messages
    expect(messages).toBeGreaterThan(200)
    expect(r.summary.tasks / messages).toBeLessThan(1.2)
  }, 60_000)
})
