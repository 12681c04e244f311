/**
 * `effect-lightning/promise`: the node for code that does not use Effect.
 *
 *     const node = await createNode({ dataDir: "./.lightning" })
 *     node.on("event", (e) => console.log(e.type))
 *     const peer = await node.connect(otherNodeId, "127.0.0.1:9735")
 *     await node.close()
 *
 * `createNode` starts the same production node as the daemon (`NodeLive`: TCP peers, keys from
 * the seed file in `dataDir`, channels stored under `dataDir/channels`, the fastest crypto that
 * loads) in a `ManagedRuntime`, and answers each method through the control API's own handlers,
 * in process (no socket, no token): every method has exactly the semantics, JSON shapes and
 * errors of the corresponding HTTP endpoint (see the README's API section). Failures reject with
 * a `LightningError` subclass whose `code` is the API error's tag.
 *
 * Events (peers connecting and disconnecting, every channel event and chain request) are
 * emitted as `"event"` (and under their own `type`) on the node, an `EventEmitter`, and are
 * also an async iterator: `for await (const e of node.events()) ...`.
 */
import { EventEmitter, on } from "node:events"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, type LogLevel, ManagedRuntime, References, Stream } from "effect"
import { FetchHttpClient, HttpRouter } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { ChannelManager } from "../actors/ChannelManager.ts"
import { PeerManager } from "../actors/PeerManager.ts"
import { channelEventToJson } from "../api/ChannelsHandlers.ts"
import { ControlApi } from "../api/ControlApi.ts"
import { ControlApiRoutes } from "../api/ControlApiServer.ts"
import { describeReason, peerToJson } from "../api/convert.ts"
import type { BlindedInvoiceJson, BlindedPathJson, CreatedInvoiceJson, InvoiceStatusJson, PaymentJson } from "../api/PaymentsApi.ts"
import type { ChannelEventJson, DecodedInvoice, NodeInfo, Peer, Channel } from "../api/schemas.ts"
import type { BlindedReceiveParams } from "../actors/Payments.ts"
import * as NodeLive from "../node/NodeLive.ts"
import { toHex } from "../protocol/bytes.ts"
import { type NetworkName, networkByName } from "../protocol/network.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { formatAddress, parseAddress, type SocketAddress } from "../services/Transport.ts"

export type { Channel, ChannelEventJson, DecodedInvoice, NodeInfo, Peer }
/** A payment this node made or is making (as `GET /v1/payments/:id`); amounts are msat as decimal strings. */
export type Payment = typeof PaymentJson.Type
/** An invoice of ours (as `GET /v1/invoices/:paymentHash`). */
export type InvoiceStatus = typeof InvoiceStatusJson.Type
/** A new invoice and its payment hash (as `POST /v1/invoices`). */
export type CreatedInvoice = typeof CreatedInvoiceJson.Type
/**
 * A payment to a node over blinded paths (as `POST /v1/invoices/blinded`): payment hash, amount
 * (null: the payer names it), multi-part support and the blinded paths; the payer's `payBlinded` takes it as it is.
 */
export type BlindedInvoice = typeof BlindedInvoiceJson.Type
/** One blinded path of a `BlindedInvoice`: its `blinded_path` bytes (hex) and payinfo. */
export type BlindedPath = typeof BlindedPathJson.Type

/** Options of `createNode`. */
export interface CreateNodeOptions {
  /** Directory of the node seed and the channel store; created on first start. */
  readonly dataDir: string
  /** Where to accept Lightning peers, `"HOST:PORT"` (port 0: any free port), or `false` to only dial out. Default `127.0.0.1:0`. */
  readonly listen?: string | false
  /** `mainnet`, `testnet`, `testnet4`, `signet` or `regtest` (default). */
  readonly network?: NetworkName
  /** The least severe log entries written (Effect's logger, to stdout): default `"Warn"`; `"None"` for silence. */
  readonly logLevel?: LogLevel.LogLevel
}

