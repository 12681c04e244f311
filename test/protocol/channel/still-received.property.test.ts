/**
 * `stillReceived` keeps the entries of `receivedHtlcs` whose HTLC is still in a commitment, and
 * returns the array it was given when it drops none (the state then keeps the same array: its JSON
 * encoding is memoized by array). Property-tested against the plain filter over a set of ids, for
 * random HTLCs in our and their current commitments (both directions) and random entries, small
 * (direct comparisons) and large (a set of ids).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import type { Commitments, SpecHtlc } from "../../../src/protocol/channel/commitments.ts"
import { stillReceived } from "../../../src/protocol/channel/pending.ts"
import type { ReceivedHtlc } from "../../../src/protocol/channel/state.ts"
import { msat } from "../../../src/protocol/units.ts"
import { Pair } from "./harness.ts"

const base: Commitments = new Pair({ type: anchorsZeroFeeHtlcTx }).nodes.alice.c

/** The plain form: every entry whose id is in a set of the ids held. */
const plain = (c: Commitments, received: ReadonlyArray<ReceivedHtlc>): ReadonlyArray<ReceivedHtlc> => {
  const ids = new Set<bigint>()
  for (const h of c.localCommit.spec.htlcs) if (h.direction === "received") ids.add(h.id)
  for (const h of c.remoteCommit.spec.htlcs) if (h.direction === "offered") ids.add(h.id)
  return received.filter((e) => ids.has(e.htlcId))
}

const id = fc.bigInt({ min: 0n, max: 40n })
const htlc: fc.Arbitrary<SpecHtlc> = fc.record({
  direction: fc.constantFrom<SpecHtlc["direction"]>("offered", "received"),
  id,
  amount: fc.constant(msat(1_000_000n)),
  paymentHash: fc.constant(new Uint8Array(32)),
  cltvExpiry: fc.constant(500)
})
const entry: fc.Arbitrary<ReceivedHtlc> = id.map((htlcId) => ({
  htlcId,
  amount: msat(1_000_000n),
  paymentHash: new Uint8Array(32),
  cltvExpiry: 500,
  onion: new Uint8Array(1366)
}))

describe("stillReceived", () => {
  it("equals the plain filter, and is the given array when nothing is dropped", () => {
    fc.assert(
      fc.property(fc.array(htlc, { maxLength: 40 }), fc.array(htlc, { maxLength: 40 }), fc.array(entry, { maxLength: 30 }), (ours, theirs, received) => {
        const c: Commitments = {
          ...base,
          localCommit: { ...base.localCommit, spec: { ...base.localCommit.spec, htlcs: ours } },
          remoteCommit: { ...base.remoteCommit, spec: { ...base.remoteCommit.spec, htlcs: theirs } }
        }
        const expected = plain(c, received)
        const got = stillReceived(c, received)
        expect(got).toStrictEqual(expected)
        if (expected.length === received.length) expect(got).toBe(received)
        else expect(got).not.toBe(received)
      }),
      { numRuns: 400 }
    )
  })
})
