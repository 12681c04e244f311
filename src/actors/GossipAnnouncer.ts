/**
 * GossipAnnouncer: our own BOLT 7 gossip (issue 10, "Our own").
 *
 * - Public channels (opened with `announce`, `channel_flags` bit 0): once the channel is
 *   `Normal` with a real short channel id and its funding transaction has `minDepth` (6)
 *   confirmations, we send `announcement_signatures` (our node and funding-key signatures over
 *   the `channel_announcement`, BOLT 7) to the peer, again at most every `resendInterval` while
 *   theirs is missing, and in answer to theirs. With both halves (theirs checked against their
 *   node id and funding key) we build the `channel_announcement` and broadcast it with our
 *   `channel_update` and our `node_announcement` (alias, color, addresses from the config)
 *   through `GossipSync.broadcastOwn`.
 * - Our `channel_update`s are re-signed (timestamp strictly increasing) when the policy changes
 *   (`setPolicy`) and every `refreshInterval` (BOLT 7: channels without an update for two weeks
 *   are pruned by others), and sent again.
 * - Private channels: a `channel_update` with `dont_forward`, sent to the peer only (for its
 *   route hints), with our local alias as short channel id when there is one.
 * - `channelUpdate(channelId)` gives the payments side our latest signed update (BOLT 4 failure
 *   messages carry it).
 * - The `disable` bit (BOLT 7 `channel_flags` bit 1: a node "MAY create and send a
 *   `channel_update` with the `disable` bit set to 1, to signal a channel's temporary
 *   unavailability (e.g. due to a loss of connectivity)", and a later one with it 0 to re-enable):
 *   an announced channel whose peer is offline at a check gets a new update with the bit set,
 *   broadcast; when the peer is back, a new one with the bit clear.
 *
 * Depth comes from the `ChainSource` tip when one is in the context (tip - block of the short
 * channel id + 1), else from `tipHeight` in the config. The funding-key signature comes from the
 * `ChannelSigner` (`signChannelAnnouncement`: it signs only announcements of its own channels),
 * the node signature from the `NodeSigner`.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Queue, Result, type Scope, Semaphore } from "effect"
import { compareBytes, equalBytes, toHex } from "../protocol/bytes.ts"
import type { ChainHash, ShortChannelId } from "../protocol/codec/fields.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import type { ChannelState } from "../protocol/channel/state.ts"
import { channelAnnouncementDigest, channelUpdateDigest, nodeAnnouncementDigest } from "../protocol/gossip/digest.ts"
import { channelAnnouncementSignedPart, channelFlags, directionOf, unsignedChannelAnnouncement, withChannelAnnouncementSignatures } from "../protocol/gossip/sign.ts"
import type { Address } from "../protocol/messages/address.ts"
import { addressType } from "../protocol/gossip/own.ts"
import { featuresToBytes, ourNodeFeatures } from "../protocol/features.ts"
import {
  AnnouncementSignatures,
  ChannelUpdate,
  MESSAGE_FLAG_DONT_FORWARD,
  MESSAGE_FLAG_MUST_BE_ONE,
  NodeAnnouncement
} from "../protocol/messages/gossip.ts"
import { defaultForwardingPolicy, type ForwardingPolicy } from "../protocol/payment/forward.ts"
import type { ChannelId, NodeId } from "../protocol/units.ts"
import { ChainSource } from "../services/ChainSource.ts"
import { ChannelSigner, channelKeyId } from "../services/ChannelSigner.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { NodeSigner } from "../services/NodeSigner.ts"
import { ChannelManager } from "./ChannelManager.ts"
import { GossipSync } from "./GossipSync.ts"

export interface GossipAnnouncerConfig {
  readonly secp: Secp256k1
  /** Our `node_announcement`: alias (UTF-8, at most 32 bytes), color, addresses. */
  readonly alias: string
  readonly color?: readonly [number, number, number]
  readonly addresses?: ReadonlyArray<Address>
  /** Our relay policy for every channel (default `defaultForwardingPolicy`); per channel: `setPolicy`. */
  readonly policy?: ForwardingPolicy
  /** Confirmations before announcing (BOLT 7: "enough to ensure that it won't be reorganized"; default 6). */
  readonly minDepth?: number
  /** How often channels are looked at (default 10 seconds). */
  readonly checkInterval?: Duration.Input
  /** `announcement_signatures` sent again at most this often while the peer's is missing (default 1 minute). */
  readonly resendInterval?: Duration.Input
  /** Our `channel_update`s and `node_announcement` re-signed and re-sent this often (default 1 day). */
  readonly refreshInterval?: Duration.Input
  /** The chain height when no `ChainSource` is in the context (tests, a node without a chain). */
  readonly tipHeight?: Effect.Effect<number>
}


