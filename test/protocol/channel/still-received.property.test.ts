/**
 * `stillReceived` keeps the entries of `receivedHtlcs` whose HTLC is still in a commitment, and
 * returns the array it was given when it drops none (the state then keeps the same array: its JSON
 * encoding is memoized by array). Property-tested against the plain filter over a set of ids, for
 * random HTLCs in our and their current commitments (both directions) and random entries, small
 * (direct comparisons) and large (a set of ids); and for lists in the order adds make them (ids
 * ascending in each direction, the other direction's HTLCs in between: the merge), some of them
 * with one id out of order (the set again).
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

  /** `ids` ascending as HTLCs of `direction`, with `others` (the other direction, any ids) inserted at the given positions. */
  const ordered = (ids: ReadonlyArray<bigint>, direction: SpecHtlc["direction"], others: ReadonlyArray<[number, bigint]>): Array<SpecHtlc> => {
    const out: Array<SpecHtlc> = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((i) => ({ direction, id: i, amount: msat(1_000_000n), paymentHash: new Uint8Array(32), cltvExpiry: 500 }))
    for (const [at, i] of others)
      out.splice(at % (out.length + 1), 0, { direction: direction === "offered" ? "received" : "offered", id: i, amount: msat(1_000_000n), paymentHash: new Uint8Array(32), cltvExpiry: 500 })
    return out
  }
  const others = fc.array(fc.tuple(fc.nat(), id), { maxLength: 10 })

  it("the same for lists in the order adds make them (the merge), and with one id out of order", () => {
    let merged = 0
    fc.assert(
      fc.property(
        fc.uniqueArray(id, { maxLength: 40 }),
        others,
        fc.uniqueArray(id, { maxLength: 40 }),
        others,
        fc.uniqueArray(id, { maxLength: 30 }),
        fc.constantFrom("none", "ours", "theirs", "entries"),
        (oursIds, oursOthers, theirsIds, theirsOthers, entryIds, swap) => {
          const ours = ordered(oursIds, "received", oursOthers)
          const theirs = ordered(theirsIds, "offered", theirsOthers)
          const received: Array<ReceivedHtlc> = [...entryIds]
            .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
            .map((htlcId) => ({ htlcId, amount: msat(1_000_000n), paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: new Uint8Array(1366) }))
          // One pair of neighbours swapped: the order the merge relies on broken.
          const swapped = swap === "ours" ? ours : swap === "theirs" ? theirs : swap === "entries" ? received : undefined
          if (swapped !== undefined && swapped.length >= 2) {
            const first = swapped[0]
            const second = swapped[1]
            if (first !== undefined && second !== undefined) {
              swapped[0] = second
              swapped[1] = first
            }
          }
          const c: Commitments = {
            ...base,
            localCommit: { ...base.localCommit, spec: { ...base.localCommit.spec, htlcs: ours } },
            remoteCommit: { ...base.remoteCommit, spec: { ...base.remoteCommit.spec, htlcs: theirs } }
          }
          if (swap === "none" && received.length * (ours.length + theirs.length) > 64) merged++
          const expected = plain(c, received)
          const got = stillReceived(c, received)
          expect(got).toStrictEqual(expected)
          if (expected.length === received.length) expect(got).toBe(received)
          else expect(got).not.toBe(received)
        }
      ),
      { numRuns: 2_000, seed: 4242 }
    )
    expect(merged).toBeGreaterThan(200)
  })
})
