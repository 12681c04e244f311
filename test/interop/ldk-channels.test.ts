/**
 * Channels with a real implementation: LDK (rust-lightning 0.1, `lightningdevkit` WASM) over
 * real TCP on 127.0.0.1, against our node (PeerManager over TCP, ChannelManager, the seed
 * channel signer, an in-memory persister). Both sides get the same chain facts: the test mines
 * the funding transaction into LDK's hand-driven chain and tells our manager its depth.
 *
 * What it shows (issue 7, "Interop with LDK"): opens in both directions, with
 * `static_remotekey` and with anchors, both sides `channel_ready`; HTLCs both ways with real
 * onions (we pay an LDK invoice over the direct channel; LDK pays ours; LDK's fulfill and its
 * fail are both handled); `update_fee` both ways; a disconnect in the middle of the commitment
 * dance, then reestablish; a cooperative close initiated by each side; LDK's force close is
 * noticed (its commitment spends the funding output). On a failure LDK's log is printed.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer, type Scope, Stream } from "effect"
import { make as makeChannelManager, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { createInvoice } from "../../src/invoices/createInvoice.ts"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import * as TcpTransport from "../../src/layers/node/TcpTransport.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import type { NegotiatedChannelType } from "../../src/protocol/channel/open.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { decodeInvoice } from "../../src/protocol/invoice/invoice.ts"
import { buildPaymentOnion, processPaymentOnion } from "../../src/protocol/onion/paymentOnion.ts"
import { ecdhWithSecret } from "../../src/protocol/onion/sphinx.ts"
import { decodeTransaction, txid as txidOf } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, type NodeId, sat } from "../../src/protocol/units.ts"
import { ChannelSigner } from "../../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../../src/services/MonitorPersister.ts"
import { makeMemoryPersister, payoutScript } from "../actors/ChannelManagerHarness.ts"
import { fundingTransaction } from "./ldk/fundingTx.ts"
import { type LdkEvent, LdkNode } from "./ldk/LdkNode.ts"

const HOST = "127.0.0.1"
const OUR_SEED = "ldk-channel-interop"
const secp = wasmSecp256k1

type OurEvent = NodeChannelEvent["event"]

/** Our node: TCP, OS randomness, a fixed node key, our default `init` features (anchors included). */
const startOurNode = () =>
  Effect.gen(function*() {
    const peers = yield* PeerManager.make({ listen: { host: HOST, port: 0 }, peer: { rejectChannels: false } }).pipe(
      Effect.provide(Layer.mergeAll(TcpTransport.layer(), OsEntropy.layer, SeededNodeSigner.layer(OUR_SEED, secp))),
      Effect.orDie
    )
    const persister = yield* makeMemoryPersister()
    const signer = makeSeedChannelSigner(sha256(new TextEncoder().encode(`${OUR_SEED}/channels`)), secp)
    const channels = yield* makeChannelManager({ secp, shutdownScript: payoutScript(OUR_SEED), feerateEstimatePerKw: 253 }).pipe(
      Effect.provideService(PeerManager.PeerManager, peers),
      Effect.provideService(ChannelSigner, signer),
      Effect.provideService(MonitorPersister, persister),
      Effect.provide(OsEntropy.layer),
      Effect.orDie
    )
    const events: Array<NodeChannelEvent> = []
    const stream = yield* channels.subscribe
    yield* Effect.forkScoped(stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e)))))
    return { peers, channels, events, persister }
  })

const startLdk = (anchors: boolean): Effect.Effect<LdkNode, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => LdkNode.start({ anchors })),
    (ldk, exit) =>
      Effect.promise(async () => {
        if (exit._tag === "Failure") process.stderr.write(`---- LDK log (${ldk.nodeIdHex}) ----\n${ldk.peer.logText("DEBUG")}\n`)
        await ldk.stop()
      })
  )

