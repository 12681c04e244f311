/**
 * Payments with a real implementation (issue 8, "Interop with LDK"): our `Payments` actor over
 * our `ChannelManager`, against LDK (rust-lightning 0.1, `lightningdevkit` WASM) over real TCP,
 * on the channel harness of ldk-channels.test.ts (one channel, the chain driven by the test).
 *
 * What it shows:
 * - we pay an LDK BOLT 11 invoice through `Payments.pay` (route from our `Router` over our
 *   channel, onion with LDK's payment secret): LDK claims it, we get `PaymentSucceeded` with
 *   LDK's preimage;
 * - LDK pays a BOLT 11 invoice made by our `Payments.createInvoice`: our final-hop checks pass,
 *   the preimage is made durable, LDK gets `PaymentSent` and our invoice is `paid`;
 * - LDK refuses a payment of ours (it fails the HTLC back): the failure onion LDK built is
 *   decrypted and attributed by us (`incorrect_or_unknown_payment_details` from hop 0, the payee),
 *   and the payment ends with that reason at once (no retry);
 * - we refuse LDK's payment for a hash we do not know: LDK decrypts our failure onion (its log
 *   names the code, 0x400f) and reports the payment failed;
 * - keysend both ways (bLIP 3, TLV 5482373484): our `Payments.keysend` to LDK (LDK claims with
 *   the preimage our onion carried) and LDK's `send_spontaneous_payment` to us (we claim it).
 *   This found that our keysend's final CLTV delta (18) was below LDK's minimum (24): now 40;
 * - we forward to LDK: our node A pays LDK's invoice through our node B (A -> B -> LDK, real
 *   TCP everywhere), B keeps exactly its fee; LDK's refusal comes back through B (wrapped by B)
 *   and A attributes it to LDK's hop (1);
 * - MPP to LDK: a payment no single channel of ours to LDK can carry (LDK takes at most 10% of a
 *   channel's value in flight) is split over two channels and LDK claims the whole.
 *
 * LDK paying through us (LDK -> ours -> LDK, both ways) and LDK forwarding between two of our
 * nodes: ldk-forwarding.test.ts (the harness's LDK router follows the invoice's route hints).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer, Stream } from "effect"
import { make as makeChannelManager, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { createInvoice as createBareInvoice } from "../../src/invoices/createInvoice.ts"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import { make as makePayments, type PaymentEvent } from "../../src/actors/Payments.ts"
import { ChannelManager, type ChannelManagerShape } from "../../src/actors/ChannelManager.ts"
import { buildRoutingGraph } from "../../src/protocol/routing/graph.ts"
import { defaultForwardingPolicy } from "../../src/protocol/payment/forward.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import * as TcpTransport from "../../src/layers/node/TcpTransport.ts"
import { DefaultRouter } from "../../src/layers/router/DefaultRouter.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import * as ldkApi from "lightningdevkit"
import { compareBytes, equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { type ChannelId, msat, type NodeId, sat } from "../../src/protocol/units.ts"
import { ChannelSigner } from "../../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../../src/services/MonitorPersister.ts"
import { RouterGraph } from "../../src/services/Router.ts"
import { Scorer } from "../../src/services/Scorer.ts"
import { Store } from "../../src/services/Store.ts"
import { makeMemoryPersister, payoutScript } from "../actors/ChannelManagerHarness.ts"
import { fundingTransaction } from "./ldk/fundingTx.ts"
import { type LdkEvent, LdkNode } from "./ldk/LdkNode.ts"

const HOST = "127.0.0.1"
const OUR_SEED = "ldk-payments-interop"
const secp = wasmSecp256k1

type OurEvent = NodeChannelEvent["event"]

const ours = <T extends OurEvent["_tag"]>(events: ReadonlyArray<NodeChannelEvent>, tag: T, from = 0) =>
  events.slice(from).map((e) => e.event).find((e): e is Extract<OurEvent, { _tag: T }> => e._tag === tag)

const ldkEvent = <T extends LdkEvent["_tag"]>(ldk: LdkNode, tag: T, from = 0) =>
  ldk.events.slice(from).find((e): e is Extract<LdkEvent, { _tag: T }> => e._tag === tag)

/** Polls `check` every 10 ms on the real clock (pumping LDK); dies with `what` after `timeoutMs`. */
const waitFor = <A>(what: string, ldk: LdkNode, check: () => A | undefined, timeoutMs = 15_000): Effect.Effect<A> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    for (;;) {
      ldk.pump()
      const v = check()
      if (v !== undefined) return v
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

/** One of our nodes over TCP: peer manager, channel manager, payments (router over `graph`, height from LDK's chain). */
const startOurNode = (seed: string, ldk: LdkNode, graph: Layer.Layer<RouterGraph>, paymentsSeed?: string) => Effect.gen(function*() {
  const nodeSigner = SeededNodeSigner.layer(seed, secp)
  const peers = yield* PeerManager.make({ listen: { host: HOST, port: 0 }, peer: { rejectChannels: false } }).pipe(
    Effect.provide(Layer.mergeAll(TcpTransport.layer(), OsEntropy.layer, nodeSigner)),
    Effect.orDie
  )
  const persister = yield* makeMemoryPersister()
  const channelSigner = makeSeedChannelSigner(sha256(new TextEncoder().encode(`${seed}/channels`)), secp)
  const channels = yield* makeChannelManager({ secp, shutdownScript: payoutScript(seed), feerateEstimatePerKw: 253 }).pipe(
    Effect.provideService(PeerManager.PeerManager, peers),
    Effect.provideService(ChannelSigner, channelSigner),
    Effect.provideService(MonitorPersister, persister),
    Effect.provide(OsEntropy.layer),
    Effect.orDie
  )
  const events: Array<NodeChannelEvent> = []
  const stream = yield* channels.subscribe
  yield* Effect.forkScoped(stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e)))))

  // Our payments layer: the default router (fees only) over `graph`.
  const router = DefaultRouter.layer.pipe(Layer.provide(Layer.merge(graph, Scorer.layerFeesOnly)))
  const payments = yield* makePayments({ secp, blockHeight: Effect.sync(() => ldk.height) }).pipe(
    Effect.provide(Layer.mergeAll(
      Layer.succeed(ChannelManager, channels),
      nodeSigner,
      paymentsSeed === undefined ? OsEntropy.layer : SeededEntropy.layer(paymentsSeed),
      Layer.succeed(Store, makeMemoryStore().store),
      router
    ))
  )
  const paymentEvents: Array<PaymentEvent> = []
  const sub = yield* payments.subscribe
  yield* Effect.forkScoped(sub.pipe(Stream.runForEach((e) => Effect.sync(() => void paymentEvents.push(e)))))

  return { peers, channels, payments, events, paymentEvents }
})

