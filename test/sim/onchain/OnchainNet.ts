/**
 * Two of our nodes (the channel harness, manager backend: real `ChannelManager`s, real seeded
 * signers) on ONE simulated chain, each with a `MonitorChain` enforcing its channels over its
 * own in-memory store and paying claims to its own sweep script.
 *
 * The funding transaction is a faucet transaction of the simulated chain (so commitments and
 * claims spend real outputs there); the harness's funding depth is fed by hand as usual.
 * `mine` mines one block at a time and waits until every running monitor has processed it
 * (claims handed to the broadcaster), so a test reads the chain deterministically.
 *
 * `verifyChannelScripts` runs every transaction that descends from the funding transaction
 * through bitcore-lib's script interpreter against the outputs it spends (the simulated chain
 * does not run scripts).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Layer, Redacted, Result, Scope, Stream } from "effect"
import { ChannelManager } from "../../../src/actors/ChannelManager.ts"
import * as MonitorChain from "../../../src/actors/MonitorChain.ts"
import { make as makeSimChain } from "../../../src/layers/chain/SimulatedChain.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import type { Block } from "../../../src/protocol/chain/block.ts"
import { defaultLocalChannelConfig } from "../../../src/protocol/channel/config.ts"
import { encodeTxSignature } from "../../../src/protocol/tx/bitcoin/der.ts"
import { p2wpkhScript, p2wpkhScriptCode } from "../../../src/protocol/tx/bitcoin/script.ts"
import { SIGHASH_ALL } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import { makeInput, serializeTransaction, setWitness, txid as computeTxid, weight, type OutPoint, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { signInput } from "../../../src/protocol/tx/signing.ts"
import { sat } from "../../../src/protocol/units.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import { Broadcaster } from "../../../src/services/Broadcaster.ts"
import { ChainSource } from "../../../src/services/ChainSource.ts"
import { ChannelSigner, channelKeyId } from "../../../src/services/ChannelSigner.ts"
import { FeeEstimator } from "../../../src/services/FeeEstimator.ts"
import { Store } from "../../../src/services/Store.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { verifyInput } from "../../interpreter/bitcore.ts"
import { Harness, preimageFor, secp, type OpenOptions } from "../channels/Harness.ts"

export const TO_SELF_DELAY = 12

/**
 * A one-key test wallet on the chain for `FeeInputs`: faucet coins paying P2WPKH(key); each
 * HTLC transaction to fund gets one coin (the same one again when it is bumped) and a change
 * output back to the key.
 */
export class TestFeeWallet {
  readonly secret: Uint8Array
  readonly pubkey: Uint8Array
  readonly script: Uint8Array
  readonly coins: Array<{ readonly outpoint: OutPoint; readonly value: bigint }> = []
  private readonly assigned = new Map<string, { readonly outpoint: OutPoint; readonly value: bigint }>()
  constructor(seed: string) {
    this.secret = sha256(new TextEncoder().encode(`${seed}/fee-wallet`))
    const pub = secp.publicKey(this.secret)
    if (pub === undefined) throw new Error("bad wallet key")
    this.pubkey = pub
    this.script = p2wpkhScript(pub)
  }
  readonly feeInputs: MonitorChain.FeeInputs = {
    fund: (htlcTx, feeratePerKw, extraFee = 0n) =>
      Effect.sync(() => {
        const input = htlcTx.inputs[0]
        if (input === undefined) return undefined
        const k = `${toHex(input.prevout.txid)}:${input.prevout.vout}`
        const coin = this.assigned.get(k) ?? this.coins.shift()
        if (coin === undefined) return undefined
        this.assigned.set(k, coin)
        // HTLC transaction (with its witness) + one P2WPKH input (41 * 4 + 108) + one P2WPKH change output.
        const fee = BigInt(Math.ceil((feeratePerKw * (weight(htlcTx) + 272 + 124)) / 1000)) + extraFee
        if (coin.value - fee < 330n) return undefined
        const tx: Transaction = {
          ...htlcTx,
          inputs: [...htlcTx.inputs, makeInput(coin.outpoint, 0xfffffffd)],
          outputs: [...htlcTx.outputs, { value: sat(coin.value - fee), scriptPubKey: this.script }]
        }
        const sign = (t: Transaction): Effect.Effect<Transaction> =>
          Effect.sync(() => {
            const index = t.inputs.findIndex((i) => toHex(i.prevout.txid) === toHex(coin.outpoint.txid) && i.prevout.vout === coin.outpoint.vout)
            const sig = signInput(secp, { tx: t, index, scriptCode: p2wpkhScriptCode(this.pubkey), amount: sat(coin.value) }, SIGHASH_ALL, Redacted.make(this.secret))
            return setWitness(t, index, [encodeTxSignature(sig, SIGHASH_ALL), this.pubkey])
          })
        return { tx, sign }
      })
  }
}

