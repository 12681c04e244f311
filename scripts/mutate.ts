/**
 * `npm run mutate [-- [--report-only] [--survivors] [PATH...]]`: mutation testing with Stryker
 * (stryker.config.mjs, the Vitest runner over stryker.vitest.config.ts) over src/protocol/channel
 * and src/protocol/monitor, or the given files and directories under them.
 *
 * Stryker runs once per source file, in sequence (one test runner: the config's concurrency is 1),
 * with that file's own incremental file and JSON report under reports/mutation/, so rerunning one
 * file reuses its earlier results and never drops another file's. Then it prints the mutation
 * score per file and overall from the JSON reports: killed (and timed out) over killed, timed out,
 * survived and not covered, as Stryker counts it.
 *
 * `--report-only` prints the scores from the existing reports without running Stryker;
 * `--survivors` also lists every surviving and uncovered mutant (file:line:column, mutator,
 * replacement).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const defaultRoots = ["src/protocol/channel", "src/protocol/monitor"]

interface Position {
  readonly line: number
  readonly column: number
}

interface ReportMutant {
  readonly id: string
  readonly mutatorName: string
  readonly replacement?: string
  readonly status: string
  readonly location: { readonly start: Position; readonly end: Position }
}

interface Report {
  readonly files: Record<string, { readonly mutants: ReadonlyArray<ReportMutant> }>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const parseReport = (text: string): Report | undefined => {
  const json: unknown = JSON.parse(text)
  if (!isRecord(json) || !isRecord(json["files"])) return undefined
  const files: Record<string, { mutants: Array<ReportMutant> }> = {}
  for (const [path, file] of Object.entries(json["files"])) {
    if (!isRecord(file) || !Array.isArray(file["mutants"])) return undefined
    const mutants: Array<ReportMutant> = []
    for (const m of file["mutants"]) {
      if (!isRecord(m) || !isRecord(m["location"])) return undefined
      const start = m["location"]["start"]
      const end = m["location"]["end"]
      if (!isRecord(start) || !isRecord(end)) return undefined
      const replacement = m["replacement"]
      mutants.push({
        id: String(m["id"]),
        mutatorName: String(m["mutatorName"]),
        status: String(m["status"]),
        location: {
          start: { line: Number(start["line"]), column: Number(start["column"]) },
          end: { line: Number(end["line"]), column: Number(end["column"]) }
        },
        ...(typeof replacement === "string" ? { replacement } : {})
      })
    }
    files[path] = { mutants }
  }
  return { files }
}

/** The same name stryker.config.mjs derives from STRYKER_MUTATE_FILE. */
const slugOf = (file: string): string => file.replace(/^src\//, "").replace(/\.ts$/, "").replaceAll("/", "_")

const sourceFiles = (path: string): Array<string> => {
  const abs = resolve(root, path)
  if (!existsSync(abs)) throw new Error(`no such file or directory: ${path}`)
  if (statSync(abs).isFile()) return [relative(root, abs)]
  return readdirSync(abs, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.endsWith("index.ts"))
    .map((f) => relative(root, join(abs, f)))
    .sort()
}

const args = process.argv.slice(2)
const reportOnly = args.includes("--report-only")
const listSurvivors = args.includes("--survivors")
const paths = args.filter((a) => !a.startsWith("--"))
const files = (paths.length === 0 ? defaultRoots : paths).flatMap(sourceFiles)

const strykerBin = join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js")
const started = performance.now()
const failedRuns: Array<string> = []
if (!reportOnly) {
  for (const [i, file] of files.entries()) {
    console.log(`\n=== [${i + 1}/${files.length}] stryker: ${file}`)
    const t0 = performance.now()
    const run = spawnSync(process.execPath, [strykerBin, "run", "stryker.config.mjs"], {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, STRYKER_MUTATE_FILE: file }
    })
    console.log(`=== ${file}: ${((performance.now() - t0) / 1000).toFixed(0)} s`)
    if (run.status !== 0) failedRuns.push(file)
  }
}