/** Polls `check` every 10 ms on the real clock (pumping LDK); dies with `what` after `timeoutMs`. */
const waitFor = <A>(what: string, ldk: LdkNode, check: () => A | undefined, timeoutMs = 10_000): Effect.Effect<A> =>
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

const ours = <T extends OurEvent["_tag"]>(events: ReadonlyArray<NodeChannelEvent>, tag: T, from = 0) =>
  events.slice(from).map((e) => e.event).find((e): e is Extract<OurEvent, { _tag: T }> => e._tag === tag)

const ldkEvent = <T extends LdkEvent["_tag"]>(ldk: LdkNode, tag: T, from = 0) =>
  ldk.events.slice(from).find((e): e is Extract<LdkEvent, { _tag: T }> => e._tag === tag)

const channelTypeOf = (anchors: boolean): NegotiatedChannelType => ({
  name: anchors ? "anchors_zero_fee_htlc_tx" : "static_remote_key",
  scidAlias: false,
  zeroConf: false
})

/** Connects, opens a channel (`opener` decides who funds), confirms it on both sides. */
const openChannel = (anchors: boolean, opener: "ours" | "ldk") =>
  Effect.gen(function*() {
    const ldk = yield* startLdk(anchors)
    const node = yield* startOurNode()
    const ldkId = ldk.nodeId as NodeId
    yield* node.peers.connect(ldkId, { host: HOST, port: ldk.port }).pipe(Effect.orDie)
    yield* waitFor("LDK to list us", ldk, () => ldk.peer.peer(toHex(node.peers.nodeId)))

    let fundingBytes: Uint8Array
    let channelId: ChannelId
    if (opener === "ldk") {
      ldk.openChannel(node.peers.nodeId, 200_000n, 50_000_000n)
      const needed = yield* waitFor("LDK FundingGenerationReady", ldk, () => ldkEvent(ldk, "FundingGenerationReady"))
      const funding = fundingTransaction(needed.outputScript, needed.amountSat)
      fundingBytes = funding.bytes
      ldk.fundChannel(needed.temporaryChannelId, node.peers.nodeId, funding.bytes)
      yield* waitFor("LDK ChannelPending", ldk, () => ldkEvent(ldk, "ChannelPending"))
      const pending = yield* waitFor("our ChannelPending", ldk, () => ours(node.events, "ChannelPending"))
      channelId = pending.channelId
      assert.isTrue(ldk.broadcasts.some((t) => equalBytes(t, funding.bytes)), "LDK broadcasts its funding tx")
    } else {
      const temporary = yield* node.channels.openChannel(ldkId, sat(200_000n), {
        pushAmount: msat(50_000_000n),
        channelType: channelTypeOf(anchors)
      }).pipe(Effect.orDie)
      const needed = yield* waitFor("our FundingNeeded", ldk, () => ours(node.events, "FundingNeeded"))
      assert.isTrue(equalBytes(needed.temporaryChannelId, temporary))
      const funding = fundingTransaction(needed.scriptPubKey, needed.amount)
      fundingBytes = funding.bytes
      yield* node.channels.fundChannel(temporary, funding.bytes).pipe(Effect.orDie)
      const pending = yield* waitFor("our ChannelPending", ldk, () => ours(node.events, "ChannelPending"))
      channelId = pending.channelId
      const broadcast = yield* waitFor("our funding Broadcast", ldk, () => ours(node.events, "Broadcast"))
      assert.isTrue(equalBytes(broadcast.tx, funding.bytes), "we broadcast the funding tx after funding_signed")
      yield* waitFor("LDK ChannelPending", ldk, () => ldkEvent(ldk, "ChannelPending"))
    }
    // Both sides see the funding confirmed at the same height (LDK puts it at tx index 1).
    const height = ldk.mine([fundingBytes], 5)
    const scid = shortChannelIdFromParts(height, 1, fundingOutputIndex(fundingBytes))
    yield* node.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }).pipe(Effect.orDie)
    yield* waitFor("LDK ChannelReady", ldk, () => ldkEvent(ldk, "ChannelReady"))
    yield* waitFor("our ChannelReady", ldk, () => ours(node.events, "ChannelReady"))
    yield* waitFor("LDK's channel usable", ldk, () => ldk.listChannels().find((c) => c.get_is_usable()))
    const ldkChannel = ldk.listChannels()[0]
    assert.isDefined(ldkChannel)
    assert.strictEqual(toHex(ldkChannel?.get_channel_id().get_a() ?? new Uint8Array()), toHex(channelId), "same channel id on both sides")
    assert.strictEqual(Boolean(ldkChannel?.get_channel_type().supports_anchors_zero_fee_htlc_tx()), anchors)
    return { ldk, node, channelId, ldkId, fundingBytes }
  })

