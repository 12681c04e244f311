/**
 * Our own announcements between our nodes, each with a ChannelManager, a GossipSync and a
 * GossipAnnouncer: announcement_signatures after 6 confirmations, then the channel_announcement,
 * channel_updates and node_announcements reach both ends and, relayed, a third node.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { ChannelUpdate, MESSAGE_FLAG_DONT_FORWARD } from "../../../src/protocol/messages/gossip.ts"
import { defaultForwardingPolicy } from "../../../src/protocol/payment/forward.ts"
import { makeMemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import { chain, connect, type Node, openReadyChannel, sleep, startNode } from "./announcing.ts"

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
