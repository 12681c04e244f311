/**
 * `funderCharge` and `dustExposure` tell trimmed HTLCs from kept ones by one comparison per HTLC
 * against a bound computed once per call (`amount < (dustLimit + fee) * 1000`): property-tested
 * against the plain form (`isHtlcTrimmed` per HTLC, BOLT 3 "Trimmed Outputs"), for both channel
 * types, over random feerates, dust limits, extra HTLCs and HTLC amounts spread around the
 * bounds (0 msat, whole-sat edges and the u64 maximum included). The results must be equal. (The
 * add checks' one pass, `loadAfter`, is tested in reduce-spec.property.test.ts.)
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx, type ChannelType, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import { type CommitmentSpec, dustExposure, funderCharge, type SpecHtlc } from "../../../src/protocol/channel/commitments.ts"
import type { ChannelParams } from "../../../src/protocol/channel/params.ts"
import { commitmentFee, isHtlcTrimmed } from "../../../src/protocol/tx/fees.ts"
import { msat, type Msat, sat, type Sat } from "../../../src/protocol/units.ts"
import { Pair } from "./harness.ts"

/** The plain forms, as they were: `isHtlcTrimmed` for each HTLC. */
const funderChargePlain = (type: ChannelType, spec: CommitmentSpec, dustLimit: Sat, feeratePerKw: number, extraHtlcs: number): Msat => {
  let untrimmed = 0
  for (const h of spec.htlcs) if (!isHtlcTrimmed(type, feeratePerKw, dustLimit, h.direction, h.amount)) untrimmed++
  return msat(commitmentFee(type, feeratePerKw, untrimmed + extraHtlcs) * 1000n + 2n * type.anchorAmount * 1000n)
}
const dustExposurePlain = (type: ChannelType, spec: CommitmentSpec, dustLimit: Sat, feeratePerKw: number): Msat => {
  let total = 0n
  for (const h of spec.htlcs) if (isHtlcTrimmed(type, feeratePerKw, dustLimit, h.direction, h.amount)) total += h.amount
  return msat(total)
}

const paramsOf = (type: ChannelType): ChannelParams => new Pair({ type, label: `trimmed-${type.name}` }).nodes.alice.c.params
const params = { static: paramsOf(staticRemoteKey), anchors: paramsOf(anchorsZeroFeeHtlcTx) }

const feerate = fc.oneof(fc.integer({ min: 0, max: 50_000 }), fc.constantFrom(253, 2_500, 1_000_000))
const dustLimit = fc.oneof(fc.bigInt({ min: 0n, max: 2_000n }), fc.constantFrom(354n, 546n)).map(sat)
// Around every bound: a bound is (dust limit + a fee of at most ~35,000 sat at these feerates) * 1000.
const amount = fc.oneof(
  fc.bigInt({ min: 0n, max: 40_000_000n }),
  fc.bigInt({ min: 0n, max: 40_000n }).chain((s) => fc.constantFrom(s * 1000n - 1n, s * 1000n, s * 1000n + 1n, s * 1000n + 999n)).filter((a) => a >= 0n),
  fc.constantFrom(0n, 1n, 999n, 1_000n, 0xffffffffffffffffn)
)
const htlc: fc.Arbitrary<SpecHtlc> = fc.record({
  direction: fc.constantFrom("offered" as const, "received" as const),
  id: fc.bigInt({ min: 0n, max: 1_000n }),
  amount: amount.map(msat),
  paymentHash: fc.constant(new Uint8Array(32)),
  cltvExpiry: fc.constant(800_000)
})
const spec: fc.Arbitrary<CommitmentSpec> = fc.record({
  feeratePerKw: feerate,
  toLocal: fc.constant(msat(500_000_000n)),
  toRemote: fc.constant(msat(500_000_000n)),
  htlcs: fc.array(htlc, { maxLength: 60 })
})

describe("funderCharge and dustExposure", () => {
  it("equal the plain forms (isHtlcTrimmed per HTLC) for both channel types, any feerate, dust limit and HTLC amounts", () => {
    fc.assert(
      fc.property(fc.constantFrom("static" as const, "anchors" as const), spec, dustLimit, fc.option(feerate, { nil: undefined }), fc.integer({ min: 0, max: 3 }), (which, s, dust, rate, extra) => {
        const p = params[which]
        const type = which === "static" ? staticRemoteKey : anchorsZeroFeeHtlcTx
        const at = rate ?? s.feeratePerKw
        expect(funderCharge(p, s, dust, rate, extra)).toBe(funderChargePlain(type, s, dust, at, extra))
        expect(dustExposure(p, s, dust, rate)).toBe(dustExposurePlain(type, s, dust, at))
      }),
      { numRuns: 3_000 }
    )
  })
})