/** The funding output is the first output in these tests (one input, one output). */
const fundingOutputIndex = (_tx: Uint8Array): number => 0

type Setup = Effect.Success<ReturnType<typeof openChannel>>

/** The feerate of both our commitments (ours and theirs), once they agree. */
const committedFeerate = (s: Setup) =>
  s.node.channels.channel(s.channelId).pipe(
    Effect.orDie,
    Effect.map((info) =>
      info.state._tag === "Normal" &&
        info.state.commitments.localCommit.spec.feeratePerKw === info.state.commitments.remoteCommit.spec.feeratePerKw
        ? info.state.commitments.localCommit.spec.feeratePerKw
        : undefined
    )
  )

/** Waits until both our commitments carry `feerate` (the update is signed and revoked both ways). */
const awaitFeerate = (s: Setup, feerate: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      s.ldk.pump()
      if ((yield* committedFeerate(s)) === feerate) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`both commitments never reached feerate ${feerate}`))
  })

/** We pay an invoice of LDK's over the direct channel with a real one-hop onion. Returns the HTLC id. */
const payLdkInvoice = (s: Setup, amountMsat: bigint) =>
  Effect.gen(function*() {
    const invoice = s.ldk.createInvoice(amountMsat)
    const decoded = decodeInvoice(invoice, secp)
    if (decoded._tag === "Failure") return yield* Effect.die(decoded.failure)
    const inv = decoded.success
    assert.isTrue(equalBytes(inv.payee, s.ldk.nodeId))
    const cltvExpiry = s.ldk.height + inv.minFinalCltvExpiryDelta + 12
    const onion = buildPaymentOnion(secp, sha256(new TextEncoder().encode(`session/${toHex(inv.paymentHash)}`)), [{
      publicKey: s.ldk.nodeId,
      payload: { amtToForward: msat(amountMsat), outgoingCltvValue: cltvExpiry, paymentData: { paymentSecret: inv.paymentSecret, totalMsat: msat(amountMsat) } }
    }], inv.paymentHash)
    if (onion._tag === "Failure") return yield* Effect.die(onion.failure)
    const htlcId = yield* s.node.channels.addHtlc(s.channelId, {
      amount: msat(amountMsat),
      paymentHash: inv.paymentHash,
      cltvExpiry,
      onion: onion.success.onion
    }).pipe(Effect.orDie)
    return { htlcId, paymentHash: inv.paymentHash }
  })

