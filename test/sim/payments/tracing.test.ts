/**
 * Every payment (the caller's span and the payment actor's), attempt, forward and receive is a span (Effect's tracing) with the payment hash,
 * amounts, channel ids and outcome as attributes: a 3-hop payment over four of our nodes,
 * with spans collected in memory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Tracer } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "./PaymentNet.ts"
import { recordingTracer } from "../../support/tracer.ts"

describe("payment spans", () => {
  it.effect("a 3-hop payment: the pay span with its attempt as child, a forward at each forwarder, the receive at the payee", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.acquireUseRelease(PaymentNet.make("spans", 4), (net) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* net.channel(i, i + 1)
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "traced" } })
        const hash = toHex(inv.paymentHash)
        const fiber = yield* Effect.forkChild(net.pay(0).pay(inv.invoice))
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        yield* Fiber.join(fiber)
        yield* net.settle()
        const named = (name: string) => spans.filter((s) => s.name === name)
        const attr = (s: Tracer.NativeSpan, k: string) => s.attributes.get(k)

        const pay = named("payments.pay")
        assert.strictEqual(pay.length, 1)
        assert.strictEqual(attr(pay[0]!, "payment.hash"), hash)
        assert.strictEqual(attr(pay[0]!, "payment.outcome"), "succeeded")
        assert.strictEqual(attr(pay[0]!, "payment.feePaidMsat"), "4000")
        assert.strictEqual(pay[0]!.status._tag, "Ended")

        const attempts = named("payments.attempt")
        assert.strictEqual(attempts.length, 1)
        assert.strictEqual(attr(attempts[0]!, "payment.hops"), 3)
        // pay (the caller's) -> payment (the payment actor's, with its outcome) -> attempt.
        const payment = named("payments.payment")
        assert.strictEqual(payment.length, 1)
        assert.strictEqual(Option.getOrUndefined(payment[0]!.parent)?.spanId, pay[0]!.spanId)
        assert.strictEqual(attr(payment[0]!, "payment.outcome"), "succeeded")
        assert.strictEqual(payment[0]!.status._tag, "Ended")
        const parent = Option.getOrUndefined(attempts[0]!.parent)
        assert.strictEqual(parent?.spanId, payment[0]!.spanId, "the attempt is a child of the payment")

        const forwards = named("payments.forward").filter((s) => attr(s, "payment.hash") === hash)
        assert.strictEqual(forwards.length, 2)
        assert.deepStrictEqual(forwards.map((s) => attr(s, "payment.outcome")), ["forwarded", "forwarded"])
        assert.deepStrictEqual(forwards.map((s) => attr(s, "payment.amountMsat")), ["10004000", "10002000"])
        const settled = named("payments.forward.resolved")
        assert.deepStrictEqual(settled.map((s) => attr(s, "payment.outcome")).sort(), ["fulfilled", "fulfilled"])
        assert.deepStrictEqual(settled.map((s) => attr(s, "payment.feeMsat")).sort(), ["2000", "2000"])

        const receives = named("payments.receive").filter((s) => attr(s, "payment.hash") === hash)
        assert.strictEqual(receives.length, 1)
        assert.strictEqual(attr(receives[0]!, "payment.outcome"), "claimed")
        assert.strictEqual(attr(receives[0]!, "payment.receivedMsat"), "10000000")
      }), (net) => net.shutdown).pipe(Effect.provideService(Tracer.Tracer, tracer))
  })
})
