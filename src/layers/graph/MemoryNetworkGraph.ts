/**
 * The default `NetworkGraph`: a `CompactGraph` in memory, persisted through `Store` as the raw
 * messages it holds (keys `graph/v1/manifest` and `graph/v1/chunk/<n>`, one atomic write per
 * `save`; restored at start without re-checking our own signatures).
 *
 * Layers: `layer(config)` (needs `Store`, loads what was saved), `layerEphemeral(config)` (no
 * store: `save` does nothing). The chain comes from `NodeNetwork`; time from `Clock`.
 */
import { Clock, Effect, Layer } from "effect"
import type { Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import type { Network } from "../../protocol/network.ts"
import { NetworkGraph, type NetworkGraphShape } from "../../services/NetworkGraph.ts"
import { NodeNetwork } from "../../services/NodeNetwork.ts"
import { deleteOp, putOp, Store, type StoreError, type StoreInvalidRequest, type StoreOp, type StoreShape } from "../../services/Store.ts"
import { CompactGraph } from "./CompactGraph.ts"

export interface MemoryNetworkGraphConfig {
  readonly secp: Secp256k1
  /** Default: the `NodeNetwork` reference. */
  readonly network?: Network
  /** How far in the future a timestamp may be (seconds); default one day. */
  readonly maxFutureSeconds?: number
  /** Pruning age (seconds); default BOLT 7's two weeks. */
  readonly staleAfterSeconds?: number
  /** Initial sizes (the whole public network: about 18k nodes, 51k channels). */
  readonly nodeCapacity?: number
  readonly channelCapacity?: number
}

const MANIFEST = "graph/v1/manifest"
const CHUNK_PREFIX = "graph/v1/chunk/"
const CHUNK_BYTES = 1 << 20
/** A damaged manifest cannot make us allocate more than this many chunks (4 GiB). */
const MAX_CHUNKS = 4096
const chunkKey = (i: number): string => `${CHUNK_PREFIX}${String(i).padStart(6, "0")}`

const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

const encodeManifest = (chunks: number, bytes: number): Uint8Array => new TextEncoder().encode(JSON.stringify({ chunks, bytes }))
const decodeManifest = (value: Uint8Array): { readonly chunks: number; readonly bytes: number } | undefined => {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(value))
    if (typeof parsed !== "object" || parsed === null) return undefined
    const chunks = Reflect.get(parsed, "chunks")
    const bytes = Reflect.get(parsed, "bytes")
    const valid = typeof chunks === "number" && typeof bytes === "number" && Number.isInteger(chunks) && Number.isInteger(bytes) &&
      chunks >= 0 && chunks <= MAX_CHUNKS && bytes >= 0 && bytes <= chunks * CHUNK_BYTES
    return valid ? { chunks, bytes } : undefined
  } catch {
    return undefined
  }
}

/** Reads a saved graph into `graph`; a missing or damaged save leaves it empty. */
const load = (graph: CompactGraph, store: StoreShape): Effect.Effect<void, StoreError | StoreInvalidRequest> =>
  Effect.gen(function*() {
    const manifest = yield* store.get(MANIFEST)
    const m = manifest === undefined ? undefined : decodeManifest(manifest.value)
    if (m === undefined) return
    const all = new Uint8Array(m.bytes)
    let at = 0
    for (let i = 0; i < m.chunks; i++) {
      const chunk = yield* store.get(chunkKey(i))
      if (chunk === undefined || at + chunk.value.length > all.length) {
        yield* Effect.logWarning("network graph: saved graph incomplete, starting empty")
        return
      }
      all.set(chunk.value, at)
      at += chunk.value.length
    }
    const { loaded, skipped } = graph.restore(all.subarray(0, at))
    yield* Effect.logDebug(`network graph: restored ${loaded} messages (${skipped} skipped)`)
  })

/** A `NetworkGraph` over a fresh `CompactGraph`; `store` for `save` (none: `save` is a no-op). */
export const makeNetworkGraph = (config: MemoryNetworkGraphConfig, store: StoreShape | undefined): Effect.Effect<NetworkGraphShape, StoreError | StoreInvalidRequest> =>
  Effect.gen(function*() {
    const network = config.network ?? (yield* NodeNetwork)
    const graph = new CompactGraph({
      context: { secp: config.secp, chainHash: network.chainHash },
      ...(config.maxFutureSeconds === undefined ? {} : { maxFutureSeconds: config.maxFutureSeconds }),
      nodeCapacity: config.nodeCapacity ?? 1024,
      channelCapacity: config.channelCapacity ?? 2048
    })
    if (store !== undefined) yield* load(graph, store)
    let savedChunks = store === undefined ? 0 : decodeManifest((yield* store.get(MANIFEST))?.value ?? new Uint8Array(0))?.chunks ?? 0
    const save = store === undefined
      ? Effect.void
      : Effect.suspend(() => {
        const bytes = graph.serialize()
        const chunks = Math.ceil(bytes.length / CHUNK_BYTES)
        const ops: Array<StoreOp> = []
        for (let i = 0; i < chunks; i++) ops.push(putOp(chunkKey(i), bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)))
        for (let i = chunks; i < savedChunks; i++) ops.push(deleteOp(chunkKey(i)))
        ops.push(putOp(MANIFEST, encodeManifest(chunks, bytes.length)))
        return store.write(ops).pipe(Effect.tap(() => Effect.sync(() => { savedChunks = chunks })), Effect.asVoid)
      })
    return NetworkGraph.of({
      apply: (raw, options) =>
        Effect.flatMap(nowSeconds, (now) => Effect.fromResult(graph.apply(raw, now, options === undefined ? undefined : { capacitySat: options.capacitySat, signaturesVerified: options.signaturesVerified }))),
      precheck: (raw) => Effect.flatMap(nowSeconds, (now) => Effect.fromResult(graph.precheck(raw, now))),
      hasChannel: (scid) => Effect.sync(() => graph.hasChannel(scid)),
      timeRange: (first, range, cursor, limit) => Effect.sync(() => graph.timeRange(first, range, cursor, limit)),
      removeChannel: (scid) => Effect.sync(() => graph.removeChannel(scid)),
      prune: Effect.flatMap(nowSeconds, (now) => Effect.sync(() => graph.prune(now, config.staleAfterSeconds))),
      channel: (scid) => Effect.sync(() => graph.channel(scid)),
      node: (nodeId) => Effect.sync(() => graph.node(nodeId)),
      channels: Effect.sync(() => [...graph.allChannels()]),
      nodes: Effect.sync(() => [...graph.allNodes()]),
      channelRange: (first, count) => Effect.sync(() => graph.channelRange(first, count)),
      channelMessages: (scid) => Effect.sync(() => graph.channelMessages(scid)),
      stats: Effect.sync(() => ({ nodes: graph.nodes, channels: graph.channels, version: graph.version, messageBytes: graph.arenaBytes.used - graph.arenaBytes.garbage, memoryBytes: graph.memoryBytes })),
      save
    })
  })

/** The graph persisted through `Store` (loaded at start; `save` writes it). */
export const layer = (config: MemoryNetworkGraphConfig): Layer.Layer<NetworkGraph, StoreError | StoreInvalidRequest, Store> =>
  Layer.effect(
    NetworkGraph,
    Effect.gen(function*() {
      const store = yield* Store
      return yield* makeNetworkGraph(config, store)
    })
  )

/** The graph in memory only. */
export const layerEphemeral = (config: MemoryNetworkGraphConfig): Layer.Layer<NetworkGraph> =>
  Layer.effect(NetworkGraph, makeNetworkGraph(config, undefined).pipe(Effect.orDie))
