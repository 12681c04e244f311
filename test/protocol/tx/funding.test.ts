/**
 * BOLT 3 Appendix B: the funding transaction, byte for byte, including the P2PKH input's
 * legacy signature reproduced with the coinbase key (RFC 6979).
 */
import { Redacted } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { encodeTxSignature } from "../../../src/protocol/tx/bitcoin/der.ts"
import { compileScript, p2pkhScript, p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { legacySighashAll, SIGHASH_ALL } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import {
  decodeTransaction,
  makeInput,
  serializeTransaction,
  setScriptSig,
  txid,
  txidFromHex,
  txidToHex,
  type Transaction
} from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sortOutputs } from "../../../src/protocol/tx/bip69.ts"
import { fundingOutput } from "../../../src/protocol/tx/funding.ts"
import { sat } from "../../../src/protocol/units.ts"
import { ok, pk, secp } from "./fixtures.ts"
import { VECTORS_DIR } from "../../vectors.ts"

const v = JSON.parse(readFileSync(`${VECTORS_DIR}/bolt03-funding-tx.json`, "utf8")) as Record<string, string | number>
const str = (k: string): string => String(v[k])

describe("BOLT 3 Appendix B: funding transaction", () => {
  it("coinbase txid is the funding input", () => {
    const coinbase = ok(decodeTransaction(fromHex(str("block1_coinbase_tx"))))
    expect(txidToHex(txid(coinbase))).toBe(str("input_txid"))
  })

  it("builds and signs the funding transaction byte for byte", () => {
    const key = fromHex(str("block1_coinbase_privkey"))
    const pub = secp.publicKey(key)
    if (pub === undefined) throw new Error("bad key")
    const funding = fundingOutput(sat(BigInt(v["funding_satoshis"] ?? 0)), pk(str("local_funding_pubkey")), pk(str("remote_funding_pubkey")))
    expect(toHex(funding.witnessScript)).toBe(str("funding_witness_script"))
    const change = { value: sat(BigInt(v["change_satoshis"] ?? 0)), scriptPubKey: p2wpkhScript(pub) }
    const outputs = sortOutputs([change, funding]).map((o) => ({ value: o.value, scriptPubKey: o.scriptPubKey }))
    const unsigned: Transaction = {
      version: 2,
      inputs: [makeInput({ txid: txidFromHex(str("input_txid")), vout: Number(v["input_index"]) }, 0xffffffff)],
      outputs,
      locktime: 0
    }
    const fundingIndex = outputs.findIndex((o) => toHex(o.scriptPubKey) === toHex(funding.scriptPubKey))
    expect(fundingIndex).toBe(v["funding_output_index"])
    const digest = legacySighashAll(unsigned, 0, p2pkhScript(pub))
    const sig = secp.sign(digest, Redacted.value(Redacted.make(key)))
    const scriptSig = compileScript([encodeTxSignature(sig, SIGHASH_ALL), pub])
    const signed = setScriptSig(unsigned, 0, scriptSig)
    expect(toHex(serializeTransaction(signed))).toBe(str("funding_tx"))
    expect(txidToHex(txid(signed))).toBe(str("funding_txid"))
    // legacy transaction: no witness, so both serializations agree
    expect(toHex(serializeTransaction(signed, { witness: false }))).toBe(toHex(serializeTransaction(signed)))
  })
})
