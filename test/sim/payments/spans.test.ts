/**
 * The span tree of a 3-hop payment across the nodes' hops (ARCHITECTURE.md "Observability"):
 * spans of four of our nodes collected in memory. Every node's spans of the payment are in one
 * trace derived from the payment hash (`paymentTraceRoot`): the sender's pay -> payment ->
 * attempt -> attempt.resolved, each forwarder's forward -> forward.resolved, the payee's receive; the hops
 * chain through the channel ids (the HTLC one node adds is the one the next receives).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, References, Tracer } from "effect"
import { paymentTraceRoot } from "../../../src/actors/Payments.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "./PaymentNet.ts"
import { recordingTracer } from "../../support/tracer.ts"

describe("the span tree of a payment across nodes", () => {
  it.effect("3 hops: one trace, each node's spans under the payment's root, hops chained by channel", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.acquireUseRelease(PaymentNet.make("span-tree", 4), (net) =>
      Effect.gen(function*() {
        const cs = []
        for (let i = 0; i < 3; i++) cs.push(yield* net.channel(i, i + 1))
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "tree" } })
        const hash = toHex(inv.paymentHash)
        const fiber = yield* Effect.forkChild(net.pay(0).pay(inv.invoice))
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        yield* Fiber.join(fiber)
        yield* net.settle()

        const root = paymentTraceRoot(inv.paymentHash)
        const node = (i: number) => toHex(net.h.nodeIds[i]!)
        const attr = (s: Tracer.NativeSpan, k: string) => s.attributes.get(k)
        const parentOf = (s: Tracer.NativeSpan) => Option.getOrUndefined(s.parent)?.spanId
        const mine = spans.filter((s) => attr(s, "payment.hash") === hash)
        for (const s of mine) {
          assert.strictEqual(s.traceId, root.traceId, `${s.name} at ${String(attr(s, "payment.node"))} is in the payment's trace`)
          assert.strictEqual(s.status._tag, "Ended", `${s.name} ended`)
        }
        const one = (name: string, at: number) => {
          const found = mine.filter((s) => s.name === name && attr(s, "payment.node") === node(at))
          assert.strictEqual(found.length, 1, `one ${name} at node ${at}`)
          return found[0]!
        }

        // The sender: pay (under the root) -> attempt -> attempt.resolved.
        const pay = one("payments.pay", 0)
        assert.strictEqual(parentOf(pay), root.spanId)
        assert.strictEqual(attr(pay, "payment.outcome"), "succeeded")
        const payment = one("payments.payment", 0)
        assert.strictEqual(parentOf(payment), pay.spanId, "the payment actor's span is a child of the caller's")
        assert.strictEqual(attr(payment, "payment.outcome"), "succeeded")
        assert.strictEqual(attr(payment, "payment.feePaidMsat"), "4000")
        const attempt = one("payments.attempt", 0)
        assert.strictEqual(parentOf(attempt), payment.spanId)
        assert.strictEqual(attr(attempt, "payment.channelId"), toHex(cs[0]!.channelId))
        const resolved = one("payments.attempt.resolved", 0)
        assert.strictEqual(parentOf(resolved), attempt.spanId)
        assert.strictEqual(attr(resolved, "payment.result"), "Fulfilled")

        // Each forwarder: forward (under the root) -> forward.resolved; in on the previous hop's channel, out on the next.
        for (const k of [1, 2]) {
          const forward = one("payments.forward", k)
          assert.strictEqual(parentOf(forward), root.spanId)
          assert.strictEqual(attr(forward, "payment.channelId"), toHex(cs[k - 1]!.channelId), `node ${k} receives on the channel from node ${k - 1}`)
          assert.strictEqual(attr(forward, "payment.outChannelId"), toHex(cs[k]!.channelId), `node ${k} forwards on the channel to node ${k + 1}`)
          assert.strictEqual(attr(forward, "payment.outcome"), "forwarded")
          const back = one("payments.forward.resolved", k)
          assert.strictEqual(parentOf(back), forward.spanId)
          assert.strictEqual(attr(back, "payment.outcome"), "fulfilled")
          assert.strictEqual(attr(back, "payment.feeMsat"), "2000")
        }

        // The payee: receive (under the root), on the last channel.
        const receive = one("payments.receive", 3)
        assert.strictEqual(parentOf(receive), root.spanId)
        assert.strictEqual(attr(receive, "payment.channelId"), toHex(cs[2]!.channelId))
        assert.strictEqual(attr(receive, "payment.outcome"), "claimed")
        assert.strictEqual(mine.length, 9, mine.map((s) => `${s.name}@${String(attr(s, "payment.node")).slice(0, 6)}`).join(", "))
      }), (net) => net.shutdown).pipe(Effect.provideService(Tracer.Tracer, tracer))
  })

  it.effect("tracing disabled: no span made, and nothing annotated on a span of the caller's", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.acquireUseRelease(PaymentNet.make("span-off", 4), (net) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* net.channel(i, i + 1)
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(10_000_000n), description: { text: "off" } })
        const fiber = yield* Effect.forkChild(net.pay(0).pay(inv.invoice))
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        const paid = yield* Fiber.join(fiber)
        yield* net.settle()
        assert.strictEqual(paid.feePaidMsat, msat(4000n))
        // The only span is the caller's own, made before tracing was turned off, and no attribute reached it
        // (neither the payment layer's nor the router's nor the invoice's).
        assert.deepStrictEqual(spans.map((s) => s.name), ["outer"])
        assert.deepStrictEqual([...spans[0]!.attributes.keys()], [])
      }), (net) => net.shutdown).pipe(
      Effect.provideService(References.TracerEnabled, false),
      Effect.withSpan("outer"),
      Effect.provideService(Tracer.Tracer, tracer)
    )
  })
})
