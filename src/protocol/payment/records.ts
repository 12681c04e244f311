/**
 * What the payment layer keeps in the `Store` (JSON through these Schemas), so that a restart
 * finishes every payment, claim and forward it had started:
 *
 * - `pay/in/<payment hash>`: an invoice we issued (or a keysend we accepted) with its preimage
 *   and secret, and whether it is being claimed or was paid;
 * - `pay/out/<payment id>`: a payment we make, written before its first HTLC leaves, with every
 *   attempt (its route, the onion's shared secrets, the channel and HTLC id once added);
 * - `pay/fwd/<incoming channel>/<incoming htlc id>`: a forward, written before the outgoing HTLC
 *   is added, with the incoming onion's shared secret to wrap a failure coming back.
 */
import { Schema } from "effect"
import { ChannelIdSchema, ShortChannelIdSchema } from "../codec/fields.ts"

const Hex = Schema.Uint8ArrayFromHex
const Hex32 = Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(32, 32)))
const Amount = Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn })))
const HtlcId = Amount

export const RouteHopRecord = Schema.Struct({
  nodeId: Hex,
  shortChannelId: ShortChannelIdSchema,
  amountMsat: Amount,
  cltvExpiry: Schema.Int
})

export const InboundRecordSchema = Schema.Struct({
  paymentHash: Hex32,
  preimage: Hex32,
  paymentSecret: Schema.optional(Hex32),
  amountMsat: Schema.optional(Amount),
  expiresAtSeconds: Schema.optional(Schema.Int),
  minFinalCltvExpiryDelta: Schema.Int,
  invoice: Schema.optional(Schema.String),
  keysend: Schema.Boolean,
  /** "open": accepting parts; "claiming": the claim started (restart: claim every part again); "paid". */
  status: Schema.Literals(["open", "claiming", "paid"]),
  receivedMsat: Amount,
  /** For a payment over a blinded path of ours: the `path_id` its final hop must carry (BOLT 4). */
  pathId: Schema.optional(Hex32),
  /** The HTLCs (`<channel id hex>/<htlc id>`) the claim fulfils: only these are fulfilled again after a restart. */
  claimedParts: Schema.optional(Schema.Array(Schema.String)),
  createdAtSeconds: Schema.Int
})
export type InboundRecord = typeof InboundRecordSchema.Type

export const AttemptRecordSchema = Schema.Struct({
  /** Unique within the payment: the channel's request id is `<payment id>/<attempt id>`. */
  attemptId: Schema.Int,
  hops: Schema.Array(RouteHopRecord),
  sharedSecrets: Schema.Array(Hex32),
  channelId: ChannelIdSchema,
  htlcId: Schema.optional(HtlcId),
  status: Schema.Literals(["inflight", "failed", "fulfilled"]),
  /** Why it failed: "<failure name> at hop <i>", or "unknown" when it could not be read. */
  failure: Schema.optional(Schema.String),
  /** Hold times reported by the hops (BOLT 4 attribution data, units of 100 ms), first hop first, as far as their HMACs verified. */
  holdTimes: Schema.optional(Schema.Array(Schema.Int))
})
export type AttemptRecord = typeof AttemptRecordSchema.Type

export const OutboundRecordSchema = Schema.Struct({
  paymentId: Schema.String,
  paymentHash: Hex32,
  payee: Hex,
  amountMsat: Amount,
  paymentSecret: Schema.optional(Hex32),
  paymentMetadata: Schema.optional(Hex),
  /** Keysend: the preimage we chose (sent in the onion). */
  keysendPreimage: Schema.optional(Hex32),
  /** The BOLT 11 invoice paid (its route hints and features are read again after a restart). */
  invoice: Schema.optional(Schema.String),
  finalCltvDelta: Schema.Int,
  /** Paying to blinded paths (BOLT 4): each `blinded_path` (hex) with its payinfo; `payee` is then a stand-in. */
  blindedPaths: Schema.optional(Schema.Array(Schema.Struct({
    path: Hex,
    feeBaseMsat: Schema.Int,
    feeProportionalMillionths: Schema.Int,
    cltvExpiryDelta: Schema.Int,
    htlcMinimumMsat: Amount,
    htlcMaximumMsat: Amount
  }))),
  /** A blinded payment the recipient lets split (`basic_mpp`): each part carries `total_amount_msat`. */
  blindedMpp: Schema.optional(Schema.Boolean),
  maxFeeMsat: Amount,
  maxCltvExpiryDelta: Schema.Int,
  maxParts: Schema.Int,
  deadlineMillis: Schema.Number,
  status: Schema.Literals(["pending", "succeeded", "failed"]),
  preimage: Schema.optional(Hex32),
  failureReason: Schema.optional(Schema.String),
  attempts: Schema.Array(AttemptRecordSchema),
  nextAttemptId: Schema.Int,
  createdAtMillis: Schema.Number
})
export type OutboundRecord = typeof OutboundRecordSchema.Type

export const ForwardRecordSchema = Schema.Struct({
  inChannelId: ChannelIdSchema,
  inHtlcId: HtlcId,
  inAmountMsat: Amount,
  paymentHash: Hex32,
  sharedSecret: Hex32,
  outChannelId: ChannelIdSchema,
  outAmountMsat: Amount,
  outCltvExpiry: Schema.Int,
  outHtlcId: Schema.optional(HtlcId),
  /** The short channel id the incoming onion named (real or alias): a failure's `channel_update` carries it (BOLT 4). */
  outShortChannelId: Schema.optional(ShortChannelIdSchema),
  /**
   * Relayed inside a blinded route (BOLT 2 "Removing an HTLC"): every failure goes back as
   * `invalid_onion_blinding`, from the introduction node as `update_fail_htlc`, from a node
   * reached with a `path_key` as `update_fail_malformed_htlc` with the incoming onion's hash.
   */
  blinded: Schema.optional(Schema.Struct({ introduction: Schema.Boolean, sha256OfOnion: Hex32 })),
  /** When the incoming HTLC arrived (Clock millis): the hold time we report in attribution data (BOLT 4). */
  receivedAtMillis: Schema.optional(Schema.Number),
  status: Schema.Literals(["forwarding", "fulfilled", "failed"])
})
export type ForwardRecord = typeof ForwardRecordSchema.Type

export const inboundJson = Schema.fromJsonString(InboundRecordSchema)
export const outboundJson = Schema.fromJsonString(OutboundRecordSchema)
export const forwardJson = Schema.fromJsonString(ForwardRecordSchema)
