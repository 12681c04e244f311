/**
 * The watcher hears the manager's chain requests through its listener (`chainRequestsOf`): the
 * same `WatchFunding` and `Broadcast` events, in the same order, as the manager's subscription
 * filtered to them, and nothing else (no HTLC or phase event reaches the watcher's fiber); one
 * started late gets what is pending first, as a subscription does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { chainRequestsOf } from "../../src/actors/ChainWatcher.ts"
import type { NodeChannelEvent } from "../../src/actors/ChannelManager.ts"
import { equalBytes, toHex } from "../../src/protocol/bytes.ts"
import { make as makeSimulatedChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { awaitEvent, eventually, openWhenConnected, PORT, startChannelNode } from "./ChannelManagerHarness.ts"

const describeEvent = (e: NodeChannelEvent): string => `${e.event._tag} ${toHex(e.channelId)}`
const isChainRequest = (e: NodeChannelEvent): boolean => e.event._tag === "WatchFunding" || e.event._tag === "Broadcast"

/** Everything `stream` gives, collected as it comes. */
const collect = (stream: Stream.Stream<NodeChannelEvent>) =>
  Effect.gen(function*() {
    const seen: Array<NodeChannelEvent> = []
    yield* Effect.forkScoped(Stream.runForEach(stream, (e) => Effect.sync(() => void seen.push(e))))
    return seen
  })

describe("ChainWatcher: the manager's chain requests through its listener", () => {
  it.live("the subscription's WatchFunding and Broadcast events, in order, nothing else; pending ones first for a late start", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "requests" })
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      const heard = yield* collect(yield* chainRequestsOf(alice.channels))
      const subscribed = yield* collect(yield* alice.channels.subscribe)
      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 1_000_000n)
      const needed = yield* awaitEvent(alice, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
      yield* alice.channels.fundChannel(temporaryChannelId, chain.sim.core.faucetTx(needed.event.scriptPubKey, needed.event.amount))
      yield* awaitEvent(alice, "ChannelPending")
      const wanted = () => subscribed.filter(isChainRequest)
      yield* eventually("the funding's watch and broadcast heard", () => (wanted().length >= 2 && heard.length >= wanted().length ? true : undefined))
      assert.isAbove(subscribed.length, wanted().length) // other events were published (FundingNeeded, ChannelPending...)
      assert.deepStrictEqual(heard.map(describeEvent), wanted().map(describeEvent))
      // Started after the watch was published: it is pending (from the channel's state), heard first.
      const late = yield* collect(yield* chainRequestsOf(alice.channels))
      yield* eventually("the pending watch heard", () => (late.length > 0 ? true : undefined))
      assert.strictEqual(late[0]?.event._tag, "WatchFunding")
      assert.isTrue(late.every(isChainRequest))
    }).pipe(Effect.scoped))
})
