/**
 * `Payments`: sending, receiving and forwarding over the node's channels (BOLT 4, BOLT 11;
 * ARCHITECTURE.md "Payments"). One actor per node over the `ChannelManager`:
 *
 * Guarantees:
 * - Every input (a channel event, a `pay`, a timer) is handled by ONE fiber, in order; the
 *   manager's event stream is at-least-once, so every handler is idempotent (dedupe by channel
 *   and HTLC id, and by what the store already says).
 * - A payment is written to the `Store` before its first HTLC leaves, each attempt before its
 *   HTLC is added; a forward before its outgoing HTLC is added; an invoice's claim before any
 *   part is fulfilled, and the preimage is durable in the monitor of every channel carrying a
 *   part (`claimPreimage`; one part: its fulfill's own `PaymentPreimage` write, waited for)
 *   before any part's `update_fulfill_htlc` can leave (a restart mid-claim
 *   does the same again when a part is delivered again). A restart reads them back and finishes them: an attempt whose HTLC the
 *   channel no longer has is failed unless a monitor holds its preimage (then it succeeded), so a
 *   payment id is never paid twice and a fulfilled payment is never retried.
 * - `pay` never hangs: it ends with `PaymentSucceeded` or `PaymentFailed` (timeout, no route,
 *   the payee's refusal), also published on `events`. Calling `pay` again with the same payment
 *   id returns that payment's outcome, it never starts a second one.
 * - Forwarding fulfils backwards through `fulfillHtlc`, which persists the preimage to the
 *   incoming channel's monitor before `update_fulfill_htlc` leaves (the channel's
 *   `PaymentPreimage` update); failures go back wrapped with the incoming onion's shared secret.
 *
 * The node key stays in `NodeSigner`: onion ECDH goes through `NodeSigner.ecdh`.
 * Routes come from the `Router` service (src/services/Router.ts) with our channels' real
 * balances as first hops, the invoice's route hints and features, and what failed so far
 * (excluded channel directions and nodes); every attempt's outcome is reported back to it.
 */
import { sha256, sha256Concat } from "../protocol/tx/bitcoin/hash.ts"
import { Clock, Context, Data, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, PubSub, Result, Schema, Scope, Stream, Tracer } from "effect"
import type { SchedulerDispatcher } from "effect/Scheduler"
import { equalBytes, toHex } from "../protocol/bytes.ts"
import { spanned, tracingIn } from "../layers/observability/spans.ts"
import { ChannelIdSchema, type ShortChannelId } from "../protocol/codec/fields.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import type { ChannelEvent } from "../protocol/channel/io.ts"
import { funderCharge, nextRemoteSpec, sendAdd } from "../protocol/channel/commitments.ts"
import { type ChannelState, shortChannelIdsOf } from "../protocol/channel/state.ts"
import { decodeInvoice, type Invoice } from "../protocol/invoice/index.ts"
import {
  buildPaymentOnion,
  createFailure,
  decryptFailure,
  type FailureMessage,
  failureCodeOf,
  failureFromMalformed,
  forwardFailure,
  isNodeFailure,
  isPermanent,
  type NodeEcdh,
  type OnionFailureResponse,
  processPaymentOnion,
  type ProcessedOnion
} from "../protocol/onion/index.ts"
import { addSuccessAttribution, verifySuccessAttribution } from "../protocol/onion/attribution.ts"
import { preimageOf } from "../protocol/monitor/query.ts"
import { pendingEvents } from "../protocol/channel/pending.ts"
import { ourReceiveInvoiceFeatures } from "../protocol/features.ts"
import { pathOnionHops } from "../protocol/routing/onion.ts"
import {
  addMppPart,
  attemptJson,
  attemptKey,
  type AttemptRecord,
  attemptsPrefix,
  checkFinalPart,
  checkForward,
  defaultForwardingPolicy,
  encodeAttemptRecord,
  encodeForwardRecord,
  encodeInboundRecord,
  encodeOutboundRecord,
  type ExpectedPayment,
  type ForwardingPolicy,
  type ForwardRecord,
  forwardJson,
  type InboundRecord,
  inboundJson,
  KEYSEND_TLV_TYPE,
  keysendPreimage,
  type MppSet,
  type OutboundRecord,
  outboundJson,
  fromPath,
  type OutgoingChannel,
  type Route,
  routeFee,
  routeFinalAmount,
  sameOutboundHead,
  unknownPaymentDetails,
  withAttemptsApart
} from "../protocol/payment/index.ts"
import { type DeadlineConfig, deadlineBreach, defaultDeadlineConfig, holdExpired } from "../protocol/payment/deadlines.ts"
import { checkFailureUpdate, failureChannelUpdate, failureUpdateFields, type FailureUpdate, withChannelUpdate } from "../protocol/payment/failure-update.ts"
import { channelUpdateDigest } from "../protocol/gossip/digest.ts"
import { ChannelId, type Msat, msat } from "../protocol/units.ts"
import { Entropy } from "../services/Entropy.ts"
import { type ExcludedChannel, type FirstHop, type Path, type PathOutcome, type PolicyUpdate, Router } from "../services/Router.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { ecdhNowOf, type NodeEcdhNow, NodeSigner, type NodeSignerShape } from "../services/NodeSigner.ts"
import { deleteOp, givenPutOp, Store, type StoreOp, storeWriteNowOf, type StoreVersion } from "../services/Store.ts"
import { type ChannelInfo, ChannelManager, type ChannelManagerShape, listenerOf, type NodeChannelEvent } from "./ChannelManager.ts"
import { createInvoiceWith, type CreateInvoiceParams } from "../invoices/createInvoice.ts"
import { MonitorChain } from "./MonitorChain.ts"
import { parsePublicKey, type PublicKey } from "../protocol/keys/keys.ts"
import type { RouteHintHop } from "../protocol/invoice/index.ts"
import type { RoutingGraph } from "../protocol/routing/graph.ts"
import {
  type BlindedForwarder,
  blindedFailureResponse,
  blindedOnionHops,
  blindedPathOf,
  blindedPayee,
  blindedRouteHints,
  buildReceivePath,
  checkPaymentBlindedPath,
  loadBlindedPath,
  type PaymentBlindedPath,
  type RelayPolicy,
  storeBlindedPath
} from "../protocol/payment/blinded.ts"
import { GossipSync } from "./GossipSync.ts"
import { RouterGraph } from "../services/Router.ts"

// ---- results, errors, events ---------------------------------------------------------------------

/** A payment that reached its payee: the preimage proves it. */
export class PaymentSucceeded extends Data.TaggedClass("PaymentSucceeded")<{
  readonly paymentId: string
  readonly paymentHash: Uint8Array
  readonly preimage: Uint8Array
  /** What the forwarding nodes were paid, over every successful part. */
  readonly feePaidMsat: Msat
  /** How many parts (HTLCs) delivered it. */
  readonly parts: number
  readonly routes: ReadonlyArray<Route>
  /**
   * Per route (as `routes`): the hold times its hops reported in the fulfill's attribution data
   * (BOLT 4 "Hold times for successful payments", units of 100 ms, first hop first, as far as their
   * HMACs verified; empty when none came).
   */
  readonly holdTimes?: ReadonlyArray<ReadonlyArray<number>>
}> {}

/** A payment that did not happen: nothing was paid (every HTLC of it failed). */
export class PaymentFailed extends Data.TaggedError("PaymentFailed")<{
  readonly paymentId: string
  readonly paymentHash: Uint8Array
  /** "NoRoute", "Timeout", "RecipientRejected: <failure>", "RouteTooExpensive"... */
  readonly reason: string
  readonly attempts: number
}> {}

/** `pay` refused the request before anything left (bad invoice, wrong network, expired...). */
export class InvalidPaymentRequest extends Data.TaggedError("InvalidPaymentRequest")<{ readonly reason: string }> {}

/** What the payment layer tells the application. */
export type PaymentEvent =
  | PaymentSucceeded
  | PaymentFailed
  | { readonly _tag: "PaymentReceived"; readonly paymentHash: Uint8Array; readonly amountMsat: Msat; readonly parts: number }
  /** `inHtlcId` tells two parts of one payment over the same pair of channels apart (it is published again after a restart). */
  | { readonly _tag: "HtlcForwarded"; readonly paymentHash: Uint8Array; readonly inChannelId: Uint8Array; readonly inHtlcId: bigint; readonly outChannelId: Uint8Array; readonly feeMsat: Msat }
  | { readonly _tag: "ForwardFailed"; readonly paymentHash: Uint8Array; readonly inChannelId: Uint8Array; readonly failure: string }
  /** A forward to an intercepted short channel id waits for `forwardIntercepted` / `failIntercepted`. */
  | {
    readonly _tag: "HtlcIntercepted"
    readonly interceptId: string
    readonly paymentHash: Uint8Array
    readonly shortChannelId: ShortChannelId
    readonly inAmountMsat: Msat
    /** What the onion asks us to forward. */
    readonly expectedOutAmountMsat: Msat
    readonly outgoingCltvValue: number
  }
  /**
   * A channel failed (force-closed) because one of its HTLCs reached its BOLT 2 deadline at
   * `height` (an offered HTLC past its expiry, or a fulfilled one too close to it); the HTLC is
   * resolved on chain, and a forward's incoming HTLC waits for that.
   */
  | { readonly _tag: "HtlcDeadline"; readonly channelId: Uint8Array; readonly htlcId: bigint; readonly direction: "offered" | "received"; readonly height: number; readonly reason: string }
  /** One part of a payment failed at `hop` (0: the first node after us); the payment may retry. */
  | {
    readonly _tag: "AttemptFailed"
    readonly paymentId: string
    readonly hop: number
    readonly failure: string
    /** The `channel_update` the failure carried (BOLT 4 UPDATE failures), as sent; whether it was used: `updateUsed`. */
    readonly channelUpdate?: Uint8Array | undefined
    /** The update was valid and new, and this payment's retries route with it. */
    readonly updateUsed?: boolean | undefined
    /**
     * How `hop` was found (BOLT 4 "Origin node"): "hmac" when the return packet's HMAC named it,
     * "attribution" when the packet was garbled on its way and the attribution data blamed the
     * pair (hop - 1, hop), "none" when neither could (the first hop is blamed).
     */
    readonly attributedBy?: "hmac" | "attribution" | "none"
    /** Hold times the hops reported in the attribution data (units of 100 ms, first hop first, as far as their HMACs verified). */
    readonly holdTimes?: ReadonlyArray<number> | undefined
  }

export type PaymentResult = PaymentSucceeded | PaymentFailed

// ---- the service ----------------------------------------------------------------------------------------

export interface PayOptions {
  /** Idempotency key (default: the payment hash, hex). */
  readonly paymentId?: string
  /** Default: 1% of the amount + 1000 msat. */
  readonly maxFeeMsat?: Msat
  /** The largest total CLTV delta of a route (default 1008). */
  readonly maxCltvExpiryDelta?: number
  /** Give up (after the HTLCs in flight resolve) this long after the start (default 60 s). */
  readonly timeoutMillis?: number
  /** At most this many HTLCs in flight at once (default 16). */
  readonly maxParts?: number
  /** For an invoice without an amount. */
  readonly amountMsat?: Msat
}

export interface CreatedInboundInvoice {
  readonly invoice: string
  readonly paymentHash: Uint8Array
  readonly paymentSecret: Uint8Array
}

export interface InboundStatus {
  readonly paymentHash: Uint8Array
  readonly status: InboundRecord["status"]
  readonly amountMsat: Msat | undefined
  readonly receivedMsat: Msat
  readonly invoice: string | undefined
  readonly keysend: boolean
}

export interface OutboundStatus {
  readonly paymentId: string
  readonly paymentHash: Uint8Array
  readonly status: OutboundRecord["status"]
  readonly amountMsat: Msat
  readonly preimage: Uint8Array | undefined
  readonly failureReason: string | undefined
  readonly attempts: number
  readonly feePaidMsat: Msat
}

export interface PaymentsShape {
  /** Creates an invoice and stores its preimage and secret (the claim needs both). */
  readonly createInvoice: (params: CreateInvoiceParams) => Effect.Effect<CreatedInboundInvoice, InvalidPaymentRequest>
  /** Pays a BOLT 11 invoice; waits for the outcome. */
  readonly pay: (invoice: string, options?: PayOptions) => Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest>
  /** Keysend (bLIP 3): a spontaneous payment, the preimage drawn from `Entropy` and sent in the onion. */
  readonly keysend: (payee: Uint8Array, amountMsat: Msat, options?: PayOptions) => Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest>
  /** Starts a payment and returns its id at once (the outcome: `awaitPayment` or `events`). */
  readonly startPayment: (invoice: string, options?: PayOptions) => Effect.Effect<string, InvalidPaymentRequest>
  /** Starts a keysend and returns its id at once. */
  readonly startKeysend: (payee: Uint8Array, amountMsat: Msat, options?: PayOptions) => Effect.Effect<string, InvalidPaymentRequest>
  readonly awaitPayment: (paymentId: string) => Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest>
  readonly payment: (paymentId: string) => Effect.Effect<OutboundStatus | undefined>
  /** Every payment made (a finished one read from the store), in payment id order. */
  readonly payments: Effect.Effect<ReadonlyArray<OutboundStatus>>
  readonly invoice: (paymentHash: Uint8Array) => Effect.Effect<InboundStatus | undefined>
  /** Forwards an intercepted HTLC over `channelId`, sending `amountMsat` (at most what came in; an LSP may keep a fee). */
  readonly forwardIntercepted: (interceptId: string, channelId: ChannelId, amountMsat: Msat) => Effect.Effect<void, InvalidPaymentRequest>
  /** Fails an intercepted HTLC back (`unknown_next_peer`). */
  readonly failIntercepted: (interceptId: string) => Effect.Effect<void, InvalidPaymentRequest>
  /**
   * Checks every HTLC against the chain height now (the timer does it every
   * `deadlineCheckIntervalMillis` when the height changed): BOLT 2 deadlines, held HTLCs.
   */
  readonly checkDeadlines: Effect.Effect<void>
  readonly events: Stream.Stream<PaymentEvent>
  readonly subscribe: Effect.Effect<Stream.Stream<PaymentEvent>, never, Scope.Scope>
  /**
   * Receiving over blinded paths (BOLT 4 "Route Blinding"): stores a preimage for a new payment
   * hash and builds blinded paths to us through our channels (with `path_id` binding them to
   * this payment), for a payer to `payBlinded` with.
   */
  readonly receiveBlinded: (params: BlindedReceiveParams) => Effect.Effect<BlindedReceive, InvalidPaymentRequest>
  /** Pays to blinded paths: routes to an introduction node, the onion carries the paths' encrypted data. Waits for the outcome. */
  readonly payBlinded: (request: BlindedPaymentRequest, options?: PayOptions) => Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest>
  /** Starts a payment to blinded paths and returns its id at once. */
  readonly startBlindedPayment: (request: BlindedPaymentRequest, options?: PayOptions) => Effect.Effect<string, InvalidPaymentRequest>
}

export interface BlindedReceiveParams {
  readonly amountMsat?: Msat
  /** How long the payment is accepted (default 3600 s). */
  readonly expirySeconds?: number
  /** Default 18. */
  readonly minFinalCltvExpiryDelta?: number
  /** Nodes before us in each path: 1 (a channel peer is the introduction node; default), 2 (a peer of that peer), 0 (we are). */
  readonly hops?: 0 | 1 | 2
  /** At most this many paths (default 3). */
  readonly maxPaths?: number
  /** For how many blocks from now the paths can be used (their `max_cltv_expiry`; default 2016). */
  readonly pathExpiryBlocks?: number
  /** Dummy hops at the end of each path, to hide its length (0 to 4; default 0). */
  readonly dummyHops?: number
}

export interface BlindedReceive {
  readonly paymentHash: Uint8Array
  readonly paths: ReadonlyArray<PaymentBlindedPath>
}

/** A payment to a recipient that gave blinded paths (e.g. in a BOLT 12 invoice). */
export interface BlindedPaymentRequest {
  readonly paymentHash: Uint8Array
  readonly amountMsat: Msat
  readonly paths: ReadonlyArray<PaymentBlindedPath>
  /** The recipient takes multi-part payments (`basic_mpp`): the router may split over the paths (default false). */
  readonly mpp?: boolean
}

export class Payments extends Context.Service<Payments, PaymentsShape>()("effect-lightning/Payments") {
  static readonly layer = (config: PaymentsConfig): Layer.Layer<Payments, never, ChannelManager | NodeSigner | Entropy | Store | Router> =>
    Layer.effect(Payments, make(config))
}

export interface PaymentsConfig {
  readonly secp: Secp256k1
  /** The chain tip as the node knows it (a `ChainSource` later). */
  readonly blockHeight: Effect.Effect<number>
  /**
   * The same height as `blockHeight`, read at once, for a node that has it in memory (the
   * simulation): the handlers read the height per HTLC, and this reads it with no effect.
   */
  readonly blockHeightNow?: () => number
  /** Our forwarding policy (every channel; default `defaultForwardingPolicy`). */
  readonly forwardingPolicy?: ForwardingPolicy
  /** How long MPP parts are held before failing with `mpp_timeout` (default 60 s). */
  readonly mppTimeoutMillis?: number
  /** Blocks added to the final hop's `min_final_cltv_expiry_delta` (default 3). */
  readonly finalCltvMargin?: number
  /** Attempts per payment before giving up (default 25). */
  readonly maxAttempts?: number
  /**
   * How often the channels' states are read again for HTLCs left unsettled (default 30 s): a
   * settlement or an add of ours that a disconnection dropped before it was signed (BOLT 2
   * forgets it) produces no event; this finds it and settles or retries again.
   */
  readonly resyncIntervalMillis?: number
  /**
   * Interception (LSPs' just-in-time channels): a forward to a short channel id we have no
   * channel for, for which this says true, is held and published as `HtlcIntercepted`; the
   * application answers with `forwardIntercepted` (over a channel it chose, e.g. one it just
   * opened) or `failIntercepted`. Default: none.
   */
  readonly intercept?: (shortChannelId: ShortChannelId) => boolean
  /** BOLT 2 deadlines (default: G = 2 blocks after an offered HTLC's expiry, 18 blocks before a fulfilled one's). */
  readonly deadlines?: DeadlineConfig
  /** How often `blockHeight` is read for the deadline check, which runs when it changed (default 10 s). */
  readonly deadlineCheckIntervalMillis?: number
  /**
   * Route hints for our invoices (BOLT 11 `r`): for each private channel, its peer's policy
   * towards us. Default: `GossipSync.routeHints` when the node runs gossip (the peers' private
   * `channel_update`s); only channels that can receive now are kept.
   */
  readonly routeHints?: Effect.Effect<ReadonlyArray<ReadonlyArray<RouteHintHop>>>
  /**
   * The channel graph the blinded paths to us are built from (the policies of the nodes before
   * us). Default: the `RouterGraph` service when the node has one (NodeLive does); the peers'
   * private `channel_update`s from `GossipSync` are used too (one-hop paths over private channels).
   */
  readonly blindedPathGraph?: Effect.Effect<RoutingGraph>
  /**
   * The largest random delay (ms) before this node, as the introduction node of a blinded path,
   * fails an HTLC back (BOLT 4: SHOULD add a random delay; default 500, 0 for none).
   */
  readonly blindedFailureDelayMillis?: number
}

// ---- internals --------------------------------------------------------------------------------------------

type Input =
  | { readonly _tag: "Channel"; readonly event: NodeChannelEvent }
  | {
    readonly _tag: "Pay"
    readonly record: OutboundRecord
    readonly reply: PayReply
    /** The caller's span: the payment's attempts are its children. */
    readonly span: Tracer.AnySpan | undefined
  }
  | { readonly _tag: "MppTimeout"; readonly paymentHash: string; readonly firstAtMillis: number }
  | { readonly _tag: "PaymentTimeout"; readonly paymentId: string }
  | { readonly _tag: "Resync" }
  | { readonly _tag: "Deadlines"; readonly force: boolean; readonly done: Deferred.Deferred<void> | undefined }
  /** An HTLC we offered, decided on chain (`MonitorChain`, BOLT 5): as `HtlcResolved`, a failure with no onion. */
  | { readonly _tag: "OnChain"; readonly event: Extract<ChannelEvent, { readonly _tag: "HtlcResolved" }> }
  | { readonly _tag: "Intercepted"; readonly interceptId: string; readonly action: InterceptAction; readonly reply: Deferred.Deferred<void, InvalidPaymentRequest> }

/**
 * Who waits on a `Pay`: a caller that wants the payment id once it is accepted (`startPayment`),
 * or one that waits for the outcome (`pay`): then ONE deferred carries the refusal or the
 * outcome, registered as a waiter when the payment is accepted (no id reply to wait for first).
 */
type PayReply =
  | { readonly _tag: "Id"; readonly deferred: Deferred.Deferred<string, InvalidPaymentRequest> }
  | { readonly _tag: "Outcome"; readonly deferred: Deferred.Deferred<PaymentResult, InvalidPaymentRequest> }

