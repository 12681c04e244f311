/**
 * The payment hop payload (BOLT 4 "`payload` format"): the TLV stream each hop of a payment
 * onion carries, its codec, and the reader's checks of which records must (not) be there for a
 * forwarding hop, a final hop, and hops inside a blinded route.
 *
 * Records with a type of 65536 or more are custom records (keysend and the like); they are kept
 * whatever their parity, and it is the application's job to refuse an even one it does not
 * understand. Unknown odd records below 65536 are skipped (kept in `unknown`), unknown even
 * ones make the payload invalid (BOLT 1).
 */
import { Data, Result, Schema } from "effect"
import {
  type Codec,
  type DecodeError,
  EncodeError,
  decodeWith,
  encodeBigSize,
  Field,
  fail,
  readExactValue,
  readRawRecords,
  type ShortChannelId,
  type TlvRecord,
  TlvUnknownEvenType,
  Writer
} from "../codec/index.ts"
import { concatBytes } from "../bytes.ts"
import { type Msat, msat } from "../units.ts"

/** Custom records start here (BOLT 1 / bLIP: types >= 2^16 are for applications). */
export const CUSTOM_RECORD_MIN_TYPE = 65536n

export const PayloadType = {
  amt_to_forward: 2n,
  outgoing_cltv_value: 4n,
  short_channel_id: 6n,
  payment_data: 8n,
  encrypted_recipient_data: 10n,
  current_path_key: 12n,
  payment_metadata: 16n,
  total_amount_msat: 18n
} as const

const KNOWN_TYPES: ReadonlySet<bigint> = new Set(Object.values(PayloadType))

export interface PaymentData {
  readonly paymentSecret: Uint8Array
  readonly totalMsat: Msat
}

/** Every record of the `payload` stream, as sent. */
export interface HopPayload {
  readonly amtToForward?: Msat
  readonly outgoingCltvValue?: number
  readonly shortChannelId?: ShortChannelId
  readonly paymentData?: PaymentData
  readonly encryptedRecipientData?: Uint8Array
  readonly currentPathKey?: Uint8Array
  readonly paymentMetadata?: Uint8Array
  readonly totalAmountMsat?: Msat
  /** Records of type >= 65536, ascending. */
  readonly customRecords?: ReadonlyArray<TlvRecord>
  /** Unknown odd records below 65536 (skipped by readers, kept for re-encoding). */
  readonly unknown?: ReadonlyArray<TlvRecord>
}

/** A `tu64` amount carrying the `Msat` brand (the brand is applied where the value is read). */
const msatTu64: Codec<Msat> = {
  read: (r) => msat(r.tu64()),
  write: Field.tu64.write,
  schema: Field.tu64.schema.pipe(Schema.brand("Msat")),
  wire: Field.tu64.wire
}

/** `payment_data`: `32*byte payment_secret`, `tu64 total_msat`. */
const paymentDataCodec: Codec<PaymentData> = Field.struct({ paymentSecret: Field.fixedBytes(32), totalMsat: msatTu64 })

/** The payload cannot be encoded (a value out of range, a bad custom record type...). */
export class InvalidHopPayloadValue extends Data.TaggedError("InvalidHopPayloadValue")<{
  readonly field: string
  readonly reason: string
}> {}

const compareType = (a: { readonly type: bigint }, b: { readonly type: bigint }) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)

const U64_MAX = 0xffffffffffffffffn

/** Bytes of a BOLT 1 truncated integer (no leading zero bytes; zero is empty). */
const truncatedWidth = (v: bigint): number => {
  let width = 0
  if (v <= 0x1fffffffffffffn) {
    for (let n = Number(v); n > 0; n = Math.floor(n / 256)) width++
  } else {
    for (let t = v; t > 0n; t >>= 8n) width++
  }
  return width
}

/** Writes `v` big-endian in `width` bytes at `out[at..]`. */
const writeBigEndian = (out: Uint8Array, at: number, v: bigint, width: number): void => {
  if (v <= 0x1fffffffffffffn) {
    let n = Number(v)
    for (let i = width - 1; i >= 0; i--, n = Math.floor(n / 256)) out[at + i] = n % 256
  } else {
    let t = v
    for (let i = width - 1; i >= 0; i--, t >>= 8n) out[at + i] = Number(t & 0xffn)
  }
}

