import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { PeerEvent } from "../../src/actors/PeerEvent.ts"
import { withGossipQueries } from "../../src/actors/GossipSync.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { dialRaw, initMessage } from "../sim/RawPeer.ts"
import { chainHash, counts, preload, ring, signedChannel, signedUpdate, startGossipNode } from "../sim/gossip/fixtures.ts"
import { ChannelAnnouncement, ChannelUpdate, GossipTimestampFilter, NodeAnnouncement } from "../../src/protocol/messages/gossip.ts"
import { Result } from "effect"

const alice = { host: "10.0.0.1", port: 9735 }

const settle = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow
  yield* TestClock.adjust("1 millis")
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow
})

const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, rounds = 300) =>
  Effect.gen(function*() {
    for (let i = 0; i < rounds; i++) {
      if (yield* check) return
      yield* settle
    }
    assert.fail(`never: ${what}`)
  })

/** Alice (a gossip node) and Mallory, a raw peer that sends what the test says. */
const setup = (config: Parameters<typeof startGossipNode>[3] = {}, malloryFeatures = withGossipQueries(ourInitFeatures)) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const node = yield* startGossipNode(net, "alice", alice.host, config)
    const events = yield* node.peers.subscribe
    const disconnected = yield* Effect.forkScoped(
      events.pipe(Stream.filter((e: PeerEvent) => e._tag === "PeerDisconnected"), Stream.take(1), Stream.runCollect)
    )
    const mallory = yield* dialRaw(net.transport("10.6.6.6"), alice, node.peers.nodeId, "mallory")
    yield* mallory.receiveTag("Init")
    yield* mallory.send(initMessage(malloryFeatures))
    yield* until("mallory connected", node.sync.stats.pipe(Effect.map((s) => s.peers === 1)))
    const counter = { sent: 0 }
    /** Sends until the connection is gone (a write to a closed pipe may also just wait); counts what went out. */
    const flood = (raws: ReadonlyArray<Uint8Array>) =>
      Effect.gen(function*() {
        for (const raw of raws) {
          const ok = yield* mallory.send(raw).pipe(Effect.as(true), Effect.catch(() => Effect.succeed(false)))
          if (!ok) break
          counter.sent++
        }
      })
    return { node, mallory, disconnected, flood, counter }
  })

/** A valid announcement with one byte of its first signature changed. */
const corrupt = (raw: Uint8Array): Uint8Array => {
  const bad = raw.slice()
  bad[10] = (bad[10] ?? 0) ^ 0x55
  return bad
}

