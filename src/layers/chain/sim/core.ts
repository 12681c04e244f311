/**
 * The simulated chain's engine: an in-memory best chain with its UTXO set, a mempool, and the
 * log of chain events consumers follow. Synchronous and deterministic: the same seed and the
 * same calls give the same blocks, hashes and events (block times advance 600 s a block from a
 * fixed start; coinbases carry bytes drawn from the seed, so a reorg's blocks differ from the
 * blocks they replace).
 *
 * What it checks, like a node's mempool: structure (inputs, outputs, amounts, duplicates, size),
 * that inputs exist (in the chain or the mempool), are unspent (a conflict is refused unless the
 * newcomer pays for a replacement, full-RBF with BIP 125's fee rules), coinbase maturity, the
 * absolute lock (`nLockTime`, BIP 113 median time past) and relative locks (`nSequence`, BIP 68)
 * against the chain. What it does NOT check: scripts and signatures (BIP 65 / 112 are script
 * opcodes: a transaction whose locktime fields satisfy the chain here may still carry a script
 * asking for more), proof of work, standardness beyond size.
 */
import { fromHex, toHex } from "../../../protocol/bytes.ts"
import { type Block, type BlockHash, type BlockHeader, type BlockRef, isCoinbase, makeHeader, merkleRoot, ZERO_HASH } from "../../../protocol/chain/block.ts"
import { outpointKey } from "../../../protocol/chain/watch.ts"
import { checkFinal, checkSequenceLocks, type CoinAge, medianTimePast } from "../../../protocol/chain/timelocks.ts"
import { sha256 } from "../../../protocol/tx/bitcoin/hash.ts"
import { compileScript, num, OP, p2wshScript } from "../../../protocol/tx/bitcoin/script.ts"
import {
  decodeTransaction,
  type OutPoint,
  serializeTransaction,
  type Transaction,
  type TxOutput,
  txid as computeTxid,
  txidFromBytes,
  type Txid,
  txidToHex,
  weight as txWeight
} from "../../../protocol/tx/bitcoin/transaction.ts"
import { type Sat, sat } from "../../../protocol/units.ts"
import type { RejectReason } from "../../../services/Broadcaster.ts"
import type { ChainEvent } from "../../../services/ChainSource.ts"

export const MAX_MONEY = 21_000_000n * 100_000_000n
/** Bitcoin Core's standard transaction weight limit. */
export const MAX_STANDARD_TX_WEIGHT = 400_000
export const MAX_BLOCK_WEIGHT = 4_000_000
const SUBSIDY = sat(50n * 100_000_000n)
/** 2025-01-01T00:00:00Z: the first block's time (fixed, so runs are reproducible). */
const START_TIME = 1_735_689_600

/** The faucet's witness script, `OP_TRUE`: anyone can spend its coins (a valid segwit spend even where scripts run). */
export const FAUCET_WITNESS_SCRIPT = compileScript([OP.OP_1])
/** The faucet's output script: P2WSH(`OP_TRUE`), so its spends are segwit (non-malleable txids, as funding needs). */
export const FAUCET_SCRIPT = p2wshScript(FAUCET_WITNESS_SCRIPT)

export interface SimChainConfig {
  readonly seed: string | number
  /** The relay minimum, sat/kw (default 253). A transaction below it is refused `FeeTooLow`. */
  readonly minRelayFeeratePerKw?: number
  /** Mature coinbase blocks mined at start for the faucet (default 101). */
  readonly initialBlocks?: number
}

export interface Coin {
  readonly output: TxOutput
  readonly height: number
  readonly coinbase: boolean
}

interface StoredBlock {
  readonly block: Block
  /** The median time past of this block (BIP 113, the last 11 blocks ending here). */
  readonly mtp: number
  /** Coins this block spent (to restore), outpoint keys it created (to remove). */
  readonly spent: ReadonlyArray<readonly [string, Coin]>
  readonly created: ReadonlyArray<string>
}

