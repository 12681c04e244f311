/**
 * Our forwarding policy and its checks (BOLT 4 "Requirements" of a forwarding node, BOLT 7
 * `channel_update` fields), as a pure function from the incoming HTLC, what the onion asks for,
 * the outgoing channel and the height to the BOLT 4 failure to return, if any.
 */
import type { FailureMessage } from "../onion/failure.ts"
import type { Msat } from "../units.ts"
import { forwardingFeeBig } from "../routing/fees.ts"

/** What we charge and require for forwarding over one of our channels (announced in `channel_update`). */
export interface ForwardingPolicy {
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
}

export const defaultForwardingPolicy: ForwardingPolicy = {
  feeBaseMsat: 1000,
  feeProportionalMillionths: 100,
  cltvExpiryDelta: 40,
  htlcMinimumMsat: 1n,
  htlcMaximumMsat: 1n << 62n
}

/** BOLT 4: an outgoing expiry closer to the tip than this is `expiry_too_soon`. */
export const MIN_OUTGOING_CLTV_BLOCKS = 3
/** BOLT 4: an expiry this far ahead is `expiry_too_far` (about two weeks). */
export const MAX_CLTV_BLOCKS_AHEAD = 2016

/** The outgoing channel as the forwarding checks see it. */
export type OutgoingChannel =
  | { readonly _tag: "Unknown" }
  /** Closing, closed or not yet ready: `permanent_channel_failure` / `channel_disabled`. */
  | { readonly _tag: "Disabled" }
  /** Its peer is not connected: `temporary_channel_failure`. */
  | { readonly _tag: "Offline" }
  | { readonly _tag: "Usable"; readonly policy: ForwardingPolicy }

export interface ForwardRequest {
  readonly incomingAmountMsat: Msat
  readonly incomingCltvExpiry: number
  readonly amtToForward: Msat
  readonly outgoingCltvValue: number
}

/**
 * The failure for a forward we refuse, or undefined to go ahead. `channelUpdate` is the
 * outgoing channel's `channel_update` to attach to UPDATE failures (empty until we have one).
 */
export const checkForward = (
  out: OutgoingChannel,
  req: ForwardRequest,
  height: number,
  channelUpdate: Uint8Array = new Uint8Array(0)
): FailureMessage | undefined => {
  switch (out._tag) {
    case "Unknown":
      return { _tag: "unknown_next_peer" }
    case "Disabled":
      return { _tag: "channel_disabled", disabledFlags: 0, channelUpdate }
    case "Offline":
      return { _tag: "temporary_channel_failure", channelUpdate }
    case "Usable":
      break
  }
  const p = out.policy
  if (req.amtToForward < p.htlcMinimumMsat) return { _tag: "amount_below_minimum", htlcMsat: req.incomingAmountMsat, channelUpdate }
  if (req.amtToForward > p.htlcMaximumMsat) return { _tag: "temporary_channel_failure", channelUpdate }
  const fee = forwardingFeeBig(BigInt(p.feeBaseMsat), BigInt(p.feeProportionalMillionths), req.amtToForward)
  if (req.incomingAmountMsat < req.amtToForward + fee) return { _tag: "fee_insufficient", htlcMsat: req.incomingAmountMsat, channelUpdate }
  if (req.incomingCltvExpiry < req.outgoingCltvValue + p.cltvExpiryDelta) {
    return { _tag: "incorrect_cltv_expiry", cltvExpiry: req.incomingCltvExpiry, channelUpdate }
  }
  if (req.outgoingCltvValue <= height + MIN_OUTGOING_CLTV_BLOCKS) return { _tag: "expiry_too_soon", channelUpdate }
  if (req.outgoingCltvValue > height + MAX_CLTV_BLOCKS_AHEAD) return { _tag: "expiry_too_far" }
  return undefined
}
