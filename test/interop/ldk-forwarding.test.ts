/**
 * Forwarding with a real implementation (issue 8, "Interop with LDK"): two LDK nodes
 * (rust-lightning 0.1, `lightningdevkit` WASM, `accept_forwards_to_priv_channels` on) and two of
 * our nodes over real TCP, on the channel harness of ldk-payments.test.ts, private channels only,
 * every channel opened and funded by our end:
 *
 *     B (ours) --- LDK1 --- O (ours, forwarding policy O_POLICY) --- LDK2
 *
 * Our nodes run `GossipSync` and `GossipAnnouncer`: each sends its channel peers a `dont_forward`
 * `channel_update` (BOLT 7) with its forwarding policy. Both LDK chains get the same blocks (same
 * heights); the nodes are shared by the tests of the file (one start-up of each).
 *
 * What it shows:
 * - LDK forwards our payment to another of our nodes: O pays B's invoice, whose route hint is the
 *   only way O knows of the LDK1 -> B channel; LDK1 keeps exactly the fee of its policy (its
 *   `PaymentForwarded`), B gets the amount. The hint is given to B's invoice from LDK1's
 *   `ChannelDetails` config: LDK 0.1 sends its private `channel_update` to us without the
 *   `dont_forward` bit and our `GossipSync` keeps a peer's update only with it (asked of the
 *   gossip owner), so B's automatic hints stay empty.
 * - Failures on that path, attributed by O: a hint claiming LDK1 forwards for free gets
 *   `fee_insufficient` from LDK1 (hop 0; LDK 0.1 sends no `channel_update` O could retry with,
 *   so the payment ends with no route left); an invoice signed by B that B never made gets
 *   `incorrect_or_unknown_payment_details` from B (hop 1), final at once.
 * - We forward between two LDK nodes, both directions: LDK1 pays LDK2's invoice through O and
 *   LDK2 pays LDK1's through O. LDK puts a private channel into its invoice's route hints once it
 *   has the peer's `channel_update` (ours, from our announcer); the harness's LDK router
 *   (ldk/LdkNode.ts) builds the two-hop `Route` from that hint. O keeps exactly its policy's fee
 *   (its `HtlcForwarded`, equal to LDK's `PaymentSent.fee_paid_msat`).
 * - Failures of LDK1's payments through O, attributed by LDK1: LDK2's refusal comes back wrapped
 *   by O; LDK1 names LDK2 as the origin (its log), blames no channel and gives up (permanent). A
 *   payment too big for O -> LDK2 gets `temporary_channel_failure` from O: LDK1 names O, blames
 *   O's channel to LDK2 (`PaymentPathFailed.short_channel_id`) and the failure is not permanent.
 *
 * Not here: LDK's router over a graph (public channels): the harness routes over route hints.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, layer } from "@effect/vitest"
import * as ldk from "lightningdevkit"
import { Clock, Context, Effect, Layer, Stream } from "effect"
import { channelPeerConfig, ChannelManager, make as makeChannelManager, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import * as GossipAnnouncer from "../../src/actors/GossipAnnouncer.ts"
import * as GossipSync from "../../src/actors/GossipSync.ts"
import { createInvoice as createBareInvoice } from "../../src/invoices/createInvoice.ts"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import { make as makePayments, type PaymentEvent } from "../../src/actors/Payments.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { makeNetworkGraph } from "../../src/layers/graph/MemoryNetworkGraph.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import * as TcpTransport from "../../src/layers/node/TcpTransport.ts"
import { DefaultRouter } from "../../src/layers/router/DefaultRouter.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import type { ForwardingPolicy } from "../../src/protocol/payment/forward.ts"
import { type ChannelId, msat, type NodeId, sat } from "../../src/protocol/units.ts"
import { ChannelSigner } from "../../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../../src/services/MonitorPersister.ts"
import { NetworkGraph } from "../../src/services/NetworkGraph.ts"
import { RouterGraph } from "../../src/services/Router.ts"
import { Scorer } from "../../src/services/Scorer.ts"
import { Store } from "../../src/services/Store.ts"
import { makeMemoryPersister, payoutScript } from "../actors/ChannelManagerHarness.ts"
import { fundingTransaction } from "./ldk/fundingTx.ts"
import { type LdkEvent, LdkNode } from "./ldk/LdkNode.ts"

const HOST = "127.0.0.1"
const secp = wasmSecp256k1

/** O's forwarding policy (not the default, so the fee checked is this one). */
const O_POLICY: ForwardingPolicy = {
  feeBaseMsat: 2_000,
  feeProportionalMillionths: 500,
  cltvExpiryDelta: 48,
  htlcMinimumMsat: 1n,
  htlcMaximumMsat: 1n << 62n
}
const feeOf = (p: { readonly feeBaseMsat: number; readonly feeProportionalMillionths: number }, amount: bigint) =>
  BigInt(p.feeBaseMsat) + (amount * BigInt(p.feeProportionalMillionths)) / 1_000_000n

