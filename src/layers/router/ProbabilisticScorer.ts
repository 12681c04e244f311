/**
 * The default `Scorer`: the probabilistic liquidity model of src/protocol/routing/probabilistic.ts
 * plus the hold-time model of src/protocol/routing/holdtimes.ts (nodes that held HTLCs long, as
 * attribution data reported, cost more), their learned state kept in this layer, time from
 * `Clock` (so TestClock drives the decay).
 */
import { Clock, Effect, Layer } from "effect"
import { defaultHoldTimeConfig, type HoldTimeConfig, HoldTimeModel } from "../../protocol/routing/holdtimes.ts"
import { defaultProbabilisticConfig, LiquidityModel, type ProbabilisticConfig } from "../../protocol/routing/probabilistic.ts"
import { Scorer, type ScorerShape } from "../../services/Scorer.ts"

/** A scorer over `model` and `holdTimes` (exposed so tests can look at what they learned). */
export const makeProbabilisticScorer = (model: LiquidityModel, holdTimes: HoldTimeModel = new HoldTimeModel()): ScorerShape =>
  Scorer.of({
    prepare: (graph) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const liquidity = model.edgeScorer(graph, now)
        const slow = holdTimes.edgePenalty(graph, now)
        // Nothing learned of hold times (the common case): the liquidity scorer alone, no extra call per edge.
        // The hold-time penalty is never negative, so the liquidity scorer's lower bound still holds.
        return slow === undefined ? liquidity : {
          ...(liquidity.minBasePenaltyMsat === undefined ? {} : { minBasePenaltyMsat: liquidity.minBasePenaltyMsat }),
          penaltyMsat: (e, a) => liquidity.penaltyMsat(e, a) + slow(e, a)
        }
      }),
    pathFailed: (hops, failedIndex, permanent) =>
      Effect.map(Clock.currentTimeMillis, (now) => model.pathFailed(hops, failedIndex, permanent, now)),
    pathSucceeded: (hops) => Effect.map(Clock.currentTimeMillis, (now) => model.pathSucceeded(hops, now)),
    holdTimesReported: (hops, reported) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const nodeIds = hops.flatMap((h) => (h.nodeId === undefined ? [] : [h.nodeId]))
        // Hold times are per node: without every hop's node there is nothing to attribute.
        if (nodeIds.length === hops.length) holdTimes.reported(nodeIds, reported, now)
      })
  })

export const ProbabilisticScorer = {
  layer: (config: ProbabilisticConfig = defaultProbabilisticConfig, holdTimeConfig: HoldTimeConfig = defaultHoldTimeConfig): Layer.Layer<Scorer> =>
    Layer.effect(Scorer, Effect.sync(() => makeProbabilisticScorer(new LiquidityModel(config), new HoldTimeModel(holdTimeConfig))))
} as const
