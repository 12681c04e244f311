/**
 * Attributable failures and hold times (BOLT 4 "Returning Errors": attribution data; "Hold times
 * for successful payments"; BOLT 2 `attribution_data` TLVs) across networks of our nodes: every
 * forwarder and the final node add their hold time (from `Clock`) and HMACs, the sender verifies
 * them, records the hold times per hop and, when a forwarder garbles a failure on its way back,
 * blames the pair of nodes where it was garbled (the legacy HMAC cannot: it blames the first hop);
 * a forwarder restarted while holding an HTLC reports its hold time from its forward record.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { ChannelManagerShape } from "../../../src/actors/ChannelManager.ts"
import type { PaymentEvent, PaymentFailed, PaymentSucceeded } from "../../../src/actors/Payments.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { msat } from "../../../src/protocol/units.ts"
import { macrotask, PaymentNet } from "./PaymentNet.ts"
import { outcome as run } from "./outcomes.ts"

const AMOUNT = 10_000_000n

const withNet = <A, E>(seed: string, nodes: number, f: (net: PaymentNet) => Effect.Effect<A, E>, policies: Parameters<typeof PaymentNet.make>[2] = []) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, nodes, policies), f, (net) => net.shutdown)

type AttemptFailed = Extract<PaymentEvent, { readonly _tag: "AttemptFailed" }>
const attemptFailures = (net: PaymentNet, node: number): Array<AttemptFailed> =>
  net.paymentEvents.flatMap((e) => (e.node === node && e.event._tag === "AttemptFailed" ? [e.event] : []))

/** A forwarder that garbles every failure it passes back (one bit of `reason`), and (`legacy`) sends no attribution data. */
const garbler = (legacy: boolean) => (m: ChannelManagerShape): ChannelManagerShape => ({
  ...m,
  failHtlc: (channelId, htlcId, reason, attributionData) => {
    const garbled = reason.slice()
    garbled[100] = garbled[100]! ^ 1
    return m.failHtlc(channelId, htlcId, garbled, legacy ? undefined : attributionData)
  }
})

/** A forwarder without attribution support: it passes failures on without attribution data. */
const legacyNode = (m: ChannelManagerShape): ChannelManagerShape => ({
  ...m,
  failHtlc: (channelId, htlcId, reason) => m.failHtlc(channelId, htlcId, reason),
  fulfillHtlc: (channelId, htlcId, preimage) => m.fulfillHtlc(channelId, htlcId, preimage)
})

