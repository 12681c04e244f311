/**
 * A finished payment leaves memory once its outcome is written (src/actors/Payments.ts `forget`);
 * what the API answers afterwards comes from the store and is unchanged: the fee paid and the
 * route of the fulfilled part included.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "./PaymentNet.ts"
import { outcome, succeeded, line } from "./outcomes.ts"

const AMOUNT = 10_000_000n
/** The default policy's fee for forwarding `amount`: 1000 msat + 100 ppm. */
const fee = (amount: bigint) => 1000n + (amount * 100n) / 1_000_000n

describe("a finished payment in memory", () => {
  it.effect("after it succeeded over two hops: awaitPayment and payment give the same fee, parts and route", () =>
    Effect.acquireUseRelease(PaymentNet.make("finished-memory", 3, []), (net) =>
      Effect.gen(function*() {
        yield* line(net, 3)
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "two hops" } })
        const first = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(first.feePaidMsat, fee(AMOUNT))
        assert.strictEqual(first.routes.length, 1)
        assert.strictEqual(first.routes[0]!.hops.length, 2)
        // Asked again once the outcome is stored (the slim record answers now).
        const again = yield* net.pay(0).awaitPayment(first.paymentId)
        assert.strictEqual(again.feePaidMsat, first.feePaidMsat)
        assert.strictEqual(again.parts, first.parts)
        assert.deepStrictEqual(again.routes, first.routes)
        const status = yield* net.pay(0).payment(first.paymentId)
        assert.strictEqual(status?.status, "succeeded")
        assert.strictEqual(status?.feePaidMsat, fee(AMOUNT))
        assert.strictEqual(status?.attempts, 1)
        const listed = (yield* net.pay(0).payments).find((p) => p.paymentId === first.paymentId)
        assert.strictEqual(listed?.feePaidMsat, fee(AMOUNT))
      }), (net) => net.shutdown))
})