interface MempoolEntry {
  readonly tx: Transaction
  readonly txid: Txid
  readonly fee: bigint
  readonly weight: number
  readonly spends: ReadonlyArray<string>
}

export type Rejection = { readonly reason: RejectReason; readonly message: string }
export type AcceptResult = { readonly _tag: "Accepted"; readonly txid: Txid } | { readonly _tag: "Rejected"; readonly txid: Txid | undefined; readonly rejection: Rejection }

export interface MineOptions {
  /** Only these transactions (accepted to the mempool first if not there), with their mempool ancestors. */
  readonly txs?: ReadonlyArray<Transaction | Uint8Array>
  /** Include the mempool (default: true unless `txs` is given). */
  readonly includeMempool?: boolean
  /** Leave out packages below this feerate (sat/kw; ancestor packages, so CPFP works). */
  readonly minFeeratePerKw?: number
  /** Where the coinbase pays (default: the faucet). */
  readonly coinbaseScript?: Uint8Array
}

const key = outpointKey

/** Deterministic bytes from the seed: SHA-256(seed || counter). */
const makeRng = (seed: string | number) => {
  const base = new TextEncoder().encode(`sim-chain:${seed}`)
  let counter = 0
  return (): Uint8Array => {
    const input = new Uint8Array(base.length + 4)
    input.set(base)
    new DataView(input.buffer).setUint32(base.length, counter++)
    return sha256(input)
  }
}

export class SimChainCore {
  private readonly rng: () => Uint8Array
  private readonly minRelay: number
  private readonly chain: Array<StoredBlock> = []
  private readonly byHash = new Map<string, StoredBlock>()
  private readonly utxo = new Map<string, Coin>()
  /** Confirmed txids on the best chain -> height. */
  private readonly confirmed = new Map<string, number>()
  private readonly mempool = new Map<string, MempoolEntry>()
  /** Outpoint key -> the mempool txid spending it. */
  private readonly mempoolSpends = new Map<string, string>()
  /** Every event since creation, in order (followers read it by position). */
  readonly log: Array<ChainEvent> = []
  private timeOffset = 0
  private listeners: Array<() => void> = []

  constructor(config: SimChainConfig) {
    this.rng = makeRng(config.seed)
    this.minRelay = config.minRelayFeeratePerKw ?? 253
    this.connect(this.buildBlock([], FAUCET_SCRIPT))
    const initial = config.initialBlocks ?? 101
    for (let i = 0; i < initial; i++) this.connect(this.buildBlock([], FAUCET_SCRIPT))
  }

  // ---- reading -------------------------------------------------------------------------------------

  get height(): number {
    return this.chain.length - 1
  }
  get tip(): BlockRef {
    const top = this.top()
    return { height: top.block.header.height, hash: top.block.header.hash }
  }
  private top(): StoredBlock {
    const top = this.chain[this.chain.length - 1]
    if (top === undefined) throw new Error("the simulated chain has no genesis")
    return top
  }
  /** A block on the best chain by height, or any block ever mined by hash. */
  blockAt(id: BlockHash | number): Block | undefined {
    return (typeof id === "number" ? this.chain[id] : this.byHash.get(toHex(id)))?.block
  }
  isOnBestChain(ref: BlockRef): boolean {
    const at = this.chain[ref.height]
    return at !== undefined && toHex(at.block.header.hash) === toHex(ref.hash)
  }
  /** The height a txid confirmed at on the best chain. */
  confirmationHeight(id: Txid): number | undefined {
    return this.confirmed.get(toHex(id))
  }
  inMempool(id: Txid): boolean {
    return this.mempool.has(toHex(id))
  }
  mempoolTxids(): ReadonlyArray<Txid> {
    return [...this.mempool.values()].map((e) => e.txid)
  }
  coin(outpoint: OutPoint): Coin | undefined {
    return this.utxo.get(key(outpoint))
  }
  /** The mempool transaction spending `outpoint`, if any. */
  mempoolSpender(outpoint: OutPoint): Txid | undefined {
    const spender = this.mempoolSpends.get(key(outpoint))
    return spender === undefined ? undefined : this.mempool.get(spender)?.txid
  }
  mempoolOutput(outpoint: OutPoint): TxOutput | undefined {
    return this.mempool.get(toHex(outpoint.txid))?.tx.outputs[outpoint.vout]
  }
  /** The median time past of the tip (what BIP 113 compares time locks with for the next block). */
  get tipMtp(): number {
    return this.top().mtp
  }

