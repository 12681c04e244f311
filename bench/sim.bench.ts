/**
 * Simulation at scale (issue 11 "Scale"), on one core:
 *
 * 1. a scale-free network of 1,000 nodes, ~3,000 channels and 10,000 payments (log-normal sizes:
 *    median 20k sat, a few up to 2M sat) with some faults (message loss, late persistence on 5%
 *    of the nodes, crashes at random persistence points, a partition, a reorg), with the real
 *    curve (the fastest secp256k1 that loads here): wall time, simulated time, peak heap,
 *    events per second (targets: 5 minutes, 4 GB);
 * 2. the same shape with the insecure test-only crypto (`src/testing/InsecureCrypto.ts`) at
 *    10,000 nodes, ~30,000 channels and 100,000 payments (target: 5 minutes);
 * 3. 50 nodes with tracing off, then tracing every record to a JSON-lines file: the trace's
 *    size and the cost ratio (target: at most 2x).
 *
 * Each part uses its own seed: the per-commitment point memo (`keys/per-commitment-points.ts`)
 * is process-wide and keyed by the secret alone, so the same secrets under the real and the
 * insecure curve in one process would collide.
 *
 * `npm run bench -- sim [--scale F[,G]] [--only secure|insecure|trace]`: `--scale 0.1` runs every
 * size at a tenth (100 / 1,000 nodes), for a loaded machine; the figures printed say which
 * sizes ran, and a linear extrapolation to the full size. Two scales (`--scale 0.01,0.1`) run
 * each part at both and print how the CPU per node (setup) and per payment grew between them,
 * with a power-law extrapolation from the two points: the cost per payment is not constant
 * (longer routes and a larger heap in a larger network), so one small scale underestimates.
 * Every figure of a run is printed under "MEASURED"; every figure for a size that did not run
 * is printed under "EXTRAPOLATED (not measured)". The live heap is measured after a full
 * collection once every channel is open (per node) and at the end of the workload (per
 * payment); the extrapolated heap is compared with this process's heap limit. The bench's own
 * full collections are not counted in the CPU or wall figures (their time is printed apart). The full insecure size does not fit in
 * V8's default heap (measured 340-520 KiB per node and up to ~58 KiB per payment at 20-200
 * nodes): run it with `NODE_OPTIONS=--max-old-space-size=16384` on a machine with that memory.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { getHeapStatistics, setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { bestSecp256k1 } from "../src/layers/crypto/secp256k1-best.ts"
import type { Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { lineSink, runScenario, type Scenario, type ScenarioResult } from "../src/sim/index.ts"
import { insecureSecp256k1 } from "../src/testing/index.ts"
import { sharedCommitmentKeysCache } from "../src/protocol/keys/commitment-keys-cache.ts"
import { sharedPerCommitmentPoints } from "../src/protocol/keys/per-commitment-points.ts"
import { sharedCommitmentBuilds } from "../src/protocol/tx/commitment-builds.ts"
import { sharedVerifiedSignatures } from "../src/protocol/tx/verified-signatures.ts"

/** The process-wide memos of the channel path: their hit rate falls when more channels are active at once than they hold. */
const memos = {
  "commitment keys": sharedCommitmentKeysCache,
  "per-commitment points": sharedPerCommitmentPoints,
  "commitment builds": sharedCommitmentBuilds,
  "verified signatures": sharedVerifiedSignatures
}
const memoStats = () => Object.entries(memos).map(([name, m]) => ({ name, capacity: m.capacity, ...m.stats() }))

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const scenarioOf = (nodes: number, payments: number, faults: boolean): Scenario => ({
  name: `scale-${nodes}`,
  nodes: { count: nodes },
  channels: [{ kind: "scaleFree", perNode: 3, capacitySat: { kind: "lognormal", median: 2_000_000, sigma: 0.8, min: 200_000, max: 16_000_000 }, pushFraction: 0.5 }], // below 2^24 sat: no option_support_large_channel
  workload: {
    payments,
    // About 20 payments per simulated second per 1,000 nodes.
    ratePerSecond: Math.max(1, nodes / 50),
    amountMsat: { kind: "lognormal", median: 20_000_000, sigma: 1.5, min: 1_000, max: 2_000_000_000 },
    pairs: { kind: "hubs", hubs: Math.max(1, Math.round(nodes / 100)), hubShare: 0.3 },
    timeoutSeconds: 60
  },
  network: { latencyMs: { kind: "lognormal", median: 50, sigma: 0.6, min: 5, max: 1_000 }, ...(faults ? { loss: 0.0002 } : {}) },
  chain: { blockIntervalSeconds: 600 },
  ...(faults
    ? {
      faults: [
        { kind: "latePersistence", nodes: Array.from({ length: Math.ceil(nodes / 20) }, (_, i) => i * 20), delayMs: { kind: "uniform", min: 10, max: 500 }, fromSeconds: 10, toSeconds: 60 },
        { kind: "crashAtPersist", count: Math.max(1, Math.round(nodes / 200)), restartAfterSeconds: 5, fromSeconds: 5, toSeconds: 100 },
        { kind: "partition", side: Array.from({ length: Math.ceil(nodes / 50) }, (_, i) => nodes - 1 - i), fromSeconds: 20, toSeconds: 40 },
        { kind: "reorg", atSeconds: 30, depth: 2 }
      ]
    }
    : {}),
  checkEverySeconds: 0
})

