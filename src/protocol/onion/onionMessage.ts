/**
 * Onion messages (BOLT 4 "Onion Messages"): the same Sphinx construction with no associated
 * data, a payload size implied by the packet length (1300 or 32768 recommended), payloads that
 * may be empty, and route blinding on every hop. Each hop's `onionmsg_tlv` carries the
 * `encrypted_recipient_data` its path key decrypts; the final hop's also carries the message
 * (BOLT 12 `invoice_request` / `invoice` / `invoice_error`, or anything odd).
 */
import { Data, Result } from "effect"
import {
  type DecodeError,
  decodeWith,
  EncodeError,
  encodeWith,
  fail,
  InvalidFieldValue,
  readRawRecords,
  type ShortChannelId,
  type TlvRecord,
  TlvUnknownEvenType
} from "../codec/index.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import {
  type BlindedPath,
  decryptBlindedHop,
  type EncryptedData,
  type InvalidBlindedHop,
  readBlindedPath,
  writeBlindedPath
} from "./blinding.ts"
import { encodeRecords, type RecordToEncode } from "./payload.ts"
import {
  buildOnion,
  type BuiltOnion,
  hopShiftSize,
  type NodeEcdh,
  parseOnionPacket,
  peelOnion,
  serializeOnionPacket,
  type SphinxBuildError,
  type SphinxPeelError
} from "./sphinx.ts"

/** The two sizes BOLT 4 recommends for `onion_message_packet` payloads. */
export const ONION_MESSAGE_SMALL_PAYLOADS = 1300
export const ONION_MESSAGE_LARGE_PAYLOADS = 32768

/** `onionmsg_tlv`. BOLT 12 payloads are kept as raw TLV bytes for the offers module. */
export interface OnionMessagePayload {
  readonly replyPath?: BlindedPath
  readonly encryptedRecipientData?: Uint8Array
  readonly invoiceRequest?: Uint8Array
  readonly invoice?: Uint8Array
  readonly invoiceError?: Uint8Array
  /** Unknown odd records (e.g. the spec vector's type 1 "hello"). */
  readonly unknown?: ReadonlyArray<TlvRecord>
}

const T = { replyPath: 2n, encryptedRecipientData: 4n, invoiceRequest: 64n, invoice: 66n, invoiceError: 68n } as const
const KNOWN_TYPES: ReadonlySet<bigint> = new Set(Object.values(T))
/** BOLT 4: "Field numbers 64 and above are reserved for payloads for the final hop". */
const FIRST_PAYLOAD_TYPE = 64n

/** How many payload fields (types >= 64, known or not) the final hop's `onionmsg_tlv` carries. */
const payloadFieldCount = (p: OnionMessagePayload): number =>
  [p.invoiceRequest, p.invoice, p.invoiceError].filter((v) => v !== undefined).length +
  (p.unknown ?? []).filter((u) => u.type >= FIRST_PAYLOAD_TYPE).length

export const encodeOnionMessagePayload = (p: OnionMessagePayload): Result.Result<Uint8Array, EncodeError> => {
  const records: Array<RecordToEncode> = []
  const bytesRecord = (type: bigint, v: Uint8Array | undefined) => {
    if (v !== undefined) records.push({ type, write: (w) => void w.bytes(v), size: v.length + 16 })
  }
  const reply = p.replyPath
  if (reply !== undefined) {
    const size = 128 + reply.hops.reduce((n, h) => n + 35 + h.encryptedRecipientData.length, 0)
    records.push({ type: T.replyPath, write: (w) => writeBlindedPath(w, reply), size })
  }
  bytesRecord(T.encryptedRecipientData, p.encryptedRecipientData)
  bytesRecord(T.invoiceRequest, p.invoiceRequest)
  bytesRecord(T.invoice, p.invoice)
  bytesRecord(T.invoiceError, p.invoiceError)
  for (const u of p.unknown ?? []) {
    if (u.type % 2n === 0n || u.type < 0n || KNOWN_TYPES.has(u.type)) {
      return Result.fail(new EncodeError({ field: "unknown", reason: `type ${u.type} is not an unknown odd type` }))
    }
    bytesRecord(u.type, u.value)
  }
  return encodeRecords(records)
}

export const decodeOnionMessagePayload = (bytes: Uint8Array): Result.Result<OnionMessagePayload, DecodeError> =>
  decodeWith(bytes, (r) => {
    const out: { -readonly [K in keyof OnionMessagePayload]: OnionMessagePayload[K] } = {}
    const unknown: Array<TlvRecord> = []
    readRawRecords(r, (type, value, at) => {
      switch (type) {
        case T.replyPath: {
          out.replyPath = readBlindedPath(value)
          if (!value.atEnd) fail(new InvalidFieldValue({ at, field: "reply_path", reason: "trailing bytes" }))
          break
        }
        case T.encryptedRecipientData:
          out.encryptedRecipientData = value.rest()
          break
        case T.invoiceRequest:
          out.invoiceRequest = value.rest()
          break
        case T.invoice:
          out.invoice = value.rest()
          break
        case T.invoiceError:
          out.invoiceError = value.rest()
          break
        default:
          if (type % 2n === 0n) fail(new TlvUnknownEvenType({ at, type }))
          unknown.push({ type, value: value.rest() })
      }
    })
    if (unknown.length > 0) out.unknown = unknown
    return out
  })

export interface OnionMessageHop {
  /** The blinded node id (or any node id when the sender blinds nothing itself). */
  readonly publicKey: Uint8Array
  readonly payload: OnionMessagePayload
}

