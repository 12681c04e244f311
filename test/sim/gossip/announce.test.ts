/**
 * Our own announcements between our nodes, each with a ChannelManager, a GossipSync and a
 * GossipAnnouncer: announcement_signatures after 6 confirmations, then the channel_announcement,
 * channel_updates and node_announcements reach both ends and, relayed, a third node.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Result, type Scope, Stream } from "effect"
import { channelPeerConfig, make as makeChannelManager, type NodeChannelEvent } from "../../../src/actors/ChannelManager.ts"
import * as GossipAnnouncer from "../../../src/actors/GossipAnnouncer.ts"
import * as GossipSync from "../../../src/actors/GossipSync.ts"
import * as PeerManager from "../../../src/actors/PeerManager.ts"
import { ChannelManager } from "../../../src/actors/ChannelManager.ts"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { ChannelUpdate, MESSAGE_FLAG_DONT_FORWARD } from "../../../src/protocol/messages/gossip.ts"
import { defaultForwardingPolicy } from "../../../src/protocol/payment/forward.ts"
import { type ChannelId, sat } from "../../../src/protocol/units.ts"
import { makeNetworkGraph } from "../../../src/layers/graph/MemoryNetworkGraph.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import { seededEntropy } from "../../../src/layers/test/SeededEntropy.ts"
import { seededNodeSigner } from "../../../src/layers/test/SeededNodeSigner.ts"
import { ChannelSigner } from "../../../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../../../src/services/MonitorPersister.ts"
import { NetworkGraph, type NetworkGraphShape } from "../../../src/services/NetworkGraph.ts"
import { awaitEvent, fakeFundingTx, makeMemoryPersister, payoutScript, type TestNode } from "../../actors/ChannelManagerHarness.ts"

const PORT = 9735

interface Node extends TestNode {
  readonly graph: NetworkGraphShape
  readonly sync: GossipSync.GossipSyncShape
  readonly announcer: GossipAnnouncer.GossipAnnouncerShape
}

/** The chain height every node sees (the test mines by setting it). */
const chain = { height: 100 }

const startNode = (net: MemoryNetwork, name: string, host: string): Effect.Effect<Node, never, Scope.Scope> =>
  Effect.gen(function*() {
    const graph = yield* makeNetworkGraph({ secp: nobleSecp256k1 }, undefined).pipe(Effect.orDie)
    const sync = yield* GossipSync.make({ flushInterval: "100 millis" }).pipe(Effect.provideService(NetworkGraph, graph))
    const nodeSignerLayer = seededNodeSigner(name, nobleSecp256k1)
    const peers = yield* PeerManager.make(GossipSync.gossipPeerManagerConfig(sync, { listen: { host, port: PORT }, ...channelPeerConfig })).pipe(
      Effect.provide(Layer.mergeAll(net.layer(host), seededEntropy(name), nodeSignerLayer)),
      Effect.orDie
    )
    const signer = makeSeedChannelSigner(sha256(new TextEncoder().encode(`channel-signer/${name}`)), nobleSecp256k1)
    const persister = yield* makeMemoryPersister()
    const channels = yield* makeChannelManager({ secp: nobleSecp256k1, shutdownScript: payoutScript(name) }).pipe(
      Effect.provideService(PeerManager.PeerManager, peers),
      Effect.provideService(ChannelSigner, signer),
      Effect.provideService(MonitorPersister, persister),
      Effect.provide(seededEntropy(`${name}/channels`)),
      Effect.orDie
    )
    const events: Array<NodeChannelEvent> = []
    const stream = yield* channels.subscribe
    yield* Effect.forkScoped(stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e)))))
    const announcer = yield* GossipAnnouncer.make({
      secp: nobleSecp256k1,
      alias: `node ${name}`,
      color: [1, 2, 3],
      checkInterval: "20 millis",
      resendInterval: "200 millis",
      tipHeight: Effect.sync(() => chain.height)
    }).pipe(
      Effect.provideService(GossipSync.GossipSync, sync),
      Effect.provideService(ChannelManager, channels),
      Effect.provideService(ChannelSigner, signer),
      Effect.provide(nodeSignerLayer)
    )
    return { name, host, peers, channels, signer, persister, events, graph, sync, announcer }
  })

const connect = (a: Node, b: Node) => a.peers.connect(b.peers.nodeId, { host: b.host, port: PORT })

