/**
 * The packed revoked-commitment list against the plain array it replaced: any appends from any
 * earlier list give what copying the array would (the earlier lists unchanged), the Schema's JSON
 * is the plain array's, and a chain of appends reallocates its buffer a logarithmic number of
 * times (appending is amortized O(1), not a copy per revocation).
 */
import assert from "node:assert"
import { Result, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { replay } from "../../../src/protocol/monitor/apply.ts"
import { revokedCommitmentByNumber, revokedCommitmentByTxid } from "../../../src/protocol/monitor/query.ts"
import { RevokedCommitments } from "../../../src/protocol/monitor/revoked.ts"
import {
  MonitorStateSchema,
  RevokedCommitmentSchema,
  RevokedCommitmentsSchema,
  type MonitorHtlc,
  type MonitorState,
  type RevokedCommitment
} from "../../../src/protocol/monitor/state.ts"
import { Txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { msat } from "../../../src/protocol/units.ts"
import { arbitraryLog, secp } from "./fixtures.ts"

const U64_MAX = (1n << 64n) - 1n
const u64 = fc.oneof(fc.constantFrom(0n, 1n, U64_MAX), fc.bigInt({ min: 0n, max: U64_MAX }))
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const htlc: fc.Arbitrary<MonitorHtlc> = fc.record({
  direction: fc.constantFrom("offered" as const, "received" as const),
  id: u64,
  amount: u64.map(msat),
  paymentHash: bytes32,
  // any Schema.Int, as the HTLC Schema admits (BOLT 2 cltv_expiry is a u32)
  cltvExpiry: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeInteger(), fc.integer())
}).map((h) => ({ ...h }))
const entry: fc.Arbitrary<RevokedCommitment> = fc.record({
  commitmentNumber: u64,
  txid: bytes32.map(Txid),
  htlcs: fc.array(htlc, { maxLength: 4 })
}).map((e) => ({ ...e }))

/**
 * Appends: from which earlier list (an index into the lists made so far, modulo), and what: a new
 * entry, or the objects of an earlier op's entry again (an update applied by two holders), as they
 * were or with another commitment number or other HTLCs (appends are memoized by
 * txid object: only the very same entry onto the very same list may reuse a result).
 */
const appends = fc
  .array(fc.tuple(fc.nat(), entry, fc.option(fc.tuple(fc.nat(), fc.constantFrom("same", "number", "htlcs")), { freq: 2 })), { maxLength: 40 })
  .map((ops) => {
    const entries: Array<RevokedCommitment> = []
    return ops.map(([from, fresh, again]): [number, RevokedCommitment] => {
      const earlier = again === null || entries.length === 0 ? undefined : entries[again[0] % entries.length]
      const e: RevokedCommitment =
        earlier === undefined || again === null
          ? fresh
          : again[1] === "same"
            ? earlier
            : again[1] === "number"
              ? { ...earlier, commitmentNumber: BigInt.asUintN(64, earlier.commitmentNumber + 1n) }
              : { ...earlier, htlcs: [...earlier.htlcs.slice(1), ...fresh.htlcs] }
      entries.push(e)
      return [from, e]
    })
  })

const plainSchema = Schema.Array(RevokedCommitmentSchema)

/** Two lists with the same entries: the same bytes (a list's content), the same count. */
const sameList = (a: RevokedCommitments, b: RevokedCommitments): void => {
  expect(a.length).toBe(b.length)
  expect(toHex(a.packed)).toBe(toHex(b.packed))
}
const plainStateSchema = Schema.Struct({ ...MonitorStateSchema.fields, revokedCommitments: plainSchema })

describe("RevokedCommitments: the packed list against the plain array", () => {
  it("appends from any earlier list give the copied array's entries, and leave every earlier list as it was", () => {
    fc.assert(
      fc.property(appends, (ops) => {
        const lists: Array<RevokedCommitments> = [RevokedCommitments.empty]
        const plain: Array<ReadonlyArray<RevokedCommitment>> = [[]]
        for (const [from, e] of ops) {
          const i = from % lists.length
          lists.push(lists[i]!.append(e.commitmentNumber, e.txid, e.htlcs))
          plain.push([...plain[i]!, e])
        }
        lists.forEach((list, i) => {
          const model = plain[i]!
          expect([...list]).toStrictEqual(model)
          expect(list.length).toBe(model.length)
          // equal lists hold equal bytes however they were built (the packed bytes are their content)
          sameList(list, RevokedCommitments.of(model))
          for (let s = 0; s <= model.length + 1; s++) {
            const rest = list.slice(s)
            expect([...rest]).toStrictEqual(model.slice(s))
            expect(rest.length).toBe(model.slice(s).length)
          }
          // after a list it was appended from (its own history)
          if (i > 0) {
            const [from] = ops[i - 1]!
            const parent = lists[from % i]!
            expect([...list.after(parent)]).toStrictEqual(model.slice(parent.length))
          }
          const last = model.at(-1)
          if (last !== undefined) expect(list.find((r) => r.commitmentNumber === last.commitmentNumber)).toStrictEqual(model.find((r) => r.commitmentNumber === last.commitmentNumber))
          expect(list.some((r) => r.htlcs.length > 2)).toBe(model.some((r) => r.htlcs.length > 2))
        })
      }),
      { numRuns: 150 }
    )
  })

  it("the Schema's JSON is the plain array's, and the plain array's JSON (as stored before) decodes to the packed list", () => {
    const encode = Schema.encodeSync(RevokedCommitmentsSchema)
    const decode = Schema.decodeUnknownSync(RevokedCommitmentsSchema)
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), (model) => {
        const list = RevokedCommitments.of(model)
        const json = Schema.encodeSync(plainSchema)(model)
        expect(JSON.stringify(encode(list))).toBe(JSON.stringify(json))
        const back = decode(JSON.parse(JSON.stringify(json)))
        sameList(back, list)
        expect([...back]).toStrictEqual(model)
      }),
      { numRuns: 200 }
    )
  })

  it("a monitor state's Schema JSON is the one with the plain array, on random channel lives", () => {
    const encode = Schema.encodeSync(MonitorStateSchema)
    const encodePlain = Schema.encodeSync(plainStateSchema)
    let revoked = 0
    for (const log of fc.sample(arbitraryLog(60), { numRuns: 30, seed: 11 })) {
      const r = replay(secp, log)
      if (Result.isFailure(r)) throw new Error(r.failure._tag)
      const m: MonitorState = r.success
      revoked += m.revokedCommitments.length
      const text = JSON.stringify(encode(m))
      expect(text).toBe(JSON.stringify(encodePlain({ ...m, revokedCommitments: [...m.revokedCommitments] })))
      const back = Schema.decodeUnknownSync(MonitorStateSchema)(JSON.parse(text))
      assert.deepStrictEqual({ ...back, revokedCommitments: undefined }, { ...m, revokedCommitments: undefined })
      sameList(back.revokedCommitments, m.revokedCommitments)
      for (const e of m.revokedCommitments) {
        expect(revokedCommitmentByNumber(m, e.commitmentNumber)).toStrictEqual(e)
        expect(revokedCommitmentByTxid(m, e.txid)).toStrictEqual(e)
      }
    }
    expect(revoked).toBeGreaterThan(10)
  })

  it("a chain of appends reallocates its buffer a logarithmic number of times, each list a view of it", () => {
    const htlcs: ReadonlyArray<MonitorHtlc> = [{ direction: "offered", id: 1n, amount: msat(1000n), paymentHash: new Uint8Array(32), cltvExpiry: 500 }]
    let list = RevokedCommitments.empty
    const buffers = new Set<ArrayBufferLike>()
    let copied = 0
    for (let n = 0; n < 5000; n++) {
      list = list.append(BigInt(n), Txid(new Uint8Array(32).fill(n & 0xff)), htlcs)
      if (!buffers.has(list.packed.buffer)) {
        buffers.add(list.packed.buffer)
        copied += list.packed.byteOffset + list.packed.length
      }
    }
    // a copy per append would be 5,000 buffers and ~1.3 GB copied
    // growth by a quarter: about log(5000) / log(1.25) = 38 buffers, 4 bytes copied per byte held
    expect(buffers.size).toBeLessThan(45)
    expect(copied).toBeLessThan(5 * list.packed.length)
    expect(list.packed.buffer.byteLength).toBeLessThan(1.3 * list.packed.length)
    expect(list.find((r) => r.commitmentNumber === 4321n)?.txid[0]).toBe(4321 & 0xff)
  })

  it("a short chain leaves room for one more entry: every other append is in place from the empty list on", () => {
    const htlcs: ReadonlyArray<MonitorHtlc> = [{ direction: "received", id: 7n, amount: msat(5000n), paymentHash: new Uint8Array(32).fill(3), cltvExpiry: 600 }]
    let list = RevokedCommitments.empty
    const buffers: Array<ArrayBufferLike> = []
    for (let n = 0; n < 8; n++) {
      list = list.append(BigInt(n), Txid(new Uint8Array(32).fill(n)), htlcs)
      if (!buffers.includes(list.packed.buffer)) buffers.push(list.packed.buffer)
    }
    // Entries of 101 bytes: 202, 404, 606 and 858 bytes (a quarter alone held no entry before
    // the fifth: a new buffer at each of the first five appends).
    expect(buffers.map((b) => b.byteLength)).toEqual([202, 404, 606, 858])
    expect([...list].map((r) => r.commitmentNumber)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n])
  })

  it("every list of a chain reads the chain's newest buffer: an older list does not keep an outgrown one alive", () => {
    const entries = fc.sample(entry, { numRuns: 300, seed: 5 })
    let list = RevokedCommitments.empty
    const kept: Array<RevokedCommitments> = []
    for (const e of entries) {
      list = list.append(e.commitmentNumber, e.txid, e.htlcs)
      kept.push(list)
    }
    for (const [i, older] of kept.entries()) {
      expect(older.packed.buffer).toBe(list.packed.buffer)
      expect([...older]).toStrictEqual(entries.slice(0, i + 1))
    }
  })

  it("appending to a slice, to the entries after a prefix, or to the empty list leaves the list they came from as it was", () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.nat(), entry, (model, at, extra) => {
        let list = RevokedCommitments.empty
        const prefixes: Array<RevokedCommitments> = [list]
        for (const e of model) prefixes.push((list = list.append(e.commitmentNumber, e.txid, e.htlcs)))
        const start = at % (model.length + 1)
        const before = toHex(list.packed)
        const sliced = list.slice(start).append(extra.commitmentNumber, extra.txid, extra.htlcs)
        expect([...sliced]).toStrictEqual([...model.slice(start), extra])
        const after = list.after(prefixes[start]!).append(extra.commitmentNumber, Txid(Uint8Array.from(extra.txid)), extra.htlcs)
        expect([...after]).toStrictEqual([...model.slice(start), extra])
        expect(toHex(list.packed)).toBe(before)
        expect([...list]).toStrictEqual(model)
        expect(RevokedCommitments.empty.length).toBe(0)
        expect(RevokedCommitments.empty.packed.length).toBe(0)
      }),
      { numRuns: 100, seed: 6 }
    )
  })

  it("an equal entry appended again to the same list (other objects, as a decoded update's) gives the same child; any other entry a new one", () => {
    const entries = fc.sample(entry, { numRuns: 30, seed: 8 })
    const e0 = entries[0]!
    const start = RevokedCommitments.empty.append(e0.commitmentNumber, e0.txid, e0.htlcs)
    let monitor = start
    let copy = start
    for (const e of entries.slice(1)) {
      const parent = monitor
      monitor = monitor.append(e.commitmentNumber, e.txid, e.htlcs)
      copy = copy.append(e.commitmentNumber, Txid(Uint8Array.from(e.txid)), e.htlcs.map((h) => ({ ...h, paymentHash: Uint8Array.from(h.paymentHash) })))
      expect(copy).toBe(monitor)
      // one field differing: another list, with that entry
      const h = e.htlcs[0]
      const changed: RevokedCommitment =
        h === undefined
          ? { ...e, commitmentNumber: BigInt.asUintN(64, e.commitmentNumber + 1n) }
          : { ...e, htlcs: [{ ...h, cltvExpiry: h.cltvExpiry + 1 }, ...e.htlcs.slice(1)] }
      const other = parent.append(changed.commitmentNumber, changed.txid, changed.htlcs)
      expect(other).not.toBe(monitor)
      expect([...other].at(-1)).toStrictEqual(changed)
      // the first child is still the one found again
      expect(parent.append(e.commitmentNumber, e.txid, e.htlcs)).not.toBe(other)
    }
    expect([...monitor]).toStrictEqual(entries)
  })

  it("two holders applying the same updates from the same start hold the same lists (one buffer)", () => {
    const entries = fc.sample(entry, { numRuns: 50, seed: 3 })
    let monitor = RevokedCommitments.empty
    let persister = RevokedCommitments.empty
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      monitor = monitor.append(e.commitmentNumber, e.txid, e.htlcs)
      // the persister folds later, several updates at once
      if (i % 8 === 7) for (const f of entries.slice(i - 7, i + 1)) persister = persister.append(f.commitmentNumber, f.txid, f.htlcs)
      if (i % 8 === 7) expect(persister).toBe(monitor)
    }
    expect([...monitor]).toStrictEqual(entries)
    // the same txid object with another entry is appended, not reused
    const e = entries[0]!
    const other = persister.append(BigInt.asUintN(64, e.commitmentNumber + 1n), e.txid, e.htlcs)
    expect(monitor.append(e.commitmentNumber, e.txid, e.htlcs)).not.toBe(other)
    expect([...other].at(-1)).toStrictEqual({ ...e, commitmentNumber: BigInt.asUintN(64, e.commitmentNumber + 1n) })
  })
})