/** LDK pays an invoice of ours; we check the onion and fulfill. */
const ldkPaysUs = (s: Setup, amountMsat: bigint) =>
  Effect.gen(function*() {
    const from = s.node.events.length
    const created = yield* createInvoice({ amountMsat: msat(amountMsat), description: { text: "interop" } }).pipe(
      Effect.provide(Layer.mergeAll(SeededNodeSigner.layer(OUR_SEED, secp), OsEntropy.layer)),
      Effect.orDie
    )
    const hash = s.ldk.payInvoice(created.invoice)
    assert.isTrue(equalBytes(hash, created.paymentHash))
    const received = yield* waitFor("our HtlcReceived", s.ldk, () => ours(s.node.events, "HtlcReceived", from)).pipe(
      Effect.tapDefect(() => Effect.sync(() => console.error("LDK events:", JSON.stringify(s.ldk.events.map((e) => e._tag)), "ours:", JSON.stringify(s.node.events.map((e) => e.event._tag)))))
    )
    assert.strictEqual(received.amount, amountMsat)
    const processed = processPaymentOnion(secp, ecdhWithSecret(secp, secretFromSeed(OUR_SEED, secp)), {
      onion: received.onion,
      paymentHash: received.paymentHash,
      amountMsat: received.amount,
      cltvExpiry: received.cltvExpiry
    })
    if (processed._tag === "Failure") return yield* Effect.die(processed.failure)
    const payload = processed.success
    assert.strictEqual(payload._tag, "Receive")
    if (payload._tag !== "Receive") return
    assert.isTrue(equalBytes(payload.paymentSecret ?? new Uint8Array(), created.paymentSecret), "LDK sent our payment secret")
    if (created.preimage === undefined) return yield* Effect.die(new Error("no preimage"))
    yield* s.node.channels.fulfillHtlc(s.channelId, received.htlcId, created.preimage).pipe(Effect.orDie)
    const sent = yield* waitFor("LDK PaymentSent", s.ldk, () => ldkEvent(s.ldk, "PaymentSent"))
    assert.isTrue(equalBytes(sent.preimage, created.preimage))
  })

