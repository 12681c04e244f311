/**
 * `nextLocalSpec` / `nextRemoteSpec` hand `reduceSpec` the update lists one after the other, as
 * the list itself when the others are empty (no copy): property-tested against the plain form
 * (the lists spread into one array), over random update logs on both sides (adds, removals of
 * known and unknown ids, repeated ids, fee updates: order matters) and random extra updates, with
 * their commitment signed or not. `projectedLocalFeerate` / `projectedRemoteFeerate` read only the
 * `update_fee`s: property-tested against the feerate of `reduceSpec` over every pending update.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import {
  type Commitments,
  latestRemoteCommit,
  nextLocalSpec,
  nextRemoteSpec,
  projectedLocalFeerate,
  projectedRemoteFeerate,
  reduceSpec,
  type SpecHtlc,
  type UpdateMessage
} from "../../../src/protocol/channel/commitments.ts"
import { UpdateAddHtlc, UpdateFailHtlc, UpdateFee, UpdateFulfillHtlc } from "../../../src/protocol/messages/channel.ts"
import { ChannelId, msat } from "../../../src/protocol/units.ts"
import { Pair } from "./harness.ts"

const base: Commitments = new Pair({ type: anchorsZeroFeeHtlcTx }).nodes.alice.c
const channelId = ChannelId(new Uint8Array(32).fill(7))
const hash = new Uint8Array(32).fill(1)
const id = fc.bigInt({ min: 0n, max: 4n })

const update: fc.Arbitrary<UpdateMessage> = fc.oneof(
  fc.record({ id: fc.bigInt({ min: 5n, max: 9n }), amount: fc.bigInt({ min: 1_000n, max: 10_000_000n }) }).map(({ id, amount }) =>
    UpdateAddHtlc.make({ channelId, id, amountMsat: msat(amount), paymentHash: hash, cltvExpiry: 800_000, onionRoutingPacket: new Uint8Array(1366) })
  ),
  id.map((id) => UpdateFulfillHtlc.make({ channelId, id, paymentPreimage: new Uint8Array(32) })),
  id.map((id) => UpdateFailHtlc.make({ channelId, id, reason: new Uint8Array(4) })),
  fc.integer({ min: 253, max: 20_000 }).map((feeratePerKw) => UpdateFee.make({ channelId, feeratePerKw }))
)
const log = fc.array(update, { maxLength: 3 })
const htlc: fc.Arbitrary<SpecHtlc> = fc.record({
  direction: fc.constantFrom<SpecHtlc["direction"]>("offered", "received"),
  id,
  amount: fc.constant(msat(2_000_000n)),
  paymentHash: fc.constant(hash),
  cltvExpiry: fc.constant(800_000)
})
const htlcs = fc.uniqueArray(htlc, { maxLength: 6, selector: (h) => `${h.direction}/${h.id}` })

describe("nextLocalSpec / nextRemoteSpec", () => {
  it("equal reduceSpec over the spread lists", () => {
    fc.assert(
      fc.property(
        fc.record({ proposed: log, signed: log, acked: log }),
        fc.record({ proposed: log, acked: log, signed: log }),
        log,
        htlcs,
        htlcs,
        fc.boolean(),
        (localChanges, remoteChanges, extra, ours, theirs, signing) => {
          const remoteCommit = { ...base.remoteCommit, spec: { ...base.remoteCommit.spec, htlcs: theirs } }
          const c: Commitments = {
            ...base,
            localCommit: { ...base.localCommit, spec: { ...base.localCommit.spec, htlcs: ours } },
            remoteCommit,
            remoteNextCommitInfo: signing ? { _tag: "Signing", next: { ...remoteCommit, number: remoteCommit.number + 1n } } : base.remoteNextCommitInfo,
            localChanges,
            remoteChanges
          }
          expect(nextLocalSpec(c, extra)).toStrictEqual(reduceSpec(c.localCommit.spec, [...c.localChanges.acked], [...c.remoteChanges.proposed, ...extra]))
          expect(nextLocalSpec(c)).toStrictEqual(reduceSpec(c.localCommit.spec, [...c.localChanges.acked], [...c.remoteChanges.proposed]))
          expect(nextRemoteSpec(c, extra)).toStrictEqual(reduceSpec(latestRemoteCommit(c).spec, [...c.remoteChanges.acked], [...c.localChanges.proposed, ...extra]))
          expect(nextRemoteSpec(c)).toStrictEqual(reduceSpec(latestRemoteCommit(c).spec, [...c.remoteChanges.acked], [...c.localChanges.proposed]))
        }
      ),
      { numRuns: 1_000 }
    )
  })

  it("projectedLocalFeerate / projectedRemoteFeerate equal the feerate of reduceSpec over every pending update", () => {
    const feerate = fc.integer({ min: 253, max: 20_000 })
    fc.assert(
      fc.property(
        fc.record({ proposed: log, signed: log, acked: log }),
        fc.record({ proposed: log, acked: log, signed: log }),
        log,
        fc.tuple(feerate, feerate, feerate),
        fc.boolean(),
        (localChanges, remoteChanges, extra, [ours, theirs, next], signing) => {
          const remoteCommit = { ...base.remoteCommit, spec: { ...base.remoteCommit.spec, feeratePerKw: theirs } }
          const c: Commitments = {
            ...base,
            localCommit: { ...base.localCommit, spec: { ...base.localCommit.spec, feeratePerKw: ours } },
            remoteCommit,
            remoteNextCommitInfo: signing
              ? { _tag: "Signing", next: { ...remoteCommit, number: remoteCommit.number + 1n, spec: { ...remoteCommit.spec, feeratePerKw: next } } }
              : base.remoteNextCommitInfo,
            localChanges,
            remoteChanges
          }
          const local = [...c.localChanges.acked, ...c.localChanges.signed, ...c.localChanges.proposed]
          expect(projectedLocalFeerate(c, extra)).toBe(reduceSpec(c.localCommit.spec, [...local, ...extra], c.remoteChanges.proposed).feeratePerKw)
          const remote = [...c.remoteChanges.acked, ...c.remoteChanges.proposed]
          expect(projectedRemoteFeerate(c, extra)).toBe(reduceSpec(latestRemoteCommit(c).spec, [...remote, ...extra], c.localChanges.proposed).feeratePerKw)
        }
      ),
      { numRuns: 1_000 }
    )
  })
})
