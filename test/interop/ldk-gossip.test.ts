/**
 * Gossip with a real implementation (issue 10): LDK (rust-lightning 0.1, `lightningdevkit` WASM,
 * with its `P2PGossipSync` over its `NetworkGraph`, no UTXO lookup) over real TCP on 127.0.0.1,
 * against our node (PeerManager with GossipSync, ChannelManager, GossipAnnouncer).
 *
 * We open an announced channel to LDK (`announce_channel`); both sides see the funding
 * transaction with 6 confirmations (LDK's hand-driven chain; our announcer reads LDK's height),
 * exchange `announcement_signatures`, and broadcast. Then: LDK's graph holds our channel, our
 * `channel_update` and our `node_announcement` (alias); ours holds the channel, LDK's
 * `channel_update` and LDK's `node_announcement` (LDK broadcasts it once the channel is public).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, it } from "@effect/vitest"
import * as ldk from "lightningdevkit"
import { Clock, Effect, Layer, type Scope, Stream } from "effect"
import { channelPeerConfig, ChannelManager, make as makeChannelManager, type NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import * as GossipAnnouncer from "../../src/actors/GossipAnnouncer.ts"
import * as GossipSync from "../../src/actors/GossipSync.ts"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { makeNetworkGraph } from "../../src/layers/graph/MemoryNetworkGraph.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import * as TcpTransport from "../../src/layers/node/TcpTransport.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { type NodeId, sat } from "../../src/protocol/units.ts"
import { ChannelSigner } from "../../src/services/ChannelSigner.ts"
import { MonitorPersister } from "../../src/services/MonitorPersister.ts"
import { NetworkGraph } from "../../src/services/NetworkGraph.ts"
import { makeMemoryPersister, payoutScript } from "../actors/ChannelManagerHarness.ts"
import { fundingTransaction } from "./ldk/fundingTx.ts"
import { type LdkEvent, LdkNode } from "./ldk/LdkNode.ts"

const HOST = "127.0.0.1"
const OUR_SEED = "ldk-gossip-interop"
const OUR_ALIAS = "effect-lightning"
const LDK_ALIAS = "ldk-gossip"
const secp = wasmSecp256k1

const startLdk: Effect.Effect<LdkNode, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => LdkNode.start({ announce: true, gossip: true })),
  (node, exit) =>
    Effect.promise(async () => {
      if (exit._tag === "Failure") process.stderr.write(`---- LDK log (${node.nodeIdHex}) ----\n${node.peer.logText("DEBUG")}\n`)
      await node.stop()
    })
)

const startOurNode = (ldkHeight: () => number) =>
  Effect.gen(function*() {
    const graph = yield* makeNetworkGraph({ secp }, undefined).pipe(Effect.orDie)
    const sync = yield* GossipSync.make({ flushInterval: "200 millis" }).pipe(Effect.provideService(NetworkGraph, graph))
    const nodeSigner = SeededNodeSigner.layer(OUR_SEED, secp)
    const peers = yield* PeerManager.make(GossipSync.gossipPeerManagerConfig(sync, { listen: { host: HOST, port: 0 }, ...channelPeerConfig })).pipe(
      Effect.provide(Layer.mergeAll(TcpTransport.layer(), OsEntropy.layer, nodeSigner)),
      Effect.orDie
    )
    const persister = yield* makeMemoryPersister()
    const signer = makeSeedChannelSigner(sha256(new TextEncoder().encode(`${OUR_SEED}/channels`)), secp)
    const channels = yield* makeChannelManager({ secp, shutdownScript: payoutScript(OUR_SEED), feerateEstimatePerKw: 253 }).pipe(
      Effect.provideService(PeerManager.PeerManager, peers),
      Effect.provideService(ChannelSigner, signer),
      Effect.provideService(MonitorPersister, persister),
      Effect.provide(OsEntropy.layer),
      Effect.orDie
    )
    const events: Array<NodeChannelEvent> = []
    const stream = yield* channels.subscribe
    yield* Effect.forkScoped(stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e)))))
    const announcer = yield* GossipAnnouncer.make({
      secp,
      alias: OUR_ALIAS,
      color: [0x12, 0x34, 0x56],
      checkInterval: "50 millis",
      resendInterval: "500 millis",
      tipHeight: Effect.sync(ldkHeight)
    }).pipe(
      Effect.provideService(GossipSync.GossipSync, sync),
      Effect.provideService(ChannelManager, channels),
      Effect.provideService(ChannelSigner, signer),
      Effect.provide(nodeSigner)
    )
    return { peers, channels, events, graph, sync, announcer }
  })

/** Polls `check` every 10 ms on the real clock (pumping LDK); dies with `what` after `timeoutMs`. */
const waitFor = <A, R>(what: string, node: LdkNode, check: Effect.Effect<A | undefined, never, R>, timeoutMs = 20_000): Effect.Effect<A, never, R> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
    for (;;) {
      node.pump()
      const v = yield* check
      if (v !== undefined) return v
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

const ourEvent = <T extends NodeChannelEvent["event"]["_tag"]>(events: ReadonlyArray<NodeChannelEvent>, tag: T) =>
  events.map((e) => e.event).find((e): e is Extract<NodeChannelEvent["event"], { _tag: T }> => e._tag === tag)

const ldkEvent = <T extends LdkEvent["_tag"]>(node: LdkNode, tag: T) =>
  node.events.find((e): e is Extract<LdkEvent, { _tag: T }> => e._tag === tag)

/** Reads LDK's graph under its read lock (released at once: LDK blocks on it otherwise). */
const readLdkGraph = <A>(node: LdkNode, f: (g: ldk.ReadOnlyNetworkGraph) => A): A => {
  const g = node.graph.read_only()
  try {
    return f(g)
  } finally {
    g.free()
  }
}

const ldkAlias = (info: ldk.NodeInfo | null): string | undefined => {
  if (info === null) return undefined
  const a = info.get_announcement_info()
  if (!(a instanceof ldk.Option_NodeAnnouncementInfoZ_Some)) return undefined
  const bytes = a.some.alias().get_a()
  const end = bytes.indexOf(0)
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end))
}

