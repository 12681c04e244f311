/**
 * What the payment network tests share: running a payment to its outcome while the network
 * moves, reading that outcome, a line of channels, and the no-HTLC-left check.
 */
import { assert } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Fiber } from "effect"
import type { PaymentFailed, PaymentSucceeded } from "../../../src/actors/Payments.ts"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import type { GraphChannel, PaymentNet } from "./PaymentNet.ts"

type PayError = PaymentFailed | { readonly _tag: "InvalidPaymentRequest" }

/** Runs `pay` to its outcome while the network moves, then lets the network settle. */
export const outcome = (net: PaymentNet, effect: Effect.Effect<PaymentSucceeded, PayError>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(effect))
    yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
    const exit = yield* Fiber.join(fiber)
    yield* net.settle()
    return exit
  })

export const succeeded = (exit: Exit.Exit<PaymentSucceeded, unknown>): PaymentSucceeded => {
  if (!Exit.isSuccess(exit)) throw new Error(`payment did not succeed: ${String(exit)}`)
  return exit.value
}

export const failedWith = (exit: Exit.Exit<PaymentSucceeded, PayError>): PaymentFailed => {
  if (Exit.isSuccess(exit)) throw new Error("payment succeeded")
  const e = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (e === undefined || e._tag !== "Fail" || e.error._tag !== "PaymentFailed") throw new Error(`not a PaymentFailed: ${String(exit)}`)
  return e.error
}

/**
 * After the sender (node 0) of a line 0 -> 1 -> 2 restarted: reconnects the line, waits for the
 * payment of `paymentHash` to succeed, checks its preimage and lets the network settle.
 */
export const reconnectAndAwait = (net: PaymentNet, paymentHash: Uint8Array) =>
  Effect.gen(function*() {
    yield* net.h.connect(0, 1)
    yield* net.h.connect(1, 2)
    const ok = succeeded(yield* outcome(net, net.pay(0).awaitPayment(Buffer.from(paymentHash).toString("hex"))))
    assert.isTrue(equalBytes(sha256(ok.preimage), paymentHash))
    yield* net.settle()
    return ok
  })

/** A line: 0 -> 1 -> ... -> n-1, each channel funded by its left node. */
export const line = (net: PaymentNet, n: number) =>
  Effect.gen(function*() {
    const cs: Array<GraphChannel> = []
    for (let i = 0; i + 1 < n; i++) cs.push(yield* net.channel(i, i + 1))
    return cs
  })

/** Every channel's commitments are free of HTLCs on both sides. */
export const assertNoHtlcs = (net: PaymentNet) =>
  Effect.gen(function*() {
    for (const c of net.channels) {
      assert.strictEqual(yield* net.htlcCount(c.a, c.channelId), 0, `HTLC left on ${c.a}-${c.b}`)
      assert.strictEqual(yield* net.htlcCount(c.b, c.channelId), 0, `HTLC left on ${c.b}-${c.a}`)
    }
  })
