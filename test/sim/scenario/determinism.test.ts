/**
 * One seed decides every byte: the same scenario and seed give the same summary, the same
 * fingerprint (every delivered message and persisted write) and the same trace; another seed
 * gives another run. The example scenarios decode through the Schema.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeScenario, decodeScenarioJson, runScenario, type Scenario } from "../../../src/sim/index.ts"

const scenario: Scenario = {
  name: "determinism",
  nodes: { count: 5 },
  channels: [
    { kind: "ring", capacitySat: { kind: "uniform", min: 500_000, max: 1_500_000 }, pushFraction: 0.3 },
    { kind: "channel", a: 0, b: 2, capacitySat: 2_000_000, pushMsat: 100_000_000 }
  ],
  workload: { payments: 15, ratePerSecond: 2, amountMsat: { kind: "lognormal", median: 5_000_000, sigma: 1 }, pairs: { kind: "uniform" } },
  network: { latencyMs: { kind: "exponential", mean: 40 }, loss: 0.005 },
  faults: [{ kind: "crash", node: 3, atSeconds: 3, restartAfterSeconds: 1 }]
}

describe("determinism", () => {
  it("the same seed twice gives identical summaries, fingerprints and trace bytes; another seed differs", async () => {
    const a = await runScenario(scenario, { seed: 42, trace: true })
    const b = await runScenario(scenario, { seed: 42, trace: true })
    expect(b.summary).toEqual(a.summary)
    expect(b.digest).toBe(a.digest)
    expect(a.trace?.length ?? 0).toBeGreaterThan(100)
    expect(b.trace?.join("\n")).toBe(a.trace?.join("\n"))
    expect(a.summary.invariantViolations).toEqual([])
    const c = await runScenario(scenario, { seed: 43 })
    expect(c.digest).not.toBe(a.digest)
  }, 120_000)

  it("every example scenario decodes through the Schema, and a malformed one is refused", () => {
    const dir = join(import.meta.dirname, "../../../examples/scenarios")
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"))
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const f of files) expect(Result.isSuccess(decodeScenarioJson(readFileSync(join(dir, f), "utf8")))).toBe(true)
    expect(Result.isFailure(decodeScenario({ ...scenario, nodes: { count: 1 } }))).toBe(true)
    expect(Result.isFailure(decodeScenario({ ...scenario, network: { loss: 2 } }))).toBe(true)
  })
})
