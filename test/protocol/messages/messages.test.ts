import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { Field, tlvField, tlvStream } from "../../../src/protocol/codec/index.ts"
import { defineMessage, makeRegistry, MAX_MESSAGE_SIZE } from "../../../src/protocol/codec/message.ts"
import {
  type Address,
  addressFromHostPort,
  addressList,
  ALL_CHANNELS,
  Bolt1,
  ChainHashes,
  decodeMessage,
  describeData,
  encodeMessage,
  ErrorMessage,
  formatAddress,
  Init,
  isAllChannels,
  makeError,
  makePing,
  makeWarning,
  MAX_ERROR_DATA_LENGTH,
  Ping,
  PING_IGNORE_THRESHOLD,
  Pong,
  pongFor,
  sharesNetwork,
  Stfu,
  Warning
} from "../../../src/protocol/messages/index.ts"
import { InvalidFieldValue } from "../../../src/protocol/codec/errors.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import { encodeWith, Writer } from "../../../src/protocol/codec/writer.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import bolt00 from "../../vectors/bolt00-constants.json" with { type: "json" }

const hex = (r: Result.Result<Uint8Array, unknown>): string => (Result.isSuccess(r) ? toHex(r.success) : "failed")
const failureTag = <A>(r: Result.Result<A, { _tag: string }>): string => (Result.isFailure(r) ? r.failure._tag : "ok")

