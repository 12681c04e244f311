/**
 * BOLT 7 "Recommendations for Routing": a node forwarding `amount_to_forward` on a channel
 * charges `fee_base_msat + floor(amount_to_forward * fee_proportional_millionths / 1000000)`,
 * computed on the amount it forwards (not on what it receives).
 */

/**
 * The fee in msat, exact for every amount below 2^53 msat: the product is split so that no
 * intermediate value loses precision (`amount * ppm` alone can exceed 2^53).
 */
export const forwardingFee = (feeBaseMsat: number, feePpm: number, amountToForward: number): number => {
  const high = Math.floor(amountToForward / 1_000_000)
  const low = amountToForward - high * 1_000_000
  return feeBaseMsat + high * feePpm + Math.floor((low * feePpm) / 1_000_000)
}

/** The same formula on bigints (the reference the number version is checked against). */
export const forwardingFeeBig = (feeBaseMsat: bigint, feePpm: bigint, amountToForward: bigint): bigint =>
  feeBaseMsat + (amountToForward * feePpm) / 1_000_000n
