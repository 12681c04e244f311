/**
 * Payments over blinded paths (BOLT 4 "Route Blinding", "`payload` format" requirements), as
 * pure code for the payment layer:
 *
 * - the recipient's side: `buildReceivePath` turns a path to us (the forwarders' policies on the
 *   channels towards us) into a `blinded_path` whose `encrypted_data_tlv`s carry `payment_relay`,
 *   `payment_constraints` and, for us, a private `path_id`, plus the `payInfo` the sender needs
 *   (fees and CLTV delta aggregated as BOLT 4 says, HTLC bounds);
 * - the sender's side: a blinded path is given to the router as a one-hop route hint from its
 *   introduction node to a stand-in payee (`blindedRouteHints`), so that the router prices the
 *   whole blinded part with the aggregated payinfo; `blindedOnionHops` then builds the onion:
 *   unblinded hops to the introduction node, which gets `current_path_key`, then one hop per
 *   blinded node id, the final one with `amt_to_forward`, `outgoing_cltv_value` and
 *   `total_amount_msat`.
 */
import { Data, Result } from "effect"
import { type ShortChannelId, type TlvRecord, Writer } from "../codec/index.ts"
import { shortChannelIdFromParts } from "../codec/fields.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import type { RouteHintHop } from "../invoice/index.ts"
import {
  type BlindedPath,
  type BlindedPathNode,
  blindedPathHops,
  createBlindedPath,
  decodeBlindedPath,
  type EncryptedData,
  encodeEncryptedData,
  FailureCode,
  type OnionFailureResponse,
  type PaymentHop,
  writeBlindedPath
} from "../onion/index.ts"
import type { Path } from "../routing/types.ts"
import type { Msat } from "../units.ts"

/** What the sender needs to pay through a blinded path (BOLT 12 `blinded_payinfo`). */
export interface BlindedPayInfo {
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  /** Every hop's `cltv_expiry_delta` plus the recipient's `min_final_cltv_expiry_delta`. */
  readonly cltvExpiryDelta: number
  /** The smallest amount to deliver to the recipient. */
  readonly htlcMinimumMsat: bigint
  /** The largest amount to deliver to the recipient. */
  readonly htlcMaximumMsat: bigint
}

/** A blinded path to a recipient, with its payinfo. */
export interface PaymentBlindedPath {
  readonly path: BlindedPath
  readonly payInfo: BlindedPayInfo
}

/** A node's relay policy on one channel direction (what `channel_update` says). */
export interface RelayPolicy {
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
}

/** A node of the blinded path before the recipient, with its policy on the channel to the next node. */
export interface BlindedForwarder {
  readonly nodeId: Uint8Array
  /** The channel from this node to the next one (the next forwarder, or the recipient). */
  readonly shortChannelId: ShortChannelId
  readonly policy: RelayPolicy
}

export interface ReceivePathParams {
  /** Introduction node first; empty: the recipient is its own introduction node. */
  readonly forwarders: ReadonlyArray<BlindedForwarder>
  readonly recipient: Uint8Array
  /** Private data binding the path to one payment (BOLT 4: the recipient checks it). */
  readonly pathId: Uint8Array
  /** The last block height the sender may use as its baseline (the path expires then). */
  readonly maxCltvExpiry: number
  readonly minFinalCltvExpiryDelta: number
  /** The recipient's own smallest HTLC (default 1 msat). */
  readonly htlcMinimumMsat?: bigint
  /**
   * Dummy hops after the recipient's real position (BOLT 4: MAY, to hide the path's length):
   * blinded hops of its own, with `next_node_id` itself and a zero `payment_relay` (default 0).
   */
  readonly dummyHops?: number
}

export class BlindedPathError extends Data.TaggedError("BlindedPathError")<{ readonly reason: string }> {}

/**
 * The aggregated fee and CLTV delta of the forwarders (BOLT 4, the creator of
 * `encrypted_recipient_data`), folding from the hop next to the recipient back to the
 * introduction node, rounding up.
 */