/**
 * LDK and our node (peer manager, channel manager, payments) with one channel opened by us,
 * confirmed on both sides. `paymentsSeed`: the payments layer draws from seeded entropy (so a
 * test can know the preimage of a keysend it makes: the first draw).
 */
const setupWith = (paymentsSeed?: string) => Effect.gen(function*() {
  const ldk = yield* Effect.acquireRelease(
    Effect.promise(() => LdkNode.start({ anchors: false })),
    (ldk, exit) =>
      Effect.promise(async () => {
        if (exit._tag === "Failure") process.stderr.write(`---- LDK log (${ldk.nodeIdHex}) ----\n${ldk.peer.logText("DEBUG")}\n`)
        await ldk.stop()
      })
  )
  const { peers, channels, payments, events, paymentEvents } = yield* startOurNode(OUR_SEED, ldk, RouterGraph.layerEmpty, paymentsSeed)

  // The channel: we open and fund it, both sides see it confirmed at the same height.
  const ldkId = ldk.nodeId as NodeId
  yield* peers.connect(ldkId, { host: HOST, port: ldk.port }).pipe(Effect.orDie)
  yield* waitFor("LDK to list us", ldk, () => ldk.peer.peer(toHex(peers.nodeId)))
  yield* channels.openChannel(ldkId, sat(400_000n), {
    pushAmount: msat(100_000_000n),
    channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
  }).pipe(Effect.orDie)
  const needed = yield* waitFor("our FundingNeeded", ldk, () => ours(events, "FundingNeeded"))
  const funding = fundingTransaction(needed.scriptPubKey, needed.amount)
  yield* channels.fundChannel(needed.temporaryChannelId, funding.bytes).pipe(Effect.orDie)
  const pending = yield* waitFor("our ChannelPending", ldk, () => ours(events, "ChannelPending"))
  const channelId: ChannelId = pending.channelId
  yield* waitFor("LDK ChannelPending", ldk, () => ldkEvent(ldk, "ChannelPending"))
  const height = ldk.mine([funding.bytes], 5)
  yield* channels.chainFact(channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: shortChannelIdFromParts(height, 1, 0) }).pipe(Effect.orDie)
  yield* waitFor("our ChannelReady", ldk, () => ours(events, "ChannelReady"))
  yield* waitFor("LDK's channel usable", ldk, () => ldk.listChannels().find((c) => c.get_is_usable()))
  return { ldk, peers, channels, payments, events, paymentEvents, channelId }
})
const setup = setupWith()

