/**
 * Route computation on the public graph (issue 8 "Benchmark", the routing part of `payment`):
 * `npm run bench -- route`. The 2026-02-03 snapshot (17,324 nodes, 50,808 channels, see
 * test/data/README.md) is loaded once; then for 1,000 random payable (payer, payee) pairs,
 * seeded so every run draws the same pairs:
 *  - single path: 100,000 sat (and 1,000 sat), the payer's public channels as its channels;
 *  - MPP: a payer with 3+ channels given as first hops with half of each channel's capacity as
 *    outbound liquidity, paying 1.5x its largest channel's liquidity (so a split is required).
 * Both with the probabilistic scorer, through the `Router` service (Effect, scorer preparation,
 * request overlay and search all counted). Pairs without a route are drawn again and counted.
 * Per route: this process's CPU time (what one core spends, whatever else runs on the machine)
 * and wall-clock time, median and 99th percentile. Targets: 10 ms median for a scored route,
 * 30 ms for an MPP split.
 */
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Layer, Result } from "effect"
import type { FirstHop, RoutingGraph } from "../src/protocol/routing/index.ts"
import { msat } from "../src/protocol/units.ts"
import { DefaultRouter } from "../src/layers/router/DefaultRouter.ts"
import { snapshotFromBytes } from "../src/layers/router/SnapshotGraph.ts"
import { Router, RouterGraph, type RouteRequest } from "../src/services/Router.ts"

const here = dirname(fileURLToPath(import.meta.url))
const SNAPSHOT = join(here, "..", "test", "data", "ln-graph-2026-02-03.json.gz")
const PAIRS = 1000
const WARMUP = 100

/** xorshift32: the same pairs on every run. */
const rng = (seed: number) => {
  let s = seed >>> 0 || 1
  return (n: number): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s % n
  }
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? NaN

interface Stats {
  readonly times: Array<number>
  readonly cpu: Array<number>
  readonly parts: Array<number>
  readonly hops: Array<number>
  readonly feePpm: Array<number>
  unroutable: number
}

const report = (name: string, s: Stats) => {
  const t = [...s.times].sort((a, b) => a - b)
  const c = [...s.cpu].sort((a, b) => a - b)
  const med = (xs: ReadonlyArray<number>) => percentile([...xs].sort((a, b) => a - b), 0.5)
  console.log(
    `${name.padEnd(28)} cpu median ${percentile(c, 0.5).toFixed(2).padStart(6)} ms  p99 ${percentile(c, 0.99).toFixed(2).padStart(6)} ms` +
      ` | wall median ${percentile(t, 0.5).toFixed(2).padStart(6)} ms  p99 ${percentile(t, 0.99).toFixed(2).padStart(6)} ms` +
      `  (${t.length} routes, ${s.unroutable} unroutable draws; median ${med(s.hops)} hops, ${med(s.parts)} parts, fee ${med(s.feePpm).toFixed(0)} ppm)`
  )
}

