import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { makeHeader, ZERO_HASH, type Block, type BlockHash } from "../../../src/protocol/chain/block.ts"
import { Networks } from "../../../src/protocol/network.ts"
import { type Transaction, txid, txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../src/protocol/units.ts"
import { WalletKeys } from "../../../src/protocol/wallet/keys.ts"
import { GAP_LIMIT, WalletState } from "../../../src/protocol/wallet/state.ts"

const keys = WalletKeys.fromSeed(new Uint8Array(64).fill(4), Networks.regtest)

const pay = (script: Uint8Array, value: bigint, n: number): Transaction => ({
  version: 2,
  inputs: [{ prevout: { txid: txidFromBytes(new Uint8Array(32).fill(n)), vout: 0 }, scriptSig: new Uint8Array(0), sequence: 0, witness: [] }],
  outputs: [{ value: sat(value), scriptPubKey: script }],
  locktime: 0
})

const blockOn = (prev: { height: number; hash: BlockHash }, txs: ReadonlyArray<Transaction>, nonce: number): Block => {
  const header = makeHeader({ version: 4, prevHash: prev.hash, merkleRoot: new Uint8Array(32), time: 1_700_000_000 + nonce, bits: 0x207fffff, nonce }, prev.height + 1)
  return { header, transactions: txs, txids: txs.map(txid) }
}

describe("WalletState", () => {
  it("finds payments beyond the handed-out addresses within the gap, and extends the gap", () => {
    const start = { height: 10, hash: ZERO_HASH }
    const s = new WalletState(keys, start)
    const far = keys.derive({ kind: "p2wpkh", chain: 0, index: GAP_LIMIT - 1 })
    const b1 = blockOn(start, [pay(far.scriptPubKey, 1000n, 1)], 1)
    expect(Result.isSuccess(s.connect(b1))).toBe(true)
    // Index GAP_LIMIT - 1 is used: the window now reaches 2 × GAP_LIMIT - 1.
    const farther = keys.derive({ kind: "p2wpkh", chain: 0, index: 2 * GAP_LIMIT - 1 })
    // Index 2 × GAP_LIMIT - 1 used in turn: the window reaches 3 × GAP_LIMIT - 1, not 3 × GAP_LIMIT.
    const beyond = keys.derive({ kind: "p2wpkh", chain: 0, index: 3 * GAP_LIMIT })
    const b2 = blockOn({ height: 11, hash: b1.header.hash }, [pay(farther.scriptPubKey, 2000n, 2), pay(beyond.scriptPubKey, 4000n, 3)], 2)
    expect(Result.isSuccess(s.connect(b2))).toBe(true)
    expect(s.balance().confirmed).toBe(3000n)
    // The next receive address skips every used index.
    expect(s.nextKey("p2wpkh", 0).path.index).toBe(2 * GAP_LIMIT)
  })

  it("refuses a block that does not extend its tip and a disconnect of another block", () => {
    const start = { height: 10, hash: ZERO_HASH }
    const s = new WalletState(keys, start)
    const b1 = blockOn(start, [], 1)
    const stray = blockOn({ height: 11, hash: ZERO_HASH }, [], 2)
    expect(Result.isFailure(s.connect(stray))).toBe(true)
    expect(Result.isSuccess(s.connect(b1))).toBe(true)
    expect(Result.isFailure(s.disconnect(stray.header))).toBe(true)
    expect(Result.isSuccess(s.disconnect(b1.header))).toBe(true)
    expect(s.tip?.height).toBe(10)
  })

  it("locks only spendable outputs, and unlocks by id", () => {
    const start = { height: 10, hash: ZERO_HASH }
    const s = new WalletState(keys, start)
    const k = s.nextKey("p2tr", 0)
    const tx = pay(k.scriptPubKey, 5000n, 1)
    s.connect(blockOn(start, [tx], 1))
    const outpoint = { txid: txid(tx), vout: 0 }
    expect(s.lock("a", [outpoint])).toBe(true)
    expect(s.lock("b", [outpoint])).toBe(false)
    expect(s.balance()).toEqual({ confirmed: 0n, unconfirmed: 0n, locked: 5000n })
    expect(s.unlock("a")).toBe(1)
    expect(s.balance()).toEqual({ confirmed: 5000n, unconfirmed: 0n, locked: 0n })
  })

  it("a lock with an expiry ends by itself at that height (a fee bump that never confirmed), also after a restart", () => {
    const start = { height: 10, hash: ZERO_HASH }
    const s = new WalletState(keys, start)
    const tx = pay(s.nextKey("p2wpkh", 0).scriptPubKey, 5000n, 1)
    const b1 = blockOn(start, [tx], 1)
    s.connect(b1)
    expect(s.lock("fee:x", [{ txid: txid(tx), vout: 0 }], 13)).toBe(true)
    // Through the stored form: the expiry survives a restart.
    const restored = Result.getOrThrow(WalletState.fromSnapshot(keys, s.toSnapshot()))
    const b2 = blockOn(b1.header, [], 2)
    expect(Result.getOrThrow(restored.connect(b2))).toBe(false)
    expect(restored.balance()).toEqual({ confirmed: 0n, unconfirmed: 0n, locked: 5000n })
    // Height 13 connected: released, and the block reports a change (so it is written).
    expect(Result.getOrThrow(restored.connect(blockOn(b2.header, [], 3)))).toBe(true)
    expect(restored.balance()).toEqual({ confirmed: 5000n, unconfirmed: 0n, locked: 0n })
    expect(restored.lockIds()).toEqual([])
  })

  it("abandon forgets an unconfirmed send and its children: their inputs are spendable again", () => {
    const start = { height: 10, hash: ZERO_HASH }
    const s = new WalletState(keys, start)
    const coin = pay(s.nextKey("p2wpkh", 0).scriptPubKey, 9000n, 1)
    s.connect(blockOn(start, [coin], 1))
    const change = s.nextKey("p2wpkh", 1)
    const send: Transaction = {
      version: 2,
      inputs: [{ prevout: { txid: txid(coin), vout: 0 }, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [] }],
      outputs: [{ value: sat(3000n), scriptPubKey: new Uint8Array(22).fill(7) }, { value: sat(5000n), scriptPubKey: change.scriptPubKey }],
      locktime: 0
    }
    const child: Transaction = {
      version: 2,
      inputs: [{ prevout: { txid: txid(send), vout: 1 }, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [] }],
      outputs: [{ value: sat(4000n), scriptPubKey: new Uint8Array(22).fill(8) }],
      locktime: 0
    }
    s.addPending(send)
    s.addPending(child)
    expect(s.balance()).toEqual({ confirmed: 0n, unconfirmed: 5000n, locked: 0n })
    expect(s.abandon(txid(coin))).toEqual([]) // confirmed, not pending
    expect(s.abandon(txid(send)).map(txid)).toEqual([txid(send), txid(child)])
    expect(s.pendingTransactions()).toEqual([])
    expect(s.balance()).toEqual({ confirmed: 9000n, unconfirmed: 0n, locked: 0n })
    expect(s.spendable().map((u) => u.value)).toEqual([9000n])
  })
})
