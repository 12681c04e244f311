/**
 * A forward whose incoming channel was force-closed before the outgoing HTLC's preimage came back
 * (BOLT 5: the incoming HTLC output is then claimed on chain with the preimage, "also ones learned
 * later"): the incoming channel refuses the off-chain fulfill, so Payments gives its monitor the
 * preimage (`ChannelManager.claimPreimage`, accepted on a `Failed` channel), which claims it.
 *
 * 0 -> 1 -> 2, the payee holding the forwarded HTLC (one part of an MPP set that never
 * completes); node 1 force-closes its incoming channel 0-1; then the outgoing HTLC's preimage
 * reaches node 1 (here from its on-chain monitor, a stand-in publishing what the real one would).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, Schema, Stream } from "effect"
import type { MonitorChainEvent, MonitorChainShape } from "../../../src/actors/MonitorChain.ts"
import { makeMemoryStore } from "../../../src/layers/store/MemoryStore.ts"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { inboundJson } from "../../../src/protocol/payment/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "./PaymentNet.ts"

const AMOUNT = 10_000_000n

const htlcsOf = (s: ChannelState | undefined) => (s?._tag === "Normal" ? s.commitments.localCommit.spec.htlcs : [])

describe("a forward's preimage after its incoming channel was force-closed", () => {
  it.effect("the incoming channel's monitor gets the preimage (claimed on chain), the forward is fulfilled", () =>
    Effect.gen(function*() {
      const net = yield* PaymentNet.make("claim-after-incoming-close", 3)
      const hub = yield* PubSub.unbounded<MonitorChainEvent>()
      const unused = Effect.die(new Error("not used by Payments"))
      const monitor: MonitorChainShape = {
        tip: unused,
        subscribe: Effect.map(PubSub.subscribe(hub), (sub) => Stream.fromSubscription(sub)),
        resolution: () => unused,
        balances: unused,
        awaitBlock: () => unused
      }
      net.monitorChains[1] = monitor
      yield* net.restart(1)
      const c01 = yield* net.channel(0, 1)
      const c12 = yield* net.channel(1, 2)
      net.routerMode[0] = "half"
      net.halfOf = AMOUNT
      const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "closed upstream" } })
      yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice, { timeoutMillis: 3_600_000 })))
      yield* net.runUntil(() => net.h.log.some((l) => l.includes("UpdateAddHtlc 1->2")))
      yield* net.settle()
      const out = htlcsOf(yield* net.h.state(1, c12.channelId))[0]!
      assert.strictEqual(htlcsOf(yield* net.h.state(1, c01.channelId)).length, 1, "the incoming HTLC is committed")

      // Node 1 force-closes the incoming channel (its commitment with the HTLC goes on chain).
      const manager = net.h.node(1).manager!
      yield* manager.forceClose(c01.channelId, "test: the upstream channel fails")
      yield* net.settle()
      assert.strictEqual((yield* net.h.state(1, c01.channelId))?._tag, "Failed")

      // The outgoing HTLC's preimage reaches node 1.
      const stored = yield* makeMemoryStore(net.stores[2]!).store.get(`pay/in/${toHex(inv.paymentHash)}`).pipe(Effect.orDie)
      const preimage = Schema.decodeUnknownSync(inboundJson)(new TextDecoder().decode(stored!.value)).preimage
      yield* PubSub.publish(hub, { _tag: "HtlcResolved", channelId: c12.channelId, htlcId: out.id, paymentHash: out.paymentHash, result: { _tag: "Fulfilled", preimage } })
      yield* net.runUntil(() => net.paymentEvents.some((e) => e.node === 1 && e.event._tag === "HtlcForwarded"))
      yield* net.settle()

      const incoming = yield* manager.monitorState(c01.channelId)
      assert.strictEqual(incoming?.closing._tag, "ForceClosed")
      assert.isTrue(incoming?.preimages.some((p) => equalBytes(p.preimage, preimage)), "the incoming channel's monitor holds the preimage")
      assert.deepStrictEqual(net.h.violations, [])
      yield* net.shutdown
    }))
})
