/**
 * `counterpartyView(params, spec)` is the channel seen from the peer's side for a spec stated from
 * the peer's point of view: the channel builds the peer's commitment with it as "local" instead of
 * mirroring the spec into our view and having the builder mirror it back ("remote"). Property-tested
 * against that plain form over both sides of a real channel and random specs (HTLCs in both
 * directions, dust and not, feerates, balances; each side's dust limit and delay drawn apart): the views are equal, and so are the commitments
 * built from them (transaction bytes, txid), each built through its own fresh memos.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { type CommitmentSpec, mirrorSpec, type SpecHtlc } from "../../../src/protocol/channel/commitments.ts"
import { channelTypeByName, channelView, counterpartyView, type ChannelParams } from "../../../src/protocol/channel/params.ts"
import { makeCommitmentKeysCache } from "../../../src/protocol/keys/commitment-keys-cache.ts"
import { serializeTransaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { commitmentTxid, makeCommitmentBuilds } from "../../../src/protocol/tx/commitment-builds.ts"
import { buildCommitmentForSide, mirrorView } from "../../../src/protocol/tx/view.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { openChannel, secp } from "./open-fixtures.ts"

const opened = openChannel()
const sides = [opened.funder, opened.fundee]

const htlc = fc.record({
  direction: fc.constantFrom<SpecHtlc["direction"]>("offered", "received"),
  id: fc.bigInt({ min: 0n, max: 1000n }),
  // Below and above the dust limits.
  amount: fc.bigInt({ min: 1000n, max: 50_000_000n }).map(msat),
  paymentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  cltvExpiry: fc.integer({ min: 1, max: 1_000_000 })
})

const spec: fc.Arbitrary<CommitmentSpec> = fc.record({
  feeratePerKw: fc.integer({ min: 253, max: 20_000 }),
  toLocal: fc.bigInt({ min: 0n, max: 5_000_000_000n }).map(msat),
  toRemote: fc.bigInt({ min: 0n, max: 5_000_000_000n }).map(msat),
  htlcs: fc.array(htlc, { maxLength: 6 })
})

const sideParams = fc.record({ dustLimit: fc.bigInt({ min: 354n, max: 5_000n }).map(sat), toSelfDelay: fc.integer({ min: 6, max: 2016 }) })

/** The views as they were made: the balances spread after the channel's fields. */
const spreadView = (params: ChannelParams, local: ChannelParams["local"], remote: ChannelParams["local"], localIsOpener: boolean, s: CommitmentSpec) => ({
  channelType: channelTypeByName(params.channelType),
  fundingOutpoint: params.fundingOutpoint,
  fundingAmount: params.fundingAmount,
  local: { basepoints: local.basepoints, dustLimit: local.dustLimit, toSelfDelay: local.toSelfDelay },
  remote: { basepoints: remote.basepoints, dustLimit: remote.dustLimit, toSelfDelay: remote.toSelfDelay },
  localIsOpener,
  ...s
})

describe("the views written out field by field", () => {
  it("are the spreads they replaced (same keys, same order) for any spec", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1), spec, (side, s) => {
        const params = sides[side]?.params
        if (params === undefined) throw new Error("no side")
        for (const [fast, plain] of [
          [channelView(params, s), spreadView(params, params.local, params.remote, params.localIsFunder, s)],
          [counterpartyView(params, s), spreadView(params, params.remote, params.local, !params.localIsFunder, s)]
        ] as const) {
          expect(fast).toStrictEqual(plain)
          expect(Object.keys(fast)).toEqual(Object.keys(plain))
        }
      }),
      { numRuns: 100, seed: 1541 }
    )
  })
})

describe("counterpartyView: the peer's view without flipping the HTLCs twice", () => {
  it("equals mirrorView(channelView(params, mirrorSpec(spec))), and builds the same commitment", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1), spec, fc.bigInt({ min: 0n, max: 1000n }), sideParams, sideParams, (side, s, number, ours, theirs) => {
        const funded = sides[side]
        if (funded === undefined) throw new Error("no side")
        // Each side's dust limit and delay its own, so that a side taken for the other shows.
        const p = funded.params
        const params = { ...p, local: { ...p.local, ...ours }, remote: { ...p.remote, ...theirs } }
        const fast = counterpartyView(params, s)
        const plain = channelView(params, mirrorSpec(s))
        expect(fast).toEqual(mirrorView(plain))
        const point = funded.remoteFirstPerCommitmentPoint
        const a = buildCommitmentForSide(secp, fast, "local", number, point, makeCommitmentKeysCache(4), makeCommitmentBuilds(4))
        const b = buildCommitmentForSide(secp, plain, "remote", number, point, makeCommitmentKeysCache(4), makeCommitmentBuilds(4))
        expect(Result.isSuccess(a)).toBe(Result.isSuccess(b))
        if (Result.isSuccess(a) && Result.isSuccess(b)) {
          expect(toHex(serializeTransaction(a.success.tx))).toBe(toHex(serializeTransaction(b.success.tx)))
          expect(toHex(commitmentTxid(a.success))).toBe(toHex(commitmentTxid(b.success)))
          expect(a.success.htlcOutputs.map((o) => o.htlc.id)).toStrictEqual(b.success.htlcOutputs.map((o) => o.htlc.id))
        }
      }),
      { numRuns: 150 }
    )
  })
})
