/**
 * A funding transaction for interop tests, as a wallet would build it: one segwit input
 * spending a made-up previous output (the chain in these tests is driven by hand, so nothing
 * checks it exists), the funding output, signed with a dummy witness (LDK only checks that
 * every input is segwit).
 */
import { randomBytes } from "node:crypto"
import { serializeTransaction, txid, type Transaction, txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../src/protocol/units.ts"

export const fundingTransaction = (outputScript: Uint8Array, amountSat: bigint): { readonly tx: Transaction; readonly bytes: Uint8Array; readonly txid: Uint8Array } => {
  const tx: Transaction = {
    version: 2,
    locktime: 0,
    inputs: [{
      prevout: { txid: txidFromBytes(randomBytes(32)), vout: 0 },
      scriptSig: new Uint8Array(0),
      sequence: 0xfffffffd,
      witness: [new Uint8Array(71).fill(1), new Uint8Array(33).fill(2)]
    }],
    outputs: [{ value: sat(amountSat), scriptPubKey: outputScript }]
  }
  return { tx, bytes: serializeTransaction(tx), txid: txid(tx) }
}