export interface NetOptions {
  readonly seed: string
  /** Height of the chain at start (HTLCs of the harness expire at 1000 + n). */
  readonly startHeight?: number
  /** Monitor settings beyond the defaults (fee budgets). */
  readonly monitor?: { readonly maxCpfpFeeSat?: bigint; readonly maxFeeShare?: number }
}

export class OnchainNet {
  readonly monitors: Array<MonitorChain.MonitorChainHandle | undefined> = [undefined, undefined]
  readonly events: Array<Array<MonitorChain.MonitorChainEvent>> = [[], []]
  readonly storeData: Array<MemoryStoreData> = [makeMemoryStoreData(), makeMemoryStoreData()]
  readonly scopes: Array<Scope.Closeable | undefined> = [undefined, undefined]
  readonly sweep: ReadonlyArray<Uint8Array>
  readonly wallets: ReadonlyArray<TestFeeWallet>
  readonly h: Harness
  readonly chain: Effect.Success<ReturnType<typeof makeSimChain>>
  readonly monitorOptions: NonNullable<NetOptions["monitor"]>
  private constructor(h: Harness, chain: Effect.Success<ReturnType<typeof makeSimChain>>, seed: string, monitorOptions: NetOptions["monitor"]) {
    this.h = h
    this.monitorOptions = monitorOptions ?? {}
    this.chain = chain
    this.wallets = [new TestFeeWallet(`${seed}/0`), new TestFeeWallet(`${seed}/1`)]
    this.sweep = [0, 1].map((i) => p2wpkhScript(Uint8Array.from([2, ...sha256(new TextEncoder().encode(`${seed}/sweep/${i}`))])))
  }

  static make(options: NetOptions): Effect.Effect<OnchainNet> {
    return Effect.gen(function*() {
      const h = yield* Harness.make({
        seed: options.seed,
        nodes: 2,
        node: { config: { ...defaultLocalChannelConfig, minimumDepth: 1, toSelfDelay: TO_SELF_DELAY } }
      })
      const chain = yield* makeSimChain({ seed: options.seed, initialBlocks: options.startHeight ?? 960 })
      const net = new OnchainNet(h, chain, options.seed, options.monitor)
      for (const w of net.wallets) {
        for (let k = 0; k < 4; k++) {
          const { outpoint } = yield* chain.sim.fund(w.script, sat(100_000n)).pipe(Effect.orDie)
          w.coins.push({ outpoint, value: 100_000n })
        }
      }
      yield* chain.sim.mine(1).pipe(Effect.orDie)
      yield* net.startMonitor(0)
      yield* net.startMonitor(1)
      return net
    })
  }

  get shutdown(): Effect.Effect<void> {
    const net = this
    return Effect.gen(function*() {
      for (const s of net.scopes) if (s !== undefined) yield* Scope.close(s, Exit.void)
      yield* net.h.shutdown
    })
  }