type InterceptAction =
  | { readonly _tag: "Forward"; readonly channelId: ChannelId; readonly amountMsat: Msat }
  | { readonly _tag: "Fail" }

/** What forwarding needs of a peeled onion (a plain forward, or one inside a blinded route). */
type ForwardOnion = Pick<Extract<ProcessedOnion, { readonly _tag: "Forward" }>, "sharedSecret" | "nextOnion" | "outgoingCltvValue"> & {
  readonly shortChannelId: ShortChannelId | undefined
}

const text = new TextEncoder()
const untext = new TextDecoder()

const htlcKey = (channelId: Uint8Array, htlcId: bigint): string => `${toHex(channelId)}/${htlcId}`

/** The channel and HTLC id of an `htlcKey` (undefined if it does not parse). */
const partOfKey = (key: string): { readonly channelId: ChannelId; readonly htlcId: bigint } | undefined => {
  const [hex, id] = key.split("/")
  if (hex === undefined || id === undefined || !/^[0-9]+$/.test(id)) return undefined
  const channelId = Schema.decodeUnknownOption(ChannelIdSchema)(hex)
  return Option.isNone(channelId) ? undefined : { channelId: channelId.value, htlcId: BigInt(id) }
}

/**
 * Whether a channel's state tells which of our HTLCs are still in it: once it closes (or fails)
 * an HTLC that left the commitments may still be claimed on chain (BOLT 5), so it is never taken
 * for failed. A channel still waiting for `channel_ready` has none (BOLT 2: no update before
 * both `channel_ready`s): after a restart that happens when the state reaching `Normal` was never
 * stored, and then neither was any HTLC of ours (our `commitment_signed` leaves only after a
 * write of the state holding it), so an attempt or forward on it was lost, not pending.
 */
const htlcsKnown = (state: ChannelState): boolean =>
  state._tag === "Normal" || state._tag === "Negotiating" || state._tag === "WaitChannelReady"

/** Our offered HTLCs a channel state still has (in a commitment or in our update log). */
const offeredHtlcs = (state: ChannelState): ReadonlyArray<{ readonly id: bigint; readonly paymentHash: Uint8Array; readonly amount: bigint; readonly cltvExpiry: number }> => {
  if (state._tag !== "Normal" && state._tag !== "Negotiating") return []
  const c = state.commitments
  const out: Array<{ readonly id: bigint; readonly paymentHash: Uint8Array; readonly amount: bigint; readonly cltvExpiry: number }> = []
  for (const h of c.localCommit.spec.htlcs) if (h.direction === "offered") out.push({ id: h.id, paymentHash: h.paymentHash, amount: h.amount, cltvExpiry: h.cltvExpiry })
  for (const h of c.remoteCommit.spec.htlcs) if (h.direction === "received") out.push({ id: h.id, paymentHash: h.paymentHash, amount: h.amount, cltvExpiry: h.cltvExpiry })
  for (const u of [...c.localChanges.proposed, ...c.localChanges.signed, ...c.localChanges.acked]) {
    if (u._tag === "UpdateAddHtlc") out.push({ id: u.id, paymentHash: u.paymentHash, amount: u.amountMsat, cltvExpiry: u.cltvExpiry })
  }
  return out
}

/** Our offered HTLC of an add we stored: by its id once known, else by what the add carried. */
const findOffered = (state: ChannelState, htlcId: bigint | undefined, paymentHash: Uint8Array, amount: bigint, cltvExpiry: number) =>
  offeredHtlcs(state).find((h) => htlcId !== undefined ? h.id === htlcId : equalBytes(h.paymentHash, paymentHash) && h.amount === amount && h.cltvExpiry === cltvExpiry)

/**
 * The largest new HTLC a channel accepts from us now. An estimate from BOLT 2's sender rules
 * (our balance in their next commitment, minus the reserve they require and, as funder, the fee
 * with one more HTLC at twice the feerate and the anchors) is checked against the channel's own
 * rules (`sendAdd`: also in-flight limits, HTLC counts); when they disagree, a binary search below
 * it, still asking `sendAdd`. So the router is never told more than the channel will take.
 * Computed once per channel state (states are immutable values, replaced at each step): a route
 * asks every channel's balance, and most channels did not step since the last route.
 */
const outboundOf = (state: ChannelState): bigint => {
  const known = outboundByState.get(state)
  if (known !== undefined) return known
  const computed = computeOutbound(state)
  outboundByState.set(state, computed)
  return computed
}
const outboundByState = new WeakMap<ChannelState, bigint>()
const computeOutbound = (state: ChannelState): bigint => {
  if (state._tag !== "Normal") return 0n
  const c = state.commitments
  const accepts = (amount: bigint) =>
    Result.isSuccess(sendAdd(c, { amount: msat(amount), paymentHash: PROBE_HASH, cltvExpiry: 1, onionRoutingPacket: PROBE_ONION }, PROBE_LIMITS))
  const p = c.params
  const theirs = nextRemoteSpec(c)
  const fees = p.localIsFunder ? funderCharge(p, theirs, p.remote.dustLimit, 2 * theirs.feeratePerKw, 2) : 0n
  const estimate = theirs.toRemote - p.remote.channelReserve * 1000n - fees
  if (estimate > 0n && accepts(estimate)) return estimate
  let lo = 0n
  let hi: bigint = estimate > 0n ? estimate : c.remoteCommit.spec.toRemote
  if (hi <= 0n || !accepts(1n > p.remote.htlcMinimum ? 1n : p.remote.htlcMinimum)) return 0n
  while (lo < hi) {
    const mid = (lo + hi + 1n) / 2n
    if (accepts(mid)) lo = mid
    else hi = mid - 1n
  }
  return lo
}
const PROBE_HASH = new Uint8Array(32)
const PROBE_ONION = new Uint8Array(1366)
/** Dust exposure is the channel's own check when the HTLC is really added. */
const PROBE_LIMITS = { maxDustHtlcExposure: msat(1n << 62n) }

/**
 * The root of a payment's trace at every node on its path (sender, forwarders, payee): Lightning
 * carries no trace context, so the trace id is derived from the payment hash, which every hop
 * knows, and each node's spans of the payment hang under this external span (never exported
 * itself): one payment, one trace, across the nodes' hops. Hop order: the channel ids. Made
 * again at each use, not kept per payment hash: about one use per node and payment (a memo of the
 * last 1,024 hit 84 of 2,189 uses in a 100-node simulation, and held ~250 bytes per payment at
 * every node on its path).
 */
export const paymentTraceRoot = (paymentHash: Uint8Array): Tracer.ExternalSpan => {
  const d = sha256Concat(TRACE_TAG, paymentHash)
  return Tracer.externalSpan({ traceId: toHex(d.subarray(0, 16)), spanId: toHex(d.subarray(16, 24)), sampled: true })
}
const TRACE_TAG = new TextEncoder().encode("effect-lightning/payment-trace")

/** Span attributes of an incoming HTLC. */
const htlcAttributes = (e: { readonly channelId: Uint8Array; readonly htlcId: bigint; readonly amount: bigint; readonly paymentHash: Uint8Array; readonly cltvExpiry: number }) => ({
  "payment.hash": toHex(e.paymentHash),
  "payment.channelId": toHex(e.channelId),
  "payment.htlcId": e.htlcId.toString(),
  "payment.amountMsat": e.amount.toString(),
  "payment.cltvExpiry": e.cltvExpiry
})

/** `pay` (or another request) refused before anything left. */
const refuse = (reason: string) => Effect.fail(new InvalidPaymentRequest({ reason }))

const describeError = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string"
    ? "reason" in e && typeof e.reason === "string" ? `${e._tag}: ${e.reason}` : e._tag
    : "failed"

/**
 * The final CLTV delta of a keysend (no invoice says one): 40, as LND uses. LDK refuses a final
 * HTLC that expires within 24 blocks (its MIN_FINAL_CLTV_EXPIRY_DELTA): 18 was too few (the LDK
 * interop test found it).
 */
const KEYSEND_FINAL_CLTV_DELTA = 40

/** What a payment id may be (it names the payment's store key). */
const PAYMENT_ID = /^[0-9A-Za-z._-]{1,100}$/

/** How many settled HTLC keys each dedupe set remembers (duplicates come right after a subscription). */
const DEDUPE_CAPACITY = 100_000
/** At most this many inbox inputs are taken (and their overlapping runs handled concurrently) at a time. */
const INBOX_BATCH = 64
/** How many short channel ids' `channel_update`s for failures are kept (see `failureUpdates`). */
const FAILURE_UPDATES = 4096

/**
 * The loop's inbox: inputs in order, taken a batch at a time by its one fiber, which waits when
 * there are none. Scheduled as Effect's unbounded `Queue` with one taker: an input that comes
 * while the fiber waits schedules one task on the dispatcher of the fiber that made the inbox
 * (none again until it ran), which resumes the fiber (synchronously, in that task), and the fiber
 * takes everything there by then (at most `max`); an input that comes while it handles a batch
 * only joins the array. The same tasks, in the same order, with the same batches; without the
 * queue's taker objects, taker set, linked list, and the retried take effect per wake (~9 wakes
 * per payment in the simulation: the loop waits after nearly every input). Exported for its test
 * (test/actors/Payments.inbox.property.test.ts: the same batches and interleaving as the queue).
 */
export class Inbox<A> {
  private items: Array<A> = []
  private head = 0
  /** The waiting fiber's resume (undefined: not waiting). */
  private waiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private wakeScheduled = false
  /** Resumes the waiting fiber (one scheduled task per wait, as `Queue`'s release of its takers). */
  private readonly wake = (): void => {
    this.wakeScheduled = false
    const resume = this.waiter
    if (resume === undefined || this.head >= this.items.length) return
    this.waiter = undefined
    resume(Effect.void)
  }
  /** Waits until an input is there (at once when one is); then `takeNow` gives it. */
  readonly arrival: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.head < this.items.length) return resume(Effect.void)
    this.waiter = resume
    // Interrupted while waiting: no longer a waiter.
    return Effect.sync(() => {
      if (this.waiter === resume) this.waiter = undefined
    })
  })
  private readonly dispatcher: SchedulerDispatcher
  constructor(dispatcher: SchedulerDispatcher) {
    this.dispatcher = dispatcher
  }
  /** Adds an input (and wakes the waiting fiber, once). */
  offer(a: A): void {
    this.items.push(a)
    if (this.waiter !== undefined && !this.wakeScheduled) {
      this.wakeScheduled = true
      this.dispatcher.scheduleTask(this.wake, 0)
    }
  }
  /** `offer` as an effect. */
  offering(a: A): Effect.Effect<void> {
    return Effect.sync(() => this.offer(a))
  }
  /** The next inputs, at most `max` (undefined: none: wait for `arrival`). */
  takeNow(max: number): ReadonlyArray<A> | undefined {
    const left = this.items.length - this.head
    if (left === 0) return undefined
    if (left <= max) {
      // Everything (the usual case): the array itself when nothing was taken from it before.
      const batch = this.head === 0 ? this.items : this.items.slice(this.head)
      this.items = []
      this.head = 0
      return batch
    }
    const batch = this.items.slice(this.head, this.head + max)
    this.head += max
    return batch
  }
}

/** A resolution's result in `handledResolved`'s keys (`seenKeyOf`): distinct per result, 0 for none. */
const RESULT_CODE: { readonly [T in Extract<ChannelEvent, { readonly _tag: "HtlcResolved" }>["result"]["_tag"]]: 1 | 2 | 3 } = {
  Fulfilled: 1,
  Failed: 2,
  Malformed: 3
}

/** `seenKeyOf` gives a number for channel numbers below this, HTLC ids below `SEEN_KEY_IDS`. */
const SEEN_KEY_CHANNELS = 1024
const SEEN_KEY_IDS = 2n ** 40n

/**
 * An HTLC (the channel's number in this run and the HTLC id) and a result code (0-3) as one key
 * of the maps that keep one per HTLC long after it settled (up to `DEDUPE_CAPACITY`): the number
 * `(id * 1024 + channel) * 4 + result` (below 2^52, so exact; a small integer, which the map
 * holds without a heap object, for a channel's first 2^18 ids), else (a node with over 1,024
 * channels, an id from 2^40) the string `channel/id/result`. Injective: the numbers differ by
 * their three parts, the strings too, and a number never equals a string. Exported for its test.
 */
export const seenKeyOf = (channel: number, htlcId: bigint, result: 0 | 1 | 2 | 3): number | string =>
  channel < SEEN_KEY_CHANNELS && htlcId >= 0n && htlcId < SEEN_KEY_IDS
    ? (Number(htlcId) * SEEN_KEY_CHANNELS + channel) * 4 + result
    : `${channel}/${htlcId}/${result}`

/**
 * A set that forgets its oldest keys beyond `capacity` (`add` makes a key the newest again), as
 * `boundedMap` without values: a set's entry takes two slots where a map's takes three.
 */
const boundedSet = <K>(capacity: number) => {
  const keys = new Set<K>()
  return {
    has: (k: K) => keys.has(k),
    delete: (k: K) => keys.delete(k),
    add: (k: K) => {
      keys.delete(k)
      keys.add(k)
      if (keys.size > capacity) {
        const oldest = keys.values().next()
        if (oldest.done !== true) keys.delete(oldest.value)
      }
    }
  }
}

/** A map that forgets its oldest entries beyond `capacity`. */
const boundedMap = <K, V>(capacity: number) => {
  const entries = new Map<K, V>()
  return {
    get: (k: K) => entries.get(k),
    delete: (k: K) => entries.delete(k),
    set: (k: K, v: V) => {
      entries.delete(k)
      entries.set(k, v)
      if (entries.size > capacity) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
    }
  }
}

/**
 * One runtime step each (`withFiberSucceed`) for what the payment path does often: a clock read
 * (the fiber's `Clock`, the same read `Clock.currentTimeMillis` makes, with the synchronous work
 * on its value) and a span annotation (the current span, as `Effect.annotateCurrentSpan`). The
 * plain forms take two to four steps each (the clock's `Effect.sync`, a `map`'s continuation).
 */
const withMillis = <A>(f: (nowMillis: number) => A): Effect.Effect<A> => Effect.withFiberSucceed((fiber) => f(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()))
const currentMillis: Effect.Effect<number> = withMillis((ms) => ms)
const currentNanos: Effect.Effect<bigint> = Effect.withFiberSucceed((fiber) => fiber.getRef(Clock.Clock).currentTimeNanosUnsafe())
/**
 * The fiber's current span (a span of this process, as `Effect.currentSpan` finds it), if any;
 * none when the fiber does not trace (its spans are not made: see `tracingIn`), so nothing is
 * annotated or kept as a parent then (as Effect's no-op spans took and ignored it).
 */
const spanOfFiber = (fiber: Fiber.Fiber<unknown, unknown>): Tracer.Span | undefined => {
  if (!tracingIn(fiber)) return undefined
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  return span?._tag === "Span" ? span : undefined
}
/** Annotates the fiber's current span; the attributes are built only when there is one to take them. */
const annotateSpanOf = (fiber: Fiber.Fiber<unknown, unknown>, attributesOf: () => Readonly<Record<string, unknown>>): void => {
  const span = spanOfFiber(fiber)
  if (span === undefined || span.status._tag === "Ended") return
  const attributes = attributesOf()
  // `for...in`: no [key, value] array per attribute (the attribute objects are plain literals).
  for (const key in attributes) span.attribute(key, attributes[key])
}
const annotateSpan = (attributesOf: () => Readonly<Record<string, unknown>>): Effect.Effect<void> => Effect.withFiberSucceed((fiber) => annotateSpanOf(fiber, attributesOf))

/** What `processOnion` reads of an incoming HTLC. */
export type OnionHtlc = { readonly onion: Uint8Array; readonly paymentHash: Uint8Array; readonly amount: Msat; readonly cltvExpiry: number; readonly pathKey?: Uint8Array | undefined }
type PeeledOnion = ReturnType<typeof processPaymentOnion>
const onionInput = (htlc: OnionHtlc): Parameters<typeof processPaymentOnion>[2] => ({
  onion: htlc.onion,
  paymentHash: htlc.paymentHash,
  amountMsat: htlc.amount,
  cltvExpiry: htlc.cltvExpiry,
  ...(htlc.pathKey === undefined ? {} : { pathKey: htlc.pathKey })
})

/**
 * An incoming HTLC's onion peeled with the signer's ECDH done at once (`NodeEcdhNow`): one peel,
 * each point computed when first asked and only then (as `peelOnionBySigner` computes each point
 * it is asked once, over as many peels as it takes). Same result. Exported for its property test.
 */
export const peelOnionNow = (secp: Secp256k1, ecdhNow: NodeEcdhNow, htlc: OnionHtlc): PeeledOnion => {
  // Outside a blinded route the onion's own key is the only point asked: kept without a map.
  let first: Uint8Array | undefined
  let firstShared: Uint8Array | undefined
  let others: Map<string, Uint8Array | undefined> | undefined
  const ecdh: NodeEcdh = (point) => {
    if (first === undefined) {
      first = point
      firstShared = ecdhNow(point)
      return firstShared
    }
    if (equalBytes(first, point)) return firstShared
    others ??= new Map()
    const k = toHex(point)
    if (!others.has(k)) others.set(k, ecdhNow(point))
    return others.get(k)
  }
  return processPaymentOnion(secp, ecdh, onionInput(htlc))
}

/**
 * An incoming HTLC's onion peeled with ECDH through the signer (an effect per point): the pure
 * onion code asks synchronously, so the points it asks for are computed first, and it peels again.
 * Exported for its property test.
 */
export const peelOnionBySigner = (secp: Secp256k1, signerEcdh: NodeSignerShape["ecdh"], htlc: OnionHtlc): Effect.Effect<PeeledOnion> => {
  /** One peel with the points known so far: its result, and the points it asked for that are not known. */
  const peelOnce = (known: ReadonlyMap<string, Uint8Array | undefined>) => {
    const missing: Array<Uint8Array> = []
    const ecdh: NodeEcdh = (point) => {
      const k = toHex(point)
      if (known.has(k)) return known.get(k)
      missing.push(point)
      return undefined
    }
    const result = processPaymentOnion(secp, ecdh, onionInput(htlc))
    return { result, missing }
  }
  /** Peels until no point is missing (each round's missing points computed through the signer), at most 4 rounds. */
  const peelRounds = (known: Map<string, Uint8Array | undefined>) =>
    Effect.gen(function*() {
      for (let round = 0; round < 4; round++) {
        const { result: r, missing } = peelOnce(known)
        if (missing.length === 0) return r
        for (const p of missing) {
          const s = yield* Effect.result(signerEcdh(p))
          known.set(toHex(p), Result.isSuccess(s) ? s.success : undefined)
        }
      }
      return yield* Effect.die(new Error("onion processing kept asking for new ECDH points"))
    })
  // Outside a blinded route the only point asked is the onion's own key (BOLT 4: bytes 1..33):
  // computed first, so the onion is peeled once (a first pass without it fails and builds its error).
  if (htlc.pathKey === undefined && htlc.onion.length >= 34) {
    const point = htlc.onion.subarray(1, 34)
    const peel = (shared: Uint8Array | undefined) => {
      const known = new Map<string, Uint8Array | undefined>([[toHex(point), shared]])
      // The first round of `peelRounds` without a generator: it asks for no other point (a single path).
      const first = peelOnce(known)
      return first.missing.length === 0 ? Effect.succeed(first.result) : peelRounds(known)
    }
    return Effect.matchEffect(signerEcdh(point), { onFailure: () => peel(undefined), onSuccess: peel })
  }
  return peelRounds(new Map())
}
const describeFailure = (f: FailureMessage | undefined): string => (f === undefined ? "unreadable" : f._tag === "unknown" ? `unknown(${f.code})` : f._tag)

