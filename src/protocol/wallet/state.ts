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
 * - `unconfirmed`: outputs to us of our own published, unconfirmed transactions (change), and
 *   coinbase outputs short of 100 confirmations (not spendable yet). The ChainSource has no
 *   mempool stream, so a payment from someone else shows at its first block;
 * - `locked`: confirmed outputs reserved for a channel funding transaction (until the channel
 *   confirms, which spends them, or the open fails and `unlock` frees them).
 */
import { Data, Result } from "effect"
import { fromHex, toHex } from "../bytes.ts"
import type { Block, BlockHeader, BlockRef } from "../chain/block.ts"
import { blockHash, isCoinbase, refOf } from "../chain/block.ts"
import { outpointKey } from "../chain/watch.ts"
import { decodeTransaction, type OutPoint, serializeTransaction, type Transaction, txid as txidOf, txidFromBytes } from "../tx/bitcoin/transaction.ts"
import { type Sat, sat } from "../units.ts"
import type { AddressKind, KeyChain, KeyPath, WalletKey, WalletKeys } from "./keys.ts"
import { type UtxoJson, type WalletSnapshot, WalletSnapshotInvalid } from "./snapshot.ts"

/** How many unused addresses past the last used one are watched on each chain (BIP 44's gap limit). */
export const GAP_LIMIT = 20
/** Confirmations a coinbase output needs before it can be spent (consensus). */
export const COINBASE_MATURITY = 100
/** Undo records kept (blocks): reorgs up to this depth are undone exactly. */
export const MAX_REORG_DEPTH = 100

export interface Utxo {
  readonly outpoint: OutPoint
  readonly value: Sat
  readonly key: WalletKey
  /** Confirmation height. */
  readonly height: number
  /** A coinbase output: spendable only after `COINBASE_MATURITY` confirmations. */
  readonly coinbase?: boolean
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
  /** Lock id → the height at which the lock ends by itself (locks without one last until unlocked). */
  private readonly lockExpiry = new Map<string, number>()
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

  /** Applies a block on top of the tip; true when it changed the wallet's outputs, pending sends or locks. */
  connect(block: Block): Result.Result<boolean, WalletChainMismatch> {
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
        this.utxos.set(k, { outpoint, value: o.value, key, height: header.height, ...(isCoinbase(tx) ? { coinbase: true } : {}) })
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
    let locksForgotten = false
    if (forgotten !== undefined) {
      for (const u of forgotten.removed) locksForgotten = this.locks.delete(outpointKey(u.outpoint)) || locksForgotten
    }
    this.tipRef = refOf(header)
    const expired = this.expireLocks(header.height)
    return Result.succeed(added.length > 0 || removed.length > 0 || confirmed.length > 0 || locksForgotten || expired)
  }

  /** Undoes the tip block (a reorg); true when that changed the wallet's outputs or pending sends. */
  disconnect(header: BlockHeader): Result.Result<boolean, WalletChainMismatch> {
    const last = this.undo[this.undo.length - 1]
    if (last === undefined || toHex(last.ref.hash) !== toHex(header.hash)) {
      return Result.fail(new WalletChainMismatch({ reason: `cannot undo block ${header.height}: not the wallet's tip or older than its undo log` }))
    }
    this.undo.pop()
    for (const k of last.added) this.utxos.delete(k)
    for (const u of last.removed) this.utxos.set(outpointKey(u.outpoint), u)
    for (const [id, tx] of last.confirmed) this.pending.set(id, tx)
    this.tipRef = { height: header.height - 1, hash: header.prevHash }
    return Result.succeed(last.added.length > 0 || last.removed.length > 0 || last.confirmed.length > 0)
  }

