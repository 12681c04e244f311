/**
 * BOLT 7 gossip from a hostile peer: the gossip decoders and the graph that stores what passes
 * them (issue 10).
 *
 * The input is a sequence of frames `[u16 length][message]`; each message goes through
 * - the gossip registry (every BOLT 7 message with its TLVs): typed results only, and an
 *   accepted message re-encodes to exactly its bytes;
 * - the encoded lists of the queries (`encoded_short_ids`, `encoded_timestamps`,
 *   `encoded_query_flags`) read from the message's bytes: typed results, and what decodes
 *   encodes back to the same bytes;
 * - `precheck` and `apply` of a `CompactGraph`, one per input, whose curve is the insecure test
 *   curve (every signature verifies, so mutated messages get past the signature checks and into
 *   storage, removal and pruning): typed `GossipError`s with a severity only, and the graph stays
 *   consistent: every channel it lists gives back its stored messages, and what it serializes
 *   restores into a fresh graph with the same nodes and channels.
 */
import { Result } from "effect"
import { equalBytes, fromHex } from "../../src/protocol/bytes.ts"
import { makeRegistry } from "../../src/protocol/codec/message.ts"
import { shortChannelIdFromParts } from "../../src/protocol/codec/fields.ts"
import {
  decodeQueryFlags,
  decodeShortChannelIds,
  decodeTimestamps,
  encodeQueryFlags,
  encodeShortChannelIds,
  encodeTimestamps
} from "../../src/protocol/gossip/encoding.ts"
import { channelFlags, signChannelAnnouncement, signChannelUpdate, signNodeAnnouncement } from "../../src/protocol/gossip/sign.ts"
import { ChainHashes } from "../../src/protocol/messages/index.ts"
import {
  gossipMessages,
  GossipTimestampFilter,
  QueryChannelRange,
  QueryShortChannelIds,
  ReplyChannelRange
} from "../../src/protocol/messages/gossip.ts"
import { CompactGraph } from "../../src/layers/graph/CompactGraph.ts"
import { insecureSecp256k1 as secp } from "../../src/testing/InsecureCrypto.ts"

const Gossip = makeRegistry(gossipMessages)
const chainHash = ChainHashes.regtest
/** The graph's "now" (seconds): fixed, so a case is reproducible. */
const NOW = 1_770_000_000

const key = (n: number): Uint8Array => {
  const k = new Uint8Array(32)
  k[31] = n
  return k
}
const pub = (n: number): Uint8Array => secp.publicKey(key(n)) ?? new Uint8Array(33)
const orEmpty = (r: Result.Result<Uint8Array, unknown>): Uint8Array => (Result.isSuccess(r) ? r.success : new Uint8Array(0))
const encoded = (m: Parameters<typeof Gossip.encode>[0]): Uint8Array => orEmpty(Gossip.encode(m))

const scid = shortChannelIdFromParts(700_000, 1, 0)
const announcement = orEmpty(signChannelAnnouncement(secp, {
  features: new Uint8Array(0),
  chainHash,
  shortChannelId: scid,
  nodeId1: pub(1),
  nodeId2: pub(2),
  bitcoinKey1: pub(3),
  bitcoinKey2: pub(4)
}, { node1: key(1), node2: key(2), bitcoin1: key(3), bitcoin2: key(4) }))
const update = (direction: 0 | 1, timestamp: number) =>
  orEmpty(signChannelUpdate(secp, {
    chainHash,
    shortChannelId: scid,
    timestamp,
    messageFlags: 1,
    channelFlags: channelFlags(direction, false),
    cltvExpiryDelta: 40,
    htlcMinimumMsat: 1000n,
    feeBaseMsat: 1000,
    feeProportionalMillionths: 100,
    htlcMaximumMsat: 100_000_000n
  }, key(direction === 0 ? 1 : 2)))
const nodeAnnouncement = orEmpty(signNodeAnnouncement(secp, {
  features: new Uint8Array(0),
  timestamp: NOW - 100,
  nodeId: pub(1),
  rgbColor: Uint8Array.of(1, 2, 3),
  alias: new Uint8Array(32).fill(0x41),
  addresses: {
    addresses: [
      { _tag: "Ipv4", addr: Uint8Array.of(10, 0, 0, 1), port: 9735 },
      { _tag: "Dns", hostname: "node.example", port: 9735 }
    ],
    unparsed: new Uint8Array(0)
  }
}, key(1)))
const ids = [scid, shortChannelIdFromParts(700_001, 2, 1)]
const queries = [
  encoded(QueryShortChannelIds.make({ chainHash, encodedShortIds: encodeShortChannelIds(ids) }, { queryFlags: encodeQueryFlags([1n, 31n]) })),
  encoded(QueryChannelRange.make({ chainHash, firstBlocknum: 600_000, numberOfBlocks: 200_000 }, { queryOption: 3n })),
  encoded(ReplyChannelRange.make(
    { chainHash, firstBlocknum: 600_000, numberOfBlocks: 200_000, syncComplete: 1, encodedShortIds: encodeShortChannelIds(ids) },
    { timestampsTlv: encodeTimestamps([{ timestampNodeId1: 1, timestampNodeId2: 2 }, { timestampNodeId1: 3, timestampNodeId2: 0 }]) }
  )),
  encoded(GossipTimestampFilter.make({ chainHash, firstTimestamp: 0, timestampRange: 0xffffffff }))
]

