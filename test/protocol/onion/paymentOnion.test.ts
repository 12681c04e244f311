import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import vector from "../../vectors/bolt04/blinded-payment-onion-test.json" with { type: "json" }
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/index.ts"
import {
  blindedAmountToForward,
  BlindedHopRejected,
  blindedPathHops,
  buildOnion,
  buildPaymentOnion,
  createBlindedPath,
  createFailure,
  decodeHopPayload,
  decryptFailure,
  ecdhWithSecret,
  FailureCode,
  forwardFailure,
  type HopPayload,
  type OnionFailureResponse,
  type PaymentHop,
  processPaymentOnion,
  type ProcessedOnion,
  serializeOnionPacket
} from "../../../src/protocol/onion/index.ts"
import { type Msat, msat } from "../../../src/protocol/units.ts"
import { IMPLEMENTATIONS, nodeAt, secp, sessionKeyOf, stripLength } from "./fixtures.ts"

const scid = (n: bigint) => n as ShortChannelId
const paymentHash = sha256(new TextEncoder().encode("preimage"))

describe("blinded payment onion (blinded-payment-onion-test.json)", () => {
  const gen = vector.generate
  const ad = fromHex(gen.associated_data)
  const hops: ReadonlyArray<PaymentHop> = gen.full_route.hops.map((h) => {
    const p = decodeHopPayload(stripLength(fromHex(h.payload)))
    if (Result.isFailure(p)) throw new Error(p.failure.reason)
    return { publicKey: fromHex(h.pubkey), payload: p.success }
  })
  const path = {
    firstNodeId: fromHex(gen.blinded_route.first_node_id),
    firstPathKey: fromHex(gen.blinded_route.first_path_key),
    hops: gen.blinded_route.hops.map((h) => ({ blindedNodeId: fromHex(h.blinded_node_id), encryptedRecipientData: fromHex(h.encrypted_data) }))
  }

  it.each(IMPLEMENTATIONS.map((impl) => [impl.name, impl] as const))("builds the vector's onion from typed payloads (%s)", (_, impl) => {
    const built = buildPaymentOnion(impl, fromHex(gen.session_key), hops, ad)
    expect(Result.isSuccess(built) && toHex(built.success.onion)).toBe(gen.onion)
  })

  it("builds the same onion from the blinded route with blindedPathHops", () => {
    const blinded = blindedPathHops(path, { amtToForward: msat(100000n), outgoingCltvValue: 749000, totalAmountMsat: msat(150000n) })
    if (blinded === undefined || hops[0] === undefined) throw new Error("path")
    const built = buildPaymentOnion(secp, fromHex(gen.session_key), [hops[0], ...blinded], ad)
    expect(Result.isSuccess(built) && toHex(built.success.onion)).toBe(gen.onion)
  })

  it("every node processes its layer: amounts and expiries from payment_relay, next onions and path keys", () => {
    const dec = vector.decrypt.hops
    let amountMsat: Msat = msat(110125n + 1000n)
    let cltvExpiry = 749150 + 40
    let pathKey: Uint8Array | undefined
    const tags: Array<string> = []
    dec.forEach((h, i) => {
      const r = processPaymentOnion(secp, ecdhWithSecret(secp, fromHex(h.node_privkey)), {
        onion: fromHex(h.onion),
        paymentHash: ad,
        amountMsat,
        cltvExpiry,
        ...(pathKey === undefined ? {} : { pathKey })
      })
      if (Result.isFailure(r)) throw new Error(`${h.alias}: ${r.failure.reason._tag}`)
      const s: ProcessedOnion = r.success
      tags.push(s._tag)
      if (s._tag === "Forward" || s._tag === "BlindedForward") {
        expect(toHex(s.nextOnion)).toBe(dec[i + 1]?.onion)
        amountMsat = s.amtToForward
        cltvExpiry = s.outgoingCltvValue
      }
      if (s._tag === "BlindedForward") {
        expect(toHex(s.nextPathKey)).toBe("next_path_key" in h ? h.next_path_key : "")
        expect(s.introduction).toBe(h.alias === "Bob")
        pathKey = s.nextPathKey
      }
      if (s._tag === "BlindedReceive") {
        expect(toHex(s.pathId ?? new Uint8Array())).toBe("c9cf92f45ade68345bc20ae672e2012f4af487ed4415")
        expect([s.amtToForward, s.totalAmountMsat, s.outgoingCltvValue]).toEqual([100000n, 150000n, 749000])
      }
    })
    expect(tags).toEqual(["Forward", "BlindedForward", "BlindedForward", "BlindedForward", "BlindedReceive"])
    // Alice forwards 110125 at 749150; Bob: fee_base 10000, 0 ppm, delta 50; Carol: 100 + 150 ppm,
    // delta 75; Dave: 100 ppm, delta 25: Eve gets exactly her payload's 100000 msat at 749000.
    expect(cltvExpiry).toBe(749150 - 50 - 75 - 25)
    expect(amountMsat).toBe(100000n)
  })

  it("computes amt_to_forward from payment_relay as the spec's formula says", () => {
    expect(blindedAmountToForward(110125n, 10000, 0)).toBe(100125n)
    expect(blindedAmountToForward(100125n, 100, 150)).toBe(100010n)
    expect(blindedAmountToForward(100010n, 0, 100)).toBe(100000n)
  })

  it("inside a blinded route every error is update_fail_malformed_htlc with invalid_onion_blinding", () => {
    const carol = vector.decrypt.hops[2]
    if (carol === undefined) throw new Error("vector")
    const onion = fromHex(carol.onion)
    const process = (o: Uint8Array, extra: { amountMsat?: Msat; cltvExpiry?: number } = {}) =>
      processPaymentOnion(secp, ecdhWithSecret(secp, fromHex(carol.node_privkey)), {
        onion: o,
        paymentHash: ad,
        amountMsat: extra.amountMsat ?? msat(200000n),
        cltvExpiry: extra.cltvExpiry ?? 749100,
        pathKey: fromHex(vector.decrypt.hops[1]?.next_path_key ?? "")
      })
    const damaged = onion.slice()
    damaged[100] = (damaged[100] ?? 0) ^ 1
    const expectBlinding = (r: ReturnType<typeof process>, reason: string, sent: Uint8Array) => {
      expect(Result.isFailure(r) && r.failure.reason._tag).toBe(reason)
      expect(Result.isFailure(r) && r.failure.response).toEqual({
        _tag: "FailMalformed",
        failureCode: FailureCode.invalid_onion_blinding,
        sha256OfOnion: sha256(sent)
      })
    }
    expectBlinding(process(damaged), "InvalidOnionHmac", damaged)
    // payment_constraints: max_cltv_expiry 750100, htlc_minimum_msat 50.
    expectBlinding(process(onion, { cltvExpiry: 750101 }), "BlindedHopRejected", onion)
    expectBlinding(process(onion, { amountMsat: msat(49n) }), "BlindedHopRejected", onion)
    expect(Result.isSuccess(process(onion))).toBe(true)
  })
})

