import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { Networks } from "../../../src/protocol/network.ts"
import { compileScript, OP } from "../../../src/protocol/tx/bitcoin/script.ts"
import { txidFromBytes, weight } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../src/protocol/units.ts"
import { type AddressKind, WalletKeys } from "../../../src/protocol/wallet/keys.ts"
import { dustLimit, exportPsbt, feeFor, finalizePsbt, selectCoins, signSelection } from "../../../src/protocol/wallet/spend.ts"
import type { Utxo } from "../../../src/protocol/wallet/state.ts"

const keys = WalletKeys.fromSeed(new Uint8Array(64).fill(9), Networks.regtest)
const EXTERNAL = compileScript([OP.OP_0, new Uint8Array(20).fill(0x77)])
const change = keys.derive({ kind: "p2tr", chain: 1, index: 0 })

const utxo = (n: number, value: bigint, kind: AddressKind = "p2wpkh"): Utxo => ({
  outpoint: { txid: txidFromBytes(new Uint8Array(32).fill(n)), vout: n },
  value: sat(value),
  key: keys.derive({ kind, chain: 0, index: n }),
  height: 100
})

describe("coin selection (largest first)", () => {
  it("takes the largest coins first and returns change", () => {
    const r = Result.getOrThrow(selectCoins({
      available: [utxo(1, 10_000n), utxo(2, 500_000n), utxo(3, 200_000n)],
      outputs: [{ value: sat(600_000n), scriptPubKey: EXTERNAL }],
      feeratePerKw: 1000,
      changeScript: change.scriptPubKey
    }))
    expect(r.inputs.map((u) => u.value)).toEqual([500_000n, 200_000n])
    expect(r.changeIndex).toBe(1)
    const out = r.outputs.reduce((s, o) => s + o.value, 0n)
    expect(700_000n - out).toBe(r.fee)
    expect(r.fee).toBe(feeFor(r.weight, 1000))
  })

  it("fails below dust and when the coins cannot pay", () => {
    const dust = selectCoins({ available: [utxo(1, 10_000n)], outputs: [{ value: sat(293n), scriptPubKey: EXTERNAL }], feeratePerKw: 253, changeScript: change.scriptPubKey })
    expect(Result.isFailure(dust) && dust.failure._tag).toBe("DustOutput")
    expect(dustLimit(EXTERNAL)).toBe(294n)
    const poor = selectCoins({ available: [utxo(1, 10_000n)], outputs: [{ value: sat(10_000n), scriptPubKey: EXTERNAL }], feeratePerKw: 253, changeScript: change.scriptPubKey })
    expect(Result.isFailure(poor) && poor.failure._tag).toBe("InsufficientFunds")
  })

  it("leaves change below dust to the fee", () => {
    const r = Result.getOrThrow(selectCoins({ available: [utxo(1, 50_000n)], outputs: [{ value: sat(49_600n), scriptPubKey: EXTERNAL }], feeratePerKw: 253, changeScript: change.scriptPubKey }))
    expect(r.changeIndex).toBeUndefined()
    expect(r.outputs.length).toBe(1)
    expect(r.fee).toBe(400n)
  })

  it("estimates the signed weight: exact for P2TR, at most a byte over per P2WPKH input", () => {
    const r = Result.getOrThrow(selectCoins({
      available: [utxo(1, 40_000n, "p2tr"), utxo(2, 30_000n, "p2wpkh"), utxo(3, 20_000n, "p2tr")],
      outputs: [{ value: sat(85_000n), scriptPubKey: EXTERNAL }],
      feeratePerKw: 2000,
      changeScript: change.scriptPubKey
    }))
    expect(r.inputs.length).toBe(3)
    const tx = Result.getOrThrow(signSelection(keys, r, 0, new Uint8Array(32)))
    const actual = weight(tx)
    expect(actual).toBeLessThanOrEqual(r.weight)
    expect(r.weight - actual).toBeLessThanOrEqual(1) // a 71-byte DER signature instead of 72
  })

  it("exports an unsigned PSBT that does not finalize", () => {
    const r = Result.getOrThrow(selectCoins({ available: [utxo(1, 40_000n)], outputs: [{ value: sat(20_000n), scriptPubKey: EXTERNAL }], feeratePerKw: 253, changeScript: change.scriptPubKey }))
    const psbt = exportPsbt(keys, r, 0)
    expect(Result.isFailure(finalizePsbt(psbt))).toBe(true)
    expect(Result.isFailure(finalizePsbt(new Uint8Array([1, 2, 3])))).toBe(true)
  })
})
