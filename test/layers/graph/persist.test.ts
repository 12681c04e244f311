/**
 * `MemoryNetworkGraph.layer` over a `Store` holding a damaged save: the graph starts empty (and
 * says so in the log) instead of failing or allocating what a bad manifest claims.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MemoryNetworkGraph } from "../../../src/layers/graph/index.ts"
import * as MemoryStore from "../../../src/layers/store/MemoryStore.ts"
import { makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { nobleSecp256k1 as secp } from "../../../src/protocol/crypto/secp256k1.ts"
import { Networks } from "../../../src/protocol/network.ts"
import { NetworkGraph } from "../../../src/services/NetworkGraph.ts"
import { Store } from "../../../src/services/Store.ts"

const enc = (s: string) => new TextEncoder().encode(s)

describe("MemoryNetworkGraph persistence", () => {
  for (const [name, manifest, chunk] of [
    ["a manifest that is not JSON", enc("{oops"), undefined],
    ["a manifest claiming 10^12 bytes", enc(JSON.stringify({ chunks: 1, bytes: 1e12 })), undefined],
    ["a manifest whose chunk is missing", enc(JSON.stringify({ chunks: 2, bytes: 10 })), undefined],
    ["a chunk of junk", enc(JSON.stringify({ chunks: 1, bytes: 40 })), new Uint8Array(40).fill(7)]
  ] as const) {
    it.effect(`${name}: starts empty`, () => {
      const data = makeMemoryStoreData()
      const store = MemoryStore.layer(data)
      return Effect.gen(function*() {
        yield* Effect.gen(function*() {
          const s = yield* Store
          yield* s.put("graph/v1/manifest", manifest)
          if (chunk !== undefined) yield* s.put("graph/v1/chunk/000000", chunk)
        }).pipe(Effect.provide(store))
        const stats = yield* Effect.gen(function*() {
          const graph = yield* NetworkGraph
          yield* graph.save // writes an empty graph over the damaged one
          return yield* graph.stats
        }).pipe(Effect.provide(MemoryNetworkGraph.layer({ secp, network: Networks.regtest }).pipe(Layer.provide(store))))
        assert.strictEqual(stats.channels, 0)
        assert.strictEqual(stats.nodes, 0)
      })
    })
  }
})