describe("BOLT 1 messages", () => {
  it("ping / pong layout and the 65532 rule", () => {
    expect(hex(encodeMessage(makePing(4, 2)))).toBe("0012000400020000")
    const ping = Result.getOrThrow(Ping.decode(fromHex("0012000400020000")))
    expect(ping.numPongBytes).toBe(4)
    const pong = pongFor(ping)
    expect(pong && hex(Pong.encode(pong))).toBe("0013000400000000")
    expect(pongFor(makePing(PING_IGNORE_THRESHOLD))).toBeUndefined()
    expect(pongFor(makePing(PING_IGNORE_THRESHOLD - 1))?.ignored.length).toBe(65531)
  })
  it("error and warning carry a channel id and data", () => {
    const w = makeWarning("bad thing")
    expect(hex(encodeMessage(w))).toBe(`0001${"00".repeat(32)}0009${toHex(new TextEncoder().encode("bad thing"))}`)
    const id = fromHex("11".repeat(32)) as ChannelId
    const e = ErrorMessage.make({ channelId: id, data: fromHex("00ff") })
    const decoded = Result.getOrThrow(decodeMessage(Result.getOrThrow(encodeMessage(e))))
    expect(decoded).toEqual(e)
    expect(isAllChannels(ALL_CHANNELS)).toBe(true)
    expect(isAllChannels(id)).toBe(false)
    expect(describeData(fromHex("4142"))).toBe("AB")
    expect(describeData(fromHex("00ff"))).toBe("0x00ff")
    // A peer's long data is cut for the log: 4096 printable bytes, or 2048 bytes as hex.
    expect(describeData(new Uint8Array(10_000).fill(0x41))).toBe("A".repeat(4096))
    expect(describeData(new Uint8Array(10_000).fill(0x07))).toBe(`0x${"07".repeat(2048)}`)
  })
  it("an error or warning built from any text fits a message", () => {
    const long = "x".repeat(70_000)
    for (const m of [makeError(long), makeWarning(long)]) {
      expect(m.data.length).toBe(MAX_ERROR_DATA_LENGTH)
      const bytes = Result.getOrThrow(encodeMessage(m))
      expect(bytes.length).toBe(MAX_MESSAGE_SIZE)
      expect(Result.getOrThrow(decodeMessage(bytes))).toEqual(m)
    }
    expect(makeError("short").data).toEqual(new TextEncoder().encode("short"))
  })
  it("a known message with insufficient length fails", () => {
    expect(failureTag(decodeMessage(fromHex("0011" + "00".repeat(31))))).toBe("UnexpectedEof")
    expect(failureTag(decodeMessage(fromHex("001200040005000000")))).toBe("UnexpectedEof")
    expect(failureTag(decodeMessage(fromHex("00")))).toBe("UnexpectedEof")
  })
  it("unknown odd types are returned for the caller to ignore; unknown even types fail", () => {
    expect(Result.getOrThrow(decodeMessage(fromHex("8001abcd")))).toEqual({ _tag: "UnknownMessage", type: 0x8001, payload: fromHex("abcd") })
    const even = decodeMessage(fromHex("8000abcd"))
    expect(Result.isFailure(even) && even.failure).toMatchObject({ _tag: "UnknownEvenMessage", type: 0x8000 })
  })
  it("trailing bytes are parsed as the extension stream (odd records kept)", () => {
    const r = Result.getOrThrow(decodeMessage(fromHex("00130000" + "0301ff")))
    expect(r).toEqual({ _tag: "Pong", ignored: new Uint8Array(0), tlvs: { unknown: [{ type: 3n, value: fromHex("ff") }] } })
    expect(hex(encodeMessage(r as Pong))).toBe("001300000301ff")
    expect(failureTag(decodeMessage(fromHex("00130000" + "0201ff")))).toBe("TlvUnknownEvenType")
  })
  it("a message decoder rejects a different type", () => {
    expect(failureTag(Ping.decode(fromHex("00130000")))).toBe("InvalidFieldValue")
  })
  it("init networks and remote_addr", () => {
    expect(toHex(ChainHashes.bitcoin)).toBe(bolt00.chain_hash.bitcoin_mainnet)
    const init = Init.make(
      { globalFeatures: new Uint8Array(0), features: fromHex("a202") },
      { networks: [ChainHashes.bitcoin, ChainHashes.regtest], remoteAddr: { _tag: "Ipv4", addr: fromHex("7f000001"), port: 9735 } }
    )
    const bytes = Result.getOrThrow(encodeMessage(init))
    expect(toHex(bytes)).toBe(`00100000` + `0002a202` + `0140${toHex(ChainHashes.bitcoin)}${toHex(ChainHashes.regtest)}` + `0307017f0000012607`)
    expect(Result.getOrThrow(decodeMessage(bytes))).toEqual(init)
    // A partial chain hash is a record shorter than its encoding.
    expect(failureTag(decodeMessage(fromHex(`00100000000001${"21"}${"00".repeat(33)}`)))).toBe("TlvValueTooShort")
    // An unparseable remote_addr is kept as opaque bytes rather than failing init.
    const odd = Result.getOrThrow(decodeMessage(fromHex("001000000000" + "0303090102")))
    expect(odd._tag === "Init" && odd.tlvs.remoteAddr).toEqual({ _tag: "Opaque", bytes: fromHex("090102") })
  })
  it("networks: a common chain, or no networks at all, is compatible", () => {
    const empty = { globalFeatures: new Uint8Array(0), features: new Uint8Array(0) }
    expect(sharesNetwork([ChainHashes.bitcoin], Init.make(empty))).toBe(true)
    expect(sharesNetwork([ChainHashes.bitcoin], Init.make(empty, { networks: [ChainHashes.regtest, ChainHashes.bitcoin] }))).toBe(true)
    expect(sharesNetwork([ChainHashes.bitcoin], Init.make(empty, { networks: [ChainHashes.regtest] }))).toBe(false)
    expect(sharesNetwork([ChainHashes.bitcoin], Init.make(empty, { networks: [] }))).toBe(false)
  })
  it("JSON schema round-trips a message", () => {
    const init = Init.make(
      { globalFeatures: new Uint8Array(0), features: fromHex("a202") },
      { networks: [ChainHashes.bitcoin], unknown: [{ type: 0x10001n, value: fromHex("ff") }] }
    )
    const json = Schema.encodeSync(Bolt1.schema)(init)
    expect(JSON.parse(JSON.stringify(json))).toEqual({
      _tag: "Init",
      globalFeatures: "",
      features: "a202",
      tlvs: { networks: [toHex(ChainHashes.bitcoin)], unknown: [{ type: "65537", value: "ff" }] }
    })
    expect(Schema.decodeUnknownSync(Bolt1.schema)(JSON.parse(JSON.stringify(json)))).toEqual(init)
    expect(() => Schema.decodeUnknownSync(Warning.schema)({ _tag: "Warning", channelId: "00", data: "", tlvs: {} })).toThrow()
  })
})

