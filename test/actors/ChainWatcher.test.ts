/**
 * Two of our nodes open a channel over the simulated chain: the funding transaction goes out
 * through the watcher's Broadcaster, confirmations come back as `FundingDepth` from the blocks
 * (no hand-fed depth), one watcher starts after the funding confirmed (it finds it), a reorg
 * takes the funding block away and back, and a cooperative close confirming reaches the
 * channels as `FundingSpent`; a spend reorged away and replaced by another is reported again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Stream } from "effect"
import { start as startChainWatcher } from "../../src/actors/ChainWatcher.ts"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { decodeTransaction, type Transaction, txid as txidOf } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, sat } from "../../src/protocol/units.ts"
import { make as makeSimulatedChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource, ChainSourceUnavailable } from "../../src/services/ChainSource.ts"
import { awaitEvent, eventually, openWhenConnected, payoutScript, PORT, startChannelNode, type TestNode } from "./ChannelManagerHarness.ts"

const phaseAndDepth = (node: TestNode, channelId: ChannelId) =>
  node.channels.channel(channelId).pipe(
    Effect.map((info) => ({ phase: info.phase, depth: info.state._tag === "WaitChannelReady" ? info.state.depth : undefined })),
    Effect.orDie
  )

/** Polls an effect until `ok` holds for its value (live clock). */
const until = <A>(what: string, effect: Effect.Effect<A>, ok: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 5000; i++) {
      const a = yield* effect
      if (ok(a)) return a
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

describe("ChainWatcher over the simulated chain", () => {
  it.live("a channel reaches ChannelReady from the chain's confirmations, survives a reorg, and closes on chain", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "watcher" })
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      const runWatcher = (node: TestNode) =>
        startChainWatcher().pipe(
          Effect.provideService(ChannelManager, node.channels),
          Effect.provideService(ChainSource, chain.chainSource),
          Effect.provideService(Broadcaster, chain.broadcaster)
        )
      // Bob's watcher starts late (a restart): it must find the confirmation that happened before.
      yield* runWatcher(alice)
      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 1_000_000n)
      const needed = yield* awaitEvent(alice, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
      // A real transaction of the simulated chain, NOT broadcast: the watcher must publish it.
      const funding = chain.sim.core.faucetTx(needed.event.scriptPubKey, needed.event.amount)
      const fundingTxid = txidOf(funding)
      assert.isFalse(chain.sim.core.inMempool(fundingTxid))
      yield* alice.channels.fundChannel(temporaryChannelId, funding)
      const pending = yield* awaitEvent(alice, "ChannelPending")
      const channelId = pending.event.channelId
      const watch = yield* awaitEvent(bob, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
      const minimumDepth = watch.event.minimumDepth
      assert.isAtLeast(minimumDepth, 2)
      yield* eventually("the funding transaction in the mempool", () => (chain.sim.core.inMempool(fundingTxid) ? true : undefined))

      // One confirmation, then a reorg that takes the funding block away: depth back to 0.
      yield* chain.sim.mine(1)
      const firstHeight = chain.sim.core.confirmationHeight(fundingTxid)
      assert.isDefined(firstHeight)
      yield* runWatcher(bob)
      for (const node of [alice, bob]) yield* until(`${node.name} depth 1`, phaseAndDepth(node, channelId), (s) => s.depth === 1)
      yield* chain.sim.reorg(1, { blocks: 2, exclude: [fundingTxid] })
      for (const node of [alice, bob]) yield* until(`${node.name} depth 0`, phaseAndDepth(node, channelId), (s) => s.depth === 0)
      // The watcher rebroadcasts it on the next block; confirmations count again from there.
      yield* eventually("the funding transaction back in the mempool", () => (chain.sim.core.inMempool(fundingTxid) ? true : undefined))
      yield* chain.sim.mine(minimumDepth - 1)
      for (const node of [alice, bob]) {
        const s = yield* until(`${node.name} depth ${minimumDepth - 1}`, phaseAndDepth(node, channelId), (s) => s.depth === minimumDepth - 1)
        assert.strictEqual(s.phase, "WaitChannelReady")
      }
      yield* chain.sim.mine(1)
      const height = chain.sim.core.confirmationHeight(fundingTxid)
      assert.isDefined(height)
      const block = chain.sim.core.blockAt(height ?? 0)
      const index = block?.txids.findIndex((t) => equalBytes(t, fundingTxid)) ?? -1
      const scid = shortChannelIdFromParts(height ?? 0, index, pending.event.fundingOutpoint.vout)
      for (const node of [alice, bob]) {
        const ready = yield* awaitEvent(node, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
        assert.strictEqual(ready.event.shortChannelId, scid)
        yield* until(`${node.name} Normal`, phaseAndDepth(node, channelId), (s) => s.phase === "Normal")
      }

      // Cooperative close: the closing transaction is published by the watcher and its confirmation closes both.
      yield* alice.channels.closeChannel(channelId)
      const closing = yield* awaitEvent(alice, "Broadcast", (e) => e.label === "mutual-close")
      const closingTxid = toHex(txidOf(yield* Effect.fromResult(decodeTransaction(closing.event.tx))))
      yield* eventually("the closing transaction in the mempool", () => (chain.sim.core.mempoolTxids().some((t) => toHex(t) === closingTxid) ? true : undefined))
      yield* chain.sim.mine(1)
      for (const node of [alice, bob]) yield* until(`${node.name} Closed`, phaseAndDepth(node, channelId), (s) => s.phase === "Closed")
    }))
  it.live("a spend of the funding output by someone else's transaction closes both channels (FundingSpent)", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "watcher-spend" })
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      for (const node of [alice, bob]) {
        yield* startChainWatcher().pipe(
          Effect.provideService(ChannelManager, node.channels),
          Effect.provideService(ChainSource, chain.chainSource),
          Effect.provideService(Broadcaster, chain.broadcaster)
        )
      }
      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 500_000n)
      const needed = yield* awaitEvent(alice, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
      yield* alice.channels.fundChannel(temporaryChannelId, chain.sim.core.faucetTx(needed.event.scriptPubKey, needed.event.amount))
      const pending = (yield* awaitEvent(alice, "ChannelPending")).event
      const channelId = pending.channelId
      yield* until("the funding in the mempool", Effect.sync(() => chain.sim.core.mempoolTxids().length), (n) => n > 0)
      yield* chain.sim.mine(6)
      for (const node of [alice, bob]) yield* awaitEvent(node, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
      // A transaction spending the funding output that neither node made (the simulated chain does
      // not run scripts): to both it is the other side's commitment (BOLT 5's enforcement comes later).
      const spender: Transaction = {
        version: 2,
        inputs: [{ prevout: pending.fundingOutpoint, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [new Uint8Array(72).fill(1)] }],
        outputs: [{ value: sat(490_000n), scriptPubKey: payoutScript("mallory") }],
        locktime: 0
      }
      yield* chain.sim.mine(1, { txs: [spender] })
      for (const node of [alice, bob]) {
        const closed = yield* awaitEvent(node, "ChannelClosed", (e) => equalBytes(e.channelId, channelId))
        assert.isTrue(closed.event.reason._tag === "RemoteForceClose" && equalBytes(closed.event.reason.txid, txidOf(spender)))
        yield* until(`${node.name} Closed`, phaseAndDepth(node, channelId), (s) => s.phase === "Closed")
      }
    }))
  it.live("a reorg takes the spend of the funding output away: the watch is kept, and the spend replacing it is reported", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "watcher-spend-reorg" })
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      // Alice's watcher reports through a manager that records the chain facts it is given.
      const spends: Array<string> = []
      const recording = ChannelManager.of({
        ...alice.channels,
        chainFact: (id, fact) =>
          Effect.andThen(Effect.sync(() => (fact._tag === "FundingSpent" ? spends.push(toHex(fact.txid)) : 0)), alice.channels.chainFact(id, fact))
      })
      for (const manager of [recording, bob.channels]) {
        yield* startChainWatcher().pipe(
          Effect.provideService(ChannelManager, manager),
          Effect.provideService(ChainSource, chain.chainSource),
          Effect.provideService(Broadcaster, chain.broadcaster)
        )
      }
      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 500_000n)
      const needed = yield* awaitEvent(alice, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
      yield* alice.channels.fundChannel(temporaryChannelId, chain.sim.core.faucetTx(needed.event.scriptPubKey, needed.event.amount))
      const pending = (yield* awaitEvent(alice, "ChannelPending")).event
      yield* until("the funding in the mempool", Effect.sync(() => chain.sim.core.mempoolTxids().length), (n) => n > 0)
      yield* chain.sim.mine(6)
      yield* awaitEvent(alice, "ChannelReady", (e) => equalBytes(e.channelId, pending.channelId))
      const spender = (to: string): Transaction => ({
        version: 2,
        inputs: [{ prevout: pending.fundingOutpoint, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [new Uint8Array(72).fill(1)] }],
        outputs: [{ value: sat(490_000n), scriptPubKey: payoutScript(to) }],
        locktime: 0
      })
      const first = spender("mallory")
      const second = spender("trudy")
      yield* chain.sim.mine(1, { txs: [first] })
      yield* until("the first spend reported", Effect.sync(() => spends.length), (n) => n === 1)
      // One block deep only: a reorg replaces it by another spend, which is reported too.
      yield* chain.sim.reorg(1, { blocks: 2, exclude: [txidOf(first)], txs: [second] })
      yield* until("the second spend reported", Effect.sync(() => spends.length), (n) => n === 2)
      assert.deepStrictEqual(spends, [toHex(txidOf(first)), toHex(txidOf(second))])
      // The same spend confirming deeper is not reported again; 6 deep, the watch is dropped.
      yield* chain.sim.mine(7)
      yield* until("alice Closed", phaseAndDepth(alice, pending.channelId), (s) => s.phase === "Closed")
      assert.strictEqual(spends.length, 2)
    }))
  it.live("a source that forgot the watcher's block: it follows again from the tip and finds the confirmations it missed", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "watcher-resync" })
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      // Bob's source: the first follow delivers one block then fails; it knows no block but its tip
      // afterwards; its tip answers only once the test lets it (after the blocks bob must not see).
      const gate = yield* Deferred.make<void>()
      let follows = 0
      const sim = chain.chainSource
      const forgetful = ChainSource.of({
        ...sim,
        tip: Effect.gen(function*() {
          if (follows > 0) yield* Deferred.await(gate)
          return yield* sim.tip
        }),
        follow: (from) =>
          follows++ === 0
            ? sim.follow(from).pipe(Stream.take(1), Stream.concat(Stream.fail(new ChainSourceUnavailable({ reason: "node reindexed" }))))
            : Stream.unwrap(Effect.map(sim.tip, (t) => from !== undefined && !equalBytes(from.hash, t.hash) ? Stream.fail(new ChainSourceUnavailable({ reason: "unknown block" })) : sim.follow(from)))
      })
      for (const [node, source] of [[alice, sim], [bob, forgetful]] as const) {
        yield* startChainWatcher({ resyncDelayMs: 1 }).pipe(
          Effect.provideService(ChannelManager, node.channels),
          Effect.provideService(ChainSource, source),
          Effect.provideService(Broadcaster, chain.broadcaster)
        )
      }
      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 500_000n)
      const needed = yield* awaitEvent(alice, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
      yield* alice.channels.fundChannel(temporaryChannelId, chain.sim.core.faucetTx(needed.event.scriptPubKey, needed.event.amount))
      const channelId = (yield* awaitEvent(alice, "ChannelPending")).event.channelId
      yield* awaitEvent(bob, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
      yield* until("the funding in the mempool", Effect.sync(() => chain.sim.core.mempoolTxids().length), (n) => n > 0)
      yield* chain.sim.mine(1) // bob's first follow delivers this block, then its source fails
      yield* until("bob depth 1", phaseAndDepth(bob, channelId), (s) => s.depth === 1)
      yield* chain.sim.mine(5) // bob is not following now: only the resync can find these
      yield* Deferred.succeed(gate, undefined)
      for (const node of [alice, bob]) yield* awaitEvent(node, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
      assert.isAtLeast(follows, 2)
    }))
})
