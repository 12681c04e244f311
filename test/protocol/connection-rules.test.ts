import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { toHex } from "../../src/protocol/bytes.ts"
import { featuresToBytes, ourInitFeatures } from "../../src/protocol/features.ts"
import { ChainHashes, Init } from "../../src/protocol/messages/index.ts"
import type { ChannelId } from "../../src/protocol/units.ts"
import * as Wire from "../../src/protocol/connection-rules.ts"

describe("BOLT 1 connection rules (protocol/connection-rules)", () => {
  it("remote_addr only for public IP addresses", () => {
    assert.deepStrictEqual(Wire.publicRemoteAddress("203.0.113.7", 9735)?._tag, "Ipv4")
    assert.deepStrictEqual(Wire.publicRemoteAddress("2001:db8::1", 9735)?._tag, "Ipv6")
    for (const host of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.0.1", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "example.com", "::ffff:127.0.0.1"]) {
      assert.isUndefined(Wire.publicRemoteAddress(host, 1), host)
    }
    const bytes = Wire.encodeInit(ourInitFeatures, [], Wire.publicRemoteAddress("203.0.113.7", 9735))
    const decoded = Init.decode(bytes)
    assert.isTrue(Result.isSuccess(decoded))
    if (Result.isSuccess(decoded)) {
      const ra = decoded.success.tlvs.remoteAddr
      assert.strictEqual(ra?._tag === "Ipv4" ? `${[...ra.addr].join(".")}:${ra.port}` : "", "203.0.113.7:9735")
      assert.isUndefined(decoded.success.tlvs.networks)
    }
  })

  it("init: global OR local features; not-init and malformed are told apart", () => {
    assert.strictEqual(toHex(Wire.combineFeatures(Uint8Array.of(0x01), Uint8Array.of(0x80, 0x02))), "8003")
    const init = Wire.decodeInit(Wire.encodeInit(featuresToBytes(new Set([1, 15])), [ChainHashes.testnet4]))
    assert.strictEqual(init._tag, "Init")
    if (init._tag === "Init") {
      assert.strictEqual(toHex(init.features), "8002")
      assert.deepStrictEqual(init.networks?.map(toHex), [toHex(ChainHashes.testnet4)])
    }
    assert.deepStrictEqual(Wire.decodeInit(Uint8Array.of(0, 18, 0, 0, 0, 0)), { _tag: "NotInit", messageType: 18 })
    assert.strictEqual(Wire.decodeInit(Uint8Array.of(0, 16, 0, 5))._tag, "Malformed")
    assert.strictEqual(Wire.decodeInit(Uint8Array.of(0))._tag, "Malformed")
  })

  it("feature checks: unknown or unsupported required bits, missing dependencies", () => {
    assert.deepStrictEqual(Wire.checkRemoteFeatures(ourInitFeatures, ourInitFeatures), { _tag: "Ok" })
    assert.deepStrictEqual(Wire.checkRemoteFeatures(ourInitFeatures, featuresToBytes(new Set([200, 201]))), {
      _tag: "UnknownRequired",
      bits: [200]
    })
    // basic_mpp (17) needs payment_secret (14/15), BOLT 9
    const check = Wire.checkRemoteFeatures(ourInitFeatures, featuresToBytes(new Set([9, 17])))
    assert.strictEqual(check._tag, "MissingDependency")
    // a known feature required by the remote that we do not offer: as good as unknown
    const unsupported = Wire.checkRemoteFeatures(ourInitFeatures, featuresToBytes(new Set([16, 15, 9])))
    assert.deepStrictEqual(unsupported, { _tag: "UnknownRequired", bits: [16] })
    assert.deepStrictEqual(Wire.negotiatedFeatures(ourInitFeatures, ourInitFeatures), [1, 5, 9, 13, 15, 23, 27, 37, 45, 47, 51, 61])
  })

  it("a hostile 65535-byte all-ones feature vector is refused, listing a bounded number of bits", () => {
    const hostile = new Uint8Array(65535).fill(0xff)
    const check = Wire.checkRemoteFeatures(ourInitFeatures, hostile)
    assert.strictEqual(check._tag, "UnknownRequired")
    if (check._tag !== "UnknownRequired") return
    assert.isAtMost(check.bits.length, 64 + 64)
    assert.isTrue(check.bits.every((bit) => bit % 2 === 0))
    assert.strictEqual(check.bits[0], 2) // bit 2 (initial_routing_sync, retired) is the lowest even bit we cannot honour
    assert.deepStrictEqual(Wire.negotiatedFeatures(ourInitFeatures, hostile), [])
  })

  it("control encoders round-trip through decodeControl", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65531 }), (n) => {
        assert.deepStrictEqual(Wire.decodeControl(Wire.encodePing(n)), { _tag: "Ping", numPongBytes: n })
        assert.deepStrictEqual(Wire.decodeControl(Wire.encodePong(n)), { _tag: "Pong", length: n })
      }),
      { numRuns: 200 }
    )
    const warning = Wire.decodeControl(Wire.encodeWarning("no common chain"))
    assert.strictEqual(warning._tag, "Warning")
    if (warning._tag === "Warning") {
      assert.isTrue(Wire.isZeroChannelId(warning.message.channelId))
      assert.strictEqual(Wire.printable(warning.message.data), "no common chain")
    }
    const channel = Wire.decodeControl(Wire.encodeWarning("bad channel", new Uint8Array(32).fill(7) as ChannelId))
    assert.isTrue(channel._tag === "Warning" && !Wire.isZeroChannelId(channel.message.channelId))
    const error = Wire.decodeControl(Wire.encodeError("bad channel", new Uint8Array(32).fill(9) as ChannelId))
    assert.isTrue(error._tag === "Error" && error.message.channelId[0] === 9 && Wire.printable(error.message.data) === "bad channel")
  })

  it("gossip types (BOLT 7) are 256-265 except announcement_signatures; gossip_queries is bit 6/7", () => {
    assert.deepStrictEqual([255, 256, 258, 259, 260, 265, 266].map(Wire.isGossipType), [false, true, true, false, true, true, false])
    assert.isTrue(Wire.negotiatedGossipQueries([0, 7]))
    assert.isTrue(Wire.negotiatedGossipQueries([6]))
    assert.isFalse(Wire.negotiatedGossipQueries([0, 8, 12, 14]))
  })

  it("peer storage (not offered) is not a control message, even when malformed (the Peer ignores it)", () => {
    assert.deepStrictEqual(Wire.decodeControl(Uint8Array.of(0, 7, 0xff)), { _tag: "Other", messageType: 7 })
    assert.deepStrictEqual(Wire.decodeControl(Uint8Array.of(0, 9, 0, 1, 0xaa)), { _tag: "Other", messageType: 9 })
  })

  it("decoders never throw on arbitrary bytes and classify by the 2-byte type", () => {
    const control = new Set([1, 16, 17, 18, 19])
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const c = Wire.decodeControl(bytes)
        const i = Wire.decodeInit(bytes)
        if (bytes.length < 2) {
          assert.strictEqual(c._tag, "Malformed")
          assert.strictEqual(i._tag, "Malformed")
          return
        }
        const type = ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0)
        if (control.has(type)) assert.notStrictEqual(c._tag, "Other")
        else assert.deepStrictEqual(c, { _tag: "Other", messageType: type })
        if (c._tag === "Malformed") assert.strictEqual(c.messageType, type)
        if (type === 16) assert.oneOf(i._tag, ["Init", "Malformed"])
        else assert.deepStrictEqual(i, { _tag: "NotInit", messageType: type })
      }),
      { numRuns: 10_000 }
    )
    fc.assert(
      fc.property(fc.constantFrom(1, 16, 17, 18, 19), fc.uint8Array({ maxLength: 100 }), (type, body) => {
        const c = Wire.decodeControl(Uint8Array.of(type >> 8, type & 0xff, ...body))
        assert.notStrictEqual(c._tag, "Other")
      }),
      { numRuns: 10_000 }
    )
  })
})
