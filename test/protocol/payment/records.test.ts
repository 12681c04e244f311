/**
 * The payment layer's stored records: the direct writers (`encodeOutboundRecord`,
 * `encodeInboundRecord`, `encodeForwardRecord`) give exactly the text of the Schema encoders
 * for every record (every optional field present or not, strings needing escapes, extreme
 * amounts), and a record the Schema refuses (a 31-byte hash, an amount above u64, a fractional
 * CLTV) is refused the same way; the text decodes back to the record (a NaN time, which JSON writes
 * as null for both, excepted).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Schema } from "effect"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import {
  type AttemptRecord,
  attemptJson,
  encodeAttemptRecord,
  encodeForwardRecord,
  encodeInboundRecord,
  encodeOutboundRecord,
  type ForwardRecord,
  forwardJson,
  type InboundRecord,
  inboundJson,
  OUTBOUND_HEAD_MEMBERS,
  type OutboundRecord,
  OutboundRecordSchema,
  outboundJson,
  sameOutboundHead,
  withAttemptsApart
} from "../../../src/protocol/payment/records.ts"
import { ChannelId } from "../../../src/protocol/units.ts"

const RUNS = 300
/** Mostly well-formed; now and then a value the Schema refuses. */
const bytes32 = fc.oneof({ weight: 20, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 40 }) })
const anyBytes = fc.uint8Array({ minLength: 0, maxLength: 40 })
const amount = fc.oneof({ weight: 20, arbitrary: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }) }, { weight: 1, arbitrary: fc.bigInt({ min: -5n, max: 0x1_0000_0000_0000_0005n }) })
const int = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: -1_000_000, max: 100_000_000 }) }, { weight: 1, arbitrary: fc.constantFrom(0.5, Number.MAX_SAFE_INTEGER + 2, -0) })
const num = fc.oneof({ weight: 20, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) }, { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY) })
const text = fc.string({ unit: "binary", maxLength: 30 })
const scid = fc.tuple(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffff }))
  .map(([b, t, o]) => shortChannelIdFromParts(b, t, o))
const channelId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => ChannelId(b))
const optional = <A>(a: fc.Arbitrary<A>) => fc.option(a, { nil: undefined })

const hop = fc.record({ nodeId: anyBytes, shortChannelId: scid, amountMsat: amount, cltvExpiry: int })
const attempt: fc.Arbitrary<AttemptRecord> = fc.record({
  attemptId: int,
  hops: fc.array(hop, { maxLength: 4 }),
  sharedSecrets: fc.array(bytes32, { maxLength: 4 }),
  channelId,
  htlcId: optional(amount),
  status: fc.constantFrom("inflight" as const, "failed" as const, "fulfilled" as const),
  failure: optional(text),
  holdTimes: optional(fc.array(int, { maxLength: 4 }))
})
const outbound: fc.Arbitrary<OutboundRecord> = fc.record({
  paymentId: text,
  paymentHash: bytes32,
  payee: anyBytes,
  amountMsat: amount,
  paymentSecret: optional(bytes32),
  paymentMetadata: optional(anyBytes),
  keysendPreimage: optional(bytes32),
  invoice: optional(text),
  finalCltvDelta: int,
  blindedPaths: optional(fc.array(fc.record({
    path: anyBytes,
    feeBaseMsat: int,
    feeProportionalMillionths: int,
    cltvExpiryDelta: int,
    htlcMinimumMsat: amount,
    htlcMaximumMsat: amount
  }), { maxLength: 3 })),
  blindedMpp: optional(fc.boolean()),
  maxFeeMsat: amount,
  maxCltvExpiryDelta: int,
  maxParts: int,
  deadlineMillis: num,
  status: fc.constantFrom("pending" as const, "succeeded" as const, "failed" as const),
  preimage: optional(bytes32),
  failureReason: optional(text),
  attempts: fc.array(attempt, { maxLength: 3 }),
  nextAttemptId: int,
  createdAtMillis: num
})
const inbound: fc.Arbitrary<InboundRecord> = fc.record({
  paymentHash: bytes32,
  preimage: bytes32,
  paymentSecret: optional(bytes32),
  amountMsat: optional(amount),
  expiresAtSeconds: optional(int),
  minFinalCltvExpiryDelta: int,
  invoice: optional(text),
  keysend: fc.boolean(),
  status: fc.constantFrom("open" as const, "claiming" as const, "paid" as const),
  receivedMsat: amount,
  pathId: optional(bytes32),
  claimedParts: optional(fc.array(text, { maxLength: 3 })),
  createdAtSeconds: int
})
const forward: fc.Arbitrary<ForwardRecord> = fc.record({
  inChannelId: channelId,
  inHtlcId: amount,
  inAmountMsat: amount,
  paymentHash: bytes32,
  sharedSecret: bytes32,
  outChannelId: channelId,
  outAmountMsat: amount,
  outCltvExpiry: int,
  outHtlcId: optional(amount),
  outShortChannelId: optional(scid),
  blinded: optional(fc.record({ introduction: fc.boolean(), sha256OfOnion: bytes32 })),
  receivedAtMillis: optional(num),
  status: fc.constantFrom("forwarding" as const, "fulfilled" as const, "failed" as const)
})