  onAppend(listener: () => void): void {
    this.listeners.push(listener)
  }

  // ---- the mempool --------------------------------------------------------------------------------

  /** Mempool acceptance (see the module comment for what is checked). */
  accept(input: Transaction | Uint8Array, options: { readonly ignoreFee?: boolean } = {}): AcceptResult {
    let tx: Transaction
    if (input instanceof Uint8Array) {
      const decoded = decodeTransaction(input)
      if (decoded._tag === "Failure") return { _tag: "Rejected", txid: undefined, rejection: { reason: "Invalid", message: `TX decode failed: ${decoded.failure.reason}` } }
      tx = decoded.success
    } else tx = input
    const id = computeTxid(tx)
    const reject = (reason: RejectReason, message: string): AcceptResult => ({ _tag: "Rejected", txid: id, rejection: { reason, message } })
    const hex = toHex(id)
    if (this.mempool.has(hex) || this.confirmed.has(hex)) return { _tag: "Accepted", txid: id }
    // Structure.
    if (tx.inputs.length === 0) return reject("Invalid", "bad-txns-vin-empty")
    if (tx.outputs.length === 0) return reject("Invalid", "bad-txns-vout-empty")
    if (isCoinbase(tx)) return reject("Invalid", "coinbase")
    const w = txWeight(tx)
    if (w > MAX_STANDARD_TX_WEIGHT) return reject("Invalid", "tx-size")
    let outTotal = 0n
    for (const o of tx.outputs) {
      if (o.value < 0n || o.value > MAX_MONEY) return reject("Invalid", "bad-txns-vout-toolarge")
      outTotal += o.value
    }
    if (outTotal > MAX_MONEY) return reject("Invalid", "bad-txns-txouttotal-toolarge")
    const seen = new Set<string>()
    for (const i of tx.inputs) {
      const k = key(i.prevout)
      if (seen.has(k)) return reject("Invalid", "bad-txns-inputs-duplicate")
      seen.add(k)
    }
    // Inputs: exist, unspent (or a replacement), mature, and their ages for BIP 68.
    const nextHeight = this.height + 1
    const mtp = this.tipMtp
    const ages: Array<CoinAge> = []
    const conflicts = new Set<string>()
    let inTotal = 0n
    for (const i of tx.inputs) {
      const k = key(i.prevout)
      const confirmedCoin = this.utxo.get(k)
      const parent = this.mempool.get(toHex(i.prevout.txid))
      const output = confirmedCoin?.output ?? parent?.tx.outputs[i.prevout.vout]
      if (output === undefined) return reject("MissingInputs", `bad-txns-inputs-missingorspent (${txidHex(i.prevout.txid)}:${i.prevout.vout})`)
      const spender = this.mempoolSpends.get(k)
      if (spender !== undefined) conflicts.add(spender)
      inTotal += output.value
      if (confirmedCoin !== undefined) {
        ages.push({ height: confirmedCoin.height, mtpBeforeBlock: this.chain[confirmedCoin.height - 1]?.mtp ?? 0, coinbase: confirmedCoin.coinbase })
      } else ages.push({ height: nextHeight, mtpBeforeBlock: mtp, coinbase: false })
    }
    if (inTotal < outTotal) return reject("Invalid", "bad-txns-in-belowout")
    const final = checkFinal(tx, nextHeight, mtp)
    if (final !== undefined) return reject(final._tag, `non-final: ${final.detail}`)
    const locks = checkSequenceLocks(tx, ages, nextHeight, mtp)
    if (locks !== undefined) {
      return reject(locks._tag, locks._tag === "ImmatureCoinbase" ? `bad-txns-premature-spend-of-coinbase: ${locks.detail}` : `non-BIP68-final: ${locks.detail}`)
    }
    const fee = inTotal - outTotal
    if (!options.ignoreFee && fee * 1000n < BigInt(this.minRelay) * BigInt(w)) {
      return reject("FeeTooLow", `min relay fee not met: ${fee} < ${Math.ceil((this.minRelay * w) / 1000)}`)
    }
    // A transaction spending an output of one it replaces cannot be valid.
    const evicted = this.withDescendants(conflicts)
    for (const i of tx.inputs) if (evicted.has(toHex(i.prevout.txid))) return reject("MissingInputs", "bad-txns-spends-conflicting-tx")
    if (conflicts.size > 0) {
      // Full RBF with BIP 125 rules 3, 4 (and a higher feerate than each direct conflict, rule 6).
      let evictedFees = 0n
      for (const e of evicted) evictedFees += this.mempool.get(e)?.fee ?? 0n
      const incremental = (BigInt(this.minRelay) * BigInt(w) + 999n) / 1000n
      if (fee < evictedFees + incremental) return reject("InputsSpent", `txn-mempool-conflict: a replacement must pay ${evictedFees + incremental}, pays ${fee}`)
      for (const c of conflicts) {
        const entry = this.mempool.get(c)
        if (entry !== undefined && fee * BigInt(entry.weight) <= entry.fee * BigInt(w)) return reject("InputsSpent", "txn-mempool-conflict: a replacement's feerate must be higher")
      }
      for (const e of evicted) this.removeFromMempool(e)
    }
    this.addToMempool({ tx, txid: id, fee, weight: w, spends: tx.inputs.map((i) => key(i.prevout)) })
    return { _tag: "Accepted", txid: id }
  }