  /** Starts (or restarts, over the same store) node `i`'s monitor. */
  startMonitor(i: number): Effect.Effect<void> {
    const net = this
    return Effect.gen(function*() {
      const old = net.scopes[i]
      if (old !== undefined) yield* Scope.close(old, Exit.void)
      const scope = yield* Scope.make()
      net.scopes[i] = scope
      const manager = net.h.node(i).manager
      if (manager === undefined) return yield* Effect.die(new Error("manager backend expected"))
      const { store } = makeMemoryStore(net.storeData[i])
      const services = Layer.mergeAll(
        Layer.succeed(ChannelManager, manager),
        Layer.succeed(ChainSource, net.chain.chainSource),
        Layer.succeed(Broadcaster, net.chain.broadcaster),
        Layer.succeed(FeeEstimator, net.chain.feeEstimator),
        Layer.succeed(ChannelSigner, net.h.node(i).signer),
        Layer.succeed(Store, store)
      )
      const monitor = yield* MonitorChain.start({ secp, sweepScript: net.sweep[i]!, finalityDepth: 6, feeInputs: net.wallets[i]!.feeInputs, ...net.monitorOptions }).pipe(Effect.provide(services), Scope.provide(scope))
      net.monitors[i] = monitor
      const events = yield* monitor.subscribe.pipe(Scope.provide(scope))
      yield* events.pipe(Stream.runForEach((e) => Effect.sync(() => net.events[i]!.push(e))), Effect.forkIn(scope))
    })
  }

  stopMonitor(i: number): Effect.Effect<void> {
    const net = this
    return Effect.gen(function*() {
      const s = net.scopes[i]
      if (s !== undefined) yield* Scope.close(s, Exit.void)
      net.scopes[i] = undefined
      net.monitors[i] = undefined
    })
  }

  /** Waits until every running monitor processed `block`. */
  settle(block: Block): Effect.Effect<void> {
    const net = this
    return Effect.forEach(net.monitors, (m) => (m === undefined ? Effect.void : m.awaitBlock(block.header.hash)), { discard: true })
  }

  /** Mines `n` blocks one at a time (mempool included), each processed by the monitors. */
  mine(n = 1, txs?: ReadonlyArray<Transaction>): Effect.Effect<ReadonlyArray<Block>> {
    const net = this
    return Effect.gen(function*() {
      const out: Array<Block> = []
      for (let k = 0; k < n; k++) {
        const [block] = yield* net.chain.sim.mine(1, txs === undefined || k > 0 ? {} : { txs, includeMempool: true }).pipe(Effect.orDie)
        if (block === undefined) continue
        out.push(block)
        yield* net.settle(block)
      }
      return out
    })
  }

  /** Mines `n` blocks leaving out packages below `feeratePerKw` (a congested chain), each processed by the monitors. */
  mineAbove(feeratePerKw: number, n = 1): Effect.Effect<ReadonlyArray<Block>> {
    const net = this
    return Effect.gen(function*() {
      const out: Array<Block> = []
      for (let k = 0; k < n; k++) {
        const [block] = yield* net.chain.sim.mine(1, { minFeeratePerKw: feeratePerKw }).pipe(Effect.orDie)
        if (block === undefined) continue
        out.push(block)
        yield* net.settle(block)
      }
      return out
    })
  }

  /** Mines until the tip is `height`. */
  mineTo(height: number): Effect.Effect<void> {
    const net = this
    return Effect.gen(function*() {
      const now = yield* net.chain.sim.height
      if (height > now) yield* net.mine(height - now)
    })
  }

  /** Opens a channel 0 -> 1 funded by a faucet transaction of the chain, confirmed, both sides Normal. */
  openFunded(options: OpenOptions): Effect.Effect<{ readonly channelId: ChannelId; readonly funding: Transaction }> {
    const net = this
    const h = this.h
    return Effect.gen(function*() {
      yield* h.connect(0, 1)
      const temporary = yield* h.open(0, 1, options)
      yield* h.quiesce({ completeWrites: true })
      const need = h.events[0]!.map((e) => e.event).find((e) => e._tag === "FundingNeeded" && toHex(e.temporaryChannelId) === toHex(temporary))
      if (need === undefined || need._tag !== "FundingNeeded") return yield* Effect.die(new Error("no FundingNeeded"))
      const funding = net.chain.sim.core.faucetTx(need.scriptPubKey, need.amount)
      yield* h.command(0, temporary, { _tag: "FundingTransaction", tx: serializeTransaction(funding) })
      yield* h.quiesce({ completeWrites: true })
      const pending = h.eventsOf(0, "ChannelPending").at(-1)
      if (pending === undefined) return yield* Effect.die(new Error("no ChannelPending"))
      yield* net.chain.broadcaster.broadcast(funding).pipe(Effect.orDie)
      yield* net.mine(1)
      yield* h.setDepth(pending.channelId, 1)
      yield* h.quiesce({ completeWrites: true })
      return { channelId: pending.channelId, funding }
    })
  }

