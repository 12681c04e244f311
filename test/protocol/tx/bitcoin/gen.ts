/** fast-check generators of Bitcoin transactions for the serialization tests. */
import fc from "fast-check"
import { sat } from "../../../../src/protocol/units.ts"
import { txidFromBytes, type Transaction } from "../../../../src/protocol/tx/bitcoin/transaction.ts"

const u32 = fc.integer({ min: 0, max: 0xffffffff })
const bytes = (max: number) => fc.uint8Array({ maxLength: max })

export const txArb = (withWitness: boolean): fc.Arbitrary<Transaction> =>
  fc
    .record({
      version: u32,
      locktime: u32,
      inputs: fc.array(
        fc.record({
          txid: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          vout: u32,
          scriptSig: bytes(120),
          sequence: u32,
          witness: withWitness ? fc.array(bytes(80), { maxLength: 5 }) : fc.constant([])
        }),
        { minLength: 1, maxLength: 5 }
      ),
      outputs: fc.array(fc.record({ value: fc.bigInt({ min: 0n, max: 2_100_000_000_000_000n }), scriptPubKey: bytes(60) }), { maxLength: 5 })
    })
    .map((r) => ({
      version: r.version,
      locktime: r.locktime,
      inputs: r.inputs.map((i) => ({ prevout: { txid: txidFromBytes(i.txid), vout: i.vout }, scriptSig: i.scriptSig, sequence: i.sequence, witness: i.witness })),
      outputs: r.outputs.map((o) => ({ value: sat(o.value), scriptPubKey: o.scriptPubKey }))
    }))
