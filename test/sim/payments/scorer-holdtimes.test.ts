/**
 * Hold times from attribution data feed the router's scorer (BOLT 4 "Returning Errors", origin
 * node: "score nodes on latency"; "When a zero hold time is reported, the origin node should
 * distribute any potential latency penalty across multiple nodes"): how the delay is shared
 * between the hops (`delayShares`, unit and property tests), the probabilistic scorer steering
 * the default router away from a node that held an HTLC long and forgetting it with time, and,
 * over our nodes, a forwarder that holds a payment for 5 s is avoided by the payer's next payment,
 * and a payee restarted mid-claim still returns its hold time (BOLT 2: with
 * `option_attribution_data`, every `update_fulfill_htlc` carries `attribution_data`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { DefaultRouter } from "../../../src/layers/router/DefaultRouter.ts"
import { makeProbabilisticScorer } from "../../../src/layers/router/ProbabilisticScorer.ts"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { buildRoutingGraph } from "../../../src/protocol/routing/graph.ts"
import { delayShares, HoldTimeModel } from "../../../src/protocol/routing/holdtimes.ts"
import { LiquidityModel } from "../../../src/protocol/routing/probabilistic.ts"
import { preimageOf } from "../../../src/protocol/monitor/query.ts"
import { type ChannelId, msat } from "../../../src/protocol/units.ts"
import { Router, RouterGraph } from "../../../src/services/Router.ts"
import { Scorer } from "../../../src/services/Scorer.ts"
import { channel, nodeId, policy, scid } from "../../protocol/routing/fixtures.ts"
import { macrotask, PaymentNet } from "./PaymentNet.ts"
import { succeeded } from "./outcomes.ts"

const turns = (n: number) => Effect.forEach(Array.from({ length: n }), () => macrotask, { discard: true })

describe("delayShares: a hop's delay is what it reported minus the next report", () => {
  it("honest, shrinking reports: each forwarder gets its own delay; the payee none", () => {
    // 100 ms units: hop 0 held 5 s in all, hop 1 4 s, hop 2 (payee) 0.5 s.
    assert.deepStrictEqual(delayShares([50, 40, 5], 3), [1000, 3500, undefined])
  })

  it("a zero report shares the delay above it with the node that reported it (BOLT 4: distribute)", () => {
    // Hop 1 reported 0: hops 0 and 1 share 5 s - 0.5 s.
    assert.deepStrictEqual(delayShares([50, 0, 5], 3), [2250, 2250, undefined])
    // A report below a later one cannot be true: it counts as zero.
    assert.deepStrictEqual(delayShares([50, 2, 5], 3), [2250, 2250, undefined])
  })

  it("reports that stop early (a node without attribution data): the rest of the path shares the last one", () => {
    assert.deepStrictEqual(delayShares([60], 3), [2000, 2000, undefined])
    // Nothing reported but zeros: nobody learns anything.
    assert.deepStrictEqual(delayShares([0, 0, 0], 3), [undefined, undefined, undefined])
    assert.deepStrictEqual(delayShares([], 2), [undefined, undefined])
  })

  it("property: shares are never negative, add up to at most the first trusted report, and honest reports give each its own delay", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { maxLength: 20 }), fc.integer({ min: 1, max: 20 }), (reported, length) => {
        const holdTimes = reported.slice(0, length)
        const shares = delayShares(holdTimes, length)
        assert.strictEqual(shares.length, length)
        assert.isUndefined(shares[length - 1])
        for (const s of shares) if (s !== undefined) assert.isAtLeast(s, 0)
        // Never more blame in all than the first trusted report (the payee's share is dropped).
        const laterMax = (k: number) => Math.max(0, ...holdTimes.slice(k + 1))
        const first = holdTimes.findIndex((h, k) => h > 0 && h >= laterMax(k))
        const total = shares.reduce<number>((sum, s) => sum + (s ?? 0), 0)
        assert.isAtMost(total, first < 0 ? 0 : holdTimes[first]! * 100 + 1e-6)
        if (first < 0) assert.isTrue(shares.every((s) => s === undefined), "nothing learned from zeros")
        // Honest reports (every one positive, shrinking, all there): each forwarder's share is its own delay.
        const sorted = [...holdTimes].map((h) => h + 1).sort((a, b) => b - a)
        if (sorted.length === length) {
          const honest = delayShares(sorted, length)
          for (let k = 0; k + 1 < length; k++) assert.approximately(honest[k]!, (sorted[k]! - sorted[k + 1]!) * 100, 1e-9)
        }
      })
    )
  })
})

/** Payer 0, forwarders 1 and 2 (the same policy), payee 3. */
const diamond = buildRoutingGraph([
  channel(1, 0, 1, policy(), policy(), 1_000_000),
  channel(2, 1, 3, policy(), policy(), 1_000_000),
  channel(3, 0, 2, policy(), policy(), 1_000_000),
  channel(4, 2, 3, policy(), policy(), 1_000_000)
])
const request = { payer: nodeId(0), payee: nodeId(3), amountMsat: msat(10_000_000n), currentHeight: 800_000, finalCltvExpiryDelta: 18 }