describe("channels with LDK", () => {
  for (const anchors of [false, true]) {
    for (const opener of ["ldk", "ours"] as const) {
      it.live(`${opener === "ours" ? "we open to LDK" : "LDK opens to us"} (${anchors ? "anchors" : "static_remotekey"}): ready, HTLCs both ways, cooperative close`, () =>
        Effect.gen(function*() {
          const s = yield* openChannel(anchors, opener)

          // We pay LDK's invoice: LDK claims it, we learn the preimage.
          const paid = yield* payLdkInvoice(s, 3_000_000n)
          const resolved = yield* waitFor("our HtlcResolved (fulfilled)", s.ldk, () => ours(s.node.events, "HtlcResolved"))
          assert.strictEqual(resolved.htlcId, paid.htlcId)
          assert.strictEqual(resolved.result._tag, "Fulfilled")
          if (resolved.result._tag === "Fulfilled") assert.isTrue(equalBytes(sha256(resolved.result.preimage), paid.paymentHash))
          yield* waitFor("LDK PaymentClaimed", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimed"))

          // LDK pays ours.
          yield* ldkPaysUs(s, 2_000_000n)

          // A cooperative close, initiated by the side that did not open.
          if (opener === "ldk") {
            yield* s.node.channels.closeChannel(s.channelId).pipe(Effect.orDie)
          } else {
            s.ldk.closeChannel(s.channelId, s.node.peers.nodeId)
          }
          yield* waitFor("LDK ChannelClosed", s.ldk, () => ldkEvent(s.ldk, "ChannelClosed"), 20_000)
          const ourClose = yield* waitFor("our mutual-close Broadcast", s.ldk, () =>
            s.node.events.map((e) => e.event).find((e) => e._tag === "Broadcast" && e.label === "mutual-close"))
          assert.strictEqual(ourClose._tag, "Broadcast")
          // LDK broadcast the same closing transaction (both sides hold it fully signed).
          if (ourClose._tag === "Broadcast") {
            const ourTxid = ourClose.tx
            assert.isTrue(s.ldk.broadcasts.some((t) => equalBytes(t, ourTxid)), "LDK broadcast the same closing tx")
          }
        }).pipe(Effect.scoped), 60_000)
    }
  }

  it.live("LDK fails our HTLC; update_fee both ways; disconnect mid-dance then reestablish", () =>
    Effect.gen(function*() {
      const s = yield* openChannel(false, "ours")
      // LDK fails the HTLC back instead of claiming it.
      s.ldk.autoClaim = false
      const from = s.node.events.length
      const paid = yield* payLdkInvoice(s, 1_000_000n)
      const claimable = yield* waitFor("LDK PaymentClaimable", s.ldk, () => ldkEvent(s.ldk, "PaymentClaimable"))
      s.ldk.failPayment(claimable.paymentHash)
      const failed = yield* waitFor("our HtlcResolved (failed)", s.ldk, () => ours(s.node.events, "HtlcResolved", from))
      assert.strictEqual(failed.htlcId, paid.htlcId)
      assert.strictEqual(failed.result._tag, "Failed")
      s.ldk.autoClaim = true

      // update_fee from us (we are the funder): LDK accepts it and the channel keeps working.
      yield* s.node.channels.updateFee(s.channelId, 1_000).pipe(Effect.orDie)
      yield* awaitFeerate(s, 1_000)
      yield* ldkPaysUs(s, 5_000_000n) // above LDK's dust-exposure minimum at this feerate

      // Disconnect right after adding an HTLC (the dance is under way), then reconnect.
      const before = s.node.events.length
      const mid = yield* payLdkInvoice(s, 700_000n)
      s.ldk.peer.disconnect(s.node.peers.nodeId)
      yield* waitFor("the disconnect seen by us", s.ldk, () => undefined === s.ldk.peer.peer(toHex(s.node.peers.nodeId)) ? true : undefined)
      yield* Effect.sleep("50 millis")
      yield* s.node.peers.connect(s.ldkId, { host: HOST, port: s.ldk.port }).pipe(Effect.orDie)
      const done = yield* waitFor("the HTLC resolved after reestablish", s.ldk, () => ours(s.node.events, "HtlcResolved", before), 20_000)
      assert.strictEqual(done.htlcId, mid.htlcId)
      assert.strictEqual(done.result._tag, "Fulfilled")
    }).pipe(Effect.scoped), 60_000)

  it.live("LDK as funder sends update_fee; LDK's force close is noticed", () =>
    Effect.gen(function*() {
      const s = yield* openChannel(false, "ldk")
      s.ldk.feeratePerKw = 2_000
      s.ldk.timerTick()
      yield* awaitFeerate(s, 2_000)
      // The channel works at the new feerate.
      yield* ldkPaysUs(s, 1_000_000n)

      // LDK force-closes: it broadcasts its commitment; the chain tells us the funding is spent.
      s.ldk.forceClose(s.channelId, s.node.peers.nodeId)
      const commitment = yield* waitFor("LDK's commitment broadcast", s.ldk, () =>
        s.ldk.broadcasts.find((t) => !equalBytes(t, s.fundingBytes)))
      yield* s.node.channels.chainFact(s.channelId, { _tag: "FundingSpent", txid: txidOf(decodeOrDie(commitment)) }).pipe(Effect.orDie)
      const closed = yield* waitFor("our ChannelClosed", s.ldk, () => ours(s.node.events, "ChannelClosed"))
      // LDK sends an `error` as it force-closes: our channel fails on it (BOLT 1), or, if the
      // chain fact comes first, sees the remote commitment.
      assert.include(["RemoteForceClose", "ProtocolError"], closed.reason._tag)
      if (closed.reason._tag === "ProtocolError") assert.isTrue(closed.reason.sentByPeer)
      // Either way the spend of the funding output by LDK's commitment ends the channel.
      const final = yield* Effect.gen(function*() {
        for (let i = 0; i < 500; i++) {
          const info = yield* s.node.channels.channel(s.channelId).pipe(Effect.orDie)
          if (info.phase === "Closed") return info
          yield* Effect.sleep("10 millis")
        }
        return yield* Effect.die(new Error("our channel never reached Closed after LDK's commitment spent the funding"))
      })
      assert.strictEqual(final.phase, "Closed")
    }).pipe(Effect.scoped), 60_000)
})

const decodeOrDie = (bytes: Uint8Array) => {
  const r = decodeTransaction(bytes)
  if (r._tag === "Failure") throw new Error("LDK broadcast an undecodable transaction")
  return r.success
}
