/**
 * BOLT 1 connection rules, pure: the `init` exchange (our `init`, the remote's features and
 * networks, the BOLT 1/9 feature checks, `remote_addr`), the control messages a connection
 * answers itself (`ping`, `pong`, `error`, `warning`), and which messages are gossip. Plain
 * results instead of codec errors; the `Peer` actor (`actors/Peer.ts`) performs the effects.
 * The codecs are `protocol/messages`; the feature rules are `protocol/features.ts` (BOLT 9).
 */
import { Result } from "effect"
import type { ChainHash } from "./codec/fields.ts"
import {
  ALL_CHANNELS,
  type Address,
  addressFromHostPort,
  Bolt1,
  describeData,
  ErrorMessage,
  Init,
  isAllChannels,
  makeError,
  makePing,
  makeWarning,
  Ping,
  Pong,
  Warning
} from "./messages/index.ts"
import * as Features from "./features.ts"
import type { ChannelId } from "./units.ts"

const encodeOrDie = (r: Result.Result<Uint8Array, unknown>): Uint8Array => {
  // Our own messages are built within their limits; a failure here is a bug, not input.
  if (Result.isFailure(r)) throw new Error(`cannot encode own message: ${String(r.failure)}`)
  return r.success
}

/** Our `init` features: the ones this project implements (see `protocol/features.ts`). */
export const ourInitFeatures: Uint8Array = Features.ourInitFeatures

/**
 * Our `init`: `features`, the `networks` TLV when `chains` is not empty, and `remote_addr`
 * when given (BOLT 1: a receiver SHOULD reflect the remote's IP address, see `publicRemoteAddress`).
 */
export const encodeInit = (
  features: Uint8Array,
  chains: ReadonlyArray<ChainHash>,
  remoteAddr?: Address
): Uint8Array =>
  encodeOrDie(
    Bolt1.encode(
      Init.make(
        { globalFeatures: new Uint8Array(0), features },
        {
          ...(chains.length > 0 ? { networks: chains } : {}),
          ...(remoteAddr === undefined ? {} : { remoteAddr })
        }
      )
    )
  )

/** Private, loopback, link-local, CGNAT and unspecified ranges (BOLT 1: SHOULD NOT send them as `remote_addr`). */
const isPrivate = (a: Address): boolean => {
  if (a._tag === "Ipv4") {
    const [x = 0, y = 0] = a.addr
    return x === 0 || x === 10 || x === 127 || (x === 100 && y >= 64 && y < 128) || (x === 169 && y === 254) ||
      (x === 172 && y >= 16 && y < 32) || (x === 192 && y === 168) || x >= 224
  }
  if (a._tag === "Ipv6") {
    const first = a.addr[0] ?? 0
    const second = a.addr[1] ?? 0
    const allZeroButLast = a.addr.subarray(0, 15).every((b) => b === 0)
    return allZeroButLast || (first & 0xfe) === 0xfc || (first === 0xfe && (second & 0xc0) === 0x80) || first === 0xff
  }
  return true
}

/** The `remote_addr` to send for a connection from `host:port`: only a public IP address. */
export const publicRemoteAddress = (host: string, port: number): Address | undefined => {
  const a = addressFromHostPort(host, port)
  return a !== undefined && (a._tag === "Ipv4" || a._tag === "Ipv6") && !isPrivate(a) ? a : undefined
}

export const encodePing = (numPongBytes: number): Uint8Array => encodeOrDie(Bolt1.encode(makePing(numPongBytes)))

export const encodePong = (length: number): Uint8Array =>
  encodeOrDie(Bolt1.encode(Pong.make({ ignored: new Uint8Array(length) })))

/** A `warning` about `channelId`, or about the connection as a whole (all-zero id, the default). */
export const encodeWarning = (text: string, channelId: ChannelId = ALL_CHANNELS): Uint8Array =>
  encodeOrDie(Bolt1.encode(makeWarning(text, channelId)))

/** An `error` about `channelId` (all-zero: the whole connection). */
export const encodeError = (text: string, channelId: ChannelId = ALL_CHANNELS): Uint8Array =>
  encodeOrDie(Bolt1.encode(makeError(text, channelId)))

/** Error/warning `data` safe to log (hex unless printable ASCII, BOLT 1). */
export const printable = (data: Uint8Array): string => describeData(data)

/** `Tag(field=value, ...)` from the scalar fields of a tagged error, for reasons and logs. */
export const describeError = (e: { readonly _tag: string }): string => {
  const fields = Object.entries(e)
    .filter(([k, v]) => k !== "_tag" && (typeof v === "string" || typeof v === "number" || typeof v === "bigint"))
    .map(([k, v]) => `${k}=${String(v)}`)
  return fields.length === 0 ? e._tag : `${e._tag}(${fields.join(", ")})`
}

/** The 2-byte type, or undefined for a message shorter than its type. */
export const messageType = (message: Uint8Array): number | undefined =>
  message.length < 2 ? undefined : (((message[0] ?? 0) << 8) | (message[1] ?? 0))

/** BOLT 1: the combined feature map is `globalfeatures` OR `features`, aligned on bit 0 (the last byte). */
export const combineFeatures = (a: Uint8Array, b: Uint8Array): Uint8Array => Features.orFeatureBytes(a, b)

