/**
 * How `Payments` claims a one-part payment (issue 8): with a manager that can fulfil durably
 * (`fulfillHtlcDurably`), the fulfill alone hands the channel's monitor the preimage (the channel
 * persists `PaymentPreimage` before `update_fulfill_htlc` leaves) and no separate
 * `claimPreimage` is asked; a channel that refuses the fulfill (closed or failed) gets the
 * preimage for its monitor through `claimPreimage` then. Without that method, or for several
 * parts: every part's channel gets the preimage first, then every part is fulfilled.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { type ChannelManagerShape, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { make as makePayments } from "../../src/actors/Payments.ts"
import { ChannelCommandRejected } from "../../src/actors/Channel.ts"
import { makeNodeSigner } from "../../src/layers/InMemoryNodeSigner.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { UnexpectedInput } from "../../src/protocol/channel/step.ts"
import { buildPaymentOnion } from "../../src/protocol/onion/index.ts"
import { ChannelId, msat } from "../../src/protocol/units.ts"
import { managerDouble, paymentsOverDoubles } from "./paymentsOverDoubles.ts"

const secp = wasmSecp256k1
const HEIGHT = 800_000
const AMOUNT = msat(10_000_000n)
const channelId = ChannelId(new Uint8Array(32).fill(7))
const nodeSecret = new Uint8Array(32).fill(1)

type Call = "claimPreimage" | "fulfillHtlc" | "fulfillHtlcDurably"

/** A manager double: its events come from `inbox`; every claim and fulfill is recorded in order. */
const recordingManager = (inbox: Queue.Queue<NodeChannelEvent>, calls: Array<Call>, options: { durable: boolean; refuseFulfill: boolean }): ChannelManagerShape => {
  const refused = new ChannelCommandRejected({ channelId, input: "FulfillHtlc", error: new UnexpectedInput({ phase: "Failed", input: "FulfillHtlc", detail: "the channel failed" }) })
  const fulfill = (call: Call) => () => Effect.suspend(() => {
    calls.push(call)
    return options.refuseFulfill ? Effect.fail(refused) : Effect.void
  })
  return managerDouble(inbox, {
    fulfillHtlc: fulfill("fulfillHtlc"),
    ...(options.durable ? { fulfillHtlcDurably: fulfill("fulfillHtlcDurably") } : {}),
    claimPreimage: () => Effect.sync(() => void calls.push("claimPreimage"))
  })
}

/** Our invoice paid by one HTLC over `channelId`: what the manager was asked, and the invoice's status after. */
const claimOnePart = (options: { durable: boolean; refuseFulfill: boolean }) =>
  Effect.scoped(Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<NodeChannelEvent>()
    const calls: Array<Call> = []
    const signer = makeNodeSigner(nodeSecret, secp)
    const payments = yield* makePayments({ secp, blockHeight: Effect.succeed(HEIGHT) }).pipe(
      Effect.provide(paymentsOverDoubles(recordingManager(inbox, calls, options), signer, "payments-claim"))
    )
    const inv = yield* payments.createInvoice({ amountMsat: AMOUNT, description: { text: "one part" } })
    const cltvExpiry = HEIGHT + 40
    const built = buildPaymentOnion(secp, new Uint8Array(32).fill(3), [{
      publicKey: signer.nodeId,
      payload: { amtToForward: AMOUNT, outgoingCltvValue: cltvExpiry, paymentData: { paymentSecret: inv.paymentSecret, totalMsat: AMOUNT } }
    }], inv.paymentHash)
    if (built._tag === "Failure") return yield* Effect.die(built.failure)
    yield* Queue.offer(inbox, {
      nodeId: signer.nodeId,
      channelId,
      event: { _tag: "HtlcReceived", channelId, htlcId: 0n, amount: AMOUNT, paymentHash: inv.paymentHash, cltvExpiry, onion: built.success.onion }
    })
    for (let i = 0; i < 1000; i++) {
      const status = (yield* payments.invoice(inv.paymentHash))?.status
      if (status === "paid") return { calls, status }
      yield* Effect.yieldNow
    }
    return { calls, status: (yield* payments.invoice(inv.paymentHash))?.status }
  }))

describe("Payments: the claim of a one-part payment", () => {
  it.effect("with fulfillHtlcDurably: the fulfill alone (no separate claimPreimage), then paid", () =>
    Effect.gen(function*() {
      const { calls, status } = yield* claimOnePart({ durable: true, refuseFulfill: false })
      assert.deepStrictEqual(calls, ["fulfillHtlcDurably"])
      assert.strictEqual(status, "paid")
    }))

  it.effect("the channel refuses the fulfill (closed or failed): its monitor gets the preimage by claimPreimage", () =>
    Effect.gen(function*() {
      const { calls, status } = yield* claimOnePart({ durable: true, refuseFulfill: true })
      assert.deepStrictEqual(calls, ["fulfillHtlcDurably", "claimPreimage"])
      assert.strictEqual(status, "paid")
    }))

  it.effect("a manager without fulfillHtlcDurably: claimPreimage first, then the fulfill", () =>
    Effect.gen(function*() {
      const { calls, status } = yield* claimOnePart({ durable: false, refuseFulfill: false })
      assert.deepStrictEqual(calls, ["claimPreimage", "fulfillHtlc"])
      assert.strictEqual(status, "paid")
    }))
})
