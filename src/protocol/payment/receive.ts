/**
 * The final node's checks on an incoming HTLC (BOLT 4 "Requirements" of the final node, BOLT 11
 * for the invoice side) and the multi-part set rules (BOLT 4 "Basic Multi-Part Payments"), as
 * pure functions: the actor supplies the invoice, the block height and the time.
 *
 * Every refusal of the payment itself is `incorrect_or_unknown_payment_details` with the HTLC's
 * amount and the current height, so a probing payer learns nothing about which check failed.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { equalBytes } from "../bytes.ts"
import type { TlvRecord } from "../codec/index.ts"
import type { FailureMessage } from "../onion/failure.ts"
import type { ChannelId, Msat } from "../units.ts"

/** The keysend custom record (bLIP 3): the 32-byte preimage, type 5482373484. */
export const KEYSEND_TLV_TYPE = 5482373484n

/** What we expect for a payment hash (an invoice we issued, or a keysend we accept). */
export interface ExpectedPayment {
  readonly paymentHash: Uint8Array
  readonly preimage: Uint8Array
  /** Absent for keysend. */
  readonly paymentSecret: Uint8Array | undefined
  /** Absent: any amount (an amountless invoice, keysend). */
  readonly amountMsat: Msat | undefined
  /** Unix seconds after which the invoice no longer accepts a new payment. */
  readonly expiresAtSeconds: number | undefined
  readonly minFinalCltvExpiryDelta: number
}

/** One HTLC arriving for us with its validated final payload. */
export interface FinalPart {
  readonly paymentHash: Uint8Array
  readonly amountMsat: Msat
  readonly cltvExpiry: number
  readonly paymentSecret: Uint8Array | undefined
  /** `payment_data.total_msat`, or the HTLC's own `amt_to_forward` when absent. */
  readonly totalMsat: Msat
  readonly customRecords: ReadonlyArray<TlvRecord>
}

export interface ReceiveContext {
  readonly height: number
  readonly nowSeconds: number
}

export const unknownPaymentDetails = (amountMsat: Msat, height: number): FailureMessage => ({
  _tag: "incorrect_or_unknown_payment_details",
  htlcMsat: amountMsat,
  height
})

/** The keysend preimage of a part, when it carries one that opens its hash. */
export const keysendPreimage = (part: Pick<FinalPart, "customRecords" | "paymentHash">): Uint8Array | undefined => {
  const record = part.customRecords.find((r) => r.type === KEYSEND_TLV_TYPE)
  if (record === undefined || record.value.length !== 32) return undefined
  return equalBytes(sha256(record.value), part.paymentHash) ? record.value : undefined
}

/**
 * Whether a part may join the payment we expect (BOLT 4, the final node): a matching
 * `payment_secret` (required for invoices), an unexpired invoice, an expiry far enough from the
 * tip (`min_final_cltv_expiry_delta`), a total of at least the invoice amount and at most twice
 * it, and no even custom record we do not understand.
 */
export const checkFinalPart = (
  expected: ExpectedPayment | undefined,
  part: FinalPart,
  ctx: ReceiveContext
): Result.Result<void, FailureMessage> => {
  const refuse = Result.fail(unknownPaymentDetails(part.amountMsat, ctx.height))
  if (expected === undefined || !equalBytes(expected.paymentHash, part.paymentHash)) return refuse
  if (expected.paymentSecret !== undefined) {
    if (part.paymentSecret === undefined || !equalBytes(part.paymentSecret, expected.paymentSecret)) return refuse
  }
  if (expected.expiresAtSeconds !== undefined && ctx.nowSeconds > expected.expiresAtSeconds) return refuse
  if (part.cltvExpiry < ctx.height + expected.minFinalCltvExpiryDelta) return refuse
  if (expected.amountMsat !== undefined) {
    if (part.totalMsat < expected.amountMsat || part.totalMsat > 2n * expected.amountMsat) return refuse
  }
  for (const r of part.customRecords) {
    if (r.type % 2n === 0n && r.type !== KEYSEND_TLV_TYPE) return Result.fail({ _tag: "invalid_onion_payload", type: r.type, offset: 0 })
  }
  return Result.void
}

/** An HTLC held in a multi-part set: where it is, and what to fail it with. */
export interface HeldPart {
  readonly channelId: ChannelId
  readonly htlcId: bigint
  readonly amountMsat: Msat
  readonly sharedSecret: Uint8Array
}

/** The parts received so far for one payment hash. */
export interface MppSet {
  readonly totalMsat: Msat
  readonly parts: ReadonlyArray<HeldPart>
  /** When the first part arrived (Clock millis): the MPP timeout counts from here. */
  readonly firstAtMillis: number
}

export type MppAddResult =
  /** Still waiting for more. */
  | { readonly _tag: "Waiting"; readonly set: MppSet }
  /** The sum reached `total_msat`: claim every part. */
  | { readonly _tag: "Complete"; readonly set: MppSet }
  /** This part does not fit the set (another `total_msat`): fail it alone. */
  | { readonly _tag: "Mismatch" }

/** The sum of a set's parts. */
export const mppReceived = (set: MppSet): bigint => set.parts.reduce((s, p) => s + p.amountMsat, 0n)

/**
 * Adds a part (BOLT 4 "Basic Multi-Part Payments", final node): every part of a set carries the
 * same `total_msat`; the set is complete once the parts add up to it. A part already held
 * (same channel and HTLC id: at-least-once delivery) changes nothing.
 */
export const addMppPart = (set: MppSet | undefined, part: HeldPart, totalMsat: Msat, nowMillis: number): MppAddResult => {
  const current: MppSet = set ?? { totalMsat, parts: [], firstAtMillis: nowMillis }
  if (current.totalMsat !== totalMsat) return { _tag: "Mismatch" }
  const known = current.parts.some((p) => p.htlcId === part.htlcId && equalBytes(p.channelId, part.channelId))
  const next: MppSet = known ? current : { ...current, parts: [...current.parts, part] }
  return mppReceived(next) >= next.totalMsat ? { _tag: "Complete", set: next } : { _tag: "Waiting", set: next }
}
