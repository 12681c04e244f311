/**
 * `npm run bench`: runs every `bench/*.bench.ts` in name order and prints their figures.
 * Each bench module exports `run(): Promise<void>` and prints its own table.
 * `npm run bench -- noise` runs only the modules whose file name contains "noise".
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts") && (filter === undefined || f.includes(filter)))
  .sort()
console.log(`node ${process.version}, ${files.length} benchmark module(s)`)
for (const file of files) {
  console.log(`\n=== ${file}`)
  const mod = (await import(join(here, file))) as { run: () => Promise<void> }
  await mod.run()
}
