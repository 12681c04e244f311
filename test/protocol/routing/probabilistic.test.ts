import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import {
  afterCarried,
  afterFailed,
  buildRoutingGraph,
  decayedBounds,
  decayFactor,
  defaultProbabilisticConfig,
  directionKey,
  LiquidityModel,
  prepareRequest,
  successProbability,
  type ScoredHop
} from "../../../src/protocol/routing/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { channel, nodeId, policy, route, scid } from "./fixtures.ts"

const HOUR = 3600 * 1000
const H = defaultProbabilisticConfig.halfLifeMs

describe("liquidity bounds", () => {
  it("success probability is uniform between the bounds", () => {
    assert.strictEqual(successProbability(10, 20, 100), 1)
    assert.strictEqual(successProbability(100, 20, 100), 0)
    assert.strictEqual(successProbability(60, 20, 100), 0.5)
  })
  it("a failure lowers the upper bound, a carried HTLC raises the lower one, both fade with time", () => {
    const failed = afterFailed(undefined, 400, false, 0, 1000, H)
    assert.deepStrictEqual(failed, { lowerMsat: 0, upperMsat: 400, updatedMs: 0 })
    // Half-way back to the capacity after one half-life.
    assert.deepStrictEqual(decayedBounds(failed, H, 1000, H), { lower: 0, upper: 700 })
    const carried = afterCarried(failed, 300, 0, 1000, H)
    assert.deepStrictEqual(carried, { lowerMsat: 300, upperMsat: 400, updatedMs: 0 })
    assert.deepStrictEqual(decayedBounds(carried, 2 * H, 1000, H), { lower: 75, upper: 850 })
    // Newer knowledge wins a contradiction.
    assert.strictEqual(afterFailed(carried, 200, false, 0, 1000, H).lowerMsat, 0)
    assert.strictEqual(afterCarried(failed, 500, 0, 1000, H).upperMsat, Infinity)
    assert.strictEqual(afterFailed(undefined, 400, true, 0, 1000, H).upperMsat, 0)
    assert.strictEqual(decayFactor(H, H), 0.5)
  })
})

describe("LiquidityModel", () => {
  // 1 -> 2 -> 3 is cheaper than 1 -> 4 -> 3 by ~20 sat; channels of 1M sat.
  const channels = [
    channel(1, 1, 2, policy(), policy(), 1_000_000),
    channel(2, 2, 3, policy({ feeBaseMsat: 1000, feeProportionalMillionths: 0 }), policy(), 1_000_000),
    channel(3, 1, 4, policy(), policy(), 1_000_000),
    channel(4, 4, 3, policy({ feeBaseMsat: 21_000, feeProportionalMillionths: 0 }), policy(), 1_000_000)
  ]
  const graph = buildRoutingGraph(channels)
  const req = { payer: nodeId(1), payee: nodeId(3), amountMsat: msat(100_000_000n), currentHeight: 1000, finalCltvExpiryDelta: 18 }
  const via = (model: LiquidityModel, now: number) => {
    const rg = prepareRequest(graph, req)
    if (Result.isFailure(rg)) throw new Error("bad request")
    const r = route(channels, req, model.edgeScorer(rg.success, now))
    return Result.isSuccess(r) ? r.success.paths[0].hops[0].nodeId[32] : undefined
  }
  const hop = (index: number, from: number, to: number): ScoredHop => ({
    shortChannelId: scid(index),
    direction: from < to ? 0 : 1,
    amountMsat: msat(100_001_000n),
    capacityMsat: 1_000_000_000
  })

  it("learns from a failure to route around it, and forgets with time", () => {
    const model = new LiquidityModel()
    assert.strictEqual(via(model, 0), 2)
    // Node 2 could not forward on 2 -> 3: channel 1 -> 2 carried the HTLC, 2 -> 3 did not.
    model.pathFailed([hop(1, 1, 2), hop(2, 2, 3)], 1, false, 0)
    assert.strictEqual(model.bounds(directionKey(scid(2), 0))?.upperMsat, 100_001_000)
    assert.strictEqual(model.bounds(directionKey(scid(1), 0))?.lowerMsat, 100_001_000)
    assert.strictEqual(via(model, 0), 4)
    assert.strictEqual(via(model, HOUR / 6), 4)
    // Eight half-lives later the bound is almost back to the capacity.
    assert.strictEqual(via(model, 48 * HOUR), 2)
  })
  it("a permanent failure makes the channel the last resort", () => {
    const model = new LiquidityModel()
    model.pathFailed([hop(1, 1, 2), hop(2, 2, 3)], 1, true, 0)
    assert.strictEqual(model.bounds(directionKey(scid(2), 0))?.upperMsat, 0)
    assert.strictEqual(via(model, 0), 4)
  })
  it("a success makes the amount certain on every hop", () => {
    const model = new LiquidityModel()
    model.pathSucceeded([hop(3, 1, 4), hop(4, 4, 3)], 0)
    // 4 -> 3 is direction 1: node 3 is node_id_1.
    assert.strictEqual(model.bounds(directionKey(scid(4), 1))?.lowerMsat, 100_001_000)
    const rg = prepareRequest(graph, req)
    if (Result.isFailure(rg)) throw new Error("bad request")
    const scorer = model.edgeScorer(rg.success, 0)
    const edge = graph.edgesOf(directionKey(scid(4), 1))[0] ?? -1
    const other = graph.edgesOf(directionKey(scid(2), 0))[0] ?? -1
    // Only the flat hop penalty and the CLTV cost remain on the channel that carried it.
    assert.isBelow(scorer.penaltyMsat(edge, 100_000_000), scorer.penaltyMsat(other, 100_000_000))
    assert.isBelow(scorer.penaltyMsat(edge, 100_000_000), defaultProbabilisticConfig.hopPenaltyMsat + 1000)
    // More than the capacity is impossible.
    assert.strictEqual(scorer.penaltyMsat(edge, 1_000_000_001), Infinity)
  })
})

