/**
 * `ChannelManager.channelByScid`: the channel a forward's `short_channel_id` names (BOLT 4), found
 * by its real short channel id, and nothing for an id no channel answers to; the same answer as
 * searching `listChannels`, also on a second lookup (through the manager's index, answered at once
 * from an idle hinted channel).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { toHex } from "../../src/protocol/bytes.ts"
import { defaultLocalChannelConfig } from "../../src/protocol/channel/config.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { awaitEvent, connect, openPendingChannel, startChannelNode } from "./ChannelManagerHarness.ts"

describe("ChannelManager: channel by short channel id", () => {
  it.live("finds the normal channel by its short channel id, nothing for an unknown one", () =>
    Effect.scoped(Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const channelId = yield* openPendingChannel(alice, bob)
      const byScid = alice.channels.channelByScid
      if (byScid === undefined) return yield* Effect.die(new Error("the manager has no channelByScid"))
      const scid = shortChannelIdFromParts(700_000, 5, 1)
      // Not normal yet: no channel answers to it.
      assert.isUndefined(yield* byScid(scid))
      for (const node of [alice, bob]) {
        yield* node.channels.chainFact(channelId, { _tag: "FundingDepth", depth: defaultLocalChannelConfig.minimumDepth, shortChannelId: scid })
      }
      yield* awaitEvent(alice, "ChannelReady")
      yield* awaitEvent(bob, "ChannelReady")
      for (let round = 0; round < 2; round++) {
        const found = yield* byScid(scid)
        if (found === undefined) return assert.fail(`round ${round}: not found`)
        assert.strictEqual(toHex(found.channelId), toHex(channelId))
        assert.strictEqual(found.state._tag, "Normal")
        const listed = (yield* alice.channels.listChannels).find((c) => c.state._tag === "Normal" && c.state.shortChannelId === scid)
        assert.strictEqual(listed === undefined ? undefined : toHex(listed.channelId), toHex(found.channelId))
        // Round 0 searched every channel (no hint yet), round 1 answered from the idle hinted channel at once: the listing's info both times.
        assert.deepStrictEqual(found, listed)
      }
      assert.isUndefined(yield* byScid(shortChannelIdFromParts(700_000, 5, 2)))
      // After a miss (the index made again), the channel is still found.
      const again = yield* byScid(scid)
      assert.strictEqual(again === undefined ? undefined : toHex(again.channelId), toHex(channelId))
    }))
  )
})
