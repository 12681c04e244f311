/**
 * The default `Router`: reads the public graph from `RouterGraph`, lays the request over it
 * (our channels, route hints, exclusions), scores edges through `Scorer`, and runs the backwards
 * Dijkstra / MPP split of src/protocol/routing/search.ts. Path outcomes go to the scorer.
 */
import { Effect, Layer, Result } from "effect"
import { directionKey } from "../../protocol/routing/graph.ts"
import { prepareRequest } from "../../protocol/routing/request.ts"
import type { ScoredHop } from "../../protocol/routing/scorer.ts"
import { defaultSearchConfig, findRoute, type SearchConfig } from "../../protocol/routing/search.ts"
import type { Path } from "../../protocol/routing/types.ts"
import { Router, RouterGraph } from "../../services/Router.ts"
import { Scorer } from "../../services/Scorer.ts"
import { annotateWhenTracing, spanned } from "../observability/spans.ts"
import { ProbabilisticScorer } from "./ProbabilisticScorer.ts"

const makeRouter = (config: SearchConfig) =>
  Effect.gen(function*() {
    const graphs = yield* RouterGraph
    const scorer = yield* Scorer
    // The scorer's capacity estimate of each hop, from the graph (Infinity: a hint's channel).
    const scoredHops = (path: Path) =>
      Effect.map(graphs.current, (graph): ReadonlyArray<ScoredHop> =>
        path.hops.map((hop) => {
          const edge = graph.edgesOf(directionKey(hop.shortChannelId, hop.direction))[0]
          return {
            shortChannelId: hop.shortChannelId,
            direction: hop.direction,
            amountMsat: hop.amountMsat,
            capacityMsat: edge === undefined ? Infinity : graph.edgeCapacityMsat(edge),
            nodeId: hop.nodeId
          }
        }))
    return Router.of({
      // A span per route when the fiber traces (`spanned`), made without captured stack traces (`Effect.fn` makes two per call).
      findRoute: Effect.fnUntraced(function*(request) {
        const graph = yield* graphs.current
        const rg = prepareRequest(graph, request)
        if (Result.isFailure(rg)) return yield* Effect.fail(rg.failure)
        const edgeScorer = yield* scorer.prepare(rg.success)
        const route = findRoute(rg.success, edgeScorer, config)
        if (Result.isFailure(route)) {
          yield* annotateWhenTracing(() => ({ amountMsat: String(request.amountMsat), noRoute: route.failure.reason }))
          return yield* Effect.fail(route.failure)
        }
        yield* annotateWhenTracing(() => ({
          amountMsat: String(request.amountMsat),
          parts: route.success.paths.length,
          feeMsat: String(route.success.feeMsat),
          hops: route.success.paths[0].hops.length
        }))
        return route.success
      }, (self) => spanned(self, "Router.findRoute")),
      reportPath: (path, outcome) =>
        Effect.flatMap(scoredHops(path), (hops) => {
          // Hold times from attribution data (BOLT 4) go to a scorer that learns from them.
          const learnHoldTimes = outcome.holdTimes === undefined || outcome.holdTimes.length === 0 || scorer.holdTimesReported === undefined
            ? Effect.void
            : scorer.holdTimesReported(hops, outcome.holdTimes)
          switch (outcome._tag) {
            case "Succeeded":
            case "ReachedPayee":
              return Effect.andThen(scorer.pathSucceeded(hops), learnHoldTimes)
            case "ChannelFailed":
              return Effect.andThen(scorer.pathFailed(hops, Math.min(Math.max(outcome.hopIndex, 0), hops.length - 1), outcome.permanent), learnHoldTimes)
          }
        })
    })
  })

export const DefaultRouter = {
  /** Needs `RouterGraph` and `Scorer`. */
  layer: Layer.effect(Router, makeRouter(defaultSearchConfig)),
  layerWith: (config: Partial<SearchConfig>) => Layer.effect(Router, makeRouter({ ...defaultSearchConfig, ...config })),
  /** With the probabilistic scorer; needs `RouterGraph`. */
  layerProbabilistic: Layer.effect(Router, makeRouter(defaultSearchConfig)).pipe(Layer.provide(ProbabilisticScorer.layer()))
} as const
