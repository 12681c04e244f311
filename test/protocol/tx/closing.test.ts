/**
 * Mutual-close transactions: legacy `closing_signed` (BOLT 3 "Legacy Closing Transaction") and
 * `option_simple_close` (BOLT 3 "Closing Transaction", BOLT 2 closer/closee rules).
 */
import { Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { compileScript, OP, p2pkhScript, p2trScript, p2wpkhScript, p2wshScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { SIGHASH_ALL } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import { txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import {
  buildLegacyClosingTransaction,
  buildSimpleClosingTransaction,
  isValidShutdownScript,
  simpleCloseVariantsToSign
} from "../../../src/protocol/tx/closing.ts"
import { dustThreshold, isDust } from "../../../src/protocol/tx/fees.ts"
import { finalizeFundingSpend, fundingSpendInput, signInput, verifyInput } from "../../../src/protocol/tx/signing.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { alice, bob } from "./arbitraries.ts"
import { ok, secp } from "./fixtures.ts"

const outpoint = { txid: txidFromBytes(sha256(Uint8Array.of(1))), vout: 0 }
const aliceScript = p2wpkhScript(alice.basepoints.paymentBasepoint)
const bobScript = p2wshScript(Uint8Array.of(OP.OP_1))
const opReturn = compileScript([OP.OP_RETURN, new TextEncoder().encode("goodbye!")])

describe("legacy closing transaction", () => {
  const base = {
    fundingOutpoint: outpoint,
    fundingAmount: sat(1_000_000n),
    localScript: aliceScript,
    remoteScript: bobScript,
    toLocal: msat(600_000_500n),
    toRemote: msat(399_999_500n),
    localIsFunder: true,
    fee: sat(1_000n),
    dustLimit: sat(546n)
  }

  it("takes the fee from the funder, rounds down, sorts BIP 69, sequence 0xFFFFFFFF, locktime 0", () => {
    const c = ok(buildLegacyClosingTransaction(base))
    expect(c.tx.locktime).toBe(0)
    expect(c.tx.version).toBe(2)
    expect(c.tx.inputs[0]?.sequence).toBe(0xffffffff)
    expect(c.outputs.map((o) => [o.owner, o.value])).toEqual([
      ["remote", 399_999n],
      ["local", 599_000n]
    ])
    expect(c.fee).toBe(1_001n)
    const fundee = ok(buildLegacyClosingTransaction({ ...base, localIsFunder: false }))
    expect(fundee.outputs.map((o) => [o.owner, o.value])).toEqual([
      ["remote", 398_999n],
      ["local", 600_000n]
    ])
  })

  it("removes outputs below the signer's dust limit and may omit its own", () => {
    const c = ok(buildLegacyClosingTransaction({ ...base, toLocal: msat(999_500_000n), toRemote: msat(500_000n) }))
    expect(c.outputs.map((o) => o.owner)).toEqual(["local"])
    const omitted = ok(buildLegacyClosingTransaction({ ...base, omitLocalOutput: true }))
    expect(omitted.outputs.map((o) => o.owner)).toEqual(["remote"])
  })

  it("rejects a fee above the funder's balance", () => {
    const r = buildLegacyClosingTransaction({ ...base, fee: sat(600_001n) })
    expect(Result.isFailure(r) && r.failure._tag).toBe("ClosingError")
    expect(Result.isFailure(r) && r.failure.rule).toBe("FeeExceedsBalance")
  })

  it("tells its rules apart by a tag, not by the reason's words", () => {
    const rule = (r: Result.Result<unknown, { readonly rule: string }>) => (Result.isFailure(r) ? r.failure.rule : "ok")
    expect(rule(buildLegacyClosingTransaction({ ...base, fee: sat(-1n) }))).toBe("NegativeAmount")
    expect(rule(buildLegacyClosingTransaction({ ...base, toLocal: msat(2_000_000_000n) }))).toBe("BalancesExceedFunding")
    expect(rule(buildLegacyClosingTransaction({ ...base, dustLimit: sat(2_000_000n) }))).toBe("NoOutputLeft")
  })

  it("both funding signatures verify and complete the witness", () => {
    const c = ok(buildLegacyClosingTransaction(base))
    const input = fundingSpendInput(c.tx, base.fundingAmount, alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey)
    const sa = signInput(secp, input, SIGHASH_ALL, alice.funding)
    const sb = signInput(secp, input, SIGHASH_ALL, bob.funding)
    expect(verifyInput(secp, input, SIGHASH_ALL, sa, alice.basepoints.fundingPubkey)).toBe(true)
    expect(verifyInput(secp, input, SIGHASH_ALL, sb, bob.basepoints.fundingPubkey)).toBe(true)
    const signed = finalizeFundingSpend(c.tx, sa, sb, alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey)
    expect(signed.inputs[0]?.witness.length).toBe(4)
    expect(signed.inputs[0]?.witness[0]?.length).toBe(0)
  })
})

describe("option_simple_close transaction", () => {
  const base = {
    fundingOutpoint: outpoint,
    fundingAmount: sat(1_000_000n),
    closerScript: aliceScript,
    closeeScript: bobScript,
    closerBalance: msat(700_000_999n),
    closeeBalance: msat(299_999_001n),
    fee: sat(2_000n),
    locktime: 850_000,
    variant: "closer_and_closee_outputs" as const
  }

  it("closer pays the fee; nSequence 0xFFFFFFFD; nLockTime from closing_complete", () => {
    const c = ok(buildSimpleClosingTransaction(base))
    expect(c.tx.inputs[0]?.sequence).toBe(0xfffffffd)
    expect(c.tx.locktime).toBe(850_000)
    expect(c.outputs.map((o) => [o.owner, o.value])).toEqual([
      ["closee", 299_999n],
      ["closer", 698_000n]
    ])
    expect(c.fee).toBe(2_001n)
  })

  it("builds each signed variant", () => {
    expect(ok(buildSimpleClosingTransaction({ ...base, variant: "closer_output_only" })).outputs.map((o) => o.owner)).toEqual(["closer"])
    expect(ok(buildSimpleClosingTransaction({ ...base, variant: "closee_output_only" })).outputs.map((o) => o.owner)).toEqual(["closee"])
  })

  it("an OP_RETURN output carries zero", () => {
    const c = ok(buildSimpleClosingTransaction({ ...base, closerScript: opReturn }))
    const mine = c.outputs.find((o) => o.owner === "closer")
    expect(mine?.value).toBe(0n)
    expect(toHex(mine?.scriptPubKey ?? new Uint8Array(0))).toBe(toHex(opReturn))
    expect(c.outputs[0]?.owner).toBe("closer")
  })

  it("rejects a fee above the closer's balance", () => {
    expect(Result.isFailure(buildSimpleClosingTransaction({ ...base, fee: sat(700_001n) }))).toBe(true)
  })

  it("chooses the signatures to send per BOLT 2", () => {
    const v = (closer: bigint, closee: bigint, fee: bigint, closerScript = aliceScript, omit = false) =>
      simpleCloseVariantsToSign({ closerBalance: msat(closer), closeeBalance: msat(closee), fee: sat(fee), closerScript, closeeScript: bobScript, omitOwnOutputIfLesser: omit })
    // larger side, both outputs above dust
    expect(v(700_000_000n, 300_000_000n, 1000n)).toEqual(["closer_output_only", "closer_and_closee_outputs"])
    // larger side, closee dust
    expect(v(999_800_000n, 200_000n, 1000n)).toEqual(["closer_output_only"])
    // lesser side with dust output: closee only
    expect(v(1_200_000n, 998_800_000n, 1000n)).toEqual(["closee_output_only"])
    // lesser side, not dust
    expect(v(300_000_000n, 700_000_000n, 1000n)).toEqual(["closer_and_closee_outputs"])
    // lesser side that considers its output uneconomical
    expect(v(300_000_000n, 700_000_000n, 1000n, aliceScript, true)).toEqual(["closee_output_only"])
    // larger side with OP_RETURN: never dust
    expect(v(700_000_000n, 300_000_000n, 1000n, opReturn)).toEqual(["closer_output_only", "closer_and_closee_outputs"])
    // fee above balance
    expect(v(500_000n, 999_500_000n, 1000n)).toEqual([])
  })
})

describe("dust thresholds and shutdown scripts", () => {
  it("uses Bitcoin Core's figures from BOLT 3 \"Dust Limits\"", () => {
    expect(dustThreshold(p2pkhScript(alice.basepoints.fundingPubkey))).toBe(546n)
    expect(dustThreshold(compileScript([OP.OP_HASH160, new Uint8Array(20), OP.OP_EQUAL]))).toBe(540n)
    expect(dustThreshold(aliceScript)).toBe(294n)
    expect(dustThreshold(bobScript)).toBe(330n)
    expect(dustThreshold(Uint8Array.of(OP.OP_1, 2, 0x4e, 0x73))).toBe(240n)
    expect(dustThreshold(Uint8Array.of(OP.OP_16, 40, ...new Uint8Array(40)))).toBe(354n)
    expect(dustThreshold(opReturn)).toBe(0n)
    expect(isDust(sat(293n), aliceScript)).toBe(true)
    expect(isDust(sat(294n), aliceScript)).toBe(false)
  })

  it("accepts exactly the BOLT 2 shutdown forms", () => {
    const all = { anySegwit: true, simpleClose: true }
    const none = { anySegwit: false, simpleClose: false }
    expect(isValidShutdownScript(aliceScript, none)).toBe(true)
    expect(isValidShutdownScript(bobScript, none)).toBe(true)
    const taproot = p2trScript(new Uint8Array(32).fill(9))
    expect(isValidShutdownScript(taproot, none)).toBe(false)
    expect(isValidShutdownScript(taproot, all)).toBe(true)
    expect(isValidShutdownScript(opReturn, none)).toBe(false)
    expect(isValidShutdownScript(opReturn, all)).toBe(true)
    expect(isValidShutdownScript(compileScript([OP.OP_RETURN, new Uint8Array(5)]), all)).toBe(false)
    expect(isValidShutdownScript(compileScript([OP.OP_RETURN, new Uint8Array(80)]), all)).toBe(true)
    expect(isValidShutdownScript(compileScript([OP.OP_RETURN, new Uint8Array(81)]), all)).toBe(false)
    expect(isValidShutdownScript(p2pkhScript(alice.basepoints.fundingPubkey), all)).toBe(false)
    expect(isValidShutdownScript(Uint8Array.of(OP.OP_1, 1, 0), all)).toBe(false)
  })
})
