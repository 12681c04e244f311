/**
 * What a route request says and what the router answers (issue 8 "The router"), shaped by what
 * the BOLT 4 onion needs: for every hop the channel, the amount and the absolute CLTV of the
 * HTLC on it. `pathOnionHops` (./onion.ts) turns a `Path` into onion hop payloads.
 */
import { Data } from "effect"
import type { ShortChannelId } from "../codec/index.ts"
import type { RouteHintHop } from "../invoice/index.ts"
import type { Msat } from "../units.ts"

/** One of our channels, with what it can carry NOW (the router trusts this over gossip). */
export interface FirstHop {
  /** 32 bytes; echoed back on `Path.firstHop`. */
  readonly channelId: Uint8Array
  /** The real short channel id, or the alias the peer knows an unannounced channel by. */
  readonly shortChannelId: ShortChannelId
  readonly counterpartyNodeId: Uint8Array
  /**
   * The largest single new HTLC the channel can carry now (balance minus reserve and HTLCs in
   * flight, capped by the peer's `max_htlc_value_in_flight_msat`).
   */
  readonly outboundMsat: Msat
  /** The counterparty's `htlc_minimum_msat`. */
  readonly htlcMinimumMsat: Msat
}

/** A channel direction the router must not use; without `sourceNodeId`, both directions. */
export interface ExcludedChannel {
  readonly shortChannelId: ShortChannelId
  readonly sourceNodeId?: Uint8Array
}

/**
 * A channel direction's policy as a failure message's `channel_update` told it (BOLT 4 "Receiving
 * Failure Codes": if the update is valid and more recent than the one used, the origin MAY
 * consider it when routing the retries of that payment, and MUST NOT apply it to its graph). The
 * payment layer checks the signature; the router then routes that request with this policy in
 * place of the graph's (or the route hint's) for the direction.
 */
export interface PolicyUpdate {
  readonly shortChannelId: ShortChannelId
  /** BOLT 7 direction (0: sent by `node_id_1`). */
  readonly direction: 0 | 1
  /** The node that signed it: the direction's source. */
  readonly sourceNodeId: Uint8Array
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
  /** The `disable` bit: the direction is not used at all. */
  readonly disabled: boolean
}

export interface RouteRequest {
  readonly payer: Uint8Array
  readonly payee: Uint8Array
  /** Delivered to the payee (the sum over the parts of an MPP split). */
  readonly amountMsat: Msat
  /** The current block height: every CLTV in the answer is absolute. */
  readonly currentHeight: number
  /** The invoice's `min_final_cltv_expiry_delta` (plus any shadow-route offset the payer adds). */
  readonly finalCltvExpiryDelta: number
  /** Total fee over all parts; no limit when absent. */
  readonly maxFeeMsat?: Msat | undefined
  /** Largest `cltv_expiry - currentHeight` of a first HTLC; default 2016. */
  readonly maxTotalCltvExpiryDelta?: number | undefined
  /** Default 16; a split needs `basic_mpp` (bit 16 or 17) in `payeeFeatures`. */
  readonly maxParts?: number | undefined
  /** The smallest part of a split (the last part may be smaller than this only if it is the whole rest); default 1,000 sat. */
  readonly minShardMsat?: Msat | undefined
  /** Longest path; default 20 hops, which fits a 1300-byte onion. */
  readonly maxHops?: number | undefined
  /** Our channels. When given, the payer's channels in the graph are not used. */
  readonly firstHops?: ReadonlyArray<FirstHop> | undefined
  /** The invoice's `r` fields, as decoded. */
  readonly routeHints?: ReadonlyArray<ReadonlyArray<RouteHintHop>> | undefined
  readonly excludedChannels?: ReadonlyArray<ExcludedChannel> | undefined
  readonly excludedNodes?: ReadonlyArray<Uint8Array> | undefined
  /** Policies learned from failure messages during this payment (see `PolicyUpdate`); our own channels are never overridden. */
  readonly policyUpdates?: ReadonlyArray<PolicyUpdate> | undefined
  /** The payee's feature bits (the invoice's `9` field); `[]` for keysend. */
  readonly payeeFeatures?: ReadonlyArray<number> | undefined
}

