import fc from "fast-check"
import { Brand, Result } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../../src/protocol/bytes.ts"
import {
  decodeTransaction,
  decodeTransactionAt,
  hasWitness,
  serializeTransaction,
  txid,
  txidFromHex,
  Txid,
  txidToHex,
  type Transaction,
  vsize,
  weight,
  wtxid
} from "../../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../../src/protocol/units.ts"
import { txArb } from "./gen.ts"
import { VECTORS_DIR } from "../../../vectors.ts"

const coreVectors = (file: string): ReadonlyArray<string> =>
  (JSON.parse(readFileSync(`${VECTORS_DIR}/bitcoin-core/${file}`, "utf8")) as ReadonlyArray<ReadonlyArray<unknown>>)
    .filter((e) => e.length >= 2 && typeof e[1] === "string")
    .map((e) => String(e[1]))

describe("transaction serialization", () => {
  it("decodes and re-encodes Bitcoin Core's valid transactions byte for byte", () => {
    const txs = coreVectors("tx_valid.json")
    expect(txs.length).toBeGreaterThan(100)
    let decoded = 0
    for (const hex of txs) {
      const r = decodeTransaction(fromHex(hex))
      if (Result.isFailure(r)) continue
      decoded++
      expect(toHex(serializeTransaction(r.success))).toBe(hex)
    }
    expect(decoded).toBe(txs.length)
  })

  it("decodes Core's consensus-invalid (but well-formed) transactions and re-encodes them identically", () => {
    const txs = coreVectors("tx_invalid.json")
    expect(txs.length).toBeGreaterThan(50)
    for (const hex of txs) {
      const r = decodeTransaction(fromHex(hex))
      expect(Result.isSuccess(r) && toHex(serializeTransaction(r.success))).toBe(hex)
    }
  })

  it("round-trips random transactions, with and without witness", () => {
    fc.assert(
      fc.property(txArb(true), (tx) => {
        const full = serializeTransaction(tx)
        const back = decodeTransaction(full)
        if (Result.isFailure(back)) return false
        expect(toHex(serializeTransaction(back.success))).toBe(toHex(full))
        expect(toHex(txid(back.success))).toBe(toHex(txid(tx)))
        expect(toHex(wtxid(back.success))).toBe(toHex(wtxid(tx)))
        const stripped = serializeTransaction(tx, { witness: false })
        const back2 = decodeTransaction(stripped)
        if (Result.isFailure(back2)) return false
        expect(hasWitness(back2.success)).toBe(false)
        expect(toHex(serializeTransaction(back2.success))).toBe(toHex(stripped))
        expect(weight(tx)).toBe(stripped.length * 3 + full.length)
        expect(vsize(tx)).toBe(Math.ceil(weight(tx) / 4))
        if (!hasWitness(tx)) expect(toHex(wtxid(tx))).toBe(toHex(txid(tx)))
        return true
      }),
      { numRuns: 3_000 }
    )
  })

  it("weight counted from the parts equals the lengths of both serializations, across every CompactSize width", () => {
    // Lengths and counts each side of 253 and 65536 (CompactSize's 1-, 3- and 5-byte forms).
    const size = fc.constantFrom(0, 1, 252, 253, 254, 0xffff, 0x10000)
    const blob = size.map((n) => new Uint8Array(n).fill(7))
    const count = fc.constantFrom(0, 1, 252, 253)
    fc.assert(
      fc.property(txArb(true), blob, blob, count, count, fc.boolean(), (tx, script, item, outputs, items, witness) => {
        const input = tx.inputs[0]
        if (input === undefined) return
        const wide: Transaction = {
          ...tx,
          inputs: [{ ...input, scriptSig: script, witness: witness ? Array.from({ length: items }, () => item) : [] }, ...tx.inputs.slice(1)],
          outputs: Array.from({ length: outputs }, (_, i) => ({ value: sat(BigInt(i)), scriptPubKey: i === 0 ? script : item.subarray(0, i % 40) }))
        }
        expect(weight(wide)).toBe(serializeTransaction(wide, { witness: false }).length * 3 + serializeTransaction(wide).length)
      }),
      { seed: 13, numRuns: 150 }
    )
  })

  it("decodes transactions back to back with decodeTransactionAt, each ending where the next starts", () => {
    fc.assert(
      fc.property(fc.array(txArb(true), { minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 8 }), (txs, prefix) => {
        const parts = txs.map((tx) => serializeTransaction(tx))
        const all = new Uint8Array(prefix.length + parts.reduce((n, p) => n + p.length, 0))
        all.set(prefix, 0)
        let at = prefix.length
        for (const p of parts) {
          all.set(p, at)
          at += p.length
        }
        let offset = prefix.length
        for (const p of parts) {
          const r = decodeTransactionAt(all, offset)
          if (Result.isFailure(r)) return false
          expect(toHex(serializeTransaction(r.success.tx))).toBe(toHex(p))
          expect(r.success.end).toBe(offset + p.length)
          offset = r.success.end
        }
        return offset === all.length
      }),
      { numRuns: 500 }
    )
  })

  it("decodeTransactionAt: truncation and a bad offset are typed errors; decodeTransaction still refuses trailing bytes", () => {
    const tx = fromHex(coreVectors("tx_valid.json")[0] ?? "")
    const truncated = decodeTransactionAt(tx.subarray(0, tx.length - 1), 0)
    expect(Result.isFailure(truncated) && truncated.failure.reason).toBe("unexpected end of data")
    const badOffset = decodeTransactionAt(tx, tx.length + 1)
    expect(Result.isFailure(badOffset) && badOffset.failure.reason).toBe("offset out of range")
    const withTrailing = new Uint8Array(tx.length + 1)
    withTrailing.set(tx, 0)
    const trailing = decodeTransaction(withTrailing)
    expect(Result.isFailure(trailing) && trailing.failure).toMatchObject({ reason: "trailing bytes", offset: tx.length })
    const ok = decodeTransactionAt(withTrailing, 0)
    expect(Result.isSuccess(ok) && ok.success.end).toBe(tx.length)
  })

  it("returns a typed error, never throws, on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = decodeTransaction(bytes)
        if (Result.isFailure(r)) return r.failure._tag === "TxDecodeError"
        return toHex(serializeTransaction(r.success)) === toHex(bytes)
      }),
      { numRuns: 10_000 }
    )
  })

  it("returns a typed error on truncated or extended valid transactions", () => {
    fc.assert(
      fc.property(txArb(true), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }), (tx, cut, extra) => {
        const b = serializeTransaction(tx)
        const short = b.subarray(0, cut % b.length)
        const r1 = decodeTransaction(short)
        const r2 = decodeTransaction(Uint8Array.from([...b, ...extra]))
        // a prefix could, in rare cases, be another well-formed transaction: then it must be canonical
        const r1ok = Result.isFailure(r1) || toHex(serializeTransaction(r1.success)) === toHex(short)
        return r1ok && Result.isFailure(r2) && r2.failure.reason === "trailing bytes"
      }),
      { numRuns: 2_000 }
    )
  })

  it("txid hex is in display (reversed) order", () => {
    const hex = "8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be"
    const id = txidFromHex(hex)
    expect(id[0]).toBe(0xbe)
    expect(txidToHex(id)).toBe(hex)
  })
})

describe("Txid", () => {
  it("accepts and refuses what Brand.make's constructor over the same check does, with the same BrandError", () => {
    const reference = Brand.make<Txid>((b) => b.length === 32 || `a txid is 32 bytes, got ${b.length}`)
    const outcome = (make: (b: Uint8Array) => Txid, b: Uint8Array): unknown => {
      try {
        return make(b)
      } catch (e) {
        return e instanceof Brand.BrandError ? e.toString() : e
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 28, maxLength: 36 }), (b) => {
        expect(outcome(Txid, b)).toStrictEqual(outcome(reference, b))
        expect(Result.isSuccess(Txid.result(b))).toBe(Result.isSuccess(reference.result(b)))
      }),
      { numRuns: 300, seed: 32 }
    )
  })
})
