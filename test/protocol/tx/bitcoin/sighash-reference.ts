/** The plain BIP 143 digest, part by part on `Writer`: what `segwitV0Sighash`'s byte layout is tested against. */
import { Writer } from "../../../../src/protocol/codec/writer.ts"
import { SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE, type SighashType } from "../../../../src/protocol/tx/bitcoin/sighash.ts"
import { hash256 } from "../../../../src/protocol/tx/bitcoin/hash.ts"
import { type Transaction, writeOutput } from "../../../../src/protocol/tx/bitcoin/transaction.ts"
import type { Sat } from "../../../../src/protocol/units.ts"

const ZERO32: Uint8Array = new Uint8Array(32)

/** `segwitV0Sighash` written on `Writer` part by part: the plain form (as src had it), the reference the byte layout is tested against. */
export const segwitV0SighashWriter = (
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
