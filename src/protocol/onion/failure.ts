/**
 * BOLT 4 "Failure Messages": every `failure_code` with its data, as a typed union with its
 * codec. The top byte of a code is a set of flags (BADONION, PERM, NODE, UPDATE). A message may
 * be followed by a TLV stream (the spec names no records yet); it is kept as raw bytes, and the
 * origin "MUST ignore any extra bytes".
 */
import { Result } from "effect"
import type { DecodeError } from "../codec/errors.ts"
import { decodeWith } from "../codec/reader.ts"
import { Writer } from "../codec/writer.ts"
import { type Msat, msat } from "../units.ts"

export const BADONION = 0x8000
export const PERM = 0x4000
export const NODE = 0x2000
export const UPDATE = 0x1000

/** Every failure code of BOLT 4, flags included. */
export const FailureCode = {
  temporary_node_failure: NODE | 2,
  permanent_node_failure: PERM | NODE | 2,
  required_node_feature_missing: PERM | NODE | 3,
  invalid_onion_version: BADONION | PERM | 4,
  invalid_onion_hmac: BADONION | PERM | 5,
  invalid_onion_key: BADONION | PERM | 6,
  temporary_channel_failure: UPDATE | 7,
  permanent_channel_failure: PERM | 8,
  required_channel_feature_missing: PERM | 9,
  unknown_next_peer: PERM | 10,
  amount_below_minimum: UPDATE | 11,
  fee_insufficient: UPDATE | 12,
  incorrect_cltv_expiry: UPDATE | 13,
  expiry_too_soon: UPDATE | 14,
  incorrect_or_unknown_payment_details: PERM | 15,
  final_incorrect_cltv_expiry: 18,
  final_incorrect_htlc_amount: 19,
  channel_disabled: UPDATE | 20,
  expiry_too_far: 21,
  invalid_onion_payload: PERM | 22,
  mpp_timeout: 23,
  invalid_onion_blinding: BADONION | PERM | 24
} as const
export type FailureName = keyof typeof FailureCode

export const isBadOnion = (code: number): boolean => (code & BADONION) !== 0
export const isPermanent = (code: number): boolean => (code & PERM) !== 0
export const isNodeFailure = (code: number): boolean => (code & NODE) !== 0
export const isUpdateFailure = (code: number): boolean => (code & UPDATE) !== 0

interface Common {
  /** The optional TLV stream after the data, raw (no records are defined yet). */
  readonly tlvs?: Uint8Array
}
type Bare<N extends FailureName> = Common & { readonly _tag: N }
type WithOnionHash<N extends FailureName> = Bare<N> & { readonly sha256OfOnion: Uint8Array }
/** `channel_update` is opaque here (the gossip codec reads it); empty when not sent. */
type WithUpdate<N extends FailureName> = Bare<N> & { readonly channelUpdate: Uint8Array }

export type FailureMessage =
  | Bare<"temporary_node_failure">
  | Bare<"permanent_node_failure">
  | Bare<"required_node_feature_missing">
  | WithOnionHash<"invalid_onion_version">
  | WithOnionHash<"invalid_onion_hmac">
  | WithOnionHash<"invalid_onion_key">
  | WithUpdate<"temporary_channel_failure">
  | Bare<"permanent_channel_failure">
  | Bare<"required_channel_feature_missing">
  | Bare<"unknown_next_peer">
  | (WithUpdate<"amount_below_minimum"> & { readonly htlcMsat: Msat })
  | (WithUpdate<"fee_insufficient"> & { readonly htlcMsat: Msat })
  | (WithUpdate<"incorrect_cltv_expiry"> & { readonly cltvExpiry: number })
  | WithUpdate<"expiry_too_soon">
  | (Bare<"incorrect_or_unknown_payment_details"> & { readonly htlcMsat: Msat; readonly height: number })
  | (Bare<"final_incorrect_cltv_expiry"> & { readonly cltvExpiry: number })
  | (Bare<"final_incorrect_htlc_amount"> & { readonly incomingHtlcAmt: Msat })
  | (WithUpdate<"channel_disabled"> & { readonly disabledFlags: number })
  | Bare<"expiry_too_far">
  | (Bare<"invalid_onion_payload"> & { readonly type: bigint; readonly offset: number })
  | Bare<"mpp_timeout">
  | WithOnionHash<"invalid_onion_blinding">
  | (Common & { readonly _tag: "unknown"; readonly code: number; readonly data: Uint8Array })

export const failureCodeOf = (f: FailureMessage): number => (f._tag === "unknown" ? f.code : FailureCode[f._tag])

const nameByCode = new Map<number, FailureName>(
  (Object.entries(FailureCode) as Array<[FailureName, number]>).map(([n, c]) => [c, n])
)

/**
 * Encodes `failure_code || data || tlvs`. Throws only for values no decoder produces
 * (e.g. a channel_update over 65535 bytes): our own bug, not peer input.
 */
