import { defineConfig } from "vitest/config"

// Under CI a JSON report is written too, so .ci/run can print its "N passed, N failed" line.
const ci = process.env["CI"] !== undefined && process.env["CI"] !== ""

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ci ? ["default", "json"] : ["default"],
    ...(ci ? { outputFile: { json: ".ci/results.json" } } : {})
  }
})