/** Base class of every error the node's methods reject with. `code` is the API error's tag. */
export class LightningError extends Error {
  override readonly name: string = "LightningError"
  /** `PeerNotFound`, `PeerConnectFailed`, `ChannelNotFound`, `InvalidRequest`... */
  readonly code: string
  /** The API error's other fields (`nodeId`, `reason`, `channelId`...). */
  readonly details: Readonly<Record<string, unknown>>
  constructor(code: string, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(message)
    this.code = code
    this.details = details
  }
}
/** Bad arguments (`InvalidRequest`, `InvalidInvoice`). */
export class InvalidArgumentError extends LightningError {
  override readonly name = "InvalidArgumentError"
}
/** A peer is not connected or cannot be reached (`PeerNotFound`, `PeerConnectFailed`). */
export class PeerError extends LightningError {
  override readonly name = "PeerError"
}
/** A channel is unknown, refused a command or the open (`ChannelNotFound`, `ChannelCommandRejected`, `OpenChannelFailed`, `ChannelOpenRefused`, `ChannelUnavailable`). */
export class ChannelError extends LightningError {
  override readonly name = "ChannelError"
}
/** A payment could not be made or found, or the node runs no payment layer (`PaymentFailed`, `PaymentNotFound`, `PaymentsUnavailable`). */
export class PaymentError extends LightningError {
  override readonly name = "PaymentError"
}
/** The node is closed (after `close()`), or failed to start. */
export class NodeClosedError extends LightningError {
  override readonly name = "NodeClosedError"
}

const errorClass = (code: string): typeof LightningError => {
  switch (code) {
    case "InvalidRequest":
    case "InvalidInvoice":
      return InvalidArgumentError
    case "PeerNotFound":
    case "PeerConnectFailed":
      return PeerError
    case "ChannelNotFound":
    case "ChannelCommandRejected":
    case "OpenChannelFailed":
    case "ChannelOpenRefused":
    case "ChannelUnavailable":
      return ChannelError
    case "PaymentFailed":
    case "PaymentNotFound":
    case "PaymentsUnavailable":
      return PaymentError
    default:
      return LightningError
  }
}

/** A failure (a tagged error, or anything else) as a `LightningError`. */
const fromError = (error: unknown): LightningError => {
  if (error instanceof LightningError) return error
  if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
    const message = "message" in error && typeof error.message === "string" && error.message !== "" ? error.message : error._tag
    // Arguments the typed client itself refused to encode: the same answer the API would give.
    if (error._tag === "SchemaError") return new InvalidArgumentError("InvalidRequest", `invalid argument: ${message}`)
    const details: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(error)) if (k !== "_tag" && k !== "message") details[k] = v
    const Class = errorClass(error._tag)
    return new Class(error._tag, message, details)
  }
  return new LightningError("InternalError", error instanceof Error ? error.message : String(error))
}

/** A failure of the in-process API as a `LightningError`. */
const toLightningError = (cause: Cause.Cause<unknown>): LightningError => fromError(Cause.squash(cause))

/**
 * A node event: a peer connected or disconnected (`kind: "peer"`), or a channel event or chain
 * request (`kind: "channel"`: `FundingNeeded`, `ChannelPending`, `Broadcast`, `ChannelReady`,
 * `ChannelClosed`..., as in `GET /v1/channels/events`).
 */
export type NodeEvent =
  | { readonly kind: "peer"; readonly type: "PeerConnected"; readonly peer: Peer }
  | { readonly kind: "peer"; readonly type: "PeerDisconnected"; readonly nodeId: string; readonly reason: string }
  | ({ readonly kind: "channel" } & ChannelEventJson)

const isNodeEvent = (u: unknown): u is NodeEvent => typeof u === "object" && u !== null && "type" in u && typeof u.type === "string"

