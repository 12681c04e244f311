/**
 * BOLT 3 "Fees" and "Trimmed Outputs": the base commitment fee from the expected weight, the
 * HTLC transaction fees, which HTLCs are trimmed, and the Bitcoin Core dust thresholds of
 * "Dust Limits" (used by option_simple_close). Feerates are `feerate_per_kw` (sat per 1000 weight).
 */
import type { ChannelType } from "../channel-type.ts"
import { msatToSat, sat, type Msat, type Sat } from "../units.ts"
import { isOpReturn, isP2wpkh, isP2wsh, isSegwitV1Plus } from "./bitcoin/script.ts"
import { compactSizeLength } from "../codec/writer.ts"
import { expectedCommitmentWeight } from "./weights.ts"

/** fee = feerate_per_kw * weight / 1000, rounded down. */
export const feeForWeight = (feeratePerKw: number, weight: number): Sat => {
  const product = feeratePerKw * weight
  // Integers whose product is an exact double (every real feerate and weight): divided exactly
  // without BigInt arithmetic (each operation allocates). Anything else as before.
  if (Number.isInteger(feeratePerKw) && Number.isInteger(weight) && product >= 0 && Number.isSafeInteger(product)) return sat(BigInt((product - (product % 1000)) / 1000))
  return sat((BigInt(feeratePerKw) * BigInt(weight)) / 1000n)
}

/**
 * Fee of a party's contribution to a collaborative (interactively built) transaction: rounded
 * UP, as BOLT 3 Appendix G computes it (609 weight at 253 sat/kw pays 155 sat, not 154).
 */
export const contributionFee = (feeratePerKw: number, weight: number): Sat =>
  sat((BigInt(feeratePerKw) * BigInt(weight) + 999n) / 1000n)

/** BOLT 3 "Fee Calculation": the commitment's expected weight (one formula, in weights.ts). */
export const commitmentWeight = expectedCommitmentWeight

/** The base commitment fee the funder pays (excluding anchors and trimmed amounts). */
export const commitmentFee = (type: ChannelType, feeratePerKw: number, untrimmedHtlcs: number): Sat =>
  feeForWeight(feeratePerKw, commitmentWeight(type, untrimmedHtlcs))

export const htlcTimeoutFee = (type: ChannelType, feeratePerKw: number): Sat =>
  type.zeroFeeHtlcTx ? sat(0n) : feeForWeight(feeratePerKw, type.htlcTimeoutWeight)

export const htlcSuccessFee = (type: ChannelType, feeratePerKw: number): Sat =>
  type.zeroFeeHtlcTx ? sat(0n) : feeForWeight(feeratePerKw, type.htlcSuccessWeight)

/** "offered" / "received" from the point of view of the commitment owner. */
export type HtlcDirection = "offered" | "received"

/**
 * An HTLC is trimmed from a commitment when its amount (rounded down to sat) minus the fee of
 * its second-stage transaction is below the owner's dust limit.
 */
export const isHtlcTrimmed = (
  type: ChannelType,
  feeratePerKw: number,
  dustLimit: Sat,
  direction: HtlcDirection,
  amount: Msat
): boolean => {
  const fee = direction === "offered" ? htlcTimeoutFee(type, feeratePerKw) : htlcSuccessFee(type, feeratePerKw)
  return msatToSat(amount) - fee < dustLimit
}

/**
 * Bitcoin Core's dust threshold at 3000 sat/kB (BOLT 3 "Dust Limits"): 3 * (output size + the
 * size of the input spending it, 67 bytes for a witness program and 148 otherwise). Gives the
 * spec's figures: P2PKH 546, P2SH 540, P2WPKH 294, P2WSH 330, P2A 240, 42-byte segwit 354;
 * `OP_RETURN` outputs are never dust.
 */
export const dustThreshold = (scriptPubKey: Uint8Array): Sat => {
  if (isOpReturn(scriptPubKey)) return sat(0n)
  const outputSize = 8 + compactSizeLength(scriptPubKey.length) + scriptPubKey.length
  const witnessProgram = isP2wpkh(scriptPubKey) || isP2wsh(scriptPubKey) || isSegwitV1Plus(scriptPubKey)
  return sat(BigInt(3 * (outputSize + (witnessProgram ? 67 : 148))))
}

/** Whether `amount` is dust for `scriptPubKey` (OP_RETURN outputs never are). */
export const isDust = (amount: Sat, scriptPubKey: Uint8Array): boolean => amount < dustThreshold(scriptPubKey)
