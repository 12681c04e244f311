/**
 * The `ChannelManager`: the node's owner of channels (ARCHITECTURE.md, "The actors").
 * One per node, as an Effect service over the `PeerManager`, the `ChannelSigner`, a
 * `MonitorPersister` and `Entropy`.
 *
 * - It consumes the peer layer's session stream (`PeerManager.sessionEvents`: lossless, ordered
 *   `Connected` / `Message` / `Disconnected` per connection) and routes each BOLT 2 message by
 *   (peer, channel id) to that channel's `Channel` actor; temporary ids during the open, the
 *   final id after the `Rekey`. An `open_channel` creates a channel (fundee); an `error` for all
 *   channels goes to every channel of that peer. The peer layer must hand `open_channel` up: build
 *   it with `channelPeerConfig` (`rejectChannels: false`).
 * - On `Connected` every channel of that peer gets `PeerConnected` with the session (it sends
 *   `channel_reestablish`); a channel sends only on the session it was last connected on, so a
 *   message meant for an old connection never goes out on a new one.
 * - Each step's `Persist` goes to the persister with the channel's record (its state, its peer,
 *   its key id and the signer's policy state, one atomic write) and then to the channel's
 *   `Monitor` (applied at once, no fiber). Completions of `InProgress` writes come back from the persister's stream.
 * - At start it restores every channel and monitor from the persister's `load` (the signer's
 *   policy state first), and the channels resume with `channel_reestablish` when their peer connects.
 *   A restored channel's state and its monitor's state are kept as one compact copy
 *   (`compactByteArrays`: their byte arrays in one buffer, equal ones shared): an idle channel
 *   costs ~18 KiB of heap, actor and monitor included (the channel bench measures it).
 * - It publishes ONE event stream: every channel's `ChannelEvent` and chain request
 *   (`Broadcast`, `WatchFunding`) with the peer's node id and the channel id. A chain source feeds
 *   facts back with `chainFact` (a simulated chain in tests; a real one in a later issue).
 *
 * Library API: `openChannel`, `fundChannel`, `listChannels`, `closeChannel`, `forceClose`,
 * `addHtlc`, `fulfillHtlc`, `claimPreimage`, `failHtlc`, `failMalformedHtlc`, `updateFee`, `chainFact`, `events`.
 */
import { Context, Data, Deferred, Effect, Exit, Layer, PubSub, Result, Schedule, Schema, Scope, Stream } from "effect"
import { preimageOf } from "../protocol/monitor/query.ts"
import { pendingEvents, restoredWatches } from "../protocol/channel/pending.ts"
import { equalBytes, hexOfHeld, lastKeyOf, toHex } from "../protocol/bytes.ts"
import { ChannelIdSchema, type ShortChannelId, shortChannelIdFromParts } from "../protocol/codec/fields.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { hasChangesToSign } from "../protocol/channel/commitments.ts"
import { type ChannelPolicy, defaultChannelPolicy, defaultLocalChannelConfig, type LocalChannelConfig } from "../protocol/channel/config.ts"
import type { ChannelEvent, ChannelInput, ChannelOutput } from "../protocol/channel/io.ts"
import type { NegotiatedChannelType } from "../protocol/channel/open.ts"
import { type ChannelState, ChannelStateSchema, channelIdOf, makeNormal, shortChannelIdsOf } from "../protocol/channel/state.ts"
import { acceptChannel, openChannel as openChannelStep, step, type StepContext } from "../protocol/channel/step.ts"
import { type FeatureName, featureOfBit } from "../protocol/features.ts"
import { describeData, isAllChannels, makeError } from "../protocol/messages/error.ts"
import type { LightningMessage } from "../protocol/messages/index.ts"
import type { ChannelMessage, OpenChannel } from "../protocol/messages/channel.ts"
import { isGossipMessage } from "../protocol/messages/gossip.ts"
import { replay, replayFrom } from "../protocol/monitor/apply.ts"
import type { MonitorState } from "../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../protocol/monitor/update.ts"
import type { PublicKey } from "../protocol/keys/keys.ts"
import { serializeTransaction, type Transaction } from "../protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, type Msat, type NodeId, type Sat } from "../protocol/units.ts"
import { ChannelSigner, type ChannelKeyId, channelKeyId, type SignerChannelState, SignerChannelStateSchema } from "../services/ChannelSigner.ts"
import { Entropy } from "../services/Entropy.ts"
import { LazyJson, MonitorPersister, type PersistStatus, type PersistUnavailable, writeNowOf, writesFreeOf } from "../services/MonitorPersister.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { ActorCrashed, ActorStopped } from "./Actor.ts"
import {
  type ChainRequest,
  type ChannelCommandRejected,
  type ChannelEnvelope,
  type ChannelCore,
  type ChannelHandle,
  type ChannelPorts,
  type ChannelSnapshot,
  makeChannel,
  type StepReport
} from "./Channel.ts"
import { encodeChannelStateJson } from "../protocol/channel/state-json.ts"
import { isHexOf } from "../layers/persister/replica.ts"
import { encodeSignerChannelStateJson } from "../layers/signer/signer-state-json.ts"
import { makeMonitorSync, type MonitorHandle, type MonitorPreview } from "./Monitor.ts"
import { PeerNotConnected, type PeerSessionEvent, sessionEventSinkOf, type SessionEventSink, type SessionId } from "./PeerEvent.ts"
import { PeerManager, type PeerManagerConfig, sendNowOf } from "./PeerManager.ts"

/** A stored channel record does not decode, or its update log does not replay: the store needs an operator. */
export class ChannelStoreUnavailable extends Data.TaggedError("ChannelStoreUnavailable")<{ readonly reason: string }> {}

// ---- the record persisted with each update -----------------------------------------------------

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))

/**
 * What the manager writes with each update: the channel state after the step, the peer it is
 * with, the signer's key id and the signer's policy state (restored into the signer at start).
 */
/** A node id (33 bytes, hex), branded once its length is checked. */
const NodeIdSchema: Schema.Codec<NodeId, string> = hexOfLength(33).pipe(Schema.brand("PublicKey"))

export const ChannelRecordSchema = Schema.Struct({
  version: Schema.Literal(1),
  nodeId: NodeIdSchema,
  keyId: hexOfLength(32),
  channel: ChannelStateSchema,
  signer: Schema.optional(SignerChannelStateSchema)
})
export type ChannelRecord = typeof ChannelRecordSchema.Type

/**
 * The record as the JSON value the persister stores (`MonitorPersister.persist`'s `channelState`):
 * the same value as `Schema.encodeSync(ChannelRecordSchema)` (tested), written out by the
 * hand-written encoders of the state and of the signer's state (`state-json.ts`,
 * `signer-state-json.ts`: no Schema interpreter on the persist path).
 */
export const encodeChannelRecord = (record: ChannelRecord): Schema.Json => {
  const signer = record.signer
  const json: { [key: string]: Schema.Json } = {
    version: record.version,
    nodeId: hexOfHeld(record.nodeId),
    keyId: hexOfHeld(record.keyId),
    channel: encodeChannelStateJson(record.channel)
  }
  // Last, as the Schema writes it (the same keys in the same order as a spread of the optional field).
  if (signer !== undefined) json["signer"] = encodeSignerChannelStateJson(signer)
  return json
}

const decodeRecord = Schema.decodeUnknownResult(ChannelRecordSchema)

/**
 * A stored record, decoded; its state, when `Normal`, in the reducer's one shape (`makeNormal`:
 * every field present, in the Schema's order), as every state the reducer makes.
 */
export const decodeChannelRecord = (u: unknown): Result.Result<ChannelRecord, Schema.SchemaError> =>
  Result.map(decodeRecord(u), (r) => (r.channel._tag === "Normal" ? { ...r, channel: makeNormal(r.channel) } : r))

// ---- events, errors, API -----------------------------------------------------------------------------

/** One element of the node's event stream: a channel's event or chain request, with its peer. */
export interface NodeChannelEvent {
  readonly nodeId: NodeId
  readonly channelId: ChannelId
  readonly event: ChannelEvent | ChainRequest
}

/** No channel with this id (temporary or final). */
export class ChannelNotFound extends Data.TaggedError("ChannelNotFound")<{ readonly channelId: ChannelId }> {}

/** `openChannel` was refused before anything was sent (the open rules, or no alias for an scid-alias type). */
export class OpenChannelFailed extends Data.TaggedError("OpenChannelFailed")<{ readonly reason: string }> {}

/** `addHtlc` was refused by the channel (BOLT 2 sender rules): nothing was sent. */
export class AddHtlcRejected extends Data.TaggedError("AddHtlcRejected")<{
  readonly channelId: ChannelId
  readonly requestId: string
  readonly reason: string
}> {}

export type ChannelCommandError = ChannelNotFound | ChannelCommandRejected | ActorStopped | ActorCrashed

export interface OpenChannelOptions {
  /** `push_msat` (default 0). */
  readonly pushAmount?: Msat
  /** The first commitment's feerate (default: the manager's estimate). */
  readonly feeratePerKw?: number
  /** Default `static_remote_key` without variations. */
  readonly channelType?: NegotiatedChannelType
  /** `announce_channel` (default false). */
  readonly announce?: boolean
}

export interface AddHtlcRequest {
  /** Echoed in events (default: a fresh one). */
  readonly requestId?: string
  readonly amount: Msat
  readonly paymentHash: Uint8Array
  readonly cltvExpiry: number
  /** The 1366-byte onion packet. */
  readonly onion: Uint8Array
  readonly pathKey?: PublicKey
}

export type ChainFact = Extract<ChannelInput, { readonly _tag: "FundingDepth" | "FundingSpent" | "FeerateEstimate" }>

/** A channel as listed. */
export interface ChannelInfo {
  readonly nodeId: NodeId
  readonly channelId: ChannelId
  readonly phase: ChannelState["_tag"]
  readonly state: ChannelState
  /** Whether sends wait for a persist to complete (updates, or the state written alone, not durable yet). */
  readonly paused: boolean
}

