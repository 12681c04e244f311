/**
 * `ChannelManager.claimPreimage` after the channel closed (BOLT 5: a node that "receives (or
 * already possesses) a payment preimage for an unresolved HTLC output that it has been offered"
 * MUST spend it with the HTLC-success transaction): on a
 * force-closed channel (phase `Failed`) the channel's `ClaimPreimage` persists the monitor's
 * `PaymentPreimage` update (after its `ForceClose`), sends nothing to the peer, and the call
 * succeeds once that write is durable; the preimage survives a restart. A channel closed
 * cooperatively has no HTLC left: the claim is refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Fiber, Scope } from "effect"
import { equalBytes } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { type ChannelId, msat } from "../../src/protocol/units.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { awaitEvent, connect, fakeFundingTx, openWhenConnected, startChannelNode, type TestNode } from "./ChannelManagerHarness.ts"

const onion = new Uint8Array(1366)

/** `openChannel`, retried until the manager has seen the connection. */
/** Opens and funds a channel from `a` to `b` and brings it to `channel_ready` on both sides. */
const openReadyChannel = (a: TestNode, b: TestNode) =>
  Effect.gen(function*() {
    const temporaryChannelId = yield* openWhenConnected(a, b, 1_000_000n)
    const needed = yield* awaitEvent(a, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
    yield* a.channels.fundChannel(temporaryChannelId, fakeFundingTx(needed.event.scriptPubKey, needed.event.amount))
    const channelId: ChannelId = (yield* awaitEvent(a, "ChannelPending")).event.channelId
    const watchA = yield* awaitEvent(a, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
    const watchB = yield* awaitEvent(b, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
    const scid = shortChannelIdFromParts(100, 1, watchA.event.outpoint.vout)
    yield* a.channels.chainFact(channelId, { _tag: "FundingDepth", depth: watchA.event.minimumDepth, shortChannelId: scid })
    yield* b.channels.chainFact(channelId, { _tag: "FundingDepth", depth: watchB.event.minimumDepth, shortChannelId: scid })
    yield* awaitEvent(a, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
    yield* awaitEvent(b, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
    return channelId
  })

const twoNodes = (net: MemoryNetwork, bobScope?: Scope.Scope) =>
  Effect.gen(function*() {
    const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
    const bob = bobScope === undefined
      ? yield* startChannelNode(net, "bob", "10.0.0.2")
      : yield* startChannelNode(net, "bob", "10.0.0.2").pipe(Scope.provide(bobScope))
    yield* connect(alice, bob)
    return { alice, bob }
  })

/** Alice adds an HTLC that Bob receives (irrevocably committed); its preimage is Bob's to learn. */
const receivedHtlc = (alice: TestNode, bob: TestNode, channelId: ChannelId, tag: string) =>
  Effect.gen(function*() {
    const preimage = sha256(new TextEncoder().encode(`claim-after-close/${tag}`))
    const paymentHash = sha256(preimage)
    yield* alice.channels.addHtlc(channelId, { amount: msat(50_000_000n), paymentHash, cltvExpiry: 800, onion })
    const received = yield* awaitEvent(bob, "HtlcReceived", (e) => equalBytes(e.paymentHash, paymentHash))
    return { preimage, paymentHash, htlcId: received.event.htlcId }
  })

const updateTags = (node: TestNode, channelId: ChannelId): ReadonlyArray<string> =>
  (node.persister.stored.get(Buffer.from(channelId).toString("hex"))?.updates ?? []).map((u) => u._tag)

describe("ChannelManager.claimPreimage after the channel closed", () => {
  it.live("force-closed (Failed): the monitor gets the preimage after its ForceClose, nothing goes to the peer, and a restart keeps it", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const bobScope = yield* Scope.make()
      const { alice, bob } = yield* twoNodes(net, bobScope)
      const channelId = yield* openReadyChannel(alice, bob)
      const { preimage, paymentHash, htlcId } = yield* receivedHtlc(alice, bob, channelId, "failed")

      yield* bob.channels.forceClose(channelId, "closing with an HTLC in flight")
      yield* awaitEvent(bob, "ChannelClosed", (e) => equalBytes(e.channelId, channelId))
      assert.strictEqual((yield* bob.channels.channel(channelId)).state._tag, "Failed")
      assert.strictEqual((yield* bob.channels.monitorState(channelId))?.closing._tag, "ForceClosed")
      const aliceEvents = alice.events.length

      // Persistence waits: the claim answers only once the preimage's write is durable.
      bob.persister.mode = "InProgress"
      const claim = yield* Effect.forkChild(bob.channels.claimPreimage(channelId, htlcId, preimage))
      for (let i = 0; i < 2000 && bob.persister.pending.length === 0; i++) yield* Effect.sleep("2 millis")
      assert.isTrue(bob.persister.pending.length > 0, "the PaymentPreimage write was issued")
      assert.isUndefined(claim.pollUnsafe(), "not answered before the write is durable")
      bob.persister.mode = "Completed"
      yield* bob.persister.completeAll()
      const exit = yield* Fiber.await(claim)
      assert.isTrue(Exit.isSuccess(exit), `the claim succeeds: ${String(exit)}`)

      const tags = updateTags(bob, channelId)
      assert.strictEqual(tags[tags.length - 1], "PaymentPreimage")
      assert.isTrue(tags.indexOf("ForceClose") < tags.lastIndexOf("PaymentPreimage"), "after the ForceClose")
      const monitor = yield* bob.channels.monitorState(channelId)
      assert.isTrue(monitor?.preimages.some((p) => equalBytes(p.paymentHash, paymentHash) && equalBytes(p.preimage, preimage)), "the monitor holds the preimage")
      assert.strictEqual((yield* bob.channels.channel(channelId)).state._tag, "Failed", "the channel stays failed")
      // Nothing to the peer: Alice's channel never hears of a fulfill.
      yield* Effect.sleep("20 millis")
      assert.isFalse(alice.events.slice(aliceEvents).some((e) => e.event._tag === "HtlcResolved"), "no update_fulfill_htlc reached Alice")

      // A restart keeps the preimage (the stored updates replay into the monitor).
      yield* Scope.close(bobScope, Exit.void)
      const bob2 = yield* startChannelNode(net, "bob", "10.0.0.2", { persister: bob.persister })
      const restored = yield* bob2.channels.monitorState(channelId)
      assert.isTrue(restored?.preimages.some((p) => equalBytes(p.preimage, preimage)), "the restarted monitor holds the preimage")
      // Claiming again is harmless (idempotent for the monitor).
      yield* bob2.channels.claimPreimage(channelId, htlcId, preimage)
      assert.strictEqual((yield* bob2.channels.monitorState(channelId))?.preimages.filter((p) => equalBytes(p.preimage, preimage)).length, 1)
    }), 60_000)

  it.live("still refused on a channel in normal operation for an HTLC it does not hold, and after a cooperative close", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob } = yield* twoNodes(net)
      const channelId = yield* openReadyChannel(alice, bob)
      const unknown = yield* Effect.flip(bob.channels.claimPreimage(channelId, 7n, sha256(new TextEncoder().encode("no such HTLC"))))
      assert.strictEqual(unknown._tag, "ChannelCommandRejected")

      yield* alice.channels.closeChannel(channelId)
      let phase = ""
      for (let i = 0; i < 2000 && phase !== "Closing" && phase !== "Closed"; i++) {
        phase = (yield* bob.channels.channel(channelId)).state._tag
        if (phase !== "Closing" && phase !== "Closed") yield* Effect.sleep("2 millis")
      }
      assert.include(["Closing", "Closed"], phase, "closed cooperatively")
      const before = updateTags(bob, channelId).length
      const refused = yield* Effect.flip(bob.channels.claimPreimage(channelId, 0n, sha256(new TextEncoder().encode("late"))))
      assert.strictEqual(refused._tag, "ChannelCommandRejected")
      assert.strictEqual(updateTags(bob, channelId).length, before, "nothing written")
    }), 60_000)
})
