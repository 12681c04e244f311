/**
 * Creating this node's BOLT 11 invoices: the timestamp comes from Effect's Clock, the payment
 * secret (and the preimage, when the caller does not bring a payment hash) from `Entropy`, and
 * the signature from `NodeSigner`, so the node key never leaves the signer. The currency prefix
 * (`lnbc`, `lntb`, `lntbs`, `lnbcrt`) is the node's network setting (`NodeNetwork`).
 */
import { sha256 } from "../protocol/tx/bitcoin/hash.ts"
import { Clock, Context, Effect } from "effect"
import { spanned } from "../layers/observability/spans.ts"
import { makeInvoice, prepareSigning, type InvoiceParams } from "../protocol/invoice/index.ts"
import { Entropy, type EntropyShape } from "../services/Entropy.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { NodeSigner, type NodeSignerShape } from "../services/NodeSigner.ts"

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

/** The span of an invoice: one per invoice, without a captured stack trace, when the fiber's spans go somewhere. */
const invoiceSpan = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => spanned(self, "createInvoice")

/** An invoice signed by `signer`, its secrets from `entropy`; the network and the clock are the fiber's. */
const create = Effect.fnUntraced(function*(signer: NodeSignerShape, entropy: EntropyShape, params: CreateInvoiceParams) {
  // The network and the clock's reading in one runtime step.
  const { network, millis } = yield* Effect.withFiberSucceed((fiber) => ({
    network: fiber.getRef(NodeNetwork),
    millis: fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
  }))
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
})

/**
 * Creates an invoice with the context's `NodeSigner` and `Entropy`. One span per invoice, made
 * without a captured stack trace (`Effect.fn` captures two per call: most of what an invoice
 * costs besides its signature).
 */
export const createInvoice = (params: CreateInvoiceParams) =>
  invoiceSpan(Effect.contextWith((context: Context.Context<NodeSigner | Entropy>) => create(Context.get(context, NodeSigner), Context.get(context, Entropy), params)))

/**
 * `createInvoice` with the signer and entropy given (a payment layer holds both): no context
 * made with them per invoice (`Effect.provideContext` copies the fiber's services and makes its
 * context cache again, at entry and at exit).
 */
export const createInvoiceWith = (signer: NodeSignerShape, entropy: EntropyShape) => (params: CreateInvoiceParams) =>
  invoiceSpan(create(signer, entropy, params))