/**
 * A full collection (V8's `gc`, exposed at run time), to measure the live heap rather than
 * garbage. Twice: V8 frees dead ArrayBuffers' contents on a background sweep that the next
 * collection first completes, so the array-buffer figure read after one collection still counts
 * some of the dead (it moved by 5-18 KiB per payment between runs of one tree).
 */
const collect: () => void = (() => {
  setFlagsFromString("--expose-gc")
  const gc: unknown = runInNewContext("gc")
  return typeof gc === "function"
    ? () => {
      gc()
      gc()
    }
    : () => {}
})()

interface Measured {
  readonly result: ScenarioResult
  /** CPU seconds of the whole run, of its setup, and of the setup's first part (building the nodes; the rest opens the channels). */
  readonly cpu: number
  readonly setupCpu: number
  readonly nodesCpu: number
  /** Peer messages sent during the setup. */
  readonly setupMessages: number
  /** CPU seconds of the JS thread alone over the whole run (about the wall time on an idle machine with a core to spare for V8's helper threads). */
  readonly threadCpu: number
}

const measure = async (label: string, scenario: Scenario, secp: Secp256k1, extrapolate: number, seed: number): Promise<Measured> => {
  // The live heap before the run (the loaded code and the runtime): not part of what grows with the size.
  collect()
  const base = process.memoryUsage().heapUsed
  /**
   * Bytes of ArrayBuffers (typed arrays' contents beyond V8's on-heap limit, Buffers) outside the
   * V8 heap, which `heapUsed` leaves out: a change that moves bytes between a string and a typed
   * array moves them between the two figures, so both are printed.
   */
  const baseBuffers = process.memoryUsage().arrayBuffers
  let buffersSetup = 0
  let buffers = 0
  let peak = base
  let live = 0
  let setupCpu = 0
  let nodesCpu = 0
  let setupMessages = 0
  let liveSetup = 0
  const memos0 = memoStats()
  /** The memos' capacities during the workload (a run sizes them for its channels and puts them back at its end). */
  let capacities: ReadonlyArray<number> = memos0.map((m) => m.capacity)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  /** The JS thread alone (the process figure adds V8's helper threads: concurrent marking, sweeping, compilation). */
  const thread0 = process.threadCpuUsage()
  /** CPU and wall time of the bench's own full collections (not the run's: left out of both figures). */
  let collectCpu = 0
  let collectWall = 0
  const collectTimed = (): number => {
    const c = process.cpuUsage()
    const w = performance.now()
    collect()
    const u = process.cpuUsage(c)
    collectWall += (performance.now() - w) / 1000
    collectCpu += (u.user + u.system) / 1e6
    return process.memoryUsage().heapUsed
  }
  const cpuNow = (): number => {
    const u = process.cpuUsage(cpu0)
    return (u.user + u.system) / 1e6 - collectCpu
  }
  const threadNow = (): number => {
    const u = process.threadCpuUsage(thread0)
    return (u.user + u.system) / 1e6 - collectCpu
  }
  /** The JS thread's share of the setup's two parts (the process figures add V8's helper threads: in a short run, mostly compiling the code once). */
  let nodesThread = 0
  let setupThread = 0
  const r = await runScenario(scenario, {
    seed,
    secp,
    onProgress: (p) => {
      peak = Math.max(peak, process.memoryUsage().heapUsed)
      if (p.phase === "setup" && nodesCpu === 0 && p.nodesStarted === scenario.nodes.count) {
        nodesCpu = cpuNow()
        nodesThread = threadNow()
      }
      if (p.phase === "workload" && setupCpu === 0) {
        setupCpu = cpuNow()
        setupThread = threadNow()
        capacities = memoStats().map((m) => m.capacity)
        setupMessages = p.messages
        // Every node built and every channel open: what grows with the node count.
        liveSetup = collectTimed()
        buffersSetup = process.memoryUsage().arrayBuffers
      }
      // The end of the workload: every node alive with all it accumulated (what grows with the payments too).
      if (p.phase === "drain" && live === 0) {
        live = collectTimed()
        buffers = process.memoryUsage().arrayBuffers
      }
      process.stderr.write(`  ${label}: ${p.phase} ${p.paymentsDone}/${p.paymentsTotal}, t=${p.simSeconds.toFixed(0)} s, ${p.events} events, ${((performance.now() - t0) / 1000).toFixed(0)} s wall\n`)
    }
  })
  peak = Math.max(peak, process.memoryUsage().heapUsed)
  const wall = (performance.now() - t0) / 1000 - collectWall
  const cpu = cpuNow()
  const threadCpu = threadNow()
  const s = r.summary
  console.log(
    `${label}, MEASURED: ${s.nodes} nodes, ${s.channels} channels, ${s.payments.attempted} payments (${s.payments.succeeded} ok, ${s.payments.failed} failed)\n` +
      `  wall ${wall.toFixed(1)} s, CPU ${cpu.toFixed(1)} s (the bench's two full collections to measure the live heap left out: ${collectWall.toFixed(1)} s wall, ${collectCpu.toFixed(1)} CPU s; ${(s.events / cpu).toFixed(0)} events per CPU second; setup ${s.setupSeconds.toFixed(0)} s simulated), simulated ${s.simulatedSeconds.toFixed(0)} s, ` +
      `peak heap ${(peak / 2 ** 20).toFixed(0)} MiB (live after a full GC at the end of the workload ${(live / 2 ** 20).toFixed(0)} MiB), ${s.events} events (${(s.events / wall).toFixed(0)}/s), ${s.tasks} fiber tasks, ` +
      `${s.faults.messages} messages (${(s.faults.messages / wall).toFixed(0)}/s), violations ${s.invariantViolations.length}`
  )
  console.log(`  JS thread CPU ${threadCpu.toFixed(1)} s (${((1000 * threadCpu) / Math.max(1, s.payments.attempted)).toFixed(1)} ms per payment over the run; V8's helper threads ${(cpu - threadCpu).toFixed(1)} s more)`)
  console.log(
    `  CPU: setup ${setupCpu.toFixed(1)} s (${((1000 * setupCpu) / s.nodes).toFixed(1)} ms per node: building the nodes ${((1000 * nodesCpu) / s.nodes).toFixed(1)} ms per node, ` +
      `opening the channels ${((1000 * (setupCpu - nodesCpu)) / Math.max(1, s.channels)).toFixed(1)} ms per channel; JS thread alone ${((1000 * nodesThread) / s.nodes).toFixed(2)} ms per node, ` +
      `${((1000 * (setupThread - nodesThread)) / Math.max(1, s.channels)).toFixed(2)} ms per channel), workload and drain ${(cpu - setupCpu).toFixed(1)} s (${((1000 * (cpu - setupCpu)) / Math.max(1, s.payments.attempted)).toFixed(1)} ms per payment); live heap before the run ${(base / 2 ** 20).toFixed(0)} MiB`
  )
  // What a payment costs is the channel path's cost per message times the messages a payment takes (its hops, its retries).
  const workloadMessages = s.faults.messages - setupMessages
  console.log(
    `  workload: ${(workloadMessages / Math.max(1, s.payments.attempted)).toFixed(1)} peer messages per payment, ${((1e6 * (cpu - setupCpu)) / Math.max(1, workloadMessages)).toFixed(0)} us CPU per message; ` +
      `setup: ${(setupMessages / Math.max(1, s.channels)).toFixed(1)} messages per channel; ${(s.tasks / Math.max(1, s.faults.messages)).toFixed(1)} fiber tasks per message over the run`
  )
  if (extrapolate === 1)
    console.log(
      `  targets (issue 11): at most 300 s wall on one core: ${wall <= 300 ? "met" : "NOT met"} (${wall.toFixed(0)} s wall, ${cpu.toFixed(0)} CPU s); ` +
        `at most 4 GB: ${peak <= 4e9 ? "met" : "NOT met"} (peak heap ${(peak / 1e9).toFixed(2)} GB)`
    )
  const perNode = (liveSetup - base) / s.nodes
  const perPayment = (live - liveSetup) / Math.max(1, s.payments.attempted)
  const buffersPerNode = (buffersSetup - baseBuffers) / s.nodes
  const buffersPerPayment = (buffers - buffersSetup) / Math.max(1, s.payments.attempted)
  console.log(
    `  live heap: ${(perNode / 1024).toFixed(0)} KiB per node once the channels are open, then ${(perPayment / 1024).toFixed(1)} KiB more per payment by the end of the workload; ` +
      `array buffers outside the V8 heap (not in those figures): ${(buffersPerNode / 1024).toFixed(0)} KiB per node, then ${(buffersPerPayment / 1024).toFixed(1)} KiB per payment`
  )
  if (extrapolate !== 1) {
    // EXTRAPOLATED, not measured. CPU: linear (the cost per payment grows with the network, so
    // this is a lower bound; two scales give a power-law fit below). Heap: the code's own, plus
    // the per-node and per-payment growth measured here (an upper bound from a small run: the
    // bounded caches filling up count as growth there); the peak is above that by the garbage
    // V8 lets accumulate, which does not scale with the live heap (not extrapolated).
    const nodesFull = s.nodes * extrapolate
    const paymentsFull = s.payments.attempted * extrapolate
    const liveFull = base + perNode * nodesFull + perPayment * paymentsFull
    const limit = getHeapStatistics().heap_size_limit
    console.log(
      `  EXTRAPOLATED (not measured) to ${nodesFull.toFixed(0)} nodes / ${paymentsFull.toFixed(0)} payments: >= ~${(cpu * extrapolate).toFixed(0)} CPU s (linear), ` +
        `~${(liveFull / 2 ** 30).toFixed(2)} GiB live heap (the peak is above it: ${(peak / Math.max(1, live)).toFixed(1)}x the live heap in this run)` +
        (liveFull > limit ? `: MORE than this process's heap limit (${(limit / 2 ** 30).toFixed(1)} GiB), the full size would need --max-old-space-size` : "") +
        `; plus ~${((buffersPerNode * nodesFull + buffersPerPayment * paymentsFull) / 2 ** 30).toFixed(2)} GiB of array buffers outside the V8 heap`
    )
  }
  const memos1 = memoStats()
  console.log(
    `  memos (hit rate over the run): ${memos1
      .map((m, i) => {
        const hits = m.hits - (memos0[i]?.hits ?? 0)
        const misses = m.misses - (memos0[i]?.misses ?? 0)
        return `${m.name} ${((100 * hits) / Math.max(1, hits + misses)).toFixed(1)}% of ${hits + misses} (capacity ${capacities[i] ?? m.capacity} in the run)`
      })
      .join(", ")}`
  )
  const reasons = Object.entries(s.payments.failedByReason).sort((a, b) => b[1] - a[1])
  if (reasons.length > 0) console.log(`  failures: ${reasons.map(([r, n]) => `${r} ${n}`).join(", ")}; latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms (simulated)`)
  for (const n of s.notes) console.log(`  note: ${n}`)
  for (const v of s.invariantViolations.slice(0, 5)) console.log(`  violation: ${v}`)
  return { result: r, cpu, setupCpu, nodesCpu, setupMessages, threadCpu }
}

