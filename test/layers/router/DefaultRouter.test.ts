import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, References, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { DefaultRouter } from "../../../src/layers/router/DefaultRouter.ts"
import { buildRoutingGraph, pathOnionHops } from "../../../src/protocol/routing/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { NoRoute, Router, RouterGraph, type RouteRequest } from "../../../src/services/Router.ts"
import { Scorer } from "../../../src/services/Scorer.ts"
import { channel, nodeId, policy, scid } from "../../protocol/routing/fixtures.ts"
import { recordingTracer } from "../../support/tracer.ts"

// 1 -> 2 -> 3 is cheaper than 1 -> 4 -> 3 by 20 sat; channels of 1M sat.
const channels = [
  channel(1, 1, 2, policy(), policy(), 1_000_000),
  channel(2, 2, 3, policy({ feeBaseMsat: 1000, feeProportionalMillionths: 0 }), policy(), 1_000_000),
  channel(3, 1, 4, policy(), policy(), 1_000_000),
  channel(4, 4, 3, policy({ feeBaseMsat: 21_000, feeProportionalMillionths: 0 }), policy(), 1_000_000)
]
const graph = RouterGraph.layerFixed(buildRoutingGraph(channels))
const request: RouteRequest = {
  payer: nodeId(1),
  payee: nodeId(3),
  amountMsat: msat(100_000_000n),
  currentHeight: 1000,
  finalCltvExpiryDelta: 18
}
const firstVia = Effect.gen(function*() {
  const router = yield* Router
  const route = yield* router.findRoute(request)
  return route.paths[0].hops[0].nodeId[32]
})

describe("DefaultRouter with the probabilistic scorer", () => {
  it.effect("learns from a reported failure and forgets it as the Clock moves", () =>
    Effect.gen(function*() {
      const router = yield* Router
      const route = yield* router.findRoute(request)
      const path = route.paths[0]
      assert.strictEqual(path.hops[0].nodeId[32], 2)
      // The onion the payment layer builds from it: node 2 forwards on channel 2 -> 3.
      const onion = pathOnionHops(path)
      assert.strictEqual(onion[0]?.payload.amtToForward, path.hops[1]?.amountMsat)
      // Node 2 (hops[0]) reports temporary_channel_failure: hop index 1 failed.
      yield* router.reportPath(path, { _tag: "ChannelFailed", hopIndex: 1, permanent: false })
      assert.strictEqual(yield* firstVia, 4)
      yield* TestClock.adjust("48 hours")
      assert.strictEqual(yield* firstVia, 2)
    }).pipe(Effect.provide(DefaultRouter.layerProbabilistic.pipe(Layer.provide(graph)))))

  it.effect("fails with a typed NoRoute", () =>
    Effect.gen(function*() {
      const router = yield* Router
      const failure = yield* Effect.flip(router.findRoute({ ...request, payee: nodeId(99) }))
      assert.instanceOf(failure, NoRoute)
      assert.strictEqual(failure.reason, "NoPath")
      const bad = yield* Effect.flip(router.findRoute({ ...request, amountMsat: msat(0n) }))
      assert.strictEqual(bad.reason, "InvalidRequest")
    }).pipe(Effect.provide(DefaultRouter.layerProbabilistic.pipe(Layer.provide(graph)))))
})

describe("DefaultRouter's span", () => {
  const router = DefaultRouter.layerProbabilistic.pipe(Layer.provide(graph))

  it.effect("one Router.findRoute span per request, with the route's figures, when the fiber traces", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      yield* firstVia
      yield* Effect.flip((yield* Router).findRoute({ ...request, payee: nodeId(99) }))
      assert.deepStrictEqual(spans.map((s) => s.name), ["Router.findRoute", "Router.findRoute"])
      assert.strictEqual(spans[0]!.attributes.get("hops"), 2)
      assert.strictEqual(spans[0]!.attributes.get("feeMsat"), "1000")
      assert.strictEqual(spans[1]!.attributes.get("noRoute"), "NoPath")
    }).pipe(Effect.provide(router), Effect.provideService(Tracer.Tracer, tracer))
  })

  it.effect("none, and no attribute on the caller's span, when the fiber's tracer is off", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      assert.strictEqual(yield* firstVia, 2)
      yield* Effect.flip((yield* Router).findRoute({ ...request, payee: nodeId(99) }))
    }).pipe(
      Effect.provide(router),
      Effect.provideService(References.TracerEnabled, false),
      Effect.withSpan("outer"),
      Effect.provideService(Tracer.Tracer, tracer),
      Effect.andThen(Effect.sync(() => {
        assert.deepStrictEqual(spans.map((s) => s.name), ["outer"])
        assert.deepStrictEqual([...spans[0]!.attributes.keys()], [])
      }))
    )
  })
})

describe("other scorers and routers are a few lines", () => {
  it.effect("a scorer that never routes through one node", () => {
    const avoidNode2 = Layer.succeed(
      Scorer,
      Scorer.of({
        prepare: (g) => Effect.succeed({ penaltyMsat: (edge) => (g.nodeId(g.edgeSource(edge))[32] === 2 ? Infinity : 0) }),
        pathFailed: () => Effect.void,
        pathSucceeded: () => Effect.void
      })
    )
    return Effect.gen(function*() {
      assert.strictEqual(yield* firstVia, 4)
    }).pipe(Effect.provide(DefaultRouter.layer.pipe(Layer.provide([graph, avoidNode2]))))
  })

  it.effect("the fees-only scorer takes the cheapest path and learns nothing", () =>
    Effect.gen(function*() {
      const router = yield* Router
      const route = yield* router.findRoute(request)
      yield* router.reportPath(route.paths[0], { _tag: "ChannelFailed", hopIndex: 1, permanent: false })
      assert.strictEqual(yield* firstVia, 2)
    }).pipe(Effect.provide(DefaultRouter.layer.pipe(Layer.provide([graph, Scorer.layerFeesOnly])))))

  it.effect("a router that only pays our direct peers", () => {
    const directOnly = Layer.succeed(
      Router,
      Router.of({
        findRoute: (req) => {
          const fh = req.firstHops?.find((f) => f.counterpartyNodeId[32] === req.payee[32] && f.outboundMsat >= req.amountMsat)
          if (fh === undefined) return Effect.fail(new NoRoute({ reason: "NoPath", detail: "not a peer" }))
          const hop = {
            shortChannelId: fh.shortChannelId,
            direction: 0 as const,
            nodeId: req.payee,
            amountMsat: req.amountMsat,
            cltvExpiry: req.currentHeight + req.finalCltvExpiryDelta,
            feeMsat: msat(0n),
            cltvExpiryDelta: 0
          }
          const path = { hops: [hop] as const, firstHop: fh, amountMsat: req.amountMsat, feeMsat: msat(0n) }
          return Effect.succeed({ paths: [path] as const, amountMsat: req.amountMsat, feeMsat: msat(0n) })
        },
        reportPath: () => Effect.void
      })
    )
    return Effect.gen(function*() {
      const router = yield* Router
      const fh = {
        channelId: new Uint8Array(32),
        shortChannelId: scid(9),
        counterpartyNodeId: nodeId(3),
        outboundMsat: msat(200_000_000n),
        htlcMinimumMsat: msat(1n)
      }
      const route = yield* router.findRoute({ ...request, firstHops: [fh] })
      assert.strictEqual(route.paths[0].firstHop, fh)
      const none = yield* Effect.flip(router.findRoute({ ...request, firstHops: [] }))
      assert.strictEqual(none.reason, "NoPath")
    }).pipe(Effect.provide(directOnly))
  })
})
