/**
 * Wallet inputs that pay the fee of a transaction the wallet did not build (issue 9, BOLT 5
 * fee bumping): an anchors channel's zero-fee HTLC transaction (BOLT 3 "HTLC-Timeout and
 * HTLC-Success Transactions": signed SIGHASH_SINGLE|ANYONECANPAY, so inputs and outputs may be
 * added) or the CPFP child of our anchor. The transaction's own inputs and outputs balance; the
 * wallet inputs pay `feeratePerKw` on the final weight plus `extraFee` (what a parent lacks),
 * and a change output takes the rest.
 *
 * Only P2WPKH coins: their BIP 143 signature commits to their own amount only, so the other
 * inputs' amounts (not known here) are not needed, as they would be for a BIP 341 key spend.
 */
import { Redacted, Result } from "effect"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { outpointKey } from "../chain/watch.ts"
import { encodeTxSignature } from "../tx/bitcoin/der.ts"
import { p2wpkhScriptCode } from "../tx/bitcoin/script.ts"
import { SIGHASH_ALL } from "../tx/bitcoin/sighash.ts"
import { makeInput, setWitness, type Transaction, weight } from "../tx/bitcoin/transaction.ts"
import { signInput } from "../tx/signing.ts"
import { sat } from "../units.ts"
import { InsufficientFunds } from "./spend.ts"
import type { Utxo } from "./state.ts"

/** Weight of one signed P2WPKH input: 41 bytes outside the witness, ~108 of witness. */
export const P2WPKH_INPUT_WEIGHT = 41 * 4 + 108
/** Weight of one P2WPKH output (8 + 1 + 22 bytes). */
export const P2WPKH_OUTPUT_WEIGHT = 31 * 4
/** The smallest change output kept (P2WPKH's dust limit with margin). */
export const MIN_CHANGE = 330n

export interface FeeFunding {
  readonly tx: Transaction
  /** The wallet coins added, in input order after the transaction's own. */
  readonly coins: ReadonlyArray<Utxo>
  readonly fee: bigint
}

/**
 * `tx` with `coins` (reused first: a replacement spends the same ones) and, if needed, more of
 * `available` (largest first) as inputs, and a change output to `changeScript`.
 */
export const addFeeInputs = (params: {
  readonly tx: Transaction
  readonly feeratePerKw: number
  readonly extraFee: bigint
  readonly reuse: ReadonlyArray<Utxo>
  readonly available: ReadonlyArray<Utxo>
  readonly changeScript: Uint8Array
}): Result.Result<FeeFunding, InsufficientFunds> => {
  const chosen: Array<Utxo> = [...params.reuse]
  const used = new Set(chosen.map((u) => outpointKey(u.outpoint)))
  const pool = params.available
    .filter((u) => u.key.path.kind === "p2wpkh" && !used.has(outpointKey(u.outpoint)))
    .sort((a, b) => (a.value === b.value ? 0 : a.value > b.value ? -1 : 1))
  const base = weight(params.tx) + P2WPKH_OUTPUT_WEIGHT
  for (;;) {
    const fee = BigInt(Math.ceil((params.feeratePerKw * (base + chosen.length * P2WPKH_INPUT_WEIGHT)) / 1000)) + params.extraFee
    const total = chosen.reduce((a, u) => a + u.value, 0n)
    if (chosen.length > 0 && total - fee >= MIN_CHANGE) {
      const tx: Transaction = {
        ...params.tx,
        inputs: [...params.tx.inputs, ...chosen.map((u) => makeInput(u.outpoint, 0xfffffffd))],
        outputs: [...params.tx.outputs, { value: sat(total - fee), scriptPubKey: params.changeScript }]
      }
      return Result.succeed({ tx, coins: chosen, fee })
    }
    const next = pool.shift()
    if (next === undefined) return Result.fail(new InsufficientFunds({ needed: sat(fee + MIN_CHANGE), available: sat(total) }))
    chosen.push(next)
  }
}

/** Signs the wallet's inputs of `tx` (found by outpoint; the caller may have changed other inputs' witnesses). */
export const signFeeInputs = (secp: Secp256k1, tx: Transaction, coins: ReadonlyArray<Utxo>): Transaction => {
  let signed = tx
  for (const coin of coins) {
    const k = outpointKey(coin.outpoint)
    const index = signed.inputs.findIndex((i) => outpointKey(i.prevout) === k)
    if (index < 0) continue
    const key = Redacted.make(coin.key.privateKey)
    const sig = signInput(secp, { tx: signed, index, scriptCode: p2wpkhScriptCode(coin.key.publicKey), amount: coin.value }, SIGHASH_ALL, key)
    signed = setWitness(signed, index, [encodeTxSignature(sig, SIGHASH_ALL), coin.key.publicKey])
  }
  return signed
}
