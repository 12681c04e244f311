/** `--fee-base-msat`, `--fee-ppm`, `--cltv-delta`: our forwarding policy from the command line (issue 8, "The runnable node"). */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { forwardingPolicyOf, parseFlags, usage } from "../../../src/layers/node/NodeFlags.ts"
import { defaultForwardingPolicy } from "../../../src/protocol/payment/forward.ts"

const parsed = (argv: ReadonlyArray<string>) => {
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

describe("NodeFlags forwarding policy", () => {
  it("absent flags: no forwarding settings, the default policy", () => {
    assert.isUndefined(parsed([]).forwarding)
    assert.deepStrictEqual(forwardingPolicyOf(undefined), defaultForwardingPolicy)
  })

  it("each flag sets its field; the others keep their defaults", () => {
    const config = parsed(["--fee-base-msat", "0", "--fee-ppm=2500", "--cltv-delta", "144"])
    assert.deepStrictEqual(config.forwarding, { feeBaseMsat: 0, feeProportionalMillionths: 2500, cltvExpiryDelta: 144 })
    assert.deepStrictEqual(forwardingPolicyOf(parsed(["--fee-ppm", "7"]).forwarding), {
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
