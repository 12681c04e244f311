/**
 * From a path to the BOLT 4 onion: each node's `payload` (`amt_to_forward`,
 * `outgoing_cltv_value`, `short_channel_id` for a forwarding node; the amounts, `payment_data`
 * and `payment_metadata` for the final node), in the order `buildPaymentOnion` takes them.
 */
import type { TlvRecord } from "../codec/index.ts"
import type { PaymentHop } from "../onion/index.ts"
import type { Msat } from "../units.ts"
import type { Path } from "./types.ts"

/** What the final node's payload carries besides the amount and CLTV. */
export interface FinalPayload {
  /** With `totalMsat`: the `payment_data` record (invoice payments; required for MPP). */
  readonly paymentSecret?: Uint8Array | undefined
  /** The whole payment's amount (the sum over all parts); defaults to this path's amount. */
  readonly totalMsat?: Msat | undefined
  readonly paymentMetadata?: Uint8Array | undefined
  /** Custom records (>= 65536), e.g. keysend's preimage (5482373484). */
  readonly customRecords?: ReadonlyArray<TlvRecord> | undefined
}

/** The onion hops of a path: one per node after the payer, the payee last. */
export const pathOnionHops = (path: Path, final: FinalPayload = {}): ReadonlyArray<PaymentHop> =>
  path.hops.map((hop, i) => {
    const next = path.hops[i + 1]
    if (next !== undefined) {
      return {
        publicKey: hop.nodeId,
        payload: { amtToForward: next.amountMsat, outgoingCltvValue: next.cltvExpiry, shortChannelId: next.shortChannelId }
      }
    }
    return {
      publicKey: hop.nodeId,
      payload: {
        amtToForward: hop.amountMsat,
        outgoingCltvValue: hop.cltvExpiry,
        ...(final.paymentSecret === undefined
          ? {}
          : { paymentData: { paymentSecret: final.paymentSecret, totalMsat: final.totalMsat ?? hop.amountMsat } }),
        ...(final.paymentMetadata === undefined ? {} : { paymentMetadata: final.paymentMetadata }),
        ...(final.customRecords === undefined || final.customRecords.length === 0 ? {} : { customRecords: final.customRecords })
      }
    }
  })