/**
 * The payloads a payment's route makes (`amt_to_forward`, `outgoing_cltv_value`, and a
 * `short_channel_id` or `payment_data`; nothing else), written straight into one buffer: the bytes
 * `encodeHopPayloadGeneral` gives them (property-tested), without a Writer and a closure per
 * record. Undefined for any other payload or a value out of its field's range: the general
 * encoder then writes it or names the problem.
 */
const encodeRoutePayload = (p: HopPayload): Uint8Array | undefined => {
  if (
    p.encryptedRecipientData !== undefined || p.currentPathKey !== undefined || p.paymentMetadata !== undefined ||
    p.totalAmountMsat !== undefined || (p.customRecords !== undefined && p.customRecords.length > 0) || (p.unknown !== undefined && p.unknown.length > 0)
  ) return undefined
  const amt = p.amtToForward
  const cltv = p.outgoingCltvValue
  const scid = p.shortChannelId
  const data = p.paymentData
  if (amt !== undefined && (amt < 0n || amt > U64_MAX)) return undefined
  if (cltv !== undefined && (!Number.isInteger(cltv) || cltv < 0 || cltv > 0xffffffff)) return undefined
  if (scid !== undefined && (scid < 0n || scid > U64_MAX)) return undefined
  if (data !== undefined && (data.paymentSecret.length !== 32 || data.totalMsat < 0n || data.totalMsat > U64_MAX)) return undefined
  // Types 2, 4, 6, 8 and lengths up to 40: one byte each.
  const amtWidth = amt === undefined ? 0 : truncatedWidth(amt)
  const cltvWidth = cltv === undefined ? 0 : truncatedWidth(BigInt(cltv))
  const totalWidth = data === undefined ? 0 : truncatedWidth(data.totalMsat)
  const size = (amt === undefined ? 0 : 2 + amtWidth) + (cltv === undefined ? 0 : 2 + cltvWidth) + (scid === undefined ? 0 : 10) +
    (data === undefined ? 0 : 34 + totalWidth)
  const out = new Uint8Array(size)
  let at = 0
  if (amt !== undefined) {
    out[at] = 2
    out[at + 1] = amtWidth
    writeBigEndian(out, at + 2, amt, amtWidth)
    at += 2 + amtWidth
  }
  if (cltv !== undefined) {
    out[at] = 4
    out[at + 1] = cltvWidth
    writeBigEndian(out, at + 2, BigInt(cltv), cltvWidth)
    at += 2 + cltvWidth
  }
  if (scid !== undefined) {
    out[at] = 6
    out[at + 1] = 8
    writeBigEndian(out, at + 2, scid, 8)
    at += 10
  }
  if (data !== undefined) {
    out[at] = 8
    out[at + 1] = 32 + totalWidth
    out.set(data.paymentSecret, at + 2)
    writeBigEndian(out, at + 34, data.totalMsat, totalWidth)
  }
  return out
}

/** Encodes a hop payload as its TLV stream (records in ascending type order). */
export const encodeHopPayload = (p: HopPayload): Result.Result<Uint8Array, InvalidHopPayloadValue> => {
  const route = encodeRoutePayload(p)
  return route !== undefined ? Result.succeed(route) : encodeHopPayloadGeneral(p)
}

/** Encodes any hop payload, record by record (what `encodeHopPayload` does for all but a route's common payloads). */
export const encodeHopPayloadGeneral = (p: HopPayload): Result.Result<Uint8Array, InvalidHopPayloadValue> => {
  for (const c of p.customRecords ?? []) {
    if (c.type < CUSTOM_RECORD_MIN_TYPE || c.type > 0xffffffffffffffffn) {
      return Result.fail(new InvalidHopPayloadValue({ field: "customRecords", reason: `type ${c.type} is not >= 65536` }))
    }
  }
  for (const u of p.unknown ?? []) {
    if (u.type % 2n === 0n || u.type < 0n || u.type >= CUSTOM_RECORD_MIN_TYPE || KNOWN_TYPES.has(u.type)) {
      return Result.fail(new InvalidHopPayloadValue({ field: "unknown", reason: `type ${u.type} is not an unknown odd type` }))
    }
  }
  const records: Array<RecordToEncode> = []
  const add = <A>(type: bigint, value: A | undefined, write: (w: Writer, a: A) => void) => {
    const size = 64 + (value instanceof Uint8Array ? value.length : 0)
    if (value !== undefined) records.push({ type, write: (w) => write(w, value), size })
  }
  add(PayloadType.amt_to_forward, p.amtToForward, (w, a) => void w.tu64(a))
  add(PayloadType.outgoing_cltv_value, p.outgoingCltvValue, (w, a) => void w.tu32(a))
  add(PayloadType.short_channel_id, p.shortChannelId, (w, a) => void w.u64(a))
  add(PayloadType.payment_data, p.paymentData, paymentDataCodec.write)
  add(PayloadType.encrypted_recipient_data, p.encryptedRecipientData, (w, a) => void w.bytes(a))
  add(PayloadType.current_path_key, p.currentPathKey, (w, a) => void w.fixed("current_path_key", a, 33))
  add(PayloadType.payment_metadata, p.paymentMetadata, (w, a) => void w.bytes(a))
  add(PayloadType.total_amount_msat, p.totalAmountMsat, (w, a) => void w.tu64(a))
  for (const r of [...(p.unknown ?? []), ...(p.customRecords ?? [])]) {
    records.push({ type: r.type, write: (w) => void w.bytes(r.value), size: r.value.length + 16 })
  }
  const encoded = encodeRecords(records)
  if (Result.isFailure(encoded)) {
    return Result.fail(new InvalidHopPayloadValue({ field: encoded.failure.field, reason: encoded.failure.reason }))
  }
  return Result.succeed(encoded.success)
}