  /** A package (parents first): accepted together when its total feerate meets the relay minimum (zero-fee parents with a CPFP child). */
  acceptPackage(txs: ReadonlyArray<Transaction>): AcceptResult {
    const added: Array<string> = []
    let fee = 0n
    let w = 0
    for (const tx of txs) {
      const r = this.accept(tx, { ignoreFee: true })
      if (r._tag === "Rejected") {
        for (const a of added.reverse()) this.removeFromMempool(a)
        return r
      }
      const entry = this.mempool.get(toHex(r.txid))
      if (entry !== undefined) {
        added.push(toHex(r.txid))
        fee += entry.fee
        w += entry.weight
      }
    }
    const last = txs[txs.length - 1]
    if (fee * 1000n < BigInt(this.minRelay) * BigInt(w)) {
      for (const a of added.reverse()) this.removeFromMempool(a)
      return { _tag: "Rejected", txid: last === undefined ? undefined : computeTxid(last), rejection: { reason: "FeeTooLow", message: "package feerate below the relay minimum" } }
    }
    return { _tag: "Accepted", txid: last === undefined ? txidFromBytes(new Uint8Array(32)) : computeTxid(last) }
  }

  private addToMempool(entry: MempoolEntry): void {
    const hex = toHex(entry.txid)
    this.mempool.set(hex, entry)
    for (const k of entry.spends) this.mempoolSpends.set(k, hex)
  }
  private removeFromMempool(hex: string): void {
    const entry = this.mempool.get(hex)
    if (entry === undefined) return
    this.mempool.delete(hex)
    for (const k of entry.spends) if (this.mempoolSpends.get(k) === hex) this.mempoolSpends.delete(k)
  }
  /** `roots` and every mempool transaction spending their outputs, transitively. */
  private withDescendants(roots: Iterable<string>): Set<string> {
    const out = new Set<string>()
    const stack = [...roots]
    while (stack.length > 0) {
      const hex = stack.pop()
      if (hex === undefined || out.has(hex)) continue
      out.add(hex)
      const entry = this.mempool.get(hex)
      if (entry === undefined) continue
      entry.tx.outputs.forEach((_, vout) => {
        const child = this.mempoolSpends.get(`${hex}:${vout}`)
        if (child !== undefined) stack.push(child)
      })
    }
    return out
  }

