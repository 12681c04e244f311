/**
 * HTLC deadlines against the chain height (BOLT 2 "`cltv_expiry_delta` Selection" requirements;
 * src/protocol/payment/deadlines.ts, run by Payments at each new height), in a 0 -> 1 -> 2 network
 * of our nodes (PaymentNet):
 *
 * - a forwarded HTLC that the downstream node holds past its `cltv_expiry` + G: the forwarder
 *   fails (force-closes) the downstream channel, and does NOT fail the upstream HTLC back (the
 *   outgoing HTLC could still be claimed on chain; BOLT 5 resolves it first);
 * - a received HTLC we fulfilled whose fulfill the peer never acknowledges: within `2R+G+S`
 *   (18) blocks of its expiry the payee force-closes, so it can claim on chain in time;
 * - an intercepted HTLC the application never answers is failed back before its expiry is that
 *   close (the upstream peer never has to close on us);
 * - a check (a new block) while the forwarder's outgoing HTLC is fulfilled and gone from its
 *   channel but the resolution not yet handled: the incoming HTLC is not failed back (it is
 *   fulfilled when the resolution comes: failing it back would refund what was paid downstream);
 * - then the on-chain half: when the monitor (`MonitorChain`, BOLT 5; a stand-in here that
 *   publishes what the real one would) reports the outgoing HTLC timed out on chain, the incoming
 *   HTLC is failed back (`permanent_channel_failure`, attributed to the forwarder); when it
 *   reports the preimage seen on chain, the incoming HTLC is fulfilled and the sender succeeds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, PubSub, Stream } from "effect"
import type { MonitorChainEvent, MonitorChainShape } from "../../../src/actors/MonitorChain.ts"
import { makeMemoryStore } from "../../../src/layers/store/MemoryStore.ts"
import { inboundJson } from "../../../src/protocol/payment/index.ts"
import { Schema } from "effect"
import type { PaymentEvent } from "../../../src/actors/Payments.ts"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { msat } from "../../../src/protocol/units.ts"
import { macrotask, PaymentNet } from "./PaymentNet.ts"

const AMOUNT = 10_000_000n

const withNet = <A, E>(seed: string, f: (net: PaymentNet) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, 3), f, (net) => net.shutdown)

/** The HTLCs of a channel state's current local commitment. */
const htlcsOf = (s: ChannelState | undefined) => (s?._tag === "Normal" ? s.commitments.localCommit.spec.htlcs : [])

const deadlineEvents = (net: PaymentNet, node: number) =>
  net.paymentEvents.filter((e): e is { readonly node: number; readonly event: Extract<PaymentEvent, { _tag: "HtlcDeadline" }> } =>
    e.node === node && e.event._tag === "HtlcDeadline"
  )

/** Every node checks its deadlines at the current height (as each would on a new block). */
const newBlock = (net: PaymentNet, height: number) =>
  Effect.gen(function*() {
    net.height = height
    for (let i = 0; i < 3; i++) yield* net.pay(i).checkDeadlines
    yield* net.settle()
  })