const frames = (messages: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out: Array<number> = []
  for (const m of messages) out.push(m.length >> 8, m.length & 0xff, ...m)
  return Uint8Array.from(out)
}

export const seeds: ReadonlyArray<Uint8Array> = [
  frames([announcement, update(0, NOW - 50), update(1, NOW - 40), nodeAnnouncement]),
  frames([update(0, NOW - 50), announcement, update(0, NOW - 10), update(0, NOW - 10)]),
  frames(queries),
  frames([announcement, nodeAnnouncement, update(1, NOW + 100_000)]),
  fromHex("0000")
]

const check = (ok: boolean, what: string): void => {
  if (!ok) throw new Error(what)
}

/** The encoded lists a query or reply carries: typed failures, and round trips. */
const fuzzLists = (bytes: Uint8Array): void => {
  const ids = decodeShortChannelIds(bytes)
  if (Result.isSuccess(ids)) check(equalBytes(encodeShortChannelIds(ids.success), bytes), "encoded_short_ids round trip")
  else check(typeof ids.failure._tag === "string", "untyped encoded_short_ids failure")
  const type = bytes[0] ?? 0
  const body = bytes.subarray(1)
  const stamps = decodeTimestamps(type, body, Math.floor(body.length / 8))
  if (Result.isSuccess(stamps)) check(equalBytes(encodeTimestamps(stamps.success).encodedTimestamps, body), "encoded_timestamps round trip")
  for (const expected of [1, 2, body.length]) {
    const flags = decodeQueryFlags(type, body, expected)
    if (Result.isSuccess(flags)) check(equalBytes(encodeQueryFlags(flags.success).encodedQueryFlags, body), "encoded_query_flags round trip")
    else check(typeof flags.failure._tag === "string", "untyped encoded_query_flags failure")
  }
}

const fuzzMessage = (raw: Uint8Array): void => {
  const r = Gossip.decode(raw)
  if (Result.isFailure(r)) {
    check(typeof r.failure._tag === "string", "untyped gossip decode failure")
    return
  }
  const m = r.success
  if (m._tag !== "UnknownMessage") {
    const again = Gossip.encode(m)
    check(Result.isSuccess(again) && equalBytes(again.success, raw), `re-encoding of ${m._tag} differs`)
  }
  switch (m._tag) {
    case "QueryShortChannelIds":
      fuzzLists(m.encodedShortIds)
      if (m.tlvs.queryFlags !== undefined) fuzzLists(Uint8Array.of(m.tlvs.queryFlags.encodingType, ...m.tlvs.queryFlags.encodedQueryFlags))
      return
    case "ReplyChannelRange":
      fuzzLists(m.encodedShortIds)
      if (m.tlvs.timestampsTlv !== undefined) fuzzLists(Uint8Array.of(m.tlvs.timestampsTlv.encodingType, ...m.tlvs.timestampsTlv.encodedTimestamps))
      return
    default:
      return
  }
}

export function fuzz(data: Uint8Array): void {
  const graph = new CompactGraph({ context: { secp, chainHash }, nodeCapacity: 2, channelCapacity: 2 })
  let at = 0
  let n = 0
  while (at + 2 <= data.length && n < 32) {
    const length = ((data[at] ?? 0) << 8) | (data[at + 1] ?? 0)
    const raw = data.subarray(at + 2, Math.min(data.length, at + 2 + length))
    at += 2 + length
    n++
    fuzzMessage(raw)
    fuzzLists(raw)
    const pre = graph.precheck(raw, NOW)
    if (Result.isFailure(pre)) check(pre.failure.severity === "warn" || pre.failure.severity === "ignore", "precheck failure without severity")
    const applied = graph.apply(raw, NOW)
    if (Result.isFailure(applied)) check(applied.failure.severity === "warn" || applied.failure.severity === "ignore", "apply failure without severity")
    // Every 8th message, two weeks pass: pruning (removal) runs on hostile data too.
    if (n % 8 === 0) graph.prune(NOW + 15 * 24 * 3600)
  }
  // The graph is consistent: each channel gives back its messages, and a save restores the same graph.
  let channels = 0
  for (const c of graph.allChannels()) {
    channels++
    const stored = graph.channelMessages(c.shortChannelId)
    check(stored !== undefined && Result.isSuccess(Gossip.decode(stored.announcement)), "a listed channel without its announcement")
  }
  check(channels === graph.channels, "channel count differs from the listed channels")
  const copy = new CompactGraph({ context: { secp, chainHash }, nodeCapacity: 2, channelCapacity: 2 })
  const restored = copy.restore(graph.serialize())
  check(restored.skipped === 0, "a saved message was skipped on restore")
  check(copy.channels === graph.channels && copy.nodes === graph.nodes, "restore gives another graph")
  for (const c of [...graph.allChannels()]) graph.removeChannel(c.shortChannelId)
  check(graph.channels === 0 && graph.nodes === 0, "nodes left after removing every channel")
}