export const aggregateRelay = (
  forwarders: ReadonlyArray<Pick<BlindedForwarder, "policy">>,
  minFinalCltvExpiryDelta: number
): { readonly feeBaseMsat: number; readonly feeProportionalMillionths: number; readonly cltvExpiryDelta: number } => {
  let base = 0n
  let ppm = 0n
  let cltv = minFinalCltvExpiryDelta
  for (let i = forwarders.length - 1; i >= 0; i--) {
    const p = forwarders[i]!.policy
    const b = BigInt(p.feeBaseMsat)
    const q = BigInt(p.feeProportionalMillionths)
    base = (b * 1_000_000n + base * (1_000_000n + q) + 999_999n) / 1_000_000n
    ppm = ((ppm + q) * 1_000_000n + ppm * q + 999_999n) / 1_000_000n
    cltv += p.cltvExpiryDelta
  }
  return { feeBaseMsat: Number(base), feeProportionalMillionths: Number(ppm), cltvExpiryDelta: cltv }
}

/** BOLT 4: all `encrypted_data_tlv`s SHOULD have the same length: each gets a `padding` record up to the longest plus 2. */
const padded = (datas: ReadonlyArray<EncryptedData>): ReadonlyArray<EncryptedData> => {
  const lengths = datas.map((d) => encodeEncryptedData(d).length)
  const target = Math.max(...lengths) + 2
  return datas.map((d, i) => ({ ...d, padding: new Uint8Array(target - lengths[i]! - 2) }))
}

/**
 * A blinded path from the introduction node to the recipient (BOLT 4, the writer of a
 * `blinded_path`), with `payment_relay` and `payment_constraints` for every forwarder,
 * `path_id` (and constraints) for the recipient, and the payinfo for the sender.
 * `max_cltv_expiry` grows by each hop's delta from the recipient's (`maxCltvExpiry` plus its
 * `min_final_cltv_expiry_delta`); `htlc_minimum_msat` is the largest minimum downstream.
 */
export const buildReceivePath = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  params: ReceivePathParams
): Result.Result<PaymentBlindedPath, BlindedPathError> => {
  const fs = params.forwarders
  const recipientMin = params.htlcMinimumMsat ?? 1n
  const maxCltv: Array<number> = []
  const minHtlc: Array<bigint> = []
  let c = params.maxCltvExpiry + params.minFinalCltvExpiryDelta
  let m = recipientMin
  for (let i = fs.length - 1; i >= 0; i--) {
    const p = fs[i]!.policy
    c += p.cltvExpiryDelta
    m = p.htlcMinimumMsat > m ? p.htlcMinimumMsat : m
    maxCltv[i] = c
    minHtlc[i] = m
  }
  const datas: Array<EncryptedData> = fs.map((f, i) => ({
    shortChannelId: f.shortChannelId,
    paymentRelay: {
      cltvExpiryDelta: f.policy.cltvExpiryDelta,
      feeProportionalMillionths: f.policy.feeProportionalMillionths,
      feeBaseMsat: f.policy.feeBaseMsat
    },
    paymentConstraints: { maxCltvExpiry: maxCltv[i]!, htlcMinimumMsat: minHtlc[i]! }
  }))
  const finalConstraints = { maxCltvExpiry: params.maxCltvExpiry + params.minFinalCltvExpiryDelta, htlcMinimumMsat: recipientMin }
  for (let d = 0; d < (params.dummyHops ?? 0); d++) {
    datas.push({
      nextNodeId: params.recipient,
      paymentRelay: { cltvExpiryDelta: 0, feeProportionalMillionths: 0, feeBaseMsat: 0 },
      paymentConstraints: finalConstraints
    })
  }
  datas.push({ pathId: params.pathId, paymentConstraints: finalConstraints })
  const nodes: Array<BlindedPathNode> = padded(datas).map((data, i) => ({ nodeId: fs[i]?.nodeId ?? params.recipient, data }))
  const built = createBlindedPath(secp, sessionKey, nodes)
  if (Result.isFailure(built)) return Result.fail(new BlindedPathError({ reason: built.failure._tag }))
  const relay = aggregateRelay(fs, params.minFinalCltvExpiryDelta)
  let htlcMax = 1n << 62n
  for (const f of fs) if (f.policy.htlcMaximumMsat < htlcMax) htlcMax = f.policy.htlcMaximumMsat
  return Result.succeed({
    path: { firstNodeId: built.success.firstNodeId, firstPathKey: built.success.firstPathKey, hops: built.success.hops },
    payInfo: { ...relay, htlcMinimumMsat: minHtlc[0] ?? recipientMin, htlcMaximumMsat: htlcMax }
  })
}

