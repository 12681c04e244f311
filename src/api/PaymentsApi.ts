/**
 * `payments` group of the control API (issue 8 "The runnable node"): create invoices (BOLT 11,
 * or blinded: paths to us over BOLT 4 route blinding) and read what they received, pay invoices,
 * blinded invoices and keysend, list and read payments. Amounts are msat as
 * decimal strings, bytes as hex. A node without a running payment layer answers 503.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { InvalidRequest } from "./errors.ts"

const Hex32 = Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9a-fA-F]{64}$/)))
const Hex33 = Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9a-fA-F]{66}$/)))
const MsatString = Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9]{1,20}$/)))

export const CreateInvoiceRequest = Schema.Struct({
  /** Absent: an amountless invoice. */
  amountMsat: Schema.optional(MsatString),
  description: Schema.optional(Schema.String),
  /** Hex SHA-256 of a longer description (instead of `description`). */
  descriptionHash: Schema.optional(Hex32),
  expirySeconds: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 31_536_000 })))),
  minFinalCltvExpiryDelta: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 2016 }))))
})

export const CreatedInvoiceJson = Schema.Struct({ invoice: Schema.String, paymentHash: Schema.String })

export const InvoiceStatusJson = Schema.Struct({
  paymentHash: Schema.String,
  /** "open": waiting for a payment; "claiming": claimed, fulfilling; "paid". */
  status: Schema.String,
  amountMsat: Schema.NullOr(Schema.String),
  receivedMsat: Schema.String,
  invoice: Schema.NullOr(Schema.String),
  keysend: Schema.Boolean
})

/**
 * A blinded path to a recipient as the API carries it: the BOLT 4 `blinded_path` bytes (hex:
 * introduction node, first path key, the blinded hops with their `encrypted_recipient_data`)
 * and its `blinded_payinfo` (what the sender pays and the CLTV it adds for the whole path).
 */
export const BlindedPathJson = Schema.Struct({
  /** The `blinded_path` encoding, hex. */
  path: Schema.String.pipe(Schema.check(Schema.isPattern(/^([0-9a-fA-F]{2}){1,16384}$/))),
  feeBaseMsat: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }))),
  feeProportionalMillionths: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }))),
  cltvExpiryDelta: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffff }))),
  htlcMinimumMsat: MsatString,
  htlcMaximumMsat: MsatString
})

/** `POST /v1/invoices/blinded`: a payment to us over blinded paths (BOLT 4 "Route Blinding"). */
export const CreateBlindedInvoiceRequest = Schema.Struct({
  /** Absent: any amount (the payer names it). */
  amountMsat: Schema.optional(MsatString),
  expirySeconds: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 31_536_000 })))),
  minFinalCltvExpiryDelta: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 2016 })))),
  /** Nodes before us in each path: 1 (a channel peer introduces; default), 2, or 0 (we are the introduction node). */
  hops: Schema.optional(Schema.Literals([0, 1, 2])),
  /** At most this many paths (1 to 16, default 3). */
  maxPaths: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 16 })))),
  /** For how many blocks from now the paths can be used (default 2016). */
  pathExpiryBlocks: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 52_560 })))),
  /** Dummy hops after us in each path, to hide its length (0 to 4, default 0). */
  dummyHops: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 4 }))))
})

/**
 * A blinded invoice: what a payer needs to pay us over blinded paths. It is also the `blinded`
 * field of `POST /v1/payments` as it is, so the answer of `POST /v1/invoices/blinded` can be
 * handed to the payer unchanged.
 */
export const BlindedInvoiceJson = Schema.Struct({
  paymentHash: Schema.String,
  /** Null: the payer names the amount (`amountMsat` of the payment). */
  amountMsat: Schema.NullOr(Schema.String),
  /** The recipient takes multi-part payments over its paths (`basic_mpp`). */
  mpp: Schema.Boolean,
  paths: Schema.Array(BlindedPathJson)
})

/** The `blinded` field of `POST /v1/payments`: a blinded invoice, as `POST /v1/invoices/blinded` answers. */
export const BlindedPaymentJson = Schema.Struct({
  paymentHash: Hex32,
  /** Absent or null: give `amountMsat` beside it. */
  amountMsat: Schema.optional(Schema.NullOr(MsatString)),
  mpp: Schema.optional(Schema.Boolean),
  paths: Schema.Array(BlindedPathJson).pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(64)))
})

