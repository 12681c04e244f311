import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import { defaultConfig, forwardingPolicyOf, parseFlags, usage } from "../../src/daemon/NodeFlags.ts"
import { defaultForwardingPolicy } from "../../src/protocol/payment/forward.ts"

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

/** `--fee-base-msat`, `--fee-ppm`, `--cltv-delta`: our forwarding policy from the command line (issue 8, "The runnable node"). */
describe("NodeFlags forwarding policy", () => {
  it("absent flags: no forwarding settings, the default policy", () => {
    assert.isUndefined(run([]).forwarding)
    assert.deepStrictEqual(forwardingPolicyOf(undefined), defaultForwardingPolicy)
  })

  it("each flag sets its field; the others keep their defaults", () => {
    const config = run(["--fee-base-msat", "0", "--fee-ppm=2500", "--cltv-delta", "144"])
    assert.deepStrictEqual(config.forwarding, { feeBaseMsat: 0, feeProportionalMillionths: 2500, cltvExpiryDelta: 144 })
    assert.deepStrictEqual(forwardingPolicyOf(run(["--fee-ppm", "7"]).forwarding), {
      ...defaultForwardingPolicy,
      feeProportionalMillionths: 7
    })
  })

  it("bad values are refused with the flag's name and range", () => {
    assert.include(failure(["--fee-base-msat=-1"]), "--fee-base-msat expects a whole number from 0 to 4294967295")
    assert.include(failure(["--fee-ppm", "1.5"]), "--fee-ppm expects a whole number")
    assert.include(failure(["--fee-ppm", "4294967296"]), "--fee-ppm expects a whole number")
    assert.include(failure(["--cltv-delta", "0"]), "--cltv-delta expects a whole number from 1 to 65535")
    assert.include(failure(["--cltv-delta", "65536"]), "--cltv-delta expects a whole number from 1 to 65535")
  })

  it("the usage text lists them with their defaults", () => {
    assert.include(usage, `--fee-base-msat N   our forwarding fee base (default ${defaultForwardingPolicy.feeBaseMsat} msat)`)
    assert.include(usage, "--fee-ppm N")
    assert.include(usage, "--cltv-delta N")
  })
})

describe("NodeFlags: --store, --postgres-url, --migrate-store", () => {
  const url = "postgres://node:secret@127.0.0.1:5432/lightning"

  it("--store picks the layer; files is the default and leaves the config as before", () => {
    assert.isUndefined(run([]).store)
    assert.isUndefined(run(["--store", "files"]).store)
    assert.deepStrictEqual(run(["--store", "sqlite"]).store, { kind: "sqlite" })
    assert.deepStrictEqual(run(["--store", "postgres", "--postgres-url", url]).store, { kind: "postgres", url })
    assert.deepStrictEqual(run(["--store=postgres", `--postgres-url=${url}`]).store, { kind: "postgres", url })
  })

  it("refuses an unknown kind, postgres without a URL, a URL without postgres, and never echoes the URL", () => {
    assert.include(failure(["--store", "leveldb"]), "--store expects one of files, sqlite, postgres, got 'leveldb'")
    assert.include(failure(["--store", "postgres"]), "needs --postgres-url")
    assert.include(failure(["--store", "sqlite", "--postgres-url", url]), "--postgres-url needs --store postgres")
    assert.include(failure(["--postgres-url", url]), "--postgres-url needs --store postgres")
    const bad = failure(["--store", "postgres", "--postgres-url", "http://node:secret@host/db"])
    assert.include(bad, "--postgres-url expects postgres://")
    assert.notInclude(bad, "secret")
  })

  it("--migrate-store FROM TO", () => {
    const r = parseFlags(["--data-dir", "/var/ln", "--migrate-store", "files", "postgres", "--postgres-url", url])
    assert.deepStrictEqual(Result.getOrThrow(r), {
      _tag: "MigrateStore",
      dataDir: "/var/ln",
      from: { kind: "files" },
      to: { kind: "postgres", url }
    })
    const d = Result.getOrThrow(parseFlags(["--migrate-store", "sqlite", "files"]))
    assert.deepStrictEqual(d, { _tag: "MigrateStore", dataDir: defaultConfig.dataDir, from: { kind: "sqlite" }, to: { kind: "files" } })
    assert.include(failure(["--migrate-store", "files"]), "--migrate-store expects FROM TO")
    assert.include(failure(["--migrate-store", "files", "sqlite", "extra"]), "--migrate-store expects FROM TO")
    assert.include(failure(["--migrate-store", "files", "files"]), "both files")
    assert.include(failure(["--migrate-store", "files", "postgres"]), "needs --postgres-url")
    assert.include(failure(["--migrate-store", "files", "mongo"]), "got 'mongo'")
    assert.include(failure(["--migrate-store", "files", "sqlite", "--store", "sqlite"]), "not --store")
    // without --migrate-store a positional is still refused
    assert.include(failure(["sqlite"]), "unexpected argument 'sqlite'")
  })

  it("the help documents the three flags", () => {
    assert.include(usage, "--store KIND")
    assert.include(usage, "--postgres-url URL")
    assert.include(usage, "--migrate-store FROM TO")
  })
})