/** A record to encode: its type, a writer of its value, and a size hint for that value. */
export interface RecordToEncode {
  readonly type: bigint
  readonly write: (w: Writer) => void
  readonly size?: number
}

/**
 * Serializes records as a TLV stream, in ascending type order (BOLT 1). A repeated type or a
 * value its field cannot carry is an `EncodeError`. Each value gets a Writer sized for it, so
 * no Writer ever grows.
 */
export const encodeRecords = (records: ReadonlyArray<RecordToEncode>): Result.Result<Uint8Array, EncodeError> => {
  const ordered = [...records].sort(compareType)
  const parts: Array<Uint8Array> = []
  try {
    for (let i = 0; i < ordered.length; i++) {
      const rec = ordered[i]
      if (rec === undefined) continue
      if (i > 0 && ordered[i - 1]?.type === rec.type) {
        return Result.fail(new EncodeError({ field: "records", reason: `type ${rec.type} repeated` }))
      }
      const value = new Writer(rec.size ?? 64)
      rec.write(value)
      const bytes = value.finish()
      parts.push(encodeBigSize(rec.type), encodeBigSize(BigInt(bytes.length)), bytes)
    }
  } catch (e) {
    if (e instanceof EncodeError) return Result.fail(e)
    throw e
  }
  return Result.succeed(concatBytes(...parts))
}

/**
 * The payload is not a valid `payload` stream or lacks a required record: reported to the
 * sender as `invalid_onion_payload` with the record type and its byte offset. The offset counts
 * from the start of the TLV stream (after the BigSize length); a missing record has offset 0,
 * and a truncated type or length, type 0.
 */
export class InvalidOnionPayload extends Data.TaggedError("InvalidOnionPayload")<{
  readonly type: bigint
  readonly offset: number
  readonly reason: string
  readonly cause?: DecodeError
}> {}

/**
 * Decodes a `payload` TLV stream. Errors carry the record type and offset for the sender.
 * It drives `readRawRecords` itself rather than declaring a `tlvStream`, because a declared
 * stream refuses every unknown even type, custom records >= 65536 included; known values go
 * through the codec's exact-length check (`readExactValue`).
 */
