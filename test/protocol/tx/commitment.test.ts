import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex } from "../../../src/protocol/bytes.ts"
import { decodeTransaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import {
  buildCommitmentTransaction,
  commitmentNumberFromFields,
  obscuredCommitmentFields
} from "../../../src/protocol/tx/commitment.ts"
import { unsafePublicKey } from "../../../src/protocol/keys/keys.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { feeForWeight } from "../../../src/protocol/tx/fees.ts"
import { bob } from "./arbitraries.ts"
import { buildCommitmentTransactionPlain } from "./commitment-reference.ts"
import { anchors, anchorsType, legacy, legacyType, ok, paramsOf, type CommitmentVector } from "./fixtures.ts"

const t0 = legacy.tests[0] as CommitmentVector
const base = paramsOf(legacy.common, t0, legacyType)

describe("obscured commitment number", () => {
  it("recovers commitment number 42 from the Appendix C transaction", () => {
    const tx = ok(decodeTransaction(fromHex(t0.commit_tx)))
    expect(tx.locktime >>> 24).toBe(0x20)
    expect((tx.inputs[0]?.sequence ?? 0) >>> 24).toBe(0x80)
    expect(commitmentNumberFromFields(tx.locktime, tx.inputs[0]?.sequence ?? 0, base.obscuringFactor)).toBe(42n)
  })

  it("round-trips every 48-bit commitment number and factor", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), (n, f) => {
        const { locktime, sequence } = obscuredCommitmentFields(n, f)
        return commitmentNumberFromFields(locktime, sequence, f) === n
      }),
      { numRuns: 2_000 }
    )
  })

  it("does not mistake other transactions for commitments", () => {
    expect(commitmentNumberFromFields(0, 0xffffffff, 0n)).toBeUndefined()
  })
})

describe("commitment builder input checks", () => {
  const bad = (p: Partial<typeof base>): string => {
    const r = buildCommitmentTransaction({ ...base, ...p })
    return Result.isFailure(r) ? r.failure.reason : "ok"
  }
  it("rejects out-of-range parameters with typed errors", () => {
    expect(bad({})).toBe("ok")
    expect(bad({ feeratePerKw: -1 })).toBe("feerate out of range")
    expect(bad({ feeratePerKw: 1.5 })).toBe("feerate out of range")
    expect(bad({ commitmentNumber: 1n << 48n })).toBe("commitment number out of range")
    expect(bad({ toSelfDelay: 0x10000 })).toBe("to_self_delay out of range")
    expect(bad({ dustLimit: sat(-1n) })).toBe("negative dust limit")
    expect(bad({ toLocal: msat(base.toLocal + 1n) })).toBe("balances and HTLCs do not add up to the funding amount")
    expect(bad({ fundingAmount: sat(base.fundingAmount + 1n) })).toBe("balances and HTLCs do not add up to the funding amount")
    const h = { id: 9, preimage: new Uint8Array(32), direction: "offered" as const, amount: msat(1000n), paymentHash: new Uint8Array(31), cltvExpiry: 1 }
    expect(bad({ toLocal: msat(base.toLocal - 1000n), htlcs: [h] })).toBe("payment hash must be 32 bytes")
    expect(bad({ toLocal: msat(base.toLocal - 1000n), htlcs: [{ ...h, paymentHash: new Uint8Array(32), cltvExpiry: 500_000_000 }] })).toBe("cltv_expiry out of range")
  })

  it("a funder that cannot pay the fee ends with no output, never a negative one", () => {
    const c = ok(buildCommitmentTransaction({ ...base, feeratePerKw: 0xffffffff }))
    expect(c.hasToLocal).toBe(false)
    expect(c.outputs.every((o) => o.amount >= 0n)).toBe(true)
    expect(c.fee + c.outputs.reduce((a, o) => a + o.amount, 0n)).toBe(base.fundingAmount)
  })
})

