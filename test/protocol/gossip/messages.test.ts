/**
 * BOLT 7 message declarations: checked against the spec's message catalog
 * (`test/vectors/bolt-messages.json`), the spec's extended-queries vectors
 * (`test/vectors/bolt07/extended-queries.json`), and by property tests (round trips through
 * bytes and JSON, decoders never throw).
 */
import fc from "fast-check"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { ChainHash, ShortChannelId, WireField } from "../../../src/protocol/codec/fields.ts"
import { parseShortChannelId } from "../../../src/protocol/codec/fields.ts"
import { fromHex } from "../../../src/protocol/bytes.ts"
import {
  decodeQueryFlags,
  decodeShortChannelIds,
  decodeTimestamps,
  encodeQueryFlags,
  encodeShortChannelIds,
  encodeTimestamps,
  ENCODING_ZLIB,
  UnsupportedEncoding
} from "../../../src/protocol/gossip/encoding.ts"
import {
  AnnouncementSignatures,
  ChannelAnnouncement,
  ChannelUpdate,
  type GossipMessage,
  gossipMessages,
  GossipTimestampFilter,
  isGossipMessage,
  LightningMessages,
  NodeAnnouncement,
  QueryChannelRange,
  QueryShortChannelIds,
  ReplyChannelRange,
  ReplyShortChannelIdsEnd
} from "../../../src/protocol/messages/index.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import catalog from "../../vectors/bolt-messages.json" with { type: "json" }
import extended from "../../vectors/bolt07/extended-queries.json" with { type: "json" }
import { address, point } from "../messages/arbitraries.ts"

interface SpecField {
  readonly name: string
  readonly element_type: string
  readonly count?: string | number
  readonly kind: string
}
const normalize = (name: string): string => name.replace(/_/g, "").toLowerCase()
const element = (t: string): string => (t === "u8" ? "byte" : t)
const ours = (fields: ReadonlyArray<WireField>): ReadonlyArray<string> =>
  fields.map((f) => `${element(f.element)}${f.count === undefined ? "" : `[${f.count}]`}`)
const spec = (fields: ReadonlyArray<SpecField>): ReadonlyArray<string> =>
  fields.map((f, i) => {
    const count = f.count === undefined ? "" : typeof f.count === "number" ? `[${f.count}]` : f.count === "..." ? "[...]" : f.count === fields[i - 1]?.name ? "[prev]" : `[${f.count}]`
    return `${element(f.element_type)}${count}`
  })
const streams = catalog.tlv_streams as Record<string, { records: ReadonlyArray<{ type: number; name: string; fields: ReadonlyArray<SpecField> }> }>

describe("BOLT 7 declarations match the spec catalog", () => {
  for (const def of gossipMessages) {
    it(`${def.name} (${def.type})`, () => {
      const entry = catalog.messages.find((m) => m.name === def.name)
      if (entry === undefined) throw new Error(`${def.name} is not in the catalog`)
      expect(def.type).toBe(entry.type)
      const specFields = (entry.fields as ReadonlyArray<SpecField>).filter((f) => f.kind !== "tlv_stream")
      expect(def.wire.filter((w) => w.name !== "tlvs").flatMap((w) => ours(w.wire))).toEqual(spec(specFields))
      const dataNames = specFields.filter((f, i) => !specFields.some((g, j) => j > i && g.count === f.name)).map((f) => normalize(f.name))
      expect(def.wire.filter((w) => w.name !== "tlvs").map((w) => normalize(w.name))).toEqual(dataNames)
      const streamName = entry.tlv_stream
      if (streamName === null) {
        expect(def.tlvs.records).toEqual([])
      } else {
        expect(def.tlvs.name).toBe(streamName)
        const records = streams[streamName]?.records ?? []
        expect(def.tlvs.records.map((r) => [Number(r.type), normalize(r.name)])).toEqual(records.map((r) => [r.type, normalize(r.name)]))
        for (const r of def.tlvs.records) {
          const s = records.find((x) => x.type === Number(r.type))
          expect(ours(r.wire)).toEqual(spec(s?.fields ?? []))
        }
      }
    })
  }
  it("declares every BOLT 7 message of the catalog, all in LightningMessages", () => {
    const bolt7 = catalog.messages.filter((m) => m.bolt === "07-routing-gossip.md").map((m) => m.name)
    expect(gossipMessages.map((d) => d.name).sort()).toEqual(bolt7.sort())
    for (const def of gossipMessages) expect(LightningMessages.byType(def.type)?.name).toBe(def.name)
  })
})

