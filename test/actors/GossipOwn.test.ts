/**
 * Gossip leftovers of issue 10 (BOLT 7), between our nodes (each with a ChannelManager, a
 * GossipSync and a GossipAnnouncer, over the in-memory network):
 *
 * - our own gossip is kept and sent to a peer that connects AFTER it was broadcast (the peer
 *   does no range sync and asks for nothing from the past: it learns it only this way);
 * - the `disable` bit of our `channel_update` follows the peer's connection: set when the peer
 *   is offline at a check, cleared when it is back (a third node sees both);
 * - the peer's private (`dont_forward`) `channel_update` is kept (signature checked) and gives
 *   the route hint for our invoices: its policy towards us and the short channel id it uses.
 *
 * The nodes are those of test/sim/gossip/announcing.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { defaultForwardingPolicy } from "../../src/protocol/payment/forward.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { type NetworkGraphShape } from "../../src/services/NetworkGraph.ts"
import { chain, connect, type Node, openReadyChannel, sleep, startNode } from "../sim/gossip/announcing.ts"
import { nodeIdOf, signedUpdate } from "../sim/gossip/fixtures.ts"

/** Polls `check` every 10 ms (live clock) until it gives a value; fails with `what` after 5 s. */
const eventually = <A>(what: string, check: Effect.Effect<A | undefined>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const v = yield* check
      if (v !== undefined) return v
      yield* sleep(10)
    }
    return assert.fail(`never: ${what}`)
  })

/** Alice and Bob with an announced channel, both ends announced (6 confirmations). */
const announcedPair = (net: MemoryNetwork, txIndex: number, aliceAnnouncer: Parameters<typeof startNode>[4] = {}) =>
  Effect.gen(function*() {
    chain.height = 100
    const alice = yield* startNode(net, "alice", "10.0.0.1", {}, aliceAnnouncer)
    const bob = yield* startNode(net, "bob", "10.0.0.2")
    yield* connect(alice, bob)
    const { channelId, scid } = yield* openReadyChannel(alice, bob, true, txIndex)
    chain.height = 105
    yield* eventually("alice announced", Effect.map(alice.announcer.announced, (a) => (a.length === 1 ? a : undefined)))
    yield* eventually("bob has both directions", Effect.map(bob.graph.channel(scid), (c) => (c?.directions.every((d) => d !== undefined) ? c : undefined)))
    return { alice, bob, channelId, scid }
  })

/** Alice's direction of the channel as `n` sees it. */
const aliceDirection = (n: Node, alice: Node, scid: bigint) =>
  Effect.map(n.graph.channel(scid as Parameters<NetworkGraphShape["channel"]>[0]), (c) => {
    if (c === undefined) return undefined
    return c.directions[equalBytes(c.nodeId1, alice.peers.nodeId) ? 0 : 1]
  })