/** The Schema's text, or its refusal (as the string "refused"). */
const outcome = <R>(encode: (r: R) => string, r: R): string => {
  try {
    return encode(r)
  } catch {
    return "refused"
  }
}

const sameAsSchema = <R>(name: string, arb: fc.Arbitrary<R>, direct: (r: R) => string, schema: Schema.Codec<R, string>) =>
  it(`${name}: the direct text is the Schema's, refusals included, and decodes back`, () => {
    const encode = Schema.encodeSync(schema)
    const decode = Schema.decodeSync(schema)
    let accepted = 0
    let refused = 0
    fc.assert(fc.property(arb, (r) => {
      const expected = outcome(encode, r)
      expect(outcome(direct, r)).toBe(expected)
      if (expected === "refused") refused += 1
      else {
        accepted += 1
        // A NaN or infinite time is written as null by JSON (as the Schema writes it) and does not read back.
        if (expected.includes(":null")) expect(() => decode(expected)).toThrow()
        else expect(encode(decode(expected))).toBe(expected)
      }
    }), { numRuns: RUNS })
    // Both kinds were exercised.
    expect(accepted).toBeGreaterThan(RUNS / 4)
    expect(refused).toBeGreaterThan(0)
  })

describe("payment records' stored text", () => {
  sameAsSchema("outbound", outbound, encodeOutboundRecord, outboundJson)
  sameAsSchema("inbound", inbound, encodeInboundRecord, inboundJson)
  sameAsSchema("forward", forward, encodeForwardRecord, forwardJson)
  sameAsSchema("attempt", attempt, encodeAttemptRecord, attemptJson)
})

/**
 * A pending payment's attempts kept apart from its record (`pay/att/<id>/<attempt>`): read back
 * into the record (`withAttemptsApart`), whichever of them the stored record still holds (one
 * written before attempts were kept apart), and whether its record need be written again.
 */
describe("a payment's attempts kept apart", () => {
  /** A record as the payment layer keeps it (a NaN time, which is never equal to itself nor read back, left out). */
  const kept = outbound.filter((r) => !Number.isNaN(r.deadlineMillis) && !Number.isNaN(r.createdAtMillis))
  it("the record's members but attempts and nextAttemptId are exactly OUTBOUND_HEAD_MEMBERS", () => {
    const fields = Object.keys(OutboundRecordSchema.fields).filter((k) => k !== "attempts" && k !== "nextAttemptId")
    expect([...OUTBOUND_HEAD_MEMBERS].sort()).toEqual(fields.sort())
  })

  it("sameOutboundHead: true whatever the attempts and next attempt id; false once any other member differs", () => {
    fc.assert(fc.property(kept, outbound, fc.nat(), (r, other, pick) => {
      expect(sameOutboundHead(r, { ...r, attempts: other.attempts, nextAttemptId: other.nextAttemptId })).toBe(true)
      const k = OUTBOUND_HEAD_MEMBERS[pick % OUTBOUND_HEAD_MEMBERS.length]!
      const changed = { ...r, [k]: r[k] === other[k] ? (r[k] === undefined ? 0 : undefined) : other[k] }
      expect(sameOutboundHead(r, changed)).toBe(false)
    }), { numRuns: RUNS })
  })

  it("withAttemptsApart: the record's attempts, each replaced by the one apart of its id, with those only apart, in id order; the next id follows them", () => {
    const split = fc.record({
      r: kept,
      // Per attempt: where it is (0: in the record only, 1: apart only, 2: in the record and, changed, apart).
      where: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 8 }),
      order: fc.array(fc.nat(), { maxLength: 8 }),
      written: fc.nat({ max: 10 })
    })
    fc.assert(fc.property(split, ({ r, where, order, written }) => {
      const base = r.attempts[0]
      if (base === undefined) return
      const full: Array<AttemptRecord> = where.map((_, attemptId) => ({ ...base, attemptId, status: "inflight" }))
      const latest = full.map((a, i) => (where[i] === 2 ? { ...a, status: "failed" as const, failure: "changed" } : a))
      const embedded = full.filter((_, i) => where[i] !== 1)
      const apart = latest.filter((_, i) => where[i] !== 0)
      // Apart in any order (a store lists keys as text: "10" before "2").
      for (let i = 0; i < order.length && apart.length > 1; i++) {
        const j = order[i]! % apart.length
        const [a] = apart.splice(j, 1)
        apart.push(a!)
      }
      const head = { ...r, attempts: embedded, nextAttemptId: written }
      const merged = withAttemptsApart(head, apart)
      if (apart.length === 0) expect(merged).toBe(head)
      else {
        expect(merged).toEqual({ ...r, attempts: latest, nextAttemptId: Math.max(written, full.length) })
        expect(sameOutboundHead(merged, head)).toBe(true)
      }
    }), { numRuns: RUNS })
  })
})

