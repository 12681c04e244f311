/**
 * `paymentListenerOf`: a payment layer's events heard without a stream, as they are published (the
 * simulation's engine listens so). A 2-hop payment: each node's listener hears exactly the events
 * its subscriber gets, in the same order; a listener whose scope closed hears nothing more; a
 * wrapper object has no listener.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { type PaymentEvent, paymentListenerOf } from "../../../src/actors/Payments.ts"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "./PaymentNet.ts"
import { line, outcome, succeeded } from "./outcomes.ts"

describe("payment events heard by a listener", () => {
  it.effect("a 2-hop payment: each node's listener hears what its subscriber gets, in order; none after its scope closes", () =>
    Effect.acquireUseRelease(PaymentNet.make("listener", 3), (net) =>
      Effect.gen(function*() {
        yield* line(net, 3)
        const heard: Array<Array<PaymentEvent>> = [[], [], []]
        const scope = yield* Scope.make()
        for (let i = 0; i < 3; i++) {
          const listen = paymentListenerOf(net.pay(i))
          if (listen === undefined) return assert.fail(`node ${i} has no listener`)
          yield* listen((e) => heard[i]!.push(e)).pipe(Scope.provide(scope))
        }
        assert.isUndefined(paymentListenerOf({ ...net.pay(0) }), "a wrapper spreading the fields has no listener")
        const before = net.paymentEvents.length
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(5_000_000n), description: { text: "heard" } })
        succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        yield* net.settle()
        const subscribed = net.paymentEvents.slice(before)
        for (let i = 0; i < 3; i++) {
          assert.deepStrictEqual(heard[i], subscribed.filter((e) => e.node === i).map((e) => e.event), `node ${i}`)
        }
        assert.deepStrictEqual(heard.map((h) => h.map((e) => e._tag)), [["PaymentSucceeded"], ["HtlcForwarded"], ["PaymentReceived"]])

        yield* Scope.close(scope, Exit.void)
        const inv2 = yield* net.pay(2).createInvoice({ amountMsat: msat(5_000_000n), description: { text: "not heard" } })
        succeeded(yield* outcome(net, net.pay(0).pay(inv2.invoice)))
        yield* net.settle()
        assert.deepStrictEqual(heard.map((h) => h.length), [1, 1, 1], "nothing heard once the scope closed")
      }), (net) => net.shutdown))
})
