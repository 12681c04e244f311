/**
 * A real LDK node with channels (rust-lightning 0.1 from the `lightningdevkit` WASM build),
 * for channel interop tests: LDK's `ChannelManager` and `ChainMonitor` behind the TCP glue of
 * `LdkPeer`, with a chain the test drives by hand (`mine`), transactions LDK broadcasts kept in
 * `broadcasts`, and its events collected in `events`.
 *
 * What the test does for LDK, as a wallet and a chain backend would: builds the funding
 * transaction when LDK asks for one, mines blocks holding the transactions both sides must see
 * confirmed (the same chain facts go to our node), accepts inbound channels (LDK needs manual
 * acceptance for anchors), and routes LDK's payments: over a direct channel to the payee, else
 * through the invoice's route hints (BOLT 11 `r`) from one of LDK's channel peers (`route`).
 *
 * Test-only code: it uses the real clock and OS randomness on purpose.
 */
import { createHash, randomBytes } from "node:crypto"
import * as ldk from "lightningdevkit"
import { LdkPeer, type LdkNetwork, waitUntil } from "./LdkPeer.ts"

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

export interface LdkNodeOptions {
  readonly seed?: Uint8Array
  readonly network?: LdkNetwork
  /** Offer and accept `option_anchors_zero_fee_htlc_tx` (LDK then accepts inbound channels by hand). */
  readonly anchors?: boolean
  /** What LDK's fee estimator answers for every target (sat per 1000 weight). */
  readonly feeratePerKw?: number
  readonly printLogs?: boolean
  /** `announce_for_forwarding` for the channels LDK opens and accepts (default false: private channels). */
  readonly announce?: boolean
  /** LDK handles gossip with its `P2PGossipSync` over its `NetworkGraph` (no UTXO lookup); default: it ignores gossip. */
  readonly gossip?: boolean
  /**
   * LDK forwards HTLCs over its private channels (`accept_forwards_to_priv_channels`; LDK's
   * default is false: it answers `unknown_next_peer`). Default false.
   */
  readonly forwardPrivate?: boolean
}

/** An LDK event as plain values, kept in `LdkNode.events`. */
export type LdkEvent =
  | { readonly _tag: "FundingGenerationReady"; readonly temporaryChannelId: Uint8Array; readonly counterparty: string; readonly amountSat: bigint; readonly outputScript: Uint8Array }
  | { readonly _tag: "ChannelPending"; readonly channelId: Uint8Array; readonly counterparty: string }
  | { readonly _tag: "ChannelReady"; readonly channelId: Uint8Array; readonly counterparty: string }
  | { readonly _tag: "ChannelClosed"; readonly channelId: Uint8Array; readonly reason: string }
  | { readonly _tag: "OpenChannelRequest"; readonly temporaryChannelId: Uint8Array; readonly counterparty: string; readonly accepted: boolean }
  | { readonly _tag: "PaymentClaimable"; readonly paymentHash: Uint8Array; readonly amountMsat: bigint }
  | { readonly _tag: "PaymentClaimed"; readonly paymentHash: Uint8Array; readonly amountMsat: bigint }
  | { readonly _tag: "PaymentSent"; readonly paymentHash: Uint8Array; readonly preimage: Uint8Array; readonly feePaidMsat: bigint | undefined }
  | { readonly _tag: "PaymentFailed"; readonly paymentHash: Uint8Array | undefined }
  | { readonly _tag: "Other"; readonly name: string }

/** LDK forwarded a payment and it settled (`Event::PaymentForwarded`), kept in `LdkNode.forwards`. */
export interface LdkForward {
  readonly prevNodeId: string
  readonly nextNodeId: string
  readonly feeEarnedMsat: bigint | undefined
  readonly outboundAmountMsat: bigint | undefined
}