describe("HTLC deadlines (BOLT 2) at new blocks", () => {
  it.effect("a check while the forwarder has not yet handled its outgoing HTLC's fulfill: the incoming HTLC is fulfilled, never failed back", () =>
    withNet("deadline-resolution-queued", (net) =>
      Effect.gen(function*() {
        // Node 1's payment layer sees its channels' HtlcResolved events only once released: its
        // outgoing HTLC is fulfilled and gone from the channel (and its preimage from the monitor,
        // which keeps none no commitment needs) while the event is still on its way.
        const release = yield* Deferred.make<void>()
        const held: Array<string> = []
        net.managerWrappers[1] = (manager) => ({
          ...manager,
          subscribe: Effect.map(manager.subscribe, (events) =>
            events.pipe(Stream.tap((e) =>
              e.event._tag === "HtlcResolved" ? Effect.andThen(Effect.sync(() => held.push(e.event._tag)), Deferred.await(release)) : Effect.void
            )))
        })
        const c01 = yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.h.connect(1, 2)
        yield* net.settle()
        const before = yield* net.balance(1, c01.channelId)
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "queued resolution" } })
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        const paid = () => net.paymentEvents.some((e) => e.node === 2 && e.event._tag === "PaymentReceived")
        yield* net.runUntil(() => paid() && held.length > 0)
        yield* net.settle()
        assert.strictEqual(yield* net.htlcCount(1, c12.channelId), 0, "the outgoing HTLC is gone from node 1's channel")
        // Blocks come while the resolution is still queued: nothing is failed back.
        yield* newBlock(net, net.height + 1)
        yield* newBlock(net, net.height + 1)
        yield* net.pay(1).checkDeadlines
        assert.isFalse(net.paymentEvents.some((e) => e.event._tag === "ForwardFailed"), "no forward failed back")
        yield* Deferred.succeed(release, undefined)
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(paying)
        assert.isTrue(Exit.isSuccess(exit), `the payment succeeds: ${String(exit)}`)
        yield* net.settle()
        // Node 1 was paid upstream what it paid downstream plus its fee.
        assert.isTrue((yield* net.balance(1, c01.channelId)) > before, "node 1's incoming HTLC was fulfilled")
      })))

  it.effect("a forwarded HTLC held downstream past cltv_expiry + 2: the forwarder force-closes the downstream channel and keeps the upstream HTLC", () =>
    withNet("deadline-offered", (net) =>
      Effect.gen(function*() {
        const c01 = yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        // The sender's router sends one part of half the amount: the payee holds it (an MPP set
        // that never completes), so the forward stays unresolved.
        net.routerMode[0] = "half"
        net.halfOf = AMOUNT
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "held" } })
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        yield* net.runUntil(() => net.h.log.some((l) => l.includes("UpdateAddHtlc 1->2")))
        yield* net.settle()
        const out = htlcsOf(yield* net.h.state(1, c12.channelId))
        assert.strictEqual(out.length, 1, "the forwarded HTLC is committed on 1-2")
        const cltv = out[0]!.cltvExpiry
        const incoming = htlcsOf(yield* net.h.state(1, c01.channelId))
        assert.strictEqual(incoming[0]!.cltvExpiry - cltv, net.policies[1]!.cltvExpiryDelta)

        // One block before the deadline: nothing happens.
        yield* newBlock(net, cltv + 1)
        assert.strictEqual(deadlineEvents(net, 1).length, 0)
        assert.strictEqual((yield* net.h.state(1, c12.channelId))?._tag, "Normal")

        // At cltv_expiry + G (2): node 1 fails the downstream channel.
        yield* newBlock(net, cltv + 2)
        const events = deadlineEvents(net, 1)
        assert.strictEqual(events.length, 1)
        assert.strictEqual(toHex(events[0]!.event.channelId), toHex(c12.channelId))
        assert.strictEqual(events[0]!.event.direction, "offered")
        assert.notStrictEqual((yield* net.h.state(1, c12.channelId))?._tag, "Normal", "1-2 was force-closed")
        // The upstream HTLC is NOT failed back (the outgoing one may still be claimed on chain),
        // and the upstream channel is untouched: its HTLC expires 40 blocks later.
        assert.strictEqual(htlcsOf(yield* net.h.state(1, c01.channelId)).length, 1, "the incoming HTLC is kept")
        assert.strictEqual((yield* net.h.state(0, c01.channelId))?._tag, "Normal")
        assert.strictEqual(deadlineEvents(net, 0).length + deadlineEvents(net, 2).length, 0)
        // A later block does not close it again.
        yield* newBlock(net, cltv + 3)
        assert.strictEqual(deadlineEvents(net, 1).length, 1)
        yield* Fiber.interrupt(paying)
      })
    ))

  it.effect("a received HTLC we fulfilled, never acknowledged: within 18 blocks of its expiry the payee force-closes", () =>
    withNet("deadline-received", (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "unacked" } })
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        // Step until the payee's fulfill is on the wire, then hold the link: it never arrives.
        const fulfilled = () => net.h.wire.some((m) => m.from === 2 && m.message._tag === "UpdateFulfillHtlc")
        for (let step = 0; step < 500 && !fulfilled(); step++) {
          yield* net.h.deliverNext()
          for (let k = 0; k < 5; k++) yield* macrotask
        }
        assert.isTrue(fulfilled(), net.h.log.slice(-20).join("\n"))
        net.h.hold(2, 1)
        yield* net.settle()
        const received = htlcsOf(yield* net.h.state(2, c12.channelId))
        assert.strictEqual(received.length, 1, "the HTLC is still in the payee's commitment")
        const cltv = received[0]!.cltvExpiry

        yield* newBlock(net, cltv - 19)
        assert.strictEqual(deadlineEvents(net, 2).length, 0)
        yield* newBlock(net, cltv - 18)
        const events = deadlineEvents(net, 2)
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]!.event.direction, "received")
        assert.strictEqual(toHex(events[0]!.event.channelId), toHex(c12.channelId))
        assert.notStrictEqual((yield* net.h.state(2, c12.channelId))?._tag, "Normal", "the payee failed the channel")
        // The forwarder's offered HTLC is not yet past its own deadline.
        assert.strictEqual(deadlineEvents(net, 1).length, 0)
        yield* Fiber.interrupt(paying)
      })
    ))

  it.effect("an intercepted HTLC never answered is failed back before its expiry comes within 18 blocks", () =>
    withNet("deadline-intercept", (net) =>
      Effect.gen(function*() {
        const c01 = yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        const fake = shortChannelIdFromParts(900, 9, 9)
        net.intercepts[1]!.add(fake)
        const p1 = net.policies[1]!
        const hint = [{ pubkey: net.h.nodeIds[1]!, shortChannelId: fake, feeBaseMsat: p1.feeBaseMsat, feeProportionalMillionths: p1.feeProportionalMillionths, cltvExpiryDelta: p1.cltvExpiryDelta }]
        net.channels.splice(1, 1)
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "never answered" }, routeHints: [hint] })
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        yield* net.runUntil(() => net.intercepted.length === 1)
        const incoming = htlcsOf(yield* net.h.state(1, c01.channelId))
        const cltv = incoming[0]!.cltvExpiry
        yield* newBlock(net, cltv - 19)
        assert.strictEqual(htlcsOf(yield* net.h.state(1, c01.channelId)).length, 1, "still held")
        yield* newBlock(net, cltv - 18)
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "unknown_next_peer" }])
        assert.strictEqual(htlcsOf(yield* net.h.state(1, c01.channelId)).length, 0, "failed back")
        assert.strictEqual((yield* net.h.state(1, c01.channelId))?._tag, "Normal", "no channel closed")
        net.channels.push(c12)
      })
    ))

  describe("the on-chain half: the monitor's resolution of the outgoing HTLC settles the incoming one", () => {
    /** A `MonitorChain` stand-in: Payments only subscribes; the test publishes what the monitor would. */
    const fakeMonitor = Effect.gen(function*() {
      const hub = yield* PubSub.unbounded<MonitorChainEvent>()
      const unused = Effect.die(new Error("not used by Payments"))
      const shape: MonitorChainShape = {
        tip: unused,
        subscribe: Effect.map(PubSub.subscribe(hub), (sub) => Stream.fromSubscription(sub)),
        resolution: () => unused,
        balances: unused,
        awaitBlock: () => unused
      }
      return { shape, publish: (e: MonitorChainEvent) => PubSub.publish(hub, e) }
    })

    /** 0 -> 1 -> 2, the payee holding the forwarded HTLC, node 1 past the deadline: 1-2 force-closed. */
    const stuckForward = (seed: string) =>
      Effect.gen(function*() {
        const net = yield* PaymentNet.make(seed, 3)
        const monitor = yield* fakeMonitor
        net.monitorChains[1] = monitor.shape
        yield* net.restart(1)
        const c01 = yield* net.channel(0, 1)
        const c12 = yield* net.channel(1, 2)
        net.routerMode[0] = "half"
        net.halfOf = AMOUNT
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: seed } })
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice, { timeoutMillis: 3_600_000 })))
        yield* net.runUntil(() => net.h.log.some((l) => l.includes("UpdateAddHtlc 1->2")))
        yield* net.settle()
        const out = htlcsOf(yield* net.h.state(1, c12.channelId))[0]!
        yield* newBlock(net, out.cltvExpiry + 2)
        assert.strictEqual(deadlineEvents(net, 1).length, 1)
        assert.strictEqual(htlcsOf(yield* net.h.state(1, c01.channelId)).length, 1)
        return { net, monitor, c01, c12, out, paying, paymentHash: inv.paymentHash }
      })

    it.effect("timed out on chain: the incoming HTLC is failed back with permanent_channel_failure, attributed to the forwarder", () =>
      Effect.gen(function*() {
        const s = yield* stuckForward("onchain-timeout")
        yield* s.monitor.publish({ _tag: "HtlcResolved", channelId: s.c12.channelId, htlcId: s.out.id, paymentHash: s.out.paymentHash, result: { _tag: "Failed" } })
        // Delivered twice (at least once): handled once.
        yield* s.monitor.publish({ _tag: "HtlcResolved", channelId: s.c12.channelId, htlcId: s.out.id, paymentHash: s.out.paymentHash, result: { _tag: "Failed" } })
        yield* s.net.runUntil(() => s.paying.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(s.paying)
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(s.net.reportedFailures, [{ hop: 0, failure: "permanent_channel_failure" }])
        yield* s.net.settle()
        assert.strictEqual(htlcsOf(yield* s.net.h.state(1, s.c01.channelId)).length, 0, "the incoming HTLC is gone")
        assert.strictEqual((yield* s.net.h.state(0, s.c01.channelId))?._tag, "Normal", "the upstream channel stays open")
        yield* s.net.shutdown
      }))

    it.effect("the preimage seen on chain: the incoming HTLC is fulfilled and the sender has its preimage", () =>
      Effect.gen(function*() {
        const s = yield* stuckForward("onchain-preimage")
        // The payee's preimage (as its HTLC-success transaction would reveal it on chain).
        const stored = yield* makeMemoryStore(s.net.stores[2]!).store.get(`pay/in/${toHex(s.paymentHash)}`).pipe(Effect.orDie)
        const record = Schema.decodeUnknownSync(inboundJson)(new TextDecoder().decode(stored!.value))
        const before = yield* s.net.balance(1, s.c01.channelId)
        yield* s.monitor.publish({ _tag: "HtlcResolved", channelId: s.c12.channelId, htlcId: s.out.id, paymentHash: s.out.paymentHash, result: { _tag: "Fulfilled", preimage: record.preimage } })
        yield* s.net.runUntil(() => s.net.paymentEvents.some((e) => e.node === 1 && e.event._tag === "HtlcForwarded"))
        yield* s.net.settle()
        assert.strictEqual(htlcsOf(yield* s.net.h.state(1, s.c01.channelId)).length, 0, "the incoming HTLC is settled")
        const incomingAmount = (yield* s.net.balance(1, s.c01.channelId)) - before
        assert.isAbove(Number(incomingAmount), Number(AMOUNT / 2n), "node 1 was paid the incoming amount (the half part plus its fee)")
        // The sender learned the preimage: its payment succeeded (a preimage is proof of payment).
        yield* s.net.runUntil(() => s.paying.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(s.paying)
        assert.isTrue(Exit.isSuccess(exit) && equalBytes(exit.value.preimage, record.preimage))
        yield* s.net.shutdown
      }))
  })
})
