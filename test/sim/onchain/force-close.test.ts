/**
 * BOLT 5 on the simulated chain, two of our nodes each enforcing with a `MonitorChain` (anchors
 * HTLC transactions and CPFP funded by a test wallet's inputs, `FeeInputs`):
 * - we force close (static_remote_key) with an HTLC in each direction: our HTLC-success with
 *   a preimage we hold, our HTLC-timeout after its expiry, `to_local` and both second-stage
 *   outputs after `to_self_delay`; the peer sweeps its `to_remote` and learns the preimage from
 *   our HTLC-success witness;
 * - they force close (anchors): we sweep `to_remote` after its 1-block CSV, claim their HTLC with
 *   the preimage and ours after its timeout.
 * - our commitment below the feerate its deadline needs: a CPFP child spends our anchor; as the
 *   estimate rises the child is replaced, its fee for the commitment within a budget;
 * - two HTLC-success transactions due together are aggregated into one with a wallet input;
 * - a claim stuck under a rising estimate is replaced at the higher feerate (BIP 125), up to its
 *   fee budget (half the output) and no further;
 * - a preimage handed to the monitor after the close claims its HTLC at once (not a block later).
 * Every transaction descending from the funding transaction is run through a script interpreter.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { toHex } from "../../../src/protocol/bytes.ts"
import { totalClaimable } from "../../../src/protocol/monitor/balances.ts"
import { txid as computeTxid, weight } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { OnchainNet, TO_SELF_DELAY } from "./OnchainNet.ts"
import { preimageFor } from "../channels/Harness.ts"

const FUNDING = 1_000_000n
const PUSH = 300_000_000n

const must = <A>(r: Result.Result<A, string>): A => {
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success
}

const withNet = <A>(seed: string, f: (net: OnchainNet) => Effect.Effect<A>) =>
  Effect.acquireUseRelease(OnchainNet.make({ seed }), f, (net) => net.shutdown)

/** An HTLC 0 -> 1 (n = 1, 20k sat, cltv 1001) and 1 -> 0 (n = 2, 15k sat, cltv 1002), both committed. */
const twoHtlcs = (net: OnchainNet, id: Uint8Array) =>
  Effect.gen(function*() {
    const h = net.h
    const a = must(yield* h.addHtlc(0, id, 20_000_000n, 1))
    yield* h.quiesce({ completeWrites: true })
    const b = must(yield* h.addHtlc(1, id, 15_000_000n, 2))
    yield* h.quiesce({ completeWrites: true })
    return { a, b }
  })

const kindsOf = (net: OnchainNet, i: number): ReadonlyArray<string> =>
  net.events[i]!.filter((e) => e._tag === "ClaimBroadcast").map((e) => (e._tag === "ClaimBroadcast" ? e.output : ""))

/** static_remote_key: HTLC transactions carry their fee; anchors: zero-fee, funded by a wallet input each. */
const weCloseCases = [
  { name: "static_remote_key" as const, checked: 7 },
  { name: "anchors_zero_fee_htlc_tx" as const, checked: 9 }
]

const resolvedHtlcs = (net: OnchainNet, i: number): ReadonlyArray<string> =>
  net.events[i]!.flatMap((e) => (e._tag === "HtlcResolved" ? [`${e.htlcId}:${e.result._tag}`] : []))