/** One path of a payment of LDK's failed (`Event::PaymentPathFailed`), kept in `LdkNode.pathFailures`. */
export interface LdkPathFailure {
  readonly paymentHash: Uint8Array
  /** LDK will not retry: the failure came from the payee (or was a permanent node failure). */
  readonly permanently: boolean
  /** The channel LDK blames, when it knows one. */
  readonly shortChannelId: bigint | undefined
  /** The path's hops (node ids, hex) as LDK's router built them. */
  readonly hops: ReadonlyArray<string>
}

const sha256d = (bytes: Uint8Array): Uint8Array => {
  const once = createHash("sha256").update(bytes).digest()
  return new Uint8Array(createHash("sha256").update(once).digest())
}

/** The 80-byte header of a block at `height` on `prev` (LDK's `Confirm` checks no proof of work). */
const blockHeader = (prev: Uint8Array, height: number, merkleRoot: Uint8Array): Uint8Array => {
  const h = new Uint8Array(80)
  const v = new DataView(h.buffer)
  v.setUint32(0, 0x20000000, true)
  h.set(prev, 4)
  h.set(merkleRoot, 36)
  v.setUint32(68, 1_700_000_000 + height * 600, true)
  v.setUint32(72, 0x207fffff, true)
  v.setUint32(76, height, true)
  return h
}

/** The channel manager, chain monitor and event handling, built inside LdkPeer's constructor. */
class LdkChannels {
  readonly events: Array<LdkEvent> = []
  readonly broadcasts: Array<Uint8Array> = []
  readonly forwards: Array<LdkForward> = []
  readonly pathFailures: Array<LdkPathFailure> = []
  /** Claim every claimable payment at once (LDK knows the preimages of its own invoices). */
  autoClaim = true
  /** Accept every inbound channel request. */
  autoAccept = true
  readonly channelManager: ldk.ChannelManager
  readonly chainMonitor: ldk.ChainMonitor
  /** LDK's view of the public network (filled by gossip with the `gossip` option). */
  readonly graph: ldk.NetworkGraph
  private readonly handler: ldk.EventHandler

  /** What LDK's fee estimator answers for every target (sat per 1000 weight). */
  feeratePerKw: number

  constructor(keys: ldk.KeysManager, logger: ldk.Logger, network: LdkNetwork, nowSecs: number, anchors: boolean, feerate: number, announce = false, forwardPrivate = false) {
    this.feeratePerKw = feerate
    const feeEstimator = ldk.FeeEstimator.new_impl({ get_est_sat_per_1000_weight: () => this.feeratePerKw })
    const broadcaster = ldk.BroadcasterInterface.new_impl({
      broadcast_transactions: (txs: Array<Uint8Array>) => {
        for (const tx of txs) this.broadcasts.push(Uint8Array.from(tx))
      }
    })
    const persister = ldk.Persist.new_impl({
      persist_new_channel: () => ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed,
      update_persisted_channel: () => ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed,
      archive_persisted_channel: () => {}
    })
    this.chainMonitor = ldk.ChainMonitor.constructor_new(ldk.Option_FilterZ.constructor_none(), broadcaster, logger, feeEstimator, persister)
    const ldkNet = network === "bitcoin" ? ldk.Network.LDKNetwork_Bitcoin
      : network === "testnet" ? ldk.Network.LDKNetwork_Testnet
      : network === "signet" ? ldk.Network.LDKNetwork_Signet
      : ldk.Network.LDKNetwork_Regtest
    const router = ldk.Router.new_impl({
      find_route: (payer, params, firstHops) => this.route(params, firstHops),
      find_route_with_id: (payer, params, firstHops) => this.route(params, firstHops),
      create_blinded_payment_paths: () => ldk.Result_CVec_BlindedPaymentPathZNoneZ.constructor_err()
    })
    const graph = ldk.NetworkGraph.constructor_new(ldkNet, logger)
    this.graph = graph
    const messageRouter = ldk.DefaultMessageRouter.constructor_new(graph, keys.as_EntropySource())
    const genesis = Buffer.from(GENESIS[network], "hex").reverse()
    const config = ldk.UserConfig.constructor_default()
    const handshake = config.get_channel_handshake_config()
    handshake.set_negotiate_anchors_zero_fee_htlc_tx(anchors)
    handshake.set_minimum_depth(1)
    handshake.set_announce_for_forwarding(announce)
    config.set_channel_handshake_config(handshake)
    config.set_manually_accept_inbound_channels(true)
    config.set_accept_forwards_to_priv_channels(forwardPrivate)
    this.channelManager = ldk.ChannelManager.constructor_new(
      feeEstimator,
      this.chainMonitor.as_Watch(),
      broadcaster,
      router,
      messageRouter.as_MessageRouter(),
      logger,
      keys.as_EntropySource(),
      keys.as_NodeSigner(),
      keys.as_SignerProvider(),
      config,
      ldk.ChainParameters.constructor_new(ldkNet, ldk.BestBlock.constructor_new(genesis, 0)),
      nowSecs
    )
    this.handler = ldk.EventHandler.new_impl({
      handle_event: (event: ldk.Event) => {
        this.onEvent(event)
        return ldk.Result_NoneReplayEventZ.constructor_ok()
      }
    })
  }

