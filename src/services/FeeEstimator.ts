/**
 * FeeEstimator: a feerate per confirmation target, in sat per 1000 weight units (BOLT 3's unit).
 *
 * It never fails: when the source has no estimate (a fresh regtest node, bitcoind answering
 * without `feerate`, the node away) it answers the configured fallback for that target and says
 * so. Every answer is at least `FEERATE_FLOOR_PER_KW` (253 sat/kw, i.e. 1 sat/vbyte rounded up
 * after Bitcoin Core's 1000 sat/kvB relay minimum is converted to weight), so a transaction built
 * from it relays.
 */
import { Context, Effect, Layer } from "effect"

/** The relay floor in sat/kw: 1 sat/vB = 250 sat/kw, rounded up for the vbyte rounding (LDK, Core). */
export const FEERATE_FLOOR_PER_KW = 253

export interface FeeEstimate {
  /** Integer sat per 1000 weight units, >= `FEERATE_FLOOR_PER_KW`. */
  readonly feeratePerKw: number
  readonly source: "estimate" | "fallback"
}

/** What to answer when there is no estimate: a rate for targets up to `uptoBlocks`, the last entry beyond. */
export interface FallbackFeerates {
  readonly byTarget: ReadonlyArray<{ readonly uptoBlocks: number; readonly feeratePerKw: number }>
}

export const defaultFallbackFeerates: FallbackFeerates = {
  byTarget: [
    { uptoBlocks: 2, feeratePerKw: 5000 },
    { uptoBlocks: 6, feeratePerKw: 2500 },
    { uptoBlocks: 144, feeratePerKw: 1000 },
    { uptoBlocks: Number.MAX_SAFE_INTEGER, feeratePerKw: FEERATE_FLOOR_PER_KW }
  ]
}

/** Never below the floor, always an integer. */
export const clampFeerate = (perKw: number): number => Number.isFinite(perKw) ? Math.max(FEERATE_FLOOR_PER_KW, Math.ceil(perKw)) : FEERATE_FLOOR_PER_KW

export const fallbackFor = (fallback: FallbackFeerates, targetBlocks: number): number => {
  for (const entry of fallback.byTarget) if (targetBlocks <= entry.uptoBlocks) return clampFeerate(entry.feeratePerKw)
  return clampFeerate(fallback.byTarget[fallback.byTarget.length - 1]?.feeratePerKw ?? FEERATE_FLOOR_PER_KW)
}

/** Bitcoin Core's `estimatesmartfee` unit (BTC per 1000 vbytes) to sat/kw: x 1e8 sat / 4000 wu x 1000. */
export const btcPerKvbToSatPerKw = (btcPerKvb: number): number => clampFeerate(Math.round(btcPerKvb * 1e8) / 4)

export interface FeeEstimatorShape {
  /** The feerate to confirm within `targetBlocks` blocks (>= 1). */
  readonly estimate: (targetBlocks: number) => Effect.Effect<FeeEstimate>
}

export class FeeEstimator extends Context.Service<FeeEstimator, FeeEstimatorShape>()("effect-lightning/FeeEstimator") {
  /** The same feerate for every target (clamped to the floor). */
  static readonly layerFixed = (feeratePerKw: number): Layer.Layer<FeeEstimator> =>
    Layer.succeed(FeeEstimator, FeeEstimator.of({ estimate: () => Effect.succeed({ feeratePerKw: clampFeerate(feeratePerKw), source: "estimate" }) }))
}
