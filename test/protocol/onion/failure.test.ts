import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import catalog from "../../vectors/bolt-messages.json" with { type: "json" }
import {
  decodeFailureMessage,
  encodeFailureMessage,
  FailureCode,
  failureCodeOf,
  failureFromMalformed,
  type FailureMessage,
  isBadOnion,
  isNodeFailure,
  isPermanent,
  isUpdateFailure
} from "../../../src/protocol/onion/index.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { msat } from "../../../src/protocol/units.ts"

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max })
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })
const msatArb = u64.map(msat)
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const u16 = fc.integer({ min: 0, max: 0xffff })

/** One arbitrary per failure code: every BOLT 4 failure with its data. */
const failureArbitrary: fc.Arbitrary<FailureMessage> = fc.oneof(
  fc.constantFrom<FailureMessage>(
    { _tag: "temporary_node_failure" },
    { _tag: "permanent_node_failure" },
    { _tag: "required_node_feature_missing" },
    { _tag: "permanent_channel_failure" },
    { _tag: "required_channel_feature_missing" },
    { _tag: "unknown_next_peer" },
    { _tag: "expiry_too_far" },
    { _tag: "mpp_timeout" }
  ),
  fc.record({
    _tag: fc.constantFrom("invalid_onion_version", "invalid_onion_hmac", "invalid_onion_key", "invalid_onion_blinding"),
    sha256OfOnion: bytes(32, 32)
  }),
  fc.record({ _tag: fc.constantFrom("temporary_channel_failure", "expiry_too_soon"), channelUpdate: bytes(0, 200) }),
  fc.record({ _tag: fc.constantFrom("amount_below_minimum", "fee_insufficient"), htlcMsat: msatArb, channelUpdate: bytes(0, 200) }),
  fc.record({ _tag: fc.constant("incorrect_cltv_expiry"), cltvExpiry: u32, channelUpdate: bytes(0, 200) }),
  fc.record({ _tag: fc.constant("channel_disabled"), disabledFlags: u16, channelUpdate: bytes(0, 200) }),
  fc.record({ _tag: fc.constant("incorrect_or_unknown_payment_details"), htlcMsat: msatArb, height: u32 }),
  fc.record({ _tag: fc.constant("final_incorrect_cltv_expiry"), cltvExpiry: u32 }),
  fc.record({ _tag: fc.constant("final_incorrect_htlc_amount"), incomingHtlcAmt: msatArb }),
  fc.record({ _tag: fc.constant("invalid_onion_payload"), type: u64, offset: u16 }),
  fc.record({
    _tag: fc.constant("unknown"),
    code: u16.filter((c) => !Object.values(FailureCode).includes(c as never)),
    data: bytes(0, 100)
  })
) as fc.Arbitrary<FailureMessage>

describe("failure messages (BOLT 4 Failure Messages)", () => {
  it("has every failure code of the spec catalog, with its flags", () => {
    const expected = Object.fromEntries(catalog.onion_failures.map((f) => [f.name, f.code]))
    expect(FailureCode).toEqual(expected)
    expect(isBadOnion(FailureCode.invalid_onion_hmac) && isPermanent(FailureCode.invalid_onion_hmac)).toBe(true)
    expect(isNodeFailure(FailureCode.temporary_node_failure) && !isPermanent(FailureCode.temporary_node_failure)).toBe(true)
    expect(isUpdateFailure(FailureCode.fee_insufficient) && !isBadOnion(FailureCode.fee_insufficient)).toBe(true)
  })

  it("lays out the data of each code as the catalog lists it", () => {
    const sizes: Record<string, number> = { sha256: 32, u16: 2, u32: 4, u64: 8, bigsize: 1 }
    for (const f of catalog.onion_failures) {
      const sample = decodeFailureMessage(
        new Uint8Array([f.code >> 8, f.code & 0xff, ...new Array(f.fields.reduce((n, x) => n + (sizes[x.type] ?? 0), 0)).fill(0)])
      )
      if (Result.isFailure(sample)) throw new Error(`${f.name}: ${sample.failure._tag}`)
      expect(sample.success._tag).toBe(f.name)
      expect(encodeFailureMessage(sample.success).length).toBe(2 + f.fields.reduce((n, x) => n + (sizes[x.type] ?? 0), 0))
    }
  })

  it("round-trips every failure with its data and a trailing TLV stream", () => {
    fc.assert(
      fc.property(failureArbitrary, fc.option(bytes(1, 50), { nil: undefined }), (f, tlvs) => {
        const withTlvs: FailureMessage = tlvs === undefined || f._tag === "unknown" ? f : { ...f, tlvs }
        const decoded = decodeFailureMessage(encodeFailureMessage(withTlvs))
        return Result.isSuccess(decoded) && failureCodeOf(decoded.success) === failureCodeOf(withTlvs) &&
          JSON.stringify(decoded.success, (_, v) => (typeof v === "bigint" ? v.toString() : v)) ===
            JSON.stringify(withTlvs, (_, v) => (typeof v === "bigint" ? v.toString() : v))
      }),
      { numRuns: 2000 }
    )
  })

  it("decodes arbitrary bytes to a typed result; what decodes re-encodes to the same bytes (10,000 runs)", () => {
    const knownCode = fc.constantFrom(...Object.values(FailureCode))
    const withKnownCode = fc.tuple(knownCode, bytes(0, 300)).map(([c, rest]) => new Uint8Array([c >> 8, c & 0xff, ...rest]))
    fc.assert(
      fc.property(fc.oneof(bytes(0, 300), withKnownCode), (b) => {
        const r = decodeFailureMessage(b)
        if (Result.isFailure(r)) return r.failure._tag.length > 0
        return toHex(encodeFailureMessage(r.success)) === toHex(b)
      }),
      { numRuns: 10_000 }
    )
  })

  it("turns update_fail_malformed_htlc into the failure sent upstream (BOLT 2)", () => {
    const hash = new Uint8Array(32).fill(5)
    expect(failureFromMalformed(FailureCode.invalid_onion_hmac, hash)).toEqual({ _tag: "invalid_onion_hmac", sha256OfOnion: hash })
    expect(failureFromMalformed(FailureCode.invalid_onion_blinding, hash)._tag).toBe("invalid_onion_blinding")
    const odd = failureFromMalformed(0x8000 | 99, hash)
    expect(odd._tag === "unknown" && [odd.code, odd.data]).toEqual([0x8063, hash])
  })

  it("reports truncated data as a typed error", () => {
    const r = decodeFailureMessage(new Uint8Array([0x40, 0x0f, 0, 0, 0]))
    expect(Result.isFailure(r) && r.failure._tag).toBe("UnexpectedEof")
  })
})