/**
 * A record written again with some fields changed (its copies share the unchanged values and byte
 * arrays, as the payment layer's spread copies do): the text of every write is still the Schema's,
 * whether the remembered head of the record (its members before `status`) is reused or not.
 */
const writtenAgain = <R extends object>(name: string, arb: fc.Arbitrary<R>, direct: (r: R) => string, schema: Schema.Codec<R, string>) =>
  it(`${name}: a record written again with changed fields (head or tail) gives the Schema's text every time`, () => {
    const encode = Schema.encodeSync(schema)
    fc.assert(fc.property(arb, fc.array(fc.tuple(arb, fc.array(fc.nat(), { maxLength: 3 })), { minLength: 1, maxLength: 4 }), (first, changes) => {
      let current = first
      expect(outcome(direct, current)).toBe(outcome(encode, current))
      for (const [other, picks] of changes) {
        // Take a few fields from another random record, keep the rest (same values, same arrays).
        const keys = Object.keys(other)
        const taken: Record<string, unknown> = {}
        for (const p of picks) {
          const k = keys[p % Math.max(1, keys.length)]
          if (k !== undefined) taken[k] = Reflect.get(other, k)
        }
        current = { ...current, ...taken }
        expect(outcome(direct, current)).toBe(outcome(encode, current))
      }
    }), { numRuns: RUNS })
  })

describe("payment records written again", () => {
  writtenAgain("outbound", outbound, encodeOutboundRecord, outboundJson)
  writtenAgain("inbound", inbound, encodeInboundRecord, inboundJson)
  writtenAgain("forward", forward, encodeForwardRecord, forwardJson)
})

/**
 * An attempt written again as the payment layer does (a spread copy of it with its HTLC id, status,
 * failure or hold times set, sharing its hops and secrets arrays; now and then its id or channel
 * changed too, so that the remembered head of an attempt keyed by its hops must not be reused):
 * every write's text is the Schema's.
 */
describe("payment attempts written again", () => {
  it("outbound: an attempt's copies with changed fields give the Schema's text every time", () => {
    const encode = Schema.encodeSync(outboundJson)
    const change = fc.record({
      which: fc.nat(),
      htlcId: optional(amount),
      status: fc.constantFrom("inflight" as const, "failed" as const, "fulfilled" as const),
      failure: optional(text),
      holdTimes: optional(fc.array(int, { maxLength: 4 })),
      attemptId: fc.option(int, { nil: undefined, freq: 4 }),
      channelId: fc.option(channelId, { nil: undefined, freq: 4 })
    })
    let written = 0
    fc.assert(fc.property(outbound, fc.array(change, { minLength: 1, maxLength: 5 }), (first, changes) => {
      let current = first
      expect(outcome(encodeOutboundRecord, current)).toBe(outcome(encode, current))
      for (const c of changes) {
        if (current.attempts.length === 0) return
        const i = c.which % current.attempts.length
        const a = current.attempts[i]!
        const updated = {
          ...a,
          htlcId: c.htlcId,
          status: c.status,
          failure: c.failure,
          holdTimes: c.holdTimes,
          ...(c.attemptId === undefined ? {} : { attemptId: c.attemptId }),
          ...(c.channelId === undefined ? {} : { channelId: c.channelId })
        }
        current = { ...current, attempts: current.attempts.map((x, j) => (j === i ? updated : x)) }
        expect(outcome(encodeOutboundRecord, current)).toBe(outcome(encode, current))
        written += 1
      }
    }), { numRuns: RUNS, seed: 14 })
    expect(written).toBeGreaterThan(RUNS / 2)
  })
})
