/**
 * `effect-lightning/sim`: deterministic many-node simulation as a library.
 *
 * A `Scenario` (a Schema: JSON files and TypeScript values decode through it) names the nodes,
 * channels, a payment workload and faults; `runScenario(scenario, { seed })` runs every node in
 * one process on deterministic layers in simulated time and returns a `Summary` (payments by
 * outcome and failure reason, fees, latency percentiles, force closes, balances, invariant
 * violations), a fingerprint of every byte exchanged and persisted, and, with `trace: true`,
 * the full trace. `renderReport` turns a summary into one self-contained HTML page.
 *
 * INSECURE BY DESIGN, like `effect-lightning/testing`: keys come from the seed. For tests,
 * research and benchmarks only.
 */
export { runScenario, runScenarioEffect, type Progress, type RunOptions, type ScenarioResult } from "./Engine.ts"
export { agreement, localBalance } from "./Invariants.ts"
export { Rng } from "./Random.ts"
export { renderReport } from "./Report.ts"
export * from "./Scenario.ts"
export { formatSummary, percentile, type Summary } from "./Summary.ts"
export { buildChannels, choosePair, type PlannedChannel } from "./Topology.ts"
export { lineSink, MemoryTraceSink } from "./TraceSink.ts"
export { EventQueue, SimClock, SimRuntime, SimScheduler } from "./Runtime.ts"
