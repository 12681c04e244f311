/**
 * src/protocol/payment/blinded.ts: the recipient's blinded path (encrypted data per hop,
 * constraints, payinfo) and the payer's onion through it, checked by running every node's
 * onion processing (src/protocol/onion/paymentOnion.ts) along the path.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { blindedAmountToForward, buildPaymentOnion, decryptBlindedHop, processPaymentOnion, type ProcessedOnion } from "../../../src/protocol/onion/index.ts"
import {
  aggregateRelay,
  type BlindedForwarder,
  blindedFailureResponse,
  blindedHintScid,
  blindedOnionHops,
  blindedPathOf,
  blindedPayee,
  blindedRouteHints,
  buildReceivePath,
  loadBlindedPath,
  type PaymentBlindedPath,
  storeBlindedPath
} from "../../../src/protocol/payment/blinded.ts"
import type { Path } from "../../../src/protocol/routing/types.ts"
import { msat } from "../../../src/protocol/units.ts"
import { nodeAt, secp, sessionKeyOf } from "../onion/fixtures.ts"

const policy = (feeBaseMsat: number, feeProportionalMillionths: number, cltvExpiryDelta: number) => ({
  feeBaseMsat,
  feeProportionalMillionths,
  cltvExpiryDelta,
  htlcMinimumMsat: 1_000n,
  htlcMaximumMsat: 5_000_000_000n
})

const forwarders: ReadonlyArray<BlindedForwarder> = [
  { nodeId: nodeAt(1).publicKey, shortChannelId: shortChannelIdFromParts(100, 1, 0), policy: policy(1000, 100, 40) },
  { nodeId: nodeAt(2).publicKey, shortChannelId: shortChannelIdFromParts(200, 2, 1), policy: { ...policy(500, 2000, 30), htlcMinimumMsat: 7_000n } }
]
const PATH_ID = new Uint8Array(32).fill(9)

const build = (): PaymentBlindedPath => {
  const r = buildReceivePath(secp, sessionKeyOf(1), {
    forwarders,
    recipient: nodeAt(3).publicKey,
    pathId: PATH_ID,
    maxCltvExpiry: 1_000,
    minFinalCltvExpiryDelta: 18
  })
  if (Result.isFailure(r)) throw new Error(r.failure.reason)
  return r.success
}

/** A router path: payer -> node 0 -> node 1 (introduction) -> stand-in payee over the hint. */
const routerPath = (p: PaymentBlindedPath, amount: bigint, height: number): Path => {
  const hint = blindedRouteHints([p])[0]![0]!
  const atIntro = amount + BigInt(hint.feeBaseMsat) + (amount * BigInt(hint.feeProportionalMillionths)) / 1_000_000n
  const cltvFinal = height + 3
  const cltvIntro = cltvFinal + hint.cltvExpiryDelta
  const hop = (nodeId: Uint8Array, scid: bigint, amountMsat: bigint, cltvExpiry: number) => ({
    shortChannelId: shortChannelIdFromParts(Number(scid), 0, 0),
    direction: 0 as const,
    nodeId,
    amountMsat: msat(amountMsat),
    cltvExpiry,
    feeMsat: msat(0n),
    cltvExpiryDelta: 0
  })
  const payee = blindedPayee([p])!
  return {
    hops: [
      hop(nodeAt(0).publicKey, 10n, atIntro + 1_000n, cltvIntro + 40),
      hop(nodeAt(1).publicKey, 11n, atIntro, cltvIntro),
      { ...hop(payee, 0n, amount, cltvFinal), shortChannelId: hint.shortChannelId }
    ],
    firstHop: undefined,
    amountMsat: msat(amount),
    feeMsat: msat(atIntro + 1_000n - amount)
  }
}

