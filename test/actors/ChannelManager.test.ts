/**
 * Two of our nodes in one process over the memory transport, each with a ChannelManager: open,
 * fund (a fake funding transaction), `channel_ready` from chain facts fed by the test, HTLCs
 * both ways (fulfilled and failed), late persistence, restart from the store, cooperative close.
 */
import type { ChannelState } from "../../src/protocol/channel/state.ts"
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Result, Schema, Scope } from "effect"
import { equalBytes } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { ChannelRecordSchema, decodeChannelRecord } from "../../src/actors/ChannelManager.ts"
import { channelStateJson, declareFreeWrites, type MonitorPersisterShape, writeNowOf } from "../../src/services/MonitorPersister.ts"
import { makeMemoryPersister as makeLayerMemoryPersister } from "../../src/layers/persister/MemoryPersister.ts"
import type { MonitorState } from "../../src/protocol/monitor/state.ts"
import { decodeTransaction, txid } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat } from "../../src/protocol/units.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { makeReplicatedPersister } from "../../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../../src/layers/persister/StoreReplica.ts"
import { makeMemoryStore, makeMemoryStoreData } from "../../src/layers/store/MemoryStore.ts"
import { awaitEvent, connect, eventually, fakeFundingTx, makeMemoryPersister, openWhenConnected, startChannelNode, type TestNode } from "./ChannelManagerHarness.ts"

const text = (s: string) => new TextEncoder().encode(s)
const onion = new Uint8Array(1366)

/** `openChannel`, retried until the manager has seen the connection (it learns of it from the session stream). */
/** Opens and funds a channel from `a` to `b` and brings it to `channel_ready` on both sides. */
const openReadyChannel = (a: TestNode, b: TestNode, amount = 1_000_000n) =>
  Effect.gen(function*() {
    const temporaryChannelId = yield* openWhenConnected(a, b, amount)
    const needed = yield* awaitEvent(a, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
    const tx = fakeFundingTx(needed.event.scriptPubKey, needed.event.amount)
    yield* a.channels.fundChannel(temporaryChannelId, tx)
    const pendingA = yield* awaitEvent(a, "ChannelPending")
    const channelId: ChannelId = pendingA.event.channelId
    yield* awaitEvent(b, "ChannelPending", (e) => equalBytes(e.channelId, channelId))
    const broadcast = yield* awaitEvent(a, "Broadcast", (e) => e.label === "funding")
    const decoded = decodeTransaction(broadcast.event.tx)
    assert.isTrue(Result.isSuccess(decoded) && equalBytes(txid(decoded.success), txid(tx)))
    const watchA = yield* awaitEvent(a, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
    const watchB = yield* awaitEvent(b, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
    // The simulated chain: the funding transaction confirms at the depth each side asked for.
    const scid = shortChannelIdFromParts(100, 1, watchA.event.outpoint.vout)
    yield* a.channels.chainFact(channelId, { _tag: "FundingDepth", depth: watchA.event.minimumDepth, shortChannelId: scid })
    yield* b.channels.chainFact(channelId, { _tag: "FundingDepth", depth: watchB.event.minimumDepth, shortChannelId: scid })
    yield* awaitEvent(a, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
    yield* awaitEvent(b, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
    return { channelId, fundingTx: tx }
  })

/** `payer` adds an HTLC, the payee settles it (fulfill or fail); returns the payer's resolution. */
const payment = (payer: TestNode, payee: TestNode, channelId: ChannelId, tag: string, settle: "fulfill" | "fail", amountMsat = 50_000_000n) =>
  Effect.gen(function*() {
    const preimage = sha256(text(`preimage/${tag}`))
    const paymentHash = sha256(preimage)
    const from = payee.events.length
    const htlcId = yield* payer.channels.addHtlc(channelId, { amount: msat(amountMsat), paymentHash, cltvExpiry: 800, onion })
    const received = yield* awaitEvent(payee, "HtlcReceived", (e) => equalBytes(e.paymentHash, paymentHash), from)
    if (settle === "fulfill") yield* payee.channels.fulfillHtlc(channelId, received.event.htlcId, preimage)
    else yield* payee.channels.failHtlc(channelId, received.event.htlcId, text("no thanks"))
    const resolved = yield* awaitEvent(payer, "HtlcResolved", (e) => e.htlcId === htlcId)
    return { preimage, result: resolved.event.result }
  })

/** Waits until both ends agree on both commitments (the commitment dance has settled). */
const settled = (a: TestNode, b: TestNode, channelId: ChannelId) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      const [x, y] = [(yield* a.channels.channel(channelId)).state, (yield* b.channels.channel(channelId)).state]
      if (x._tag === "Normal" && y._tag === "Normal") {
        const cx = x.commitments
        const cy = y.commitments
        const same = (p: unknown, q: unknown) => JSON.stringify(p, (_, v) => (typeof v === "bigint" ? v.toString() : v)) === JSON.stringify(q, (_, v) => (typeof v === "bigint" ? v.toString() : v))
        if (same(cx.localCommit.spec, cy.remoteCommit.spec) && same(cy.localCommit.spec, cx.remoteCommit.spec) && cx.localCommit.spec.htlcs.length === 0) {
          return { alice: x, bob: y }
        }
      }
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(new Error("the two ends never agreed"))
  })

/** The channel as listed once nothing it produced waits for a write (not `paused`). */
const untilDurable = (node: TestNode, channelId: ChannelId) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      const info = yield* node.channels.channel(channelId)
      if (!info.paused) return info
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(new Error("the channel stayed paused"))
  })

/** Until the channel is connected again (`channel_reestablish` exchanged): an HTLC added before is refused. */
const untilReestablished = (node: TestNode, channelId: ChannelId) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      const { state } = yield* node.channels.channel(channelId)
      if ("connection" in state && state.connection === "Connected") return
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(new Error("the channel never reconnected"))
  })