/** Opens and funds a channel from `a` to `b` (confirmed in block 100) and brings it to `channel_ready`. */
const openReadyChannel = (a: Node, b: Node, announce: boolean, txIndex: number) =>
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

const sleep = (ms: number) => Effect.sleep(`${ms} millis`)

describe("our own announcements", () => {
  it.live("after 6 confirmations both ends announce the channel; a third node learns it by relay", () =>
    Effect.gen(function*() {
      chain.height = 100
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      const carol = yield* startNode(net, "carol", "10.0.0.3")
      yield* connect(alice, bob)
      yield* connect(carol, bob)
      const { channelId, scid } = yield* openReadyChannel(alice, bob, true, 1)
      // 5 confirmations: nothing is announced
      chain.height = 104
      yield* sleep(200)
      assert.deepStrictEqual(yield* alice.announcer.announced, [])
      assert.strictEqual((yield* alice.graph.stats).channels, 0)
      // the 6th: announcement_signatures both ways, then the announcement
      chain.height = 105
      const hasChannel = (n: Node) =>
        Effect.gen(function*() {
          for (let i = 0; i < 500; i++) {
            const c = yield* n.graph.channel(scid)
            const nodes = yield* n.graph.nodes
            if (c !== undefined && c.directions.every((d) => d !== undefined) && nodes.filter((x) => x.announcement !== undefined).length === 2) return c
            yield* sleep(10)
          }
          return assert.fail(`${n.name} never learned the channel`)
        })
      const seenByAlice = yield* hasChannel(alice)
      yield* hasChannel(bob)
      yield* hasChannel(carol) // not a peer of alice: relayed by bob
      assert.strictEqual(seenByAlice.capacitySat, undefined)
      const aliceNode = yield* carol.graph.node(alice.peers.nodeId)
      assert.strictEqual(aliceNode?.announcement?.alias, "node alice")
      assert.deepStrictEqual([...(aliceNode?.announcement?.rgbColor ?? [])], [1, 2, 3])
      assert.deepStrictEqual((yield* alice.announcer.announced).map(toHex), [toHex(channelId)])
      // our channel_update for payments
      const raw = yield* alice.announcer.channelUpdate(channelId)
      const update = raw === undefined ? undefined : ChannelUpdate.decode(raw)
      assert.isTrue(update !== undefined && Result.isSuccess(update) && update.success.shortChannelId === scid)
      // a policy change goes out as a newer update, to the far end of the network too
      yield* alice.announcer.setPolicy(channelId, { ...defaultForwardingPolicy, feeBaseMsat: 4242 })
      for (let i = 0; i < 500; i++) {
        const c = yield* carol.graph.channel(scid)
        if (c?.directions.some((d) => d?.feeBaseMsat === 4242)) break
        if (i === 499) assert.fail("carol never saw the new fee")
        yield* sleep(10)
      }
    }), { timeout: 60_000 })

  it.live("a private channel gets a dont_forward channel_update, sent to the peer only and never in a graph", () =>
    Effect.gen(function*() {
      chain.height = 200
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob, false, 2)
      let raw: Uint8Array | undefined
      for (let i = 0; i < 500 && raw === undefined; i++) {
        raw = yield* alice.announcer.channelUpdate(channelId)
        if (raw === undefined) yield* sleep(10)
      }
      const decoded = raw === undefined ? undefined : ChannelUpdate.decode(raw)
      assert.isTrue(decoded !== undefined && Result.isSuccess(decoded) && (decoded.success.messageFlags & MESSAGE_FLAG_DONT_FORWARD) !== 0)
      // bob received it (as gossip) and the graph refused it: private channels are not public gossip
      for (let i = 0; i < 500; i++) {
        if ((yield* bob.sync.stats).received >= 1) break
        yield* sleep(10)
      }
      assert.isAtLeast((yield* bob.sync.stats).received, 1)
      assert.strictEqual((yield* bob.graph.stats).channels, 0)
      // after a reconnection the peer gets it again
      const before = (yield* bob.sync.stats).received
      yield* alice.peers.disconnect(bob.peers.nodeId)
      yield* sleep(100)
      yield* connect(alice, bob)
      for (let i = 0; i < 500; i++) {
        if ((yield* bob.sync.stats).received > before) break
        yield* sleep(10)
      }
      assert.isAbove((yield* bob.sync.stats).received, before)
      chain.height = 300
      yield* sleep(200)
      assert.deepStrictEqual(yield* alice.announcer.announced, [])
    }), { timeout: 60_000 })
})
