/**
 * Signature hashes: BIP 143 (segwit v0) for every sighash type, and the legacy algorithm
 * (SIGHASH_ALL only) needed to reproduce the P2PKH funding input of BOLT 3 Appendix B.
 */
import type { Sat } from "../../units.ts"
import { hash256 } from "./hash.ts"
import { serializeTransaction, type Transaction, writeOutput } from "./transaction.ts"
import { Writer } from "../../codec/writer.ts"

export const SIGHASH_ALL = 0x01
export const SIGHASH_NONE = 0x02
export const SIGHASH_SINGLE = 0x03
export const SIGHASH_ANYONECANPAY = 0x80
/** What BOLT 3 / BOLT 5 require of the peer's signature on an anchors HTLC transaction. */
export const SIGHASH_SINGLE_ANYONECANPAY = SIGHASH_SINGLE | SIGHASH_ANYONECANPAY

export type SighashType = number

const ZERO32: Uint8Array = new Uint8Array(32)

/**
 * BIP 143 digest for input `index` spending an output of `amount` with `scriptCode`
 * (the witness script for P2WSH, the P2PKH template for P2WPKH).
 * Throws RangeError if `index` is out of range: a programming error, not bad input.
 */
export const segwitV0Sighash = (
  tx: Transaction,
  index: number,
  scriptCode: Uint8Array,
  amount: Sat,
  sighashType: SighashType
): Uint8Array => {
  const input = tx.inputs[index]
  if (input === undefined) throw new RangeError(`input ${index} out of range`)
  const base = sighashType & 0x1f
  const anyoneCanPay = (sighashType & SIGHASH_ANYONECANPAY) !== 0

  // Each preimage is written into a reused buffer and hashed there (`Writer.scratch`): no copy.
  let hashPrevouts = ZERO32
  if (!anyoneCanPay) {
    hashPrevouts = Writer.scratch((w) => {
      for (const i of tx.inputs) w.bytes(i.prevout.txid).u32le(i.prevout.vout)
    }, hash256)
  }
  let hashSequence = ZERO32
  if (!anyoneCanPay && base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    hashSequence = Writer.scratch((w) => {
      for (const i of tx.inputs) w.u32le(i.sequence)
    }, hash256)
  }
  let hashOutputs = ZERO32
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    hashOutputs = Writer.scratch((w) => {
      for (const o of tx.outputs) writeOutput(w, o)
    }, hash256)
  } else if (base === SIGHASH_SINGLE) {
    const o = tx.outputs[index]
    if (o !== undefined) hashOutputs = Writer.scratch((w) => writeOutput(w, o), hash256)
  }

  return Writer.scratch((w) => {
    w.u32le(tx.version)
    w.bytes(hashPrevouts).bytes(hashSequence)
    w.bytes(input.prevout.txid).u32le(input.prevout.vout)
    w.varBytes(scriptCode)
    w.u64le(amount)
    w.u32le(input.sequence)
    w.bytes(hashOutputs)
    w.u32le(tx.locktime)
    w.u32le(sighashType)
  }, hash256)
}

/**
 * Legacy (pre-segwit) SIGHASH_ALL digest: every scriptSig emptied except the signed input's,
 * which carries `scriptCode`. Only SIGHASH_ALL is supported (all this library signs legacy).
 */
export const legacySighashAll = (tx: Transaction, index: number, scriptCode: Uint8Array): Uint8Array => {
  if (tx.inputs[index] === undefined) throw new RangeError(`input ${index} out of range`)
  const stripped: Transaction = {
    ...tx,
    inputs: tx.inputs.map((input, i) => ({ ...input, scriptSig: i === index ? scriptCode : new Uint8Array(0), witness: [] }))
  }
  const body = serializeTransaction(stripped, { witness: false })
  const w = new Writer(body.length + 4)
  w.bytes(body).u32le(SIGHASH_ALL)
  return hash256(w.finish())
}