/** A plain route of n hops to node n-1, all through fixed test nodes. */
const plainRoute = (n: number, final: Partial<HopPayload> = {}): ReadonlyArray<PaymentHop> =>
  Array.from({ length: n }, (_, i) => ({
    publicKey: nodeAt(i).publicKey,
    payload: i === n - 1
      ? { amtToForward: msat(1000n), outgoingCltvValue: 800_000, paymentData: { paymentSecret: new Uint8Array(32).fill(9), totalMsat: msat(1000n) }, ...final }
      : { amtToForward: msat(1000n + BigInt(n - 1 - i)), outgoingCltvValue: 800_000 + 40 * (n - 1 - i), shortChannelId: scid(BigInt(i + 1)) }
  }))

describe("processing an incoming HTLC's onion", () => {
  const incoming = (onion: Uint8Array, extra: { pathKey?: Uint8Array } = {}) => ({
    onion,
    paymentHash,
    amountMsat: msat(5000n),
    cltvExpiry: 900_000,
    ...extra
  })
  const built = buildPaymentOnion(secp, sessionKeyOf(1), plainRoute(3), paymentHash)
  if (Result.isFailure(built)) throw new Error(built.failure._tag)
  const onion = built.success.onion

  const responseOf = (bytes: Uint8Array, node = 0, extra: { pathKey?: Uint8Array } = {}): OnionFailureResponse | undefined => {
    const r = processPaymentOnion(secp, nodeAt(node).ecdh, incoming(bytes, extra))
    return Result.isFailure(r) ? r.failure.response : undefined
  }

  it("maps a bad version, key and HMAC to update_fail_malformed_htlc with the SHA-256 of the onion", () => {
    const v = onion.slice()
    v[0] = 1
    expect(responseOf(v)).toEqual({ _tag: "FailMalformed", failureCode: FailureCode.invalid_onion_version, sha256OfOnion: sha256(v) })
    const k = onion.slice()
    k[1] = 4
    expect(responseOf(k)).toEqual({ _tag: "FailMalformed", failureCode: FailureCode.invalid_onion_key, sha256OfOnion: sha256(k) })
    const h = onion.slice()
    h[500] = (h[500] ?? 0) ^ 0x80
    expect(responseOf(h)).toEqual({ _tag: "FailMalformed", failureCode: FailureCode.invalid_onion_hmac, sha256OfOnion: sha256(h) })
    expect(responseOf(onion, 1)).toEqual({ _tag: "FailMalformed", failureCode: FailureCode.invalid_onion_hmac, sha256OfOnion: sha256(onion) })
    expect(FailureCode.invalid_onion_hmac).toBe(0xc005)
  })

  it("maps a payload missing a required record to invalid_onion_payload with its type", () => {
    const noAmount = buildPaymentOnion(secp, sessionKeyOf(2), [{ publicKey: nodeAt(0).publicKey, payload: { outgoingCltvValue: 5, shortChannelId: scid(1n) } }, ...plainRoute(1)], paymentHash)
    if (Result.isFailure(noAmount)) throw new Error(noAmount.failure._tag)
    const r = responseOf(noAmount.success.onion)
    expect(r?._tag === "Fail" && r.failure).toEqual({ _tag: "invalid_onion_payload", type: 2n, offset: 0 })
    const noScid = buildPaymentOnion(secp, sessionKeyOf(3), [{ publicKey: nodeAt(0).publicKey, payload: { amtToForward: msat(1n), outgoingCltvValue: 5 } }, ...plainRoute(1)], paymentHash)
    if (Result.isFailure(noScid)) throw new Error(noScid.failure._tag)
    const r2 = responseOf(noScid.success.onion)
    expect(r2?._tag === "Fail" && r2.failure).toEqual({ _tag: "invalid_onion_payload", type: 6n, offset: 0 })
  })

  it("the failure it returns is attributed to it by the sender", () => {
    const noScid = buildPaymentOnion(secp, sessionKeyOf(3), [...plainRoute(1).map((h) => ({ ...h, publicKey: nodeAt(5).publicKey, payload: { ...h.payload, shortChannelId: scid(1n) } })), { publicKey: nodeAt(1).publicKey, payload: { amtToForward: msat(1n), outgoingCltvValue: 5 } }, ...plainRoute(1)], paymentHash)
    if (Result.isFailure(noScid)) throw new Error(noScid.failure._tag)
    const first = processPaymentOnion(secp, nodeAt(5).ecdh, incoming(noScid.success.onion))
    if (Result.isFailure(first) || first.success._tag !== "Forward") throw new Error("first hop")
    const second = processPaymentOnion(secp, nodeAt(1).ecdh, incoming(first.success.nextOnion))
    if (Result.isSuccess(second) || second.failure.response._tag !== "Fail") throw new Error("second hop must fail")
    const reply = forwardFailure(first.success.sharedSecret, createFailure(second.failure.response.sharedSecret, second.failure.response.failure, 3), 2)
    const d = decryptFailure(noScid.success.sharedSecrets, reply.reason, reply.attributionData)
    expect(Result.isSuccess(d) && [d.success.hopIndex, d.success.attribution?.holdTimes]).toEqual([1, [2, 3]])
  })

  it("checks the final HTLC against its payload", () => {
    const one = buildPaymentOnion(secp, sessionKeyOf(4), plainRoute(1, { amtToForward: msat(6000n) }), paymentHash)
    if (Result.isFailure(one)) throw new Error(one.failure._tag)
    const r = responseOf(one.success.onion)
    expect(r?._tag === "Fail" && r.failure).toEqual({ _tag: "final_incorrect_htlc_amount", incomingHtlcAmt: 5000n })
    const late = buildPaymentOnion(secp, sessionKeyOf(4), plainRoute(1, { outgoingCltvValue: 900_001 }), paymentHash)
    if (Result.isFailure(late)) throw new Error(late.failure._tag)
    const r2 = responseOf(late.success.onion)
    expect(r2?._tag === "Fail" && r2.failure).toEqual({ _tag: "final_incorrect_cltv_expiry", cltvExpiry: 900_000 })
  })

  it("an authenticated hop with broken framing is an invalid_onion_payload, encrypted with its secret", () => {
    // A 1-byte payload: the HMAC holds, but lengths 0 and 1 are reserved (BOLT 4).
    const b = buildOnion(secp, sessionKeyOf(6), [{ publicKey: nodeAt(0).publicKey, payload: new Uint8Array(1) }], paymentHash)
    if (Result.isFailure(b)) throw new Error(b.failure._tag)
    const r = processPaymentOnion(secp, nodeAt(0).ecdh, incoming(serializeOnionPacket(b.success.packet)))
    expect(Result.isFailure(r) && r.failure.reason._tag).toBe("InvalidHopFraming")
    expect(Result.isFailure(r) && r.failure.response).toEqual({
      _tag: "Fail",
      failure: { _tag: "invalid_onion_payload", type: 0n, offset: 0 },
      sharedSecret: b.success.sharedSecrets[0]
    })
  })

  it("a path_key on an unblinded onion gives invalid_onion_blinding", () => {
    const r = responseOf(onion, 0, { pathKey: nodeAt(7).publicKey })
    expect(r?._tag).toBe("FailMalformed")
    expect(r?._tag === "FailMalformed" && r.failureCode).toBe(FailureCode.invalid_onion_blinding)
  })

  it("an introduction node reports blinded errors as an encrypted invalid_onion_blinding", () => {
    // The recipient sets a payment_constraints the HTLC breaks.
    const path = createBlindedPath(secp, sessionKeyOf(8), [
      { nodeId: nodeAt(1).publicKey, data: { shortChannelId: scid(2n), paymentRelay: { cltvExpiryDelta: 10, feeProportionalMillionths: 0, feeBaseMsat: 0 }, paymentConstraints: { maxCltvExpiry: 10, htlcMinimumMsat: 0n } } },
      { nodeId: nodeAt(2).publicKey, data: { pathId: new Uint8Array([1]) } }
    ])
    if (Result.isFailure(path)) throw new Error(path.failure._tag)
    const blinded = blindedPathHops(path.success, { amtToForward: msat(1000n), outgoingCltvValue: 800_000, totalAmountMsat: msat(1000n) })
    if (blinded === undefined) throw new Error("path")
    const b = buildPaymentOnion(secp, sessionKeyOf(9), blinded, paymentHash)
    if (Result.isFailure(b)) throw new Error(b.failure._tag)
    const r = responseOf(b.success.onion, 1)
    expect(r?._tag === "Fail" && r.failure._tag).toBe("invalid_onion_blinding")
  })
})