export const make = (
  config: PaymentsConfig
): Effect.Effect<PaymentsShape, never, Scope.Scope | ChannelManager | NodeSigner | Entropy | Store | Router> =>
  Effect.gen(function*() {
    const manager: ChannelManagerShape = yield* ChannelManager
    const signer = yield* NodeSigner
    const entropy = yield* Entropy
    const store = yield* Store
    const network = yield* NodeNetwork
    const scope = yield* Effect.scope
    const router = yield* Router
    const policy = config.forwardingPolicy ?? defaultForwardingPolicy
    const mppTimeoutMillis = config.mppTimeoutMillis ?? 60_000
    const finalCltvMargin = config.finalCltvMargin ?? 3
    const maxAttempts = config.maxAttempts ?? 25
    const secp = config.secp
    /**
     * The clock and the tracing of every fiber that handles inputs (the loop, the timers, what they
     * fork: all forked from this one, so they read the same `Clock` and `TracerEnabled`): the
     * handlers read the time several times per HTLC, with no Effect operation this way; when
     * nothing is traced they skip spans and annotations with none, and the hot handlers (a forward,
     * a receive, a resolution, an attempt) run as generators in their callers' own (`yield*`: no
     * generator effect of their own; in a span of their own otherwise). The API's entry points run
     * on their callers' fibers and read those (`currentMillis`, `nowSeconds`).
     */
    const clock = yield* Clock.Clock
    const millisNow = () => clock.currentTimeMillisUnsafe()
    const secondsNow = () => Math.floor(millisNow() / 1000)
    const traces = yield* Effect.withFiber((fiber) => Effect.succeed(tracingIn(fiber)))
    /** `annotateSpan` run with `yield*` by a handler's generator: nothing at all when nothing is traced. */
    const annotate = function*(attributesOf: () => Readonly<Record<string, unknown>>) {
      if (traces) yield* annotateSpan(attributesOf)
    }
    /** The height, at once when the node gives it so (`blockHeightNow`). Run with `yield*`. */
    const blockHeightNow = config.blockHeightNow
    const currentHeight = function*() {
      return blockHeightNow !== undefined ? blockHeightNow() : yield* config.blockHeight
    }

    const inbox = new Inbox<Input>(yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher)))
    const events = yield* PubSub.unbounded<PaymentEvent>()

    /**
     * What is open, by key (a node runs for years: the store keeps the history, memory only what
     * may still change): invoices that may still be paid and claims under way (by payment hash),
     * pending payments (by id), forwards waiting for their outgoing HTLC (by store key). A record
     * that is done leaves once its last write succeeded (`forget`); reads of it go to the store
     * (`storedRecord`).
     */
    const inbound = new Map<string, InboundRecord>()
    const outbound = new Map<string, OutboundRecord>()
    const forwards = new Map<string, ForwardRecord>()
    /** Outgoing HTLC (channel/htlc id) -> whose it is. */
    const outIndex = new Map<string, { readonly _tag: "Attempt"; readonly paymentId: string; readonly attemptId: number } | { readonly _tag: "Forward"; readonly key: string }>()
    const mppSets = new Map<string, MppSet>()
    /** HTLCs held for the application (`config.intercept`), by intercept id; handed out again after a restart. */
    const intercepted = new Map<string, { readonly e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>; readonly p: Extract<ProcessedOnion, { readonly _tag: "Forward" }> }>()
    const waiters = new Map<string, Array<Deferred.Deferred<PaymentResult, InvalidPaymentRequest>>>()
    /** Per payment: channel directions and nodes that failed it (this run). */
    const excluded = new Map<string, { readonly channels: Array<ExcludedChannel>; readonly nodes: Array<Uint8Array> }>()
    /**
     * Per payment: channel policies learned from failure messages' `channel_update`s (this run),
     * by channel direction; used for that payment's retries only (BOLT 4 forbids applying them to
     * the graph). Bounded by the payment's attempts.
     */
    const learnedUpdates = new Map<string, Map<string, FailureUpdate>>()
    /** The span of the caller of each payment (this run): its attempts' spans hang under it. */
    const callerSpans = new Map<string, Tracer.AnySpan>()
    /**
     * Each pending payment's own span, `payments.payment` (this run): from its first progress (its
     * start, or its recovery after a restart) to its outcome, under the caller's span (else the
     * payment's trace root); its attempts are its children. Pending ones are ended at stop.
     */
    const paymentSpans = new Map<string, Tracer.Span>()
    /** The payment's span, made at its first use; none when the fiber does not trace (`tracingIn`). */
    const paymentSpanOf = (r: OutboundRecord): Effect.Effect<Tracer.Span | undefined> => {
      const existing = paymentSpans.get(r.paymentId)
      return existing !== undefined ? Effect.succeed(existing) : Effect.withFiber((fiber) => (tracingIn(fiber) ? newPaymentSpan(r) : Effect.undefined))
    }
    /** `paymentSpanOf` run with `yield*` by a handler's generator: none, with no step, when nothing is traced. */
    const paymentSpan = function*(r: OutboundRecord) {
      return traces ? yield* paymentSpanOf(r) : undefined
    }
    const newPaymentSpan = (r: OutboundRecord): Effect.Effect<Tracer.Span> => {
      const root = paymentTraceRoot(r.paymentHash)
      const parent = callerSpans.get(r.paymentId) ?? root
      return Effect.map(
        Effect.makeSpan("payments.payment", {
          parent,
          // Started under a caller of another trace (an API request): linked to the payment's trace.
          links: parent.traceId === root.traceId ? [] : [{ span: root, attributes: {} }],
          attributes: {
            ...nodeAttribute,
            "payment.id": r.paymentId,
            "payment.hash": toHex(r.paymentHash),
            "payment.amountMsat": r.amountMsat.toString(),
            "payment.payee": toHex(r.payee)
          }
        }),
        (span) => {
          paymentSpans.set(r.paymentId, span)
          return span
        }
      )
    }
    /** The span of each HTLC of ours in flight (this run), by owner (`paymentId/attemptId` or forward key): its resolution's parent. */
    const htlcSpans = new Map<string, Tracer.AnySpan>()
    /** The span attribute naming this node (the spans of every node of a payment share one trace). */
    const nodeAttribute = { "payment.node": toHex(signer.nodeId) }
    /** The router's path of each attempt in flight (this run), to report its outcome. */
    const attemptPaths = new Map<string, Path>()
    /**
     * Each channel's number in this run (one entry per channel), for `seenKey`: the keys the maps
     * below keep one of per HTLC, long after it settled (up to `DEDUPE_CAPACITY`), name the channel
     * by it (`seenKeyOf`: mostly a small integer, not `htlcKey`'s ~70 characters).
     */
    const channelNumbers = new Map<string, number>()
    const seenKey = (channelId: Uint8Array, htlcId: bigint, result: 0 | 1 | 2 | 3 = 0): number | string => {
      const hex = toHex(channelId)
      let n = channelNumbers.get(hex)
      if (n === undefined) {
        n = channelNumbers.size
        channelNumbers.set(hex, n)
      }
      return seenKeyOf(n, htlcId, result)
    }
    /** Incoming HTLCs handled in this run (the event stream is at-least-once), by `seenKey`; bounded. */
    const handledIncoming = boundedSet<number | string>(DEDUPE_CAPACITY)
    /** Outgoing resolutions handled in this run, by `seenKey` with the result's code; bounded. */
    const handledResolved = boundedSet<number | string>(DEDUPE_CAPACITY)
    /**
     * When each incoming HTLC arrived (this run; a forward's is also in its record) and whether a
     * `path_key` came with it: our hold time in the attribution data of its failure or fulfill
     * (BOLT 4 "Returning Errors", "Hold times for successful payments"). An HTLC reached through
     * a blinded route's `path_key` gets none. Unknown after a restart: 0, as BOLT 4 allows. By
     * `seenKey`; bounded.
     */
    const arrivals = boundedMap<number | string, { readonly atMillis: number; readonly blinded: boolean }>(DEDUPE_CAPACITY)
    /** Our hold time of an incoming HTLC in BOLT 4 units (100 ms), or undefined: no attribution data. */
    const holdTimeOf = (channelId: Uint8Array, htlcId: bigint, receivedAtMillis?: number): number | undefined => {
      const key = seenKey(channelId, htlcId)
      const arrival = arrivals.get(key)
      arrivals.delete(key)
      if (arrival?.blinded === true) return undefined
      // A forward's record keeps its arrival across restarts (an HTLC delivered again after one is
      // not new): its callers give it.
      const at = receivedAtMillis ?? arrival?.atMillis
      return at === undefined ? 0 : Math.floor(Math.max(0, millisNow() - at) / 100)
    }

    // ---- the store -------------------------------------------------------------------------------------

    const writeNow = storeWriteNowOf(store)
    /**
     * A record written: tried again up to 5 times, then a defect (no schedule built per write).
     * The encoded bytes are handed over (`givenPutOp`: nothing here keeps or changes them), so a
     * store keeping values in memory keeps them without a copy of its own.
     */
    const write = function*(ops: ReadonlyArray<StoreOp>) {
      const attempt = (left: number): Effect.Effect<StoreVersion> => Effect.catch(store.write(ops), (e) => (left > 0 ? attempt(left - 1) : Effect.die(e)))
      // A store in memory writes at once (no Effect operation at all: this runs in its caller's
      // generator, `yield*`, when the caller gets there); a refusal takes the retrying way.
      if (writeNow === undefined) return yield* attempt(5)
      const version = writeNow(ops)
      return typeof version === "number" ? version : yield* attempt(4)
    }
    const put = (key: string, json: string) => write([givenPutOp(key, text.encode(json))])
    /**
     * The record under `key` as stored (undefined: none, or it does not decode, as `loadAll` skips
     * it). Run with `yield*` (no effect of its own: one step fewer on a new payment's id check).
     */
    const storedRecord = function*<A>(key: string, schema: Schema.Codec<A, string>) {
      const e = yield* Effect.orDie(store.get(key))
      return e === undefined ? undefined : decoded(schema, e.value)
    }
    const decoded = <A>(schema: Schema.Codec<A, string>, bytes: Uint8Array): A | undefined => {
      const r = Schema.decodeUnknownResult(schema)(untext.decode(bytes))
      return Result.isSuccess(r) ? r.success : undefined
    }
    /**
     * A finished record leaves memory once written (the caller's next step after the write), unless
     * a newer state replaced it meanwhile: the store has it.
     */
    const forget = <R>(map: Map<string, R>, key: string, r: R) => {
      if (map.get(key) === r) map.delete(key)
    }
    /** The record saves are generators too, run with `yield*` where the record is to be written. */
    const saveInbound = function*(r: InboundRecord) {
      const key = toHex(r.paymentHash)
      inbound.set(key, r)
      return yield* put(`pay/in/${key}`, encodeInboundRecord(r))
    }
    /** An invoice or keysend payment by payment hash (hex) as stored: read when it is not open (`inbound`). */
    const storedInbound = (hashHex: string) => storedRecord(`pay/in/${hashHex}`, inboundJson)
    /** Payments accepted but not yet written (`onPay` writes each before its reply, at the latest). */
    const unwritten = new Set<string>()
    /**
     * Of each pending payment, what the store holds of it apart (records.ts `attemptKey`): its
     * record as last written without its attempts (undefined: not yet, or the stored one has them
     * in it, as written before attempts were kept apart) and each attempt as last written, by id.
     * Records and attempts are values (a change makes a new one, sharing what it keeps), so an
     * attempt that is the very object written needs no write again, nor a record whose members
     * but its attempts are (`sameOutboundHead`).
     */
    const apart = new Map<string, { head: OutboundRecord | undefined; readonly attempts: Map<number, AttemptRecord> }>()
    /**
     * A payment written. Pending: only what changed since its last write (an attempt sent, its
     * HTLC id, its outcome; the record itself when a member of its own changed: a preimage, a
     * reason to stop), in one write: a payment retried many times no longer writes every attempt
     * so far at each step. Finished: the whole record with every attempt, its attempts apart
     * deleted in the same write (a finished payment is one record, as read by the API).
     */
    const saveOutbound = function*(r: OutboundRecord) {
      outbound.set(r.paymentId, r)
      unwritten.delete(r.paymentId)
      const key = `pay/out/${r.paymentId}`
      const held = apart.get(r.paymentId)
      if (r.status !== "pending") {
        const ops = [givenPutOp(key, text.encode(encodeOutboundRecord(r)))]
        if (held !== undefined) for (const id of held.attempts.keys()) ops.push(deleteOp(attemptKey(r.paymentId, id)))
        apart.delete(r.paymentId)
        return yield* write(ops)
      }
      const written = held ?? { head: undefined, attempts: new Map<number, AttemptRecord>() }
      const ops: Array<StoreOp> = []
      if (written.head === undefined || !sameOutboundHead(written.head, r)) ops.push(givenPutOp(key, text.encode(encodeOutboundRecord({ ...r, attempts: [] }))))
      for (const a of r.attempts) {
        if (written.attempts.get(a.attemptId) !== a) ops.push(givenPutOp(attemptKey(r.paymentId, a.attemptId), text.encode(encodeAttemptRecord(a))))
      }
      // Nothing changed (a recovery that found every attempt as stored): nothing to write.
      if (ops.length === 0) return
      written.head = r
      for (const a of r.attempts) written.attempts.set(a.attemptId, a)
      apart.set(r.paymentId, written)
      return yield* write(ops)
    }
    /** Every attempt kept apart under `prefix` (records.ts `attemptsPrefix`), by payment id. */
    const storedAttemptsApart = function*(prefix: string) {
      const byPayment = new Map<string, Array<AttemptRecord>>()
      yield* eachStored(prefix, attemptJson, (key, a) => {
        const paymentId = key.slice(attemptsPrefix().length, key.lastIndexOf("/"))
        const list = byPayment.get(paymentId)
        if (list === undefined) byPayment.set(paymentId, [a])
        else list.push(a)
      })
      return byPayment
    }
    /**
     * A payment by id as stored: read when it is not pending (`outbound`). A pending one's attempts
     * are kept apart (read only then: a finished record has them all, an unknown id has none).
     */
    const storedOutbound = function*(paymentId: string) {
      const r = yield* storedRecord(`pay/out/${paymentId}`, outboundJson)
      if (r === undefined || r.status !== "pending") return r
      return withAttemptsApart(r, (yield* storedAttemptsApart(attemptsPrefix(paymentId))).get(paymentId) ?? [])
    }
    const forwardKey = (channelId: Uint8Array, htlcId: bigint) => `pay/fwd/${htlcKey(channelId, htlcId)}`
    /**
     * Per incoming channel, the highest HTLC id a forward was recorded for: a channel numbers its
     * HTLCs upwards (BOLT 2 `id`), so a new HTLC above it has no record and is looked up in memory
     * only; one at or below (delivered again, after a restart or a reconnection) is read from the
     * store when not open. One entry per channel.
     */
    const forwardedUpTo = new Map<string, bigint>()
    const noteForwarded = (channelId: Uint8Array, htlcId: bigint) => {
      const c = toHex(channelId)
      if ((forwardedUpTo.get(c) ?? -1n) < htlcId) forwardedUpTo.set(c, htlcId)
    }
    const saveForward = function*(r: ForwardRecord) {
      const key = forwardKey(r.inChannelId, r.inHtlcId)
      forwards.set(key, r)
      noteForwarded(r.inChannelId, r.inHtlcId)
      return yield* put(key, encodeForwardRecord(r))
    }
    /** A forward's last write (fulfilled or failed back): then it leaves memory. */
    const saveFinishedForward = function*(r: ForwardRecord) {
      yield* saveForward(r)
      forget(forwards, forwardKey(r.inChannelId, r.inHtlcId), r)
    }
    /** Whether an incoming HTLC that has no open forward may have a finished one in the store (see `forwardedUpTo`). */
    const mayHaveForward = (channelId: Uint8Array, htlcId: bigint) => htlcId <= (forwardedUpTo.get(toHex(channelId)) ?? -1n)
    /**
     * An open record no new part can complete (an expired invoice; a keysend payment, whose parts
     * come together), once no MPP set of it is held: out of memory (at start, and at each resync);
     * a part for one is answered from the store, as before.
     */
    const unpayable = (r: InboundRecord, nowSeconds: number) =>
      r.status === "open" && (r.keysend || (r.expiresAtSeconds !== undefined && nowSeconds > r.expiresAtSeconds))
    /** Every record stored under `prefix`, decoded, in key order (one that does not decode is logged and skipped). */
    const eachStored = function*<A>(prefix: string, schema: Schema.Codec<A, string>, keep: (key: string, r: A) => void) {
      for (const e of yield* Effect.orDie(store.list(prefix))) {
        const r = decoded(schema, e.value)
        if (r !== undefined) keep(e.key, r)
        else yield* Effect.logError(`payments: ${e.key} does not decode`)
      }
    }
    /** At start: what is open comes into memory (the rest stays in the store, read when asked). */
    const loadAll = Effect.gen(function*() {
      const now = secondsNow()
      yield* eachStored("pay/in/", inboundJson, (_, r) => {
        if (r.status !== "paid" && !unpayable(r, now)) inbound.set(toHex(r.paymentHash), r)
      })
      const attemptsApart = yield* storedAttemptsApart(attemptsPrefix())
      yield* eachStored("pay/out/", outboundJson, (_, r) => {
        if (r.status !== "pending") return
        const own = attemptsApart.get(r.paymentId) ?? []
        const merged = withAttemptsApart(r, own)
        outbound.set(r.paymentId, merged)
        // What the store has apart (a record written before attempts were kept apart: none, and its
        // next write puts its record and every attempt apart).
        apart.set(r.paymentId, {
          head: r.attempts.length === 0 ? merged : undefined,
          attempts: new Map(merged.attempts.filter((a) => own.includes(a)).map((a) => [a.attemptId, a]))
        })
      })
      yield* eachStored("pay/fwd/", forwardJson, (key, r) => {
        noteForwarded(r.inChannelId, r.inHtlcId)
        if (r.status === "forwarding") forwards.set(key, r)
      })
    })

    // ---- helpers ---------------------------------------------------------------------------------------

    const nowSeconds = withMillis((ms) => Math.floor(ms / 1000))

    /**
     * An incoming HTLC's onion peeled (BOLT 4), with the signer's ECDH at once when it declares one
     * (`ecdhNowOf`: a key in memory; no effect per HTLC), else through its `ecdh` effect.
     */
    const ecdhNow = ecdhNowOf(signer)
    const processOnion = function*(htlc: OnionHtlc) {
      return ecdhNow !== undefined ? peelOnionNow(secp, ecdhNow, htlc) : yield* peelOnionBySigner(secp, signer.ecdh, htlc)
    }

    const channelInfos = manager.listChannels

    /** The preimage of `paymentHash` the monitor of a channel holds, if any (run with `yield*`: no effect of its own). */
    const monitorPreimage = function*(channelId: ChannelId, paymentHash: Uint8Array) {
      const monitor = yield* Effect.result(manager.monitorState(channelId))
      return Result.isSuccess(monitor) && monitor.success !== undefined ? preimageOf(monitor.success, paymentHash) : undefined
    }

    const findByScid = (infos: ReadonlyArray<ChannelInfo>, scid: ShortChannelId): ChannelInfo | undefined =>
      infos.find((c) => shortChannelIdsOf(c.state).includes(scid))

    /** The outgoing channel of a forward: the manager's by-scid lookup (one channel asked), else a search of every channel. */
    const channelOfScid = (scid: ShortChannelId): Effect.Effect<ChannelInfo | undefined> =>
      manager.channelByScid !== undefined ? manager.channelByScid(scid) : Effect.map(channelInfos, (infos) => findByScid(infos, scid))

    const firstHops = (infos: ReadonlyArray<ChannelInfo>): ReadonlyArray<FirstHop> =>
      infos.flatMap((c) => {
        const s = c.state
        if (s._tag !== "Normal" || s.connection !== "Connected" || s.shutdown.localScript !== undefined || s.shutdown.remoteScript !== undefined) return []
        const scid = s.shortChannelId ?? s.remoteAlias ?? s.localAlias
        if (scid === undefined) return []
        return [{
          channelId: c.channelId,
          shortChannelId: scid,
          counterpartyNodeId: c.nodeId,
          outboundMsat: msat(outboundOf(s)),
          htlcMinimumMsat: s.commitments.params.remote.htlcMinimum
        }]
      })

    const failIncoming = (channelId: ChannelId, htlcId: bigint, response: OnionFailureResponse, receivedAtMillis?: number) => {
      const fail = laterIfIntroduction(response, failIncomingNow(channelId, htlcId, response, receivedAtMillis))
      return traces
        ? Effect.andThen(
          annotateSpan(() => ({ "payment.outcome": response._tag === "FailMalformed" ? `malformed ${response.failureCode}` : `failed: ${describeFailure(response.failure)}` })),
          fail
        )
        : fail
    }
    const failIncomingNow = (channelId: ChannelId, htlcId: bigint, response: OnionFailureResponse, receivedAtMillis?: number) =>
      response._tag === "FailMalformed"
        ? Effect.ignore(manager.failMalformedHtlc(channelId, htlcId, response.sha256OfOnion, response.failureCode))
        : Effect.suspend(() => {
          // The erring node starts the attribution data with its hold time (BOLT 4).
          const returned = createFailure(response.sharedSecret, response.failure, holdTimeOf(channelId, htlcId, receivedAtMillis))
          return Effect.ignore(manager.failHtlc(channelId, htlcId, returned.reason, returned.attributionData))
        })

    /**
     * An event published at once (no Effect operation): `events` is unbounded, so a publish is
     * never refused nor waits (`PubSub.publish` does the same in an effect of its own).
     */
    const publish = (e: PaymentEvent): void => {
      // Listeners (`paymentListenerOf`) hear it when it is published (in the same step), before the subscribers.
      for (const l of listeners) l(e)
      PubSub.publishUnsafe(events, e)
    }
    const listeners = new Set<(e: PaymentEvent) => void>()

    // ---- receiving -------------------------------------------------------------------------------------

    const expectedOf = (r: InboundRecord): ExpectedPayment => ({
      paymentHash: r.paymentHash,
      preimage: r.preimage,
      paymentSecret: r.paymentSecret,
      amountMsat: r.amountMsat === undefined ? undefined : msat(r.amountMsat),
      expiresAtSeconds: r.expiresAtSeconds,
      minFinalCltvExpiryDelta: r.minFinalCltvExpiryDelta
    })

    /**
     * Claims a complete set: the claim is stored first (a restart claims every part again), then
     * the preimage is made durable in the monitor of every channel carrying a part (so no part's
     * fulfill leaves while another channel could still lose the preimage), then every part is fulfilled.
     */
    // A generator run in `onReceive`'s own (`yield*`): no generator effect of its own.
    const claimSteps = function*(record: InboundRecord, set: MppSet) {
      const received = set.parts.reduce((s, p) => s + p.amountMsat, 0n)
      const claimedParts = set.parts.map((p) => htlcKey(p.channelId, p.htlcId))
      yield* saveInbound({ ...record, status: "claiming", receivedMsat: received, claimedParts })
      const claimOne = (part: MppSet["parts"][number]) =>
        Effect.catch(
          manager.claimPreimage(part.channelId, part.htlcId, record.preimage),
          (e) => Effect.logWarning(`payments: preimage claim of ${htlcKey(part.channelId, part.htlcId)} failed (${e._tag})`)
        )
      // Several parts: every channel's monitor gets the preimage (all writes at once) before any part
      // is fulfilled. One part (most payments), when the manager can: its fulfill is that write (the
      // channel persists `PaymentPreimage` before `update_fulfill_htlc` leaves), waited for until
      // durable; a channel refusing the fulfill (closed or failed) gets the preimage for its monitor then.
      const fulfillDurably = set.parts.length === 1 ? manager.fulfillHtlcDurably : undefined
      if (fulfillDurably === undefined) yield* Effect.forEach(set.parts, claimOne, { concurrency: "unbounded", discard: true })
      for (const part of set.parts) {
        // The final node starts the fulfill's attribution data with its hold time (BOLT 4).
        const holdTime = holdTimeOf(part.channelId, part.htlcId)
        const attributionData = holdTime === undefined ? undefined : addSuccessAttribution(part.sharedSecret, holdTime, undefined)
        const r = yield* Effect.result((fulfillDurably ?? manager.fulfillHtlc)(part.channelId, part.htlcId, record.preimage, attributionData))
        if (Result.isFailure(r)) {
          yield* Effect.logWarning(`payments: fulfill of ${htlcKey(part.channelId, part.htlcId)} failed (${r.failure._tag})`)
          if (fulfillDurably !== undefined) yield* claimOne(part)
        }
      }
      mppSets.delete(toHex(record.paymentHash))
      const paid: InboundRecord = { ...record, status: "paid", receivedMsat: received, claimedParts }
      yield* saveInbound(paid)
      forget(inbound, toHex(record.paymentHash), paid)
      yield* annotate(() => ({ "payment.outcome": "claimed", "payment.receivedMsat": received.toString(), "payment.parts": set.parts.length }))
      publish({ _tag: "PaymentReceived", paymentHash: record.paymentHash, amountMsat: msat(received), parts: set.parts.length })
    }

    /**
     * The `attribution_data` of a claimed part's fulfill after a restart (BOLT 2: with
     * `option_attribution_data`, every `update_fulfill_htlc` of an HTLC that came without a
     * `path_key` carries it): the part's onion, still in its channel, is peeled again for its
     * shared secret. Undefined when the channel no longer lists it as pending (its fulfill is
     * already on its way, or it is gone) or it came with a `path_key`.
     */
    const reclaimAttribution = (part: { readonly channelId: ChannelId; readonly htlcId: bigint }) =>
      Effect.gen(function*() {
        const channel = yield* Effect.result(manager.channel(part.channelId))
        if (Result.isFailure(channel)) return undefined
        const e = pendingEvents(channel.success.state).find((ev) => ev._tag === "HtlcReceived" && ev.htlcId === part.htlcId)
        if (e?._tag !== "HtlcReceived" || e.pathKey !== undefined) return undefined
        const processed = yield* processOnion(e)
        if (Result.isFailure(processed)) return undefined
        const holdTime = holdTimeOf(part.channelId, part.htlcId)
        return holdTime === undefined ? undefined : addSuccessAttribution(processed.success.sharedSecret, holdTime, undefined)
      })

    /**
     * A stored claim cut short (a restart), found when one of its parts is delivered again: the
     * preimage is made durable on every claimed part's channel again, then every part is fulfilled
     * (a part already fulfilled is refused by its channel, ignored), and the claim ends as in `claim`.
     */
    const reclaim = (record: InboundRecord) =>
      Effect.gen(function*() {
        const parts = (record.claimedParts ?? []).map(partOfKey).filter((p) => p !== undefined)
        yield* Effect.forEach(parts, (part) => Effect.ignore(manager.claimPreimage(part.channelId, part.htlcId, record.preimage)), {
          concurrency: "unbounded",
          discard: true
        })
        for (const part of parts) {
          const attributionData = yield* reclaimAttribution(part)
          yield* Effect.ignore(manager.fulfillHtlc(part.channelId, part.htlcId, record.preimage, attributionData))
        }
        mppSets.delete(toHex(record.paymentHash))
        const paid: InboundRecord = { ...record, status: "paid" }
        yield* saveInbound(paid)
        forget(inbound, toHex(record.paymentHash), paid)
        publish({ _tag: "PaymentReceived", paymentHash: record.paymentHash, amountMsat: msat(record.receivedMsat), parts: parts.length })
      })

    const onReceive = function*(
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      p: Extract<ProcessedOnion, { readonly _tag: "Receive" }>
    ) {
      const height = yield* currentHeight()
      const hashHex = toHex(e.paymentHash)
      let record = inbound.get(hashHex) ?? (yield* storedInbound(hashHex))
      const part = {
        paymentHash: e.paymentHash,
        amountMsat: e.amount,
        cltvExpiry: e.cltvExpiry,
        paymentSecret: p.paymentSecret,
        totalMsat: p.totalMsat,
        customRecords: p.customRecords
      }
      if (record !== undefined && record.status !== "open") {
        // A part of a payment being (or already) claimed, delivered again: fulfil it. Any other
        // HTLC for a paid hash is refused (BOLT 4: MAY treat the hash as unknown): never paid twice.
        if ((record.claimedParts ?? []).includes(htlcKey(e.channelId, e.htlcId))) {
          if (record.status === "claiming") return yield* reclaim(record)
          const holdTime = holdTimeOf(e.channelId, e.htlcId)
          const attributionData = holdTime === undefined ? undefined : addSuccessAttribution(p.sharedSecret, holdTime, undefined)
          return yield* Effect.ignore(manager.fulfillHtlc(e.channelId, e.htlcId, record.preimage, attributionData))
        }
        return yield* failIncoming(e.channelId, e.htlcId, { _tag: "Fail", failure: unknownPaymentDetails(e.amount, height), sharedSecret: p.sharedSecret })
      }
      if (record === undefined) {
        const preimage = keysendPreimage(part)
        if (preimage !== undefined) {
          record = {
            paymentHash: e.paymentHash,
            preimage,
            keysend: true,
            minFinalCltvExpiryDelta: 0,
            status: "open",
            receivedMsat: 0n,
            createdAtSeconds: secondsNow()
          }
          yield* saveInbound(record)
        }
      }
      // One clock reading for the expiry check and the MPP set's start.
      const now = millisNow()
      const checked = checkFinalPart(record === undefined ? undefined : expectedOf(record), part, { height, nowSeconds: Math.floor(now / 1000) })
      if (record === undefined || Result.isFailure(checked)) {
        const failure = Result.isFailure(checked) ? checked.failure : { _tag: "incorrect_or_unknown_payment_details" as const, htlcMsat: e.amount, height }
        return yield* failIncoming(e.channelId, e.htlcId, { _tag: "Fail", failure, sharedSecret: p.sharedSecret })
      }
      const added = addMppPart(mppSets.get(hashHex), { channelId: e.channelId, htlcId: e.htlcId, amountMsat: e.amount, sharedSecret: p.sharedSecret }, p.totalMsat, now)
      switch (added._tag) {
        case "Mismatch":
          return yield* failIncoming(e.channelId, e.htlcId, { _tag: "Fail", failure: { _tag: "incorrect_or_unknown_payment_details", htlcMsat: e.amount, height }, sharedSecret: p.sharedSecret })
        case "Waiting": {
          const isNew = !mppSets.has(hashHex)
          mppSets.set(hashHex, added.set)
          if (isNew) {
            yield* Effect.sleep(Duration.millis(mppTimeoutMillis)).pipe(
              Effect.andThen(inbox.offering({ _tag: "MppTimeout", paymentHash: hashHex, firstAtMillis: added.set.firstAtMillis })),
              Effect.forkIn(scope)
            )
          }
          return
        }
        case "Complete":
          mppSets.set(hashHex, added.set)
          return yield* claimSteps(record, added.set)
      }
    }

    const onMppTimeout = (hashHex: string, firstAtMillis: number) =>
      Effect.gen(function*() {
        const set = mppSets.get(hashHex)
        if (set === undefined || set.firstAtMillis !== firstAtMillis) return
        mppSets.delete(hashHex)
        for (const part of set.parts) {
          yield* failIncoming(part.channelId, part.htlcId, { _tag: "Fail", failure: { _tag: "mpp_timeout" }, sharedSecret: part.sharedSecret })
        }
      })

    // ---- forwarding ------------------------------------------------------------------------------------

    const outgoingOf = (info: ChannelInfo | undefined): OutgoingChannel => {
      if (info === undefined) return { _tag: "Unknown" }
      const s = info.state
      if (s._tag !== "Normal" || (s.shutdown.localScript !== undefined || s.shutdown.remoteScript !== undefined)) return { _tag: "Disabled" }
      if (s.connection !== "Connected") return { _tag: "Offline" }
      return { _tag: "Usable", policy }
    }

    /** Our forwarding policy's answer (BOLT 4: the outgoing channel and the amounts and expiries the onion asks) to forwarding `e` as `p` asks, at `height`. */
    const refusalOf = (
      out: ChannelInfo | undefined,
      e: { readonly amount: Msat; readonly cltvExpiry: number },
      p: { readonly amtToForward: Msat; readonly outgoingCltvValue: number },
      height: number
    ): FailureMessage | undefined =>
      checkForward(outgoingOf(out), {
        incomingAmountMsat: e.amount,
        incomingCltvExpiry: e.cltvExpiry,
        amtToForward: p.amtToForward,
        outgoingCltvValue: p.outgoingCltvValue
      }, height)

    /**
     * Last timestamp signed per scid (ours: strictly increasing, BOLT 7) and the update signed with
     * it. The scids are our channels' (and intercepted ones) as incoming onions name them: bounded,
     * as the channels closed long ago would stay otherwise.
     */
    const failureUpdates = boundedMap<ShortChannelId, { readonly timestamp: number; readonly disabled: boolean; readonly raw: Uint8Array }>(FAILURE_UPDATES)

    /**
     * Our current `channel_update` for an outgoing channel, for an UPDATE failure (BOLT 4: "report
     * the current channel setting for the outgoing channel", with the `short_channel_id` the
     * incoming onion used): the policy we enforce, the disable bit when it cannot forward now,
     * `dont_forward` when unannounced. Signed once per scid and state; empty if the channel is gone.
     */
    const ourChannelUpdate = function*(outChannelId: ChannelId, scid: ShortChannelId | undefined) {
      const info = yield* Effect.result(manager.channel(outChannelId))
      if (Result.isFailure(info)) return new Uint8Array(0)
      const s = info.success.state
      const onionScid = scid ?? shortChannelIdsOf(s)[0]
      if (onionScid === undefined) return new Uint8Array(0)
      const disabled = outgoingOf(info.success)._tag !== "Usable"
      const cached = failureUpdates.get(onionScid)
      if (cached !== undefined && cached.disabled === disabled) return cached.raw
      const now = secondsNow()
      const timestamp = Math.max(now, (cached?.timestamp ?? 0) + 1)
      const unsigned = failureUpdateFields({
        chainHash: network.chainHash,
        shortChannelId: onionScid,
        timestamp,
        ourNodeId: signer.nodeId,
        peerNodeId: info.success.nodeId,
        policy,
        disabled,
        announced: s._tag === "Normal" && s.commitments.params.announce
      })
      if (Result.isFailure(unsigned)) return new Uint8Array(0)
      const signature = yield* Effect.result(signer.signDigest(channelUpdateDigest(unsigned.success)))
      if (Result.isFailure(signature)) return new Uint8Array(0)
      // A copy of its own: the encoding is a view of a shared 8 KiB slab (`copyToSlab`), which a kept view keeps alive.
      const raw = unsigned.success.slice()
      raw.set(signature.success, 2)
      failureUpdates.set(onionScid, { timestamp, disabled, raw })
      return raw
    }

    /**
     * A failure with our outgoing channel's update in it when its code carries one. It and
     * `ourChannelUpdate` are generators their callers (generators) run with `yield*`: no effect of their own.
     */
    const withOurUpdate = function*(failure: FailureMessage, outChannelId: ChannelId, scid: ShortChannelId | undefined) {
      return "channelUpdate" in failure ? withChannelUpdate(failure, yield* ourChannelUpdate(outChannelId, scid)) : failure
    }

    /** A forward failed back (a generator run in its callers' own with `yield*`: no generator effect of its own). */
    const failBack = function*(record: ForwardRecord, failure: FailureMessage) {
      yield* saveFinishedForward({ ...record, status: "failed" })
      yield* failIncoming(record.inChannelId, record.inHtlcId, blindedFailureResponse(record, { _tag: "Fail", failure, sharedSecret: record.sharedSecret }), record.receivedAtMillis)
      publish({ _tag: "ForwardFailed", paymentHash: record.paymentHash, inChannelId: record.inChannelId, failure: failure._tag })
    }

    /** A forward fulfilled back (a generator run in its callers' own with `yield*`, as `failBack`). */
    const fulfillBack = function*(record: ForwardRecord, preimage: Uint8Array, downstreamAttribution?: Uint8Array) {
      yield* saveFinishedForward({ ...record, status: "fulfilled" })
      yield* annotate(() => ({ "payment.outcome": "fulfilled", "payment.feeMsat": (record.inAmountMsat - record.outAmountMsat).toString() }))
      // The channel persists the preimage (its monitor's `PaymentPreimage`) before `update_fulfill_htlc` leaves.
      // Our hold time goes into the fulfill's attribution data (BOLT 4), not inside a blinded route.
      const holdTime = holdTimeOf(record.inChannelId, record.inHtlcId, record.receivedAtMillis)
      const attributionData = holdTime === undefined || record.blinded?.introduction === false
        ? undefined
        : addSuccessAttribution(record.sharedSecret, holdTime, downstreamAttribution)
      const fulfilled = yield* Effect.result(manager.fulfillHtlc(record.inChannelId, record.inHtlcId, preimage, attributionData))
      // A force-closed incoming channel refuses the fulfill: its monitor still takes the preimage
      // and claims the incoming HTLC on chain (BOLT 5).
      if (Result.isFailure(fulfilled)) yield* Effect.ignore(manager.claimPreimage(record.inChannelId, record.inHtlcId, preimage))
      publish({
        _tag: "HtlcForwarded",
        paymentHash: record.paymentHash,
        inChannelId: record.inChannelId,
        inHtlcId: record.inHtlcId,
        outChannelId: record.outChannelId,
        feeMsat: msat(record.inAmountMsat - record.outAmountMsat)
      })
    }

    /** An incoming HTLC whose forward record exists (delivered again after a restart). */
    const resumeForward = (record: ForwardRecord, key: string) =>
      Effect.gen(function*() {
        if (record.status === "failed") {
          const failure = yield* withOurUpdate({ _tag: "temporary_channel_failure", channelUpdate: new Uint8Array(0) }, record.outChannelId, record.outShortChannelId)
          return yield* failIncoming(record.inChannelId, record.inHtlcId, blindedFailureResponse(record, { _tag: "Fail", failure, sharedSecret: record.sharedSecret }), record.receivedAtMillis)
        }
        const preimage = yield* monitorPreimage(record.outChannelId, record.paymentHash)
        if (preimage !== undefined) return yield* fulfillBack(record, preimage)
        if (record.status === "fulfilled") return
        const out = yield* Effect.result(manager.channel(record.outChannelId))
        // Closed or failed: the outgoing HTLC may still be claimed on chain; the incoming one waits.
        if (Result.isFailure(out) || !htlcsKnown(out.success.state)) return
        const htlc = findOffered(out.success.state, record.outHtlcId, record.paymentHash, record.outAmountMsat, record.outCltvExpiry)
        if (htlc !== undefined) {
          if (record.outHtlcId === undefined) yield* saveForward({ ...record, outHtlcId: htlc.id })
          outIndex.set(htlcKey(record.outChannelId, htlc.id), { _tag: "Forward", key })
          return
        }
        // The outgoing HTLC is gone (never added, or failed) and no preimage came back: fail it back.
        // Unless it is one we track in this run (added, or found in its channel at start): it left
        // its channel by a resolution (the channel keeps our HTLCs across reconnections), whose
        // event is on its way (at least once; the channel may hold it until its write is durable)
        // and settles the forward; the monitor drops a fulfilled HTLC's preimage once no
        // commitment needs it, so its absence proves nothing, and failing back now could refund
        // upstream what was paid downstream.
        if (record.outHtlcId !== undefined && outIndex.has(htlcKey(record.outChannelId, record.outHtlcId))) return
        yield* failBack(record, yield* withOurUpdate({ _tag: "temporary_channel_failure", channelUpdate: new Uint8Array(0) }, record.outChannelId, record.outShortChannelId))
      })

    const onForward = function*(
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      p: Extract<ProcessedOnion, { readonly _tag: "Forward" }>
    ) {
      const key = forwardKey(e.channelId, e.htlcId)
      const existing = forwards.get(key) ?? (mayHaveForward(e.channelId, e.htlcId) ? yield* storedRecord(key, forwardJson) : undefined)
      if (existing !== undefined) return yield* resumeForward(existing, key)
      const height = yield* currentHeight()
      const out = yield* channelOfScid(p.shortChannelId)
      const refused = refusalOf(out, e, p, height)
      if (out === undefined && config.intercept?.(p.shortChannelId) === true) {
        // An HTLC for a fake short channel id: the application decides (a just-in-time channel).
        const interceptId = htlcKey(e.channelId, e.htlcId)
        intercepted.set(interceptId, { e, p })
        yield* annotate(() => ({ "payment.outcome": "intercepted" }))
        return publish({
          _tag: "HtlcIntercepted",
          interceptId,
          paymentHash: e.paymentHash,
          shortChannelId: p.shortChannelId,
          inAmountMsat: e.amount,
          expectedOutAmountMsat: p.amtToForward,
          outgoingCltvValue: p.outgoingCltvValue
        })
      }
      if (refused !== undefined || out === undefined) {
        const failure = refused === undefined || out === undefined ? refused ?? { _tag: "unknown_next_peer" as const } : yield* withOurUpdate(refused, out.channelId, p.shortChannelId)
        return yield* failIncoming(e.channelId, e.htlcId, { _tag: "Fail", failure, sharedSecret: p.sharedSecret })
      }
      return yield* startForward(e, p, out.channelId, p.amtToForward)
    }

    /** An intercepted HTLC failed back (`unknown_next_peer`). */
    const failHeld = (held: { readonly e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>; readonly p: ForwardOnion }) =>
      failIncoming(held.e.channelId, held.e.htlcId, { _tag: "Fail", failure: { _tag: "unknown_next_peer" }, sharedSecret: held.p.sharedSecret })

    /** The application's answer to an intercepted HTLC. */
    const onIntercepted = (interceptId: string, action: InterceptAction, reply: Deferred.Deferred<void, InvalidPaymentRequest>) =>
      Effect.gen(function*() {
        const held = intercepted.get(interceptId)
        if (held === undefined) return yield* Deferred.fail(reply, new InvalidPaymentRequest({ reason: `no intercepted HTLC ${interceptId}` }))
        if (action._tag === "Forward" && action.amountMsat > held.e.amount) {
          return yield* Deferred.fail(reply, new InvalidPaymentRequest({ reason: "cannot forward more than came in" }))
        }
        intercepted.delete(interceptId)
        if (action._tag === "Fail") {
          yield* failHeld(held)
        } else {
          yield* startForward(held.e, held.p, action.channelId, action.amountMsat)
        }
        yield* Deferred.succeed(reply, undefined)
      }).pipe((self) => spanned(self, "payments.intercepted", () => ({ attributes: { "payment.interceptId": interceptId, "payment.action": action._tag } })))

    /** Records the forward, then adds the outgoing HTLC (failing the incoming one back if the channel refuses). */
    const startForward = function*(
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      p: ForwardOnion,
      outChannelId: ChannelId,
      outAmount: Msat,
      /** Inside a blinded route: the next `path_key` for the outgoing `update_add_htlc`. */
      blinded?: { readonly pathKey: PublicKey; readonly introduction: boolean }
    ) {
      const key = forwardKey(e.channelId, e.htlcId)
      const out = { channelId: outChannelId }
      const record: ForwardRecord = {
        inChannelId: e.channelId,
        inHtlcId: e.htlcId,
        inAmountMsat: e.amount,
        paymentHash: e.paymentHash,
        sharedSecret: p.sharedSecret,
        outChannelId: out.channelId,
        outAmountMsat: outAmount,
        outCltvExpiry: p.outgoingCltvValue,
        receivedAtMillis: arrivals.get(seenKey(e.channelId, e.htlcId))?.atMillis ?? millisNow(),
        ...(p.shortChannelId === undefined ? {} : { outShortChannelId: p.shortChannelId }),
        ...(blinded === undefined ? {} : { blinded: { introduction: blinded.introduction, sha256OfOnion: sha256(e.onion) } }),
        status: "forwarding"
      }
      yield* saveForward(record)
      yield* annotate(() => ({ "payment.outcome": "forwarded", "payment.outChannelId": toHex(out.channelId) }))
      // The other forwards of this batch (concurrent groups) get to this point too before this
      // add leaves: the outgoing channel then finds their adds together in its mailbox and signs
      // them in one `commitment_signed` (measured, 3 hops, 50 in flight: 21.9 -> 16.0 HTLC
      // signatures per payment; the signatures per commitment follow from when adds arrive).
      yield* Effect.yieldNow
      const added = yield* Effect.result(manager.addHtlc(out.channelId, {
        requestId: `fwd/${htlcKey(e.channelId, e.htlcId)}`,
        amount: outAmount,
        paymentHash: e.paymentHash,
        cltvExpiry: p.outgoingCltvValue,
        onion: p.nextOnion,
        ...(blinded === undefined ? {} : { pathKey: blinded.pathKey })
      }))
      if (Result.isFailure(added)) {
        return yield* failBack(record, yield* withOurUpdate({ _tag: "temporary_channel_failure", channelUpdate: new Uint8Array(0) }, out.channelId, p.shortChannelId))
      }
      yield* saveForward({ ...record, outHtlcId: added.success })
      outIndex.set(htlcKey(out.channelId, added.success), { _tag: "Forward", key })
      if (traces) {
        yield* Effect.withFiberSucceed((fiber) => {
          const span = spanOfFiber(fiber)
          if (span !== undefined) htlcSpans.set(key, span)
        })
      }
    }

    const onForwardResolved = function*(key: string, result: Extract<ChannelEvent, { readonly _tag: "HtlcResolved" }>["result"]) {
      const record = forwards.get(key)
      if (record === undefined || record.status !== "forwarding") return
      switch (result._tag) {
        case "Fulfilled":
          return yield* fulfillBack(record, result.preimage, result.attributionData)
        case "Failed": {
          // Failed on chain (the monitor's resolution carries no failure onion): we fail it back ourselves.
          if (result.reason.length === 0) return yield* failBack(record, { _tag: "permanent_channel_failure" })
          // Inside a blinded route the downstream failure is not relayed: ours replaces it (BOLT 2).
          if (record.blinded !== undefined) return yield* failBack(record, { _tag: "invalid_onion_blinding", sha256OfOnion: record.blinded.sha256OfOnion })
          yield* saveFinishedForward({ ...record, status: "failed" })
          // Wrapped, and our hold time added to the attribution data (all-zero when none came: BOLT 4).
          const holdTime = holdTimeOf(record.inChannelId, record.inHtlcId, record.receivedAtMillis)
          const wrapped = forwardFailure(record.sharedSecret, { reason: result.reason, attributionData: result.attributionData }, holdTime)
          yield* Effect.ignore(manager.failHtlc(record.inChannelId, record.inHtlcId, wrapped.reason, wrapped.attributionData))
          publish({ _tag: "ForwardFailed", paymentHash: record.paymentHash, inChannelId: record.inChannelId, failure: "downstream" })
          return
        }
        case "Malformed":
          // BOLT 2: the malformed code goes back as a regular failure from us, with the onion's hash.
          return yield* failBack(record, failureFromMalformed(result.failureCode, result.sha256OfOnion))
      }
    }

    // ---- blinded routes (BOLT 4 "Route Blinding") and route hints ---------------------------------------

    const gossipSync = yield* Effect.serviceOption(GossipSync)

    const introductionDelayMillis = config.blindedFailureDelayMillis ?? 500
    /**
     * BOLT 4 / BOLT 2: an introduction node SHOULD add a random delay before failing an HTLC back
     * (failures inside a blinded path are likely probes). Only it sends `invalid_onion_blinding` in
     * `update_fail_htlc` (deeper nodes send it malformed), so that is what is delayed: by 0 to
     * `blindedFailureDelayMillis` from `Entropy`, on a fiber of its own (the loop goes on; a restart
     * before it fails the HTLC again, as for any HTLC not yet failed).
     */
    const laterIfIntroduction = (response: OnionFailureResponse, fail: Effect.Effect<void>): Effect.Effect<void> =>
      response._tag !== "Fail" || response.failure._tag !== "invalid_onion_blinding" || introductionDelayMillis <= 0
        ? fail
        : Effect.gen(function*() {
          const r = yield* entropy.randomBytes(4)
          const millis = new DataView(r.buffer, r.byteOffset, 4).getUint32(0) % (introductionDelayMillis + 1)
          yield* Effect.sleep(Duration.millis(millis)).pipe(Effect.andThen(fail), Effect.forkIn(scope))
        })
    /** Where blinded paths to us read the policies before us: the config's, else the node's `RouterGraph` if it has one. */
    const routerGraph = yield* Effect.serviceOption(RouterGraph)
    const blindedPathGraph = config.blindedPathGraph ?? (Option.isSome(routerGraph) ? routerGraph.value.current : undefined)

    /** Our usable channel to `nodeId` with the most outbound liquidity (a blinded hop's `next_node_id`). */
    const channelToNode = (infos: ReadonlyArray<ChannelInfo>, nodeId: Uint8Array): ChannelInfo | undefined => {
      let best: ChannelInfo | undefined
      let bestOut = -1n
      for (const c of infos) {
        if (!equalBytes(c.nodeId, nodeId) || outgoingOf(c)._tag !== "Usable") continue
        const o = outboundOf(c.state)
        if (o > bestOut) {
          best = c
          bestOut = o
        }
      }
      return best
    }

    /**
     * Relaying inside a blinded route (BOLT 4): the amount and CLTV come from `payment_relay`
     * (and are held to our policy like any forward), the outgoing channel from `short_channel_id`
     * or `next_node_id`, and the outgoing `update_add_htlc` carries the next `path_key`. Any
     * refusal is `invalid_onion_blinding` (BOLT 2: `update_fail_htlc` from the introduction node,
     * `update_fail_malformed_htlc` from a node reached with a `path_key`).
     */
    const onBlindedForward = (
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      p: Extract<ProcessedOnion, { readonly _tag: "BlindedForward" }>
    ) =>
      Effect.gen(function*() {
        if (p.shortChannelId === undefined && p.nextNodeId !== undefined && equalBytes(p.nextNodeId, signer.nodeId)) return yield* onDummyHops(e, p)
        const key = forwardKey(e.channelId, e.htlcId)
        const existing = forwards.get(key) ?? (mayHaveForward(e.channelId, e.htlcId) ? yield* storedRecord(key, forwardJson) : undefined)
        if (existing !== undefined) return yield* resumeForward(existing, key)
        const height = yield* currentHeight()
        const infos = yield* channelInfos
        const out = p.shortChannelId !== undefined
          ? findByScid(infos, p.shortChannelId)
          : p.nextNodeId === undefined
          ? undefined
          : channelToNode(infos, p.nextNodeId)
        const refused = refusalOf(out, e, p, height)
        const pathKey = parsePublicKey(secp, p.nextPathKey)
        if (refused !== undefined || out === undefined || Result.isFailure(pathKey)) {
          yield* annotate(() => ({ "payment.refused": refused?._tag ?? "no next hop" }))
          return yield* refuseInsideBlinded(e, p)
        }
        const onion = { sharedSecret: p.sharedSecret, nextOnion: p.nextOnion, outgoingCltvValue: p.outgoingCltvValue, shortChannelId: p.shortChannelId }
        return yield* startForward(e, onion, out.channelId, p.amtToForward, { pathKey: pathKey.success, introduction: p.introduction })
      })

    /**
     * Dummy hops at the end of one of our blinded paths (BOLT 4: the recipient MAY add them and
     * ignores them on receipt): the next layers are ours too; peeled here (at most 8) down to the
     * final one, which is received as the HTLC itself. Anything else inside is refused like every
     * failure inside the route.
     */
    const onDummyHops = (
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      first: Extract<ProcessedOnion, { readonly _tag: "BlindedForward" }>
    ) =>
      Effect.gen(function*() {
        let p = first
        for (let depth = 0; depth < 8; depth++) {
          const pathKey = parsePublicKey(secp, p.nextPathKey)
          if (Result.isFailure(pathKey)) break
          const inner = { ...e, onion: p.nextOnion, amount: p.amtToForward, cltvExpiry: p.outgoingCltvValue, pathKey: pathKey.success }
          const next = yield* processOnion(inner)
          if (Result.isFailure(next)) break
          const n = next.success
          // The HTLC is still the one that came in: failures name its onion.
          if (n._tag === "BlindedReceive") return yield* onBlindedReceive({ ...inner, onion: e.onion }, n)
          if (n._tag !== "BlindedForward" || n.shortChannelId !== undefined || n.nextNodeId === undefined || !equalBytes(n.nextNodeId, signer.nodeId)) break
          p = n
        }
        return yield* refuseInsideBlinded(e, first)
      })

    /** An HTLC refused inside a blinded route: `invalid_onion_blinding`, as its place in the route says (BOLT 4). */
    const refuseInsideBlinded = (
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      p: Extract<ProcessedOnion, { readonly _tag: "BlindedForward" }>
    ) => {
      const sha256OfOnion = sha256(e.onion)
      return failIncoming(
        e.channelId,
        e.htlcId,
        blindedFailureResponse({ blinded: { introduction: p.introduction, sha256OfOnion }, sharedSecret: p.sharedSecret }, {
          _tag: "Fail",
          failure: { _tag: "invalid_onion_blinding", sha256OfOnion },
          sharedSecret: p.sharedSecret
        })
      )
    }

    /**
     * The final node of a blinded route (BOLT 4): only a payment we built blinded paths for, with
     * their `path_id`, is taken; then the checks and MPP set of any final HTLC (`total_amount_msat`
     * as the total). A refusal of an HTLC that came with a `path_key` is `invalid_onion_blinding`
     * (malformed); reached directly (we are the introduction node), the usual failure.
     */
    const onBlindedReceive = (
      e: Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>,
      p: Extract<ProcessedOnion, { readonly _tag: "BlindedReceive" }>
    ) =>
      Effect.gen(function*() {
        const height = yield* currentHeight()
        const hashHex = toHex(e.paymentHash)
        const record = inbound.get(hashHex) ?? (yield* storedInbound(hashHex))
        const again = record !== undefined && (record.claimedParts ?? []).includes(htlcKey(e.channelId, e.htlcId))
        const part = {
          paymentHash: e.paymentHash,
          amountMsat: e.amount,
          cltvExpiry: e.cltvExpiry,
          paymentSecret: p.pathId,
          totalMsat: p.totalAmountMsat,
          customRecords: p.customRecords
        }
        const checked = record === undefined || record.pathId === undefined || p.pathId === undefined || !equalBytes(record.pathId, p.pathId)
          ? Result.fail(unknownPaymentDetails(e.amount, height))
          : again
          ? Result.void
          : record.status !== "open"
          ? Result.fail(unknownPaymentDetails(e.amount, height))
          : checkFinalPart(expectedOf(record), part, { height, nowSeconds: secondsNow() })
        if (Result.isFailure(checked)) {
          const blinded = e.pathKey === undefined ? undefined : { introduction: false, sha256OfOnion: sha256(e.onion) }
          return yield* failIncoming(e.channelId, e.htlcId, blindedFailureResponse({ blinded, sharedSecret: p.sharedSecret }, { _tag: "Fail", failure: checked.failure, sharedSecret: p.sharedSecret }))
        }
        return yield* onReceive(e, {
          _tag: "Receive",
          amtToForward: p.amtToForward,
          outgoingCltvValue: p.outgoingCltvValue,
          totalMsat: p.totalAmountMsat,
          paymentSecret: p.pathId,
          paymentMetadata: undefined,
          customRecords: p.customRecords,
          sharedSecret: p.sharedSecret
        })
      })

    /** A direction's policy as the routing graph has it, for the channel `source -> target` among `scids` (or any, when undefined). */
    const graphPolicy = (
      graph: RoutingGraph,
      source: Uint8Array,
      target: Uint8Array,
      scids: ReadonlyArray<ShortChannelId> | undefined
    ): { readonly shortChannelId: ShortChannelId; readonly policy: RelayPolicy; readonly capacity: number } | undefined => {
      const t = graph.nodeIndex(target)
      if (t === undefined) return undefined
      let best: { readonly shortChannelId: ShortChannelId; readonly policy: RelayPolicy; readonly capacity: number } | undefined
      for (let edge = graph.inStart[t] ?? 0; edge < (graph.inStart[t + 1] ?? 0); edge++) {
        const from = graph.nodeId(graph.edgeSource(edge))
        const scid = graph.edgeScid(edge)
        if (!equalBytes(from, source) || (scids !== undefined && !scids.includes(scid))) continue
        const max = graph.edgeHtlcMaximumMsat(edge)
        const candidate = {
          shortChannelId: scid,
          capacity: graph.edgeCapacityMsat(edge),
          policy: {
            feeBaseMsat: graph.edgeFeeBaseMsat(edge),
            feeProportionalMillionths: graph.edgeFeePpm(edge),
            cltvExpiryDelta: graph.edgeCltvDelta(edge),
            htlcMinimumMsat: BigInt(Math.ceil(graph.edgeHtlcMinimumMsat(edge))),
            htlcMaximumMsat: Number.isFinite(max) && max < 2 ** 62 ? BigInt(Math.floor(max)) : 1n << 62n
          }
        }
        if (best === undefined || candidate.capacity > best.capacity) best = candidate
      }
      return best
    }

    /**
     * The forwarders of blinded paths to us, best first: for each channel that can receive
     * `amount` now, its peer with its policy towards us (the graph's, else the peer's private
     * `channel_update`), and with `hops` 2 the peer's best other channel in the graph before it.
     */
    const blindedForwarders = (hops: 1 | 2, amount: bigint | undefined) =>
      Effect.gen(function*() {
        const graph = blindedPathGraph === undefined ? undefined : yield* blindedPathGraph
        const updates = Option.isSome(gossipSync) ? yield* gossipSync.value.peerChannelUpdates() : []
        const candidates: Array<{ readonly forwarders: ReadonlyArray<BlindedForwarder>; readonly inbound: bigint }> = []
        for (const c of yield* channelInfos) {
          const s = c.state
          if (s._tag !== "Normal" || outgoingOf(c)._tag !== "Usable") continue
          const inbound = s.commitments.localCommit.spec.toRemote
          if (amount !== undefined && inbound < amount) continue
          const scids = shortChannelIdsOf(s)
          const fromGraph = graph === undefined ? undefined : graphPolicy(graph, c.nodeId, signer.nodeId, scids)
          const update = updates.find((u) => !u.disabled && equalBytes(u.nodeId, c.nodeId) && scids.includes(u.shortChannelId))
          const last: BlindedForwarder | undefined = fromGraph !== undefined
            ? { nodeId: c.nodeId, shortChannelId: fromGraph.shortChannelId, policy: fromGraph.policy }
            : update === undefined
            ? undefined
            : { nodeId: c.nodeId, shortChannelId: update.shortChannelId, policy: update }
          if (last === undefined) continue
          if (hops === 1) {
            candidates.push({ forwarders: [last], inbound })
            continue
          }
          if (graph === undefined) continue
          const p = graph.nodeIndex(c.nodeId)
          if (p === undefined) continue
          let before: { readonly nodeId: Uint8Array; readonly shortChannelId: ShortChannelId; readonly policy: RelayPolicy; readonly capacity: number } | undefined
          for (let edge = graph.inStart[p] ?? 0; edge < (graph.inStart[p + 1] ?? 0); edge++) {
            const from = graph.nodeId(graph.edgeSource(edge))
            if (equalBytes(from, signer.nodeId)) continue
            const policy = graphPolicy(graph, from, c.nodeId, [graph.edgeScid(edge)])
            if (policy !== undefined && (before === undefined || policy.capacity > before.capacity)) before = { nodeId: from, ...policy }
          }
          if (before !== undefined) candidates.push({ forwarders: [{ nodeId: before.nodeId, shortChannelId: before.shortChannelId, policy: before.policy }, last], inbound })
        }
        return candidates.sort((a, b) => (a.inbound > b.inbound ? -1 : a.inbound < b.inbound ? 1 : 0)).map((x) => x.forwarders)
      })

    const receiveBlinded = (params: BlindedReceiveParams) =>
      Effect.gen(function*() {
        const hops = params.hops ?? 1
        const maxPaths = params.maxPaths ?? 3
        const minFinal = params.minFinalCltvExpiryDelta ?? 18
        if (params.amountMsat !== undefined && params.amountMsat <= 0n) return yield* refuse("amount must be positive")
        if (!Number.isInteger(maxPaths) || maxPaths < 1 || maxPaths > 16) return yield* refuse("maxPaths is 1 to 16")
        const dummyHops = params.dummyHops ?? 0
        if (!Number.isInteger(dummyHops) || dummyHops < 0 || dummyHops > 4) return yield* refuse("dummyHops is 0 to 4")
        const height = yield* currentHeight()
        const routes = hops === 0 ? [[]] : (yield* blindedForwarders(hops, params.amountMsat)).slice(0, maxPaths)
        if (routes.length === 0) return yield* refuse(`no channel can be the start of a ${hops}-hop blinded path to us`)
        const preimage = yield* entropy.randomBytes(32)
        const pathId = yield* entropy.randomBytes(32)
        const paths: Array<PaymentBlindedPath> = []
        for (const forwarders of routes) {
          const built = buildReceivePath(secp, yield* entropy.randomBytes(32), {
            forwarders,
            recipient: signer.nodeId,
            pathId,
            maxCltvExpiry: height + (params.pathExpiryBlocks ?? 2016),
            minFinalCltvExpiryDelta: minFinal,
            dummyHops
          })
          if (Result.isFailure(built)) return yield* refuse(`blinded path: ${built.failure.reason}`)
          paths.push(built.success)
        }
        const paymentHash = sha256(preimage)
        const now = yield* nowSeconds
        // The payment secret is the path id: only our blinded paths carry it, and no payer learns it.
        yield* saveInbound({
          paymentHash,
          preimage,
          paymentSecret: pathId,
          pathId,
          ...(params.amountMsat === undefined ? {} : { amountMsat: params.amountMsat }),
          expiresAtSeconds: now + (params.expirySeconds ?? 3600),
          minFinalCltvExpiryDelta: minFinal,
          keysend: false,
          status: "open",
          receivedMsat: 0n,
          createdAtSeconds: now
        })
        const result: BlindedReceive = { paymentHash, paths }
        return result
      })

    /** A blinded payment's paths, as stored (undefined where one does not decode). */
    const blindedPathsOf = (r: OutboundRecord): ReadonlyArray<PaymentBlindedPath | undefined> => (r.blindedPaths ?? []).map(loadBlindedPath)

    /** The onion hops of an attempt to blinded paths; undefined when the path cannot be used. */
    const blindedAttemptHops = (r: OutboundRecord, path: Path, customRecords: ReadonlyArray<{ readonly type: bigint; readonly value: Uint8Array }>) => {
      const blinded = blindedPathOf(blindedPathsOf(r), path)
      return blinded === undefined ? undefined : blindedOnionHops(path, blinded, { totalMsat: msat(r.amountMsat), customRecords })
    }

    const startBlindedPayment = (request: BlindedPaymentRequest, options: PayOptions = {}) =>
      Effect.gen(function*() {
        if (request.amountMsat <= 0n) return yield* refuse("amount must be positive")
        if (request.paymentHash.length !== 32) return yield* refuse("a payment hash is 32 bytes")
        if (request.paths.length === 0 || request.paths.length > 64) return yield* refuse("give 1 to 64 blinded paths")
        for (const p of request.paths) {
          const bad = checkPaymentBlindedPath(p)
          if (bad !== undefined) return yield* refuse(bad)
          if (equalBytes(p.path.firstNodeId, signer.nodeId)) return yield* refuse("we are the introduction node of a blinded path (not supported)")
        }
        if (!request.paths.some((p) => request.amountMsat >= p.payInfo.htlcMinimumMsat && request.amountMsat <= p.payInfo.htlcMaximumMsat)) {
          return yield* refuse("the amount is outside every blinded path's htlc_minimum_msat..htlc_maximum_msat")
        }
        const payee = blindedPayee(request.paths)
        if (payee === undefined) return yield* refuse("a blinded path has at least one hop")
        const nowMillis = yield* currentMillis
        const record = baseRecord({
          paymentId: options.paymentId ?? toHex(request.paymentHash),
          paymentHash: request.paymentHash,
          payee,
          amountMsat: request.amountMsat,
          // BOLT 4: the final `outgoing_cltv_value` is the current height (plus the margin as an offset); the payinfo's delta has the recipient's.
          finalCltvDelta: 0
        }, options, nowMillis)
        return yield* submit({ ...record, blindedPaths: request.paths.map(storeBlindedPath), ...(request.mpp === true ? { blindedMpp: true } : {}) })
      })

    /**
     * BOLT 11 `r` fields for a new invoice: one per private channel that can receive now, with
     * the peer's policy towards us (`config.routeHints`, else the peers' private `channel_update`s
     * gossip keeps), so that a payer who does not know the channel can pay over it.
     */
    const invoiceRouteHints = Effect.gen(function*() {
      const hints = config.routeHints !== undefined ? yield* config.routeHints : Option.isSome(gossipSync) ? yield* gossipSync.value.routeHints : []
      if (hints.length === 0) return hints
      const byScid = manager.channelByScid
      if (byScid !== undefined) {
        // One channel asked per hint (its last hop's channel), not every channel per invoice.
        const kept: Array<(typeof hints)[number]> = []
        for (const hint of hints) {
          const last = hint[hint.length - 1]
          const c = last === undefined ? undefined : yield* byScid(last.shortChannelId)
          if (last !== undefined && c !== undefined && equalBytes(c.nodeId, last.pubkey) && outgoingOf(c)._tag === "Usable") kept.push(hint)
        }
        return kept
      }
      const infos = yield* channelInfos
      return hints.filter((hint) => {
        const last = hint[hint.length - 1]
        return last !== undefined &&
          infos.some((c) => equalBytes(c.nodeId, last.pubkey) && outgoingOf(c)._tag === "Usable" && shortChannelIdsOf(c.state).includes(last.shortChannelId))
      })
    })

    // ---- sending --------------------------------------------------------------------------------------

    const resultOf = (r: OutboundRecord): PaymentResult | undefined => {
      if (r.status === "succeeded" && r.preimage !== undefined) {
        const done = r.attempts.filter((a) => a.status === "fulfilled")
        const routes = done.map(routeOf)
        return new PaymentSucceeded({
          paymentId: r.paymentId,
          paymentHash: r.paymentHash,
          preimage: r.preimage,
          feePaidMsat: msat(routes.reduce((s, x) => s + routeFee(x), 0n)),
          parts: done.length,
          routes,
          holdTimes: done.map((a) => a.holdTimes ?? [])
        })
      }
      if (r.status === "failed") {
        return new PaymentFailed({ paymentId: r.paymentId, paymentHash: r.paymentHash, reason: r.failureReason ?? "failed", attempts: r.attempts.length })
      }
      return undefined
    }

    /** The record written, then (synchronously, in one step: the waiters answered, the span ended) the outcome published. */
    const finish = function*(r: OutboundRecord) {
      yield* saveOutbound(r)
      // Nothing writes a finished payment again (every write is of a pending one): it leaves memory.
      forget(outbound, r.paymentId, r)
      const result = resultOf(r)
      if (result === undefined) return
      {
        deadlines.delete(r.paymentId)
        for (const w of waiters.get(r.paymentId) ?? []) Deferred.doneUnsafe(w, Exit.succeed(result))
        waiters.delete(r.paymentId)
        excluded.delete(r.paymentId)
        learnedUpdates.delete(r.paymentId)
        const span = paymentSpans.get(r.paymentId)
        if (span !== undefined) {
          span.attribute("payment.outcome", result._tag === "PaymentSucceeded" ? "succeeded" : `failed: ${result.reason}`)
          span.attribute("payment.attempts", r.attempts.length)
          if (result._tag === "PaymentSucceeded") span.attribute("payment.feePaidMsat", result.feePaidMsat.toString())
          span.end(clock.currentTimeNanosUnsafe(), Exit.void)
        }
        paymentSpans.delete(r.paymentId)
        callerSpans.delete(r.paymentId)
        invoices.delete(r.paymentId)
        publish(result)
      }
    }

    const exclusionsOf = (paymentId: string) => {
      let x = excluded.get(paymentId)
      if (x === undefined) {
        x = { channels: [], nodes: [] }
        excluded.set(paymentId, x)
      }
      return x
    }

    const policyUpdatesOf = (paymentId: string): ReadonlyArray<PolicyUpdate> => [...(learnedUpdates.get(paymentId)?.values() ?? [])].map((u) => u.policy)

    /**
     * BOLT 4 "Receiving Failure Codes": the `channel_update` an intermediate node (`route.hops[hop]`)
     * returned for the channel the onion named out of it, if valid (signed by that node, our chain,
     * that channel and direction), is used for this payment's retries: the first one per direction
     * (the routing graph keeps no timestamps to compare with). True when it was learned; a second
     * policy failure for a direction whose update was already learned is not given another chance
     * (the caller excludes the channel), so a node cannot keep a payment retrying. Run in
     * `onAttemptResolved`'s own generator (`yield*`): no generator effect of its own.
     */
    const learnUpdate = function*(paymentId: string, route: Route, hop: number, failure: FailureMessage | undefined) {
      const raw = failureChannelUpdate(failure)
      const erring = route.hops[hop]
      const next = route.hops[hop + 1]
      if (raw === undefined || erring === undefined || next === undefined) return false
      const byDirection = learnedUpdates.get(paymentId) ?? new Map<string, FailureUpdate>()
      const key = `${next.shortChannelId}/${toHex(erring.nodeId)}`
      if (byDirection.has(key)) return false
      const checked = checkFailureUpdate({ secp, chainHash: network.chainHash }, raw, {
        erringNodeId: erring.nodeId,
        nextNodeId: next.nodeId,
        shortChannelId: next.shortChannelId
      })
      if (Result.isFailure(checked)) {
        yield* Effect.logInfo(`payments: ${paymentId}: channel_update in ${describeFailure(failure)} from hop ${hop} not used (${checked.failure})`)
        return false
      }
      byDirection.set(key, checked.success)
      learnedUpdates.set(paymentId, byDirection)
      yield* annotate(() => ({ "payment.learnedUpdate": `${next.shortChannelId}` }))
      return true
    }

    const routeOf = (a: AttemptRecord): Route => ({ hops: a.hops.map((h) => ({ ...h, amountMsat: msat(h.amountMsat) })) })

    /** Sends more parts, succeeds or fails the payment, as its state says. */
    const progress = (paymentId: string): Effect.Effect<void> => Effect.gen(() => progressSteps(paymentId))
    /** `progress`'s steps, also run in `onPay`'s and `onAttemptResolved`'s own generators (`yield*`: no generator effect of their own). */
    const progressSteps = function*(paymentId: string) {
      for (let guard = 0; guard < 64; guard++) {
        const r = outbound.get(paymentId)
        if (r === undefined || r.status !== "pending") return
        yield* paymentSpan(r)
        const inflight = r.attempts.filter((a) => a.status === "inflight")
        if (r.preimage !== undefined) {
          if (inflight.length === 0) yield* finish({ ...r, status: "succeeded" })
          return
        }
        const now = millisNow()
        const stop = r.failureReason ?? (now >= r.deadlineMillis ? "Timeout" : r.attempts.length >= maxAttempts ? "RetriesExhausted" : undefined)
        if (stop !== undefined) {
          if (inflight.length === 0) yield* finish({ ...r, status: "failed", failureReason: stop })
          return
        }
        const inflightFinal = inflight.reduce((s, a) => s + routeFinalAmount(routeOf(a)), 0n)
        const inflightFee = inflight.reduce((s, a) => s + routeFee(routeOf(a)), 0n)
        const remaining = r.amountMsat - inflightFinal
        if (remaining <= 0n) return
        const height = yield* currentHeight()
        const infos = yield* channelInfos
        const x = exclusionsOf(paymentId)
        const invoice = invoiceOf(r)
        const found = yield* Effect.result(router.findRoute({
          payer: signer.nodeId,
          payee: r.payee,
          amountMsat: msat(remaining),
          currentHeight: height,
          finalCltvExpiryDelta: r.finalCltvDelta + finalCltvMargin,
          maxFeeMsat: msat(r.maxFeeMsat - inflightFee > 0n ? r.maxFeeMsat - inflightFee : 0n),
          maxTotalCltvExpiryDelta: r.maxCltvExpiryDelta,
          maxParts: Math.max(1, r.maxParts - inflight.length),
          firstHops: firstHops(infos),
          routeHints: r.blindedPaths === undefined ? invoice?.routeHints ?? [] : blindedRouteHints(blindedPathsOf(r), remaining),
          excludedChannels: x.channels,
          excludedNodes: x.nodes,
          policyUpdates: policyUpdatesOf(paymentId),
          payeeFeatures: r.blindedPaths === undefined ? invoice?.features ?? [] : r.blindedMpp === true ? [17] : []
        }))
        if (Result.isFailure(found)) {
          if (inflight.length === 0) {
            const reason = r.attempts.length === 0 ? `NoRoute: ${found.failure.reason}` : "NoRouteLeft"
            yield* finish({ ...r, status: "failed", failureReason: reason })
          }
          return
        }
        let sentAny = false
        for (const path of found.success.paths) {
          const parent = yield* paymentSpan(r)
          sentAny = (traces ? yield* spanned(Effect.gen(() => sendAttempt(paymentId, path)), "payments.attempt", () => ({
            attributes: {
              ...nodeAttribute,
              "payment.id": paymentId,
              "payment.hash": toHex(r.paymentHash),
              "payment.amountMsat": path.amountMsat.toString(),
              "payment.feeMsat": path.feeMsat.toString(),
              "payment.hops": path.hops.length
            },
            ...(parent === undefined ? {} : { parent })
          })) : yield* sendAttempt(paymentId, path)) || sentAny
        }
        if (sentAny) return
      }
    }

    /** One part: recorded, then added on the first hop's channel. False when the first hop refused it. */
    const sendAttempt = function*(paymentId: string, path: Path) {
      const r = outbound.get(paymentId)
      const route = fromPath(path)
      const first = route.hops[0]
      const channelId = path.firstHop === undefined ? undefined : ChannelId.option(path.firstHop.channelId)
      if (r === undefined || first === undefined) return false
      if (channelId === undefined || Option.isNone(channelId)) {
        exclusionsOf(paymentId).channels.push({ shortChannelId: first.shortChannelId })
        return false
      }
      const channel = { channelId: channelId.value }
      const sessionKey = yield* entropy.randomBytes(32)
      const customRecords = r.keysendPreimage === undefined ? [] : [{ type: KEYSEND_TLV_TYPE, value: r.keysendPreimage }]
      const blindedHops = r.blindedPaths === undefined ? undefined : blindedAttemptHops(r, path, customRecords)
      if (r.blindedPaths !== undefined && blindedHops === undefined) {
        exclusionsOf(paymentId).channels.push({ shortChannelId: (path.hops[path.hops.length - 1] ?? first).shortChannelId })
        return false
      }
      const built = buildPaymentOnion(secp, sessionKey, blindedHops ?? pathOnionHops(path, {
        paymentSecret: r.paymentSecret,
        totalMsat: msat(r.amountMsat),
        paymentMetadata: r.paymentMetadata,
        customRecords
      }), r.paymentHash)
      if (Result.isFailure(built)) {
        yield* finish({ ...r, status: "failed", failureReason: `OnionBuildFailed: ${built.failure._tag}` })
        return false
      }
      const attempt: AttemptRecord = {
        attemptId: r.nextAttemptId,
        hops: route.hops.map((h) => ({ nodeId: h.nodeId, shortChannelId: h.shortChannelId, amountMsat: h.amountMsat, cltvExpiry: h.cltvExpiry })),
        sharedSecrets: built.success.sharedSecrets,
        channelId: channel.channelId,
        status: "inflight"
      }
      // Stored before the HTLC exists: a restart finds it (and looks for its HTLC in the channel).
      yield* saveOutbound({ ...r, attempts: [...r.attempts, attempt], nextAttemptId: r.nextAttemptId + 1 })
      const added = yield* Effect.result(manager.addHtlc(channel.channelId, {
        requestId: `${paymentId}/${attempt.attemptId}`,
        amount: first.amountMsat,
        paymentHash: r.paymentHash,
        cltvExpiry: first.cltvExpiry,
        onion: built.success.onion
      }))
      const now = outbound.get(paymentId)
      if (now === undefined) return false
      if (Result.isFailure(added)) {
        exclusionsOf(paymentId).channels.push({ shortChannelId: first.shortChannelId })
        yield* saveOutbound(updateAttempt(now, attempt.attemptId, { status: "failed", failure: `first hop refused (${added.failure._tag})` }))
        return false
      }
      yield* saveOutbound(updateAttempt(now, attempt.attemptId, { htlcId: added.success }))
      outIndex.set(htlcKey(channel.channelId, added.success), { _tag: "Attempt", paymentId, attemptId: attempt.attemptId })
      attemptPaths.set(`${paymentId}/${attempt.attemptId}`, path)
      // The annotation and the attempt's span, read in one step.
      if (traces) {
        yield* Effect.withFiberSucceed((fiber) => {
          annotateSpanOf(fiber, () => ({ "payment.channelId": toHex(channel.channelId), "payment.htlcId": added.success.toString() }))
          const span = spanOfFiber(fiber)
          if (span !== undefined) htlcSpans.set(`${paymentId}/${attempt.attemptId}`, span)
        })
      }
      return true
    }

    const updateAttempt = (r: OutboundRecord, attemptId: number, change: Partial<AttemptRecord>): OutboundRecord => ({
      ...r,
      attempts: r.attempts.map((a) => (a.attemptId === attemptId ? { ...a, ...change } : a))
    })

    const onAttemptResolved = function*(paymentId: string, attemptId: number, result: Extract<ChannelEvent, { readonly _tag: "HtlcResolved" }>["result"]) {
      const r = outbound.get(paymentId)
      const attempt = r?.attempts.find((a) => a.attemptId === attemptId)
      if (r === undefined || attempt === undefined || attempt.status !== "inflight") return
      const route = routeOf(attempt)
      const path = attemptPaths.get(`${paymentId}/${attemptId}`)
      attemptPaths.delete(`${paymentId}/${attemptId}`)
      const report = (outcome: PathOutcome) => (path === undefined ? Effect.void : router.reportPath(path, outcome))
      if (result._tag === "Fulfilled") {
        // The hops' hold times, as far as their HMACs verify (BOLT 4 "Hold times for successful payments").
        const holdTimes = result.attributionData === undefined ? undefined : verifySuccessAttribution(attempt.sharedSecrets, result.attributionData).holdTimes
        yield* annotate(() => ({ "payment.outcome": "fulfilled", ...(holdTimes === undefined ? {} : { "payment.holdTimes": holdTimes.join(",") }) }))
        const fulfilled: OutboundRecord = { ...updateAttempt(r, attemptId, { status: "fulfilled", ...(holdTimes === undefined ? {} : { holdTimes }) }), preimage: result.preimage }
        yield* report({ _tag: "Succeeded", holdTimes })
        // The last part in flight: the preimage and the outcome in one write (`progress` would finish it so).
        if (fulfilled.status === "pending" && !fulfilled.attempts.some((a) => a.status === "inflight")) return yield* finish({ ...fulfilled, status: "succeeded" })
        yield* saveOutbound(fulfilled)
        return yield* progressSteps(paymentId)
      }
      const x = exclusionsOf(paymentId)
      const last = route.hops.length - 1
      let failure: FailureMessage | undefined
      let hop: number
      let stop: string | undefined
      let updateUsed = false
      let attributedBy: "hmac" | "attribution" | "none" = "none"
      let holdTimes: ReadonlyArray<number> | undefined
      /** The channel out of hop `k` (the next hop's), from hop k's node. */
      const excludeAfter = (k: number) => {
        const next = route.hops[k + 1]
        if (next !== undefined) x.channels.push({ shortChannelId: next.shortChannelId, sourceNodeId: route.hops[k]!.nodeId })
      }
      if (result._tag === "Malformed") {
        // Our peer could not read the onion we built for it: it is the one to avoid.
        hop = 0
        failure = failureFromMalformed(result.failureCode, result.sha256OfOnion)
        x.channels.push({ shortChannelId: route.hops[0]!.shortChannelId })
        yield* report({ _tag: "ChannelFailed", hopIndex: 0, permanent: true, holdTimes })
      } else {
        const decrypted = decryptFailure(attempt.sharedSecrets, result.reason, result.attributionData)
        holdTimes = Result.isSuccess(decrypted) ? decrypted.success.attribution?.holdTimes : undefined
        if (Result.isSuccess(decrypted) && !decrypted.success.authenticated) {
          // No hop's HMAC matched: the return packet was garbled on its way back. The attribution
          // data blames the pair (hop - 1, hop) (BOLT 4 "Origin node"): the channel between them
          // is avoided, and the payment goes on (it may not be the payee that answered).
          attributedBy = "attribution"
          hop = Math.min(decrypted.success.hopIndex, last)
          const into = route.hops[hop]!
          x.channels.push({ shortChannelId: into.shortChannelId, ...(hop > 0 ? { sourceNodeId: route.hops[hop - 1]!.nodeId } : {}) })
          yield* report({ _tag: "ChannelFailed", hopIndex: hop, permanent: false, holdTimes })
        } else if (Result.isFailure(decrypted)) {
          hop = 0
          x.channels.push({ shortChannelId: route.hops[0]!.shortChannelId })
          yield* report({ _tag: "ChannelFailed", hopIndex: 0, permanent: false, holdTimes })
        } else {
          attributedBy = "hmac"
          hop = decrypted.success.hopIndex
          const f = decrypted.success.failure
          failure = f !== undefined && Result.isSuccess(f) ? f.success : undefined
          const code = failure === undefined ? undefined : failureCodeOf(failure)
          if (hop === last) {
            // The payee answered: a refusal ends the payment; mpp_timeout is worth a retry.
            if (failure === undefined || failure._tag !== "mpp_timeout") stop = `RecipientRejected: ${describeFailure(failure)}`
            yield* report({ _tag: "ReachedPayee", holdTimes })
          } else if (code !== undefined && isNodeFailure(code)) {
            x.nodes.push(route.hops[hop]!.nodeId)
            yield* report({ _tag: "ChannelFailed", hopIndex: hop + 1, permanent: isPermanent(code), holdTimes })
          } else {
            // A policy failure with a valid, new `channel_update`: the retry routes with that
            // policy (e.g. pays the new fee) instead of avoiding the channel.
            const learned = yield* learnUpdate(paymentId, route, hop, failure)
            updateUsed = learned
            const policyFailure = failure !== undefined &&
              (failure._tag === "fee_insufficient" || failure._tag === "incorrect_cltv_expiry" || failure._tag === "amount_below_minimum")
            if (!(learned && policyFailure)) excludeAfter(hop)
            yield* report({ _tag: "ChannelFailed", hopIndex: hop + 1, permanent: code !== undefined && isPermanent(code), holdTimes })
          }
        }
      }
      const described = attributedBy === "attribution" ? "garbled" : describeFailure(failure)
      yield* annotate(() => ({
        "payment.outcome": `failed: ${described} at hop ${hop}`,
        "payment.attributedBy": attributedBy,
        ...(holdTimes === undefined ? {} : { "payment.holdTimes": holdTimes.join(",") })
      }))
      const updated = updateAttempt(r, attemptId, { status: "failed", failure: `${described} at hop ${hop}`, ...(holdTimes === undefined ? {} : { holdTimes }) })
      yield* saveOutbound(stop === undefined ? updated : { ...updated, failureReason: stop })
      publish({ _tag: "AttemptFailed", paymentId, hop, failure: described, channelUpdate: failureChannelUpdate(failure), updateUsed, attributedBy, holdTimes })
      // The next attempt's steps in this generator (`progressSteps`: no generator effect of their own).
      yield* progressSteps(paymentId)
    }

    /** The decoded invoice of a payment (its route hints and features), cached. */
    const invoices = new Map<string, Invoice | undefined>()
    /** The invoice `invoiceRecord` decoded for a record it built: `onPay` caches it rather than decoding it again. */
    const decodedInvoices = new WeakMap<OutboundRecord, Invoice>()
    const invoiceOf = (r: OutboundRecord): Invoice | undefined => {
      if (r.invoice === undefined) return undefined
      if (!invoices.has(r.paymentId)) {
        const d = decodeInvoice(r.invoice, secp)
        invoices.set(r.paymentId, Result.isSuccess(d) ? d.success : undefined)
      }
      return invoices.get(r.paymentId)
    }

    /** A waiter for the outcome of a payment: answered now if it is finished (`r`), else by `finish`. */
    const addWaiter = (r: OutboundRecord, waiter: Deferred.Deferred<PaymentResult, InvalidPaymentRequest>) => {
      const done = resultOf(r)
      if (done !== undefined) Deferred.doneUnsafe(waiter, Exit.succeed(done))
      else waiters.set(r.paymentId, [...(waiters.get(r.paymentId) ?? []), waiter])
    }
    /** Fails whichever deferred waits on the `Pay` (two branches: the deferreds' success types differ). */
    const refusePay = (reply: PayReply, error: InvalidPaymentRequest): Effect.Effect<void> =>
      reply._tag === "Id" ? Effect.asVoid(Deferred.fail(reply.deferred, error)) : Effect.asVoid(Deferred.fail(reply.deferred, error))

    const onPay = (record: OutboundRecord, reply: PayReply, span: Tracer.AnySpan | undefined) =>
      Effect.gen(function*() {
        // A payment id once used stays its payment's (pending here, else in the store): never paid twice.
        const existing = outbound.get(record.paymentId) ?? (yield* storedOutbound(record.paymentId))
        if (existing !== undefined) {
          if (!equalBytes(existing.paymentHash, record.paymentHash)) {
            return yield* refusePay(reply, new InvalidPaymentRequest({ reason: `payment id ${record.paymentId} is used by another payment` }))
          }
          if (reply._tag === "Id") return yield* Deferred.succeed(reply.deferred, record.paymentId)
          return addWaiter(existing, reply.deferred)
        }
        if (span !== undefined) callerSpans.set(record.paymentId, span)
        // Recorded before anything leaves: with its first attempt, just before that attempt's HTLC is
        // added (`sendAttempt`), or with its outcome (no route); else here, before the reply.
        outbound.set(record.paymentId, record)
        unwritten.add(record.paymentId)
        const decoded = decodedInvoices.get(record)
        if (decoded !== undefined) invoices.set(record.paymentId, decoded)
        // A caller waiting for the outcome waits from now on (the payment may finish within `progress`).
        if (reply._tag === "Outcome") addWaiter(record, reply.deferred)
        // `armTimeout` in line: most payments' deadlines come after the one the timer wakes at (no effect to run then).
        deadlines.set(record.paymentId, record.deadlineMillis)
        if (timer === undefined || timer.at > record.deadlineMillis) yield* armTimer(record.deadlineMillis)
        yield* progressSteps(record.paymentId)
        const current = outbound.get(record.paymentId)
        if (unwritten.has(record.paymentId) && current !== undefined) yield* saveOutbound(current)
        if (reply._tag === "Id") yield* Deferred.succeed(reply.deferred, record.paymentId)
      })

    /**
     * Each pending payment's deadline (this run), woken by ONE timer fiber that sleeps until the
     * earliest and then queues a `PaymentTimeout` for every payment due (no fiber per payment).
     * `finish` forgets the payment's deadline: the timer, when it wakes for a deadline no longer
     * there, sleeps again until the earliest one left.
     */
    const deadlines = new Map<string, number>()
    /** The timer fiber and the time it wakes at (undefined: no deadline pending). */
    let timer: { readonly at: number; fiber: Fiber.Fiber<void> | undefined } | undefined
    /** The timer wakes at `at` at the latest (an earlier timer stays, a later one is replaced). */
    const armTimer = (at: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (timer !== undefined && timer.at <= at) return Effect.void
        const previous = timer?.fiber
        const token: { readonly at: number; fiber: Fiber.Fiber<void> | undefined } = { at, fiber: undefined }
        timer = token
        const wake: Effect.Effect<void> = Effect.suspend(() =>
          // Interrupted while it sleeps (a nearer deadline came), never while it queues the timeouts.
          Effect.sleep(Duration.millis(Math.max(0, at - millisNow()))).pipe(Effect.andThen(Effect.uninterruptible(fireTimer(token))))
        )
        return Effect.forkIn(wake, scope).pipe(
          Effect.flatMap((fiber) => {
            token.fiber = fiber
            return previous === undefined ? Effect.void : Effect.asVoid(Fiber.interrupt(previous))
          })
        )
      })
    /** On the timer fiber: every payment due gets its `PaymentTimeout`; the timer is armed for the next deadline. */
    const fireTimer = (token: { readonly at: number }): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = millisNow()
        if (timer === token) timer = undefined
        const due: Array<string> = []
        let next: number | undefined
        for (const [paymentId, at] of deadlines) {
          if (at <= now) due.push(paymentId)
          else if (next === undefined || at < next) next = at
        }
        for (const paymentId of due) deadlines.delete(paymentId)
        return Effect.forEach(due, (paymentId) => inbox.offering({ _tag: "PaymentTimeout", paymentId }), { discard: true }).pipe(
          Effect.andThen(next === undefined ? Effect.void : armTimer(next))
        )
      })
    const armTimeout = (paymentId: string, deadlineMillis: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        deadlines.set(paymentId, deadlineMillis)
        return armTimer(deadlineMillis)
      })

    /** After a restart: each attempt in flight is found in its channel, or settled from a monitor's preimage, or failed. */
    const recoverOutbound = (r: OutboundRecord) =>
      Effect.gen(function*() {
        let current = r
        for (const a of r.attempts) {
          if (a.status !== "inflight") continue
          const preimage = yield* monitorPreimage(a.channelId, r.paymentHash)
          if (preimage !== undefined) {
            current = { ...updateAttempt(current, a.attemptId, { status: "fulfilled" }), preimage }
            continue
          }
          const channel = yield* Effect.result(manager.channel(a.channelId))
          const first = a.hops[0]
          // A closed channel: the HTLC may still be claimed on chain; the attempt stays in flight.
          if (Result.isFailure(channel) || !htlcsKnown(channel.success.state)) {
            if (a.htlcId !== undefined) outIndex.set(htlcKey(a.channelId, a.htlcId), { _tag: "Attempt", paymentId: r.paymentId, attemptId: a.attemptId })
            continue
          }
          const htlc = first === undefined ? undefined : findOffered(channel.success.state, a.htlcId, r.paymentHash, first.amountMsat, first.cltvExpiry)
          if (htlc !== undefined) {
            if (a.htlcId === undefined) current = updateAttempt(current, a.attemptId, { htlcId: htlc.id })
            outIndex.set(htlcKey(a.channelId, htlc.id), { _tag: "Attempt", paymentId: r.paymentId, attemptId: a.attemptId })
            continue
          }
          // Lost (never durable) or removed for good (its failure reported before the crash but not
          // handled): failed now, and retried at once (the start queues each pending payment's
          // progress); its HTLC id may be used again by the channel.
          if (a.htlcId !== undefined) {
            const owner = outIndex.get(htlcKey(a.channelId, a.htlcId))
            if (owner?._tag === "Attempt" && owner.paymentId === r.paymentId && owner.attemptId === a.attemptId) outIndex.delete(htlcKey(a.channelId, a.htlcId))
          }
          current = updateAttempt(current, a.attemptId, { status: "failed", failure: "lost in a restart" })
        }
        yield* saveOutbound(current)
        yield* armTimeout(current.paymentId, current.deadlineMillis)
      })

    // ---- the loop --------------------------------------------------------------------------------------

    const onChannelEvent = (ne: NodeChannelEvent) =>
      Effect.gen(function*() {
        const e = ne.event
        if (e._tag === "HtlcReceived") {
          const key = seenKey(e.channelId, e.htlcId)
          if (handledIncoming.has(key)) return
          handledIncoming.add(key)
          if (arrivals.get(key) === undefined) arrivals.set(key, { atMillis: millisNow(), blinded: e.pathKey !== undefined })
          const processed = yield* processOnion(e)
          if (Result.isFailure(processed)) return yield* failIncoming(e.channelId, e.htlcId, processed.failure.response)
          const p = processed.success
          if (e.dustExposureExceeded === true) {
            // BOLT 2: fail it, without revealing a preimage.
            return yield* failIncoming(e.channelId, e.htlcId, { _tag: "Fail", failure: { _tag: "temporary_channel_failure", channelUpdate: new Uint8Array(0) }, sharedSecret: p.sharedSecret })
          }
          /** The HTLC's span, in its payment's trace (when the fiber traces: `spanned`). */
          const span = (name: string, attributes: () => Readonly<Record<string, unknown>>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
            spanned(self, name, () => ({ attributes: { ...nodeAttribute, ...htlcAttributes(e), ...attributes() }, parent: paymentTraceRoot(e.paymentHash) }))
          // A plain forward or receive (most HTLCs) runs its steps in this generator when nothing is traced (no effect of their own).
          switch (p._tag) {
            case "Forward":
              return traces
                ? yield* Effect.gen(() => onForward(e, p)).pipe(span("payments.forward", () => ({ "payment.outScid": p.shortChannelId.toString(), "payment.outAmountMsat": p.amtToForward.toString() })))
                : yield* onForward(e, p)
            case "Receive":
              return traces ? yield* Effect.gen(() => onReceive(e, p)).pipe(span("payments.receive", () => ({}))) : yield* onReceive(e, p)
            case "BlindedForward":
              return yield* onBlindedForward(e, p).pipe(span("payments.forward", () => ({ "payment.blinded": p.introduction ? "introduction" : "inside", "payment.outAmountMsat": p.amtToForward.toString() })))
            case "BlindedReceive":
              return yield* onBlindedReceive(e, p).pipe(span("payments.receive", () => ({ "payment.blinded": "final" })))
          }
        }
        if (e._tag === "HtlcResolved") return yield* onResolved(e)
      })

    /** One of our offered HTLCs resolved (off chain by the peer, or on chain): its payment attempt or forward goes on. */
    // A generator run in its callers' own (`yield*`), with the attempt's or forward's steps in it when nothing is traced: no effect of its own.
    const onResolved = function*(e: Extract<ChannelEvent, { readonly _tag: "HtlcResolved" }>) {
      const key = htlcKey(e.channelId, e.htlcId)
      const owner = outIndex.get(key)
      if (owner === undefined) return
      const rkey = seenKey(e.channelId, e.htlcId, RESULT_CODE[e.result._tag])
      if (handledResolved.has(rkey)) return
      handledResolved.add(rkey)
      outIndex.delete(key)
      // The resolution's span hangs under the HTLC's (this run), else under the payment's trace root.
      const spanKey = owner._tag === "Forward" ? owner.key : `${owner.paymentId}/${owner.attemptId}`
      const htlcSpan = htlcSpans.get(spanKey)
      htlcSpans.delete(spanKey)
      /** The span's options, built when the fiber traces (`spanned`), before the handler runs (the records as they are now). */
      const options = (): Tracer.SpanOptionsNoTrace => {
        const attributes = { ...nodeAttribute, "payment.channelId": toHex(e.channelId), "payment.htlcId": e.htlcId.toString(), "payment.result": e.result._tag }
        const hash = owner._tag === "Forward" ? forwards.get(owner.key)?.paymentHash : outbound.get(owner.paymentId)?.paymentHash
        const parent = htlcSpan ?? (hash === undefined ? undefined : paymentTraceRoot(hash))
        const withParent = parent === undefined ? {} : { parent }
        return owner._tag === "Forward"
          ? { attributes: { ...attributes, ...(hash === undefined ? {} : { "payment.hash": toHex(hash) }) }, ...withParent }
          : { attributes: { ...attributes, "payment.id": owner.paymentId, ...(hash === undefined ? {} : { "payment.hash": toHex(hash) }) }, ...withParent }
      }
      if (owner._tag === "Forward") {
        return traces ? yield* spanned(Effect.gen(() => onForwardResolved(owner.key, e.result)), "payments.forward.resolved", options) : yield* onForwardResolved(owner.key, e.result)
      }
      return traces
        ? yield* spanned(Effect.gen(() => onAttemptResolved(owner.paymentId, owner.attemptId, e.result)), "payments.attempt.resolved", options)
        : yield* onAttemptResolved(owner.paymentId, owner.attemptId, e.result)
    }

    /**
     * Reads every channel again: a received HTLC we handled whose settlement a disconnection
     * dropped is handled again (parts held for an MPP set excepted); an attempt whose HTLC is gone
     * from its channel is settled from the monitor's preimage, or failed and retried.
     */
    const resync = Effect.gen(function*() {
      const now = secondsNow()
      for (const [hash, r] of inbound) if (!mppSets.has(hash) && unpayable(r, now)) inbound.delete(hash)
      const held = new Set<string>()
      for (const set of mppSets.values()) for (const p of set.parts) held.add(htlcKey(p.channelId, p.htlcId))
      for (const key of intercepted.keys()) held.add(key)
      for (const info of yield* channelInfos) {
        // `pendingEvents` makes its `HtlcReceived`s from a normal channel's `receivedHtlcs` only: a
        // channel without any (most, at each resync) has none to hand again.
        const state = info.state
        if (state._tag !== "Normal" || state.receivedHtlcs === undefined || state.receivedHtlcs.length === 0) continue
        for (const e of pendingEvents(state)) {
          if (e._tag !== "HtlcReceived") continue
          const key = htlcKey(e.channelId, e.htlcId)
          const seen = seenKey(e.channelId, e.htlcId)
          if (!handledIncoming.has(seen) || held.has(key)) continue
          handledIncoming.delete(seen)
          yield* onChannelEvent({ nodeId: info.nodeId, channelId: info.channelId, event: e })
        }
      }
      for (const paymentId of [...outbound.keys()]) {
        const r = outbound.get(paymentId)
        if (r === undefined || r.status !== "pending") continue
        let current = r
        for (const a of r.attempts) {
          if (a.status !== "inflight" || a.htlcId === undefined) continue
          const channel = yield* Effect.result(manager.channel(a.channelId))
          if (Result.isFailure(channel) || !htlcsKnown(channel.success.state)) continue
          if (offeredHtlcs(channel.success.state).some((h) => h.id === a.htlcId)) continue
          const preimage = yield* monitorPreimage(a.channelId, r.paymentHash)
          current = preimage !== undefined
            ? { ...updateAttempt(current, a.attemptId, { status: "fulfilled" }), preimage }
            : updateAttempt(current, a.attemptId, { status: "failed", failure: "dropped by its channel" })
        }
        if (current !== r) {
          yield* saveOutbound(current)
          yield* progress(r.paymentId)
        }
      }
    })

    const deadlineConfig = config.deadlines ?? defaultDeadlineConfig
    /** The height of the last deadline check, and the channels failed for a deadline in this run. */
    let checkedHeight = -1
    const failedForDeadline = new Set<string>()

    /**
     * BOLT 2 deadlines at the current height (src/protocol/payment/deadlines.ts): a channel with
     * an offered HTLC past its timeout deadline, or a received HTLC we know the preimage of past
     * its fulfillment deadline, is force-closed (the HTLC is then resolved on chain by the
     * monitor, and a forward's incoming HTLC is failed or fulfilled back when that resolution
     * comes, never before); an intercepted HTLC the application did not answer is failed back
     * before its incoming expiry comes that close; a forward whose outgoing HTLC is gone from its
     * channel without a preimage is failed back, unless that HTLC is tracked in this run (its
     * resolution event is then on its way: `resumeForward`).
     */
    const checkDeadlines = (force: boolean) =>
      Effect.gen(function*() {
        const height = yield* currentHeight()
        if (!force && height === checkedHeight) return
        checkedHeight = height
        for (const info of yield* channelInfos) {
          const key = toHex(info.channelId)
          if (failedForDeadline.has(key)) continue
          const monitor = yield* Effect.result(manager.monitorState(info.channelId))
          const known = (hash: Uint8Array) => Result.isSuccess(monitor) && monitor.success !== undefined && preimageOf(monitor.success, hash) !== undefined
          const breach = deadlineBreach(info.state, height, known, deadlineConfig)
          if (breach === undefined) continue
          failedForDeadline.add(key)
          yield* Effect.logWarning(`payments: failing channel ${key}: ${breach.reason}`)
          const closed = yield* Effect.result(manager.forceClose(info.channelId, breach.reason))
          if (Result.isFailure(closed)) yield* Effect.logError(`payments: force close of ${key} failed (${closed.failure._tag})`)
          publish({ _tag: "HtlcDeadline", channelId: info.channelId, htlcId: breach.htlcId, direction: breach.direction, height, reason: breach.reason })
        }
        for (const [interceptId, held] of [...intercepted]) {
          if (!holdExpired(held.e.cltvExpiry, height, deadlineConfig)) continue
          intercepted.delete(interceptId)
          yield* failHeld(held)
        }
        for (const key of [...forwards.keys()]) {
          const record = forwards.get(key)
          if (record === undefined || record.status !== "forwarding") continue
          if (record.outHtlcId !== undefined && outIndex.has(htlcKey(record.outChannelId, record.outHtlcId))) {
            const out = yield* Effect.result(manager.channel(record.outChannelId))
            if (Result.isFailure(out) || !htlcsKnown(out.success.state) || offeredHtlcs(out.success.state).some((h) => h.id === record.outHtlcId)) continue
          }
          yield* resumeForward(record, key)
        }
      })

    const handle = (input: Input): Effect.Effect<void> => {
      switch (input._tag) {
        case "Channel":
          return onChannelEvent(input.event)
        case "Pay":
          // The caller never hangs: a payment that cannot even be stored is refused.
          return onPay(input.record, input.reply, input.span).pipe(
            Effect.onError(() => refusePay(input.reply, new InvalidPaymentRequest({ reason: "the payment could not be stored" })))
          )
        case "MppTimeout":
          return onMppTimeout(input.paymentHash, input.firstAtMillis)
        case "PaymentTimeout":
          return progress(input.paymentId)
        case "Resync":
          return resync
        case "OnChain":
          return Effect.gen(() => onResolved(input.event))
        case "Deadlines":
          return checkDeadlines(input.force).pipe(Effect.ensuring(input.done === undefined ? Effect.void : Deferred.succeed(input.done, undefined)))
        case "Intercepted":
          return onIntercepted(input.interceptId, input.action, input.reply)
      }
    }

    // A caller waiting on a payment when the node stops is interrupted, never left hanging (the
    // payment itself is in the store: a restarted node finishes it, `awaitPayment` finds it).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        for (const ws of waiters.values()) for (const w of ws) yield* Deferred.interrupt(w)
        waiters.clear()
        const now = yield* currentNanos
        for (const span of paymentSpans.values()) {
          span.attribute("payment.outcome", "pending at stop")
          span.end(now, Exit.void)
        }
        paymentSpans.clear()
      })
    )

    // ---- start: load, index, subscribe, recover -----------------------------------------------------------

    yield* loadAll
    for (const [key, f] of forwards) if (f.outHtlcId !== undefined && f.status === "forwarding") outIndex.set(htlcKey(f.outChannelId, f.outHtlcId), { _tag: "Forward", key })
    for (const r of outbound.values()) {
      for (const a of r.attempts) if (a.htlcId !== undefined && a.status === "inflight") outIndex.set(htlcKey(a.channelId, a.htlcId), { _tag: "Attempt", paymentId: r.paymentId, attemptId: a.attemptId })
    }
    // Subscribed before recovery: nothing the channels say from now on is missed.
    // Only the events the loop acts on enter the inbox (`onChannelEvent`: an HTLC received or one
    // of ours resolved): the rest (adds, channel life) would each wake the loop for nothing.
    const wanted = (event: NodeChannelEvent) => event.event._tag === "HtlcReceived" || event.event._tag === "HtlcResolved"
    // A manager that calls listeners (`listenerOf`) has each event handed straight to the inbox (no
    // stream, no fiber between); what comes before the recovery below is done is held, so that the
    // inbox gets what was pending first, then the live events, in order, as from `subscribe`.
    let held: Array<NodeChannelEvent> | undefined = []
    const hear = (event: NodeChannelEvent) => {
      if (held !== undefined) held.push(event)
      else if (wanted(event)) inbox.offer({ _tag: "Channel", event })
    }
    const listen = listenerOf(manager)
    const channelEvents = listen === undefined ? yield* manager.subscribe : undefined
    if (listen !== undefined) held = [...(yield* listen(hear)), ...held]
    for (const r of outbound.values()) if (r.status === "pending") yield* recoverOutbound(r)
    if (channelEvents !== undefined) {
      yield* channelEvents.pipe(Stream.runForEach((event) => (wanted(event) ? inbox.offering({ _tag: "Channel", event }) : Effect.void)), Effect.forkIn(scope))
    } else {
      const first = held ?? []
      held = undefined
      for (const event of first) hear(event)
    }
    // HTLCs of closed channels decided on chain (BOLT 5), when the node runs the on-chain monitor:
    // a timed-out outgoing HTLC fails its forward back (`permanent_channel_failure`, we have no
    // failure onion) or its attempt; a preimage seen on chain fulfils them. At least once: deduped.
    const monitorChain = yield* Effect.serviceOption(MonitorChain)
    if (Option.isSome(monitorChain)) {
      const onChain = yield* monitorChain.value.subscribe
      yield* onChain.pipe(
        Stream.runForEach((m) =>
          m._tag !== "HtlcResolved" ? Effect.void : inbox.offering({
            _tag: "OnChain",
            event: {
              _tag: "HtlcResolved",
              channelId: m.channelId,
              htlcId: m.htlcId,
              result: m.result._tag === "Fulfilled" ? { _tag: "Fulfilled", preimage: m.result.preimage } : { _tag: "Failed", reason: new Uint8Array(0) }
            }
          })
        ),
        Effect.forkIn(scope)
      )
    }
    // Payments pending before the restart go on (pending events first, then progress).
    for (const r of outbound.values()) if (r.status === "pending") yield* inbox.offering({ _tag: "PaymentTimeout", paymentId: r.paymentId })
    // The two timers below suspend in their sleep every round: `disableYield` leaves out the
    // `Effect.forever` yield after each round (a scheduler task, and a suspension and a resumption
    // of the fiber, per node every 10 s and every 30 s), which only lets other fibers run before
    // the next sleep starts; the sleep gives them the same turn. Both sleep on the handlers' clock
    // (`clock`: no step to find the fiber's per round).
    yield* clock.sleep(Duration.millis(config.resyncIntervalMillis ?? 30_000)).pipe(
      Effect.andThen(inbox.offering({ _tag: "Resync" })),
      Effect.forever({ disableYield: true }),
      Effect.forkIn(scope)
    )
    // Queued only when the height moved since the last check (the check would return at once
    // otherwise): no input per node every 10 s between blocks. The round (most do nothing) sleeps
    // on the handlers' clock and reads the height at once when it can (`blockHeightNow`): the
    // fewest steps per node every 10 s.
    const deadlineInterval = Duration.millis(config.deadlineCheckIntervalMillis ?? 10_000)
    const checkIfMoved = (height: number) => (height === checkedHeight ? Effect.void : inbox.offering({ _tag: "Deadlines", force: false, done: undefined }))
    yield* clock.sleep(deadlineInterval).pipe(
      blockHeightNow !== undefined
        ? Effect.flatMap(() => checkIfMoved(blockHeightNow()))
        : (slept) => Effect.flatMap(Effect.andThen(slept, config.blockHeight), checkIfMoved),
      Effect.forever({ disableYield: true }),
      Effect.forkIn(scope)
    )
    const handleOne = (input: Input): Effect.Effect<void> =>
      handle(input).pipe(Effect.catchCause((cause) => Effect.logError("payments: an input failed", cause)))
    /**
     * The group of an input whose handling may overlap that of other groups: an incoming HTLC, or
     * the resolution of one of our forwards, by payment hash (so the parts of one payment, and a
     * forward and a receive of one hash, stay in order); any other channel event (none enters the
     * inbox now) in a group of its own. Undefined for everything else (payments, resolutions of our
     * attempts, timers, resync, deadlines): handled alone, in order, after what came before. Payments of ours are
     * not handled concurrently on purpose: measured (50 in flight, 2 and 5 nodes), concurrent
     * payers put more HTLCs on the first link at once, and every `commitment_signed` signs every
     * HTLC of its link again (BOLT 2/3): 3 hops, 0.78 -> 3.4 `commitment_signed` and 19 -> 57 HTLC
     * signatures per payment, half the payments per CPU second.
     */
    const overlapGroup = (input: Input): string | undefined => {
      if (input._tag !== "Channel") return undefined
      const e = input.event.event
      if (e._tag === "HtlcReceived") return toHex(e.paymentHash)
      if (e._tag !== "HtlcResolved") return ""
      const owner = outIndex.get(htlcKey(e.channelId, e.htlcId))
      const record = owner?._tag === "Forward" ? forwards.get(owner.key) : undefined
      return record === undefined ? undefined : toHex(record.paymentHash)
    }
    /**
     * What is in the inbox, in order; a run of inputs that may overlap is handled as concurrent
     * groups (each group in order). A forwarder's burst of HTLCs (one `commitment_signed` brings
     * many) then reaches the outgoing channel's mailbox together, and goes out in one
     * `commitment_signed` (BOLT 2 batching), instead of one forward at a time, each waiting for
     * the channels' answers (measured at 50 payments in flight over 3 hops: 13 inputs waiting per
     * forwarder, every waiting HTLC signed again in each commitment of its links).
     */
    const handleBatch = (batch: ReadonlyArray<Input>): Effect.Effect<void> =>
      Effect.gen(function*() {
        let i = 0
        while (i < batch.length) {
          const groups = new Map<string, Array<Input>>()
          let j = i
          for (; j < batch.length; j++) {
            const input = batch[j]
            const group = input === undefined ? undefined : overlapGroup(input)
            if (input === undefined || group === undefined) break
            const inputs = groups.get(group)
            if (inputs === undefined) groups.set(group, [input])
            else inputs.push(input)
          }
          if (j === i) {
            const input = batch[i]
            if (input !== undefined) yield* handleOne(input)
            i += 1
          } else {
            // One group (one payment at a time): on this fiber, no fork.
            const inOrder = (inputs: ReadonlyArray<Input>) => Effect.forEach(inputs, handleOne, { discard: true })
            yield* groups.size === 1 ? inOrder(groups.values().next().value ?? []) : Effect.forEach(groups.values(), inOrder, { concurrency: "unbounded", discard: true })
            i = j
          }
        }
      })
    yield* Effect.gen(function*() {
      while (true) {
        // Taken with no Effect operation when inputs are there; else the fiber waits for one.
        let batch = inbox.takeNow(INBOX_BATCH)
        while (batch === undefined) {
          yield* inbox.arrival
          batch = inbox.takeNow(INBOX_BATCH)
        }
        // One input (one payment at a time): handled as is, no batch grouping around it.
        yield* batch.length === 1 && batch[0] !== undefined ? handleOne(batch[0]) : handleBatch(batch)
        yield* Effect.yieldNow
      }
    }).pipe(Effect.forkIn(scope))

    // ---- the API ----------------------------------------------------------------------------------------

    /** What `pay` answers with, from a waiter's deferred: the success, or the failure as an error. */
    const outcome = (waiter: Deferred.Deferred<PaymentResult, InvalidPaymentRequest>): Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest> =>
      Effect.flatMap(Deferred.await(waiter), (result) => (result._tag === "PaymentSucceeded" ? Effect.succeed(result) : Effect.fail(result)))

    /** A payment by id: pending in memory, else as stored (an id no payment can have names no store key). */
    const paymentById = (paymentId: string) => Effect.gen(function*() {
      return outbound.get(paymentId) ?? (PAYMENT_ID.test(paymentId) ? yield* storedOutbound(paymentId) : undefined)
    })
    /**
     * The outcome of a known payment (a waiter registered at once: `addWaiter` answers a finished
     * one). A pending payment is in memory until its outcome is stored: one read from the store as
     * pending but no longer in memory has finished since, and is read again.
     */
    const awaitPayment = (paymentId: string): Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest> =>
      Effect.flatMap(paymentById(paymentId), (r) => {
        if (r === undefined) return refuse(`no payment ${paymentId}`)
        const pending = outbound.get(paymentId)
        if (pending === undefined && r.status === "pending") return awaitPayment(paymentId)
        const waiter = Deferred.makeUnsafe<PaymentResult, InvalidPaymentRequest>()
        addWaiter(pending ?? r, waiter)
        return outcome(waiter)
      })

    const badPaymentId = (record: OutboundRecord): InvalidPaymentRequest | undefined =>
      PAYMENT_ID.test(record.paymentId) ? undefined : new InvalidPaymentRequest({ reason: "a payment id is 1 to 100 of 0-9 A-Z a-z . _ -" })

    const submit = (record: OutboundRecord) =>
      Effect.gen(function*() {
        const bad = badPaymentId(record)
        if (bad !== undefined) return yield* Effect.fail(bad)
        const deferred = yield* Deferred.make<string, InvalidPaymentRequest>()
        yield* Effect.withFiber((fiber) => inbox.offering({ _tag: "Pay", record, reply: { _tag: "Id", deferred }, span: spanOfFiber(fiber) }))
        return yield* Deferred.await(deferred)
      })

    /**
     * `submit` then `awaitPayment` in one wait: the loop registers the caller's deferred as the
     * payment's waiter when it accepts it (or fails it with the refusal), so the caller waits once.
     */
    const submitAndAwait = (record: OutboundRecord): Effect.Effect<PaymentSucceeded, PaymentFailed | InvalidPaymentRequest> =>
      Effect.suspend(() => {
        const bad = badPaymentId(record)
        if (bad !== undefined) return Effect.fail(bad)
        const deferred = Deferred.makeUnsafe<PaymentResult, InvalidPaymentRequest>()
        return Effect.withFiber((fiber) => inbox.offering({ _tag: "Pay", record, reply: { _tag: "Outcome", deferred }, span: spanOfFiber(fiber) })).pipe(
          Effect.andThen(outcome(deferred))
        )
      })

    const baseRecord = (fields: {
      readonly paymentId: string
      readonly paymentHash: Uint8Array
      readonly payee: Uint8Array
      readonly amountMsat: Msat
      readonly finalCltvDelta: number
      readonly paymentSecret?: Uint8Array | undefined
      readonly paymentMetadata?: Uint8Array | undefined
      readonly keysendPreimage?: Uint8Array | undefined
      readonly invoice?: string | undefined
    }, options: PayOptions, nowMillis: number): OutboundRecord => ({
      paymentId: fields.paymentId,
      paymentHash: fields.paymentHash,
      payee: fields.payee,
      amountMsat: fields.amountMsat,
      ...(fields.paymentSecret === undefined ? {} : { paymentSecret: fields.paymentSecret }),
      ...(fields.paymentMetadata === undefined ? {} : { paymentMetadata: fields.paymentMetadata }),
      ...(fields.keysendPreimage === undefined ? {} : { keysendPreimage: fields.keysendPreimage }),
      ...(fields.invoice === undefined ? {} : { invoice: fields.invoice }),
      finalCltvDelta: fields.finalCltvDelta,
      maxFeeMsat: options.maxFeeMsat ?? fields.amountMsat / 100n + 1000n,
      maxCltvExpiryDelta: options.maxCltvExpiryDelta ?? 1008,
      maxParts: options.maxParts ?? 16,
      deadlineMillis: nowMillis + (options.timeoutMillis ?? 60_000),
      status: "pending",
      attempts: [],
      nextAttemptId: 0,
      createdAtMillis: nowMillis
    })

    /** BOLT 11 reader checks beyond decoding: our network, not expired, an amount. */
    const invoiceRecord = (invoiceText: string, options: PayOptions) =>
      Effect.gen(function*() {
        const decoded = decodeInvoice(invoiceText.trim(), secp)
        if (Result.isFailure(decoded)) return yield* refuse(`invalid invoice: ${decoded.failure.message}`)
        const inv: Invoice = decoded.success
        if (inv.network !== network.invoicePrefix) {
          return yield* refuse(`invoice is for network ${inv.network}, we are on ${network.invoicePrefix}`)
        }
        const nowMillis = yield* currentMillis
        if (Math.floor(nowMillis / 1000) > inv.timestamp + inv.expirySeconds) return yield* refuse("invoice expired")
        const amount = inv.amountMsat ?? options.amountMsat
        if (amount === undefined || amount <= 0n) return yield* refuse("the invoice has no amount: give one")
        if (inv.amountMsat !== undefined && options.amountMsat !== undefined && options.amountMsat < inv.amountMsat) {
          return yield* refuse("amount below the invoice's")
        }
        if (equalBytes(inv.payee, signer.nodeId)) return yield* refuse("the invoice is ours")
        const record = baseRecord({
          paymentId: options.paymentId ?? toHex(inv.paymentHash),
          paymentHash: inv.paymentHash,
          payee: inv.payee,
          amountMsat: msat(amount),
          finalCltvDelta: inv.minFinalCltvExpiryDelta,
          paymentSecret: inv.paymentSecret,
          paymentMetadata: inv.metadata,
          invoice: invoiceText.trim()
        }, options, nowMillis)
        decodedInvoices.set(record, inv)
        return record
      })

    const startPayment = (invoiceText: string, options: PayOptions = {}) =>
      Effect.flatMap(invoiceRecord(invoiceText, options), submit)

    const keysendRecord = (payee: Uint8Array, amountMsat: Msat, options: PayOptions) =>
      Effect.gen(function*() {
        if (amountMsat <= 0n) return yield* refuse("amount must be positive")
        if (payee.length !== 33) return yield* refuse("a node id is 33 bytes")
        if (equalBytes(payee, signer.nodeId)) return yield* refuse("cannot pay ourselves")
        const preimage = yield* entropy.randomBytes(32)
        const paymentHash = sha256(preimage)
        const nowMillis = yield* currentMillis
        const record = baseRecord({
          paymentId: options.paymentId ?? toHex(paymentHash),
          paymentHash,
          payee,
          amountMsat,
          finalCltvDelta: KEYSEND_FINAL_CLTV_DELTA,
          keysendPreimage: preimage
        }, options, nowMillis)
        return record
      })

    const startKeysend = (payee: Uint8Array, amountMsat: Msat, options: PayOptions = {}) =>
      Effect.flatMap(keysendRecord(payee, amountMsat, options), submit)

    /**
     * A span over a whole payment, with its outcome: in the payment's trace (`paymentTraceRoot`)
     * once its hash is known (a request refused before has a span of its own).
     */
    const traced = (name: string, paymentHash: Uint8Array | undefined) => <E>(effect: Effect.Effect<PaymentSucceeded, E>): Effect.Effect<PaymentSucceeded, E> =>
      effect.pipe(
        Effect.flatMap((ok) =>
          Effect.withFiberSucceed((fiber) => {
            annotateSpanOf(fiber, () => ({
              "payment.id": ok.paymentId,
              "payment.hash": toHex(ok.paymentHash),
              "payment.outcome": "succeeded",
              "payment.feePaidMsat": ok.feePaidMsat.toString(),
              "payment.parts": ok.parts
            }))
            return ok
          })
        ),
        Effect.tapError((e) => annotateSpan(() => ({ "payment.outcome": describeError(e) }))),
        (self) => spanned(self, name, () => ({
          attributes: { ...nodeAttribute, ...(paymentHash === undefined ? {} : { "payment.hash": toHex(paymentHash) }) },
          ...(paymentHash === undefined ? {} : { parent: paymentTraceRoot(paymentHash) })
        }))
      )

    /** Builds the payment's record, then submits and awaits it inside its span. */
    const payTraced = <E>(name: string, record: Effect.Effect<OutboundRecord, E>) =>
      record.pipe(
        Effect.matchEffect({
          onFailure: (e) => Effect.fail(e).pipe(traced(name, undefined)),
          onSuccess: (r) => submitAndAwait(r).pipe(traced(name, r.paymentHash))
        })
      )

    const statusOf = (r: OutboundRecord): OutboundStatus => {
      const result = resultOf(r)
      return {
        paymentId: r.paymentId,
        paymentHash: r.paymentHash,
        status: r.status,
        amountMsat: msat(r.amountMsat),
        preimage: r.preimage,
        failureReason: r.failureReason,
        attempts: r.attempts.length,
        feePaidMsat: result?._tag === "PaymentSucceeded" ? result.feePaidMsat : msat(0n)
      }
    }

    const subscribe = Effect.map(PubSub.subscribe(events), (s) => Stream.fromSubscription(s))

    /**
     * Every payment, in payment id order (the store's; those not written yet last), each pending
     * one in its newer state from memory.
     */
    const payments = Effect.gen(function*() {
      const byId = new Map<string, OutboundRecord>()
      yield* eachStored("pay/out/", outboundJson, (_, r) => byId.set(r.paymentId, r))
      // A pending one is in memory (below); one stored pending but not in memory (finished since) gets its attempts apart.
      let apartOf: Map<string, Array<AttemptRecord>> | undefined
      for (const r of byId.values()) {
        if (r.status !== "pending" || outbound.has(r.paymentId)) continue
        apartOf ??= yield* storedAttemptsApart(attemptsPrefix())
        byId.set(r.paymentId, withAttemptsApart(r, apartOf.get(r.paymentId) ?? []))
      }
      for (const r of outbound.values()) byId.set(r.paymentId, r)
      return [...byId.values()].map(statusOf)
    })

    /** Our invoices, signed by the node signer (given to it: no context made per invoice). */
    const createSignedInvoice = createInvoiceWith(signer, entropy)

    const answerIntercept = (interceptId: string, action: InterceptAction) =>
      Effect.gen(function*() {
        const reply = yield* Deferred.make<void, InvalidPaymentRequest>()
        yield* inbox.offering({ _tag: "Intercepted", interceptId, action, reply })
        return yield* Deferred.await(reply)
      })

    const shape = Payments.of({
      createInvoice: (params) =>
        Effect.gen(function*() {
          // We receive multi-part payments (basic_mpp, 17) and add hold times (option_attribution_data, 37)
          // besides var_onion_optin and payment_secret: `ourReceiveInvoiceFeatures`.
          const routeHints = params.routeHints ?? (yield* invoiceRouteHints)
          const created = yield* createSignedInvoice({ ...params, features: params.features ?? ourReceiveInvoiceFeatures, routeHints }).pipe(
            Effect.mapError((e) => new InvalidPaymentRequest({ reason: `invoice: ${e._tag}` }))
          )
          if (created.preimage === undefined) return yield* refuse("an invoice for a hash we have no preimage of cannot be claimed here")
          const now = yield* nowSeconds
          yield* saveInbound({
            paymentHash: created.paymentHash,
            preimage: created.preimage,
            paymentSecret: created.paymentSecret,
            ...(params.amountMsat === undefined ? {} : { amountMsat: params.amountMsat }),
            expiresAtSeconds: now + (params.expirySeconds ?? 3600),
            minFinalCltvExpiryDelta: params.minFinalCltvExpiryDelta ?? 18,
            invoice: created.invoice,
            keysend: false,
            status: "open",
            receivedMsat: 0n,
            createdAtSeconds: now
          })
          return { invoice: created.invoice, paymentHash: created.paymentHash, paymentSecret: created.paymentSecret }
        }),
      pay: (invoiceText, options = {}) => payTraced("payments.pay", invoiceRecord(invoiceText, options)),
      keysend: (payee, amountMsat, options = {}) => payTraced("payments.keysend", keysendRecord(payee, amountMsat, options)),
      startKeysend,
      startPayment,
      awaitPayment,
      payment: (paymentId) => Effect.map(paymentById(paymentId), (r) => r && statusOf(r)),
      payments,
      invoice: (paymentHash) =>
        Effect.map(Effect.gen(function*() {
          const key = toHex(paymentHash)
          return inbound.get(key) ?? (paymentHash.length === 32 ? yield* storedInbound(key) : undefined)
        }), (r) =>
          r === undefined ? undefined : {
            paymentHash: r.paymentHash,
            status: r.status,
            amountMsat: r.amountMsat === undefined ? undefined : msat(r.amountMsat),
            receivedMsat: msat(r.receivedMsat),
            invoice: r.invoice,
            keysend: r.keysend
          }),
      forwardIntercepted: (interceptId, channelId, amountMsat) => answerIntercept(interceptId, { _tag: "Forward", channelId, amountMsat }),
      failIntercepted: (interceptId) => answerIntercept(interceptId, { _tag: "Fail" }),
      checkDeadlines: Effect.gen(function*() {
        const done = yield* Deferred.make<void>()
        yield* inbox.offering({ _tag: "Deadlines", force: true, done })
        yield* Deferred.await(done)
      }),
      events: Stream.unwrap(subscribe),
      subscribe,
      receiveBlinded,
      payBlinded: (request, options = {}) => Effect.flatMap(startBlindedPayment(request, options), awaitPayment).pipe(traced("payments.payBlinded", request.paymentHash)),
      startBlindedPayment
    })
    perPaymentMaps.set(shape, [inbound, outbound, forwards, outIndex, mppSets, intercepted, waiters, excluded, learnedUpdates, callerSpans, paymentSpans, htlcSpans, attemptPaths, invoices, deadlines, unwritten])
    listeners_.set(shape, (f) => Effect.asVoid(Effect.acquireRelease(Effect.sync(() => listeners.add(f)), () => Effect.sync(() => listeners.delete(f)))))
    return shape
  })

const listeners_ = new WeakMap<PaymentsShape, (f: (e: PaymentEvent) => void) => Effect.Effect<void, never, Scope.Scope>>()
/**
 * `subscribe` without a stream: `f` hears every event from now on when it is published, in order
 * (until the scope closes), before the subscribers. Only for the object `make` returned (a wrapper
 * spreading its fields has none). The simulation uses it: no fiber woken and no stream step per
 * batch of events at each node (as `listenerOf` for a channel manager's events).
 */
export const paymentListenerOf = (payments: PaymentsShape) => listeners_.get(payments)

const perPaymentMaps = new WeakMap<PaymentsShape, ReadonlyArray<{ readonly size: number }>>()
/**
 * For tests of the memory bound (a node keeps what is open only, the store the rest): the entries
 * of a payment layer's per-payment maps (its open records included), by the object `make` returned.
 */
export const openEntriesOf = (payments: PaymentsShape): number | undefined => perPaymentMaps.get(payments)?.reduce((n, m) => n + m.size, 0)
