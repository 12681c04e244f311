import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import bolt11 from "bolt11"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { decodeInvoice, encodeInvoice, makeInvoice, prepareSigning, signAndEncode, signingHash, fallbackAddress, validateForEncoding, type InvoiceParams, type UnsignedInvoice } from "../../../src/protocol/invoice/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/fields.ts"

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
const secret = bytes(32).filter((k) => nobleSecp256k1.isValidSecret(k))
const pubkey = secret.map((k) => nobleSecp256k1.publicKey(k) ?? new Uint8Array(33))

const hop = fc.record({
  pubkey,
  shortChannelId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => n as ShortChannelId),
  feeBaseMsat: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  feeProportionalMillionths: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  cltvExpiryDelta: fc.integer({ min: 0, max: 65535 })
})
const fallback = fc.oneof(
  fc.record({ version: fc.constantFrom(17, 18), program: bytes(20) }),
  fc.record({ version: fc.constant(0), program: fc.oneof(bytes(20), bytes(32)) }),
  fc.record({ version: fc.constant(1), program: bytes(32) })
)

const params = (network: fc.Arbitrary<"bc" | "tb" | "tbs" | "bcrt">): fc.Arbitrary<{ key: Uint8Array; p: InvoiceParams }> =>
  fc.record({
    key: secret,
    network,
    amount: fc.option(fc.bigInt({ min: 1n, max: 2_100_000_000_000_000_000n }), { nil: undefined }),
    timestamp: fc.integer({ min: 0, max: 2 ** 35 - 1 }),
    paymentHash: bytes(32),
    paymentSecret: bytes(32),
    description: fc.oneof(
      fc.string({ maxLength: 300 }).map((text) => ({ text })),
      bytes(32).map((hash) => ({ hash }))
    ),
    expirySeconds: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
    minFinalCltvExpiryDelta: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    withPayee: fc.boolean(),
    metadata: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
    fallbacks: fc.array(fallback, { maxLength: 3 }),
    routeHints: fc.array(fc.array(hop, { minLength: 1, maxLength: 3 }), { maxLength: 3 }),
    features: fc.uniqueArray(fc.constantFrom(8, 9, 14, 15, 16, 17, 25, 49, 99, 255), { maxLength: 6 })
  }).map((r) => ({
    key: r.key,
    p: {
      network: r.network,
      amountMsat: r.amount === undefined ? undefined : msat(r.amount),
      timestamp: r.timestamp,
      paymentHash: r.paymentHash,
      paymentSecret: r.paymentSecret,
      description: r.description,
      expirySeconds: r.expirySeconds,
      minFinalCltvExpiryDelta: r.minFinalCltvExpiryDelta,
      payee: r.withPayee ? nobleSecp256k1.publicKey(r.key) : undefined,
      metadata: r.metadata,
      fallbacks: r.fallbacks,
      routeHints: r.routeHints,
      features: r.features
    }
  }))

const encode = (key: Uint8Array, p: InvoiceParams): string =>
  signAndEncode(Result.getOrThrow(makeInvoice(p)), (digest) => nobleSecp256k1.signRecoverable(digest, key))