// ---------------------------------------------------------------------------------------------
// The sender's side

/** The stand-in short channel id of blinded path `index` in the route hints (never a real channel: block 0xffffff). */
export const blindedHintScid = (index: number): ShortChannelId => shortChannelIdFromParts(0xffffff, 0xffffff, index & 0xffff)

/**
 * The stand-in payee of a blinded payment: the first path's last blinded node id (a point no
 * graph knows). Every path's hint leads to it.
 */
export const blindedPayee = (paths: ReadonlyArray<PaymentBlindedPath>): Uint8Array | undefined => {
  const first = paths[0]
  return first?.path.hops[first.path.hops.length - 1]?.blindedNodeId
}

/**
 * One single-hop route hint per blinded path: from its introduction node to the stand-in payee,
 * charging the path's aggregated fee and CLTV delta (which includes the recipient's final delta).
 * A path whose payinfo bounds leave out `amountMsat` (when given), or that is missing, gets none;
 * the others keep their index (their stand-in scid).
 */
export const blindedRouteHints = (
  paths: ReadonlyArray<PaymentBlindedPath | undefined>,
  amountMsat?: bigint
): ReadonlyArray<ReadonlyArray<RouteHintHop>> =>
  paths.flatMap((p, i) =>
    p === undefined || (amountMsat !== undefined && (amountMsat < p.payInfo.htlcMinimumMsat || amountMsat > p.payInfo.htlcMaximumMsat))
      ? []
      : [[{
        pubkey: p.path.firstNodeId,
        shortChannelId: blindedHintScid(i),
        feeBaseMsat: p.payInfo.feeBaseMsat,
        feeProportionalMillionths: p.payInfo.feeProportionalMillionths,
        cltvExpiryDelta: p.payInfo.cltvExpiryDelta
      }]]
  )

/** Which blinded path a router path ends with (by its stand-in scid). */
export const blindedPathOf = (paths: ReadonlyArray<PaymentBlindedPath | undefined>, path: Path): PaymentBlindedPath | undefined => {
  const last = path.hops[path.hops.length - 1]
  return last === undefined ? undefined : paths.find((_, i) => blindedHintScid(i) === last.shortChannelId)
}

/**
 * The onion hops of a router path ending in a blinded path's stand-in hop: forwarding payloads up
 * to the introduction node, then the blinded path's hops (BOLT 4, the writer of the payload).
 * The final `outgoing_cltv_value` is the stand-in hop's CLTV (the baseline height plus any
 * offset). Undefined when the path is not usable (the introduction node is the payer itself, a
 * `sciddir` introduction node, an empty path).
 */
