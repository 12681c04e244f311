import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as GossipSync from "../../src/actors/GossipSync.ts"
import { makeNetworkGraph } from "../../src/layers/graph/MemoryNetworkGraph.ts"
import { NetworkGraph, type NetworkGraphShape } from "../../src/services/NetworkGraph.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import type { OutPoint } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import { nobleSecp256k1 as secp } from "../../src/protocol/crypto/secp256k1.ts"
import { signedChannel, startGossipNode } from "../sim/gossip/fixtures.ts"
import { withGossipQueries } from "../../src/actors/GossipSync.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { dialRaw, initMessage } from "../sim/RawPeer.ts"
import * as SimulatedChain from "../../src/layers/chain/SimulatedChain.ts"
import { FAUCET_SCRIPT, SimChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeRegistry } from "../../src/protocol/codec/message.ts"
import { gossipMessages } from "../../src/protocol/messages/gossip.ts"
import { expectedFundingScriptPubKey } from "../../src/protocol/gossip/funding.ts"
import { sat } from "../../src/protocol/units.ts"

const Gossip = makeRegistry(gossipMessages)

const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, rounds = 300) =>
  Effect.gen(function*() {
    for (let i = 0; i < rounds; i++) {
      if (yield* check) return
      for (let j = 0; j < 30; j++) yield* Effect.yieldNow
      yield* TestClock.adjust("1 millis")
    }
    assert.fail(`never: ${what}`)
  })

/** Alice (a gossip node) and Mallory, a raw peer. */
const setup = (config: GossipSync.GossipSyncConfig = {}) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const alice = { host: "10.0.0.1", port: 9735 }
    const node = yield* startGossipNode(net, "alice", alice.host, config)
    const mallory = yield* dialRaw(net.transport("10.6.6.6"), alice, node.peers.nodeId, "mallory")
    yield* mallory.receiveTag("Init")
    yield* mallory.send(initMessage(withGossipQueries(ourInitFeatures)))
    yield* until("mallory connected", node.sync.stats.pipe(Effect.map((s) => s.peers === 1)))
    return { node, mallory }
  })

/** A channel announcement whose funding output is confirmed on the simulated chain (next block, tx 1, vout 0). */
const fundedChannel = (a: string, b: string, amount: bigint) =>
  Effect.gen(function*() {
    const sim = yield* SimChain
    const block = (yield* sim.height) + 1
    const ch = signedChannel(a, b, block, 1000)
    const decoded = Gossip.decode(ch.announcement)
    if (Result.isFailure(decoded) || decoded.success._tag !== "ChannelAnnouncement") return assert.fail("decode")
    const { outpoint } = yield* sim.fund(expectedFundingScriptPubKey(decoded.success), sat(amount)).pipe(Effect.orDie)
    yield* sim.mine(1).pipe(Effect.orDie)
    return { ...ch, block, outpoint }
  })

const settle = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow
})

describe("GossipSync saves the graph", () => {
  it.effect("saves on the Clock only when the graph changed, and once when its scope closes", () =>
    Effect.gen(function*() {
      const inner = yield* makeNetworkGraph({ secp }, undefined).pipe(Effect.orDie)
      let saves = 0
      const graph = { ...inner, save: Effect.sync(() => { saves++ }) }
      const scope = yield* Scope.make()
      const sync = yield* GossipSync.make({ saveInterval: "10 minutes" }).pipe(
        Effect.provideService(NetworkGraph, graph),
        Scope.provide(scope)
      )
      yield* sync.broadcastOwn([signedChannel("a", "b", 700, 1000).announcement])
      assert.strictEqual(saves, 0)
      yield* TestClock.adjust("10 minutes")
      yield* settle
      assert.strictEqual(saves, 1)
      yield* TestClock.adjust("10 minutes") // nothing changed: no save
      yield* settle
      assert.strictEqual(saves, 1)
      yield* sync.broadcastOwn([signedChannel("a", "c", 701, 1000).announcement])
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(saves, 2)
    }))
})

