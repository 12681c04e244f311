/**
 * The generated network (a subset of the 2026-02-03 public graph, `test/protocol/gossip/data`)
 * ingested through `NetworkGraph.apply`, the path a peer's gossip takes, with every signature
 * checked; the resulting graph must equal the snapshot: every node (id, alias, color,
 * address), every channel (ends, capacity) and every policy (enabled directions only; a
 * disabled direction has no update). Then saved through `Store` and loaded back equal.
 */
import { gunzipSync } from "node:zlib"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { TestClock } from "effect/testing"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import type { ChannelView, NodeView } from "../../../src/protocol/gossip/views.ts"
import { Networks } from "../../../src/protocol/network.ts"
import { loadNativeSecp256k1 } from "../../../src/layers/crypto/secp256k1-native.ts"
import { MemoryNetworkGraph, routingGraphOf } from "../../../src/layers/graph/index.ts"
import * as MemoryStore from "../../../src/layers/store/MemoryStore.ts"
import { makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { NetworkGraph } from "../../../src/services/NetworkGraph.ts"
import { addressesOf, aliasText, colorOf, generateGossip, scidOf, type Snapshot, SNAPSHOT_TIME, snapshotDifferences } from "../../protocol/gossip/generate.ts"

const snapshot: Snapshot = JSON.parse(
  gunzipSync(readFileSync(new URL("../../protocol/gossip/data/ln-graph-subset.json.gz", import.meta.url))).toString("utf8")
)
const native = loadNativeSecp256k1()
// The fastest available: the signatures are the same bytes with every implementation.
const secp: Secp256k1 = Result.isSuccess(native) ? native.success : nobleSecp256k1
const network = Networks.regtest
const gossip = generateGossip(secp, snapshot, { seed: new TextEncoder().encode("gossip-test-seed"), chainHash: network.chainHash })
const config = { secp, network }

const ingestAll = Effect.gen(function*() {
  const graph = yield* NetworkGraph
  for (const raw of gossip.channelAnnouncements) {
    // features are empty: the short channel id is at a fixed offset
    const scid = new DataView(raw.buffer, raw.byteOffset).getBigUint64(2 + 256 + 2 + 32)
    yield* graph.apply(raw, { capacitySat: capacityOf(scid) })
  }
  for (const raw of gossip.channelUpdates) yield* graph.apply(raw)
  for (const raw of gossip.nodeAnnouncements) yield* graph.apply(raw)
})

const capacityIndex = new Map<bigint, bigint>([...gossip.capacities].map(([k, v]) => [BigInt(k), v]))
const capacityOf = (scid: bigint): bigint => {
  const c = capacityIndex.get(scid)
  if (c === undefined) throw new Error(`no capacity for ${scid}`)
  return c
}

/** Compares the graph with the snapshot; returns the number of policies checked. */
const expectEqualsSnapshot = (channels: ReadonlyArray<ChannelView>, nodes: ReadonlyArray<NodeView>, byNode: (id: Uint8Array) => NodeView | undefined) => {
  assert.strictEqual(channels.length, snapshot.channels.length)
  const byScid = new Map(channels.map((c) => [BigInt(c.shortChannelId), c]))
  let policies = 0
  const used = new Set<number>()
  for (const [chanIndex, a, b, capacitySat, aToB, bToA] of snapshot.channels) {
    used.add(a)
    used.add(b)
    const c = byScid.get(BigInt(scidOf(chanIndex)))
    if (c === undefined) throw new Error(`channel ${chanIndex} missing`)
    const idA = gossip.nodeIds[a] ?? new Uint8Array(0)
    const idB = gossip.nodeIds[b] ?? new Uint8Array(0)
    const aIs1 = toHex(c.nodeId1) === toHex(idA)
    assert.deepStrictEqual(new Set([toHex(c.nodeId1), toHex(c.nodeId2)]), new Set([toHex(idA), toHex(idB)]))
    assert.strictEqual(c.capacitySat, BigInt(capacitySat))
    const check = (dir: readonly [number, number, number, number, number, number], got: ChannelView["directions"][0]) => {
      if (dir[5] === 0) {
        assert.isUndefined(got)
        return
      }
      if (got === undefined) throw new Error(`channel ${chanIndex}: policy missing`)
      assert.deepStrictEqual(
        [got.feeBaseMsat, got.feeProportionalMillionths, got.cltvExpiryDelta, got.htlcMinimumMsat, got.htlcMaximumMsat, got.enabled],
        [dir[0], dir[1], dir[2], BigInt(dir[3]), BigInt(dir[4]), true]
      )
      policies++
    }
    check(aToB, c.directions[aIs1 ? 0 : 1])
    check(bToA, c.directions[aIs1 ? 1 : 0])
  }
  assert.strictEqual(nodes.length, used.size)
  for (const i of used) {
    const n = byNode(gossip.nodeIds[i] ?? new Uint8Array(0))
    if (n?.announcement === undefined) throw new Error(`node ${i} missing or not announced`)
    assert.strictEqual(n.announcement.alias, aliasText(snapshot.node_aliases[i] ?? ""))
    assert.deepStrictEqual(n.announcement.rgbColor, colorOf(i))
    assert.deepStrictEqual(n.announcement.addresses, addressesOf(i))
  }
  return policies
}

const atSnapshotTime = <A, E, R>(eff: Effect.Effect<A, E, R>) => TestClock.setTime(SNAPSHOT_TIME * 1000).pipe(Effect.andThen(eff))

describe("generated network ingest", () => {
  it.effect("every message is accepted with its signatures checked, and the graph equals the snapshot", () =>
    atSnapshotTime(Effect.gen(function*() {
      yield* ingestAll
      const graph = yield* NetworkGraph
      const channels = yield* graph.channels
      const nodes = yield* graph.nodes
      const byHex = new Map(nodes.map((n) => [toHex(n.nodeId), n]))
      const policies = expectEqualsSnapshot(channels, nodes, (id) => byHex.get(toHex(id)))
      assert.strictEqual(policies, gossip.channelUpdates.length)
      // The comparison the benchmark runs on the whole network agrees, and sees a change.
      const compared = snapshotDifferences(snapshot, gossip, { channels, nodes })
      assert.deepStrictEqual(compared, { differences: [], policies })
      const [dropped, ...others] = channels
      assert.isDefined(dropped)
      assert.include(snapshotDifferences(snapshot, gossip, { channels: others, nodes }).differences.join("\n"), `${others.length} channels`)
      // The router's view has every enabled, routable direction.
      const routing = routingGraphOf(channels, nodes)
      assert.isAbove(routing.edgeCount, 0)
    })).pipe(Effect.provide(MemoryNetworkGraph.layerEphemeral(config))))

  it.effect("a message with one flipped signature bit is refused and changes nothing", () =>
    atSnapshotTime(Effect.gen(function*() {
      const graph = yield* NetworkGraph
      const raw = gossip.channelAnnouncements[0] ?? new Uint8Array(0)
      for (const at of [2, 2 + 64, 2 + 128, 2 + 192]) {
        const bad = raw.slice()
        bad[at + 10] = (bad[at + 10] ?? 0) ^ 1
        const r = yield* Effect.result(graph.apply(bad))
        assert.isTrue(Result.isFailure(r) && r.failure._tag === "InvalidSignature")
      }
      assert.strictEqual((yield* graph.stats).channels, 0)
    })).pipe(Effect.provide(MemoryNetworkGraph.layerEphemeral(config))))

  it.effect("saved through Store and loaded back equal (without the signature checks)", () => {
    const data = makeMemoryStoreData() // one store, two graph instances over it
    const graphLayer = MemoryNetworkGraph.layer(config).pipe(Layer.provide(MemoryStore.layer(data)))
    return atSnapshotTime(Effect.gen(function*() {
      const first = yield* Effect.gen(function*() {
        yield* ingestAll
        const graph = yield* NetworkGraph
        yield* graph.save
        return { channels: yield* graph.channels, nodes: yield* graph.nodes }
      }).pipe(Effect.provide(graphLayer))
      const second = yield* Effect.gen(function*() {
        const graph = yield* NetworkGraph
        return { channels: yield* graph.channels, nodes: yield* graph.nodes }
      }).pipe(Effect.provide(graphLayer))
      const sortC = (cs: ReadonlyArray<ChannelView>) => [...cs].sort((x, y) => (x.shortChannelId < y.shortChannelId ? -1 : 1))
      assert.deepStrictEqual(sortC(second.channels), sortC(first.channels))
      const sortN = <N extends { nodeId: Uint8Array }>(ns: ReadonlyArray<N>) => [...ns].sort((x, y) => (toHex(x.nodeId) < toHex(y.nodeId) ? -1 : 1))
      assert.deepStrictEqual(sortN(second.nodes), sortN(first.nodes))
    }))
  })
})
