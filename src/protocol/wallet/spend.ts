/**
 * Spending the wallet's outputs: coin selection, fees, change, dust, signing and PSBTs.
 *
 * Coin selection is LARGEST-FIRST: outputs sorted by value (descending, ties by outpoint), taken
 * until they pay the outputs plus the fee of a transaction with a change output. It is simple,
 * deterministic and uses few inputs (small fees now), at the price of privacy and of leaving
 * small outputs for later. The change goes to a fresh change key; when the change would be
 * below the dust limit of its script it is dropped and left to the fee.
 *
 * Fees: `fee = ceil(weight × feeratePerKw / 1000)` (BOLT 3's unit), with the weight of the signed
 * transaction estimated from the input kinds (P2WPKH: a 72-byte signature at most, so a few
 * weight units over when the signature is shorter; P2TR key path: exactly 64 bytes).
 *
 * Transactions are built and signed with `@scure/btc-signer` (and exported / imported as BIP 174
 * PSBTs with it); the result is converted to the repository's `Transaction` by decoding its bytes.
 * Inputs signal RBF (`nSequence` 0xfffffffd); `nLockTime` is the tip height (anti fee sniping).
 */
import { bip32Path, Transaction as BtcTransaction } from "@scure/btc-signer"
import { Data, Result } from "effect"
import { outpointKey } from "../chain/watch.ts"
import { isP2tr, isP2wpkh, isP2wsh } from "../tx/bitcoin/script.ts"
import { toHex } from "../bytes.ts"
import { decodeTransaction, type OutPoint, type Transaction, type TxOutput, txidFromHex, txidToHex } from "../tx/bitcoin/transaction.ts"
import { type Sat, sat } from "../units.ts"
import { pathString, type WalletKey, type WalletKeys } from "./keys.ts"
import type { Utxo } from "./state.ts"

export const RBF_SEQUENCE = 0xfffffffd

/** Version, locktime, the two counts (< 253 each) ×4, plus the segwit marker and flag (2 wu). */
const BASE_WEIGHT = (4 + 4 + 1 + 1) * 4 + 2
/** Outpoint 36 + empty scriptSig 1 + sequence 4, non-witness (×4). */
const INPUT_BASE_WEIGHT = 41 * 4
/** Witness: item count 1, signature push 1 + 72, pubkey push 1 + 33. */
const P2WPKH_WITNESS = 1 + 1 + 72 + 1 + 33
/** Witness: item count 1, signature push 1 + 64 (SIGHASH_DEFAULT). */
const P2TR_WITNESS = 1 + 1 + 64

/** The weight one of our inputs adds once signed. */
export const inputWeight = (key: WalletKey): number => INPUT_BASE_WEIGHT + (key.path.kind === "p2wpkh" ? P2WPKH_WITNESS : P2TR_WITNESS)
export const outputWeight = (scriptPubKey: Uint8Array): number => (8 + 1 + scriptPubKey.length) * 4

export const feeFor = (weight: number, feeratePerKw: number): Sat => sat(BigInt(Math.ceil((weight * feeratePerKw) / 1000)))

/**
 * Bitcoin Core's dust limit for an output (3 sat/vB of dust relay fee over the output and the
 * input that would spend it): 294 for P2WPKH, 330 for P2WSH / P2TR, 546 for the legacy kinds.
 */
export const dustLimit = (scriptPubKey: Uint8Array): Sat =>
  isP2wpkh(scriptPubKey) ? sat(294n) : (isP2wsh(scriptPubKey) || isP2tr(scriptPubKey)) ? sat(330n) : sat(546n)

export class InsufficientFunds extends Data.TaggedError("InsufficientFunds")<{ readonly needed: Sat; readonly available: Sat }> {}
export class DustOutput extends Data.TaggedError("DustOutput")<{ readonly value: Sat; readonly dustLimit: Sat }> {}
export class InvalidPsbt extends Data.TaggedError("InvalidPsbt")<{ readonly reason: string }> {}

export interface Selection {
  readonly inputs: ReadonlyArray<Utxo>
  readonly outputs: ReadonlyArray<TxOutput>
  /** Index of the change output in `outputs`, when there is one. */
  readonly changeIndex: number | undefined
  readonly fee: Sat
  readonly weight: number
}

/**
 * Largest-first selection paying `outputs` at `feeratePerKw`, change to `changeScript`.
 * Fails with `DustOutput` for a payment below its dust limit, `InsufficientFunds` when even every
 * coin cannot pay it.
 */
export const selectCoins = (params: {
  readonly available: ReadonlyArray<Utxo>
  readonly outputs: ReadonlyArray<TxOutput>
  readonly feeratePerKw: number
  readonly changeScript: Uint8Array
}): Result.Result<Selection, InsufficientFunds | DustOutput> => {
  for (const o of params.outputs) {
    const limit = dustLimit(o.scriptPubKey)
    if (o.value < limit) return Result.fail(new DustOutput({ value: o.value, dustLimit: limit }))
  }
  const sorted = [...params.available].sort((a, b) =>
    a.value === b.value ? (outpointKey(a.outpoint) < outpointKey(b.outpoint) ? -1 : 1) : a.value > b.value ? -1 : 1
  )
  const target = params.outputs.reduce((s, o) => s + o.value, 0n)
  const baseWeight = BASE_WEIGHT + params.outputs.reduce((w, o) => w + outputWeight(o.scriptPubKey), 0)
  const changeWeight = outputWeight(params.changeScript)
  const chosen: Array<Utxo> = []
  let total = 0n
  let weight = baseWeight
  for (const u of sorted) {
    chosen.push(u)
    total += u.value
    weight += inputWeight(u.key)
    const feeNoChange = feeFor(weight, params.feeratePerKw)
    if (total < target + feeNoChange) continue
    const feeWithChange = feeFor(weight + changeWeight, params.feeratePerKw)
    const change = total - target - feeWithChange
    if (change >= dustLimit(params.changeScript)) {
      return Result.succeed({
        inputs: chosen,
        outputs: [...params.outputs, { value: sat(change), scriptPubKey: params.changeScript }],
        changeIndex: params.outputs.length,
        fee: feeWithChange,
        weight: weight + changeWeight
      })
    }
    // No change: the excess (below dust) goes to the fee.
    return Result.succeed({ inputs: chosen, outputs: params.outputs, changeIndex: undefined, fee: sat(total - target), weight })
  }
  return Result.fail(new InsufficientFunds({ needed: sat(target + feeFor(weight, params.feeratePerKw)), available: sat(total) }))
}