describe("GossipSync checks funding outputs with a ChainSource", () => {
  it.effect("accepts a channel whose output is the unspent P2WSH of its keys (capacity from its value), refuses a wrong one", () =>
    Effect.gen(function*() {
      const good = yield* fundedChannel("m1", "m2", 70_000n)
      // Same short channel id, other keys: the output is not theirs.
      const bad = signedChannel("m3", "m4", good.block, 1000)
      const s = yield* setup({ maxStrikes: 100 })
      yield* s.mallory.send(bad.announcement)
      yield* until("bad refused", s.node.sync.stats.pipe(Effect.map((x) => x.invalid === 1)))
      assert.isUndefined(yield* s.node.graph.channel(good.scid))
      yield* s.mallory.send(good.announcement)
      yield* until("good accepted", s.node.graph.channel(good.scid).pipe(Effect.map((c) => c !== undefined)))
      assert.strictEqual((yield* s.node.graph.channel(good.scid))?.capacitySat, 70_000n)
      // Unfunded (no such block yet): the source cannot tell; dropped, no strike.
      const future = signedChannel("m5", "m6", good.block + 50, 1000)
      yield* s.mallory.send(future.announcement)
      yield* until("future looked up", s.node.sync.stats.pipe(Effect.map((x) => x.received === 3 && x.inboxSize === 0)))
      for (let j = 0; j < 100; j++) yield* Effect.yieldNow
      assert.isUndefined(yield* s.node.graph.channel(future.scid))
      assert.strictEqual((yield* s.node.sync.stats).invalid, 1)
    }).pipe(Effect.provide(SimulatedChain.layer({ seed: "gossip-funding" }))))
})

describe("GossipSync forgets closed channels", () => {
  it.effect("a channel whose funding output is spent is removed after 12 confirmations of the spend", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const good = yield* fundedChannel("m1", "m2", 70_000n)
      const s = yield* setup()
      yield* s.mallory.send(good.announcement)
      yield* until("accepted", s.node.graph.channel(good.scid).pipe(Effect.map((c) => c !== undefined)))
      const spend = {
        version: 2,
        inputs: [{ prevout: good.outpoint, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [] }],
        outputs: [{ value: sat(60_000n), scriptPubKey: FAUCET_SCRIPT }],
        locktime: 0
      }
      yield* sim.mine(1, { txs: [spend] }).pipe(Effect.orDie) // 1 confirmation
      yield* sim.mine(10).pipe(Effect.orDie) // 11
      yield* until("chain seen", Effect.succeed(true))
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.isDefined(yield* s.node.graph.channel(good.scid))
      yield* sim.mine(1).pipe(Effect.orDie) // 12
      yield* until("removed", s.node.graph.channel(good.scid).pipe(Effect.map((c) => c === undefined)))
    }).pipe(Effect.provide(SimulatedChain.layer({ seed: "gossip-closed" }))))
})

/** The simulated chain's `ChainSource` with its block fetches counted. */
const countingChain = (counter: { blocks: number }) =>
  Layer.effect(
    ChainSource,
    Effect.gen(function*() {
      const source = yield* ChainSource
      return ChainSource.of({
        ...source,
        block: (id) => Effect.suspend(() => {
          counter.blocks++
          return source.block(id)
        })
      })
    })
  )

/** A spend of `outpoint` to the faucet. */
const spendOf = (outpoint: OutPoint) => ({
  version: 2,
  inputs: [{ prevout: outpoint, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [] }],
  outputs: [{ value: sat(60_000n), scriptPubKey: FAUCET_SCRIPT }],
  locktime: 0
})

describe("GossipSync checks signatures before the chain", () => {
  it.effect("an announcement with a bad signature costs the peer a strike and no chain lookup", () => {
    const counter = { blocks: 0 }
    return Effect.gen(function*() {
      const good = yield* fundedChannel("m1", "m2", 70_000n)
      const s = yield* setup({ maxStrikes: 100 })
      const forged = good.announcement.slice()
      forged[2 + 10] = (forged[2 + 10] ?? 0) ^ 1 // node_signature_1
      counter.blocks = 0
      yield* s.mallory.send(forged)
      yield* until("forged refused", s.node.sync.stats.pipe(Effect.map((x) => x.invalid === 1)))
      for (let j = 0; j < 100; j++) yield* Effect.yieldNow
      assert.strictEqual(counter.blocks, 0)
      assert.isUndefined(yield* s.node.graph.channel(good.scid))
      // The real one is looked up (one block fetch) and accepted.
      yield* s.mallory.send(good.announcement)
      yield* until("good accepted", s.node.graph.channel(good.scid).pipe(Effect.map((c) => c !== undefined)))
      assert.isAtLeast(counter.blocks, 1)
      assert.strictEqual((yield* s.node.graph.channel(good.scid))?.capacitySat, 70_000n)
    }).pipe(Effect.provide(countingChain(counter).pipe(Layer.provideMerge(SimulatedChain.layer({ seed: "gossip-sig-first" })))))
  })
})

