/**
 * Payments across networks of our nodes in one process (test/sim/payments/PaymentNet.ts over the
 * channel harness): invoices paid over 1-3 hops with exact fee accounting at every node,
 * failures attributed to the hop that produced them, retries over another route, MPP over two
 * paths and its timeout, keysend, and restarts of the sender, a forwarder and the receiver.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Fiber, Result } from "effect"
import { TestClock } from "effect/testing"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { msat } from "../../../src/protocol/units.ts"
import { makeInvoice, signAndEncode } from "../../../src/protocol/invoice/index.ts"
import { secretFromSeed } from "../../../src/layers/test/SeededNodeSigner.ts"
import { secp } from "../channels/Harness.ts"
import { channelUpdateDigest } from "../../../src/protocol/gossip/digest.ts"
import { CHANNEL_FLAG_DISABLE, ChannelUpdate } from "../../../src/protocol/messages/gossip.ts"
import { macrotask, PaymentNet } from "./PaymentNet.ts"
import { outcome, succeeded, failedWith, line, assertNoHtlcs, reconnectAndAwait } from "./outcomes.ts"

const withNet = <A, E>(seed: string, nodes: number, f: (net: PaymentNet) => Effect.Effect<A, E>, policies: Parameters<typeof PaymentNet.make>[2] = []) =>
  Effect.acquireUseRelease(PaymentNet.make(seed, nodes, policies), f, (net) => net.shutdown)

const AMOUNT = 10_000_000n
/** The default policy's fee for forwarding `amount`: 1000 msat + 100 ppm. */
const fee = (amount: bigint) => 1000n + (amount * 100n) / 1_000_000n

/** A failure's `channel_update` from `from` for its channel to `to`: decoded (type 258 included), signed by `from`, that direction. */
const checkedUpdate = (net: PaymentNet, raw: Uint8Array, from: number, to: number): ChannelUpdate => {
  const decoded = ChannelUpdate.decode(raw)
  if (Result.isFailure(decoded)) throw new Error("the failure's channel_update does not decode")
  const u = decoded.success
  assert.isTrue(secp.verify(u.signature, channelUpdateDigest(raw), net.h.nodeIds[from]!), "signed by the forwarder")
  const direction = Buffer.compare(Buffer.from(net.h.nodeIds[from]!), Buffer.from(net.h.nodeIds[to]!)) < 0 ? 0 : 1
  assert.strictEqual(u.channelFlags & 1, direction, "the forwarder's direction")
  return u
}

