// Stryker mutation testing over the channel state machine and the monitor (issue 11, "Mutation
// testing"). Run it with `npm run mutate` (scripts/mutate.ts), which also prints the score per
// file from the JSON report. Not part of `npm test`: it is CPU heavy.
//
// TypeScript: the project runs .ts directly (Node 24 type stripping), but under Stryker the
// mutated sources are only ever loaded by Vitest, which transforms them itself, so the
// instrumented code (Stryker's mutant switches are plain JavaScript expressions, and the types are
// kept as written) stays valid. No type checker: a mutant that would not type-check is still
// a behaviour change the tests should catch, and `checkers: []` keeps each mutant one test run.
//
// scripts/mutate.ts runs Stryker once per source file, naming it in STRYKER_MUTATE_FILE: each file
// then has its own JSON report and incremental file under reports/mutation/, so a rerun of one
// file reuses its earlier results and never drops another file's. Without the variable this config
// mutates both directories in one run (`npx stryker run`).
const only = process.env["STRYKER_MUTATE_FILE"]
const slug = only === undefined ? "all" : only.replace(/^src\//, "").replace(/\.ts$/, "").replaceAll("/", "_")

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner", "./scripts/stryker-live-reporter.mjs"],
  vitest: {
    configFile: "stryker.vitest.config.ts",
    // forks: the tests load native modules (secp256k1), which worker threads handle badly.
    pool: "forks"
  },
  checkers: [],
  disableTypeChecks: true,
  coverageAnalysis: "perTest",
  // Static mutants (code run while modules load: the Schema declarations, and each top-level
  // `const f = (...) => ...` replaced by `() => undefined`) need a full reload and every test per
  // mutant, about 100 times the cost of the others; they are reported as Ignored, not run.
  ignoreStatic: true,
  // Two cores shared with other work: one test runner.
  concurrency: 1,
  mutate: only === undefined
    ? ["src/protocol/channel/**/*.ts", "src/protocol/monitor/**/*.ts", "!src/protocol/**/index.ts"]
    : [only],
  // Only what the tests need is copied into the sandbox.
  ignorePatterns: [
    "/*",
    "!/src",
    "!/test",
    "!/package.json",
    "!/tsconfig.json",
    "!/stryker.vitest.config.ts",
    "/test/interop",
    "/test/sim",
    "/test/browser"
  ],
  incremental: true,
  incrementalFile: `reports/mutation/incremental/${slug}.json`,
  reporters: ["json", "html", "progress-append-only", "live-survivors"],
  jsonReporter: { fileName: `reports/mutation/json/${slug}.json` },
  htmlReporter: { fileName: `reports/mutation/html/${slug}.html` },
  // A busy machine: generous timeouts so slow is not mistaken for an infinite loop.
  timeoutMS: 15_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 15,
  thresholds: { high: 90, low: 80, break: null },
  // One sandbox directory per mutated file, so runs over different files can go at once (each
  // run removes its own temp directory when it ends).
  tempDirName: `.stryker-tmp/${slug}`,
  cleanTempDir: true
}
