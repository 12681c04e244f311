/**
 * BOLT 5 against a real regtest node (bcoin 1.0.2 in a child process, followed through the
 * bitcoind RPC layer), two of our nodes (the channel harness) each with a `MonitorChain`:
 * - WE force-close (anchors, a test wallet's coins paid by bcoin as `FeeInputs`) with HTLCs each
 *   way: the two HTLC-success transactions due together go out as one transaction with a wallet
 *   input, the HTLC-timeout with another, then `to_local` and the three second-stage outputs
 *   after `to_self_delay`; the peer sweeps its `to_remote` (CSV 1);
 * - the PEER force-closes (static_remote_key) with an HTLC in flight each way: we take the HTLC
 *   it offered with the preimage and ours after its timeout, both straight from its commitment,
 *   and our `to_remote`; it sweeps its `to_local` after `to_self_delay` and learns the preimage
 *   from our witness; every HTLC ends with an `HtlcResolved` on the side that offered it;
 * - a reorg (a longer competing branch mined by bcoin from below their commitment's block) takes
 *   their commitment and our claim away: our monitor sees the funding output unspent again
 *   (balance back to the open channel); the commitment returns (its owner's monitor publishes it
 *   again) and our claim is made again and confirms;
 * - a reorg takes the FUNDING transaction away (a `ChainWatcher` per node gives the depth, minimum
 *   depth 2): both channels go back to depth 0, nothing but the funding is ever broadcast, it
 *   confirms again and the channel reaches Normal and carries a payment;
 * - a cheating node publishes a REVOKED commitment and its HTLC-success transaction on it (the
 *   test signs the old state with the cheater's signer: no production path publishes it): our
 *   monitor takes every output (`to_local`, the HTLC output, the HTLC-success output, our
 *   `to_remote`), the cheater's sweep script gets nothing.
 * Every transaction our monitors hand to the broadcaster must be accepted by bcoin's mempool
 * (bcoin's `sendrawtransaction` answers a txid even when it refuses, so each broadcast is checked
 * with `getrawmempool`), or be one already confirmed (a rebroadcast), and everything is mined.
 * bcoin's regtest turns on segwit and CSV only after 432 blocks: they are mined first.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result, Scope, Stream } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { start as startChainWatcher } from "../../src/actors/ChainWatcher.ts"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import * as MonitorChain from "../../src/actors/MonitorChain.ts"
import { make as makeBitcoind } from "../../src/layers/chain/BitcoindChain.ts"
import { FAUCET_SCRIPT, FAUCET_WITNESS_SCRIPT } from "../../src/layers/chain/sim/core.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import { blockHashFromHex } from "../../src/protocol/chain/block.ts"
import { defaultLocalChannelConfig } from "../../src/protocol/channel/config.ts"
import { p2wpkhScript } from "../../src/protocol/tx/bitcoin/script.ts"
import { decodeTransaction, serializeTransaction, txid, txidToHex, type Transaction } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat } from "../../src/protocol/units.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import { ChannelSigner } from "../../src/services/ChannelSigner.ts"
import { FeeEstimator } from "../../src/services/FeeEstimator.ts"
import { Store } from "../../src/services/Store.ts"
import { emptyOnion, Harness, paymentHashOf, preimageFor, secp } from "../sim/channels/Harness.ts"
import { type Answer, bcoinAvailable, BcoinNode } from "../support/bcoin.ts"
import { cheaterState, TestFeeWallet } from "../sim/onchain/OnchainNet.ts"

const FUNDING = 1_000_000n
const TO_SELF_DELAY = 6

/** HTLCs here expire at EXPIRY + n (the channel opens near height 445): no long wait for a timeout. */
const EXPIRY = 480

/** An HTLC for payment `n` (the harness's preimage), expiring at EXPIRY + n. */
const addHtlc = (h: Harness, node: number, id: ChannelId, amountMsat: bigint, n: number) =>
  Effect.gen(function*() {
    const r = yield* h.command(node, id, { _tag: "AddHtlc", requestId: `${n}`, amount: msat(amountMsat), paymentHash: paymentHashOf(preimageFor(h.seed, n)), cltvExpiry: EXPIRY + n, onion: emptyOnion })
    if (Result.isFailure(r)) return Result.fail(r.failure)
    const added = r.success.events.find((e) => e._tag === "HtlcAdded")
    return added?._tag === "HtlcAdded" ? Result.succeed(added.htlcId) : Result.fail("no HtlcAdded")
  })