describe("GossipSync does not miss a spend between its lookup and its watch", () => {
  it.effect("an output spent in a block the follower passed while the lookup answered is still seen as closed", () => {
    const spendAfterFirstStatus: { spend: (() => Effect.Effect<void>) | undefined } = { spend: undefined }
    // The chain answers the lookup's status from before the spend, and the spend's block is
    // mined and followed before the answer arrives.
    const racingChain = Layer.effect(
      ChainSource,
      Effect.gen(function*() {
        const source = yield* ChainSource
        return ChainSource.of({
          ...source,
          outputStatus: (outpoint) =>
            Effect.gen(function*() {
              const status = yield* source.outputStatus(outpoint)
              const spend = spendAfterFirstStatus.spend
              spendAfterFirstStatus.spend = undefined
              if (spend !== undefined) yield* spend()
              return status
            })
        })
      })
    )
    return Effect.gen(function*() {
      const sim = yield* SimChain
      const good = yield* fundedChannel("r1", "r2", 70_000n)
      const s = yield* setup()
      spendAfterFirstStatus.spend = () =>
        Effect.gen(function*() {
          yield* sim.mine(1, { txs: [spendOf(good.outpoint)] }).pipe(Effect.orDie)
          for (let j = 0; j < 300; j++) yield* Effect.yieldNow // the follower takes the block (nothing watched yet)
        })
      yield* s.mallory.send(good.announcement)
      yield* until("accepted", s.node.graph.channel(good.scid).pipe(Effect.map((c) => c !== undefined)))
      assert.isUndefined(spendAfterFirstStatus.spend)
      yield* sim.mine(10).pipe(Effect.orDie)
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.isDefined(yield* s.node.graph.channel(good.scid))
      yield* sim.mine(1).pipe(Effect.orDie)
      yield* until("removed", s.node.graph.channel(good.scid).pipe(Effect.map((c) => c === undefined)))
    }).pipe(Effect.provide(racingChain.pipe(Layer.provideMerge(SimulatedChain.layer({ seed: "gossip-race" })))))
  })
})

