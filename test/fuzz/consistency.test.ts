/**
 * The consistency fuzzer (fuzz/targets/consistency.ts) under CI: three of our nodes A-B-C, each
 * case a program of payments (direct and through B), deliveries across links, drops,
 * disconnects, held and reordered persistence completions, restarts, crash points, fee updates
 * and blocks; every invariant is checked after every step and once everything settled.
 *
 * Cases are seeds `CONSISTENCY_FIRST`, +1, ... (default 1, `CONSISTENCY_CASES` of them, default
 * 240), each at most `CONSISTENCY_STEPS` steps (default 24). A failure names its case seed:
 * `npm run fuzz -- consistency --seed N` reruns it (with the default 48 steps:
 * `CONSISTENCY_STEPS=24 npm run fuzz -- consistency --seed N` for the CI length).
 * Longer: `npm run fuzz -- consistency SECONDS`.
 */
import { describe, expect, it } from "vitest"
import { type AsyncFuzzTarget, inputForSeed, loadAnyTarget } from "../../fuzz/engine.ts"
import { runConsistency } from "../../fuzz/targets/consistency.ts"

const CASES = Number(process.env["CONSISTENCY_CASES"] ?? 240)
const FIRST = Number(process.env["CONSISTENCY_FIRST"] ?? 1)
const STEPS = Number(process.env["CONSISTENCY_STEPS"] ?? 24)

describe("consistency fuzzer (A-B-C under faults)", () => {
  it(`${CASES} cases of up to ${STEPS} steps keep every invariant, and every channel settles`, async () => {
    const t = await loadAnyTarget("consistency")
    if (t.kind !== "async") throw new Error("consistency is an async target")
    const target: AsyncFuzzTarget = t
    const totals = { steps: 0, succeeded: 0, failed: 0, restarts: 0, messages: 0, deadlines: 0 }
    for (let seed = FIRST; seed < FIRST + CASES; seed++) {
      const input = inputForSeed(target, seed)
      try {
        const r = await runConsistency(input, { maxSteps: STEPS })
        totals.steps += r.steps
        totals.succeeded += r.succeeded
        totals.failed += r.failed
        totals.restarts += r.restarts
        totals.messages += r.messages
        totals.deadlines += r.deadlines
      } catch (error) {
        throw new Error(
          `consistency case seed ${seed} failed; reproduce: CONSISTENCY_STEPS=${STEPS} npm run fuzz -- consistency --seed ${seed}\n${String(error)}`
        )
      }
    }
    if (process.env["CONSISTENCY_DEBUG"] !== undefined) console.log(JSON.stringify(totals))
    // The programs did something: payments went through and failed, nodes restarted.
    expect(totals.succeeded).toBeGreaterThan(CASES / 4)
    expect(totals.failed).toBeGreaterThan(0)
    expect(totals.restarts).toBeGreaterThan(CASES / 10)
  }, 600_000)

  it("the same case seed runs the same way (same steps, same network log)", async () => {
    const t = await loadAnyTarget("consistency")
    if (t.kind !== "async") throw new Error("consistency is an async target")
    for (const seed of [3, 11]) {
      const once = await runConsistency(inputForSeed(t, seed), { maxSteps: STEPS })
      const twice = await runConsistency(inputForSeed(t, seed), { maxSteps: STEPS })
      expect(twice).toEqual(once)
      expect(once.messages).toBeGreaterThan(12)
    }
  }, 120_000)
})
