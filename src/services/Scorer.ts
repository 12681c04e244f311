/**
 * Scorer: how the router weighs a channel beyond its fee (issue 8 "The router"). Swappable
 * apart from the router: the default (`ProbabilisticScorer`, src/layers/router) models each
 * direction's liquidity and learns from payment attempts; `Scorer.layerFeesOnly` scores nothing.
 *
 * `prepare` runs once per route computation (it reads `Clock`, so learned knowledge fades with
 * time) and returns a synchronous `EdgeScorer`, because the search calls it for every edge it
 * relaxes. Writing another scorer is a few lines:
 *
 *   const avoidNode = (bad: number) => Layer.succeed(Scorer, Scorer.of({
 *     prepare: (graph) => Effect.succeed({
 *       penaltyMsat: (edge) => (graph.edgeSource(edge) === bad ? Infinity : 0)
 *     }),
 *     pathFailed: () => Effect.void,
 *     pathSucceeded: () => Effect.void
 *   }))
 */
import { Context, Effect, Layer } from "effect"
import type { GraphView } from "../protocol/routing/graph.ts"
import { type EdgeScorer, type ScoredHop, zeroPenalty } from "../protocol/routing/scorer.ts"

export type { EdgeScorer, ScoredHop } from "../protocol/routing/scorer.ts"

export interface ScorerShape {
  /** The scorer of one route computation over `graph`. */
  readonly prepare: (graph: GraphView) => Effect.Effect<EdgeScorer>
  /** A path attempt failed at `hops[failedIndex]`; the hops before it carried the HTLC. */
  readonly pathFailed: (hops: ReadonlyArray<ScoredHop>, failedIndex: number, permanent: boolean) => Effect.Effect<void>
  /** Every hop of a path carried the HTLC. */
  readonly pathSucceeded: (hops: ReadonlyArray<ScoredHop>) => Effect.Effect<void>
  /**
   * Optional: the hold times the path's hops reported in attribution data (BOLT 4, units of
   * 100 ms, `holdTimes[k]` from the node `hops[k]` reaches, as far as their HMACs verified), on
   * success or failure. The probabilistic scorer penalises nodes that hold HTLCs long.
   */
  readonly holdTimesReported?: (hops: ReadonlyArray<ScoredHop>, holdTimes: ReadonlyArray<number>) => Effect.Effect<void>
}

export class Scorer extends Context.Service<Scorer, ScorerShape>()("effect-lightning/Scorer") {
  /** No penalty, no learning: routes are the cheapest in fees. */
  static readonly layerFeesOnly: Layer.Layer<Scorer> = Layer.succeed(
    Scorer,
    Scorer.of({ prepare: () => Effect.succeed(zeroPenalty), pathFailed: () => Effect.void, pathSucceeded: () => Effect.void })
  )
}
