/**
 * The payment onion end to end: the sender builds the 1366-byte `onion_routing_packet` for
 * `update_add_htlc` from typed hop payloads, bound to the payment hash; the receiving node
 * peels its layer and learns what to do (forward, receive, forward inside a blinded route,
 * receive at the end of one) or how to fail, mapped to the BOLT 4 failure codes:
 *
 * - bad version / key / HMAC: `update_fail_malformed_htlc` with `invalid_onion_version`,
 *   `invalid_onion_key` or `invalid_onion_hmac` and the SHA-256 of the onion;
 * - bad payload: `update_fail_htlc` with `invalid_onion_payload` (type, offset);
 * - anything wrong inside a blinded route: `invalid_onion_blinding`, malformed when the HTLC
 *   came with a `path_key`, encrypted by the introduction node otherwise (BOLT 4 "Failure
 *   Messages", BOLT 2 "Removing an HTLC").
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Data, Result } from "effect"
import type { ShortChannelId, TlvRecord } from "../codec/index.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { type Msat, msat } from "../units.ts"
import { type BlindedPath, decryptBlindedHop, type EncryptedData, type InvalidBlindedHop } from "./blinding.ts"
import { FailureCode, type FailureMessage } from "./failure.ts"
import {
  decodeHopPayload,
  encodeHopPayload,
  type HopPayload,
  type InvalidHopPayloadValue,
  type InvalidOnionPayload,
  validateHopPayload,
  type ValidatedPayload
} from "./payload.ts"
import {
  buildOnion,
  type BuiltOnion,
  type NodeEcdh,
  PAYMENT_PAYLOADS_SIZE,
  peelOnion,
  parseOnionPacket,
  serializeOnionPacket,
  type SphinxBuildError,
  type SphinxPeelError
} from "./sphinx.ts"

export interface PaymentHop {
  /** The node id, or the blinded node id inside a blinded route. */
  readonly publicKey: Uint8Array
  readonly payload: HopPayload
}

export interface BuiltPaymentOnion extends BuiltOnion {
  /** The 1366 bytes for `update_add_htlc.onion_routing_packet`. */
  readonly onion: Uint8Array
}

/** Builds a payment onion; `paymentHash` is the associated data every HMAC commits to. */
export const buildPaymentOnion = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  hops: ReadonlyArray<PaymentHop>,
  paymentHash: Uint8Array
): Result.Result<BuiltPaymentOnion, SphinxBuildError | InvalidHopPayloadValue> => {
  const encoded: Array<{ readonly publicKey: Uint8Array; readonly payload: Uint8Array }> = []
  for (const hop of hops) {
    const payload = encodeHopPayload(hop.payload)
    if (Result.isFailure(payload)) return Result.fail(payload.failure)
    encoded.push({ publicKey: hop.publicKey, payload: payload.success })
  }
  const built = buildOnion(secp, sessionKey, encoded, paymentHash, PAYMENT_PAYLOADS_SIZE)
  if (Result.isFailure(built)) return Result.fail(built.failure)
  return Result.succeed({ ...built.success, onion: serializeOnionPacket(built.success.packet) })
}

/** The final hop's amounts when paying through a blinded path. */
export interface BlindedFinalAmounts {
  readonly amtToForward: Msat
  readonly outgoingCltvValue: number
  readonly totalAmountMsat: Msat
  readonly customRecords?: ReadonlyArray<TlvRecord>
}

/**
 * The hops of a blinded path as the sender puts them in the onion (BOLT 4, reader of a
 * `blinded_path`): an unblinded hop to the introduction node carrying `current_path_key`,
 * then one hop per blinded node id; the last one gets the amounts. Prepend the hops that reach
 * the introduction node. Undefined when `first_node_id` is not a public key (sciddir form) or
 * the path has no hops.
 */
export const blindedPathHops = (path: BlindedPath, final: BlindedFinalAmounts): ReadonlyArray<PaymentHop> | undefined => {
  // An empty path has no recipient: the route would silently end at the hop before it.
  if (path.firstNodeId.length !== 33 || path.hops.length === 0) return undefined
  return path.hops.map((hop, i): PaymentHop => {
    const last = i === path.hops.length - 1
    const payload: HopPayload = {
      encryptedRecipientData: hop.encryptedRecipientData,
      ...(i === 0 ? { currentPathKey: path.firstPathKey } : {}),
      ...(last
        ? {
          amtToForward: final.amtToForward,
          outgoingCltvValue: final.outgoingCltvValue,
          totalAmountMsat: final.totalAmountMsat,
          ...(final.customRecords !== undefined ? { customRecords: final.customRecords } : {})
        }
        : {})
    }
    return { publicKey: i === 0 ? path.firstNodeId : hop.blindedNodeId, payload }
  })
}

