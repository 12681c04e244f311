/**
 * Payments over blinded paths (BOLT 4 "Route Blinding") across our nodes: the recipient builds
 * blinded paths from its channels and the graph (`receiveBlinded`), the payer routes to the
 * introduction node and the onion carries the recipient's encrypted data (`payBlinded`), the
 * nodes inside the path relay with `path_key`, and every failure inside the path reaches the
 * payer as `invalid_onion_blinding` from the introduction node.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { blindedAmountToForward } from "../../../src/protocol/onion/paymentOnion.ts"
import { aggregateRelay, defaultForwardingPolicy } from "../../../src/protocol/payment/index.ts"
import { msat } from "../../../src/protocol/units.ts"
import { PaymentNet } from "./PaymentNet.ts"
import { outcome, succeeded, failedWith, line, assertNoHtlcs } from "./outcomes.ts"

const withNet = <A, E>(seed: string, nodes: number, f: (net: PaymentNet) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, nodes), f, (net) => net.shutdown)

const AMOUNT = 10_000_000n

const forwardedFee = (net: PaymentNet, node: number): ReadonlyArray<bigint> =>
  net.paymentEvents.flatMap((e) => (e.node === node && e.event._tag === "HtlcForwarded" ? [e.event.feeMsat] : []))

/** Which nodes sent a message of this type to which (from the harness's delivery log), e.g. "2->1". */
const delivered = (net: PaymentNet, tag: string): ReadonlyArray<string> => [
  ...new Set(net.h.log.flatMap((l) => {
    const m = new RegExp(`^deliver #\\d+ ${tag} (\\d+->\\d+)$`).exec(l)
    return m === null ? [] : [m[1]!]
  }))
]

const forwardFailures = (net: PaymentNet, node: number): ReadonlyArray<string> =>
  net.paymentEvents.flatMap((e) => (e.node === node && e.event._tag === "ForwardFailed" ? [e.event.failure] : []))

