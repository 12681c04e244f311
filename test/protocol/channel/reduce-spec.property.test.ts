/**
 * `reduceSpec` looks a small batch's removals up in the batch itself and makes removal maps only
 * for large ones (and only for a side with a removal), reads each batch once for balances,
 * removals and fees, and keeps the spec's own HTLC array when no update adds or removes one:
 * property-tested against the plain form (both maps always made, the HTLCs always copied), over
 * random specs and random batches of adds, fulfills, fails, malformed fails and fee updates,
 * known ids, unknown ids and repeated ones included, small batches and large ones, and HTLC ids
 * repeated in a direction (no valid state has them), and ids around 2^53 (where the maps' keys,
 * `idKey`, turn from numbers to bigints). The results must be equal. `loadAfter` (what the add checks
 * read of `reduceSpec(spec, owner, [...counterparty, add])`, without its HTLC list) must equal the
 * feerate and balances of that spec, and its HTLCs' counts read plainly (received count and value,
 * kept ones per `isHtlcTrimmed` at the feerate and at twice it), adds removed in their own batch
 * and repeated ids included; also over sequences of add checks as a batch makes them (the same
 * spec and owner's list, the counterparty's list one accepted add longer each time: counts
 * resumed), two channels interleaved and a third count between them (one replaced), adds refused
 * (not appended) or replaced by another, and adds whose id a removal names.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import { type CommitmentSpec, idKey, loadAfter, reduceSpec, type SpecHtlc, type UpdateMessage } from "../../../src/protocol/channel/commitments.ts"
import { UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc, UpdateFee, UpdateFulfillHtlc } from "../../../src/protocol/messages/channel.ts"
import { isHtlcTrimmed } from "../../../src/protocol/tx/fees.ts"
import { ChannelId, msat, sat } from "../../../src/protocol/units.ts"

type Removal = Extract<UpdateMessage, { readonly _tag: "UpdateFulfillHtlc" | "UpdateFailHtlc" | "UpdateFailMalformedHtlc" }>
const isRemoval = (u: UpdateMessage): u is Removal =>
  u._tag === "UpdateFulfillHtlc" || u._tag === "UpdateFailHtlc" || u._tag === "UpdateFailMalformedHtlc"

/** The plain form, as it was: both maps made for every call. */
const reduceSpecPlain = (spec: CommitmentSpec, ownerChanges: ReadonlyArray<UpdateMessage>, counterpartyChanges: ReadonlyArray<UpdateMessage>): CommitmentSpec => {
  let toLocal: bigint = spec.toLocal
  let toRemote: bigint = spec.toRemote
  let feeratePerKw = spec.feeratePerKw
  const htlcs: Array<SpecHtlc> = spec.htlcs.slice()
  const ofAdd = (u: UpdateAddHtlc, direction: "offered" | "received"): SpecHtlc => ({
    direction,
    id: u.id,
    amount: u.amountMsat,
    paymentHash: u.paymentHash,
    cltvExpiry: u.cltvExpiry
  })
  for (const u of ownerChanges)
    if (u._tag === "UpdateAddHtlc") {
      toLocal -= u.amountMsat
      htlcs.push(ofAdd(u, "offered"))
    }
  for (const u of counterpartyChanges)
    if (u._tag === "UpdateAddHtlc") {
      toRemote -= u.amountMsat
      htlcs.push(ofAdd(u, "received"))
    }
  const ownerRemovals = new Map<bigint, Removal>()
  const counterpartyRemovals = new Map<bigint, Removal>()
  for (const u of ownerChanges) if (isRemoval(u) && !ownerRemovals.has(u.id)) ownerRemovals.set(u.id, u)
  for (const u of counterpartyChanges) if (isRemoval(u) && !counterpartyRemovals.has(u.id)) counterpartyRemovals.set(u.id, u)
  const kept: Array<SpecHtlc> = []
  for (const h of htlcs) {
    const removal = h.direction === "received" ? ownerRemovals.get(h.id) : counterpartyRemovals.get(h.id)
    if (removal === undefined) {
      kept.push(h)
      continue
    }
    if (h.direction === "received") ownerRemovals.delete(h.id)
    else counterpartyRemovals.delete(h.id)
    const fulfilled = removal._tag === "UpdateFulfillHtlc"
    if (h.direction === "received") {
      if (fulfilled) toLocal += h.amount
      else toRemote += h.amount
    } else if (fulfilled) toRemote += h.amount
    else toLocal += h.amount
  }
  for (const u of ownerChanges) if (u._tag === "UpdateFee") feeratePerKw = u.feeratePerKw
  for (const u of counterpartyChanges) if (u._tag === "UpdateFee") feeratePerKw = u.feeratePerKw
  return { feeratePerKw, toLocal: msat(toLocal), toRemote: msat(toRemote), htlcs: kept }
}