/** Options of `openChannel` (as `POST /v1/channels`). */
export interface OpenChannelOptions {
  readonly pushMsat?: number
  readonly channelType?: "static_remote_key" | "anchors_zero_fee_htlc_tx"
  readonly announce?: boolean
  readonly feeratePerKw?: number
  /** "wallet": the node's on-chain wallet pays (the default when it has one); "external": `fundChannel` yourself. */
  readonly funding?: "wallet" | "external"
  /** false: resolve at once (the open goes on in the background). */
  readonly wait?: boolean
}

/** Options of `createInvoice` (as `POST /v1/invoices`): amounts in msat. */
export interface CreateInvoiceOptions {
  /** Absent: an amountless invoice. */
  readonly amountMsat?: bigint
  readonly description?: string
  readonly expirySeconds?: number
  readonly minFinalCltvExpiryDelta?: number
}

/**
 * Options of `createBlindedInvoice` (as `POST /v1/invoices/blinded`): the payment layer's own,
 * with the amount (msat) as a plain bigint; absent: the payer names it.
 */
export interface CreateBlindedInvoiceOptions extends Omit<BlindedReceiveParams, "amountMsat"> {
  readonly amountMsat?: bigint
}

/** Options of `pay` and `keysend` (as `POST /v1/payments`). */
export interface PayOptions {
  /** For an amountless invoice. */
  readonly amountMsat?: bigint
  readonly maxFeeMsat?: bigint
  readonly timeoutSeconds?: number
  readonly maxParts?: number
  /** Idempotency key (default: the payment hash). */
  readonly paymentId?: string
  /** Default true: resolve with the outcome (a failure rejects with `PaymentError`); false: resolve at once with the pending payment. */
  readonly wait?: boolean
}

/** The API's JSON form of the pay options (amounts as decimal strings). */
const payFields = (options: PayOptions) => ({
  ...(options.maxFeeMsat === undefined ? {} : { maxFeeMsat: options.maxFeeMsat.toString() }),
  ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
  ...(options.maxParts === undefined ? {} : { maxParts: options.maxParts }),
  ...(options.paymentId === undefined ? {} : { paymentId: options.paymentId }),
  ...(options.wait === undefined ? {} : { wait: options.wait })
})

const makeClient = HttpApiClient.make(ControlApi, { baseUrl: "http://in-process" })
type Client = Effect.Success<typeof makeClient>
type NodeRuntime = ManagedRuntime.ManagedRuntime<PeerManager | ChannelManager, unknown>

/**
 * A running node. Call `close()` to stop it (its peers are disconnected, its store closed).
 * Events: `"event"` (every `NodeEvent`), each event's `type` (`"PeerConnected"`,
 * `"ChannelReady"`...), and `"close"` once closed.
 */
export class LightningNode extends EventEmitter {
  readonly #runtime: NodeRuntime
  readonly #client: Client
  #closed = false
  /** @internal What `close` stops before the node's layers: the event forwarder and the in-process handler. */
  stopping: () => Promise<void> = () => Promise.resolve()

  /** This node's id (33-byte compressed public key, hex). */
  readonly nodeId: string
  /** Where peers connect (`HOST:PORT`), or undefined when not listening. */
  readonly listenAddress: string | undefined

  /** @internal Use `createNode`. */
  constructor(
    runtime: NodeRuntime,
    client: Client,
    nodeId: string,
    listenAddress: string | undefined
  ) {
    super()
    this.#runtime = runtime
    this.#client = client
    this.nodeId = nodeId
    this.listenAddress = listenAddress
  }

  async #run<A>(effect: Effect.Effect<A, unknown, never>): Promise<A> {
    if (this.#closed) throw new NodeClosedError("NodeClosed", "the node is closed")
    const exit = await this.#runtime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw toLightningError(exit.cause)
  }

  /** The node's id, features, listen address and network (`GET /v1/info`). */
  info(): Promise<NodeInfo> {
    return this.#run(this.#client.node.info())
  }

