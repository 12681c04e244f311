/**
 * Handlers of the `payments` group (`PaymentsApi.ts`) over the node's `Payments` service. The
 * service is optional here: a node started without a payment layer answers 503, so adding this
 * group to the API changes nothing for a server that does not run one.
 */
import { Duration, Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { type BlindedPaymentRequest, type OutboundStatus, type PayOptions, Payments, type PaymentsShape } from "../actors/Payments.ts"
import { fromHex, toHex } from "../protocol/bytes.ts"
import { loadBlindedPath, type PaymentBlindedPath, storeBlindedPath } from "../protocol/payment/blinded.ts"
import { msat } from "../protocol/units.ts"
import { ControlApi } from "./ControlApi.ts"
import { InvalidRequest } from "./errors.ts"
import { type BlindedPathJson, type BlindedPaymentJson, PaymentFailedError, type PaymentJson, PaymentNotFound, PaymentsUnavailable } from "./PaymentsApi.ts"

/** A blinded path as the API carries it: its `blinded_path` bytes (hex) and payinfo. */
export const blindedPathToJson = (p: PaymentBlindedPath): typeof BlindedPathJson.Type => {
  const s = storeBlindedPath(p)
  return {
    path: toHex(s.path),
    feeBaseMsat: s.feeBaseMsat,
    feeProportionalMillionths: s.feeProportionalMillionths,
    cltvExpiryDelta: s.cltvExpiryDelta,
    htlcMinimumMsat: s.htlcMinimumMsat.toString(),
    htlcMaximumMsat: s.htlcMaximumMsat.toString()
  }
}

/** The API's blinded path read back; undefined when its bytes are not a BOLT 4 `blinded_path`. */
export const blindedPathFromJson = (j: typeof BlindedPathJson.Type): PaymentBlindedPath | undefined =>
  loadBlindedPath({
    path: fromHex(j.path),
    feeBaseMsat: j.feeBaseMsat,
    feeProportionalMillionths: j.feeProportionalMillionths,
    cltvExpiryDelta: j.cltvExpiryDelta,
    htlcMinimumMsat: BigInt(j.htlcMinimumMsat),
    htlcMaximumMsat: BigInt(j.htlcMaximumMsat)
  })

export const paymentToJson = (p: OutboundStatus): typeof PaymentJson.Type => ({
  paymentId: p.paymentId,
  paymentHash: toHex(p.paymentHash),
  status: p.status,
  amountMsat: p.amountMsat.toString(),
  feePaidMsat: p.feePaidMsat.toString(),
  preimage: p.preimage === undefined ? null : toHex(p.preimage),
  failureReason: p.failureReason ?? null,
  attempts: p.attempts
})

/**
 * The service's request from `{ blinded }` (and `amountMsat` beside it, for a blinded invoice
 * that names none; it must agree with one that does); 400 when a path's bytes do not decode.
 */
const blindedRequest = (blinded: typeof BlindedPaymentJson.Type, amountMsat: string | undefined): Effect.Effect<BlindedPaymentRequest, InvalidRequest> =>
  Effect.gen(function*() {
    const asked = blinded.amountMsat ?? undefined
    if (asked !== undefined && amountMsat !== undefined && BigInt(asked) !== BigInt(amountMsat)) {
      return yield* Effect.fail(new InvalidRequest({ message: `the blinded invoice asks ${asked} msat, not ${amountMsat}` }))
    }
    const amount = asked ?? amountMsat
    if (amount === undefined) return yield* Effect.fail(new InvalidRequest({ message: "the blinded invoice names no amount: give amountMsat" }))
    const paths: Array<PaymentBlindedPath> = []
    for (const [i, j] of blinded.paths.entries()) {
      const path = blindedPathFromJson(j)
      if (path === undefined) return yield* Effect.fail(new InvalidRequest({ message: `blinded path ${i}: not a BOLT 4 blinded_path` }))
      paths.push(path)
    }
    return { paymentHash: fromHex(blinded.paymentHash), amountMsat: msat(BigInt(amount)), paths, mpp: blinded.mpp ?? false }
  })

/** How long past a payment's own timeout `POST /v1/payments` waits for its HTLCs in flight. */
const WAIT_MARGIN_SECONDS = 30

const unavailable = new PaymentsUnavailable({ message: "this node runs without a payment layer" })

export const PaymentsHandlers = HttpApiBuilder.group(
  ControlApi,
  "payments",
  Effect.fn(function*(handlers) {
    const service = yield* Effect.serviceOption(Payments)
    const withPayments = <A, E>(f: (p: PaymentsShape) => Effect.Effect<A, E>): Effect.Effect<A, E | PaymentsUnavailable> =>
      Option.isSome(service) ? f(service.value) : Effect.fail(unavailable)

    const readPayment = (p: PaymentsShape, id: string) =>
      Effect.flatMap(p.payment(id), (s) =>
        s === undefined ? Effect.fail(new PaymentNotFound({ id, message: `no payment ${id}` })) : Effect.succeed(paymentToJson(s)))

    return handlers
      .handle("createInvoice", ({ payload }) =>
        withPayments((p) =>
          Effect.gen(function*() {
            if ((payload.description === undefined) === (payload.descriptionHash === undefined)) {
              return yield* Effect.fail(new InvalidRequest({ message: "give exactly one of description or descriptionHash" }))
            }
            const created = yield* p.createInvoice({
              ...(payload.amountMsat === undefined ? {} : { amountMsat: msat(BigInt(payload.amountMsat)) }),
              description: payload.descriptionHash === undefined ? { text: payload.description ?? "" } : { hash: fromHex(payload.descriptionHash) },
              ...(payload.expirySeconds === undefined ? {} : { expirySeconds: payload.expirySeconds }),
              ...(payload.minFinalCltvExpiryDelta === undefined ? {} : { minFinalCltvExpiryDelta: payload.minFinalCltvExpiryDelta })
            }).pipe(Effect.mapError((e) => new InvalidRequest({ message: e.reason })))
            return { invoice: created.invoice, paymentHash: toHex(created.paymentHash) }
          })
        ))
      .handle("createBlindedInvoice", ({ payload }) =>
        withPayments((p) =>
          Effect.gen(function*() {
            const created = yield* p.receiveBlinded({
              ...(payload.amountMsat === undefined ? {} : { amountMsat: msat(BigInt(payload.amountMsat)) }),
              ...(payload.expirySeconds === undefined ? {} : { expirySeconds: payload.expirySeconds }),
              ...(payload.minFinalCltvExpiryDelta === undefined ? {} : { minFinalCltvExpiryDelta: payload.minFinalCltvExpiryDelta }),
              ...(payload.hops === undefined ? {} : { hops: payload.hops }),
              ...(payload.maxPaths === undefined ? {} : { maxPaths: payload.maxPaths }),
              ...(payload.pathExpiryBlocks === undefined ? {} : { pathExpiryBlocks: payload.pathExpiryBlocks }),
              ...(payload.dummyHops === undefined ? {} : { dummyHops: payload.dummyHops })
            }).pipe(Effect.mapError((e) => new InvalidRequest({ message: e.reason })))
            // We take multi-part payments over blinded paths as over invoices (`basic_mpp`).
            return {
              paymentHash: toHex(created.paymentHash),
              amountMsat: payload.amountMsat ?? null,
              mpp: true,
              paths: created.paths.map(blindedPathToJson)
            }
          })
        ))
      .handle("invoice", ({ params }) =>
        withPayments((p) =>
          Effect.flatMap(p.invoice(fromHex(params.paymentHash)), (s) =>
            s === undefined
              ? Effect.fail(new PaymentNotFound({ id: params.paymentHash, message: `no invoice for ${params.paymentHash}` }))
              : Effect.succeed({
                paymentHash: toHex(s.paymentHash),
                status: s.status,
                amountMsat: s.amountMsat === undefined ? null : s.amountMsat.toString(),
                receivedMsat: s.receivedMsat.toString(),
                invoice: s.invoice ?? null,
                keysend: s.keysend
              }))
        ))
      .handle("pay", ({ payload }) =>
        withPayments((p) =>
          Effect.gen(function*() {
            const given = [payload.invoice, payload.keysend, payload.blinded].filter((x) => x !== undefined).length
            if (given !== 1) {
              return yield* Effect.fail(new InvalidRequest({ message: "give exactly one of invoice, keysend or blinded" }))
            }
            const options: PayOptions = {
              ...(payload.paymentId === undefined ? {} : { paymentId: payload.paymentId }),
              ...(payload.maxFeeMsat === undefined ? {} : { maxFeeMsat: msat(BigInt(payload.maxFeeMsat)) }),
              ...(payload.timeoutSeconds === undefined ? {} : { timeoutMillis: payload.timeoutSeconds * 1000 }),
              ...(payload.maxParts === undefined ? {} : { maxParts: payload.maxParts }),
              ...(payload.amountMsat === undefined || payload.blinded !== undefined ? {} : { amountMsat: msat(BigInt(payload.amountMsat)) })
            }
            const invalid = (e: { readonly reason: string }) => new InvalidRequest({ message: e.reason })
            const blinded = payload.blinded
            const id = payload.keysend !== undefined
              ? yield* p.startKeysend(fromHex(payload.keysend.nodeId), msat(BigInt(payload.keysend.amountMsat)), options).pipe(Effect.mapError(invalid))
              : blinded !== undefined
              ? yield* Effect.flatMap(blindedRequest(blinded, payload.amountMsat), (request) =>
                p.startBlindedPayment(request, options).pipe(Effect.mapError(invalid)))
              : yield* p.startPayment(payload.invoice ?? "", options).pipe(Effect.mapError(invalid))
            if (payload.wait === false) return yield* readPayment(p, id).pipe(Effect.orDie)
            // Never a hung request: past the payment's timeout (plus a margin for the HTLCs in flight to
            // resolve) the answer is the payment as it stands, still "pending" (an HTLC in flight may yet succeed).
            yield* p.awaitPayment(id).pipe(
              Effect.catchTag("PaymentFailed", (e) =>
                Effect.fail(new PaymentFailedError({ paymentId: e.paymentId, reason: e.reason, attempts: e.attempts, message: `payment failed: ${e.reason}` }))),
              Effect.catchTag("InvalidPaymentRequest", (e) => Effect.fail(invalid(e))),
              Effect.timeoutOption(Duration.seconds((payload.timeoutSeconds ?? 60) + WAIT_MARGIN_SECONDS))
            )
            return yield* readPayment(p, id).pipe(Effect.orDie)
          })
        ))
      .handle("payments", () => withPayments((p) => Effect.map(p.payments, (ps) => ps.map(paymentToJson))))
      .handle("payment", ({ params }) => withPayments((p) => readPayment(p, params.paymentId)))
  })
)