describe("BOLT 11 properties", () => {
  it("prepareSigning gives signingHash's digest and encodeInvoice's string (one computation of the data words)", () => {
    fc.assert(
      fc.property(params(fc.constantFrom("bc", "tb", "tbs", "bcrt")), bytes(64), fc.integer({ min: 0, max: 3 }), ({ p }, signature, recovery) => {
        const unsigned = Result.getOrThrow(makeInvoice(p))
        const signing = prepareSigning(unsigned)
        expect(signing.digest).toEqual(signingHash(unsigned))
        expect(signing.encode(signature, recovery)).toBe(encodeInvoice(unsigned, signature, recovery))
      }),
      { numRuns: 200 }
    )
  })

  it("random invoices from our encoder decode back to the same fields", () => {
    fc.assert(
      fc.property(params(fc.constantFrom("bc", "tb", "tbs", "bcrt")), ({ key, p }) => {
        const s = encode(key, p)
        const r = decodeInvoice(s, nobleSecp256k1)
        if (Result.isFailure(r)) throw new Error(r.failure.message)
        const inv = r.success
        expect(inv.network).toBe(p.network)
        expect(inv.amountMsat).toBe(p.amountMsat)
        expect(inv.timestamp).toBe(p.timestamp)
        expect(inv.paymentHash).toEqual(p.paymentHash)
        expect(inv.paymentSecret).toEqual(p.paymentSecret)
        if ("text" in p.description) expect(inv.description).toBe(p.description.text)
        else expect(inv.descriptionHash).toEqual(p.description.hash)
        expect(inv.expirySeconds).toBe(p.expirySeconds ?? 3600)
        expect(inv.minFinalCltvExpiryDelta).toBe(p.minFinalCltvExpiryDelta ?? 18)
        expect(inv.payee).toEqual(nobleSecp256k1.publicKey(key))
        expect(inv.payeeFromField).toBe(p.payee !== undefined)
        expect(inv.metadata).toEqual(p.metadata)
        expect(inv.fallbacks).toEqual(p.fallbacks)
        expect(inv.routeHints).toEqual(p.routeHints)
        expect(inv.features).toEqual([...(p.features ?? [])].sort((a, b) => a - b))
      }),
      { numRuns: 300 }
    )
  })

  it("agrees with the bolt11 npm package's decoding", () => {
    fc.assert(
      fc.property(params(fc.constantFrom("bc", "tb")), ({ key, p }) => {
        const s = encode(key, p)
        const ours = decodeInvoice(s, nobleSecp256k1)
        if (Result.isFailure(ours)) throw new Error(ours.failure.message)
        const inv = ours.success
        const theirs = bolt11.decode(s)
        const tags = theirs.tagsObject
        expect(theirs.complete).toBe(true)
        expect(theirs.millisatoshis ?? null).toBe(inv.amountMsat === undefined ? null : inv.amountMsat.toString())
        expect(theirs.timestamp).toBe(inv.timestamp)
        expect(theirs.payeeNodeKey).toBe(toHex(inv.payee))
        expect(theirs.signature).toBe(toHex(inv.signature))
        expect(theirs.recoveryFlag).toBe(inv.recovery)
        expect(tags.payment_hash).toBe(toHex(inv.paymentHash))
        expect(tags.payment_secret).toBe(toHex(inv.paymentSecret))
        if (inv.description !== undefined) expect(tags.description).toBe(inv.description)
        if (inv.descriptionHash !== undefined) expect(tags.purpose_commit_hash).toBe(toHex(inv.descriptionHash))
        if (p.expirySeconds !== undefined) expect(tags.expire_time).toBe(inv.expirySeconds)
        if (p.minFinalCltvExpiryDelta !== undefined) expect(tags.min_final_cltv_expiry).toBe(inv.minFinalCltvExpiryDelta)
        // bolt11's tagsObject keeps only the last of repeated tags: compare the tag lists instead.
        const theirFallbacks = theirs.tags.filter((t) => t.tagName === "fallback_address").map((t) => t.data as { address: string })
        expect(theirFallbacks.map((f) => f.address)).toEqual(inv.fallbacks.map((f) => fallbackAddress(f, inv.network)))
        const theirRoutes = theirs.tags.filter((t) => t.tagName === "routing_info").map((t) => t.data as Array<{ pubkey: string; short_channel_id: string; fee_base_msat: number; fee_proportional_millionths: number; cltv_expiry_delta: number }>)
        expect(theirRoutes).toEqual(
          inv.routeHints.map((r) =>
            r.map((h) => ({
              pubkey: toHex(h.pubkey),
              short_channel_id: h.shortChannelId.toString(16).padStart(16, "0"),
              fee_base_msat: h.feeBaseMsat,
              fee_proportional_millionths: h.feeProportionalMillionths,
              cltv_expiry_delta: h.cltvExpiryDelta
            }))
          )
        )
      }),
      { numRuns: 200 }
    )
  })

  it("mutated invoices fail cleanly or decode, never throw", () => {
    const valid = encode(new Uint8Array(32).fill(7), {
      network: "bc",
      amountMsat: msat(123_000n),
      timestamp: 1_700_000_000,
      paymentHash: new Uint8Array(32).fill(1),
      paymentSecret: new Uint8Array(32).fill(2),
      description: { text: "coffee" },
      routeHints: [[{ pubkey: nobleSecp256k1.publicKey(new Uint8Array(32).fill(3)) ?? new Uint8Array(33), shortChannelId: 5n as ShortChannelId, feeBaseMsat: 1, feeProportionalMillionths: 2, cltvExpiryDelta: 40 }]]
    })
    const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l1LNBC"
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), ch: fc.constantFrom(...charset.split("")), op: fc.constantFrom("replace", "insert", "delete") }), { minLength: 1, maxLength: 4 }),
        (edits) => {
          let s = valid
          for (const e of edits) {
            const i = e.at % (s.length + 1)
            s = e.op === "replace" ? s.slice(0, i) + e.ch + s.slice(i + 1) : e.op === "insert" ? s.slice(0, i) + e.ch + s.slice(i) : s.slice(0, i) + s.slice(i + 1)
          }
          const r = decodeInvoice(s, nobleSecp256k1)
          if (s !== valid) expect(Result.isFailure(r)).toBe(true)
        }
      ),
      { numRuns: 10_000 }
    )
  })

  it("arbitrary strings never throw", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(..."lnbc1qpzry9x8gf2tvdw0s3jn54khce6mua7l".split("")) })), (s) => {
        const r = decodeInvoice(s, nobleSecp256k1)
        expect(Result.isResult(r)).toBe(true)
      }),
      { numRuns: 10_000 }
    )
  })
})

