/**
 * What a chain consumer watches, and which transactions of a block touch it: outputs spent,
 * scripts paid, transactions confirmed. Matching is pure and shared by every consumer of
 * `ChainSource` (the `ChainWatcher` for funding outputs; the monitors for commitments and HTLC
 * outputs, BOLT 5), whatever backend delivers the blocks.
 *
 * An output that pays a watched script becomes a watched output itself (with the script's tag),
 * so a spend of it later in the same block or in a later block is reported too.
 * The set is mutable and owned by ONE consumer; every map is bounded by what that consumer adds.
 */
import { toHex } from "../bytes.ts"
import type { OutPoint, Transaction, Txid } from "../tx/bitcoin/transaction.ts"
import type { Block } from "./block.ts"

export type WatchHit<T> =
  /** `tx` spends a watched output (its input `vin`). */
  | { readonly kind: "spends"; readonly tag: T; readonly outpoint: OutPoint; readonly vin: number }
  /** `tx` pays a watched script (its output `vout`). */
  | { readonly kind: "pays"; readonly tag: T; readonly vout: number }
  /** `tx` is a watched transaction. */
  | { readonly kind: "confirms"; readonly tag: T }

export interface WatchMatch<T> {
  readonly tx: Transaction
  readonly txid: Txid
  /** The transaction's position in the block (`short_channel_id`'s tx index). */
  readonly index: number
  readonly hits: ReadonlyArray<WatchHit<T>>
}

export const outpointKey = (o: OutPoint): string => `${toHex(o.txid)}:${o.vout}`

export class WatchSet<T> {
  private readonly outputs = new Map<string, T>()
  private readonly scripts = new Map<string, T>()
  private readonly txs = new Map<string, T>()

  /** Report the transaction that spends `outpoint`. */
  watchOutput(outpoint: OutPoint, tag: T): void {
    this.outputs.set(outpointKey(outpoint), tag)
  }
  /** Report transactions paying `scriptPubKey` (and then spends of those outputs). */
  watchScript(scriptPubKey: Uint8Array, tag: T): void {
    this.scripts.set(toHex(scriptPubKey), tag)
  }
  /** Report the confirmation of `txid`. */
  watchTx(txid: Txid, tag: T): void {
    this.txs.set(toHex(txid), tag)
  }
  unwatchOutput(outpoint: OutPoint): void {
    this.outputs.delete(outpointKey(outpoint))
  }
  unwatchScript(scriptPubKey: Uint8Array): void {
    this.scripts.delete(toHex(scriptPubKey))
  }
  unwatchTx(txid: Txid): void {
    this.txs.delete(toHex(txid))
  }
  /** Drops every watch carrying a tag for which `drop` holds. */
  unwatchWhere(drop: (tag: T) => boolean): void {
    for (const m of [this.outputs, this.scripts, this.txs]) {
      for (const [k, tag] of m) if (drop(tag)) m.delete(k)
    }
  }
  get size(): number {
    return this.outputs.size + this.scripts.size + this.txs.size
  }

  /** The hits of one transaction (and registers its outputs paying watched scripts). */
  matchTx(tx: Transaction, txid: Txid): ReadonlyArray<WatchHit<T>> {
    const hits: Array<WatchHit<T>> = []
    if (this.txs.size > 0) {
      const tag = this.txs.get(toHex(txid))
      if (tag !== undefined) hits.push({ kind: "confirms", tag })
    }
    if (this.outputs.size > 0) {
      tx.inputs.forEach((input, vin) => {
        const tag = this.outputs.get(outpointKey(input.prevout))
        if (tag !== undefined) hits.push({ kind: "spends", tag, outpoint: input.prevout, vin })
      })
    }
    if (this.scripts.size > 0) {
      tx.outputs.forEach((output, vout) => {
        const tag = this.scripts.get(toHex(output.scriptPubKey))
        if (tag === undefined) return
        hits.push({ kind: "pays", tag, vout })
        this.outputs.set(outpointKey({ txid, vout }), tag)
      })
    }
    return hits
  }

  /** The block's transactions that touch this set, in block order. */
  match(block: Block): ReadonlyArray<WatchMatch<T>> {
    const out: Array<WatchMatch<T>> = []
    if (this.size === 0) return out
    block.transactions.forEach((tx, index) => {
      const txid = block.txids[index]
      if (txid === undefined) return
      const hits = this.matchTx(tx, txid)
      if (hits.length > 0) out.push({ tx, txid, index, hits })
    })
    return out
  }
}
