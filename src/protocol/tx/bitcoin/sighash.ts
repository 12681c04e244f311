/**
 * Signature hashes: BIP 143 (segwit v0) for every sighash type, and the legacy algorithm
 * (SIGHASH_ALL only) needed to reproduce the P2PKH funding input of BOLT 3 Appendix B.
 */
import type { Sat } from "../../units.ts"
import { hash256, hash256Into } from "./hash.ts"
import { serializeTransaction, type Transaction } from "./transaction.ts"
import { Writer } from "../../codec/writer.ts"

export const SIGHASH_ALL = 0x01
export const SIGHASH_NONE = 0x02
export const SIGHASH_SINGLE = 0x03
export const SIGHASH_ANYONECANPAY = 0x80
/** What BOLT 3 / BOLT 5 require of the peer's signature on an anchors HTLC transaction. */
export const SIGHASH_SINGLE_ANYONECANPAY = SIGHASH_SINGLE | SIGHASH_ANYONECANPAY

export type SighashType = number

/**
 * Where `segwitV0Sighash` writes: the inner preimages (prevouts, sequences, outputs) and the final
 * one, each into a buffer of its own, reused by every call (filled and hashed synchronously; grown
 * as needed): a `Uint8Array` of more than 64 bytes costs about ten times a small one in V8.
 */
let inner = new Uint8Array(1024)
let outer = new Uint8Array(512)

/**
 * A part of the preimage remembered with its hash256: its bytes (`length` of them, copied into a
 * buffer of its own, reused from one part to the next) compared on each use, so a hit allocates
 * nothing and a miss no copy (the simulation's channels interleave: many misses).
 */
interface Held {
  bytes: Uint8Array
  length: number
  readonly hash: Uint8Array
}
/** Nothing held yet (`length` -1 matches no part). */
const heldNothing = (): Held => ({ bytes: new Uint8Array(64), length: -1, hash: new Uint8Array(32) })
/** The last hashPrevouts: the signatures of a channel's commitments all spend its funding outpoint. */
const heldPrevouts = heldNothing()
/**
 * The last hashSequence: an HTLC transaction's one input always has the channel type's sequence,
 * and a commitment's the upper 24 bits of its obscured number, the same for millions of commitments.
 */
const heldSequences = heldNothing()

/**
 * hash256 of `b[0..n)`: the held hash when those are the held bytes, else hashed into the held
 * hash's array (no array per miss: callers copy the result at once) and held (the bytes copied,
 * the buffer grown if needed).
 */
const heldHash256 = (held: Held, b: Uint8Array, n: number): Uint8Array => {
  if (held.length === n) {
    const bytes = held.bytes
    let i = 0
    while (i < n && bytes[i] === b[i]) i++
    if (i === n) return held.hash
  }
  const part = b.subarray(0, n)
  hash256Into(part, held.hash, 0)
  if (held.bytes.length < n) held.bytes = new Uint8Array(Math.max(n, 2 * held.bytes.length))
  held.bytes.set(part)
  held.length = n
  return held.hash
}

/** Bitcoin's little-endian u32, as `Writer.u32le` writes it (`v >>> 0`). */
const putU32 = (b: Uint8Array, at: number, v: number): number => {
  const x = v >>> 0
  b[at] = x & 0xff
  b[at + 1] = (x >>> 8) & 0xff
  b[at + 2] = (x >>> 16) & 0xff
  b[at + 3] = x >>> 24
  return at + 4
}
/** Bitcoin's little-endian u64, as `Writer.u64le` writes it (modulo 2^64). */
const putU64 = (b: Uint8Array, at: number, v: bigint): number => {
  if (v >= 0n && v <= 0x1fffffffffffffn) {
    // An exact double (every amount): split without BigInt arithmetic (each BigInt operation allocates).
    const n = Number(v)
    return putU32(b, putU32(b, at, n >>> 0), Math.floor(n / 0x100000000))
  }
  const x = BigInt.asUintN(64, v)
  putU32(b, at, Number(x & 0xffffffffn))
  return putU32(b, at + 4, Number(x >> 32n))
}
/** CompactSize length then the bytes, as `Writer.varBytes` writes them. */
const putVarBytes = (b: Uint8Array, at: number, bytes: Uint8Array): number => {
  const n = bytes.length
  let i = at
  if (n < 0xfd) b[i++] = n
  else if (n <= 0xffff) {
    b[i++] = 0xfd
    b[i++] = n & 0xff
    b[i++] = n >>> 8
  } else {
    b[i++] = 0xfe
    i = putU32(b, i, n)
  }
  b.set(bytes, i)
  return i + n
}
/** Size of `putVarBytes(bytes)`. */
const varBytesSize = (bytes: Uint8Array): number => bytes.length + (bytes.length < 0xfd ? 1 : bytes.length <= 0xffff ? 3 : 5)
/** `inner`, grown to at least `n` bytes. */
const innerOf = (n: number): Uint8Array => {
  if (inner.length < n) inner = new Uint8Array(Math.max(n, 2 * inner.length))
  return inner
}

