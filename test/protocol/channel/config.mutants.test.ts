/**
 * Tests written for `config.ts` (`npm run mutate -- src/protocol/channel/config.ts`): the numbers
 * our `open_channel` / `accept_channel` announce and the bounds we hold a peer to (BOLT 2 "The
 * `open_channel` Message": the reserve "MUST be greater than or equal to `dust_limit_satoshis`",
 * 1% of the capacity suggested; the feerate "MUST fail the channel if it considers
 * `feerate_per_kw` too small for timely processing or unreasonably large"), each computed in
 * integer arithmetic, rounded down.
 */
import { describe, expect, it } from "vitest"
import {
  acceptableFeerateRange,
  channelReserveFor,
  defaultChannelPolicy,
  defaultLocalChannelConfig,
  FEERATE_FLOOR_PER_KW,
  maxHtlcValueInFlightFor,
  shareOf
} from "../../../src/protocol/channel/config.ts"
import { sat } from "../../../src/protocol/units.ts"

describe("shares of the capacity (basis points, rounded down)", () => {
  it("amount * basisPoints / 10,000, rounded down", () => {
    expect(shareOf(1_000_000n, 100)).toBe(10_000n)
    expect(shareOf(1_999n, 5)).toBe(0n)
    expect(shareOf(19_999n, 5)).toBe(9n)
    expect(shareOf(7n, 10_000)).toBe(7n)
  })

  it("max_htlc_value_in_flight_msat: the configured share of the capacity in msat", () => {
    expect(maxHtlcValueInFlightFor({ ...defaultLocalChannelConfig, maxHtlcValueInFlightBasisPoints: 2_500 }, sat(1_000n))).toBe(250_000n)
  })
})

describe("channel_reserve_satoshis we ask (BOLT 2: >= our dust limit on open, >= the funder's on accept)", () => {
  const config = { ...defaultLocalChannelConfig, dustLimit: sat(546n), channelReserveBasisPoints: 100 }
  it("1% of the capacity when above both dust limits", () => {
    expect(channelReserveFor(config, sat(1_000_000n))).toBe(10_000n)
    expect(channelReserveFor(config, sat(1_000_000n), sat(9_999n))).toBe(10_000n)
  })
  it("never below our dust limit, nor the peer's (the larger of the two)", () => {
    expect(channelReserveFor(config, sat(20_000n))).toBe(546n)
    expect(channelReserveFor(config, sat(20_000n), sat(600n))).toBe(600n)
    expect(channelReserveFor(config, sat(20_000n), sat(500n))).toBe(546n)
    expect(channelReserveFor(config, sat(1_000_000n), sat(10_001n))).toBe(10_001n)
  })
  it("a fixed reserve replaces the share, with the same floors", () => {
    expect(channelReserveFor({ ...config, channelReserve: sat(4_321n) }, sat(1_000_000n))).toBe(4_321n)
    expect(channelReserveFor({ ...config, channelReserve: sat(100n) }, sat(1_000_000n), sat(700n))).toBe(700n)
  })
})

describe("acceptable feerates (relative to our estimate, never below the relay floor)", () => {
  const policy = { ...defaultChannelPolicy, feerateMinPercent: 50, feerateMaxPercent: 1_000 }
  it("without anchors: [max(253, estimate * min%), estimate * max%], rounded down", () => {
    expect(acceptableFeerateRange(policy, 2_501, false)).toEqual({ min: 1_250, max: 25_010 })
    expect(acceptableFeerateRange(policy, 300, false)).toEqual({ min: FEERATE_FLOOR_PER_KW, max: 3_000 })
    expect(acceptableFeerateRange({ ...policy, feerateMaxPercent: 333 }, 1_001, false).max).toBe(3_333)
  })
  it("with anchors the floor is the relay floor (the commitment is bumped by CPFP)", () => {
    expect(acceptableFeerateRange(policy, 2_500, true)).toEqual({ min: FEERATE_FLOOR_PER_KW, max: 25_000 })
  })
  it("the maximum is never below the minimum (a tiny estimate)", () => {
    expect(acceptableFeerateRange(policy, 10, false)).toEqual({ min: 253, max: 253 })
    expect(acceptableFeerateRange(policy, 10, true)).toEqual({ min: 253, max: 253 })
  })
})
