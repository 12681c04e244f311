/**
 * `npm run sim -- FILE --seed N [--report out.html] [--json out.json] [--trace out.jsonl] [--insecure-crypto]`:
 * runs a scenario file (JSON, decoded through `ScenarioSchema`) with a progress bar on stderr
 * and prints the summary. `--report` writes one self-contained HTML page (inline SVG: the
 * network, payments over time, the latency histogram, failure reasons); `--json` the summary as
 * JSON; `--trace` every trace record as JSON lines. Exit code 1 if an invariant was violated.
 */
import { createWriteStream, readFileSync, writeFileSync } from "node:fs"
import { Result } from "effect"
import { insecureSecp256k1 } from "../testing/InsecureCrypto.ts"
import { runScenario } from "./Engine.ts"
import { renderReport } from "./Report.ts"
import { decodeScenarioJson } from "./Scenario.ts"
import { formatSummary } from "./Summary.ts"
import { lineSink } from "./TraceSink.ts"

const usage = "usage: npm run sim -- FILE --seed N [--report out.html] [--json out.json] [--trace out.jsonl] [--insecure-crypto]"

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !["--seed", "--report", "--json", "--trace"].includes(args[i - 1]!)))
if (file === undefined) {
  console.error(usage)
  process.exit(2)
}
const seed = flag("--seed") ?? "1"
const decoded = decodeScenarioJson(readFileSync(file, "utf8"))
if (Result.isFailure(decoded)) {
  console.error(`${file}: not a scenario:\n${String(decoded.failure)}`)
  process.exit(2)
}
const scenario = decoded.success
const tracePath = flag("--trace")
const traceStream = tracePath === undefined ? undefined : createWriteStream(tracePath)
const sink = traceStream === undefined ? undefined : lineSink((line) => void traceStream.write(`${line}\n`))

const tty = process.stderr.isTTY === true
let lastLine = 0
const started = performance.now()
const result = await runScenario(scenario, {
  seed,
  ...(sink !== undefined ? { trace: sink } : {}),
  ...(args.includes("--insecure-crypto") ? { secp: insecureSecp256k1 } : {}),
  onProgress: (p) => {
    const now = performance.now()
    if (!tty && now - lastLine < 2000) return
    lastLine = now
    const width = 30
    const done = p.paymentsTotal === 0 ? 1 : p.paymentsDone / p.paymentsTotal
    const bar = "#".repeat(Math.round(done * width)).padEnd(width, ".")
    const line = `[${bar}] ${p.phase} ${p.paymentsDone}/${p.paymentsTotal} payments, t=${p.simSeconds.toFixed(1)} s simulated, ${p.events} events`
    process.stderr.write(tty ? `\r${line}\u001b[K` : `${line}\n`)
  }
})
const wallSeconds = (performance.now() - started) / 1000
if (tty) process.stderr.write("\n")
if (traceStream !== undefined) await new Promise<void>((resolve) => traceStream.end(resolve))
console.log(formatSummary(result.summary, wallSeconds))
console.log(`fingerprint ${result.digest}`)
const report = flag("--report")
if (report !== undefined) {
  writeFileSync(report, renderReport(result.summary, wallSeconds))
  console.log(`report written to ${report}`)
}
const json = flag("--json")
if (json !== undefined) writeFileSync(json, JSON.stringify(result.summary, null, 2))
process.exit(result.summary.invariantViolations.length === 0 ? 0 : 1)
