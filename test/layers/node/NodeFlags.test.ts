import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { defaultConfig, parseFlags, usage } from "../../../src/layers/node/NodeFlags.ts"

const run = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${r.failure}`)
  if (r.success._tag !== "Run") throw new Error("unexpected help")
  return r.success.config
}
const failure = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  if (Result.isSuccess(r)) throw new Error(`unexpected success for ${argv.join(" ")}`)
  return r.failure
}

describe("NodeFlags", () => {
  it("defaults", () => {
    assert.deepStrictEqual(run([]), defaultConfig)
    assert.deepStrictEqual(defaultConfig, {
      dataDir: "./.lightning",
      listen: { host: "127.0.0.1", port: 9735 },
      api: { host: "127.0.0.1", port: 9736 },
      network: "regtest"
    })
  })

  it("every flag, both spellings, IPv6 and port 0", () => {
    assert.deepStrictEqual(run(["--data-dir", "/tmp/x", "--listen", "0.0.0.0:0", "--api=[::1]:8080", "--network", "signet"]), {
      dataDir: "/tmp/x",
      listen: { host: "0.0.0.0", port: 0 },
      api: { host: "::1", port: 8080 },
      network: "signet"
    })
    assert.deepStrictEqual(run(["--listen=localhost:19735"]).listen, { host: "localhost", port: 19735 })
  })

  it("--network: every network, aliases, any case", () => {
    for (const name of ["mainnet", "testnet", "testnet4", "signet", "regtest"] as const) {
      assert.strictEqual(run(["--network", name]).network, name)
      assert.strictEqual(run([`--network=${name.toUpperCase()}`]).network, name)
    }
    assert.strictEqual(run(["--network", "bitcoin"]).network, "mainnet")
    assert.strictEqual(run(["--network", "testnet3"]).network, "testnet")
  })

  it("help", () => {
    for (const flag of ["--help", "-h"]) {
      const r = parseFlags([flag])
      assert.isTrue(Result.isSuccess(r) && r.success._tag === "Help")
    }
    for (const flag of ["--data-dir", "--listen", "--api", "--network"]) assert.include(usage, flag)
  })

  it("bad flags are a message, never a throw", () => {
    assert.match(failure(["--nope"]), /nope/)
    assert.match(failure(["--listen"]), /listen/)
    assert.match(failure(["--listen", "9735"]), /--listen expects HOST:PORT/)
    assert.match(failure(["--listen", "127.0.0.1:70000"]), /--listen expects HOST:PORT/)
    assert.match(failure(["--api", "127.0.0.1:"]), /--api expects HOST:PORT/)
    assert.match(failure(["--api", "::1:80"]), /--api expects HOST:PORT/)
    assert.match(failure(["--data-dir="]), /must not be empty/)
    assert.match(failure(["extra"]), /unexpected argument 'extra'/)
    assert.match(failure(["--help=yes"]), /help/)
    assert.match(failure(["--network", "litecoin"]), /--network expects one of mainnet, testnet, testnet4, signet, regtest, got 'litecoin'/)
    assert.match(failure(["--network="]), /--network expects one of/)
    assert.match(failure(["--network"]), /network/)
  })

  it("never throws on arbitrary argv", () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom("--data-dir", "--listen", "--api", "--network", "signet", "--help", "-h", "--", "-", "--listen=", "[::1]:1"),
      fc.tuple(fc.constantFrom("--listen=", "--api=", "--network="), fc.string()).map(([a, b]) => a + b)
    )
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), (argv) => {
        const r = parseFlags(argv)
        if (Result.isFailure(r)) assert.isString(r.failure)
        else if (r.success._tag === "Run") {
          assert.isAtLeast(r.success.config.listen.port, 0)
          assert.isAtMost(r.success.config.api.port, 65535)
          assert.include(["mainnet", "testnet", "testnet4", "signet", "regtest"], r.success.config.network)
        }
      }),
      { numRuns: 10_000 }
    )
  })
})