export interface ChannelManagerShape {
  /** Opens a channel to a connected peer (we fund it); returns the temporary channel id. Watch for `FundingNeeded`. */
  readonly openChannel: (
    nodeId: NodeId,
    amount: Sat,
    options?: OpenChannelOptions
  ) => Effect.Effect<ChannelId, PeerNotConnected | OpenChannelFailed>
  /** The signed funding transaction for a channel that asked for it (`FundingNeeded`). */
  readonly fundChannel: (temporaryChannelId: ChannelId, tx: Transaction | Uint8Array) => Effect.Effect<void, ChannelCommandError>
  readonly listChannels: Effect.Effect<ReadonlyArray<ChannelInfo>>
  /**
   * The channel that answers to `scid` now (its real short channel id or an alias, in `Normal`),
   * or undefined: what a forward looks up (BOLT 4 `short_channel_id`). Asks that one channel only
   * when its id is known here, where `listChannels` asks every channel. Optional: without it,
   * callers search `listChannels`.
   */
  readonly channelByScid?: (scid: ShortChannelId) => Effect.Effect<ChannelInfo | undefined>
  readonly channel: (channelId: ChannelId) => Effect.Effect<ChannelInfo, ChannelCommandError>
  /** The monitor's state of a channel (undefined before `Opened`). */
  readonly monitorState: (channelId: ChannelId) => Effect.Effect<MonitorState | undefined, ChannelNotFound | ActorStopped | ActorCrashed>
  /** Cooperative close (default: our configured shutdown script, the estimated feerate). */
  readonly closeChannel: (
    channelId: ChannelId,
    options?: { readonly scriptPubKey?: Uint8Array; readonly feeratePerKw?: number }
  ) => Effect.Effect<void, ChannelCommandError>
  readonly forceClose: (channelId: ChannelId, reason?: string) => Effect.Effect<void, ChannelCommandError>
  /** Adds an HTLC; returns its id (`HtlcAdded`). */
  readonly addHtlc: (channelId: ChannelId, htlc: AddHtlcRequest) => Effect.Effect<bigint, ChannelCommandError | AddHtlcRejected>
  /** `attributionData`: the `update_fulfill_htlc` TLV (BOLT 4 hold times), if any. */
  readonly fulfillHtlc: (channelId: ChannelId, htlcId: bigint, preimage: Uint8Array, attributionData?: Uint8Array) => Effect.Effect<void, ChannelCommandError>
  /**
   * Gives the channel's monitor an HTLC's preimage (`ClaimPreimage`: nothing is sent to the peer)
   * and completes once that write is durable (its persist `Completed`, or its completion came
   * back): from then on the monitor holds the preimage whatever happens. No polling. Also on a
   * channel that failed or closed with commitments on chain (BOLT 5: the monitor claims HTLC
   * outputs with preimages learned after the close); refused after a cooperative close.
   */
  readonly claimPreimage: (channelId: ChannelId, htlcId: bigint, preimage: Uint8Array) => Effect.Effect<void, ChannelCommandError>
  /** `fulfillHtlc`, completing once its `PaymentPreimage` write is durable (as `claimPreimage` does). */
  readonly fulfillHtlcDurably?: (channelId: ChannelId, htlcId: bigint, preimage: Uint8Array, attributionData?: Uint8Array) => Effect.Effect<void, ChannelCommandError>
  /** `attributionData`: the `update_fail_htlc` TLV (BOLT 4 attributable failures), if any. */
  readonly failHtlc: (channelId: ChannelId, htlcId: bigint, reason: Uint8Array, attributionData?: Uint8Array) => Effect.Effect<void, ChannelCommandError>
  readonly failMalformedHtlc: (
    channelId: ChannelId,
    htlcId: bigint,
    sha256OfOnion: Uint8Array,
    failureCode: number
  ) => Effect.Effect<void, ChannelCommandError>
  readonly updateFee: (channelId: ChannelId, feeratePerKw: number) => Effect.Effect<void, ChannelCommandError>
  /** A chain fact for one channel (funding depth, funding spent, feerate). */
  readonly chainFact: (channelId: ChannelId, fact: ChainFact) => Effect.Effect<void, ChannelNotFound | ActorStopped>
  /**
   * The node's channel events from the moment the stream runs, after what the channels' states
   * say is pending (HTLCs received and not settled, our HTLCs fulfilled by the peer and not yet
   * final, funding outputs to watch): a consumer that starts, or restarts after a crash, misses
   * nothing. At least once: dedupe by channel id and HTLC id.
   */
  readonly events: Stream.Stream<NodeChannelEvent>
  /** Subscribes now (nothing after this call is missed); the events as a stream, pending ones first (see `events`). */
  readonly subscribe: Effect.Effect<Stream.Stream<NodeChannelEvent>, never, Scope.Scope>
}

export class ChannelManager extends Context.Service<ChannelManager, ChannelManagerShape>()("effect-lightning/ChannelManager") {
  static readonly layer = (
    config: ChannelManagerConfig
  ): Layer.Layer<ChannelManager, ChannelStoreUnavailable | PersistUnavailable, PeerManager | ChannelSigner | MonitorPersister | Entropy> =>
    Layer.effect(ChannelManager, make(config))
}

export interface ChannelManagerConfig {
  readonly secp: Secp256k1
  /** Our payout script for closes (a cooperative close the peer starts; `closeChannel`'s default). */
  readonly shutdownScript: Uint8Array
  readonly channelConfig?: LocalChannelConfig
  readonly policy?: ChannelPolicy
  /** Our feerate estimate in sat per 1000 weight (default 2500). */
  readonly feerateEstimatePerKw?: number
  /** `max_dust_htlc_exposure_msat` (default 5,000,000 msat). */
  readonly maxDustHtlcExposure?: Msat
  /** Peers allowed to open zero-conf channels with us (default none). */
  readonly trustedForZeroConf?: (nodeId: NodeId) => boolean
  /** Mailbox capacity of each channel actor (default 1024). */
  readonly channelCapacity?: number
  /**
   * Whether each channel groups its persists (default true): the updates of every input it
   * handled since its last write go in one persister call (`ChannelPorts.persistMany`). False:
   * one call per update, inside the step that made it (for comparisons).
   */
  readonly groupPersists?: boolean
  /**
   * For benchmarks and profiling: runs the named synchronous parts of the channel path (`step`:
   * the reducer; `record encode`: the channel record's encoding) through this function, e.g. to
   * time them. Default: called directly.
   */
  readonly instrument?: <A>(part: "step" | "record encode", f: () => A) => A
}

/** The peer layer setting a node with a channel manager needs: hand `open_channel` up. */
export const channelPeerConfig: Pick<PeerManagerConfig, "peer"> = { peer: { rejectChannels: false } }

// ---- helpers ---------------------------------------------------------------------------------------------

/**
 * Channel ids branded through their Schema once per byte array: a state's channel id is the same
 * array from step to step, and the `Channel` actor asks for it on every input (a Schema decode
 * each time cost about 1% of a round trip's CPU). The branded value is the Schema's own copy.
 */
const channelIds = new WeakMap<Uint8Array, ChannelId>()
const asChannelId = (bytes: Uint8Array): ChannelId => {
  const held = channelIds.get(bytes)
  if (held !== undefined) return held
  const id = Schema.decodeSync(ChannelIdSchema)(toHex(bytes))
  channelIds.set(bytes, id)
  return id
}

const keyIdOrDie = (bytes: Uint8Array): ChannelKeyId => {
  const id = channelKeyId(bytes)
  if (id === undefined) throw new RangeError("channel key id must be 32 bytes")
  return id
}

/** The channel id a BOLT 2 message is about (its temporary id during the open), if it is a channel message. */
export const messageChannelId = (message: LightningMessage): ChannelId | undefined => {
  if (isGossipMessage(message)) return undefined // BOLT 7: the gossip actors' business
  switch (message._tag) {
    case "OpenChannel":
    case "AcceptChannel":
    case "FundingCreated":
      return message.temporaryChannelId
    case "Init":
    case "Ping":
    case "Pong":
    case "PeerStorage":
    case "PeerStorageRetrieval":
      return undefined
    default:
      return message.channelId
  }
}

/** A BOLT 2 message for one channel: it names a channel (`messageChannelId`) and is not an `error` or a `warning`. */
const isChannelMessage = (message: LightningMessage): message is ChannelMessage =>
  message._tag !== "Error" && message._tag !== "Warning" && messageChannelId(message) !== undefined

const featureNames = (bits: ReadonlyArray<number>): ReadonlySet<FeatureName> => {
  const names = new Set<FeatureName>()
  for (const bit of bits) {
    const info = featureOfBit(bit)
    if (info !== undefined) names.add(info.name)
  }
  return names
}

const HEX_DIGITS = "0123456789abcdef"
/**
 * Hex as a FLAT string, for what stays in memory per channel (map keys, actor names): `toHex`
 * builds its result by concatenation, a chain of ~65 string pieces (~900 bytes for 32 bytes)
 * that V8 keeps as long as the string lives. `separator` joins several byte strings.
 */
export const flatHex = (parts: ReadonlyArray<Uint8Array>, separator = "", prefix = ""): string => {
  let length = prefix.length + separator.length * Math.max(0, parts.length - 1)
  for (const bytes of parts) length += 2 * bytes.length
  if (hexScratch.length < length) hexScratch = new Uint8Array(Math.max(length, 2 * hexScratch.length))
  const out = hexScratch
  let at = 0
  const text = (s: string): boolean => {
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k)
      if (c > 0x7f) return false
      out[at++] = c
    }
    return true
  }
  if (!text(prefix)) return flatHexOfCodes(parts, separator, prefix)
  for (let j = 0; j < parts.length; j++) {
    if (j > 0 && !text(separator)) return flatHexOfCodes(parts, separator, prefix)
    const bytes = parts[j] ?? EMPTY
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] ?? 0
      out[at++] = HEX_CODES[b >> 4] ?? 0
      out[at++] = HEX_CODES[b & 15] ?? 0
    }
  }
  return asciiText.decode(out.subarray(0, length))
}

/**
 * `flatHex`'s characters are written as bytes into one reused buffer and decoded at once: the
 * decoder makes a flat one-byte string natively, where an array of char codes spread into
 * `String.fromCharCode` allocated ~1.8 KB per 65-byte key (about 20 keys per channel opened).
 * "latin1" is windows-1252 in the Encoding standard, identical to ASCII below 0x80: a prefix or
 * separator with any other character takes the char-code way.
 */
const asciiText = new TextDecoder("latin1")
const HEX_CODES = Uint8Array.from(HEX_DIGITS, (c) => c.charCodeAt(0))
const EMPTY = new Uint8Array(0)
let hexScratch = new Uint8Array(256)