describe("GossipSync spam bounds", () => {
  it.effect("a peer flooding invalid signatures is disconnected after maxStrikes, and nothing it sent is kept", () =>
    Effect.gen(function*() {
      const s = yield* setup({ maxStrikes: 5, maxPendingPerPeer: 16 })
      const distinct = Array.from({ length: 20 }, (_, i) => corrupt(signedChannel("m1", "m2", 1000 + i, 1000).announcement))
      const bad = Array.from({ length: 2000 }, (_, i) => distinct[i % 20] ?? new Uint8Array())
      yield* Effect.forkScoped(s.flood(bad))
      const [event] = yield* Fiber.join(s.disconnected)
      assert.strictEqual(event?._tag, "PeerDisconnected")
      assert.isBelow(s.counter.sent, bad.length) // cut off long before the end
      yield* settle
      const stats = yield* s.node.sync.stats
      assert.strictEqual((yield* counts(s.node.graph)).channels, 0)
      assert.strictEqual(stats.accepted, 0)
      // checked at most: the strikes, and what was already queued (bounded by maxPendingPerPeer)
      assert.isAtMost(stats.invalid, 5 + 16)
      assert.strictEqual(stats.bannedPeers, 1)
      assert.strictEqual(stats.peers, 0)
      assert.strictEqual(stats.orphans, 0)
      assert.strictEqual(stats.relayPending, 0)
    }))

  it.effect("a flood of stale duplicates disconnects the peer; its valid gossip is not relayed", () =>
    Effect.gen(function*() {
      const s = yield* setup({ maxStaleScore: 300, staleDrainPerSecond: 1 })
      const ch = signedChannel("m1", "m2", 500, 1000)
      yield* s.flood([ch.announcement, ch.updates[0]])
      yield* until("the channel is in", counts(s.node.graph).pipe(Effect.map((k) => k.channels === 1)))
      yield* Effect.forkScoped(s.flood(Array.from({ length: 3000 }, () => ch.updates[0])))
      const [event] = yield* Fiber.join(s.disconnected)
      assert.strictEqual(event?._tag, "PeerDisconnected")
      assert.isBelow(s.counter.sent, 3000)
      yield* settle
      const stats = yield* s.node.sync.stats
      assert.strictEqual(stats.bannedPeers, 1)
      assert.isAtMost(stats.stale, 300 + 300) // the score, and what was queued when it went over
      assert.strictEqual(stats.relayPending, 0) // nothing of Mallory's is relayed
    }))

  it.effect("updates for unknown channels wait in a capped pool; a flood of them ends the peer", () =>
    Effect.gen(function*() {
      const s = yield* setup({ maxOrphansPerPeer: 10, maxOrphans: 100, maxStaleScore: 200, staleDrainPerSecond: 1 })
      const orphansOnly = Array.from({ length: 600 }, (_, i) => signedUpdate("m1", "m2", 2000 + i, 0, 1000, 1))
      yield* Effect.forkScoped(s.flood(orphansOnly))
      yield* Fiber.join(s.disconnected)
      yield* settle
      const stats = yield* s.node.sync.stats
      assert.strictEqual(stats.orphans, 0) // dropped with the peer
      assert.strictEqual(stats.bannedPeers, 1)
      assert.isAtMost(stats.received, 10 + 200 + 300)
    }))

  it.effect("an update that arrives before its channel is applied once the channel comes", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const ch = signedChannel("m1", "m2", 700, 1000)
      yield* s.flood([ch.updates[1], ch.updates[0]])
      yield* until("two orphans", s.node.sync.stats.pipe(Effect.map((x) => x.orphans === 2)))
      yield* s.flood([ch.announcement])
      yield* until("channel with both directions", counts(s.node.graph).pipe(Effect.map((k) => k.updates === 2)))
      assert.strictEqual((yield* s.node.sync.stats).orphans, 0)
    }))

  it.effect("per-peer rate limit: beyond the burst the peer's reader waits for the clock (nothing is dropped)", () =>
    Effect.gen(function*() {
      const s = yield* setup({ ratePerSecond: 10, burst: 10 })
      const network = ring(10)
      yield* Effect.forkScoped(s.flood(network.all)) // 10 announcements, 20 updates, 10 nodes
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      yield* until("the burst is used", s.node.sync.stats.pipe(Effect.map((x) => x.received >= 10)))
      for (let i = 0; i < 200; i++) yield* Effect.yieldNow
      assert.isAtMost((yield* s.node.sync.stats).received, 11)
      yield* TestClock.adjust("3 seconds")
      yield* until("all of it", s.node.sync.stats.pipe(Effect.map((x) => x.received === 40)))
      assert.deepStrictEqual(yield* counts(s.node.graph), { channels: 10, updates: 20, announced: 10 })
      assert.isTrue((yield* s.node.peers.peers).some((p) => toHex(p.nodeId) === toHex(s.mallory.nodeId)))
    }))

  it.effect("a peer's gossip_timestamp_filter reaching into the past gets the matching graph, announcements before their updates", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("2000 seconds") // the gossip below is from the past
      const s = yield* setup()
      const network = ring(4, 500)
      yield* preload(s.node.graph, network.all)
      const filter = GossipTimestampFilter.encode(GossipTimestampFilter.make({ chainHash, firstTimestamp: 0, timestampRange: 0xffffffff }))
      assert.isTrue(Result.isSuccess(filter))
      if (Result.isSuccess(filter)) yield* s.mallory.send(filter.success)
      const seen: Array<string> = []
      const announced = new Set<bigint>()
      while (seen.filter((t) => t !== "other").length < 4 + 8 + 4) {
        const m = yield* s.mallory.receive
        const type = ((m[0] ?? 0) << 8) | (m[1] ?? 0)
        if (type === ChannelAnnouncement.type) {
          const a = ChannelAnnouncement.decode(m)
          if (Result.isSuccess(a)) announced.add(a.success.shortChannelId)
          seen.push("announcement")
        } else if (type === ChannelUpdate.type) {
          const u = ChannelUpdate.decode(m)
          assert.isTrue(Result.isSuccess(u) && announced.has(u.success.shortChannelId), "an update after its announcement")
          seen.push("update")
        } else if (type === NodeAnnouncement.type) seen.push("node")
        else seen.push("other")
      }
      assert.strictEqual(seen.filter((t) => t === "announcement").length, 4)
      assert.strictEqual(seen.filter((t) => t === "update").length, 8)
      assert.strictEqual(seen.filter((t) => t === "node").length, 4)
    }))

  it.effect("channels without an update for two weeks are pruned (BOLT 7), on the clock", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const node = yield* startGossipNode(net, "alice", alice.host, { pruneInterval: "1 hour" })
      yield* preload(node.graph, ring(3, 10).all)
      assert.strictEqual((yield* counts(node.graph)).channels, 3)
      yield* TestClock.adjust("13 days")
      yield* settle
      assert.strictEqual((yield* counts(node.graph)).channels, 3)
      yield* TestClock.adjust("2 days")
      yield* until("pruned", counts(node.graph).pipe(Effect.map((k) => k.channels === 0)))
    }))

  it.effect("a peer without gossip_queries gets the 'no gossip' filter, and its gossip is still checked and applied", () =>
    Effect.gen(function*() {
      const s = yield* setup({}, ourInitFeatures)
      let filter: GossipTimestampFilter | undefined
      while (filter === undefined) {
        const m = yield* s.mallory.receive
        const d = GossipTimestampFilter.decode(m)
        if (Result.isSuccess(d)) filter = d.success
      }
      assert.deepStrictEqual([filter.firstTimestamp, filter.timestampRange], [0xffffffff, 0])
      const ch = signedChannel("m1", "m2", 900, 1000)
      yield* s.flood([ch.announcement, ...ch.updates])
      yield* until("applied", counts(s.node.graph).pipe(Effect.map((k) => k.channels === 1 && k.updates === 2)))
    }))
})