  /** Runs LDK's pending events through the handler. */
  processEvents(): void {
    this.channelManager.as_EventsProvider().process_pending_events(this.handler)
    this.chainMonitor.as_EventsProvider().process_pending_events(this.handler)
  }

  private onEvent(event: ldk.Event): void {
    if (event instanceof ldk.Event_FundingGenerationReady) {
      this.events.push({
        _tag: "FundingGenerationReady",
        temporaryChannelId: event.temporary_channel_id.get_a(),
        counterparty: toHex(event.counterparty_node_id),
        amountSat: event.channel_value_satoshis,
        outputScript: Uint8Array.from(event.output_script)
      })
    } else if (event instanceof ldk.Event_ChannelPending) {
      this.events.push({ _tag: "ChannelPending", channelId: event.channel_id.get_a(), counterparty: toHex(event.counterparty_node_id) })
    } else if (event instanceof ldk.Event_ChannelReady) {
      this.events.push({ _tag: "ChannelReady", channelId: event.channel_id.get_a(), counterparty: toHex(event.counterparty_node_id) })
    } else if (event instanceof ldk.Event_ChannelClosed) {
      this.events.push({ _tag: "ChannelClosed", channelId: event.channel_id.get_a(), reason: event.reason.to_str() })
    } else if (event instanceof ldk.Event_OpenChannelRequest) {
      let accepted = false
      if (this.autoAccept) {
        const r = this.channelManager.accept_inbound_channel(event.temporary_channel_id, event.counterparty_node_id, 0n)
        accepted = r.is_ok()
      }
      this.events.push({ _tag: "OpenChannelRequest", temporaryChannelId: event.temporary_channel_id.get_a(), counterparty: toHex(event.counterparty_node_id), accepted })
    } else if (event instanceof ldk.Event_PaymentClaimable) {
      this.events.push({ _tag: "PaymentClaimable", paymentHash: Uint8Array.from(event.payment_hash), amountMsat: event.amount_msat })
      const purpose = event.purpose
      if (this.autoClaim && purpose instanceof ldk.PaymentPurpose_Bolt11InvoicePayment) {
        const pre = purpose.payment_preimage
        if (pre instanceof ldk.Option_ThirtyTwoBytesZ_Some) this.channelManager.claim_funds(pre.some)
      }
    } else if (event instanceof ldk.Event_PaymentClaimed) {
      this.events.push({ _tag: "PaymentClaimed", paymentHash: Uint8Array.from(event.payment_hash), amountMsat: event.amount_msat })
    } else if (event instanceof ldk.Event_PaymentSent) {
      const fee = event.fee_paid_msat
      this.events.push({
        _tag: "PaymentSent",
        paymentHash: Uint8Array.from(event.payment_hash),
        preimage: Uint8Array.from(event.payment_preimage),
        feePaidMsat: fee instanceof ldk.Option_u64Z_Some ? fee.some : undefined
      })
    } else if (event instanceof ldk.Event_PaymentFailed) {
      const h = event.payment_hash
      this.events.push({ _tag: "PaymentFailed", paymentHash: h instanceof ldk.Option_ThirtyTwoBytesZ_Some ? Uint8Array.from(h.some) : undefined })
    } else if (event instanceof ldk.Event_PaymentForwarded) {
      const fee = event.total_fee_earned_msat
      const out = event.outbound_amount_forwarded_msat
      this.forwards.push({
        prevNodeId: toHex(event.prev_node_id),
        nextNodeId: toHex(event.next_node_id),
        feeEarnedMsat: fee instanceof ldk.Option_u64Z_Some ? fee.some : undefined,
        outboundAmountMsat: out instanceof ldk.Option_u64Z_Some ? out.some : undefined
      })
      this.events.push({ _tag: "Other", name: event.constructor.name })
    } else if (event instanceof ldk.Event_PaymentPathFailed) {
      const scid = event.short_channel_id
      this.pathFailures.push({
        paymentHash: Uint8Array.from(event.payment_hash),
        permanently: Boolean(event.payment_failed_permanently), // the WASM bindings hand a number for this `boolean`
        shortChannelId: scid instanceof ldk.Option_u64Z_Some ? scid.some : undefined,
        hops: event.path.get_hops().map((h) => toHex(h.get_pubkey()))
      })
      this.events.push({ _tag: "Other", name: event.constructor.name })
    } else if (event instanceof ldk.Event_PendingHTLCsForwardable) {
      this.channelManager.process_pending_htlc_forwards()
      this.events.push({ _tag: "Other", name: "PendingHTLCsForwardable" })
    } else {
      this.events.push({ _tag: "Other", name: event.constructor.name })
    }
  }

