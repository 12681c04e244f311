/**
 * The pure payment rules: the stored form of a route, the final node's checks and MPP sets, and
 * the forwarding policy checks with their BOLT 4 failure codes.
 */
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Result, Schema } from "effect"
import { ChannelIdSchema, shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import {
  addMppPart,
  checkFinalPart,
  checkForward,
  defaultForwardingPolicy,
  type ExpectedPayment,
  type FinalPart,
  fromPath,
  KEYSEND_TLV_TYPE,
  keysendPreimage,
  routeFee
} from "../../../src/protocol/payment/index.ts"
import { msat } from "../../../src/protocol/units.ts"

const node = (n: number) => new Uint8Array(33).fill(n)
const scid = (n: number) => shortChannelIdFromParts(100 + n, 1, 0)

describe("routes", () => {
  it("a router path becomes the stored route: per hop the node, channel, amount and expiry; the fee is first minus final", () => {
    const hop = (n: number, amount: bigint, cltv: number) => ({
      shortChannelId: scid(n), direction: 0 as const, nodeId: node(n), amountMsat: msat(amount), cltvExpiry: cltv, feeMsat: msat(0n), cltvExpiryDelta: 0
    })
    const route = fromPath({ hops: [hop(1, 10_012_501n, 1205), hop(2, 10_010_500n, 1165), hop(3, 10_000_000n, 1021)], firstHop: undefined, amountMsat: msat(10_000_000n), feeMsat: msat(12_501n) })
    expect(route.hops.map((h) => [h.nodeId[0], h.shortChannelId, h.amountMsat, h.cltvExpiry])).toEqual([
      [1, scid(1), 10_012_501n, 1205],
      [2, scid(2), 10_010_500n, 1165],
      [3, scid(3), 10_000_000n, 1021]
    ])
    expect(routeFee(route)).toBe(12_501n)
  })
})

describe("the final node", () => {
  const preimage = new Uint8Array(32).fill(9)
  const hash = sha256(preimage)
  const secret = new Uint8Array(32).fill(5)
  const expected: ExpectedPayment = {
    paymentHash: hash,
    preimage,
    paymentSecret: secret,
    amountMsat: msat(1_000_000n),
    expiresAtSeconds: 10_000,
    minFinalCltvExpiryDelta: 18
  }
  const part: FinalPart = {
    paymentHash: hash,
    amountMsat: msat(1_000_000n),
    cltvExpiry: 1000 + 18,
    paymentSecret: secret,
    totalMsat: msat(1_000_000n),
    customRecords: []
  }
  const ctx = { height: 1000, nowSeconds: 5000 }
  const refused = (r: Result.Result<void, unknown>) => Result.isFailure(r) ? r.failure : undefined

  it("accepts a matching part", () => {
    expect(Result.isSuccess(checkFinalPart(expected, part, ctx))).toBe(true)
  })

  it("refuses with incorrect_or_unknown_payment_details (amount and height): unknown hash, wrong or missing secret, expired, too near the tip, too little, more than twice", () => {
    const details = { _tag: "incorrect_or_unknown_payment_details", htlcMsat: 1_000_000n, height: 1000 }
    expect(refused(checkFinalPart(undefined, part, ctx))).toEqual(details)
    expect(refused(checkFinalPart(expected, { ...part, paymentSecret: new Uint8Array(32) }, ctx))).toEqual(details)
    expect(refused(checkFinalPart(expected, { ...part, paymentSecret: undefined }, ctx))).toEqual(details)
    expect(refused(checkFinalPart(expected, part, { ...ctx, nowSeconds: 10_001 }))).toEqual(details)
    expect(refused(checkFinalPart(expected, { ...part, cltvExpiry: 1000 + 17 }, ctx))).toEqual(details)
    expect(refused(checkFinalPart(expected, { ...part, totalMsat: msat(999_999n) }, ctx))).toEqual(details)
    expect(Result.isSuccess(checkFinalPart(expected, { ...part, totalMsat: msat(2_000_000n) }, ctx))).toBe(true)
    expect(refused(checkFinalPart(expected, { ...part, totalMsat: msat(2_000_001n) }, ctx))).toEqual(details)
  })

  it("an unknown even custom record is an invalid payload; keysend's preimage record is understood", () => {
    expect(refused(checkFinalPart(expected, { ...part, customRecords: [{ type: 65538n, value: new Uint8Array(1) }] }, ctx))).toEqual({ _tag: "invalid_onion_payload", type: 65538n, offset: 0 })
    expect(Result.isSuccess(checkFinalPart(expected, { ...part, customRecords: [{ type: 65537n, value: new Uint8Array(1) }] }, ctx))).toBe(true)
    expect(keysendPreimage({ paymentHash: hash, customRecords: [{ type: KEYSEND_TLV_TYPE, value: preimage }] })).toEqual(preimage)
    expect(keysendPreimage({ paymentHash: hash, customRecords: [{ type: KEYSEND_TLV_TYPE, value: new Uint8Array(32) }] })).toBeUndefined()
  })

  it("MPP: parts are held until they add up to total_msat; a part with another total does not join; a repeated part counts once", () => {
    const ch = Schema.decodeUnknownSync(ChannelIdSchema)("01".repeat(32))
    const p = (htlcId: bigint, amount: bigint) => ({ channelId: ch, htlcId, amountMsat: msat(amount), sharedSecret: new Uint8Array(32) })
    const a = addMppPart(undefined, p(0n, 400n), msat(1000n), 5)
    expect(a._tag).toBe("Waiting")
    if (a._tag !== "Waiting") return
    expect(a.set.firstAtMillis).toBe(5)
    expect(addMppPart(a.set, p(1n, 600n), msat(999n), 6)._tag).toBe("Mismatch")
    const again = addMppPart(a.set, p(0n, 400n), msat(1000n), 6)
    expect(again._tag === "Waiting" ? again.set.parts.length : -1).toBe(1)
    const done = addMppPart(a.set, p(1n, 600n), msat(1000n), 7)
    expect(done._tag).toBe("Complete")
  })
})

describe("forwarding checks (BOLT 4 failure codes)", () => {
  const usable = { _tag: "Usable" as const, policy: { ...defaultForwardingPolicy, htlcMinimumMsat: 1000n, htlcMaximumMsat: 1_000_000_000n } }
  const ok = { incomingAmountMsat: msat(10_002_000n), incomingCltvExpiry: 1100, amtToForward: msat(10_000_000n), outgoingCltvValue: 1060 }
  const update = new Uint8Array(0)

  it("a forward paying our fee and delta passes", () => {
    expect(checkForward(usable, ok, 1000)).toBeUndefined()
  })

  it("each rule gives its code", () => {
    expect(checkForward({ _tag: "Unknown" }, ok, 1000)).toEqual({ _tag: "unknown_next_peer" })
    expect(checkForward({ _tag: "Offline" }, ok, 1000)).toEqual({ _tag: "temporary_channel_failure", channelUpdate: update })
    expect(checkForward({ _tag: "Disabled" }, ok, 1000)).toEqual({ _tag: "channel_disabled", disabledFlags: 0, channelUpdate: update })
    expect(checkForward(usable, { ...ok, amtToForward: msat(999n), incomingAmountMsat: msat(5000n) }, 1000)).toEqual({ _tag: "amount_below_minimum", htlcMsat: 5000n, channelUpdate: update })
    expect(checkForward(usable, { ...ok, incomingAmountMsat: msat(10_001_999n) }, 1000)).toEqual({ _tag: "fee_insufficient", htlcMsat: 10_001_999n, channelUpdate: update })
    expect(checkForward(usable, { ...ok, incomingCltvExpiry: 1099 }, 1000)).toEqual({ _tag: "incorrect_cltv_expiry", cltvExpiry: 1099, channelUpdate: update })
    expect(checkForward(usable, { ...ok, incomingCltvExpiry: 1043, outgoingCltvValue: 1003 }, 1000)).toEqual({ _tag: "expiry_too_soon", channelUpdate: update })
    expect(checkForward(usable, { ...ok, incomingCltvExpiry: 4000, outgoingCltvValue: 3017 }, 1000)).toEqual({ _tag: "expiry_too_far" })
    expect(checkForward(usable, { ...ok, amtToForward: msat(2_000_000_000n), incomingAmountMsat: msat(3_000_000_000n) }, 1000)).toEqual({ _tag: "temporary_channel_failure", channelUpdate: update })
  })
})