describe("blinded path edge cases", () => {
  it("blindedPathHops refuses a path with no hops or a sciddir first node", () => {
    const amounts = { amtToForward: msat(1n), outgoingCltvValue: 1, totalAmountMsat: msat(1n) }
    expect(blindedPathHops({ firstNodeId: nodeAt(0).publicKey, firstPathKey: nodeAt(1).publicKey, hops: [] }, amounts)).toBeUndefined()
    const hop = { blindedNodeId: nodeAt(2).publicKey, encryptedRecipientData: new Uint8Array(20) }
    expect(blindedPathHops({ firstNodeId: new Uint8Array(9), firstPathKey: nodeAt(1).publicKey, hops: [hop] }, amounts)).toBeUndefined()
    expect(blindedPathHops({ firstNodeId: nodeAt(0).publicKey, firstPathKey: nodeAt(1).publicKey, hops: [hop] }, amounts)?.length).toBe(1)
  })

  it("a final blinded hop whose data names both short_channel_id and next_node_id is refused", () => {
    // The recipient is its own introduction node, so the error is a plain invalid_onion_payload.
    const path = createBlindedPath(secp, sessionKeyOf(20), [
      { nodeId: nodeAt(1).publicKey, data: { pathId: new Uint8Array([1]), shortChannelId: scid(3n), nextNodeId: nodeAt(2).publicKey } }
    ])
    if (Result.isFailure(path)) throw new Error(path.failure._tag)
    const hops = blindedPathHops(path.success, { amtToForward: msat(1000n), outgoingCltvValue: 800_000, totalAmountMsat: msat(1000n) })
    if (hops === undefined) throw new Error("path")
    const b = buildPaymentOnion(secp, sessionKeyOf(21), hops, paymentHash)
    if (Result.isFailure(b)) throw new Error(b.failure._tag)
    const r = processPaymentOnion(secp, nodeAt(1).ecdh, { onion: b.success.onion, paymentHash, amountMsat: msat(1000n), cltvExpiry: 800_000 })
    expect(Result.isFailure(r) && r.failure.reason).toEqual(new BlindedHopRejected({ reason: "both_short_channel_id_and_next_node_id" }))
    expect(Result.isFailure(r) && r.failure.response._tag === "Fail" && r.failure.response.failure).toEqual({
      _tag: "invalid_onion_payload",
      type: 10n,
      offset: 0
    })
  })
})

