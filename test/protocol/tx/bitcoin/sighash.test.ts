/**
 * BIP 143 and legacy sighash cross-checked against an independent implementation
 * (bitcore-lib) on random transactions, for every sighash type. The BOLT 3 vectors already pin
 * SIGHASH_ALL and SINGLE|ANYONECANPAY; this covers NONE and the remaining combinations.
 */
import fc from "fast-check"
import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../../src/protocol/bytes.ts"
import { legacySighashAll, segwitV0Sighash } from "../../../../src/protocol/tx/bitcoin/sighash.ts"
import { segwitV0SighashWriter } from "./sighash-reference.ts"
import { serializeTransaction, txidFromBytes, type Transaction } from "../../../../src/protocol/tx/bitcoin/transaction.ts"
import { Writer } from "../../../../src/protocol/codec/writer.ts"
import { sat } from "../../../../src/protocol/units.ts"
import { txArb } from "./gen.ts"

interface BitcoreLib {
  readonly Transaction: {
    new (hex: string): unknown
    readonly SighashWitness: { sighash(tx: unknown, type: number, index: number, scriptCode: Buffer, satoshis: Buffer): Buffer }
    readonly Sighash: { sighash(tx: unknown, type: number, index: number, subscript: unknown): Buffer }
  }
  readonly Script: new (buf: Buffer) => unknown
}
const bitcore = createRequire(import.meta.url)("bitcore-lib") as BitcoreLib

const types = [0x01, 0x02, 0x03, 0x81, 0x82, 0x83]

describe("sighash vs bitcore-lib", () => {
  it("BIP 143 digests agree for every sighash type", () => {
    fc.assert(
      fc.property(
        txArb(false),
        fc.nat(),
        fc.uint8Array({ maxLength: 100 }),
        fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }),
        fc.constantFrom(...types),
        (tx, i, scriptCode, amount, type) => {
          const index = i % tx.inputs.length
          const ours = segwitV0Sighash(tx, index, scriptCode, sat(amount), type)
          const btx = new bitcore.Transaction(toHex(serializeTransaction(tx)))
          const amountLe = Buffer.from(new Writer(8).u64le(amount).finish())
          const codeWithLength = Buffer.from(new Writer().varBytes(scriptCode).finish())
          const theirs = bitcore.Transaction.SighashWitness.sighash(btx, type, index, codeWithLength, amountLe)
          expect(toHex(ours)).toBe(theirs.toString("hex"))
        }
      ),
      { numRuns: 1_000 }
    )
  })

  it("legacy SIGHASH_ALL digests agree", () => {
    fc.assert(
      fc.property(txArb(false), fc.nat(), fc.constantFrom(new Uint8Array(0), Uint8Array.of(0x76, 0xa9, 0x14, ...new Array<number>(20).fill(3), 0x88, 0xac)), (anyTx, i, scriptCode) => {
        // bitcore parses scriptSigs as scripts: keep them empty (they are blanked by the algorithm anyway)
        const tx = { ...anyTx, inputs: anyTx.inputs.map((input) => ({ ...input, scriptSig: new Uint8Array(0) })) }
        const index = i % tx.inputs.length
        const ours = legacySighashAll(tx, index, scriptCode)
        const btx = new bitcore.Transaction(toHex(serializeTransaction(tx)))
        // bitcore returns the digest little-endian (reversed)
        const theirs = Buffer.from(bitcore.Transaction.Sighash.sighash(btx, 1, index, new bitcore.Script(Buffer.from(scriptCode)))).reverse()
        expect(toHex(ours)).toBe(theirs.toString("hex"))
      }),
      { numRuns: 300 }
    )
  })
})