  /** Connects to a node (`nodeId` hex, `address` `"HOST:PORT"`); resolves once the handshake and `init` are done. */
  connect(nodeId: string, address: string): Promise<Peer> {
    const a = parseAddress(address)
    if (a === undefined) return Promise.reject(new InvalidArgumentError("InvalidRequest", `expected HOST:PORT, got '${address}'`))
    return this.#run(this.#client.peers.connect({ payload: { nodeId, host: a.host, port: a.port } }))
  }

  /** Closes the connection to a peer. */
  disconnect(nodeId: string): Promise<void> {
    return this.#run(this.#client.peers.disconnect({ params: { nodeId } }))
  }

  /** The connected peers. */
  peers(): Promise<ReadonlyArray<Peer>> {
    return this.#run(this.#client.peers.list())
  }

  /** Decodes and checks a BOLT 11 invoice (signature, network...). */
  decodeInvoice(invoice: string): Promise<DecodedInvoice> {
    return this.#run(this.#client.invoices.decode({ payload: { invoice } }))
  }

  /** Every channel, sorted by peer then channel id. */
  channels(): Promise<ReadonlyArray<Channel>> {
    return this.#run(this.#client.channels.list())
  }

  /** One channel by id (temporary or final). */
  channel(channelId: string): Promise<Channel> {
    return this.#run(this.#client.channels.get({ params: { channelId } }))
  }

  /**
   * Opens a channel to a connected peer; resolves after `accept_channel` with the channel
   * (phase `WaitFundingTx`, `fundingOutput` says what the funding transaction must pay).
   */
  openChannel(nodeId: string, amountSat: number, options: OpenChannelOptions = {}): Promise<Channel> {
    return this.#run(this.#client.channels.open({ payload: { nodeId, amountSat, ...options } }))
  }

  /** Hands the signed funding transaction (hex) to a channel; resolves after `funding_signed`. */
  fundChannel(temporaryChannelId: string, txHex: string): Promise<Channel> {
    return this.#run(this.#client.channels.fund({ params: { temporaryChannelId }, payload: { tx: txHex } }))
  }

