import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import onionVector from "../../vectors/bolt04/onion-test.json" with { type: "json" }
import blindedVector from "../../vectors/bolt04/blinded-payment-onion-test.json" with { type: "json" }
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/index.ts"
import { decodeHopPayload, encodeHopPayload, encodeHopPayloadGeneral, type HopPayload, validateHopPayload } from "../../../src/protocol/onion/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { stripLength } from "./fixtures.ts"

const scid = (n: bigint) => n as ShortChannelId
const stringify = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? toHex(x) : x))

const payloadArbitrary: fc.Arbitrary<HopPayload> = fc.record(
  {
    amtToForward: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map(msat),
    outgoingCltvValue: fc.integer({ min: 0, max: 0xffffffff }),
    shortChannelId: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map(scid),
    paymentData: fc.record({
      paymentSecret: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      totalMsat: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map(msat)
    }),
    encryptedRecipientData: fc.uint8Array({ maxLength: 100 }),
    currentPathKey: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => new Uint8Array([2, ...b])),
    paymentMetadata: fc.uint8Array({ maxLength: 300 }),
    totalAmountMsat: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map(msat),
    customRecords: fc
      .uniqueArray(fc.bigInt({ min: 65536n, max: 0xffffffffffffffffn }), { minLength: 1, maxLength: 4 })
      .chain((types) =>
        fc.tuple(...types.map((type) => fc.uint8Array({ maxLength: 40 }).map((value) => ({ type, value }))))
      )
      .map((rs) => [...rs].sort((a, b) => (a.type < b.type ? -1 : 1)))
  },
  { requiredKeys: [] }
)