const channelId = ChannelId(new Uint8Array(32).fill(7))
const hash = new Uint8Array(32).fill(1)
const id = fc.bigInt({ min: 0n, max: 6n })
const amount = fc.bigInt({ min: 1_000n, max: 10_000_000n })

const specHtlc: fc.Arbitrary<SpecHtlc> = fc.record({
  direction: fc.constantFrom("offered" as const, "received" as const),
  id,
  amount: amount.map(msat),
  paymentHash: fc.constant(hash),
  cltvExpiry: fc.integer({ min: 500_000, max: 900_000 })
})

const update: fc.Arbitrary<UpdateMessage> = fc.oneof(
  fc.record({ id: fc.bigInt({ min: 7n, max: 12n }), amount }).map(({ id, amount }) =>
    UpdateAddHtlc.make({ channelId, id, amountMsat: msat(amount), paymentHash: hash, cltvExpiry: 800_000, onionRoutingPacket: new Uint8Array(1366) })
  ),
  id.map((id) => UpdateFulfillHtlc.make({ channelId, id, paymentPreimage: new Uint8Array(32) })),
  id.map((id) => UpdateFailHtlc.make({ channelId, id, reason: new Uint8Array(4) })),
  id.map((id) => UpdateFailMalformedHtlc.make({ channelId, id, sha256OfOnion: hash, failureCode: 0x8000 | 0x4000 | 5 })),
  fc.integer({ min: 253, max: 20_000 }).map((feeratePerKw) => UpdateFee.make({ channelId, feeratePerKw }))
)

const spec: fc.Arbitrary<CommitmentSpec> = fc.record({
  feeratePerKw: fc.integer({ min: 253, max: 20_000 }),
  toLocal: fc.bigInt({ min: 0n, max: 1_000_000_000n }).map(msat),
  toRemote: fc.bigInt({ min: 0n, max: 1_000_000_000n }).map(msat),
  // Unique (direction, id) pairs, as in every valid commitment.
  htlcs: fc.uniqueArray(specHtlc, { maxLength: 8, selector: (h) => `${h.direction}/${h.id}` })
})

