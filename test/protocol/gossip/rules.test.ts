/**
 * Every BOLT 7 receive rule, each refused with its typed error (or, where the spec says to keep
 * the message but not route through it, kept and flagged), through the graph's `apply`; and the
 * pieces: CRC32C, checksums, signing helpers, funding output check, pruning, range queries.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { CompactGraph } from "../../../src/layers/graph/CompactGraph.ts"
import { routingGraphOf } from "../../../src/layers/graph/RouterGraphAdapter.ts"
import { compareBytes, concatBytes, fromHex } from "../../../src/protocol/bytes.ts"
import { type ChainHash, shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 as secp } from "../../../src/protocol/crypto/secp256k1.ts"
import { crc32c } from "../../../src/protocol/gossip/crc32c.ts"
import { channelUpdateChecksum } from "../../../src/protocol/gossip/digest.ts"
import { checkFundingOutput, expectedFundingScriptPubKey } from "../../../src/protocol/gossip/funding.ts"
import { isStaleChannel, STALE_CHANNEL_SECONDS } from "../../../src/protocol/gossip/rules.ts"
import {
  channelFlags,
  directionOf,
  signChannelAnnouncement,
  signChannelUpdate,
  signNodeAnnouncement,
  type ChannelAnnouncementFields,
  type ChannelUpdateFields,
  type NodeAnnouncementFields
} from "../../../src/protocol/gossip/sign.ts"
import { type Address, ChannelAnnouncement, ChannelUpdate } from "../../../src/protocol/messages/index.ts"
import { Networks } from "../../../src/protocol/network.ts"

const chainHash = Networks.regtest.chainHash
const NOW = 1_770_000_000
const secret = (label: string): Uint8Array => sha256(new TextEncoder().encode(label))
const pub = (s: Uint8Array): Uint8Array => {
  const p = secp.publicKey(s)
  if (p === undefined) throw new Error("bad secret")
  return p
}
const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`)
  return r.success
}
const failureTag = <A, E extends { readonly _tag: string }>(r: Result.Result<A, E>): string => (Result.isFailure(r) ? r.failure._tag : "accepted")

// Two nodes, ordered, and their funding keys.
const [sA, sB] = [secret("node a"), secret("node b")]
const [s1, s2] = compareBytes(pub(sA), pub(sB)) < 0 ? [sA, sB] : [sB, sA]
const [n1, n2] = [pub(s1), pub(s2)]
const [b1, b2] = [secret("btc 1"), secret("btc 2")]
const scid = shortChannelIdFromParts(700_000, 5, 1)

const announcement = (over: Partial<ChannelAnnouncementFields> = {}, secrets = { node1: s1, node2: s2, bitcoin1: b1, bitcoin2: b2 }, keys = { nodeId1: n1, nodeId2: n2 }) =>
  ok(signChannelAnnouncement(secp, {
    features: new Uint8Array(0),
    chainHash,
    shortChannelId: scid,
    ...keys,
    bitcoinKey1: pub(b1),
    bitcoinKey2: pub(b2),
    ...over
  }, secrets))

const updateFields = (over: Partial<ChannelUpdateFields> = {}): ChannelUpdateFields => ({
  chainHash,
  shortChannelId: scid,
  timestamp: NOW - 100,
  messageFlags: 1,
  channelFlags: channelFlags(0, false),
  cltvExpiryDelta: 40,
  htlcMinimumMsat: 1000n,
  feeBaseMsat: 1000,
  feeProportionalMillionths: 100,
  htlcMaximumMsat: 500_000_000n,
  ...over
})
const update = (over: Partial<ChannelUpdateFields> = {}, by = s1) => ok(signChannelUpdate(secp, updateFields(over), by))

const nodeFields = (over: Partial<NodeAnnouncementFields> = {}): NodeAnnouncementFields => ({
  features: new Uint8Array(0),
  timestamp: NOW - 50,
  nodeId: n1,
  rgbColor: Uint8Array.of(1, 2, 3),
  alias: new Uint8Array(32),
  addresses: { addresses: [], unparsed: new Uint8Array(0) },
  ...over
})
const nodeAnn = (over: Partial<NodeAnnouncementFields> = {}, by = s1) => ok(signNodeAnnouncement(secp, nodeFields(over), by))

const newGraph = () => new CompactGraph({ context: { secp, chainHash } })
const withChannel = (capacitySat?: bigint) => {
  const g = newGraph()
  ok(g.apply(announcement(), NOW, { capacitySat }))
  return g
}
const otherChain = sha256(new Uint8Array([1])) as ChainHash

describe("channel_announcement", () => {
  it("a valid one is stored with both nodes", () => {
    const g = withChannel(1_000_000n)
    const c = g.channel(scid)
    expect(c?.nodeId1).toEqual(n1)
    expect(c?.nodeId2).toEqual(n2)
    expect(c?.capacitySat).toBe(1_000_000n)
    expect(g.nodes).toBe(2)
  })
  it("each of the four signatures is checked (InvalidSignature names it)", () => {
    const wrong = secret("someone else")
    const cases = [
      [{ node1: wrong, node2: s2, bitcoin1: b1, bitcoin2: b2 }, "node_signature_1"],
      [{ node1: s1, node2: wrong, bitcoin1: b1, bitcoin2: b2 }, "node_signature_2"],
      [{ node1: s1, node2: s2, bitcoin1: wrong, bitcoin2: b2 }, "bitcoin_signature_1"],
      [{ node1: s1, node2: s2, bitcoin1: b1, bitcoin2: wrong }, "bitcoin_signature_2"]
    ] as const
    for (const [secrets, which] of cases) {
      const r = newGraph().apply(announcement({}, secrets), NOW)
      expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "InvalidSignature", which, severity: "warn" })
    }
  })
  it("the signatures cover everything after them (a changed feature byte breaks them)", () => {
    const raw = announcement({ features: Uint8Array.of(0) })
    raw[2 + 256 + 2] = 2
    expect(failureTag(newGraph().apply(raw, NOW))).toBe("InvalidSignature")
  })
  it("another chain is ignored (WrongChain)", () => {
    const r = newGraph().apply(announcement({ chainHash: otherChain }), NOW)
    expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "WrongChain", severity: "ignore" })
  })
  it("node_id_1 must be the lesser key (NodeIdsNotOrdered)", () => {
    const raw = announcement({}, { node1: s2, node2: s1, bitcoin1: b1, bitcoin2: b2 }, { nodeId1: n2, nodeId2: n1 })
    expect(failureTag(newGraph().apply(raw, NOW))).toBe("NodeIdsNotOrdered")
  })
  it("a key that is not on the curve is InvalidPublicKey", () => {
    let bad = Uint8Array.of(2, ...new Uint8Array(32).fill(0))
    for (let x = 0; secp.isValidPoint(bad); x++) bad = Uint8Array.of(2, ...new Uint8Array(31), x) // x = 0 is not on the curve; search otherwise
    const raw = announcement({ bitcoinKey2: bad }) // validly signed over the bad key
    expect(failureTag(newGraph().apply(raw, NOW))).toBe("InvalidPublicKey")
  })
  it("truncated bytes are MalformedGossip", () => {
    expect(failureTag(newGraph().apply(announcement().subarray(0, 300), NOW))).toBe("MalformedGossip")
  })
  it("a known channel is DuplicateChannel (conflicting when the nodes differ)", () => {
    const g = withChannel()
    const again = g.apply(announcement(), NOW)
    expect(Result.isFailure(again) && again.failure).toMatchObject({ _tag: "DuplicateChannel", conflicting: false })
    const s3 = secret("node c")
    const [x1, x2] = compareBytes(pub(s3), n2) < 0 ? [s3, s2] : [s2, s3]
    const other = g.apply(announcement({}, { node1: x1, node2: x2, bitcoin1: b1, bitcoin2: b2 }, { nodeId1: pub(x1), nodeId2: pub(x2) }), NOW)
    expect(Result.isFailure(other) && other.failure).toMatchObject({ _tag: "DuplicateChannel", conflicting: true })
  })
  it("unknown even features: kept, but the router does not route through it", () => {
    const g = newGraph()
    ok(g.apply(announcement({ features: Uint8Array.of(0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }), NOW)) // bit 96
    ok(g.apply(update(), NOW))
    expect(g.channel(scid)?.unknownEvenFeatures).toBe(true)
    expect(routingGraphOf([...g.allChannels()], [...g.allNodes()]).edgeCount).toBe(0)
  })
})

describe("channel_update", () => {
  it("is checked against node_id_1 for direction 0 and node_id_2 for direction 1", () => {
    const g = withChannel()
    ok(g.apply(update({ channelFlags: channelFlags(0, false) }, s1), NOW))
    ok(g.apply(update({ channelFlags: channelFlags(1, false) }, s2), NOW))
    expect(g.channel(scid)?.directions.map((d) => d?.cltvExpiryDelta)).toEqual([40, 40])
    // signed by the other end of the channel: wrong node for that direction
    const r = withChannel().apply(update({ channelFlags: channelFlags(1, false) }, s1), NOW)
    expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "InvalidSignature", message: "channel_update", severity: "warn" })
  })
  it("for an unknown channel: UnknownChannel", () => {
    expect(failureTag(newGraph().apply(update(), NOW))).toBe("UnknownChannel")
  })
  it("another chain: WrongChain", () => {
    expect(failureTag(withChannel().apply(update({ chainHash: otherChain }), NOW))).toBe("WrongChain")
  })
  it("only newer timestamps: older and equal-same are StaleTimestamp, equal-different is ConflictingUpdate", () => {
    const g = withChannel()
    ok(g.apply(update({ timestamp: NOW - 100 }), NOW))
    expect(failureTag(g.apply(update({ timestamp: NOW - 200 }), NOW))).toBe("StaleTimestamp")
    expect(failureTag(g.apply(update({ timestamp: NOW - 100 }), NOW))).toBe("StaleTimestamp")
    expect(failureTag(g.apply(update({ timestamp: NOW - 100, feeBaseMsat: 7 }), NOW))).toBe("ConflictingUpdate")
    ok(g.apply(update({ timestamp: NOW - 10, feeBaseMsat: 7 }), NOW))
    expect(g.channel(scid)?.directions[0]?.feeBaseMsat).toBe(7)
  })
  it("too far in the future (the time is given): TimestampInFuture", () => {
    const g = withChannel()
    expect(failureTag(g.apply(update({ timestamp: NOW + 2 * 86_400 }), NOW))).toBe("TimestampInFuture")
    ok(g.apply(update({ timestamp: NOW + 3_600 }), NOW))
  })
  it("must_be_one clear: MustBeOneNotSet; htlc_maximum_msat over 21M BTC: HtlcMaximumTooLarge", () => {
    const g = withChannel()
    // signChannelUpdate always sets must_be_one: clear it and re-sign by hand.
    const fields = updateFields()
    const raw = ok(ChannelUpdate.encode(ChannelUpdate.make({ ...fields, messageFlags: 0, signature: new Uint8Array(64) })))
    expect(failureTag(g.apply(raw, NOW))).toBe("MustBeOneNotSet")
    expect(failureTag(g.apply(update({ htlcMaximumMsat: 21_000_000n * 100_000_000_000n + 1n }), NOW))).toBe("HtlcMaximumTooLarge")
  })
  it("dont_forward: not public gossip (DontForward)", () => {
    expect(failureTag(withChannel().apply(update({ messageFlags: 3 }), NOW))).toBe("DontForward")
  })
  it("htlc_maximum_msat below htlc_minimum_msat or above capacity: kept, not routed", () => {
    const g = withChannel(100_000n) // 100,000,000 msat
    ok(g.apply(update({ channelFlags: channelFlags(0, false), htlcMinimumMsat: 10_000n, htlcMaximumMsat: 5_000n }), NOW))
    ok(g.apply(update({ channelFlags: channelFlags(1, false), htlcMaximumMsat: 100_000_001n }, s2), NOW))
    const c = g.channel(scid)
    expect(c?.directions.map((d) => d?.unroutable)).toEqual(["HtlcMaximumBelowMinimum", "HtlcMaximumAboveCapacity"])
    expect(routingGraphOf([...g.allChannels()], []).edgeCount).toBe(0)
    ok(g.apply(update({ channelFlags: channelFlags(1, false), timestamp: NOW - 5, htlcMaximumMsat: 100_000_000n }, s2), NOW))
    expect(routingGraphOf([...g.allChannels()], []).edgeCount).toBe(1)
  })
  it("the disable bit: kept, enabled = false", () => {
    const g = withChannel()
    ok(g.apply(update({ channelFlags: channelFlags(0, true) }), NOW))
    expect(g.channel(scid)?.directions[0]?.enabled).toBe(false)
  })
})

describe("node_announcement", () => {
  const dns: Address = { _tag: "Dns", hostname: "ln.example.org", port: 9735 }
  it("only for a node with a known channel (UnknownNode)", () => {
    expect(failureTag(newGraph().apply(nodeAnn(), NOW))).toBe("UnknownNode")
  })
  it("signature (InvalidSignature), newer timestamps (StaleTimestamp), not in the future (TimestampInFuture)", () => {
    const g = withChannel()
    expect(failureTag(g.apply(nodeAnn({}, s2), NOW))).toBe("InvalidSignature")
    ok(g.apply(nodeAnn(), NOW))
    expect(failureTag(g.apply(nodeAnn(), NOW))).toBe("StaleTimestamp")
    expect(failureTag(g.apply(nodeAnn({ timestamp: NOW - 60 }), NOW))).toBe("StaleTimestamp")
    expect(failureTag(g.apply(nodeAnn({ timestamp: NOW + 3 * 86_400 }), NOW))).toBe("TimestampInFuture")
  })
  it("addresses: DNS hostnames kept, port 0 and Tor v2 dropped, a second DNS hostname dropped and not forwarded", () => {
    const g = withChannel()
    const v4: Address = { _tag: "Ipv4", addr: Uint8Array.of(1, 2, 3, 4), port: 9735 }
    const v4zero: Address = { _tag: "Ipv4", addr: Uint8Array.of(1, 2, 3, 5), port: 0 }
    const torv2: Address = { _tag: "TorV2", data: new Uint8Array(12) }
    const dns2: Address = { _tag: "Dns", hostname: "second.example.org", port: 9735 }
    const applied = ok(g.apply(nodeAnn({ addresses: { addresses: [v4, v4zero, torv2, dns, dns2], unparsed: new Uint8Array(0) } }), NOW))
    expect(applied).toMatchObject({ _tag: "NodeUpdated", forward: false })
    expect(g.node(n1)?.announcement?.addresses).toEqual([v4, dns])
    expect(g.node(n1)?.announcement?.forward).toBe(false)
  })
  it("an addrlen too short for a known descriptor is MalformedGossip; unknown types are skipped", () => {
    const g = withChannel()
    const raw = nodeAnn({ addresses: { addresses: [dns], unparsed: new Uint8Array(0) } })
    // addrlen is the u16 before the addresses (the last field): make it cut the descriptor.
    const addrlenAt = raw.length - (3 + dns.hostname.length + 2) - 2
    const cut = raw.slice(0, raw.length - 2)
    cut[addrlenAt + 1] = (cut[addrlenAt + 1] ?? 0) - 2
    expect(failureTag(g.apply(cut, NOW))).toBe("MalformedGossip")
    const unknown = ok(g.apply(nodeAnn({ timestamp: NOW - 40, addresses: { addresses: [dns], unparsed: Uint8Array.of(42, 1, 2, 3) } }), NOW))
    expect(unknown._tag).toBe("NodeUpdated")
    expect(g.node(n1)?.announcement?.addresses).toEqual([dns])
  })
  it("alias: UTF-8 text up to the first zero; invalid UTF-8 or non-zero padding is flagged, not refused", () => {
    const g = withChannel()
    const alias = new Uint8Array(32)
    alias.set(new TextEncoder().encode("⚡ zap"))
    ok(g.apply(nodeAnn({ alias }), NOW))
    expect(g.node(n1)?.announcement).toMatchObject({ alias: "⚡ zap", aliasValid: true })
    const bad = new Uint8Array(32)
    bad.set([0xff, 0x41, 0, 7])
    ok(g.apply(nodeAnn({ alias: bad, timestamp: NOW - 10 }), NOW))
    expect(g.node(n1)?.announcement).toMatchObject({ alias: "\ufffdA", aliasValid: false })
  })
  it("unknown even features: kept, and the router does not route through the node", () => {
    const g = withChannel()
    ok(g.apply(update({ channelFlags: channelFlags(0, false) }, s1), NOW))
    ok(g.apply(update({ channelFlags: channelFlags(1, false) }, s2), NOW))
    expect(routingGraphOf([...g.allChannels()], [...g.allNodes()]).edgeCount).toBe(2)
    ok(g.apply(nodeAnn({ features: Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }), NOW))
    expect(g.node(n1)?.announcement?.unknownEvenFeatures).toBe(true)
    expect(routingGraphOf([...g.allChannels()], [...g.allNodes()]).edgeCount).toBe(1) // only node 2's direction
  })
})

describe("pruning and removal", () => {
  it("a channel whose oldest direction is over two weeks old is pruned, with nodes left without channels", () => {
    const g = withChannel()
    ok(g.apply(update({ timestamp: NOW - 10 }), NOW))
    ok(g.apply(update({ channelFlags: channelFlags(1, false), timestamp: NOW - 20 }, s2), NOW))
    expect(g.prune(NOW + STALE_CHANNEL_SECONDS - 100)).toEqual([])
    expect(g.prune(NOW + STALE_CHANNEL_SECONDS)).toEqual([scid])
    expect(g.channels).toBe(0)
    expect(g.nodes).toBe(0)
    expect(failureTag(g.apply(nodeAnn(), NOW))).toBe("UnknownNode")
  })
  it("a missing direction counts from when the channel was announced", () => {
    expect(isStaleChannel(NOW, NOW - STALE_CHANNEL_SECONDS - 1, [NOW, undefined])).toBe(true)
    expect(isStaleChannel(NOW, NOW - 10, [NOW, undefined])).toBe(false)
  })
  it("removeChannel (funding spent) forgets the channel and its nodes", () => {
    const g = withChannel()
    ok(g.apply(nodeAnn(), NOW))
    expect(g.removeChannel(scid)).toBe(true)
    expect(g.removeChannel(scid)).toBe(false)
    expect(g.node(n1)).toBeUndefined()
  })
})

describe("queries: ranges, checksums, stored messages", () => {
  it("channelRange is ascending, within the blocks, with timestamps and update checksums", () => {
    const g = newGraph()
    const ids = [shortChannelIdFromParts(100, 2, 0), shortChannelIdFromParts(100, 1, 0), shortChannelIdFromParts(101, 0, 0), shortChannelIdFromParts(103, 0, 0)]
    for (const id of ids) ok(g.apply(announcement({ shortChannelId: id }), NOW))
    const u = update({ shortChannelId: ids[0] ?? scid })
    ok(g.apply(u, NOW))
    const range = g.channelRange(100, 3)
    expect(range.map((r) => r.shortChannelId)).toEqual([ids[1], ids[0], ids[2]])
    expect(range[1]).toMatchObject({ timestamps: [NOW - 100, 0], checksums: [channelUpdateChecksum(u), 0] })
    expect(g.channelMessages(ids[0] ?? scid)?.updates[0]).toEqual(u)
  })
  it("CRC32C: RFC 3720 B.4 vectors", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e)
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283)
  })
  it("the checksum ignores signature and timestamp, and sees every other field", () => {
    const a = update({ timestamp: 1 })
    const b = update({ timestamp: 2 }, s2)
    expect(channelUpdateChecksum(a)).toBe(channelUpdateChecksum(b))
    expect(channelUpdateChecksum(update({ feeBaseMsat: 1 }))).not.toBe(channelUpdateChecksum(a))
    // the definition: CRC32C of the message without the type, signature and timestamp
    expect(channelUpdateChecksum(a)).toBe(crc32c(concatBytes(a.subarray(66, 106), a.subarray(110))))
  })
})

describe("precheck (everything but the signatures) and the timestamp-filter backlog", () => {
  it("precheck tells stale, unknown, malformed and foreign gossip apart without verifying, and changes nothing", () => {
    const g = withChannel()
    const before = g.version
    expect(failureTag(g.precheck(announcement(), NOW))).toBe("DuplicateChannel")
    expect(failureTag(g.precheck(update({ shortChannelId: shortChannelIdFromParts(1, 1, 1) }), NOW))).toBe("UnknownChannel")
    expect(failureTag(g.precheck(update({ chainHash: otherChain }), NOW))).toBe("WrongChain")
    expect(failureTag(g.precheck(nodeAnn({ nodeId: pub(secret("stranger")) }), NOW))).toBe("UnknownNode")
    expect(failureTag(g.precheck(Uint8Array.of(1, 2, 3), NOW))).toBe("MalformedGossip")
    // a badly signed but otherwise new update passes the precheck; apply then refuses it
    const badSig = update({}, s2)
    expect(failureTag(g.precheck(badSig, NOW))).toBe("accepted")
    expect(failureTag(g.apply(badSig, NOW))).toBe("InvalidSignature")
    ok(g.apply(update(), NOW))
    expect(failureTag(g.precheck(update(), NOW))).toBe("StaleTimestamp")
    expect(g.version).toBe(before + 1)
  })
  it("timeRange pages the messages whose timestamps are in the window, announcements before their updates", () => {
    const g = newGraph()
    const ids = [shortChannelIdFromParts(1, 0, 0), shortChannelIdFromParts(2, 0, 0), shortChannelIdFromParts(3, 0, 0)]
    for (const id of ids) ok(g.apply(announcement({ shortChannelId: id }), NOW))
    const u0 = update({ shortChannelId: ids[0] ?? scid, timestamp: NOW - 100 })
    const u1 = update({ shortChannelId: ids[1] ?? scid, timestamp: NOW - 10 })
    ok(g.apply(u0, NOW))
    ok(g.apply(u1, NOW))
    const n = nodeAnn({ timestamp: NOW - 5 })
    ok(g.apply(n, NOW))
    const all = g.timeRange(NOW - 1000, 1000)
    const ann = (i: number) => g.channelMessages(ids[i] ?? scid)?.announcement
    expect(all.messages).toEqual([ann(0), u0, n, ann(1), u1]) // channel 3 has no update: never sent
    expect(all.next).toBeUndefined()
    expect(g.timeRange(NOW - 50, 50).messages).toEqual([n, ann(1), u1])
    const page = g.timeRange(NOW - 1000, 1000, 0, 1)
    expect(page).toEqual({ messages: [ann(0), u0, n], next: 1 })
    // the next page sends node 1's announcement again (once per page, after its channel)
    expect(g.timeRange(NOW - 1000, 1000, page.next, 5).messages).toEqual([ann(1), u1, n])
  })
})

describe("signing helpers and the funding output", () => {
  it("directionOf and channelFlags follow BOLT 7", () => {
    expect(directionOf(n1, n2)).toBe(0)
    expect(directionOf(n2, n1)).toBe(1)
    expect(channelFlags(1, true)).toBe(3)
  })
  it("checkFundingOutput: the P2WSH of the two bitcoin keys, unspent", () => {
    const m = ok(ChannelAnnouncement.decode(announcement()))
    const script = expectedFundingScriptPubKey(m)
    expect(script.length).toBe(34)
    expect(checkFundingOutput(m, { _tag: "Unspent", scriptPubKey: script, valueSat: 5n })).toEqual(Result.succeed(5n))
    expect(failureTag(checkFundingOutput(m, { _tag: "Unspent", scriptPubKey: fromHex("0014" + "00".repeat(20)), valueSat: 5n }))).toBe("FundingOutputMismatch")
    expect(failureTag(checkFundingOutput(m, { _tag: "Spent" }))).toBe("FundingOutputMismatch")
    expect(failureTag(checkFundingOutput(m, { _tag: "Missing" }))).toBe("FundingOutputMismatch")
  })
})

describe("properties", () => {
  it("apply never throws: arbitrary, mutated or truncated bytes give a value or a typed error", () => {
    const base = [announcement(), update(), nodeAnn()]
    const g = withChannel()
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }), (which, pos, b, junk) => {
        const before = g.version
        const raw = (base[which] ?? new Uint8Array(0)).slice()
        raw[pos % raw.length] = b
        for (const input of [raw, raw.subarray(0, pos % raw.length), concatBytes(raw.subarray(0, 2), junk)]) {
          const r = g.apply(input, NOW)
          if (Result.isFailure(r)) expect(typeof r.failure._tag).toBe("string")
        }
        return g.version >= before
      }),
      { numRuns: 150 }
    )
  })
  it("restore (a damaged save) never throws; serialize then restore gives the same graph", () => {
    const g = withChannel(5n)
    ok(g.apply(update(), NOW))
    ok(g.apply(nodeAnn(), NOW))
    const saved = g.serialize()
    const copy = newGraph()
    expect(copy.restore(saved)).toEqual({ loaded: 3, skipped: 0 })
    expect([...copy.allChannels()]).toEqual([...g.allChannels()])
    expect([...copy.allNodes()]).toEqual([...g.allNodes()])
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), (pos, b, junk) => {
        const damaged = saved.slice()
        damaged[pos % damaged.length] = b
        for (const input of [damaged, saved.subarray(0, pos % saved.length), junk]) {
          const r = newGraph().restore(input)
          expect(r.loaded + r.skipped).toBeGreaterThanOrEqual(0)
        }
      }),
      { numRuns: 200 }
    )
  })
  it("a failed apply leaves the graph as it was", () => {
    const g = withChannel()
    ok(g.apply(update(), NOW))
    const before = JSON.stringify([...g.allChannels()], (_, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? [...v] : v))
    for (const raw of [update({ timestamp: NOW - 500 }), update({}, s2), nodeAnn({}, s2), announcement()]) expect(Result.isFailure(g.apply(raw, NOW))).toBe(true)
    expect(JSON.stringify([...g.allChannels()], (_, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? [...v] : v))).toBe(before)
  })
})