/** Runs the onion through node 0, then the blinded path; returns each node's result. */
const run = (path: Path, p: PaymentBlindedPath, hash: Uint8Array): ReadonlyArray<ProcessedOnion | string> => {
  const hops = blindedOnionHops(path, p, { totalMsat: path.amountMsat })
  if (hops === undefined) throw new Error("no hops")
  const built = buildPaymentOnion(secp, sessionKeyOf(2), hops, hash)
  if (Result.isFailure(built)) throw new Error(built.failure._tag)
  const out: Array<ProcessedOnion | string> = []
  let onion = built.success.onion
  let amount: bigint = path.hops[0]!.amountMsat
  let cltv = path.hops[0]!.cltvExpiry
  let pathKey: Uint8Array | undefined
  for (const i of [0, 1, 2, 3]) {
    const r = processPaymentOnion(secp, nodeAt(i).ecdh, { onion, paymentHash: hash, amountMsat: msat(amount), cltvExpiry: cltv, ...(pathKey === undefined ? {} : { pathKey }) })
    if (Result.isFailure(r)) {
      out.push(r.failure.reason._tag)
      return out
    }
    const v = r.success
    out.push(v)
    if (v._tag === "Forward" || v._tag === "BlindedForward") {
      onion = v.nextOnion
      amount = v.amtToForward
      cltv = v.outgoingCltvValue
      pathKey = v._tag === "BlindedForward" ? v.nextPathKey : undefined
    } else return out
  }
  return out
}

