/**
 * BOLT 11 human-readable part: `ln` + currency prefix + optional amount with multiplier.
 * Amounts are in bitcoin with the multipliers m, u, n, p; one bitcoin is 10^11 msat, and a
 * `p` amount must end in 0 so that it is a whole number of millisatoshis.
 */
import { Result } from "effect"
import { msat, type Msat } from "../units.ts"
import { InvalidHrp } from "./errors.ts"

/** Currency prefixes (BIP 173 segwit prefixes; `tbs` is signet). Longest first for parsing. */
export const Networks = ["bcrt", "tbs", "bc", "tb"] as const
export type Network = (typeof Networks)[number]

/** msat per unit of each multiplier, times 10 so that `p` (0.1 msat) is an integer. */
const TENTH_MSAT_PER: Record<string, bigint> = {
  "": 1_000_000_000_000n, // 1 BTC = 10^11 msat
  m: 1_000_000_000n,
  u: 1_000_000n,
  n: 1_000n,
  p: 1n
}

export interface Hrp {
  readonly network: Network
  readonly amountMsat: Msat | undefined
}

const AMOUNT = /^([0-9]+)([munp]?)$/

export const parseHrp = (hrp: string): Result.Result<Hrp, InvalidHrp> => {
  if (!hrp.startsWith("ln")) {
    return Result.fail(new InvalidHrp({ reason: "prefix", message: `prefix must start with "ln": ${hrp}` }))
  }
  const rest = hrp.slice(2)
  const network = Networks.find((n) => rest.startsWith(n) && (rest.length === n.length || /[0-9]/.test(rest[n.length] ?? "")))
  if (network === undefined) {
    return Result.fail(new InvalidHrp({ reason: "currency", message: `unknown currency prefix in ${hrp}` }))
  }
  const amount = rest.slice(network.length)
  if (amount === "") return Result.succeed({ network, amountMsat: undefined })
  const m = AMOUNT.exec(amount)
  if (m === null) {
    const reason = /^[0-9]+[a-z]$/.test(amount) ? "multiplier" : "amount"
    return Result.fail(new InvalidHrp({ reason, message: `invalid amount "${amount}"` }))
  }
  const digits = m[1] ?? ""
  const multiplier = m[2] ?? ""
  // Leading zeros break the writer rule, but a reader can read them: the signature covers the
  // text as written, so nothing is lost by accepting it.
  const tenths = BigInt(digits) * (TENTH_MSAT_PER[multiplier] ?? 0n)
  if (tenths === 0n) return Result.fail(new InvalidHrp({ reason: "amount", message: "amount must be positive" }))
  if (tenths % 10n !== 0n) {
    return Result.fail(new InvalidHrp({ reason: "sub-millisatoshi", message: `"${amount}" is not a whole number of millisatoshis` }))
  }
  if (tenths / 10n > 2_100_000_000_000_000_000n) {
    return Result.fail(new InvalidHrp({ reason: "amount", message: `amount exceeds 21 million bitcoin: "${amount}"` }))
  }
  return Result.succeed({ network, amountMsat: msat(tenths / 10n) })
}

/** The shortest amount text: the largest multiplier that keeps the number whole (BOLT 11 writer rule). */
export const formatAmount = (amountMsat: Msat): string => {
  const tenths = amountMsat * 10n
  for (const multiplier of ["", "m", "u", "n", "p"]) {
    const unit = TENTH_MSAT_PER[multiplier] ?? 1n
    if (tenths % unit === 0n) return `${tenths / unit}${multiplier}`
  }
  return `${tenths}p`
}

export const formatHrp = (network: Network, amountMsat: Msat | undefined): string =>
  `ln${network}${amountMsat === undefined ? "" : formatAmount(amountMsat)}`