describe("reduceSpec", () => {
  it("equals the plain form (removal maps made always) for any spec and any batches", () => {
    fc.assert(
      fc.property(spec, fc.array(update, { maxLength: 6 }), fc.array(update, { maxLength: 6 }), (s, owner, counterparty) => {
        const r = reduceSpec(s, owner, counterparty)
        expect(r).toStrictEqual(reduceSpecPlain(s, owner, counterparty))
        // Nothing added or removed: the spec's own (immutable) HTLC array, not a copy.
        if ([...owner, ...counterparty].every((u) => u._tag === "UpdateFee")) expect(r.htlcs).toBe(s.htlcs)
      }),
      { numRuns: 2_000 }
    )
  })

  it("equals the plain form for HTLC ids repeated in a direction (no valid state has them) and for batches large enough for the removal maps", () => {
    const wideId = fc.bigInt({ min: 0n, max: 20n })
    const anyHtlc = specHtlc.chain((h) => wideId.map((id) => ({ ...h, id })))
    const removal: fc.Arbitrary<UpdateMessage> = fc.oneof(
      wideId.map((id) => UpdateFulfillHtlc.make({ channelId, id, paymentPreimage: new Uint8Array(32) })),
      wideId.map((id) => UpdateFailHtlc.make({ channelId, id, reason: new Uint8Array(4) }))
    )
    const anyUpdate = fc.oneof(update, removal, removal)
    const anySpec = (maxHtlcs: number): fc.Arbitrary<CommitmentSpec> =>
      fc.record({
        feeratePerKw: fc.integer({ min: 253, max: 20_000 }),
        toLocal: fc.bigInt({ min: 0n, max: 1_000_000_000n }).map(msat),
        toRemote: fc.bigInt({ min: 0n, max: 1_000_000_000n }).map(msat),
        htlcs: fc.array(anyHtlc, { maxLength: maxHtlcs })
      })
    for (const [maxHtlcs, maxUpdates] of [[6, 5], [30, 14]] as const)
      fc.assert(
        fc.property(anySpec(maxHtlcs), fc.array(anyUpdate, { maxLength: maxUpdates }), fc.array(anyUpdate, { maxLength: maxUpdates }), (s, owner, counterparty) => {
          const r = reduceSpec(s, owner, counterparty)
          const plain = reduceSpecPlain(s, owner, counterparty)
          expect(r).toStrictEqual(plain)
          // Exactly as long as the HTLCs kept, with no hole.
          expect(Object.keys(r.htlcs)).toHaveLength(plain.htlcs.length)
        }),
        { numRuns: 1_000, seed: 1515 }
      )
  })

  it("removes on one side only when the other side has no removal, and applies a repeated id once", () => {
    const h = (direction: "offered" | "received", n: bigint): SpecHtlc => ({ direction, id: n, amount: msat(1_000_000n), paymentHash: hash, cltvExpiry: 800_000 })
    const s: CommitmentSpec = { feeratePerKw: 2_500, toLocal: msat(10_000_000n), toRemote: msat(20_000_000n), htlcs: [h("received", 1n), h("offered", 1n)] }
    const fulfill = UpdateFulfillHtlc.make({ channelId, id: 1n, paymentPreimage: new Uint8Array(32) })
    const fail = UpdateFailHtlc.make({ channelId, id: 1n, reason: new Uint8Array(4) })
    // The owner fulfills the HTLC it received (twice: the second is ignored); the counterparty removes nothing.
    const r = reduceSpec(s, [fulfill, fail], [])
    expect(r).toStrictEqual({ feeratePerKw: 2_500, toLocal: msat(11_000_000n), toRemote: msat(20_000_000n), htlcs: [h("offered", 1n)] })
    expect(r).toStrictEqual(reduceSpecPlain(s, [fulfill, fail], []))
    // The counterparty fails the HTLC the owner offered: refunded to the owner.
    expect(reduceSpec(s, [], [fail])).toStrictEqual({ feeratePerKw: 2_500, toLocal: msat(11_000_000n), toRemote: msat(20_000_000n), htlcs: [h("received", 1n)] })
  })

  it("idKey: equal keys (as a Map compares them) exactly for equal ids, around 2^53 and below -2^53 too", () => {
    const edge = 2n ** 53n
    const anyId = fc.oneof(
      fc.bigInt({ min: 0n, max: 1_000n }),
      fc.bigInt({ min: edge - 4n, max: edge + 4n }),
      fc.bigInt({ min: -edge - 4n, max: -edge + 4n }),
      fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })
    )
    fc.assert(
      fc.property(anyId, anyId, (a, b) => {
        expect(new Map([[idKey(a), 1]]).has(idKey(b))).toBe(a === b)
      }),
      { numRuns: 5_000, seed: 53 }
    )
  })

  it("equals the plain form with HTLC ids around 2^53, through the removal maps", () => {
    const edge = 2n ** 53n
    const bigId = fc.bigInt({ min: edge - 3n, max: edge + 3n })
    const anyHtlc = specHtlc.chain((h) => bigId.map((id) => ({ ...h, id })))
    const removal: fc.Arbitrary<UpdateMessage> = fc.oneof(
      bigId.map((id) => UpdateFulfillHtlc.make({ channelId, id, paymentPreimage: new Uint8Array(32) })),
      bigId.map((id) => UpdateFailHtlc.make({ channelId, id, reason: new Uint8Array(4) }))
    )
    const bigSpec: fc.Arbitrary<CommitmentSpec> = fc.record({
      feeratePerKw: fc.constant(2_500),
      toLocal: fc.constant(msat(1_000_000_000n)),
      toRemote: fc.constant(msat(1_000_000_000n)),
      htlcs: fc.array(anyHtlc, { minLength: 9, maxLength: 20 })
    })
    fc.assert(
      fc.property(bigSpec, fc.array(removal, { minLength: 8, maxLength: 12 }), fc.array(removal, { minLength: 8, maxLength: 12 }), (s, owner, counterparty) => {
        expect(reduceSpec(s, owner, counterparty)).toStrictEqual(reduceSpecPlain(s, owner, counterparty))
      }),
      { numRuns: 500, seed: 253 }
    )
  })

  // The add checks' arbitraries: ids from a small range (adds, removals and HTLCs meet), any amount.
  const wideId = fc.bigInt({ min: 0n, max: 14n })
  const anyHtlc = specHtlc.chain((h) => wideId.map((id) => ({ ...h, id })))
  const addOf = (id: bigint, amount: bigint) =>
    UpdateAddHtlc.make({ channelId, id, amountMsat: msat(amount), paymentHash: hash, cltvExpiry: 800_000, onionRoutingPacket: new Uint8Array(1366) })
  const anyAmount = fc.oneof(amount, fc.bigInt({ min: 0n, max: 2_000_000n }))
  const anyUpdate: fc.Arbitrary<UpdateMessage> = fc.oneof(
    update,
    fc.record({ id: wideId, amount: anyAmount }).map(({ id, amount }) => addOf(id, amount)),
    wideId.map((id) => UpdateFulfillHtlc.make({ channelId, id, paymentPreimage: new Uint8Array(32) })),
    wideId.map((id) => UpdateFailHtlc.make({ channelId, id, reason: new Uint8Array(4) }))
  )
  const anySpec: fc.Arbitrary<CommitmentSpec> = fc.record({
    feeratePerKw: fc.integer({ min: 253, max: 20_000 }),
    toLocal: fc.bigInt({ min: 0n, max: 1_000_000_000n }).map(msat),
    toRemote: fc.bigInt({ min: 0n, max: 1_000_000_000n }).map(msat),
    htlcs: fc.array(anyHtlc, { maxLength: 30 })
  })

  it("loadAfter equals the feerate, balances and plainly read HTLC counts of reduceSpec(spec, owner, [...counterparty, add])", () => {
    fc.assert(
      fc.property(
        anySpec,
        fc.array(anyUpdate, { maxLength: 14 }),
        fc.array(anyUpdate, { maxLength: 14 }),
        fc.record({ id: wideId, amount: anyAmount }),
        fc.constantFrom(staticRemoteKey, anchorsZeroFeeHtlcTx),
        fc.bigInt({ min: 0n, max: 2_000n }).map(sat),
        fc.constantFrom(0 as const, 1 as const, 2 as const),
        (s, owner, counterparty, a, type, dust, feerates) => {
          const add = addOf(a.id, a.amount)
          const r = reduceSpec(s, owner, [...counterparty, add])
          const l = loadAfter(type, s, owner, counterparty, add, dust, feerates)
          expect([l.feeratePerKw, l.toLocal, l.toRemote]).toStrictEqual([r.feeratePerKw, r.toLocal, r.toRemote])
          const received = r.htlcs.filter((h) => h.direction === "received")
          const kept = (feeratePerKw: number) => r.htlcs.filter((h) => !isHtlcTrimmed(type, feeratePerKw, dust, h.direction, h.amount)).length
          expect([l.load.receivedCount, l.load.receivedValue, l.load.untrimmed, l.load.untrimmedAtDouble]).toStrictEqual([
            received.length,
            received.reduce((v, h) => v + h.amount, 0n),
            feerates >= 1 ? kept(r.feeratePerKw) : 0,
            feerates === 2 ? kept(2 * r.feeratePerKw) : 0
          ])
        }
      ),
      { numRuns: 3_000, seed: 1717 }
    )
  })

  it("loadAfter resumed over a batch of add checks equals the plain reads at every check", () => {
    // One channel's batch: its commitment, the owner's updates, the counterparty's to start with,
    // then adds checked in turn (each appended when `accepted`, as a new array: as the reducer does).
    const batch = fc.record({
      spec: anySpec,
      owner: fc.array(anyUpdate, { maxLength: 14 }),
      counterparty: fc.array(anyUpdate, { maxLength: 8 }),
      // "replaced": another add appended instead (a list as long as a resumed count's, not its);
      // "rewritten": appended, the first update replaced by another (the same last add, another
      // list); "respec": appended, and the commitment changes (another spec, the same lists).
      adds: fc.array(
        fc.record({ id: wideId, amount: anyAmount, then: fc.constantFrom("appended", "appended", "refused", "replaced", "rewritten", "respec") }),
        { minLength: 1, maxLength: 12 }
      ),
      type: fc.constantFrom(staticRemoteKey, anchorsZeroFeeHtlcTx),
      dust: fc.bigInt({ min: 0n, max: 2_000n }).map(sat),
      feerates: fc.constantFrom(0 as const, 1 as const, 2 as const)
    })
    type Batch = typeof batch extends fc.Arbitrary<infer B> ? B : never
    const check = (b: Batch, counterparty: ReadonlyArray<UpdateMessage>, add: UpdateAddHtlc): void => {
      const r = reduceSpec(b.spec, b.owner, [...counterparty, add])
      const l = loadAfter(b.type, b.spec, b.owner, counterparty, add, b.dust, b.feerates)
      expect([l.feeratePerKw, l.toLocal, l.toRemote]).toStrictEqual([r.feeratePerKw, r.toLocal, r.toRemote])
      const received = r.htlcs.filter((h) => h.direction === "received")
      const kept = (feeratePerKw: number) => r.htlcs.filter((h) => !isHtlcTrimmed(b.type, feeratePerKw, b.dust, h.direction, h.amount)).length
      expect([l.load.receivedCount, l.load.receivedValue, l.load.untrimmed, l.load.untrimmedAtDouble]).toStrictEqual([
        received.length,
        received.reduce((v, h) => v + h.amount, 0n),
        b.feerates >= 1 ? kept(r.feeratePerKw) : 0,
        b.feerates === 2 ? kept(2 * r.feeratePerKw) : 0
      ])
    }
    fc.assert(
      fc.property(batch, batch, fc.array(fc.constantFrom("first", "second", "other", "dust"), { minLength: 1, maxLength: 30 }), anySpec, (first, second, order, other) => {
        const lists = [first.counterparty, second.counterparty]
        const specs = [first.spec, second.spec]
        const next = [0, 0]
        for (const turn of order) {
          if (turn === "other") {
            // A third count (another channel): it replaces one of the two held.
            check({ ...first, spec: other }, first.counterparty, addOf(0n, 1_000n))
            continue
          }
          if (turn === "dust") {
            // The first channel's lists read for another dust limit and feerates: no count of theirs goes on.
            check({ ...first, spec: specs[0] ?? first.spec, dust: sat(first.dust + 500n) }, lists[0] ?? [], addOf(3n, 600_000n))
            check({ ...first, spec: specs[0] ?? first.spec, feerates: first.feerates === 2 ? 1 : 2 }, lists[0] ?? [], addOf(3n, 600_000n))
            continue
          }
          const k = turn === "first" ? 0 : 1
          const b = { ...(k === 0 ? first : second), spec: specs[k] ?? first.spec }
          const a = b.adds[(next[k] ?? 0) % b.adds.length]
          next[k] = (next[k] ?? 0) + 1
          if (a === undefined) continue
          const add = addOf(a.id, a.amount)
          const counterparty = lists[k] ?? []
          check(b, counterparty, add)
          if (a.then === "appended") lists[k] = [...counterparty, add]
          else if (a.then === "replaced") lists[k] = [...counterparty, addOf(a.id + 1n, a.amount + 7n)]
          else if (a.then === "rewritten") lists[k] = [addOf(a.id, a.amount + 3n), ...counterparty.slice(1), add]
          else if (a.then === "respec") {
            lists[k] = [...counterparty, add]
            specs[k] = { ...b.spec, toLocal: msat(b.spec.toLocal + 1_000n), htlcs: b.spec.htlcs.slice(1) }
          }
        }
      }),
      { numRuns: 2_000, seed: 1818 }
    )
  })
})
