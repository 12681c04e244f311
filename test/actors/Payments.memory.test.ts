/**
 * The payment layer keeps in memory only what is open (src/actors/Payments.ts): pending payments,
 * invoices that may still be paid, forwards waiting for their outgoing HTLC. After 300 payments
 * over two hops (sender, forwarder, payee on the deterministic test layers) every node holds no
 * record and no per-payment entry, and what a finished payment is asked afterwards comes from the
 * store: the API's list and status, the invoice status, `awaitPayment`, and a `pay` with a used
 * payment id, which is answered with the stored outcome and never paid twice (also after restarts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import { openEntriesOf, type PaymentSucceeded } from "../../src/actors/Payments.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { msat } from "../../src/protocol/units.ts"
import { PaymentNet } from "../sim/payments/PaymentNet.ts"
import { failedWith, line, outcome, succeeded } from "../sim/payments/outcomes.ts"

const PAYMENTS = 300
const BATCH = 30
const AMOUNT = 100_000n
/** The forwarder's default policy: 1000 msat + 100 ppm. */
const FEE = 1000n + (AMOUNT * 100n) / 1_000_000n

/** Node `i`'s entries in its per-payment maps (open records included). */
const held = (net: PaymentNet, i: number) => {
  const n = openEntriesOf(net.pay(i))
  if (n === undefined) throw new Error(`node ${i}: no count`)
  return n
}
const heldTotal = (net: PaymentNet) => held(net, 0) + held(net, 1) + held(net, 2)