export const PayRequest = Schema.Struct({
  invoice: Schema.optional(Schema.String),
  keysend: Schema.optional(Schema.Struct({ nodeId: Hex33, amountMsat: MsatString })),
  /** A payment to blinded paths (a blinded invoice, as `POST /v1/invoices/blinded` answers). */
  blinded: Schema.optional(BlindedPaymentJson),
  /** For an amountless invoice (or blinded invoice). */
  amountMsat: Schema.optional(MsatString),
  maxFeeMsat: Schema.optional(MsatString),
  timeoutSeconds: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 86_400 })))),
  maxParts: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 64 })))),
  /** Idempotency key: paying again with it returns the first payment's outcome. Default: the payment hash. */
  paymentId: Schema.optional(Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9A-Za-z._-]{1,100}$/)))),
  /** Default true: answer with the outcome; false: answer at once with the pending payment. */
  wait: Schema.optional(Schema.Boolean)
})

export const PaymentJson = Schema.Struct({
  paymentId: Schema.String,
  paymentHash: Schema.String,
  /** "pending", "succeeded" or "failed". */
  status: Schema.String,
  amountMsat: Schema.String,
  feePaidMsat: Schema.String,
  preimage: Schema.NullOr(Schema.String),
  failureReason: Schema.NullOr(Schema.String),
  attempts: Schema.Int
})

/** The payment could not be made (no route, timeout, the payee refused): nothing was paid (422). */
export class PaymentFailedError extends Schema.TaggedError<PaymentFailedError>()(
  "PaymentFailed",
  { paymentId: Schema.String, reason: Schema.String, attempts: Schema.Int, message: Schema.String },
  { httpApiStatus: 422 }
) {}

/** No invoice or payment with this id (404). */
export class PaymentNotFound extends Schema.TaggedError<PaymentNotFound>()(
  "PaymentNotFound",
  { id: Schema.String, message: Schema.String },
  { httpApiStatus: 404 }
) {}

/** The node runs without a payment layer (503). */
export class PaymentsUnavailable extends Schema.TaggedError<PaymentsUnavailable>()(
  "PaymentsUnavailable",
  { message: Schema.String },
  { httpApiStatus: 503 }
) {}

export class PaymentsApi extends HttpApiGroup.make("payments")
  .add(
    HttpApiEndpoint.post("createInvoice", "/v1/invoices", {
      payload: CreateInvoiceRequest,
      success: CreatedInvoiceJson,
      error: [InvalidRequest, PaymentsUnavailable]
    }).annotate(OpenApi.Description, "Creates a BOLT 11 invoice; the node keeps its preimage and secret to claim the payment."),
    HttpApiEndpoint.post("createBlindedInvoice", "/v1/invoices/blinded", {
      payload: CreateBlindedInvoiceRequest,
      success: BlindedInvoiceJson,
      error: [InvalidRequest, PaymentsUnavailable]
    }).annotate(
      OpenApi.Description,
      "Creates a payment to this node over blinded paths (BOLT 4 \"Route Blinding\"): the node keeps the preimage and answers with the payment hash and the blinded paths (each with its payinfo) a payer pays with, as `{ blinded }` of `POST /v1/payments`. `GET /v1/invoices/{paymentHash}` follows it."
    ),
    HttpApiEndpoint.get("invoice", "/v1/invoices/:paymentHash", {
      params: { paymentHash: Hex32 },
      success: InvoiceStatusJson,
      error: [PaymentNotFound, PaymentsUnavailable]
    }).annotate(OpenApi.Description, "An invoice of ours (or a keysend we received): its status and the amount received."),
    HttpApiEndpoint.post("pay", "/v1/payments", {
      payload: PayRequest,
      success: PaymentJson,
      error: [InvalidRequest, PaymentFailedError, PaymentsUnavailable]
    }).annotate(
      OpenApi.Description,
      "Pays `{ invoice }`, `{ keysend: { nodeId, amountMsat } }` or `{ blinded }` (a blinded invoice: payment hash, amount, blinded paths). Waits for the outcome by default (a failure is a 422 with the reason); with `wait: false` answers at once with the pending payment."
    ),
    HttpApiEndpoint.get("payments", "/v1/payments", {
      success: Schema.Array(PaymentJson),
      error: [PaymentsUnavailable]
    }).annotate(OpenApi.Description, "Every payment this node made or is making."),
    HttpApiEndpoint.get("payment", "/v1/payments/:paymentId", {
      params: { paymentId: Schema.String },
      success: PaymentJson,
      error: [PaymentNotFound, PaymentsUnavailable]
    }).annotate(OpenApi.Description, "One payment by its id.")
  )
  .annotateMerge(OpenApi.annotations({ title: "Payments" }))
{}
