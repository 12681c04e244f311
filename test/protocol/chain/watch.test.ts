import { assert, describe, it } from "@effect/vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { makeHeader, ZERO_HASH } from "../../../src/protocol/chain/block.ts"
import { WatchSet } from "../../../src/protocol/chain/watch.ts"
import { type OutPoint, type Transaction, txid as txidOf, txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../src/protocol/units.ts"

const SCRIPT = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9))
const spend = (prevout: OutPoint, script: Uint8Array, salt: number): Transaction => ({
  version: 2,
  inputs: [{ prevout, scriptSig: Uint8Array.of(salt), sequence: 0, witness: [] }],
  outputs: [{ value: sat(1000n), scriptPubKey: script }],
  locktime: 0
})
const blockOf = (txs: ReadonlyArray<Transaction>) => ({
  header: makeHeader({ version: 1, prevHash: ZERO_HASH, merkleRoot: new Uint8Array(32), time: 0, bits: 0, nonce: 0 }, 1),
  transactions: txs,
  txids: txs.map(txidOf)
})

describe("WatchSet", () => {
  it("reports spends, payments (then spends of those outputs, in the same block) and confirmations", () => {
    const set = new WatchSet<string>()
    const watched: OutPoint = { txid: txidFromBytes(new Uint8Array(32).fill(1)), vout: 3 }
    set.watchOutput(watched, "funding")
    set.watchScript(SCRIPT, "wallet")
    const a = spend(watched, SCRIPT, 1) // spends the watched output and pays the script
    const b = spend({ txid: txidOf(a), vout: 0 }, Uint8Array.of(0x51), 2) // spends what `a` paid
    const c = spend({ txid: txidFromBytes(new Uint8Array(32).fill(2)), vout: 0 }, Uint8Array.of(0x51), 3) // unrelated
    set.watchTx(txidOf(c), "mine")
    const matches = set.match(blockOf([c, a, b]))
    assert.deepStrictEqual(matches.map((m) => [m.index, m.hits.map((h) => `${h.kind}:${h.tag}`)]), [
      [0, ["confirms:mine"]],
      [1, ["spends:funding", "pays:wallet"]],
      [2, ["spends:wallet"]]
    ])
    set.unwatchWhere((tag) => tag === "wallet")
    assert.deepStrictEqual(set.match(blockOf([b])).length, 0)
    assert.strictEqual(toHex(matches[1]!.txid), toHex(txidOf(a)))
  })
})
