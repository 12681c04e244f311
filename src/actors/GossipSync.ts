/**
 * GossipSync: the node's BOLT 7 gossip actor (issue 10). It receives every peer's gossip through
 * the peer layer's `GossipTap` (not the channel manager's session stream), checks and applies it
 * to the network graph, syncs the graph with a few peers (`gossip_queries`), answers the same
 * queries from others, and relays new gossip to the peers that asked for it (staggered).
 *
 * Guarantees a caller can rely on:
 * - Bounded memory per peer and in total, whatever peers send: each peer has a token bucket
 *   (`ratePerSecond`, `burst`) and at most `maxPendingPerPeer` announcements waiting for their
 *   signature check, the check queue holds at most `inboxCapacity` items; when a bound is reached
 *   the peer's reader WAITS (its socket is not read: backpressure, nothing is dropped silently).
 *   Updates and node announcements that arrive before their channel wait in a capped orphan
 *   pool (`maxOrphans`, `maxOrphansPerPeer`); the relay buffer is capped (`maxRelay`).
 * - A peer sending invalid gossip (bad signature, malformed, wrong keys: the `"warn"` errors of
 *   `protocol/gossip/errors.ts`) gets a strike; at `maxStrikes` it is sent a `warning` and
 *   disconnected, and nothing it sent that is still pending (check queue, orphans, relay buffer)
 *   is kept. A flood of stale or duplicate gossip fills a leaky score (`maxStaleScore`, draining
 *   at `staleDrainPerSecond`) and ends the same way.
 * - Relay never goes back to the sender, only to peers that sent `gossip_timestamp_filter`
 *   (BOLT 7: "MUST not send gossip it did not generate itself, until it receives
 *   gossip_timestamp_filter"), filtered by timestamp, every `flushInterval` (Clock-driven,
 *   BOLT 7 "SHOULD flush outgoing gossip messages once every 60 seconds"). Our own gossip
 *   (`broadcastOwn`) goes out at once to every peer, filters or not.
 * - Replies to queries are sent by a per-peer sender fiber through `GossipLink.sendWait`: a peer
 *   that reads slowly slows only its own replies, never this actor or other peers.
 *
 * Sync (BOLT 7 "Query Messages"): with the first `syncPeers` peers that offer `gossip_queries` we
 * send `query_channel_range` over every block (with timestamps when they offer
 * `gossip_queries_ex`), then `query_short_channel_ids` for the channels we do not know or whose
 * updates they have newer, `queryBatch` ids at a time, one query in flight (BOLT 7: MUST NOT send
 * another before `reply_short_channel_ids_end`). Every peer gets `gossip_timestamp_filter` from
 * now on (peers that do not offer `gossip_queries`: the "no gossip" filter, as BOLT 7 says).
 *
 * Persistence: the graph is saved (`NetworkGraph.save`) every `saveInterval` when it changed, and
 * once when the actor's scope closes.
 *
 * Chain (only when a `ChainSource` is in the context; without one, announcements are taken as
 * signed): a peer's new `channel_announcement` is checked first without the chain (every rule,
 * its four signatures included: a peer cannot make us look up what it did not sign), then waits
 * for its funding output (block at the short channel id's height, transaction at its index,
 * output at its vout) to be the unspent P2WSH of its bitcoin keys (`checkFundingOutput`); its
 * value is the channel's capacity. Lookups run `fundingLookups` at a time with
 * `maxFundingQueue` waiting (full: dropped, like stale gossip); a missing or wrong output is a
 * strike, a spent one is ignored, a source that cannot answer costs the peer nothing.
 *
 * Every channel of the graph has its funding output watched (`follow`): a channel is removed
 * `spentAfterConfirmations` blocks (default 12, BOLT 7) after its output's spend confirmed.
 * Channels that did not come through a lookup (loaded from the store at start, our own,
 * accepted without a lookup) are resolved in the background, one block fetch per height: an
 * unspent output of the right script is watched from then on; one already spent or missing
 * counts as spent in the next block (removed `spentAfterConfirmations` blocks from now); an
 * output of another script is removed at once (BOLT 7: not the channel it claims). A source that
 * cannot answer is asked again at the next block. An output watched after a lookup is asked for
 * once more, so a spend in a block the follower passed meanwhile is not missed. With `store` (`layerStored`) the watched
 * outpoints are saved with the graph and a restart resolves only the channels they lack.
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, Layer, Option, Queue, Result, Scope, Semaphore, Stream } from "effect"
import type * as Cause from "effect/Cause"
import { equalBytes, fromHex, toHex } from "../protocol/bytes.ts"
import { type ChainHash, ShortChannelId, shortChannelIdParts } from "../protocol/codec/fields.ts"
import { checkFundingOutput, type FundingOutput } from "../protocol/gossip/funding.ts"
import { verifyChannelAnnouncement } from "../protocol/gossip/validate.ts"
import { type BlockRef, type ChainEvent, ChainSource, type ChainSourceShape } from "../services/ChainSource.ts"
import { refOf } from "../protocol/chain/block.ts"
import { type OutPoint, txidFromBytes } from "../protocol/tx/bitcoin/transaction.ts"
import { Store, type StoreShape } from "../services/Store.ts"
import type { GossipError } from "../protocol/gossip/errors.ts"
import {
  decodeQueryFlags,
  decodeShortChannelIds,
  decodeTimestamps,
  encodeQueryFlags,
  encodeShortChannelIds,
  QUERY_FLAG_CHANNEL_ANNOUNCEMENT,
  QUERY_FLAG_CHANNEL_UPDATE_1,
  QUERY_FLAG_CHANNEL_UPDATE_2,
  QUERY_FLAG_NODE_ANNOUNCEMENT_1,
  QUERY_FLAG_NODE_ANNOUNCEMENT_2
} from "../protocol/gossip/encoding.ts"
import {
  ChannelAnnouncement,
  ChannelUpdate,
  gossipMessages,
  GossipTimestampFilter,
  type GossipMessage,
  NodeAnnouncement,
  QUERY_OPTION_WANT_TIMESTAMPS,
  QueryChannelRange,
  QueryShortChannelIds,
  ReplyShortChannelIdsEnd,
  type AnnouncementSignatures
} from "../protocol/messages/gossip.ts"
import { makeRegistry } from "../protocol/codec/message.ts"
import { makeWarning } from "../protocol/messages/error.ts"
import { Bolt1 } from "../protocol/messages/index.ts"
import { featureInfo, featuresFromBytes, featuresToBytes, offers, ourInitFeatures } from "../protocol/features.ts"
import type { NodeId } from "../protocol/units.ts"
import { Crypto } from "../services/Crypto.ts"
import { channelUpdateDigest } from "../protocol/gossip/digest.ts"
import type { RouteHintHop } from "../protocol/invoice/index.ts"
import { NetworkGraph, type NetworkGraphShape } from "../services/NetworkGraph.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import type { RangeEntry } from "../protocol/gossip/views.ts"
import type { GossipLink, GossipTap } from "./GossipTap.ts"
import { blockOf, type ChannelSummary, passesFilter, replyChannelRange, replyCompletes, type TimestampFilter, wantedFlags } from "./GossipQueries.ts"
import { DisconnectReason, type PeerInfo, type SessionId } from "./PeerEvent.ts"
import type { PeerManagerConfig } from "./PeerManager.ts"

// ---- the graph, as this actor needs it ------------------------------------------------------------

/** A channel's messages as stored (raw, signatures included), for answering queries. */
export interface StoredChannel {
  readonly announcement: Uint8Array
  readonly nodeId1: Uint8Array
  readonly nodeId2: Uint8Array
  readonly update1: Uint8Array | undefined
  readonly update2: Uint8Array | undefined
  /** The latest `node_announcement` of each end, if any. */
  readonly nodeAnnouncement1: Uint8Array | undefined
  readonly nodeAnnouncement2: Uint8Array | undefined
}

/**
 * What GossipSync needs of the network graph (an adapter over the `NetworkGraph` service):
 * `ingest` runs every BOLT 7 receive rule on a raw announcement (signatures included) and
 * applies it when it passes; the reads answer queries.
 */
export interface GossipGraph {
  /** Checks and applies one raw `channel_announcement` / `node_announcement` / `channel_update`. */
  readonly ingest: (
    raw: Uint8Array,
    nowSeconds: number,
    options?: { readonly capacitySat?: bigint; readonly signaturesVerified?: boolean }
  ) => Effect.Effect<Result.Result<{ readonly forward: boolean }, GossipError>>
  /** Every check of `ingest` but the signatures, changing nothing (before a funding output lookup). */
  readonly precheck?: (raw: Uint8Array) => Effect.Effect<Result.Result<void, GossipError>>
  /** The channels whose block is in `[first, first + count)`, ascending by short channel id. */
  readonly channelsInRange: (first: number, count: number) => Effect.Effect<ReadonlyArray<ChannelSummary>>
  readonly summary: (scid: ShortChannelId) => Effect.Effect<ChannelSummary | undefined>
  readonly channel: (scid: ShortChannelId) => Effect.Effect<StoredChannel | undefined>
  /** BOLT 7 pruning: forgets channels without an update for two weeks; the ids removed. */
  readonly prune?: Effect.Effect<ReadonlyArray<ShortChannelId>>
  /** Persists the graph (errors are the adapter's to log); called when it changed, see `saveInterval`. */
  readonly save?: Effect.Effect<void>
  /** Forgets a channel whose funding output was spent. */
  readonly removeChannel?: (scid: ShortChannelId) => Effect.Effect<boolean>
}

