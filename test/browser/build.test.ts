/**
 * The browser build refuses Node built-ins: bundling the root entry point (`src/index.ts`, which
 * exports the files store and the Node crypto backends) with `browser/build.ts` fails and names
 * each built-in with the chain of imports that reaches it. (The browser entry itself is built,
 * and its size budget checked, by demo.test.ts.) Our `import { Schema } from "effect"` reach the
 * bundle as direct module imports, so unused Schema exports are tree-shaken out of the engine.
 */
import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

describe("browser/build.ts", () => {
  it("fails on an entry that pulls in Node built-ins, naming the import chain", () => {
    const out = mkdtempSync(join(tmpdir(), "effect-lightning-build-"))
    try {
      const run = spawnSync(process.execPath, ["browser/build.ts", "--entry", "src/index.ts", "--out", out], { encoding: "utf8" })
      expect(run.status).toBe(1)
      expect(run.stderr).toContain("must not use Node built-ins")
      expect(run.stderr).toContain(`Node built-in "node:fs" imported by src/index.ts -> src/layers/store/index.ts`)
      expect(run.stderr).toContain("WASM crypto")
      expect(run.stdout).not.toContain("budget")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  it("tree-shakes the effect modules our sources import from the barrel", () => {
    const out = mkdtempSync(join(tmpdir(), "effect-lightning-build-"))
    try {
      const run = spawnSync(process.execPath, ["browser/build.ts", "--no-demo", "--out", out], { encoding: "utf8" })
      expect(run.status).toBe(0)
      const engine = readFileSync(join(out, "engine.js"), "utf8")
      // Exports of effect/Schema (and the modules only they import) that the engine never uses.
      expect(engine).not.toContain("MacAddressFromString")
      expect(engine).not.toContain("set-cookie")
      // A Schema export it uses is there.
      expect(engine).toContain("ChannelId")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)
})
