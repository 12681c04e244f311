/** Same seed twice gives identical trace bytes for a 50-node scenario (issue 11). */
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { lineSink, runScenario, type Scenario } from "../../../src/sim/index.ts"

const scenario: Scenario = {
  name: "fifty",
  nodes: { count: 50 },
  channels: [{ kind: "scaleFree", perNode: 1, capacitySat: { kind: "uniform", min: 500_000, max: 2_000_000 }, pushFraction: 0.5 }],
  workload: { payments: 10, durationSeconds: 5, amountMsat: { kind: "uniform", min: 1_000_000, max: 10_000_000 }, pairs: { kind: "uniform" } },
  network: { latencyMs: { kind: "uniform", min: 10, max: 100 } },
  checkEverySeconds: 0
}

const run = async () => {
  const hash = createHash("sha256")
  const sink = lineSink((line) => void hash.update(`${line}\n`))
  const r = await runScenario(scenario, { seed: 50, trace: sink })
  return { digest: r.digest, traceHash: hash.digest("hex"), records: sink.records(), violations: r.summary.invariantViolations }
}

describe("50 nodes", () => {
  it("the same seed twice gives identical trace bytes", async () => {
    const a = await run()
    const b = await run()
    expect(a.records).toBeGreaterThan(1000)
    expect(b.traceHash).toBe(a.traceHash)
    expect(b.records).toBe(a.records)
    expect(b.digest).toBe(a.digest)
    expect(a.violations).toEqual([])
  }, 180_000)
})
