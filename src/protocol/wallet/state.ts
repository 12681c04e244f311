/**
 * The wallet's view of the chain: its unspent outputs, the transactions it published that are
 * not confirmed yet, and the outputs locked for a pending channel open. Fed with `ChainSource`
 * events in order (`connect` / `disconnect`); every connected block keeps an undo record (what it
 * added, removed and confirmed), so a reorg undoes exactly what its blocks did. Undo records are
 * kept for the last `MAX_REORG_DEPTH` blocks (a deeper reorg is refused: resync from scratch).
 *
 * Owned by one actor (`actors/Wallet.ts`) and mutated only by it, like `WatchSet`. Pure: no
 * effects, no clock.
 *
 * Balances:
 * - `confirmed`: confirmed outputs that are neither locked nor spent by one of our published
 *   transactions (what a new send can use);
 * - `unconfirmed`: outputs to us of our own published, unconfirmed transactions (change). The
 *   ChainSource has no mempool stream, so a payment from someone else shows at its first block;
 * - `locked`: confirmed outputs reserved for a channel funding transaction (until the channel
 *   confirms, which spends them, or the open fails and `unlock` frees them).
 */
import { Data, Result } from "effect"
import { toHex } from "../bytes.ts"
import type { Block, BlockHeader, BlockRef } from "../chain/block.ts"
import { refOf } from "../chain/block.ts"
import { outpointKey } from "../chain/watch.ts"
import { type OutPoint, type Transaction, txid as txidOf, txidFromBytes } from "../tx/bitcoin/transaction.ts"
import { type Sat, sat } from "../units.ts"
import type { AddressKind, KeyChain, KeyPath, WalletKey, WalletKeys } from "./keys.ts"

/** How many unused addresses past the last used one are watched on each chain (BIP 44's gap limit). */
export const GAP_LIMIT = 20
/** Undo records kept (blocks): reorgs up to this depth are undone exactly. */
export const MAX_REORG_DEPTH = 100

export interface Utxo {
  readonly outpoint: OutPoint
  readonly value: Sat
  readonly key: WalletKey
  /** Confirmation height. */
  readonly height: number
}

export interface Balance {
  readonly confirmed: Sat
  readonly unconfirmed: Sat
  readonly locked: Sat
}

interface Undo {
  readonly ref: BlockRef
  readonly added: ReadonlyArray<string>
  readonly removed: ReadonlyArray<Utxo>
  readonly confirmed: ReadonlyArray<readonly [string, Transaction]>
}

/** The wallet was fed a block that does not extend its tip, or a reorg deeper than its undo log. */
export class WalletChainMismatch extends Data.TaggedError("WalletChainMismatch")<{ readonly reason: string }> {}

const KINDS: ReadonlyArray<AddressKind> = ["p2wpkh", "p2tr"]
const CHAINS: ReadonlyArray<KeyChain> = [0, 1]
const slot = (kind: AddressKind, chain: KeyChain): string => `${kind}/${chain}`

export class WalletState {
  private readonly byScript = new Map<string, WalletKey>()
  /** Per kind/chain: how many keys are derived (watched), and the next index to hand out. */
  private readonly derived = new Map<string, number>()
  private readonly nextIndex = new Map<string, number>()
  private readonly utxos = new Map<string, Utxo>()
  private readonly pending = new Map<string, Transaction>()
  private readonly locks = new Map<string, string>()
  private readonly undo: Array<Undo> = []
  private tipRef: BlockRef | undefined

  readonly keys: WalletKeys

  constructor(keys: WalletKeys, start?: BlockRef) {
    this.keys = keys
    this.tipRef = start
    for (const kind of KINDS) {
      for (const chain of CHAINS) {
        this.nextIndex.set(slot(kind, chain), 0)
        this.derived.set(slot(kind, chain), 0)
        this.extend(kind, chain, GAP_LIMIT)
      }
    }
  }

  get tip(): BlockRef | undefined {
    return this.tipRef
  }

  /** Derives (and watches) keys up to `count` on one chain. */
  private extend(kind: AddressKind, chain: KeyChain, count: number): void {
    const s = slot(kind, chain)
    for (let i = this.derived.get(s) ?? 0; i < count; i++) {
      const key = this.keys.derive({ kind, chain, index: i })
      this.byScript.set(toHex(key.scriptPubKey), key)
    }
    this.derived.set(s, Math.max(count, this.derived.get(s) ?? 0))
  }

  /** A key is used (paid, or handed out): never hand it out again, keep the gap ahead of it. */
  private markUsed(path: KeyPath): void {
    const s = slot(path.kind, path.chain)
    if ((this.nextIndex.get(s) ?? 0) <= path.index) this.nextIndex.set(s, path.index + 1)
    this.extend(path.kind, path.chain, path.index + 1 + GAP_LIMIT)
  }

  /** The next unused key of a chain (receive: a new address; change: a change output), marked used. */
  nextKey(kind: AddressKind, chain: KeyChain): WalletKey {
    const index = this.nextIndex.get(slot(kind, chain)) ?? 0
    const key = this.keys.derive({ kind, chain, index })
    this.markUsed(key.path)
    return key
  }

  /** Our key for an output script, if it is ours. */
  keyOf(scriptPubKey: Uint8Array): WalletKey | undefined {
    return this.byScript.get(toHex(scriptPubKey))
  }

