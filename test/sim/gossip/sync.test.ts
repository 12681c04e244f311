import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeMemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import { counts, preload, ring, signedUpdate, startGossipNode } from "./fixtures.ts"

const at = (host: string) => ({ host, port: 9735 })

/** Lets the in-memory nodes exchange what they have queued (no time passes). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
  yield* TestClock.adjust("1 millis")
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, rounds = 200) =>
  Effect.gen(function*() {
    for (let i = 0; i < rounds; i++) {
      if (yield* check) return
      yield* settle
    }
    assert.fail(`never: ${what}`)
  })

describe("gossip sync between our nodes", () => {
  it.effect("a new node learns the whole graph from a peer (range query, batched id queries, node announcements)", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const network = ring(25)
      const alice = yield* startGossipNode(net, "alice", "10.0.0.1", { maxScidsPerReply: 7 })
      yield* preload(alice.graph, network.all)
      const bob = yield* startGossipNode(net, "bob", "10.0.0.2", { queryBatch: 4 })
      yield* bob.peers.connect(alice.peers.nodeId, at("10.0.0.1"))
      yield* until("bob has every channel, update and node", counts(bob.graph).pipe(Effect.map((c) =>
        c.channels === 25 && c.updates === 50 && c.announced === 25
      )))
      const s = yield* bob.sync.stats
      assert.strictEqual(s.syncedPeers, 1)
      assert.strictEqual(s.invalid, 0)
      assert.deepStrictEqual(yield* counts(bob.graph), yield* counts(alice.graph))
      const a = yield* alice.sync.stats
      // one range query, and 25 ids in batches of 4: 7 id queries
      assert.strictEqual(a.queriesAnswered, 1 + 7)
    }))

  it.effect("sync asks only for what is missing or newer, using the range's timestamps", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const network = ring(6)
      const alice = yield* startGossipNode(net, "alice", "10.0.0.1")
      yield* preload(alice.graph, network.all)
      // alice has a newer update for channel 0, direction 0
      const newer = signedUpdate("r0", "r1", 100, 0, 2000, 7777)
      yield* preload(alice.graph, [newer])
      const bob = yield* startGossipNode(net, "bob", "10.0.0.2")
      yield* preload(bob.graph, network.all.filter((raw) => raw !== network.channels[5]?.announcement && raw !== network.channels[5]?.updates[0] && raw !== network.channels[5]?.updates[1]))
      yield* bob.peers.connect(alice.peers.nodeId, at("10.0.0.1"))
      yield* until("bob synced", bob.sync.stats.pipe(Effect.map((s) => s.syncedPeers === 1)))
      assert.strictEqual((yield* counts(bob.graph)).channels, 6)
      const scid0 = network.channels[0]?.scid
      const channel0 = scid0 === undefined ? undefined : yield* bob.graph.channel(scid0)
      assert.strictEqual(channel0?.directions.find((d) => d?.timestamp === 2000)?.feeBaseMsat, 7777)
      // bob received: channel 5 (announcement + 2 updates) and the newer update; nothing else
      const s = yield* bob.sync.stats
      assert.strictEqual(s.accepted, 4)
      // the node announcements of channel 5's ends came too (asked with the channel), already known: stale
      assert.strictEqual(s.stale, 2)
    }))

  it.effect("new gossip is relayed (staggered, by the clock) to peers that asked, never back to its sender", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const network = ring(3)
      const a = yield* startGossipNode(net, "a", "10.0.0.1")
      const b = yield* startGossipNode(net, "b", "10.0.0.2")
      const c = yield* startGossipNode(net, "c", "10.0.0.3")
      yield* b.peers.connect(a.peers.nodeId, at("10.0.0.1"))
      yield* c.peers.connect(b.peers.nodeId, at("10.0.0.2"))
      yield* until("both syncs done", Effect.all([b.sync.stats, c.sync.stats]).pipe(Effect.map(([x, y]) => x.syncedPeers + y.syncedPeers >= 2)))
      // a "generates" gossip: it goes to b at once; b relays to c at its next flush only.
      yield* a.sync.broadcastOwn(network.all)
      yield* until("b has it", counts(b.graph).pipe(Effect.map((k) => k.channels === 3)))
      yield* settle
      assert.strictEqual((yield* counts(c.graph)).channels, 0)
      yield* TestClock.adjust("60 seconds")
      yield* until("c has it after b's flush", counts(c.graph).pipe(Effect.map((k) => k.channels === 3 && k.updates === 6 && k.announced === 3)))
      // b never sent a's gossip back to a: a received nothing (it only broadcast).
      assert.strictEqual((yield* a.sync.stats).received, 0)
      // and c, which got it from b, sends nothing back to b at its own flush
      const before = (yield* b.sync.stats).received
      yield* TestClock.adjust("60 seconds")
      yield* settle
      assert.strictEqual((yield* b.sync.stats).received, before)
    }))
})