const flatHexOfCodes = (parts: ReadonlyArray<Uint8Array>, separator: string, prefix: string): string => {
  const codes: Array<number> = []
  for (let k = 0; k < prefix.length; k++) codes.push(prefix.charCodeAt(k))
  parts.forEach((bytes, j) => {
    if (j > 0) for (let k = 0; k < separator.length; k++) codes.push(separator.charCodeAt(k))
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] ?? 0
      codes.push(HEX_DIGITS.charCodeAt(b >> 4), HEX_DIGITS.charCodeAt(b & 15))
    }
  })
  return String.fromCharCode(...codes)
}

const keyOf = (nodeId: Uint8Array, channelId: Uint8Array): string => flatHex([nodeId, channelId], "/")

/** The manager's routing map (`<peer hex>/<channel id hex>` -> channel), with a memo of the last peer message's route. */
export interface RouteTable<E> {
  /** The map itself, to read (every change goes through `set` / `delete`). */
  readonly routes: ReadonlyMap<string, E>
  readonly set: (key: string, entry: E) => void
  readonly delete: (key: string) => void
  /**
   * The route of (peer, channel id bytes): the map's entry at `<peerHex>/<hex of channelId>`. The
   * last route found is remembered with its peer and id bytes (most messages come on the channel
   * of the one before) and given again for the same peer and equal bytes, with no hex or key
   * string made; any `set` or `delete` forgets it.
   */
  readonly route: (peerHex: string, channelId: Uint8Array) => E | undefined
}

/**
 * A channel id's first 30 bits, from its bytes (missing bytes read as 0): a small integer, the
 * key a peer's routes are found by (no hex string made and hashed per message).
 */
const idPrefixOfBytes = (id: Uint8Array): number => ((id[0] ?? 0) << 22) | ((id[1] ?? 0) << 14) | ((id[2] ?? 0) << 6) | ((id[3] ?? 0) >> 2)

/** The value of a lowercase hex digit's char code, -1 for any other character (`toHex` writes lowercase only). */
const hexDigitValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1)

/**
 * `idPrefixOfBytes` of the bytes a route key's id hex stands for; -1 (no bytes' prefix) when that
 * hex is not what `toHex` makes of some bytes (odd length, another character), which no lookup finds.
 */
const idPrefixOfHex = (hex: string): number => {
  if (hex.length % 2 !== 0) return -1
  let prefix = 0
  for (let i = 0; i < hex.length; i++) if (hexDigitValue(hex.charCodeAt(i)) < 0) return -1
  for (let i = 0; i < 4; i++) {
    const byte = 2 * i < hex.length ? (hexDigitValue(hex.charCodeAt(2 * i)) << 4) | hexDigitValue(hex.charCodeAt(2 * i + 1)) : 0
    prefix = i === 3 ? (prefix << 6) | (byte >> 2) : (prefix << 8) | byte
  }
  return prefix
}

/** A peer's routes whose ids share a prefix (`idPrefixOfBytes`), one per id hex: almost always one. */
interface RouteSlot<E> {
  readonly idHex: string
  entry: E
  next: RouteSlot<E> | undefined
}

export const makeRouteTable = <E>(): RouteTable<E> => {
  const routes = new Map<string, E>()
  /**
   * The same routes by peer hex, then by the id's first 30 bits (the two halves of a key): a
   * message's lookup makes no string (a key joined per message, `<peer>/<id>`, ~130 characters
   * to build, flatten and hash, cost as much as the rest of the routing; the id's hex alone,
   * made and hashed per message, about half of it), then confirms the id against the route's id
   * hex character by character. A node's messages alternate between its channels: in a
   * simulation most lookups miss the memo below.
   */
  const byPeer = new Map<string, Map<number, RouteSlot<E>>>()
  /** The last route found, its peer and its id bytes (copied: the caller may reuse its array). 32 bytes, as every channel id; another length is not remembered. */
  let lastPeer: string | undefined
  let lastEntry: E | undefined
  const lastId = new Uint8Array(32)
  /** A route key's peer hex and channel id hex (`<peer>/<id>`), or undefined for a key without the slash. */
  const halvesOf = (key: string): readonly [string, string] | undefined => {
    const slash = key.indexOf("/")
    return slash < 0 ? undefined : [key.slice(0, slash), key.slice(slash + 1)]
  }
  const forget = () => {
    lastPeer = undefined
    lastEntry = undefined
  }
  return {
    routes,
    set: (key, entry) => {
      forget()
      routes.set(key, entry)
      const halves = halvesOf(key)
      if (halves === undefined) return
      const [peer, idHex] = halves
      const prefix = idPrefixOfHex(idHex)
      let ofPeer = byPeer.get(peer)
      if (ofPeer === undefined) byPeer.set(peer, (ofPeer = new Map()))
      const first = ofPeer.get(prefix)
      for (let slot = first; slot !== undefined; slot = slot.next) {
        if (slot.idHex === idHex) {
          slot.entry = entry
          return
        }
      }
      ofPeer.set(prefix, { idHex, entry, next: first })
    },
    delete: (key) => {
      forget()
      routes.delete(key)
      const halves = halvesOf(key)
      if (halves === undefined) return
      const [peer, idHex] = halves
      const ofPeer = byPeer.get(peer)
      if (ofPeer === undefined) return
      const prefix = idPrefixOfHex(idHex)
      let before: RouteSlot<E> | undefined
      for (let slot = ofPeer.get(prefix); slot !== undefined; before = slot, slot = slot.next) {
        if (slot.idHex !== idHex) continue
        if (before !== undefined) before.next = slot.next
        else if (slot.next !== undefined) ofPeer.set(prefix, slot.next)
        else ofPeer.delete(prefix)
        break
      }
      if (ofPeer.size === 0) byPeer.delete(peer)
    },
    route: (peerHex, channelId) => {
      if (lastPeer === peerHex && channelId.length === 32 && equalBytes(lastId, channelId)) return lastEntry
      let entry: E | undefined
      for (let slot = byPeer.get(peerHex)?.get(idPrefixOfBytes(channelId)); slot !== undefined; slot = slot.next) {
        if (isHexOf(slot.idHex, channelId)) {
          entry = slot.entry
          break
        }
      }
      if (entry === undefined || channelId.length !== 32) forget()
      else {
        lastPeer = peerHex
        lastEntry = entry
        lastId.set(channelId)
      }
      return entry
    }
  }
}

/**
 * The manager's live sessions: each peer's (by node id hex, `get`), and the same by session id,
 * with the peer's node id and hex, for a peer message's check (`livePeerHex`).
 */
export interface SessionTable<P extends { readonly session: SessionId }> {
  /** The peer's live session, by its node id hex. */
  readonly get: (peerHex: string) => P | undefined
  /** The peer's session is now `live` (a `Connected`). */
  readonly up: (nodeId: NodeId, live: P) => void
  /** The peer's `session` ended (a `Disconnected`; one already replaced changes nothing). */
  readonly down: (nodeId: NodeId, session: SessionId) => void
  /** The peer's hex when `session` is its live session (a message of it is current), else undefined (a connection already replaced). */
  readonly livePeerHex: (nodeId: NodeId, session: SessionId) => string | undefined
}

export const makeSessionTable = <P extends { readonly session: SessionId }>(): SessionTable<P> => {
  const byPeer = new Map<string, P>()
  /**
   * The live sessions again, by session id, with their peer: a peer message's one lookup (a
   * number key) for whether it came on its peer's live connection and which peer's routes to
   * search, where the node id's hex and a lookup by that string cost two hash lookups per message.
   * An entry here is always its peer's live session in `byPeer` (changed together, by `up` and
   * `down`). A peer layer numbers its sessions from one counter: a session id that another peer
   * holds too is looked up the long way.
   */
  const bySession = new Map<SessionId, { readonly nodeId: NodeId; readonly peerHex: string }>()
  return {
    get: (peerHex) => byPeer.get(peerHex),
    up: (nodeId, live) => {
      const peerHex = toHex(nodeId)
      const before = byPeer.get(peerHex)
      if (before !== undefined && bySession.get(before.session)?.peerHex === peerHex) bySession.delete(before.session)
      byPeer.set(peerHex, live)
      bySession.set(live.session, { nodeId, peerHex })
    },
    down: (nodeId, session) => {
      const peerHex = toHex(nodeId)
      if (byPeer.get(peerHex)?.session !== session) return
      byPeer.delete(peerHex)
      if (bySession.get(session)?.peerHex === peerHex) bySession.delete(session)
    },
    livePeerHex: (nodeId, session) => {
      const live = bySession.get(session)
      if (live !== undefined && (live.nodeId === nodeId || equalBytes(live.nodeId, nodeId))) return live.peerHex
      const peerHex = toHex(nodeId)
      return byPeer.get(peerHex)?.session === session ? peerHex : undefined
    }
  }
}

const isPlainObject = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype

/**
 * A copy of `value` (plain objects, arrays and primitives, as a decoded channel or monitor state
 * is) whose byte arrays are all views into ONE buffer, equal byte arrays (and equal bigints)
 * shared. For what a restored channel keeps in memory while idle: a channel state and its monitor
 * state decoded from the store hold ~50 small byte arrays, each with its own `ArrayBuffer` and
 * backing store (~200 bytes of overhead for 33 bytes of key), many of them equal (basepoints,
 * points, the funding script in both). Objects with another prototype (class instances) are
 * shared, not copied. The views must not be written to (states are immutable).
 */
export function compactByteArrays<A>(value: A): A
export function compactByteArrays(value: unknown): unknown {
  const contentKey = (bytes: Uint8Array): string => {
    let key = ""
    for (let i = 0; i < bytes.length; i++) key += String.fromCharCode(bytes[i] ?? 0)
    return key
  }
  const sizes = new Map<string, number>()
  const measure = (v: unknown): void => {
    if (v instanceof Uint8Array) sizes.set(contentKey(v), v.length)
    else if (Array.isArray(v)) for (const x of v) measure(x)
    else if (isPlainObject(v)) for (const k of Object.keys(v)) measure(v[k])
  }
  measure(value)
  let total = 0
  for (const n of sizes.values()) total += n
  const slab = new Uint8Array(total)
  let offset = 0
  const views = new Map<string, Uint8Array>()
  const bigints = new Map<bigint, bigint>()
  const copy = (v: unknown): unknown => {
    if (v instanceof Uint8Array) {
      const key = contentKey(v)
      const known = views.get(key)
      if (known !== undefined) return known
      const view = slab.subarray(offset, offset + v.length)
      view.set(v)
      offset += v.length
      views.set(key, view)
      return view
    }
    if (typeof v === "bigint") {
      const known = bigints.get(v)
      if (known !== undefined) return known
      bigints.set(v, v)
      return v
    }
    if (Array.isArray(v)) return v.map(copy)
    if (isPlainObject(v)) {
      const out: { [key: string]: unknown } = {}
      for (const k of Object.keys(v)) out[k] = copy(v[k])
      return out
    }
    return v
  }
  return copy(value)
}