  // ---- blocks -------------------------------------------------------------------------------------

  /** Lets time pass (seconds) before the next block: for time-based locks. */
  advanceTime(seconds: number): void {
    this.timeOffset += seconds
  }

  /** Mines one block on the tip and connects it. */
  mine(options: MineOptions = {}): Block {
    const chosen: Array<MempoolEntry> = []
    const included = new Set<string>()
    const includeWithAncestors = (hex: string): void => {
      if (included.has(hex)) return
      const entry = this.mempool.get(hex)
      if (entry === undefined) return
      for (const i of entry.tx.inputs) includeWithAncestors(toHex(i.prevout.txid))
      included.add(hex)
      chosen.push(entry)
    }
    if (options.txs !== undefined) {
      for (const t of options.txs) {
        const r = this.accept(t, { ignoreFee: true })
        if (r._tag === "Rejected") throw new SimChainRejected(r.rejection, r.txid)
        includeWithAncestors(toHex(r.txid))
      }
    }
    if (options.includeMempool ?? options.txs === undefined) {
      const min = options.minFeeratePerKw ?? 0
      let weight = chosen.reduce((n, e) => n + e.weight, 0)
      let progress = true
      while (progress) {
        progress = false
        for (const [hex] of this.mempool) {
          if (included.has(hex)) continue
          const pkg = this.ancestorPackage(hex, included)
          const fee = pkg.reduce((n, e) => n + e.fee, 0n)
          const w = pkg.reduce((n, e) => n + e.weight, 0)
          if (fee * 1000n < BigInt(min) * BigInt(w) || weight + w > MAX_BLOCK_WEIGHT - 4000) continue
          includeWithAncestors(hex)
          weight += w
          progress = true
        }
      }
    }
    const block = this.buildBlock(chosen, options.coinbaseScript ?? FAUCET_SCRIPT)
    this.connect(block)
    return block
  }

  /** The mempool ancestors of `hex` not yet `included`, and itself (parents first). */
  private ancestorPackage(hex: string, included: ReadonlySet<string>): Array<MempoolEntry> {
    const out: Array<MempoolEntry> = []
    const seen = new Set<string>()
    const visit = (h: string): void => {
      if (seen.has(h) || included.has(h)) return
      seen.add(h)
      const entry = this.mempool.get(h)
      if (entry === undefined) return
      for (const i of entry.tx.inputs) visit(toHex(i.prevout.txid))
      out.push(entry)
    }
    visit(hex)
    return out
  }

  private buildBlock(entries: ReadonlyArray<MempoolEntry>, coinbaseScript: Uint8Array): Block {
    const height = this.chain.length
    const prev = this.chain[height - 1]
    const fees = entries.reduce((n, e) => n + e.fee, 0n)
    const extra = this.rng().subarray(0, 8)
    const coinbase: Transaction = {
      version: 2,
      inputs: [{
        prevout: { txid: txidFromBytes(new Uint8Array(32)), vout: 0xffffffff },
        // BIP 34: the height first; then seeded bytes (a replacement block differs from the one it replaces).
        scriptSig: compileScript([num(height), extra]),
        sequence: 0xffffffff,
        witness: []
      }],
      outputs: [{ value: sat(SUBSIDY + fees), scriptPubKey: coinbaseScript }],
      locktime: 0
    }
    const transactions = [coinbase, ...entries.map((e) => e.tx)]
    const txids = transactions.map(computeTxid)
    const time = prev === undefined ? START_TIME : prev.block.header.time + 600 + this.timeOffset
    this.timeOffset = 0
    const header = makeHeader({
      version: 0x20000000,
      prevHash: prev?.block.header.hash ?? ZERO_HASH,
      merkleRoot: merkleRoot(txids),
      time,
      bits: 0x207fffff,
      nonce: 0
    }, height)
    return { header, transactions, txids }
  }

