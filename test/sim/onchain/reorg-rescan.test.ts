/**
 * BOLT 5 reorgs and late starts on the simulated chain ("MUST be prepared to resolve outputs
 * multiple times, in case of blockchain reorganizations"; a node that was not watching when the
 * funding output was spent must still resolve it):
 * - a reorg that removes the FUNDING transaction (and the commitment and claim above it): every
 *   claim vanishes; once the funding transaction confirms again, a commitment follows (theirs,
 *   or ours published after the grace blocks) and each side claims its part again;
 * - a reorg that removes their commitment for good (its owner's monitor is down): after
 *   `reorgGraceBlocks` blocks with the funding output unspent, our monitor publishes our own
 *   latest commitment and sweeps it; also when our monitor restarts within the grace blocks
 *   (the marker is stored);
 * - a monitor started for the first time (empty store) after their commitment confirmed: it
 *   finds the spend in the blocks before its start (rescan) and claims `to_remote`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { txid as computeTxid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import { makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { OnchainNet, TO_SELF_DELAY } from "./OnchainNet.ts"

const FUNDING = 1_000_000n
const PUSH = 300_000_000n
const srk = { name: "static_remote_key" as const, scidAlias: false, zeroConf: false }

const withNet = <A>(seed: string, f: (net: OnchainNet) => Effect.Effect<A>) =>
  Effect.acquireUseRelease(OnchainNet.make({ seed }), f, (net) => net.shutdown)

const spentByUs = (net: OnchainNet, i: number, id: ChannelId) =>
  Effect.map(net.monitors[i]!.resolution(id), (r) => (r?.outputs ?? []).filter((o) => o.status._tag === "Spent" && o.status.byUs).map((o) => o.kind).sort())

/**
 * Node 1 force-closes while disconnected; its commitment confirms, then node 1 goes away (its
 * monitor would publish it again) and a reorg drops it: node 0's monitor sees no spend.
 */
const theirCommitmentReorgedOut = (net: OnchainNet) =>
  Effect.gen(function*() {
    const h = net.h
    const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: srk })
    yield* h.disconnect(0, 1)
    yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
    yield* h.quiesce({ completeWrites: true })
    yield* net.mine(2)
    const theirs = (yield* net.monitors[0]!.resolution(id))?.spend
    assert.strictEqual(theirs?.kind, "CounterpartyCommitment")
    yield* net.stopMonitor(1)
    const branch = yield* net.chain.sim.reorg(1, { blocks: 2, exclude: [theirs!.txid] }).pipe(Effect.orDie)
    yield* net.settle(branch[branch.length - 1]!)
    assert.strictEqual((yield* net.monitors[0]!.resolution(id))?.spend, undefined)
    return { id, funding }
  })