interface Entry {
  readonly nodeId: NodeId
  readonly keyId: ChannelKeyId
  channelId: ChannelId
  handle: ChannelHandle<ChannelState> | undefined
  monitor: MonitorHandle | undefined
  /**
   * A channel the peer opened (`open_channel`), not funded yet: its actor lives in its own
   * scope, so it can be forgotten entirely if it never gets funded. Cleared at the rekey
   * (`funding_created`).
   */
  inboundUnfunded?: { readonly scope: Scope.Closeable } | undefined
  /** The highest update id known durable here (-1: none yet): what `fulfillHtlcDurably` and `claimPreimage` compare with. */
  durableUpTo: bigint
  /** Who waits for an update to be durable (`commandDurably`), or undefined (none: the common case). */
  durableWaiters: Array<DurableWaiter> | undefined
}

interface DurableWaiter {
  readonly upTo: bigint
  readonly done: Deferred.Deferred<void>
}

/** No updates (the manager's write scratch between writes). */
const noUpdates: ReadonlyArray<MonitorUpdate> = []

/**
 * A channel's record as the persister takes it (`LazyJson`): its parts held as fields and encoded
 * when the persister asks (at once for one that writes bytes; a persister in memory only if a
 * restart loads it), at most once; no encoder closure per write.
 */
export class ChannelRecordJson extends LazyJson {
  private readonly nodeId: NodeId
  private readonly keyId: ChannelKeyId
  private state: ChannelState | undefined
  private signerState: SignerChannelState | undefined
  private readonly instrument: (<A>(part: "step" | "record encode", f: () => A) => A) | undefined
  constructor(
    nodeId: NodeId,
    keyId: ChannelKeyId,
    state: ChannelState,
    signerState: SignerChannelState | undefined,
    instrument: (<A>(part: "step" | "record encode", f: () => A) => A) | undefined
  ) {
    super()
    this.nodeId = nodeId
    this.keyId = keyId
    this.state = state
    this.signerState = signerState
    this.instrument = instrument
  }
  protected override compute(): Schema.Json {
    const instrument = this.instrument
    return instrument === undefined ? this.encode() : instrument("record encode", () => this.encode())
  }
  private encode(): Schema.Json {
    const { nodeId, keyId, state: channel, signerState: signer } = this
    if (channel === undefined) return null // unreachable: computed once, before `release`
    return encodeChannelRecord(signer !== undefined ? { version: 1, nodeId, keyId, channel, signer } : { version: 1, nodeId, keyId, channel })
  }
  protected override release(): void {
    this.state = undefined
    this.signerState = undefined
  }
}

/**
 * Channels a peer may have opened with us and not funded yet, at once (BOLT 2 leaves the limit
 * to the receiver; LDK uses 4 too): more `open_channel`s get an `error`. Such a channel that
 * fails before funding is forgotten (no entry is kept), so a peer cannot make us hold an
 * unbounded number of channels.
 */
export const MAX_INBOUND_UNFUNDED_PER_PEER = 4

interface PeerSession {
  readonly session: SessionId
  readonly features: ReadonlySet<FeatureName>
  readonly remoteFeatures: Uint8Array
}

// ---- the manager -------------------------------------------------------------------------------------------

const listeners_ = new WeakMap<ChannelManagerShape, (f: (e: NodeChannelEvent) => void) => Effect.Effect<ReadonlyArray<NodeChannelEvent>, never, Scope.Scope>>()
/**
 * `subscribe` without a stream: `f` hears every event from now on when it is published, in order
 * (until the scope closes), and the effect returns what is pending now. Only for the object `make`
 * returned (a wrapper spreading its fields, e.g. one that holds events back, has none). `Payments`
 * uses it: no fiber and no stream step between an event and its inbox.
 */
export const listenerOf = (manager: ChannelManagerShape) => listeners_.get(manager)

