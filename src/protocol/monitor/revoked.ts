/**
 * The revoked counterparty commitments a monitor keeps (BOLT 5 "Revoked Transaction Close
 * Handling": their txids, and the HTLCs whose outputs justice sweeps), packed into bytes. A busy
 * channel revokes thousands of commitments over its life: as objects each cost ~270 bytes (a
 * Uint8Array per txid, bigints), and an immutable array was copied whole at every revocation.
 *
 * Lists share one append-only buffer: a list is its first `length` entries (`packed`, exactly
 * their bytes: equal lists have equal `packed`), and appending to the newest list writes in place
 * (amortized O(1)) while every older list still reads what it held. Appending to an older list
 * copies its bytes first, unless it is the same append again (below). A list holds the buffer
 * and its own end, nothing per list beyond that. The bytes are this process's only: the Schema
 * encodes the entries.
 *
 * Entry: commitment number u64, txid 32 bytes, HTLC count u32, then per HTLC: direction byte
 * (0 offered), id u64, amount u64, payment hash 32 bytes, cltv expiry f64 (any `Schema.Int`).
 */
import { equalBytesAt } from "../bytes.ts"
import { Txid } from "../tx/bitcoin/transaction.ts"
import { msat } from "../units.ts"
import type { MonitorHtlc, RevokedCommitment } from "./state.ts"

const HEAD = 44
const HTLC = 57

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.length)

/**
 * The buffer a chain of lists shares: each list is its bytes from `offset`, up to the list's own
 * end. Only the list ending at `used` may append in place (-1: none may: the shared empty list, a
 * slice); when the buffer grows, every list of the chain reads the new one (it starts with the
 * same bytes), so the old buffer is freed even while older lists live. The `ArrayBuffer` itself,
 * not a view of it: a view costs ~100 heap bytes more per chain, and views are made on read.
 */
interface Shared {
  buffer: ArrayBufferLike
  readonly offset: number
  used: number
}

/** A buffer of `capacity` bytes holding `packed`, appendable after it. */
const shared = (capacity: number, packed: Uint8Array): Shared => {
  const bytes = new Uint8Array(capacity)
  bytes.set(packed)
  return { buffer: bytes.buffer, offset: 0, used: packed.length }
}

/** `bytes` (a view: its buffer is left as it is) as the buffer of a list no one appends to in place. */
const frozen = (bytes: Uint8Array): Shared => ({ buffer: bytes.buffer, offset: bytes.byteOffset, used: -1 })

/**
 * The appends to lists no one appends to in place (the shared empty list, slices), by txid
 * object: every channel's first entry is appended to the one empty list, so its last append
 * alone would not tell the monitor's from the fold's. Entries live while the txid does.
 */
const appendedToFrozen = new WeakMap<
  Uint8Array,
  { readonly parent: RevokedCommitments; readonly n: bigint; readonly htlcs: ReadonlyArray<MonitorHtlc>; readonly list: RevokedCommitments }
>()

export class RevokedCommitments implements Iterable<RevokedCommitment> {
  static readonly empty = new RevokedCommitments(frozen(new Uint8Array(0)), 0, 0)

  /** Packs `entries` (a decoded state's list) into a buffer of their exact size. */
  static of(entries: ReadonlyArray<RevokedCommitment>): RevokedCommitments {
    if (entries.length === 0) return RevokedCommitments.empty
    let size = 0
    for (const e of entries) size += HEAD + HTLC * e.htlcs.length
    let list = new RevokedCommitments(shared(size, new Uint8Array(0)), 0, 0)
    for (const e of entries) list = list.append(e.commitmentNumber, e.txid, e.htlcs)
    return list
  }

  readonly #shared: Shared
  /** The length of this list's bytes (its entries are the first `#end` bytes of `#shared`). */
  readonly #end: number
  readonly length: number
  /**
   * The list last appended from this one. The `Monitor` and a persister's fold apply the same
   * updates from the same start: the second append of an equal entry onto the same list returns
   * the first's result (its last entry's bytes compared with the entry, nothing copied), so both
   * hold one buffer. Only the child is held: not the update's txid or HTLCs (a list kept by an
   * older holder would keep them alive), and never a parent. One field read per append, where a
   * `WeakMap` by txid cost an insertion per append.
   */
  #next: RevokedCommitments | undefined

  private constructor(shared: Shared, end: number, length: number) {
    this.#shared = shared
    this.#end = end
    this.length = length
    this.#next = undefined
  }