export const decodeHopPayload = (bytes: Uint8Array): Result.Result<HopPayload, InvalidOnionPayload> => {
  let currentType = 0n
  let currentAt = 0
  const decoded = decodeWith(bytes, (r) => {
    const out: {
      -readonly [K in keyof HopPayload]: HopPayload[K]
    } = {}
    const custom: Array<TlvRecord> = []
    const unknown: Array<TlvRecord> = []
    readRawRecords(r, (type, value, at) => {
      currentType = type
      currentAt = at
      switch (type) {
        case PayloadType.amt_to_forward:
          out.amtToForward = readExactValue(msatTu64.read, type, value, at)
          break
        case PayloadType.outgoing_cltv_value:
          out.outgoingCltvValue = readExactValue((v) => v.tu32(), type, value, at)
          break
        case PayloadType.short_channel_id:
          out.shortChannelId = readExactValue(Field.shortChannelId.read, type, value, at)
          break
        case PayloadType.payment_data:
          out.paymentData = readExactValue(paymentDataCodec.read, type, value, at)
          break
        case PayloadType.encrypted_recipient_data:
          out.encryptedRecipientData = value.rest()
          break
        case PayloadType.current_path_key:
          out.currentPathKey = readExactValue((v) => v.point(), type, value, at)
          break
        case PayloadType.payment_metadata:
          out.paymentMetadata = value.rest()
          break
        case PayloadType.total_amount_msat:
          out.totalAmountMsat = readExactValue(msatTu64.read, type, value, at)
          break
        default:
          if (type >= CUSTOM_RECORD_MIN_TYPE) custom.push({ type, value: value.rest() })
          else if (type % 2n === 0n) fail(new TlvUnknownEvenType({ at, type }))
          else unknown.push({ type, value: value.rest() })
      }
    })
    if (custom.length > 0) out.customRecords = custom
    if (unknown.length > 0) out.unknown = unknown
    return out
  })
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const e = decoded.failure
  // TLV errors name their record; errors inside a value (a non-minimal integer, a bad point)
  // are reported at the record being read; a truncated type or length has no record yet.
  const where = "type" in e && typeof e.type === "bigint"
    ? { type: e.type, offset: "at" in e ? e.at : 0 }
    : e._tag === "NonMinimalTruncatedInt" || e._tag === "InvalidPoint" || e._tag === "InvalidFieldValue"
    ? { type: currentType, offset: currentAt }
    : { type: 0n, offset: "at" in e ? e.at : 0 }
  return Result.fail(new InvalidOnionPayload({ ...where, reason: e._tag, cause: e }))
}

// ---------------------------------------------------------------------------------------------
// What the reader requires (BOLT 4 "payload format", Requirements, "The reader")

/** A payload that is well formed for the hop's position. */
export type ValidatedPayload =
  | {
    readonly _tag: "Forward"
    readonly amtToForward: Msat
    readonly outgoingCltvValue: number
    readonly shortChannelId: ShortChannelId
    readonly customRecords: ReadonlyArray<TlvRecord>
  }
  | {
    readonly _tag: "Receive"
    readonly amtToForward: Msat
    readonly outgoingCltvValue: number
    /** `payment_data.total_msat`, or `amt_to_forward` when absent (BOLT 4). */
    readonly totalMsat: Msat
    readonly paymentSecret: Uint8Array | undefined
    readonly paymentMetadata: Uint8Array | undefined
    readonly customRecords: ReadonlyArray<TlvRecord>
  }
  | {
    readonly _tag: "BlindedForward"
    readonly encryptedRecipientData: Uint8Array
    readonly currentPathKey: Uint8Array | undefined
  }
  | {
    readonly _tag: "BlindedReceive"
    readonly encryptedRecipientData: Uint8Array
    readonly currentPathKey: Uint8Array | undefined
    readonly amtToForward: Msat
    readonly outgoingCltvValue: number
    readonly totalAmountMsat: Msat
    readonly customRecords: ReadonlyArray<TlvRecord>
  }

const missing = (type: bigint, what: string) => new InvalidOnionPayload({ type, offset: 0, reason: `missing ${what}` })
const forbidden = (type: bigint, what: string) => new InvalidOnionPayload({ type, offset: 0, reason: `unexpected ${what}` })

/**
 * Checks the records a hop needs. `isFinal`: the onion's next HMAC was all zero.
 * `incomingPathKey`: whether `update_add_htlc` carried a `path_key`.
 */
