/**
 * An incoming HTLC its channel flags as over our dust exposure limit (BOLT 2) is failed back with
 * `temporary_channel_failure` (read by the sender from the failure onion), never claimed, even
 * when it pays one of our invoices; one that is not flagged is claimed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue, Result } from "effect"
import { type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { make as makePayments } from "../../src/actors/Payments.ts"
import { makeNodeSigner } from "../../src/layers/InMemoryNodeSigner.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { buildPaymentOnion, decryptFailure } from "../../src/protocol/onion/index.ts"
import { ChannelId, msat } from "../../src/protocol/units.ts"
import { managerDouble, paymentsOverDoubles } from "./paymentsOverDoubles.ts"

const secp = wasmSecp256k1
const HEIGHT = 800_000
const AMOUNT = msat(10_000_000n)
const channelId = ChannelId(new Uint8Array(32).fill(7))

/** Our invoice paid by one HTLC, flagged or not: the failure the sender reads, or "fulfilled". */
const payOnce = (dustExposureExceeded: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<NodeChannelEvent>()
    const outcome: Array<string> = []
    let sharedSecrets: ReadonlyArray<Uint8Array> = []
    const manager = managerDouble(inbox, {
      fulfillHtlc: () => Effect.sync(() => void outcome.push("fulfilled")),
      claimPreimage: () => Effect.void,
      failHtlc: (_, __, reason, attributionData) =>
        Effect.sync(() => {
          const d = decryptFailure(sharedSecrets, reason, attributionData)
          const f = Result.isSuccess(d) ? d.success.failure : undefined
          outcome.push(f !== undefined && Result.isSuccess(f) ? f.success._tag : "unreadable")
        }),
      failMalformedHtlc: () => Effect.sync(() => void outcome.push("malformed"))
    })
    const signer = makeNodeSigner(new Uint8Array(32).fill(1), secp)
    const payments = yield* makePayments({ secp, blockHeight: Effect.succeed(HEIGHT) }).pipe(
      Effect.provide(paymentsOverDoubles(manager, signer, "payments-dust"))
    )
    const inv = yield* payments.createInvoice({ amountMsat: AMOUNT, description: { text: "dust" } })
    const cltvExpiry = HEIGHT + 40
    const built = buildPaymentOnion(secp, new Uint8Array(32).fill(3), [{
      publicKey: signer.nodeId,
      payload: { amtToForward: AMOUNT, outgoingCltvValue: cltvExpiry, paymentData: { paymentSecret: inv.paymentSecret, totalMsat: AMOUNT } }
    }], inv.paymentHash)
    if (built._tag === "Failure") return yield* Effect.die(built.failure)
    sharedSecrets = built.success.sharedSecrets
    yield* Queue.offer(inbox, {
      nodeId: signer.nodeId,
      channelId,
      event: { _tag: "HtlcReceived", channelId, htlcId: 0n, amount: AMOUNT, paymentHash: inv.paymentHash, cltvExpiry, onion: built.success.onion, dustExposureExceeded }
    })
    for (let i = 0; i < 1000 && outcome.length === 0; i++) yield* Effect.yieldNow
    return { outcome, status: (yield* payments.invoice(inv.paymentHash))?.status }
  }))

describe("Payments: an HTLC over the dust exposure limit", () => {
  it.effect("is failed back with temporary_channel_failure, the invoice stays open", () =>
    Effect.gen(function*() {
      const r = yield* payOnce(true)
      assert.deepStrictEqual(r.outcome, ["temporary_channel_failure"])
      assert.strictEqual(r.status, "open")
    }))

  it.effect("not flagged: claimed", () =>
    Effect.gen(function*() {
      const r = yield* payOnce(false)
      assert.deepStrictEqual(r.outcome, ["fulfilled"])
      assert.strictEqual(r.status, "paid")
    }))
})