  /**
   * LDK's route for a payment (the harness's `Router`; LDK 0.1 takes any `Route` it is given):
   * one hop over a usable direct channel to the payee; else, for a payee behind route hints
   * (BOLT 11 `r`: the last channels to the payee with their forwarders' policies), LDK's channel
   * to the first hint hop's node and then the hint's channels. Fees and CLTV deltas are summed
   * backwards from the payee as BOLT 4 builds the onion: each `RouteHop` carries the fee and
   * delta of the node it reaches for the channel after it (the last one the amount and the
   * payee's final CLTV delta).
   */
  private route(params: ldk.RouteParameters, firstHops: Array<ldk.ChannelDetails> | null): ldk.Result_RouteLightningErrorZ {
    const payee = params.get_payment_params().get_payee()
    const amount = params.get_final_value_msat()
    const payeeId = payee instanceof ldk.Payee_Clear ? payee.node_id : undefined
    const finalCltv = payee instanceof ldk.Payee_Clear ? payee.final_cltv_expiry_delta : 40
    const noRoute = (why: string) =>
      ldk.Result_RouteLightningErrorZ.constructor_err(ldk.LightningError.constructor_new(why, ldk.ErrorAction.constructor_ignore_error()))
    if (payeeId === undefined) return noRoute("a blinded payee is not routed by this harness")
    const usable = (firstHops ?? []).filter((c) => c.get_is_usable())
    const channelTo = (nodeId: Uint8Array) => usable.find((c) => toHex(c.get_counterparty().get_node_id()) === toHex(nodeId))
    const scidOf = (c: ldk.ChannelDetails) => {
      const scidOpt = c.get_outbound_payment_scid()
      return scidOpt instanceof ldk.Option_u64Z_Some ? scidOpt.some : 0n
    }
    const route = (hops: Array<ldk.RouteHop>) => ldk.Result_RouteLightningErrorZ.constructor_ok(ldk.Route.constructor_new([ldk.Path.constructor_new(hops, null)], params))
    const hop = (node: Uint8Array, scid: bigint, feeMsat: bigint, cltvDelta: number) =>
      ldk.RouteHop.constructor_new(node, ldk.NodeFeatures.constructor_empty(), scid, ldk.ChannelFeatures.constructor_empty(), feeMsat, cltvDelta, false)

    const direct = channelTo(payeeId)
    if (direct !== undefined) return route([hop(payeeId, scidOf(direct), amount, finalCltv)])

    for (const hint of payee instanceof ldk.Payee_Clear ? payee.route_hints : []) {
      const hintHops = hint.get_a()
      const first = hintHops[0]
      if (first === undefined) continue
      const entry = channelTo(first.get_src_node_id())
      if (entry === undefined) continue
      // Backwards from the payee: what each hint hop's node forwards, and its fee for it.
      const fees: Array<bigint> = new Array(hintHops.length).fill(0n)
      let forwarded = amount
      for (let i = hintHops.length - 1; i >= 0; i--) {
        const f = hintHops[i]!.get_fees()
        fees[i] = BigInt(f.get_base_msat()) + (forwarded * BigInt(f.get_proportional_millionths())) / 1_000_000n
        forwarded += fees[i]!
      }
      const hops = [hop(first.get_src_node_id(), scidOf(entry), fees[0]!, first.get_cltv_expiry_delta())]
      for (let i = 0; i < hintHops.length; i++) {
        const next = hintHops[i + 1]
        hops.push(
          next === undefined
            ? hop(payeeId, hintHops[i]!.get_short_channel_id(), amount, finalCltv)
            : hop(next.get_src_node_id(), hintHops[i]!.get_short_channel_id(), fees[i + 1]!, next.get_cltv_expiry_delta())
        )
      }
      return route(hops)
    }
    return noRoute("no usable direct channel to the payee and no route hint from a channel peer")
  }
}