/**
 * BIP 143 digest for input `index` spending an output of `amount` with `scriptCode`
 * (the witness script for P2WSH, the P2PKH template for P2WPKH).
 * Throws RangeError if `index` is out of range: a programming error, not bad input.
 *
 * The preimages are written byte by byte into reused buffers (`inner`, `outer`) and the
 * intermediate hashes straight into the final preimage: the same bytes as the plain form on `Writer`
 * (property-tested equal, test/protocol/tx/bitcoin/sighash-reference.ts), without a writer, closure or copy per part
 * (this runs for every commitment and HTLC transaction signed or verified). Indexed loops, not
 * `for...of`: in code V8 has compiled only with Maglev (what runs a few times per round trip) each
 * step of an array iterator allocates its result (~10 ns more per element in a loop).
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
  const inputs = tx.inputs
  const outputs = tx.outputs
  const txid = input.prevout.txid
  // version 4, hashPrevouts 32, hashSequence 32, outpoint (txid, 4), scriptCode, amount 8, sequence 4, hashOutputs 32, locktime 4, type 4.
  const size = 124 + txid.length + varBytesSize(scriptCode)
  if (outer.length < size) outer = new Uint8Array(Math.max(size, 2 * outer.length))
  const out = outer
  putU32(out, 0, tx.version)
  if (anyoneCanPay) out.fill(0, 4, 36)
  else {
    let n = 0
    for (let k = 0; k < inputs.length; k++) n += (inputs[k]?.prevout.txid.length ?? 0) + 4
    const b = innerOf(n)
    let at = 0
    for (let k = 0; k < inputs.length; k++) {
      const i = inputs[k]
      if (i === undefined) continue
      b.set(i.prevout.txid, at)
      at = putU32(b, at + i.prevout.txid.length, i.prevout.vout)
    }
    // Every commitment of a channel spends the same funding outpoint: its hash is kept.
    out.set(heldHash256(heldPrevouts, b, at), 4)
  }
  if (anyoneCanPay || base === SIGHASH_SINGLE || base === SIGHASH_NONE) out.fill(0, 36, 68)
  else {
    const b = innerOf(4 * inputs.length)
    let at = 0
    for (let k = 0; k < inputs.length; k++) at = putU32(b, at, inputs[k]?.sequence ?? 0)
    out.set(heldHash256(heldSequences, b, at), 36)
  }
  out.set(txid, 68)
  let at = putU32(out, 68 + txid.length, input.prevout.vout)
  at = putVarBytes(out, at, scriptCode)
  at = putU64(out, at, amount)
  at = putU32(out, at, input.sequence)
  const single = base === SIGHASH_SINGLE ? outputs[index] : undefined
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    let n = 0
    for (let k = 0; k < outputs.length; k++) {
      const o = outputs[k]
      if (o !== undefined) n += 8 + varBytesSize(o.scriptPubKey)
    }
    const b = innerOf(n)
    let w = 0
    for (let k = 0; k < outputs.length; k++) {
      const o = outputs[k]
      if (o !== undefined) w = putVarBytes(b, putU64(b, w, o.value), o.scriptPubKey)
    }
    hash256Into(b.subarray(0, w), out, at)
  } else if (single !== undefined) {
    const b = innerOf(8 + varBytesSize(single.scriptPubKey))
    const w = putVarBytes(b, putU64(b, 0, single.value), single.scriptPubKey)
    hash256Into(b.subarray(0, w), out, at)
  } else out.fill(0, at, at + 32)
  at = putU32(out, at + 32, tx.locktime)
  at = putU32(out, at, sighashType)
  return hash256(out.subarray(0, at))
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