export type InitResult =
  | { readonly _tag: "Init"; readonly features: Uint8Array; readonly networks: ReadonlyArray<Uint8Array> | undefined }
  | { readonly _tag: "NotInit"; readonly messageType: number }
  | { readonly _tag: "Malformed"; readonly message: string }

/** The remote's first message, which BOLT 1 requires to be `init`. */
export const decodeInit = (message: Uint8Array): InitResult => {
  const type = messageType(message)
  if (type === undefined) return { _tag: "Malformed", message: "message shorter than its type" }
  if (type !== Init.type) return { _tag: "NotInit", messageType: type }
  const r = Init.decode(message)
  if (Result.isFailure(r)) return { _tag: "Malformed", message: describeError(r.failure) }
  return {
    _tag: "Init",
    features: combineFeatures(r.success.globalFeatures, r.success.features),
    networks: r.success.tlvs.networks
  }
}

export type ControlMessage =
  | { readonly _tag: "Init" }
  | { readonly _tag: "Ping"; readonly numPongBytes: number }
  | { readonly _tag: "Pong"; readonly length: number }
  | { readonly _tag: "Error"; readonly message: ErrorMessage }
  | { readonly _tag: "Warning"; readonly message: Warning }
  /** Not a BOLT 1 message: for the layer above, or unknown. */
  | { readonly _tag: "Other"; readonly messageType: number }
  | { readonly _tag: "Malformed"; readonly messageType: number; readonly message: string }

/**
 * The BOLT 1 messages the Peer acts on itself. Other BOLT 1 types the codec knows (peer storage:
 * we do not offer `option_provide_storage`) are "Other": odd, so ignored unless the layer above
 * takes them, and a malformed one is not a reason to disconnect.
 */
const CONTROL_TYPES: ReadonlySet<number> = new Set([Init.type, ErrorMessage.type, Warning.type, Ping.type, Pong.type])

/** Classifies an inbound message after `init`; decodes the BOLT 1 control messages. */
export const decodeControl = (message: Uint8Array): ControlMessage => {
  const type = messageType(message)
  if (type === undefined) return { _tag: "Malformed", messageType: -1, message: "message shorter than its type" }
  if (!CONTROL_TYPES.has(type)) return { _tag: "Other", messageType: type }
  const r = Bolt1.decode(message)
  if (Result.isFailure(r)) return { _tag: "Malformed", messageType: type, message: describeError(r.failure) }
  const m = r.success
  switch (m._tag) {
    case "Init":
      return { _tag: "Init" }
    case "Ping":
      return { _tag: "Ping", numPongBytes: m.numPongBytes }
    case "Pong":
      return { _tag: "Pong", length: m.ignored.length }
    case "Error":
      return { _tag: "Error", message: m }
    case "Warning":
      return { _tag: "Warning", message: m }
    default:
      return { _tag: "Other", messageType: type }
  }
}

/**
 * BOLT 7 gossip (`channel_announcement` 256 .. `gossip_timestamp_filter` 265), which the Peer
 * ignores from a peer that did not negotiate `gossip_queries`. `announcement_signatures` (259)
 * is not gossip: it goes between the two ends of a channel, like the BOLT 2 messages.
 */
export const isGossipType = (type: number): boolean => type >= 256 && type <= 265 && type !== 259

/** `gossip_queries` (BOLT 9 bits 6/7) among negotiated feature bits. */
export const negotiatedGossipQueries = (negotiated: ReadonlyArray<number>): boolean =>
  negotiated.includes(6) || negotiated.includes(7)

/** BOLT 1: an all-zero `channel_id` means "every channel", i.e. the connection. */
export const isZeroChannelId = (id: ChannelId): boolean => isAllChannels(id)

export type FeatureCheck =
  | { readonly _tag: "Ok" }
  | { readonly _tag: "UnknownRequired"; readonly bits: ReadonlyArray<number> }
  | { readonly _tag: "MissingDependency"; readonly message: string }

/**
 * BOLT 1/9 checks on the remote's combined `init` features against ours: required bits we do
 * not know or do not offer (BOLT 1: MUST close; we also send a `warning`), and missing
 * transitive dependencies (BOLT 9: MUST close).
 */
export const checkRemoteFeatures = (local: Uint8Array, remote: Uint8Array): FeatureCheck => {
  // From the remote's bytes directly: its vector may be 65535 bytes of set bits (see checkInitFeatures).
  const r = Features.checkInitFeatures(remote, new Uint8Array(0), Features.featuresFromBytes(local))
  if (Result.isSuccess(r)) return { _tag: "Ok" }
  const e = r.failure
  if (e._tag === "MissingFeatureDependency") {
    return { _tag: "MissingDependency", message: `${e.feature} requires ${e.dependency}` }
  }
  const bits = [...e.unknownBits, ...e.unsupported.map((name) => Features.featureInfo(name).evenBit)].sort((a, b) => a - b)
  return { _tag: "UnknownRequired", bits }
}

/** Feature bits negotiated per BOLT 1 (both offered, or we offered it as required). */
export const negotiatedFeatures = (local: Uint8Array, remote: Uint8Array): ReadonlyArray<number> =>
  Features.negotiatedBits(local, remote)