describe("a new message is a few declarative lines", () => {
  // e.g. BOLT 2 `stfu`, declared in messages/channel.ts as another module would.
  const Custom = defineMessage({
    type: 32769,
    name: "custom",
    tag: "Custom",
    fields: { amount: Field.u64, scid: Field.shortChannelId, points: Field.u16Array(Field.point) },
    tlvs: tlvStream("custom_tlvs", { note: tlvField(1, Field.restBytes), flag: tlvField(3, Field.empty), big: tlvField(5, Field.tu64) })
  })
  const registry = makeRegistry([...Bolt1.defs, Stfu, Custom] as const)
  it("round-trips through a combined registry", () => {
    const stfu = Stfu.make({ channelId: ALL_CHANNELS, initiator: 1 })
    expect(hex(registry.encode(stfu))).toBe(`0002${"00".repeat(32)}01`)
    expect(Result.getOrThrow(registry.decode(Result.getOrThrow(registry.encode(stfu))))).toEqual(stfu)
    const key = fromHex("02" + "11".repeat(32))
    const custom = Custom.make(
      { amount: 5n, scid: Field.shortChannelIdFromParts(700000, 1, 2), points: [key, key] },
      { flag: true, big: 1000n }
    )
    expect(Result.getOrThrow(registry.decode(Result.getOrThrow(registry.encode(custom))))).toEqual(custom)
    expect(Field.formatShortChannelId(custom.scid)).toBe("700000x1x2")
  })
  it("rejects duplicate type numbers", () => {
    expect(() => makeRegistry([Stfu, Stfu])).toThrow()
  })
})

describe("address descriptors (BOLT 7)", () => {
  const cases: ReadonlyArray<readonly [string, number, string]> = [
    ["127.0.0.1", 9735, "127.0.0.1:9735"],
    ["::1", 9735, "[::1]:9735"],
    ["2001:db8::8a2e:370:7334", 1, "[2001:db8::8a2e:370:7334]:1"],
    ["::ffff:10.0.0.1", 80, "10.0.0.1:80"],
    ["[fe80::1%eth0]", 80, "[fe80::1]:80"],
    ["node.example.com", 9735, "node.example.com:9735"]
  ]
  for (const [host, port, text] of cases) {
    it(`${host} -> ${text}`, () => {
      const a = addressFromHostPort(host, port)
      if (a === undefined) throw new Error("not parsed")
      expect(formatAddress(a)).toBe(text)
      const w = new Writer()
      addressList.write(w, { addresses: [a], unparsed: new Uint8Array(0) })
      expect(Result.getOrThrow(decodeWith(w.finish(), addressList.read)).addresses).toEqual([a])
    })
  }
  it("rejects malformed hosts and ports", () => {
    for (const h of ["1.2.3", "1.2.3.256", ":::", "1::2::3", "bad host", "ünïcode"]) expect(addressFromHostPort(h, 1)).toBeUndefined()
    expect(addressFromHostPort("1.2.3.4", 65536)).toBeUndefined()
  })
  it("formats Tor v3 as base32 .onion", () => {
    const a: Address = { _tag: "TorV3", onion: new Uint8Array(35), port: 9735 }
    expect(formatAddress(a)).toBe(`${"a".repeat(56)}.onion:9735`)
    // RFC 4648 section 10: BASE32("fooba") = "MZXW6YTB"; Tor writes it in lower case.
    const fooba = new TextEncoder().encode("fooba".repeat(7))
    expect(formatAddress({ _tag: "TorV3", onion: fooba, port: 1 })).toBe(`${"mzxw6ytb".repeat(7)}.onion:1`)
  })
  it("an address list stops at the first unknown type and keeps the rest", () => {
    const bytes = fromHex("017f0000012607" + "09aabbcc")
    const list = Result.getOrThrow(decodeWith(bytes, addressList.read))
    expect(list.addresses.length).toBe(1)
    expect(toHex(list.unparsed)).toBe("09aabbcc")
    expect(failureTag(decodeWith(fromHex("017f0000"), addressList.read))).toBe("UnexpectedEof")
    // Nothing after the last known descriptor: no unparsed bytes.
    expect(Result.getOrThrow(decodeWith(fromHex("017f0000012607"), addressList.read)).unparsed).toEqual(new Uint8Array(0))
  })
  it("a DNS hostname is ASCII on the wire, both ways (BOLT 7)", () => {
    const nonAscii = fromHex("05" + "02" + "41e9" + "2607")
    expect(decodeWith(nonAscii, addressList.read)).toEqual(Result.fail(new InvalidFieldValue({ at: 1, field: "hostname", reason: "not ASCII" })))
    const dns = (hostname: string): Address => ({ _tag: "Dns", hostname, port: 9735 })
    expect(failureTag(encodeWith((w) => addressList.write(w, { addresses: [dns("é.example")], unparsed: new Uint8Array(0) })))).toBe("EncodeError")
    expect(failureTag(encodeWith((w) => addressList.write(w, { addresses: [dns("a".repeat(256))], unparsed: new Uint8Array(0) })))).toBe("EncodeError")
    expect(hex(encodeWith((w) => addressList.write(w, { addresses: [dns("ab")], unparsed: new Uint8Array(0) })))).toBe("0502" + "6162" + "2607")
  })
})
