/**
 * The `payments` group over real HTTP: two of our nodes (test/sim/payments/PaymentNet.ts), each
 * serving the control API with its `Payments`: an invoice created on one is paid from the other
 * through `POST /v1/payments`, both sides read the outcome back; bad input is a 400, an
 * impossible payment a 422 with the reason, and a server without a payment layer answers 503.
 * A blinded invoice (`POST /v1/invoices/blinded`) is paid the same way with `{ blinded }`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { Payments } from "../../src/actors/Payments.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { PaymentNet } from "../sim/payments/PaymentNet.ts"
import { apiToken, field, request, ServerLive } from "./harness.ts"

/** Node `i`'s API server (port 0) as a built context. */
const serve = (net: PaymentNet, i: number) => {
  const node = net.h.node(i)
  const manager = node.manager
  if (manager === undefined) throw new Error("manager backend only")
  return Layer.build(
    ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, logRequests: false }).pipe(
      Layer.provide([
        Layer.succeed(PeerManager, node.peers.shape),
        Layer.succeed(ChannelManager, manager),
        Layer.succeed(Payments, net.pay(i))
      ])
    )
  )
}

describe("payments API", () => {
  it.live("POST /v1/invoices on the payee, POST /v1/payments on the payer, then both read the outcome", () =>
    Effect.acquireUseRelease(PaymentNet.make("api", 2), (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1)
        const payer = yield* serve(net, 0)
        const payee = yield* serve(net, 1)

        const created = yield* request("POST", "/v1/invoices", JSON.stringify({ amountMsat: "5000000", description: "api" })).pipe(Effect.provide(payee))
        assert.strictEqual(created.status, 200, JSON.stringify(created.body))
        const invoice = String(field(created.body, "invoice"))
        const hash = String(field(created.body, "paymentHash"))
        assert.match(invoice, /^lnbcrt50u1/)

        const open = yield* request("GET", `/v1/invoices/${hash}`).pipe(Effect.provide(payee))
        assert.strictEqual(field(open.body, "status"), "open")

        const paying = yield* Effect.forkChild(request("POST", "/v1/payments", JSON.stringify({ invoice })).pipe(Effect.provide(payer)))
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const paid = yield* Fiber.join(paying)
        assert.strictEqual(paid.status, 200, JSON.stringify(paid.body))
        assert.strictEqual(field(paid.body, "status"), "succeeded")
        assert.strictEqual(field(paid.body, "paymentId"), hash)
        assert.strictEqual(field(paid.body, "amountMsat"), "5000000")
        assert.strictEqual(typeof field(paid.body, "preimage"), "string")

        const one = yield* request("GET", `/v1/payments/${hash}`).pipe(Effect.provide(payer))
        assert.strictEqual(field(one.body, "status"), "succeeded")
        const all = yield* request("GET", "/v1/payments").pipe(Effect.provide(payer))
        assert.strictEqual((all.body as Array<unknown>).length, 1)
        const received = yield* request("GET", `/v1/invoices/${hash}`).pipe(Effect.provide(payee))
        assert.strictEqual(field(received.body, "status"), "paid")
        assert.strictEqual(field(received.body, "receivedMsat"), "5000000")

        // Bad input: 400 with a reason; an impossible payment: 422 with the reason; unknown ids: 404.
        const bad = yield* request("POST", "/v1/payments", JSON.stringify({ invoice: "lnbc1nonsense" })).pipe(Effect.provide(payer))
        assert.strictEqual(bad.status, 400)
        assert.match(String(field(bad.body, "message")), /invalid invoice/)
        const both = yield* request("POST", "/v1/payments", JSON.stringify({})).pipe(Effect.provide(payer))
        assert.strictEqual(both.status, 400)
        const tooBig = yield* request("POST", "/v1/payments", JSON.stringify({ keysend: { nodeId: toHex(net.h.nodeIds[1]!), amountMsat: "5000000000" } })).pipe(Effect.provide(payer))
        assert.strictEqual(tooBig.status, 422, JSON.stringify(tooBig.body))
        assert.match(String(field(tooBig.body, "reason")), /^NoRoute/)
        const missing = yield* request("GET", `/v1/payments/nope`).pipe(Effect.provide(payer))
        assert.strictEqual(missing.status, 404)
        const noInvoice = yield* request("GET", `/v1/invoices/${"00".repeat(32)}`).pipe(Effect.provide(payee))
        assert.strictEqual(noInvoice.status, 404)
      }).pipe(Effect.scoped), (net) => net.shutdown))

  it.live("blinded: POST /v1/invoices/blinded on the payee, its answer as { blinded } of POST /v1/payments on the payer", () =>
    Effect.acquireUseRelease(PaymentNet.make("api-blinded", 3), (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1)
        yield* net.channel(1, 2)
        const payer = yield* serve(net, 0)
        const payee = yield* serve(net, 2)

        // Paths of one hop before the payee: node 1, its channel peer, is the introduction node.
        const created = yield* request("POST", "/v1/invoices/blinded", JSON.stringify({ amountMsat: "4000000", maxPaths: 2 })).pipe(Effect.provide(payee))
        assert.strictEqual(created.status, 200, JSON.stringify(created.body))
        const hash = String(field(created.body, "paymentHash"))
        assert.strictEqual(field(created.body, "amountMsat"), "4000000")
        assert.strictEqual(field(created.body, "mpp"), true)
        const paths = field(created.body, "paths")
        assert.isTrue(Array.isArray(paths) && paths.length === 1, JSON.stringify(paths))
        const path = (paths as Array<unknown>)[0]
        // The blinded_path bytes start with the introduction node's id (BOLT 4 `sciddir_or_pubkey`).
        assert.isTrue(String(field(path, "path")).startsWith(toHex(net.h.nodeIds[1]!)))
        assert.strictEqual(field(path, "feeBaseMsat"), 1000)
        assert.strictEqual(field(path, "cltvExpiryDelta"), 40 + 18)
        const open = yield* request("GET", `/v1/invoices/${hash}`).pipe(Effect.provide(payee))
        assert.strictEqual(field(open.body, "status"), "open")

        // Bad blinded payments are refused before anything leaves: 400 with the reason.
        const garbled = { ...(created.body as object), paths: [{ ...(path as object), path: "00" }] }
        const notAPath = yield* request("POST", "/v1/payments", JSON.stringify({ blinded: garbled })).pipe(Effect.provide(payer))
        assert.strictEqual(notAPath.status, 400)
        assert.match(String(field(notAPath.body, "message")), /blinded path 0/)
        const otherAmount = yield* request("POST", "/v1/payments", JSON.stringify({ blinded: created.body, amountMsat: "1" })).pipe(Effect.provide(payer))
        assert.strictEqual(otherAmount.status, 400)
        assert.match(String(field(otherAmount.body, "message")), /asks 4000000 msat/)
        const noAmount = yield* request("POST", "/v1/payments", JSON.stringify({ blinded: { ...(created.body as object), amountMsat: null } })).pipe(Effect.provide(payer))
        assert.strictEqual(noAmount.status, 400)
        const two = yield* request("POST", "/v1/payments", JSON.stringify({ blinded: created.body, keysend: { nodeId: toHex(net.h.nodeIds[2]!), amountMsat: "1" } })).pipe(Effect.provide(payer))
        assert.strictEqual(two.status, 400)
        const badHops = yield* request("POST", "/v1/invoices/blinded", JSON.stringify({ hops: 3 })).pipe(Effect.provide(payee))
        assert.strictEqual(badHops.status, 400)

        const paying = yield* Effect.forkChild(request("POST", "/v1/payments", JSON.stringify({ blinded: created.body })).pipe(Effect.provide(payer)))
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const paid = yield* Fiber.join(paying)
        assert.strictEqual(paid.status, 200, JSON.stringify(paid.body))
        assert.strictEqual(field(paid.body, "status"), "succeeded")
        assert.strictEqual(field(paid.body, "paymentId"), hash)
        assert.strictEqual(field(paid.body, "amountMsat"), "4000000")
        // The introduction node keeps payment_relay's fee: 1000 msat + 100 ppm.
        assert.strictEqual(field(paid.body, "feePaidMsat"), "1400")
        const received = yield* request("GET", `/v1/invoices/${hash}`).pipe(Effect.provide(payee))
        assert.strictEqual(field(received.body, "status"), "paid")
        assert.strictEqual(field(received.body, "receivedMsat"), "4000000")
      }).pipe(Effect.scoped), (net) => net.shutdown))

  it.layer(ServerLive)((it) => {
    it.effect("a server without a payment layer answers 503", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/v1/payments")
        assert.strictEqual(reply.status, 503)
        assert.strictEqual(field(reply.body, "_tag"), "PaymentsUnavailable")
      }))
  })
})