describe("hop payload TLV (BOLT 4 payload format)", () => {
  it("decodes and re-encodes every payload of onion-test.json byte for byte", () => {
    for (const hop of onionVector.generate.hops) {
      const bytes = stripLength(fromHex(hop.payload))
      const decoded = decodeHopPayload(bytes)
      if (Result.isFailure(decoded)) throw new Error(decoded.failure.reason)
      const again = encodeHopPayload(decoded.success)
      expect(Result.isSuccess(again) && toHex(again.success)).toBe(toHex(bytes))
    }
    // The last hop carries payment_data and a custom-range-free unknown record.
    const last = decodeHopPayload(stripLength(fromHex(onionVector.generate.hops[4]?.payload ?? "")))
    expect(Result.isSuccess(last) && last.success.paymentData?.totalMsat).toBe(10000n)
  })

  it("decodes the blinded payment vector's payloads to the listed fields", () => {
    const hops = blindedVector.generate.full_route.hops
    const alice = decodeHopPayload(stripLength(fromHex(hops[0]?.payload ?? "")))
    if (Result.isFailure(alice)) throw new Error(alice.failure.reason)
    expect(alice.success.amtToForward).toBe(110125n)
    expect(alice.success.outgoingCltvValue).toBe(749150)
    expect(alice.success.shortChannelId).toBe(10n)
    const bob = decodeHopPayload(stripLength(fromHex(hops[1]?.payload ?? "")))
    expect(Result.isSuccess(bob) && toHex(bob.success.currentPathKey ?? new Uint8Array())).toBe(hops[1]?.tlvs.current_path_key)
    const eve = decodeHopPayload(stripLength(fromHex(hops[4]?.payload ?? "")))
    if (Result.isFailure(eve)) throw new Error(eve.failure.reason)
    expect([eve.success.amtToForward, eve.success.totalAmountMsat, eve.success.outgoingCltvValue]).toEqual([100000n, 150000n, 749000])
  })

  it("round-trips random payloads, custom records >= 65536 of either parity included", () => {
    fc.assert(
      fc.property(payloadArbitrary, (p) => {
        const bytes = encodeHopPayload(p)
        if (Result.isFailure(bytes)) return false
        const back = decodeHopPayload(bytes.success)
        return Result.isSuccess(back) && stringify(back.success) === stringify(p)
      }),
      { numRuns: 2000 }
    )
  })

  it("decodes arbitrary bytes to a typed result; what it accepts re-encodes to the same bytes (10,000 runs)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeHopPayload(b)
        if (Result.isFailure(r)) return r.failure._tag === "InvalidOnionPayload" && r.failure.offset >= 0 && r.failure.offset <= b.length
        // The decoder accepts only canonical streams, so encoding gives back the input exactly.
        const again = encodeHopPayload(r.success)
        return Result.isSuccess(again) && toHex(again.success) === toHex(b)
      }),
      { numRuns: 10_000 }
    )
  })

  it("reports the offending type and offset", () => {
    // amt_to_forward ok, then an unknown even type 20 at offset 4.
    const unknownEven = decodeHopPayload(fromHex("020101" + "140100"))
    expect(Result.isFailure(unknownEven) && [unknownEven.failure.type, unknownEven.failure.offset]).toEqual([20n, 3])
    // outgoing_cltv_value with a leading zero (not minimal) at offset 3.
    const nonMinimal = decodeHopPayload(fromHex("020101" + "04020001"))
    expect(Result.isFailure(nonMinimal) && [nonMinimal.failure.type, nonMinimal.failure.offset]).toEqual([4n, 3])
    // short_channel_id too short.
    const short = decodeHopPayload(fromHex("0603000000"))
    expect(Result.isFailure(short) && [short.failure.type, short.failure.offset]).toEqual([6n, 0])
    // types out of order.
    const order = decodeHopPayload(fromHex("04010102010a"))
    expect(Result.isFailure(order) && [order.failure.type, order.failure.offset]).toEqual([2n, 3])
    // unknown odd types are skipped (kept), odd or even custom records are kept.
    const fine = decodeHopPayload(fromHex("020101" + "0b0100" + "fe000100000100"))
    expect(Result.isSuccess(fine) && [fine.success.unknown?.length, fine.success.customRecords?.[0]?.type]).toEqual([1, 65536n])
  })

  it("refuses to encode what no reader could accept", () => {
    const fieldOf = (p: HopPayload) => {
      const r = encodeHopPayload(p)
      return Result.isFailure(r) ? [r.failure._tag, r.failure.field] : undefined
    }
    expect(fieldOf({ customRecords: [{ type: 100n, value: new Uint8Array() }] })).toEqual(["InvalidHopPayloadValue", "customRecords"])
    expect(fieldOf({ unknown: [{ type: 20n, value: new Uint8Array() }] })).toEqual(["InvalidHopPayloadValue", "unknown"])
    expect(fieldOf({ unknown: [{ type: 3n, value: new Uint8Array() }, { type: 3n, value: new Uint8Array() }] })).toEqual(["InvalidHopPayloadValue", "records"])
    expect(fieldOf({ unknown: [{ type: -1n, value: new Uint8Array() }] })).toEqual(["InvalidHopPayloadValue", "unknown"])
    expect(fieldOf({ paymentData: { paymentSecret: new Uint8Array(3), totalMsat: msat(1n) } })?.[0]).toBe("InvalidHopPayloadValue")
    expect(fieldOf({ outgoingCltvValue: 2 ** 32 })?.[0]).toBe("InvalidHopPayloadValue")
    expect(fieldOf({ amtToForward: msat(2n ** 64n) })?.[0]).toBe("InvalidHopPayloadValue")
  })
})