/** Genesis block hashes as displayed (reversed into internal byte order for BestBlock). */
const GENESIS: Record<LdkNetwork, string> = {
  bitcoin: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
  testnet: "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
  regtest: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
  signet: "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"
}

export class LdkNode {
  private tipHash: Uint8Array
  private tipHeight = 0
  private readonly loop: ReturnType<typeof setInterval>

  readonly peer: LdkPeer
  private readonly channels: LdkChannels

  private constructor(peer: LdkPeer, channels: LdkChannels, network: LdkNetwork) {
    this.peer = peer
    this.channels = channels
    this.tipHash = Buffer.from(GENESIS[network], "hex").reverse()
    this.loop = setInterval(() => this.pump(), 20)
  }

  /** Starts an LDK node listening on 127.0.0.1 (port chosen by the OS). */
  static async start(options: LdkNodeOptions = {}): Promise<LdkNode> {
    const network = options.network ?? "regtest"
    let channels: LdkChannels | undefined
    const peer = await LdkPeer.start({
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      network,
      ...(options.printLogs === undefined ? {} : { printLogs: options.printLogs }),
      makeChannelHandler: (keys, logger, nowSecs) => {
        channels = new LdkChannels(keys, logger, network, nowSecs, options.anchors ?? false, options.feeratePerKw ?? 253, options.announce ?? false, options.forwardPrivate ?? false)
        return channels.channelManager.as_ChannelMessageHandler()
      },
      ...(options.gossip === true
        ? {
          makeRoutingHandler: (logger: ldk.Logger) => {
            if (channels === undefined) throw new Error("LdkNode: the channel handler was not built")
            return ldk.P2PGossipSync.constructor_new(channels.graph, ldk.Option_UtxoLookupZ.constructor_none(), logger).as_RoutingMessageHandler()
          }
        }
        : {})
    })
    if (channels === undefined) throw new Error("LdkNode: the channel handler was not built")
    return new LdkNode(peer, channels, network)
  }

