/**
 * Gossip ingest (issue 10): the whole public network of 2026-02-03 (`test/data`, a copy of the shared snapshot, 17,324
 * nodes, 50,808 channels) turned into real signed gossip by the deterministic generator
 * (`test/protocol/gossip/generate.ts`: 50,808 channel_announcements, 65,810 channel_updates,
 * 17,324 node_announcements, about 290,000 signatures), then fed to `NetworkGraph.apply` (the
 * path a peer's gossip takes) with every signature checked, once per secp256k1 layer: native
 * libsecp256k1, libsecp256k1 in WASM, noble (pure JS). Prints messages per second, total
 * seconds, and the memory the graph holds after ingest (V8 heap and array buffers, after a GC).
 *
 * Generating the gossip is not timed; it is cached in the OS temp directory (keyed by the
 * snapshot's hash and the seed). Noble takes about 20 times as long as native, so by default it
 * ingests a 1-in-25 subset of the channels (with their nodes) and the table says so; set
 * `GOSSIP_BENCH_NOBLE_FULL=1` for the whole network.
 *
 * Run: `npm run bench -- gossip` (or `node bench/run.ts gossip`).
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { gunzipSync } from "node:zlib"
import { Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import { MemoryNetworkGraph } from "../src/layers/graph/index.ts"
import { nobleSecp256k1, type Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { Networks } from "../src/protocol/network.ts"
import { NetworkGraph } from "../src/services/NetworkGraph.ts"
import {
  type GeneratedGossip,
  generateGossip,
  packGossip,
  type Snapshot,
  SNAPSHOT_TIME,
  snapshotDifferences,
  unpackGossip
} from "../test/protocol/gossip/generate.ts"

const here = dirname(fileURLToPath(import.meta.url))
const SNAPSHOT = join(here, "../test/data/ln-graph-2026-02-03.json.gz")
const SEED = new TextEncoder().encode("effect-lightning gossip bench v1")
const network = Networks.regtest

setFlagsFromString("--expose-gc")
const gc: () => void = runInNewContext("gc")

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1)

const loadGossip = (secp: Secp256k1, snapshotBytes: Uint8Array, snapshot: Snapshot): GeneratedGossip => {
  const key = createHash("sha256").update(snapshotBytes).update(SEED).update("generator v1").digest("hex").slice(0, 16)
  const cache = join(tmpdir(), `effect-lightning-gossip-${key}.bin`)
  if (existsSync(cache)) return unpackGossip(new Uint8Array(readFileSync(cache)))
  const start = performance.now()
  const g = generateGossip(secp, snapshot, { seed: SEED, chainHash: network.chainHash })
  console.log(`generated the signed gossip in ${((performance.now() - start) / 1000).toFixed(1)} s (cached in ${cache})`)
  writeFileSync(cache, packGossip(g))
  return g
}

/** The subset of `g` for every `every`-th channel, with its updates and its nodes' announcements. */
const subset = (g: GeneratedGossip, every: number): GeneratedGossip => {
  const channelAnnouncements = g.channelAnnouncements.filter((_, i) => i % every === 0)
  const scidAt = (raw: Uint8Array): bigint => new DataView(raw.buffer, raw.byteOffset).getBigUint64(2 + 256 + 2 + 32)
  const kept = new Set(channelAnnouncements.map(scidAt))
  const nodes = new Set<string>()
  for (const raw of channelAnnouncements) {
    nodes.add(Buffer.from(raw.subarray(2 + 256 + 2 + 32 + 8, 2 + 256 + 2 + 32 + 8 + 33)).toString("hex"))
    nodes.add(Buffer.from(raw.subarray(2 + 256 + 2 + 32 + 8 + 33, 2 + 256 + 2 + 32 + 8 + 66)).toString("hex"))
  }
  return {
    nodeIds: g.nodeIds,
    channelAnnouncements,
    channelUpdates: g.channelUpdates.filter((raw) => kept.has(new DataView(raw.buffer, raw.byteOffset).getBigUint64(2 + 64 + 32))),
    nodeAnnouncements: g.nodeAnnouncements.filter((raw) => {
      // node_id follows signature, flen, features and timestamp
      const at = 2 + 64 + 2 + (((raw[66] ?? 0) << 8) | (raw[67] ?? 0)) + 4
      return nodes.has(Buffer.from(raw.subarray(at, at + 33)).toString("hex"))
    }),
    capacities: g.capacities
  }
}

interface Row {
  readonly backend: string
  readonly scope: string
  readonly messages: number
  readonly seconds: number
  /** CPU time of the process (user + system): what one uncontended core would take. */
  readonly cpuSeconds: number
  readonly heapBytes: number
  readonly bufferBytes: number
  readonly channels: number
  readonly nodes: number
  /** The graph's own count of its typed arrays and message pages. */
  readonly tableBytes: number
}

