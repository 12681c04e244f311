import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { parseFlags } from "../../src/daemon/NodeFlags.ts"

const config = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  return Result.isSuccess(r) && r.success._tag === "Run" ? r.success.config : undefined
}
const failure = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  return Result.isFailure(r) ? r.failure : undefined
}

describe("node flags: --bitcoind-rpc / --bitcoind-cookie", () => {
  it("takes a URL with credentials, or a URL and a cookie file", () => {
    assert.isUndefined(config([])?.bitcoind)
    assert.deepStrictEqual(config(["--bitcoind-rpc", "http://u:p@127.0.0.1:18443"])?.bitcoind, { url: "http://u:p@127.0.0.1:18443" })
    assert.deepStrictEqual(config(["--bitcoind-rpc", "http://127.0.0.1:18443", "--bitcoind-cookie", "/b/.cookie"])?.bitcoind, {
      url: "http://127.0.0.1:18443",
      cookieFile: "/b/.cookie"
    })
  })
  it("refuses what cannot work", () => {
    assert.include(failure(["--bitcoind-rpc", "127.0.0.1:18443"]) ?? "", "--bitcoind-rpc")
    assert.include(failure(["--bitcoind-rpc", "ftp://127.0.0.1:18443"]) ?? "", "http or https")
    assert.include(failure(["--bitcoind-cookie", "/b/.cookie"]) ?? "", "needs --bitcoind-rpc")
  })
})
