/**
 * Mutual-close transactions (BOLT 3 "Legacy Closing Transaction" for `closing_signed`, and
 * "Closing Transaction" for `option_simple_close`'s `closing_complete`/`closing_sig`), plus the
 * BOLT 2 `shutdown` scriptpubkey forms. Outputs are in BIP 69 order; amounts round down to sat.
 */
import { Data, Result } from "effect"
import { msatToSat, sat, type Msat, type Sat } from "../units.ts"
import { isOpReturn, isP2pkh, isP2sh, isP2wpkh, isP2wsh, isSegwitV1Plus, OP } from "./bitcoin/script.ts"
import { makeInput, type OutPoint, type Transaction, type TxOutput } from "./bitcoin/transaction.ts"
import { sortOutputs } from "./bip69.ts"
import { isDust } from "./fees.ts"

/** Which rule a closing transaction broke: callers tell them apart by `rule` (`reason` is for people). */
export type ClosingRule = "NegativeAmount" | "BalancesExceedFunding" | "LocktimeOutOfRange" | "FeeExceedsBalance" | "NoOutputLeft"

export class ClosingError extends Data.TaggedError("ClosingError")<{ readonly rule: ClosingRule; readonly reason: string }> {}

export interface ClosingOutput {
  readonly value: Sat
  readonly scriptPubKey: Uint8Array
  /** Legacy close: "local"/"remote" (the signer's view); option_simple_close: "closer"/"closee". */
  readonly owner: "local" | "remote" | "closer" | "closee"
}

export interface ClosingTransaction {
  readonly tx: Transaction
  /** Outputs in transaction order, with whose each one is. */
  readonly outputs: ReadonlyArray<ClosingOutput>
  /** funding amount minus the outputs. */
  readonly fee: Sat
}

const build = (fundingOutpoint: OutPoint, fundingAmount: Sat, sequence: number, locktime: number, outs: ReadonlyArray<ClosingOutput>): ClosingTransaction => {
  const outputs = sortOutputs(outs)
  const tx: Transaction = {
    version: 2,
    inputs: [makeInput(fundingOutpoint, sequence)],
    outputs: outputs.map((o): TxOutput => ({ value: o.value, scriptPubKey: o.scriptPubKey })),
    locktime
  }
  const total = outputs.reduce((a, o) => a + o.value, 0n)
  return { tx, outputs, fee: sat(fundingAmount - total) }
}

export interface LegacyClosingParams {
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  readonly localScript: Uint8Array
  readonly remoteScript: Uint8Array
  readonly toLocal: Msat
  readonly toRemote: Msat
  readonly localIsFunder: boolean
  /** `fee_satoshis` of `closing_signed`, paid by the funder. */
  readonly fee: Sat
  /** The signer's own `dust_limit_satoshis`: outputs below it are removed. */
  readonly dustLimit: Sat
  /** The signer MAY eliminate its own output. */
  readonly omitLocalOutput?: boolean
}

/** `closing_signed` transaction: nSequence 0xFFFFFFFF, nLockTime 0, fee from the funder's output. */
export const buildLegacyClosingTransaction = (p: LegacyClosingParams): Result.Result<ClosingTransaction, ClosingError> => {
  if (p.toLocal < 0n || p.toRemote < 0n || p.fee < 0n) return Result.fail(new ClosingError({ rule: "NegativeAmount", reason: "negative amount" }))
  if (p.toLocal + p.toRemote > p.fundingAmount * 1000n) return Result.fail(new ClosingError({ rule: "BalancesExceedFunding", reason: "balances exceed the funding amount" }))
  const funder = p.localIsFunder ? msatToSat(p.toLocal) : msatToSat(p.toRemote)
  if (p.fee > funder) return Result.fail(new ClosingError({ rule: "FeeExceedsBalance", reason: "fee exceeds the funder's balance" }))
  let local: bigint = msatToSat(p.toLocal)
  let remote: bigint = msatToSat(p.toRemote)
  if (p.localIsFunder) local -= p.fee
  else remote -= p.fee
  const outs: Array<ClosingOutput> = []
  if (!(p.omitLocalOutput ?? false) && local >= p.dustLimit && local > 0n) outs.push({ value: sat(local), scriptPubKey: p.localScript, owner: "local" })
  if (remote >= p.dustLimit && remote > 0n) outs.push({ value: sat(remote), scriptPubKey: p.remoteScript, owner: "remote" })
  if (outs.length === 0) return Result.fail(new ClosingError({ rule: "NoOutputLeft", reason: "no output left" }))
  return Result.succeed(build(p.fundingOutpoint, p.fundingAmount, 0xffffffff, 0, outs))
}

/** Which outputs a `closing_complete` signature covers (its TLV field). */
export type SimpleCloseVariant = "closer_output_only" | "closee_output_only" | "closer_and_closee_outputs"