const ingest = (
  secp: Secp256k1,
  g: GeneratedGossip,
  compareWith?: Snapshot
): Promise<Row & { readonly rejected: number; readonly compared: ReturnType<typeof snapshotDifferences> | undefined }> => {
  const program = Effect.gen(function*() {
    yield* TestClock.setTime(SNAPSHOT_TIME * 1000)
    gc()
    const before = process.memoryUsage()
    const graph = yield* NetworkGraph
    let rejected = 0
    const capacities = new Map<bigint, bigint>(g.capacities)
    const start = performance.now()
    const cpuStart = process.cpuUsage()
    for (const raw of g.channelAnnouncements) {
      const scid = new DataView(raw.buffer, raw.byteOffset).getBigUint64(2 + 256 + 2 + 32)
      const capacitySat = capacities.get(scid)
      const r = yield* Effect.result(graph.apply(raw, capacitySat === undefined ? undefined : { capacitySat }))
      if (Result.isFailure(r)) rejected++
    }
    for (const raw of g.channelUpdates) if (Result.isFailure(yield* Effect.result(graph.apply(raw)))) rejected++
    for (const raw of g.nodeAnnouncements) if (Result.isFailure(yield* Effect.result(graph.apply(raw)))) rejected++
    const seconds = (performance.now() - start) / 1000
    const cpu = process.cpuUsage(cpuStart)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    gc()
    const after = process.memoryUsage()
    const stats = yield* graph.stats
    // The whole graph against the snapshot (not timed): every node, channel and policy.
    const compared = compareWith === undefined ? undefined : snapshotDifferences(compareWith, g, { channels: yield* graph.channels, nodes: yield* graph.nodes })
    return {
      compared,
      backend: secp.name,
      scope: "",
      messages: g.channelAnnouncements.length + g.channelUpdates.length + g.nodeAnnouncements.length,
      seconds,
      cpuSeconds,
      heapBytes: after.heapUsed - before.heapUsed,
      bufferBytes: after.arrayBuffers - before.arrayBuffers,
      channels: stats.channels,
      nodes: stats.nodes,
      tableBytes: stats.memoryBytes,
      rejected
    }
  })
  return Effect.runPromise(
    program.pipe(
      Effect.provide(MemoryNetworkGraph.layerEphemeral({ secp, network, nodeCapacity: 20_000, channelCapacity: 56_000 })),
      Effect.provide(TestClock.layer())
    )
  )
}

export const run = async (): Promise<void> => {
  if (!existsSync(SNAPSHOT)) {
    console.log(`skipped: ${SNAPSHOT} not found`)
    return
  }
  const native = loadNativeSecp256k1()
  const wasm = await import("../src/layers/crypto/secp256k1-wasm.ts").then((m) => m.wasmSecp256k1, () => undefined)
  const fastest = Result.isSuccess(native) ? native.success : wasm ?? nobleSecp256k1
  const snapshotBytes = new Uint8Array(readFileSync(SNAPSHOT))
  const snapshot: Snapshot = JSON.parse(gunzipSync(snapshotBytes).toString("utf8"))
  const full = loadGossip(fastest, snapshotBytes, snapshot)
  const total = full.channelAnnouncements.length + full.channelUpdates.length + full.nodeAnnouncements.length
  const signatures = 4 * full.channelAnnouncements.length + full.channelUpdates.length + full.nodeAnnouncements.length
  console.log(
    `network: ${snapshot.nodes} nodes, ${snapshot.channels.length} channels -> ${full.channelAnnouncements.length} channel_announcement, ` +
      `${full.channelUpdates.length} channel_update, ${full.nodeAnnouncements.length} node_announcement = ${total} messages, ${signatures} signatures`
  )
  const plans: Array<{ readonly secp: Secp256k1; readonly gossip: GeneratedGossip; readonly scope: string }> = []
  if (Result.isSuccess(native)) plans.push({ secp: native.success, gossip: full, scope: "whole network" })
  else console.log(`native: unavailable (${native.failure})`)
  if (wasm !== undefined) plans.push({ secp: wasm, gossip: full, scope: "whole network" })
  else console.log("wasm: unavailable")
  const nobleFull = process.env["GOSSIP_BENCH_NOBLE_FULL"] === "1"
  plans.push({ secp: nobleSecp256k1, gossip: nobleFull ? full : subset(full, 25), scope: nobleFull ? "whole network" : "1/25 of the channels" })
  const rows: Array<Row & { readonly rejected: number }> = []
  for (const plan of plans) {
    // The first whole-network ingest is compared with the snapshot afterwards.
    const compare = plan.gossip === full && rows.length === 0 ? snapshot : undefined
    const row = { ...(await ingest(plan.secp, plan.gossip, compare)), scope: plan.scope }
    rows.push(row)
    console.log(
      `${row.backend.padEnd(22)} ${row.scope.padEnd(20)} ${String(row.messages).padStart(7)} msgs  ${row.seconds.toFixed(2).padStart(7)} s wall ` +
        `(${row.cpuSeconds.toFixed(2)} s CPU)  ${Math.round(row.messages / row.seconds).toString().padStart(6)} msg/s wall, ` +
        `${Math.round(row.messages / row.cpuSeconds).toString().padStart(6)} msg/s CPU  ` +
        `(whole network at this rate: ${((total / row.messages) * row.cpuSeconds).toFixed(1)} s CPU)  ` +
        `graph: ${row.channels} channels, ${row.nodes} nodes, rejected ${row.rejected}; ` +
        `memory held (after GC): heap ${mb(row.heapBytes)} MB + buffers ${mb(row.bufferBytes)} MB = ${mb(row.heapBytes + row.bufferBytes)} MB ` +
        `(the graph's typed arrays and message pages: ${mb(row.tableBytes)} MB)`
    )
    if (row.compared !== undefined) {
      console.log(
        row.compared.differences.length === 0
          ? `graph equals the snapshot: ${snapshot.channels.length} channels, every node, ${row.compared.policies} policies`
          : `graph DIFFERS from the snapshot:\n  ${row.compared.differences.join("\n  ")}`
      )
    }
  }
  const first = rows[0]
  if (first !== undefined) {
    const ok = first.cpuSeconds <= 30 && first.heapBytes + first.bufferBytes <= 100e6
    console.log(
      `targets (<= 30 s on one core with native, <= 100 MB for the graph): ${ok ? "met" : "NOT met"} by ${first.backend} ` +
        `(CPU time; wall time depends on what else runs: load average ${(await import("node:os")).loadavg()[0]?.toFixed(1)})`
    )
  }
}
