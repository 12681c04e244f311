/**
 * `npm run bench`: runs every `bench/*.bench.ts` in name order and prints their figures.
 * Each bench module exports `run(): Promise<void>` and prints its own table.
 * `npm run bench -- noise` runs only the modules whose file name contains "noise".
 * `npm run bench -- payment` also runs route computation on the public graph (bench/route.bench.ts),
 * which issue 8 asks the payment figures to include; a run narrowed to some payment figures
 * (`PAYMENT_BENCH_ONLY`, `PAYMENT_BENCH_WINDOW`) leaves it out.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
const narrowed = process.env["PAYMENT_BENCH_ONLY"] !== undefined || process.env["PAYMENT_BENCH_WINDOW"] !== undefined
const filters = filter === "payment" && !narrowed ? ["payment", "route"] : filter === undefined ? [] : [filter]
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts") && (filters.length === 0 || filters.some((name) => f.includes(name))))
  .sort()
console.log(`node ${process.version}, ${files.length} benchmark module(s)`)
for (const file of files) {
  console.log(`\n=== ${file}`)
  const mod = (await import(join(here, file))) as { run: () => Promise<void> }
  await mod.run()
}