interface Counts {
  killed: number
  timeout: number
  survived: number
  noCoverage: number
  ignored: number
  other: number
}

const empty = (): Counts => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, other: 0 })
const detected = (c: Counts): number => c.killed + c.timeout
const valid = (c: Counts): number => c.killed + c.timeout + c.survived + c.noCoverage
const score = (c: Counts): string => (valid(c) === 0 ? "n/a" : `${((100 * detected(c)) / valid(c)).toFixed(2)}%`)

const total = empty()
const rows: Array<[string, Counts]> = []
const survivors: Array<string> = []
const missing: Array<string> = []
for (const file of files) {
  // The JSON report is written when a run ends; the incremental file also when a run is
  // interrupted (then it holds only the mutants tested so far: the row is marked partial).
  const jsonPath = join(root, "reports", "mutation", "json", `${slugOf(file)}.json`)
  const incrementalPath = join(root, "reports", "mutation", "incremental", `${slugOf(file)}.json`)
  const candidates = [jsonPath, incrementalPath].filter((p) => existsSync(p))
  const reportPath = candidates.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
  if (reportPath === undefined) {
    missing.push(file)
    continue
  }
  const partial = reportPath === incrementalPath && (!existsSync(jsonPath) || statSync(jsonPath).mtimeMs < statSync(incrementalPath).mtimeMs - 60_000)
  const report = parseReport(readFileSync(reportPath, "utf8"))
  if (report === undefined) throw new Error(`not a Stryker JSON report: ${reportPath}`)
  for (const [path, { mutants }] of Object.entries(report.files)) {
    const c = empty()
    for (const m of mutants) {
      switch (m.status) {
        case "Killed":
          c.killed++
          break
        case "Timeout":
          c.timeout++
          break
        case "Survived":
          c.survived++
          break
        case "NoCoverage":
          c.noCoverage++
          break
        case "Ignored":
          c.ignored++
          break
        default:
          c.other++
      }
      if (m.status === "Survived" || m.status === "NoCoverage") {
        const at = `${path}:${m.location.start.line}:${m.location.start.column}`
        survivors.push(`${at} ${m.status} ${m.mutatorName} -> ${JSON.stringify(m.replacement ?? "")}`)
      }
    }
    rows.push([partial ? `${path} (partial)` : path, c])
    total.killed += c.killed
    total.timeout += c.timeout
    total.survived += c.survived
    total.noCoverage += c.noCoverage
    total.ignored += c.ignored
    total.other += c.other
  }
}

const pad = (s: string | number, n: number): string => String(s).padStart(n)
const width = Math.max(5, ...rows.map(([p]) => p.length))
console.log(`\n${"file".padEnd(width)} ${pad("score", 8)} ${pad("killed", 7)} ${pad("timeout", 7)} ${pad("survived", 8)} ${pad("no cov", 7)} ${pad("ignored", 7)} ${pad("errors", 6)}`)
for (const [path, c] of [...rows, ["total", total] as [string, Counts]]) {
  console.log(
    `${path.padEnd(width)} ${pad(score(c), 8)} ${pad(c.killed, 7)} ${pad(c.timeout, 7)} ${pad(c.survived, 8)} ${pad(c.noCoverage, 7)} ${pad(c.ignored, 7)} ${pad(c.other, 6)}`
  )
}
if (listSurvivors && survivors.length > 0) console.log(`\nsurviving mutants:\n${survivors.join("\n")}`)
if (missing.length > 0) console.log(`\nno report yet for: ${missing.join(", ")}`)
if (rows.some(([p]) => p.endsWith("(partial)")))
  console.log("\n(partial): an interrupted run; only the mutants tested before it stopped are counted.")
if (!reportOnly) console.log(`\nwall time: ${((performance.now() - started) / 1000).toFixed(0)} s`)
if (failedRuns.length > 0) {
  console.error(`stryker failed for: ${failedRuns.join(", ")}`)
  process.exitCode = 1
}
