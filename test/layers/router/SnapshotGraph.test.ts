import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { gunzipSync } from "node:zlib"
import { Effect, Layer } from "effect"
import { DefaultRouter } from "../../../src/layers/router/DefaultRouter.ts"
import { loadSnapshotFile, SnapshotGraph, snapshotFromBytes } from "../../../src/layers/router/SnapshotGraph.ts"
import { compareBytes, fromHex } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { type ChannelInfo, directionKey, type FirstHop } from "../../../src/protocol/routing/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { Router, RouterGraph, type RouteRequest } from "../../../src/services/Router.ts"
import { violations } from "../../protocol/routing/fixtures.ts"

const FILE = fileURLToPath(new URL("../../data/ln-graph-2026-02-03.json.gz", import.meta.url))

/** The snapshot read independently of the reader under test, for the route checker. */
const channelsOf = (): { ids: Array<string>; channels: Array<ChannelInfo> } => {
  const json = JSON.parse(gunzipSync(readFileSync(FILE)).toString("utf8")) as {
    node_ids: Array<string>
    channels: Array<[number, number, number, number, Array<number>, Array<number>]>
  }
  const dir = (d: Array<number>) =>
    d[5] === 1
      ? {
        feeBaseMsat: d[0] ?? 0,
        feeProportionalMillionths: d[1] ?? 0,
        cltvExpiryDelta: d[2] ?? 0,
        htlcMinimumMsat: BigInt(d[3] ?? 0),
        htlcMaximumMsat: BigInt(d[4] ?? 0),
        enabled: true
      }
      : undefined
  return {
    ids: json.node_ids,
    channels: json.channels.map(([i, a, b, cap, ab, ba]) => {
      const na = fromHex(json.node_ids[a] ?? "")
      const nb = fromHex(json.node_ids[b] ?? "")
      const aFirst = compareBytes(na, nb) < 0
      return {
        shortChannelId: shortChannelIdFromParts(0, Math.floor(i / 65536), i % 65536),
        node1: aFirst ? na : nb,
        node2: aFirst ? nb : na,
        capacityMsat: BigInt(cap) * 1000n,
        oneToTwo: aFirst ? dir(ab) : dir(ba),
        twoToOne: aFirst ? dir(ba) : dir(ab)
      }
    })
  }
}

describe("the public graph snapshot", () => {
  it.effect("loads with the counts its README gives", () =>
    Effect.gen(function*() {
      const graph = yield* loadSnapshotFile(FILE)
      assert.strictEqual(graph.nodeCount, 17_324)
      assert.strictEqual(graph.channelCount, 50_808)
      // Enabled directions only.
      assert.strictEqual(graph.edgeCount, 65_810)
      // Channel 0: ACINQ (node 0) -> BLUEIRON (node 2134), ACINQ's side: cltv 144, base fee 1000.
      const acinq = graph.nodeIndex(graph.nodeId(0))
      assert.strictEqual(acinq, 0)
      const zero = shortChannelIdFromParts(0, 0, 0)
      const edges = [0, 1].flatMap((d) => graph.edgesOf(directionKey(zero, d === 0 ? 0 : 1)))
      const fromAcinq = edges.find((e) => graph.edgeSource(e) === 0)
      assert.isDefined(fromAcinq)
      if (fromAcinq === undefined) return
      assert.strictEqual(graph.edgeTarget(fromAcinq), 2134)
      assert.strictEqual(graph.edgeCltvDelta(fromAcinq), 144)
      assert.strictEqual(graph.edgeFeeBaseMsat(fromAcinq), 1000)
    }).pipe(Effect.provide(NodeServices.layer)))

  it("refuses a malformed snapshot", () => {
    assert.strictEqual(snapshotFromBytes(new TextEncoder().encode("{")).pipe((r) => r._tag), "Failure")
    assert.strictEqual(snapshotFromBytes(new TextEncoder().encode('{"node_ids":["zz"],"channels":[]}'))._tag, "Failure")
    assert.strictEqual(snapshotFromBytes(new TextEncoder().encode('{"node_ids":[],"channels":[[0,0,1,5,[],[]]]}'))._tag, "Failure")
  })

  it.effect("routes over it with the probabilistic scorer, one path and split", () => {
    const { ids, channels } = channelsOf()
    const node = (i: number) => fromHex(ids[i] ?? "")
    return Effect.gen(function*() {
      const router = yield* Router
      // ACINQ -> BLUEIRON, 100k sat.
      const single: RouteRequest = {
        payer: node(0),
        payee: node(2134),
        amountMsat: msat(100_000_000n),
        currentHeight: 900_000,
        finalCltvExpiryDelta: 18,
        maxFeeMsat: msat(1_000_000n)
      }
      const one = yield* router.findRoute(single)
      assert.strictEqual(one.paths.length, 1)
      assert.deepStrictEqual(violations(channels, single, one), [])
      // Kraken (node 3) with three of its channels as first hops of 0.4 BTC each, paying 1 BTC.
      const graph = yield* (yield* RouterGraph).current
      const out: Array<number> = []
      for (let e = 0; e < graph.edgeCount && out.length < 3; e++) {
        if (graph.edgeSource(e) === 3 && graph.edgeCapacityMsat(e) >= 80_000_000_000) out.push(e)
      }
      assert.strictEqual(out.length, 3)
      const firstHops: Array<FirstHop> = out.map((e, i) => ({
        channelId: new Uint8Array(32).fill(i + 1),
        shortChannelId: graph.edgeScid(e),
        counterpartyNodeId: graph.nodeId(graph.edgeTarget(e)),
        outboundMsat: msat(40_000_000_000n),
        htlcMinimumMsat: msat(1n)
      }))
      const split: RouteRequest = {
        payer: node(3),
        payee: node(0),
        amountMsat: msat(100_000_000_000n),
        currentHeight: 900_000,
        finalCltvExpiryDelta: 18,
        firstHops,
        payeeFeatures: [17]
      }
      const mpp = yield* router.findRoute(split)
      assert.isAtLeast(mpp.paths.length, 3)
      assert.deepStrictEqual(violations(channels, split, mpp), [])
    }).pipe(
      Effect.provide(
        DefaultRouter.layerProbabilistic.pipe(Layer.provideMerge(SnapshotGraph.layer(FILE)), Layer.provide(NodeServices.layer))
      )
    )
  })
})
