import { defineConfig } from "vitest/config"
import { BaseSequencer, type TestSpecification } from "vitest/node"

// The Vitest configuration for mutation runs (`npm run mutate`, stryker.config.mjs): only the
// fast tests that exercise src/protocol/channel and src/protocol/monitor. No interop, actor or
// simulation files: they are slow, and the pure tests reach the same rules.

/**
 * Stryker stops a mutant's run at the first failing test (bail), so the files most likely to
 * fail fast run first: the targeted unit tests, then the scenario files, the property-based
 * ones last (Vitest's default puts the slowest first, which is right for parallel workers and
 * wrong for one worker that bails).
 */
const order = [
  "mutants.test.ts",
  "commitments.rules.test.ts",
  "open.test.ts",
  "close.test.ts",
  "step.test.ts",
  "pending.test.ts",
  "claim-preimage.test.ts",
  "monitor/apply.test.ts",
  "state-json.test.ts",
  "commitments.dance.test.ts",
  "reestablish.test.ts",
  "step.property.test.ts"
]
const rank = (file: string): number => {
  const i = order.findIndex((suffix) => file.endsWith(suffix))
  return i === -1 ? order.length : i
}
class FastFirst extends BaseSequencer {
  override async sort(files: Array<TestSpecification>): Promise<Array<TestSpecification>> {
    return [...files].sort((a, b) => rank(a.moduleId) - rank(b.moduleId))
  }
}

export default defineConfig({
  test: {
    include: ["test/protocol/channel/**/*.test.ts", "test/protocol/monitor/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
    // One worker reused across files: Stryker reruns the tests once per mutant, and module
    // loading would otherwise dominate each run.
    isolate: false,
    sequence: { sequencer: FastFirst }
  }
})