type Setup = Effect.Success<typeof setup>

/** Our balance in the channel (our current commitment). */
const ourBalance = (s: Setup) =>
  Effect.map(Effect.orDie(s.channels.channel(s.channelId)), (i) => (i.state._tag === "Normal" ? i.state.commitments.localCommit.spec.toLocal : -1n))

describe("payments with LDK", () => {
  it.live("we pay LDK's invoice and LDK pays ours (BOLT 11), both settle", () =>
    Effect.gen(function*() {
      const s: Setup = yield* setup
      const before = yield* ourBalance(s)

      // We pay LDK: Payments.pay with LDK's invoice.
      const invoice = s.ldk.createInvoice(3_000_000n, "ldk sells")
      const paid = yield* s.payments.pay(invoice, { paymentId: "to-ldk" }).pipe(Effect.orDie)
      assert.strictEqual(paid.parts, 1)
      assert.strictEqual(paid.feePaidMsat, 0n, "a direct payment pays no fee")
      const claimed = yield* waitFor("LDK PaymentClaimed", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimed"))
      assert.isTrue(equalBytes(claimed.paymentHash, paid.paymentHash))
      assert.isTrue(equalBytes(sha256(paid.preimage), paid.paymentHash), "the preimage LDK revealed is the invoice's")
      assert.strictEqual(claimed.amountMsat, 3_000_000n)
      const status = yield* s.payments.payment("to-ldk")
      assert.strictEqual(status?.status, "succeeded")

      // LDK pays our invoice: our Payments checks the final hop, claims, LDK learns the preimage.
      const ours = yield* s.payments.createInvoice({ amountMsat: msat(2_000_000n), description: { text: "we sell" } }).pipe(Effect.orDie)
      const hash = s.ldk.payInvoice(ours.invoice)
      assert.isTrue(equalBytes(hash, ours.paymentHash))
      const sent = yield* waitFor("LDK PaymentSent", s.ldk, () => ldkEvent(s.ldk, "PaymentSent"))
      assert.isTrue(equalBytes(sha256(sent.preimage), ours.paymentHash))
      const received = yield* waitFor("our invoice paid", s.ldk, () => s.paymentEvents.find((e) => e._tag === "PaymentReceived"))
      assert.strictEqual(received._tag === "PaymentReceived" ? received.amountMsat : -1n, 2_000_000n)
      const inbound = yield* s.payments.invoice(ours.paymentHash)
      assert.strictEqual(inbound?.status, "paid")
      assert.strictEqual(inbound?.receivedMsat, 2_000_000n)

      // Both settled in the commitment: we are down 3,000 sat and up 2,000 sat.
      let after = yield* ourBalance(s)
      for (let i = 0; i < 500 && after !== before - 1_000_000n; i++) {
        yield* Effect.sleep("10 millis")
        after = yield* ourBalance(s)
      }
      assert.strictEqual(after, before - 1_000_000n)
    }).pipe(Effect.scoped), 60_000)

  it.live("failures both ways come back decoded: LDK refuses ours, we refuse LDK's", () =>
    Effect.gen(function*() {
      const s: Setup = yield* setup

      // LDK refuses (fail_htlc_backwards): our payment ends with LDK's failure, decrypted and
      // attributed to LDK (hop 0, the payee), with no retry.
      s.ldk.autoClaim = false
      const invoice = s.ldk.createInvoice(1_500_000n, "refused")
      const paying = yield* Effect.forkScoped(Effect.flip(s.payments.pay(invoice, { paymentId: "refused" })))
      const claimable = yield* waitFor("LDK PaymentClaimable", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimable"))
      s.ldk.failPayment(claimable.paymentHash)
      const failed = yield* Fiber.join(paying)
      assert.strictEqual(failed._tag, "PaymentFailed")
      if (failed._tag !== "PaymentFailed") return
      assert.strictEqual(failed.reason, "RecipientRejected: incorrect_or_unknown_payment_details")
      assert.strictEqual(failed.attempts, 1, "a payee's refusal is final")
      const attempt = s.paymentEvents.find((e) => e._tag === "AttemptFailed")
      assert.deepStrictEqual(attempt?._tag === "AttemptFailed" ? [attempt.hop, attempt.failure] : [], [0, "incorrect_or_unknown_payment_details"])

      // We refuse LDK's payment for a hash our Payments does not know (an invoice signed by our
      // key but never registered): LDK decrypts our failure and gives up.
      const unknown = yield* createBareInvoice({ amountMsat: msat(1_000_000n), description: { text: "unknown" } }).pipe(
        Effect.provide(Layer.mergeAll(SeededNodeSigner.layer(OUR_SEED, secp), OsEntropy.layer)),
        Effect.orDie
      )
      const from = s.ldk.events.length
      s.ldk.payInvoice(unknown.invoice)
      const ldkFailed = yield* waitFor("LDK PaymentFailed", s.ldk, () => ldkEvent(s.ldk, "PaymentFailed", from))
      assert.isTrue(ldkFailed.paymentHash !== undefined && equalBytes(ldkFailed.paymentHash, unknown.paymentHash))
      assert.isTrue(s.ldk.events.slice(from).some((e) => e._tag === "Other" && e.name === "Event_PaymentPathFailed"))
      // LDK decrypted our failure onion and attributed it to us (PERM|15, incorrect_or_unknown_payment_details).
      const log = s.ldk.peer.logText("TRACE")
      assert.include(log, `Onion Error[from ${toHex(s.peers.nodeId)}: incorrect_or_unknown_payment_details(0x400f)]`)
      const forwarded = s.paymentEvents.filter((e) => e._tag === "PaymentReceived")
      assert.strictEqual(forwarded.length, 0, "nothing was received")
    }).pipe(Effect.scoped), 60_000)

  it.live("keysend both ways: LDK accepts our spontaneous payment, we accept LDK's", () =>
    Effect.gen(function*() {
      const seed = "ldk-keysend"
      const s: Setup = yield* setupWith(seed)
      // Our keysend: the preimage is the payments layer's first draw (seeded here, so the test
      // can play LDK's wallet, which claims a spontaneous payment with the preimage it carried).
      const preimage = yield* makeSeededEntropy(seed).randomBytes(32)
      const paying = yield* Effect.forkScoped(s.payments.keysend(s.ldk.nodeId, msat(1_200_000n), { paymentId: "keysend-to-ldk" }))
      const claimable = yield* waitFor("LDK PaymentClaimable (keysend)", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimable"))
      assert.isTrue(equalBytes(claimable.paymentHash, sha256(preimage)), "LDK got our keysend's hash")
      assert.strictEqual(claimable.amountMsat, 1_200_000n)
      s.ldk.claim(preimage)
      const paid = yield* Fiber.join(paying)
      assert.isTrue(equalBytes(paid.preimage, preimage))
      yield* waitFor("LDK PaymentClaimed", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimed"))

      // LDK's keysend (send_spontaneous_payment, its preimage in TLV 5482373484): we claim it.
      const route = ldkApi.RouteParameters.constructor_from_payment_params_and_value(
        ldkApi.PaymentParameters.constructor_for_keysend(s.peers.nodeId, 40, false),
        5_000_000n
      )
      const sent = s.ldk.manager.send_spontaneous_payment(
        ldkApi.Option_ThirtyTwoBytesZ.constructor_none(),
        ldkApi.RecipientOnionFields.constructor_spontaneous_empty(),
        new Uint8Array(32).fill(9),
        route,
        ldkApi.Retry.constructor_attempts(0)
      )
      assert.isTrue(Boolean(sent.is_ok()), "LDK sent the keysend")
      const received = yield* waitFor("our keysend received", s.ldk, () => s.paymentEvents.find((e) => e._tag === "PaymentReceived"))
      assert.strictEqual(received._tag === "PaymentReceived" ? received.amountMsat : -1n, 5_000_000n)
      const ldkSent = yield* waitFor("LDK PaymentSent (keysend)", s.ldk, () => ldkEvent(s.ldk, "PaymentSent"))
      const inbound = yield* s.payments.invoice(ldkSent.paymentHash)
      assert.strictEqual(inbound?.keysend, true)
      assert.strictEqual(inbound?.status, "paid")
      assert.isTrue(equalBytes(sha256(ldkSent.preimage), ldkSent.paymentHash))
    }).pipe(Effect.scoped), 60_000)

  it.live("we forward to LDK: our A pays LDK's invoice through our B (exact fee); LDK's refusal is attributed to LDK's hop", () =>
    Effect.gen(function*() {
      const ldk = yield* Effect.acquireRelease(
        Effect.promise(() => LdkNode.start({ anchors: false })),
        (ldk, exit) =>
          Effect.promise(async () => {
            if (exit._tag === "Failure") process.stderr.write(`---- LDK log (${ldk.nodeIdHex}) ----\n${ldk.peer.logText("DEBUG")}\n`)
            await ldk.stop()
          })
      )
      // B: forwards (the default policy: 1,000 msat + 100 ppm, CLTV delta 40), no graph needed.
      const b = yield* startOurNode("ldk-forwarder-b", ldk, RouterGraph.layerEmpty)
      // The B -> LDK channel (private: A's router is told of it, as gossip or a route hint would).
      const ldkId = ldk.nodeId as NodeId
      yield* b.peers.connect(ldkId, { host: HOST, port: ldk.port }).pipe(Effect.orDie)
      yield* waitFor("LDK to list B", ldk, () => ldk.peer.peer(toHex(b.peers.nodeId)))
      const bLdk = yield* openConfirmed(ldk, b, ldkId, [])
      yield* waitFor("LDK's channel usable", ldk, () => ldk.listChannels().find((c) => c.get_is_usable()))
      const graph = buildRoutingGraph([{
        shortChannelId: bLdk.scid,
        node1: compareBytes(b.peers.nodeId, ldk.nodeId) < 0 ? b.peers.nodeId : ldk.nodeId,
        node2: compareBytes(b.peers.nodeId, ldk.nodeId) < 0 ? ldk.nodeId : b.peers.nodeId,
        capacityMsat: 400_000_000n,
        oneToTwo: { ...defaultForwardingPolicy, enabled: true },
        twoToOne: { ...defaultForwardingPolicy, enabled: true }
      }])
      // A: the payer, its router knows the B -> LDK channel.
      const a = yield* startOurNode("ldk-forwarder-a", ldk, RouterGraph.layerFixed(graph))
      const bAddress = b.peers.listenAddress
      if (bAddress === undefined) return yield* Effect.die(new Error("B does not listen"))
      yield* a.peers.connect(b.peers.nodeId, bAddress).pipe(Effect.orDie)
      const aB = yield* openConfirmed(ldk, a, b.peers.nodeId, [b])

      // A pays LDK's invoice through B: LDK claims, A learns the preimage and pays B's fee exactly.
      const amount = 3_000_000n
      const fee = 1000n + (amount * 100n) / 1_000_000n
      const before = yield* balance(b, aB.channelId)
      const paid = yield* a.payments.pay(ldk.createInvoice(amount, "through B"), { paymentId: "via-b" }).pipe(Effect.orDie)
      assert.strictEqual(paid.feePaidMsat, fee)
      assert.deepStrictEqual(paid.routes[0]!.hops.map((h) => toHex(h.nodeId)), [toHex(b.peers.nodeId), toHex(ldk.nodeId)])
      const claimed = yield* waitFor("LDK PaymentClaimed", ldk, () => ldkEvent(ldk, "PaymentClaimed"))
      assert.strictEqual(claimed.amountMsat, amount)
      const forwarded = yield* waitFor("B's HtlcForwarded", ldk, () => b.paymentEvents.find((e) => e._tag === "HtlcForwarded"))
      assert.strictEqual(forwarded._tag === "HtlcForwarded" ? forwarded.feeMsat : -1n, fee)
      let gained = (yield* balance(b, aB.channelId)) - before
      for (let i = 0; i < 500 && gained !== amount + fee; i++) {
        yield* Effect.sleep("10 millis")
        gained = (yield* balance(b, aB.channelId)) - before
      }
      assert.strictEqual(gained, amount + fee, "B got amount + fee from A")

      // LDK refuses the next one: the failure LDK built comes back through B, unwrapped by A and
      // attributed to LDK (hop 1), and ends the payment.
      ldk.autoClaim = false
      const paying = yield* Effect.forkScoped(Effect.flip(a.payments.pay(ldk.createInvoice(1_000_000n, "refused through B"), { paymentId: "refused-via-b" })))
      const claimable = yield* waitFor("LDK PaymentClaimable", ldk, () => ldk.events.filter((e) => e._tag === "PaymentClaimable").length === 2 ? ldk.events.filter((e) => e._tag === "PaymentClaimable")[1] : undefined)
      if (claimable._tag !== "PaymentClaimable") return
      ldk.failPayment(claimable.paymentHash)
      const failed = yield* Fiber.join(paying)
      assert.strictEqual(failed._tag === "PaymentFailed" ? failed.reason : failed._tag, "RecipientRejected: incorrect_or_unknown_payment_details")
      const attempt = a.paymentEvents.find((e) => e._tag === "AttemptFailed")
      assert.deepStrictEqual(attempt?._tag === "AttemptFailed" ? [attempt.hop, attempt.failure] : [], [1, "incorrect_or_unknown_payment_details"])
    }).pipe(Effect.scoped), 90_000)

  it.live("MPP to LDK: one payment split over our two channels to LDK (neither can carry it alone), LDK claims the whole", () =>
    Effect.gen(function*() {
      const s: Setup = yield* setup
      const ldkId = s.ldk.nodeId as NodeId
      const second = yield* openConfirmed(s.ldk, s, ldkId, [])
      yield* waitFor("both of LDK's channels usable", s.ldk, () => (s.ldk.listChannels().filter((c) => c.get_is_usable()).length === 2 ? true : undefined))
      // LDK accepts at most 10% of a channel's value in flight (40,000 sat here): 60,000 sat needs two parts.
      const amount = 60_000_000n
      const paid = yield* s.payments.pay(s.ldk.createInvoice(amount, "mpp"), { paymentId: "mpp-to-ldk" }).pipe(Effect.orDie)
      assert.strictEqual(paid.parts, 2)
      assert.strictEqual(paid.routes.reduce((sum, r) => sum + r.hops[0]!.amountMsat, 0n), amount)
      const claimed = yield* waitFor("LDK PaymentClaimed", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimed"))
      assert.strictEqual(claimed.amountMsat, amount)
      const used = new Set(paid.routes.map((r) => r.hops[0]!.shortChannelId))
      assert.strictEqual(used.size, 2, "one part on each channel")
      assert.isTrue(used.has(second.scid))
    }).pipe(Effect.scoped), 60_000)
})

/** Our balance in a channel (our current commitment). */
const balance = (node: { readonly channels: ChannelManagerShape }, channelId: ChannelId) =>
  Effect.map(Effect.orDie(node.channels.channel(channelId)), (i) => (i.state._tag === "Normal" ? i.state.commitments.localCommit.spec.toLocal : -1n))

/**
 * `opener` opens and funds a channel to `to` (already connected), pushing 100,000 sat; the
 * funding is mined on LDK's chain (5 more blocks) and both of our ends (`opener` and `ours`) are
 * told its depth. LDK, when it is the other end, sees it itself.
 */
const openConfirmed = (
  ldk: LdkNode,
  opener: { readonly channels: ChannelManagerShape; readonly events: ReadonlyArray<NodeChannelEvent> },
  to: NodeId,
  others: ReadonlyArray<{ readonly channels: ChannelManagerShape; readonly events: ReadonlyArray<NodeChannelEvent> }>
) =>
  Effect.gen(function*() {
    const from = opener.events.length
    const otherFrom = others.map((o) => o.events.length)
    yield* opener.channels.openChannel(to, sat(400_000n), {
      pushAmount: msat(100_000_000n),
      channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
    }).pipe(Effect.orDie)
    const needed = yield* waitFor("FundingNeeded", ldk, () => ours(opener.events, "FundingNeeded", from))
    const funding = fundingTransaction(needed.scriptPubKey, needed.amount)
    yield* opener.channels.fundChannel(needed.temporaryChannelId, funding.bytes).pipe(Effect.orDie)
    const pending = yield* waitFor("ChannelPending", ldk, () => ours(opener.events, "ChannelPending", from))
    const height = ldk.mine([funding.bytes], 5)
    const scid = shortChannelIdFromParts(height, 1, 0)
    for (const n of [opener, ...others]) {
      yield* waitFor("the channel known at both ends", ldk, () => (n === opener || ours(n.events, "ChannelPending", otherFrom[others.indexOf(n)]) !== undefined ? true : undefined))
      yield* n.channels.chainFact(pending.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }).pipe(Effect.orDie)
    }
    for (const n of [opener, ...others]) yield* waitFor("ChannelReady", ldk, () => ours(n.events, "ChannelReady", n === opener ? from : otherFrom[others.indexOf(n)]))
    return { channelId: pending.channelId, scid }
  })