/** The `NetworkGraph` service as GossipSync reads it. */
export const graphOf = (g: NetworkGraphShape): GossipGraph => {
  const summaryOf = (e: RangeEntry): ChannelSummary => ({
    scid: e.shortChannelId,
    timestamp1: e.timestamps[0],
    timestamp2: e.timestamps[1],
    checksum1: e.checksums[0],
    checksum2: e.checksums[1]
  })
  return {
    ingest: (raw, _now, options) => Effect.result(g.apply(raw, options)),
    precheck: (raw) => Effect.result(g.precheck(raw)),
    channelsInRange: (first, count) => g.channelRange(first, count).pipe(Effect.map((es) => es.map(summaryOf))),
    summary: (scid) =>
      g.channelRange(blockOf(scid), 1).pipe(Effect.map((es) => {
        const e = es.find((x) => x.shortChannelId === scid)
        return e === undefined ? undefined : summaryOf(e)
      })),
    channel: (scid) =>
      Effect.gen(function*() {
        const m = yield* g.channelMessages(scid)
        const v = yield* g.channel(scid)
        if (m === undefined || v === undefined) return undefined
        return {
          announcement: m.announcement,
          nodeId1: v.nodeId1,
          nodeId2: v.nodeId2,
          update1: m.updates[0],
          update2: m.updates[1],
          nodeAnnouncement1: m.nodeAnnouncements[0],
          nodeAnnouncement2: m.nodeAnnouncements[1]
        }
      }),
    prune: g.prune,
    removeChannel: g.removeChannel,
    save: g.save.pipe(Effect.catchCause((cause) => Effect.logWarning("gossip: saving the network graph failed", cause)))
  }
}

// ---- configuration and API ------------------------------------------------------------------------

export interface GossipSyncConfig {
  /** Default: the `NetworkGraph` service (`graphOf`). */
  readonly graph?: GossipGraph
  /** Peers we run the full range sync with (default 2). */
  readonly syncPeers?: number
  /** Relay period (default 60 seconds, BOLT 7). */
  readonly flushInterval?: Duration.Input
  /** Short channel ids per `query_short_channel_ids` (default 1000). */
  readonly queryBatch?: number
  /** Ids we keep to ask one peer for (default 200,000: the whole public network fits). */
  readonly maxWanted?: number
  /** Announcements per second a peer may send before its reader waits (default 500), and the burst (default 5000). */
  readonly ratePerSecond?: number
  readonly burst?: number
  /** Announcements of one peer waiting for their checks (default 256); the check queue in total (default 4096). */
  readonly maxPendingPerPeer?: number
  readonly inboxCapacity?: number
  /** Updates / node announcements waiting for their channel (default 4096 in total, 256 per peer). */
  readonly maxOrphans?: number
  readonly maxOrphansPerPeer?: number
  /** New gossip kept for the next relay flush (default 50,000 messages). */
  readonly maxRelay?: number
  /** Invalid messages before a peer is disconnected (default 8). */
  readonly maxStrikes?: number
  /** Stale/duplicate score before a peer is disconnected (default 20,000), and its drain per second (default 100). */
  readonly maxStaleScore?: number
  readonly staleDrainPerSecond?: number
  /** How often stale channels are pruned from the graph (default 1 hour; BOLT 7 "Pruning the Network View"). */
  readonly pruneInterval?: Duration.Input
  /** How often the graph is saved when it changed (default 10 minutes); it is also saved once when the actor's scope closes. */
  readonly saveInterval?: Duration.Input
  /**
   * With a `ChainSource` in the context, a new `channel_announcement`'s funding output is looked up
   * before it is accepted: at most `fundingLookups` at a time (default 4), at most
   * `maxFundingQueue` waiting (default 256; beyond, the announcement is dropped like stale gossip).
   */
  readonly fundingLookups?: number
  readonly maxFundingQueue?: number
  /** Confirmations of a funding output's spend before its channel is removed (default 12, BOLT 7). */
  readonly spentAfterConfirmations?: number
  /** Short channel ids per `reply_channel_range` we send (default: as many as fit one message). */
  readonly maxScidsPerReply?: number
  /** Whether our `gossip_timestamp_filter` asks sync peers for everything since 0 instead of from now (default false). */
  readonly filterFromZero?: boolean
  /**
   * Where the watched funding outpoints are kept (key `gossip/funding/v1`, written with the
   * graph's saves), so that a restart does not look every channel's output up again. Without
   * it, the channels of a loaded graph are resolved again at each start (one block fetch per
   * height).
   */
  readonly store?: StoreShape
}

/** Counters and sizes, for tests, the control API and monitoring. */
export interface GossipStats {
  readonly received: number
  readonly accepted: number
  readonly stale: number
  readonly invalid: number
  readonly orphans: number
  readonly relayPending: number
  readonly inboxSize: number
  readonly peers: number
  readonly bannedPeers: number
  readonly queriesAnswered: number
  /** Peers whose range sync finished (their last `reply_short_channel_ids_end` came). */
  readonly syncedPeers: number
}