const must = <A>(r: Result.Result<A, string>): A => {
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success
}

/** One broadcast by a monitor: whether bcoin's mempool held it right after, and the height then. */
interface Sent {
  readonly node: number
  readonly txid: string
  readonly inMempool: boolean
  readonly height: number
}

interface Regtest {
  readonly h: Harness
  readonly monitors: ReadonlyArray<MonitorChain.MonitorChainHandle>
  readonly events: ReadonlyArray<Array<MonitorChain.MonitorChainEvent>>
  readonly sent: Array<Sent>
  readonly sweeps: ReadonlyArray<Uint8Array>
  readonly chain: Effect.Success<ReturnType<typeof makeBitcoind>>
  /** Mines `n` blocks on bcoin, then waits until both monitors processed the last one. */
  readonly mine: (n: number) => Effect.Effect<void>
  /**
   * One block at a time up to `height` (the monitors keep up, so each broadcast meets the chain
   * it was made for).
   */
  readonly stepTo: (height: number) => Effect.Effect<void>
  /** A driver command to the bcoin node (`mine`, `fork`, `pay`). */
  readonly cmd: (c: Record<string, unknown>) => Effect.Effect<Answer>
  /** Opens a channel 0 -> 1 funded by a bcoin transaction, confirmed, both sides Normal. */
  readonly open: (pushMsat: bigint) => Effect.Effect<{ readonly id: ChannelId; readonly funding: Transaction; readonly parent: Transaction }>
  /** Whether bcoin's mempool took the transaction, polled a while. */
  readonly accepted: (tx: Transaction) => Effect.Effect<boolean>
  /** Every transaction of bcoin's best chain from `from` up. */
  readonly chainTxs: (from: number) => Effect.Effect<ReadonlyArray<{ readonly tx: Transaction; readonly height: number }>>
  /** The broadcaster of node `node` whose broadcasts are checked against bcoin's mempool (into `sent`). */
  readonly checked: (node: number) => Broadcaster["Service"]
}

type ChannelTypeName = "static_remote_key" | "anchors_zero_fee_htlc_tx"

/**
 * A bcoin node with 440 blocks, two harness nodes each with a `MonitorChain` over it; with
 * `anchors`, each monitor gets a test wallet (`FeeInputs`) holding four 100,000 sat coins paid
 * by bcoin.
 */