  /**
   * This list's entries, exactly their bytes: a view made on each read (not held: a view per list
   * cost ~100 heap bytes, and would keep the buffer it was made on alive after the chain grew).
   */
  get packed(): Uint8Array {
    return new Uint8Array(this.#shared.buffer, this.#shared.offset, this.#end)
  }

  /** This list with one more entry (this list is left as it is). */
  append(commitmentNumber: bigint, txid: Uint8Array, htlcs: ReadonlyArray<MonitorHtlc>): RevokedCommitments {
    const frozenParent = this.#shared.used < 0
    if (frozenParent) {
      const known = appendedToFrozen.get(txid)
      if (known !== undefined && known.parent === this && known.n === commitmentNumber && known.htlcs === htlcs) return known.list
    } else if (this.#next !== undefined && this.#next.#endsWith(this.#end, commitmentNumber, txid, htlcs)) return this.#next
    const size = HEAD + HTLC * htlcs.length
    const end = this.#end
    let s = this.#shared
    // Geometric growth (amortized O(1) copying), by a quarter, and room for one more entry like
    // this one at least: most lists are short (a channel's first revoked commitments with HTLCs,
    // every one of them on the shared empty list), and a quarter of a short list holds no entry,
    // so lists of up to four reallocated at every append. The spare room is memory held.
    const spare = Math.max(end >> 2, size)
    if (s.used !== end) s = shared(end + size + spare, this.packed) // an older list's bytes are copied
    else if (s.buffer.byteLength < end + size) s.buffer = shared(end + size + spare, this.packed).buffer
    const b = new Uint8Array(s.buffer)
    const v = new DataView(s.buffer)
    v.setBigUint64(end, commitmentNumber)
    b.set(txid, end + 8)
    v.setUint32(end + 40, htlcs.length)
    let at = end + HEAD
    for (const h of htlcs) {
      v.setUint8(at, h.direction === "offered" ? 0 : 1)
      v.setBigUint64(at + 1, h.id)
      v.setBigUint64(at + 9, h.amount)
      b.set(h.paymentHash, at + 17)
      v.setFloat64(at + 49, h.cltvExpiry)
      at += HTLC
    }
    s.used = at
    const list = new RevokedCommitments(s, at, this.length + 1)
    if (frozenParent) appendedToFrozen.set(txid, { parent: this, n: commitmentNumber, htlcs, list })
    else this.#next = list
    return list
  }

  /** Whether this list is one entry past `start` bytes, that entry being exactly this one (as `append` writes it). */
  #endsWith(start: number, commitmentNumber: bigint, txid: Uint8Array, htlcs: ReadonlyArray<MonitorHtlc>): boolean {
    if (this.#end !== start + HEAD + HTLC * htlcs.length) return false
    const b = new Uint8Array(this.#shared.buffer, this.#shared.offset, this.#end)
    const v = view(b)
    if (v.getBigUint64(start) !== commitmentNumber || !equalBytesAt(b, start + 8, txid) || v.getUint32(start + 40) !== htlcs.length) return false
    let at = start + HEAD
    for (const h of htlcs) {
      if (
        v.getUint8(at) !== (h.direction === "offered" ? 0 : 1) ||
        v.getBigUint64(at + 1) !== h.id ||
        v.getBigUint64(at + 9) !== h.amount ||
        !equalBytesAt(b, at + 17, h.paymentHash) ||
        v.getFloat64(at + 49) !== h.cltvExpiry
      )
        return false
      at += HTLC
    }
    return true
  }

  /** The entries from index `start` on (the ones before hopped over, not read). */
  slice(start: number): RevokedCommitments {
    const packed = this.packed.subarray(this.#offset(start))
    return new RevokedCommitments(frozen(packed), packed.length, Math.max(0, this.length - start))
  }

  /** The entries after `prefix`, a list this one was appended from (not hopped over). */
  after(prefix: RevokedCommitments): RevokedCommitments {
    const packed = this.packed.subarray(prefix.#end)
    return new RevokedCommitments(frozen(packed), packed.length, this.length - prefix.length)
  }

  /** The byte offset of entry `index`. */
  #offset(index: number): number {
    if (index >= this.length) return this.packed.length
    const v = view(this.packed)
    let at = 0
    for (let i = 0; i < index; i++) at += HEAD + HTLC * v.getUint32(at + 40)
    return at
  }

  *[Symbol.iterator](): Iterator<RevokedCommitment> {
    const p = this.packed
    const v = view(p)
    for (let at = 0; at < p.length;) {
      const htlcs: Array<MonitorHtlc> = []
      const entry = { commitmentNumber: v.getBigUint64(at), txid: Txid(p.slice(at + 8, at + 40)), htlcs }
      const count = v.getUint32(at + 40)
      at += HEAD
      for (let k = 0; k < count; k++, at += HTLC)
        htlcs.push({
          direction: v.getUint8(at) === 0 ? "offered" : "received",
          id: v.getBigUint64(at + 1),
          amount: msat(v.getBigUint64(at + 9)),
          paymentHash: p.slice(at + 17, at + 49),
          cltvExpiry: v.getFloat64(at + 49)
        })
      yield entry
    }
  }

  find(f: (r: RevokedCommitment) => boolean): RevokedCommitment | undefined {
    for (const r of this) if (f(r)) return r
    return undefined
  }

  some(f: (r: RevokedCommitment) => boolean): boolean {
    return this.find(f) !== undefined
  }
}