describe("payments over our nodes", () => {
  it.effect("one hop: an invoice is paid, the preimage comes back, balances move by exactly the amount", () =>
    withNet("pay-1hop", 2, (net) =>
      Effect.gen(function*() {
        const [c] = yield* line(net, 2)
        const inv = yield* net.pay(1).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "coffee" } })
        const before = yield* net.balance(0, c!.channelId)
        const ok = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.isTrue(equalBytes(sha256(ok.preimage), inv.paymentHash))
        assert.strictEqual(ok.feePaidMsat, 0n)
        assert.strictEqual(ok.parts, 1)
        assert.strictEqual(before - (yield* net.balance(0, c!.channelId)), AMOUNT)
        assert.strictEqual(yield* net.balance(1, c!.channelId), AMOUNT)
        yield* assertNoHtlcs(net)
        const status = yield* net.pay(1).invoice(inv.paymentHash)
        assert.strictEqual(status?.status, "paid")
        assert.strictEqual(status?.receivedMsat, AMOUNT)
        // The outcome is an event too, on both sides.
        const sent = net.paymentEvents.filter((e) => e.node === 0 && e.event._tag === "PaymentSucceeded")
        assert.strictEqual(sent.length, 1)
        assert.isTrue(sent[0]!.event._tag === "PaymentSucceeded" && equalBytes(sent[0]!.event.preimage, ok.preimage))
        const got = net.paymentEvents.filter((e) => e.node === 1 && e.event._tag === "PaymentReceived")
        assert.isTrue(got.length === 1 && got[0]!.event._tag === "PaymentReceived" && got[0]!.event.amountMsat === AMOUNT)
        assert.deepStrictEqual(net.h.violations, [])
      })
    ))

  it.effect("three hops: every forwarder earns exactly its fee, the sender pays amount + fees", () =>
    withNet("pay-3hop", 4, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 4)
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "three hops" } })
        const fee2 = fee(AMOUNT)
        const fee1 = fee(AMOUNT + fee2)
        const b = [
          yield* net.balance(0, cs[0]!.channelId),
          yield* net.balance(1, cs[0]!.channelId),
          yield* net.balance(1, cs[1]!.channelId),
          yield* net.balance(2, cs[1]!.channelId),
          yield* net.balance(2, cs[2]!.channelId),
          yield* net.balance(3, cs[2]!.channelId)
        ]
        const ok = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(ok.feePaidMsat, fee1 + fee2)
        assert.strictEqual(ok.routes[0]?.hops.length, 3)
        assert.strictEqual(b[0]! - (yield* net.balance(0, cs[0]!.channelId)), AMOUNT + fee1 + fee2)
        // Node 1: in on channel 0-1, out on 1-2: it keeps fee1.
        assert.strictEqual((yield* net.balance(1, cs[0]!.channelId)) - b[1]!, AMOUNT + fee1 + fee2)
        assert.strictEqual(b[2]! - (yield* net.balance(1, cs[1]!.channelId)), AMOUNT + fee2)
        assert.strictEqual((yield* net.balance(2, cs[1]!.channelId)) - b[3]!, AMOUNT + fee2)
        assert.strictEqual(b[4]! - (yield* net.balance(2, cs[2]!.channelId)), AMOUNT)
        assert.strictEqual((yield* net.balance(3, cs[2]!.channelId)) - b[5]!, AMOUNT)
        yield* assertNoHtlcs(net)
        assert.deepStrictEqual(net.h.violations, [])
      })
    ))

  it.effect("keysend over two hops: the payee accepts the preimage from the onion", () =>
    withNet("keysend", 3, (net) =>
      Effect.gen(function*() {
        yield* line(net, 3)
        const ok = succeeded(yield* outcome(net, net.pay(0).keysend(net.h.nodeIds[2]!, msat(5_000_000n))))
        assert.strictEqual(ok.feePaidMsat, fee(5_000_000n))
        const received = yield* net.pay(2).invoice(ok.paymentHash)
        assert.strictEqual(received?.keysend, true)
        assert.strictEqual(received?.status, "paid")
        assert.strictEqual(received?.receivedMsat, 5_000_000n)
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("a stale fee: the forwarder answers fee_insufficient, the sender blames its hop and retries over another route", () =>
    withNet("retry", 4, (net) =>
      Effect.gen(function*() {
        // Two routes 0 -> 1 -> 3 and 0 -> 2 -> 3; the router thinks node 1 charges less than it does.
        yield* net.channel(0, 1)
        yield* net.channel(1, 3)
        yield* net.channel(0, 2)
        yield* net.channel(2, 3)
        net.policies[1] = { ...net.policies[1]!, feeBaseMsat: 50_000 }
        // The router believes node 1 is the cheaper way (it is not: its real fee is 50,000 msat).
        net.advertised[2] = { ...net.advertised[2]!, feeBaseMsat: 2_000 }
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.h.connect(1, 3)
        yield* net.settle()
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "retry" } })
        const ok = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "fee_insufficient" }])
        assert.isTrue(equalBytes(ok.routes[0]!.hops[0]!.nodeId, net.h.nodeIds[2]!), "the retry went through node 2")
        const status = yield* net.pay(0).payment(ok.paymentId)
        assert.strictEqual(status?.attempts, 2)
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("failure codes from a forwarder, each attributed to the forwarder's hop", () =>
    withNet("codes", 3, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 3)
        const expectFailure = (label: string, failure: string, hop: number) =>
          Effect.gen(function*() {
            net.reportedFailures.length = 0
            const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: label } })
            const failed = failedWith(yield* outcome(net, net.pay(0).pay(inv.invoice)))
            assert.strictEqual(failed.reason, "NoRouteLeft", label)
            assert.deepStrictEqual(net.reportedFailures, [{ hop, failure }], label)
            yield* assertNoHtlcs(net)
          })
        // A channel 1-2 with another short channel id: unknown_next_peer (no channel_update).
        net.fakeScids.set(1, shortChannelIdFromParts(999, 9, 9))
        yield* expectFailure("scid", "unknown_next_peer", 0)
        net.fakeScids.clear()
        assert.strictEqual(net.failureUpdates.length, 0, "unknown_next_peer carries no channel_update")
        // Node 1's peer (2) is offline: temporary_channel_failure with node 1's update, disable bit set.
        yield* net.h.disconnect(1, 2)
        yield* expectFailure("offline", "temporary_channel_failure", 0)
        const offline = net.failureUpdates.at(-1)
        assert.strictEqual(offline?.failure, "temporary_channel_failure")
        const u = checkedUpdate(net, offline!.channelUpdate, 1, 2)
        assert.strictEqual(u.shortChannelId, cs[1]!.scid, "the scid the onion named")
        assert.strictEqual(u.channelFlags & CHANNEL_FLAG_DISABLE, CHANNEL_FLAG_DISABLE, "disabled while its peer is offline")
        assert.strictEqual(u.feeBaseMsat, net.policies[1]!.feeBaseMsat)
        yield* net.h.connect(1, 2)
        yield* net.settle()
        // And after all that, a payment still goes through.
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "fine" } })
        succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(yield* net.balance(2, cs[1]!.channelId), AMOUNT)
      })
    ))

  it.effect("BOLT 4 channel_update in a failure: a stale CLTV delta or fee is corrected from the forwarder's signed update and the retry pays it", () =>
    withNet("learn", 3, (net) =>
      Effect.gen(function*() {
        const cs = yield* line(net, 3)
        const payOnce = (label: string) =>
          Effect.gen(function*() {
            net.reportedFailures.length = 0
            net.failureUpdates.length = 0
            const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: label } })
            const ok = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
            const status = yield* net.pay(0).payment(ok.paymentId)
            assert.strictEqual(status?.attempts, 2, `${label}: one failure, then the retry with the learned policy`)
            assert.strictEqual(net.failureUpdates.length, 1, label)
            assert.isTrue(net.failureUpdates[0]!.used, `${label}: the update was used`)
            const u = checkedUpdate(net, net.failureUpdates[0]!.channelUpdate, 1, 2)
            assert.strictEqual(u.shortChannelId, cs[1]!.scid)
            assert.strictEqual(u.channelFlags & CHANNEL_FLAG_DISABLE, 0)
            yield* assertNoHtlcs(net)
            return ok
          })
        // The router believes node 1 asks a CLTV delta of 10 (it asks 40): incorrect_cltv_expiry,
        // then the retry over the same channel with node 1's real delta.
        net.advertised[1] = { ...net.policies[1]!, cltvExpiryDelta: 10 }
        const cltv = yield* payOnce("cltv")
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "incorrect_cltv_expiry" }])
        const hops = cltv.routes[0]!.hops
        assert.strictEqual(hops[0]!.cltvExpiry - hops[1]!.cltvExpiry, net.policies[1]!.cltvExpiryDelta, "the retry used node 1's real delta")
        // The router believes node 1 forwards for free: fee_insufficient, then the retry pays the real fee.
        net.advertised[1] = { ...net.policies[1]!, feeBaseMsat: 0, feeProportionalMillionths: 0 }
        const before = yield* net.balance(1, cs[1]!.channelId)
        const paidFee = yield* payOnce("fee")
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "fee_insufficient" }])
        assert.strictEqual(paidFee.feePaidMsat, fee(AMOUNT), "the retry paid node 1's real fee")
        assert.strictEqual(before - (yield* net.balance(1, cs[1]!.channelId)), AMOUNT, "node 1 forwarded the amount")
        // The update is for this payment only (BOLT 4: never applied to the graph): the next
        // payment meets the stale fee again and learns it again.
        yield* payOnce("again")
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "fee_insufficient" }])
      })
    ))

  it.effect("below the forwarder's htlc minimum: amount_below_minimum at its hop", () =>
    withNet("minimum", 3, (net) =>
      Effect.gen(function*() {
        yield* line(net, 3)
        net.policies[1] = { ...net.policies[1]!, htlcMinimumMsat: 20_000_000n }
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.h.connect(1, 2)
        yield* net.settle()
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "small" } })
        const failed = failedWith(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(failed.reason, "NoRouteLeft")
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "amount_below_minimum" }])
      })
    ))

  it.effect("the payee refuses (unknown payment hash): attributed to the last hop, the payment ends at once", () =>
    withNet("unknown-hash", 4, (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1)
        yield* net.channel(1, 3)
        yield* net.channel(0, 2)
        yield* net.channel(2, 3)
        // An invoice node 3 signed but forgot (another node's store would not know it either).
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "forgotten" } })
        net.stores[3]!.table.apply([{ _tag: "Delete", key: `pay/in/${Buffer.from(inv.paymentHash).toString("hex")}` }], ++net.stores[3]!.version)
        yield* net.restart(3)
        yield* net.h.connect(1, 3)
        yield* net.h.connect(2, 3)
        yield* net.settle()
        const failed = failedWith(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(failed.reason, "RecipientRejected: incorrect_or_unknown_payment_details")
        assert.strictEqual(failed.attempts, 1, "no retry after the payee's permanent refusal")
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 1, failure: "incorrect_or_unknown_payment_details" }])
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("the payee refuses a total below the invoice's amount", () =>
    withNet("wrong-amount", 2, (net) =>
      Effect.gen(function*() {
        yield* line(net, 2)
        const inv = yield* net.pay(1).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "amount" } })
        // Tamper with the stored invoice: the payee now expects twice as much.
        const key = `pay/in/${Buffer.from(inv.paymentHash).toString("hex")}`
        const entry = net.stores[1]!.table.get(key)!
        const json = JSON.parse(new TextDecoder().decode(entry.value))
        json.amountMsat = String(AMOUNT * 3n)
        net.stores[1]!.table.apply([{ _tag: "Put", key, value: new TextEncoder().encode(JSON.stringify(json)) }], ++net.stores[1]!.version)
        yield* net.restart(1)
        yield* net.h.connect(0, 1)
        yield* net.settle()
        const failed = failedWith(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(failed.reason, "RecipientRejected: incorrect_or_unknown_payment_details")
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("MPP over two paths: no first hop carries the amount, two parts do, the payee claims both", () =>
    withNet("mpp", 4, (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1, { fundingSat: 200_000n })
        yield* net.channel(1, 3)
        yield* net.channel(0, 2, { fundingSat: 200_000n })
        yield* net.channel(2, 3)
        const amount = 300_000_000n
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(amount), description: { text: "big" } })
        const ok = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(ok.parts, 2)
        const finals = ok.routes.map((r) => r.hops[r.hops.length - 1]!.amountMsat)
        assert.strictEqual(finals[0]! + finals[1]!, amount)
        assert.isTrue(finals.every((f) => f < 200_000_000n), "each part fits a 200,000 sat first hop")
        assert.strictEqual(ok.feePaidMsat, fee(finals[0]!) + fee(finals[1]!))
        const received = yield* net.pay(3).invoice(inv.paymentHash)
        assert.strictEqual(received?.receivedMsat, amount)
        assert.strictEqual((yield* net.balance(3, net.channels[1]!.channelId)) + (yield* net.balance(3, net.channels[3]!.channelId)), amount)
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("MPP timeout: a set that never completes is failed with mpp_timeout after the Clock timeout", () =>
    withNet("mpp-timeout", 2, (net) =>
      Effect.gen(function*() {
        yield* line(net, 2)
        net.routerMode[0] = "half"
        net.halfOf = AMOUNT
        const inv = yield* net.pay(1).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "half" } })
        const fiber = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice, { timeoutMillis: 90_000 })))
        yield* net.settle(5)
        assert.strictEqual(yield* net.htlcCount(1, net.channels[0]!.channelId), 1, "the part is held")
        assert.strictEqual((yield* net.pay(1).invoice(inv.paymentHash))?.status, "open")
        yield* TestClock.adjust("61 seconds")
        yield* net.settle(5)
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "mpp_timeout" }])
        // The sender tries once more (mpp_timeout is not final), then its own timeout ends it.
        yield* TestClock.adjust("61 seconds")
        yield* net.runUntil(() => fiber.pollUnsafe() !== undefined)
        const failed = failedWith(yield* Fiber.join(fiber))
        assert.strictEqual(failed.reason, "Timeout")
        yield* net.settle()
        yield* assertNoHtlcs(net)
        assert.strictEqual(yield* net.balance(1, net.channels[0]!.channelId), 0n)
      })
    ))

  it.effect("pay refuses before anything leaves: expired, another network, our own invoice, a tampered signature, no amount", () =>
    withNet("checks", 2, (net) =>
      Effect.gen(function*() {
        yield* line(net, 2)
        const refused = (invoice: string) =>
          Effect.flip(net.pay(0).pay(invoice)).pipe(Effect.map((e) => (e._tag === "InvalidPaymentRequest" ? e.reason : `unexpected ${e._tag}`)))
        const sign = (network: "bc" | "bcrt", amountMsat: bigint | undefined, timestamp: number) => {
          const unsigned = makeInvoice({
            network,
            ...(amountMsat === undefined ? {} : { amountMsat: msat(amountMsat) }),
            timestamp,
            paymentHash: new Uint8Array(32).fill(1),
            paymentSecret: new Uint8Array(32).fill(2),
            description: { text: "x" }
          })
          if (Result.isFailure(unsigned)) throw new Error("bad invoice")
          return signAndEncode(unsigned.success, (d) => secp.signRecoverable(d, secretFromSeed("checks/other", secp)))
        }
        assert.match(yield* refused(sign("bc", AMOUNT, 0)), /network bc/)
        assert.match(yield* refused(sign("bcrt", undefined, 0)), /no amount/)
        const inv = yield* net.pay(1).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "late" }, expirySeconds: 60 })
        assert.match(yield* refused((yield* net.pay(0).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "mine" } })).invoice), /ours/)
        const badId = yield* Effect.flip(net.pay(0).pay(inv.invoice, { paymentId: "not a key" }))
        assert.isTrue(badId._tag === "InvalidPaymentRequest" && /payment id/.test(badId.reason))
        const tampered = inv.invoice.slice(0, -10) + (inv.invoice.at(-10) === "q" ? "p" : "q") + inv.invoice.slice(-9)
        assert.match(yield* refused(tampered), /invalid invoice/)
        yield* TestClock.adjust("61 seconds")
        assert.match(yield* refused(inv.invoice), /expired/)
        // Nothing left node 0.
        assert.isFalse(net.h.wire.some((m) => m.from === 0 && m.message._tag === "UpdateAddHtlc"))
        assert.deepStrictEqual(yield* net.pay(0).payments, [])
      })
    ))

  it.effect("route hints: the payee's private channel is reached through the hint in its invoice", () =>
    withNet("hints", 3, (net) =>
      Effect.gen(function*() {
        const [c01] = yield* line(net, 2)
        // 1 -> 2 exists but is not in anyone's graph (a private channel).
        const c12 = yield* net.channel(1, 2)
        net.channels.splice(net.channels.indexOf(c12), 1)
        const p1 = net.policies[1]!
        const noHint = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "no hint" } })
        const failed = failedWith(yield* outcome(net, net.pay(0).pay(noHint.invoice)))
        assert.match(failed.reason, /^NoRoute/)
        const inv = yield* net.pay(2).createInvoice({
          amountMsat: msat(AMOUNT),
          description: { text: "hint" },
          routeHints: [[{ pubkey: net.h.nodeIds[1]!, shortChannelId: c12.scid, feeBaseMsat: p1.feeBaseMsat, feeProportionalMillionths: p1.feeProportionalMillionths, cltvExpiryDelta: p1.cltvExpiryDelta }]]
        })
        const ok = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
        assert.strictEqual(ok.routes[0]!.hops[1]!.shortChannelId, c12.scid)
        assert.strictEqual(ok.feePaidMsat, fee(AMOUNT))
        assert.strictEqual(yield* net.balance(2, c12.channelId), AMOUNT)
        net.channels.push(c12)
        yield* assertNoHtlcs(net)
        assert.strictEqual(yield* net.htlcCount(0, c01!.channelId), 0)
      })
    ))

  it.effect("interception: an HTLC for a fake short channel id goes to the application, which forwards it (never more than came in) or fails it", () =>
    withNet("intercept", 3, (net) =>
      Effect.gen(function*() {
        const [, c12] = yield* line(net, 3)
        const fake = shortChannelIdFromParts(900, 9, 9)
        net.intercepts[1]!.add(fake)
        const p1 = net.policies[1]!
        const hint = [{ pubkey: net.h.nodeIds[1]!, shortChannelId: fake, feeBaseMsat: p1.feeBaseMsat, feeProportionalMillionths: p1.feeProportionalMillionths, cltvExpiryDelta: p1.cltvExpiryDelta }]
        // The payee's invoice points at the fake channel (as an LSP's client's invoice does).
        net.channels.splice(1, 1)
        const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "jit" }, routeHints: [hint] })
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        yield* net.runUntil(() => net.intercepted.length === 1)
        const held = net.intercepted[0]!
        assert.strictEqual(held.node, 1)
        assert.strictEqual(held.scid, fake)
        assert.strictEqual(held.amountMsat, AMOUNT)
        // Forwarding more than came in is refused; the LSP forwards over the real channel, keeping nothing extra.
        const tooMuch = yield* Effect.flip(net.pay(1).forwardIntercepted(held.interceptId, c12!.channelId, msat(AMOUNT * 2n)))
        assert.match(tooMuch.reason, /more than came in/)
        yield* net.pay(1).forwardIntercepted(held.interceptId, c12!.channelId, msat(AMOUNT))
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        succeeded(yield* Fiber.join(paying))
        yield* net.settle()
        assert.strictEqual(yield* net.balance(2, c12!.channelId), AMOUNT)

        // A second payment: the application fails it; the sender sees unknown_next_peer from node 1.
        const inv2 = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "jit 2" }, routeHints: [hint] })
        const paying2 = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv2.invoice)))
        yield* net.runUntil(() => net.intercepted.length === 2)
        yield* net.pay(1).failIntercepted(net.intercepted[1]!.interceptId)
        yield* net.runUntil(() => paying2.pollUnsafe() !== undefined)
        failedWith(yield* Fiber.join(paying2))
        assert.deepStrictEqual(net.reportedFailures, [{ hop: 0, failure: "unknown_next_peer" }])
        net.channels.push(c12!)
        yield* net.settle()
        yield* assertNoHtlcs(net)
      })
    ))

  it.effect("MPP and a payee restart: one part held when the payee restarts, the set is rebuilt and claimed once", () =>
    withNet("mpp-restart", 4, (net) =>
      Effect.gen(function*() {
        yield* net.channel(0, 1, { fundingSat: 200_000n })
        const c13 = yield* net.channel(1, 3)
        yield* net.channel(0, 2, { fundingSat: 200_000n })
        const c23 = yield* net.channel(2, 3)
        const amount = 300_000_000n
        const inv = yield* net.pay(3).createInvoice({ amountMsat: msat(amount), description: { text: "big, restarted" } })
        // The second path's last link is held: only one part reaches the payee.
        net.h.hold(2, 3)
        const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
        yield* net.settle(4)
        assert.strictEqual((yield* net.htlcCount(3, c13.channelId)) + (yield* net.htlcCount(3, c23.channelId)), 1, "one part held")
        assert.strictEqual((yield* net.pay(3).invoice(inv.paymentHash))?.status, "open")
        yield* net.restart(3)
        net.h.hold(2, 3, false)
        yield* net.h.connect(1, 3)
        yield* net.h.connect(2, 3)
        yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
        const ok = succeeded(yield* Fiber.join(paying))
        assert.strictEqual(ok.parts, 2)
        yield* net.settle()
        const received = yield* net.pay(3).invoice(inv.paymentHash)
        assert.strictEqual(received?.status, "paid")
        assert.strictEqual(received?.receivedMsat, amount)
        assert.strictEqual((yield* net.balance(3, c13.channelId)) + (yield* net.balance(3, c23.channelId)), amount)
        yield* assertNoHtlcs(net)
      })
    ))

  describe("restarts mid-payment (0 -> 1 -> 2): no loss, no double payment, every HTLC resolved", () => {
    /**
     * Holds link `from -> to`, starts a payment, lets the network run until `ready`, restarts
     * `node` (everything not durable is lost), reconnects everyone and runs the payment to its end.
     */
    const scenario = (seed: string, node: number, from: number, to: number, ready: (net: PaymentNet) => boolean) =>
      withNet(seed, 3, (net) =>
        Effect.gen(function*() {
          const cs = yield* line(net, 3)
          const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: seed } })
          const b0 = yield* net.balance(0, cs[0]!.channelId)
          const b1 = (yield* net.balance(1, cs[0]!.channelId)) + (yield* net.balance(1, cs[1]!.channelId))
          const first = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
          // Message by message until the restart point, then hold the link (what is on it stays there).
          for (let step = 0; step < 500 && !ready(net); step++) {
            yield* net.h.deliverNext()
            for (let k = 0; k < 5; k++) yield* macrotask
          }
          assert.isTrue(ready(net), `${seed}: the payment did not reach the restart point\n${net.h.log.slice(-20).join("\n")}`)
          net.h.hold(from, to)
          yield* net.settle(2)
          yield* net.restart(node)
          // A caller waiting on the stopped node is released (interrupted), never left hanging.
          if (node === 0) assert.isTrue(first.pollUnsafe() !== undefined, "the caller on the stopped sender is released")
          net.h.hold(from, to, false)
          const ok = yield* reconnectAndAwait(net, inv.paymentHash)
          // Paid once: the payee got the amount, the sender paid amount + one fee, the forwarder kept one fee.
          assert.strictEqual((yield* net.pay(2).invoice(inv.paymentHash))?.status, "paid")
          assert.strictEqual(yield* net.balance(2, cs[1]!.channelId), AMOUNT)
          assert.strictEqual(b0 - (yield* net.balance(0, cs[0]!.channelId)), AMOUNT + fee(AMOUNT))
          assert.strictEqual((yield* net.balance(1, cs[0]!.channelId)) + (yield* net.balance(1, cs[1]!.channelId)) - b1, fee(AMOUNT))
          // Paying again with the same id does not pay twice.
          const again = succeeded(yield* outcome(net, net.pay(0).pay(inv.invoice)))
          assert.isTrue(equalBytes(again.preimage, ok.preimage))
          assert.strictEqual(b0 - (yield* net.balance(0, cs[0]!.channelId)), AMOUNT + fee(AMOUNT))
          yield* assertNoHtlcs(net)
          assert.deepStrictEqual(net.h.violations, [])
        })
      )

    const sent = (net: PaymentNet, from: number, tag: string) => net.h.wire.some((m) => m.from === from && m.message._tag === tag)
    const delivered = (net: PaymentNet, from: number, to: number, tag: string) => net.h.log.some((l) => l.startsWith("deliver ") && l.endsWith(` ${tag} ${from}->${to}`))

    it.effect("the sender restarts after adding its HTLC (nothing delivered yet)", () =>
      scenario("restart-sender", 0, 0, 1, (net) => sent(net, 0, "UpdateAddHtlc")))

    it.effect("the forwarder restarts after forwarding (the outgoing HTLC not delivered yet)", () =>
      scenario("restart-forwarder", 1, 1, 2, (net) => sent(net, 1, "UpdateAddHtlc")))

    it.effect("the forwarder restarts after the payee fulfilled (the fulfill not passed back yet)", () =>
      scenario("restart-forwarder-back", 1, 1, 0, (net) => sent(net, 2, "UpdateFulfillHtlc")))

    it.effect("the receiver restarts after claiming (its fulfill not delivered yet)", () =>
      scenario("restart-receiver", 2, 2, 1, (net) => sent(net, 2, "UpdateFulfillHtlc")))

    it.effect("the sender restarts after the preimage reached its channel", () =>
      scenario("restart-sender-late", 0, 0, 1, (net) => delivered(net, 1, 0, "UpdateFulfillHtlc")))
  })

  describe("connections dropped mid-payment (0 -> 1 -> 2): the payment completes once, every HTLC resolved", () => {
    const dropScenario = (seed: string, a: number, b: number, ready: (net: PaymentNet) => boolean) =>
      withNet(seed, 3, (net) =>
        Effect.gen(function*() {
          const cs = yield* line(net, 3)
          const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: seed } })
          const b0 = yield* net.balance(0, cs[0]!.channelId)
          const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
          for (let step = 0; step < 500 && !ready(net); step++) {
            yield* net.h.deliverNext()
            for (let k = 0; k < 5; k++) yield* macrotask
          }
          assert.isTrue(ready(net), `${seed}: not reached\n${net.h.log.slice(-20).join("\n")}`)
          // What is on the wire between them is lost.
          yield* net.h.disconnect(a, b)
          yield* net.settle(2)
          yield* net.h.connect(a, b)
          yield* net.runUntil(() => paying.pollUnsafe() !== undefined, 50).pipe(
            // A settlement dropped before it was signed is found by the periodic resync.
            Effect.catchDefect(() => Effect.andThen(TestClock.adjust("31 seconds"), net.runUntil(() => paying.pollUnsafe() !== undefined)))
          )
          succeeded(yield* Fiber.join(paying))
          yield* net.settle()
          assert.strictEqual(yield* net.balance(2, cs[1]!.channelId), AMOUNT)
          assert.strictEqual(b0 - (yield* net.balance(0, cs[0]!.channelId)), AMOUNT + fee(AMOUNT))
          yield* assertNoHtlcs(net)
        })
      )
    const sentBy = (net: PaymentNet, from: number, tag: string) => net.h.wire.some((m) => m.from === from && m.message._tag === tag)

    it.effect("dropped while the first HTLC is on its way", () => dropScenario("drop-add", 0, 1, (net) => sentBy(net, 0, "UpdateAddHtlc")))
    it.effect("dropped while the forwarded HTLC is on its way", () => dropScenario("drop-forward", 1, 2, (net) => sentBy(net, 1, "UpdateAddHtlc")))
    it.effect("dropped while the payee's fulfill is on its way", () => dropScenario("drop-fulfill", 1, 2, (net) => sentBy(net, 2, "UpdateFulfillHtlc")))
    it.effect("dropped while the forwarder's fulfill is on its way back", () => dropScenario("drop-fulfill-back", 0, 1, (net) => sentBy(net, 1, "UpdateFulfillHtlc")))

    it.effect("the payee's store is slow (its fulfill waits for the preimage write) and the connection drops", () =>
      withNet("drop-unsigned", 3, (net) =>
        Effect.gen(function*() {
          const cs = yield* line(net, 3)
          const inv = yield* net.pay(2).createInvoice({ amountMsat: msat(AMOUNT), description: { text: "unsigned" } })
          const paying = yield* Effect.forkChild(Effect.exit(net.pay(0).pay(inv.invoice)))
          // Up to the revocation that commits the add irrevocably at the payee; from then on the
          // payee's writes wait, so its fulfill (after its PaymentPreimage write) cannot leave.
          const ready = () => net.h.log.some((l) => l.endsWith(" UpdateAddHtlc 1->2")) && net.h.pending(1, 2)[0]?.message._tag === "RevokeAndAck"
          for (let step = 0; step < 500 && !ready(); step++) {
            yield* net.h.deliverNext()
            for (let k = 0; k < 5; k++) yield* macrotask
          }
          assert.isTrue(ready(), net.h.log.slice(-20).join("\n"))
          yield* net.h.setPersistence(2, "InProgress")
          yield* net.h.deliver(1, 2)
          for (let k = 0; k < 5; k++) yield* macrotask
          // The revocation's write lands: HtlcReceived goes out, the payee claims; the PaymentPreimage write waits.
          yield* net.h.completeWrites(2)
          for (let k = 0; k < 20; k++) yield* macrotask
          // The claim is stored; its fulfill waits until the preimage write is durable (issue 8).
          assert.strictEqual((yield* net.pay(2).invoice(inv.paymentHash))?.status, "claiming", "claimed")
          assert.isFalse(net.h.wire.some((m) => m.from === 2 && m.message._tag === "UpdateFulfillHtlc"), "the fulfill did not leave")
          // The connection drops; then the write lands and the peers reconnect: the fulfill goes out after the reestablish.
          yield* net.h.disconnect(1, 2)
          yield* net.h.setPersistence(2, "Completed")
          yield* net.h.completeWrites(2)
          yield* net.h.connect(1, 2)
          yield* net.runUntil(() => paying.pollUnsafe() !== undefined)
          succeeded(yield* Fiber.join(paying))
          yield* net.settle()
          assert.strictEqual(yield* net.balance(2, cs[1]!.channelId), AMOUNT)
          yield* assertNoHtlcs(net)
        })
      ))
  })
})