/**
 * `prunePreimages` keeps a preimage while an HTLC of a broadcastable commitment (ours, their
 * current, their next) has its payment hash. Many (preimage, HTLC) pairs are looked up through
 * the hashes' first 30 bits, confirmed byte for byte: property-tested against the plain filter
 * (each preimage's hash compared with every HTLC's), over hashes from a small pool in which many
 * share their first four bytes (chains of preimages under one key, HTLCs matching the bits and
 * not the hash), with and without their next commitment, small (direct) and large (the map).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { prunePreimages } from "../../../src/protocol/monitor/apply.ts"
import type { MonitorHtlc, MonitorState, PreimageEntry } from "../../../src/protocol/monitor/state.ts"
import { msat } from "../../../src/protocol/units.ts"
import { counterpartyCommitment, stateOf } from "./fixtures.ts"

const base: MonitorState = stateOf(() => {})

/** The plain form: each preimage kept if some HTLC of a broadcastable commitment has its hash. */
const plain = (s: MonitorState): ReadonlyArray<PreimageEntry> => {
  const htlcs = [...s.holderCommitment.htlcs, ...s.counterpartyCurrent.htlcs, ...(s.counterpartyNext?.htlcs ?? [])]
  return s.preimages.filter((p) => htlcs.some((h) => equalBytes(h.paymentHash, p.paymentHash)))
}

// 12 hashes: four prefixes (the first four bytes; two differ only in the top two bits of byte 0,
// which the key drops) times three tails.
const pool: ReadonlyArray<Uint8Array> = Array.from({ length: 12 }, (_, i) => {
  const h = new Uint8Array(32)
  h.set([[0x01, 2, 3, 4], [0x41, 2, 3, 4], [0x07, 7, 7, 7], [0x00, 0, 0, 9]][i % 4] ?? [])
  h[31] = i >> 2
  return h
})
const hash = fc.integer({ min: 0, max: pool.length - 1 }).map((i) => pool[i] ?? new Uint8Array(32))
const htlc: fc.Arbitrary<MonitorHtlc> = fc.record({
  direction: fc.constantFrom("offered" as const, "received" as const),
  id: fc.bigInt({ min: 0n, max: 100n }),
  amount: fc.constant(msat(5_000_000n)),
  paymentHash: hash,
  cltvExpiry: fc.constant(800_000)
})
const preimage: fc.Arbitrary<PreimageEntry> = hash.map((paymentHash) => ({ paymentHash, preimage: new Uint8Array(32).fill(paymentHash[31] ?? 0) }))

describe("prunePreimages", () => {
  /** `prunePreimages` of a state with these preimages and commitments' HTLCs equals the plain filter (the state itself when nothing is dropped). */
  const keepsLive = (
    preimages: ReadonlyArray<PreimageEntry>,
    ours: MonitorState["holderCommitment"]["htlcs"],
    theirs: MonitorState["holderCommitment"]["htlcs"],
    next: MonitorState["holderCommitment"]["htlcs"] | undefined
  ): void => {
    const s: MonitorState = {
      ...base,
      holderCommitment: { ...base.holderCommitment, htlcs: ours },
      counterpartyCurrent: { ...base.counterpartyCurrent, htlcs: theirs },
      ...(next === undefined ? {} : { counterpartyNext: { ...counterpartyCommitment(1n), htlcs: next } }),
      preimages
    }
    const r = prunePreimages(s)
    const expected = plain(s)
    expect(r.preimages).toStrictEqual(expected)
    // Nothing dropped: the state itself.
    if (expected.length === preimages.length) expect(r).toBe(s)
  }

  it("keeps exactly the preimages whose hash an HTLC of a broadcastable commitment has, in order", () => {
    fc.assert(
      fc.property(
        fc.array(preimage, { maxLength: 14 }),
        fc.array(htlc, { maxLength: 12 }),
        fc.array(htlc, { maxLength: 12 }),
        fc.option(fc.array(htlc, { maxLength: 12 }), { nil: undefined }),
        keepsLive
      ),
      { numRuns: 3_000, seed: 3030 }
    )
  })

  // Larger tables (up to 128 slots, probes past taken slots) and the early stop once every
  // preimage is found live: 40 hashes, in groups of eight sharing their first four bytes.
  const widePool: ReadonlyArray<Uint8Array> = Array.from({ length: 40 }, (_, i) => {
    const h = new Uint8Array(32)
    h.set([i >> 3, 0x5a, i >> 3, 0xa5])
    h[31] = i & 7
    return h
  })
  const wideHash = fc.integer({ min: 0, max: widePool.length - 1 }).map((i) => widePool[i] ?? new Uint8Array(32))
  const wideHtlc = htlc.chain((h) => wideHash.map((paymentHash) => ({ ...h, paymentHash })))
  const widePreimage = wideHash.map((paymentHash) => ({ paymentHash, preimage: new Uint8Array(32).fill(paymentHash[31] ?? 0) }))

  it("the same with many preimages and HTLCs", () => {
    fc.assert(
      fc.property(
        fc.array(widePreimage, { maxLength: 60 }),
        fc.array(wideHtlc, { maxLength: 40 }),
        fc.array(wideHtlc, { maxLength: 40 }),
        fc.option(fc.array(wideHtlc, { maxLength: 40 }), { nil: undefined }),
        keepsLive
      ),
      { numRuns: 2_000, seed: 3031 }
    )
  })
})