describe("a scored search that misses a feasible path", () => {
  it("falls back to ranking by fees when penalties push the amount past our channel's liquidity", () => {
    // From our peer 2: via 4 costs 10 sat in fees over a big channel; via 5 is free but its
    // channel is barely big enough, so the scorer prefers 4. Our channel to 2 can carry the
    // amount plus 5 sat: only the path via 5 fits.
    const free = policy({ feeBaseMsat: 0, feeProportionalMillionths: 0 })
    const channels = [
      channel(1, 2, 4, free, policy(), 1_000_000_000),
      channel(2, 4, 3, policy({ feeBaseMsat: 10_000, feeProportionalMillionths: 0 }), policy(), 1_000_000_000),
      channel(3, 2, 5, free, policy(), 1_000_000_000),
      channel(4, 5, 3, free, policy(), 101_000)
    ]
    const req = {
      payer: nodeId(1),
      payee: nodeId(3),
      amountMsat: msat(100_000_000n),
      currentHeight: 1000,
      finalCltvExpiryDelta: 18,
      firstHops: [{
        channelId: new Uint8Array(32),
        shortChannelId: scid(9),
        counterpartyNodeId: nodeId(2),
        outboundMsat: msat(100_005_000n),
        htlcMinimumMsat: msat(1n)
      }]
    }
    const model = new LiquidityModel()
    const rg = prepareRequest(buildRoutingGraph(channels), req)
    if (Result.isFailure(rg)) throw new Error("bad request")
    const scorer = model.edgeScorer(rg.success, 0)
    // The scorer alone would take 4 (cheaper in fees + penalty) ...
    const via4 = rg.success.edgesOf(directionKey(scid(2), 1))[0] ?? -1
    const via5 = rg.success.edgesOf(directionKey(scid(4), 1))[0] ?? -1
    assert.isBelow(10_000 + scorer.penaltyMsat(via4, 100_000_000), scorer.penaltyMsat(via5, 100_000_000))
    // ... but the route goes through 5, the only one our channel can carry.
    const r = route(channels, req, scorer)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) assert.deepStrictEqual(r.success.paths[0].hops.map((h) => h.nodeId[32]), [2, 5, 3])
  })
})

describe("LiquidityModel memory", () => {
  it("remembers at most maxLearned directions, forgetting the least recently updated", () => {
    const model = new LiquidityModel({ ...defaultProbabilisticConfig, maxLearned: 2 })
    const hop = (i: number): ScoredHop => ({ shortChannelId: scid(i), direction: 0, amountMsat: msat(1000n), capacityMsat: 1e9 })
    model.pathSucceeded([hop(1)], 0)
    model.pathSucceeded([hop(2)], 1)
    model.pathSucceeded([hop(1)], 2)
    model.pathSucceeded([hop(3)], 3)
    assert.strictEqual(model.size, 2)
    assert.isUndefined(model.bounds(directionKey(scid(2), 0)))
    assert.isDefined(model.bounds(directionKey(scid(1), 0)))
    assert.isDefined(model.bounds(directionKey(scid(3), 0)))
  })
})
