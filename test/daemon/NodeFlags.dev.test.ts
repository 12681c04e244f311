/** `--dev` and the conformance-suite hooks it allows (issue 13), refused unless `--dev --network regtest`. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { devChannelSettings, parseFlags, usage } from "../../src/daemon/NodeFlags.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { acceptableFeerateRange, defaultChannelPolicy, defaultLocalChannelConfig } from "../../src/protocol/channel/config.ts"

const config = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  return Result.isSuccess(r) && r.success._tag === "Run" ? r.success.config : undefined
}
const failure = (argv: ReadonlyArray<string>) => {
  const r = parseFlags(argv)
  return Result.isFailure(r) ? r.failure : undefined
}
const dev = ["--dev", "--network", "regtest"]
const secret = "01".repeat(32)

describe("node flags: --dev", () => {
  it("accepts every hook with --dev --network regtest", () => {
    const c = config([
      ...dev,
      "--dev-node-secret",
      secret.toUpperCase(),
      "--funding-confirms",
      "1",
      "--min-to-self-delay",
      "6",
      "--max-accepted-htlcs",
      "483",
      "--min-feerate",
      "253",
      "--channel-reserve-sat",
      "5000"
    ])
    assert.isDefined(c?.dev)
    assert.strictEqual(toHex(c?.dev?.nodeSecret ?? new Uint8Array()), secret)
    assert.strictEqual(c?.dev?.fundingConfirms, 1)
    assert.strictEqual(c?.dev?.minToSelfDelay, 6)
    assert.strictEqual(c?.dev?.maxAcceptedHtlcs, 483)
    assert.strictEqual(c?.dev?.minFeeratePerKw, 253)
    assert.strictEqual(c?.dev?.channelReserveSat, 5000)
    // --dev alone: no hook set; no --dev: no dev config at all.
    assert.deepStrictEqual(config(dev)?.dev, {})
    assert.isUndefined(config(["--network", "regtest"])?.dev)
    assert.include(usage, "--dev-node-secret")
    assert.include(usage, "--channel-reserve-sat")
  })

  it("refuses hooks without --dev, and --dev off regtest or without an explicit --network regtest", () => {
    assert.strictEqual(failure(["--network", "regtest", "--funding-confirms", "1"]), "--funding-confirms needs --dev (and --network regtest)")
    assert.include(failure(["--dev-node-secret", secret]) ?? "", "needs --dev")
    assert.include(failure(["--min-feerate", "253"]) ?? "", "needs --dev")
    assert.strictEqual(failure(["--dev", "--network", "bitcoin"]), "--dev needs --network regtest, got 'bitcoin'")
    assert.strictEqual(failure(["--dev", "--network", "signet", "--funding-confirms", "1"]), "--dev needs --network regtest, got 'signet'")
    // regtest is the default network, but --dev wants it said.
    assert.strictEqual(failure(["--dev"]), "--dev needs --network regtest")
  })

  it("refuses bad values", () => {
    const bad = (flag: string, value: string) => failure([...dev, flag, value]) ?? ""
    assert.include(bad("--funding-confirms", "0"), "--funding-confirms expects a whole number from 1")
    assert.include(bad("--funding-confirms", "1.5"), "--funding-confirms expects")
    assert.include(bad("--funding-confirms", "-1"), "--funding-confirms")
    assert.include(bad("--min-to-self-delay", "65536"), "--min-to-self-delay expects a whole number from 0 to 65535")
    assert.include(bad("--max-accepted-htlcs", "484"), "--max-accepted-htlcs expects a whole number from 1 to 483")
    assert.include(bad("--max-accepted-htlcs", "0"), "--max-accepted-htlcs")
    assert.include(bad("--min-feerate", "252"), "--min-feerate expects a whole number from 253")
    assert.include(bad("--min-feerate", "abc"), "--min-feerate")
    assert.include(bad("--dev-node-secret", "01".repeat(31)), "32 bytes in hex")
    assert.include(bad("--dev-node-secret", "zz".repeat(32)), "32 bytes in hex")
    // Zero and the group order are not secret keys.
    assert.include(bad("--dev-node-secret", "00".repeat(32)), "not a valid secp256k1 secret key")
    assert.include(
      bad("--dev-node-secret", "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"),
      "not a valid secp256k1 secret key"
    )
  })
})

describe("devChannelSettings", () => {
  it("maps the hooks onto the channel config and the acceptance policy, defaults elsewhere", () => {
    assert.deepStrictEqual(devChannelSettings({}), { channelConfig: defaultLocalChannelConfig, policy: defaultChannelPolicy })
    const s = devChannelSettings({ fundingConfirms: 1, minToSelfDelay: 6, maxAcceptedHtlcs: 12 })
    assert.deepStrictEqual(s.channelConfig, { ...defaultLocalChannelConfig, minimumDepth: 1, toSelfDelay: 6, maxAcceptedHtlcs: 12 })
    assert.deepStrictEqual(s.policy, defaultChannelPolicy)
  })

  it("--min-feerate: the policy then accepts that feerate (the regtest floor 253), not below the relay floor", () => {
    // The default policy refuses 253 sat/kw for a channel without anchors (half the estimate 2500).
    assert.strictEqual(acceptableFeerateRange(defaultChannelPolicy, 2500, false).min, 1250)
    const floor = devChannelSettings({ minFeeratePerKw: 253 }).policy
    assert.strictEqual(acceptableFeerateRange(floor, 2500, false).min, 253)
    // Rounded down to the percentage of the estimate: N itself is accepted.
    const some = devChannelSettings({ minFeeratePerKw: 1000 }).policy
    assert.strictEqual(some.feerateMinPercent, 40)
    assert.strictEqual(acceptableFeerateRange(some, 2500, false).min, 1000)
    const odd = devChannelSettings({ minFeeratePerKw: 1010 }, 3000).policy
    assert.isAtMost(acceptableFeerateRange(odd, 3000, false).min, 1010)
    // Never stricter than the default policy.
    assert.strictEqual(devChannelSettings({ minFeeratePerKw: 5000 }).policy.feerateMinPercent, defaultChannelPolicy.feerateMinPercent)
  })
})