  /** Applies a block on top of the tip. */
  connect(block: Block): Result.Result<void, WalletChainMismatch> {
    const header = block.header
    if (this.tipRef !== undefined && (header.height !== this.tipRef.height + 1 || toHex(header.prevHash) !== toHex(this.tipRef.hash))) {
      return Result.fail(new WalletChainMismatch({ reason: `block ${header.height} does not extend the wallet's tip ${this.tipRef.height}` }))
    }
    const added: Array<string> = []
    const removed: Array<Utxo> = []
    const confirmed: Array<readonly [string, Transaction]> = []
    block.transactions.forEach((tx, i) => {
      const id = block.txids[i] ?? txidOf(tx)
      for (const input of tx.inputs) {
        const k = outpointKey(input.prevout)
        const u = this.utxos.get(k)
        if (u !== undefined) {
          this.utxos.delete(k)
          removed.push(u)
        }
      }
      tx.outputs.forEach((o, vout) => {
        const key = this.keyOf(o.scriptPubKey)
        if (key === undefined) return
        const outpoint = { txid: txidFromBytes(id), vout }
        const k = outpointKey(outpoint)
        this.utxos.set(k, { outpoint, value: o.value, key, height: header.height })
        added.push(k)
        this.markUsed(key.path)
      })
      const idHex = toHex(id)
      const mine = this.pending.get(idHex)
      if (mine !== undefined) {
        this.pending.delete(idHex)
        confirmed.push([idHex, mine])
      }
    })
    this.undo.push({ ref: refOf(header), added, removed, confirmed })
    const forgotten = this.undo.length > MAX_REORG_DEPTH ? this.undo.shift() : undefined
    // Outputs spent deeper than any reorg we undo never come back: their locks are done.
    if (forgotten !== undefined) for (const u of forgotten.removed) this.locks.delete(outpointKey(u.outpoint))
    this.tipRef = refOf(header)
    return Result.void
  }

  /** Undoes the tip block (a reorg). */
  disconnect(header: BlockHeader): Result.Result<void, WalletChainMismatch> {
    const last = this.undo[this.undo.length - 1]
    if (last === undefined || toHex(last.ref.hash) !== toHex(header.hash)) {
      return Result.fail(new WalletChainMismatch({ reason: `cannot undo block ${header.height}: not the wallet's tip or older than its undo log` }))
    }
    this.undo.pop()
    for (const k of last.added) this.utxos.delete(k)
    for (const u of last.removed) this.utxos.set(outpointKey(u.outpoint), u)
    for (const [id, tx] of last.confirmed) this.pending.set(id, tx)
    this.tipRef = { height: header.height - 1, hash: header.prevHash }
    return Result.void
  }

  /** Records a transaction we published (its inputs are spent, its outputs to us unconfirmed). */
  addPending(tx: Transaction): void {
    this.pending.set(toHex(txidOf(tx)), tx)
    for (const o of tx.outputs) {
      const key = this.keyOf(o.scriptPubKey)
      if (key !== undefined) this.markUsed(key.path)
    }
  }

  private spentByPending(): Set<string> {
    const spent = new Set<string>()
    for (const tx of this.pending.values()) for (const i of tx.inputs) spent.add(outpointKey(i.prevout))
    return spent
  }

  /** Reserves outputs under `lockId` (a channel open); fails if one is not spendable. */
  lock(lockId: string, outpoints: ReadonlyArray<OutPoint>): boolean {
    const free = new Set(this.spendable().map((u) => outpointKey(u.outpoint)))
    if (!outpoints.every((o) => free.has(outpointKey(o)))) return false
    for (const o of outpoints) this.locks.set(outpointKey(o), lockId)
    return true
  }

  /** Frees what `lockId` reserved (the open failed, or it confirmed and the lock is moot). */
  unlock(lockId: string): number {
    let n = 0
    for (const [k, id] of this.locks) {
      if (id === lockId) {
        this.locks.delete(k)
        n++
      }
    }
    return n
  }

  /**
   * The lock ids holding at least one unspent output (a lock whose outputs a block spent, e.g. a
   * confirmed funding transaction, is not listed; it is kept in case a reorg brings them back).
   */
  lockIds(): ReadonlyArray<string> {
    return [...new Set([...this.locks].filter(([k]) => this.utxos.has(k)).map(([, id]) => id))]
  }

  /** Confirmed, not locked, not spent by one of our pending transactions. */
  spendable(): ReadonlyArray<Utxo> {
    const spent = this.spentByPending()
    return [...this.utxos.entries()].filter(([k]) => !spent.has(k) && !this.locks.has(k)).map(([, u]) => u)
  }

  /** Every confirmed output of ours (locked or not). */
  allUtxos(): ReadonlyArray<Utxo> {
    return [...this.utxos.values()]
  }

  pendingTransactions(): ReadonlyArray<Transaction> {
    return [...this.pending.values()]
  }

  balance(): Balance {
    const spent = this.spentByPending()
    let confirmed = 0n
    let locked = 0n
    for (const [k, u] of this.utxos) {
      if (spent.has(k)) continue
      if (this.locks.has(k)) locked += u.value
      else confirmed += u.value
    }
    let unconfirmed = 0n
    for (const tx of this.pending.values()) for (const o of tx.outputs) if (this.keyOf(o.scriptPubKey) !== undefined) unconfirmed += o.value
    return { confirmed: sat(confirmed), unconfirmed: sat(unconfirmed), locked: sat(locked) }
  }
}