const withRegtest = (seed: string, channelType: ChannelTypeName, body: (r: Regtest) => Effect.Effect<void>, minimumDepth = 1) =>
  Effect.acquireUseRelease(
    Effect.promise(() => BcoinNode.start()),
    (bcoin) =>
      Effect.gen(function*() {
        const cmd = (c: Record<string, unknown>) => Effect.promise(() => bcoin.command(c))
        yield* cmd({ cmd: "mine", n: 440 }) // segwit + CSV active, mature coinbases
        const chain = yield* makeBitcoind({ url: bcoin.url, pollIntervalMs: 30, reconnectIntervalMs: 50 })
        const h = yield* Harness.make({ seed, nodes: 2, node: { config: { ...defaultLocalChannelConfig, minimumDepth, toSelfDelay: TO_SELF_DELAY } } })
        const scopes: Array<Scope.Closeable> = []
        const monitors: Array<MonitorChain.MonitorChainHandle> = []
        const events: Array<Array<MonitorChain.MonitorChainEvent>> = [[], []]
        const sent: Array<Sent> = []
        const sweeps = [0, 1].map((i) => p2wpkhScript(Uint8Array.from([2, ...sha256(new TextEncoder().encode(`${seed}/sweep/${i}`))])))
        const wallets = [new TestFeeWallet(`${seed}/0`), new TestFeeWallet(`${seed}/1`)]
        if (channelType === "anchors_zero_fee_htlc_tx") {
          for (const w of wallets) {
            for (let k = 0; k < 4; k++) {
              const paid = yield* cmd({ cmd: "pay", script: toHex(w.script), value: 100_000 })
              const tx = decodeTransaction(fromHex(paid.hex ?? ""))
              if (Result.isFailure(tx)) return yield* Effect.die(new Error("bcoin's transaction does not parse"))
              yield* chain.broadcaster.broadcast(tx.success).pipe(Effect.orDie)
              w.coins.push({ outpoint: { txid: txid(tx.success), vout: 0 }, value: 100_000n })
            }
          }
          yield* cmd({ cmd: "mine", n: 1 })
        }
        const mempool = Effect.map(chain.rpc.call("getrawmempool", []).pipe(Effect.orDie), (v) => (Array.isArray(v) ? v.map(String) : []))
        /**
         * Whether bcoin's mempool takes `tx`: its `sendrawtransaction` relays without waiting, so
         * the mempool is polled (up to 10 s: bcoin verifies slowly on a loaded machine) until the
         * transaction is there, or its first input is gone from the unspent outputs (spent in a
         * block or in the mempool: by this transaction, looked for once more, by an earlier
         * version of it (a rebroadcast) or by another one; `assertAccepted` tells them apart).
         */
        const accepted = (tx: Transaction) =>
          Effect.gen(function*() {
            const id = txidToHex(txid(tx))
            const first = tx.inputs[0]?.prevout
            for (let k = 0; k < 400; k++) {
              if ((yield* mempool).includes(id)) return true
              if (first !== undefined) {
                const coin = yield* chain.rpc.call("gettxout", [txidToHex(first.txid), first.vout, true]).pipe(Effect.orElseSucceed(() => null))
                if (coin === null) return (yield* mempool).includes(id) // spent meanwhile: by this transaction?
              }
              yield* Effect.sleep("25 millis")
            }
            return false
          })
        /** The bitcoind layer's broadcaster, each broadcast checked against bcoin's mempool. */
        const checked = (node: number) =>
          Broadcaster.of({
            broadcast: (tx) =>
              Effect.gen(function*() {
                const r = yield* Effect.result(chain.broadcaster.broadcast(tx))
                const height = Number(yield* chain.rpc.call("getblockcount", []).pipe(Effect.orDie))
                const decoded = tx instanceof Uint8Array ? decodeTransaction(tx) : Result.succeed(tx)
                const id = Result.isSuccess(decoded) ? txidToHex(txid(decoded.success)) : "undecodable"
                sent.push({ node, txid: id, inMempool: Result.isSuccess(r) && Result.isSuccess(decoded) && (yield* accepted(decoded.success)), height })
                return yield* Effect.fromResult(r)
              })
          })
        for (const i of [0, 1]) {
          const scope = yield* Scope.make()
          scopes.push(scope)
          const services = Layer.mergeAll(
            Layer.succeed(ChannelManager, h.node(i).manager!),
            Layer.succeed(ChainSource, chain.chainSource),
            Layer.succeed(Broadcaster, checked(i)),
            Layer.succeed(FeeEstimator, chain.feeEstimator),
            Layer.succeed(ChannelSigner, h.node(i).signer),
            Layer.succeed(Store, makeMemoryStore().store)
          )
          const feeInputs = channelType === "anchors_zero_fee_htlc_tx" ? { feeInputs: wallets[i]!.feeInputs } : {}
          const m = yield* MonitorChain.start({ secp, sweepScript: sweeps[i]!, finalityDepth: 3, ...feeInputs }).pipe(Effect.provide(services), Scope.provide(scope))
          monitors.push(m)
          const stream = yield* m.subscribe.pipe(Scope.provide(scope))
          yield* stream.pipe(Stream.runForEach((e) => Effect.sync(() => events[i]!.push(e))), Effect.forkIn(scope))
        }
        const mine = (n: number) =>
          Effect.gen(function*() {
            const { hashes } = yield* cmd({ cmd: "mine", n })
            const last = hashes?.[hashes.length - 1]
            if (last === undefined) return
            const hash = blockHashFromHex(last)
            if (Result.isFailure(hash)) return yield* Effect.die(new Error("bad hash"))
            for (const m of monitors) yield* m.awaitBlock(hash.success)
          })
        const stepTo = (height: number) =>
          Effect.gen(function*() {
            while ((yield* monitors[0]!.tip).height < height) yield* mine(1)
          })
        const open = (pushMsat: bigint) =>
          Effect.gen(function*() {
            yield* h.connect(0, 1)
            const temporary = yield* h.open(0, 1, { fundingSat: FUNDING, pushMsat, channelType: { name: channelType, scidAlias: false, zeroConf: false } })
            yield* h.quiesce({ completeWrites: true })
            const need = h.events[0]!.map((e) => e.event).find((e) => e._tag === "FundingNeeded")
            if (need === undefined || need._tag !== "FundingNeeded") return yield* Effect.die(new Error("no FundingNeeded"))
            // bcoin pays an anyone-can-spend P2WSH(OP_TRUE) from a mature coinbase; the funding
            // transaction spends that (channels take segwit inputs only).
            const paid = yield* cmd({ cmd: "pay", script: toHex(FAUCET_SCRIPT), value: Number(need.amount) + 20_000 })
            const parent = decodeTransaction(fromHex(paid.hex ?? ""))
            if (Result.isFailure(parent)) return yield* Effect.die(new Error("bcoin's transaction does not parse"))
            yield* chain.broadcaster.broadcast(parent.success).pipe(Effect.orDie)
            const funding: Transaction = {
              version: 2,
              inputs: [{ prevout: { txid: txid(parent.success), vout: 0 }, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [FAUCET_WITNESS_SCRIPT] }],
              outputs: [{ value: need.amount, scriptPubKey: need.scriptPubKey }],
              locktime: 0
            }
            must(Result.mapError(yield* h.command(0, temporary, { _tag: "FundingTransaction", tx: serializeTransaction(funding) }), String))
            yield* h.quiesce({ completeWrites: true })
            const pending = h.eventsOf(0, "ChannelPending").at(-1)
            if (pending === undefined) return yield* Effect.die(new Error("no ChannelPending"))
            yield* chain.broadcaster.broadcast(funding).pipe(Effect.orDie)
            yield* mine(1)
            yield* h.setDepth(pending.channelId, 1)
            yield* h.quiesce({ completeWrites: true })
            return { id: pending.channelId, funding, parent: parent.success }
          })
        const chainTxs = (from: number) =>
          Effect.gen(function*() {
            const tip = (yield* chain.chainSource.tip.pipe(Effect.orDie)).height
            const out: Array<{ readonly tx: Transaction; readonly height: number }> = []
            for (let height = from; height <= tip; height++) {
              const b = yield* chain.chainSource.block(height).pipe(Effect.orDie)
              for (const tx of b.transactions) out.push({ tx, height })
            }
            return out
          })
        const cleanup = Effect.gen(function*() {
          for (const s of scopes) yield* Scope.close(s, Exit.void)
          yield* h.shutdown
        })
        yield* body({ h, monitors, events, sent, sweeps, chain, mine, stepTo, cmd, open, chainTxs, accepted, checked }).pipe(Effect.ensuring(cleanup))
      }),
    (bcoin) => Effect.promise(() => bcoin.stop())
  )