export interface GossipAnnouncerShape {
  /** Looks at every channel now (the timer does it every `checkInterval`). */
  readonly check: Effect.Effect<void>
  /** Our latest signed `channel_update` for the channel (raw, type included), if we made one. */
  readonly channelUpdate: (channelId: ChannelId) => Effect.Effect<Uint8Array | undefined>
  /** The relay policy of a channel (the config's unless `setPolicy` changed it). */
  readonly policy: (channelId: ChannelId) => Effect.Effect<ForwardingPolicy>
  /** Changes a channel's relay policy: a new `channel_update` goes out at the next check. */
  readonly setPolicy: (channelId: ChannelId, policy: ForwardingPolicy) => Effect.Effect<void>
  /** Channels announced so far (their `channel_announcement` was broadcast). */
  readonly announced: Effect.Effect<ReadonlyArray<ChannelId>>
}

export class GossipAnnouncer extends Context.Service<GossipAnnouncer, GossipAnnouncerShape>()("effect-lightning/GossipAnnouncer") {
  static readonly layer = (
    config: GossipAnnouncerConfig
  ): Layer.Layer<GossipAnnouncer, never, GossipSync | ChannelManager | ChannelSigner | NodeSigner> => Layer.effect(GossipAnnouncer, make(config))
}

interface ChannelRecord {
  /** Our half, once made. */
  ours: { readonly scid: ShortChannelId; readonly node: Uint8Array; readonly bitcoin: Uint8Array; readonly unsigned: Uint8Array } | undefined
  theirs: { readonly scid: ShortChannelId; readonly node: Uint8Array; readonly bitcoin: Uint8Array } | undefined
  lastSent: number | undefined
  announced: boolean
  update: Uint8Array | undefined
  updateTimestamp: number
  updatedAt: number
  policy: ForwardingPolicy | undefined
  /** The policy the current update was made with (a change makes a new one). */
  signedPolicy: ForwardingPolicy | undefined
  /** The current update has the `disable` bit set (the peer was offline). */
  signedDisabled: boolean
  private: boolean
  /** A private channel's update reached the peer on its current connection. */
  sentToPeer: boolean
}

const SHORT_ALIAS = (alias: string): Uint8Array => {
  const out = new Uint8Array(32)
  const bytes = new TextEncoder().encode(alias)
  // Cut on a character boundary: at most 32 bytes of UTF-8 (BOLT 7).
  let n = Math.min(32, bytes.length)
  while (n > 0 && n < bytes.length && ((bytes[n] ?? 0) & 0xc0) === 0x80) n--
  out.set(bytes.subarray(0, n))
  return out
}

const samePolicy = (a: ForwardingPolicy | undefined, b: ForwardingPolicy | undefined): boolean =>
  a !== undefined && b !== undefined && a.feeBaseMsat === b.feeBaseMsat && a.feeProportionalMillionths === b.feeProportionalMillionths &&
  a.cltvExpiryDelta === b.cltvExpiryDelta && a.htlcMinimumMsat === b.htlcMinimumMsat && a.htlcMaximumMsat === b.htlcMaximumMsat

/**
 * Our own gossip, encoded to be kept: a copy of its own, since an encoded message is a piece of the
 * codec's shared 8 KiB slab (`codec/writer.ts`), which a kept piece would keep alive per channel.
 */
const encodeOrDie = (r: Result.Result<Uint8Array, { readonly reason: string }>): Uint8Array => {
  if (Result.isFailure(r)) throw new Error(`cannot encode own gossip: ${r.failure.reason}`) // our fields fit: a bug
  return r.success.slice()
}

