/**
 * BOLT 5 "Revoked Transaction Close Handling" on the simulated chain: the peer publishes a
 * commitment it revoked (kept, fully signed, from before it revoked it), together with its
 * HTLC-success transaction on it. Our monitor takes everything: `to_local` and the remaining
 * HTLC output with the revocation key, the HTLC-success transaction's output with the
 * revocation key, and our own `to_remote`. The cheater's sweep script gets nothing. Every
 * transaction is run through the script interpreter. Under rising feerates the justice
 * transaction is replaced (BIP 125) and still confirms before the cheater's delay.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { toHex } from "../../../src/protocol/bytes.ts"
import { txid as computeTxid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { cheaterState, OnchainNet, TO_SELF_DELAY } from "./OnchainNet.ts"
import { preimageFor } from "../channels/Harness.ts"

const FUNDING = 1_000_000n
const PUSH = 300_000_000n

const must = <A>(r: Result.Result<A, string>): A => {
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success
}

describe("BOLT 5 revoked commitment on the simulated chain", () => {
  it.effect("a revoked commitment and its HTLC-success transaction: justice takes every output", () =>
    Effect.acquireUseRelease(OnchainNet.make({ seed: "onchain-revoked" }), (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false } })
        const a = must(yield* h.addHtlc(0, id, 20_000_000n, 1))
        yield* h.quiesce({ completeWrites: true })
        must(yield* h.addHtlc(1, id, 15_000_000n, 2))
        yield* h.quiesce({ completeWrites: true })

        // The cheater (node 1) keeps its current commitment and its HTLC-success for `a`, signed.
        const { old, success, commitmentNumber: n } = yield* cheaterState(h, id, 1, 1)
        if (success === undefined) return assert.fail("no HTLC-success transaction")

        // The channel moves on: `a` is fulfilled, which makes node 1 revoke commitment n.
        must(Result.mapError(yield* h.fulfillHtlc(1, id, a, 1), String))
        yield* h.quiesce({ completeWrites: true })
        const m0 = yield* h.node(0).manager!.monitorState(id).pipe(Effect.orDie)
        assert.ok(m0 !== undefined && m0.revokedCommitments.some((r) => r.commitmentNumber === n), "node 0 holds the revoked commitment's HTLCs")

        // Node 1 cheats: the revoked commitment and its HTLC-success in one block.
        yield* h.disconnect(0, 1)
        yield* net.mine(1, [old.tx, success])
        const r0 = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(r0?.spend?.kind, "RevokedCommitment")
        assert.strictEqual(r0?.spend?.commitmentNumber, n)
        yield* net.mine(3)
        const kinds = net.events[0]!.flatMap((e) => (e._tag === "ClaimBroadcast" ? [e.output] : [])).sort()
        assert.deepStrictEqual(kinds, ["revoked_htlc", "revoked_htlc_tx_output", "revoked_to_local", "to_remote"])
        const r = yield* net.monitors[0]!.resolution(id)
        const ours = r?.outputs.filter((o) => o.status._tag === "Spent" && o.status.byUs).length ?? 0
        assert.strictEqual(ours, 4)
        // Penalty takes everything: the cheater's script got nothing, we got the channel minus fees.
        yield* net.mine(8)
        assert.strictEqual(net.swept(1), 0n)
        assert.ok(net.swept(0) > FUNDING - 25_000n, `swept ${net.swept(0)}`)
        assert.deepStrictEqual((yield* net.monitors[0]!.balances).flatMap((c) => c.balances), [])
        // The preimage in the cheater's HTLC-success witness is extracted (BOLT 5: SHOULD); the monitor
        // had dropped its own copy once the HTLC left every broadcastable commitment.
        assert.isTrue(net.events[0]!.some((e) => e._tag === "PreimageLearned" && toHex(e.paymentHash) === toHex(sha256(preimageFor(h.seed, 1)))))
        const v = net.verifyChannelScripts(funding)
        assert.deepStrictEqual(v.failures, [])
        assert.strictEqual(v.checked, 2 + 4)
      }), (net) => net.shutdown), 60_000)

  it.effect("rising feerates: the justice transaction is replaced at the higher feerate and confirms before the cheater's delay", () =>
    Effect.acquireUseRelease(OnchainNet.make({ seed: "onchain-revoked-rbf" }), (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false } })
        const a = must(yield* h.addHtlc(0, id, 20_000_000n, 1))
        yield* h.quiesce({ completeWrites: true })
        const { old } = yield* cheaterState(h, id, 1)
        must(Result.mapError(yield* h.fulfillHtlc(1, id, a, 1), String)) // node 1 revokes it
        yield* h.quiesce({ completeWrites: true })
        yield* net.chain.sim.setFeerate(1_000)
        yield* h.disconnect(0, 1)
        yield* net.mine(1, [old.tx])
        assert.strictEqual((yield* net.monitors[0]!.resolution(id))?.spend?.kind, "RevokedCommitment")
        const justice = () => net.events[0]!.flatMap((e) => (e._tag === "ClaimBroadcast" && e.output === "revoked_to_local" ? [toHex(e.txid)] : []))
        assert.strictEqual(justice().length, 1)
        // Congestion: nothing under 15,000 sat/kw is mined, and the estimate rises.
        yield* net.chain.sim.setFeerate(20_000)
        yield* net.mineAbove(15_000, 2)
        const sent = justice()
        assert.isAtLeast(sent.length, 2)
        const replacement = sent.at(-1)!
        assert.notStrictEqual(replacement, sent[0])
        const confirmed = net.chainTxs().find((t) => toHex(computeTxid(t.tx)) === replacement)
        assert.ok(confirmed !== undefined, "the replacement confirmed under congestion")
        assert.isBelow(confirmed?.height ?? Infinity, (yield* net.monitors[0]!.resolution(id))!.spend!.height + TO_SELF_DELAY)
        yield* net.chain.sim.setFeerate(1_000)
        yield* net.mine(TO_SELF_DELAY + 2)
        assert.strictEqual(net.swept(1), 0n, "the cheater got nothing")
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      }), (net) => net.shutdown), 60_000)
})