describe("gossip leftovers: own gossip for late peers, the disable bit, peers' private updates", () => {
  it.live("our own gossip reaches a peer that connects after the broadcast (no range sync, no backlog)", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, scid } = yield* announcedPair(net, 1)
      // Carol connects to alice only now; she runs no range sync and asks for nothing from the past.
      const carol = yield* startNode(net, "carol", "10.0.0.3", { syncPeers: 0 })
      yield* connect(carol, alice)
      const seen = yield* eventually("carol learns alice's channel", Effect.map(carol.graph.channel(scid), (c) => (c?.directions.some((d) => d !== undefined) ? c : undefined)))
      assert.strictEqual(seen.shortChannelId, scid)
      const node = yield* eventually("carol learns alice's node announcement", Effect.map(carol.graph.node(alice.peers.nodeId), (n) => n?.announcement))
      assert.strictEqual(node.alias, "node alice")
      assert.deepStrictEqual([...node.rgbColor], [1, 2, 3])
      assert.deepStrictEqual(node.addresses.map((a) => a._tag), ["Ipv4", "Dns"])
    }), { timeout: 60_000 })

  it.live("our channel_update and node_announcement are re-signed and sent again every refreshInterval, policy unchanged", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob, scid } = yield* announcedPair(net, 4, { refreshInterval: "1500 millis" })
      const first = yield* eventually("bob sees alice's update", aliceDirection(bob, alice, scid))
      const firstNode = yield* eventually("bob sees alice's node", Effect.map(bob.graph.node(alice.peers.nodeId), (n) => n?.announcement))
      const later = yield* eventually("a newer update", Effect.map(aliceDirection(bob, alice, scid), (d) => (d !== undefined && d.timestamp > first.timestamp ? d : undefined)))
      assert.deepStrictEqual(
        [later.feeBaseMsat, later.feeProportionalMillionths, later.cltvExpiryDelta, later.enabled],
        [first.feeBaseMsat, first.feeProportionalMillionths, first.cltvExpiryDelta, first.enabled]
      )
      const laterNode = yield* eventually("a newer node announcement", Effect.map(bob.graph.node(alice.peers.nodeId), (n) => (n?.announcement !== undefined && n.announcement.timestamp > firstNode.timestamp ? n.announcement : undefined)))
      assert.strictEqual(laterNode.alias, firstNode.alias)
    }), { timeout: 60_000 })

  it.live("the disable bit follows the peer: set while bob is offline, cleared when he is back (seen by a third node)", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const { alice, bob, scid } = yield* announcedPair(net, 2)
      const carol = yield* startNode(net, "carol", "10.0.0.3")
      yield* connect(carol, alice)
      const first = yield* eventually("carol sees alice's update", aliceDirection(carol, alice, scid))
      assert.isTrue(first.enabled)
      yield* alice.peers.disconnect(bob.peers.nodeId)
      yield* eventually("alice sees bob gone", Effect.map(alice.sync.connectedPeers, (ps) => (ps.some((p) => equalBytes(p, bob.peers.nodeId)) ? undefined : true)))
      yield* alice.announcer.check
      const disabled = yield* eventually("carol sees alice's direction disabled", Effect.map(aliceDirection(carol, alice, scid), (d) => (d !== undefined && !d.enabled ? d : undefined)))
      assert.isAbove(disabled.timestamp, first.timestamp)
      assert.strictEqual(disabled.feeBaseMsat, defaultForwardingPolicy.feeBaseMsat)
      // Another check while he is still away: no new update.
      yield* alice.announcer.check
      yield* sleep(150)
      assert.strictEqual((yield* aliceDirection(carol, alice, scid))?.timestamp, disabled.timestamp)
      yield* connect(alice, bob)
      yield* eventually("alice sees bob back", Effect.map(alice.sync.connectedPeers, (ps) => (ps.some((p) => equalBytes(p, bob.peers.nodeId)) ? true : undefined)))
      yield* alice.announcer.check
      const enabled = yield* eventually("carol sees it enabled again", Effect.map(aliceDirection(carol, alice, scid), (d) => (d !== undefined && d.enabled ? d : undefined)))
      assert.isAbove(enabled.timestamp, disabled.timestamp)
    }), { timeout: 60_000 })

  it.live("the peer's private channel_update is kept (signed by the peer) and gives our invoices' route hint", () =>
    Effect.gen(function*() {
      chain.height = 200
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob, false, 3)
      yield* alice.announcer.setPolicy(channelId, { ...defaultForwardingPolicy, feeBaseMsat: 777, feeProportionalMillionths: 33, cltvExpiryDelta: 55 })
      yield* alice.announcer.check
      const update = yield* eventually("bob keeps alice's private update", Effect.map(bob.sync.peerChannelUpdates(alice.peers.nodeId), (us) => us.find((u) => u.feeBaseMsat === 777)))
      assert.isTrue(equalBytes(update.nodeId, alice.peers.nodeId))
      assert.strictEqual(update.feeProportionalMillionths, 33)
      assert.strictEqual(update.cltvExpiryDelta, 55)
      assert.isFalse(update.disabled)
      // The scid alice put in it (her alias for the channel, as bob's hint must name it).
      const state = (yield* alice.channels.channel(channelId)).state
      const expectedScid = state._tag === "Normal" ? state.localAlias ?? state.shortChannelId : undefined
      assert.strictEqual(update.shortChannelId, expectedScid)
      const hints = yield* bob.sync.routeHints
      assert.deepStrictEqual(hints.map((h) => h.map((x) => [toHex(x.pubkey), x.shortChannelId, x.feeBaseMsat, x.feeProportionalMillionths, x.cltvExpiryDelta])), [[
        [toHex(alice.peers.nodeId), expectedScid, 777, 33, 55]
      ]])
      // Never in the graph, and nobody else's.
      assert.strictEqual((yield* bob.graph.stats).channels, 0)
      assert.deepStrictEqual(yield* alice.sync.peerChannelUpdates(alice.peers.nodeId), [])
    }), { timeout: 60_000 })

  it.live("a peer's update for an unannounced channel without dont_forward (as LDK 0.1 sends) is kept when the peer signed it", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      // Direction 0 is the smaller node id's: pick the direction alice (or carol) signs for.
      const aliceFirst = toHex(nodeIdOf("alice")) < toHex(nodeIdOf("bob"))
      const byAlice = signedUpdate("alice", "bob", 321, aliceFirst ? 0 : 1, 1_000, 4_242)
      const carolFirst = toHex(nodeIdOf("carol")) < toHex(nodeIdOf("bob"))
      const byCarol = signedUpdate("carol", "bob", 322, carolFirst ? 0 : 1, 1_000, 4_343)
      yield* eventually("alice's gossip sees bob", Effect.map(alice.sync.connectedPeers, (ps) => (ps.some((p) => equalBytes(p, bob.peers.nodeId)) ? true : undefined)))
      assert.isTrue(yield* alice.sync.sendTo(bob.peers.nodeId, [byCarol, byAlice]))
      const kept = yield* eventually("bob keeps alice's update", Effect.map(bob.sync.peerChannelUpdates(alice.peers.nodeId), (us) => us.find((u) => u.feeBaseMsat === 4_242)))
      assert.isTrue(equalBytes(kept.nodeId, alice.peers.nodeId))
      // Signed by another node than the peer that sent it: not kept.
      assert.isUndefined((yield* bob.sync.peerChannelUpdates()).find((u) => u.feeBaseMsat === 4_343))
      assert.strictEqual((yield* bob.graph.stats).channels, 0)
    }), { timeout: 60_000 })
})