  /** Reports the funding transaction's confirmations (until a chain source is wired in). */
  reportFundingDepth(channelId: string, depth: number, shortChannelId?: string): Promise<void> {
    return this.#run(
      this.#client.channels.chain({
        params: { channelId },
        payload: { depth, ...(shortChannelId === undefined ? {} : { shortChannelId }) }
      })
    )
  }

  /** Starts a cooperative close (optionally to `scriptPubKey` hex, at `feeratePerKw`). */
  closeChannel(channelId: string, options: { readonly scriptPubKey?: string; readonly feeratePerKw?: number } = {}): Promise<Channel> {
    return this.#run(this.#client.channels.close({ params: { channelId }, payload: options }))
  }

  /** The on-chain wallet's balance (sat, decimal strings); fails with `WalletUnavailable` on a node without a chain. */
  walletBalance(): Promise<{ readonly confirmedSat: string; readonly unconfirmedSat: string; readonly lockedSat: string; readonly height: number | null }> {
    return this.#run(this.#client.wallet.balance())
  }

  /** A fresh receive address of the on-chain wallet. */
  newAddress(type: "p2wpkh" | "p2tr" = "p2wpkh"): Promise<string> {
    return this.#run(Effect.map(this.#client.wallet.address({ payload: { type } }), (a) => a.address))
  }

  /** Pays `amountSat` (or "all") to `address` from the on-chain wallet; resolves with the broadcast transaction. */
  sendToAddress(address: string, amountSat: number | "all", options: { readonly feeratePerKw?: number } = {}): Promise<{ readonly txid: string; readonly feeSat: string; readonly feeratePerKw: number; readonly tx: string }> {
    return this.#run(this.#client.wallet.send({ payload: { address, ...(amountSat === "all" ? { all: true } : { amountSat }), ...options } }))
  }

  /** Force-closes a channel (our latest commitment goes to the monitor). */
  forceClose(channelId: string): Promise<Channel> {
    return this.#run(this.#client.channels.forceClose({ params: { channelId } }))
  }

  /** Creates a BOLT 11 invoice; the node claims the payments it receives. */
  createInvoice(options: CreateInvoiceOptions = {}): Promise<CreatedInvoice> {
    return this.#run(
      this.#client.payments.createInvoice({
        payload: {
          ...(options.amountMsat === undefined ? {} : { amountMsat: options.amountMsat.toString() }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.expirySeconds === undefined ? {} : { expirySeconds: options.expirySeconds }),
          ...(options.minFinalCltvExpiryDelta === undefined ? {} : { minFinalCltvExpiryDelta: options.minFinalCltvExpiryDelta })
        }
      })
    )
  }

  /** An invoice of ours (or a keysend received) by payment hash: its status and what it received. */
  invoice(paymentHash: string): Promise<InvoiceStatus> {
    return this.#run(this.#client.payments.invoice({ params: { paymentHash } }))
  }

  /** Pays a BOLT 11 invoice (see `PayOptions.wait`). */
  pay(invoice: string, options: PayOptions = {}): Promise<Payment> {
    return this.#run(
      this.#client.payments.pay({
        payload: { invoice, ...(options.amountMsat === undefined ? {} : { amountMsat: options.amountMsat.toString() }), ...payFields(options) }
      })
    )
  }

  /**
   * Creates a payment to this node over blinded paths (BOLT 4 route blinding): the node keeps its
   * preimage; hand the answer to the payer, whose `payBlinded` takes it as it is.
   */
  createBlindedInvoice(options: CreateBlindedInvoiceOptions = {}): Promise<BlindedInvoice> {
    const { amountMsat, ...rest } = options
    return this.#run(
      this.#client.payments.createBlindedInvoice({
        payload: { ...(amountMsat === undefined ? {} : { amountMsat: amountMsat.toString() }), ...rest }
      })
    )
  }

  /** Pays a blinded invoice (`amountMsat` for one that names no amount; see `PayOptions.wait`). */
  payBlinded(blinded: BlindedInvoice, options: PayOptions = {}): Promise<Payment> {
    return this.#run(
      this.#client.payments.pay({
        payload: { blinded, ...(options.amountMsat === undefined ? {} : { amountMsat: options.amountMsat.toString() }), ...payFields(options) }
      })
    )
  }

  /** Pays a node without an invoice (keysend). */
  keysend(nodeId: string, amountMsat: bigint, options: Omit<PayOptions, "amountMsat"> = {}): Promise<Payment> {
    return this.#run(this.#client.payments.pay({ payload: { keysend: { nodeId, amountMsat: amountMsat.toString() }, ...payFields(options) } }))
  }

  /** Every payment this node made or is making. */
  payments(): Promise<ReadonlyArray<Payment>> {
    return this.#run(this.#client.payments.payments())
  }

  /** One payment by id (default id: its payment hash). */
  payment(paymentId: string): Promise<Payment> {
    return this.#run(this.#client.payments.payment({ params: { paymentId } }))
  }

  /**
   * The node's events from this call on, as an async iterator (buffered until read; ends when
   * the node closes, or when the loop breaks).
   */
  events(): AsyncGenerator<NodeEvent, void, undefined> {
    const stop = new AbortController()
    const onClose = () => stop.abort()
    this.once("close", onClose)
    // Listening starts now, not at the first `next()`.
    const source = on(this, "event", { signal: stop.signal })
    const off = () => this.off("close", onClose)
    return (async function*() {
      try {
        for await (const args of source) {
          const event: unknown = args[0]
          if (isNodeEvent(event)) yield event
        }
      } catch (e) {
        if (!(e instanceof Error && e.name === "AbortError")) throw e
      } finally {
        off()
        stop.abort()
      }
    })()
  }

  /** Stops the node: disconnects every peer, stops every channel, closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.stopping()
    await this.#runtime.dispose()
    this.emit("close")
  }
}

/**
 * Starts a node (see the module doc). Rejects with a `LightningError` when it cannot start
 * (a corrupt seed file, an address in use...).
 */
