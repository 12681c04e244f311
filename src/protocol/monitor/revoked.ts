/**
 * The revoked counterparty commitments a monitor keeps (BOLT 5 "Revoked Transaction Close
 * Handling": their txids, and the HTLCs whose outputs justice sweeps), packed into bytes. A busy
 * channel revokes thousands of commitments over its life: as objects each cost ~270 bytes (a
 * Uint8Array per txid, bigints), and an immutable array was copied whole at every revocation.
 *
 * Lists share one append-only buffer: a list is its first `length` entries (`packed`, exactly
 * their bytes, so equal lists compare equal), and appending to the newest list writes in place
 * (amortized O(1)) while every older list still reads what it held. Appending to an older list
 * copies its bytes first, unless it is the same append again (below). The bytes are this
 * process's only: the Schema encodes the entries.
 *
 * Entry: commitment number u64, txid 32 bytes, HTLC count u32, then per HTLC: direction byte
 * (0 offered), id u64, amount u64, payment hash 32 bytes, cltv expiry f64 (any `Schema.Int`).
 */
import { Txid } from "../tx/bitcoin/transaction.ts"
import { msat } from "../units.ts"
import type { MonitorHtlc, RevokedCommitment } from "./state.ts"

const HEAD = 44
const HTLC = 57

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.length)

/** The buffer lists share; only the list ending at `used` may append in place. */
interface Shared {
  bytes: Uint8Array
  view: DataView
  used: number
}

/** A buffer of `capacity` bytes holding `packed`. */
const shared = (capacity: number, packed: Uint8Array): Shared => {
  const bytes = new Uint8Array(capacity)
  bytes.set(packed)
  return { bytes, view: view(bytes), used: packed.length }
}

/**
 * The last append of each txid object. The `Monitor` and a persister's fold apply the same update
 * objects from the same start: the second append of an entry onto the same list returns the
 * first's result, so both hold one buffer. Entries live while the txid does (its update's).
 */
const appended = new WeakMap<
  Uint8Array,
  { readonly parent: RevokedCommitments; readonly n: bigint; readonly htlcs: ReadonlyArray<MonitorHtlc>; readonly list: RevokedCommitments }
>()

export class RevokedCommitments implements Iterable<RevokedCommitment> {
  static readonly empty = new RevokedCommitments(undefined, new Uint8Array(0), 0)

  /** Packs `entries` (a decoded state's list) into a buffer of their exact size. */
  static of(entries: ReadonlyArray<RevokedCommitment>): RevokedCommitments {
    if (entries.length === 0) return RevokedCommitments.empty
    let size = 0
    for (const e of entries) size += HEAD + HTLC * e.htlcs.length
    let list = new RevokedCommitments(shared(size, new Uint8Array(0)), new Uint8Array(0), 0)
    for (const e of entries) list = list.append(e.commitmentNumber, e.txid, e.htlcs)
    return list
  }

  readonly #shared: Shared | undefined
  /** This list's entries, exactly their bytes. */
  readonly packed: Uint8Array
  readonly length: number

  private constructor(shared: Shared | undefined, packed: Uint8Array, length: number) {
    this.#shared = shared
    this.packed = packed
    this.length = length
  }

  /** This list with one more entry (this list is left as it is). */
  append(commitmentNumber: bigint, txid: Uint8Array, htlcs: ReadonlyArray<MonitorHtlc>): RevokedCommitments {
    const known = appended.get(txid)
    if (known !== undefined && known.parent === this && known.n === commitmentNumber && known.htlcs === htlcs) return known.list
    const size = HEAD + HTLC * htlcs.length
    const end = this.packed.length
    let s = this.#shared
    if (s === undefined || s.used !== end) s = shared(end + size, this.packed) // an older list's bytes are copied
    else if (s.bytes.length < end + size) {
      // geometric growth (amortized O(1) copying), by a quarter: the spare room is memory held
      const grown = shared(end + size + (end >> 2), this.packed)
      s.bytes = grown.bytes
      s.view = grown.view
    }
    const b = s.bytes
    const v = s.view
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
    // (the buffer itself when full: one view less per list)
    const list = new RevokedCommitments(s, at === b.length ? b : b.subarray(0, at), this.length + 1)
    appended.set(txid, { parent: this, n: commitmentNumber, htlcs, list })
    return list
  }

  /** The entries from index `start` on (the ones before hopped over, not read). */
  slice(start: number): RevokedCommitments {
    return new RevokedCommitments(undefined, this.packed.subarray(this.#offset(start)), Math.max(0, this.length - start))
  }

  /** The entries after `prefix`, a list this one was appended from (not hopped over). */
  after(prefix: RevokedCommitments): RevokedCommitments {
    return new RevokedCommitments(undefined, this.packed.subarray(prefix.packed.length), this.length - prefix.length)
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