// ---- the spec's extended-queries vectors ----------------------------------------------------------

interface VectorMsg {
  readonly type: string
  readonly chainHash: string
  readonly firstBlockNum?: number
  readonly numberOfBlocks?: number
  readonly complete?: number
  readonly shortChannelIds?: { readonly array: ReadonlyArray<string>; readonly encoding: string }
  readonly tlvStream?: { readonly records: ReadonlyArray<string | { readonly array: ReadonlyArray<number>; readonly encoding: string }> }
  readonly timestamps?: { readonly encoding: string; readonly timestamps: ReadonlyArray<{ readonly timestamp1: number; readonly timestamp2: number }> }
  readonly checksums?: { readonly checksums: ReadonlyArray<{ readonly checksum1: number; readonly checksum2: number }> }
}
const vectors = extended as ReadonlyArray<{ readonly hex: string; readonly msg: VectorMsg }>
const scid = (s: string): ShortChannelId => {
  const v = parseShortChannelId(s)
  if (v === undefined) throw new Error(`bad scid ${s}`)
  return v
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

describe("bolt07/extended-queries.json", () => {
  vectors.forEach(({ hex: h, msg }, i) => {
    it(`vector ${i}: ${msg.type} ${msg.shortChannelIds?.encoding ?? ""}`, () => {
      const bytes = fromHex(h)
      const decoded = Result.getOrThrow(LightningMessages.decode(bytes))
      expect(decoded._tag).toBe(msg.type)
      // Every vector re-encodes to its bytes (zlib lists are kept opaque).
      expect(hex(Result.getOrThrow(LightningMessages.encode(decoded as GossipMessage)))).toBe(h)
      if (decoded._tag === "QueryChannelRange") {
        expect(hex(decoded.chainHash)).toBe(msg.chainHash)
        expect(decoded.firstBlocknum).toBe(msg.firstBlockNum)
        expect(decoded.numberOfBlocks).toBe(msg.numberOfBlocks)
        const records = msg.tlvStream?.records ?? []
        expect(decoded.tlvs.queryOption).toBe(records.length === 0 ? undefined : 3n)
        return
      }
      const ids = msg.shortChannelIds
      if (ids === undefined) throw new Error("vector without ids")
      if (decoded._tag !== "ReplyChannelRange" && decoded._tag !== "QueryShortChannelIds") throw new Error(decoded._tag)
      expect(hex(decoded.chainHash)).toBe(msg.chainHash)
      const list = decodeShortChannelIds(decoded.encodedShortIds)
      if (ids.encoding === "UNCOMPRESSED") {
        expect(Result.getOrThrow(list)).toEqual(ids.array.map(scid))
        expect(hex(encodeShortChannelIds(ids.array.map(scid)))).toBe(hex(decoded.encodedShortIds))
      } else {
        // BOLT 7: encoding type 1 (zlib) MUST NOT be used: refused with a typed error.
        expect(list).toEqual(Result.fail(new UnsupportedEncoding({ list: "encoded_short_ids", encodingType: ENCODING_ZLIB })))
      }
      if (decoded._tag === "ReplyChannelRange") {
        expect(decoded.firstBlocknum).toBe(msg.firstBlockNum)
        expect(decoded.numberOfBlocks).toBe(msg.numberOfBlocks)
        expect(decoded.syncComplete).toBe(msg.complete)
        const ts = decoded.tlvs.timestampsTlv
        if (msg.timestamps === undefined) expect(ts).toBeUndefined()
        else if (ts === undefined) throw new Error("timestamps missing")
        else if (msg.timestamps.encoding === "UNCOMPRESSED") {
          const want = msg.timestamps.timestamps.map((t) => ({ timestampNodeId1: t.timestamp1, timestampNodeId2: t.timestamp2 }))
          expect(Result.getOrThrow(decodeTimestamps(ts.encodingType, ts.encodedTimestamps, ids.array.length))).toEqual(want)
          expect(encodeTimestamps(want)).toEqual(ts)
        } else {
          expect(Result.isFailure(decodeTimestamps(ts.encodingType, ts.encodedTimestamps, ids.array.length))).toBe(true)
        }
        const cs = decoded.tlvs.checksumsTlv
        if (msg.checksums === undefined) expect(cs).toBeUndefined()
        else expect(cs).toEqual(msg.checksums.checksums.map((c) => ({ checksumNodeId1: c.checksum1, checksumNodeId2: c.checksum2 })))
      } else {
        const qf = decoded.tlvs.queryFlags
        const rec = msg.tlvStream?.records[0]
        if (rec === undefined || typeof rec === "string") expect(qf).toBeUndefined()
        else if (qf === undefined) throw new Error("query flags missing")
        else if (rec.encoding === "UNCOMPRESSED") {
          expect(Result.getOrThrow(decodeQueryFlags(qf.encodingType, qf.encodedQueryFlags, ids.array.length))).toEqual(rec.array.map(BigInt))
        } else {
          expect(decodeQueryFlags(qf.encodingType, qf.encodedQueryFlags, ids.array.length)).toEqual(
            Result.fail(new UnsupportedEncoding({ list: "encoded_query_flags", encodingType: ENCODING_ZLIB }))
          )
        }
      }
    })
  })
  it("encoded lists: not ascending, partial items and count mismatches are typed errors", () => {
    const two = encodeShortChannelIds([scid("1x0x0"), scid("2x0x0")])
    const swapped = Uint8Array.of(0, ...two.subarray(9), ...two.subarray(1, 9))
    expect(Result.isFailure(decodeShortChannelIds(swapped)) && decodeShortChannelIds(swapped)).toMatchObject({ failure: { _tag: "ShortIdsNotAscending" } })
    expect(decodeShortChannelIds(two.subarray(0, 12))).toMatchObject({ failure: { _tag: "MalformedEncodedList" } })
    expect(decodeShortChannelIds(new Uint8Array(0))).toMatchObject({ failure: { _tag: "MalformedEncodedList" } })
    const flags = encodeQueryFlags([1n, 31n])
    expect(decodeQueryFlags(flags.encodingType, flags.encodedQueryFlags, 3)).toMatchObject({ failure: { _tag: "ListLengthMismatch" } })
    expect(decodeQueryFlags(0, Uint8Array.of(0xfd, 0, 1), 1)).toMatchObject({ failure: { _tag: "MalformedEncodedList" } }) // not minimal
    expect(decodeTimestamps(0, new Uint8Array(7), 1)).toMatchObject({ failure: { _tag: "MalformedEncodedList" } })
  })
})

// ---- property tests -------------------------------------------------------------------------------

const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const chainHash = fixed(32).map((b) => b as ChainHash)
const shortChannelId = u64.map((v) => v as ShortChannelId)
const sig = fixed(64)
const features = fc.uint8Array({ maxLength: 40 })

const channelAnnouncement = fc
  .record({
    nodeSignature1: sig, nodeSignature2: sig, bitcoinSignature1: sig, bitcoinSignature2: sig, features, chainHash,
    shortChannelId, nodeId1: point, nodeId2: point, bitcoinKey1: point, bitcoinKey2: point
  })
  .map((f) => ChannelAnnouncement.make(f))
const nodeAnnouncement = fc
  .record({
    signature: sig, features, timestamp: u32, nodeId: point, rgbColor: fixed(3), alias: fixed(32),
    addresses: fc.record({ addresses: fc.array(address, { maxLength: 5 }), unparsed: fc.constant(new Uint8Array(0)) })
  })
  .map((f) => NodeAnnouncement.make(f))
const channelUpdate = fc
  .record({
    signature: sig, chainHash, shortChannelId, timestamp: u32, messageFlags: fc.integer({ min: 0, max: 255 }),
    channelFlags: fc.integer({ min: 0, max: 255 }), cltvExpiryDelta: fc.integer({ min: 0, max: 0xffff }),
    htlcMinimumMsat: u64, feeBaseMsat: u32, feeProportionalMillionths: u32, htlcMaximumMsat: u64
  })
  .map((f) => ChannelUpdate.make(f))
const gossipMessage: fc.Arbitrary<GossipMessage> = fc.oneof(
  channelAnnouncement,
  nodeAnnouncement,
  channelUpdate,
  fc.record({ channelId: fixed(32).map((b) => b as ChannelId), shortChannelId, nodeSignature: sig, bitcoinSignature: sig })
    .map((f) => AnnouncementSignatures.make(f)),
  fc.tuple(chainHash, fc.array(shortChannelId, { maxLength: 20 }), fc.option(fc.array(fc.bigInt({ min: 0n, max: 31n }), { maxLength: 20 }), { nil: undefined }))
    .map(([c, ids, flags]) => {
      const sorted = [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      return QueryShortChannelIds.make({ chainHash: c, encodedShortIds: encodeShortChannelIds(sorted) }, flags === undefined ? {} : { queryFlags: encodeQueryFlags(flags) })
    }),
  fc.record({ chainHash, fullInformation: fc.integer({ min: 0, max: 1 }) }).map((f) => ReplyShortChannelIdsEnd.make(f)),
  fc.tuple(fc.record({ chainHash, firstBlocknum: u32, numberOfBlocks: u32 }), fc.option(fc.bigInt({ min: 0n, max: 3n }), { nil: undefined }))
    .map(([f, q]) => QueryChannelRange.make(f, q === undefined ? {} : { queryOption: q })),
  fc.tuple(
    fc.record({ chainHash, firstBlocknum: u32, numberOfBlocks: u32, syncComplete: fc.integer({ min: 0, max: 1 }) }),
    fc.array(fc.tuple(shortChannelId, u32, u32, u32, u32), { maxLength: 10 }),
    fc.boolean(),
    fc.boolean()
  ).map(([f, rows, withTs, withCs]) =>
    ReplyChannelRange.make(
      { ...f, encodedShortIds: encodeShortChannelIds(rows.map((r) => r[0])) },
      {
        ...(withTs ? { timestampsTlv: encodeTimestamps(rows.map((r) => ({ timestampNodeId1: r[1], timestampNodeId2: r[2] }))) } : {}),
        ...(withCs ? { checksumsTlv: rows.map((r) => ({ checksumNodeId1: r[3], checksumNodeId2: r[4] })) } : {})
      }
    )),
  fc.record({ chainHash, firstTimestamp: u32, timestampRange: u32 }).map((f) => GossipTimestampFilter.make(f))
)

const isTyped = (r: Result.Result<unknown, unknown>): boolean =>
  Result.isSuccess(r) || (typeof r.failure === "object" && r.failure !== null && "_tag" in r.failure)

describe("BOLT 7 messages: properties", () => {
  it("every gossip message round-trips through bytes and JSON", () => {
    const toJson = Schema.encodeSync(LightningMessages.schema)
    const fromJson = Schema.decodeUnknownSync(LightningMessages.schema)
    fc.assert(
      fc.property(gossipMessage, (m) => {
        const bytes = Result.getOrThrow(LightningMessages.encode(m))
        expect(LightningMessages.decode(bytes)).toEqual(Result.succeed(m))
        expect(fromJson(JSON.parse(JSON.stringify(toJson(m))))).toEqual(m)
        expect(isGossipMessage(m)).toBe(true)
      }),
      { numRuns: 300 }
    )
  })
  it("decoders never throw: arbitrary, mutated and truncated bytes give a value or a typed error", () => {
    fc.assert(
      fc.property(gossipMessage, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, pos, b) => {
        const bytes = Result.getOrThrow(LightningMessages.encode(m))
        const mutated = bytes.slice()
        mutated[2 + (pos % Math.max(1, bytes.length - 2))] = b
        return isTyped(LightningMessages.decode(mutated)) && isTyped(LightningMessages.decode(bytes.subarray(0, pos % bytes.length)))
      }),
      { numRuns: 500 }
    )
    fc.assert(
      fc.property(fc.constantFrom(...gossipMessages.map((d) => d.type)), fc.uint8Array({ maxLength: 600 }), (type, rest) => {
        const bytes = Uint8Array.of(type >> 8, type & 0xff, ...rest)
        return isTyped(LightningMessages.decode(bytes))
      }),
      { numRuns: 500 }
    )
  })
  it("encoded lists round-trip and their decoders never throw", () => {
    fc.assert(
      fc.property(fc.uniqueArray(u64, { maxLength: 50 }), fc.uint8Array({ maxLength: 100 }), (ids, junk) => {
        const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) as Array<ShortChannelId>
        expect(Result.getOrThrow(decodeShortChannelIds(encodeShortChannelIds(sorted)))).toEqual(sorted)
        const flags = sorted.map((id) => id & 0x1fn)
        const enc = encodeQueryFlags(flags)
        expect(Result.getOrThrow(decodeQueryFlags(enc.encodingType, enc.encodedQueryFlags, flags.length))).toEqual(flags)
        return isTyped(decodeShortChannelIds(junk)) && isTyped(decodeQueryFlags(0, junk, 3)) && isTyped(decodeTimestamps(0, junk, 2))
      })
    )
  })
})
