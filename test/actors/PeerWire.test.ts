import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { toHex } from "../../src/protocol/bytes.ts"
import { featuresToBytes, ourInitFeatures } from "../../src/protocol/features.ts"
import { Init } from "../../src/protocol/messages/index.ts"
import * as Wire from "../../src/actors/PeerWire.ts"

describe("PeerWire", () => {
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
    const init = Wire.decodeInit(Wire.encodeInit(featuresToBytes(new Set([1, 15])), [new Uint8Array(32)]))
    assert.strictEqual(init._tag, "Init")
    if (init._tag === "Init") {
      assert.strictEqual(toHex(init.features), "8002")
      assert.strictEqual(init.networks?.length, 1)
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
    assert.deepStrictEqual(Wire.negotiatedFeatures(ourInitFeatures, ourInitFeatures), [1, 9, 13, 15])
  })

  it("decoders never throw on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const c = Wire.decodeControl(bytes)
        const i = Wire.decodeInit(bytes)
        assert.isString(c._tag)
        assert.isString(i._tag)
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