describe("BOLT 5 reorgs of the funding transaction and late starts on the simulated chain", () => {
  it.effect("a reorg removes the funding transaction: claims vanish and are made again when it returns", () =>
    withNet("onchain-reorg-funding", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: srk })
        const fundingHeight = yield* net.chain.sim.height
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(3) // commitment broadcast, confirmed (our claim sent), claim confirmed
        assert.deepStrictEqual(yield* spentByUs(net, 0, id), ["to_remote"])

        // Every block from the funding block up goes; the funding transaction (so all that spends it) is left out.
        const depth = (yield* net.chain.sim.height) - fundingHeight + 1
        const branch = yield* net.chain.sim.reorg(depth, { blocks: depth + 1, exclude: [computeTxid(funding)] }).pipe(Effect.orDie)
        yield* net.settle(branch[branch.length - 1]!)
        assert.strictEqual((yield* net.monitors[0]!.resolution(id))?.spend, undefined)
        assert.strictEqual((yield* net.monitors[1]!.resolution(id))?.spend, undefined)
        assert.deepStrictEqual((yield* net.monitors[0]!.balances)[0]?.balances.map((b) => b._tag), ["ChannelOpen"])

        // The funding transaction is published again (the ChainWatcher's job). Node 1's monitor
        // publishes its commitment again once the funding output exists; ours, after more than
        // the grace blocks without a spend, publishes ours: whichever confirms, we claim our side.
        yield* net.chain.broadcaster.broadcast(funding).pipe(Effect.orDie)
        yield* net.mine(3)
        const again = yield* net.monitors[0]!.resolution(id)
        assert.include(["CounterpartyCommitment", "HolderCommitment"], again?.spend?.kind)
        assert.ok((again?.spend?.height ?? 0) > fundingHeight + depth - 1)
        yield* net.mine(TO_SELF_DELAY + 2)
        const mine = again?.spend?.kind === "HolderCommitment" ? ["to_local"] : ["to_remote"]
        assert.deepStrictEqual(yield* spentByUs(net, 0, id), mine)
        assert.deepStrictEqual(yield* spentByUs(net, 1, id), again?.spend?.kind === "HolderCommitment" ? ["to_remote"] : ["to_local"])
        assert.ok(net.swept(0) > 700_000n - 10_000n, `swept ${net.swept(0)}`)
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      })
    ), 60_000)

  it.effect("their commitment leaves the chain for good: after the grace blocks we publish ours and sweep it", () =>
    withNet("onchain-reorg-ours", (net) =>
      Effect.gen(function*() {
        const { id, funding } = yield* theirCommitmentReorgedOut(net)
        const changes = net.events[0]!.filter((e) => e._tag === "FundingSpendChanged").map((e) => (e._tag === "FundingSpendChanged" ? e.kind : ""))
        assert.deepStrictEqual(changes, ["CounterpartyCommitment", undefined])
        // Not at once (the peer's may come back), but within the grace blocks.
        yield* net.mine(4)
        const ours = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(ours?.spend?.kind, "HolderCommitment")
        yield* net.mine(TO_SELF_DELAY + 1)
        assert.deepStrictEqual(yield* spentByUs(net, 0, id), ["to_local"])
        assert.ok(net.swept(0) > 700_000n - 10_000n, `swept ${net.swept(0)}`)
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      })
    ), 60_000)

  it.effect("their commitment leaves the chain and our monitor restarts within the grace blocks: ours still goes out", () =>
    withNet("onchain-reorg-restart", (net) =>
      Effect.gen(function*() {
        const { id, funding } = yield* theirCommitmentReorgedOut(net)
        // Our monitor restarts (from its store) before the grace blocks have passed: the marker
        // that the commitment left the chain is stored, so the count goes on.
        yield* net.stopMonitor(0)
        yield* net.startMonitor(0)
        yield* net.mine(4)
        assert.strictEqual((yield* net.monitors[0]!.resolution(id))?.spend?.kind, "HolderCommitment")
        yield* net.mine(TO_SELF_DELAY + 1)
        assert.deepStrictEqual(yield* spentByUs(net, 0, id), ["to_local"])
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      })
    ), 60_000)

  it.effect("a monitor started after their commitment confirmed finds it (rescan) and claims", () =>
    withNet("onchain-rescan", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: srk })
        // Node 0's monitor is not running and has never run (its store is empty).
        yield* net.stopMonitor(0)
        net.storeData[0] = makeMemoryStoreData()
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(6)
        const commitment = net.chainTxs().find((t) => t.tx.inputs.some((i) => toHex(i.prevout.txid) === toHex(computeTxid(funding))))
        assert.ok(commitment !== undefined, "their commitment confirmed before our monitor started")
        yield* net.startMonitor(0)
        const r = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(r?.spend?.kind, "CounterpartyCommitment")
        assert.strictEqual(r?.spend?.height, commitment?.height)
        // The claim went out at start; the next block confirms it.
        yield* net.mine(1)
        assert.deepStrictEqual(yield* spentByUs(net, 0, id), ["to_remote"])
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      })
    ), 60_000)
})