/** Defaults of the optional request fields. */
export const RouteDefaults = {
  maxTotalCltvExpiryDelta: 2016,
  maxParts: 16,
  minShardMsat: 1_000_000,
  maxHops: 20
} as const

/** One channel of a path: from the previous node (the payer for `hops[0]`) to `nodeId`. */
export interface RouteHop {
  readonly shortChannelId: ShortChannelId
  /** BOLT 7 direction of the channel as used: 0 when its source is the smaller node id. */
  readonly direction: 0 | 1
  /** The node this hop reaches; the last hop reaches the payee. */
  readonly nodeId: Uint8Array
  /** The HTLC's amount on this channel. */
  readonly amountMsat: Msat
  /** The HTLC's absolute `cltv_expiry` on this channel. */
  readonly cltvExpiry: number
  /** What `nodeId` keeps for forwarding (0 for the payee). */
  readonly feeMsat: Msat
  /** `nodeId`'s `cltv_expiry_delta` on the next channel (0 for the payee). */
  readonly cltvExpiryDelta: number
}

/**
 * One path. The onion payload of `hops[i].nodeId`: when not final, `amt_to_forward` =
 * `hops[i + 1].amountMsat`, `outgoing_cltv_value` = `hops[i + 1].cltvExpiry`, `short_channel_id`
 * = `hops[i + 1].shortChannelId`; when final, `hops[i].amountMsat` and `hops[i].cltvExpiry`.
 */
export interface Path {
  readonly hops: readonly [RouteHop, ...Array<RouteHop>]
  /** The channel of ours the first HTLC goes on; undefined only when no first hops were given. */
  readonly firstHop: FirstHop | undefined
  /** Delivered to the payee by this path. */
  readonly amountMsat: Msat
  /** `hops[0].amountMsat - amountMsat`. */
  readonly feeMsat: Msat
}

/** One path, or a multi-part split (BOLT 4 `basic_mpp`). */
export interface Route {
  readonly paths: readonly [Path, ...Array<Path>]
  /** The request's amount: the sum of the paths' amounts. */
  readonly amountMsat: Msat
  readonly feeMsat: Msat
}

/**
 * What happened to a path, for the scorer. `holdTimes`: what the hops reported in attribution
 * data (BOLT 4, units of 100 ms, first hop first, as far as their HMACs verified), when any came.
 */
export type PathOutcome =
  /** The preimage came back. */
  | { readonly _tag: "Succeeded"; readonly holdTimes?: ReadonlyArray<number> | undefined }
  /** The payee failed it: every channel carried the HTLC. */
  | { readonly _tag: "ReachedPayee"; readonly holdTimes?: ReadonlyArray<number> | undefined }
  /**
   * `hops[hopIndex]`'s channel could not carry the HTLC. The erring node is that channel's
   * source: the payer gives 0, `hops[k].nodeId` gives `k + 1`. `permanent` for
   * `permanent_channel_failure`, `unknown_next_peer`, `channel_disabled`...; the channels
   * before `hopIndex` carried the HTLC.
   */
  | { readonly _tag: "ChannelFailed"; readonly hopIndex: number; readonly permanent: boolean; readonly holdTimes?: ReadonlyArray<number> | undefined }

export type NoRouteReason =
  /** The request cannot be met as asked (zero amount, payer is payee, bad limits). */
  | "InvalidRequest"
  /** No path reaches the payee within the limits. */
  | "NoPath"
  /** Paths exist but cannot carry the amount, even split within `maxParts`. */
  | "InsufficientLiquidity"

export class NoRoute extends Data.TaggedError("NoRoute")<{
  readonly reason: NoRouteReason
  readonly detail: string
}> {}
