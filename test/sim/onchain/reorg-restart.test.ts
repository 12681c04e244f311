/**
 * BOLT 5 "MUST be prepared to resolve outputs multiple times, in case of blockchain
 * reorganizations", and enforcement across a restart of the monitor:
 * - a reorg takes their commitment and our claim away: the claim is no longer made, the
 *   balance is the open channel's again; the commitment comes back (its owner's monitor
 *   broadcasts it again) and our claim is made again and confirms;
 * - our monitor is down while our commitment confirms and its delay passes: restarted over its
 *   store, it catches up from the block it had reached and sweeps `to_local`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { txid as computeTxid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { OnchainNet, TO_SELF_DELAY } from "./OnchainNet.ts"

const FUNDING = 1_000_000n
const PUSH = 300_000_000n

describe("BOLT 5 reorgs and restarts on the simulated chain", () => {
  it.effect("a reorg that unconfirms their commitment undoes our claim; it is made again when the commitment returns", () =>
    Effect.acquireUseRelease(OnchainNet.make({ seed: "onchain-reorg" }), (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH })
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(3) // broadcast, confirm (claim sent), confirm the claim
        const before = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(before?.spend?.kind, "CounterpartyCommitment")
        const commitmentTxid = before?.spend?.txid
        if (commitmentTxid === undefined) return assert.fail("no commitment")
        const claimed = before?.outputs.find((o) => o.kind === "to_remote")
        assert.strictEqual(claimed?.status._tag === "Spent" && claimed.status.byUs, true)

        // Reorg: both blocks go, the commitment (and so the claim) left out of the new branch.
        const branch = yield* net.chain.sim.reorg(2, { blocks: 2, exclude: [commitmentTxid] }).pipe(Effect.orDie)
        yield* net.settle(branch[branch.length - 1]!)
        const after = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(after?.spend, undefined)
        assert.deepStrictEqual((yield* net.monitors[0]!.balances)[0]?.balances.map((b) => b._tag), ["ChannelOpen"])
        const claimTxid = net.events[0]!.find((e) => e._tag === "ClaimBroadcast")
        assert.ok(claimTxid?._tag === "ClaimBroadcast")
        if (claimTxid?._tag === "ClaimBroadcast") assert.isFalse(yield* net.chain.sim.inMempool(claimTxid.txid))

        // Node 1's monitor publishes its commitment again; ours claims again.
        yield* net.mine(3)
        const again = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(again?.spend?.kind, "CounterpartyCommitment")
        assert.strictEqual(toHex(again?.spend?.txid ?? new Uint8Array()), toHex(commitmentTxid))
        const reclaimed = again?.outputs.find((o) => o.kind === "to_remote")
        assert.ok(reclaimed?.status._tag === "Spent" && reclaimed.status.byUs && reclaimed.status.height > (before?.spend?.height ?? 0))
        assert.ok(net.events[0]!.filter((e) => e._tag === "ClaimBroadcast").length >= 2)
        yield* net.mine(6)
        assert.deepStrictEqual((yield* net.monitors[0]!.balances).flatMap((c) => c.balances), [])
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      }), (net) => net.shutdown), 60_000)

  it.effect("restart: the monitor was down while our commitment confirmed and matured; it catches up and sweeps", () =>
    Effect.acquireUseRelease(OnchainNet.make({ seed: "onchain-restart" }), (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false } })
        yield* h.disconnect(0, 1)
        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(1) // our monitor broadcasts the commitment
        yield* net.stopMonitor(0)
        const blocks = yield* net.mine(TO_SELF_DELAY + 2)
        const commitment = net.chainTxs().find((t) => t.tx.inputs.some((i) => toHex(i.prevout.txid) === toHex(computeTxid(funding))))
        assert.ok(commitment !== undefined, "the commitment confirmed while the monitor was down")
        yield* net.startMonitor(0)
        yield* net.settle(blocks[blocks.length - 1]!)
        const r = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(r?.spend?.kind, "HolderCommitment")
        yield* net.mine(1)
        const toLocal = (yield* net.monitors[0]!.resolution(id))?.outputs.find((o) => o.kind === "to_local")
        assert.ok(toLocal?.status._tag === "Spent" && toLocal.status.byUs, JSON.stringify(toLocal?.status._tag))
        assert.ok(net.swept(0) > 700_000n - 300_000n - 10_000n, `swept ${net.swept(0)}`)
        // A second restart finds the state in the store (no chain scan needed to know the close).
        yield* net.startMonitor(0)
        const restored = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(restored?.spend?.kind, "HolderCommitment")
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      }), (net) => net.shutdown), 60_000)
})