  get nodeId(): Uint8Array {
    return this.peer.nodeId
  }
  get nodeIdHex(): string {
    return this.peer.nodeIdHex
  }
  get port(): number {
    return this.peer.port
  }
  get events(): ReadonlyArray<LdkEvent> {
    return this.channels.events
  }
  get broadcasts(): ReadonlyArray<Uint8Array> {
    return this.channels.broadcasts
  }
  /** Payments LDK forwarded and that settled. */
  get forwards(): ReadonlyArray<LdkForward> {
    return this.channels.forwards
  }
  /** Failed paths of LDK's own payments. */
  get pathFailures(): ReadonlyArray<LdkPathFailure> {
    return this.channels.pathFailures
  }
  get manager(): ldk.ChannelManager {
    return this.channels.channelManager
  }
  /** LDK's network graph (see the `gossip` option). */
  get graph(): ldk.NetworkGraph {
    return this.channels.graph
  }
  get height(): number {
    return this.tipHeight
  }
  set autoClaim(on: boolean) {
    this.channels.autoClaim = on
  }
  /** Changes LDK's fee estimate; on its next timer tick, as funder, it sends `update_fee`. */
  set feeratePerKw(rate: number) {
    this.channels.feeratePerKw = rate
  }

  /** Processes LDK's events and flushes its outbound messages (also runs every 20 ms). */
  pump(): void {
    this.channels.processEvents()
    this.peer.processEvents()
  }

  /** Waits for the first event matching `pred` (checked after each pump). */
  async waitForEvent<E extends LdkEvent>(what: string, pred: (e: LdkEvent) => e is E, timeoutMs = 10_000): Promise<E> {
    let found: E | undefined
    await waitUntil(what, () => {
      this.pump()
      found = this.channels.events.find(pred)
      return found !== undefined
    }, timeoutMs)
    if (found === undefined) throw new Error(`no ${what}`)
    return found
  }

  /** LDK opens a channel to `theirNodeId` (it sends `open_channel`). Returns the temporary channel id. */
  openChannel(theirNodeId: Uint8Array, amountSat: bigint, pushMsat = 0n): Uint8Array {
    const r = this.manager.create_channel(theirNodeId, amountSat, pushMsat, 42n, null, null)
    if (!(r instanceof ldk.Result_ChannelIdAPIErrorZ_OK)) throw new Error(`LDK create_channel failed: ${apiError(r)}`)
    this.pump()
    return r.res.get_a()
  }

  /** Hands LDK the signed funding transaction it asked for (FundingGenerationReady). */
  fundChannel(temporaryChannelId: Uint8Array, theirNodeId: Uint8Array, tx: Uint8Array): void {
    const r = this.manager.funding_transaction_generated(ldk.ChannelId.constructor_new(temporaryChannelId), theirNodeId, tx)
    if (!r.is_ok()) throw new Error(`LDK funding_transaction_generated failed: ${apiError(r)}`)
    this.pump()
  }

  /**
   * Mines one block holding `txs` (in that order) and tells LDK's channel manager and chain
   * monitor; `emptyBlocks` more blocks follow. Returns the height of the block holding `txs`.
   */
  mine(txs: ReadonlyArray<Uint8Array>, emptyBlocks = 0): number {
    const confirmedAt = this.tipHeight + 1
    const block = (content: ReadonlyArray<Uint8Array>) => {
      const height = this.tipHeight + 1
      const merkle = sha256d(Buffer.concat(content.map((t) => sha256d(t))))
      const header = blockHeader(this.tipHash, height, merkle)
      const data = content.map((t, i) => ldk.TwoTuple_usizeTransactionZ.constructor_new(i + 1, t))
      for (const c of [this.manager.as_Confirm(), this.channels.chainMonitor.as_Confirm()]) {
        if (data.length > 0) c.transactions_confirmed(header, data, height)
        c.best_block_updated(header, height)
      }
      this.tipHash = sha256d(header)
      this.tipHeight = height
    }
    block(txs)
    for (let i = 0; i < emptyBlocks; i++) block([])
    this.pump()
    return confirmedAt
  }

  /** Advances LDK's view of the chain to `height` with empty blocks. */
  mineTo(height: number): void {
    if (height > this.tipHeight) this.mine([], height - this.tipHeight - 1)
  }

  listChannels(): Array<ldk.ChannelDetails> {
    return this.manager.list_channels()
  }