export const createNode = async (options: CreateNodeOptions): Promise<LightningNode> => {
  const network = networkByName(options.network ?? "regtest")
  if (network === undefined) throw new InvalidArgumentError("InvalidRequest", `unknown network '${options.network}'`)
  let listen: SocketAddress | undefined = { host: "127.0.0.1", port: 0 }
  if (options.listen === false) listen = undefined
  else if (options.listen !== undefined) {
    listen = parseAddress(options.listen)
    if (listen === undefined) throw new InvalidArgumentError("InvalidRequest", `listen: expected HOST:PORT, got '${options.listen}'`)
  }
  const logLevel = Layer.succeed(References.MinimumLogLevel, options.logLevel ?? "Warn")
  const node = NodeLive.layer({ dataDir: options.dataDir, ...(listen === undefined ? {} : { listen }) }).pipe(
    Layer.provide(Layer.succeed(NodeNetwork, network)),
    Layer.provide(logLevel)
  )
  const runtime = ManagedRuntime.make(node)
  const context = await runtime.context().catch(async (e: unknown) => {
    await runtime.dispose()
    throw Cause.isCause(e) ? toLightningError(e) : fromError(e)
  })
  // The API's handlers over this node, answering in process through a web handler.
  const { handler, dispose } = HttpRouter.toWebHandler(
    ControlApiRoutes().pipe(
      Layer.provide(Layer.succeedContext(context)),
      Layer.provide(Layer.succeed(NodeNetwork, network)),
      Layer.provide(NodeHttpServer.layerHttpServices),
      Layer.provide(logLevel)
    ),
    { disableLogger: true }
  )
  const fetchInProcess: typeof globalThis.fetch = (input, init) => handler(new Request(input, init))
  const client = await runtime.runPromise(
    makeClient.pipe(Effect.provide(FetchHttpClient.layer), Effect.provideService(FetchHttpClient.Fetch, fetchInProcess))
  )
  const peers = Context.get(context, PeerManager)
  const channels = Context.get(context, ChannelManager)
  const lightningNode = new LightningNode(
    runtime,
    client,
    toHex(peers.nodeId),
    peers.listenAddress === undefined ? undefined : formatAddress(peers.listenAddress)
  )
  const emit = (event: NodeEvent) =>
    Effect.sync(() => {
      lightningNode.emit("event", event)
      lightningNode.emit(event.type, event)
    })
  // Events: subscribed before `createNode` resolves, so nothing after it is missed.
  const subscribed = Deferred.makeUnsafe<void>()
  const forwarder = runtime.runFork(
    Effect.gen(function*() {
      const peerEvents = yield* peers.subscribe
      const channelEvents = yield* channels.subscribe
      const all = Stream.merge(
        Stream.map(peerEvents, (e): NodeEvent =>
          e._tag === "PeerConnected"
            ? { kind: "peer", type: "PeerConnected", peer: peerToJson(e.peer) }
            : { kind: "peer", type: "PeerDisconnected", nodeId: toHex(e.nodeId), reason: describeReason(e.reason) }),
        Stream.map(channelEvents, (e): NodeEvent => ({ kind: "channel", ...channelEventToJson(e) }))
      )
      yield* Deferred.succeed(subscribed, undefined)
      yield* Stream.runForEach(all, emit)
    }).pipe(Effect.scoped)
  )
  await runtime.runPromise(Deferred.await(subscribed))
  lightningNode.stopping = async () => {
    await runtime.runPromise(Fiber.interrupt(forwarder))
    await dispose()
  }
  return lightningNode
}
