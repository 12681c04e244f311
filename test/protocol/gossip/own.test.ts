/** What our own `node_announcement` may carry (BOLT 7 origin-node rules): `protocol/gossip/own.ts`. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { aliasBytes, ownAddresses, parseAnnounceAddress, parseColor } from "../../../src/protocol/gossip/own.ts"
import { decodeAlias } from "../../../src/protocol/gossip/validate.ts"
import type { Address } from "../../../src/protocol/messages/address.ts"

const ok = <A>(r: Result.Result<A, string>): A => {
  if (Result.isFailure(r)) return assert.fail(r.failure)
  return r.success
}

describe("our node_announcement fields", () => {
  it("alias: UTF-8 zero-padded to 32 bytes, read back the same by a receiver; too long or with a zero byte refused", () => {
    const bytes = ok(aliasBytes("ünïcode ⚡"))
    assert.strictEqual(bytes.length, 32)
    assert.deepStrictEqual(decodeAlias(bytes), { text: "ünïcode ⚡", valid: true })
    assert.deepStrictEqual(decodeAlias(ok(aliasBytes("x".repeat(32)))), { text: "x".repeat(32), valid: true })
    assert.isTrue(Result.isFailure(aliasBytes("x".repeat(33))))
    assert.isTrue(Result.isFailure(aliasBytes("a\u0000b")))
  })

  it("color: RRGGBB, red first", () => {
    assert.deepStrictEqual(ok(parseColor("0a0B0c")), [10, 11, 12])
    assert.deepStrictEqual(ok(parseColor("#ffffff")), [255, 255, 255])
    for (const bad of ["", "fff", "gggggg", "#1234567"]) assert.isTrue(Result.isFailure(parseColor(bad)), bad)
  })

  it("addresses: sorted by descriptor type (stable), port 0, Tor v2 and a second DNS name refused", () => {
    const a = (text: string): Address => ok(parseAnnounceAddress(text))
    const sorted = ok(ownAddresses([a("b.example:2"), a("[::1]:3"), a("10.0.0.2:4"), a("10.0.0.1:5")]))
    assert.deepStrictEqual(sorted.map((x) => x._tag), ["Ipv4", "Ipv4", "Ipv6", "Dns"])
    assert.deepStrictEqual(sorted.slice(0, 2).map((x) => (x._tag === "Ipv4" ? x.port : 0)), [4, 5])
    assert.isTrue(Result.isFailure(ownAddresses([a("10.0.0.1:0")])))
    assert.isTrue(Result.isFailure(ownAddresses([a("a.example:1"), a("b.example:1")])))
    assert.isTrue(Result.isFailure(ownAddresses([{ _tag: "TorV2", data: new Uint8Array(12) }])))
    // IPv4-mapped IPv6 is announced as IPv4.
    assert.strictEqual(a("[::ffff:10.1.2.3]:9735")._tag, "Ipv4")
  })
})