// ---------------------------------------------------------------------------------------------
// Receiving side

/** What `update_add_htlc` brings that the onion processing needs. */
export interface IncomingHtlc {
  readonly onion: Uint8Array
  readonly paymentHash: Uint8Array
  readonly amountMsat: Msat
  readonly cltvExpiry: number
  /** `update_add_htlc_tlvs.path_key`: set when this node is inside a blinded route. */
  readonly pathKey?: Uint8Array
}

export type ProcessedOnion =
  | {
    readonly _tag: "Forward"
    readonly sharedSecret: Uint8Array
    readonly nextOnion: Uint8Array
    readonly shortChannelId: ShortChannelId
    readonly amtToForward: Msat
    readonly outgoingCltvValue: number
    readonly customRecords: ReadonlyArray<TlvRecord>
  }
  | {
    readonly _tag: "BlindedForward"
    readonly sharedSecret: Uint8Array
    readonly nextOnion: Uint8Array
    /** Goes in the outgoing `update_add_htlc` as `path_key`. */
    readonly nextPathKey: Uint8Array
    readonly shortChannelId: ShortChannelId | undefined
    readonly nextNodeId: Uint8Array | undefined
    /** Computed from `payment_relay` (BOLT 4). */
    readonly amtToForward: Msat
    readonly outgoingCltvValue: number
    readonly encryptedData: EncryptedData
    /** This node was reached with `current_path_key` (it is the introduction node). */
    readonly introduction: boolean
  }
  /** The validated final payload (`totalMsat` defaulted to `amt_to_forward`), with the secret. */
  | (Extract<ValidatedPayload, { readonly _tag: "Receive" }> & { readonly sharedSecret: Uint8Array })
  | {
    readonly _tag: "BlindedReceive"
    readonly sharedSecret: Uint8Array
    readonly amtToForward: Msat
    readonly outgoingCltvValue: number
    readonly totalAmountMsat: Msat
    /** The recipient's own data: it MUST check it matches the path it created. */
    readonly pathId: Uint8Array | undefined
    readonly encryptedData: EncryptedData
    readonly customRecords: ReadonlyArray<TlvRecord>
  }

/** A rule of a blinded hop (BOLT 4 "payload format", the reader) was broken. */
export class BlindedHopRejected extends Data.TaggedError("BlindedHopRejected")<{
  readonly reason:
    | "both_short_channel_id_and_next_node_id"
    | "no_next_hop"
    | "missing_payment_relay"
    | "unknown_allowed_features"
    | "expiry_above_max_cltv_expiry"
    | "amount_below_htlc_minimum"
    | "amount_below_fee"
    | "expiry_below_delta"
}> {}

/** The final node's HTLC does not carry what its payload says (BOLT 4 "Failure Messages"). */
export class FinalHtlcMismatch extends Data.TaggedError("FinalHtlcMismatch")<{
  readonly reason: "amount_below_amt_to_forward" | "expiry_below_outgoing_cltv_value"
}> {}

/** How to fail the HTLC back. */
export type OnionFailureResponse =
  /** `update_fail_malformed_htlc` (only BADONION codes). */
  | { readonly _tag: "FailMalformed"; readonly failureCode: number; readonly sha256OfOnion: Uint8Array }
  /** `update_fail_htlc`: encrypt `failure` with `createFailure(sharedSecret, failure, ...)`. */
  | { readonly _tag: "Fail"; readonly failure: FailureMessage; readonly sharedSecret: Uint8Array }

export type OnionRejectionReason =
  | SphinxPeelError
  | InvalidOnionPayload
  | InvalidBlindedHop
  | BlindedHopRejected
  | FinalHtlcMismatch

/** The HTLC's onion was refused: why, and what to send back. */
export class OnionRejected extends Data.TaggedError("OnionRejected")<{
  readonly reason: OnionRejectionReason
  readonly response: OnionFailureResponse
}> {}

export interface ProcessOptions {
  /**
   * Decides whether `allowed_features` of a blinded hop is acceptable. Default: only an empty
   * (all-zero) feature vector, since no feature is defined for blinded payments yet.
   */
  readonly allowedFeatures?: (features: Uint8Array) => boolean
}