describe("the probabilistic scorer learns from hold times", () => {
  it.effect("a forwarder that held the HTLC 5 s is avoided by the next route; the penalty fades with the half-life", () => {
    const holds = new HoldTimeModel()
    const router = DefaultRouter.layer.pipe(
      Layer.provide(Layer.merge(RouterGraph.layerFixed(diamond), Layer.succeed(Scorer, makeProbabilisticScorer(new LiquidityModel(), holds))))
    )
    return Effect.gen(function*() {
      const r = yield* Router
      const first = yield* r.findRoute(request)
      const slow = first.paths[0].hops[0].nodeId
      const other = equalBytes(slow, nodeId(1)) ? nodeId(2) : nodeId(1)
      // The same fee either way: only the scorer decides.
      assert.strictEqual(first.feeMsat, 2000n)
      // The slow forwarder reported 5 s, the payee 0.1 s: the forwarder's own delay is 4.9 s.
      yield* r.reportPath(first.paths[0], { _tag: "Succeeded", holdTimes: [50, 1] })
      assert.strictEqual(holds.delayMs(slow, 0), 4900)
      assert.strictEqual(holds.delayMs(other, 0), 0)
      const second = yield* r.findRoute(request)
      assert.isTrue(equalBytes(second.paths[0].hops[0].nodeId, other), "the next route avoids the slow node")
      assert.strictEqual(second.feeMsat, 2000n)
      // A fast report on the other path (0.3 s in all) teaches nothing bad of it.
      yield* r.reportPath(second.paths[0], { _tag: "ChannelFailed", hopIndex: 1, permanent: false, holdTimes: [3, 1] })
      assert.strictEqual(holds.delayMs(other, 0), 200)
      // Four half-lives later the slow node's 4.9 s is ~0.3 s, within what forwarding may take: no penalty left.
      yield* TestClock.adjust("24 hours")
      assert.isBelow(holds.delayMs(slow, 24 * 3600 * 1000), 1000)
      assert.isUndefined(holds.edgePenalty(diamond, 24 * 3600 * 1000))
    }).pipe(Effect.provide(router))
  })

  it("the penalty is per second beyond the free allowance, flat plus proportional to the amount", () => {
    const holds = new HoldTimeModel({ freeMs: 1000, penaltyMsatPerSecond: 1000, penaltyPpmPerSecond: 10, halfLifeMs: 3_600_000, maxLearned: 2 })
    holds.reported([nodeId(1), nodeId(3)], [30, 0], 0)
    // Node 1 and the payee share 3 s (the payee reported 0): 1.5 s each, the payee's dropped.
    assert.strictEqual(holds.delayMs(nodeId(1), 0), 1500)
    assert.strictEqual(holds.size, 1)
    const penalty = holds.edgePenalty(diamond, 0)
    if (penalty === undefined) return assert.fail("a penalty")
    for (let e = 0; e < diamond.edgeCount; e++) {
      const fromSlow = equalBytes(diamond.nodeId(diamond.edgeSource(e)), nodeId(1))
      // 0.5 s beyond the allowance: 0.5 * (1000 + 1e7 * 10 / 1e6) = 550 msat on the slow node's edges only.
      assert.strictEqual(penalty(e, 10_000_000), fromSlow ? 550 : 0)
    }
    // Bounded: the least recently updated node is forgotten first.
    holds.reported([nodeId(2), nodeId(5), nodeId(3)], [40, 20, 0], 1)
    assert.strictEqual(holds.size, 2)
    assert.strictEqual(holds.delayMs(nodeId(1), 1), 0)
  })
})