type OurEvent = NodeChannelEvent["event"]
const ours = <T extends OurEvent["_tag"]>(events: ReadonlyArray<NodeChannelEvent>, tag: T, from = 0) =>
  events.slice(from).map((e) => e.event).find((e): e is Extract<OurEvent, { _tag: T }> => e._tag === tag)
const ldkEvents = <T extends LdkEvent["_tag"]>(ldk: LdkNode, tag: T) =>
  ldk.events.filter((e): e is Extract<LdkEvent, { _tag: T }> => e._tag === tag)

/** Polls `check` every 10 ms on the real clock (pumping both LDK nodes); dies with `what` after `timeoutMs`. */
const waitFor = <A>(what: string, ldks: ReadonlyArray<LdkNode>, check: () => A | undefined, timeoutMs = 15_000): Effect.Effect<A> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    for (;;) {
      for (const l of ldks) l.pump()
      const v = check()
      if (v !== undefined) return v
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

const startLdk = Effect.acquireRelease(
  Effect.promise(() => LdkNode.start({ anchors: false, forwardPrivate: true })),
  (ldk, exit) =>
    Effect.promise(async () => {
      if (exit._tag === "Failure") process.stderr.write(`---- LDK log (${ldk.nodeIdHex}) ----\n${ldk.peer.logText("DEBUG")}\n`)
      await ldk.stop()
    })
)

/** One of our nodes over TCP with gossip (private `channel_update`s both ways) and payments (router over the invoices' hints). */
const startOurNode = (seed: string, height: () => number, policy?: ForwardingPolicy) =>
  Effect.gen(function*() {
    const nodeSigner = SeededNodeSigner.layer(seed, secp)
    const graph = yield* makeNetworkGraph({ secp }, undefined).pipe(Effect.orDie)
    const sync = yield* GossipSync.make({ flushInterval: "200 millis" }).pipe(Effect.provideService(NetworkGraph, graph))
    const peers = yield* PeerManager.make(GossipSync.gossipPeerManagerConfig(sync, { listen: { host: HOST, port: 0 }, ...channelPeerConfig })).pipe(
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
    yield* GossipAnnouncer.make({
      secp,
      alias: seed,
      checkInterval: "50 millis",
      resendInterval: "500 millis",
      tipHeight: Effect.sync(height),
      ...(policy === undefined ? {} : { policy })
    }).pipe(
      Effect.provideService(GossipSync.GossipSync, sync),
      Effect.provideService(ChannelManager, channels),
      Effect.provideService(ChannelSigner, channelSigner),
      Effect.provide(nodeSigner)
    )
    const router = DefaultRouter.layer.pipe(Layer.provide(Layer.merge(RouterGraph.layerEmpty, Scorer.layerFeesOnly)))
    const payments = yield* makePayments({ secp, blockHeight: Effect.sync(height), ...(policy === undefined ? {} : { forwardingPolicy: policy }) }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(ChannelManager, channels),
        Layer.succeed(GossipSync.GossipSync, sync),
        nodeSigner,
        OsEntropy.layer,
        Layer.succeed(Store, makeMemoryStore().store),
        router
      ))
    )
    const paymentEvents: Array<PaymentEvent> = []
    const sub = yield* payments.subscribe
    yield* Effect.forkScoped(sub.pipe(Stream.runForEach((e) => Effect.sync(() => void paymentEvents.push(e)))))
    return { seed, peers, channels, sync, payments, events, paymentEvents }
  })

type Ours = Effect.Success<ReturnType<typeof startOurNode>>

