/**
 * `npm run build:browser`: bundles the engine for browsers with esbuild and checks it.
 *
 * 1. `browser/entry.ts` (protocol, services, actors, test and browser layers) is bundled for
 *    `platform: "browser"`, minified, into `browser/dist/engine.js`. Any Node built-in reached from
 *    it (`node:crypto`, `fs`, ...) fails the build, with the chain of imports that pulls it in;
 *    so does a `.wasm` file or a WASM crypto package (libsodium, tiny-secp256k1): the engine's
 *    budget is measured without them.
 * 2. Four modules load Node-only code at top level: three of `src/layers/crypto/`, under the
 *    `Crypto` reference's default, and `src/protocol/crypto/hash-node.ts` (SHA-256 on OpenSSL for
 *    long inputs); the bundle gets their browser stand-ins instead (as a
 *    package's `browser` field would): `src/layers/browser/substitutes/` (same exports, noble
 *    where the Node module used OpenSSL, WASM and native backends reported unavailable).
 * 3. Our sources' `import { Schema, Effect } from "effect"` become `import * as Schema from
 *    "effect/Schema"` (one namespace import per module, as the barrel re-exports them): esbuild
 *    keeps every export of a module re-exported by `export * as` and reached through the barrel
 *    (all of Schema, Stream, ... and what they import), and tree-shakes a direct namespace import.
 *    The same bindings, so the same behaviour; ~100 KB gzipped less.
 * 4. The size of the engine, minified and gzipped, against the 400 KB budget: `OK` or `OVER`
 *    (OVER fails the build).
 * 5. The demo page (`browser/demo/index.html`, `browser/demo/main.ts`) into `browser/dist/demo/`.
 *
 * Options: `--no-demo` (engine only), `--entry FILE` (check and measure another entry point
 * instead of `browser/entry.ts`, engine only), `--out DIR` (instead of `browser/dist`).
 */
import { build, type Metafile, type Plugin } from "esbuild"
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { builtinModules } from "node:module"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const outAt = process.argv.indexOf("--out")
const out = outAt > 0 && process.argv[outAt + 1] !== undefined ? resolve(process.argv[outAt + 1] ?? "") : join(root, "browser", "dist")
const BUDGET_BYTES = 400 * 1024

/** Node-only modules and their browser stand-ins (paths from the repository root). */
export const substitutes: ReadonlyMap<string, string> = new Map([
  ["src/layers/crypto/aead-node.ts", "src/layers/browser/substitutes/aead-node.ts"],
  ["src/layers/crypto/secp256k1-native.ts", "src/layers/browser/substitutes/secp256k1-native.ts"],
  ["src/layers/crypto/secp256k1-wasm.ts", "src/layers/browser/substitutes/secp256k1-wasm.ts"],
  ["src/protocol/crypto/hash-node.ts", "src/layers/browser/substitutes/hash-node.ts"]
])

/** The modules `effect`'s barrel re-exports whole (`export * as Schema from "./Schema.js"`). */
const effectModules: ReadonlySet<string> = new Set(
  Array.from(
    readFileSync(join(root, "node_modules", "effect", "dist", "index.js"), "utf8").matchAll(/^export \* as (\w+) from "\.\/(\w+)\.js";$/gm),
    (m) => (m[1] === m[2] ? m[1] ?? "" : "")
  ).filter((name) => name !== "")
)

/**
 * `source` with each `import { A, B as C, type D } from "effect"` turned into `import * as A from
 * "effect/A"; import * as C from "effect/B"` for the barrel's whole-module re-exports; other names
 * (`pipe`, ...) stay a named import from "effect", type-only names are dropped (types only).
 */
const directEffectImports = (source: string): string =>
  source.replace(/^import\s*\{([^}]*)\}\s*from\s*"effect"/gm, (_all, names: string) => {
    const direct: Array<string> = []
    const kept: Array<string> = []
    for (const raw of code(names).split(",")) {
      const spec = raw.trim()
      if (spec === "" || spec.startsWith("type ")) continue
      const [name = "", alias] = spec.split(/\s+as\s+/)
      if (effectModules.has(name)) direct.push(`import * as ${alias ?? name} from "effect/${name}"`)
      else kept.push(spec)
    }
    if (kept.length > 0) direct.push(`import { ${kept.join(", ")} } from "effect"`)
    return direct.join("; ")
  })

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))
const isBuiltin = (path: string): boolean => path.startsWith("node:") || builtins.has(path) || builtins.has(path.split("/")[0] ?? "")

/** WASM crypto the budget excludes (and the bundle must not contain). */
const WASM_PACKAGES = ["node_modules/libsodium", "node_modules/tiny-secp256k1", "node_modules/secp256k1/"]