describe("attributable failures and hold times over our nodes", () => {
  it.effect("a fulfill carries every hop's hold time: the hops that held the HTLC for 1 s report 10, the payee 0", () =>
    withNet("attr-success", 5, (net) =>
      Effect.gen(function*() {
        for (let i = 0; i < 4; i++) yield* net.channel(i, i + 1)
        const inv = yield* net.pay(4).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "held" } })
        const fiber = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        // Message by message until node 3 forwards to the payee; then a second passes.
        const sentBy3 = () => net.h.wire.some((m) => m.from === 3 && m.message._tag === "UpdateAddHtlc")
        for (let step = 0; step < 1000 && !sentBy3(); step++) {
          yield* net.h.deliverNext()
          for (let k = 0; k < 5; k++) yield* macrotask
        }
        assert.isTrue(sentBy3(), "node 3 forwarded")
        yield* TestClock.adjust("1 second")
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(fiber)
        if (!Exit.isSuccess(exit)) return assert.fail(`payment failed: ${String(exit)}`)
        // Hops 1-3 got the HTLC before the second passed, the payee after; all settled after it.
        assert.deepStrictEqual(exit.value.holdTimes, [[10, 10, 10, 0]])
        // The fulfills carried the TLV on every channel.
        const fulfills = net.h.wire.filter((m) => m.message._tag === "UpdateFulfillHtlc")
        assert.strictEqual(fulfills.length, 4)
        for (const f of fulfills) assert.isTrue(f.message._tag === "UpdateFulfillHtlc" && f.message.tlvs.attributionData?.length === 920)
      })))

  it.effect("a forwarder restarted while holding the HTLC reports its whole hold time (the arrival is in its forward record)", () =>
    withNet("attr-restart", 4, (net) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* net.channel(i, i + 1)
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "restarted" } })
        const fiber = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        const forwarded = () => net.h.wire.some((m) => m.from === 1 && m.message._tag === "UpdateAddHtlc")
        for (let step = 0; step < 1000 && !forwarded(); step++) {
          yield* net.h.deliverNext()
          for (let k = 0; k < 5; k++) yield* macrotask
        }
        assert.isTrue(forwarded(), "node 1 forwarded")
        net.h.hold(1, 2)
        yield* net.settle(2)
        yield* TestClock.adjust("2 seconds")
        yield* net.restart(1)
        net.h.hold(1, 2, false)
        yield* net.h.connect(0, 1)
        yield* net.h.connect(1, 2)
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(fiber)
        if (!Exit.isSuccess(exit)) return assert.fail(`payment failed: ${String(exit)}`)
        // Node 1 got the HTLC 2 s before it settled (across its restart); nodes 2 and 3 after the 2 s.
        assert.deepStrictEqual(exit.value.holdTimes, [[20, 0, 0]])
      })))

  it.effect("a failure from the payee (mpp_timeout after 60 s): the HMAC names the payee, every hop's hold time is 600", () =>
    withNet("attr-mpp", 5, (net) =>
      Effect.gen(function*() {
        for (let i = 0; i < 4; i++) yield* net.channel(i, i + 1)
        net.routerMode[0] = "half"
        net.halfOf = AMOUNT
        const inv = yield* net.pay(4).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "half" } })
        yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice, { timeoutMillis: 90_000 })))
        yield* net.settle(8)
        assert.strictEqual(yield* net.htlcCount(4, net.channels[3]!.channelId), 1, "the part is held by the payee")
        yield* TestClock.adjust("60 seconds")
        yield* net.runUntil(() => attemptFailures(net, 0).length > 0)
        const [failed] = attemptFailures(net, 0)
        assert.strictEqual(failed!.failure, "mpp_timeout")
        assert.strictEqual(failed!.hop, 3)
        assert.strictEqual(failed!.attributedBy, "hmac")
        assert.deepStrictEqual(failed!.holdTimes, [600, 600, 600, 600])
        const fails = net.h.wire.filter((m) => m.message._tag === "UpdateFailHtlc")
        assert.strictEqual(fails.length, 4)
        for (const f of fails) assert.isTrue(f.message._tag === "UpdateFailHtlc" && f.message.tlvs.attributionData?.length === 920)
      })))

  /**
   * 0 - 1 - 2 - 3 - 4 (cheap) and 1 - 5 - 6 - 4 (dear); the router believes in a channel 3 - 4 that
   * node 3 does not know (a fake scid): node 3 answers unknown_next_peer, and node 2 garbles that
   * failure on its way back. `wrap` sets the misbehaving nodes (restarted to take effect).
   */
  const garbledNet = (
    seed: string,
    wrap: ReadonlyArray<readonly [number, (m: ChannelManagerShape) => ChannelManagerShape]>,
    check: (net: PaymentNet, exit: Exit.Exit<PaymentSucceeded, PaymentFailed | { readonly _tag: "InvalidPaymentRequest" }>) => void
  ) =>
    withNet(seed, 7, (net) =>
      Effect.gen(function*() {
        const links = [[0, 1], [1, 2], [2, 3], [3, 4], [1, 5], [5, 6], [6, 4]] as const
        for (const [a, b] of links) yield* net.channel(a, b)
        net.fakeScids.set(3, shortChannelIdFromParts(777, 7, 7))
        for (const [node, f] of wrap) {
          net.managerWrappers[node] = f
          yield* net.restart(node)
          for (const [a, b] of links) if (a === node || b === node) yield* net.h.connect(a, b)
        }
        yield* net.settle()
        const inv = yield* net.pay(4).createInvoice({ amountMsat: msat(AMOUNT), description: { text: seed } })
        check(net, yield* run(net, net.pay(0).pay(inv.invoice)))
      }), [{}, {}, {}, {}, {}, { feeBaseMsat: 20_000 }, { feeBaseMsat: 20_000 }])

  it.effect("a forwarder garbles a failure: the attribution data blames it (hop 1), the sender avoids it and pays over the other route", () =>
    garbledNet("attr-garbled", [[2, garbler(false)]], (net, exit) => {
      const failures = attemptFailures(net, 0)
      assert.strictEqual(failures.length, 1)
      assert.strictEqual(failures[0]!.hop, 1, "node 2 (hop 1) is blamed, with node 1")
      assert.strictEqual(failures[0]!.attributedBy, "attribution")
      assert.strictEqual(failures[0]!.failure, "garbled")
      // Node 1's HMAC verified (its hold time is known); node 2's did not.
      assert.deepStrictEqual(failures[0]!.holdTimes, [0])
      if (!Exit.isSuccess(exit)) return assert.fail(`payment failed: ${String(exit)}`)
      assert.deepStrictEqual(exit.value.routes[0]!.hops.map((h) => net.nodeIndex(h.nodeId)), [1, 5, 6, 4])
      assert.strictEqual(exit.value.feePaidMsat, dearFees())
    }))

  it.effect("without attribution data (legacy forwarders), the garbled failure cannot be attributed: the first hop is blamed and the payment fails", () =>
    garbledNet("attr-legacy", [[1, legacyNode], [2, garbler(true)]], (net, exit) => {
      const failures = attemptFailures(net, 0)
      assert.strictEqual(failures.length, 1)
      assert.strictEqual(failures[0]!.hop, 0)
      assert.strictEqual(failures[0]!.attributedBy, "none")
      const failed = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.isTrue(failed?._tag === "Fail" && failed.error._tag === "PaymentFailed" && failed.error.reason === "NoRouteLeft", "the sender's only channel is avoided: no route left")
    }))
})

/** The fees over 1 -> 5 -> 6 -> 4 (node 1: 1,000 msat + 100 ppm; nodes 5 and 6: 20,000 msat + 100 ppm). */
const dearFees = (): bigint => {
  const fee6 = 20_000n + (AMOUNT * 100n) / 1_000_000n
  const fee5 = 20_000n + ((AMOUNT + fee6) * 100n) / 1_000_000n
  const fee1 = 1_000n + ((AMOUNT + fee6 + fee5) * 100n) / 1_000_000n
  return fee1 + fee5 + fee6
}