describe("nodes only a route hint knows", () => {
  it.effect("a slow node behind a route hint is penalised like one of the graph", () => {
    const holds = new HoldTimeModel()
    const router = DefaultRouter.layer.pipe(
      Layer.provide(Layer.merge(RouterGraph.layerFixed(diamond), Layer.succeed(Scorer, makeProbabilisticScorer(new LiquidityModel(), holds))))
    )
    // The payee 9 is private: reached from forwarder 1 through node 7 (unknown to the graph), or from forwarder 2 directly.
    const hop = (from: number, scidIndex: number) => ({ pubkey: nodeId(from), shortChannelId: scid(scidIndex), feeBaseMsat: 1000, feeProportionalMillionths: 100, cltvExpiryDelta: 40 })
    const hinted = { ...request, payee: nodeId(9), routeHints: [[hop(1, 50), hop(7, 51)], [hop(2, 52)]] }
    return Effect.gen(function*() {
      const r = yield* Router
      const first = yield* r.findRoute(hinted)
      // Cheaper in fees: 0 -> 2 -> 9 (one forwarder less).
      assert.isTrue(equalBytes(first.paths[0].hops[0].nodeId, nodeId(2)))
      // Node 2 reports 8 s: the longer way through 1 and 7 is taken instead.
      yield* r.reportPath(first.paths[0], { _tag: "Succeeded", holdTimes: [80, 1] })
      const second = yield* r.findRoute(hinted)
      assert.deepStrictEqual(second.paths[0].hops.map((h) => equalBytes(h.nodeId, nodeId(7))), [false, true, false])
      // Node 7 (a hint's node) reports 20 s of its own: back to node 2, whose 7.9 s cost less.
      yield* r.reportPath(second.paths[0], { _tag: "Succeeded", holdTimes: [210, 201, 1] })
      assert.strictEqual(holds.delayMs(nodeId(7), 0), 20_000)
      const third = yield* r.findRoute(hinted)
      assert.isTrue(equalBytes(third.paths[0].hops[0].nodeId, nodeId(2)))
    }).pipe(Effect.provide(router))
  })
})

