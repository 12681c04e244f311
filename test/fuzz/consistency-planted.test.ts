/**
 * The consistency fuzzer finds planted bugs within its CI budget (the cases and steps
 * test/fuzz/consistency.test.ts runs), and a failure reproduces from its case seed. The bugs are
 * planted around the nodes' stores at restart (fuzz/targets/consistency.ts `Plant`), never in
 * src/: a channel whose stored state forgets one HTLC at restart, a channel store that loses its
 * last write, and a payments store that forgets the forwards it recorded (B forgets which
 * incoming HTLC pays for an outgoing one).
 */
import { describe, expect, it } from "vitest"
import { type AsyncFuzzTarget, inputForSeed, loadAnyTarget } from "../../fuzz/engine.ts"
import { ConsistencyFailure, type Plant, runConsistency } from "../../fuzz/targets/consistency.ts"

const CASES = Number(process.env["CONSISTENCY_CASES"] ?? 240)
const FIRST = Number(process.env["CONSISTENCY_FIRST"] ?? 1)
const STEPS = Number(process.env["CONSISTENCY_STEPS"] ?? 24)

const target = async (): Promise<AsyncFuzzTarget> => {
  const t = await loadAnyTarget("consistency")
  if (t.kind !== "async") throw new Error("consistency is an async target")
  return t
}

/** The first case (in the CI budget) that fails with the plant: its seed and error. */
const firstFailure = async (plant: Plant): Promise<{ readonly seed: number; readonly error: unknown } | undefined> => {
  const t = await target()
  for (let seed = FIRST; seed < FIRST + CASES; seed++) {
    try {
      await runConsistency(inputForSeed(t, seed), { maxSteps: STEPS, plant })
    } catch (error) {
      return { seed, error }
    }
  }
  return undefined
}

const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split("\n")[0] ?? ""

describe("consistency fuzzer: planted bugs", () => {
  for (const plant of ["forget-htlc", "lose-last-write", "forget-forward"] as const) {
    it(`finds "${plant}" within ${CASES} cases, and the failure reproduces from its seed`, async () => {
      const found = await firstFailure(plant)
      expect(found, `the fuzzer missed the planted "${plant}" in ${CASES} cases`).toBeDefined()
      if (found === undefined) return
      expect(found.error).toBeInstanceOf(ConsistencyFailure)
      // The same seed, the same failure.
      const again = await runConsistency(inputForSeed(await target(), found.seed), { maxSteps: STEPS, plant }).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(firstLine(again)).toBe(firstLine(found.error))
      // Without the plant, that case passes: the failure is the plant's.
      const clean = await runConsistency(inputForSeed(await target(), found.seed), { maxSteps: STEPS })
      expect(clean.steps).toBeGreaterThan(0)
    }, 300_000)
  }
})