export interface GossipSyncShape {
  /** Give this to the `PeerManager` (`PeerManagerConfig.gossip`). */
  readonly tap: GossipTap
  readonly stats: Effect.Effect<GossipStats>
  /** Relays what is pending now (the timer does this every `flushInterval`). */
  readonly flush: Effect.Effect<void>
  /**
   * Our own gossip (raw, signed): applied to the graph and sent at once to every connected peer
   * (BOLT 7: a node SHOULD send the gossip it generates regardless of filters).
   */
  readonly broadcastOwn: (raws: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** Sends raw messages to one peer (e.g. a private channel's `channel_update`); false if it is not connected. */
  readonly sendTo: (nodeId: NodeId, raws: ReadonlyArray<Uint8Array>) => Effect.Effect<boolean>
  /** `announcement_signatures` received, for the announcer (GossipAnnouncer): one subscriber at a time. */
  readonly announcementSignatures: Queue.Dequeue<{ readonly nodeId: NodeId; readonly message: AnnouncementSignatures }>
  /** The connected peers' node ids (sessions that reached this actor). */
  readonly connectedPeers: Effect.Effect<ReadonlyArray<NodeId>>
  /**
   * The private (`dont_forward`) `channel_update`s our peers sent us for their side of our
   * unannounced channels (BOLT 7: sent to the peer only, for its invoices' route hints), the
   * newest per channel and peer, signature checked against the peer; for one peer or all.
   */
  readonly peerChannelUpdates: (nodeId?: NodeId) => Effect.Effect<ReadonlyArray<PeerChannelUpdate>>
  /**
   * BOLT 11 route hints (`r`) to us over our private channels, one single-hop hint per peer
   * update that is not disabled: the peer's policy towards us (what an invoice of ours needs).
   */
  readonly routeHints: Effect.Effect<ReadonlyArray<ReadonlyArray<RouteHintHop>>>
}

/** A peer's private `channel_update` for its direction of a channel with us. */
export interface PeerChannelUpdate {
  readonly nodeId: NodeId
  readonly shortChannelId: ShortChannelId
  readonly timestamp: number
  readonly disabled: boolean
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
  /** As received (type 258 included). */
  readonly raw: Uint8Array
}

export class GossipSync extends Context.Service<GossipSync, GossipSyncShape>()("effect-lightning/GossipSync") {
  static readonly layer = (config: GossipSyncConfig = {}): Layer.Layer<GossipSync, never, NetworkGraph> => Layer.effect(GossipSync, make(config))
  /** `layer` with the watched funding outpoints kept in the `Store` (`GossipSyncConfig.store`): give it the graph's store. */
  static readonly layerStored = (config: GossipSyncConfig = {}): Layer.Layer<GossipSync, never, NetworkGraph | Store> =>
    Layer.effect(
      GossipSync,
      Effect.gen(function*() {
        const store = yield* Store
        return yield* make({ ...config, store })
      })
    )
}

// ---- internals ------------------------------------------------------------------------------------

const Gossip = makeRegistry(gossipMessages)

type Input =
  | { readonly _tag: "Connected"; readonly session: SessionId }
  | { readonly _tag: "Disconnected"; readonly session: SessionId }
  | { readonly _tag: "Announcement"; readonly session: SessionId; readonly type: number; readonly raw: Uint8Array }
  | { readonly _tag: "Query"; readonly session: SessionId; readonly message: GossipMessage }
  | { readonly _tag: "Flush"; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "Prune" }
  | { readonly _tag: "Save" }
  | { readonly _tag: "Funded"; readonly session: SessionId; readonly raw: Uint8Array; readonly announcement: ChannelAnnouncement; readonly lookup: FundingLookup | undefined }
  | { readonly _tag: "Closed"; readonly scids: ReadonlyArray<ShortChannelId> }
  | { readonly _tag: "Resolved"; readonly scid: ShortChannelId; readonly lookup: FundingLookup | undefined; readonly height: number }
  | { readonly _tag: "SpentMeanwhile"; readonly scid: ShortChannelId; readonly height: number }
  | { readonly _tag: "Own"; readonly raws: ReadonlyArray<Uint8Array>; readonly done: Deferred.Deferred<void> }

/** Work for a peer's sender fiber (it may wait on the connection; this actor never does). */
type Job =
  | { readonly _tag: "Send"; readonly raws: ReadonlyArray<Uint8Array> }
  | { readonly _tag: "AnswerScids"; readonly scids: ReadonlyArray<ShortChannelId>; readonly flags: ReadonlyArray<bigint> | undefined }
  | { readonly _tag: "AnswerRange"; readonly query: QueryChannelRange }
  | { readonly _tag: "Backlog"; readonly filter: TimestampFilter }

interface RangeSync {
  readonly first: number
  readonly count: number
  readonly withTimestamps: boolean
}

interface PeerState {
  readonly session: SessionId
  readonly nodeId: NodeId
  readonly key: string
  readonly link: GossipLink
  readonly offersQueries: boolean
  readonly offersQueriesEx: boolean
  /** Announcements of this peer in the check queue. */
  readonly permits: Semaphore.Semaphore
  readonly jobs: Queue.Queue<Job, Cause.Done>
  readonly scope: Scope.Closeable
  strikes: number
  staleScore: number
  staleAt: number
  tokens: number
  tokensAt: number
  banned: boolean
  orphans: number
  filter: TimestampFilter | undefined
  range: RangeSync | undefined
  /** Ids (and query flags) to ask this peer for. */
  wanted: Array<{ readonly scid: ShortChannelId; readonly flags: bigint }>
  queryInFlight: boolean
  answering: boolean
  /** One of the `syncPeers` we run the range sync with. */
  syncSlot: boolean
  synced: boolean
}

type RelayKind = 0 | 1 | 2 // announcement, update, node announcement (the order they go out in)

interface RelayEntry {
  readonly kind: RelayKind
  readonly raw: Uint8Array
  readonly origin: SessionId | undefined
  /** Our own gossip: the sessions that already have it (sent at once, or on connect); sent to the rest whatever their filter. */
  readonly sentTo?: Set<SessionId> | undefined
  readonly timestamp: number
  readonly scid: ShortChannelId | undefined
}

interface Orphan {
  readonly raw: Uint8Array
  readonly session: SessionId
  readonly waitsFor: string
}

const U32_MAX = 0xffffffff

const encodeGossip = (m: GossipMessage): Uint8Array => {
  const r = Gossip.encode(m)
  if (Result.isFailure(r)) throw new Error(`cannot encode own ${m._tag}: ${r.failure.reason}`) // our messages fit: a bug
  return r.success
}


/** The field a stored update or node announcement is keyed by, read without decoding the rest. */
const scidAt = (raw: Uint8Array, offset: number): ShortChannelId => {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  return ShortChannelId((BigInt(v.getUint32(offset)) << 32n) | BigInt(v.getUint32(offset + 4)))
}

/** Store key of the watched funding outpoints (`GossipSyncConfig.store`). */
const FUNDING_KEY = "gossip/funding/v1"
const OUTPOINT_ENTRY = 8 + 32 + 4

/** `outpointOf` (scid -> `txid hex:vout`) packed: per channel its scid, txid and vout (44 bytes). */
const encodeOutpoints = (outpoints: ReadonlyMap<ShortChannelId, string>): Uint8Array => {
  const out = new Uint8Array(outpoints.size * OUTPOINT_ENTRY)
  const view = new DataView(out.buffer)
  let at = 0
  for (const [scid, key] of outpoints) {
    const [txid, vout] = key.split(":")
    view.setBigUint64(at, scid)
    out.set(fromHex(txid ?? ""), at + 8)
    view.setUint32(at + 40, Number(vout))
    at += OUTPOINT_ENTRY
  }
  return out
}

/** What `encodeOutpoints` wrote; undefined when it is damaged (then every channel is resolved again). */
const decodeOutpoints = (bytes: Uint8Array): ReadonlyMap<ShortChannelId, OutPoint> | undefined => {
  if (bytes.length % OUTPOINT_ENTRY !== 0) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Map<ShortChannelId, OutPoint>()
  for (let at = 0; at < bytes.length; at += OUTPOINT_ENTRY) {
    out.set(scidAt(bytes, at), { txid: txidFromBytes(bytes.slice(at + 8, at + 40)), vout: view.getUint32(at + 40) })
  }
  return out
}

/**
 * The output a short channel id points at (block at its height, transaction at its index, output
 * at its vout) and whether it is unspent; undefined when the source cannot tell now (down, or the
 * block not there yet): that is not the peer's fault.
 */
export interface FundingLookup {
  readonly output: FundingOutput
  /** The output, when it exists. */
  readonly outpoint: OutPoint | undefined
}

export const lookupFundingOutput = (chain: ChainSourceShape, scid: ShortChannelId): Effect.Effect<FundingLookup | undefined> =>
  lookupFundingOutputs(chain, shortChannelIdParts(scid).block, [scid]).pipe(Effect.map((found) => found[0]))

/**
 * `lookupFundingOutput` for channels of one block (`scids` all at height `height`): the block is
 * fetched once. One entry per id, in order; all undefined when the source cannot tell now.
 */
export const lookupFundingOutputs = (
  chain: ChainSourceShape,
  height: number,
  scids: ReadonlyArray<ShortChannelId>
): Effect.Effect<ReadonlyArray<FundingLookup | undefined>> =>
  Effect.gen(function*() {
    const block = yield* chain.block(height)
    const out: Array<FundingLookup> = []
    for (const scid of scids) {
      const at = shortChannelIdParts(scid)
      const tx = block.transactions[at.txIndex]
      const txid = block.txids[at.txIndex]
      if (at.block !== height || tx === undefined || txid === undefined || tx.outputs[at.outputIndex] === undefined) {
        out.push({ output: { _tag: "Missing" }, outpoint: undefined })
        continue
      }
      const outpoint: OutPoint = { txid, vout: at.outputIndex }
      const status = yield* chain.outputStatus(outpoint)
      const output: FundingOutput = status._tag === "SpentOrUnknown"
        ? { _tag: "Spent" }
        : { _tag: "Unspent", scriptPubKey: status.scriptPubKey, valueSat: BigInt(status.value) }
      out.push({ output, outpoint })
    }
    return out
  }).pipe(Effect.catch(() => Effect.succeed(scids.map(() => undefined))))

/** Starts the actor in the current scope. */
export const make = (config: GossipSyncConfig = {}): Effect.Effect<GossipSyncShape, never, Scope.Scope | NetworkGraph> =>
  Effect.gen(function*() {
    const network = yield* NodeNetwork
    const chainHash: ChainHash = network.chainHash
    const graph = config.graph ?? graphOf(yield* NetworkGraph)
    const scope = yield* Effect.scope
    const syncPeers = config.syncPeers ?? 2
    const flushInterval = config.flushInterval ?? "60 seconds"
    const queryBatch = Math.max(1, config.queryBatch ?? 1000)
    const maxWanted = config.maxWanted ?? 200_000
    const ratePerSecond = config.ratePerSecond ?? 500
    const burst = config.burst ?? 5000
    const maxPendingPerPeer = Math.max(1, config.maxPendingPerPeer ?? 256)
    const maxOrphans = config.maxOrphans ?? 4096
    const maxOrphansPerPeer = config.maxOrphansPerPeer ?? 256
    const maxRelay = config.maxRelay ?? 50_000
    const maxStrikes = config.maxStrikes ?? 8
    const maxStaleScore = config.maxStaleScore ?? 20_000
    const staleDrain = config.staleDrainPerSecond ?? 100

    const inbox = yield* Queue.bounded<Input, Cause.Done>(Math.max(1, config.inboxCapacity ?? 4096))
    const chain = yield* Effect.serviceOption(ChainSource)
    /** Funding output lookups waiting (bounded; the actor never waits on it) and the short channel ids in it. */
    const lookups = yield* Queue.bounded<{ readonly session: SessionId; readonly raw: Uint8Array; readonly announcement: ChannelAnnouncement }, Cause.Done>(
      Math.max(1, config.maxFundingQueue ?? 256)
    )
    yield* Effect.addFinalizer(() => Queue.end(lookups))
    const lookingUp = new Set<ShortChannelId>()
    /** Funding outputs of the channels we checked (`txid:vout` -> channel), watched for their spend. */
    const fundingOutpoints = new Map<string, ShortChannelId>()
    const outpointOf = new Map<ShortChannelId, string>()
    const outpointKey = (o: OutPoint) => `${toHex(o.txid)}:${o.vout}`
    /** The watched outpoints changed since they were last stored. */
    let outpointsDirty = false
    const watch = (scid: ShortChannelId, outpoint: OutPoint) => {
      fundingOutpoints.set(outpointKey(outpoint), scid)
      outpointOf.set(scid, outpointKey(outpoint))
      outpointsDirty = true
    }
    const unwatch = (scid: ShortChannelId) => {
      const k = outpointOf.get(scid)
      if (k !== undefined) fundingOutpoints.delete(k)
      if (outpointOf.delete(scid)) outpointsDirty = true
    }
    /** Channels whose funding output was spent, by the spend's height, waiting for its confirmations. */
    const spends = new Map<ShortChannelId, number>()
    const spentAfter = Math.max(1, config.spentAfterConfirmations ?? 12)
    /**
     * Channels of the graph whose funding output is not watched yet (loaded, ours, accepted
     * without a lookup): resolved in the background by block (at most the graph's channels);
     * `resolveLater` holds those the source could not answer, for the next block.
     */
    const toResolve = new Map<number, Set<ShortChannelId>>() // by block height
    const resolveLater = new Set<ShortChannelId>()
    const resolveSignal = yield* Queue.sliding<void>(1)
    /**
     * Outputs just watched after a lookup, asked once more: a spend in a block the follower
     * passed between the lookup and the watch would otherwise be missed (bounded: dropped when full).
     */
    const rechecks = yield* Queue.bounded<{ readonly scid: ShortChannelId; readonly outpoint: OutPoint }, Cause.Done>(4096)
    yield* Effect.addFinalizer(() => Queue.end(rechecks))
    const recheck = (scid: ShortChannelId, outpoint: OutPoint) => {
      Queue.offerUnsafe(rechecks, { scid, outpoint })
    }
    const needsResolving = (scid: ShortChannelId) => {
      if (Option.isNone(chain) || outpointOf.has(scid) || spends.has(scid)) return
      const height = shortChannelIdParts(scid).block
      const atHeight = toResolve.get(height) ?? new Set<ShortChannelId>()
      atHeight.add(scid)
      toResolve.set(height, atHeight)
      Queue.offerUnsafe(resolveSignal, undefined)
    }
    yield* Effect.addFinalizer(() => Queue.end(inbox))
    const announcementSignatures = yield* Queue.sliding<{ readonly nodeId: NodeId; readonly message: AnnouncementSignatures }>(256)

    const peers = new Map<SessionId, PeerState>()
    const orphans = new Map<string, Orphan>()
    /** Orphan keys by what they wait for (a channel `c<scid>` or a node `n<hex>`), so a new channel finds its own at once. */
    const orphansWaiting = new Map<string, Set<string>>()
    const relay = new Map<string, RelayEntry>()
    /**
     * Our own gossip, newest per message key (our channels' announcements and updates, our node
     * announcement): sent to every peer when it connects, so a peer that connects after a
     * broadcast still gets it (bounded by our own channels; capped).
     */
    const own = new Map<string, { readonly kind: RelayKind; readonly raw: Uint8Array; readonly scid: ShortChannelId | undefined }>()
    const maxOwn = 10_000
    /** Peers' private updates for channels with us, by `<peer hex>/<scid>` (capped per peer and in total). */
    const peerUpdates = new Map<string, PeerChannelUpdate>()
    const maxPeerUpdatesPerPeer = 64
    const maxPeerUpdates = 10_000
    const secp = (yield* Crypto).secp
    let received = 0
    let accepted = 0
    let stale = 0
    let invalid = 0
    let banned = 0
    let queriesAnswered = 0
    let syncedPeers = 0
    let syncing = 0
    /** The graph changed since the last save. */
    let dirty = false
    const saveGraph = Effect.suspend(() => {
      if (!dirty || graph.save === undefined) return Effect.void
      dirty = false
      return graph.save
    })
    /** The watched outpoints, packed (`encodeOutpoints`), when they changed. */
    const saveOutpoints = Effect.suspend(() => {
      const store = config.store
      if (!outpointsDirty || store === undefined) return Effect.void
      outpointsDirty = false
      return store.put(FUNDING_KEY, encodeOutpoints(outpointOf)).pipe(
        Effect.asVoid,
        Effect.catchCause((cause) => {
          outpointsDirty = true
          return Effect.logWarning("gossip: saving the funding outpoints failed", cause)
        })
      )
    })
    const saveIfDirty = Effect.andThen(saveGraph, saveOutpoints)

    const nowSeconds = Clock.currentTimeMillis.pipe(Effect.map((ms) => Math.floor(ms / 1000)))

    // ---- the tap: runs in each peer's reader fiber ----------------------------------------------

    /** Waits for a token of the peer's bucket (its reader, hence its socket, waits meanwhile). */
    const takeToken = (p: PeerState): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        p.tokens = Math.min(burst, p.tokens + ((now - p.tokensAt) * ratePerSecond) / 1000)
        p.tokensAt = now
        if (p.tokens >= 1) {
          p.tokens -= 1
          return
        }
        const waitMs = Math.ceil(((1 - p.tokens) * 1000) / ratePerSecond)
        yield* Effect.sleep(Duration.millis(waitMs))
        const later = yield* Clock.currentTimeMillis
        p.tokens = Math.max(0, p.tokens + ((later - p.tokensAt) * ratePerSecond) / 1000 - 1)
        p.tokensAt = later
      })

    const offer = (input: Input) => Queue.offer(inbox, input).pipe(Effect.asVoid)

    const tap: GossipTap = {
      // The state exists before the first message is read (this runs in the peer's fiber, before its reader starts).
      connected: (session, peer, link) => newPeer(session, peer, link).pipe(Effect.andThen(offer({ _tag: "Connected", session }))),
      disconnected: (session) => offer({ _tag: "Disconnected", session }),
      message: (session, nodeId, type, raw) =>
        Effect.gen(function*() {
          const p = peers.get(session)
          if (p === undefined) return
          if (p.banned) return yield* Effect.fail(DisconnectReason.MalformedMessage({ messageType: type, message: "invalid gossip" }))
          if (type === ChannelAnnouncement.type || type === NodeAnnouncement.type || type === ChannelUpdate.type) {
            // Decoded (and checked) by the graph; here only the bounds.
            yield* takeToken(p)
            yield* p.permits.take(1)
            return yield* offer({ _tag: "Announcement", session, type, raw })
          }
          const decoded = Gossip.decode(raw)
          if (Result.isFailure(decoded)) {
            return yield* Effect.fail(DisconnectReason.MalformedMessage({ messageType: type, message: decoded.failure._tag }))
          }
          const message = decoded.success
          if (message._tag === "UnknownMessage") return
          if (message._tag === "AnnouncementSignatures") return yield* Queue.offer(announcementSignatures, { nodeId, message }).pipe(Effect.asVoid)
          return yield* offer({ _tag: "Query", session, message })
        })
    }

    // ---- per-peer sender fibers -------------------------------------------------------------------

    /** The raw messages answering one short channel id, node announcements deduplicated in `sentNodes`. */
    const answerFor = (
      scid: ShortChannelId,
      flags: bigint | undefined,
      sentNodes: Set<string>,
      nodeFilter?: TimestampFilter
    ) =>
      Effect.gen(function*() {
        const out: Array<Uint8Array> = []
        const c = yield* graph.channel(scid)
        if (c === undefined) return out
        const want = (bit: bigint) => flags === undefined || (flags & bit) !== 0n
        if (want(QUERY_FLAG_CHANNEL_ANNOUNCEMENT)) out.push(c.announcement)
        if (want(QUERY_FLAG_CHANNEL_UPDATE_1) && c.update1 !== undefined) out.push(c.update1)
        if (want(QUERY_FLAG_CHANNEL_UPDATE_2) && c.update2 !== undefined) out.push(c.update2)
        const ends = [[QUERY_FLAG_NODE_ANNOUNCEMENT_1, c.nodeId1, c.nodeAnnouncement1], [QUERY_FLAG_NODE_ANNOUNCEMENT_2, c.nodeId2, c.nodeAnnouncement2]] as const
        for (const [bit, nodeId, raw] of ends) {
          const k = toHex(nodeId)
          if (!want(bit) || raw === undefined || sentNodes.has(k)) continue
          if (nodeFilter !== undefined && !passesFilter(nodeFilter, timestampOf(NodeAnnouncement.type, raw))) continue
          sentNodes.add(k)
          out.push(raw)
        }
        return out
      })

    const runJob = (p: PeerState, job: Job): Effect.Effect<void, DisconnectReason> =>
      Effect.gen(function*() {
        const send = (raw: Uint8Array) => p.link.sendWait(raw)
        switch (job._tag) {
          case "Send":
            for (const raw of job.raws) yield* send(raw)
            return
          case "AnswerScids": {
            const sentNodes = new Set<string>()
            for (let i = 0; i < job.scids.length; i++) {
              const scid = job.scids[i]
              if (scid === undefined) continue
              for (const raw of yield* answerFor(scid, job.flags?.[i], sentNodes)) yield* send(raw)
            }
            yield* send(encodeGossip(ReplyShortChannelIdsEnd.make({ chainHash, fullInformation: 1 })))
            p.answering = false
            return
          }
          case "AnswerRange": {
            const q = job.query
            const count = Math.min(q.numberOfBlocks, U32_MAX - q.firstBlocknum)
            const channels = yield* graph.channelsInRange(q.firstBlocknum, count)
            for (const reply of replyChannelRange(q.chainHash, q.firstBlocknum, q.numberOfBlocks, q.tlvs.queryOption, channels, config.maxScidsPerReply)) {
              yield* send(encodeGossip(reply))
            }
            return
          }
          case "Backlog": {
            // BOLT 7: SHOULD send all gossip whose timestamp is in the filter (announcements before their updates).
            const sentNodes = new Set<string>()
            for (const s of yield* graph.channelsInRange(0, U32_MAX)) {
              const in1 = s.timestamp1 > 0 && passesFilter(job.filter, s.timestamp1)
              const in2 = s.timestamp2 > 0 && passesFilter(job.filter, s.timestamp2)
              if (!in1 && !in2) continue
              const flags = QUERY_FLAG_CHANNEL_ANNOUNCEMENT | (in1 ? QUERY_FLAG_CHANNEL_UPDATE_1 : 0n) | (in2 ? QUERY_FLAG_CHANNEL_UPDATE_2 : 0n) |
                QUERY_FLAG_NODE_ANNOUNCEMENT_1 | QUERY_FLAG_NODE_ANNOUNCEMENT_2
              for (const raw of yield* answerFor(s.scid, flags, sentNodes, job.filter)) yield* send(raw)
            }
            return
          }
        }
      })

    const startSender = (p: PeerState) =>
      Effect.forever(Queue.take(p.jobs).pipe(Effect.flatMap((job) => runJob(p, job)))).pipe(
        Effect.catch(() => Effect.void), // the connection ended (or the job queue did)
        Effect.forkIn(p.scope)
      )

    /** Hands a job to the peer's sender; a peer whose jobs pile up (it reads too slowly) misses relays. */
    const schedule = (p: PeerState, job: Job): boolean => Queue.offerUnsafe(p.jobs, job)

    // ---- helpers of the actor ---------------------------------------------------------------------

    const sendNow = (p: PeerState, m: GossipMessage) => {
      if (!schedule(p, { _tag: "Send", raws: [encodeGossip(m)] })) return Effect.logDebug(`gossip: ${m._tag} to ${p.key} dropped (sender busy)`)
      return Effect.void
    }

    const dropOrphansOf = (session: SessionId) => {
      for (const [k, o] of orphans) if (o.session === session) removeOrphan(k)
    }

    /** Ends a misbehaving peer: a warning, the disconnection, and nothing it sent still pending is kept. */
    /** One more strike against a peer: true when it has as many as `maxStrikes` (then it is banned). */
    const struck = (p: PeerState): boolean => ++p.strikes >= maxStrikes
    const ban = (p: PeerState, why: string) =>
      Effect.gen(function*() {
        if (p.banned) return
        p.banned = true
        banned++
        dropOrphansOf(p.session)
        p.orphans = 0
        for (const [k, e] of relay) if (e.origin === p.session) relay.delete(k)
        p.wanted = []
        yield* Effect.logWarning(`gossip: disconnecting ${p.key}: ${why}`)
        const warning = Bolt1.encode(makeWarning(why))
        const bye = (Result.isSuccess(warning) ? p.link.sendWait(warning.success).pipe(Effect.ignore) : Effect.void).pipe(
          Effect.timeoutOrElse({ duration: "1 second", orElse: () => Effect.void }),
          Effect.andThen(p.link.disconnect(DisconnectReason.MalformedMessage({ messageType: 0, message: `gossip: ${why}` })))
        )
        yield* Effect.forkIn(bye, scope)
      })

    const staleHit = (p: PeerState) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        p.staleScore = Math.max(0, p.staleScore - ((now - p.staleAt) * staleDrain) / 1000) + 1
        p.staleAt = now
        if (p.staleScore > maxStaleScore) yield* ban(p, "too much stale gossip")
      })

    const addRelay = (key: string, entry: RelayEntry) => {
      relay.delete(key) // newest replaces, and moves to the end
      if (relay.size >= maxRelay) {
        const oldest = relay.keys().next()
        if (!oldest.done) relay.delete(oldest.value)
      }
      relay.set(key, entry)
    }

    /** Timestamp of an update / node announcement (offsets after the signature: BOLT 7 layouts). */
    const timestampOf = (type: number, raw: Uint8Array): number => {
      const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
      if (type === ChannelUpdate.type) return v.getUint32(2 + 64 + 32 + 8)
      // node_announcement: type, signature, flen, features, timestamp
      const flen = v.getUint16(2 + 64)
      return v.getUint32(2 + 64 + 2 + flen)
    }

    /** Orphan key / relay key of a raw announcement, and what it is about. */
    const describe = (type: number, raw: Uint8Array) => {
      if (type === ChannelAnnouncement.type) {
        const flen = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint16(2 + 256)
        const base = 2 + 256 + 2 + flen + 32
        const scid = scidAt(raw, base)
        return {
          kind: 0 as const,
          scid,
          key: `a${scid}`,
          nodes: [toHex(raw.subarray(base + 8, base + 8 + 33)), toHex(raw.subarray(base + 41, base + 41 + 33))]
        }
      }
      if (type === ChannelUpdate.type) {
        const scid = scidAt(raw, 2 + 64 + 32)
        const direction = (raw[2 + 64 + 32 + 8 + 4 + 1] ?? 0) & 1
        return { kind: 1 as const, scid, key: `u${scid}/${direction}`, nodes: [] }
      }
      const flen = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint16(2 + 64)
      const nodeId = toHex(raw.subarray(2 + 64 + 2 + flen + 4, 2 + 64 + 2 + flen + 4 + 33))
      return { kind: 2 as const, scid: undefined, key: `n${nodeId}`, nodes: [nodeId] }
    }

    const removeOrphan = (key: string): Orphan | undefined => {
      const o = orphans.get(key)
      if (o === undefined) return undefined
      orphans.delete(key)
      const set = orphansWaiting.get(o.waitsFor)
      set?.delete(key)
      if (set !== undefined && set.size === 0) orphansWaiting.delete(o.waitsFor)
      const owner = peers.get(o.session)
      if (owner !== undefined) owner.orphans = Math.max(0, owner.orphans - 1)
      return o
    }

    const addOrphan = (key: string, orphan: Orphan) => {
      removeOrphan(key)
      orphans.set(key, orphan)
      const set = orphansWaiting.get(orphan.waitsFor) ?? new Set<string>()
      set.add(key)
      orphansWaiting.set(orphan.waitsFor, set)
      const owner = peers.get(orphan.session)
      if (owner !== undefined) owner.orphans++
    }

    /** After a new channel: the updates and node announcements that were waiting for it. */
    const releaseOrphans = (what: { readonly kind: RelayKind; readonly scid: ShortChannelId | undefined; readonly nodes: ReadonlyArray<string> }) =>
      Effect.gen(function*() {
        if (what.kind !== 0) return
        const waiting: Array<Orphan> = []
        for (const w of [`c${what.scid}`, ...what.nodes.map((n) => `n${n}`)]) {
          for (const k of [...(orphansWaiting.get(w) ?? [])]) {
            const o = removeOrphan(k)
            if (o !== undefined) waiting.push(o)
          }
        }
        for (const o of waiting) yield* ingest(o.raw[1] === 2 ? ChannelUpdate.type : NodeAnnouncement.type, o.raw, peers.get(o.session))
      })

    /** One announcement through the graph; then the orphans it unblocks. */
    const ingest = (
      type: number,
      raw: Uint8Array,
      from: PeerState | undefined,
      capacitySat?: bigint,
      signaturesVerified = false
    ): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (raw.length < 2 + 64 + 32 + 8 + 4 + 2) {
          invalid++
          if (from !== undefined && struck(from)) yield* ban(from, `${from.strikes} invalid gossip messages`)
          return
        }
        const what = describe(type, raw)
        if (Option.isSome(chain) && from !== undefined && capacitySat === undefined && type === ChannelAnnouncement.type) {
          // The funding output first (BOLT 7): checked off the actor, back as `Funded`.
          const pre = graph.precheck === undefined ? Result.succeed(undefined) : yield* graph.precheck(raw)
          if (Result.isFailure(pre)) return yield* refused(pre.failure, type, raw, from)
          const decoded = Gossip.decode(raw)
          if (Result.isFailure(decoded) || decoded.success._tag !== "ChannelAnnouncement") {
            invalid++
            if (struck(from)) yield* ban(from, `${from.strikes} invalid gossip messages`)
            return
          }
          const announcement = decoded.success
          if (lookingUp.has(announcement.shortChannelId)) return yield* staleHit(from)
          // The four signatures before the chain (BOLT 7 order): unsigned gossip costs no lookup.
          const signed = verifyChannelAnnouncement({ secp, chainHash }, raw, announcement)
          if (Result.isFailure(signed)) return yield* refused(signed.failure, type, raw, from)
          if (!Queue.offerUnsafe(lookups, { session: from.session, raw, announcement })) {
            yield* Effect.logDebug(`gossip: funding lookup queue full, ${what.key} from ${from.key} dropped`)
            return yield* staleHit(from)
          }
          lookingUp.add(announcement.shortChannelId)
          return
        }
        const verdict = yield* graph.ingest(raw, yield* nowSeconds, {
          ...(capacitySat === undefined ? {} : { capacitySat }),
          ...(signaturesVerified ? { signaturesVerified } : {})
        })
        if (Result.isSuccess(verdict)) {
          accepted++
          dirty = true
          // Not looked up (no funding lookup on this path): its output is found in the background.
          if (type === ChannelAnnouncement.type && capacitySat === undefined && what.scid !== undefined) needsResolving(what.scid)
          const timestamp = type === ChannelAnnouncement.type ? 0 : timestampOf(type, raw)
          if (verdict.success.forward) addRelay(what.key, { kind: what.kind, raw, origin: from?.session, timestamp, scid: what.scid })
          return yield* releaseOrphans(what)
        }
        return yield* refused(verdict.failure, type, raw, from)
      })

    /** A message the graph refused: an orphan to keep, a strike, or stale. */
    /**
     * A peer's `channel_update` with `dont_forward` (BOLT 7: a private channel's update, sent to
     * its peer only), or one for a channel nobody announced (BOLT 7 lets a node keep updates
     * that correspond to its own channels; LDK 0.1 sends its private updates without
     * `dont_forward`): kept when signed by that peer (its direction of a channel with us), the
     * newest per channel; never relayed, never in the graph.
     */
    const keepPeerUpdate = (raw: Uint8Array, from: PeerState): boolean => {
      const decoded = ChannelUpdate.decode(raw)
      if (Result.isFailure(decoded)) return false
      const u = decoded.success
      if (!equalChain(u.chainHash) || !secp.verify(u.signature, channelUpdateDigest(raw), from.nodeId)) return false
      const key = `${from.key}/${u.shortChannelId}`
      const previous = peerUpdates.get(key)
      if (previous !== undefined && previous.timestamp >= u.timestamp) return true
      if (previous === undefined) {
        let ofPeer = 0
        for (const k of peerUpdates.keys()) if (k.startsWith(`${from.key}/`)) ofPeer++
        if (ofPeer >= maxPeerUpdatesPerPeer || peerUpdates.size >= maxPeerUpdates) return false
      }
      peerUpdates.set(key, {
        nodeId: from.nodeId,
        shortChannelId: u.shortChannelId,
        timestamp: u.timestamp,
        disabled: (u.channelFlags & 2) !== 0,
        feeBaseMsat: u.feeBaseMsat,
        feeProportionalMillionths: u.feeProportionalMillionths,
        cltvExpiryDelta: u.cltvExpiryDelta,
        htlcMinimumMsat: u.htlcMinimumMsat,
        htlcMaximumMsat: u.htlcMaximumMsat,
        raw
      })
      return true
    }

    const refused = (e: GossipError, type: number, raw: Uint8Array, from: PeerState | undefined): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (e._tag === "DontForward" && type === ChannelUpdate.type && from !== undefined && keepPeerUpdate(raw, from)) return
        // Also kept as an orphan below: its channel_announcement may still come.
        if (e._tag === "UnknownChannel" && type === ChannelUpdate.type && from !== undefined) keepPeerUpdate(raw, from)
        if (e._tag === "UnknownChannel" || e._tag === "UnknownNode") {
          if (from === undefined) return
          // A full pool drops the message; it costs the peer like stale gossip (a flood of orphans ends it).
          if (orphans.size >= maxOrphans || from.orphans >= maxOrphansPerPeer) return yield* staleHit(from)
          const waitsFor = e._tag === "UnknownChannel" ? `c${e.shortChannelId}` : `n${e.nodeId}`
          addOrphan(describe(type, raw).key, { raw, session: from.session, waitsFor })
          // BOLT 7: MAY query a channel_update's unknown short_channel_id.
          if (e._tag === "UnknownChannel" && from.offersQueries && from.wanted.length < maxWanted) {
            from.wanted.push({ scid: e.shortChannelId, flags: QUERY_FLAG_CHANNEL_ANNOUNCEMENT | QUERY_FLAG_CHANNEL_UPDATE_1 | QUERY_FLAG_CHANNEL_UPDATE_2 })
          }
          return
        }
        if (e.severity === "warn") {
          invalid++
          if (from !== undefined) {
            yield* Effect.logDebug(`gossip: invalid from ${from.key}: ${e._tag}`)
            if (struck(from)) yield* ban(from, `${from.strikes} invalid gossip messages (last: ${e._tag})`)
          }
          return
        }
        stale++
        if (from !== undefined) yield* staleHit(from)
      })

    /** Sends the next `query_short_channel_ids` to the peer if none is in flight. */
    const queryNext = (p: PeerState) =>
      Effect.gen(function*() {
        if (p.queryInFlight || p.banned || p.range !== undefined) return
        if (p.wanted.length === 0) return
        const batch = p.wanted.splice(0, queryBatch)
        // Ascending and unique, as encoding type 0 requires.
        const byScid = new Map<ShortChannelId, bigint>()
        for (const w of batch) byScid.set(w.scid, (byScid.get(w.scid) ?? 0n) | w.flags)
        const scids = [...byScid.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        const flags = scids.map((s) => byScid.get(s) ?? 0n)
        const all = flags.every((f) => f === (flags[0] ?? 0n))
        p.queryInFlight = true
        yield* sendNow(p, QueryShortChannelIds.make(
          { chainHash, encodedShortIds: encodeShortChannelIds(scids) },
          p.offersQueriesEx && !all ? { queryFlags: encodeQueryFlags(flags) } : {}
        ))
      })

    // ---- the actor's inputs ----------------------------------------------------------------------------

    const newPeer = (session: SessionId, peer: PeerInfo, link: GossipLink) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const p: PeerState = {
          session,
          nodeId: peer.nodeId,
          key: toHex(peer.nodeId),
          link,
          offersQueries: offers(featuresFromBytes(peer.remoteFeatures), "gossip_queries"),
          offersQueriesEx: offers(featuresFromBytes(peer.remoteFeatures), "gossip_queries_ex"),
          permits: yield* Semaphore.make(maxPendingPerPeer),
          jobs: yield* Queue.bounded<Job, Cause.Done>(64),
          scope: yield* Scope.fork(scope),
          strikes: 0,
          staleScore: 0,
          staleAt: now,
          tokens: burst,
          tokensAt: now,
          banned: false,
          orphans: 0,
          filter: undefined,
          range: undefined,
          wanted: [],
          queryInFlight: false,
          answering: false,
          syncSlot: false,
          synced: false
        }
        peers.set(session, p)
        yield* startSender(p)
      })

    const onConnected = (session: SessionId) =>
      Effect.gen(function*() {
        const p = peers.get(session)
        if (p === undefined) return
        const seconds = yield* nowSeconds
        if (own.size > 0) {
          // Our own gossip, announcements first (BOLT 7: our own may go out before any filter);
          // what is about a channel the graph no longer has (closed, pruned) is forgotten.
          for (const [k, o] of [...own]) if (o.scid !== undefined && (yield* graph.summary(o.scid)) === undefined) own.delete(k)
          const mine = [...own.values()].sort((a, b) => a.kind - b.kind).map((o) => o.raw)
          if (schedule(p, { _tag: "Send", raws: mine })) for (const e of relay.values()) e.sentTo?.add(p.session)
        }
        if (!p.offersQueries) {
          // BOLT 7: to a peer that does not offer gossip_queries, SHOULD send the "nothing" filter.
          return yield* sendNow(p, GossipTimestampFilter.make({ chainHash, firstTimestamp: U32_MAX, timestampRange: 0 }))
        }
        if (syncing < syncPeers) {
          syncing++
          p.syncSlot = true
          p.range = { first: 0, count: U32_MAX, withTimestamps: p.offersQueriesEx }
          yield* sendNow(p, QueryChannelRange.make(
            { chainHash, firstBlocknum: 0, numberOfBlocks: U32_MAX },
            p.offersQueriesEx ? { queryOption: QUERY_OPTION_WANT_TIMESTAMPS } : {}
          ))
        }
        // The range sync brings the past; the filter asks for what comes from now on.
        const first = config.filterFromZero === true ? 0 : seconds
        yield* sendNow(p, GossipTimestampFilter.make({ chainHash, firstTimestamp: first, timestampRange: U32_MAX }))
      })

    const onDisconnected = (session: SessionId) =>
      Effect.gen(function*() {
        const p = peers.get(session)
        if (p === undefined) return
        peers.delete(session)
        // A sync peer that left before the end frees its slot for the next peer.
        if (p.syncSlot && !p.synced) syncing = Math.max(0, syncing - 1)
        yield* Queue.end(p.jobs)
        yield* Scope.close(p.scope, Exit.void)
      })

    const onQuery = (p: PeerState, m: GossipMessage) =>
      Effect.gen(function*() {
        switch (m._tag) {
          case "GossipTimestampFilter": {
            if (!equalChain(m.chainHash)) return
            const filter = { first: m.firstTimestamp, range: m.timestampRange }
            const hadFilter = p.filter !== undefined
            p.filter = filter
            // A backlog only for a window that reaches into the past (once per connection).
            const now = yield* nowSeconds
            if (!hadFilter && filter.range > 0 && filter.first < now) schedule(p, { _tag: "Backlog", filter })
            return
          }
          case "QueryChannelRange": {
            queriesAnswered++
            if (!schedule(p, { _tag: "AnswerRange", query: m })) yield* Effect.logDebug(`gossip: range query from ${p.key} dropped (busy)`)
            return
          }
          case "QueryShortChannelIds": {
            if (!equalChain(m.chainHash)) {
              return yield* sendNow(p, ReplyShortChannelIdsEnd.make({ chainHash: m.chainHash, fullInformation: 0 }))
            }
            const ids = decodeShortChannelIds(m.encodedShortIds)
            const flags = ids._tag === "Success" && m.tlvs.queryFlags !== undefined
              ? decodeQueryFlags(m.tlvs.queryFlags.encodingType, m.tlvs.queryFlags.encodedQueryFlags, ids.success.length)
              : undefined
            if (Result.isFailure(ids) || (flags !== undefined && Result.isFailure(flags))) {
              invalid++
              if (struck(p)) return yield* ban(p, "malformed gossip queries")
              return yield* sendNow(p, ReplyShortChannelIdsEnd.make({ chainHash, fullInformation: 0 }))
            }
            if (p.answering) {
              // BOLT 7: MAY warn (and close) when a query comes before our reply to the previous one ended.
              if (struck(p)) return yield* ban(p, "overlapping query_short_channel_ids")
              return
            }
            queriesAnswered++
            p.answering = true
            const scheduled = schedule(p, {
              _tag: "AnswerScids",
              scids: ids.success,
              flags: flags !== undefined && Result.isSuccess(flags) ? flags.success : undefined
            })
            if (!scheduled) p.answering = false
            return
          }
          case "ReplyChannelRange": {
            const r = p.range
            if (r === undefined || !equalChain(m.chainHash)) return
            const ids = decodeShortChannelIds(m.encodedShortIds)
            const ts = Result.isSuccess(ids) && m.tlvs.timestampsTlv !== undefined
              ? decodeTimestamps(m.tlvs.timestampsTlv.encodingType, m.tlvs.timestampsTlv.encodedTimestamps, ids.success.length)
              : undefined
            if (Result.isFailure(ids) || (ts !== undefined && Result.isFailure(ts))) {
              invalid++
              if (struck(p)) yield* ban(p, "malformed reply_channel_range")
              return
            }
            const stamps = ts !== undefined && Result.isSuccess(ts) ? ts.success : undefined
            for (let i = 0; i < ids.success.length; i++) {
              const scid = ids.success[i]
              if (scid === undefined || p.wanted.length >= maxWanted) continue
              const flags = wantedFlags(yield* graph.summary(scid), stamps?.[i] === undefined ? undefined : {
                timestamp1: stamps[i]?.timestampNodeId1 ?? 0,
                timestamp2: stamps[i]?.timestampNodeId2 ?? 0
              })
              if (flags !== 0n) p.wanted.push({ scid, flags })
            }
            if (replyCompletes(r, m)) {
              p.range = undefined
              if (p.wanted.length === 0) markSynced(p)
              yield* queryNext(p)
            }
            return
          }
          case "ReplyShortChannelIdsEnd": {
            if (!p.queryInFlight) return
            p.queryInFlight = false
            if (p.wanted.length === 0) markSynced(p)
            return yield* queryNext(p)
          }
          default:
            return
        }
      })

    const markSynced = (p: PeerState) => {
      if (p.synced) return
      p.synced = true
      syncedPeers++
    }

    const equalChain = (h: Uint8Array) => equalBytes(h, chainHash)

    /** Staggered relay (BOLT 7 "Rebroadcasting"): what is new since the last flush, to the peers that asked. */
    const flushNow = Effect.gen(function*() {
      if (relay.size === 0) return
      const entries = [...relay.values()].sort((a, b) => a.kind - b.kind)
      relay.clear()
      for (const p of peers.values()) {
        const filter = p.filter
        if (filter === undefined || p.banned) continue
        const raws: Array<Uint8Array> = []
        for (const e of entries) {
          if (e.origin === p.session) continue
          if (e.sentTo !== undefined) {
            // Our own: to every peer that does not have it yet (BOLT 7: our own gossip regardless of filters).
            if (!e.sentTo.has(p.session)) raws.push(e.raw)
            continue
          }
          if (e.kind === 0) {
            // BOLT 7: an announcement takes the timestamp of one of its updates; none yet: not sent.
            const s = e.scid === undefined ? undefined : yield* graph.summary(e.scid)
            if (s === undefined || (s.timestamp1 === 0 && s.timestamp2 === 0)) continue
            if (!passesFilter(filter, s.timestamp1) && !passesFilter(filter, s.timestamp2)) continue
          } else if (!passesFilter(filter, e.timestamp)) continue
          raws.push(e.raw)
        }
        if (raws.length > 0 && !schedule(p, { _tag: "Send", raws })) yield* Effect.logDebug(`gossip: relay to ${p.key} dropped (sender busy)`)
      }
    })

    const handle = (input: Input): Effect.Effect<void> =>
      Effect.gen(function*() {
        switch (input._tag) {
          case "Connected":
            return yield* onConnected(input.session)
          case "Disconnected":
            return yield* onDisconnected(input.session)
          case "Announcement": {
            received++
            const p = peers.get(input.session)
            if (p === undefined || p.banned) return // nothing a banned or gone peer sent is kept
            yield* p.permits.release(1)
            yield* ingest(input.type, input.raw, p)
            return yield* queryNext(p)
          }
          case "Query": {
            const p = peers.get(input.session)
            if (p === undefined || p.banned) return
            return yield* onQuery(p, input.message)
          }
          case "Flush":
            yield* flushNow
            return yield* Deferred.succeed(input.done, undefined)
          case "Prune": {
            if (graph.prune === undefined) return
            const removed = yield* graph.prune
            for (const scid of removed) {
              unwatch(scid)
              spends.delete(scid)
            }
            if (removed.length > 0) {
              dirty = true
              yield* Effect.logInfo(`gossip: pruned ${removed.length} stale channels`)
            }
            return
          }
          case "Save":
            return yield* saveIfDirty
          case "Funded": {
            const scid = input.announcement.shortChannelId
            lookingUp.delete(scid)
            const p = peers.get(input.session)
            if (p?.banned === true) return // nothing a banned peer sent is kept
            if (input.lookup === undefined) {
              // The source could not tell (down, or behind): not the peer's fault; it comes again by sync.
              return yield* Effect.logDebug(`gossip: funding output of ${scid} unknown for now, announcement dropped`)
            }
            const capacity = checkFundingOutput(input.announcement, input.lookup.output)
            if (Result.isFailure(capacity)) {
              // A spent output is a closed channel; a missing or wrong one the peer should not have sent.
              if (input.lookup.output._tag === "Spent") {
                stale++
                return
              }
              invalid++
              if (p !== undefined) {
                yield* Effect.logDebug(`gossip: invalid from ${p.key}: ${capacity.failure.reason}`)
                if (struck(p)) yield* ban(p, `${p.strikes} invalid gossip messages (last: funding output ${capacity.failure.reason})`)
              }
              return
            }
            yield* ingest(ChannelAnnouncement.type, input.raw, p, capacity.success, true)
            const outpoint = input.lookup.outpoint
            if (outpoint !== undefined && (yield* graph.summary(scid)) !== undefined) {
              watch(scid, outpoint)
              recheck(scid, outpoint)
            }
            if (p !== undefined) yield* queryNext(p)
            return
          }
          case "Closed": {
            let removed = 0
            for (const scid of input.scids) {
              unwatch(scid)
              if (graph.removeChannel !== undefined && (yield* graph.removeChannel(scid))) removed++
            }
            if (removed > 0) {
              dirty = true
              yield* Effect.logInfo(`gossip: removed ${removed} closed channels`)
            }
            return
          }
          case "Resolved": {
            const scid = input.scid
            const c = yield* graph.channel(scid)
            if (c === undefined || outpointOf.has(scid) || spends.has(scid)) return // gone, or watched meanwhile
            if (input.lookup === undefined) {
              resolveLater.add(scid)
              return
            }
            const decoded = ChannelAnnouncement.decode(c.announcement)
            const output = input.lookup.output
            if (Result.isSuccess(decoded) && output._tag === "Unspent" && Result.isFailure(checkFundingOutput(decoded.success, output))) {
              // BOLT 7: the output is not this channel's: it was never one.
              if (graph.removeChannel !== undefined && (yield* graph.removeChannel(scid))) {
                dirty = true
                yield* Effect.logInfo(`gossip: removed ${scid}: its funding output is not the channel's`)
              }
              return
            }
            if (output._tag === "Unspent" && input.lookup.outpoint !== undefined) {
              watch(scid, input.lookup.outpoint)
              recheck(scid, input.lookup.outpoint)
              return
            }
            // Spent (or gone) while we did not watch: as if spent in the next block, removed `spentAfter` blocks from now.
            spends.set(scid, input.height + 1)
            return
          }
          case "SpentMeanwhile": {
            // Spent in a block the chain follower passed before the output was watched: at or below
            // that tip, so counted from it (at least as many confirmations as the rule asks).
            if (outpointOf.has(input.scid) && !spends.has(input.scid)) spends.set(input.scid, input.height)
            return
          }
          case "Own": {
            for (const raw of input.raws) {
              const type = ((raw[0] ?? 0) << 8) | (raw[1] ?? 0)
              const verdict = yield* graph.ingest(raw, yield* nowSeconds)
              if (Result.isFailure(verdict) && verdict.failure.severity === "warn") {
                yield* Effect.logWarning(`gossip: our own ${type} refused: ${verdict.failure._tag}`)
              }
              if (Result.isSuccess(verdict)) dirty = true
              if (Result.isSuccess(verdict) && type === ChannelAnnouncement.type) {
                const what = describe(type, raw)
                if (what.scid !== undefined) needsResolving(what.scid) // our channel: watched for its close too
                yield* releaseOrphans(what)
              }
            }
            const sentTo = new Set<SessionId>()
            for (const p of peers.values()) {
              if (!p.banned && input.raws.length > 0 && schedule(p, { _tag: "Send", raws: input.raws })) sentTo.add(p.session)
            }
            // Kept for peers that connect later, and in the relay buffer for those the send missed.
            for (const raw of input.raws) {
              const type = ((raw[0] ?? 0) << 8) | (raw[1] ?? 0)
              if (type !== ChannelAnnouncement.type && type !== ChannelUpdate.type && type !== NodeAnnouncement.type) continue
              const what = describe(type, raw)
              own.delete(what.key)
              if (own.size < maxOwn) own.set(what.key, { kind: what.kind, raw, scid: what.scid })
              addRelay(what.key, { kind: what.kind, raw, origin: undefined, timestamp: type === ChannelAnnouncement.type ? 0 : timestampOf(type, raw), scid: what.scid, sentTo })
            }
            return yield* Deferred.succeed(input.done, undefined)
          }
        }
      })

    yield* Queue.take(inbox).pipe(
      Effect.flatMap(handle),
      Effect.forever,
      Effect.catchCause((cause) => Effect.logError("gossip sync stopped", cause)),
      Effect.forkIn(scope)
    )
    // The staggered broadcast's clock.
    yield* Effect.forever(
      Effect.sleep(flushInterval).pipe(
        Effect.andThen(Deferred.make<void>()),
        Effect.flatMap((done) => offer({ _tag: "Flush", done }))
      )
    ).pipe(Effect.forkIn(scope))

    yield* Effect.forever(
      Effect.sleep(config.pruneInterval ?? "1 hour").pipe(Effect.andThen(offer({ _tag: "Prune" })))
    ).pipe(Effect.forkIn(scope))

    yield* Effect.forever(
      Effect.sleep(config.saveInterval ?? "10 minutes").pipe(Effect.andThen(offer({ _tag: "Save" })))
    ).pipe(Effect.forkIn(scope))
    if (Option.isSome(chain)) {
      const source = chain.value
      for (let i = 0; i < Math.max(1, config.fundingLookups ?? 4); i++) {
        yield* Queue.take(lookups).pipe(
          Effect.flatMap((job) =>
            lookupFundingOutput(source, job.announcement.shortChannelId).pipe(
              Effect.flatMap((lookup) => offer({ _tag: "Funded", ...job, lookup }))
            )
          ),
          Effect.forever,
          Effect.catchCause(() => Effect.void), // the queue ended
          Effect.forkIn(scope)
        )
      }
    }
    if (Option.isSome(chain)) {
      // Closed channels (BOLT 7: forget a channel some blocks after its funding output is spent).
      const source = chain.value
      let from: BlockRef | undefined
      const onChain = (e: ChainEvent): Effect.Effect<void> => {
        if (e._tag === "BlockDisconnected") {
          from = { height: e.header.height - 1, hash: e.header.prevHash }
          for (const [scid, h] of spends) {
            if (h < e.header.height) continue
            spends.delete(scid)
            // A spend found by lookup (not by this follower) is looked up again on the new branch.
            if (!outpointOf.has(scid)) needsResolving(scid)
          }
          return Effect.void
        }
        const height = e.block.header.height
        from = refOf(e.block.header)
        if (resolveLater.size > 0) {
          // What the source could not answer before: again, now that it moved.
          const again = [...resolveLater]
          resolveLater.clear()
          for (const scid of again) needsResolving(scid)
        }
        for (const tx of e.block.transactions) {
          for (const input of tx.inputs) {
            const scid = fundingOutpoints.get(outpointKey(input.prevout))
            if (scid !== undefined && !spends.has(scid)) spends.set(scid, height)
          }
        }
        const closed: Array<ShortChannelId> = []
        for (const [scid, h] of spends) {
          if (height - h + 1 >= spentAfter) {
            closed.push(scid)
            spends.delete(scid)
          }
        }
        return closed.length === 0 ? Effect.void : offer({ _tag: "Closed", scids: closed })
      }
      // The channels already in the graph (loaded from the store): watched from the stored
      // outpoints, the others resolved.
      const stored = config.store === undefined ? undefined : yield* config.store.get(FUNDING_KEY).pipe(
        Effect.map((e) => (e === undefined ? undefined : decodeOutpoints(e.value))),
        Effect.catchCause((cause) => Effect.logWarning("gossip: reading the funding outpoints failed", cause).pipe(Effect.as(undefined)))
      )
      for (const c of yield* graph.channelsInRange(0, U32_MAX)) {
        const outpoint = stored?.get(c.scid)
        if (outpoint === undefined) needsResolving(c.scid)
        else watch(c.scid, outpoint)
      }
      outpointsDirty = stored === undefined || stored.size !== outpointOf.size
      // The resolver: one block fetch per height, one block at a time (peers' lookups go first).
      const resolveOne: Effect.Effect<void> = Effect.gen(function*() {
        while (toResolve.size > 0) {
          const first = toResolve.entries().next()
          if (first.done === true) return
          const [height, scids] = first.value
          toResolve.delete(height)
          const batch = [...scids]
          const tip = yield* source.tip.pipe(Effect.map((t) => t.height), Effect.orElseSucceed(() => height))
          const found = yield* lookupFundingOutputs(source, height, batch)
          for (let i = 0; i < batch.length; i++) {
            const scid = batch[i]
            if (scid !== undefined) yield* offer({ _tag: "Resolved", scid, lookup: found[i], height: tip })
          }
        }
      })
      yield* Queue.take(resolveSignal).pipe(
        Effect.andThen(resolveOne),
        Effect.forever,
        Effect.catchCause(() => Effect.void), // the scope ended
        Effect.forkIn(scope)
      )
      yield* Queue.take(rechecks).pipe(
        Effect.flatMap(({ scid, outpoint }) =>
          source.outputStatus(outpoint).pipe(
            Effect.flatMap((status) =>
              status._tag === "Unspent" ? Effect.void : source.tip.pipe(Effect.flatMap((tip) => offer({ _tag: "SpentMeanwhile", scid, height: tip.height })))
            ),
            Effect.catch(() => Effect.void) // the source cannot tell now: the follower still watches
          )
        ),
        Effect.forever,
        Effect.catchCause(() => Effect.void), // the queue ended
        Effect.forkIn(scope)
      )
      yield* Effect.suspend(() => Stream.runForEach(source.follow(from), onChain)).pipe(
        Effect.catch((e) => Effect.logDebug(`gossip: chain source lost (${e.reason}), following again`).pipe(Effect.andThen(Effect.sleep("10 seconds")))),
        Effect.forever,
        Effect.forkIn(scope)
      )
    }
    // Once more when the actor stops (finalizers run last-added first: before the inbox ends).
    yield* Effect.addFinalizer(() => saveIfDirty)

    const request = <A extends Input>(make: (done: Deferred.Deferred<void>) => A) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void>()
        const accepted = yield* Queue.offer(inbox, make(done))
        if (accepted) yield* Deferred.await(done)
      })

    const stats: Effect.Effect<GossipStats> = Effect.sync(() => ({
      received,
      accepted,
      stale,
      invalid,
      orphans: orphans.size,
      relayPending: relay.size,
      inboxSize: 0,
      peers: peers.size,
      bannedPeers: banned,
      queriesAnswered,
      syncedPeers
    })).pipe(Effect.flatMap((s) => Queue.size(inbox).pipe(Effect.map((n) => ({ ...s, inboxSize: n })))))

    return GossipSync.of({
      tap,
      stats,
      flush: request((done) => ({ _tag: "Flush", done })),
      broadcastOwn: (raws) => request((done) => ({ _tag: "Own", raws, done })),
      sendTo: (nodeId, raws) =>
        Effect.sync(() => {
          const k = toHex(nodeId)
          for (const p of peers.values()) if (p.key === k && !p.banned) return schedule(p, { _tag: "Send", raws })
          return false
        }),
      announcementSignatures,
      connectedPeers: Effect.sync(() => [...peers.values()].map((p) => p.nodeId)),
      peerChannelUpdates: (nodeId) =>
        Effect.sync(() => {
          const k = nodeId === undefined ? undefined : `${toHex(nodeId)}/`
          return [...peerUpdates.entries()].filter(([key]) => k === undefined || key.startsWith(k)).map(([, u]) => u)
        }),
      routeHints: Effect.sync(() =>
        [...peerUpdates.values()].filter((u) => !u.disabled).map((u) => [{
          pubkey: u.nodeId,
          shortChannelId: u.shortChannelId,
          feeBaseMsat: u.feeBaseMsat,
          feeProportionalMillionths: u.feeProportionalMillionths,
          cltvExpiryDelta: u.cltvExpiryDelta
        }])
      )
    })
  })

// ---- wiring ----------------------------------------------------------------------------------------

/** `init` features with `gossip_queries` and `gossip_queries_ex` offered (optional bits 7 and 11, BOLT 9). */
export const withGossipQueries = (features: Uint8Array): Uint8Array => {
  const bits = new Set(featuresFromBytes(features))
  bits.add(featureInfo("gossip_queries").oddBit)
  bits.add(featureInfo("gossip_queries_ex").oddBit)
  return featuresToBytes(bits)
}

/**
 * A peer registry's config for a node with gossip: the tap, and `gossip_queries(_ex)` offered in
 * `init` on top of the features `config` already had (the default ones otherwise).
 */
export const gossipPeerManagerConfig = (sync: GossipSyncShape, config: PeerManagerConfig = {}): PeerManagerConfig => ({
  ...config,
  gossip: sync.tap,
  peer: { ...config.peer, features: withGossipQueries(config.peer?.features ?? ourInitFeatures) }
})