  /** A BOLT 11 invoice of LDK's for `amountMsat` (LDK claims it itself when paid, if `autoClaim`). */
  createInvoice(amountMsat: bigint, description = "interop"): string {
    const r = ldk.UtilMethods.constructor_create_invoice_from_channelmanager(
      this.manager,
      ldk.Option_u64Z.constructor_some(amountMsat),
      description,
      3600,
      ldk.Option_u16Z.constructor_none()
    )
    if (!(r instanceof ldk.Result_Bolt11InvoiceSignOrCreationErrorZ_OK)) throw new Error("LDK could not create an invoice")
    return r.res.to_str()
  }

  /** LDK pays a BOLT 11 invoice (ours) over its direct channel. Returns the payment hash. */
  payInvoice(invoice: string): Uint8Array {
    const parsed = ldk.Bolt11Invoice.constructor_from_str(invoice)
    if (!(parsed instanceof ldk.Result_Bolt11InvoiceParseOrSemanticErrorZ_OK)) throw new Error("LDK could not parse the invoice")
    const params = ldk.UtilMethods.constructor_payment_parameters_from_invoice(parsed.res)
    if (!(params instanceof ldk.Result_C3Tuple_ThirtyTwoBytesRecipientOnionFieldsRouteParametersZNoneZ_OK)) {
      throw new Error("LDK could not build payment parameters from the invoice")
    }
    const [hash, onion, routeParams] = [params.res.get_a(), params.res.get_b(), params.res.get_c()]
    const sent = this.manager.send_payment(hash, onion, randomBytes(32), routeParams, ldk.Retry.constructor_attempts(0))
    if (!sent.is_ok()) throw new Error("LDK send_payment failed")
    this.pump()
    return hash
  }

  /** Fails back every HTLC LDK holds for `paymentHash` (when `autoClaim` is off). */
  failPayment(paymentHash: Uint8Array): void {
    this.manager.fail_htlc_backwards(paymentHash)
    this.pump()
  }

  /** Claims a payment LDK holds (when `autoClaim` is off). */
  claim(preimage: Uint8Array): void {
    this.manager.claim_funds(preimage)
    this.pump()
  }

  /** LDK starts a cooperative close (it sends `shutdown`). */
  closeChannel(channelId: Uint8Array, theirNodeId: Uint8Array): void {
    const r = this.manager.close_channel(ldk.ChannelId.constructor_new(channelId), theirNodeId)
    if (!r.is_ok()) throw new Error(`LDK close_channel failed: ${apiError(r)}`)
    this.pump()
  }

  /** LDK force-closes: it broadcasts its latest commitment (found in `broadcasts`). */
  forceClose(channelId: Uint8Array, theirNodeId: Uint8Array): void {
    const r = this.manager.force_close_broadcasting_latest_txn(ldk.ChannelId.constructor_new(channelId), theirNodeId, "interop test")
    if (!r.is_ok()) throw new Error(`LDK force close failed: ${apiError(r)}`)
    this.pump()
  }

  /** Tells LDK the fee estimate changed and lets its timer run (it sends `update_fee` as funder). */
  timerTick(): void {
    this.manager.timer_tick_occurred()
    this.pump()
  }

  async stop(): Promise<void> {
    clearInterval(this.loop)
    await this.peer.stop()
  }
}

const apiError = (r: ldk.Result_NoneAPIErrorZ | ldk.Result_ChannelIdAPIErrorZ): string => {
  if (r instanceof ldk.Result_NoneAPIErrorZ_Err || r instanceof ldk.Result_ChannelIdAPIErrorZ_Err) {
    const e = r.err
    if (e instanceof ldk.APIError_APIMisuseError) return `APIMisuseError: ${e.err}`
    if (e instanceof ldk.APIError_ChannelUnavailable) return `ChannelUnavailable: ${e.err}`
    if (e instanceof ldk.APIError_FeeRateTooHigh) return `FeeRateTooHigh: ${e.err}`
    if (e instanceof ldk.APIError_InvalidRoute) return `InvalidRoute: ${e.err}`
    return e.constructor.name
  }
  return "ok"
}
