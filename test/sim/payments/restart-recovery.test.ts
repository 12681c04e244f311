/**
 * Payments' restart recovery (src/actors/Payments.ts `recoverOutbound`, ARCHITECTURE.md
 * "Payments"): an attempt whose HTLC is in no commitment and no update log of its channel after a
 * restart is failed then, and the payment goes on at once (retried, or failed when no route is
 * left), never left pending until its deadline. The clock never moves in these tests: only that
 * immediate step can end the payment.
 *
 * - The add never became durable and the channel's stored state is still `WaitChannelReady` (its
 *   step to `Normal` is written with the channel's next write, here held): the channel knows no
 *   HTLC, and the attempt used to be taken for one of a closed channel (which may still be
 *   claimed on chain, BOLT 5) and kept in flight (the consistency fuzzer's cases 102 and
 *   1213123299 with CONSISTENCY_NO_DEADLINE=1).
 * - The peer's failure was irrevocably committed and durable, but the node died before its
 *   `HtlcResolved { Failed }` event was handled: the HTLC is gone from the channel, the event is
 *   not derived again (the failure's content is lost: no attribution), the attempt is failed.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Clock, Effect } from "effect"
import type { OutboundStatus } from "../../../src/actors/Payments.ts"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { msat } from "../../../src/protocol/units.ts"
import { type GraphChannel, macrotask, PaymentNet } from "./PaymentNet.ts"

const AMOUNT = 10_000_000n

const withNet = <A, E>(seed: string, f: (net: PaymentNet) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, 2), f, (net) => net.shutdown)

/** Lets node 0's payment `id` run (network rounds, no clock move) until it is no longer pending. */
const resolved = (net: PaymentNet, id: string) =>
  Effect.gen(function*() {
    let status: OutboundStatus | undefined
    for (let round = 0; round < 40 && (status === undefined || status.status === "pending"); round++) {
      yield* net.settle(1)
      status = yield* net.pay(0).payment(id)
    }
    return status
  })

const describeStatus = (s: OutboundStatus | undefined) =>
  JSON.stringify(s, (_, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? "bytes" : v))

/**
 * After the restart of node 0 (reconnected): the payment ended at once, the payee was paid
 * exactly when the payment succeeded, no HTLC is left, and the channel carries the next payment.
 */
const endsAtOnce = (net: PaymentNet, c: GraphChannel, id: string, before: bigint, startedAt: number) =>
  Effect.gen(function*() {
    const status = yield* resolved(net, id)
    assert.notStrictEqual(status?.status, "pending", `the payment ends at once, not at its deadline: ${describeStatus(status)}`)
    assert.strictEqual(yield* Clock.currentTimeMillis, startedAt, "the clock never moved")
    yield* net.settle()
    const paid = status?.status === "succeeded" ? AMOUNT : 0n
    assert.strictEqual((yield* net.balance(1, c.channelId)) - before, paid, `paid once or not at all: ${describeStatus(status)}`)
    assert.strictEqual(yield* net.htlcCount(0, c.channelId), 0)
    assert.strictEqual(yield* net.htlcCount(1, c.channelId), 0)
    const again = yield* net.pay(0).startKeysend(net.h.nodeIds[1]!, msat(AMOUNT))
    const next = yield* resolved(net, again)
    assert.strictEqual(next?.status, "succeeded", describeStatus(next))
    assert.isTrue(next?.preimage !== undefined && equalBytes(sha256(next.preimage), next.paymentHash))
    assert.strictEqual((yield* net.balance(1, c.channelId)) - before, paid + AMOUNT)
    assert.deepStrictEqual(net.h.violations, [])
    return status
  })