describe("BOLT 5 force closes on the simulated chain", () => {
  it.effect.each(weCloseCases)("we force close ($name): HTLC-success, HTLC-timeout, to_local and second-stage outputs swept; the peer learns the preimage", ({ name, checked }) =>
    withNet(`onchain-we-close-${name}`, (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: { name, scidAlias: false, zeroConf: false } })
        const { a, b } = yield* twoHtlcs(net, id)
        // Node 0 holds the preimage of the HTLC node 1 offered (stored in its monitor, not sent).
        yield* h.node(0).manager!.claimPreimage(id, b, preimageFor(h.seed, 2)).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        const open = yield* net.monitors[0]!.balances
        assert.strictEqual(open[0]?.balances[0]?._tag, "ChannelOpen")

        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        // The monitor broadcasts our commitment on the next block; the one after confirms it.
        yield* net.mine(2)
        const r0 = yield* net.monitors[0]!.resolution(id)
        const r1 = yield* net.monitors[1]!.resolution(id)
        assert.strictEqual(r0?.spend?.kind, "HolderCommitment")
        assert.strictEqual(r1?.spend?.kind, "CounterpartyCommitment")
        const closedAt = r0?.spend?.height ?? 0

        // Right after: HTLC-success is claimable now, to_local after the delay, the timeout at expiry.
        const bal = (yield* net.monitors[0]!.balances)[0]?.balances ?? []
        const at = bal.filter((x) => x._tag === "ClaimableAt").map((x) => (x._tag === "ClaimableAt" ? x.height : 0)).sort()
        assert.deepStrictEqual(at, [1002, closedAt + TO_SELF_DELAY])
        assert.ok(bal.some((x) => x._tag === "ClaimableNow" && x.kind === "received_htlc"), JSON.stringify(bal, (_, v) => (typeof v === "bigint" ? String(v) : v)))

        yield* net.mine(1)
        // The peer saw our HTLC-success and learned its preimage (to fulfil upstream).
        const learned = net.events[1]!.find((e) => e._tag === "PreimageLearned")
        assert.ok(learned !== undefined && learned._tag === "PreimageLearned")
        if (learned?._tag === "PreimageLearned") assert.strictEqual(toHex(learned.paymentHash), toHex(sha256(preimageFor(h.seed, 2))))

        yield* net.mineTo(1002 + TO_SELF_DELAY + 8)
        assert.deepStrictEqual([...kindsOf(net, 0)].sort(), ["htlc_tx_output", "htlc_tx_output", "offered_htlc", "received_htlc", "to_local"])
        assert.deepStrictEqual(kindsOf(net, 1), ["to_remote"])
        // Everything is resolved and deep: no balance left on either side.
        for (const i of [0, 1]) {
          const left = (yield* net.monitors[i]!.balances).flatMap((c) => c.balances)
          assert.deepStrictEqual(left, [], `node ${i}: ${left.map((x) => x._tag).join(",")}`)
        }
        // Ours: to_local (700k - 300k push... minus fees) + both HTLCs; theirs: to_remote. Fees are all that is missing.
        const total = net.swept(0) + net.swept(1)
        assert.ok(total > FUNDING - 30_000n && total < FUNDING, `swept ${total}`)
        assert.ok(net.swept(0) > 700_000n - 300_000n + 35_000n - 30_000n, `node 0 swept ${net.swept(0)}`)
        const v = net.verifyChannelScripts(funding)
        assert.deepStrictEqual(v.failures, [])
        // commitment, HTLC-success, HTLC-timeout (with anchors each with a wallet input), to_local claim,
        // two second-stage claims, the peer's to_remote claim
        assert.strictEqual(v.checked, checked)
        // For the payment layer: our HTLC timed out on chain; the peer's was fulfilled by our preimage.
        assert.deepStrictEqual(resolvedHtlcs(net, 0), [`${a}:Failed`])
        assert.deepStrictEqual(resolvedHtlcs(net, 1), [`${b}:Fulfilled`])
      })
    ), 60_000)

  it.effect("anchors: two HTLC-success transactions due together go out as ONE transaction with a wallet input (SINGLE|ANYONECANPAY)", () =>
    withNet("onchain-aggregate", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: false, zeroConf: false } })
        // Two HTLCs offered by node 1; node 0 holds both preimages.
        const b = must(yield* h.addHtlc(1, id, 15_000_000n, 2))
        yield* h.quiesce({ completeWrites: true })
        const c = must(yield* h.addHtlc(1, id, 12_000_000n, 3))
        yield* h.quiesce({ completeWrites: true })
        yield* h.node(0).manager!.claimPreimage(id, b, preimageFor(h.seed, 2)).pipe(Effect.orDie)
        yield* h.node(0).manager!.claimPreimage(id, c, preimageFor(h.seed, 3)).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        const coinsBefore = net.wallets[0]!.coins.length
        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(3) // commitment broadcast, confirmed (HTLC-success goes out), HTLC-success confirmed
        const sent = net.events[0]!.flatMap((e) => (e._tag === "ClaimBroadcast" && e.output === "received_htlc" ? [toHex(e.txid)] : []))
        assert.strictEqual(sent.length, 2)
        assert.strictEqual(sent[0], sent[1], "both HTLCs in one transaction")
        // One wallet coin paid for both.
        assert.strictEqual(net.wallets[0]!.coins.length, coinsBefore - 1)
        const r = yield* net.monitors[0]!.resolution(id)
        const spends = (r?.outputs ?? []).filter((o) => o.kind === "received_htlc").map((o) => (o.status._tag === "Spent" && o.status.byUs ? toHex(o.status.txid) : "unspent"))
        assert.deepStrictEqual(spends, [sent[0], sent[0]])
        const tx = net.chainTxs().find((t) => toHex(computeTxid(t.tx)) === sent[0])?.tx
        if (tx === undefined) return assert.fail("the aggregated transaction did not confirm")
        assert.strictEqual(tx.inputs.length, 3) // two HTLC inputs, one wallet input
        assert.strictEqual(tx.outputs.length, 3) // two paired outputs, the change
        // Both second-stage outputs are swept after the delay; the scripts all verify (the
        // counterparty's SINGLE|ANYONECANPAY signatures hold in the larger transaction).
        yield* net.mine(TO_SELF_DELAY + 2)
        const kinds = [...kindsOf(net, 0)].sort()
        assert.deepStrictEqual(kinds.filter((k) => k === "htlc_tx_output"), ["htlc_tx_output", "htlc_tx_output"])
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
        assert.ok(net.events[1]!.filter((e) => e._tag === "PreimageLearned").length === 2, "the peer learns both preimages from the one transaction")
      })
    ), 60_000)

  it.effect("they force close (anchors): to_remote after 1 block, their HTLC by preimage, ours after its timeout", () =>
    withNet("onchain-they-close", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH })
        const { a, b } = yield* twoHtlcs(net, id)
        yield* h.node(0).manager!.claimPreimage(id, b, preimageFor(h.seed, 2)).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        // Node 1 vanishes and publishes its commitment (node 0 never hears its error).
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(2)
        const r0 = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(r0?.spend?.kind, "CounterpartyCommitment")
        assert.strictEqual((yield* net.monitors[1]!.resolution(id))?.spend?.kind, "HolderCommitment")
        const closedAt = r0?.spend?.height ?? 0
        // to_remote (CSV 1) and the preimage claim went out while processing the commitment's block.
        yield* net.mine(1)
        assert.deepStrictEqual([...kindsOf(net, 0)].sort(), ["offered_htlc", "to_remote"])
        const spent = (yield* net.monitors[0]!.resolution(id))?.outputs.filter((o) => o.status._tag === "Spent" && o.status.byUs) ?? []
        assert.strictEqual(spent.length, 2)
        for (const o of spent) if (o.status._tag === "Spent") assert.strictEqual(o.status.height, closedAt + 1)
        // Their HTLC-timeout of the one we claimed would have needed the expiry; ours times out at 1001.
        const before = totalClaimable((yield* net.monitors[0]!.balances).flatMap((c) => c.balances))
        assert.ok(before > 0n)
        yield* net.mineTo(1003)
        assert.ok(kindsOf(net, 0).includes("received_htlc"), kindsOf(net, 0).join(","))
        // Node 1 learned the preimage of its offered HTLC from our claim's witness.
        assert.ok(net.events[1]!.some((e) => e._tag === "PreimageLearned" && toHex(e.paymentHash) === toHex(sha256(preimageFor(h.seed, 2)))))
        yield* net.mineTo(1003 + TO_SELF_DELAY + 8)
        assert.deepStrictEqual((yield* net.monitors[0]!.balances).flatMap((c) => c.balances), [])
        assert.ok(net.swept(0) > 700_000n - 300_000n - 20_000n + 35_000n, `node 0 swept ${net.swept(0)}`)
        const v = net.verifyChannelScripts(funding)
        assert.deepStrictEqual(v.failures, [])
        assert.ok(v.checked >= 5, `checked ${v.checked}`)
        assert.deepStrictEqual(resolvedHtlcs(net, 0), [`${a}:Failed`])
        assert.deepStrictEqual(resolvedHtlcs(net, 1), [`${b}:Fulfilled`])
      })
    ), 60_000)

  it.effect("our commitment below the feerate its deadline needs is bumped by a CPFP child spending our anchor", () =>
    withNet("onchain-cpfp", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, feeratePerKw: 253 })
        must(yield* h.addHtlc(0, id, 20_000_000n, 40))
        yield* h.quiesce({ completeWrites: true })
        yield* net.chain.sim.setFeerate(5_000)
        yield* h.disconnect(0, 1)
        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        // Miners take only packages of 2,500 sat/kw and more: the commitment (253) alone would wait.
        yield* net.mineAbove(2_500, 2)
        const bumped = net.events[0]!.find((e) => e._tag === "CommitmentBumped")
        assert.ok(bumped !== undefined && bumped._tag === "CommitmentBumped", "a CPFP child was broadcast")
        const r = yield* net.monitors[0]!.resolution(id)
        assert.strictEqual(r?.spend?.kind, "HolderCommitment")
        if (bumped?._tag === "CommitmentBumped") {
          assert.strictEqual(toHex(bumped.commitmentTxid), toHex(r?.spend?.txid ?? new Uint8Array()))
          assert.strictEqual(yield* net.chain.sim.confirmationHeight(bumped.childTxid), r?.spend?.height)
        }
        // The anchor spend and the wallet input verify under the interpreter.
        const v = net.verifyChannelScripts(funding)
        assert.deepStrictEqual(v.failures, [])
        assert.strictEqual(v.checked, 1 + 2)
      })
    ), 60_000)

  it.effect("rising feerates: the CPFP child of our commitment is replaced at the higher feerate, its extra fee within the budget", () =>
    Effect.acquireUseRelease(OnchainNet.make({ seed: "onchain-cpfp-budget", monitor: { maxCpfpFeeSat: 10_000n } }), (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, feeratePerKw: 253 })
        must(yield* h.addHtlc(0, id, 20_000_000n, 40))
        yield* h.quiesce({ completeWrites: true })
        yield* net.chain.sim.setFeerate(5_000)
        yield* h.disconnect(0, 1)
        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        // Nothing is mined below 100,000 sat/kw: the package waits while the estimate rises.
        yield* net.mineAbove(100_000, 1)
        yield* net.chain.sim.setFeerate(30_000)
        yield* net.mineAbove(100_000, 1)
        const bumps = net.events[0]!.flatMap((e) => (e._tag === "CommitmentBumped" ? [e] : []))
        assert.deepStrictEqual(bumps.map((b) => b.feeratePerKw), [5_000, 30_000])
        const [first, second] = bumps
        if (first === undefined || second === undefined) return
        assert.notStrictEqual(toHex(second.childTxid), toHex(first.childTxid))
        assert.isFalse(yield* net.chain.sim.inMempool(first.childTxid), "the first child was replaced")
        assert.isTrue(yield* net.chain.sim.inMempool(second.childTxid))
        yield* net.mine(1)
        const child = net.chainTxs().find((t) => toHex(computeTxid(t.tx)) === toHex(second.childTxid))?.tx
        if (child === undefined) return assert.fail("the child did not confirm")
        // Its fee: the budget (10,000 sat) for the commitment plus its own weight at 30,000 sat/kw (as
        // the test wallet estimates it, a little above the signed weight); without the budget the
        // commitment's shortfall alone would be ~33,000 sat.
        const fee = 330n + 100_000n - child.outputs.reduce((a, o) => a + o.value, 0n)
        assert.isAbove(Number(fee), 10_000)
        assert.isAtMost(Number(fee), 10_000 + Math.ceil((30_000 * (weight(child) + 100)) / 1000))
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      }), (net) => net.shutdown), 60_000)

  it.effect("a claim not confirming is replaced (BIP 125) at the higher feerate the estimate gives later", () =>
    withNet("onchain-rbf", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH })
        yield* net.chain.sim.setFeerate(1_000)
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(2) // their commitment confirms; our to_remote claim goes out at 1,000 sat/kw
        const first = net.events[0]!.filter((e) => e._tag === "ClaimBroadcast")
        assert.strictEqual(first.length, 1)
        // Congestion: nothing under 3,000 sat/kw is mined, and the estimate rises.
        yield* net.chain.sim.setFeerate(4_000)
        yield* net.mineAbove(3_000, 1)
        const claims = net.events[0]!.flatMap((e) => (e._tag === "ClaimBroadcast" ? [toHex(e.txid)] : []))
        assert.strictEqual(claims.length, 2)
        assert.notStrictEqual(claims[1], claims[0])
        const [old, replacement] = net.events[0]!.flatMap((e) => (e._tag === "ClaimBroadcast" ? [e.txid] : []))
        if (old === undefined || replacement === undefined) return
        assert.isFalse(yield* net.chain.sim.inMempool(old))
        yield* net.mineAbove(3_000, 1)
        assert.ok((yield* net.chain.sim.confirmationHeight(replacement)) !== undefined, "the replacement confirmed")
        // The estimate falls again: no replacement pays less, nothing more is broadcast for a confirmed claim.
        yield* net.chain.sim.setFeerate(253)
        yield* net.mine(2)
        assert.strictEqual(net.events[0]!.filter((e) => e._tag === "ClaimBroadcast").length, 2)
      })
    ), 60_000)

  it.effect("rising feerates replace a claim up to its fee budget (half the output), and no further", () =>
    withNet("onchain-fee-budget", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH })
        yield* net.chain.sim.setFeerate(1_000)
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(2) // their commitment confirms; our to_remote claim goes out at 1,000 sat/kw
        const output = (yield* net.monitors[0]!.resolution(id))?.outputs.find((o) => o.kind === "to_remote")
        if (output === undefined) return assert.fail("no to_remote")
        const claims = () => net.events[0]!.flatMap((e) => (e._tag === "ClaimBroadcast" ? [toHex(e.txid)] : []))
        // The estimate soars (nothing is mined meanwhile): the claim is replaced, at its budget.
        yield* net.chain.sim.setFeerate(5_000_000)
        yield* net.mineAbove(100_000_000, 1)
        yield* net.chain.sim.setFeerate(50_000_000)
        yield* net.mineAbove(100_000_000, 1)
        const sent = claims()
        assert.strictEqual(sent.length, 3)
        assert.notStrictEqual(sent[1], sent[0])
        assert.strictEqual(sent[2], sent[1], "at the budget the same transaction is broadcast again")
        yield* net.mine(1)
        const claim = net.chainTxs().find((t) => t.tx.inputs.some((i) => toHex(i.prevout.txid) === toHex(output.outpoint.txid) && i.prevout.vout === output.outpoint.vout))
        if (claim === undefined) return assert.fail("the claim did not confirm")
        const fee = output.amount - claim.tx.outputs.reduce((a, o) => a + o.value, 0n)
        assert.isAtMost(Number(fee), Number(output.amount) / 2)
        assert.isAbove(Number(fee), Number(output.amount) * 0.45)
      })
    ), 60_000)

  it.effect("a preimage learned after our commitment confirmed still claims the HTLC (HTLC-success)", () =>
    withNet("onchain-late-preimage", (net) =>
      Effect.gen(function*() {
        const h = net.h
        const { channelId: id, funding } = yield* net.openFunded({ fundingSat: FUNDING, pushMsat: PUSH, channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false } })
        yield* twoHtlcs(net, id)
        yield* h.disconnect(0, 1)
        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* net.mine(3)
        // Without the preimage the HTLC offered to us is only a possibility.
        const waiting = (yield* net.monitors[0]!.balances).flatMap((c) => c.balances).filter((x) => x._tag === "AwaitingPreimage")
        assert.strictEqual(waiting.length, 1)
        assert.isFalse(kindsOf(net, 0).includes("received_htlc"))
        // The preimage arrives (e.g. from the next hop) after the close: the failed channel takes no
        // command any more, the on-chain monitor takes it (and nothing else: a wrong one is refused).
        assert.isFalse(yield* net.monitors[0]!.addPreimage(id, preimageFor(h.seed, 99)))
        assert.isTrue(yield* net.monitors[0]!.addPreimage(id, preimageFor(h.seed, 2)))
        // Applied at once: the HTLC-success is in the mempool before any new block.
        for (let k = 0; k < 100 && !kindsOf(net, 0).includes("received_htlc"); k++) yield* Effect.yieldNow
        assert.isTrue(kindsOf(net, 0).includes("received_htlc"))
        const sent = net.events[0]!.find((e) => e._tag === "ClaimBroadcast" && e.output === "received_htlc")
        assert.ok(sent?._tag === "ClaimBroadcast" && (yield* net.chain.sim.inMempool(sent.txid)))
        yield* net.mine(1)
        const htlc = (yield* net.monitors[0]!.resolution(id))?.outputs.find((o) => o.kind === "received_htlc")
        assert.ok(htlc?.status._tag === "Spent" && htlc.status.byUs)
        assert.deepStrictEqual(net.verifyChannelScripts(funding).failures, [])
      })
    ), 60_000)
})
