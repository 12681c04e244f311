/**
 * Creating this node's BOLT 11 invoices: the timestamp comes from Effect's Clock, the payment
 * secret (and the preimage, when the caller does not bring a payment hash) from `Entropy`, and
 * the signature from `NodeSigner`, so the node key never leaves the signer. The currency prefix
 * (`lnbc`, `lntb`, `lntbs`, `lnbcrt`) is the node's network setting (`NodeNetwork`).
 */
import { sha256 } from "../protocol/tx/bitcoin/hash.ts"
import { Clock, Context, Effect, References } from "effect"
import { makeInvoice, prepareSigning, type InvoiceParams } from "../protocol/invoice/index.ts"
import { Entropy } from "../services/Entropy.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { NodeSigner } from "../services/NodeSigner.ts"

export type CreateInvoiceParams = Omit<InvoiceParams, "network" | "timestamp" | "paymentHash" | "paymentSecret" | "payee"> & {
  /** The payment hash; when absent a preimage is drawn from Entropy and returned. */
  readonly paymentHash?: Uint8Array | undefined
  /** Put our node id in the `n` field (saves the payer a public-key recovery). */
  readonly includePayee?: boolean | undefined
}

export interface CreatedInvoice {
  readonly invoice: string
  readonly paymentHash: Uint8Array
  readonly paymentSecret: Uint8Array
  /** Present when the preimage was generated here: the payee must keep it to claim the payment. */
  readonly preimage: Uint8Array | undefined
}

/**
 * One span per invoice, made without a captured stack trace (`Effect.fn` captures two per call:
 * most of what an invoice costs besides its signature), and only when the fiber's spans go
 * somewhere (`References.TracerEnabled`: else Effect makes a no-op span and a context for it).
 */
export const createInvoice = Effect.fnUntraced(function*(params: CreateInvoiceParams) {
  // The services, the network and the clock's reading in two runtime steps (one `yield*` each would take five).
  const { signer, entropy, network, millis } = yield* Effect.contextWith((context: Context.Context<NodeSigner | Entropy>) =>
    Effect.withFiberSucceed((fiber) => ({
      signer: Context.get(context, NodeSigner),
      entropy: Context.get(context, Entropy),
      network: fiber.getRef(NodeNetwork),
      millis: fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
    }))
  )
  const preimage = params.paymentHash === undefined ? yield* entropy.randomBytes(32) : undefined
  const paymentHash = params.paymentHash ?? sha256(preimage ?? new Uint8Array(32))
  const paymentSecret = yield* entropy.randomBytes(32)
  const unsigned = yield* Effect.fromResult(makeInvoice({
    ...params,
    network: network.invoicePrefix,
    timestamp: Math.floor(millis / 1000),
    paymentHash,
    paymentSecret,
    payee: params.includePayee === true ? signer.nodeId : undefined
  }))
  // The data words are computed once for the hash and the encoding.
  const signing = prepareSigning(unsigned)
  const { recovery, signature } = yield* signer.signDigestRecoverable(signing.digest)
  const created: CreatedInvoice = { invoice: signing.encode(signature, recovery), paymentHash, paymentSecret, preimage }
  return created
}, (self) => Effect.withFiber((fiber) => (fiber.getRef(References.TracerEnabled) ? self.pipe(Effect.withSpan("createInvoice", undefined, { captureStackTrace: false })) : self)))
