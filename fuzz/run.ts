/**
 * `npm run fuzz -- TARGET SECONDS`: runs one fuzz target from `fuzz/targets/TARGET.ts` for
 * SECONDS (default 60). `npm run fuzz` with no target lists them.
 * Byte targets export `fuzz(data: Uint8Array): void`, which must never throw for any input.
 * Async targets (`consistency`, `full-node`) export `fuzzAsync(data): Promise<void>` and run
 * case by case; a failure prints its case seed, and `npm run fuzz -- TARGET --seed N` reruns
 * that one case (see fuzz/engine.ts).
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const targets = readdirSync(join(here, "targets")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort()
const args = process.argv.slice(2)
const seedAt = args.indexOf("--seed")
const seedArg = seedAt >= 0 ? args[seedAt + 1] : undefined
const [target, secondsArg] = args.filter((_, i) => seedAt < 0 || (i !== seedAt && i !== seedAt + 1))
if (target === undefined || !targets.includes(target) || (seedAt >= 0 && !/^\d+$/.test(seedArg ?? ""))) {
  console.log(`usage: npm run fuzz -- TARGET [SECONDS]\n       npm run fuzz -- TARGET --seed N   (async targets: rerun case N)\ntargets: ${targets.join(", ")}`)
  process.exit(target === undefined ? 0 : 2)
}
// The engine behind this runner is chosen by fuzz/engine.ts (Jazzer.js or fast-check).
const engine = (await import(join(here, "engine.ts"))) as {
  runTarget: (target: string, seconds: number) => Promise<void>
  rerunCase: (target: string, seed: number) => Promise<void>
}
if (seedArg !== undefined) {
  await engine.rerunCase(target, Number(seedArg))
} else {
  const seconds = Number(secondsArg ?? "60")
  console.log(`fuzzing ${target} for ${seconds}s`)
  await engine.runTarget(target, seconds)
}
// Async targets may leave timers of stopped nodes behind: the run is over.
process.exit(process.exitCode ?? 0)