describe("blinded paths", () => {
  it.effect("receive over a path 1 -> 2 -> 3 (two blinded hops): the relays charge exactly payment_relay's fees", () =>
    withNet("blinded-2hops", 4, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 2, maxPaths: 1 })
        assert.strictEqual(recv.paths.length, 1)
        const path = recv.paths[0]!
        // Introduction node 1 (unblinded), then 3 blinded hops (node 1, node 2, us), all the same length (padding).
        assert.isTrue(equalBytes(path.path.firstNodeId, net.h.nodeIds[1]!))
        assert.strictEqual(path.path.hops.length, 3)
        assert.strictEqual(new Set(path.path.hops.map((h) => h.encryptedRecipientData.length)).size, 1)
        const relay = aggregateRelay([{ policy: defaultForwardingPolicy }, { policy: defaultForwardingPolicy }], 18)
        assert.deepStrictEqual(
          { fee: path.payInfo.feeBaseMsat, ppm: path.payInfo.feeProportionalMillionths, cltv: path.payInfo.cltvExpiryDelta },
          { fee: relay.feeBaseMsat, ppm: relay.feeProportionalMillionths, cltv: 40 + 40 + 18 }
        )
        // BOLT 4's rounding up: 1000 base + 100 ppm twice = 2001 base (2000.1), 201 ppm (200.01).
        assert.deepStrictEqual([relay.feeBaseMsat, relay.feeProportionalMillionths], [2001, 201])
        const sent = AMOUNT + 2001n + (AMOUNT * 201n) / 1_000_000n
        const at2 = blindedAmountToForward(sent, 1000, 100)
        const at3 = blindedAmountToForward(at2, 1000, 100)
        assert.deepStrictEqual([sent, at2, at3], [10_004_011n, 10_002_011n, 10_000_011n])

        const b0 = yield* net.balance(0, cs[0]!.channelId)
        const b3 = yield* net.balance(3, cs[2]!.channelId)
        const ok = succeeded(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        assert.isTrue(equalBytes(sha256(ok.preimage), recv.paymentHash))
        assert.strictEqual(ok.feePaidMsat, sent - AMOUNT)
        assert.strictEqual(b0 - (yield* net.balance(0, cs[0]!.channelId)), sent)
        assert.strictEqual((yield* net.balance(3, cs[2]!.channelId)) - b3, at3)
        // Node 1 relayed as the introduction node, node 2 inside the path (with a path_key): each kept payment_relay's fee.
        assert.deepStrictEqual(forwardedFee(net, 1), [sent - at2])
        assert.deepStrictEqual(forwardedFee(net, 2), [at2 - at3])
        assert.deepStrictEqual([sent - at2, at2 - at3], [2000n, 2000n])
        const status = yield* net.pay(3).invoice(recv.paymentHash)
        assert.strictEqual(status?.status, "paid")
        assert.strictEqual(status?.receivedMsat, at3)
        yield* assertNoHtlcs(net)
        assert.deepStrictEqual(net.h.violations, [])
      })
    ))

  it.effect("a one-hop path from a peer with two dummy hops, paid over two unblinded hops first", () =>
    withNet("blinded-1hop", 4, (net) =>
      Effect.gen(function*() {
        yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), dummyHops: 2 })
        assert.isTrue(equalBytes(recv.paths[0]!.path.firstNodeId, net.h.nodeIds[2]!))
        // Node 2, then the recipient, then its two dummy hops (which it peels itself).
        assert.strictEqual(recv.paths[0]!.path.hops.length, 4)
        const ok = succeeded(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        // 0 -> 1 (unblinded forward by 1) -> 2 (introduction) -> 3.
        assert.strictEqual(forwardedFee(net, 1).length, 1)
        assert.strictEqual(forwardedFee(net, 2).length, 1)
        assert.strictEqual(ok.routes[0]?.hops.length, 3)
        assert.strictEqual((yield* net.pay(3).invoice(recv.paymentHash))?.status, "paid")
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("a relay inside the path refuses (its fee went up): the payer gets invalid_onion_blinding from the introduction node", () =>
    withNet("blinded-fail-inside", 4, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 2 })
        net.policies[2] = { ...net.policies[2]!, feeBaseMsat: 50_000 }
        yield* net.restart(2)
        yield* net.h.connect(1, 2)
        yield* net.h.connect(2, 3)
        yield* net.settle()
        const b0 = yield* net.balance(0, cs[0]!.channelId)
        const failed = failedWith(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        // Node 2 failed it malformed (it had a path_key), node 1 turned that into its own invalid_onion_blinding.
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "invalid_onion_blinding" }])
        assert.strictEqual(failed.reason, "NoRouteLeft")
        assert.strictEqual(yield* net.balance(0, cs[0]!.channelId), b0)
        assert.deepStrictEqual(forwardedFee(net, 1), [])
        // Node 1 did forward (to node 2), and failed back its own invalid_onion_blinding.
        assert.deepStrictEqual(forwardFailures(net, 1), ["invalid_onion_blinding"])
        assert.deepStrictEqual(forwardFailures(net, 2), [])
        assert.deepStrictEqual(delivered(net, "UpdateFailMalformedHtlc"), ["2->1"])
        assert.deepStrictEqual(delivered(net, "UpdateFailHtlc"), ["1->0"])
        assert.strictEqual((yield* net.pay(3).invoice(recv.paymentHash))?.status, "open")
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("the recipient refuses (too little): failed malformed inside the path, invalid_onion_blinding at the payer", () =>
    withNet("blinded-fail-final", 4, (net) =>
      Effect.gen(function*() {
        yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 2 })
        const failed = failedWith(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT / 2n), paths: recv.paths })))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "invalid_onion_blinding" }])
        assert.strictEqual(failed.reason, "NoRouteLeft")
        // Both relays forwarded and failed back invalid_onion_blinding (node 2 malformed, node 1 as update_fail_htlc).
        assert.deepStrictEqual(forwardFailures(net, 1), ["invalid_onion_blinding"])
        assert.deepStrictEqual(forwardFailures(net, 2), ["invalid_onion_blinding"])
        assert.deepStrictEqual(delivered(net, "UpdateFailMalformedHtlc"), ["3->2", "2->1"])
        assert.deepStrictEqual(delivered(net, "UpdateFailHtlc"), ["1->0"])
        assert.strictEqual((yield* net.pay(3).invoice(recv.paymentHash))?.receivedMsat, 0n)
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("payment_constraints: a path used after its max_cltv_expiry is refused by the introduction node", () =>
    withNet("blinded-expired", 4, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 2, pathExpiryBlocks: 10 })
        net.height += 50
        const b0 = yield* net.balance(0, cs[0]!.channelId)
        failedWith(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "invalid_onion_blinding" }])
        assert.deepStrictEqual(forwardedFee(net, 1), [])
        // Refused by node 1 itself (payment_constraints), never forwarded.
        assert.deepStrictEqual(forwardFailures(net, 1), [])
        assert.strictEqual(yield* net.balance(0, cs[0]!.channelId), b0)
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("a path_id from another payment is refused, and the payer's own checks refuse amounts outside the payinfo", () =>
    withNet("blinded-pathid", 3, (net) =>
      Effect.gen(function*() {
        yield* line(net, 3)
        const one = yield* net.pay(2).receiveBlinded({ amountMsat: msat(AMOUNT) })
        const two = yield* net.pay(2).receiveBlinded({ amountMsat: msat(AMOUNT) })
        // Two's hash over one's paths: the path_id in them is one's.
        failedWith(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: two.paymentHash, amountMsat: msat(AMOUNT), paths: one.paths })))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "invalid_onion_blinding" }])
        assert.strictEqual((yield* net.pay(2).invoice(two.paymentHash))?.status, "open")
        const tooBig = yield* Effect.exit(net.pay(0).startBlindedPayment({
          paymentHash: one.paymentHash,
          amountMsat: msat(one.paths[0]!.payInfo.htlcMaximumMsat + 1n),
          paths: one.paths
        }))
        assert.isTrue(Exit.isFailure(tooBig))
        // And one's own hash over one's paths is paid.
        succeeded(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: one.paymentHash, amountMsat: msat(AMOUNT), paths: one.paths })))
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("restarts: the recipient before the payment (path_id kept), the relay inside the path mid-forward: paid exactly once", () =>
    withNet("blinded-restart", 4, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 2 })
        yield* net.restart(3)
        yield* net.h.connect(2, 3)
        yield* net.settle()
        const b0 = yield* net.balance(0, cs[0]!.channelId)
        const b3 = yield* net.balance(3, cs[2]!.channelId)
        // The add from node 2 to the recipient waits on the link; node 2 restarts with the forward stored.
        net.h.hold(2, 3)
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        yield* net.settle(6)
        assert.strictEqual(yield* net.htlcCount(2, cs[1]!.channelId), 1, "node 2 holds the incoming HTLC")
        yield* net.restart(2)
        net.h.hold(2, 3, false)
        yield* net.h.connect(1, 2)
        yield* net.h.connect(2, 3)
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const exit = yield* Fiber.join(paying)
        yield* net.settle()
        const status = yield* net.pay(3).invoice(recv.paymentHash)
        // The stored forward (with its blinded relay) was resumed: the payment went through, once.
        const ok = succeeded(exit)
        assert.strictEqual(status?.status, "paid")
        assert.strictEqual((yield* net.balance(3, cs[2]!.channelId)) - b3, status?.receivedMsat)
        assert.strictEqual(b0 - (yield* net.balance(0, cs[0]!.channelId)), AMOUNT + ok.feePaidMsat)
        assert.deepStrictEqual(net.reportedFailures, [])
        yield* assertNoHtlcs(net)
        assert.deepStrictEqual(net.h.violations, [])
      })
    ))

  it.effect("two paths: the cheaper one fails at its introduction node, the retry goes over the other", () =>
    withNet("blinded-retry", 4, (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1)
        yield* net.channel(0, 2)
        yield* net.channel(1, 3)
        yield* net.channel(2, 3)
        // The graph says node 2 charges more: the path through node 1 is tried first.
        net.advertised[2] = { ...net.advertised[2]!, feeBaseMsat: 3_000 }
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), maxPaths: 2 })
        assert.deepStrictEqual(recv.paths.map((p) => net.nodeIndex(p.path.firstNodeId)).sort(), [1, 2])
        // Node 1's real fee goes up after the paths were made.
        net.policies[1] = { ...net.policies[1]!, feeBaseMsat: 50_000 }
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.h.connect(1, 3)
        yield* net.settle()
        const ok = succeeded(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "invalid_onion_blinding" }])
        assert.strictEqual(net.nodeIndex(ok.routes[0]!.hops[0]!.nodeId), 2)
        // Paid over node 2 with its path's payinfo: 3,000 msat + 100 ppm.
        assert.strictEqual(ok.feePaidMsat, 3_000n + (AMOUNT * 100n) / 1_000_000n)
        assert.strictEqual((yield* net.pay(0).payment(ok.paymentId))?.attempts, 2)
        assert.strictEqual((yield* net.pay(3).invoice(recv.paymentHash))?.status, "paid")
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("a path that starts at the recipient itself (no relay): paid over plain hops, the final payload read with current_path_key", () =>
    withNet("blinded-0hops", 3, (net) =>
      Effect.gen(function*() {
        yield* line(net, 3)
        const recv = yield* net.pay(2).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 0 })
        assert.isTrue(equalBytes(recv.paths[0]!.path.firstNodeId, net.h.nodeIds[2]!))
        assert.strictEqual(recv.paths[0]!.payInfo.feeBaseMsat, 0)
        assert.strictEqual(recv.paths[0]!.payInfo.cltvExpiryDelta, 18)
        const ok = succeeded(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        assert.strictEqual(ok.feePaidMsat, 1000n + (AMOUNT * 100n) / 1_000_000n)
        const status = yield* net.pay(2).invoice(recv.paymentHash)
        assert.strictEqual(status?.status, "paid")
        assert.strictEqual(status?.receivedMsat, AMOUNT)
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("the introduction node's failure leaves after a random delay (at most blindedFailureDelayMillis)", () =>
    withNet("blinded-delay", 4, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 4)
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(AMOUNT), hops: 2, pathExpiryBlocks: 10 })
        net.blindedFailureDelayMillis[1] = 1_000
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.h.connect(1, 2)
        yield* net.settle()
        net.height += 50
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(AMOUNT), paths: recv.paths })))
        yield* net.settle(10)
        // Refused (expired path) but not failed back yet: the HTLC is still on channel 0-1.
        assert.strictEqual(paying.pollUnsafe(), undefined)
        assert.deepStrictEqual(net.reportedFailures, [])
        assert.strictEqual(yield* net.htlcCount(0, cs[0]!.channelId), 1)
        yield* TestClock.adjust(Duration.millis(1_001))
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        failedWith(yield* Fiber.join(paying))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "invalid_onion_blinding" }])
        yield* net.settle()
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("MPP over two blinded paths: no single first hop carries the amount, the parts meet at the recipient", () =>
    withNet("blinded-mpp", 4, (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1, { fundingSat: 200_000n })
        yield* net.channel(0, 2, { fundingSat: 200_000n })
        const c13 = yield* net.channel(1, 3)
        const c23 = yield* net.channel(2, 3)
        const amount = 300_000_000n
        const recv = yield* net.pay(3).receiveBlinded({ amountMsat: msat(amount), maxPaths: 2 })
        assert.strictEqual(recv.paths.length, 2)
        const single = yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(amount), paths: recv.paths }, { paymentId: "single" }))
        assert.isTrue(failedWith(single).reason.startsWith("NoRoute"))
        const ok = succeeded(yield* outcome(net, net.pay(0).payBlinded({ paymentHash: recv.paymentHash, amountMsat: msat(amount), paths: recv.paths, mpp: true }, { paymentId: "split" })))
        assert.strictEqual(ok.parts, 2)
        assert.deepStrictEqual(ok.routes.map((r) => net.nodeIndex(r.hops[0]!.nodeId)).sort(), [1, 2])
        const status = yield* net.pay(3).invoice(recv.paymentHash)
        assert.strictEqual(status?.status, "paid")
        assert.isTrue((status?.receivedMsat ?? 0n) >= amount)
        assert.strictEqual((yield* net.balance(3, c13.channelId)) + (yield* net.balance(3, c23.channelId)), status?.receivedMsat)
        yield* assertNoHtlcs(net)
      })
    ))
})