/**
 * Every broadcast of node `node` was held by bcoin's mempool right after it, or was a
 * rebroadcast of a transaction confirmed by then; and at least one broadcast happened.
 */
const assertAccepted = (r: Regtest, node: number) =>
  Effect.gen(function*() {
    const confirmed = new Map<string, number>()
    for (const { tx, height } of yield* r.chainTxs(440)) confirmed.set(txidToHex(txid(tx)), height)
    const mine = r.sent.filter((s) => s.node === node)
    assert.isAbove(mine.length, 0)
    const refused = mine.filter((s) => !s.inMempool && !((confirmed.get(s.txid) ?? Infinity) <= s.height))
    assert.deepStrictEqual(refused, [], `every broadcast accepted by bcoin's mempool: ${JSON.stringify(refused.map((x) => ({ ...x, confirmedAt: confirmed.get(x.txid) })))}`)
    // And every distinct transaction broadcast is mined.
    for (const id of new Set(mine.map((s) => s.txid))) assert.ok(confirmed.has(id), `${id} mined`)
  })

const paidTo = (txs: ReadonlyArray<{ readonly tx: Transaction }>, script: Uint8Array): bigint => {
  let total = 0n
  for (const { tx } of txs) for (const o of tx.outputs) if (toHex(o.scriptPubKey) === toHex(script)) total += o.value
  return total
}

const spentByUs = (r: Regtest, i: number, id: ChannelId) =>
  Effect.map(r.monitors[i]!.resolution(id), (res) => (res?.outputs ?? []).filter((o) => o.status._tag === "Spent" && o.status.byUs).map((o) => o.kind).sort())