  /** Every transaction on the best chain (height order). */
  chainTxs(): ReadonlyArray<{ readonly tx: Transaction; readonly height: number }> {
    const core = this.chain.sim.core
    const out: Array<{ readonly tx: Transaction; readonly height: number }> = []
    for (let height = 0; height <= core.height; height++) {
      const b = core.blockAt(height)
      if (b !== undefined) for (const tx of b.transactions) out.push({ tx, height })
    }
    return out
  }

  /**
   * Every confirmed transaction descending from `funding`, each input run through the script
   * interpreter against the output it spends. Returns the failures (empty when all verify) and
   * how many inputs were checked.
   */
  verifyChannelScripts(funding: Transaction): { readonly checked: number; readonly failures: ReadonlyArray<string> } {
    const byId = new Map<string, Transaction>()
    const related = new Set<string>([toHex(computeTxid(funding))])
    const failures: Array<string> = []
    let checked = 0
    for (const { tx } of this.chainTxs()) {
      const id = toHex(computeTxid(tx))
      byId.set(id, tx)
      if (!tx.inputs.some((i) => related.has(toHex(i.prevout.txid)))) continue
      related.add(id)
      tx.inputs.forEach((input, index) => {
        const prev = byId.get(toHex(input.prevout.txid))?.outputs[input.prevout.vout]
        if (prev === undefined) return failures.push(`${id}:${index}: prevout not found`)
        checked++
        const v = verifyInput(serializeTransaction(tx), index, { script: prev.scriptPubKey, value: prev.value })
        if (!v.ok) failures.push(`${id}:${index}: ${v.error}`)
      })
    }
    return { checked, failures }
  }

  /** Sum paid to node `i`'s sweep script on the best chain. */
  swept(i: number): bigint {
    const script = toHex(this.sweep[i]!)
    let total = 0n
    for (const { tx } of this.chainTxs()) for (const o of tx.outputs) if (toHex(o.scriptPubKey) === script) total += o.value
    return total
  }
}

/**
 * Test-only cheating: node `cheater`'s current commitment of channel `id`, signed by its own
 * signer, kept before it is revoked (to publish later, as a cheater would), and with `success`
 * the first HTLC-success transaction it can sign on it with the preimage of `preimageIndex`.
 */
export const cheaterState = (h: Harness, id: ChannelId, cheater: number, preimageIndex?: number) =>
  Effect.gen(function*() {
    const m = yield* h.node(cheater).manager!.monitorState(id).pipe(Effect.orDie)
    const keyId = m === undefined ? undefined : channelKeyId(m.params.keyId)
    if (m === undefined || keyId === undefined) return yield* Effect.die(new Error(`no monitor on node ${cheater}`))
    const n = m.holderCommitment.commitmentNumber
    const old = yield* h.node(cheater).signer.signHolderCommitment(keyId, n).pipe(Effect.orDie)
    let success: Transaction | undefined
    for (let i = 0; preimageIndex !== undefined && i < m.holderCommitment.htlcs.length && success === undefined; i++) {
      const r = yield* Effect.result(h.node(cheater).signer.signHolderHtlcTransaction(keyId, n, i, preimageFor(h.seed, preimageIndex)))
      if (Result.isSuccess(r)) success = r.success
    }
    return { old, success, commitmentNumber: n }
  })