describe("Payments restart recovery: an attempt lost in a restart", () => {
  it.effect("the add was never durable and the channel's stored state is WaitChannelReady: the attempt fails at the restart, the payment ends at once", () =>
    withNet("recovery-wait-channel-ready", (net) =>
      Effect.gen(function*() {
        const startedAt = yield* Clock.currentTimeMillis
        // Funded and stored; then the sender's writes wait, before the funding is deep enough: its
        // step to Normal (a state-only write) and its HTLC stay in memory.
        yield* net.h.connect(0, 1)
        const temporary = yield* net.h.open(0, 1, { fundingSat: 1_000_000n, pushMsat: 0n })
        yield* net.h.quiesce({ completeWrites: true })
        yield* net.h.fund(0, temporary)
        yield* net.h.quiesce({ completeWrites: true })
        const channelId = net.h.eventsOf(0, "ChannelPending").at(-1)!.channelId
        yield* net.h.setPersistence(0, "InProgress")
        yield* net.h.setDepth(channelId, net.h.nodeConfig.config.minimumDepth)
        yield* net.h.quiesce()
        for (let k = 0; k < 5; k++) yield* macrotask
        const opened = yield* net.h.state(0, channelId)
        assert.strictEqual(opened?._tag, "Normal", "Normal in memory (the peer's channel_ready arrived)")
        if (opened?._tag !== "Normal" || opened.shortChannelId === undefined) return
        const c: GraphChannel = { a: 0, b: 1, channelId, scid: opened.shortChannelId, capacityMsat: 1_000_000_000n }
        net.channels.push(c)
        // Node 1 (still waiting for our channel_ready) starts with nothing on its side (no push).
        const before = 0n

        const id = yield* net.pay(0).startKeysend(net.h.nodeIds[1]!, msat(AMOUNT))
        let added = false
        for (let k = 0; k < 50 && !added; k++) {
          yield* macrotask
          const s = yield* net.h.state(0, c.channelId)
          added = s?._tag === "Normal" && [...s.commitments.localChanges.proposed, ...s.commitments.localChanges.signed].some((u) => u._tag === "UpdateAddHtlc")
        }
        assert.isTrue(added, "the first attempt's HTLC is in the sender's channel")
        assert.strictEqual((yield* net.pay(0).payment(id))?.status, "pending")

        yield* net.restart(0)
        assert.strictEqual((yield* net.h.state(0, c.channelId))?._tag, "WaitChannelReady", "the step to Normal was never durable")
        yield* net.h.setPersistence(0, "Completed")
        yield* net.h.connect(0, 1)
        const status = yield* endsAtOnce(net, c, id, before, startedAt)
        assert.isTrue((status?.attempts ?? 0) <= 2, describeStatus(status))
      })
    ))

  it.effect("the peer's failure was durable but its event not handled when the sender died: the attempt fails at the restart, the payment ends at once", () =>
    withNet("recovery-failed-crash", (net) =>
      Effect.gen(function*() {
        const startedAt = yield* Clock.currentTimeMillis
        const c = yield* net.channel(0, 1)
        const before = yield* net.balance(1, c.channelId)
        // An invoice the payee signed but forgot: it fails the HTLC (incorrect_or_unknown_payment_details).
        const inv = yield* net.pay(1).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "forgotten" } })
        net.stores[1]!.table.apply([{ _tag: "Delete", key: `pay/in/${Buffer.from(inv.paymentHash).toString("hex")}` }], ++net.stores[1]!.version)
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.settle()
        // Message by message until the peer's revoke_and_ack that removes the failed HTLC for good
        // (gone from the sender's commitment, still in the peer's): the sender dies right after
        // the write of that step lands (its `HtlcResolved { Failed }` is never published).
        const id = yield* net.pay(0).startPayment(inv.invoice)
        let armed = false
        for (let step = 0; step < 500 && !armed; step++) {
          const next = net.h.pending(1, 0)[0]
          const s = yield* net.h.state(0, c.channelId)
          if (next?.message._tag === "RevokeAndAck" && s?._tag === "Normal" && s.commitments.localCommit.spec.htlcs.length === 0 && s.commitments.remoteCommit.spec.htlcs.length === 1) {
            net.h.armCrash(0, { persistCall: 1, when: "after" })
            yield* net.h.deliver(1, 0)
            armed = true
          } else {
            yield* net.h.deliverNext()
            for (let k = 0; k < 5; k++) yield* macrotask
          }
        }
        assert.isTrue(armed, net.h.log.slice(-20).join("\n"))
        for (let k = 0; k < 20 && !net.h.hasCrashed(0); k++) yield* macrotask
        assert.isTrue(net.h.hasCrashed(0), "the sender died")
        const crash = net.h.log.find((l) => l.startsWith("node 0: crashed at"))
        assert.match(crash ?? "", /CommitmentSecret \d+, after/)
        assert.isFalse(net.paymentEvents.some((e) => e.node === 0 && e.event._tag === "AttemptFailed"), "the failure was not handled before the crash")

        yield* net.restart(0)
        const s = yield* net.h.state(0, c.channelId)
        assert.isTrue(s?._tag === "Normal" && s.commitments.localCommit.spec.htlcs.length === 0 && s.commitments.remoteCommit.spec.htlcs.length === 0, "the HTLC is gone from the stored channel")
        yield* net.h.connect(0, 1)
        const status = yield* endsAtOnce(net, c, id, before, startedAt)
        assert.strictEqual(status?.status, "failed")
      })
    ))
})