  private connect(block: Block): void {
    const height = block.header.height
    const spent: Array<readonly [string, Coin]> = []
    const created: Array<string> = []
    block.transactions.forEach((tx, index) => {
      const id = block.txids[index] ?? computeTxid(tx)
      const hex = toHex(id)
      const coinbase = index === 0
      if (!coinbase) {
        for (const i of tx.inputs) {
          const k = key(i.prevout)
          const coin = this.utxo.get(k)
          if (coin !== undefined) {
            spent.push([k, coin])
            this.utxo.delete(k)
          }
          // A mempool transaction spending the same coin is now invalid (with its descendants).
          const other = this.mempoolSpends.get(k)
          if (other !== undefined && other !== hex) for (const e of this.withDescendants([other])) this.removeFromMempool(e)
        }
        this.removeFromMempool(hex)
      }
      tx.outputs.forEach((output, vout) => {
        if (output.scriptPubKey[0] === OP.OP_RETURN) return
        const k = `${hex}:${vout}`
        this.utxo.set(k, { output, height, coinbase })
        created.push(k)
      })
      this.confirmed.set(hex, height)
    })
    const times = this.chain.slice(-10).map((b) => b.block.header.time)
    times.push(block.header.time)
    const stored: StoredBlock = { block, mtp: medianTimePast(times), spent, created }
    this.chain.push(stored)
    this.byHash.set(toHex(block.header.hash), stored)
    this.append({ _tag: "BlockConnected", block })
  }

  private disconnectTip(): Block {
    const top = this.chain.pop()
    if (top === undefined || this.chain.length === 0) throw new Error("cannot disconnect the genesis block")
    for (const k of top.created) this.utxo.delete(k)
    for (const [k, coin] of top.spent) this.utxo.set(k, coin)
    for (const id of top.block.txids) this.confirmed.delete(toHex(id))
    this.append({ _tag: "BlockDisconnected", header: top.block.header })
    return top.block
  }

  /**
   * Disconnects the top `depth` blocks (their transactions go back to the mempool when still
   * valid, except `exclude`d ones and their descendants), then mines `blocks` new ones (default
   * depth + 1, so the new branch is longer) with `options`.
   */
  reorg(depth: number, params: { readonly blocks?: number; readonly exclude?: ReadonlyArray<Txid> } & MineOptions = {}): ReadonlyArray<Block> {
    if (depth < 0 || depth >= this.chain.length) throw new RangeError(`reorg depth ${depth} out of range (height ${this.height})`)
    const removed: Array<Block> = []
    for (let i = 0; i < depth; i++) removed.unshift(this.disconnectTip())
    // Rebuild the mempool: the disconnected transactions in chain order, then the old mempool.
    const old = [...this.mempool.values()]
    for (const e of old) this.removeFromMempool(toHex(e.txid))
    const excluded = new Set((params.exclude ?? []).map(toHex))
    const again = [...removed.flatMap((b) => b.transactions.slice(1)), ...old.map((e) => e.tx)]
    for (const tx of again) {
      const id = toHex(computeTxid(tx))
      if (excluded.has(id) || tx.inputs.some((i) => excluded.has(toHex(i.prevout.txid)))) {
        excluded.add(id)
        continue
      }
      this.accept(tx, { ignoreFee: true })
    }
    const mined: Array<Block> = []
    const n = params.blocks ?? depth + 1
    // The later blocks: the same options without `txs` (mine reads nothing else of params).
    const { txs: _txs, ...later } = params
    for (let i = 0; i < n; i++) mined.push(this.mine(i === 0 ? params : later))
    return mined
  }

