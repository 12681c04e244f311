/**
 * BOLT 2: the fundee forgets a channel whose funding transaction it does not see within 2016
 * blocks (chain heights from `FundingDepth { depth: 0, tipHeight }`): the manager drops it from
 * its channels and from the store; the funder keeps its channel.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { toHex } from "../../src/protocol/bytes.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { FUNDING_TIMEOUT_BLOCKS } from "../../src/protocol/channel/step.ts"
import { awaitEvent, connect, eventually, openPendingChannel, startChannelNode } from "./ChannelManagerHarness.ts"

describe("ChannelManager: funding timeout", () => {
  it.live("the fundee forgets the unfunded channel at 2016 blocks (not before) and removes it from the store; the funder keeps it", () =>
    Effect.scoped(Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const channelId = yield* openPendingChannel(alice, bob)
      const key = toHex(channelId)
      yield* eventually("bob stored the channel", () => (bob.persister.stored.has(key) ? true : undefined))
      const start = 700_000
      for (const node of [alice, bob]) {
        yield* node.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 0, tipHeight: start })
        yield* node.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 0, tipHeight: start + FUNDING_TIMEOUT_BLOCKS - 1 })
      }
      // One block before the timeout: both still have it.
      assert.strictEqual((yield* bob.channels.channel(channelId)).state._tag, "WaitChannelReady")
      assert.isTrue(bob.persister.stored.has(key))
      for (const node of [alice, bob]) yield* node.channels.chainFact(channelId, { _tag: "FundingDepth", depth: 0, tipHeight: start + FUNDING_TIMEOUT_BLOCKS })
      const closed = yield* awaitEvent(bob, "ChannelClosed")
      assert.strictEqual(closed.event.reason._tag, "FundingAborted")
      yield* eventually("bob's store forgot the channel", () => (bob.persister.stored.has(key) ? undefined : true))
      const gone = yield* Effect.result(bob.channels.channel(channelId))
      assert.isTrue(Result.isFailure(gone) && gone.failure._tag === "ChannelNotFound")
      // The funder never forgets this way.
      assert.strictEqual((yield* alice.channels.channel(channelId)).state._tag, "WaitChannelReady")
      assert.isTrue(alice.persister.stored.has(key))
    }))
  )
})