describe("gossip interop with LDK", () => {
  it.live("LDK learns our public channel and node announcement, and we learn LDK's", () =>
    Effect.gen(function*() {
      const node = yield* startLdk
      const ours = yield* startOurNode(() => node.height)
      const ldkId = node.nodeId as NodeId
      yield* ours.peers.connect(ldkId, { host: HOST, port: node.port }).pipe(Effect.orDie)
      yield* waitFor("LDK to list us", node, Effect.sync(() => node.peer.peer(toHex(ours.peers.nodeId))))

      // An announced channel, funded by us.
      const temporary = yield* ours.channels.openChannel(ldkId, sat(200_000n), { announce: true }).pipe(Effect.orDie)
      const needed = yield* waitFor("our FundingNeeded", node, Effect.sync(() => ourEvent(ours.events, "FundingNeeded")))
      const funding = fundingTransaction(needed.scriptPubKey, needed.amount)
      yield* ours.channels.fundChannel(temporary, funding.bytes).pipe(Effect.orDie)
      const pending = yield* waitFor("our ChannelPending", node, Effect.sync(() => ourEvent(ours.events, "ChannelPending")))
      yield* waitFor("LDK ChannelPending", node, Effect.sync(() => ldkEvent(node, "ChannelPending")))
      // 6 confirmations on both sides (LDK puts the funding transaction at index 1).
      const height = node.mine([funding.bytes], 5)
      const scid = shortChannelIdFromParts(height, 1, 0)
      yield* ours.channels.chainFact(pending.channelId, { _tag: "FundingDepth", depth: 6, shortChannelId: scid }).pipe(Effect.orDie)
      yield* waitFor("LDK ChannelReady", node, Effect.sync(() => ldkEvent(node, "ChannelReady")))
      yield* waitFor("our ChannelReady", node, Effect.sync(() => ourEvent(ours.events, "ChannelReady")))
      node.mine([], 1) // LDK sends announcement_signatures on a new block once the depth is reached

      // announcement_signatures both ways, then both broadcast: LDK's graph has the channel and our update.
      yield* waitFor("our announcement", node, ours.announcer.announced.pipe(Effect.map((a) => (a.length === 1 ? a : undefined))))
      yield* waitFor("LDK's graph has our channel with both updates", node, Effect.sync(() =>
        readLdkGraph(node, (g) => {
          const c = g.channel(scid)
          return c !== null && c.get_one_to_two() !== null && c.get_two_to_one() !== null ? true : undefined
        })
      ))
      yield* waitFor("LDK's graph has our node announcement", node, Effect.sync(() =>
        readLdkGraph(node, (g) => ldkAlias(g.node(ldk.NodeId.constructor_from_pubkey(ours.peers.nodeId))) === OUR_ALIAS ? true : undefined)
      ))

      // LDK announces itself (it does once it has a public channel); we learn it, and its update.
      node.peer.broadcastNodeAnnouncement(LDK_ALIAS, Uint8Array.of(9, 8, 7))
      const ldkNode = yield* waitFor("our graph has LDK's node announcement", node, ours.graph.node(ldkId).pipe(
        Effect.map((n) => (n?.announcement?.alias === LDK_ALIAS ? n : undefined))
      ))
      assert.deepStrictEqual([...(ldkNode.announcement?.rgbColor ?? [])], [9, 8, 7])
      yield* waitFor("our graph has the channel with LDK's update", node, ours.graph.channel(scid).pipe(
        Effect.map((c) => (c !== undefined && c.directions.every((d) => d !== undefined) ? c : undefined))
      ))
      const stats = yield* ours.sync.stats
      assert.strictEqual(stats.invalid, 0)
      assert.strictEqual(stats.bannedPeers, 0)
    }), { timeout: 90_000 })
})