  /** Pays `amount` to `scriptPubKey` from the faucet (a mempool transaction; mine to confirm). */
  fund(scriptPubKey: Uint8Array, amount: Sat): { readonly tx: Transaction; readonly outpoint: OutPoint } {
    const tx = this.faucetTx(scriptPubKey, amount)
    const r = this.accept(tx)
    if (r._tag === "Rejected") throw new SimChainRejected(r.rejection, r.txid)
    return { tx, outpoint: { txid: r.txid, vout: 0 } }
  }

  /** A faucet transaction paying `amount` to `scriptPubKey` (output 0), NOT broadcast. */
  faucetTx(scriptPubKey: Uint8Array, amount: Sat): Transaction {
    let best: readonly [string, Coin] | undefined
    for (const entry of this.utxo) {
      const [k, coin] = entry
      if (toHex(coin.output.scriptPubKey) !== toHex(FAUCET_SCRIPT) || this.mempoolSpends.has(k)) continue
      if (coin.coinbase && this.height + 1 - coin.height < 100) continue
      if (best === undefined || coin.output.value > best[1].output.value) best = entry
    }
    const fee = 1000n
    if (best === undefined || best[1].output.value < amount + fee) throw new Error("the faucet has no coin large enough: mine more blocks")
    const [k] = best
    const sep = k.lastIndexOf(":")
    const prevout: OutPoint = { txid: txidFromBytes(fromHex(k.slice(0, sep))), vout: Number(k.slice(sep + 1)) }
    const outputs: Array<TxOutput> = [{ value: amount, scriptPubKey }]
    const change = best[1].output.value - amount - fee
    if (change > 0n) outputs.push({ value: sat(change), scriptPubKey: FAUCET_SCRIPT })
    return { version: 2, inputs: [{ prevout, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [FAUCET_WITNESS_SCRIPT] }], outputs, locktime: 0 }
  }

  private append(event: ChainEvent): void {
    this.log.push(event)
    const listeners = this.listeners
    for (const l of listeners) l()
  }

  /**
   * The events a follower starting after `from` needs to reach the tip: disconnections back to
   * the fork point (for a `from` that left the best chain), then the best chain's blocks.
   */
  catchUp(from: BlockRef): ReadonlyArray<ChainEvent> | undefined {
    const out: Array<ChainEvent> = []
    let cursor = this.byHash.get(toHex(from.hash))
    if (cursor === undefined) return undefined
    while (!this.isOnBestChain({ height: cursor.block.header.height, hash: cursor.block.header.hash })) {
      out.push({ _tag: "BlockDisconnected", header: cursor.block.header })
      const parent = this.byHash.get(toHex(cursor.block.header.prevHash))
      if (parent === undefined) return undefined
      cursor = parent
    }
    for (let h = cursor.block.header.height + 1; h <= this.height; h++) {
      const b = this.chain[h]
      if (b !== undefined) out.push({ _tag: "BlockConnected", block: b.block })
    }
    return out
  }

  headerOf(id: BlockHash | number): BlockHeader | undefined {
    return this.blockAt(id)?.header
  }

  /** Serialized transaction (for tests that hand bytes around). */
  static serialize(tx: Transaction): Uint8Array {
    return serializeTransaction(tx)
  }
}

const txidHex = txidToHex

/** A transaction given to `mine({ txs })` or made by `fund` was refused (a test bug, usually). */
export class SimChainRejected extends Error {
  readonly rejection: Rejection
  readonly txid: Txid | undefined
  constructor(rejection: Rejection, txid: Txid | undefined) {
    super(`simulated chain refused ${txid === undefined ? "a transaction" : txidHex(txid)}: ${rejection.reason}: ${rejection.message}`)
    this.rejection = rejection
    this.txid = txid
  }
}
