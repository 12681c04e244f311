/**
 * Claim order (issue 8): the payee makes the preimage durable in the monitor of every channel
 * that carries a part (`ChannelManager.claimPreimage`) before any part is fulfilled, so no
 * `update_fulfill_htlc` leaves while another part's channel could still lose the preimage.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { preimageOf } from "../../../src/protocol/monitor/query.ts"
import { type ChannelId, msat } from "../../../src/protocol/units.ts"
import { Harness, key, paymentHashOf, preimageFor } from "../channels/Harness.ts"
import { macrotask, must, PaymentNet } from "./PaymentNet.ts"
import { succeeded } from "./outcomes.ts"

const turns = (n: number) => Effect.forEach(Array.from({ length: n }), () => macrotask, { discard: true })

/** Node 0 reaches the payee 3 over two paths (0-1-3, 0-2-3) that only an MPP payment of `amount` can use together; the payee's invoice for it. */
const twoPathsToPayee = (net: PaymentNet, description: string) =>
  Effect.gen(function*() {
    yield* net.channel(0, 1, { fundingSat: 200_000n })
    const c13 = yield* net.channel(1, 3)
    yield* net.channel(0, 2, { fundingSat: 200_000n })
    const c23 = yield* net.channel(2, 3)
    const amount = 300_000_000n
    const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(amount), description: { text: description } })
    return { c13, c23, amount, inv }
  })

