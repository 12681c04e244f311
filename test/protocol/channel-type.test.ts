import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx, channelTypeFromBits, staticRemoteKey } from "../../src/protocol/channel-type.ts"
import { SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY } from "../../src/protocol/tx/bitcoin/sighash.ts"
import { commitmentFee, htlcSuccessFee, htlcTimeoutFee, isHtlcTrimmed } from "../../src/protocol/tx/fees.ts"
import { fundingOutput } from "../../src/protocol/tx/funding.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { msat, sat } from "../../src/protocol/units.ts"
import { legacy, pk } from "./tx/fixtures.ts"

describe("channel types", () => {
  it("maps BOLT 2 channel_type bits to descriptors", () => {
    expect(channelTypeFromBits([12])).toBe(staticRemoteKey)
    expect(channelTypeFromBits([22, 12])).toBe(anchorsZeroFeeHtlcTx)
    expect(channelTypeFromBits([12, 22, 46, 50])).toBe(anchorsZeroFeeHtlcTx)
    expect(channelTypeFromBits([22])).toBeUndefined()
    expect(channelTypeFromBits([])).toBeUndefined()
    expect(channelTypeFromBits([12, 180])).toBeUndefined()
  })

  it("carries the BOLT 3 per-type rules", () => {
    expect(staticRemoteKey.remoteHtlcSighash).toBe(SIGHASH_ALL)
    expect(anchorsZeroFeeHtlcTx.remoteHtlcSighash).toBe(SIGHASH_SINGLE_ANYONECANPAY)
    expect([staticRemoteKey.htlcInputSequence, anchorsZeroFeeHtlcTx.htlcInputSequence]).toEqual([0, 1])
    expect(anchorsZeroFeeHtlcTx.anchorAmount).toBe(330n)
  })

  it("gives the BOLT 3 funding output for its channels", () => {
    const a = pk(legacy.common.local_funding_pubkey)
    const b = pk(legacy.common.remote_funding_pubkey)
    for (const t of [staticRemoteKey, anchorsZeroFeeHtlcTx]) {
      const spec = t.scripts.funding(b, a)
      expect(toHex(spec.witnessScript ?? new Uint8Array(0))).toBe(legacy.common.funding_wscript)
      expect(toHex(spec.scriptPubKey)).toBe(toHex(fundingOutput(sat(1n), a, b).scriptPubKey))
    }
  })

  it("computes the BOLT 3 fee example (feerate 5000, dust 546)", () => {
    const t = staticRemoteKey
    expect(htlcTimeoutFee(t, 5000)).toBe(3315n)
    expect(htlcSuccessFee(t, 5000)).toBe(3515n)
    const dust = sat(546n)
    expect(isHtlcTrimmed(t, 5000, dust, "offered", msat(5_000_000n))).toBe(false)
    expect(isHtlcTrimmed(t, 5000, dust, "offered", msat(1_000_000n))).toBe(true)
    expect(isHtlcTrimmed(t, 5000, dust, "received", msat(7_000_000n))).toBe(false)
    expect(isHtlcTrimmed(t, 5000, dust, "received", msat(800_000n))).toBe(true)
    expect(commitmentFee(t, 5000, 2)).toBe(5340n)
    // anchors: zero-fee HTLC transactions, trimming by amount alone
    expect(htlcTimeoutFee(anchorsZeroFeeHtlcTx, 5000)).toBe(0n)
    expect(isHtlcTrimmed(anchorsZeroFeeHtlcTx, 5000, dust, "offered", msat(546_000n))).toBe(false)
    expect(isHtlcTrimmed(anchorsZeroFeeHtlcTx, 5000, dust, "offered", msat(545_999n))).toBe(true)
  })
})