describe("GossipSync watches every channel of the graph for its close", () => {
  /** A graph saved through a memory store and loaded again (as at a restart), holding `raws`. */
  const loadedGraph = (raws: ReadonlyArray<Uint8Array>) =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      const before = yield* makeNetworkGraph({ secp }, store).pipe(Effect.orDie)
      for (const raw of raws) yield* before.apply(raw).pipe(Effect.orDie)
      yield* before.save.pipe(Effect.orDie)
      return yield* makeNetworkGraph({ secp }, store).pipe(Effect.orDie)
    })

  const startOver = (graph: NetworkGraphShape) =>
    GossipSync.make({}).pipe(Effect.provideService(NetworkGraph, graph))

  it.effect("a channel loaded from the store is removed 12 blocks after its funding output is spent", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const ch = yield* fundedChannel("l1", "l2", 80_000n)
      const graph = yield* loadedGraph([ch.announcement, ...ch.updates])
      assert.isDefined(yield* graph.channel(ch.scid))
      yield* startOver(graph)
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow // the resolver finds and watches its output
      yield* sim.mine(1, { txs: [spendOf(ch.outpoint)] }).pipe(Effect.orDie)
      yield* sim.mine(10).pipe(Effect.orDie)
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.isDefined(yield* graph.channel(ch.scid))
      yield* sim.mine(1).pipe(Effect.orDie) // 12 confirmations of the spend
      yield* until("removed", graph.channel(ch.scid).pipe(Effect.map((c) => c === undefined)))
    }).pipe(Effect.provide(SimulatedChain.layer({ seed: "gossip-loaded-close" }))))

  it.effect("loaded channels whose output was spent meanwhile go 12 blocks later; one whose output is another script goes at once", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const spent = yield* fundedChannel("s1", "s2", 80_000n)
      const kept = yield* fundedChannel("k1", "k2", 90_000n)
      // The announcement of a channel whose short channel id points at another channel's output.
      const lying = signedChannel("x1", "x2", kept.block, 1000)
      yield* sim.mine(1, { txs: [spendOf(spent.outpoint)] }).pipe(Effect.orDie) // spent before the node starts
      const graph = yield* loadedGraph([spent.announcement, kept.announcement])
      // `lying` shares `kept`'s short channel id: a graph of another node (no chain) took it instead.
      const other = yield* loadedGraph([spent.announcement, lying.announcement])
      yield* startOver(graph)
      yield* startOver(other)
      yield* until("lying removed", other.channel(lying.scid).pipe(Effect.map((c) => c === undefined)))
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.isDefined(yield* graph.channel(spent.scid))
      yield* sim.mine(11).pipe(Effect.orDie)
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.isDefined(yield* graph.channel(spent.scid))
      yield* sim.mine(1).pipe(Effect.orDie)
      yield* until("spent removed", graph.channel(spent.scid).pipe(Effect.map((c) => c === undefined)))
      yield* until("spent removed (other)", other.channel(spent.scid).pipe(Effect.map((c) => c === undefined)))
      assert.isDefined(yield* graph.channel(kept.scid))
    }).pipe(Effect.provide(SimulatedChain.layer({ seed: "gossip-loaded-spent" }))))

  it.effect("with a store, the resolved outpoints are kept: a restart looks nothing up and still sees the close", () => {
    const counter = { blocks: 0 }
    return Effect.gen(function*() {
      const sim = yield* SimChain
      const ch = yield* fundedChannel("p1", "p2", 80_000n)
      const { store } = makeMemoryStore()
      const first = yield* makeNetworkGraph({ secp }, store).pipe(Effect.orDie)
      yield* first.apply(ch.announcement).pipe(Effect.orDie)
      yield* first.save.pipe(Effect.orDie)
      // First start: resolved (one block fetch), and kept when the actor stops.
      const scope = yield* Scope.make()
      counter.blocks = 0
      yield* GossipSync.make({ store }).pipe(Effect.provideService(NetworkGraph, first), Scope.provide(scope))
      yield* until("resolved", Effect.sync(() => counter.blocks >= 1))
      for (let j = 0; j < 100; j++) yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      // Restart over the same store: no lookup, and the spend is still seen.
      const graph = yield* makeNetworkGraph({ secp }, store).pipe(Effect.orDie)
      counter.blocks = 0
      yield* GossipSync.make({ store }).pipe(Effect.provideService(NetworkGraph, graph))
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.strictEqual(counter.blocks, 0)
      yield* sim.mine(1, { txs: [spendOf(ch.outpoint)] }).pipe(Effect.orDie)
      yield* sim.mine(11).pipe(Effect.orDie)
      yield* until("removed", graph.channel(ch.scid).pipe(Effect.map((c) => c === undefined)))
      assert.strictEqual(counter.blocks, 0)
    }).pipe(Effect.provide(countingChain(counter).pipe(Layer.provideMerge(SimulatedChain.layer({ seed: "gossip-stored-outpoints" })))))
  })

  it.effect("our own channel (broadcast, not looked up) is removed 12 blocks after its close", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const ch = yield* fundedChannel("o1", "o2", 80_000n)
      const graph = yield* makeNetworkGraph({ secp }, undefined).pipe(Effect.orDie)
      const sync = yield* startOver(graph)
      yield* sync.broadcastOwn([ch.announcement, ...ch.updates])
      assert.isDefined(yield* graph.channel(ch.scid))
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      yield* sim.mine(1, { txs: [spendOf(ch.outpoint)] }).pipe(Effect.orDie)
      yield* sim.mine(10).pipe(Effect.orDie)
      for (let j = 0; j < 200; j++) yield* Effect.yieldNow
      assert.isDefined(yield* graph.channel(ch.scid))
      yield* sim.mine(1).pipe(Effect.orDie)
      yield* until("removed", graph.channel(ch.scid).pipe(Effect.map((c) => c === undefined)))
    }).pipe(Effect.provide(SimulatedChain.layer({ seed: "gossip-own-close" }))))
})