/** Setup CPU per node and the rest per payment at two sizes, and a power-law extrapolation of each to `full` nodes / `fullPayments`. */
const compare = (label: string, small: Measured, large: Measured, full: number, fullPayments: number): void => {
  const n1 = small.result.summary.nodes
  const n2 = large.result.summary.nodes
  const perNode = (m: Measured) => m.setupCpu / m.result.summary.nodes
  const perPayment = (m: Measured) => (m.cpu - m.setupCpu) / Math.max(1, m.result.summary.payments.attempted)
  // cost(n) = c * n^k through the two points, evaluated at the full size; k >= 0 (a cost per unit
  // that falls with the size is warm-up of the smaller run, not a trend).
  const fit = (a: number, b: number) => {
    const k = Math.max(0, Math.log(b / a) / Math.log(n2 / n1))
    return { k, atFull: b * (full / n2) ** k }
  }
  const node = fit(perNode(small), perNode(large))
  const pay = fit(perPayment(small), perPayment(large))
  console.log(
    `${label}, ${n1} -> ${n2} nodes: setup ${(1000 * perNode(small)).toFixed(1)} -> ${(1000 * perNode(large)).toFixed(1)} ms per node, ` +
      `workload ${(1000 * perPayment(small)).toFixed(1)} -> ${(1000 * perPayment(large)).toFixed(1)} ms per payment; ` +
      `EXTRAPOLATED (not measured), power law to ${full} nodes: ~${(node.atFull * full + pay.atFull * fullPayments).toFixed(0)} CPU s ` +
      `(setup ~${(node.atFull * full).toFixed(0)} s at ${(1000 * node.atFull).toFixed(1)} ms per node, n^${node.k.toFixed(2)}; ` +
      `workload ~${(pay.atFull * fullPayments).toFixed(0)} s at ${(1000 * pay.atFull).toFixed(1)} ms per payment, n^${pay.k.toFixed(2)})`
  )
  // The JS thread's share of each run's CPU (the rest is V8's helper threads, which a second
  // core runs beside it): the same extrapolation in JS thread seconds, about the wall time.
  const share = (m: Measured) => m.threadCpu / Math.max(1e-9, m.cpu)
  const threadFull = (node.atFull * full + pay.atFull * fullPayments) * share(large)
  console.log(
    `  JS thread ${(100 * share(small)).toFixed(0)}% -> ${(100 * share(large)).toFixed(0)}% of the CPU; EXTRAPOLATED (not measured): ~${threadFull.toFixed(0)} JS thread CPU s at ${full} nodes (about the wall time with a core to spare)`
  )
}

