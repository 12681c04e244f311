/**
 * On-chain enforcement (issue 9 "Benchmark"): `MonitorChain` watching 1,000 channels.
 *
 * - Blocks per second: blocks of 2,000 transactions (two inputs, two outputs each, spending
 *   outpoints nobody watches) fed through an in-memory `ChainSource`, half of them with none of
 *   ours and half with 10 mutual closes of our channels; a block counts when the monitor has
 *   processed it (matched, resolved, claims handed over, its state written to a memory store).
 * - Justice latency: from a block holding a revoked commitment of ours (plus 1,999 others) being
 *   handed to the chain source to the penalty transaction spending its `to_local` reaching the
 *   broadcaster (signed by a real `SeedChannelSigner`).
 *
 * Targets (issue 9): >= 50 blocks/s for 1,000 channels, justice < 100 ms. Printed against them,
 * never asserted. CHAIN_BENCH_BLOCKS (default 40) sets the number of blocks timed.
 */
import { performance } from "node:perf_hooks"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Queue, Result, Stream } from "effect"
import * as MonitorChain from "../src/actors/MonitorChain.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryStore } from "../src/layers/store/MemoryStore.ts"
import { type Block, type BlockHash, makeHeader, refOf, ZERO_HASH } from "../src/protocol/chain/block.ts"
import { anchorsZeroFeeHtlcTx } from "../src/protocol/channel-type.ts"
import type { ChannelParams } from "../src/protocol/channel/params.ts"
import { deriveCommitmentKeys } from "../src/protocol/keys/commitment-keys.ts"
import { unsafePublicKey } from "../src/protocol/keys/keys.ts"
import { replay } from "../src/protocol/monitor/apply.ts"
import { obscuringFactorOf } from "../src/protocol/monitor/onchain.ts"
import type { MonitorState } from "../src/protocol/monitor/state.ts"
import { p2wpkhScript } from "../src/protocol/tx/bitcoin/script.ts"
import { decodeTransaction, makeInput, txid, type Transaction, txidFromBytes } from "../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentTransaction } from "../src/protocol/tx/commitment.ts"
import { type ChannelId, msat, sat } from "../src/protocol/units.ts"
import { Broadcaster } from "../src/services/Broadcaster.ts"
import { BlockNotFound, type ChainEvent, ChainSource } from "../src/services/ChainSource.ts"
import { ChannelSigner, channelKeyId } from "../src/services/ChannelSigner.ts"
import { FeeEstimator } from "../src/services/FeeEstimator.ts"
import { Store } from "../src/services/Store.ts"
import { counterpartyPointHex, LogBuilder, makeParams } from "../test/protocol/monitor/fixtures.ts"

const CHANNELS = 1_000
const TXS_PER_BLOCK = 2_000
const BLOCKS = Number(process.env["CHAIN_BENCH_BLOCKS"] ?? 40)
const secp = wasmSecp256k1
const tag = (s: string) => sha256(new TextEncoder().encode(s))

const monitorOf = (params: ChannelParams, revokeOne: boolean): MonitorState => {
  const b = new LogBuilder(params)
  if (revokeOne) {
    b.signCounterparty()
    b.revoke()
  }
  const r = replay(secp, b.log)
  if (Result.isFailure(r)) throw new Error(`fixture log: ${r.failure._tag}`)
  return r.success
}

let counter = 0
/** A transaction nobody watches: two inputs, two outputs. */
const noise = (): Transaction => {
  const n = counter++
  return {
    version: 2,
    inputs: [makeInput({ txid: txidFromBytes(tag(`noise/${n}/a`)), vout: 0 }, 0xfffffffd), makeInput({ txid: txidFromBytes(tag(`noise/${n}/b`)), vout: 1 }, 0xfffffffd)],
    outputs: [{ value: sat(50_000n), scriptPubKey: p2wpkhScript(tag(`noise/${n}/o1`)) }, { value: sat(40_000n), scriptPubKey: p2wpkhScript(tag(`noise/${n}/o2`)) }],
    locktime: 0
  }
}