export const validateHopPayload = (
  p: HopPayload,
  isFinal: boolean,
  incomingPathKey: boolean
): Result.Result<ValidatedPayload, InvalidOnionPayload> => {
  if (p.encryptedRecipientData !== undefined) {
    if (incomingPathKey && p.currentPathKey !== undefined) {
      return Result.fail(forbidden(PayloadType.current_path_key, "current_path_key with a path_key"))
    }
    if (!incomingPathKey && p.currentPathKey === undefined) {
      return Result.fail(missing(PayloadType.current_path_key, "current_path_key"))
    }
    const extra = firstRecordOutside(p, isFinal ? BLINDED_FINAL_RECORDS : BLINDED_FORWARD_RECORDS)
    if (extra !== undefined) return Result.fail(forbidden(extra.type, `${extra.name} in a blinded hop`))
    if (!isFinal) {
      return Result.succeed({
        _tag: "BlindedForward",
        encryptedRecipientData: p.encryptedRecipientData,
        currentPathKey: p.currentPathKey
      })
    }
    if (p.amtToForward === undefined) return Result.fail(missing(PayloadType.amt_to_forward, "amt_to_forward"))
    if (p.outgoingCltvValue === undefined) return Result.fail(missing(PayloadType.outgoing_cltv_value, "outgoing_cltv_value"))
    if (p.totalAmountMsat === undefined) return Result.fail(missing(PayloadType.total_amount_msat, "total_amount_msat"))
    return Result.succeed({
      _tag: "BlindedReceive",
      encryptedRecipientData: p.encryptedRecipientData,
      currentPathKey: p.currentPathKey,
      amtToForward: p.amtToForward,
      outgoingCltvValue: p.outgoingCltvValue,
      totalAmountMsat: p.totalAmountMsat,
      customRecords: p.customRecords ?? []
    })
  }
  if (incomingPathKey) return Result.fail(missing(PayloadType.encrypted_recipient_data, "encrypted_recipient_data"))
  if (p.currentPathKey !== undefined) return Result.fail(forbidden(PayloadType.current_path_key, "current_path_key"))
  if (p.amtToForward === undefined) return Result.fail(missing(PayloadType.amt_to_forward, "amt_to_forward"))
  if (p.outgoingCltvValue === undefined) return Result.fail(missing(PayloadType.outgoing_cltv_value, "outgoing_cltv_value"))
  if (!isFinal) {
    if (p.shortChannelId === undefined) return Result.fail(missing(PayloadType.short_channel_id, "short_channel_id"))
    return Result.succeed({
      _tag: "Forward",
      amtToForward: p.amtToForward,
      outgoingCltvValue: p.outgoingCltvValue,
      shortChannelId: p.shortChannelId,
      customRecords: p.customRecords ?? []
    })
  }
  return Result.succeed({
    _tag: "Receive",
    amtToForward: p.amtToForward,
    outgoingCltvValue: p.outgoingCltvValue,
    totalMsat: p.paymentData?.totalMsat ?? p.amtToForward,
    paymentSecret: p.paymentData?.paymentSecret,
    paymentMetadata: p.paymentMetadata,
    customRecords: p.customRecords ?? []
  })
}

/** Each typed field of `HopPayload` with its record type, in type order. */
const RECORD_FIELDS: ReadonlyArray<readonly [keyof HopPayload, bigint]> = [
  ["amtToForward", PayloadType.amt_to_forward],
  ["outgoingCltvValue", PayloadType.outgoing_cltv_value],
  ["shortChannelId", PayloadType.short_channel_id],
  ["paymentData", PayloadType.payment_data],
  ["encryptedRecipientData", PayloadType.encrypted_recipient_data],
  ["currentPathKey", PayloadType.current_path_key],
  ["paymentMetadata", PayloadType.payment_metadata],
  ["totalAmountMsat", PayloadType.total_amount_msat]
]

/** BOLT 4: a blinded hop that is not the final node carries these two records and nothing else. */
const BLINDED_FORWARD_RECORDS: ReadonlySet<keyof HopPayload> = new Set(["encryptedRecipientData", "currentPathKey"])
/**
 * BOLT 4 lists encrypted_recipient_data, current_path_key, amt_to_forward, outgoing_cltv_value
 * and total_amount_msat for the final node of a blinded route. Custom records (>= 65536) are
 * also let through, for the application to judge, as on an unblinded final hop; unknown odd
 * records below 65536 are refused.
 */
const BLINDED_FINAL_RECORDS: ReadonlySet<keyof HopPayload> = new Set([
  "encryptedRecipientData",
  "currentPathKey",
  "amtToForward",
  "outgoingCltvValue",
  "totalAmountMsat",
  "customRecords"
])

/** The lowest-typed record of `p` outside `allowed`, to report in `invalid_onion_payload`. */
const firstRecordOutside = (
  p: HopPayload,
  allowed: ReadonlySet<keyof HopPayload>
): { readonly name: string; readonly type: bigint } | undefined => {
  const found: Array<{ readonly name: string; readonly type: bigint }> = []
  for (const [name, type] of RECORD_FIELDS) {
    if (p[name] !== undefined && !allowed.has(name)) found.push({ name, type })
  }
  const unknown = p.unknown?.[0]
  if (unknown !== undefined && !allowed.has("unknown")) found.push({ name: "an unknown record", type: unknown.type })
  const custom = p.customRecords?.[0]
  if (custom !== undefined && !allowed.has("customRecords")) found.push({ name: "a custom record", type: custom.type })
  return found.sort(compareType)[0]
}