export const run = async (): Promise<void> => {
  const scales = (arg("--scale") ?? "1").split(",").map(Number)
  const only = arg("--only")
  const secure = bestSecp256k1()
  console.log(`secp256k1 backend: ${secure.backend}; scale ${scales.join(", ")}`)
  const part = async (label: string, nodes: number, payments: number, secp: Secp256k1, seed: number) => {
    const runs: Array<Measured> = []
    for (const scale of scales) runs.push(await measure(label, scenarioOf(Math.round(nodes * scale), Math.round(payments * scale), true), secp, 1 / scale, seed))
    const [small, large] = runs
    if (small !== undefined && large !== undefined) compare(label, small, large, nodes, payments)
  }
  if (only === undefined || only === "secure") await part("real crypto", 1_000, 10_000, secure.secp, 1)
  if (only === undefined || only === "insecure") await part("insecure crypto", 10_000, 100_000, insecureSecp256k1, 2)
  if (only === undefined || only === "trace") {
    const small = scenarioOf(50, 300, false)
    const cpuSeconds = (since: NodeJS.CpuUsage) => {
      const u = process.cpuUsage(since)
      return (u.user + u.system) / 1e6
    }
    const c0 = process.cpuUsage()
    const off = await runScenario(small, { seed: 3, secp: secure.secp })
    const offWall = cpuSeconds(c0)
    const dir = mkdtempSync(join(tmpdir(), "sim-trace-"))
    const file = join(dir, "trace.jsonl")
    const stream = createWriteStream(file)
    const sink = lineSink((line) => void stream.write(`${line}\n`))
    const c1 = process.cpuUsage()
    const on = await runScenario(small, { seed: 3, secp: secure.secp, trace: sink })
    await new Promise<void>((resolve) => stream.end(resolve))
    const onWall = cpuSeconds(c1)
    const size = statSync(file).size
    rmSync(dir, { recursive: true, force: true })
    console.log(
      `tracing, 50 nodes, ${small.workload.payments} payments: off ${offWall.toFixed(1)} CPU s, to a file ${onWall.toFixed(1)} CPU s ` +
        `(${(onWall / offWall).toFixed(2)}x), ${sink.records()} records, ${(size / 2 ** 20).toFixed(1)} MiB; same run: ${off.digest === on.digest}`
    )
  }
}