/** Starts a manager in the current scope (restoring every stored channel first). */
export const make = (
  config: ChannelManagerConfig
): Effect.Effect<ChannelManagerShape, ChannelStoreUnavailable | PersistUnavailable, Scope.Scope | PeerManager | ChannelSigner | MonitorPersister | Entropy> =>
  Effect.gen(function*() {
    const peers = yield* PeerManager
    /** The peer layer's send at once, when it declared one (`declareSendNow`). */
    const sendNow = sendNowOf(peers)
    const signer = yield* ChannelSigner
    const persister = yield* MonitorPersister
    /** Whether the persister's writes are free now (declared by the persister itself; a wrapper is not). */
    const writesFree = writesFreeOf(persister)
    /** The persister's write done at once, when it has one (declared by itself, as `writesFree`). */
    const writeNow = writeNowOf(persister)
    /** Whether the signer gives its state at once (a signer in this process). */
    const channelStateNow = signer.channelStateNow !== undefined
    // Subscribed before anything is persisted: no completion is missed.
    const completions = yield* persister.subscribe
    /**
     * Records `updateId` as durable for the channel (on its entry: no map keyed by its hex id to
     * look up per write); returns the effect waking who waited for it, or undefined (none: the common case).
     */
    const markDurableNow = (entry: Entry, updateId: bigint): Effect.Effect<void> | undefined => {
      if (entry.durableUpTo < updateId) entry.durableUpTo = updateId
      const waiters = entry.durableWaiters
      if (waiters === undefined) return undefined
      const ready = waiters.filter((w) => w.upTo <= updateId)
      const rest = waiters.filter((w) => w.upTo > updateId)
      entry.durableWaiters = rest.length === 0 ? undefined : rest
      return Effect.forEach(ready, (w) => Deferred.succeed(w.done, undefined), { discard: true })
    }
    const entropy = yield* Entropy
    const network = yield* NodeNetwork
    const scope = yield* Effect.scope
    /**
     * The context every channel actor is made with (whoever asked for the channel: restore, a
     * peer's `open_channel`, `openChannel`'s caller): this manager's own, without the services it
     * was made with, which the channels never read (their ports and signer hold what they use),
     * nor the layer build's memo map (there when the manager is made in a layer's build; a channel
     * builds no layer). An actor runs its fiber with its own context over its starter's and copies
     * the starter's whole context when the starter lacks one of its services (`Actor.contextOver`):
     * with these in it, every start from a fiber outside the manager (the payments', a caller's)
     * made such a copy and a new fiber context cache, ~3 per payment in a simulation. Nor does a
     * channel keep its opener's context (with whatever that fiber held) for its life any more.
     */
    const channelsContext = Context.omit(PeerManager, ChannelSigner, MonitorPersister, Entropy, Layer.CurrentMemoMap)(yield* Effect.context<Scope.Scope>())
    const channelConfig = config.channelConfig ?? defaultLocalChannelConfig
    const policy = config.policy ?? defaultChannelPolicy
    const feerateEstimate = config.feerateEstimatePerKw ?? 2500
    const maxDustHtlcExposure = config.maxDustHtlcExposure ?? msat(5_000_000n)
    const events = yield* PubSub.unbounded<NodeChannelEvent>()
    const listeners = new Set<(e: NodeChannelEvent) => void>()

    /** Channels by peer and current id (temporary during the open). */
    const routeTable = makeRouteTable<Entry>()
    const routes = routeTable.routes
    const setRoute = routeTable.set
    const deleteRoute = routeTable.delete
    /** Channels by current id alone (the API's view). Changed through `setById` / `deleteById` only. */
    const byId = new Map<string, Entry>()
    /**
     * Every channel once, in `byId`'s order, made again after a change of `byId` only: `listChannels`
     * (asked per route and per forward by the payments) reads it as it is, no set and array made
     * per call. Never changed in place (a listing waiting on a busy channel keeps reading its own).
     */
    let channelListNow: ReadonlyArray<Entry> | undefined
    const channelList = (): ReadonlyArray<Entry> => (channelListNow ??= [...new Set(byId.values())])
    const setById = (key: string, entry: Entry): void => {
      byId.set(key, entry)
      channelListNow = undefined
    }
    const deleteById = (key: string): void => {
      byId.delete(key)
      channelListNow = undefined
    }
    /** The live session of each peer (by node id hex). */
    const sessions = makeSessionTable<PeerSession>()
    /** The last features negotiated with each peer (kept while disconnected). */
    const lastFeatures = new Map<string, ReadonlySet<FeatureName>>()
    /** Changes of `lastFeatures` so far: a channel's step context is looked at again only after one (not per step). */
    let featuresChanges = 0
    /**
     * Callers waiting for a peer's `Connected` to be handled here: `PeerManager.connect` returns
     * before this manager has taken the session event, and `openChannel` right after `connect`
     * must not fail for that.
     */
    const connectWaiters = new Map<string, Array<Deferred.Deferred<void>>>()

    const contextFor = (nodeId: NodeId): StepContext => ({
      secp: config.secp,
      config: channelConfig,
      policy,
      chainHash: network.chainHash,
      features: lastFeatures.get(toHex(nodeId)) ?? new Set<FeatureName>(),
      feerateEstimatePerKw: feerateEstimate,
      maxDustHtlcExposure,
      peerTrustedForZeroConf: config.trustedForZeroConf?.(nodeId) ?? false,
      shutdownScript: config.shutdownScript
    })

    const instrument = config.instrument ?? (<A>(_part: string, f: () => A): A => f())
    const coreFor = (entry: Entry): ChannelCore<ChannelState> => {
      // The channel's step context, built again only when what it is made of changed (the peer's
      // features at a reconnect, the zero-conf trust): not once per step.
      let nodeHex: string | undefined
      let cached: StepContext | undefined
      /** `featuresChanges` when `cached` was made: without a zero-conf trust to ask, it holds until a peer's features change. */
      let cachedAt = -1
      const context = (): StepContext => {
        if (cached !== undefined && cachedAt === featuresChanges && config.trustedForZeroConf === undefined) return cached
        nodeHex ??= flatHex([entry.nodeId])
        const features = lastFeatures.get(nodeHex)
        const trusted = config.trustedForZeroConf?.(entry.nodeId) ?? false
        cachedAt = featuresChanges
        if (cached !== undefined && cached.features === features && cached.peerTrustedForZeroConf === trusted) return cached
        const fresh = contextFor(entry.nodeId)
        // An unknown peer's empty set is made fresh on each call: cache only a known one.
        if (features !== undefined) cached = fresh
        return fresh
      }
      return coreOf(entry, context)
    }
    const coreOf = (entry: Entry, context: () => StepContext): ChannelCore<ChannelState> => ({
      step:
        config.instrument === undefined
          ? (state, input) => step(context(), state, input)
          : (state, input) => instrument("step", () => step(context(), state, input)),
      channelId: (state) => asChannelId(channelIdOf(state)),
      keyId: () => entry.keyId,
      hasPendingChanges: (state) => state._tag === "Normal" && hasChangesToSign(state.commitments),
      awaitingSignature: (state) => ("awaiting" in state && state.awaiting !== undefined ? state.awaiting.request : undefined),
      feedCompletions: false
    })

    /**
     * Publishes at once (the stream is unbounded: `publishUnsafe` accepts as `publish` would); the
     * effect to run after it (a channel to forget), or undefined.
     */
    const publish = (entry: Entry, event: ChannelEvent | ChainRequest): Effect.Effect<void> | undefined => {
      const ne = { nodeId: entry.nodeId, channelId: entry.channelId, event }
      // Listeners hear it when it is published (in the same step), before the subscribers.
      for (const l of listeners) l(ne)
      PubSub.publishUnsafe(events, ne)
      if (event._tag !== "ChannelClosed" || event.reason._tag !== "FundingAborted") return undefined
      return entry.inboundUnfunded === undefined && entry.monitor !== undefined ? forgetStored(entry) : forgetInboundUnfunded(entry)
    }

    /**
     * BOLT 2: the fundee forgets a channel whose funding transaction was not seen in time (a
     * stored channel: `funding_signed` was sent). It leaves the routing maps now; once its actor
     * finished what it is doing (after its mailbox answers a snapshot) the actor stops and the
     * channel's record and monitor log are removed from the store (retried while the store is away).
     */
    const forgetStored = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (routes.get(keyOf(entry.nodeId, entry.channelId)) === entry) deleteRoute(keyOf(entry.nodeId, entry.channelId))
        if (byId.get(flatHex([entry.channelId])) === entry) deleteById(flatHex([entry.channelId]))
        const handle = entry.handle
        entry.monitor = undefined
        const removal = persister.remove(entry.channelId).pipe(
          Effect.retry({ schedule: Schedule.spaced("1 second"), while: (e) => e._tag === "PersistUnavailable" }),
          Effect.catch((e) => Effect.logWarning(`channel ${toHex(entry.channelId)}: forgotten, but not removed from the store (${e._tag})`))
        )
        return Effect.asVoid(
          Effect.forkIn(
            Effect.andThen(
              handle === undefined ? Effect.void : Effect.andThen(Effect.ignore(handle.snapshot), handle.actor.stop),
              Effect.andThen(removal, Effect.logInfo(`channel ${toHex(entry.channelId)} forgotten: funding transaction not seen in time (BOLT 2)`))
            ),
            scope
          )
        )
      })

    /**
     * BOLT 2: a channel that fails before funding is forgotten. One the peer opened leaves the
     * routing maps now and its actor stops once it has finished what it is doing (after its
     * mailbox answers a snapshot), so a peer cannot make us hold channels it never funds.
     */
    const forgetInboundUnfunded = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        const unfunded = entry.inboundUnfunded
        if (unfunded === undefined) return Effect.void
        entry.inboundUnfunded = undefined
        if (routes.get(keyOf(entry.nodeId, entry.channelId)) === entry) deleteRoute(keyOf(entry.nodeId, entry.channelId))
        if (byId.get(flatHex([entry.channelId])) === entry) deleteById(flatHex([entry.channelId]))
        const handle = entry.handle
        return Effect.asVoid(
          Effect.forkIn(
            Effect.andThen(handle === undefined ? Effect.void : Effect.ignore(handle.snapshot), Scope.close(unfunded.scope, Exit.void)),
            scope
          )
        )
      })

    const inboundUnfundedOf = (nodeId: NodeId): number => {
      const prefix = `${toHex(nodeId)}/`
      let n = 0
      for (const [key, entry] of routes) if (key.startsWith(prefix) && entry.inboundUnfunded !== undefined) n += 1
      return n
    }

    const register = (entry: Entry) => {
      setRoute(keyOf(entry.nodeId, entry.channelId), entry)
      setById(flatHex([entry.channelId]), entry)
    }

    /**
     * One write: the updates (contiguous, in order) and the channel's record (its state, peer,
     * key id and the signer's policy state, all as of now), then the updates to its monitor.
     */
    const persistFor = (entry: Entry, updates: ReadonlyArray<MonitorUpdate>, state: ChannelState): Effect.Effect<PersistStatus> =>
      // No generator, one effect per step: one of these per write.
      Effect.matchEffect(signer.channelState(entry.keyId), {
        onFailure: () => persistRecord(entry, updates, state, undefined),
        onSuccess: (signerState) => persistRecord(entry, updates, state, signerState)
      })

    /** The record written with a channel's updates: encoded when the persister asks (lazily), at most once. */
    const recordOf = (entry: Entry, state: ChannelState, signerState: SignerChannelState | undefined): LazyJson =>
      new ChannelRecordJson(entry.nodeId, entry.keyId, state, signerState, config.instrument)

    /** The id a write is stored under: the final one from `Opened` on (the write of `Opened` may come before the rekey). */
    const writeChannelId = (entry: Entry, updates: ReadonlyArray<MonitorUpdate>): ChannelId => {
      const opened = updates.find((u) => u._tag === "Opened")
      return opened?._tag === "Opened" ? opened.params.channelId : entry.channelId
    }

    /** `persistFor` once the signer's policy state is read (undefined: the signer keeps none for this channel). */
    const persistRecord = (
      entry: Entry,
      updates: ReadonlyArray<MonitorUpdate>,
      state: ChannelState,
      signerState: SignerChannelState | undefined
    ): Effect.Effect<PersistStatus> => {
      const channelId = writeChannelId(entry, updates)
      // Shutting down: the channel stays paused (nothing that depends on the update leaves).
      // Out of order: a bug of ours.
      return Effect.matchEffect(persister.persist(channelId, updates, recordOf(entry, state, signerState)), {
        onFailure: (e) => (e._tag === "PersisterClosed" ? Effect.succeed<PersistStatus>("InProgress") : Effect.die(e)),
        onSuccess: (status) => {
          const r = written(entry, channelId, updates, status)
          return typeof r === "string" ? Effect.succeed(r) : r
        }
      })
    }

    /**
     * `persistFor` with no effect, when the signer gives its state at once (`channelStateNow`) and
     * the persister writes at once (`writeNowOf`): as `ChannelPorts.persistManyNow`. Undefined:
     * nothing was written (then `persistFor`).
     */
    const persistNowFor = (entry: Entry, updates: ReadonlyArray<MonitorUpdate>, state: ChannelState): PersistStatus | Effect.Effect<PersistStatus> | undefined => {
      if (writeNow === undefined) return undefined
      const signerState = signer.channelStateNow?.(entry.keyId)
      if (signerState === undefined) return undefined
      const channelId = writeChannelId(entry, updates)
      // The monitor's state after these updates, if the persister asks for it (compacting its log):
      // computed then, and handed over to the monitor after the write (`written`), not applied twice.
      // No `try`/`finally` around the call: V8 made this function ~10 us slower per call with one
      // (channel bench profile). A `writeNow` that throws (a defect, which ends the channel's actor)
      // leaves the scratch set: every write sets all of it first.
      writing.monitor = monitorOf(entry, channelId)
      writing.updates = updates
      writing.preview = undefined
      const status = writeNow(channelId, updates, recordOf(entry, state, signerState), monitorAfterWriting)
      writing.monitor = undefined
      writing.updates = noUpdates
      const preview = writing.preview
      writing.preview = undefined
      return status === undefined ? undefined : written(entry, channelId, updates, status, preview)
    }
    /**
     * The write `persistNowFor` is handing over (its monitor and updates) and, once asked, the
     * monitor's state after it: read by `monitorAfterWriting` during that `writeNow` call only (a
     * persister asks then, if at all: `WriteNow`). One function for every write, not a closure per
     * write; asked outside a write, it answers undefined (the persister then folds the log itself).
     */
    const writing: { monitor: MonitorHandle | undefined; updates: ReadonlyArray<MonitorUpdate>; preview: MonitorPreview | undefined } = {
      monitor: undefined,
      updates: noUpdates,
      preview: undefined
    }
    const monitorAfterWriting = (): MonitorState | undefined => {
      const monitor = writing.monitor
      if (monitor === undefined) return undefined
      writing.preview ??= monitor.preview(writing.updates)
      return writing.preview.state
    }

    const monitorOf = (entry: Entry, channelId: ChannelId): MonitorHandle =>
      (entry.monitor ??= makeMonitorSync({ name: flatHex([channelId], "", "monitor "), secp: config.secp }))

    /**
     * After a write: the updates to the channel's monitor (`preview`: as already applied for the
     * persister, then kept), and `Completed` ones recorded as durable. The status, or the effect to
     * run first (a refusal to log, waiters to wake) that gives it.
     */
    const written = (
      entry: Entry,
      channelId: ChannelId,
      updates: ReadonlyArray<MonitorUpdate>,
      status: PersistStatus,
      preview?: MonitorPreview
    ): PersistStatus | Effect.Effect<PersistStatus> => {
      const monitor = monitorOf(entry, channelId)
      // Applied at once, in persist order; a refusal is logged (the stored log is the truth).
      const refused = monitor.commit(preview ?? monitor.preview(updates))
      const refusals = refused?.map((r) => `${monitor.name}: update ${r.update.updateId} (${r.update._tag}) refused: ${r.error._tag}`)
      let last = -1n
      if (status === "Completed") for (const u of updates) if (u.updateId > last) last = u.updateId
      const durable = last >= 0n ? markDurableNow(entry, last) : undefined
      if (refusals === undefined) return durable === undefined ? status : Effect.as(durable, status)
      return Effect.as(Effect.andThen(Effect.forEach(refusals, (r) => Effect.logError(r), { discard: true }), durable ?? Effect.void), status)
    }

    const portsFor = (entry: Entry): ChannelPorts<ChannelState> => ({
      persist: (update, state) => persistFor(entry, [update], state),
      ...(config.groupPersists === false ? {} : { persistMany: (updates: ReadonlyArray<MonitorUpdate>, state: ChannelState) => persistFor(entry, updates, state) }),
      ...(writesFree === undefined ? {} : { writesFree }),
      ...(config.groupPersists === false || writeNow === undefined || !channelStateNow
        ? {}
        : { persistManyNow: (updates: ReadonlyArray<MonitorUpdate>, state: ChannelState) => persistNowFor(entry, updates, state) }),
      // At once when the peer layer can (no effect, no failure to catch); else data-first (no `pipe`). One per message sent.
      send: (session, message) => {
        if (sendNow === undefined) return Effect.catch(peers.send(session, message), (e) => Effect.logDebug(`channel ${toHex(entry.channelId)}: ${message._tag} not sent (${e._tag})`))
        const e = sendNow(session, message)
        return e && Effect.logDebug(`channel ${toHex(entry.channelId)}: ${message._tag} not sent (${e._tag})`)
      },
      emit: (event) => publish(entry, event),
      chain: (request) => publish(entry, request),
      rekey: (from, to) =>
        Effect.sync(() => {
          if (routes.get(keyOf(entry.nodeId, from)) === entry) deleteRoute(keyOf(entry.nodeId, from))
          if (byId.get(toHex(from)) === entry) deleteById(toHex(from))
          entry.channelId = to
          // Funded from now on (`funding_created`): no longer counted against the peer's limit.
          entry.inboundUnfunded = undefined
          register(entry)
        })
    })

    const startActor = (
      entry: Entry,
      state: ChannelState,
      extra: { readonly session?: SessionId; readonly initialOutputs?: ReadonlyArray<ChannelOutput>; readonly lastUpdateId?: bigint },
      actorScope: Scope.Scope = scope
    ) =>
      makeChannel<ChannelState>({
        name: flatHex([entry.channelId], "", "channel "),
        core: coreFor(entry),
        ports: portsFor(entry),
        signer,
        state,
        capacity: config.channelCapacity ?? 1024,
        ...extra
      }).pipe(
        // This context in place of the caller's (not merged over it, as `provideContext` would).
        Effect.updateContext<never, Scope.Scope>(() => (actorScope === scope ? channelsContext : Context.add(channelsContext, Scope.Scope, actorScope)))
      )

    // ---- restore ---------------------------------------------------------------------------------------

    for (const stored of yield* persister.load) {
      const decoded = decodeChannelRecord(stored.channelState)
      if (Result.isFailure(decoded)) {
        return yield* Effect.fail(new ChannelStoreUnavailable({ reason: `channel ${toHex(stored.channelId)}: record does not decode` }))
      }
      const record = decoded.success
      const keyId = keyIdOrDie(record.keyId)
      if (record.signer !== undefined) {
        const restored = yield* Effect.result(signer.restoreChannel(keyId, record.signer))
        if (Result.isFailure(restored)) {
          // A signer already ahead of the store (`StaleSignerState`) keeps its own state.
          yield* Effect.logWarning(`channel ${toHex(stored.channelId)}: signer state not restored (${restored.failure._tag})`)
        }
      }
      const nodeId = record.nodeId
      const entry: Entry = { nodeId, keyId, channelId: asChannelId(channelIdOf(record.channel)), handle: undefined, monitor: undefined, durableUpTo: -1n, durableWaiters: undefined }
      let monitorState: MonitorState | undefined
      if (stored.monitor !== undefined || stored.updates.length > 0) {
        // A compacted log: its snapshot, then the updates after it.
        const replayed = stored.monitor === undefined ? replay(config.secp, stored.updates) : replayFrom(config.secp, stored.monitor, stored.updates)
        if (Result.isFailure(replayed)) {
          return yield* Effect.fail(new ChannelStoreUnavailable({ reason: `channel ${toHex(stored.channelId)}: update log does not replay (${replayed.failure._tag})` }))
        }
        monitorState = replayed.success
      }
      // Both states in one compact copy (one buffer for their bytes, equal ones shared): what an idle channel keeps.
      const compact = compactByteArrays({ channel: record.channel, monitor: monitorState })
      if (compact.monitor !== undefined) {
        entry.monitor = makeMonitorSync({ name: flatHex([stored.channelId], "", "monitor "), secp: config.secp, state: compact.monitor })
      }
      entry.handle = yield* startActor(entry, compact.channel, { lastUpdateId: stored.latestUpdateId })
      register(entry)
      // The connection the stored state knew died with the previous run: the channel learns it
      // (BOLT 2: the peer's unsigned updates are forgotten) and reestablishes when the peer is back.
      yield* Effect.ignore(entry.handle.tell({ _tag: "PeerDisconnected" }))
    }

    // ---- the peer layer's session stream -----------------------------------------------------------------

    const channelsOf = (nodeId: NodeId): ReadonlyArray<Entry> => {
      const prefix = `${toHex(nodeId)}/`
      const seen = new Set<Entry>()
      for (const [key, entry] of routes) if (key.startsWith(prefix)) seen.add(entry)
      return [...seen]
    }

    const tellEntry = (entry: Entry, input: ChannelInput, session?: SessionId) =>
      entry.handle === undefined ? Effect.void : Effect.ignore(entry.handle.tell(input, session))

    const sendOn = (session: SessionId, message: LightningMessage) =>
      peers.send(session, message).pipe(Effect.catch((e) => Effect.logDebug(`${message._tag} not sent (${e._tag})`)))

    const freshAlias = Effect.gen(function*() {
      const b = yield* entropy.randomBytes(8)
      const block = ((b[0] ?? 0) << 16) | ((b[1] ?? 0) << 8) | (b[2] ?? 0)
      const tx = ((b[3] ?? 0) << 16) | ((b[4] ?? 0) << 8) | (b[5] ?? 0)
      const out = ((b[6] ?? 0) << 8) | (b[7] ?? 0)
      const alias: ShortChannelId = shortChannelIdFromParts(block, tx, out)
      return alias
    })

    /** An `open_channel` from the peer: a new channel (fundee) or an `error` for its temporary id. */
    const incomingOpen = (session: SessionId, nodeId: NodeId, open: OpenChannel) =>
      Effect.gen(function*() {
        const temporaryChannelId = open.temporaryChannelId
        if (routes.has(keyOf(nodeId, temporaryChannelId))) {
          return yield* sendOn(session, makeError("temporary channel id already in use", temporaryChannelId))
        }
        if (inboundUnfundedOf(nodeId) >= MAX_INBOUND_UNFUNDED_PER_PEER) {
          return yield* sendOn(session, makeError(`too many unfunded channels (at most ${MAX_INBOUND_UNFUNDED_PER_PEER} per peer)`, temporaryChannelId))
        }
        const keyId = keyIdOrDie(yield* entropy.randomBytes(32))
        const basepoints = yield* signer.channelPublicKeys(keyId)
        const firstPoint = yield* Effect.result(signer.perCommitmentPoint(keyId, 0n))
        if (Result.isFailure(firstPoint)) return yield* sendOn(session, makeError("internal error", temporaryChannelId))
        const alias = yield* freshAlias
        const accepted = acceptChannel(contextFor(nodeId), open, { keyId, basepoints, firstPerCommitmentPoint: firstPoint.success, localAlias: alias })
        if (Result.isFailure(accepted)) {
          yield* Effect.logInfo(`open_channel from ${toHex(nodeId)} refused: ${accepted.failure._tag}`)
          const detail = "detail" in accepted.failure ? `: ${accepted.failure.detail}` : ""
          return yield* sendOn(session, makeError(`open_channel refused (${accepted.failure._tag}${detail})`, temporaryChannelId))
        }
        const actorScope = yield* Scope.fork(scope)
        const entry: Entry = { nodeId, keyId, channelId: temporaryChannelId, handle: undefined, monitor: undefined, durableUpTo: -1n, durableWaiters: undefined, inboundUnfunded: { scope: actorScope } }
        register(entry)
        entry.handle = yield* startActor(entry, accepted.success.state, { session, initialOutputs: accepted.success.outputs }, actorScope)
      })

    const onConnectionEvent = (event: Exclude<PeerSessionEvent, { readonly _tag: "Message" }>): Effect.Effect<void> =>
      Effect.gen(function*() {
        switch (event._tag) {
          case "Connected": {
            const nodeId = event.peer.nodeId
            const features = featureNames(event.peer.negotiatedFeatures)
            sessions.up(nodeId, { session: event.session, features, remoteFeatures: event.peer.remoteFeatures })
            lastFeatures.set(toHex(nodeId), features)
            featuresChanges += 1
            for (const waiter of connectWaiters.get(toHex(nodeId)) ?? []) yield* Deferred.succeed(waiter, undefined)
            connectWaiters.delete(toHex(nodeId))
            for (const entry of channelsOf(nodeId)) yield* tellEntry(entry, { _tag: "PeerConnected", remoteFeatures: event.peer.remoteFeatures }, event.session)
            return
          }
          case "Disconnected": {
            sessions.down(event.nodeId, event.session)
            for (const entry of channelsOf(event.nodeId)) yield* tellEntry(entry, { _tag: "PeerDisconnected" })
            return
          }
        }
      })

    /**
     * A peer message: routed by (peer, channel id) with no generator (one per message on the wire).
     * Returns undefined when it is handled already (queued on a running channel, or dropped), else
     * the effect that completes it (to run before the next event is looked at). While writes are
     * free, the last event of a pull starts an idle channel's fiber at once (`Actor.postSync`, no
     * scheduler task): the channel writes at once either way. An earlier event's start is
     * scheduled, so the channel finds the pull's later messages in its mailbox (they batch, as
     * their `commitment_signed`); so is every start while writes cost, so that what other fibers
     * queue meanwhile joins the channel's next write (test/actors/ChannelManager.write-grouping).
     */
    const routeMessage = (event: Extract<PeerSessionEvent, { readonly _tag: "Message" }>, last: boolean): Effect.Effect<void> | undefined => {
      const { message, nodeId, session } = event
      const peerHex = sessions.livePeerHex(nodeId, session)
      if (peerHex === undefined) return undefined // a message of a connection already replaced
      if (message._tag === "Error" || message._tag === "Warning") return onErrorOrWarning(nodeId, message)
      if (!isChannelMessage(message)) return undefined
      if (message._tag === "OpenChannel") return incomingOpen(session, nodeId, message)
      const channelId = messageChannelId(message)
      const entry = channelId === undefined ? undefined : routeTable.route(peerHex, channelId)
      if (entry === undefined) {
        const unknown = Effect.logDebug(`${message._tag} for an unknown channel from ${peerHex}`)
        // BOLT 2: a reestablish for a channel we do not know gets an error (the peer may close it).
        return message._tag === "ChannelReestablish" ? Effect.andThen(unknown, sendOn(session, makeError("unknown channel", message.channelId))) : unknown
      }
      const handle = entry.handle
      if (handle === undefined) return undefined
      if (!last || writesFree === undefined || !writesFree()) return handle.offer({ _tag: "PeerMessage", message })
      const envelope: ChannelEnvelope<ChannelState> = { _tag: "Input", input: { _tag: "PeerMessage", message } }
      return handle.actor.postSync(envelope) ? undefined : handle.actor.post(envelope)
    }

    /**
     * The session events of one pull, in order, in a plain loop: an effect is built only for an
     * event that needs one (a channel's fiber to start, a connection event, an open...), and the
     * loop goes on after it has run.
     */
    const onSessionEvents = (events: ReadonlyArray<PeerSessionEvent>, from: number): Effect.Effect<void> => {
      for (let i = from; i < events.length; i++) {
        const event = events[i]
        if (event === undefined) continue
        const effect = event._tag === "Message" ? routeMessage(event, i + 1 === events.length) : onConnectionEvent(event)
        if (effect !== undefined) return i + 1 < events.length ? Effect.flatMap(effect, () => onSessionEvents(events, i + 1)) : effect
      }
      return Effect.void
    }

    const onErrorOrWarning = (nodeId: NodeId, message: Extract<LightningMessage, { readonly _tag: "Error" | "Warning" }>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const text = describeData(message.data)
        const input: ChannelInput = message._tag === "Error" ? { _tag: "PeerError", message: text } : { _tag: "PeerWarning", message: text }
        if (isAllChannels(message.channelId)) {
          if (message._tag === "Error") for (const entry of channelsOf(nodeId)) yield* tellEntry(entry, input)
          else yield* Effect.logInfo(`warning from ${toHex(nodeId)}: ${text}`)
          return
        }
        const entry = routes.get(keyOf(nodeId, message.channelId))
        if (entry !== undefined) yield* tellEntry(entry, input)
      })

    /**
     * A peer message handled at once, with no effect, when `routeMessage` would need none but the
     * channel's start (writes are free: `Actor.postSync`, here from no fiber): true when done
     * (handled or dropped), false when it needs the fiber (`routeMessage`):
     * an error or warning, an open, an unknown channel, a full mailbox, writes that cost.
     */
    const routeMessageNow = (event: Extract<PeerSessionEvent, { readonly _tag: "Message" }>): boolean => {
      const { message, nodeId, session } = event
      const peerHex = sessions.livePeerHex(nodeId, session)
      if (peerHex === undefined) return true
      if (message._tag === "Error" || message._tag === "Warning") return false
      if (!isChannelMessage(message)) return true
      if (message._tag === "OpenChannel") return false
      const channelId = messageChannelId(message)
      const entry = channelId === undefined ? undefined : routeTable.route(peerHex, channelId)
      if (entry === undefined) return false
      const handle = entry.handle
      if (handle === undefined) return true
      if (writesFree === undefined || !writesFree()) return false
      return handle.actor.postSync({ _tag: "Input", input: { _tag: "PeerMessage", message } })
    }

    const sessionLoop = <E>(events: Stream.Stream<PeerSessionEvent, E>, onBatch: (batch: ReadonlyArray<PeerSessionEvent>) => Effect.Effect<void>) =>
      events.pipe(
        Stream.runForEachArray(onBatch),
        Effect.catchCause((cause) => Effect.logError("channel manager: session events ended", cause)),
        Effect.forkIn(scope)
      )
    const attachSink = sessionEventSinkOf(peers)
    if (attachSink === undefined) {
      yield* sessionLoop(peers.sessionEvents, (batch) => onSessionEvents(batch, 0))
    } else {
      // Handed over as they come (`declareSessionEventSink`): a message for a channel is handled
      // at once when it needs no effect (no fiber woken per message); any other event, and every
      // event behind one still waiting, goes through this manager's own queue and session loop, in order.
      // The queue is a plain array and the loop waits on a callback, woken as a queue wakes its
      // taker (one task on this fiber's dispatcher, when the first event arrives for a loop that
      // waits: the same tasks in the same places): no `Queue` and stream per manager (~1 KiB of
      // live heap per node in a simulation).
      const waiting: Array<PeerSessionEvent> = []
      /** Events handed to `waiting` and not handled yet: while any, the next ones queue behind them. */
      let behind = 0
      let wakeLoop: ((resumed: Effect.Effect<void>) => void) | undefined
      let wakeScheduled = false
      const dispatcher = yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher))
      const wake = (): void => {
        wakeScheduled = false
        const resume = wakeLoop
        wakeLoop = undefined
        resume?.(Effect.void)
      }
      const nextBatch: Effect.Effect<ReadonlyArray<PeerSessionEvent>> = Effect.suspend(() =>
        waiting.length > 0
          ? Effect.succeed(waiting.splice(0))
          : Effect.andThen(
            Effect.callback<void>((resume) => {
              wakeLoop = resume
            }),
            nextBatch
          )
      )
      yield* Effect.flatMap(nextBatch, (batch) =>
        Effect.andThen(
          onSessionEvents(batch, 0),
          Effect.sync(() => {
            behind -= batch.length
          })
        )).pipe(
          Effect.forever({ disableYield: true }),
          Effect.catchCause((cause) => Effect.logError("channel manager: session events ended", cause)),
          Effect.forkIn(scope)
        )
      const sink: SessionEventSink = (event) => {
        if (behind === 0 && event._tag === "Message" && routeMessageNow(event)) return
        behind += 1
        waiting.push(event)
        if (wakeLoop !== undefined && !wakeScheduled) {
          wakeScheduled = true
          dispatcher.scheduleTask(wake, 0)
        }
      }
      yield* Scope.provide(attachSink(sink), scope)
    }
    yield* Stream.fromSubscription(completions).pipe(
      Stream.runForEach((c) => {
        const entry = byId.get(toHex(c.channelId))
        if (entry === undefined) return Effect.void
        return Effect.andThen(
          Effect.suspend(() => markDurableNow(entry, c.updateId) ?? Effect.void),
          tellEntry(entry, { _tag: "PersistCompleted", updateId: c.updateId })
        )
      }),
      Effect.forkIn(scope)
    )

    // ---- the API -------------------------------------------------------------------------------------------

    /** The hex of a caller's channel id (the last one kept: a caller asks about one channel many times in a row). */
    const askedHex = lastKeyOf(toHex)

    /** `f` with the channel's entry and handle (no intermediate effect: commands and snapshots are on every payment's path). */
    const withChannel = <A, E>(channelId: ChannelId, f: (entry: Entry, handle: ChannelHandle<ChannelState>) => Effect.Effect<A, E>): Effect.Effect<A, E | ChannelNotFound> =>
      Effect.suspend((): Effect.Effect<A, E | ChannelNotFound> => {
        const entry = byId.get(askedHex(channelId))
        return entry?.handle === undefined ? Effect.fail(new ChannelNotFound({ channelId })) : f(entry, entry.handle)
      })

    const command = (channelId: ChannelId, input: ChannelInput): Effect.Effect<StepReport, ChannelCommandError> =>
      withChannel(channelId, (_entry, handle) => handle.command(input))

    /**
     * `input` (a fulfill or a preimage claim), completing once the writes it made are durable: every
     * update up to the last one produced when it was handled (the command's answer says which, and
     * what was durable then; what became durable since, this manager has recorded).
     */
    const commandDurably = (channelId: ChannelId, input: ChannelInput): Effect.Effect<void, ChannelCommandError> =>
      withChannel(channelId, (entry, handle) =>
        Effect.flatMap(handle.command(input), (report) => {
          const known = entry.durableUpTo
          if ((report.durableThrough > known ? report.durableThrough : known) >= report.lastUpdateId) return Effect.void
          const done = Deferred.makeUnsafe<void>()
          entry.durableWaiters = [...(entry.durableWaiters ?? []), { upTo: report.lastUpdateId, done }]
          return Deferred.await(done)
        }))

    const infoOf = (entry: Entry, s: ChannelSnapshot<ChannelState>): ChannelInfo => ({
      nodeId: entry.nodeId,
      channelId: s.channelId,
      phase: s.state._tag,
      state: s.state,
      paused: s.durableThrough < s.lastPersisted || s.stateWritePending || s.held > 0
    })
    /** A channel's info: at once from an idle channel (`snapshotNow`), else through its mailbox. */
    const info = (entry: Entry, handle: ChannelHandle<ChannelState>): Effect.Effect<ChannelInfo, ActorStopped | ActorCrashed> => {
      const now = handle.snapshotNow()
      return now !== undefined ? Effect.succeed(infoOf(entry, now)) : Effect.map(handle.snapshot, (s) => infoOf(entry, s))
    }

    let requestCounter = 0

    /**
     * The infos of `entries` from `from` on, in order, in a plain loop: an idle channel's at once, a
     * busy one's through its mailbox (the loop goes on once it answered; a stopped one is left out).
     * No generator and no effect per idle channel: the payments ask for every channel's info per route.
     */
    const infosFrom = (entries: ReadonlyArray<Entry>, from: number, out: Array<ChannelInfo>): Effect.Effect<ReadonlyArray<ChannelInfo>> => {
      for (let i = from; i < entries.length; i++) {
        const entry = entries[i]
        const handle = entry?.handle
        if (entry === undefined || handle === undefined) continue
        const now = handle.snapshotNow()
        if (now !== undefined) {
          out.push(infoOf(entry, now))
          continue
        }
        return Effect.flatMap(Effect.result(info(entry, handle)), (r) => {
          if (Result.isSuccess(r)) out.push(r.success)
          return infosFrom(entries, i + 1, out)
        })
      }
      return Effect.succeed(out)
    }
    const listChannels: Effect.Effect<ReadonlyArray<ChannelInfo>> = Effect.suspend(() => infosFrom(channelList(), 0, []))

    /**
     * Which channel answered to each short channel id (real or alias) when last asked: a hint for
     * `channelByScid`, checked against that channel's state on each use, made again from every
     * channel's answer on a miss (so at most three ids per channel).
     */
    const byScid = new Map<ShortChannelId, Entry>()

    /**
     * What the channels' current states say a consumer may have missed (a previous run, or a
     * consumer that stopped, may have published it without it being handled): pending HTLC events
     * and the funding watches. At least once: consumers dedupe by channel id and HTLC id.
     */
    const pendingNow = Effect.gen(function*() {
      const out: Array<NodeChannelEvent> = []
      for (const entry of new Set(byId.values())) {
        if (entry.handle === undefined) continue
        const snapshot = yield* Effect.result(entry.handle.snapshot)
        if (Result.isFailure(snapshot)) continue
        const state = snapshot.success.state
        const monitor = entry.monitor === undefined ? undefined : yield* Effect.result(entry.monitor.state)
        const monitorState = monitor !== undefined && Result.isSuccess(monitor) ? monitor.success : undefined
        const knownPreimage = (hash: Uint8Array) => (monitorState === undefined ? undefined : preimageOf(monitorState, hash))
        for (const event of [...pendingEvents(state, knownPreimage), ...restoredWatches(state)]) out.push({ nodeId: entry.nodeId, channelId: entry.channelId, event })
      }
      return out
    })

    const listen = (f: (e: NodeChannelEvent) => void) =>
      Effect.andThen(Effect.acquireRelease(Effect.sync(() => listeners.add(f)), () => Effect.sync(() => listeners.delete(f))), pendingNow)
    /** Live events from now on, after what is pending now (so a restarted consumer misses nothing). */
    const subscribe = Effect.gen(function*() {
      const live = yield* PubSub.subscribe(events)
      const pending = yield* pendingNow
      return Stream.concat(Stream.fromIterable(pending), Stream.fromSubscription(live))
    })

    /** The peer's session as this manager knows it; waits for a `Connected` the registry has but we have not handled yet. */
    const liveSession = (nodeId: NodeId): Effect.Effect<PeerSession, PeerNotConnected> =>
      Effect.gen(function*() {
        const known = sessions.get(toHex(nodeId))
        if (known !== undefined) return known
        const info = yield* peers.peer(nodeId)
        const waiter = yield* Deferred.make<void>()
        const key = toHex(nodeId)
        connectWaiters.set(key, [...(connectWaiters.get(key) ?? []), waiter])
        yield* Deferred.await(waiter)
        const now = sessions.get(key)
        if (now === undefined || now.session !== info.session) return yield* Effect.fail(new PeerNotConnected({ nodeId }))
        return now
      })

    /** `channelByScid` through the hint's mailbox when it is busy, else every channel asked (the index made again from their answers). */
    const channelByScidSlow = (scid: ShortChannelId): Effect.Effect<ChannelInfo | undefined> =>
      Effect.gen(function*() {
        const hinted = byScid.get(scid)
        if (hinted?.handle !== undefined) {
          const r = yield* Effect.result(info(hinted, hinted.handle))
          if (Result.isSuccess(r) && shortChannelIdsOf(r.success.state).includes(scid)) return r.success
        }
        // Unknown here or moved: every channel is asked, and the index is made again from their answers.
        byScid.clear()
        let found: ChannelInfo | undefined
        for (const c of yield* listChannels) {
          const entry = byId.get(toHex(c.channelId))
          const scids = shortChannelIdsOf(c.state)
          if (entry !== undefined) for (const s of scids) byScid.set(s, entry)
          if (found === undefined && scids.includes(scid)) found = c
        }
        return found
      })

    const shape = ChannelManager.of({
      openChannel: (nodeId, amount, options = {}) =>
        Effect.gen(function*() {
          const live = yield* liveSession(nodeId)
          const temporaryChannelId = asChannelId(yield* entropy.randomBytes(32))
          const keyId = keyIdOrDie(yield* entropy.randomBytes(32))
          const basepoints = yield* signer.channelPublicKeys(keyId)
          const firstPoint = yield* signer.perCommitmentPoint(keyId, 0n).pipe(
            Effect.mapError((e) => new OpenChannelFailed({ reason: `signer: ${e.reason}` }))
          )
          const channelType = options.channelType ?? { name: "static_remote_key", scidAlias: false, zeroConf: false }
          const localAlias = channelType.scidAlias ? yield* freshAlias : undefined
          const opened = openChannelStep(contextFor(nodeId), {
            temporaryChannelId,
            keyId,
            fundingAmount: amount,
            pushAmount: options.pushAmount ?? msat(0n),
            basepoints,
            firstPerCommitmentPoint: firstPoint,
            feeratePerKw: options.feeratePerKw ?? feerateEstimate,
            channelType,
            announce: options.announce ?? false,
            ...(localAlias === undefined ? {} : { localAlias })
          })
          if (Result.isFailure(opened)) {
            const detail = "detail" in opened.failure ? `: ${opened.failure.detail}` : ""
            return yield* Effect.fail(new OpenChannelFailed({ reason: `${opened.failure._tag}${detail}` }))
          }
          const entry: Entry = { nodeId, keyId, channelId: temporaryChannelId, handle: undefined, monitor: undefined, durableUpTo: -1n, durableWaiters: undefined }
          register(entry)
          entry.handle = yield* startActor(entry, opened.success.state, { session: live.session, initialOutputs: opened.success.outputs })
          // The connection may have ended while the channel was being made: it must hear of it.
          if (sessions.get(toHex(nodeId))?.session !== live.session) yield* tellEntry(entry, { _tag: "PeerDisconnected" })
          return temporaryChannelId
        }),
      fundChannel: (temporaryChannelId, tx) =>
        command(temporaryChannelId, { _tag: "FundingTransaction", tx: tx instanceof Uint8Array ? tx : serializeTransaction(tx) }).pipe(Effect.asVoid),
      listChannels,
      channelByScid: (scid) =>
        Effect.suspend(() => {
          // The hinted channel idle and still answering to the id (most calls): its info at once, no generator.
          const hinted = byScid.get(scid)
          const now = hinted?.handle?.snapshotNow()
          if (hinted !== undefined && now !== undefined) {
            const idle = infoOf(hinted, now)
            if (shortChannelIdsOf(idle.state).includes(scid)) return Effect.succeed<ChannelInfo | undefined>(idle)
          }
          return channelByScidSlow(scid)
        }),
      channel: (channelId) => withChannel(channelId, info),
      monitorState: (channelId) =>
        Effect.suspend((): Effect.Effect<MonitorState | undefined, ChannelNotFound | ActorStopped | ActorCrashed> => {
          const entry = byId.get(toHex(channelId))
          if (entry === undefined) return Effect.fail(new ChannelNotFound({ channelId }))
          return entry.monitor === undefined ? Effect.succeed(undefined) : entry.monitor.state
        }),
      closeChannel: (channelId, options = {}) =>
        command(channelId, {
          _tag: "Close",
          scriptPubKey: options.scriptPubKey ?? config.shutdownScript,
          feeratePerKw: options.feeratePerKw ?? feerateEstimate
        }).pipe(Effect.asVoid),
      forceClose: (channelId, reason = "force close requested") => command(channelId, { _tag: "ForceClose", reason }).pipe(Effect.asVoid),
      // No generator: one per HTLC added.
      addHtlc: (channelId, htlc) =>
        Effect.suspend(() => {
          const requestId = htlc.requestId ?? `htlc-${++requestCounter}`
          const input: ChannelInput = {
            _tag: "AddHtlc",
            requestId,
            amount: htlc.amount,
            paymentHash: htlc.paymentHash,
            cltvExpiry: htlc.cltvExpiry,
            onion: htlc.onion,
            ...(htlc.pathKey === undefined ? {} : { pathKey: htlc.pathKey })
          }
          return Effect.flatMap(command(channelId, input), (report) => {
            for (const e of report.events) {
              if (e._tag === "HtlcAdded" && e.requestId === requestId) return Effect.succeed(e.htlcId)
              if (e._tag === "HtlcRejected" && e.requestId === requestId) {
                return Effect.fail(new AddHtlcRejected({ channelId, requestId, reason: e.reason }))
              }
            }
            return Effect.fail(new AddHtlcRejected({ channelId, requestId, reason: "the channel gave no HTLC id" }))
          })
        }),
      fulfillHtlc: (channelId, htlcId, preimage, attributionData) =>
        command(channelId, { _tag: "FulfillHtlc", htlcId, preimage, ...(attributionData === undefined ? {} : { attributionData }) }).pipe(Effect.asVoid),
      fulfillHtlcDurably: (channelId, htlcId, preimage, attributionData) =>
        commandDurably(channelId, { _tag: "FulfillHtlc", htlcId, preimage, ...(attributionData === undefined ? {} : { attributionData }) }),
      claimPreimage: (channelId, htlcId, preimage) => commandDurably(channelId, { _tag: "ClaimPreimage", htlcId, preimage }),
      failHtlc: (channelId, htlcId, reason, attributionData) =>
        command(channelId, { _tag: "FailHtlc", htlcId, reason, ...(attributionData === undefined ? {} : { attributionData }) }).pipe(Effect.asVoid),
      failMalformedHtlc: (channelId, htlcId, sha256OfOnion, failureCode) =>
        command(channelId, { _tag: "FailMalformedHtlc", htlcId, sha256OfOnion, failureCode }).pipe(Effect.asVoid),
      updateFee: (channelId, feeratePerKw) => command(channelId, { _tag: "UpdateFee", feeratePerKw }).pipe(Effect.asVoid),
      chainFact: (channelId, fact) => withChannel(channelId, (_entry, handle) => handle.tell(fact)),
      events: Stream.unwrap(subscribe),
      subscribe
    })
    listeners_.set(shape, listen)
    return shape
  })

/** The manager as a layer (same as `ChannelManager.layer`). */
export const layer = (
  config: ChannelManagerConfig
): Layer.Layer<ChannelManager, ChannelStoreUnavailable | PersistUnavailable, PeerManager | ChannelSigner | MonitorPersister | Entropy> => Layer.effect(ChannelManager, make(config))
