/**
 * Property tests (fast-check) of the payment invariants (issue 8 "Property tests"):
 *
 * - a route the router returns, turned into an onion and peeled hop by hop with the real node
 *   keys, passes every forwarder's own BOLT 4 policy check with exactly its fee and delta, and
 *   the payee's final-hop check, the onion amounts and CLTVs matching the route;
 * - the forwarding check is monotone (more in, or a later incoming expiry, never turns an
 *   accepted forward into a refusal);
 * - the final node accepts a total between the invoice amount and twice it and nothing else;
 * - an MPP set completes exactly when its parts reach `total_msat`, whatever their order, and a
 *   part delivered twice changes nothing;
 * - a failure's `channel_update` signed by the erring node is accepted (with or without its type
 *   prefix), any changed byte or another signer is refused, and routing with it pays its fee;
 * - BOLT 2 deadlines fire exactly at `cltv_expiry + G` (offered) and `cltv_expiry - 18` (fulfilled).
 */
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { Result } from "effect"
import { compareBytes, equalBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { channelUpdateDigest } from "../../../src/protocol/gossip/digest.ts"
import { defaultNetwork } from "../../../src/protocol/network.ts"
import { buildPaymentOnion, processPaymentOnion } from "../../../src/protocol/onion/index.ts"
import {
  addMppPart,
  checkFailureUpdate,
  checkFinalPart,
  checkForward,
  type ForwardingPolicy,
  failureUpdateFields,
  type MppSet
} from "../../../src/protocol/payment/index.ts"
import { defaultDeadlineConfig, firstBreach } from "../../../src/protocol/payment/deadlines.ts"
import {
  buildRoutingGraph,
  type ChannelInfo,
  type DirectionPolicy,
  findRoute,
  forwardingFeeBig,
  pathOnionHops,
  prepareRequest,
  type RouteRequest,
  zeroPenalty
} from "../../../src/protocol/routing/index.ts"
import { type ChannelId, msat } from "../../../src/protocol/units.ts"
import { NODES, secp, sessionKeyOf } from "../onion/fixtures.ts"

const RUNS = 40
const chainHash = defaultNetwork.chainHash
const key = (i: number) => NODES[i]!.publicKey
const scidOf = (i: number) => shortChannelIdFromParts(500 + i, 1, 0)

const policyArb = fc.record({
  feeBaseMsat: fc.integer({ min: 0, max: 5_000 }),
  feeProportionalMillionths: fc.integer({ min: 0, max: 5_000 }),
  cltvExpiryDelta: fc.integer({ min: 6, max: 200 }),
  htlcMinimumMsat: fc.bigInt({ min: 1n, max: 1_000n })
})

const direction = (p: { readonly feeBaseMsat: number; readonly feeProportionalMillionths: number; readonly cltvExpiryDelta: number; readonly htlcMinimumMsat: bigint }): DirectionPolicy => ({
  ...p,
  htlcMaximumMsat: 100_000_000_000n,
  enabled: true
})

/** A line payer(0) -> 1 -> ... -> n: channel i from node i to i+1 with `policies[i]` as node i's direction. */
const line = (policies: ReadonlyArray<DirectionPolicy>): ReadonlyArray<ChannelInfo> =>
  policies.map((p, i) => {
    const [a, b] = [key(i), key(i + 1)]
    const aFirst = compareBytes(a, b) < 0
    return { shortChannelId: scidOf(i), node1: aFirst ? a : b, node2: aFirst ? b : a, capacityMsat: 1_000_000_000_000n, oneToTwo: p, twoToOne: p }
  })

const forwarding = (p: DirectionPolicy): ForwardingPolicy => ({ ...p, htlcMaximumMsat: p.htlcMaximumMsat })

describe("payment invariants (property tests)", () => {
  it("router route -> onion -> every hop: each forwarder's own check passes with exactly its fee and delta, the payee's too", () => {
    fc.assert(
      fc.property(
        fc.array(policyArb, { minLength: 1, maxLength: 4 }),
        fc.bigInt({ min: 1_000n, max: 5_000_000_000n }),
        fc.integer({ min: 100, max: 800_000 }),
        fc.integer({ min: 9, max: 144 }),
        (rawPolicies, amount, height, finalDelta) => {
          // One more node than forwarders: policies of the payer's channel are not charged.
          const policies = [direction({ feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 0, htlcMinimumMsat: 1n }), ...rawPolicies.map(direction)]
          const channels = line(policies)
          const payee = key(policies.length)
          const req: RouteRequest = { payer: key(0), payee, amountMsat: msat(amount), currentHeight: height, finalCltvExpiryDelta: finalDelta }
          const rg = prepareRequest(buildRoutingGraph(channels), req)
          expect(Result.isSuccess(rg)).toBe(true)
          if (Result.isFailure(rg)) return
          const found = findRoute(rg.success, zeroPenalty)
          expect(Result.isSuccess(found)).toBe(true)
          if (Result.isFailure(found)) return
          const path = found.success.paths[0]
          const secret = sha256(Uint8Array.of(1, ...Array.from(payee.subarray(0, 8))))
          const paymentHash = sha256(secret)
          const built = buildPaymentOnion(secp, sessionKeyOf(height), pathOnionHops(path, { paymentSecret: secret, totalMsat: msat(amount) }), paymentHash)
          expect(Result.isSuccess(built)).toBe(true)
          if (Result.isFailure(built)) return
          let onion = built.success.onion
          let totalFee = 0n
          path.hops.forEach((hop, i) => {
            const node = NODES[i + 1]!
            expect(equalBytes(node.publicKey, hop.nodeId)).toBe(true)
            const out = processPaymentOnion(secp, node.ecdh, { onion, paymentHash, amountMsat: hop.amountMsat, cltvExpiry: hop.cltvExpiry })
            expect(Result.isSuccess(out)).toBe(true)
            if (Result.isFailure(out)) return
            const p = out.success
            if (i === path.hops.length - 1) {
              expect(p._tag).toBe("Receive")
              if (p._tag !== "Receive") return
              expect(p.amtToForward).toBe(amount)
              const accepted = checkFinalPart(
                { paymentHash, preimage: secret, paymentSecret: secret, amountMsat: msat(amount), expiresAtSeconds: undefined, minFinalCltvExpiryDelta: finalDelta },
                { paymentHash, amountMsat: hop.amountMsat, cltvExpiry: hop.cltvExpiry, paymentSecret: p.paymentSecret, totalMsat: p.totalMsat, customRecords: p.customRecords },
                { height, nowSeconds: 0 }
              )
              expect(Result.isSuccess(accepted)).toBe(true)
              return
            }
            expect(p._tag).toBe("Forward")
            if (p._tag !== "Forward") return
            const next = path.hops[i + 1]!
            expect([p.shortChannelId, p.amtToForward, p.outgoingCltvValue]).toEqual([next.shortChannelId, next.amountMsat, next.cltvExpiry])
            const own = policies[i + 1]!
            expect(checkForward({ _tag: "Usable", policy: forwarding(own) }, {
              incomingAmountMsat: hop.amountMsat,
              incomingCltvExpiry: hop.cltvExpiry,
              amtToForward: p.amtToForward,
              outgoingCltvValue: p.outgoingCltvValue
            }, height)).toBeUndefined()
            const fee = hop.amountMsat - p.amtToForward
            expect(fee).toBe(forwardingFeeBig(BigInt(own.feeBaseMsat), BigInt(own.feeProportionalMillionths), p.amtToForward))
            expect(hop.cltvExpiry - p.outgoingCltvValue).toBe(own.cltvExpiryDelta)
            totalFee += fee
            onion = p.nextOnion
          })
          expect(totalFee).toBe(path.feeMsat)
        }
      ),
      { numRuns: RUNS }
    )
  })

  it("the forwarding check is monotone: more in, or a later incoming expiry, never refuses an accepted forward", () => {
    fc.assert(
      fc.property(policyArb, fc.bigInt({ min: 1_000n, max: 10_000_000_000n }), fc.integer({ min: 0, max: 3000 }), fc.bigInt({ min: 0n, max: 1_000_000n }), fc.integer({ min: 0, max: 500 }), (raw, out, extraFee, moreIn, laterIn) => {
        const pol = forwarding(direction(raw))
        const height = 700_000
        const outgoingCltv = height + 100
        const fee = forwardingFeeBig(BigInt(pol.feeBaseMsat), BigInt(pol.feeProportionalMillionths), out)
        const req = { incomingAmountMsat: msat(out + fee + BigInt(extraFee)), incomingCltvExpiry: outgoingCltv + pol.cltvExpiryDelta, amtToForward: msat(out), outgoingCltvValue: outgoingCltv }
        expect(checkForward({ _tag: "Usable", policy: pol }, req, height)).toBeUndefined()
        expect(checkForward({ _tag: "Usable", policy: pol }, { ...req, incomingAmountMsat: msat(req.incomingAmountMsat + moreIn), incomingCltvExpiry: req.incomingCltvExpiry + laterIn }, height)).toBeUndefined()
        // One msat short of the fee, or one block short of the delta: refused with the code BOLT 4 names.
        expect(checkForward({ _tag: "Usable", policy: pol }, { ...req, incomingAmountMsat: msat(out + fee - 1n) }, height)?._tag).toBe("fee_insufficient")
        expect(checkForward({ _tag: "Usable", policy: pol }, { ...req, incomingCltvExpiry: req.incomingCltvExpiry - 1 - laterIn }, height)?._tag).toBe("incorrect_cltv_expiry")
      }),
      { numRuns: 200 }
    )
  })

  it("the final node accepts a total between the invoice amount and twice it, and refuses anything else with incorrect_or_unknown_payment_details", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10_000_000_000n }), fc.bigInt({ min: 0n, max: 30_000_000_000n }), (invoiceAmount, total) => {
        const hash = sha256(Uint8Array.of(7))
        const r = checkFinalPart(
          { paymentHash: hash, preimage: Uint8Array.of(7), paymentSecret: undefined, amountMsat: msat(invoiceAmount), expiresAtSeconds: undefined, minFinalCltvExpiryDelta: 18 },
          { paymentHash: hash, amountMsat: msat(total), cltvExpiry: 1_000, paymentSecret: undefined, totalMsat: msat(total), customRecords: [] },
          { height: 900, nowSeconds: 0 }
        )
        const inRange = total >= invoiceAmount && total <= 2n * invoiceAmount
        expect(Result.isSuccess(r)).toBe(inRange)
        if (Result.isFailure(r)) expect(r.failure).toEqual({ _tag: "incorrect_or_unknown_payment_details", htlcMsat: total, height: 900 })
      }),
      { numRuns: 300 }
    )
  })

  it("an MPP set completes exactly when its parts reach total_msat, in any order; a part delivered twice changes nothing", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 1n, max: 1_000_000n }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 1000 }), (amounts, seed) => {
        const total = amounts.reduce((a, b) => a + b, 0n)
        const order = amounts.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 97) - ((b * 7919 + seed) % 97))
        const channelId = new Uint8Array(32).fill(3) as ChannelId
        let set: MppSet | undefined
        let sum = 0n
        order.forEach((i, k) => {
          const part = { channelId, htlcId: BigInt(i), amountMsat: msat(amounts[i]!), sharedSecret: new Uint8Array(32) }
          const r = addMppPart(set, part, msat(total), 0)
          sum += amounts[i]!
          expect(r._tag).toBe(k === order.length - 1 ? "Complete" : "Waiting")
          if (r._tag === "Mismatch") return
          set = r.set
          // At-least-once delivery: the same HTLC again adds nothing.
          const again = addMppPart(set, part, msat(total), 0)
          expect(again._tag === "Mismatch" ? -1n : again.set.parts.reduce((s, p) => s + p.amountMsat, 0n)).toBe(sum)
          // Another total_msat does not fit this set.
          expect(addMppPart(set, { ...part, htlcId: 10_000n }, msat(total + 1n), 0)._tag).toBe("Mismatch")
        })
      }),
      { numRuns: 200 }
    )
  })

  it("a failure's channel_update: the erring node's signed update is accepted (with or without type), any changed byte or another signer is refused", () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 18 }), fc.integer({ min: 2, max: 137 }), fc.boolean(), fc.boolean(), (raw, peer, flipAt, disabled, withType) => {
        const erring = NODES[0]!
        const next = NODES[peer]!
        const unsigned = failureUpdateFields({
          chainHash,
          shortChannelId: scidOf(peer),
          timestamp: 1_700_000_000 + peer,
          ourNodeId: erring.publicKey,
          peerNodeId: next.publicKey,
          policy: forwarding(direction(raw)),
          disabled,
          announced: true
        })
        expect(Result.isSuccess(unsigned)).toBe(true)
        if (Result.isFailure(unsigned)) return
        const signed = unsigned.success
        signed.set(secp.sign(channelUpdateDigest(signed), NODES[0]!.secret), 2)
        const sent = withType ? signed : signed.subarray(2)
        const expected = { erringNodeId: erring.publicKey, nextNodeId: next.publicKey, shortChannelId: scidOf(peer) }
        const ok = checkFailureUpdate({ secp, chainHash }, sent, expected)
        expect(Result.isSuccess(ok)).toBe(true)
        if (Result.isSuccess(ok)) {
          expect(ok.success.policy).toMatchObject({ feeBaseMsat: raw.feeBaseMsat, feeProportionalMillionths: raw.feeProportionalMillionths, cltvExpiryDelta: raw.cltvExpiryDelta, disabled })
          expect(ok.success.policy.direction).toBe(compareBytes(erring.publicKey, next.publicKey) < 0 ? 0 : 1)
        }
        const tampered = signed.slice()
        tampered[flipAt] = (tampered[flipAt] ?? 0) ^ 0x01
        expect(Result.isSuccess(checkFailureUpdate({ secp, chainHash }, tampered, expected))).toBe(false)
        // Signed by the erring node, but claimed for another node, channel or direction.
        expect(checkFailureUpdate({ secp, chainHash }, signed, { ...expected, erringNodeId: next.publicKey, nextNodeId: erring.publicKey })).toEqual(Result.fail("WrongDirection"))
        expect(checkFailureUpdate({ secp, chainHash }, signed, { ...expected, shortChannelId: scidOf(peer + 1) })).toEqual(Result.fail("WrongChannel"))
      }),
      { numRuns: 60 }
    )
  })

  it("routing with a failure's policy update pays its fee and delta over that channel (or avoids it when disabled)", () => {
    fc.assert(
      fc.property(policyArb, policyArb, fc.bigInt({ min: 10_000n, max: 1_000_000_000n }), fc.boolean(), (stale, fresh, amount, disabled) => {
        const free = direction({ feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 0, htlcMinimumMsat: 1n })
        const channels = line([free, direction(stale)])
        const fromNode1 = compareBytes(key(1), key(2)) < 0 ? 0 : 1
        const req: RouteRequest = {
          payer: key(0),
          payee: key(2),
          amountMsat: msat(amount),
          currentHeight: 1000,
          finalCltvExpiryDelta: 18,
          policyUpdates: [{
            shortChannelId: scidOf(1),
            direction: fromNode1,
            sourceNodeId: key(1),
            ...fresh,
            htlcMinimumMsat: 1n,
            htlcMaximumMsat: 100_000_000_000n,
            disabled
          }]
        }
        const rg = prepareRequest(buildRoutingGraph(channels), req)
        expect(Result.isSuccess(rg)).toBe(true)
        if (Result.isFailure(rg)) return
        const found = findRoute(rg.success, zeroPenalty)
        if (disabled) {
          expect(Result.isFailure(found)).toBe(true)
          return
        }
        expect(Result.isSuccess(found)).toBe(true)
        if (Result.isFailure(found)) return
        const [h0, h1] = found.success.paths[0].hops
        expect(h0!.amountMsat - h1!.amountMsat).toBe(forwardingFeeBig(BigInt(fresh.feeBaseMsat), BigInt(fresh.feeProportionalMillionths), amount))
        expect(h0!.cltvExpiry - h1!.cltvExpiry).toBe(fresh.cltvExpiryDelta)
      }),
      { numRuns: 200 }
    )
  })

  it("BOLT 2 deadlines: an offered HTLC fails the channel from cltv_expiry + 2, a fulfilled received one from cltv_expiry - 18, an unfulfilled one never", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 1_000_000 }), fc.integer({ min: -50, max: 50 }), fc.constantFrom("offered" as const, "received" as const), fc.boolean(), (cltv, offset, dir, known) => {
        const height = cltv + offset
        const htlc = { direction: dir, id: 5n, paymentHash: new Uint8Array(32), cltvExpiry: cltv }
        const breach = firstBreach([htlc], height, () => known)
        const expected = dir === "offered"
          ? height >= cltv + defaultDeadlineConfig.offeredGraceBlocks
          : known && height >= cltv - defaultDeadlineConfig.fulfillSafetyBlocks
        expect(breach !== undefined).toBe(expected)
        if (breach !== undefined) expect([breach.direction, breach.htlcId]).toEqual([dir, 5n])
      }),
      { numRuns: 300 }
    )
  })
})
