import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { Result } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { Networks } from "../../../src/protocol/network.ts"
import { type KeyPath, pathString, scriptFromAddress, WalletKeys, mnemonicFromEntropy, addressFromScript } from "../../../src/protocol/wallet/keys.ts"

/** BIP 84 / BIP 86 test vectors (source noted in the file). */
const vectors = JSON.parse(readFileSync(new URL("../../vectors/bip84-bip86-wallet.json", import.meta.url), "utf8")) as {
  mnemonic: string
  bip84: ReadonlyArray<{ path: string; pubkey: string; address: string }>
  bip86: ReadonlyArray<{ path: string; internalKey: string; scriptPubKey: string; address: string }>
}

const pathOf = (kind: KeyPath["kind"], s: string): KeyPath => {
  const parts = s.split("/")
  return { kind, chain: Number(parts[4]) === 1 ? 1 : 0, index: Number(parts[5]) }
}

const keys = Result.getOrThrow(WalletKeys.fromMnemonic(vectors.mnemonic, Networks.mainnet))

describe("wallet keys", () => {
  it("derives the BIP 84 vectors (P2WPKH)", () => {
    for (const v of vectors.bip84) {
      const path = pathOf("p2wpkh", v.path)
      expect(pathString(Networks.mainnet, path)).toBe(v.path)
      const k = keys.derive(path)
      expect(toHex(k.publicKey)).toBe(v.pubkey)
      expect(k.address).toBe(v.address)
    }
  })

  it("derives the BIP 86 vectors (P2TR key path)", () => {
    for (const v of vectors.bip86) {
      const path = pathOf("p2tr", v.path)
      expect(pathString(Networks.mainnet, path)).toBe(v.path)
      const k = keys.derive(path)
      expect(toHex(k.publicKey)).toBe(v.internalKey)
      expect(toHex(k.scriptPubKey)).toBe(v.scriptPubKey)
      expect(k.address).toBe(v.address)
    }
  })

  it("uses coin type 1 and the network prefix off mainnet", () => {
    const regtest = Result.getOrThrow(WalletKeys.fromMnemonic(vectors.mnemonic, Networks.regtest))
    const k = regtest.derive({ kind: "p2wpkh", chain: 0, index: 0 })
    expect(pathString(Networks.regtest, k.path)).toBe("m/84'/1'/0'/0/0")
    expect(k.address.startsWith("bcrt1q")).toBe(true)
    expect(k.address).not.toBe(vectors.bip84[0]!.address.replace("bc1", "bcrt1"))
    const tr = regtest.derive({ kind: "p2tr", chain: 1, index: 3 })
    expect(tr.address.startsWith("bcrt1p")).toBe(true)
    expect(toHex(Result.getOrThrow(scriptFromAddress(Networks.regtest, tr.address)))).toBe(toHex(tr.scriptPubKey))
    expect(addressFromScript(Networks.regtest, tr.scriptPubKey)).toBe(tr.address)
  })

  it("rejects bad mnemonics and foreign addresses", () => {
    expect(Result.isFailure(WalletKeys.fromMnemonic(vectors.mnemonic.replace("about", "abandon"), Networks.mainnet))).toBe(true)
    expect(Result.isFailure(scriptFromAddress(Networks.regtest, vectors.bip84[0]!.address))).toBe(true)
    expect(Result.isFailure(mnemonicFromEntropy(new Uint8Array(7)))).toBe(true)
    const m = Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(7)))
    expect(m.split(" ").length).toBe(24)
    expect(Result.isSuccess(WalletKeys.fromMnemonic(m, Networks.regtest))).toBe(true)
  })
})