describe("claim order", () => {
  it.effect("claimPreimage completes only once the channel's preimage write is durable", () =>
    Effect.acquireUseRelease(Harness.make({ seed: "claim-preimage-unit", nodes: 2, backend: "manager" }), (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1)
        const htlcId = must(yield* h.addHtlc(0, id, 10_000_000n, 1))
        yield* h.quiesce({ completeWrites: true })
        const manager = h.node(1).manager
        if (manager === undefined) return yield* Effect.die(new Error("manager backend only"))
        const preimage = preimageFor(h.seed, 1)
        yield* h.setPersistence(1, "InProgress")
        const claiming = yield* Effect.forkChild(Effect.exit(manager.claimPreimage(id, htlcId, preimage)))
        yield* turns(20)
        assert.isUndefined(claiming.pollUnsafe(), "not complete while the write is held")
        assert.strictEqual(yield* h.pendingWrites(1), 1, "the preimage write is held")
        assert.isUndefined(preimageOf(h.durableMonitor(1, key(id))!, paymentHashOf(preimage)), "not durable yet")
        yield* h.completeWrites(1)
        yield* turns(20)
        const exit = yield* Fiber.join(claiming)
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.isDefined(preimageOf(h.durableMonitor(1, key(id))!, paymentHashOf(preimage)), "durable once complete")
        assert.isFalse(h.wire.some((m) => m.from === 1 && m.message._tag === "UpdateFulfillHtlc"), "nothing sent to the peer")
        // Already durable: a second claim completes at once (its own write lands at once).
        yield* h.setPersistence(1, "Completed")
        yield* manager.claimPreimage(id, htlcId, preimage)
      }), (h) => h.shutdown))

  it.effect("MPP over two channels into the payee: one channel's preimage write held, no fulfill leaves on either channel until it lands", () =>
    Effect.acquireUseRelease(PaymentNet.make("claim-order-mpp", 4), (net) =>
      Effect.gen(function*() {
        const { c13, c23, amount, inv } = yield* twoPathsToPayee(net, "claim order")
        const manager = net.h.node(3).manager
        const control = net.h.node(3).control
        if (manager === undefined || control === undefined) return yield* Effect.die(new Error("manager backend only"))
        const monitorHas = (channelId: ChannelId) =>
          Effect.map(Effect.orDie(manager.monitorState(channelId)), (m) => m !== undefined && preimageOf(m, inv.paymentHash) !== undefined)
        const fulfillsFrom3 = () => net.h.wire.filter((m) => m.from === 3 && m.message._tag === "UpdateFulfillHtlc").length
        // The payee's writes are held; every write is let through until the claim writes the preimage.
        yield* net.h.setPersistence(3, "InProgress")
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        for (let round = 0; round < 200; round++) {
          yield* net.h.quiesce({ completeWrites: false })
          yield* turns(5)
          if ((yield* monitorHas(c13.channelId)) || (yield* monitorHas(c23.channelId))) break
          yield* net.h.completeWrites(3)
          yield* turns(5)
        }
        yield* net.h.quiesce({ completeWrites: false })
        yield* turns(10)
        assert.isTrue((yield* monitorHas(c13.channelId)) && (yield* monitorHas(c23.channelId)), "the preimage was handed to both monitors")
        assert.strictEqual(fulfillsFrom3(), 0, "no fulfill while both writes are held")
        // One channel's write lands; the other's is still held: nothing may leave on either channel.
        assert.isAbove(yield* control.release(c13.channelId), 0)
        for (let k = 0; k < 5; k++) {
          yield* net.h.quiesce({ completeWrites: false })
          yield* turns(10)
        }
        assert.strictEqual(fulfillsFrom3(), 0, "no fulfill leaves before every part's channel holds the preimage durably")
        assert.strictEqual((yield* net.pay(3).invoice(inv.paymentHash))?.status, "claiming")
        // The other write lands: both parts are fulfilled and the payment succeeds.
        yield* net.h.setPersistence(3, "Completed")
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const ok = succeeded(yield* Fiber.join(paying))
        assert.strictEqual(ok.parts, 2)
        yield* net.settle()
        const sent = net.h.wire.filter((m) => m.from === 3 && m.message._tag === "UpdateFulfillHtlc").map((m) => m.to).sort()
        assert.deepStrictEqual(sent, [1, 2], "one fulfill on each channel")
        const received = yield* net.pay(3).invoice(inv.paymentHash)
        assert.strictEqual(received?.status, "paid")
        assert.strictEqual(received?.receivedMsat, amount)
        assert.strictEqual((yield* net.balance(3, c13.channelId)) + (yield* net.balance(3, c23.channelId)), amount)
      }), (net) => net.shutdown))

  it.effect("a payee restart mid-claim: the stored claim makes the preimage durable on both channels again before either part is fulfilled", () =>
    Effect.acquireUseRelease(PaymentNet.make("claim-order-restart", 4), (net) =>
      Effect.gen(function*() {
        const { c13, c23, amount, inv } = yield* twoPathsToPayee(net, "claim order, restart")
        const monitorHas = (channelId: ChannelId) =>
          Effect.gen(function*() {
            const manager = net.h.node(3).manager
            if (manager === undefined) return yield* Effect.die(new Error("manager backend only"))
            const m = yield* Effect.orDie(manager.monitorState(channelId))
            return m !== undefined && preimageOf(m, inv.paymentHash) !== undefined
          })
        const fulfillsFrom3 = () => net.h.wire.filter((m) => m.from === 3 && m.message._tag === "UpdateFulfillHtlc").length
        /** Runs with the payee's writes held, letting through every write of a channel whose monitor lacks the preimage. */
        const untilPreimageOnBoth = Effect.gen(function*() {
          for (let round = 0; round < 200; round++) {
            yield* net.h.quiesce({ completeWrites: false })
            yield* turns(5)
            const has13 = yield* monitorHas(c13.channelId)
            const has23 = yield* monitorHas(c23.channelId)
            if (has13 && has23) return
            const control = net.h.node(3).control
            if (control === undefined) return yield* Effect.die(new Error("manager backend only"))
            if (!has13) yield* control.release(c13.channelId)
            if (!has23) yield* control.release(c23.channelId)
            yield* turns(5)
          }
          return yield* Effect.die(new Error(`the preimage did not reach both monitors\n${net.h.log.slice(-30).join("\n")}`))
        })
        yield* net.h.setPersistence(3, "InProgress")
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        yield* untilPreimageOnBoth
        assert.strictEqual((yield* net.pay(3).invoice(inv.paymentHash))?.status, "claiming", "the claim is stored")
        assert.strictEqual(fulfillsFrom3(), 0)
        // The payee restarts: its held preimage writes are lost; its writes are still held.
        yield* net.restart(3)
        yield* net.h.connect(1, 3)
        yield* net.h.connect(2, 3)
        yield* untilPreimageOnBoth
        assert.strictEqual(fulfillsFrom3(), 0, "no fulfill while the preimage writes are held")
        const control = net.h.node(3).control
        if (control === undefined) return yield* Effect.die(new Error("manager backend only"))
        yield* control.release(c13.channelId)
        for (let k = 0; k < 5; k++) {
          yield* net.h.quiesce({ completeWrites: false })
          yield* turns(10)
        }
        assert.strictEqual(fulfillsFrom3(), 0, "no fulfill leaves before every part's channel holds the preimage durably")
        yield* net.h.setPersistence(3, "Completed")
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const ok = succeeded(yield* Fiber.join(paying))
        assert.strictEqual(ok.parts, 2)
        yield* net.settle()
        const received = yield* net.pay(3).invoice(inv.paymentHash)
        assert.strictEqual(received?.status, "paid")
        assert.strictEqual(received?.receivedMsat, amount)
        assert.strictEqual((yield* net.balance(3, c13.channelId)) + (yield* net.balance(3, c23.channelId)), amount)
      }), (net) => net.shutdown))
})
