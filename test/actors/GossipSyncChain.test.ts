import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as GossipSync from "../../src/actors/GossipSync.ts"
import { makeNetworkGraph } from "../../src/layers/graph/MemoryNetworkGraph.ts"
import { NetworkGraph } from "../../src/services/NetworkGraph.ts"
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
