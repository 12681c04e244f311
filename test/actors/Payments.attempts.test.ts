/**
 * A pending payment's attempts are stored apart from its record (src/protocol/payment/records.ts
 * `attemptKey`, src/actors/Payments.ts `saveOutbound`): each change of an attempt writes that
 * attempt alone; the outcome writes the whole record, every attempt in it, and deletes the
 * attempts apart. A store written before attempts were kept apart (a pending record with its
 * attempts in it) still loads: the sender restarted over such a store finishes its payment as
 * over the store it wrote itself (over 0 -> 1 -> 2, restarted mid-payment).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { attemptJson, attemptsPrefix, type OutboundRecord, outboundJson, withAttemptsApart } from "../../src/protocol/payment/records.ts"
import { msat } from "../../src/protocol/units.ts"
import type { MemoryStoreData } from "../../src/layers/store/MemoryStore.ts"
import { macrotask, PaymentNet } from "../sim/payments/PaymentNet.ts"
import { assertNoHtlcs, line, reconnectAndAwait } from "../sim/payments/outcomes.ts"

const AMOUNT = 10_000_000n
const fee = (amount: bigint) => 1000n + (amount * 100n) / 1_000_000n
const text = new TextEncoder()
const untext = new TextDecoder()

const withNet = <A, E>(seed: string, f: (net: PaymentNet) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, 3), f, (net) => net.shutdown)

/** The payment records of a store (as stored: the record alone) and its attempts kept apart, by key. */
const storedPayments = (data: MemoryStoreData) => {
  const records = data.table.list("pay/out/").map((e) => Schema.decodeUnknownSync(outboundJson)(untext.decode(e.value)))
  const apart = data.table.list(attemptsPrefix()).map((e) => ({ key: e.key, attempt: Schema.decodeUnknownSync(attemptJson)(untext.decode(e.value)) }))
  return { records, apart }
}

/**
 * The store as the payment layer wrote it before attempts were kept apart: each pending record
 * with its attempts in it (the Schema's text, as that layer wrote it) and no attempt apart.
 */
const asOldFormat = (data: MemoryStoreData) => {
  const { records, apart } = storedPayments(data)
  const ops = records.map((r) => {
    const own = apart.filter((a) => a.key.startsWith(attemptsPrefix(r.paymentId))).map((a) => a.attempt)
    const whole: OutboundRecord = withAttemptsApart(r, own)
    return { _tag: "Put" as const, key: `pay/out/${r.paymentId}`, value: text.encode(Schema.encodeSync(outboundJson)(whole)) }
  })
  data.version += 1
  data.table.apply([...ops, ...apart.map((a) => ({ _tag: "Delete" as const, key: a.key }))], data.version)
}

/**
 * Node 0 pays node 2 over 1; once its HTLC is added (not delivered), link 0 -> 1 is held and node
 * 0 restarted, over its store as written (`old`: false) or turned into the old format; the payment
 * then completes once.
 */
const restartedSender = (seed: string, old: boolean) =>
  withNet(seed, (net) =>
    Effect.gen(function*() {
      const cs = yield* line(net, 3)
      const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: seed } })
      const b0 = yield* net.balance(0, cs[0]!.channelId)
      yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
      for (let step = 0; step < 500 && !net.h.wire.some((m) => m.from === 0 && m.message._tag === "UpdateAddHtlc"); step++) {
        yield* net.h.deliverNext()
        for (let k = 0; k < 5; k++) yield* macrotask
      }
      net.h.hold(0, 1)
      yield* net.settle(2)
      // Pending: the record alone (no attempt in it), its one attempt apart, in flight with its HTLC id.
      const pending = storedPayments(net.stores[0]!)
      assert.strictEqual(pending.records.length, 1)
      assert.strictEqual(pending.records[0]!.status, "pending")
      assert.deepStrictEqual(pending.records[0]!.attempts, [])
      assert.deepStrictEqual(pending.apart.map((a) => [a.key, a.attempt.status, a.attempt.htlcId]), [[`${attemptsPrefix(pending.records[0]!.paymentId)}0`, "inflight", 0n]])
      if (old) asOldFormat(net.stores[0]!)
      yield* net.restart(0)
      net.h.hold(0, 1, false)
      yield* reconnectAndAwait(net, inv.paymentHash)
      assert.strictEqual(b0 - (yield* net.balance(0, cs[0]!.channelId)), AMOUNT + fee(AMOUNT))
      assert.strictEqual(yield* net.balance(2, cs[1]!.channelId), AMOUNT)
      yield* assertNoHtlcs(net)
      assert.deepStrictEqual(net.h.violations, [])
      // Finished: one record with its attempt in it, nothing apart left.
      const done = storedPayments(net.stores[0]!)
      assert.deepStrictEqual(done.apart, [])
      assert.strictEqual(done.records[0]!.status, "succeeded")
      assert.deepStrictEqual(done.records[0]!.attempts.map((a) => [a.attemptId, a.status, a.htlcId]), [[0, "fulfilled", 0n]])
      assert.strictEqual(done.records[0]!.nextAttemptId, 1)
      const status = yield* net.pay(0).payment(Buffer.from(inv.paymentHash).toString("hex"))
      assert.strictEqual(status?.status, "succeeded")
      assert.strictEqual(status?.attempts, 1)
    })
  )

describe("Payments: a pending payment's attempts stored apart", () => {
  it.effect("the sender restarts mid-payment over its store: the payment completes once, its record whole again", () => restartedSender("attempts-apart", false))

  it.effect("the sender restarts mid-payment over a store written before attempts were kept apart: the same", () => restartedSender("attempts-old-format", true))
})