/** The network of the header: B -- LDK1 -- O -- LDK2, every channel opened and funded by our end (100,000 sat pushed). */
const setup = Effect.gen(function*() {
  const ldk1 = yield* startLdk
  const ldk2 = yield* startLdk
  const both = [ldk1, ldk2]
  const o = yield* startOurNode("ldk-fwd-o", () => ldk1.height, O_POLICY)
  const b = yield* startOurNode("ldk-fwd-b", () => ldk1.height)

  /** `opener` opens a channel to `ldk`; the funding is mined on both LDK chains (5 more blocks); both ends see it ready. */
  const open = (opener: Ours, ldk: LdkNode) =>
    Effect.gen(function*() {
      const ldkId = ldk.nodeId as NodeId
      if (ldk.peer.peer(toHex(opener.peers.nodeId)) === undefined) {
        yield* opener.peers.connect(ldkId, { host: HOST, port: ldk.port }).pipe(Effect.orDie)
        yield* waitFor("LDK to list our node", both, () => ldk.peer.peer(toHex(opener.peers.nodeId)))
      }
      const from = opener.events.length
      const ldkUsable = ldk.listChannels().filter((c) => c.get_is_usable()).length
      yield* opener.channels.openChannel(ldkId, sat(400_000n), {
        pushAmount: msat(100_000_000n),
        channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false }
      }).pipe(Effect.orDie)
      const needed = yield* waitFor("FundingNeeded", both, () => ours(opener.events, "FundingNeeded", from))
      const funding = fundingTransaction(needed.scriptPubKey, needed.amount)
      yield* opener.channels.fundChannel(needed.temporaryChannelId, funding.bytes).pipe(Effect.orDie)
      const pending = yield* waitFor("ChannelPending", both, () => ours(opener.events, "ChannelPending", from))
      yield* waitFor("LDK's ChannelPending", both, () => ldkEvents(ldk, "ChannelPending").find((e) => e.counterparty === toHex(opener.peers.nodeId) && equalBytes(e.channelId, pending.channelId)))
      const height = ldk1.mine([funding.bytes], 5)
      assert.strictEqual(ldk2.mine([funding.bytes], 5), height, "both LDK chains at the same height")
      const scid = shortChannelIdFromParts(height, 1, 0)
      yield* opener.channels.chainFact(pending.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }).pipe(Effect.orDie)
      yield* waitFor("ChannelReady", both, () => ours(opener.events, "ChannelReady", from))
      yield* waitFor("LDK's channel usable", both, () => (ldk.listChannels().filter((c) => c.get_is_usable()).length > ldkUsable ? true : undefined))
      return { channelId: pending.channelId as ChannelId, scid }
    })

  const oLdk1 = yield* open(o, ldk1)
  const oLdk2 = yield* open(o, ldk2)
  const bLdk1 = yield* open(b, ldk1)

  // The private channel_updates: LDK has ours (its invoices' route hints need them), we have LDK's.
  const hasOurUpdate = (ldk: LdkNode, node: Ours) =>
    ldk.listChannels().some((c) => toHex(c.get_counterparty().get_node_id()) === toHex(node.peers.nodeId) && c.get_counterparty().get_forwarding_info() !== null)
      ? true
      : undefined
  yield* waitFor("LDK1 and LDK2 to have O's channel_update", both, () => (hasOurUpdate(ldk1, o) && hasOurUpdate(ldk2, o)))
  return { ldk1, ldk2, o, b, oLdk1, oLdk2, bLdk1 }
})

class Net extends Context.Service<Net, Effect.Success<typeof setup>>()("test/LdkForwardingNet") {}

/**
 * LDK1's policy for its channel to B, as a BOLT 11 route hint (what LDK1's `channel_update` to B
 * says; our GossipSync keeps only `dont_forward` updates and LDK 0.1 does not set that bit, so B's
 * invoice gets its hint from here, as an application's configured hint would).
 */
const ldk1HintToB = (net: Net["Service"], fees?: { readonly feeBaseMsat: number; readonly feeProportionalMillionths: number }) => {
  const channel = net.ldk1.listChannels().find((c) => toHex(c.get_counterparty().get_node_id()) === toHex(net.b.peers.nodeId))
  if (channel === undefined) throw new Error("LDK1 has no channel to B")
  const config = channel.get_config()
  const scid = channel.get_short_channel_id()
  assert.strictEqual(scid instanceof ldk.Option_u64Z_Some ? scid.some : undefined, net.bLdk1.scid, "LDK1 and B agree on the channel's short channel id")
  const policy = { feeBaseMsat: config.get_forwarding_fee_base_msat(), feeProportionalMillionths: config.get_forwarding_fee_proportional_millionths() }
  return {
    policy,
    hint: [[{ pubkey: net.ldk1.nodeId, shortChannelId: net.bLdk1.scid, ...(fees ?? policy), cltvExpiryDelta: config.get_cltv_expiry_delta() }]]
  }
}