describe("payments: memory holds what is open, the store the rest", () => {
  it.effect("300 payments over two hops: nothing left in memory; the API, awaitPayment and pay answer from the store", () =>
    Effect.acquireUseRelease(PaymentNet.make("payments-memory", 3, []), (net) =>
      Effect.gen(function*() {
        const [c01] = yield* line(net, 3)
        const invoices: Array<{ readonly id: string; readonly invoice: string; readonly paymentHash: Uint8Array }> = []
        const maxHeld: Array<number> = []
        for (let b = 0; b < PAYMENTS / BATCH; b++) {
          const batch: Array<string> = []
          for (let k = 0; k < BATCH; k++) {
            const id = `p${b * BATCH + k}`
            const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: id } })
            invoices.push({ id, invoice: inv.invoice, paymentHash: inv.paymentHash })
            batch.push(yield* net.pay(0).startPayment(inv.invoice, { paymentId: id }))
          }
          // While a batch is in flight, its payments are open (bounded by the batch, not by history).
          const open = held(net, 0)
          assert.isTrue(open >= BATCH && open <= 10 * BATCH, `entries of open payments ${open}`)
          // Every one succeeds (the first failure would fail the batch).
          const results = yield* outcome(net, Effect.forEach(batch, (id) => net.pay(0).awaitPayment(id), { concurrency: "unbounded" }).pipe(Effect.map((all) => all[0]!)))
          assert.isTrue(Exit.isSuccess(results))
          yield* net.runUntil(() => heldTotal(net) === 0)
          maxHeld.push(heldTotal(net))
        }
        assert.deepStrictEqual(maxHeld, maxHeld.map(() => 0))

        // The API lists and answers every finished payment (in payment id order).
        const listed = yield* net.pay(0).payments
        assert.deepStrictEqual(listed.map((p) => p.paymentId), invoices.map((i) => i.id).sort())
        assert.isTrue(listed.every((p) => p.status === "succeeded" && p.feePaidMsat === FEE && p.attempts === 1))
        for (const { id, paymentHash } of invoices) {
          const status = yield* net.pay(0).payment(id)
          assert.strictEqual(status?.status, "succeeded")
          assert.strictEqual(status?.feePaidMsat, FEE)
          assert.strictEqual(toHex(status?.paymentHash ?? new Uint8Array(0)), toHex(paymentHash))
          const invoice = yield* net.pay(2).invoice(paymentHash)
          assert.strictEqual(invoice?.status, "paid")
          assert.strictEqual(invoice?.receivedMsat, AMOUNT)
        }
        assert.strictEqual(yield* net.pay(0).payment("never-made"), undefined)
        assert.strictEqual(yield* net.pay(0).payment("not a payment id/ü"), undefined)
        assert.strictEqual((yield* Effect.flip(net.pay(0).awaitPayment("not a payment id/ü")))._tag, "InvalidPaymentRequest")
        assert.strictEqual(yield* net.pay(2).invoice(new Uint8Array(32)), undefined)

        // A payment that failed (no route for its amount) is finished too; its invoice stays open (in memory) until it expires.
        const big = yield* net.pay(2).createInvoice({ amountMsat: msat(5_000_000_000n), description: { text: "too big" }, expirySeconds: 60 })
        const failed = failedWith(yield* outcome(net, net.pay(0).pay(big.invoice, { paymentId: "too-big" })))
        yield* net.runUntil(() => heldTotal(net) === 1 && held(net, 2) === 1)

        /** Pays again with used ids: answered from the store, nothing sent (`expired`: the failed payment's invoice is). */
        const payAgain = (expired: boolean) => Effect.gen(function*() {
          const balance = yield* net.balance(0, c01!.channelId)
          const first = invoices[7]!
          const again: PaymentSucceeded = succeeded(yield* outcome(net, net.pay(0).pay(first.invoice, { paymentId: first.id })))
          assert.strictEqual(toHex(again.paymentHash), toHex(first.paymentHash))
          assert.strictEqual(again.feePaidMsat, FEE)
          assert.strictEqual(yield* net.pay(0).startPayment(first.invoice, { paymentId: first.id }), first.id)
          const awaited = yield* net.pay(0).awaitPayment(invoices[0]!.id)
          assert.strictEqual(toHex(awaited.paymentHash), toHex(invoices[0]!.paymentHash))
          assert.strictEqual(awaited.feePaidMsat, FEE)
          // Another payment under a used id is refused.
          const refused = yield* Effect.flip(net.pay(0).startPayment(invoices[8]!.invoice, { paymentId: first.id }))
          assert.strictEqual(refused._tag, "InvalidPaymentRequest")
          // The failed one answers with its failure again.
          const failedAgain = failedWith(yield* outcome(net, expired ? net.pay(0).awaitPayment("too-big") : net.pay(0).pay(big.invoice, { paymentId: "too-big" })))
          assert.strictEqual(failedAgain.reason, failed.reason)
          assert.strictEqual(failedAgain.attempts, failed.attempts)
          assert.strictEqual((yield* net.pay(0).payment("too-big"))?.status, "failed")
          // Nothing was paid: the balance and the payee's invoice are as they were.
          assert.strictEqual(yield* net.balance(0, c01!.channelId), balance)
          assert.strictEqual((yield* net.pay(2).invoice(first.paymentHash))?.receivedMsat, AMOUNT)
          assert.strictEqual((yield* net.pay(0).payments).length, PAYMENTS + 1)
        })
        yield* payAgain(false)
        assert.strictEqual(heldTotal(net), 1)
        // Expired (after 60 s), the open invoice leaves memory at the next resync (every 30 s); it is still answered from the store.
        yield* TestClock.adjust("91 seconds")
        yield* net.runUntil(() => heldTotal(net) === 0)
        assert.strictEqual((yield* net.pay(2).invoice(big.paymentHash))?.status, "open")
        // After restarts, the same from the store alone (nothing open is loaded).
        yield* net.restart(0)
        yield* net.restart(1)
        yield* net.restart(2)
        assert.strictEqual(heldTotal(net), 0)
        yield* payAgain(true)
        assert.strictEqual(heldTotal(net), 0)
      }), (net) => net.shutdown), { timeout: 120_000 })
})
