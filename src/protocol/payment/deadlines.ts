/**
 * HTLC deadlines against the chain height (BOLT 2 "`cltv_expiry_delta` Selection", its
 * Requirements, and BOLT 5's on-chain resolution that follows), the off-chain decision only:
 *
 * - Offered HTLCs (ours or forwarded): "if an HTLC which it offered is in either node's current
 *   commitment transaction, AND is past this timeout deadline [G blocks after its `cltv_expiry`]:
 *   SHOULD send an `error` to the receiving peer (if connected), MUST fail the channel." The HTLC
 *   is then timed out on chain (the monitor's BOLT 5 part), and only when that is irrevocable is
 *   the incoming HTLC of a forward failed back: failing it back earlier could lose the amount if
 *   the downstream node claims the outgoing HTLC on chain with the preimage.
 * - Received HTLCs we fulfilled (we know the preimage): "if an HTLC it has fulfilled is in either
 *   node's current commitment transaction, AND is past this fulfillment deadline [`2R+G+S` blocks
 *   before its `cltv_expiry`]: SHOULD send an `error` to the offering peer, MUST fail the
 *   channel", so the HTLC-success transaction confirms before the offerer can time it out.
 * - HTLCs held by us without an outgoing HTLC (an intercepted HTLC the application has not
 *   answered): failed back before the incoming `cltv_expiry` comes within the fulfillment
 *   deadline, so the upstream peer never has to close the channel on us.
 *
 * Pure: the actor (src/actors/Payments.ts) runs it at every new height and acts on the answer.
 */
import type { ChannelState } from "../channel/state.ts"

/** BOLT 2's suggestions: G = 2 blocks of grace after an offered HTLC's expiry, `2R+G+S` = 18 blocks before a fulfilled one's. */
export interface DeadlineConfig {
  /** `G`: blocks after an offered HTLC's `cltv_expiry` before the channel is failed. */
  readonly offeredGraceBlocks: number
  /** `2R+G+S`: a fulfilled received HTLC must be claimed on chain this many blocks before its `cltv_expiry`. */
  readonly fulfillSafetyBlocks: number
}

export const defaultDeadlineConfig: DeadlineConfig = { offeredGraceBlocks: 2, fulfillSafetyBlocks: 18 }

/** Why a channel must be failed now, naming the HTLC. */
export interface DeadlineBreach {
  readonly direction: "offered" | "received"
  readonly htlcId: bigint
  readonly cltvExpiry: number
  readonly reason: string
}

/** An HTLC of a channel from our side: `offered` by us, or `received` from the peer. */
export interface ChannelHtlc {
  readonly direction: "offered" | "received"
  readonly id: bigint
  readonly paymentHash: Uint8Array
  readonly cltvExpiry: number
}

/** The HTLCs in either current commitment (BOLT 2 "in either node's current commitment transaction"), from our side. */
export const currentHtlcs = (state: ChannelState): ReadonlyArray<ChannelHtlc> => {
  if (state._tag !== "Normal" && state._tag !== "Negotiating") return []
  const c = state.commitments
  const out = new Map<string, ChannelHtlc>()
  for (const h of c.localCommit.spec.htlcs) out.set(`${h.direction}/${h.id}`, { direction: h.direction, id: h.id, paymentHash: h.paymentHash, cltvExpiry: h.cltvExpiry })
  // The remote commitment names directions from the peer's side: flip them.
  for (const h of c.remoteCommit.spec.htlcs) {
    const direction = h.direction === "offered" ? "received" : "offered"
    out.set(`${direction}/${h.id}`, { direction, id: h.id, paymentHash: h.paymentHash, cltvExpiry: h.cltvExpiry })
  }
  return [...out.values()]
}

/**
 * The first HTLC past its BOLT 2 deadline at `height`, if any: an offered one
 * `offeredGraceBlocks` past its expiry, or a received one whose preimage we have
 * (`preimageKnown`) within `fulfillSafetyBlocks` of its expiry. The channel must then be failed
 * (force-closed) and the HTLC resolved on chain.
 */
export const firstBreach = (
  htlcs: ReadonlyArray<ChannelHtlc>,
  height: number,
  preimageKnown: (paymentHash: Uint8Array) => boolean,
  config: DeadlineConfig = defaultDeadlineConfig
): DeadlineBreach | undefined => {
  for (const h of htlcs) {
    if (h.direction === "offered" && height >= h.cltvExpiry + config.offeredGraceBlocks) {
      return {
        direction: "offered",
        htlcId: h.id,
        cltvExpiry: h.cltvExpiry,
        reason: `offered HTLC ${h.id} expired at ${h.cltvExpiry}, height ${height}: past its timeout deadline (BOLT 2)`
      }
    }
    if (h.direction === "received" && height >= h.cltvExpiry - config.fulfillSafetyBlocks && preimageKnown(h.paymentHash)) {
      return {
        direction: "received",
        htlcId: h.id,
        cltvExpiry: h.cltvExpiry,
        reason: `fulfilled HTLC ${h.id} expires at ${h.cltvExpiry}, height ${height}: past its fulfillment deadline (BOLT 2)`
      }
    }
  }
  return undefined
}

/** `firstBreach` over a channel's current commitments. */
export const deadlineBreach = (
  state: ChannelState,
  height: number,
  preimageKnown: (paymentHash: Uint8Array) => boolean,
  config: DeadlineConfig = defaultDeadlineConfig
): DeadlineBreach | undefined => firstBreach(currentHtlcs(state), height, preimageKnown, config)

/**
 * Whether an incoming HTLC we hold without an outgoing one (e.g. intercepted) must be failed
 * back now: its `cltv_expiry` is within `fulfillSafetyBlocks` of `height` (past that point we
 * could not even claim it on chain in time).
 */
export const holdExpired = (incomingCltvExpiry: number, height: number, config: DeadlineConfig = defaultDeadlineConfig): boolean =>
  height >= incomingCltvExpiry - config.fulfillSafetyBlocks
