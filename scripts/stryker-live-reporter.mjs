// A Stryker reporter (stryker.config.mjs, "live-survivors") that appends each surviving or
// uncovered mutant to reports/mutation/live/<file>.txt as soon as it is tested, so a long run can
// be worked on before it ends. The JSON report (scripts/mutate.ts reads it) stays the reference.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { PluginKind, declareClassPlugin } from "@stryker-mutator/api/plugin"

const only = process.env["STRYKER_MUTATE_FILE"]
const slug = only === undefined ? "all" : only.replace(/^src\//, "").replace(/\.ts$/, "").replaceAll("/", "_")
const out = `reports/mutation/live/${slug}.txt`

class LiveSurvivorsReporter {
  static inject = []
  constructor() {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, "")
  }
  onMutantTested(result) {
    if (result.status !== "Survived" && result.status !== "NoCoverage") return
    const { line, column } = result.location.start
    appendFileSync(out, `${result.fileName}:${line}:${column + 1} ${result.status} ${result.mutatorName} -> ${JSON.stringify(result.replacement ?? "")}\n`)
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, "live-survivors", LiveSurvivorsReporter)]
