/**
 * Bitcoin transaction model and serialization (BIP 141/144 witness format), txid/wtxid and
 * weight. Txids are kept in internal byte order (the order they are serialized in an outpoint
 * and sent in BOLT 2 `funding_created`); `txidToHex`/`txidFromHex` convert to the reversed
 * display order that block explorers and the BOLT 3 vectors print.
 */
import { Data, Result, type Brand } from "effect"
import { fromHex, toHex } from "../../bytes.ts"
import type { Sat } from "../../units.ts"
import { sat } from "../../units.ts"
import { hash256 } from "./hash.ts"
import { ByteWriter, compactSizeLength } from "./writer.ts"

/** 32-byte transaction id in internal (serialization) byte order. */
export type Txid = Uint8Array & Brand.Brand<"Txid">

/** Brands 32 trusted bytes (internal order) as a txid; no copy, no check. */
export const txidFromBytes = (bytes: Uint8Array): Txid => bytes as Txid
/** Parses display-order hex (as printed by explorers and the BOLTs); throws on bad hex: trusted input only. */
export const txidFromHex = (hex: string): Txid => fromHex(hex).reverse() as Txid
export const txidToHex = (txid: Txid): string => toHex(Uint8Array.from(txid).reverse())

export interface OutPoint {
  readonly txid: Txid
  readonly vout: number
}

export interface TxInput {
  readonly prevout: OutPoint
  readonly scriptSig: Uint8Array
  readonly sequence: number
  readonly witness: ReadonlyArray<Uint8Array>
}

export interface TxOutput {
  readonly value: Sat
  readonly scriptPubKey: Uint8Array
}

export interface Transaction {
  readonly version: number
  readonly inputs: ReadonlyArray<TxInput>
  readonly outputs: ReadonlyArray<TxOutput>
  readonly locktime: number
}

const EMPTY = new Uint8Array(0)

/** An input with no scriptSig and no witness yet. */
export const makeInput = (prevout: OutPoint, sequence: number): TxInput => ({ prevout, scriptSig: EMPTY, sequence, witness: [] })

export const hasWitness = (tx: Transaction): boolean => tx.inputs.some((i) => i.witness.length > 0)

const writeOutput = (w: ByteWriter, o: TxOutput): void => {
  w.u64le(o.value).varBytes(o.scriptPubKey)
}

/** Serialized output (value || script), as hashed by BIP 143. */
export const serializeOutput = (o: TxOutput): Uint8Array => {
  const w = new ByteWriter(9 + o.scriptPubKey.length)
  writeOutput(w, o)
  return w.finish()
}

/**
 * Serializes the transaction. With `witness` (the default) the BIP 144 format is used when at
 * least one input has a witness; otherwise (and always with `witness: false`) the legacy format.
 */
export const serializeTransaction = (tx: Transaction, options?: { readonly witness?: boolean }): Uint8Array => {
  const segwit = (options?.witness ?? true) && hasWitness(tx)
  const w = new ByteWriter(256)
  w.u32le(tx.version)
  if (segwit) w.u8(0).u8(1)
  w.compactSize(tx.inputs.length)
  for (const i of tx.inputs) {
    w.bytes(i.prevout.txid).u32le(i.prevout.vout).varBytes(i.scriptSig).u32le(i.sequence)
  }
  w.compactSize(tx.outputs.length)
  for (const o of tx.outputs) writeOutput(w, o)
  if (segwit) {
    for (const i of tx.inputs) {
      w.compactSize(i.witness.length)
      for (const item of i.witness) w.varBytes(item)
    }
  }
  w.u32le(tx.locktime)
  return w.finish()
}

export const txid = (tx: Transaction): Txid => hash256(serializeTransaction(tx, { witness: false })) as Txid
export const wtxid = (tx: Transaction): Txid => hash256(serializeTransaction(tx)) as Txid

/** Witness stack size in bytes as serialized (count + items), for one input. */
export const witnessSize = (witness: ReadonlyArray<Uint8Array>): number => {
  let n = compactSizeLength(witness.length)
  for (const item of witness) n += compactSizeLength(item.length) + item.length
  return n
}

/** BIP 141 weight: 3 * stripped size + total size. */
export const weight = (tx: Transaction): number => {
  const base = serializeTransaction(tx, { witness: false }).length
  const total = serializeTransaction(tx).length
  return base * 3 + total
}

export const vsize = (tx: Transaction): number => Math.ceil(weight(tx) / 4)

/** Returns a copy with input `index`'s witness replaced. */
export const setWitness = (tx: Transaction, index: number, witness: ReadonlyArray<Uint8Array>): Transaction => ({
  ...tx,
  inputs: tx.inputs.map((input, i) => (i === index ? { ...input, witness } : input))
})

/** Returns a copy with input `index`'s scriptSig replaced. */
export const setScriptSig = (tx: Transaction, index: number, scriptSig: Uint8Array): Transaction => ({
  ...tx,
  inputs: tx.inputs.map((input, i) => (i === index ? { ...input, scriptSig } : input))
})

export class TxDecodeError extends Data.TaggedError("TxDecodeError")<{
  readonly offset: number
  readonly reason: string
}> {}

