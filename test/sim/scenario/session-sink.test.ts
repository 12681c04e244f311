/**
 * The simulated network hands each node's session events to its channel manager's sink as it
 * delivers them (`declareSessionEventSink`: no fiber woken per message). The run must be the one
 * the `sessionEvents` stream gives (same fingerprint: every delivered message and persisted write,
 * in order; same summary), with fewer fiber tasks: a fault-free ring and a run with message loss,
 * a crash and a restart (events queued before a manager attaches, a sink detached at the crash).
 */
import { describe, expect, it } from "vitest"
import { runScenario, type Scenario } from "../../../src/sim/index.ts"
import { insecureSecp256k1 as secp } from "../../../src/testing/index.ts"

const ring: Scenario = {
  name: "sink-ring",
  nodes: { count: 8 },
  channels: [{ kind: "ring", capacitySat: { kind: "constant", value: 1_000_000 }, pushFraction: 0.5 }],
  workload: { payments: 40, durationSeconds: 10, amountMsat: { kind: "uniform", min: 1_000_000, max: 20_000_000 }, pairs: { kind: "uniform" } }
}
const faulty: Scenario = {
  name: "sink-faults",
  nodes: { count: 6 },
  channels: [
    { kind: "ring", capacitySat: { kind: "uniform", min: 500_000, max: 1_500_000 }, pushFraction: 0.3 },
    { kind: "channel", a: 0, b: 3, capacitySat: 2_000_000, pushMsat: 100_000_000 }
  ],
  workload: { payments: 30, ratePerSecond: 3, amountMsat: { kind: "lognormal", median: 5_000_000, sigma: 1 }, pairs: { kind: "uniform" } },
  network: { latencyMs: { kind: "exponential", mean: 40 }, loss: 0.01 },
  faults: [{ kind: "crash", node: 2, atSeconds: 4, restartAfterSeconds: 1 }]
}

describe("simulation: session events handed to the channel manager's sink", () => {
  for (const scenario of [ring, faulty]) {
    it(`${scenario.name}: the same run as through the stream, with fewer fiber tasks`, async () => {
      const bySink = await runScenario(scenario, { seed: 11, secp })
      const byStream = await runScenario(scenario, { seed: 11, secp, sessionEvents: "stream" })
      expect(bySink.digest).toBe(byStream.digest)
      const { tasks: sinkTasks, ...sinkSummary } = bySink.summary
      const { tasks: streamTasks, ...streamSummary } = byStream.summary
      expect(sinkSummary).toEqual(streamSummary)
      expect(bySink.summary.invariantViolations).toEqual([])
      expect(bySink.summary.payments.succeeded).toBeGreaterThan(10)
      expect(sinkTasks).toBeLessThan(streamTasks)
    }, 120_000)
  }
})