export const blindedOnionHops = (
  path: Path,
  blinded: PaymentBlindedPath,
  final: { readonly totalMsat: Msat; readonly customRecords?: ReadonlyArray<TlvRecord> }
): ReadonlyArray<PaymentHop> | undefined => {
  const k = path.hops.length - 1
  const standIn = path.hops[k]
  if (k < 1 || standIn === undefined) return undefined
  const forwards: Array<PaymentHop> = []
  for (let i = 0; i < k - 1; i++) {
    const next = path.hops[i + 1]!
    forwards.push({
      publicKey: path.hops[i]!.nodeId,
      payload: { amtToForward: next.amountMsat, outgoingCltvValue: next.cltvExpiry, shortChannelId: next.shortChannelId }
    })
  }
  const tail = blindedPathHops(blinded.path, {
    amtToForward: standIn.amountMsat,
    outgoingCltvValue: standIn.cltvExpiry,
    totalAmountMsat: final.totalMsat,
    ...(final.customRecords === undefined || final.customRecords.length === 0 ? {} : { customRecords: final.customRecords })
  })
  return tail === undefined ? undefined : [...forwards, ...tail]
}

// ---------------------------------------------------------------------------------------------
// Storage

/** A blinded path as stored with a payment: the `blinded_path` bytes and the payinfo. */
export interface StoredBlindedPath {
  readonly path: Uint8Array
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
}

export const storeBlindedPath = (p: PaymentBlindedPath): StoredBlindedPath => {
  const w = new Writer(64 + p.path.hops.reduce((s, h) => s + 35 + h.encryptedRecipientData.length, 0))
  writeBlindedPath(w, p.path)
  return { path: w.finish(), ...p.payInfo }
}

export const loadBlindedPath = (s: StoredBlindedPath): PaymentBlindedPath | undefined => {
  const path = decodeBlindedPath(s.path)
  if (Result.isFailure(path)) return undefined
  const { path: _, ...payInfo } = s
  return { path: path.success, payInfo }
}

/** Checks a blinded path a payer was given: a public-key introduction node, at least one hop, sane payinfo. */
export const checkPaymentBlindedPath = (p: PaymentBlindedPath): string | undefined => {
  if (p.path.firstNodeId.length !== 33) return "the introduction node must be a node id"
  if (p.path.hops.length === 0) return "a blinded path has at least one hop"
  const i = p.payInfo
  if (!Number.isInteger(i.feeBaseMsat) || i.feeBaseMsat < 0 || !Number.isInteger(i.feeProportionalMillionths) || i.feeProportionalMillionths < 0) return "bad payinfo fees"
  if (!Number.isInteger(i.cltvExpiryDelta) || i.cltvExpiryDelta < 0 || i.cltvExpiryDelta > 0xffff) return "bad payinfo cltv_expiry_delta"
  if (i.htlcMinimumMsat > i.htlcMaximumMsat) return "payinfo htlc_minimum_msat above htlc_maximum_msat"
  return undefined
}


// ---------------------------------------------------------------------------------------------
// Failing inside a blinded route

/** How a node inside a blinded route relayed an HTLC: as its introduction node, or reached with a `path_key`. */
export interface BlindedRelay {
  readonly introduction: boolean
  /** The SHA-256 of the onion this node received. */
  readonly sha256OfOnion: Uint8Array
}

/**
 * BOLT 2 "Removing an HTLC": a node inside a blinded route fails every HTLC, for any local or
 * downstream error, with `invalid_onion_blinding`: in `update_fail_htlc` when it is the
 * introduction node, in `update_fail_malformed_htlc` when the HTLC came with a `path_key`.
 * Outside a blinded route `plain` is returned as is.
 */
export const blindedFailureResponse = (
  relay: { readonly blinded?: BlindedRelay | undefined; readonly sharedSecret: Uint8Array },
  plain: OnionFailureResponse
): OnionFailureResponse =>
  relay.blinded === undefined
    ? plain
    : relay.blinded.introduction
    ? { _tag: "Fail", failure: { _tag: "invalid_onion_blinding", sha256OfOnion: relay.blinded.sha256OfOnion }, sharedSecret: relay.sharedSecret }
    : { _tag: "FailMalformed", failureCode: FailureCode.invalid_onion_blinding, sha256OfOnion: relay.blinded.sha256OfOnion }