const noFeatureBitSet = (features: Uint8Array): boolean => features.every((b) => b === 0)

/** amt_to_forward = ceil((amount - fee_base) * 1e6 / (1e6 + fee_proportional)) (BOLT 4). */
export const blindedAmountToForward = (amountMsat: bigint, feeBaseMsat: number, feeProportionalMillionths: number): bigint => {
  const prop = BigInt(feeProportionalMillionths)
  return ((amountMsat - BigInt(feeBaseMsat)) * 1_000_000n + 1_000_000n + prop - 1n) / (1_000_000n + prop)
}

/**
 * Processes the onion of an incoming HTLC with this node's ECDH. Never throws; a typed
 * `OnionRejected` carries the failure to send back. Checks that need more than the HTLC and
 * its onion stay with the caller: the block height (`min_final_cltv_expiry_delta`, forwarding
 * expiry), the invoice (expected amount, `payment_secret`, `path_id`) and channel policy.
 */
export const processPaymentOnion = (
  secp: Secp256k1,
  ecdh: NodeEcdh,
  htlc: IncomingHtlc,
  options: ProcessOptions = {}
): Result.Result<ProcessedOnion, OnionRejected> => {
  // Only failures need the onion's hash: computed on demand, not for every accepted HTLC.
  const onionHash = () => sha256(htlc.onion)
  const inBlindedRoute = htlc.pathKey !== undefined
  const blindingMalformed = (reason: OnionRejectionReason) =>
    Result.fail(
      new OnionRejected({
        reason,
        response: { _tag: "FailMalformed", failureCode: FailureCode.invalid_onion_blinding, sha256OfOnion: onionHash() }
      })
    )

  const parsed = parseOnionPacket(htlc.onion, PAYMENT_PAYLOADS_SIZE)
  const peeled = Result.isFailure(parsed)
    ? Result.fail(parsed.failure)
    : peelOnion(secp, ecdh, parsed.success, htlc.paymentHash, htlc.pathKey)
  if (Result.isFailure(peeled)) {
    const e = peeled.failure
    if (inBlindedRoute) return blindingMalformed(e)
    if (e._tag === "InvalidHopFraming") {
      // The HMAC held, so the sender wrote this: an invalid payload, not a damaged onion.
      return Result.fail(
        new OnionRejected({
          reason: e,
          response: {
            _tag: "Fail",
            failure: { _tag: "invalid_onion_payload", type: 0n, offset: 0 },
            sharedSecret: e.sharedSecret
          }
        })
      )
    }
    const failureCode = e._tag === "InvalidOnionVersion" || e._tag === "InvalidOnionLength"
      ? FailureCode.invalid_onion_version
      : e._tag === "InvalidOnionKey"
      ? FailureCode.invalid_onion_key
      : FailureCode.invalid_onion_hmac
    return Result.fail(new OnionRejected({ reason: e, response: { _tag: "FailMalformed", failureCode, sha256OfOnion: onionHash() } }))
  }
  const layer = peeled.success
  const ss = layer.sharedSecret
  const isFinal = layer.next === undefined
  const fail = (reason: OnionRejectionReason, failure: FailureMessage) =>
    Result.fail(new OnionRejected({ reason, response: { _tag: "Fail", failure, sharedSecret: ss } }))

  const decoded = decodeHopPayload(layer.payload)
  const validated: Result.Result<ValidatedPayload, InvalidOnionPayload> = Result.isFailure(decoded)
    ? Result.fail(decoded.failure)
    : validateHopPayload(decoded.success, isFinal, inBlindedRoute)
  if (Result.isFailure(validated)) {
    const e = validated.failure
    if (inBlindedRoute) return blindingMalformed(e)
    // An introduction node that is not the final node reports every error as invalid_onion_blinding.
    if (Result.isSuccess(decoded) && decoded.success.currentPathKey !== undefined && !isFinal) {
      return fail(e, { _tag: "invalid_onion_blinding", sha256OfOnion: onionHash() })
    }
    return fail(e, { _tag: "invalid_onion_payload", type: e.type, offset: e.offset })
  }
  const payload = validated.success
  const nextOnion = layer.next === undefined ? new Uint8Array(0) : serializeOnionPacket(layer.next)

  switch (payload._tag) {
    case "Forward":
      return Result.succeed({
        _tag: "Forward",
        sharedSecret: ss,
        nextOnion,
        shortChannelId: payload.shortChannelId,
        amtToForward: payload.amtToForward,
        outgoingCltvValue: payload.outgoingCltvValue,
        customRecords: payload.customRecords
      })
    case "Receive": {
      if (htlc.amountMsat < payload.amtToForward) {
        return fail(new FinalHtlcMismatch({ reason: "amount_below_amt_to_forward" }), {
          _tag: "final_incorrect_htlc_amount",
          incomingHtlcAmt: htlc.amountMsat
        })
      }
      if (htlc.cltvExpiry < payload.outgoingCltvValue) {
        return fail(new FinalHtlcMismatch({ reason: "expiry_below_outgoing_cltv_value" }), {
          _tag: "final_incorrect_cltv_expiry",
          cltvExpiry: htlc.cltvExpiry
        })
      }
      return Result.succeed({ ...payload, sharedSecret: ss })
    }
    default: {
      const introduction = payload.currentPathKey !== undefined
      // Errors inside the route: malformed with a path_key; encrypted invalid_onion_blinding
      // from an introduction node; the final node reached directly reports a payload error.
      const blindFail = (reason: OnionRejectionReason, type: bigint) =>
        inBlindedRoute
          ? blindingMalformed(reason)
          : payload._tag === "BlindedForward"
          ? fail(reason, { _tag: "invalid_onion_blinding", sha256OfOnion: onionHash() })
          : fail(reason, { _tag: "invalid_onion_payload", type, offset: 0 })
      const pathKey = htlc.pathKey ?? payload.currentPathKey
      if (pathKey === undefined) return blindFail(new BlindedHopRejected({ reason: "no_next_hop" }), 12n)
      const hop = decryptBlindedHop(secp, ecdh, pathKey, payload.encryptedRecipientData)
      if (Result.isFailure(hop)) return blindFail(hop.failure, 10n)
      const data = hop.success.data
      const reject = (reason: BlindedHopRejected["reason"]) => blindFail(new BlindedHopRejected({ reason }), 10n)
      if (data.allowedFeatures !== undefined && !(options.allowedFeatures ?? noFeatureBitSet)(data.allowedFeatures)) {
        return reject("unknown_allowed_features")
      }
      // BOLT 4 asks this of every blinded hop, the final one included.
      if (data.shortChannelId !== undefined && data.nextNodeId !== undefined) {
        return reject("both_short_channel_id_and_next_node_id")
      }
      if (data.paymentConstraints !== undefined) {
        if (htlc.cltvExpiry > data.paymentConstraints.maxCltvExpiry) return reject("expiry_above_max_cltv_expiry")
        if (htlc.amountMsat < data.paymentConstraints.htlcMinimumMsat) return reject("amount_below_htlc_minimum")
      }
      if (payload._tag === "BlindedReceive") {
        if (htlc.amountMsat < payload.amtToForward) {
          return blindFail(new FinalHtlcMismatch({ reason: "amount_below_amt_to_forward" }), 2n)
        }
        if (htlc.cltvExpiry < payload.outgoingCltvValue) {
          return blindFail(new FinalHtlcMismatch({ reason: "expiry_below_outgoing_cltv_value" }), 4n)
        }
        return Result.succeed({
          _tag: "BlindedReceive",
          sharedSecret: ss,
          amtToForward: payload.amtToForward,
          outgoingCltvValue: payload.outgoingCltvValue,
          totalAmountMsat: payload.totalAmountMsat,
          pathId: data.pathId,
          encryptedData: data,
          customRecords: payload.customRecords
        })
      }
      if (data.shortChannelId === undefined && data.nextNodeId === undefined) return reject("no_next_hop")
      if (data.paymentRelay === undefined) return reject("missing_payment_relay")
      const relay = data.paymentRelay
      if (htlc.amountMsat < BigInt(relay.feeBaseMsat)) return reject("amount_below_fee")
      if (htlc.cltvExpiry < relay.cltvExpiryDelta) return reject("expiry_below_delta")
      return Result.succeed({
        _tag: "BlindedForward",
        sharedSecret: ss,
        nextOnion,
        nextPathKey: hop.success.nextPathKey,
        shortChannelId: data.shortChannelId,
        nextNodeId: data.nextNodeId,
        amtToForward: msat(blindedAmountToForward(htlc.amountMsat, relay.feeBaseMsat, relay.feeProportionalMillionths)),
        outgoingCltvValue: htlc.cltvExpiry - relay.cltvExpiryDelta,
        encryptedData: data,
        introduction
      })
    }
  }
}
