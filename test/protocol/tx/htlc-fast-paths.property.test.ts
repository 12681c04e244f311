/**
 * Fast paths of the HTLC transactions and of the builds memo against their plain forms: the
 * second-stage output taken from the commitment's `to_local` output (`htlcTxOutputSpec`) is the
 * channel type's `htlcTxOutput`, and the memo finds the HTLC of each output by a scan of a short
 * list as it does through a map of positions on a long one (`entryOf`).
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { makeCommitmentBuilds } from "../../../src/protocol/tx/commitment-builds.ts"
import { buildCommitmentTransaction, type CommitmentTransaction } from "../../../src/protocol/tx/commitment.ts"
import { buildHtlcTransactions, htlcTxOutputSpec } from "../../../src/protocol/tx/htlc.ts"
import { mirrorView, type ChannelView } from "../../../src/protocol/tx/view.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { alice, bob, viewArb, type TestHtlc } from "./arbitraries.ts"
import { ok, paramsOfView } from "./fixtures.ts"


/** Both sides' commitments of a view (Alice's at her point, Bob's at his), those that build. */
const commitmentsOf = (view: ChannelView<TestHtlc>): ReadonlyArray<CommitmentTransaction<TestHtlc>> =>
  [paramsOfView(view, 7n, alice.perCommitmentPoint), paramsOfView(mirrorView(view), 7n, bob.perCommitmentPoint)].flatMap((p) => {
    const built = buildCommitmentTransaction(p)
    return Result.isSuccess(built) ? [built.success] : []
  })

describe("htlcTxOutputSpec", () => {
  it("is the channel type's htlcTxOutput, whether the commitment has a to_local output or not (built-in types and a copy of one)", () => {
    let withToLocal = 0
    let withoutToLocal = 0
    fc.assert(
      fc.property(viewArb(12), fc.boolean(), (view, copyType) => {
        const v = copyType ? { ...view, channelType: { ...view.channelType } } : view
        for (const c of commitmentsOf(v)) {
          const { channelType, keys, toSelfDelay } = c.params
          const plain = channelType.scripts.htlcTxOutput(keys, toSelfDelay)
          const fast = htlcTxOutputSpec(c)
          expect(toHex(fast.scriptPubKey)).toBe(toHex(plain.scriptPubKey))
          expect(fast.witnessScript === undefined ? undefined : toHex(fast.witnessScript)).toBe(plain.witnessScript === undefined ? undefined : toHex(plain.witnessScript))
          for (const h of buildHtlcTransactions(c)) {
            expect(toHex(h.tx.outputs[0]?.scriptPubKey ?? new Uint8Array(0))).toBe(toHex(plain.scriptPubKey))
            expect(toHex(h.outputWitnessScript)).toBe(toHex(plain.witnessScript ?? new Uint8Array(0)))
          }
          if (c.hasToLocal) withToLocal++
          else withoutToLocal++
        }
      }),
      { numRuns: 200, seed: 14 }
    )
    // Both branches were taken.
    expect(withToLocal).toBeGreaterThan(0)
    expect(withoutToLocal).toBeGreaterThan(0)
  })
})

describe("the builds memo's HTLC positions", () => {
  it("a second caller's commitment has its own HTLC objects where building afresh puts them, with few HTLCs (a scan) and many (a map)", () => {
    let few = 0
    let many = 0
    fc.assert(
      fc.property(viewArb(20), (view) => {
        const builds = makeCommitmentBuilds(4)
        const params = paramsOfView(view, 3n, alice.perCommitmentPoint)
        const first = builds.build(params)
        if (Result.isFailure(first)) return
        const otherHtlcs = params.htlcs.map((h) => ({ ...h, id: h.id + 1000 }))
        const second = ok(builds.build({ ...params, htlcs: otherHtlcs }))
        const expected = ok(buildCommitmentTransaction({ ...params, htlcs: otherHtlcs }))
        expect(second).toEqual(expected)
        expect(second.outputs.map((o) => o.htlc)).toEqual(expected.outputs.map((o) => o.htlc))
        second.outputs.forEach((o, i) => expect(o.htlc).toBe(expected.outputs[i]?.htlc))
        second.trimmedHtlcs.forEach((h, i) => expect(h).toBe(expected.trimmedHtlcs[i]))
        expect(builds.stats()).toEqual({ hits: 1, misses: 1 })
        if (params.htlcs.length > 8) many++
        else if (params.htlcs.length > 0) few++
      }),
      { numRuns: 150, seed: 14 }
    )
    expect(few).toBeGreaterThan(0)
    expect(many).toBeGreaterThan(0)
  })

  it("an HTLC object listed twice is found at its last place, with few HTLCs as with many", () => {
    const base = fc.sample(viewArb(0), { numRuns: 1, seed: 14 })[0]
    if (base === undefined) throw new Error("no view")
    for (const count of [2, 12]) {
      const one: TestHtlc = { id: 0, direction: "offered", amount: msat(50_000_000n), paymentHash: new Uint8Array(32).fill(1), cltvExpiry: 500 }
      const rest: Array<TestHtlc> = Array.from({ length: count - 2 }, (_, i) => ({ ...one, id: i + 1, cltvExpiry: 600 + i }))
      const htlcs = [one, ...rest, one]
      const fundingAmount = sat(10_000_000n)
      const view: ChannelView<TestHtlc> = {
        ...base,
        fundingAmount,
        htlcs,
        feeratePerKw: 253,
        toLocal: msat(fundingAmount * 1000n - 50_000_000n * BigInt(count)),
        toRemote: msat(0n)
      }
      const params = paramsOfView(view, 3n, alice.perCommitmentPoint)
      const builds = makeCommitmentBuilds(4)
      ok(builds.build(params))
      const others = htlcs.map((h, i) => ({ ...h, id: 100 + i }))
      const second = ok(builds.build({ ...params, htlcs: others }))
      const duplicated = second.htlcOutputs.filter((o) => o.htlc.cltvExpiry === 500)
      expect(duplicated.length).toBe(2)
      for (const o of duplicated) expect(o.htlc).toBe(others[others.length - 1])
    }
  })
})