describe("hop payload requirements (the reader)", () => {
  const amt = msat(1000n)
  const check = (p: HopPayload, isFinal: boolean, pathKey = false) => validateHopPayload(p, isFinal, pathKey)
  const failType = (r: ReturnType<typeof check>) => (Result.isFailure(r) ? r.failure.type : undefined)

  it("a forwarding hop needs amt_to_forward, outgoing_cltv_value and short_channel_id", () => {
    expect(failType(check({ outgoingCltvValue: 1, shortChannelId: scid(1n) }, false))).toBe(2n)
    expect(failType(check({ amtToForward: amt, shortChannelId: scid(1n) }, false))).toBe(4n)
    expect(failType(check({ amtToForward: amt, outgoingCltvValue: 1 }, false))).toBe(6n)
    const ok = check({ amtToForward: amt, outgoingCltvValue: 1, shortChannelId: scid(5n) }, false)
    expect(Result.isSuccess(ok) && ok.success._tag).toBe("Forward")
  })

  it("a final hop defaults total_msat to amt_to_forward", () => {
    const r = check({ amtToForward: amt, outgoingCltvValue: 1 }, true)
    expect(Result.isSuccess(r) && r.success._tag === "Receive" && r.success.totalMsat).toBe(1000n)
    const mpp = check({ amtToForward: amt, outgoingCltvValue: 1, paymentData: { paymentSecret: new Uint8Array(32), totalMsat: msat(3000n) } }, true)
    expect(Result.isSuccess(mpp) && mpp.success._tag === "Receive" && mpp.success.totalMsat).toBe(3000n)
  })

  it("blinded hops: path key rules and allowed records", () => {
    const enc = new Uint8Array(20)
    const key = new Uint8Array(33).fill(2)
    expect(failType(check({ encryptedRecipientData: enc }, false))).toBe(12n)
    expect(failType(check({ encryptedRecipientData: enc, currentPathKey: key }, false, true))).toBe(12n)
    expect(failType(check({ encryptedRecipientData: enc, amtToForward: amt }, false, true))).toBe(2n)
    expect(failType(check({ encryptedRecipientData: enc, amtToForward: amt, outgoingCltvValue: 1 }, true, true))).toBe(18n)
    expect(failType(check({ amtToForward: amt, outgoingCltvValue: 1, shortChannelId: scid(1n) }, false, true))).toBe(10n)
    expect(failType(check({ amtToForward: amt, outgoingCltvValue: 1, currentPathKey: key }, true))).toBe(12n)
    // A record outside the allowed set is named by its own type, the lowest one first.
    const custom = [{ type: 70001n, value: new Uint8Array(1) }]
    expect(failType(check({ encryptedRecipientData: enc, customRecords: custom }, false, true))).toBe(70001n)
    expect(failType(check({ encryptedRecipientData: enc, unknown: [{ type: 33n, value: new Uint8Array(0) }], paymentMetadata: enc }, false, true))).toBe(16n)
    expect(failType(check({ encryptedRecipientData: enc, unknown: [{ type: 13n, value: new Uint8Array(0) }], paymentMetadata: enc }, false, true))).toBe(13n)
    const withCustom = check({ encryptedRecipientData: enc, amtToForward: amt, outgoingCltvValue: 1, totalAmountMsat: amt, customRecords: custom }, true, true)
    expect(Result.isSuccess(withCustom) && withCustom.success._tag === "BlindedReceive" && withCustom.success.customRecords).toEqual(custom)
    const fwd = check({ encryptedRecipientData: enc, currentPathKey: key }, false)
    expect(Result.isSuccess(fwd) && fwd.success._tag).toBe("BlindedForward")
    const recv = check({ encryptedRecipientData: enc, amtToForward: amt, outgoingCltvValue: 1, totalAmountMsat: amt }, true, true)
    expect(Result.isSuccess(recv) && recv.success._tag).toBe("BlindedReceive")
  })
})

describe("a route's payloads written directly", () => {
  const u64 = fc.oneof(
    fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
    fc.constantFrom(0n, 1n, 255n, 256n, 0x1fffffffffffffn, 0x20000000000000n, 0xffffffffffffffffn, 0x10000000000000000n, -1n)
  )
  const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 0xffffffff, 0x100000000, -1, 1.5))
  // Each record present or not (`requiredKeys: []`), an empty custom record list now and then.
  const routePayload: fc.Arbitrary<HopPayload> = fc.record({
    amtToForward: u64.map(msat),
    outgoingCltvValue: u32,
    shortChannelId: u64.map(scid),
    paymentData: fc.record({ paymentSecret: fc.uint8Array({ minLength: 31, maxLength: 33 }), totalMsat: u64.map(msat) }),
    customRecords: fc.constant<ReadonlyArray<{ readonly type: bigint; readonly value: Uint8Array }>>([])
  }, { requiredKeys: [] })

  it("gives the general encoder's bytes, or its refusal", () => {
    fc.assert(fc.property(routePayload, (p) => {
      expect(encodeHopPayload(p)).toEqual(encodeHopPayloadGeneral(p))
    }), { numRuns: 2000 })
  })
})
