/**
 * The package as users install it: `npm pack` (which builds dist/ through `prepare`, as a git install does), the tarball
 * installed into a fresh temporary project with its own strict tsconfig, then, under the pinned
 * Node: the README's Promise example (`examples/promise-node.ts`, importing
 * `effect-lightning/promise`) type-checked and run against the installed package (no ../src);
 * every entry point loaded with `require()` (no top-level await anywhere) and with `import`;
 * `effect-lightning/protocol` alone loading no WebAssembly; the `effect-lightning` bin answering
 * `--help`. Dependencies come from the local npm cache when they are there (`--prefer-offline`).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const REPO = process.cwd()
const NODE = join(REPO, "node_modules/.bin/node")
const TSC = join(REPO, "node_modules/typescript/bin/tsc")
const ENTRY_POINTS = ["effect-lightning", "effect-lightning/protocol", "effect-lightning/node", "effect-lightning/testing", "effect-lightning/api", "effect-lightning/promise", "effect-lightning/sim", "effect-lightning/trace", "effect-lightning/browser"]

const work = mkdtempSync(join(tmpdir(), "ln-pack-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** npm with the pinned Node first on PATH (npm's scripts then run tsc and node on it); its output in the error. */
const npm = (args: ReadonlyArray<string>, cwd: string): string => {
  const r = spawnSync("npm", [...args], {
    cwd,
    encoding: "utf8",
    timeout: 600_000,
    env: { ...process.env, PATH: `${join(REPO, "node_modules/.bin")}:${process.env["PATH"] ?? ""}`, npm_config_fund: "false", npm_config_audit: "false" }
  })
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

const node = (args: ReadonlyArray<string>, cwd: string): string => execFileSync(NODE, [...args], { cwd, encoding: "utf8", timeout: 120_000 })

describe("the packed package", () => {
  it("installs into a fresh project; the README example type-checks and runs against it; every entry point loads", () => {
    // Pack (prepare builds dist/).
    const packDir = join(work, "pack")
    mkdirSync(packDir)
    npm(["pack", "--pack-destination", packDir, "--loglevel=error"], REPO)
    const tarball = readdirSync(packDir).find((f) => f.endsWith(".tgz"))
    expect(tarball).toBeDefined()
    const files = npm(["pack", "--dry-run", "--json", "--ignore-scripts"], REPO)
    const listed = (JSON.parse(files) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path) ?? []
    expect(listed).toContain("dist/index.js")
    expect(listed).toContain("dist/index.d.ts")
    expect(listed).toContain("dist/cli/bin.js")
    expect(listed.some((p) => p.startsWith("src/") || p.startsWith("test/"))).toBe(false)

    // A fresh project with a strict tsconfig of its own.
    const project = join(work, "consumer")
    mkdirSync(project)
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023", "DOM"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          typeRoots: [join(REPO, "node_modules/@types")],
          types: ["node"]
        },
        include: ["*.ts"]
      }, null, 2)
    )
    npm(["install", join(packDir, tarball ?? ""), "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], project)

    // The README example, unchanged: type-checked against the installed declarations, then run.
    copyFileSync(join(REPO, "examples/promise-node.ts"), join(project, "example.ts"))
    execFileSync(NODE, [TSC, "-p", project], { cwd: project, encoding: "utf8", timeout: 240_000 })
    const out = node(["example.ts"], project)
    expect(out).toContain("bob: peer connected (inbound)")
    expect(out).toContain("channel Closed (FundingAborted)")
    expect(out).toMatch(/^ChannelNotFound: no channel [0-9a-f]{64}$/m)

    // Every entry point: require() works (no top-level await), and import gives the same names.
    const loaded = JSON.parse(node(["--input-type=module", "-e", `
      import { createRequire } from "node:module"
      const require = createRequire(import.meta.url)
      const entries = ${JSON.stringify(ENTRY_POINTS)}
      const out = {}
      for (const e of entries) {
        const required = Object.keys(require(e)).sort()
        const imported = Object.keys(await import(e)).filter((k) => k !== "default").sort()
        out[e] = { count: required.length, same: JSON.stringify(required) === JSON.stringify(imported) }
      }
      console.log(JSON.stringify(out))
    `], project)) as Record<string, { count: number; same: boolean }>
    for (const e of ENTRY_POINTS) {
      expect(loaded[e]?.count, e).toBeGreaterThan(0)
      expect(loaded[e]?.same, e).toBe(true)
    }
    const root = JSON.parse(node(["--input-type=module", "-e", `
      const root = await import("effect-lightning")
      console.log(JSON.stringify({ testing: "SeededNodeSigner" in root || "TestLayers" in root, api: "ControlApi" in root }))
    `], project))
    expect(root).toEqual({ testing: false, api: false })

    // effect-lightning/protocol alone: no WebAssembly, no HTTP stack.
    const protocolOnly = JSON.parse(node(["--input-type=module", "-e", `
      const { registerHooks } = await import("node:module")
      const urls = []
      registerHooks({ resolve: (specifier, context, next) => { const r = next(specifier, context); urls.push(r.url); return r } })
      let compiled = 0
      const original = WebAssembly.Module
      WebAssembly.Module = function (...args) { compiled++; return new original(...args) }
      const instantiate = WebAssembly.instantiate
      WebAssembly.instantiate = (...args) => { compiled++; return instantiate(...args) }
      const protocol = await import("effect-lightning/protocol")
      const heavy = urls.filter((u) => /effect\\/dist\\/http\\/Http|effect\\/dist\\/http-api|platform-node|libsodium|tiny-secp256k1|node_modules\\/secp256k1\\/|^node:https?$/.test(u))
      console.log(JSON.stringify({ wasm: compiled, names: Object.keys(protocol).length > 10, heavy, modules: urls.length > 10 }))
    `], project))
    expect(protocolOnly).toEqual({ wasm: 0, names: true, heavy: [], modules: true })

    // effect-lightning/browser bundles for a browser from the installed package: the package's
    // `browser` field swaps the Node-only crypto modules (and the two hand-written channel-record
    // encodings) for their browser stand-ins.
    const bundled = JSON.parse(node(["--input-type=module", "-e", `
      const esbuild = await import(${JSON.stringify(join(REPO, "node_modules/esbuild/lib/main.js"))})
      const r = await esbuild.build({ stdin: { contents: 'export * from "effect-lightning/browser"', resolveDir: process.cwd() }, bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent" }).catch((e) => ({ error: String(e) }))
      const inputs = r.metafile === undefined ? [] : Object.keys(r.metafile.inputs)
      console.log(JSON.stringify({ error: r.error ?? null, node: inputs.filter((i) => i.startsWith("node:") || ["crypto/aead-node", "crypto/secp256k1-native", "crypto/secp256k1-wasm", "crypto/hash-node"].some((m) => i.includes(m))), substitutes: inputs.filter((i) => i.includes("browser/substitutes")).length }))
    `], project))
    expect(bundled).toEqual({ error: null, node: [], substitutes: 4 })

    // The bin.
    const help = node([join(project, "node_modules/effect-lightning/dist/cli/bin.js"), "--help"], project)
    expect(help).toContain("effect-lightning <subcommand>")
  }, 900_000)
})