const twoNodes = (net: MemoryNetwork) =>
  Effect.gen(function*() {
    const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
    const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
    yield* connect(alice, bob)
    return { alice, bob }
  })

/**
 * A state without its connection: a restart brings the stored state back, except that the
 * previous run's connection is over (and the peer may already be reconnecting).
 */
const asDisconnected = (state: ChannelState): ChannelState =>
  "connection" in state ? { ...state, connection: "Disconnected" } : state

describe("ChannelManager, two nodes", () => {
  it.live("open, fund, channel_ready, HTLCs both ways, cooperative close", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob } = yield* twoNodes(net)
      const { channelId } = yield* openReadyChannel(alice, bob)

      const listed = yield* alice.channels.listChannels
      assert.deepStrictEqual(listed.map((c) => c.phase), ["Normal"])

      const ab = yield* payment(alice, bob, channelId, "a->b", "fulfill")
      assert.isTrue(ab.result._tag === "Fulfilled" && equalBytes(ab.result.preimage, ab.preimage))
      // Bob now has 50,000 sat, his reserve is 10,000 sat (1%).
      const ba = yield* payment(bob, alice, channelId, "b->a", "fulfill", 20_000_000n)
      assert.strictEqual(ba.result._tag, "Fulfilled")
      const failed = yield* payment(alice, bob, channelId, "a->b failed", "fail")
      assert.strictEqual(failed.result._tag, "Failed")

      // Settled: both ends agree, and the balances moved by exactly the fulfilled amounts.
      const { alice: a, bob: b } = yield* settled(alice, bob, channelId)
      assert.strictEqual(a.commitments.localCommit.spec.toLocal, msat(970_000_000n))
      assert.strictEqual(a.commitments.localCommit.spec.toRemote, msat(30_000_000n))
      assert.strictEqual(b.commitments.localCommit.spec.toLocal, msat(30_000_000n))

      // The monitors followed: both have the latest commitments.
      const monitorA = yield* alice.channels.monitorState(channelId)
      const monitorB = yield* bob.channels.monitorState(channelId)
      assert.isDefined(monitorA)
      assert.isDefined(monitorB)
      assert.isTrue((monitorA?.holderCommitment.commitmentNumber ?? 0n) > 0n)

      yield* alice.channels.closeChannel(channelId)
      const closing = yield* awaitEvent(alice, "Broadcast", (e) => e.label === "mutual-close")
      const closingTx = decodeTransaction(closing.event.tx)
      if (Result.isFailure(closingTx)) return assert.fail("closing tx must decode")
      const closingTxid = txid(closingTx.success)
      yield* alice.channels.chainFact(channelId, { _tag: "FundingSpent", txid: closingTxid })
      yield* bob.channels.chainFact(channelId, { _tag: "FundingSpent", txid: closingTxid })
      const closedA = yield* awaitEvent(alice, "ChannelClosed")
      const closedB = yield* awaitEvent(bob, "ChannelClosed")
      assert.strictEqual(closedA.event.reason._tag, "Cooperative")
      assert.strictEqual(closedB.event.reason._tag, "Cooperative")
    }), 60_000)

  it.live("persistence that completes late (and out of order) holds the messages, then the payment completes", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob } = yield* twoNodes(net)
      const { channelId } = yield* openReadyChannel(alice, bob)
      bob.persister.mode = "InProgress"
      const preimage = sha256(text("late"))
      const paymentHash = sha256(preimage)
      yield* alice.channels.addHtlc(channelId, { amount: msat(5_000_000n), paymentHash, cltvExpiry: 800, onion })
      // Bob stores his new commitment but the write is in progress: his revoke_and_ack waits.
      yield* eventually("bob's write in progress", () => (bob.persister.pending.length > 0 ? true : undefined))
      const info = yield* bob.channels.channel(channelId)
      assert.isTrue(info.paused)
      yield* Effect.sleep("50 millis")
      assert.isUndefined(bob.events.find((e) => e.event._tag === "HtlcReceived"))
      bob.persister.mode = "Completed"
      yield* bob.persister.completeAll((p) => [...p].reverse())
      const received = yield* awaitEvent(bob, "HtlcReceived", (e) => equalBytes(e.paymentHash, paymentHash))
      yield* bob.channels.fulfillHtlc(channelId, received.event.htlcId, preimage)
      const resolved = yield* awaitEvent(alice, "HtlcResolved")
      assert.strictEqual(resolved.event.result._tag, "Fulfilled")
    }), 60_000)

  it.live("a node restarted from its store has the same channel state and resumes with channel_reestablish", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      const aliceScope = yield* Scope.make()
      const persister = yield* makeMemoryPersister()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1", { persister }).pipe(Scope.provide(aliceScope))
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob)
      yield* payment(alice, bob, channelId, "before restart", "fulfill")
      // The dance settled and every update is written (a channel groups its writes: until its
      // next write, `paused` says some updates are not durable yet).
      yield* settled(alice, bob, channelId)
      const before = yield* untilDurable(alice, channelId)
      yield* Scope.close(aliceScope, Exit.void)

      // The store holds the state written with the last update: the one the channel had.
      const stored = persister.stored.values().next().value
      if (stored === undefined) return assert.fail("alice's store is empty")
      const record = decodeChannelRecord(stored.channelState)
      if (Result.isFailure(record)) return assert.fail("record must decode")

      const alice2 = yield* startChannelNode(net, "alice", "10.0.0.1", { persister })
      const after = yield* alice2.channels.channel(channelId)
      // Restored as it was stored, except that the connection of the previous run is gone.
      assert.deepStrictEqual(asDisconnected(after.state), asDisconnected(record.success.channel))
      assert.strictEqual(after.phase, before.phase)
      if (after.state._tag === "Normal" && before.state._tag === "Normal") {
        assert.deepStrictEqual(after.state.commitments, before.state.commitments)
      }
      const monitor = yield* alice2.channels.monitorState(channelId)
      assert.strictEqual(monitor?.latestUpdateId, stored.updates[stored.updates.length - 1]?.updateId)

      yield* connect(alice2, bob)
      yield* untilReestablished(alice2, channelId)
      const again = yield* payment(alice2, bob, channelId, "after restart", "fulfill")
      assert.strictEqual(again.result._tag, "Fulfilled")
    }), 60_000)

  it.live("a disconnection while a write is in progress: held messages are dropped, reestablish retransmits, the payment completes", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob } = yield* twoNodes(net)
      const { channelId } = yield* openReadyChannel(alice, bob)
      bob.persister.mode = "InProgress"
      const preimage = sha256(text("disconnected"))
      const paymentHash = sha256(preimage)
      const htlcId = yield* alice.channels.addHtlc(channelId, { amount: msat(5_000_000n), paymentHash, cltvExpiry: 800, onion })
      yield* eventually("bob's write in progress", () => (bob.persister.pending.length > 0 ? true : undefined))
      yield* alice.peers.disconnect(bob.peers.nodeId)
      for (let i = 0; i < 500; i++) {
        const b = yield* bob.channels.channel(channelId)
        if (b.state._tag === "Normal" && b.state.connection === "Disconnected") break
        yield* Effect.sleep("2 millis")
      }
      // The write completes after the connection it was for is gone: what it held is stale.
      bob.persister.mode = "Completed"
      yield* bob.persister.completeAll()
      yield* connect(alice, bob)
      const received = yield* awaitEvent(bob, "HtlcReceived", (e) => equalBytes(e.paymentHash, paymentHash))
      yield* bob.channels.fulfillHtlc(channelId, received.event.htlcId, preimage)
      const resolved = yield* awaitEvent(alice, "HtlcResolved", (e) => e.htlcId === htlcId)
      assert.strictEqual(resolved.event.result._tag, "Fulfilled")
      // Once the dance settles both ends agree on both commitments, with the HTLC gone.
      yield* settled(alice, bob, channelId)
    }), 60_000)

  it.live("an open_channel the peer refuses ends our channel attempt (error for the temporary id)", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob } = yield* twoNodes(net)
      // Below bob's minimum funding (10,000 sat by default policy).
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 5_000n)
      const closed = yield* awaitEvent(alice, "ChannelClosed", (e) => equalBytes(e.channelId, temporaryChannelId))
      assert.include(["FundingAborted", "ProtocolError"], closed.event.reason._tag)
      assert.deepStrictEqual((yield* bob.channels.listChannels).length, 0)
    }), 60_000)

  it.live("update_fee from the funder, then a force close: the monitor is told, the peer gets an error", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob } = yield* twoNodes(net)
      const { channelId } = yield* openReadyChannel(alice, bob)
      yield* alice.channels.updateFee(channelId, 3000)
      for (let i = 0; i < 2000; i++) {
        const b = (yield* bob.channels.channel(channelId)).state
        if (b._tag === "Normal" && b.commitments.localCommit.spec.feeratePerKw === 3000 && b.commitments.remoteCommit.spec.feeratePerKw === 3000) break
        yield* Effect.sleep("2 millis")
      }
      const b = (yield* bob.channels.channel(channelId)).state
      assert.isTrue(b._tag === "Normal" && b.commitments.localCommit.spec.feeratePerKw === 3000)
      // The fundee may not send update_fee: the command is refused with its typed error.
      const refused = yield* Effect.flip(bob.channels.updateFee(channelId, 4000))
      assert.strictEqual(refused._tag, "ChannelCommandRejected")

      yield* alice.channels.forceClose(channelId, "test")
      const closed = yield* awaitEvent(alice, "ChannelClosed", (e) => equalBytes(e.channelId, channelId))
      assert.strictEqual(closed.event.reason._tag, "LocalForceClose")
      const monitor = yield* alice.channels.monitorState(channelId)
      assert.strictEqual(monitor?.closing._tag, "ForceClosed")
      const remote = yield* awaitEvent(bob, "ChannelClosed", (e) => equalBytes(e.channelId, channelId))
      assert.strictEqual(remote.event.reason._tag, "ProtocolError")
    }), 60_000)

  it.live("over the local persister and a Store: a restart rebuilds the channel and its monitor from the stored bytes", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      const data = makeMemoryStoreData()
      const localPersister = makeReplicatedPersister({ replicas: [makeStoreReplica(makeMemoryStore(data).store)], quorum: 1 })
      const aliceScope = yield* Scope.make()
      const alice = yield* Effect.gen(function*() {
        return yield* startChannelNode(net, "alice", "10.0.0.1", { monitorPersister: yield* localPersister })
      }).pipe(Scope.provide(aliceScope))
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob)
      yield* payment(alice, bob, channelId, "stored", "fulfill")
      yield* settled(alice, bob, channelId)
      // Quiet is not stored: the last grouped write may still be on its way to the store.
      let before = yield* alice.channels.channel(channelId)
      for (let i = 0; i < 500 && before.paused; i++) {
        yield* Effect.sleep("10 millis")
        before = yield* alice.channels.channel(channelId)
      }
      assert.isFalse(before.paused)
      const monitorBefore = yield* alice.channels.monitorState(channelId)
      yield* Scope.close(aliceScope, Exit.void)

      const alice2 = yield* startChannelNode(net, "alice", "10.0.0.1", { monitorPersister: yield* localPersister })
      const after = yield* alice2.channels.channel(channelId)
      assert.deepStrictEqual(asDisconnected(after.state), asDisconnected(before.state))
      assert.deepStrictEqual(yield* alice2.channels.monitorState(channelId), monitorBefore)
      yield* connect(alice2, bob)
      yield* untilReestablished(alice2, channelId)
      const again = yield* payment(alice2, bob, channelId, "stored, after restart", "fulfill")
      assert.strictEqual(again.result._tag, "Fulfilled")
    }), 60_000)

  it.live("every record written (hand-written encoders) is the record's plain Schema encoding; writes are grouped per channel", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const inner = yield* makeMemoryPersister()
      const written: Array<{ readonly updates: number; readonly record: Schema.Json }> = []
      const recording: MonitorPersisterShape = {
        ...inner,
        persist: (channelId, updates, channelState) =>
          Effect.suspend(() => {
            written.push({ updates: updates.length, record: channelStateJson(channelState) })
            return inner.persist(channelId, updates, channelState)
          })
      }
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1", { persister: inner, monitorPersister: recording })
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob)
      yield* payment(alice, bob, channelId, "one", "fulfill")
      yield* payment(alice, bob, channelId, "two", "fail")
      // Several at once: HTLCs in every update list, batched commitments.
      yield* Effect.forEach(["a", "b", "c", "d"], (tag) => payment(alice, bob, channelId, `batch ${tag}`, "fulfill"), { concurrency: "unbounded" })
      yield* settled(alice, bob, channelId)
      yield* alice.channels.updateFee(channelId, 3000)
      yield* settled(alice, bob, channelId)
      assert.isAbove(written.length, 10)
      const plain = Schema.encodeSync(ChannelRecordSchema)
      const normal = (j: unknown): unknown => JSON.parse(JSON.stringify(j))
      for (const w of written) {
        const decoded = decodeChannelRecord(w.record)
        assert.isTrue(Result.isSuccess(decoded))
        if (Result.isFailure(decoded)) return
        assert.deepStrictEqual(normal(w.record), normal(plain(decoded.success)))
      }
      // Grouping: at least one write carried several updates (a step or a drained mailbox). A write without updates is
      // the state alone at a milestone (our channel_ready sent, then Normal): at most two for this one channel.
      assert.isTrue(written.some((w) => w.updates > 1))
      assert.isAtMost(written.filter((w) => w.updates === 0).length, 2)
    }), 60_000)

  it.live("a write done at once: its record is the plain Schema encoding, its monitor state after (asked during the write only) is the monitor's next state", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const inner = (yield* makeLayerMemoryPersister({ mode: "immediate" })).persister
      const innerNow = writeNowOf(inner)
      if (innerNow === undefined) return assert.fail("the memory persister writes at once")
      const seen: Array<{ readonly last: bigint | undefined; readonly after: MonitorState | undefined; readonly again: MonitorState | undefined; readonly ask: (() => MonitorState | undefined) | undefined; readonly record: Schema.Json }> = []
      const writer: MonitorPersisterShape = { ...inner }
      declareFreeWrites(writer, () => true, (channelId, updates, channelState, monitorAfter) => {
        // Asked on every write (a persister asks when it compacts): twice, the same state.
        seen.push({ last: updates.at(-1)?.updateId, after: monitorAfter?.(), again: monitorAfter?.(), ask: monitorAfter, record: channelStateJson(channelState) })
        return innerNow(channelId, updates, channelState, monitorAfter)
      })
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1", { monitorPersister: writer })
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob)
      yield* payment(alice, bob, channelId, "one", "fulfill")
      yield* Effect.forEach(["a", "b", "c"], (tag) => payment(alice, bob, channelId, `at once ${tag}`, "fulfill"), { concurrency: "unbounded" })
      yield* settled(alice, bob, channelId)
      assert.isAbove(seen.length, 10)
      const plain = Schema.encodeSync(ChannelRecordSchema)
      const normal = (j: unknown): unknown => JSON.parse(JSON.stringify(j))
      for (const w of seen) {
        assert.strictEqual(w.again, w.after)
        if (w.last !== undefined && w.after !== undefined) assert.strictEqual(w.after.latestUpdateId, w.last)
        // Asked after the write: no answer (the persister would fold its log itself).
        assert.strictEqual(w.ask?.(), undefined)
        const decoded = decodeChannelRecord(w.record)
        assert.isTrue(Result.isSuccess(decoded))
        if (Result.isSuccess(decoded)) assert.deepStrictEqual(normal(w.record), normal(plain(decoded.success)))
      }
      // The last write's state is the monitor's own (kept, not applied again).
      const last = seen.findLast((w) => w.last !== undefined)
      assert.strictEqual(yield* alice.channels.monitorState(channelId), last?.after)
    }), 60_000)
})