describe("over our nodes", () => {
  it.effect("a forwarder holds a payment 5 s: its hold time reaches the payer's scorer, the next payment goes around it", () =>
    Effect.acquireUseRelease(PaymentNet.make("scorer-holdtimes", 4), (net) =>
      Effect.gen(function*() {
        // The payer routes with the probabilistic scorer (the harness's default scores fees only).
        const holds = new HoldTimeModel()
        const scorer = Layer.succeed(Scorer, makeProbabilisticScorer(new LiquidityModel(), holds))
        const harnessRouter = net.routerLayer.bind(net)
        net.routerLayer = (me) =>
          me !== 0 ? harnessRouter(me) : DefaultRouter.layer.pipe(
            Layer.provide(Layer.merge(Layer.succeed(RouterGraph, RouterGraph.of({ current: Effect.sync(() => buildRoutingGraph(net.graph())) })), scorer))
          )
        yield* net.restart(0)
        yield* net.channel(0, 1)
        yield* net.channel(1, 3)
        yield* net.channel(0, 2)
        yield* net.channel(2, 3)

        const first = yield* net.pay(3).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "slow" } })
        const fiber = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(first.invoice)))
        // Message by message until a forwarder passes the HTLC on to the payee; then 5 s pass.
        const forwarder = () => net.h.wire.find((m) => m.to === 3 && m.message._tag === "UpdateAddHtlc")?.from
        for (let step = 0; step < 1000 && forwarder() === undefined; step++) {
          yield* net.h.deliverNext()
          for (let k = 0; k < 5; k++) yield* macrotask
        }
        const slow = forwarder()
        if (slow === undefined) return assert.fail("no forwarder passed the HTLC on")
        yield* TestClock.adjust("5 seconds")
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(fiber)
        if (!Exit.isSuccess(exit)) return assert.fail(`payment failed: ${String(exit)}`)
        // The forwarder held it 5 s; the payee got it after the 5 s and answered at once.
        assert.deepStrictEqual(exit.value.holdTimes, [[50, 0]])
        // The payee's 0 leaves it a share (BOLT 4: distribute), the forwarder keeps half: 2.5 s.
        const now = yield* Clock.currentTimeMillis
        assert.strictEqual(holds.delayMs(net.h.nodeIds[slow]!, now), 2500)

        const second = yield* net.pay(3).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "around" } })
        const again = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(second.invoice)))
        yield* net.runUntil(() => again.pollUnsafe() !== undefined)
        const done = yield* Fiber.join(again)
        if (!Exit.isSuccess(done)) return assert.fail(`payment failed: ${String(done)}`)
        const firstHop = done.value.routes[0]?.hops[0]
        if (firstHop === undefined) return assert.fail("a route")
        const via = net.nodeIndex(firstHop.nodeId)
        assert.notStrictEqual(via, slow, "the second payment avoids the slow forwarder")
        assert.include([1, 2], via)
      }), (net) => net.shutdown))

  it.effect("a payee restarted mid-claim fulfils with attribution_data still (its onion peeled again): the payer learns both hops' hold times", () =>
    Effect.acquireUseRelease(PaymentNet.make("holdtimes-reclaim", 3), (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "reclaim" } })
        const monitorHas = (channelId: ChannelId) =>
          Effect.gen(function*() {
            const manager = net.h.node(2).manager
            if (manager === undefined) return yield* Effect.die(new Error("manager backend only"))
            const m = yield* Effect.orDie(manager.monitorState(channelId))
            return m !== undefined && preimageOf(m, inv.paymentHash) !== undefined
          })
        /** The payee's writes held, but those of the channel while its monitor lacks the preimage. */
        const untilPreimage = Effect.gen(function*() {
          for (let round = 0; round < 200; round++) {
            yield* net.h.quiesce({ completeWrites: false })
            yield* turns(5)
            if (yield* monitorHas(c12.channelId)) return
            const control = net.h.node(2).control
            if (control === undefined) return yield* Effect.die(new Error("manager backend only"))
            yield* control.release(c12.channelId)
            yield* turns(5)
          }
          return yield* Effect.die(new Error("the preimage did not reach the monitor"))
        })
        const fulfillsFrom2 = () => net.h.wire.filter((m) => m.from === 2 && m.message._tag === "UpdateFulfillHtlc")
        yield* net.h.setPersistence(2, "InProgress")
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        yield* untilPreimage
        assert.strictEqual((yield* net.pay(2).invoice(inv.paymentHash))?.status, "claiming")
        assert.strictEqual(fulfillsFrom2().length, 0)
        // The payee restarts mid-claim: the part is delivered again and the claim finished by `reclaim`.
        yield* net.restart(2)
        yield* net.h.connect(1, 2)
        yield* untilPreimage
        yield* net.h.setPersistence(2, "Completed")
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const ok = succeeded(yield* Fiber.join(paying))
        // The payee's fulfill carried attribution data: the payer verified both hops' HMACs.
        const fulfill = fulfillsFrom2().at(-1)?.message
        assert.isTrue(fulfill?._tag === "UpdateFulfillHtlc" && fulfill.tlvs.attributionData?.length === 920)
        assert.strictEqual(ok.holdTimes?.[0]?.length, 2)
      }), (net) => net.shutdown))
})
