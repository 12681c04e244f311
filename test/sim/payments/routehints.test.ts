/**
 * Route hints in our invoices (BOLT 11 `r`): a node whose only channel is private puts its
 * peer's policy towards it (the peer's private `channel_update`, as gossip keeps it) in its
 * invoices, and a payer that does not know the private channel pays through it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { decodeInvoice } from "../../../src/protocol/invoice/index.ts"
import { defaultForwardingPolicy } from "../../../src/protocol/payment/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { secp } from "../channels/Harness.ts"
import { PaymentNet } from "./PaymentNet.ts"
import { outcome } from "./outcomes.ts"

const withNet = <A, E>(seed: string, nodes: number, f: (net: PaymentNet) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, nodes), f, (net) => net.shutdown)

const AMOUNT = 10_000_000n

describe("route hints in invoices", () => {
  it.effect("a payer that does not know the private channel 1-2 pays node 2 through its invoice's hint", () =>
    withNet("routehints", 3, (net) =>
      Effect.gen(function*() {
        const c01 = yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        // The private channel is in no router's graph.
        net.channels.splice(net.channels.indexOf(c12), 1)
        const p = defaultForwardingPolicy
        const hint = { pubkey: net.h.nodeIds[1]!, shortChannelId: c12.scid, feeBaseMsat: p.feeBaseMsat, feeProportionalMillionths: p.feeProportionalMillionths, cltvExpiryDelta: p.cltvExpiryDelta }
        // What gossip keeps from peers' private channel_updates: node 1's for 1-2, and a stale one for a channel node 2 does not have.
        net.routeHints[2] = [[hint], [{ ...hint, pubkey: net.h.nodeIds[0]!, shortChannelId: shortChannelIdFromParts(7, 7, 7) }]]

        // Without hints, no route.
        const bare = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "no hints" }, routeHints: [] })
        const none = yield* outcome(net, net.pay(0).pay(bare.invoice))
        assert.isTrue(Exit.isFailure(none))
        if (Exit.isFailure(none)) {
          const e = none.cause.reasons.find((r) => r._tag === "Fail")
          assert.isTrue(e?._tag === "Fail" && e.error._tag === "PaymentFailed" && e.error.reason.startsWith("NoRoute"), String(none))
        }

        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "hinted" } })
        const decoded = decodeInvoice(inv.invoice, secp)
        assert.isTrue(Result.isSuccess(decoded))
        if (Result.isFailure(decoded)) return
        // Only the hint of a channel node 2 has.
        assert.strictEqual(decoded.success.routeHints.length, 1)
        assert.isTrue(equalBytes(decoded.success.routeHints[0]![0]!.pubkey, net.h.nodeIds[1]!))
        assert.strictEqual(decoded.success.routeHints[0]![0]!.shortChannelId, c12.scid)

        const before = yield* net.balance(0, c01.channelId)
        const fee = 1000n + (AMOUNT * 100n) / 1_000_000n
        const exit = yield* outcome(net, net.pay(0).pay(inv.invoice))
        if (!Exit.isSuccess(exit)) throw new Error(`payment did not succeed: ${String(exit)}`)
        assert.strictEqual(exit.value.feePaidMsat, fee)
        assert.deepStrictEqual(exit.value.routes[0]?.hops.map((h) => h.shortChannelId), [c01.scid, c12.scid])
        assert.strictEqual(before - (yield* net.balance(0, c01.channelId)), AMOUNT + fee)
        assert.strictEqual(yield* net.balance(2, c12.channelId), AMOUNT)
        assert.strictEqual((yield* net.pay(2).invoice(inv.paymentHash))?.status, "paid")
      })
    ))
})