describe("blinded paths for payments", () => {
  it("the recipient's data: payment_relay and payment_constraints per forwarder, path_id for itself, all padded alike", () => {
    const p = build()
    expect(p.path.hops.length).toBe(3)
    expect(new Set(p.path.hops.map((h) => h.encryptedRecipientData.length)).size).toBe(1)
    let pathKey = p.path.firstPathKey
    const datas = p.path.hops.map((h, i) => {
      const d = decryptBlindedHop(secp, nodeAt(i + 1).ecdh, pathKey, h.encryptedRecipientData)
      if (Result.isFailure(d)) throw new Error(d.failure.reason)
      pathKey = d.success.nextPathKey
      return d.success.data
    })
    expect(datas[0]?.shortChannelId).toBe(forwarders[0]!.shortChannelId)
    expect(datas[0]?.paymentRelay).toEqual({ cltvExpiryDelta: 40, feeProportionalMillionths: 100, feeBaseMsat: 1000 })
    // max_cltv_expiry: 1000 + 18 at the recipient, + 30 at node 2, + 40 at node 1.
    expect(datas.map((d) => d.paymentConstraints?.maxCltvExpiry)).toEqual([1088, 1048, 1018])
    // htlc_minimum_msat: the largest minimum downstream.
    expect(datas.map((d) => d.paymentConstraints?.htlcMinimumMsat)).toEqual([7_000n, 7_000n, 1n])
    expect(datas[2]?.pathId).toEqual(PATH_ID)
    expect(datas[2]?.paymentRelay).toBeUndefined()
    expect(p.payInfo).toEqual({ ...aggregateRelay(forwarders, 18), htlcMinimumMsat: 7_000n, htlcMaximumMsat: 5_000_000_000n })
    expect(p.payInfo.cltvExpiryDelta).toBe(40 + 30 + 18)
  })

  it("BOLT 4's aggregate: one hop is its own policy; two hops fold with rounding up", () => {
    expect(aggregateRelay([{ policy: policy(1000, 100, 40) }], 18)).toEqual({ feeBaseMsat: 1000, feeProportionalMillionths: 100, cltvExpiryDelta: 58 })
    // base: (1000e6 + 500 * 1.0001e6 + 999999) / 1e6 = 1500.05 -> 1501; ppm: (2100e6 + 200000 + 999999) / 1e6 = 2100.2 -> 2101.
    expect(aggregateRelay(forwarders, 18)).toEqual({ feeBaseMsat: 1501, feeProportionalMillionths: 2101, cltvExpiryDelta: 88 })
  })

  it("the payer's onion through the path: each node computes its forward from payment_relay, the recipient reads path_id", () => {
    const p = build()
    const hash = new Uint8Array(32).fill(1)
    const path = routerPath(p, 50_000_000n, 900)
    const results = run(path, p, hash)
    const tags = results.map((r) => (typeof r === "string" ? r : r._tag))
    expect(tags).toEqual(["Forward", "BlindedForward", "BlindedForward", "BlindedReceive"])
    const intro = results[1]
    const inside = results[2]
    const last = results[3]
    if (typeof intro === "string" || intro?._tag !== "BlindedForward") throw new Error("intro")
    if (typeof inside === "string" || inside?._tag !== "BlindedForward") throw new Error("inside")
    if (typeof last === "string" || last?._tag !== "BlindedReceive") throw new Error("last")
    expect(intro.introduction).toBe(true)
    expect(inside.introduction).toBe(false)
    expect(intro.shortChannelId).toBe(forwarders[0]!.shortChannelId)
    expect(intro.amtToForward).toBe(blindedAmountToForward(path.hops[1]!.amountMsat, 1000, 100))
    expect(intro.outgoingCltvValue).toBe(path.hops[1]!.cltvExpiry - 40)
    expect(inside.outgoingCltvValue).toBe(path.hops[1]!.cltvExpiry - 70)
    expect(last.pathId).toEqual(PATH_ID)
    expect(last.amtToForward).toBe(50_000_000n)
    expect(last.totalAmountMsat).toBe(50_000_000n)
    expect(last.outgoingCltvValue).toBe(903)
    expect(inside.amtToForward >= 50_000_000n).toBe(true)
  })

  it("a path used past its max_cltv_expiry is refused at the introduction node", () => {
    const p = build()
    const results = run(routerPath(p, 50_000_000n, 1_100), p, new Uint8Array(32).fill(2))
    expect(results.map((r) => (typeof r === "string" ? r : r._tag))).toEqual(["Forward", "BlindedHopRejected"])
  })

  it("property: paying amount + the aggregated fee always delivers at least the amount through the relays", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ base: fc.integer({ min: 0, max: 100_000 }), ppm: fc.integer({ min: 0, max: 50_000 }) }), { minLength: 1, maxLength: 5 }),
        fc.bigInt({ min: 1n, max: 10_000_000_000n }),
        (hops, amount) => {
          const agg = aggregateRelay(hops.map((h) => ({ policy: policy(h.base, h.ppm, 10) })), 0)
          let x = amount + BigInt(agg.feeBaseMsat) + (amount * BigInt(agg.feeProportionalMillionths)) / 1_000_000n
          for (const h of hops) x = blindedAmountToForward(x, h.base, h.ppm)
          return x >= amount
        }
      ),
      { numRuns: 500 }
    )
  })

  it("the stand-in hint, the path lookup, storage and the failure inside a route", () => {
    const p = build()
    const hints = blindedRouteHints([undefined, p], 50_000_000n)
    expect(hints.length).toBe(1)
    expect(hints[0]![0]!.shortChannelId).toBe(blindedHintScid(1))
    expect(blindedRouteHints([p], 1n)).toEqual([])
    const path = routerPath(p, 50_000_000n, 900)
    expect(blindedPathOf([p], path)).toBe(p)
    expect(blindedPathOf([undefined, p], path)).toBeUndefined()
    const back = loadBlindedPath(storeBlindedPath(p))
    expect(back?.payInfo).toEqual(p.payInfo)
    expect(back !== undefined && equalBytes(back.path.firstPathKey, p.path.firstPathKey)).toBe(true)
    expect(back?.path.hops.map((h) => h.encryptedRecipientData)).toEqual(p.path.hops.map((h) => h.encryptedRecipientData))
    const ss = new Uint8Array(32).fill(3)
    const hash = new Uint8Array(32).fill(4)
    const plain = { _tag: "Fail" as const, failure: { _tag: "temporary_channel_failure" as const, channelUpdate: new Uint8Array(0) }, sharedSecret: ss }
    expect(blindedFailureResponse({ sharedSecret: ss }, plain)).toBe(plain)
    expect(blindedFailureResponse({ blinded: { introduction: true, sha256OfOnion: hash }, sharedSecret: ss }, plain)).toEqual({
      _tag: "Fail",
      failure: { _tag: "invalid_onion_blinding", sha256OfOnion: hash },
      sharedSecret: ss
    })
    expect(blindedFailureResponse({ blinded: { introduction: false, sha256OfOnion: hash }, sharedSecret: ss }, plain)).toEqual({
      _tag: "FailMalformed",
      failureCode: 0x8000 | 0x4000 | 24,
      sha256OfOnion: hash
    })
  })
})
