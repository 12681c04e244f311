import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { ALL_QUERY_FLAGS, blockOf, type ChannelSummary, passesFilter, replyChannelRange, replyCompletes, wantedFlags } from "../../src/actors/GossipQueries.ts"
import { type ShortChannelId, shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import { decodeShortChannelIds, decodeTimestamps, QUERY_FLAG_CHANNEL_UPDATE_2 } from "../../src/protocol/gossip/encoding.ts"
import { QUERY_OPTION_WANT_CHECKSUMS, QUERY_OPTION_WANT_TIMESTAMPS, ReplyChannelRange } from "../../src/protocol/messages/gossip.ts"
import { ChainHashes } from "../../src/protocol/messages/index.ts"

const summary = (scid: ShortChannelId, t1 = 0, t2 = 0): ChannelSummary => ({ scid, timestamp1: t1, timestamp2: t2, checksum1: t1 ^ 0x55, checksum2: t2 ^ 0xaa })

const channelsArb = fc.uniqueArray(
  fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1 })),
  { maxLength: 200, selector: ([b, t, o]) => `${b}/${t}/${o}` }
).map((parts) =>
  parts.map(([b, t, o]) => shortChannelIdFromParts(b, t, o)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).map((s) => summary(s, 1000 + Number(s % 97n), 2000))
)

describe("reply_channel_range (BOLT 7 requirements on the receiver of query_channel_range)", () => {
  it("splits into ordered replies that cover the query, the last one complete, every id once and in order", () =>
    fc.assert(fc.property(channelsArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 3 }), (channels, perReply, option) => {
      const first = 0
      const count = 2001
      const replies = replyChannelRange(ChainHashes.regtest, first, count, BigInt(option), channels, perReply)
      assert.isAtLeast(replies.length, 1)
      const r0 = replies[0]
      assert.isTrue(r0 !== undefined && r0.firstBlocknum <= first && r0.firstBlocknum + r0.numberOfBlocks > first)
      const ids: Array<ShortChannelId> = []
      let previousFirst = -1
      replies.forEach((r, i) => {
        assert.isAtLeast(r.firstBlocknum, previousFirst)
        previousFirst = r.firstBlocknum
        assert.isAtLeast(r.numberOfBlocks, 1)
        assert.strictEqual(r.syncComplete, i === replies.length - 1 ? 1 : 0)
        const decoded = decodeShortChannelIds(r.encodedShortIds)
        assert.isTrue(Result.isSuccess(decoded))
        if (Result.isFailure(decoded)) return
        for (const id of decoded.success) {
          const b = blockOf(id)
          assert.isTrue(b >= r.firstBlocknum && b < r.firstBlocknum + r.numberOfBlocks, "each id within its reply's blocks")
        }
        ids.push(...decoded.success)
        assert.strictEqual(r.tlvs.timestampsTlv !== undefined, (option & 1) !== 0)
        assert.strictEqual(r.tlvs.checksumsTlv !== undefined, (option & 2) !== 0)
        if (r.tlvs.timestampsTlv !== undefined) {
          const ts = decodeTimestamps(r.tlvs.timestampsTlv.encodingType, r.tlvs.timestampsTlv.encodedTimestamps, decoded.success.length)
          assert.isTrue(Result.isSuccess(ts))
        }
        if (r.tlvs.checksumsTlv !== undefined) assert.strictEqual(r.tlvs.checksumsTlv.length, decoded.success.length)
        // every reply fits a Lightning message
        const encoded = ReplyChannelRange.encode(r)
        assert.isTrue(Result.isSuccess(encoded))
      })
      assert.deepStrictEqual(ids, channels.map((c) => c.scid))
      const last = replies[replies.length - 1]
      assert.isTrue(last !== undefined && replyCompletes({ first, count }, last))
    })))

  it("the default reply size fits 65535 bytes with timestamps and checksums", () => {
    const channels = Array.from({ length: 6000 }, (_, i) => summary(shortChannelIdFromParts(100 + Math.floor(i / 3), i % 3, 0), 1, 2))
    const replies = replyChannelRange(ChainHashes.regtest, 0, 0xffffffff, QUERY_OPTION_WANT_TIMESTAMPS | QUERY_OPTION_WANT_CHECKSUMS, channels)
    assert.isAbove(replies.length, 1)
    for (const r of replies) assert.isTrue(Result.isSuccess(ReplyChannelRange.encode(r)))
    assert.strictEqual(replies[replies.length - 1]?.firstBlocknum !== undefined, true)
    // the full u32 range is answered without overflowing number_of_blocks
    const last = replies[replies.length - 1]
    assert.isTrue(last !== undefined && last.firstBlocknum + last.numberOfBlocks <= 0xffffffff)
  })

  it("an empty graph answers one complete reply over the whole query", () => {
    const [r, ...rest] = replyChannelRange(ChainHashes.regtest, 10, 20, undefined, [])
    assert.strictEqual(rest.length, 0)
    assert.deepStrictEqual([r?.firstBlocknum, r?.numberOfBlocks, r?.syncComplete], [10, 20, 1])
  })
})

describe("what to ask for", () => {
  it("everything about an unknown channel, only newer updates of a known one, nothing without timestamps", () => {
    const scid = shortChannelIdFromParts(5, 0, 0)
    assert.strictEqual(wantedFlags(undefined, undefined), ALL_QUERY_FLAGS)
    assert.strictEqual(wantedFlags(summary(scid, 100, 100), { timestamp1: 100, timestamp2: 101 }), QUERY_FLAG_CHANNEL_UPDATE_2)
    assert.strictEqual(wantedFlags(summary(scid, 100, 100), { timestamp1: 99, timestamp2: 100 }), 0n)
    assert.strictEqual(wantedFlags(summary(scid, 100, 100), undefined), 0n)
  })

  it("the timestamp filter is [first, first + range)", () => {
    assert.isTrue(passesFilter({ first: 10, range: 5 }, 10))
    assert.isTrue(passesFilter({ first: 10, range: 5 }, 14))
    assert.isFalse(passesFilter({ first: 10, range: 5 }, 15))
    assert.isFalse(passesFilter({ first: 10, range: 5 }, 9))
    assert.isFalse(passesFilter({ first: 0xffffffff, range: 0 }, 0xffffffff))
  })
})
