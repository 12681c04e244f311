/**
 * BOLT 5 against a real regtest node (bcoin 1.0.2 in a child process, `test/layers/chain/bcoin-node.cjs`,
 * followed through the bitcoind RPC layer): two of our nodes (the channel harness), each with a
 * `MonitorChain`; we force close a static_remote_key channel with an HTLC each way. Every
 * claim (our commitment, HTLC-success, HTLC-timeout, to_local, both second-stage outputs, the
 * peer's to_remote) must be accepted by bcoin's mempool, which verifies scripts, and mined:
 * each tracked output ends spent by its owner's claim on bcoin's chain.
 * bcoin's regtest turns on segwit and CSV only after 432 blocks: they are mined first.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result, Scope, Stream } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { ChannelManager } from "../../../src/actors/ChannelManager.ts"
import * as MonitorChain from "../../../src/actors/MonitorChain.ts"
import { make as makeBitcoind } from "../../../src/layers/chain/BitcoindChain.ts"
import { makeMemoryStore } from "../../../src/layers/store/MemoryStore.ts"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { blockHashFromHex } from "../../../src/protocol/chain/block.ts"
import { defaultLocalChannelConfig } from "../../../src/protocol/channel/config.ts"
import { p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { decodeTransaction, serializeTransaction, txid, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { FAUCET_SCRIPT, FAUCET_WITNESS_SCRIPT } from "../../../src/layers/chain/sim/core.ts"
import { Broadcaster } from "../../../src/services/Broadcaster.ts"
import { ChainSource } from "../../../src/services/ChainSource.ts"
import { ChannelSigner } from "../../../src/services/ChannelSigner.ts"
import { FeeEstimator } from "../../../src/services/FeeEstimator.ts"
import { Store } from "../../../src/services/Store.ts"
import { Harness, preimageFor, secp } from "../channels/Harness.ts"
import { bcoinAvailable, BcoinNode as Bcoin } from "../../support/bcoin.ts"

describe.skipIf(!bcoinAvailable)("BOLT 5 against a bcoin regtest node", () => {
  it.live("we force close with an HTLC each way: every claim is accepted by bcoin and mined", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => Bcoin.start()),
      (bcoin) =>
        Effect.gen(function*() {
          const cmd = (c: Record<string, unknown>) => Effect.promise(() => bcoin.command(c))
          yield* cmd({ cmd: "mine", n: 440 }) // segwit + CSV active, mature coinbases
          const chain = yield* makeBitcoind({ url: bcoin.url, pollIntervalMs: 30, reconnectIntervalMs: 50 })
          const h = yield* Harness.make({ seed: "onchain-regtest", nodes: 2, node: { config: { ...defaultLocalChannelConfig, minimumDepth: 1, toSelfDelay: 6 } } })
          const scopes: Array<Scope.Closeable> = []
          const monitors: Array<MonitorChain.MonitorChainHandle> = []
          const events: Array<Array<MonitorChain.MonitorChainEvent>> = [[], []]
          for (const i of [0, 1]) {
            const scope = yield* Scope.make()
            scopes.push(scope)
            const services = Layer.mergeAll(
              Layer.succeed(ChannelManager, h.node(i).manager!),
              Layer.succeed(ChainSource, chain.chainSource),
              Layer.succeed(Broadcaster, chain.broadcaster),
              Layer.succeed(FeeEstimator, chain.feeEstimator),
              Layer.succeed(ChannelSigner, h.node(i).signer),
              Layer.succeed(Store, makeMemoryStore().store)
            )
            const sweep = p2wpkhScript(sha256(new TextEncoder().encode(`regtest/sweep/${i}`)))
            const m = yield* MonitorChain.start({ secp, sweepScript: sweep, finalityDepth: 3 }).pipe(Effect.provide(services), Scope.provide(scope))
            monitors.push(m)
            const stream = yield* m.subscribe.pipe(Scope.provide(scope))
            yield* stream.pipe(Stream.runForEach((e) => Effect.sync(() => events[i]!.push(e))), Effect.forkIn(scope))
          }
          /** Mines `n` blocks on bcoin, then waits until both monitors processed the last one. */
          const mine = (n: number) =>
            Effect.gen(function*() {
              const { hashes } = yield* cmd({ cmd: "mine", n })
              const last = hashes?.[hashes.length - 1]
              if (last === undefined) return
              const hash = blockHashFromHex(last)
              if (Result.isFailure(hash)) return yield* Effect.die(new Error("bad hash"))
              for (const m of monitors) yield* m.awaitBlock(hash.success)
            })
          const cleanup = Effect.gen(function*() {
            for (const s of scopes) yield* Scope.close(s, Exit.void)
            yield* h.shutdown
          })
          yield* Effect.gen(function*() {
            // Open 0 -> 1, funded by a bcoin transaction (a mature coinbase of bcoin's own key).
            yield* h.connect(0, 1)
            const temporary = yield* h.open(0, 1, { fundingSat: 1_000_000n, pushMsat: 300_000_000n, channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false } })
            yield* h.quiesce({ completeWrites: true })
            const need = h.events[0]!.map((e) => e.event).find((e) => e._tag === "FundingNeeded")
            if (need === undefined || need._tag !== "FundingNeeded") return assert.fail("no FundingNeeded")
            // bcoin pays an anyone-can-spend P2WSH(OP_TRUE) from its (P2PKH) coinbase; the funding
            // transaction spends that (channels take segwit inputs only).
            const paid = yield* cmd({ cmd: "pay", script: toHex(FAUCET_SCRIPT), value: Number(need.amount) + 20_000 })
            const parent = decodeTransaction(fromHex(paid.hex ?? ""))
            if (Result.isFailure(parent)) return assert.fail("bcoin's transaction does not parse")
            yield* chain.broadcaster.broadcast(parent.success).pipe(Effect.orDie)
            const funding: Transaction = {
              version: 2,
              inputs: [{ prevout: { txid: txid(parent.success), vout: 0 }, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [FAUCET_WITNESS_SCRIPT] }],
              outputs: [{ value: need.amount, scriptPubKey: need.scriptPubKey }],
              locktime: 0
            }
            const funded = yield* h.command(0, temporary, { _tag: "FundingTransaction", tx: serializeTransaction(funding) })
            assert.ok(Result.isSuccess(funded), Result.isFailure(funded) ? funded.failure : "")
            yield* h.quiesce({ completeWrites: true })
            const pending = h.eventsOf(0, "ChannelPending").at(-1)
            if (pending === undefined) return assert.fail("no ChannelPending")
            const id = pending.channelId
            yield* chain.broadcaster.broadcast(funding).pipe(Effect.orDie)
            yield* mine(1)
            yield* h.setDepth(id, 1)
            yield* h.quiesce({ completeWrites: true })
            const a = yield* h.addHtlc(0, id, 20_000_000n, 1)
            yield* h.quiesce({ completeWrites: true })
            const b = yield* h.addHtlc(1, id, 15_000_000n, 2)
            yield* h.quiesce({ completeWrites: true })
            if (Result.isFailure(a) || Result.isFailure(b)) return assert.fail("HTLCs not added")
            yield* h.node(0).manager!.claimPreimage(id, b.success, preimageFor(h.seed, 2)).pipe(Effect.orDie)
            yield* h.quiesce({ completeWrites: true })

            yield* h.disconnect(0, 1)
            yield* h.node(0).manager!.forceClose(id).pipe(Effect.orDie)
            yield* h.quiesce({ completeWrites: true })
            yield* mine(1) // our monitor broadcasts the commitment
            yield* mine(1) // mined; HTLC-success and the peer's to_remote go out
            assert.strictEqual((yield* monitors[0]!.resolution(id))?.spend?.kind, "HolderCommitment")
            const height = (yield* monitors[0]!.tip).height
            // Past the HTLC-timeout (cltv 1001) and every delay, one block at a time near the end.
            if (height < 1000) yield* mine(1000 - height)
            for (let k = 0; k < 14; k++) yield* mine(1)
            const spentByUs = (i: number) =>
              Effect.map(monitors[i]!.resolution(id), (r) => (r?.outputs ?? []).filter((o) => o.status._tag === "Spent" && o.status.byUs).map((o) => o.kind).sort())
            assert.deepStrictEqual(yield* spentByUs(0), ["htlc_tx_output", "htlc_tx_output", "offered_htlc", "received_htlc", "to_local"])
            assert.deepStrictEqual(yield* spentByUs(1), ["to_remote"])
            assert.ok(events[1]!.some((e) => e._tag === "PreimageLearned"))
          }).pipe(Effect.ensuring(cleanup))
        }),
      (bcoin) => Effect.promise(() => bcoin.stop())
    ), 180_000)
})