/**
 * Every coin of `available` to one output (`scriptPubKey`), the fee at `feeratePerKw` taken from
 * it: a send of "all" (no change). Fails when nothing is left above the output's dust limit.
 */
export const selectAll = (params: {
  readonly available: ReadonlyArray<Utxo>
  readonly scriptPubKey: Uint8Array
  readonly feeratePerKw: number
}): Result.Result<Selection, InsufficientFunds | DustOutput> => {
  const total = params.available.reduce((a, u) => a + u.value, 0n)
  const weight = params.available.reduce((w, u) => w + inputWeight(u.key), BASE_WEIGHT + outputWeight(params.scriptPubKey))
  const fee = feeFor(weight, params.feeratePerKw)
  const limit = dustLimit(params.scriptPubKey)
  if (params.available.length === 0 || total - fee < 0n) return Result.fail(new InsufficientFunds({ needed: sat(fee + limit), available: sat(total) }))
  if (total - fee < limit) return Result.fail(new DustOutput({ value: sat(total - fee), dustLimit: limit }))
  return Result.succeed({
    inputs: params.available,
    outputs: [{ value: sat(total - fee), scriptPubKey: params.scriptPubKey }],
    changeIndex: undefined,
    fee,
    weight
  })
}

/** The unsigned transaction of a selection, as a btc-signer transaction with the PSBT fields a signer needs. */
export const unsignedTransaction = (keys: WalletKeys, selection: Selection, locktime: number): BtcTransaction => {
  const tx = new BtcTransaction({ version: 2, lockTime: locktime })
  for (const u of selection.inputs) {
    const origin = { fingerprint: keys.fingerprint, path: bip32Path(pathString(keys.network, u.key.path)) }
    tx.addInput({
      txid: txidToHex(u.outpoint.txid),
      index: u.outpoint.vout,
      sequence: RBF_SEQUENCE,
      witnessUtxo: { script: u.key.scriptPubKey, amount: u.value },
      ...(u.key.path.kind === "p2wpkh"
        ? { bip32Derivation: [[u.key.publicKey, origin]] }
        : { tapInternalKey: u.key.publicKey, tapBip32Derivation: [[u.key.publicKey, { hashes: [], der: origin }]] })
    })
  }
  for (const o of selection.outputs) tx.addOutput({ script: o.scriptPubKey, amount: o.value })
  return tx
}

/** Our transaction type from a finalized btc-signer transaction. */
const extract = (tx: BtcTransaction): Result.Result<Transaction, InvalidPsbt> =>
  Result.mapError(decodeTransaction(tx.extract()), (e) => new InvalidPsbt({ reason: `extracted transaction does not decode: ${e.message}` }))

/**
 * Signs every input with its wallet key and finalizes. `auxRand` (32 bytes, BIP 340) is used for
 * the Schnorr signatures of P2TR inputs; ECDSA signatures are deterministic (RFC 6979).
 */
export const signSelection = (keys: WalletKeys, selection: Selection, locktime: number, auxRand: Uint8Array): Result.Result<Transaction, InvalidPsbt> => {
  const tx = unsignedTransaction(keys, selection, locktime)
  try {
    selection.inputs.forEach((u, i) => {
      tx.signIdx(u.key.privateKey, i, undefined, auxRand)
    })
    tx.finalize()
  } catch (e) {
    return Result.fail(new InvalidPsbt({ reason: e instanceof Error ? e.message : String(e) }))
  }
  return extract(tx)
}

/** An unsigned BIP 174 PSBT (v0) of a selection, with each input's UTXO and BIP 32 key origin. */
export const exportPsbt = (keys: WalletKeys, selection: Selection, locktime: number): Uint8Array => unsignedTransaction(keys, selection, locktime).toPSBT(0)

/** What a signed PSBT spends (for the caller's checks) and the final transaction. */
export interface ImportedPsbt {
  readonly transaction: Transaction
  readonly inputs: ReadonlyArray<OutPoint>
  readonly fee: Sat
}

/** Finalizes a signed PSBT (every input signed) and extracts the transaction. */
export const finalizePsbt = (psbt: Uint8Array): Result.Result<ImportedPsbt, InvalidPsbt> => {
  let tx: BtcTransaction
  try {
    tx = BtcTransaction.fromPSBT(psbt)
    tx.finalize()
  } catch (e) {
    return Result.fail(new InvalidPsbt({ reason: e instanceof Error ? e.message : String(e) }))
  }
  const inputs: Array<OutPoint> = []
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i)
    if (input.txid === undefined || input.index === undefined) return Result.fail(new InvalidPsbt({ reason: `input ${i} has no outpoint` }))
    // btc-signer keeps input txids in display order.
    inputs.push({ txid: txidFromHex(toHex(input.txid)), vout: input.index })
  }
  return Result.map(extract(tx), (transaction) => ({ transaction, inputs, fee: sat(tx.fee) }))
}
