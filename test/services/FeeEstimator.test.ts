import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { btcPerKvbToSatPerKw, clampFeerate, defaultFallbackFeerates, fallbackFor, FEERATE_FLOOR_PER_KW, FeeEstimator } from "../../src/services/FeeEstimator.ts"

describe("FeeEstimator units", () => {
  it("converts bitcoind's BTC/kvB to sat/kw, never below the 253 floor", () => {
    assert.strictEqual(btcPerKvbToSatPerKw(0.0002), 5000) // 20 sat/vB
    assert.strictEqual(btcPerKvbToSatPerKw(0.00001), FEERATE_FLOOR_PER_KW) // 1 sat/vB = 250 sat/kw, below the floor
    assert.strictEqual(clampFeerate(Number.NaN), FEERATE_FLOOR_PER_KW)
    assert.strictEqual(clampFeerate(1000.2), 1001)
  })
  it("fallback by target, the last entry beyond", () => {
    assert.strictEqual(fallbackFor(defaultFallbackFeerates, 1), 5000)
    assert.strictEqual(fallbackFor(defaultFallbackFeerates, 6), 2500)
    assert.strictEqual(fallbackFor(defaultFallbackFeerates, 1008), FEERATE_FLOOR_PER_KW)
    assert.strictEqual(fallbackFor({ byTarget: [{ uptoBlocks: 2, feeratePerKw: 100 }] }, 10), FEERATE_FLOOR_PER_KW)
  })
  it.effect("layerFixed answers one clamped rate", () =>
    Effect.gen(function*() {
      const fees = yield* FeeEstimator
      assert.deepStrictEqual(yield* fees.estimate(3), { feeratePerKw: FEERATE_FLOOR_PER_KW, source: "estimate" })
    }).pipe(Effect.provide(FeeEstimator.layerFixed(10))))
})