const attemptsOf = (node: Ours, paymentId: string) =>
  node.paymentEvents.flatMap((e) => (e._tag === "AttemptFailed" && e.paymentId === paymentId ? [[e.hop, e.failure] as const] : []))

describe("forwarding with LDK", () => {
  layer(Layer.effect(Net, setup), { excludeTestServices: true, timeout: "90 seconds" })((it) => {
    it.effect("LDK forwards our payment to our other node (O -> LDK1 -> B over B's route hint), keeping exactly its fee", () =>
      Effect.gen(function*() {
        const net = yield* Net
        const { ldk1, ldk2, o, b } = net
        const { policy, hint } = ldk1HintToB(net)
        const amount = 2_000_000n
        const fee = feeOf(policy, amount)
        const invoice = yield* b.payments.createInvoice({ amountMsat: msat(amount), description: { text: "B sells" }, routeHints: hint }).pipe(Effect.orDie)
        const paid = yield* o.payments.pay(invoice.invoice, { paymentId: "o-to-b" }).pipe(Effect.orDie)
        assert.strictEqual(paid.feePaidMsat, fee, "O paid LDK1's fee")
        assert.deepStrictEqual(paid.routes[0]!.hops.map((h) => toHex(h.nodeId)), [ldk1.nodeIdHex, toHex(b.peers.nodeId)])
        const received = yield* waitFor("B's PaymentReceived", [ldk1, ldk2], () => b.paymentEvents.find((e) => e._tag === "PaymentReceived"))
        assert.strictEqual(received._tag === "PaymentReceived" ? received.amountMsat : -1n, amount)
        const forward = yield* waitFor("LDK1's PaymentForwarded", [ldk1, ldk2], () => ldk1.forwards.find((f) => f.nextNodeId === toHex(b.peers.nodeId)))
        assert.strictEqual(forward.feeEarnedMsat, fee, "LDK1 kept exactly its fee")
        assert.strictEqual(forward.outboundAmountMsat, amount)
        assert.strictEqual(forward.prevNodeId, toHex(o.peers.nodeId))
        const status = yield* b.payments.invoice(invoice.paymentHash)
        assert.strictEqual(status?.status, "paid")
      }), 60_000)

    it.effect("failures on O -> LDK1 -> B: LDK1's fee_insufficient attributed to hop 0, B's refusal to hop 1", () =>
      Effect.gen(function*() {
        const net = yield* Net
        const { o, b } = net
        const signedByB = (hint: ReturnType<typeof ldk1HintToB>["hint"], text: string) =>
          createBareInvoice({ amountMsat: msat(1_000_000n), description: { text }, routeHints: hint, features: [8, 14, 17] }).pipe(
            Effect.provide(Layer.mergeAll(SeededNodeSigner.layer(b.seed, secp), OsEntropy.layer)),
            Effect.orDie
          )

        // B's invoice claims LDK1 forwards for free: LDK1 refuses (fee_insufficient), O attributes
        // it to LDK1 (hop 0). LDK 0.1 puts no channel_update in the failure, so O has no other
        // policy to retry with and the only route is gone.
        const cheap = yield* signedByB(ldk1HintToB(net, { feeBaseMsat: 0, feeProportionalMillionths: 0 }).hint, "LDK1 for free")
        const tooCheap = yield* Effect.flip(o.payments.pay(cheap.invoice, { paymentId: "o-to-b-cheap" }))
        assert.strictEqual(tooCheap._tag === "PaymentFailed" ? tooCheap.reason : tooCheap._tag, "NoRouteLeft")
        assert.deepStrictEqual(attemptsOf(o, "o-to-b-cheap"), [[0, "fee_insufficient"]])

        // An invoice signed by B that B's payments never made: LDK1 forwards, B refuses
        // (incorrect_or_unknown_payment_details), O attributes it to B (hop 1) and stops at once.
        const unknown = yield* signedByB(ldk1HintToB(net).hint, "unknown to B")
        const refused = yield* Effect.flip(o.payments.pay(unknown.invoice, { paymentId: "o-to-b-refused" }))
        assert.strictEqual(refused._tag === "PaymentFailed" ? refused.reason : refused._tag, "RecipientRejected: incorrect_or_unknown_payment_details")
        assert.deepStrictEqual(attemptsOf(o, "o-to-b-refused"), [[1, "incorrect_or_unknown_payment_details"]])
      }), 60_000)

    it.effect("we forward between two LDK nodes both ways (LDK1 -> O -> LDK2, LDK2 -> O -> LDK1), keeping exactly our fee", () =>
      Effect.gen(function*() {
        const { ldk1, ldk2, o } = yield* Net
        const both = [ldk1, ldk2]
        for (const [payer, payee, amount] of [[ldk1, ldk2, 3_000_000n], [ldk2, ldk1, 1_700_000n]] as const) {
          const fee = feeOf(O_POLICY, amount)
          const hash = payer.payInvoice(payee.createInvoice(amount, "through O"))
          const sent = yield* waitFor("the payer's PaymentSent", both, () => ldkEvents(payer, "PaymentSent").find((e) => equalBytes(e.paymentHash, hash)))
          assert.strictEqual(sent.feePaidMsat, fee, "the LDK payer paid O's policy fee")
          const claimed = yield* waitFor("the payee's PaymentClaimed", both, () => ldkEvents(payee, "PaymentClaimed").find((e) => equalBytes(e.paymentHash, hash)))
          assert.strictEqual(claimed.amountMsat, amount)
          const forwarded = yield* waitFor("O's HtlcForwarded", both, () => o.paymentEvents.find((e) => e._tag === "HtlcForwarded" && equalBytes(e.paymentHash, hash)))
          assert.strictEqual(forwarded._tag === "HtlcForwarded" ? forwarded.feeMsat : -1n, fee, "O kept exactly its fee")
        }
      }), 60_000)

    it.effect("failures of LDK1's payments through O: LDK2's refusal attributed to LDK2, O's temporary_channel_failure to O's channel", () =>
      Effect.gen(function*() {
        const net = yield* Net
        const { ldk1, ldk2, o } = net
        const both = [ldk1, ldk2]
        ldk2.autoClaim = false
        const hash = ldk1.payInvoice(ldk2.createInvoice(1_000_000n, "refused"))
        yield* waitFor("LDK2's PaymentClaimable", both, () => ldkEvents(ldk2, "PaymentClaimable").find((e) => equalBytes(e.paymentHash, hash)))
        ldk2.failPayment(hash)
        yield* waitFor("LDK1's PaymentFailed", both, () => ldkEvents(ldk1, "PaymentFailed").find((e) => e.paymentHash !== undefined && equalBytes(e.paymentHash, hash)))
        const path = ldk1.pathFailures.find((f) => equalBytes(f.paymentHash, hash))
        assert.deepStrictEqual(path?.hops, [toHex(o.peers.nodeId), ldk2.nodeIdHex])
        assert.strictEqual(path?.permanently, true, "a payee's refusal is final")
        assert.strictEqual(path?.shortChannelId, undefined, "LDK1 blames no channel: the payee refused")
        // LDK1 decrypted the failure onion LDK2 built (wrapped by O) and names LDK2 as its origin.
        assert.include(ldk1.peer.logText("TRACE"), `Onion Error[from ${ldk2.nodeIdHex}: incorrect_or_unknown_payment_details(0x400f)]`)
        const failedBack = o.paymentEvents.find((e) => e._tag === "ForwardFailed" && equalBytes(e.paymentHash, hash))
        assert.isDefined(failedBack, "O failed the incoming HTLC back")
        ldk2.autoClaim = true

        // A payment O cannot forward (45,000 sat: LDK2 takes at most 10% of the 400,000-sat
        // channel in flight): O fails it with temporary_channel_failure (and its channel_update);
        // LDK1 attributes it to O and blames O's outgoing channel, and the failure is not final.
        const big = ldk1.payInvoice(ldk2.createInvoice(45_000_000n, "too big for O -> LDK2"))
        yield* waitFor("LDK1's PaymentFailed (too big)", both, () => ldkEvents(ldk1, "PaymentFailed").find((e) => e.paymentHash !== undefined && equalBytes(e.paymentHash, big)))
        const ourFailure = o.paymentEvents.find((e) => e._tag === "ForwardFailed" && equalBytes(e.paymentHash, big))
        assert.strictEqual(ourFailure?._tag === "ForwardFailed" ? ourFailure.failure : undefined, "temporary_channel_failure")
        const bigPath = ldk1.pathFailures.find((f) => equalBytes(f.paymentHash, big))
        assert.strictEqual(bigPath?.permanently, false, "a forwarder's temporary failure is not final")
        assert.strictEqual(bigPath?.shortChannelId, net.oLdk2.scid, "LDK1 blames O's channel to LDK2")
        assert.include(ldk1.peer.logText("TRACE"), `Onion Error[from ${toHex(o.peers.nodeId)}: temporary_channel_failure(0x1007)]`)
      }), 60_000)
  })
})
