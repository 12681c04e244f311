/**
 * Runs every byte fuzz target in fuzz/targets/ (whoever added it) on a few thousand random and
 * mutated inputs with a fixed seed, so CI catches a target that throws. Longer runs:
 * `npm run fuzz -- TARGET SECONDS`. Async targets (whole nodes: `fuzzAsync`) are too slow for
 * thousands of inputs here: each has its own test file, test/fuzz/TARGET.test.ts.
 */
import { existsSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { loadAnyTarget, runInputs } from "../../fuzz/engine.ts"

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fuzz", "targets")
const targets = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort()
const RUNS = 3000
const loaded = await Promise.all(targets.map(async (target) => ({ target, t: await loadAnyTarget(target) })))

describe("fuzz targets (short CI run)", () => {
  it("finds the targets", () => {
    expect(targets).toEqual(expect.arrayContaining(["address", "bigsize", "features", "handshake", "message", "tlv"]))
  })
  it("the engine finds a planted bug behind a structured prefix", () => {
    const planted = {
      seeds: [Uint8Array.of(0x00, 0x10, 0x00, 0x00, 0x00, 0x00)],
      fuzz: (data: Uint8Array) => {
        if (data.length > 6 && data[0] === 0x00 && data[1] === 0x10 && data[6] === 0xfd) throw new Error("planted")
      }
    }
    const r = runInputs(planted, RUNS, 7)
    expect(r.ok).toBe(false)
  })
  for (const { target, t } of loaded) {
    if (t.kind === "async") {
      it(`${target}: an async target, run by test/fuzz/${target}.test.ts`, () => {
        expect(existsSync(join(dirname(fileURLToPath(import.meta.url)), `${target}.test.ts`))).toBe(true)
      })
      continue
    }
    it(`${target}: ${RUNS} inputs without a failure`, () => {
      const r = runInputs(t, RUNS, 42)
      if (!r.ok) throw new Error(`${target} failed on ${Buffer.from(r.input).toString("hex")}: ${String(r.error)}`)
      expect(r.ok).toBe(true)
    })
  }
})