describe.skipIf(!bcoinAvailable)("BOLT 5 against a bcoin regtest node: our close, the peer's close and a cheater", () => {
  it.live("we force close (anchors) with HTLCs each way: two HTLC-success aggregated with a wallet input, the timeout, every output swept", () =>
    withRegtest("regtest-our-close", "anchors_zero_fee_htlc_tx", (r) =>
      Effect.gen(function*() {
        const h = r.h
        const { id } = yield* r.open(300_000_000n)
        const a = must(yield* addHtlc(h, 0, id, 20_000_000n, 1)) // we offer: our HTLC-timeout
        yield* h.quiesce({ completeWrites: true })
        const b = must(yield* addHtlc(h, 1, id, 15_000_000n, 2)) // they offer, we hold the preimage
        yield* h.quiesce({ completeWrites: true })
        const c = must(yield* addHtlc(h, 1, id, 12_000_000n, 3)) // they offer, we hold the preimage
        yield* h.quiesce({ completeWrites: true })
        yield* h.node(0).manager!.claimPreimage(id, b, preimageFor(h.seed, 2)).pipe(Effect.orDie)
        yield* h.node(0).manager!.claimPreimage(id, c, preimageFor(h.seed, 3)).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })

        yield* h.disconnect(0, 1)
        yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* r.mine(1) // our monitor broadcasts the commitment
        yield* r.mine(1) // mined; the aggregated HTLC-success goes out (and the peer's to_remote after its CSV 1)
        assert.strictEqual((yield* r.monitors[0]!.resolution(id))?.spend?.kind, "HolderCommitment")
        yield* r.stepTo(EXPIRY + 3 + TO_SELF_DELAY + 6)

        assert.deepStrictEqual(yield* spentByUs(r, 0, id), ["htlc_tx_output", "htlc_tx_output", "htlc_tx_output", "offered_htlc", "received_htlc", "received_htlc", "to_local"])
        assert.deepStrictEqual(yield* spentByUs(r, 1, id), ["to_remote"])
        // Both HTLC-success in one transaction, accepted and mined by bcoin (which checks the
        // counterparty's SINGLE|ANYONECANPAY signatures in the larger transaction).
        const success = (yield* r.monitors[0]!.resolution(id))?.outputs.filter((o) => o.kind === "received_htlc").map((o) => (o.status._tag === "Spent" ? toHex(o.status.txid) : ""))
        assert.strictEqual(success?.length, 2)
        assert.strictEqual(success?.[0], success?.[1])
        const resolved = (i: number) => r.events[i]!.flatMap((e) => (e._tag === "HtlcResolved" ? [`${e.htlcId}:${e.result._tag}`] : []))
        assert.deepStrictEqual(resolved(0), [`${a}:Failed`])
        assert.deepStrictEqual([...resolved(1)].sort(), [`${b}:Fulfilled`, `${c}:Fulfilled`].sort())
        assert.deepStrictEqual((yield* r.monitors[0]!.balances).flatMap((x) => x.balances), [])
        yield* assertAccepted(r, 0)
        yield* assertAccepted(r, 1)
      })
    ), 180_000)

  it.live("the peer force-closes with an HTLC each way: both resolved on chain (preimage, timeout), every output swept", () =>
    withRegtest("regtest-peer-close", "static_remote_key", (r) =>
      Effect.gen(function*() {
        const h = r.h
        const { id } = yield* r.open(300_000_000n)
        const a = must(yield* addHtlc(h, 0, id, 20_000_000n, 1)) // we offer: timed out by us
        yield* h.quiesce({ completeWrites: true })
        const b = must(yield* addHtlc(h, 1, id, 15_000_000n, 2)) // they offer: we hold the preimage
        yield* h.quiesce({ completeWrites: true })
        yield* h.node(0).manager!.claimPreimage(id, b, preimageFor(h.seed, 2)).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })

        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* r.mine(1) // their monitor broadcasts their commitment
        yield* r.mine(1) // mined; our preimage claim and to_remote go out
        assert.strictEqual((yield* r.monitors[0]!.resolution(id))?.spend?.kind, "CounterpartyCommitment")
        assert.strictEqual((yield* r.monitors[1]!.resolution(id))?.spend?.kind, "HolderCommitment")
        yield* r.stepTo(EXPIRY + 2 + TO_SELF_DELAY + 6)

        assert.deepStrictEqual(yield* spentByUs(r, 0, id), ["offered_htlc", "received_htlc", "to_remote"])
        assert.deepStrictEqual(yield* spentByUs(r, 1, id), ["to_local"])
        // The preimage reached the peer from our witness; each HTLC resolved for the side that offered it.
        assert.ok(r.events[1]!.some((e) => e._tag === "PreimageLearned" && toHex(e.preimage) === toHex(preimageFor(h.seed, 2))))
        const resolved = (i: number) => r.events[i]!.flatMap((e) => (e._tag === "HtlcResolved" ? [`${e.htlcId}:${e.result._tag}`] : []))
        assert.deepStrictEqual(resolved(0), [`${a}:Failed`])
        assert.deepStrictEqual(resolved(1), [`${b}:Fulfilled`])
        assert.deepStrictEqual((yield* r.monitors[0]!.balances).flatMap((c) => c.balances), [])
        yield* assertAccepted(r, 0)
        yield* assertAccepted(r, 1)
        // Sums: we get 680k (to_remote, less the commitment fee we pay as funder) + 20k (timed out)
        // + 15k (by preimage), they 285k (to_local), each less the claims' fees.
        const txs = yield* r.chainTxs(440)
        const ours = paidTo(txs, r.sweeps[0]!)
        const theirs = paidTo(txs, r.sweeps[1]!)
        assert.ok(ours > 700_000n && ours < 715_000n, `ours ${ours}`)
        assert.ok(theirs > 280_000n && theirs < 285_000n, `theirs ${theirs}`)
      })
    ), 180_000)

  it.live("a reorg on bcoin takes their commitment and our claim away; the commitment comes back and the claim is made again", () =>
    withRegtest("regtest-reorg", "static_remote_key", (r) =>
      Effect.gen(function*() {
        const h = r.h
        const { id } = yield* r.open(300_000_000n)
        yield* h.disconnect(0, 1)
        yield* h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* h.quiesce({ completeWrites: true })
        yield* r.mine(1) // their monitor broadcasts their commitment
        yield* r.mine(1) // mined; our to_remote claim goes out
        yield* r.mine(1) // our claim mined
        const before = yield* r.monitors[0]!.resolution(id)
        assert.strictEqual(before?.spend?.kind, "CounterpartyCommitment")
        const at = before?.spend?.height ?? 0
        assert.deepStrictEqual(yield* spentByUs(r, 0, id), ["to_remote"])
        // A competing branch from below the commitment's block, longer than ours (its blocks are
        // mined to another key, without the commitment): bcoin disconnects both blocks.
        const fork = yield* r.cmd({ cmd: "fork", height: at - 1, n: 3 })
        const last = fork.hashes?.[fork.hashes.length - 1]
        const hash = last === undefined ? undefined : blockHashFromHex(last)
        if (hash === undefined || Result.isFailure(hash)) return assert.fail("no fork")
        for (const m of r.monitors) yield* m.awaitBlock(hash.success)
        assert.strictEqual((yield* r.monitors[0]!.resolution(id))?.spend, undefined)
        assert.deepStrictEqual((yield* r.monitors[0]!.balances)[0]?.balances.map((b) => b._tag), ["ChannelOpen"])
        // Their monitor publishes the commitment again; it confirms, our claim is made again and confirms.
        for (let k = 0; k < 3; k++) yield* r.mine(1)
        const changes = r.events[0]!.flatMap((e) => (e._tag === "FundingSpendChanged" ? [e.kind ?? "none"] : []))
        assert.deepStrictEqual(changes, ["CounterpartyCommitment", "none", "CounterpartyCommitment"])
        const after = yield* r.monitors[0]!.resolution(id)
        assert.isAbove(after?.spend?.height ?? 0, at)
        assert.deepStrictEqual(yield* spentByUs(r, 0, id), ["to_remote"])
        yield* assertAccepted(r, 0)
        yield* assertAccepted(r, 1)
      })
    ), 180_000)

  it.live("a reorg on bcoin takes the funding transaction away: depth back to 0, nothing spends it, it confirms again and a payment goes through", () =>
    withRegtest("regtest-funding-reorg", "static_remote_key", (r) =>
      Effect.gen(function*() {
        const h = r.h
        // A `ChainWatcher` per node over bcoin (depth facts from the chain, its broadcasts checked),
        // started before the open so it sees the `WatchFunding`; minimum depth 2 keeps the
        // channel in WaitChannelReady at one confirmation.
        const scope = yield* Scope.make()
        yield* Effect.gen(function*() {
          for (const i of [0, 1]) {
            yield* startChainWatcher({ announceDepth: 3 }).pipe(
              Effect.provideService(ChannelManager, h.node(i).manager!),
              Effect.provideService(ChainSource, r.chain.chainSource),
              Effect.provideService(Broadcaster, r.checked(i)),
              Scope.provide(scope),
              Effect.orDie
            )
          }
          const { id, funding, parent } = yield* r.open(300_000_000n)
          const fundingId = txidToHex(txid(funding))
          const stateOf = (i: number) =>
            Effect.map(h.state(i, id), (s) => ({ tag: s?._tag, depth: s?._tag === "WaitChannelReady" ? s.depth : undefined }))
          const until = (what: string, i: number, ok: (s: { tag: string | undefined; depth: number | undefined }) => boolean) =>
            Effect.gen(function*() {
              for (let k = 0; k < 1000; k++) {
                yield* h.quiesce({ completeWrites: true })
                const s = yield* stateOf(i)
                if (ok(s)) return s
                yield* Effect.sleep("10 millis")
              }
              return assert.fail(`timed out waiting for node ${i}: ${what} (${JSON.stringify(yield* stateOf(i))})`)
            })
          for (const i of [0, 1]) yield* until("depth 1", i, (s) => s.tag === "WaitChannelReady" && s.depth === 1)
          const at = (yield* r.chain.rpc.call("getblockcount", []).pipe(Effect.orDie)) as number
          const inBlock = (yield* r.chainTxs(at)).map((x) => txidToHex(txid(x.tx)))
          assert.include(inBlock, fundingId, "the funding transaction confirmed at the tip")

          // A competing branch from below the funding block, one block longer, mined to another
          // key without the funding transaction: bcoin disconnects the funding block.
          const fork = yield* r.cmd({ cmd: "fork", height: at - 1, n: 2 })
          const last = fork.hashes?.[fork.hashes.length - 1]
          const hash = last === undefined ? undefined : blockHashFromHex(last)
          if (hash === undefined || Result.isFailure(hash)) return assert.fail("no fork")
          for (const m of r.monitors) yield* m.awaitBlock(hash.success)
          assert.notInclude((yield* r.chainTxs(at - 1)).map((x) => txidToHex(txid(x.tx))), fundingId, "the funding transaction is off the best chain")
          // Both channels see it unconfirmed again; no monitor saw a spend of it.
          for (const i of [0, 1]) yield* until("depth 0", i, (s) => s.tag === "WaitChannelReady" && s.depth === 0)
          for (const m of r.monitors) assert.strictEqual((yield* m.resolution(id))?.spend, undefined)
          // bcoin 1.0.2 does not put a disconnected block's transactions back into an empty
          // mempool (`Mempool._removeBlock` returns early when `map.size === 0`; Bitcoin Core
          // re-adds them): the funding and its parent (the test's coin) are gone. Our watcher
          // rebroadcasts the funding on the fork's blocks: refused by the mempool (missing parent;
          // bcoin keeps it as an orphan).
          assert.deepStrictEqual((yield* r.cmd({ cmd: "mempool" })).txids, [])
          for (let k = 0; k < 1000 && !r.sent.some((s) => !s.inMempool); k++) yield* Effect.sleep("10 millis") // the watchers are not awaited by the monitors' `awaitBlock`
          // The test (the funding wallet) publishes the parent again: the funding follows it into
          // bcoin's mempool, the next block confirms both, the count starts over (depth 1, then
          // Normal at depth 2).
          yield* r.chain.broadcaster.broadcast(parent).pipe(Effect.orDie)
          assert.isTrue(yield* r.accepted(parent), "the parent is back in bcoin's mempool")
          assert.isTrue(yield* r.accepted(funding), "the funding transaction is back in bcoin's mempool")
          yield* r.mine(1)
          assert.include((yield* r.chainTxs(at + 2)).map((x) => txidToHex(txid(x.tx))), fundingId, "the funding transaction mined again")
          for (const i of [0, 1]) yield* until("depth 1 again", i, (s) => s.tag === "WaitChannelReady" && s.depth === 1)
          yield* r.mine(1)
          for (const i of [0, 1]) yield* until("Normal", i, (s) => s.tag === "Normal")

          // A payment across the channel: our balance (our monitor's view of our commitment) goes down by it.
          const ours = Effect.map(r.monitors[0]!.balances, (bs) => bs[0]?.balances.flatMap((b) => (b._tag === "ChannelOpen" ? [b.amount] : [])) ?? [])
          const before = yield* ours
          assert.strictEqual(before.length, 1)
          const a = must(yield* h.addHtlc(0, id, 20_000_000n, 1))
          yield* h.quiesce({ completeWrites: true })
          must(Result.mapError(yield* h.fulfillHtlc(1, id, a, 1), String))
          yield* h.quiesce({ completeWrites: true })
          const after = yield* ours
          assert.strictEqual(BigInt(before[0]!) - BigInt(after[0]!), 20_000n)

          // Nothing was broadcast but the funding transaction (no claim on an output that was off
          // chain, by a monitor or a watcher), held by bcoin's mempool every time but while its
          // parent was gone (above), and it is mined.
          assert.deepStrictEqual([...new Set(r.sent.map((s) => s.txid))], [fundingId])
          assert.deepStrictEqual(r.sent.filter((s) => s.node === 1), [])
          const refused = r.sent.filter((s) => !s.inMempool)
          assert.isAbove(refused.length, 0, "the watcher rebroadcast the funding during the reorg")
          // bcoin's tip when the rebroadcast was refused: during the reorg (`at - 1`, the fork's
          // base, once the funding block is disconnected and before the fork's blocks connect) or
          // on the fork's blocks (`at`, `at + 1`); never once the parent was back (`at + 2` on).
          assert.deepStrictEqual(refused.filter((s) => s.height < at - 1 || s.height > at + 1), [], "refused only while the parent was gone")
        }).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
      }), 2
    ), 60_000)

  it.live("a cheater publishes a revoked commitment and its HTLC-success: justice takes everything", () =>
    withRegtest("regtest-revoked", "static_remote_key", (r) =>
      Effect.gen(function*() {
        const h = r.h
        const { id } = yield* r.open(300_000_000n)
        const a = must(yield* h.addHtlc(0, id, 20_000_000n, 1))
        yield* h.quiesce({ completeWrites: true })
        must(yield* h.addHtlc(1, id, 15_000_000n, 2))
        yield* h.quiesce({ completeWrites: true })

        // Test-only: the cheater (node 1) keeps its current commitment and its HTLC-success for
        // `a`, signed by its own signer, before revoking them.
        const { old, success, commitmentNumber: n } = yield* cheaterState(h, id, 1, 1)
        if (success === undefined) return assert.fail("no HTLC-success transaction")
        must(Result.mapError(yield* h.fulfillHtlc(1, id, a, 1), String)) // node 1 revokes commitment n
        yield* h.quiesce({ completeWrites: true })

        // The cheat, through bcoin's own mempool (both accepted: the chain cannot know they are revoked).
        yield* h.disconnect(0, 1)
        for (const tx of [old.tx, success]) {
          yield* r.chain.broadcaster.broadcast(tx).pipe(Effect.orDie)
          assert.isTrue(yield* r.accepted(tx), "the cheater's transaction is in bcoin's mempool")
        }
        yield* r.mine(1)
        const spend = (yield* r.monitors[0]!.resolution(id))?.spend
        assert.strictEqual(spend?.kind, "RevokedCommitment")
        assert.strictEqual(spend?.commitmentNumber, n)
        yield* r.mine(TO_SELF_DELAY + 4)
        assert.deepStrictEqual(yield* spentByUs(r, 0, id), ["revoked_htlc", "revoked_htlc_tx_output", "revoked_to_local", "to_remote"])
        yield* assertAccepted(r, 0)
        const txs = yield* r.chainTxs(440)
        assert.strictEqual(paidTo(txs, r.sweeps[1]!), 0n, "the cheater's sweep script got nothing")
        assert.ok(paidTo(txs, r.sweeps[0]!) > FUNDING - 25_000n, `swept ${paidTo(txs, r.sweeps[0]!)}`)
        assert.deepStrictEqual((yield* r.monitors[0]!.balances).flatMap((c) => c.balances), [])
      })
    ), 180_000)
})
