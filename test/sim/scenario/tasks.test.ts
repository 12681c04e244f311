/**
 * Fiber tasks per peer message in a simulation (issue 11): a delivered message is taken by its
 * node inside the network's event (`SessionInbox`, no scheduler task) and, while writes are free,
 * the idle channel it is for runs at once (`Actor.postNow`, no task for its fiber's start). A
 * count, not a time: the scheduler counts the tasks it runs. This scenario makes 0.94 tasks per
 * message; 2.94 with a `Queue` inbox and scheduled starts, 1.94 with the inbox alone (the same
 * fingerprint all three ways).
 */
import { describe, expect, it } from "vitest"
import { runScenario } from "../../../src/sim/index.ts"
import { insecureSecp256k1 as secp } from "../../../src/testing/index.ts"

describe("simulation: fiber tasks per message", () => {
  it("stays under 1.3 per peer message", async () => {
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
    expect(r.summary.tasks / messages).toBeLessThan(1.3)
  }, 60_000)
})