const browserPlatform: Plugin = {
  name: "effect-lightning-browser",
  setup(b) {
    b.onResolve({ filter: /\.ts$/ }, (args) => {
      if (args.importer === "") return undefined
      const target = relative(root, resolve(dirname(args.importer), args.path))
      const stand = substitutes.get(target)
      return stand === undefined ? undefined : { path: join(root, stand) }
    })
    b.onLoad({ filter: /\.ts$/ }, (args) =>
      args.path.includes("node_modules") ? undefined : { contents: directEffectImports(readFileSync(args.path, "utf8")), loader: "ts" }
    )
    // Built-ins stay external so the metafile can say who imports them; the check below fails.
    b.onResolve({ filter: /.*/ }, (args) => (isBuiltin(args.path) ? { path: args.path, external: true } : undefined))
  }
}

/** The import chain from an entry point to `target`, by a breadth-first walk of the metafile. */
const chainTo = (meta: Metafile, entry: string, target: string): ReadonlyArray<string> => {
  const previous = new Map<string, string>([[entry, ""]])
  const queue = [entry]
  while (queue.length > 0) {
    const file = queue.shift() ?? ""
    if (file === target) break
    for (const imp of meta.inputs[file]?.imports ?? []) {
      if (imp.external === true || previous.has(imp.path)) continue
      previous.set(imp.path, file)
      queue.push(imp.path)
    }
  }
  const chain: Array<string> = []
  for (let at: string | undefined = target; at !== undefined && at !== ""; at = previous.get(at)) chain.unshift(at)
  return chain
}

/** Node-only globals: a bundler cannot see them, so our own sources are searched for them. */
const NODE_GLOBALS = /\b(?:Buffer|setImmediate|__dirname|__filename|require)\s*[.(]|\bprocess\.(?:env|argv|exit|nextTick|hrtime|platform|version)/

/** Source text without comments (roughly: block comments and line comments). */
const code = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1")

/** Every Node built-in, Node global (in `src/`) or WASM package the bundle reaches, with how. */
const forbidden = (meta: Metafile, entry: string): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const [file, input] of Object.entries(meta.inputs)) {
    if (file.startsWith("src/") || file.startsWith("browser/")) {
      const found = NODE_GLOBALS.exec(code(readFileSync(join(root, file), "utf8")))
      if (found !== null) problems.push(`Node global "${found[0]}" used in ${chainTo(meta, entry, file).join(" -> ")}`)
    }
    for (const imp of input.imports) {
      if (imp.external === true && isBuiltin(imp.path)) {
        problems.push(`Node built-in "${imp.path}" imported by ${chainTo(meta, entry, file).join(" -> ")}`)
      }
    }
    if (file.endsWith(".wasm") || WASM_PACKAGES.some((p) => file.includes(p))) {
      problems.push(`WASM crypto ${file} reached by ${chainTo(meta, entry, file).join(" -> ")}`)
    }
  }
  return problems
}

const bundle = async (entry: string, outfile: string) => {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
    plugins: [browserPlatform]
  })
  const problems = forbidden(result.metafile, entry)
  if (problems.length > 0) {
    console.error(`${entry}: the browser bundle must not use Node built-ins or WASM crypto:\n  ${problems.join("\n  ")}`)
    process.exit(1)
  }
  return readFileSync(outfile)
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`

const main = async () => {
  const at = process.argv.indexOf("--entry")
  const entry = at > 0 ? process.argv[at + 1] ?? "browser/entry.ts" : "browser/entry.ts"
  const withDemo = !process.argv.includes("--no-demo") && at < 0
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })

  const engine = await bundle(entry, join(out, "engine.js"))
  const gzipped = gzipSync(engine, { level: 9 }).length
  const verdict = gzipped <= BUDGET_BYTES ? "OK" : "OVER"
  const line = `engine (${entry}, no WASM crypto): ${kb(engine.length)} minified, ${kb(gzipped)} minified+gzipped; budget ${kb(BUDGET_BYTES)}: ${verdict}`
  console.log(line)
  writeFileSync(join(out, "size.json"), JSON.stringify({ minifiedBytes: engine.length, gzippedBytes: gzipped, budgetBytes: BUDGET_BYTES, verdict }, null, 2))

  if (withDemo) {
    mkdirSync(join(out, "demo"), { recursive: true })
    const demo = await bundle("browser/demo/main.ts", join(out, "demo", "main.js"))
    copyFileSync(join(root, "browser", "demo", "index.html"), join(out, "demo", "index.html"))
    console.log(`demo page: browser/dist/demo/ (main.js ${kb(demo.length)} minified, ${kb(gzipSync(demo, { level: 9 }).length)} gzipped)`)
  }
  if (verdict === "OVER") process.exit(1)
}

await main()
