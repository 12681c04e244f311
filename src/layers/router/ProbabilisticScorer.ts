/**
 * The default `Scorer`: the probabilistic liquidity model of src/protocol/routing/probabilistic.ts,
 * its learned bounds kept in this layer, time from `Clock` (so TestClock drives the decay).
 */
import { Clock, Effect, Layer } from "effect"
import { defaultProbabilisticConfig, LiquidityModel, type ProbabilisticConfig } from "../../protocol/routing/probabilistic.ts"
import { Scorer, type ScorerShape } from "../../services/Scorer.ts"

/** A scorer over `model` (exposed so tests can look at what it learned). */
export const makeProbabilisticScorer = (model: LiquidityModel): ScorerShape =>
  Scorer.of({
    prepare: (graph) => Effect.map(Clock.currentTimeMillis, (now) => model.edgeScorer(graph, now)),
    pathFailed: (hops, failedIndex, permanent) =>
      Effect.map(Clock.currentTimeMillis, (now) => model.pathFailed(hops, failedIndex, permanent, now)),
    pathSucceeded: (hops) => Effect.map(Clock.currentTimeMillis, (now) => model.pathSucceeded(hops, now))
  })

export const ProbabilisticScorer = {
  layer: (config: ProbabilisticConfig = defaultProbabilisticConfig): Layer.Layer<Scorer> =>
    Layer.effect(Scorer, Effect.sync(() => makeProbabilisticScorer(new LiquidityModel(config))))
} as const