describe("makeInvoice refuses what BOLT 11 cannot carry", () => {
  const base: InvoiceParams = {
    network: "bc",
    timestamp: 1_700_000_000,
    paymentHash: new Uint8Array(32),
    paymentSecret: new Uint8Array(32),
    description: { text: "ok" }
  }
  const problem = (p: Partial<InvoiceParams>): string | undefined => {
    const r = makeInvoice({ ...base, ...p })
    return Result.isFailure(r) ? r.failure.field : undefined
  }
  it("accepts the limits and rejects one past them", () => {
    expect(problem({})).toBeUndefined()
    expect(problem({ description: { text: "x".repeat(639) } })).toBeUndefined()
    expect(problem({ description: { text: "x".repeat(640) } })).toBe("description")
    expect(problem({ metadata: new Uint8Array(640) })).toBe("metadata")
    expect(problem({ paymentHash: new Uint8Array(31) })).toBe("payment_hash")
    expect(problem({ paymentSecret: new Uint8Array(33) })).toBe("payment_secret")
    expect(problem({ description: { hash: new Uint8Array(5) } })).toBe("description_hash")
    expect(problem({ payee: new Uint8Array(32) })).toBe("payee")
    expect(problem({ expirySeconds: -1 })).toBe("expiry")
    expect(problem({ timestamp: 2 ** 35 })).toBe("timestamp")
    expect(problem({ amountMsat: msat(0n) })).toBe("amount")
    expect(problem({ amountMsat: msat(2_100_000_000_000_000_001n) })).toBe("amount")
    expect(problem({ fallbacks: [{ version: 19, program: new Uint8Array(20) }] })).toBe("fallback")
    expect(problem({ routeHints: [[]] })).toBe("route_hint")
    const hop = { pubkey: new Uint8Array(33), shortChannelId: 1n as ShortChannelId, feeBaseMsat: 1, feeProportionalMillionths: 1, cltvExpiryDelta: 1 }
    expect(problem({ routeHints: [Array.from({ length: 12 }, () => hop)] })).toBeUndefined()
    expect(problem({ routeHints: [Array.from({ length: 13 }, () => hop)] })).toBe("route_hint")
    expect(problem({ routeHints: [[{ ...hop, cltvExpiryDelta: 65536 }]] })).toBe("route_hint")
    expect(problem({ features: [8, 8] })).toBe("features")
  })
})

describe("non-canonical amounts (BOLT 11: readers should handle non-largest multipliers)", () => {
  const key = new Uint8Array(32).fill(0x33)
  const unsigned = Result.getOrThrow(
    makeInvoice({
      network: "bc",
      amountMsat: msat(250_000_000n),
      timestamp: 1_496_314_658,
      paymentHash: new Uint8Array(32).fill(1),
      paymentSecret: new Uint8Array(32).fill(2),
      description: { text: "non-shortest amount" }
    })
  )
  for (const hrp of ["lnbc2500000n", "lnbc0002500u", "lnbc2500000000p"]) {
    it(`${hrp} is signed as written, decodes, and re-encodes to the same string`, () => {
      const written: UnsignedInvoice = { ...unsigned, hrp }
      expect(validateForEncoding(written)).toBeUndefined()
      const s = signAndEncode(written, (digest) => nobleSecp256k1.signRecoverable(digest, key))
      expect(s.startsWith(`${hrp}1`)).toBe(true)
      const r = decodeInvoice(s, nobleSecp256k1)
      if (Result.isFailure(r)) throw new Error(r.failure.message)
      expect(r.success.amountMsat).toBe(250_000_000n)
      expect(r.success.payee).toEqual(nobleSecp256k1.publicKey(key))
      expect(encodeInvoice(r.success, r.success.signature, r.success.recovery)).toBe(s)
    })
  }
  it("an hrp that contradicts the amount or network cannot be written", () => {
    expect(validateForEncoding({ ...unsigned, hrp: "lnbc2501u" })?.field).toBe("hrp")
    expect(validateForEncoding({ ...unsigned, hrp: "lntb2500u" })?.field).toBe("hrp")
  })
})