export interface SimpleClosingParams {
  readonly fundingOutpoint: OutPoint
  readonly fundingAmount: Sat
  readonly closerScript: Uint8Array
  readonly closeeScript: Uint8Array
  /** Final balances (msat) of the closer (sender of `closing_complete`) and the closee. */
  readonly closerBalance: Msat
  readonly closeeBalance: Msat
  /** `fee_satoshis`, paid by the closer. */
  readonly fee: Sat
  readonly locktime: number
  readonly variant: SimpleCloseVariant
}

/**
 * `option_simple_close` transaction: nSequence 0xFFFFFFFD, nLockTime from `closing_complete`;
 * the closer pays the fee; an `OP_RETURN` output carries 0 sat.
 */
export const buildSimpleClosingTransaction = (p: SimpleClosingParams): Result.Result<ClosingTransaction, ClosingError> => {
  if (p.closerBalance < 0n || p.closeeBalance < 0n || p.fee < 0n) return Result.fail(new ClosingError({ rule: "NegativeAmount", reason: "negative amount" }))
  if (p.closerBalance + p.closeeBalance > p.fundingAmount * 1000n) return Result.fail(new ClosingError({ rule: "BalancesExceedFunding", reason: "balances exceed the funding amount" }))
  if (!Number.isInteger(p.locktime) || p.locktime < 0 || p.locktime > 0xffffffff) return Result.fail(new ClosingError({ rule: "LocktimeOutOfRange", reason: "locktime out of range" }))
  const closerFunds = msatToSat(p.closerBalance)
  if (p.fee > closerFunds) return Result.fail(new ClosingError({ rule: "FeeExceedsBalance", reason: "fee exceeds the closer's balance" }))
  const closerAmount = isOpReturn(p.closerScript) ? sat(0n) : sat(closerFunds - p.fee)
  const closeeAmount = isOpReturn(p.closeeScript) ? sat(0n) : msatToSat(p.closeeBalance)
  const outs: Array<ClosingOutput> = []
  if (p.variant !== "closee_output_only") outs.push({ value: closerAmount, scriptPubKey: p.closerScript, owner: "closer" })
  if (p.variant !== "closer_output_only") outs.push({ value: closeeAmount, scriptPubKey: p.closeeScript, owner: "closee" })
  return Result.succeed(build(p.fundingOutpoint, p.fundingAmount, 0xfffffffd, p.locktime, outs))
}

/**
 * The signatures a closer sends in `closing_complete` (BOLT 2 requirements for the sender),
 * given both balances, the fee and scripts. Empty when the closer cannot close this way.
 */
export const simpleCloseVariantsToSign = (p: {
  readonly closerBalance: Msat
  readonly closeeBalance: Msat
  readonly fee: Sat
  readonly closerScript: Uint8Array
  readonly closeeScript: Uint8Array
  /** The closer considers its own output uneconomical (MAY omit it when it has the lesser balance). */
  readonly omitOwnOutputIfLesser?: boolean
}): ReadonlyArray<SimpleCloseVariant> => {
  const closerFunds = msatToSat(p.closerBalance)
  if (p.fee > closerFunds) return []
  const closerAmount = isOpReturn(p.closerScript) ? sat(0n) : sat(closerFunds - p.fee)
  const closeeAmount = isOpReturn(p.closeeScript) ? sat(0n) : msatToSat(p.closeeBalance)
  const closerDust = !isOpReturn(p.closerScript) && isDust(closerAmount, p.closerScript)
  const closeeDust = !isOpReturn(p.closeeScript) && isDust(closeeAmount, p.closeeScript)
  if (p.closerBalance < p.closeeBalance) {
    if (closerDust || ((p.omitOwnOutputIfLesser ?? false) && !isOpReturn(p.closerScript))) return closeeDust ? [] : ["closee_output_only"]
    return closeeDust ? [] : ["closer_and_closee_outputs"]
  }
  if (closerDust) return []
  return closeeDust ? ["closer_output_only"] : ["closer_output_only", "closer_and_closee_outputs"]
}

/**
 * BOLT 2 `shutdown` scriptpubkey forms: P2WPKH, P2WSH; witness v1..16 with
 * `option_shutdown_anysegwit`; a single-push OP_RETURN (6..80 bytes) with `option_simple_close`.
 * (P2PKH/P2SH are accepted by old nodes for compatibility when `allowLegacy` is set.)
 */
export const isValidShutdownScript = (
  script: Uint8Array,
  options: { readonly anySegwit: boolean; readonly simpleClose: boolean; readonly allowLegacy?: boolean }
): boolean => {
  if (isP2wpkh(script) || isP2wsh(script)) return true
  if (options.anySegwit && isSegwitV1Plus(script)) return true
  if ((options.allowLegacy ?? false) && (isP2pkh(script) || isP2sh(script))) return true
  if (options.simpleClose && script[0] === OP.OP_RETURN) {
    const n = script[1] ?? 0
    if (n >= 6 && n <= 75) return script.length === 2 + n
    if (n === OP.OP_PUSHDATA1) {
      const m = script[2] ?? 0
      return m >= 76 && m <= 80 && script.length === 3 + m
    }
  }
  return false
}
