/**
 * `npm run fuzz -- TARGET SECONDS`: runs one fuzz target from `fuzz/targets/TARGET.ts` for
 * SECONDS (default 60). `npm run fuzz` with no target lists them.
 * Each target exports `fuzz(data: Uint8Array): void`, which must never throw for any input.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const targets = readdirSync(join(here, "targets")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort()
const [target, secondsArg] = process.argv.slice(2)
if (target === undefined || !targets.includes(target)) {
  console.log(`usage: npm run fuzz -- TARGET [SECONDS]\ntargets: ${targets.join(", ")}`)
  process.exit(target === undefined ? 0 : 2)
}
const seconds = Number(secondsArg ?? "60")
console.log(`fuzzing ${target} for ${seconds}s`)
// The engine behind this runner is chosen by fuzz/engine.ts (Jazzer.js or fast-check).
const { runTarget } = (await import(join(here, "engine.ts"))) as {
  runTarget: (target: string, seconds: number) => Promise<void>
}
await runTarget(target, seconds)