/** Starts the announcer in the current scope. */
export const make = (
  config: GossipAnnouncerConfig
): Effect.Effect<GossipAnnouncerShape, never, Scope.Scope | GossipSync | ChannelManager | ChannelSigner | NodeSigner> =>
  Effect.gen(function*() {
    const gossip = yield* GossipSync
    const manager = yield* ChannelManager
    const channelSigner = yield* ChannelSigner
    const nodeSigner = yield* NodeSigner
    const chain = yield* Effect.serviceOption(ChainSource)
    const network = yield* NodeNetwork
    const chainHash: ChainHash = network.chainHash
    const ourId = nodeSigner.nodeId
    const minDepth = config.minDepth ?? 6
    const resendMs = Duration.toMillis(Duration.fromInputUnsafe(config.resendInterval ?? "1 minute"))
    const refreshMs = Duration.toMillis(Duration.fromInputUnsafe(config.refreshInterval ?? "1 day"))
    const records = new Map<string, ChannelRecord>()
    let nodeAnnouncement: Uint8Array | undefined
    let nodeTimestamp = 0

    const tipHeight: Effect.Effect<number | undefined> = Option.isSome(chain)
      ? chain.value.tip.pipe(Effect.map((t) => t.height), Effect.catch(() => Effect.succeed(undefined)))
      : config.tipHeight ?? Effect.succeed(undefined)

    const recordOf = (channelId: Uint8Array): ChannelRecord => {
      const k = toHex(channelId)
      let r = records.get(k)
      if (r === undefined) {
        r = { ours: undefined, theirs: undefined, lastSent: undefined, announced: false, update: undefined, updateTimestamp: 0, updatedAt: 0, policy: undefined, signedPolicy: undefined, signedDisabled: false, private: false, sentToPeer: false }
        records.set(k, r)
      }
      return r
    }

    const policyFor = (r: ChannelRecord, state: Extract<ChannelState, { _tag: "Normal" }>): ForwardingPolicy => {
      const base = r.policy ?? config.policy ?? defaultForwardingPolicy
      const params = state.commitments.params
      const capacityMsat = BigInt(params.fundingAmount) * 1000n
      const inFlight = BigInt(params.remote.maxHtlcValueInFlight)
      const max = [base.htlcMaximumMsat, capacityMsat, inFlight].reduce((a, b) => (a < b ? a : b))
      const min = base.htlcMinimumMsat > BigInt(params.local.htlcMinimum) ? base.htlcMinimumMsat : BigInt(params.local.htlcMinimum)
      return { ...base, htlcMinimumMsat: min, htlcMaximumMsat: max }
    }

    const sign = (digest: Uint8Array) => nodeSigner.signDigest(digest).pipe(Effect.orDie) // a 32-byte digest: never invalid

    /** Our `channel_update` for the channel (raw), timestamps strictly increasing. */
    const makeUpdate = (r: ChannelRecord, scid: ShortChannelId, peer: NodeId, policy: ForwardingPolicy, dontForward: boolean, disabled = false) =>
      Effect.gen(function*() {
        const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const timestamp = Math.max(now, r.updateTimestamp + 1)
        const unsigned = encodeOrDie(ChannelUpdate.encode(ChannelUpdate.make({
          signature: new Uint8Array(64),
          chainHash,
          shortChannelId: scid,
          timestamp,
          messageFlags: MESSAGE_FLAG_MUST_BE_ONE | (dontForward ? MESSAGE_FLAG_DONT_FORWARD : 0),
          channelFlags: channelFlags(directionOf(ourId, peer), disabled),
          cltvExpiryDelta: policy.cltvExpiryDelta,
          htlcMinimumMsat: policy.htlcMinimumMsat,
          feeBaseMsat: policy.feeBaseMsat,
          feeProportionalMillionths: policy.feeProportionalMillionths,
          htlcMaximumMsat: policy.htlcMaximumMsat
        })))
        unsigned.set(yield* sign(channelUpdateDigest(unsigned)), 2)
        r.update = unsigned
        r.updateTimestamp = timestamp
        r.updatedAt = yield* Clock.currentTimeMillis
        r.signedPolicy = policy
        r.signedDisabled = disabled
        return unsigned
      })

    const makeNodeAnnouncement = Effect.gen(function*() {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      nodeTimestamp = Math.max(now, nodeTimestamp + 1)
      const [r, g, b] = config.color ?? [0x33, 0x99, 0xff]
      const raw = encodeOrDie(NodeAnnouncement.encode(NodeAnnouncement.make({
        signature: new Uint8Array(64),
        features: featuresToBytes(ourNodeFeatures),
        timestamp: nodeTimestamp,
        nodeId: ourId,
        rgbColor: Uint8Array.of(r, g, b),
        alias: SHORT_ALIAS(config.alias),
        // BOLT 7: descriptors in ascending order of type.
        addresses: { addresses: [...(config.addresses ?? [])].sort((x, y) => addressType(x) - addressType(y)), unparsed: new Uint8Array(0) }
      })))
      raw.set(yield* sign(nodeAnnouncementDigest(raw)), 2)
      nodeAnnouncement = raw
      return raw
    })

    /** Our half of the channel's announcement (node and funding-key signatures). */
    const ourHalf = (state: Extract<ChannelState, { _tag: "Normal" }>, scid: ShortChannelId, peer: NodeId) =>
      Effect.gen(function*() {
        const params = state.commitments.params
        const weAreFirst = compareBytes(ourId, peer) < 0
        const ourKey = params.local.basepoints.fundingPubkey
        const theirKey = params.remote.basepoints.fundingPubkey
        const unsigned = encodeOrDie(unsignedChannelAnnouncement({
          features: new Uint8Array(0),
          chainHash,
          shortChannelId: scid,
          nodeId1: weAreFirst ? ourId : peer,
          nodeId2: weAreFirst ? peer : ourId,
          bitcoinKey1: weAreFirst ? ourKey : theirKey,
          bitcoinKey2: weAreFirst ? theirKey : ourKey
        }))
        const keyId = channelKeyId(params.keyId)
        if (keyId === undefined) return undefined
        const bitcoin = yield* channelSigner.signChannelAnnouncement(keyId, channelAnnouncementSignedPart(unsigned)).pipe(
          Effect.tapError((e) => Effect.logWarning(`announcement: the signer refused (${e._tag}: ${e.reason})`)),
          Effect.option
        )
        if (Option.isNone(bitcoin)) return undefined
        const node = yield* sign(channelAnnouncementDigest(unsigned))
        return { scid, node, bitcoin: bitcoin.value, unsigned }
      })

    /** The peer's half checks out: its node key and funding key signed our announcement. */
    const theirsValid = (state: Extract<ChannelState, { _tag: "Normal" }>, r: ChannelRecord, peer: NodeId): boolean => {
      if (r.ours === undefined || r.theirs === undefined || r.theirs.scid !== r.ours.scid) return false
      const digest = channelAnnouncementDigest(r.ours.unsigned)
      return config.secp.verify(r.theirs.node, digest, peer) &&
        config.secp.verify(r.theirs.bitcoin, digest, state.commitments.params.remote.basepoints.fundingPubkey)
    }

    const sendOurHalf = (channelId: ChannelId, r: ChannelRecord, peer: NodeId) =>
      Effect.gen(function*() {
        if (r.ours === undefined) return
        const m = AnnouncementSignatures.encode(AnnouncementSignatures.make({
          channelId,
          shortChannelId: r.ours.scid,
          nodeSignature: r.ours.node,
          bitcoinSignature: r.ours.bitcoin
        }))
        if (Result.isFailure(m)) return
        if (yield* gossip.sendTo(peer, [m.success])) r.lastSent = yield* Clock.currentTimeMillis
      })

    const checkChannel = (nodeId: NodeId, channelId: ChannelId, state: ChannelState, height: number | undefined, connected: ReadonlySet<string>) =>
      Effect.gen(function*() {
        if (state._tag !== "Normal" || state.shutdown.localScript !== undefined || state.shutdown.remoteScript !== undefined) return
        const r = recordOf(channelId)
        const params = state.commitments.params
        const now = yield* Clock.currentTimeMillis
        const online = connected.has(toHex(nodeId))
        const policy = policyFor(r, state)
        const stale = r.update === undefined || !samePolicy(r.signedPolicy, policy) || now - r.updatedAt >= refreshMs
        if (!params.announce) {
          // Private: our update with dont_forward, to the peer only, scid = our alias if any.
          r.private = true
          const scid = state.localAlias ?? state.shortChannelId
          if (scid === undefined) return
          if (!online) r.sentToPeer = false // sent again when the peer is back
          if (stale || (online && !r.sentToPeer)) {
            const update = stale || r.update === undefined ? yield* makeUpdate(r, scid, nodeId, policy, true) : r.update
            if (online && (yield* gossip.sendTo(nodeId, [update]))) {
              r.lastSent = now
              r.sentToPeer = true
            }
          }
          return
        }
        const scid = state.shortChannelId
        if (scid === undefined || height === undefined) return
        const block = Number(scid >> 40n)
        if (height - block + 1 < minDepth) return
        if (r.ours === undefined || r.ours.scid !== scid) r.ours = yield* ourHalf(state, scid, nodeId)
        if (r.ours === undefined) return
        if (!r.announced) {
          // BOLT 7: MUST send ours (also when theirs came first: the peer needs it to announce too).
          if (online && r.lastSent === undefined) yield* sendOurHalf(channelId, r, nodeId)
          if (r.theirs !== undefined && theirsValid(state, r, nodeId)) {
            const weAreFirst = compareBytes(ourId, nodeId) < 0
            const announcement = withChannelAnnouncementSignatures(r.ours.unsigned, {
              node1: weAreFirst ? r.ours.node : r.theirs.node,
              node2: weAreFirst ? r.theirs.node : r.ours.node,
              bitcoin1: weAreFirst ? r.ours.bitcoin : r.theirs.bitcoin,
              bitcoin2: weAreFirst ? r.theirs.bitcoin : r.ours.bitcoin
            })
            const update = yield* makeUpdate(r, scid, nodeId, policy, false)
            const node = nodeAnnouncement ?? (yield* makeNodeAnnouncement)
            r.announced = true
            yield* Effect.logInfo(`announcing channel ${toHex(channelId)}`)
            return yield* gossip.broadcastOwn([announcement, update, node])
          }
          if (online && (r.lastSent === undefined || now - r.lastSent >= resendMs)) yield* sendOurHalf(channelId, r, nodeId)
          return
        }
        // The disable bit follows the peer's connection (BOLT 7), set or cleared by a new update.
        if (stale || r.signedDisabled !== !online) yield* gossip.broadcastOwn([yield* makeUpdate(r, scid, nodeId, policy, false, !online)])
      })

    /** Every channel, now (serialized with the signatures handler below). */
    const check = Effect.gen(function*() {
      const height = yield* tipHeight
      const connected = new Set((yield* gossip.connectedPeers).map((n) => toHex(n)))
      let anyAnnounced = false
      for (const c of yield* manager.listChannels) {
        yield* checkChannel(c.nodeId, c.channelId, c.state, height, connected)
        if (records.get(toHex(c.channelId))?.announced === true) anyAnnounced = true
      }
      // The node announcement is re-signed as often as the updates (only with a public channel: BOLT 7).
      if (anyAnnounced && nodeAnnouncement !== undefined && (yield* Clock.currentTimeMillis) - nodeTimestamp * 1000 >= refreshMs) {
        yield* gossip.broadcastOwn([yield* makeNodeAnnouncement])
      }
    })

    const lock = yield* Semaphore.make(1)
    const serialized = <A, E, R>(e: Effect.Effect<A, E, R>) => lock.withPermit(e)

    /** The peer's `announcement_signatures`: kept, and answered with ours when we have it (BOLT 7 MUST). */
    const onSignatures = (nodeId: NodeId, m: AnnouncementSignatures) =>
      Effect.gen(function*() {
        const info = yield* manager.channel(m.channelId).pipe(Effect.option)
        if (Option.isNone(info) || !equalBytes(info.value.nodeId, nodeId)) {
          return yield* Effect.logInfo(`announcement_signatures for an unknown channel from ${toHex(nodeId)}`)
        }
        const r = recordOf(m.channelId)
        r.theirs = { scid: m.shortChannelId, node: m.nodeSignature, bitcoin: m.bitcoinSignature }
        const state = info.value.state
        if (state._tag === "Normal" && r.ours !== undefined && !theirsValid(state, r, nodeId)) {
          r.theirs = undefined
          return yield* Effect.logWarning(`invalid announcement_signatures from ${toHex(nodeId)}`)
        }
        // BOLT 7: MUST respond with ours (also after we announced: the peer may have missed it);
        // at most once per `resendInterval`, so two nodes that both answer do not loop.
        const now = yield* Clock.currentTimeMillis
        if (r.ours !== undefined && (r.lastSent === undefined || now - r.lastSent >= resendMs)) yield* sendOurHalf(m.channelId, r, nodeId)
        yield* check
      })

    yield* Queue.take(gossip.announcementSignatures).pipe(
      Effect.flatMap(({ nodeId, message }) => serialized(onSignatures(nodeId, message))),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.sleep(config.checkInterval ?? "10 seconds").pipe(
      Effect.andThen(serialized(check)),
      Effect.catchCause((cause) => Effect.logWarning("announcer check failed", cause)),
      Effect.forever,
      Effect.forkScoped
    )

    return GossipAnnouncer.of({
      check: serialized(check),
      channelUpdate: (channelId) => Effect.sync(() => records.get(toHex(channelId))?.update),
      policy: (channelId) =>
        Effect.sync(() => records.get(toHex(channelId))?.policy ?? config.policy ?? defaultForwardingPolicy),
      setPolicy: (channelId, policy) => Effect.sync(() => void (recordOf(channelId).policy = policy)),
      announced: Effect.sync(() => [...records.entries()].filter(([, r]) => r.announced).map(([k]) => k)).pipe(
        Effect.flatMap((keys) =>
          manager.listChannels.pipe(Effect.map((cs) => cs.filter((c) => keys.includes(toHex(c.channelId))).map((c) => c.channelId)))
        )
      )
    })
  })