describe("output specs kept per key (anchors, to_remote)", () => {
  const t = anchors.tests.find((x) => x.htlc_ids.length > 0) ?? (anchors.tests[0] as CommitmentVector)
  const params = paramsOf(anchors.common, t, anchorsType)
  const fresh = (p: typeof params) =>
    ({
      ...p,
      localFundingPubkey: unsafePublicKey(Uint8Array.from(p.localFundingPubkey)),
      remoteFundingPubkey: unsafePublicKey(Uint8Array.from(p.remoteFundingPubkey)),
      keys: { ...p.keys, remotePaymentPubkey: unsafePublicKey(Uint8Array.from(p.keys.remotePaymentPubkey)) }
    })

  it("a key array changed in place after a build gives the outputs of the new key, as a fresh array would", () => {
    const keyArrays = fresh(params)
    ok(buildCommitmentTransaction(keyArrays))
    // The same arrays now hold other keys (the funding pubkeys swapped, another payment basepoint).
    keyArrays.localFundingPubkey.set(params.remoteFundingPubkey)
    keyArrays.remoteFundingPubkey.set(params.localFundingPubkey)
    keyArrays.keys.remotePaymentPubkey.set(bob.basepoints.paymentBasepoint)
    const changed = ok(buildCommitmentTransaction(keyArrays))
    const expected = ok(buildCommitmentTransaction(fresh(keyArrays)))
    expect(changed.tx).toEqual(expected.tx)
    expect(changed.outputs.map((o) => o.witnessScript)).toEqual(expected.outputs.map((o) => o.witnessScript))
  })

  it("the same local funding key array with another remote funding key or remotepubkey gives the outputs of those keys", () => {
    const keyArrays = fresh(params)
    ok(buildCommitmentTransaction(keyArrays))
    const otherRemote = { ...keyArrays, remoteFundingPubkey: unsafePublicKey(Uint8Array.from(bob.basepoints.htlcBasepoint)) }
    const otherPayment = { ...keyArrays, keys: { ...keyArrays.keys, remotePaymentPubkey: unsafePublicKey(Uint8Array.from(bob.basepoints.htlcBasepoint)) } }
    for (const p of [otherRemote, otherPayment, keyArrays]) {
      const shared = ok(buildCommitmentTransaction(p))
      const direct = ok(buildCommitmentTransaction(fresh(p)))
      expect(shared.tx).toEqual(direct.tx)
      expect(shared.outputs.map((o) => o.witnessScript)).toEqual(direct.outputs.map((o) => o.witnessScript))
    }
  })

  it("another channel type with the same keys gets its own to_remote (P2WPKH without anchors)", () => {
    const withAnchors = ok(buildCommitmentTransaction(params))
    const legacyParams = { ...params, channelType: legacyType }
    const direct = ok(buildCommitmentTransaction(fresh(legacyParams)))
    const shared = ok(buildCommitmentTransaction(legacyParams))
    expect(shared.tx).toEqual(direct.tx)
    const toRemote = (c: typeof withAnchors) => c.outputs.find((o) => o.kind === "to_remote")
    expect(toRemote(shared)?.witnessScript).toBeUndefined()
    expect(toRemote(withAnchors)?.witnessScript).toBeDefined()
  })
})

describe("the builder against its plain form (commitment-reference.ts)", () => {
  const hashes = [0, 1].map((i) => new Uint8Array(32).fill(i + 1))
  /** HTLCs from few values, so that outputs tie on value, on script, or entirely (order then by cltv_expiry, then kept). */
  const htlcArb = fc.record({
    direction: fc.constantFrom("offered" as const, "received" as const),
    amount: fc.oneof(fc.constantFrom(600_000n, 5_000_000n), fc.bigInt({ min: 1n, max: 10_000_000n })).map(msat),
    paymentHash: fc.constantFrom(...hashes),
    cltvExpiry: fc.constantFrom(500, 501, 499_999_999)
  })
  it("gives the same commitment (outputs, their order and objects, HTLC lists, amounts), up to 24 HTLCs and both channel types", () => {
    fc.assert(
      fc.property(
        fc.array(htlcArb, { maxLength: 24 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 20_000 }),
        fc.bigInt({ min: 0n, max: 10_000_000_000n }),
        (htlcs, withAnchors, localIsFunder, feeratePerKw, share) => {
          const withIds = htlcs.map((h, id) => ({ ...h, id, preimage: new Uint8Array(32) }))
          const inFlight = withIds.reduce((a, h) => a + h.amount, 0n)
          const funding = (inFlight + 999n) / 1000n + 10_000_000n
          const rest = funding * 1000n - inFlight
          const toLocal = (rest * (share % 1001n)) / 1000n
          const params = { ...base, channelType: withAnchors ? anchorsType : legacyType, localIsFunder, feeratePerKw, htlcs: withIds, fundingAmount: sat(funding), toLocal: msat(toLocal), toRemote: msat(rest - toLocal) }
          const fast = buildCommitmentTransaction(params)
          const plain = buildCommitmentTransactionPlain(params)
          expect(fast).toEqual(plain)
          if (Result.isSuccess(fast) && Result.isSuccess(plain)) {
            // The HTLC objects are the caller's, in the same order in both lists.
            expect(fast.success.htlcOutputs.map((o) => o.htlc)).toStrictEqual(plain.success.htlcOutputs.map((o) => o.htlc))
            expect(fast.success.htlcOutputs.every((o) => fast.success.outputs[o.index] === o)).toBe(true)
          }
        }
      ),
      { numRuns: 400 }
    )
  })
})

describe("number fast paths against their BigInt forms", () => {
  const anyBig = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.bigInt({ min: -(1n << 60n), max: 1n << 60n }), fc.constantFrom(0n, (1n << 24n) - 1n, 1n << 24n, (1n << 48n) - 1n, 1n << 48n, -1n))
  it("obscuredCommitmentFields: nLockTime and nSequence as the BigInt form gives them, any inputs", () => {
    fc.assert(
      fc.property(anyBig, anyBig, (n, f) => {
        const obscured = (n ^ f) & ((1n << 48n) - 1n)
        expect(obscuredCommitmentFields(n, f)).toEqual({ locktime: Number((0x20n << 24n) | (obscured & 0xffffffn)), sequence: Number((0x80n << 24n) | (obscured >> 24n)) })
      }),
      { numRuns: 3_000 }
    )
  })
  it("feeForWeight: rounded down as the BigInt form, below and beyond exact doubles", () => {
    const anyInt = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 2_000_000 }), fc.constantFrom(0, 1, 999, 1000, 1001, 0xffffffff), fc.integer({ min: -5000, max: 5000 }))
    fc.assert(
      fc.property(anyInt, fc.oneof(anyInt, fc.constantFrom(2 ** 30, 2 ** 40, 2 ** 21 + 1)), (feerate, weight) => {
        expect(feeForWeight(feerate, weight)).toBe((BigInt(feerate) * BigInt(weight)) / 1000n)
      }),
      { numRuns: 3_000 }
    )
  })
})