describe("payment onion properties", () => {
  it("random routes: every hop learns its instructions, the last one receives", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer(), fc.uint8Array({ maxLength: 200 }), (n, seed, metadata) => {
        const route = plainRoute(n, metadata.length > 0 ? { paymentMetadata: metadata } : {})
        const b = buildPaymentOnion(secp, sessionKeyOf(seed), route, paymentHash)
        if (Result.isFailure(b)) return false
        let onion = b.success.onion
        for (let i = 0; i < n; i++) {
          const r = processPaymentOnion(secp, nodeAt(i).ecdh, { onion, paymentHash, amountMsat: msat(10_000n), cltvExpiry: 900_000 })
          if (Result.isFailure(r)) return false
          const s = r.success
          if (i < n - 1) {
            if (s._tag !== "Forward" || s.shortChannelId !== BigInt(i + 1)) return false
            onion = s.nextOnion
          } else if (s._tag !== "Receive" || toHex(s.paymentMetadata ?? new Uint8Array()) !== toHex(metadata)) {
            return false
          }
        }
        return true
      }),
      { numRuns: 60 }
    )
  })

  it("random blinded routes (unblinded prefix, then 1..5 blinded hops) reach the recipient with its path_id", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (prefix, blindedHops, seed) => {
        const pathId = sha256(new Uint8Array([seed & 0xff]))
        const nodes = Array.from({ length: blindedHops }, (_, j) => {
          const last = j === blindedHops - 1
          return {
            nodeId: nodeAt(prefix + j).publicKey,
            data: last
              ? { pathId, paymentConstraints: { maxCltvExpiry: 1_000_000, htlcMinimumMsat: 1n } }
              : {
                nextNodeId: nodeAt(prefix + j + 1).publicKey,
                paymentRelay: { cltvExpiryDelta: 40, feeProportionalMillionths: 100, feeBaseMsat: 1000 },
                paymentConstraints: { maxCltvExpiry: 1_000_000, htlcMinimumMsat: 1n }
              }
          }
        })
        const path = createBlindedPath(secp, sessionKeyOf(seed + 1), nodes)
        if (Result.isFailure(path)) return false
        const blinded = blindedPathHops(path.success, { amtToForward: msat(50_000n), outgoingCltvValue: 800_000, totalAmountMsat: msat(50_000n) })
        if (blinded === undefined) return false
        const unblinded: Array<PaymentHop> = Array.from({ length: prefix }, (_, i) => ({
          publicKey: nodeAt(i).publicKey,
          payload: { amtToForward: msat(100_000n), outgoingCltvValue: 900_000, shortChannelId: scid(BigInt(i + 1)) }
        }))
        const b = buildPaymentOnion(secp, sessionKeyOf(seed), [...unblinded, ...blinded], paymentHash)
        if (Result.isFailure(b)) return false
        let onion = b.success.onion
        let pathKey: Uint8Array | undefined
        let amountMsat = msat(100_000n)
        let cltvExpiry = 900_000
        for (let i = 0; i < prefix + blindedHops; i++) {
          const r = processPaymentOnion(secp, nodeAt(i).ecdh, { onion, paymentHash, amountMsat, cltvExpiry, ...(pathKey === undefined ? {} : { pathKey }) })
          if (Result.isFailure(r)) return false
          const s = r.success
          if (i === prefix + blindedHops - 1) return s._tag === "BlindedReceive" && toHex(s.pathId ?? new Uint8Array()) === toHex(pathId)
          if (s._tag === "Forward") {
            if (i >= prefix) return false
          } else if (s._tag === "BlindedForward") {
            if (i < prefix || s.introduction !== (i === prefix)) return false
            pathKey = s.nextPathKey
          } else {
            return false
          }
          onion = s.nextOnion
          amountMsat = s.amtToForward
          cltvExpiry = s.outgoingCltvValue
        }
        return false
      }),
      { numRuns: 60 }
    )
  })

  it("mutated onions fail cleanly (typed rejection, never a throw)", () => {
    const b = buildPaymentOnion(secp, sessionKeyOf(11), plainRoute(4), paymentHash)
    if (Result.isFailure(b)) throw new Error(b.failure._tag)
    const onion = b.success.onion
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: onion.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) => {
        const m = onion.slice()
        for (const [at, x] of flips) m[at] = (m[at] ?? 0) ^ x
        const r = processPaymentOnion(secp, nodeAt(0).ecdh, { onion: m, paymentHash, amountMsat: msat(1n), cltvExpiry: 1 })
        return Result.isFailure(r) && r.failure.response._tag === "FailMalformed"
      }),
      { numRuns: 500 }
    )
  })

  it("arbitrary bytes as an incoming onion never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1366, maxLength: 1366 }), fc.option(fc.uint8Array({ minLength: 33, maxLength: 33 }), { nil: undefined }), (bytes, pathKey) => {
        bytes[0] = 0
        bytes[1] = 2 | (bytes[1] ?? 0) & 1
        const r = processPaymentOnion(secp, nodeAt(0).ecdh, { onion: bytes, paymentHash, amountMsat: msat(1n), cltvExpiry: 1, ...(pathKey === undefined ? {} : { pathKey }) })
        return Result.isFailure(r) && r.failure.response._tag === "FailMalformed"
      }),
      { numRuns: 2000 }
    )
  })
})
