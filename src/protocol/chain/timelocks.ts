/**
 * Transaction-level timelocks checked against a chain: absolute `nLockTime` (consensus finality,
 * with BIP 113's median time past for time locks) and relative `nSequence` locks (BIP 68), plus
 * coinbase maturity. These are the rules a mempool applies before any script runs; the script
 * opcodes `OP_CHECKLOCKTIMEVERIFY` (BIP 65) and `OP_CHECKSEQUENCEVERIFY` (BIP 112) only compare a
 * script's number with these same two fields, so a transaction whose fields pass here and whose
 * scripts ask for no more is valid; the scripts themselves are not run by this module.
 */
import type { Transaction } from "../tx/bitcoin/transaction.ts"

/** BIP 113: locktimes below this are block heights, at or above are UNIX times. */
export const LOCKTIME_THRESHOLD = 500_000_000
/** BIP 68 flags on `nSequence`. */
export const SEQUENCE_FINAL = 0xffffffff
export const SEQUENCE_LOCKTIME_DISABLE_FLAG = 0x80000000
export const SEQUENCE_LOCKTIME_TYPE_FLAG = 0x00400000
export const SEQUENCE_LOCKTIME_MASK = 0x0000ffff
/** BIP 68: time locks count units of 512 seconds. */
export const SEQUENCE_LOCKTIME_GRANULARITY = 9
/** Consensus: a coinbase output may be spent in a block at least 100 blocks above it. */
export const COINBASE_MATURITY = 100

/** The median of the last (up to) 11 block times ending at a block: BIP 113's "median time past". */
export const medianTimePast = (timesEndingAtBlock: ReadonlyArray<number>): number => {
  const last = timesEndingAtBlock.slice(-11).slice().sort((a, b) => a - b)
  return last[Math.floor(last.length / 2)] ?? 0
}

export type LocktimeFailure =
  | { readonly _tag: "NonFinal"; readonly locktime: number; readonly detail: string }
  | { readonly _tag: "NonBip68Final"; readonly input: number; readonly detail: string }
  | { readonly _tag: "ImmatureCoinbase"; readonly input: number; readonly detail: string }

/**
 * Consensus `IsFinalTx`: may `tx` be in a block at `height` whose previous block's median time past
 * is `mtp` (BIP 113)? A locktime of 0, or every input at `SEQUENCE_FINAL`, is always final.
 */
export const checkFinal = (tx: Transaction, height: number, mtp: number): LocktimeFailure | undefined => {
  if (tx.locktime === 0) return undefined
  const limit = tx.locktime < LOCKTIME_THRESHOLD ? height : mtp
  if (tx.locktime < limit) return undefined
  if (tx.inputs.every((i) => i.sequence === SEQUENCE_FINAL)) return undefined
  const unit = tx.locktime < LOCKTIME_THRESHOLD ? `height ${height}` : `median time past ${mtp}`
  return { _tag: "NonFinal", locktime: tx.locktime, detail: `nLockTime ${tx.locktime} not below ${unit}` }
}

/** Where a spent coin was confirmed: its block height and the median time past of the block BEFORE it. */
export interface CoinAge {
  readonly height: number
  readonly mtpBeforeBlock: number
  readonly coinbase: boolean
}

/**
 * BIP 68 relative locks and coinbase maturity for `tx` in a block at `height` whose previous block's
 * median time past is `mtp`. `coins[i]` is input i's coin (an unconfirmed coin counts as confirmed
 * at `height`, Bitcoin Core's mempool rule). Only `version >= 2` transactions have relative locks.
 */
export const checkSequenceLocks = (
  tx: Transaction,
  coins: ReadonlyArray<CoinAge>,
  height: number,
  mtp: number
): LocktimeFailure | undefined => {
  for (let i = 0; i < tx.inputs.length; i++) {
    const coin = coins[i]
    const input = tx.inputs[i]
    if (coin === undefined || input === undefined) continue
    if (coin.coinbase && height - coin.height < COINBASE_MATURITY) {
      return { _tag: "ImmatureCoinbase", input: i, detail: `coinbase from height ${coin.height} spent at ${height} (needs ${COINBASE_MATURITY} blocks)` }
    }
    if (tx.version < 2 || (input.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG) !== 0) continue
    const value = input.sequence & SEQUENCE_LOCKTIME_MASK
    if ((input.sequence & SEQUENCE_LOCKTIME_TYPE_FLAG) !== 0) {
      // BIP 68: the lock ends (value << 9) - 1 seconds after the MTP of the block before the coin's block.
      const minTime = coin.mtpBeforeBlock + (value << SEQUENCE_LOCKTIME_GRANULARITY) - 1
      if (minTime >= mtp) return { _tag: "NonBip68Final", input: i, detail: `relative time lock until ${minTime + 1}, median time past ${mtp}` }
    } else {
      const minHeight = coin.height + value - 1
      if (minHeight >= height) return { _tag: "NonBip68Final", input: i, detail: `relative lock of ${value} blocks on a coin at ${coin.height}, block height ${height}` }
    }
  }
  return undefined
}
