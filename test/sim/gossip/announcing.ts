/**
 * Our nodes with gossip, for the BOLT 7 tests of our own announcements: each a ChannelManager,
 * a GossipSync and a GossipAnnouncer over the in-memory network, the chain height shared
 * (`chain.height`: a test mines by setting it), and a channel opened and confirmed by hand.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Result, type Scope, Stream } from "effect"
import { channelPeerConfig, ChannelManager, make as makeChannelManager, type NodeChannelEvent } from "../../../src/actors/ChannelManager.ts"
import * as GossipAnnouncer from "../../../src/actors/GossipAnnouncer.ts"
import * as GossipSync from "../../../src/actors/GossipSync.ts"
import * as PeerManager from "../../../src/actors/PeerManager.ts"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { type ChannelId, sat } from "../../../src/protocol/units.ts"
import { makeNetworkGraph } from "../../../src/layers/graph/MemoryNetworkGraph.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import type { MemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../../src/layers/test/SeededEntropy.ts"
import * as SeededNodeSigner from "../../../src/layers/test/SeededNodeSigner.ts"
import { ChannelSigner } from "../../../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../../../src/services/MonitorPersister.ts"
import { NetworkGraph, type NetworkGraphShape } from "../../../src/services/NetworkGraph.ts"
import { awaitEvent, fakeFundingTx, makeMemoryPersister, payoutScript, type TestNode } from "../../actors/ChannelManagerHarness.ts"

export const PORT = 9735

export interface Node extends TestNode {
  readonly graph: NetworkGraphShape
  readonly sync: GossipSync.GossipSyncShape
  readonly announcer: GossipAnnouncer.GossipAnnouncerShape
}

/** The chain height every node sees (the test mines by setting it). */
export const chain = { height: 100 }

export const startNode = (
  net: MemoryNetwork,
  name: string,
  host: string,
  syncConfig: GossipSync.GossipSyncConfig = {},
  announcerConfig: Partial<GossipAnnouncer.GossipAnnouncerConfig> = {}
): Effect.Effect<Node, never, Scope.Scope> =>
  Effect.gen(function*() {
    const graph = yield* makeNetworkGraph({ secp: nobleSecp256k1 }, undefined).pipe(Effect.orDie)
    const sync = yield* GossipSync.make({ flushInterval: "100 millis", ...syncConfig }).pipe(Effect.provideService(NetworkGraph, graph))
    const nodeSignerLayer = SeededNodeSigner.layer(name, nobleSecp256k1)
    const peers = yield* PeerManager.make(GossipSync.gossipPeerManagerConfig(sync, { listen: { host, port: PORT }, ...channelPeerConfig })).pipe(
      Effect.provide(Layer.mergeAll(net.layer(host), SeededEntropy.layer(name), nodeSignerLayer)),
      Effect.orDie
    )
    const signer = makeSeedChannelSigner(sha256(new TextEncoder().encode(`channel-signer/${name}`)), nobleSecp256k1)
    const persister = yield* makeMemoryPersister()
    const channels = yield* makeChannelManager({ secp: nobleSecp256k1, shutdownScript: payoutScript(name) }).pipe(
      Effect.provideService(PeerManager.PeerManager, peers),
      Effect.provideService(ChannelSigner, signer),
      Effect.provideService(MonitorPersister, persister),
      Effect.provide(SeededEntropy.layer(`${name}/channels`)),
      Effect.orDie
    )
    const events: Array<NodeChannelEvent> = []
    const stream = yield* channels.subscribe
    yield* Effect.forkScoped(stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e)))))
    const announcer = yield* GossipAnnouncer.make({
      secp: nobleSecp256k1,
      alias: `node ${name}`,
      color: [1, 2, 3],
      // Given out of order: the announcer places them ascending by type (BOLT 7).
      addresses: [{ _tag: "Dns", hostname: `${name}.example`, port: 9735 }, { _tag: "Ipv4", addr: Uint8Array.of(10, 0, 0, 1), port: PORT }],
      checkInterval: "20 millis",
      resendInterval: "200 millis",
      tipHeight: Effect.sync(() => chain.height),
      ...announcerConfig
    }).pipe(
      Effect.provideService(GossipSync.GossipSync, sync),
      Effect.provideService(ChannelManager, channels),
      Effect.provideService(ChannelSigner, signer),
      Effect.provide(nodeSignerLayer)
    )
    return { name, host, peers, channels, signer, persister, events, graph, sync, announcer }
  })

export const connect = (a: Node, b: Node) => a.peers.connect(b.peers.nodeId, { host: b.host, port: PORT })

/** Opens and funds a channel from `a` to `b` (confirmed in block 100) and brings it to `channel_ready`. */
export const openReadyChannel = (a: Node, b: Node, announce: boolean, txIndex: number) =>
  Effect.gen(function*() {
    let temporaryChannelId: ChannelId | undefined
    for (let i = 0; i < 1000 && temporaryChannelId === undefined; i++) {
      const r = yield* Effect.result(a.channels.openChannel(b.peers.nodeId, sat(1_000_000n), { announce }))
      if (Result.isSuccess(r)) temporaryChannelId = r.success
      else yield* Effect.sleep("2 millis")
    }
    if (temporaryChannelId === undefined) return yield* Effect.die(new Error("never connected"))
    const tmp = temporaryChannelId
    const needed = yield* awaitEvent(a, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, tmp))
    yield* a.channels.fundChannel(tmp, fakeFundingTx(needed.event.scriptPubKey, needed.event.amount, txIndex))
    const from = a.events.length
    const pending = yield* awaitEvent(a, "ChannelPending", () => true, Math.max(0, from - 5))
    const channelId = pending.event.channelId
    const watchA = yield* awaitEvent(a, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
    const watchB = yield* awaitEvent(b, "WatchFunding", (_, all) => equalBytes(all.channelId, channelId))
    const scid = shortChannelIdFromParts(100, txIndex, watchA.event.outpoint.vout)
    yield* a.channels.chainFact(channelId, { _tag: "FundingDepth", depth: watchA.event.minimumDepth, shortChannelId: scid })
    yield* b.channels.chainFact(channelId, { _tag: "FundingDepth", depth: watchB.event.minimumDepth, shortChannelId: scid })
    yield* awaitEvent(a, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
    yield* awaitEvent(b, "ChannelReady", (e) => equalBytes(e.channelId, channelId))
    return { channelId, scid }
  })

export const sleep = (ms: number) => Effect.sleep(`${ms} millis`)