export const encodeFailureMessage = (f: FailureMessage): Uint8Array => {
  // Sized up front: every byte string the message may carry, plus room for the fixed fields.
  const w = new Writer(
    64 + (f.tlvs?.length ?? 0) + ("channelUpdate" in f ? f.channelUpdate.length : 0) + (f._tag === "unknown" ? f.data.length : 0)
  )
  w.u16(failureCodeOf(f))
  switch (f._tag) {
    case "invalid_onion_version":
    case "invalid_onion_hmac":
    case "invalid_onion_key":
    case "invalid_onion_blinding":
      w.fixed("sha256_of_onion", f.sha256OfOnion, 32)
      break
    case "temporary_channel_failure":
    case "expiry_too_soon":
      w.u16(f.channelUpdate.length).bytes(f.channelUpdate)
      break
    case "amount_below_minimum":
    case "fee_insufficient":
      w.u64(f.htlcMsat).u16(f.channelUpdate.length).bytes(f.channelUpdate)
      break
    case "incorrect_cltv_expiry":
      w.u32(f.cltvExpiry).u16(f.channelUpdate.length).bytes(f.channelUpdate)
      break
    case "channel_disabled":
      w.u16(f.disabledFlags).u16(f.channelUpdate.length).bytes(f.channelUpdate)
      break
    case "incorrect_or_unknown_payment_details":
      w.u64(f.htlcMsat).u32(f.height)
      break
    case "final_incorrect_cltv_expiry":
      w.u32(f.cltvExpiry)
      break
    case "final_incorrect_htlc_amount":
      w.u64(f.incomingHtlcAmt)
      break
    case "invalid_onion_payload":
      w.bigsize(f.type).u16(f.offset)
      break
    case "unknown":
      w.bytes(f.data)
      break
    default:
      break
  }
  if (f.tlvs !== undefined) w.bytes(f.tlvs)
  return w.finish()
}

const withTlvs = <A extends FailureMessage>(a: A, rest: Uint8Array): A => (rest.length > 0 ? { ...a, tlvs: rest } : a)

/** Decodes a `failuremsg`. Unknown codes decode to `unknown` with their raw data. */
export const decodeFailureMessage = (bytes: Uint8Array): Result.Result<FailureMessage, DecodeError> =>
  decodeWith(bytes, (r): FailureMessage => {
    const code = r.u16()
    const name = nameByCode.get(code)
    if (name === undefined) return { _tag: "unknown", code, data: r.rest() }
    let f: FailureMessage
    switch (name) {
      case "invalid_onion_version":
      case "invalid_onion_hmac":
      case "invalid_onion_key":
      case "invalid_onion_blinding":
        f = { _tag: name, sha256OfOnion: r.bytes(32) }
        break
      case "temporary_channel_failure":
      case "expiry_too_soon":
        f = { _tag: name, channelUpdate: r.bytes(r.u16()) }
        break
      case "amount_below_minimum":
      case "fee_insufficient": {
        const htlcMsat = msat(r.u64())
        f = { _tag: name, htlcMsat, channelUpdate: r.bytes(r.u16()) }
        break
      }
      case "incorrect_cltv_expiry": {
        const cltvExpiry = r.u32()
        f = { _tag: name, cltvExpiry, channelUpdate: r.bytes(r.u16()) }
        break
      }
      case "channel_disabled": {
        const disabledFlags = r.u16()
        f = { _tag: name, disabledFlags, channelUpdate: r.bytes(r.u16()) }
        break
      }
      case "incorrect_or_unknown_payment_details": {
        const htlcMsat = msat(r.u64())
        f = { _tag: name, htlcMsat, height: r.u32() }
        break
      }
      case "final_incorrect_cltv_expiry":
        f = { _tag: name, cltvExpiry: r.u32() }
        break
      case "final_incorrect_htlc_amount":
        f = { _tag: name, incomingHtlcAmt: msat(r.u64()) }
        break
      case "invalid_onion_payload": {
        const type = r.bigsize()
        f = { _tag: name, type, offset: r.u16() }
        break
      }
      default:
        f = { _tag: name }
    }
    return withTlvs(f, r.rest())
  })

/**
 * BOLT 2: a node whose outgoing HTLC was failed with `update_fail_malformed_htlc` returns the
 * error upstream in `update_fail_htlc` "using the failure_code given and setting the data to
 * sha256_of_onion". The caller checks the BADONION bit first (a peer sending a code without
 * it gets a warning, per BOLT 2); an unknown BADONION code keeps the hash as its data.
 */
export const failureFromMalformed = (failureCode: number, sha256OfOnion: Uint8Array): FailureMessage => {
  const name = nameByCode.get(failureCode)
  switch (name) {
    case "invalid_onion_version":
    case "invalid_onion_hmac":
    case "invalid_onion_key":
    case "invalid_onion_blinding":
      return { _tag: name, sha256OfOnion }
    default:
      return { _tag: "unknown", code: failureCode, data: sha256OfOnion }
  }
}
