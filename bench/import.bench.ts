/**
 * `npm run bench -- import`: the cost of importing each entry point of the package, each in a
 * fresh Node process (median of RUNS), from the sources (type stripping) and, when `dist/`
 * exists (`npm run build`), from the built JavaScript. For each: the import time, the modules
 * loaded, whether any WebAssembly was compiled or instantiated during the import, and whether
 * the HTTP stack came in. Then the first use of the default crypto (`Crypto`), which is where
 * the secp256k1 backend is chosen and loaded.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"

const RUNS = 3
const NODE = process.execPath
const ENTRIES: ReadonlyArray<readonly [string, string]> = [
  ["protocol", "protocol/index"],
  ["(root)", "index"],
  ["node", "node/index"],
  ["testing", "testing/index"],
  ["api", "api/index"],
  ["promise", "promise/index"],
  ["cli (commands)", "cli/commands"]
]

interface Measure {
  readonly ms: number
  readonly modules: number
  readonly wasm: number
  readonly http: boolean
}

const probe = (file: string, firstUse: boolean): Measure => {
  const script = `
    const { registerHooks } = await import("node:module")
    const urls = new Set()
    registerHooks({ resolve: (s, c, next) => { const r = next(s, c); urls.add(r.url); return r } })
    // Node strips types with a WebAssembly module: load it (on a file with no imports) before counting.
    if (${JSON.stringify(file.endsWith(".ts"))}) await import(${JSON.stringify(join(process.cwd(), "bench/import-warmup.ts"))})
    let wasm = 0
    const M = WebAssembly.Module; WebAssembly.Module = function (...a) { wasm++; return new M(...a) }
    const I = WebAssembly.instantiate; WebAssembly.instantiate = (...a) => { wasm++; return I(...a) }
    const start = performance.now()
    const m = await import(${JSON.stringify(file)})
    if (${firstUse}) {
      const { Effect } = await import("effect")
      const crypto = Effect.runSync(Effect.gen(function*() { return yield* m.Crypto }))
      crypto.secp.publicKey(new Uint8Array(32).fill(1))
    }
    const ms = performance.now() - start
    const http = [...urls].some((u) => /effect\\/dist\\/http\\/Http|effect\\/dist\\/http-api|platform-node\\/dist\\/NodeHttp|^node:https?$/.test(u))
    console.log(JSON.stringify({ ms, modules: urls.size, wasm, http }))
  `
  const runs: Array<Measure> = []
  for (let i = 0; i < RUNS; i++) {
    runs.push(JSON.parse(execFileSync(NODE, ["--input-type=module", "-e", script], { encoding: "utf8" })) as Measure)
  }
  runs.sort((a, b) => a.ms - b.ms)
  const median = runs[Math.floor(runs.length / 2)]
  if (median === undefined) throw new Error("no run")
  return median
}

const row = (name: string, m: Measure) =>
  `${name.padEnd(34)} ${m.ms.toFixed(0).padStart(7)} ms ${String(m.modules).padStart(6)} modules   WASM loaded: ${m.wasm > 0 ? "yes" : "no "}   HTTP stack: ${m.http ? "yes" : "no"}`

export const run = async (): Promise<void> => {
  const root = process.cwd()
  const variants: Array<readonly [string, (entry: string) => string]> = [["src", (e) => join(root, "src", `${e}.ts`)]]
  if (existsSync(join(root, "dist/index.js"))) variants.push(["dist", (e) => join(root, "dist", `${e}.js`)])
  else console.log("(dist/ not built: `npm run build` to measure the built package too)")
  for (const [label, path] of variants) {
    console.log(`\nimport cost from ${label}/ (median of ${RUNS} fresh processes, node ${process.version})`)
    for (const [name, entry] of ENTRIES) console.log(row(name, probe(path(entry), false)))
    console.log(row("(root) + first use of Crypto", probe(path("index"), true)))
  }
}
