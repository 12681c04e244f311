/**
 * The memo of built commitments (`commitment-builds.ts`): what it returns is what building
 * afresh gives, field for field, with the caller's own HTLC objects; the HTLC transactions,
 * txid and signature digests it shares are those computed directly; objects it did not hand
 * out (direct builds, modified copies) are computed from scratch.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { SIGHASH_ALL } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import { buildCommitmentTransaction, type CommitmentParams } from "../../../src/protocol/tx/commitment.ts"
import { commitmentTxid, htlcTransactions, makeCommitmentBuilds } from "../../../src/protocol/tx/commitment-builds.ts"
import { buildHtlcTransactions } from "../../../src/protocol/tx/htlc.ts"
import { commitmentInput, commitmentSighash, htlcInput, htlcSighash, inputSighash } from "../../../src/protocol/tx/signing.ts"
import { unsafePublicKey } from "../../../src/protocol/keys/keys.ts"
import { anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import { alice, bob, viewArb, type TestHtlc } from "./arbitraries.ts"
import { anchors, anchorsType, legacy, legacyType, ok, paramsOf, paramsOfView } from "./fixtures.ts"


const hexOf = (b: Uint8Array) => toHex(b)

describe("makeCommitmentBuilds", () => {
  it("gives what building afresh gives, with the caller's HTLC objects, hit or miss", () => {
    fc.assert(
      fc.property(viewArb(8), fc.bigInt({ min: 0n, max: 1000n }), (view, n) => {
        const builds = makeCommitmentBuilds(4)
        const params = paramsOfView(view, n, alice.perCommitmentPoint)
        const direct = buildCommitmentTransaction(params)
        const first = builds.build(params)
        // A second caller with other HTLC objects (same fields, an extra field of its own).
        const otherHtlcs = params.htlcs.map((h) => ({ ...h, id: h.id + 1000 }))
        const second = builds.build({ ...params, htlcs: otherHtlcs })
        if (Result.isFailure(direct)) {
          expect(Result.isFailure(first) && Result.isFailure(second)).toBe(true)
          return
        }
        const a = ok(first)
        const b = ok(second)
        expect(a).toEqual(direct.success)
        const expectedSecond = ok(buildCommitmentTransaction({ ...params, htlcs: otherHtlcs }))
        expect(b).toEqual(expectedSecond)
        expect(builds.stats()).toEqual({ hits: 1, misses: 1 })
        // The HTLC objects are the caller's own (identity), in the builder's order.
        expect(b.htlcOutputs.map((o) => o.htlc.id)).toEqual(expectedSecond.htlcOutputs.map((o) => o.htlc.id))
        expect(b.trimmedHtlcs.map((h) => h.id)).toEqual(expectedSecond.trimmedHtlcs.map((h) => h.id))
        for (const o of b.htlcOutputs) expect(otherHtlcs).toContain(o.htlc)
        // What is derived from a build: the same as computed directly.
        for (const c of [a, b]) {
          expect(hexOf(commitmentTxid(c))).toBe(hexOf(txid(c.tx)))
          expect(hexOf(commitmentSighash(c))).toBe(hexOf(inputSighash(commitmentInput(c), SIGHASH_ALL)))
          const shared = htlcTransactions(c)
          const fresh = buildHtlcTransactions(c)
          expect(shared).toEqual(fresh)
          shared.forEach((h, i) => {
            expect(h.htlc).toBe(c.htlcOutputs[i]?.htlc)
            for (const type of [SIGHASH_ALL, h.remoteSighash]) expect(hexOf(htlcSighash(h, type))).toBe(hexOf(inputSighash(htlcInput(h), type)))
          })
        }
      }),
      { numRuns: 150 }
    )
  })

  it("builds the BOLT 3 vectors' commitments through the memo byte for byte", () => {
    const builds = makeCommitmentBuilds(64)
    for (const [file, type] of [[legacy, legacyType], [anchors, anchorsType]] as const) {
      for (const t of file.tests) {
        const params = paramsOf(file.common, t, type)
        const direct = ok(buildCommitmentTransaction(params))
        for (let round = 0; round < 2; round++) {
          const built = ok(builds.build(params))
          expect(built).toEqual(direct)
          expect(htlcTransactions(built)).toEqual(buildHtlcTransactions(direct))
        }
      }
    }
    expect(builds.stats().hits).toBe(builds.stats().misses)
  })

  it("does not serve a different input: another field, another HTLC, another channel type object", () => {
    const file = anchors
    const t = file.tests.find((x) => x.htlc_ids.length > 0)
    if (t === undefined) throw new Error("no vector with HTLCs")
    const params = paramsOf(file.common, t, anchorsZeroFeeHtlcTx)
    const builds = makeCommitmentBuilds(8)
    ok(builds.build(params))
    const variants: ReadonlyArray<CommitmentParams<TestHtlc>> = [
      { ...params, commitmentNumber: 6n },
      { ...params, feeratePerKw: params.feeratePerKw + 1 },
      { ...params, toSelfDelay: params.toSelfDelay === 0 ? 1 : params.toSelfDelay - 1 },
      { ...params, keys: { ...params.keys, revocationPubkey: bob.basepoints.revocationBasepoint } },
      { ...params, htlcs: params.htlcs.map((h, i) => (i === 0 ? { ...h, cltvExpiry: h.cltvExpiry + 1 } : h)) },
      { ...params, channelType: { ...anchorsZeroFeeHtlcTx } },
      // The key keeps 30 bits of the point and the feerate's low 10 bits: these share it too.
      { ...params, feeratePerKw: params.feeratePerKw + 1024 },
      { ...params, keys: { ...params.keys, perCommitmentPoint: unsafePublicKey(Uint8Array.from(params.keys.perCommitmentPoint, (b, i) => (i === 20 ? b ^ 1 : b))) } }
    ]
    for (const v of variants) {
      const before = builds.stats().hits
      const built = builds.build(v)
      expect(builds.stats().hits).toBe(before)
      const direct = buildCommitmentTransaction(v)
      expect(Result.isSuccess(built) ? built.success : undefined).toEqual(Result.isSuccess(direct) ? direct.success : undefined)
    }
  })

  it("answers an equal input with the same keys object from the memo, never one whose bytes changed in place, and builds an evicted one again", () => {
    const t = anchors.tests.find((x) => x.htlc_ids.length > 0)
    if (t === undefined) throw new Error("no vector with HTLCs")
    const base = paramsOf(anchors.common, t, anchorsZeroFeeHtlcTx)
    // Arrays of this test's own, so that changing them in place touches nothing else.
    const keys = { ...base.keys, localHtlcPubkey: unsafePublicKey(Uint8Array.from(base.keys.localHtlcPubkey)) }
    const htlcs = base.htlcs.map((h) => ({ ...h, paymentHash: Uint8Array.from(h.paymentHash) }))
    const params: CommitmentParams<TestHtlc> = { ...base, keys, htlcs, fundingOutpoint: { ...base.fundingOutpoint, txid: txid(ok(buildCommitmentTransaction(base)).tx) } }
    const builds = makeCommitmentBuilds(2)
    const expectBuilt = (p: CommitmentParams<TestHtlc>, hits: number, misses: number) => {
      expect(ok(builds.build(p))).toEqual(ok(buildCommitmentTransaction(p)))
      expect(builds.stats()).toEqual({ hits, misses })
    }
    expectBuilt(params, 0, 1)
    // Equal inputs, the same keys object, other params and HTLC objects: from the memo.
    expectBuilt({ ...params, htlcs: htlcs.map((h) => ({ ...h })) }, 1, 1)
    // The same objects with a byte field changed in place: each is another input.
    keys.localHtlcPubkey.set(bob.basepoints.htlcBasepoint)
    expectBuilt(params, 1, 2)
    const hash = htlcs[0]?.paymentHash
    if (hash === undefined) throw new Error("no HTLC")
    hash[0] = (hash[0] ?? 0) ^ 1
    expectBuilt(params, 1, 3)
    params.fundingOutpoint.txid.fill(7)
    expectBuilt(params, 1, 4)
    expectBuilt(params, 2, 4)
    // Evicted (capacity 2), then asked again with the same objects: built again.
    expectBuilt({ ...params, commitmentNumber: params.commitmentNumber + 1n }, 2, 5)
    expectBuilt({ ...params, commitmentNumber: params.commitmentNumber + 2n }, 2, 6)
    expectBuilt(params, 2, 7)
    expectBuilt(params, 3, 7)
  })

  it("a modified copy of a memoized commitment is not given the memo's derived values", () => {
    const file = anchors
    const t = file.tests.find((x) => x.htlc_ids.length > 0) ?? file.tests[0]
    if (t === undefined) throw new Error("no vector")
    const builds = makeCommitmentBuilds(4)
    const built = ok(builds.build(paramsOf(file.common, t, anchorsType)))
    // Prime the memo's values, then change the copy's transaction.
    commitmentTxid(built)
    commitmentSighash(built)
    const changed = { ...built, tx: { ...built.tx, locktime: built.tx.locktime + 1 } }
    expect(hexOf(commitmentTxid(changed))).toBe(hexOf(txid(changed.tx)))
    expect(hexOf(commitmentTxid(changed))).not.toBe(hexOf(commitmentTxid(built)))
    expect(hexOf(commitmentSighash(changed))).toBe(hexOf(inputSighash(commitmentInput(changed), SIGHASH_ALL)))
  })

  it("serves only the input an entry was built from when inputs share a key (bits of the point, feerate, HTLC count): any order of builds gives what building afresh gives", () => {
    const t = anchors.tests.find((x) => x.htlc_ids.length > 0)
    if (t === undefined) throw new Error("no vector with HTLCs")
    const params = paramsOf(anchors.common, t, anchorsZeroFeeHtlcTx)
    // Inputs under one memo key: each differs from the others in a field the key leaves out.
    const variants: ReadonlyArray<CommitmentParams<TestHtlc>> = [
      params,
      { ...params, toSelfDelay: params.toSelfDelay + 1 },
      { ...params, keys: { ...params.keys, revocationPubkey: bob.basepoints.revocationBasepoint } },
      { ...params, htlcs: params.htlcs.map((h, i) => (i === 0 ? { ...h, cltvExpiry: h.cltvExpiry + 1 } : h)) },
      { ...params, obscuringFactor: params.obscuringFactor + 1n },
      { ...params, commitmentNumber: params.commitmentNumber + 1n },
      { ...params, localIsFunder: !params.localIsFunder },
      { ...params, channelType: { ...anchorsZeroFeeHtlcTx } }
    ]
    const direct = variants.map((v) => buildCommitmentTransaction(v))
    fc.assert(
      fc.property(fc.array(fc.nat({ max: variants.length - 1 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 3 }), (order, capacity) => {
        const builds = makeCommitmentBuilds(capacity)
        let last = -1
        for (const i of order) {
          const v = variants[i]
          const d = direct[i]
          if (v === undefined || d === undefined) throw new Error("unreachable")
          const before = builds.stats()
          const built = builds.build(v)
          expect(Result.isSuccess(built) ? built.success : undefined).toEqual(Result.isSuccess(d) ? d.success : undefined)
          // Only the input asked just before (the entry under the shared key) can be a hit.
          if (i !== last) expect(builds.stats().hits).toBe(before.hits)
          if (Result.isSuccess(built)) {
            expect(hexOf(commitmentTxid(built.success))).toBe(hexOf(txid(built.success.tx)))
            expect(htlcTransactions(built.success)).toEqual(buildHtlcTransactions(built.success))
          }
          last = i
        }
      }),
      { numRuns: 100 }
    )
  })

  it("keeps each entry's inputs in a slot of its HTLC count's class, reused once evicted: builds of any HTLC count in any order give what building afresh gives", () => {
    const t = anchors.tests.find((x) => x.htlc_ids.length >= 3)
    if (t === undefined) throw new Error("no vector with three HTLCs")
    const params = paramsOf(anchors.common, t, anchorsZeroFeeHtlcTx)
    // 0 to all HTLCs (slot classes 0, 1, 2, 3, ...), each with another payment hash in its last HTLC.
    const variants: Array<CommitmentParams<TestHtlc>> = []
    for (let n = 0; n <= params.htlcs.length; n++) {
      const htlcs = params.htlcs.slice(0, n)
      variants.push({ ...params, htlcs })
      if (n > 0) variants.push({ ...params, htlcs: htlcs.map((h, i) => (i === n - 1 ? { ...h, paymentHash: Uint8Array.from(h.paymentHash, (b) => b ^ 1) } : h)) })
    }
    const direct = variants.map((v) => buildCommitmentTransaction(v))
    fc.assert(
      fc.property(fc.array(fc.nat({ max: variants.length - 1 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (order, capacity) => {
        const builds = makeCommitmentBuilds(capacity)
        for (const i of order) {
          const v = variants[i]
          const d = direct[i]
          if (v === undefined || d === undefined) throw new Error("unreachable")
          const built = builds.build(v)
          expect(Result.isSuccess(built) ? built.success : undefined).toEqual(Result.isSuccess(d) ? d.success : undefined)
          if (Result.isSuccess(built)) expect(hexOf(commitmentTxid(built.success))).toBe(hexOf(txid(built.success.tx)))
        }
        expect(builds.size()).toBeLessThanOrEqual(capacity)
        builds.clear()
        const again = variants[order[0] ?? 0]
        if (again !== undefined) builds.build(again)
        expect(builds.stats()).toEqual({ hits: 0, misses: 1 })
      }),
      { numRuns: 150, seed: 16 }
    )
  })

  it("hands out the plain results' own fields in the builder's order, hit or miss, with or without HTLCs; a spread copy is a plain object the memo does not know", () => {
    const builds = makeCommitmentBuilds(64)
    // Keys, in order, and values as a spread and JSON see them (bigints as text).
    const plain = (o: object) => JSON.stringify({ ...o }, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? toHex(v) : v))
    let withoutHtlcs = 0
    for (const t of anchors.tests) {
      const params = paramsOf(anchors.common, t, anchorsType)
      const direct = ok(buildCommitmentTransaction(params))
      if (params.htlcs.length === 0) withoutHtlcs++
      for (let round = 0; round < 3; round++) {
        // Another caller's HTLC objects on the hits (same fields).
        const built = ok(builds.build(round === 0 ? params : { ...params, htlcs: params.htlcs.map((h) => ({ ...h })) }))
        expect(Object.keys(built)).toEqual(Object.keys(direct))
        expect(plain(built)).toBe(plain(direct))
        built.outputs.forEach((o, i) => {
          const d = direct.outputs[i]
          if (d === undefined) throw new Error("output missing")
          expect(Object.keys(o)).toEqual(Object.keys(d))
          expect(plain(o)).toBe(plain(d))
        })
        const fresh = buildHtlcTransactions(direct)
        htlcTransactions(built).forEach((h, i) => {
          const f = fresh[i]
          if (f === undefined) throw new Error("HTLC transaction missing")
          expect(Object.keys(h)).toEqual(Object.keys(f))
          expect(plain(h)).toBe(plain(f))
        })
        // A spread copy with another locktime: computed from its own fields, not the memo's.
        const copy = { ...built, tx: { ...built.tx, locktime: built.tx.locktime ^ 1 } }
        expect(hexOf(commitmentTxid(copy))).toBe(hexOf(txid(copy.tx)))
        expect(hexOf(commitmentSighash(copy))).toBe(hexOf(inputSighash(commitmentInput(copy), SIGHASH_ALL)))
      }
    }
    expect(withoutHtlcs).toBeGreaterThan(0)
  })

  it("stays within its capacity (least recently used out)", () => {
    const builds = makeCommitmentBuilds(2)
    const file = legacy
    const all = file.tests.slice(0, 4).map((t) => paramsOf(file.common, t, legacyType))
    for (const p of all) ok(builds.build(p))
    expect(builds.size()).toBe(2)
    expect(() => makeCommitmentBuilds(0)).toThrow(RangeError)
  })
})