  /** Forgets a transaction recorded by `addPending` (its broadcast was refused). */
  removePending(tx: Transaction): void {
    this.pending.delete(toHex(txidOf(tx)))
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

  /**
   * Reserves outputs under `lockId` (a channel open); fails if one is not spendable. With
   * `expiresAt`, the lock ends by itself once a block of that height is connected (a fee bump
   * whose transaction never confirmed must not hold its coins forever).
   */
  lock(lockId: string, outpoints: ReadonlyArray<OutPoint>, expiresAt?: number): boolean {
    const free = new Set(this.spendable().map((u) => outpointKey(u.outpoint)))
    if (!outpoints.every((o) => free.has(outpointKey(o)))) return false
    for (const o of outpoints) this.locks.set(outpointKey(o), lockId)
    if (expiresAt !== undefined) this.lockExpiry.set(lockId, expiresAt)
    return true
  }

  /** Ends the locks whose expiry height is reached; true when one held an output. */
  private expireLocks(height: number): boolean {
    let freed = false
    for (const [id, at] of this.lockExpiry) if (at <= height) freed = this.unlock(id) > 0 || freed
    return freed
  }

  /**
   * Forgets one of our published, unconfirmed transactions, and every pending one spending its
   * outputs: their inputs are spendable again (for a send that never confirms, e.g. its feerate
   * was too low and it left the mempools). The caller must make sure it will not confirm (a
   * new send may reuse the inputs and so conflict with it); if it confirms anyway, its block
   * applies it as usual. Returns the transactions forgotten, none when `txid` is not pending
   * (unknown, or confirmed already).
   */
  abandon(txid: Uint8Array): ReadonlyArray<Transaction> {
    const txidHex = toHex(txid)
    if (!this.pending.has(txidHex)) return []
    const gone: Array<string> = [txidHex]
    for (let i = 0; i < gone.length; i++) {
      const parent = gone[i]
      for (const [id, tx] of this.pending) {
        if (!gone.includes(id) && tx.inputs.some((input) => toHex(input.prevout.txid) === parent)) gone.push(id)
      }
    }
    const forgotten: Array<Transaction> = []
    for (const id of gone) {
      const tx = this.pending.get(id)
      if (tx !== undefined) forgotten.push(tx)
      this.pending.delete(id)
    }
    return forgotten
  }

  /** Frees what `lockId` reserved (the open failed, or it confirmed and the lock is moot). */
  unlock(lockId: string): number {
    this.lockExpiry.delete(lockId)
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

  /** The unspent outputs `lockId` holds. */
  lockedBy(lockId: string): ReadonlyArray<Utxo> {
    const out: Array<Utxo> = []
    for (const [k, id] of this.locks) {
      const u = this.utxos.get(k)
      if (id === lockId && u !== undefined) out.push(u)
    }
    return out
  }

  /** A coinbase output still short of `COINBASE_MATURITY` confirmations at the next block. */
  private immature(u: Utxo): boolean {
    return u.coinbase === true && (this.tipRef?.height ?? 0) + 1 - u.height < COINBASE_MATURITY
  }

  /** Confirmed (mature, for coinbase outputs), not locked, not spent by one of our pending transactions. */
  spendable(): ReadonlyArray<Utxo> {
    const spent = this.spentByPending()
    return [...this.utxos.entries()].filter(([k, u]) => !spent.has(k) && !this.locks.has(k) && !this.immature(u)).map(([, u]) => u)
  }

  /** Every confirmed output of ours (locked or not). */
  allUtxos(): ReadonlyArray<Utxo> {
    return [...this.utxos.values()]
  }

  pendingTransactions(): ReadonlyArray<Transaction> {
    return [...this.pending.values()]
  }

  /** The state as its stored form (`snapshot.ts`). */
  toSnapshot(): WalletSnapshot {
    const utxo = (u: Utxo): UtxoJson => ({
      txid: toHex(u.outpoint.txid),
      vout: u.outpoint.vout,
      value: u.value.toString(),
      kind: u.key.path.kind,
      chain: u.key.path.chain,
      index: u.key.path.index,
      height: u.height,
      ...(u.coinbase === true ? { coinbase: true } : {})
    })
    return {
      version: 1,
      network: this.keys.network.name,
      fingerprint: this.keys.fingerprint,
      tip: this.tipRef === undefined ? null : { height: this.tipRef.height, hash: toHex(this.tipRef.hash) },
      next: KINDS.flatMap((kind) => CHAINS.map((chain) => ({ kind, chain, index: this.nextIndex.get(slot(kind, chain)) ?? 0 }))),
      utxos: [...this.utxos.values()].map(utxo),
      pending: [...this.pending.values()].map((tx) => toHex(serializeTransaction(tx))),
      locks: [...this.locks.entries()],
      ...(this.lockExpiry.size > 0 ? { lockExpiry: [...this.lockExpiry.entries()] } : {}),
      undo: this.undo.map((u) => ({
        height: u.ref.height,
        hash: toHex(u.ref.hash),
        added: u.added,
        removed: u.removed.map(utxo),
        confirmed: u.confirmed.map(([id, tx]) => [id, toHex(serializeTransaction(tx))] as const)
      }))
    }
  }

  /** The state a snapshot describes, for these keys (refused if it belongs to other keys, or is damaged). */
  static fromSnapshot(keys: WalletKeys, s: WalletSnapshot): Result.Result<WalletState, WalletSnapshotInvalid> {
    const bad = (reason: string) => Result.fail(new WalletSnapshotInvalid({ reason }))
    if (s.network !== keys.network.name) return bad(`the stored wallet is for ${s.network}, not ${keys.network.name}`)
    if (s.fingerprint !== keys.fingerprint) return bad("the stored wallet belongs to another seed")
    const hex = (h: string, length?: number) => /^([0-9a-f]{2})*$/.test(h) && (length === undefined || h.length === 2 * length) ? fromHex(h) : undefined
    const ref = (r: { readonly height: number; readonly hash: string }): BlockRef | undefined => {
      const bytes = hex(r.hash, 32)
      if (bytes === undefined) return undefined
      const hash = blockHash(bytes)
      return Result.isSuccess(hash) ? { height: r.height, hash: hash.success } : undefined
    }
    const tx = (h: string): Transaction | undefined => {
      const bytes = hex(h)
      if (bytes === undefined) return undefined
      const d = decodeTransaction(bytes)
      return Result.isSuccess(d) ? d.success : undefined
    }
    const tip = s.tip === null ? undefined : ref(s.tip)
    if (s.tip !== null && tip === undefined) return bad("the stored tip is not a block hash")
    const state = new WalletState(keys, tip)
    for (const n of s.next) {
      if (!Number.isSafeInteger(n.index) || n.index < 0 || n.index > 0x7fffffff) return bad(`stored index ${n.index} out of range`)
      if (n.index > 0) state.markUsed({ kind: n.kind, chain: n.chain, index: n.index - 1 })
    }
    const utxo = (u: UtxoJson): Utxo | undefined => {
      const id = hex(u.txid, 32)
      if (id === undefined || !/^[0-9]+$/.test(u.value) || u.index < 0 || u.index > 0x7fffffff) return undefined
      const path: KeyPath = { kind: u.kind, chain: u.chain, index: u.index }
      state.markUsed(path)
      return { outpoint: { txid: txidFromBytes(id), vout: u.vout }, value: sat(BigInt(u.value)), key: keys.derive(path), height: u.height, ...(u.coinbase === true ? { coinbase: true } : {}) }
    }
    for (const j of s.utxos) {
      const u = utxo(j)
      if (u === undefined) return bad(`stored output ${j.txid}:${j.vout} is damaged`)
      state.utxos.set(outpointKey(u.outpoint), u)
    }
    for (const h of s.pending) {
      const t = tx(h)
      if (t === undefined) return bad("a stored pending transaction does not parse")
      state.pending.set(toHex(txidOf(t)), t)
    }
    for (const [k, id] of s.locks) state.locks.set(k, id)
    for (const [id, at] of s.lockExpiry ?? []) state.lockExpiry.set(id, at)
    for (const u of s.undo) {
      const r = ref(u)
      if (r === undefined) return bad(`stored undo record ${u.height} has no block hash`)
      const removed: Array<Utxo> = []
      for (const j of u.removed) {
        const x = utxo(j)
        if (x === undefined) return bad(`stored undo record ${u.height} is damaged`)
        removed.push(x)
      }
      const confirmed: Array<readonly [string, Transaction]> = []
      for (const [id, h] of u.confirmed) {
        const t = tx(h)
        if (t === undefined) return bad(`stored undo record ${u.height} has a transaction that does not parse`)
        confirmed.push([id, t])
      }
      state.undo.push({ ref: r, added: u.added, removed, confirmed })
    }
    return Result.succeed(state)
  }

  balance(): Balance {
    const spent = this.spentByPending()
    let confirmed = 0n
    let locked = 0n
    let unconfirmed = 0n
    for (const [k, u] of this.utxos) {
      if (spent.has(k)) continue
      if (this.locks.has(k)) locked += u.value
      else if (this.immature(u)) unconfirmed += u.value
      else confirmed += u.value
    }
    for (const tx of this.pending.values()) for (const o of tx.outputs) if (this.keyOf(o.scriptPubKey) !== undefined) unconfirmed += o.value
    return { confirmed: sat(confirmed), unconfirmed: sat(unconfirmed), locked: sat(locked) }
  }
}