describe("segwitV0Sighash's byte layout", () => {
  /** Any type byte (the algorithm reads its low 5 bits and 0x80), amounts beyond u64 and negative ones (written modulo 2^64 by both). */
  const anyType = fc.oneof(fc.constantFrom(...types), fc.integer({ min: 0, max: 0xffffffff }))
  const anyAmount = fc.oneof(fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }), fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }))
  /** Scripts across the CompactSize boundaries (0xfc/0xfd bytes), as the writer's `varBytes`. */
  const anyScript = fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 0xfa, maxLength: 0x104 }))

  it("equals the plain form on Writer, for every sighash type, input and buffer size, calls interleaved", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(txArb(false), fc.nat(), anyScript, anyAmount, anyType), { minLength: 1, maxLength: 4 }), (cases) => {
        // Several digests in a row: each call must leave nothing behind for the next (reused buffers).
        const fast = cases.map(([tx, i, scriptCode, amount, type]) => toHex(segwitV0Sighash(tx, i % tx.inputs.length, scriptCode, sat(amount), type)))
        const plain = cases.map(([tx, i, scriptCode, amount, type]) => toHex(segwitV0SighashWriter(tx, i % tx.inputs.length, scriptCode, sat(amount), type)))
        expect(fast).toEqual(plain)
      }),
      { numRuns: 1_000 }
    )
  })

  it("equals the plain form when transactions share their outpoints (the kept hashPrevouts), or change them in place", () => {
    const outpoint = fc.record({ txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.constantFrom(0, 1, 0xffffffff) })
    fc.assert(
      fc.property(
        fc.array(outpoint, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), txArb(false), anyType, fc.boolean()), { minLength: 1, maxLength: 8 }),
        (pool, cases) => {
          for (const [pick, tx, type, mutate] of cases) {
            // Inputs drawn from a small pool of outpoints (the same txid arrays again and again),
            // sometimes changed in place between two digests.
            const o = pool[pick % pool.length]
            if (o === undefined) return
            if (mutate) o.txid[pick % 32] = ((o.txid[pick % 32] ?? 0) + 1) & 0xff
            const shared: Transaction = { ...tx, inputs: tx.inputs.map((i, k) => (k === 0 ? { ...i, prevout: { txid: txidFromBytes(o.txid), vout: o.vout } } : i)) }
            const fast = toHex(segwitV0Sighash(shared, 0, new Uint8Array(0), sat(1000n), type))
            expect(fast).toBe(toHex(segwitV0SighashWriter(shared, 0, new Uint8Array(0), sat(1000n), type)))
          }
        }
      ),
      { numRuns: 500 }
    )
  })

  it("equals the plain form when transactions share their sequences (the kept hashSequence), one input or more", () => {
    // A few sequences again and again (an HTLC transaction's input, a commitment's upper bits), in
    // transactions of one input or two: a kept hash is reused only for the same sequence bytes.
    const sequence = fc.constantFrom(0, 1, 0x80000001, 0x80000002, 0xffffffff)
    fc.assert(
      fc.property(fc.array(fc.tuple(txArb(false), fc.array(sequence, { minLength: 1, maxLength: 2 }), anyType), { minLength: 1, maxLength: 8 }), (cases) => {
        for (const [tx, sequences, type] of cases) {
          const inputs = sequences.flatMap((s, k) => {
            const input = tx.inputs[k % tx.inputs.length]
            return input === undefined ? [] : [{ ...input, sequence: s }]
          })
          if (inputs.length === 0) return
          const shared: Transaction = { ...tx, inputs }
          expect(toHex(segwitV0Sighash(shared, 0, new Uint8Array(0), sat(1000n), type))).toBe(toHex(segwitV0SighashWriter(shared, 0, new Uint8Array(0), sat(1000n), type)))
        }
      }),
      { numRuns: 500 }
    )
  })

  it("equals the plain form on many inputs and outputs (buffers grown), and a version beyond 32 bits (written modulo 2^32 by both)", () => {
    const big: fc.Arbitrary<Transaction> = fc
      .record({
        version: fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
        locktime: fc.integer({ min: 0, max: 0xffffffff }),
        inputs: fc.array(fc.record({ txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.integer({ min: 0, max: 0xffffffff }), sequence: fc.integer({ min: 0, max: 0xffffffff }) }), { minLength: 1, maxLength: 40 }),
        outputs: fc.array(fc.record({ value: fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }), scriptPubKey: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 40 })
      })
      .map((r) => ({
        version: r.version,
        locktime: r.locktime,
        inputs: r.inputs.map((i) => ({ prevout: { txid: txidFromBytes(i.txid), vout: i.vout }, scriptSig: new Uint8Array(0), sequence: i.sequence, witness: [] })),
        outputs: r.outputs.map((o) => ({ value: sat(o.value), scriptPubKey: o.scriptPubKey }))
      }))
    fc.assert(
      fc.property(big, fc.nat(), anyScript, anyAmount, anyType, (tx, i, scriptCode, amount, type) => {
        const index = i % tx.inputs.length
        expect(toHex(segwitV0Sighash(tx, index, scriptCode, sat(amount), type))).toBe(toHex(segwitV0SighashWriter(tx, index, scriptCode, sat(amount), type)))
      }),
      { numRuns: 300 }
    )
  })

  it("throws RangeError for an input index out of range, as the plain form", () => {
    const tx = { version: 2, locktime: 0, inputs: [], outputs: [] }
    expect(() => segwitV0Sighash(tx, 0, new Uint8Array(0), sat(0n), 1)).toThrow(RangeError)
    expect(() => segwitV0SighashWriter(tx, 0, new Uint8Array(0), sat(0n), 1)).toThrow(RangeError)
  })
})