/**
 * Builds an `onion_message_packet`. Without `payloadsSize`, 1300 bytes if the payloads fit,
 * else 32768 (the two sizes BOLT 4 recommends).
 */
export const buildOnionMessage = (
  secp: Secp256k1,
  sessionKey: Uint8Array,
  hops: ReadonlyArray<OnionMessageHop>,
  payloadsSize?: number
): Result.Result<BuiltOnion & { readonly packetBytes: Uint8Array }, SphinxBuildError | EncodeError> => {
  const encoded: Array<{ readonly publicKey: Uint8Array; readonly payload: Uint8Array }> = []
  let needed = 0
  for (const hop of hops) {
    const payload = encodeOnionMessagePayload(hop.payload)
    if (Result.isFailure(payload)) return Result.fail(payload.failure)
    encoded.push({ publicKey: hop.publicKey, payload: payload.success })
    needed += hopShiftSize(payload.success.length)
  }
  const size = payloadsSize ?? (needed <= ONION_MESSAGE_SMALL_PAYLOADS ? ONION_MESSAGE_SMALL_PAYLOADS : ONION_MESSAGE_LARGE_PAYLOADS)
  const built = buildOnion(secp, sessionKey, encoded, new Uint8Array(0), size)
  if (Result.isFailure(built)) return Result.fail(built.failure)
  return Result.succeed({ ...built.success, packetBytes: serializeOnionPacket(built.success.packet) })
}

/** `onion_message` (type 513) fields, without the message type. */
export interface OnionMessage {
  readonly pathKey: Uint8Array
  readonly packet: Uint8Array
}

/** `path_key || u16 len || onion_message_packet`; a key that is not 33 bytes or a packet over 65535 bytes is an `EncodeError`. */
export const encodeOnionMessage = (m: OnionMessage): Result.Result<Uint8Array, EncodeError> =>
  encodeWith((w) => void w.fixed("path_key", m.pathKey, 33).u16(m.packet.length).bytes(m.packet), m.packet.length + 64)

export const decodeOnionMessage = (bytes: Uint8Array): Result.Result<OnionMessage, DecodeError> =>
  decodeWith(bytes, (r) => {
    const pathKey = r.point()
    const packet = r.bytes(r.u16())
    return { pathKey, packet }
  })

/** Why an onion message is dropped (BOLT 4: the reader "MUST ignore the message"). */
export class OnionMessageDropped extends Data.TaggedError("OnionMessageDropped")<{
  readonly reason:
    | SphinxPeelError
    | InvalidBlindedHop
    | DecodeError
    | "missing_encrypted_recipient_data"
    | "extra_fields_for_forward"
    | "path_id_for_forward"
    | "multiple_payload_fields"
    | "no_next_hop"
    | "unknown_allowed_features"
}> {}

export type ProcessedOnionMessage =
  | {
    readonly _tag: "Forward"
    readonly nextNodeId: Uint8Array | undefined
    readonly shortChannelId: ShortChannelId | undefined
    /** The `onion_message` to send to the next peer. */
    readonly next: OnionMessage
  }
  | {
    readonly _tag: "Receive"
    readonly payload: OnionMessagePayload
    readonly encryptedData: EncryptedData
    /** The recipient MUST check it matches a path it published. */
    readonly pathId: Uint8Array | undefined
  }

/** The reader of an `onion_message` (BOLT 4): peel, decrypt the blinded data, forward or receive. */
export const processOnionMessage = (
  secp: Secp256k1,
  ecdh: NodeEcdh,
  message: OnionMessage
): Result.Result<ProcessedOnionMessage, OnionMessageDropped> => {
  const drop = (reason: OnionMessageDropped["reason"]) => Result.fail(new OnionMessageDropped({ reason }))
  const parsed = parseOnionPacket(message.packet)
  if (Result.isFailure(parsed)) return drop(parsed.failure)
  const layer = peelOnion(secp, ecdh, parsed.success, new Uint8Array(0), message.pathKey, { minPayloadLength: 0 })
  if (Result.isFailure(layer)) return drop(layer.failure)
  const payload = decodeOnionMessagePayload(layer.success.payload)
  if (Result.isFailure(payload)) return drop(payload.failure)
  const p = payload.success
  if (p.encryptedRecipientData === undefined) return drop("missing_encrypted_recipient_data")
  const hop = decryptBlindedHop(secp, ecdh, message.pathKey, p.encryptedRecipientData)
  if (Result.isFailure(hop)) return drop(hop.failure)
  const data = hop.success.data
  if (data.allowedFeatures !== undefined && !data.allowedFeatures.every((b) => b === 0)) return drop("unknown_allowed_features")
  const next = layer.success.next
  if (next === undefined) {
    if (payloadFieldCount(p) > 1) return drop("multiple_payload_fields")
    return Result.succeed({ _tag: "Receive", payload: p, encryptedData: data, pathId: data.pathId })
  }
  const extra = Object.entries(p).some(([k, v]) => k !== "encryptedRecipientData" && v !== undefined)
  if (extra) return drop("extra_fields_for_forward")
  if (data.pathId !== undefined) return drop("path_id_for_forward")
  if (data.nextNodeId === undefined && data.shortChannelId === undefined) return drop("no_next_hop")
  return Result.succeed({
    _tag: "Forward",
    nextNodeId: data.nextNodeId,
    shortChannelId: data.nextNodeId === undefined ? data.shortChannelId : undefined,
    next: { pathKey: hop.success.nextPathKey, packet: serializeOnionPacket(next) }
  })
}
