/**
 * A `RouterGraph` from a public-graph snapshot file (`ln-graph-*.json`, gzipped or not): the
 * router can then route over the public network without gossip (benchmarks, tests, a node
 * bootstrapping its graph).
 */
import { gunzipSync } from "node:zlib"
import { Effect, FileSystem, Layer, Result } from "effect"
import type { RoutingGraph } from "../../protocol/routing/graph.ts"
import { graphFromSnapshot, InvalidSnapshot } from "../../protocol/routing/snapshot.ts"
import { RouterGraph } from "../../services/Router.ts"

/** Parses snapshot bytes (gzip is recognised by its magic bytes). */
export const snapshotFromBytes = (bytes: Uint8Array): Result.Result<RoutingGraph, InvalidSnapshot> => {
  let json: unknown
  try {
    const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes
    json = JSON.parse(new TextDecoder().decode(text))
  } catch (e) {
    return Result.fail(new InvalidSnapshot({ detail: e instanceof Error ? e.message : "unreadable" }))
  }
  return graphFromSnapshot(json)
}

export const loadSnapshotFile = Effect.fn("loadSnapshotFile")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const bytes = yield* fs.readFile(path)
  const graph = snapshotFromBytes(bytes)
  if (Result.isFailure(graph)) return yield* Effect.fail(graph.failure)
  return graph.success
})

export const SnapshotGraph = {
  /** The snapshot at `path`, loaded once when the layer is built. */
  layer: (path: string) => Layer.effect(RouterGraph, Effect.map(loadSnapshotFile(path), (g) => RouterGraph.of({ current: Effect.succeed(g) })))
} as const