/** Internal sentinel thrown by the reader, caught at the `decodeTransaction` boundary. */
class Short {
  readonly offset: number
  readonly reason: string
  constructor(offset: number, reason: string) {
    this.offset = offset
    this.reason = reason
  }
}

class Reader {
  pos = 0
  private readonly data: Uint8Array
  constructor(data: Uint8Array) {
    this.data = data
  }
  get remaining(): number {
    return this.data.length - this.pos
  }
  need(n: number): void {
    if (this.pos + n > this.data.length) throw new Short(this.pos, "unexpected end of data")
  }
  u8(): number {
    this.need(1)
    return this.data[this.pos++] ?? 0
  }
  u32le(): number {
    this.need(4)
    const d = this.data
    const p = this.pos
    this.pos += 4
    return ((d[p] ?? 0) | ((d[p + 1] ?? 0) << 8) | ((d[p + 2] ?? 0) << 16)) + (d[p + 3] ?? 0) * 0x1000000
  }
  u64le(): bigint {
    const lo = this.u32le()
    const hi = this.u32le()
    return (BigInt(hi) << 32n) | BigInt(lo)
  }
  bytes(n: number): Uint8Array {
    this.need(n)
    const out = this.data.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  /** CompactSize, canonical only, bounded by `max` (so counts cannot exceed the data left). */
  compactSize(max: number): number {
    const at = this.pos
    const first = this.u8()
    let v: number
    if (first < 0xfd) v = first
    else if (first === 0xfd) {
      v = this.u8() | (this.u8() << 8)
      if (v < 0xfd) throw new Short(at, "non-canonical CompactSize")
    } else if (first === 0xfe) {
      v = this.u32le()
      if (v <= 0xffff) throw new Short(at, "non-canonical CompactSize")
    } else {
      const big = this.u64le()
      if (big <= 0xffffffffn) throw new Short(at, "non-canonical CompactSize")
      throw new Short(at, "CompactSize too large")
    }
    if (v > max) throw new Short(at, "count or length exceeds the remaining data")
    return v
  }
}

/**
 * Parses one serialized transaction (legacy or BIP 144) starting at `offset` of `bytes`, and
 * says where it ended: for transactions back to back (a block's). Truncation, non-canonical
 * sizes and a witness flag with only empty witnesses are errors; what follows the locktime is
 * the caller's. Error offsets are positions in `bytes`.
 */
export const decodeTransactionAt = (
  bytes: Uint8Array,
  offset: number
): Result.Result<{ readonly tx: Transaction; readonly end: number }, TxDecodeError> => {
  if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length)
    return Result.fail(new TxDecodeError({ offset: Math.max(0, Math.min(bytes.length, Number.isInteger(offset) ? offset : 0)), reason: "offset out of range" }))
  const r = new Reader(bytes)
  r.pos = offset
  try {
    const version = r.u32le()
    let segwit = false
    if (r.remaining >= 2 && bytes[r.pos] === 0 && bytes[r.pos + 1] !== 0) {
      const flag = bytes[r.pos + 1]
      if (flag !== 1) throw new Short(r.pos, "unknown segwit flag")
      segwit = true
      r.pos += 2
    }
    const nIn = r.compactSize(Math.floor(r.remaining / 41))
    const inputs: Array<{ prevout: OutPoint; scriptSig: Uint8Array; sequence: number; witness: Array<Uint8Array> }> = []
    for (let k = 0; k < nIn; k++) {
      const id = r.bytes(32) as Txid
      const vout = r.u32le()
      const scriptSig = r.bytes(r.compactSize(r.remaining))
      const sequence = r.u32le()
      inputs.push({ prevout: { txid: id, vout }, scriptSig, sequence, witness: [] })
    }
    const nOut = r.compactSize(Math.floor(r.remaining / 9))
    const outputs: Array<TxOutput> = []
    for (let k = 0; k < nOut; k++) {
      const value = r.u64le()
      const scriptPubKey = r.bytes(r.compactSize(r.remaining))
      outputs.push({ value: sat(value), scriptPubKey })
    }
    if (segwit) {
      if (nIn === 0) throw new Short(r.pos, "witness flag on a transaction without inputs")
      let any = false
      for (const input of inputs) {
        const n = r.compactSize(r.remaining)
        for (let k = 0; k < n; k++) input.witness.push(r.bytes(r.compactSize(r.remaining)))
        if (n > 0) any = true
      }
      if (!any) throw new Short(r.pos, "superfluous witness record")
    }
    const locktime = r.u32le()
    return Result.succeed({ tx: { version, inputs, outputs, locktime }, end: r.pos })
  } catch (e) {
    if (e instanceof Short) return Result.fail(new TxDecodeError({ offset: e.offset, reason: e.reason }))
    throw e
  }
}

/**
 * Parses a serialized transaction (legacy or BIP 144). Trailing bytes, truncation,
 * non-canonical sizes and a witness flag with only empty witnesses are errors.
 */
export const decodeTransaction = (bytes: Uint8Array): Result.Result<Transaction, TxDecodeError> => {
  const decoded = decodeTransactionAt(bytes, 0)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  if (decoded.success.end !== bytes.length) return Result.fail(new TxDecodeError({ offset: decoded.success.end, reason: "trailing bytes" }))
  return Result.succeed(decoded.success.tx)
}
