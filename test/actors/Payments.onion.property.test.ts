/**
 * `peelOnionNow` (the signer's ECDH at once, `ecdhNowOf`) against `peelOnionBySigner` (ECDH as
 * an effect per point, peeled again until every point asked is known): the same result for every
 * onion, valid or not, plain or inside a blinded route (BOLT 4's blinded payment vector), and no
 * point's ECDH computed twice.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import vector from "../vectors/bolt04/blinded-payment-onion-test.json" with { type: "json" }
import { type OnionHtlc, peelOnionBySigner, peelOnionNow } from "../../src/actors/Payments.ts"
import { makeNodeSigner } from "../../src/layers/InMemoryNodeSigner.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import type { ShortChannelId } from "../../src/protocol/codec/index.ts"
import { buildPaymentOnion, type PaymentHop } from "../../src/protocol/onion/index.ts"
import { msat } from "../../src/protocol/units.ts"
import { nodeAt, secp, sessionKeyOf } from "../protocol/onion/fixtures.ts"

/** Both ways over one node secret; each counts the ECDH it computed, by point. */
const peelBoth = (secret: Uint8Array, htlc: OnionHtlc) => {
  const signer = makeNodeSigner(secret, secp)
  const fastAsked: Array<string> = []
  const plainAsked: Array<string> = []
  const fast = peelOnionNow(secp, (point) => {
    fastAsked.push(toHex(point))
    return secp.ecdh(secret, point)
  }, htlc)
  const plain = Effect.runSync(peelOnionBySigner(secp, (point) => {
    plainAsked.push(toHex(point))
    return signer.ecdh(point)
  }, htlc))
  return { fast, plain, fastAsked, plainAsked }
}

const check = (secret: Uint8Array, htlc: OnionHtlc) => {
  const { fast, fastAsked, plain, plainAsked } = peelBoth(secret, htlc)
  expect(fast).toEqual(plain)
  // Each point once, and only points the plain way computes too (it may compute the onion's key
  // before finding the onion malformed; the fast way asks it only when the onion code does).
  expect(new Set(fastAsked).size).toBe(fastAsked.length)
  for (const p of fastAsked) expect(plainAsked).toContain(p)
  return fast
}

/** A byte of `bytes` changed (position and xor mask picked by the property). */
const flipped = (bytes: Uint8Array, at: number, mask: number) => {
  const out = bytes.slice()
  const i = at % out.length
  out[i] = (out[i] ?? 0) ^ (mask === 0 ? 1 : mask)
  return out
}

const paymentHash = sha256(new TextEncoder().encode("payments onion property"))

/** A plain route's onion (1-5 hops), as the payer builds it; the first hop peels it. */
const plainOnion = (hops: number, seed: number) => {
  const route: Array<PaymentHop> = Array.from({ length: hops }, (_, i) => ({
    publicKey: nodeAt(seed + i).publicKey,
    payload: i === hops - 1
      ? { amtToForward: msat(1000n), outgoingCltvValue: 800_000, paymentData: { paymentSecret: sha256(new Uint8Array([seed & 0xff])), totalMsat: msat(1000n) } }
      : { amtToForward: msat(1000n + BigInt(hops - i)), outgoingCltvValue: 800_000 + 40 * (hops - i), shortChannelId: BigInt(seed * 10 + i) as ShortChannelId }
  }))
  const built = buildPaymentOnion(secp, sessionKeyOf(seed), route, paymentHash)
  if (Result.isFailure(built)) throw new Error("onion")
  return built.success.onion
}

describe("Payments' onion peel with the signer's ECDH at once", () => {
  it("gives the plain way's result for a plain route's onion, as built or with a byte changed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 1000 }), fc.option(fc.tuple(fc.nat(), fc.nat({ max: 255 }))), (hops, seed, change) => {
        const onion = plainOnion(hops, seed)
        const htlc: OnionHtlc = {
          onion: change === null ? onion : flipped(onion, change[0], change[1]),
          paymentHash,
          amount: msat(1000n + BigInt(hops)),
          cltvExpiry: 800_000 + 40 * hops
        }
        const r = check(nodeAt(seed).secret, htlc)
        if (change === null) expect(Result.isSuccess(r)).toBe(true)
      }),
      { seed: 18, numRuns: 150 }
    )
  })

  it("gives the plain way's result for an onion too short, and for a wrong node", () => {
    const onion = plainOnion(2, 7)
    for (const bytes of [new Uint8Array(0), onion.subarray(0, 20), onion.subarray(0, 34), onion.subarray(0, 600)]) {
      check(nodeAt(7).secret, { onion: bytes, paymentHash, amount: msat(1002n), cltvExpiry: 800_080 })
    }
    expect(Result.isFailure(check(nodeAt(8).secret, { onion, paymentHash, amount: msat(1002n), cltvExpiry: 800_080 }))).toBe(true)
  })

  it("gives the plain way's result along BOLT 4's blinded route, and with its onion or path key changed", () => {
    const hops = vector.decrypt.hops
    const ad = fromHex(vector.generate.associated_data)
    /** Each node's input along the route, as the test vector's nodes receive it. */
    const inputs: Array<{ readonly secret: Uint8Array; readonly htlc: OnionHtlc }> = []
    let amount = msat(110125n + 1000n)
    let cltvExpiry = 749150 + 40
    let pathKey: Uint8Array | undefined
    for (const h of hops) {
      const secret = fromHex(h.node_privkey)
      const htlc: OnionHtlc = { onion: fromHex(h.onion), paymentHash: ad, amount, cltvExpiry, ...(pathKey === undefined ? {} : { pathKey }) }
      inputs.push({ secret, htlc })
      const r = check(secret, htlc)
      if (Result.isFailure(r)) throw new Error(`${h.alias}: ${r.failure.reason._tag}`)
      const s = r.success
      if (s._tag === "Forward" || s._tag === "BlindedForward") {
        amount = s.amtToForward
        cltvExpiry = s.outgoingCltvValue
      }
      pathKey = s._tag === "BlindedForward" ? s.nextPathKey : undefined
    }
    expect(inputs.length).toBe(5)
    fc.assert(
      fc.property(fc.nat({ max: inputs.length - 1 }), fc.nat(), fc.nat({ max: 255 }), fc.boolean(), (i, at, mask, inPathKey) => {
        const input = inputs[i]
        if (input === undefined) return
        const { htlc } = input
        const changed: OnionHtlc = inPathKey && htlc.pathKey !== undefined
          ? { ...htlc, pathKey: flipped(htlc.pathKey, at, mask) }
          : { ...htlc, onion: flipped(htlc.onion, at, mask) }
        check(input.secret, changed)
      }),
      { seed: 18, numRuns: 150 }
    )
  })
})
