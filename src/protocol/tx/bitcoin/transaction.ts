/**
 * Bitcoin transaction model and serialization (BIP 141/144 witness format), txid/wtxid and
 * weight. Txids are kept in internal byte order (the order they are serialized in an outpoint
 * and sent in BOLT 2 `funding_created`); `txidToHex`/`txidFromHex` convert to the reversed
 * display order that block explorers and the BOLT 3 vectors print.
 */
import { Brand, Data, Result } from "effect"
import { fromHex, toHex } from "../../bytes.ts"
import type { Sat } from "../../units.ts"
import { checkedBrand, sat } from "../../units.ts"
import { type DecodeError, fail, InvalidFieldValue } from "../../codec/errors.ts"
import { attempt, Reader } from "../../codec/reader.ts"
import { compactSizeLength, Writer } from "../../codec/writer.ts"
import { hash256 } from "./hash.ts"

/** 32-byte transaction id in internal (serialization) byte order. */
export type Txid = Uint8Array & Brand.Brand<"Txid">

/**
 * A txid from 32 bytes in internal order (no copy; a `BrandError` for another length). A
 * `checkedBrand`: every commitment's txid is branded, and `Brand.make` would run Effect's schema
 * checks for each.
 */
export const Txid = checkedBrand<Txid>((b) => b.length === 32 || `a txid is 32 bytes, got ${b.length}`)
/** Brands 32 bytes (internal order) as a txid; no copy. */
export const txidFromBytes = (bytes: Uint8Array): Txid => Txid(bytes)
/** Parses display-order hex (as printed by explorers and the BOLTs); throws on bad hex: trusted input only. */
export const txidFromHex = (hex: string): Txid => Txid(fromHex(hex).reverse())
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

/** Writes an output (value || script), as serialized in a transaction and hashed by BIP 143. */
export const writeOutput = (w: Writer, o: TxOutput): void => {
  w.u64le(o.value).varBytes(o.scriptPubKey)
}

/** Serialized output (value || script), as hashed by BIP 143. */
export const serializeOutput = (o: TxOutput): Uint8Array => {
  const w = new Writer(9 + o.scriptPubKey.length)
  writeOutput(w, o)
  return w.finish()
}

/**
 * Writes the transaction (BIP 144 format when `segwit`, else the legacy one). Indexed loops, not
 * `for...of`: each txid is written once per commitment, in code V8 compiles only with Maglev,
 * where each step of an array iterator allocates its result.
 */
const writeTransaction = (w: Writer, tx: Transaction, segwit: boolean): void => {
  const { inputs, outputs } = tx
  w.u32le(tx.version)
  if (segwit) w.u8(0).u8(1)
  w.compactSize(inputs.length)
  for (let k = 0; k < inputs.length; k++) {
    const i = inputs[k]
    if (i !== undefined) w.bytes(i.prevout.txid).u32le(i.prevout.vout).varBytes(i.scriptSig).u32le(i.sequence)
  }
  w.compactSize(outputs.length)
  for (let k = 0; k < outputs.length; k++) {
    const o = outputs[k]
    if (o !== undefined) writeOutput(w, o)
  }
  if (segwit) {
    for (const i of inputs) {
      w.compactSize(i.witness.length)
      for (const item of i.witness) w.varBytes(item)
    }
  }
  w.u32le(tx.locktime)
}

const copyOf = (written: Uint8Array): Uint8Array => written.slice()

/**
 * Serializes the transaction. With `witness` (the default) the BIP 144 format is used when at
 * least one input has a witness; otherwise (and always with `witness: false`) the legacy format.
 */
export const serializeTransaction = (tx: Transaction, options?: { readonly witness?: boolean }): Uint8Array => {
  const segwit = (options?.witness ?? true) && hasWitness(tx)
  return Writer.scratch((w) => writeTransaction(w, tx, segwit), copyOf)
}

/** hash256 of the legacy serialization, hashed where it is written (no copy of it is made). */
export const txid = (tx: Transaction): Txid => Txid(Writer.scratch((w) => writeTransaction(w, tx, false), hash256))
export const wtxid = (tx: Transaction): Txid => Txid(Writer.scratch((w) => writeTransaction(w, tx, hasWitness(tx)), hash256))

/** Witness stack size in bytes as serialized (count + items), for one input. */
export const witnessSize = (witness: ReadonlyArray<Uint8Array>): number => {
  let n = compactSizeLength(witness.length)
  for (const item of witness) n += compactSizeLength(item.length) + item.length
  return n
}

/** Size of the legacy serialization (`serializeTransaction(tx, { witness: false }).length`), counted without writing it. */
const strippedSize = (tx: Transaction): number => {
  // version, input count, output count, locktime; each input: outpoint (txid, vout), scriptSig, sequence; each output: value, script.
  let n = 8 + compactSizeLength(tx.inputs.length) + compactSizeLength(tx.outputs.length)
  for (const i of tx.inputs) n += i.prevout.txid.length + 8 + compactSizeLength(i.scriptSig.length) + i.scriptSig.length
  for (const o of tx.outputs) n += 8 + compactSizeLength(o.scriptPubKey.length) + o.scriptPubKey.length
  return n
}

/**
 * BIP 141 weight: 3 * stripped size + total size, counted from the parts (the same figures as the
 * lengths of both serializations, which it used to write and drop: two transaction-sized arrays).
 */
export const weight = (tx: Transaction): number => {
  const base = strippedSize(tx)
  let total = base
  if (hasWitness(tx)) {
    // BIP 144: the marker and flag bytes, then every input's witness stack.
    total += 2
    for (const i of tx.inputs) total += witnessSize(i.witness)
  }
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

/** The reason text of a codec failure, for `TxDecodeError`. */
const reasonOf = (e: DecodeError): string =>
  e._tag === "InvalidFieldValue" ? e.reason : e._tag === "UnexpectedEof" ? "unexpected end of data" : e._tag

const invalid = (at: number, reason: string): never => fail(new InvalidFieldValue({ at, field: "transaction", reason }))

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
  const r = new Reader(bytes, offset)
  const decoded = attempt(() => {
    const version = r.u32le()
    let segwit = false
    if (r.remaining >= 2 && bytes[r.offset] === 0 && bytes[r.offset + 1] !== 0) {
      if (bytes[r.offset + 1] !== 1) invalid(r.offset, "unknown segwit flag")
      segwit = true
      r.skip(2)
    }
    const nIn = r.compactSize(Math.floor(r.remaining / 41))
    const inputs: Array<{ prevout: OutPoint; scriptSig: Uint8Array; sequence: number; witness: Array<Uint8Array> }> = []
    for (let k = 0; k < nIn; k++) {
      const id = txidFromBytes(r.bytes(32))
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
      if (nIn === 0) invalid(r.offset, "witness flag on a transaction without inputs")
      let some = false
      for (const input of inputs) {
        const n = r.compactSize(r.remaining)
        for (let k = 0; k < n; k++) input.witness.push(r.bytes(r.compactSize(r.remaining)))
        if (n > 0) some = true
      }
      if (!some) invalid(r.offset, "superfluous witness record")
    }
    const locktime = r.u32le()
    return { tx: { version, inputs, outputs, locktime }, end: r.offset }
  })
  return Result.mapError(decoded, (e) => new TxDecodeError({ offset: "at" in e ? e.at : offset, reason: reasonOf(e) }))
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
