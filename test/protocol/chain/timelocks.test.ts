import { assert, describe, it } from "@effect/vitest"
import { checkFinal, checkSequenceLocks, medianTimePast } from "../../../src/protocol/chain/timelocks.ts"
import { type Transaction, txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../src/protocol/units.ts"

const tx = (locktime: number, sequence: number, version = 2): Transaction => ({
  version,
  inputs: [{ prevout: { txid: txidFromBytes(new Uint8Array(32)), vout: 0 }, scriptSig: new Uint8Array(0), sequence, witness: [] }],
  outputs: [{ value: sat(1000n), scriptPubKey: Uint8Array.of(0x51) }],
  locktime
})

describe("timelocks", () => {
  it("median time past is the median of the last 11 times", () => {
    assert.strictEqual(medianTimePast([5, 1, 3]), 3)
    assert.strictEqual(medianTimePast([100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 6) // the 100 is not among the last 11
  })

  it("nLockTime: strictly below the block height or the median time past (BIP 113)", () => {
    assert.isUndefined(checkFinal(tx(0, 0), 10, 0))
    assert.strictEqual(checkFinal(tx(10, 0), 10, 0)?._tag, "NonFinal")
    assert.isUndefined(checkFinal(tx(9, 0), 10, 0))
    assert.isUndefined(checkFinal(tx(10, 0xffffffff), 10, 0)) // every input final
    assert.strictEqual(checkFinal(tx(600_000_000, 0), 10, 600_000_000)?._tag, "NonFinal")
    assert.isUndefined(checkFinal(tx(600_000_000, 0), 10, 600_000_001))
  })

  it("nSequence (BIP 68): blocks and 512-second units, disabled by the flag or version 1", () => {
    const coin = { height: 100, mtpBeforeBlock: 1_000_000, coinbase: false }
    assert.strictEqual(checkSequenceLocks(tx(0, 10), [coin], 109, 0)?._tag, "NonBip68Final")
    assert.isUndefined(checkSequenceLocks(tx(0, 10), [coin], 110, 0))
    assert.isUndefined(checkSequenceLocks(tx(0, 10, 1), [coin], 101, 0))
    assert.isUndefined(checkSequenceLocks(tx(0, 0x80000000 | 10), [coin], 101, 0))
    const timed = tx(0, 0x00400000 | 2) // 1024 seconds
    assert.strictEqual(checkSequenceLocks(timed, [coin], 200, 1_000_000 + 1023)?._tag, "NonBip68Final")
    assert.isUndefined(checkSequenceLocks(timed, [coin], 200, 1_000_000 + 1024))
  })

  it("coinbase maturity: 100 blocks", () => {
    const coin = { height: 100, mtpBeforeBlock: 0, coinbase: true }
    assert.strictEqual(checkSequenceLocks(tx(0, 0xffffffff), [coin], 199, 0)?._tag, "ImmatureCoinbase")
    assert.isUndefined(checkSequenceLocks(tx(0, 0xffffffff), [coin], 200, 0))
  })
})
