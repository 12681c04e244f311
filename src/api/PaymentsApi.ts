/**
 * `payments` group of the control API (issue 8 "The runnable node"): create invoices and read
 * what they received, pay invoices and keysend, list and read payments. Amounts are msat as
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

export const PayRequest = Schema.Struct({
  invoice: Schema.optional(Schema.String),
  keysend: Schema.optional(Schema.Struct({ nodeId: Hex33, amountMsat: MsatString })),
  /** For an amountless invoice. */
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
      "Pays `{ invoice }` or `{ keysend: { nodeId, amountMsat } }`. Waits for the outcome by default (a failure is a 422 with the reason); with `wait: false` answers at once with the pending payment."
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
