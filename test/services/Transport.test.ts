import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { formatAddress, parseAddress } from "../../src/services/Transport.ts"

describe("socket addresses", () => {
  it("parse and format round-trip, IPv6 in brackets", () => {
    assert.deepStrictEqual(parseAddress("127.0.0.1:9735"), { host: "127.0.0.1", port: 9735 })
    assert.deepStrictEqual(parseAddress("[::1]:0"), { host: "::1", port: 0 })
    assert.deepStrictEqual(parseAddress("node.example:65535"), { host: "node.example", port: 65535 })
    assert.strictEqual(formatAddress({ host: "::1", port: 1 }), "[::1]:1")
    for (const bad of ["", "host", "host:", ":1", "h:65536", "h:-1", "::1:80", "[::1]", "h:1:2", "a b:1x"]) {
      assert.isUndefined(parseAddress(bad), bad)
    }
  })

  it("never throws and round-trips what it accepts", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const a = parseAddress(text)
        if (a !== undefined) assert.deepStrictEqual(parseAddress(formatAddress(a)), a)
      }),
      { numRuns: 10_000 }
    )
  })
})