export const run = async (): Promise<void> => {
  const t0 = performance.now()
  const loaded = snapshotFromBytes(readFileSync(SNAPSHOT))
  if (Result.isFailure(loaded)) throw new Error(loaded.failure.detail)
  const graph: RoutingGraph = loaded.success
  console.log(`graph: ${graph.nodeCount} nodes, ${graph.channelCount} channels, ${graph.edgeCount} enabled directions, loaded in ${(performance.now() - t0).toFixed(0)} ms`)

  // Nodes that can send (an outgoing direction) and receive (an incoming one).
  const outDegree = new Int32Array(graph.nodeCount)
  for (let e = 0; e < graph.edgeCount; e++) outDegree[graph.source[e] ?? 0] = (outDegree[graph.source[e] ?? 0] ?? 0) + 1
  const inDegree = (n: number) => (graph.inStart[n + 1] ?? 0) - (graph.inStart[n] ?? 0)
  const senders: Array<number> = []
  const receivers: Array<number> = []
  for (let n = 0; n < graph.nodeCount; n++) {
    if ((outDegree[n] ?? 0) > 0) senders.push(n)
    if (inDegree(n) > 0) receivers.push(n)
  }
  // Outgoing edges of a node, for MPP first hops.
  const outEdges = (n: number): Array<number> => {
    const out: Array<number> = []
    for (let e = 0; e < graph.edgeCount; e++) if (graph.source[e] === n) out.push(e)
    return out
  }
  const bigSenders = senders.filter((n) => (outDegree[n] ?? 0) >= 3)

  const layer = DefaultRouter.layerProbabilistic.pipe(Layer.provide(RouterGraph.layerFixed(graph)))
  await Effect.runPromise(
    Effect.gen(function*() {
      const router = yield* Router
      const measure = function*(name: string, seed: number, make: (draw: (n: number) => number) => RouteRequest | undefined) {
        const draw = rng(seed)
        const stats: Stats = { times: [], cpu: [], parts: [], hops: [], feePpm: [], unroutable: 0 }
        let warm = 0
        while (stats.times.length < PAIRS) {
          const req = make(draw)
          if (req === undefined) continue
          const cpu0 = process.cpuUsage()
          const start = performance.now()
          const exit = yield* Effect.exit(router.findRoute(req))
          const ms = performance.now() - start
          const cpu1 = process.cpuUsage(cpu0)
          if (Exit.isFailure(exit)) {
            stats.unroutable++
            continue
          }
          if (warm++ < WARMUP) continue
          const route = exit.value
          stats.times.push(ms)
          stats.cpu.push((cpu1.user + cpu1.system) / 1000)
          stats.parts.push(route.paths.length)
          stats.hops.push(route.paths[0].hops.length)
          stats.feePpm.push((Number(route.feeMsat) * 1e6) / Number(route.amountMsat))
        }
        report(name, stats)
      }
      const single = (amountSat: number) => (draw: (n: number) => number): RouteRequest | undefined => {
        const payer = senders[draw(senders.length)] ?? 0
        const payee = receivers[draw(receivers.length)] ?? 0
        if (payer === payee) return undefined
        return {
          payer: graph.nodeId(payer),
          payee: graph.nodeId(payee),
          amountMsat: msat(BigInt(amountSat * 1000)),
          currentHeight: 900_000,
          finalCltvExpiryDelta: 18,
          maxParts: 1
        }
      }
      yield* measure("single path, 100k sat", 1, single(100_000))
      yield* measure("single path, 1k sat", 2, single(1_000))
      yield* measure("MPP split, 1.5x largest hop", 3, (draw) => {
        const payer = bigSenders[draw(bigSenders.length)] ?? 0
        const payee = receivers[draw(receivers.length)] ?? 0
        if (payer === payee) return undefined
        const firstHops: Array<FirstHop> = outEdges(payer).map((e, i) => ({
          channelId: new Uint8Array(32).fill(i),
          shortChannelId: graph.edgeScid(e),
          counterpartyNodeId: graph.nodeId(graph.edgeTarget(e)),
          outboundMsat: msat(BigInt(Math.floor(graph.edgeCapacityMsat(e) / 2))),
          htlcMinimumMsat: msat(1n)
        }))
        const largest = Math.max(...firstHops.map((f) => Number(f.outboundMsat)))
        const total = firstHops.reduce((s, f) => s + Number(f.outboundMsat), 0)
        const amount = Math.floor(largest * 1.5)
        if (total < 2 * amount || amount > 50_000_000_000) return undefined
        return {
          payer: graph.nodeId(payer),
          payee: graph.nodeId(payee),
          amountMsat: msat(BigInt(amount)),
          currentHeight: 900_000,
          finalCltvExpiryDelta: 18,
          firstHops,
          payeeFeatures: [17],
          maxParts: 16
        }
      })
    }).pipe(Effect.provide(layer))
  )
}