const blockOf = (height: number, prev: BlockHash, transactions: ReadonlyArray<Transaction>): Block => {
  const header = makeHeader({ version: 1, prevHash: prev, merkleRoot: new Uint8Array(32), time: 1_700_000_000 + height * 600, bits: 0x207fffff, nonce: height }, height)
  return { header, transactions, txids: transactions.map((t) => txid(t)) }
}

export const run = async (): Promise<void> => {
  // Channel 0: a real signer's channel whose counterparty commitment 0 is revoked (justice target).
  const signer = makeSeedChannelSigner(tag("chain-bench/signer"), secp)
  const fixture = makeParams({ channel: 0 })
  const keyId = channelKeyId(fixture.keyId)
  if (keyId === undefined) throw new Error("key id")
  const ours = await Effect.runPromise(signer.channelPublicKeys(keyId))
  const params: ChannelParams = { ...fixture, local: { ...fixture.local, basepoints: ours } }
  await Effect.runPromise(
    signer.readyChannel(keyId, {
      channelType: anchorsZeroFeeHtlcTx,
      fundingOutpoint: params.fundingOutpoint,
      fundingAmount: params.fundingAmount,
      holderIsFunder: params.localIsFunder,
      counterpartyBasepoints: params.remote.basepoints,
      holderSelfDelay: params.remote.toSelfDelay,
      counterpartySelfDelay: params.local.toSelfDelay,
      holderDustLimit: params.local.dustLimit,
      counterpartyDustLimit: params.remote.dustLimit
    })
  )
  const monitors: Array<{ readonly channelId: ChannelId; readonly monitor: MonitorState }> = [{ channelId: params.channelId, monitor: monitorOf(params, true) }]
  for (let i = 1; i < CHANNELS; i++) {
    const p = makeParams({ channel: i })
    monitors.push({ channelId: p.channelId, monitor: monitorOf(p, false) })
  }
  // Their revoked commitment 0, as they would broadcast it (the signature does not matter to the monitor).
  const point = unsafePublicKey(Uint8Array.from(Buffer.from(counterpartyPointHex(0n), "hex")))
  const keys = deriveCommitmentKeys(secp, params.remote.basepoints, ours, point)
  if (Result.isFailure(keys)) throw new Error("keys")
  const revoked = buildCommitmentTransaction({
    channelType: anchorsZeroFeeHtlcTx,
    fundingOutpoint: params.fundingOutpoint,
    fundingAmount: params.fundingAmount,
    localFundingPubkey: params.remote.basepoints.fundingPubkey,
    remoteFundingPubkey: ours.fundingPubkey,
    commitmentNumber: 0n,
    obscuringFactor: obscuringFactorOf(params),
    localIsFunder: !params.localIsFunder,
    toLocal: msat(400_000_000n),
    toRemote: msat(600_000_000n),
    htlcs: [],
    feeratePerKw: 253,
    dustLimit: params.remote.dustLimit,
    toSelfDelay: params.local.toSelfDelay,
    keys: keys.success
  })
  if (Result.isFailure(revoked)) throw new Error(revoked.failure.reason)

  // Blocks, built before timing.
  const genesis = blockOf(0, ZERO_HASH, [noise()])
  const blocks: Array<Block> = []
  let prev = genesis.header.hash
  let closed = 1
  for (let h = 1; h <= BLOCKS; h++) {
    const txs: Array<Transaction> = []
    const ofOurs = h % 2 === 0 ? 10 : 0
    for (let k = 0; k < ofOurs && closed < CHANNELS; k++, closed++) {
      const m = monitors[closed]!.monitor
      txs.push({ version: 2, inputs: [makeInput(m.params.fundingOutpoint, 0xffffffff)], outputs: [{ value: sat(990_000n), scriptPubKey: p2wpkhScript(tag(`close/${closed}`)) }], locktime: 0 })
    }
    while (txs.length < TXS_PER_BLOCK) txs.push(noise())
    const b = blockOf(h, prev, txs)
    blocks.push(b)
    prev = b.header.hash
  }
  const justiceTxs = [revoked.success.tx, ...Array.from({ length: TXS_PER_BLOCK - 1 }, noise)]
  const justiceBlock = blockOf(BLOCKS + 1, prev, justiceTxs)

  const broadcasts: Array<{ readonly at: number; readonly tx: Transaction }> = []
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const queue = yield* Queue.unbounded<ChainEvent>()
        const chainSource = ChainSource.of({
          tip: Effect.succeed(refOf(genesis.header)),
          header: () => Effect.fail(new BlockNotFound({ block: "bench" })),
          block: () => Effect.fail(new BlockNotFound({ block: "bench" })),
          follow: () => Stream.fromQueue(queue),
          outputStatus: () => Effect.succeed({ _tag: "SpentOrUnknown" })
        })
        const broadcaster = Broadcaster.of({
          broadcast: (tx) =>
            Effect.sync(() => {
              const decoded = tx instanceof Uint8Array ? decodeTransaction(tx) : Result.succeed(tx)
              if (Result.isFailure(decoded)) return txidFromBytes(new Uint8Array(32))
              broadcasts.push({ at: performance.now(), tx: decoded.success })
              return txid(decoded.success)
            })
        })
        const services = Layer.mergeAll(
          Layer.succeed(ChainSource, chainSource),
          Layer.succeed(Broadcaster, broadcaster),
          Layer.succeed(FeeEstimator, FeeEstimator.of({ estimate: () => Effect.succeed({ feeratePerKw: 1_000, source: "estimate" as const }) })),
          Layer.succeed(ChannelSigner, signer),
          Layer.succeed(Store, makeMemoryStore().store)
        )
        const monitor = yield* MonitorChain.startWith(
          { secp, sweepScript: p2wpkhScript(tag("chain-bench/sweep")), finalityDepth: 6 },
          { monitors: Effect.succeed(monitors) }
        ).pipe(Effect.provide(services))

        const feed = (b: Block) => Queue.offer(queue, { _tag: "BlockConnected", block: b }).pipe(Effect.andThen(monitor.awaitBlock(b.header.hash)))
        const started = performance.now()
        const cpu0 = process.cpuUsage()
        for (const b of blocks) yield* feed(b)
        const elapsed = (performance.now() - started) / 1000
        const cpu = process.cpuUsage(cpu0)
        const perSecond = blocks.length / elapsed

        const before = broadcasts.length
        const handedAt = performance.now()
        yield* feed(justiceBlock)
        const revokedId = txid(revoked.success.tx)
        const penalty = broadcasts.slice(before).find((x) => x.tx.inputs.some((i) => Buffer.from(i.prevout.txid).equals(Buffer.from(revokedId)) && revoked.success.outputs[i.prevout.vout]?.kind === "to_local"))
        const justiceMs = penalty === undefined ? undefined : penalty.at - handedAt
        const claimed = (yield* monitor.resolution(params.channelId))?.spend?.kind
        console.log(`channels watched                ${CHANNELS} (1 with a revoked commitment, ${closed - 1} closed mutually during the run)`)
        console.log(`blocks of ${TXS_PER_BLOCK} transactions       ${blocks.length} (half with none of ours, half with 10 mutual closes)`)
        console.log(`blocks per second               ${perSecond.toFixed(1)} (target >= 50; CPU ${((cpu.user + cpu.system) / 1000 / blocks.length).toFixed(1)} ms per block)`)
        console.log(`justice latency                 ${justiceMs === undefined ? "no penalty broadcast!" : `${justiceMs.toFixed(1)} ms`} (target < 100 ms; spend classified ${claimed ?? "?"})`)
      })
    )
  )
}
