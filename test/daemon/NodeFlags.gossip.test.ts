/**
 * The daemon's gossip flags (`--alias`, `--color`, `--announce-addr`: our BOLT 7
 * `node_announcement`) and `--dev-channel-secrets` (issue 13): what is accepted, what is refused
 * with which message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { parseFlags, usage } from "../../src/daemon/NodeFlags.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { formatAddress } from "../../src/protocol/messages/address.ts"

const config = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  return Result.isSuccess(r) && r.success._tag === "Run" ? r.success.config : undefined
}
const failure = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  return Result.isFailure(r) ? r.failure : undefined
}
const onion = "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyprenad" // 32 key bytes, checksum, version 3

describe("node flags: our node_announcement", () => {
  it("absent unless given", () => {
    assert.isUndefined(config([])?.announce)
  })

  it("takes an alias, a color and addresses, placed in ascending order of type (BOLT 7)", () => {
    const c = config([
      "--alias", "lightning ⚡ node",
      "--color", "#ff8000",
      "--announce-addr", "ln.example.com:9735",
      "--announce-addr", `${onion}.onion:9736`,
      "--announce-addr", "[2001:db8::1]:9737",
      "--announce-addr", "203.0.113.7:9738"
    ])
    assert.strictEqual(c?.announce?.alias, "lightning ⚡ node")
    assert.deepStrictEqual(c?.announce?.color, [255, 128, 0])
    assert.deepStrictEqual(c?.announce?.addresses?.map((a) => a._tag), ["Ipv4", "Ipv6", "TorV3", "Dns"])
    assert.deepStrictEqual(c?.announce?.addresses?.map(formatAddress), [
      "203.0.113.7:9738",
      "[2001:db8::1]:9737",
      `${onion}.onion:9736`,
      "ln.example.com:9735"
    ])
    const tor = c?.announce?.addresses?.[2]
    assert.strictEqual(tor?._tag === "TorV3" ? toHex(tor.onion.subarray(32)) : "", "123403")
  })

  it("refuses what BOLT 7 forbids the origin node, with a message naming the flag", () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--alias", "x".repeat(33)], "--alias: alias is 33 bytes of UTF-8, at most 32"],
      [["--alias", "⚡".repeat(11)], "--alias: alias is 33 bytes of UTF-8, at most 32"],
      [["--color", "red"], "--color expects RRGGBB in hex, got 'red'"],
      [["--color", "12345"], "--color expects RRGGBB in hex, got '12345'"],
      [["--announce-addr", "1.2.3.4:0"], "--announce-addr: address 1.2.3.4:0 has port 0 (BOLT 7: MUST NOT)"],
      [["--announce-addr", "a.example:1", "--announce-addr", "b.example:2"], "--announce-addr: at most one DNS hostname may be announced (BOLT 7)"],
      [["--announce-addr", "abcdefghijklmnop.onion:9735"], "--announce-addr: Tor v2 onion services are not announced (BOLT 7), got 'abcdefghijklmnop.onion:9735'"],
      [["--announce-addr", `${onion.slice(0, -1)}a.onion:9735`], `--announce-addr: not a Tor v3 onion name (version byte 0), got '${onion.slice(0, -1)}a.onion:9735'`],
      [["--announce-addr", "1.2.3.4"], "--announce-addr: address expects HOST:PORT (IPv6 as [ADDR]:PORT), got '1.2.3.4'"],
      [["--announce-addr", "1.2.3.400:9735"], "--announce-addr: not an IP address nor an ASCII hostname: '1.2.3.400'"],
      [["--announce-addr", "nœud.example:9735"], "--announce-addr: not an IP address nor an ASCII hostname: 'nœud.example'"]
    ]
    for (const [argv, message] of cases) assert.strictEqual(failure(argv), message, argv.join(" "))
  })

  it("the help lists the flags", () => {
    for (const flag of ["--alias TEXT", "--color RRGGBB", "--announce-addr HOST:PORT", "--dev-channel-secrets"]) assert.include(usage, flag)
  })
})

describe("node flags: --dev-channel-secrets", () => {
  const six = ["11", "22", "33", "44", "55", "66"].map((b) => b.repeat(32))
  const dev = ["--dev", "--network", "regtest"]

  it("takes six 32-byte hex values with --dev on regtest", () => {
    const c = config([...dev, "--dev-channel-secrets", six.join(",").toUpperCase()])
    const s = c?.dev?.channelSecrets
    assert.deepStrictEqual(
      [s?.funding, s?.revocation, s?.payment, s?.delayedPayment, s?.htlc, s?.shachainSeed].map((x) => toHex(x ?? new Uint8Array())),
      six
    )
  })

  it("is refused without --dev, without regtest, and when malformed", () => {
    assert.strictEqual(failure(["--dev-channel-secrets", six.join(",")]), "--dev-channel-secrets needs --dev (and --network regtest)")
    assert.strictEqual(failure(["--dev", "--network", "testnet", "--dev-channel-secrets", six.join(",")]), "--dev needs --network regtest, got 'testnet'")
    const expects = "--dev-channel-secrets expects FUNDING,REVOCATION,PAYMENT,DELAYED,HTLC,SHACHAIN_SEED: six 32-byte values in hex (64 digits each)"
    assert.strictEqual(failure([...dev, "--dev-channel-secrets", six.slice(0, 5).join(",")]), expects)
    assert.strictEqual(failure([...dev, "--dev-channel-secrets", [...six.slice(0, 5), "66"].join(",")]), expects)
    // A base secret must be a valid key (the per-commitment seed may be any 32 bytes, zero included).
    const zeroHtlc = [...six.slice(0, 4), "00".repeat(32), "00".repeat(32)].join(",")
    assert.strictEqual(failure([...dev, "--dev-channel-secrets", zeroHtlc]), "--dev-channel-secrets: HTLC is not a valid secp256k1 secret key")
    const overOrder = ["ff".repeat(32), ...six.slice(1)].join(",")
    assert.strictEqual(failure([...dev, "--dev-channel-secrets", overOrder]), "--dev-channel-secrets: FUNDING is not a valid secp256k1 secret key")
  })
})
