/**
 * BOLT 3 Appendix G, transaction level: the dual-funded funding transaction assembled from the
 * `tx_add_input` / `tx_add_output` contributions (ordered by serial_id), each side's fee from its
 * contribution weight, the accepter's P2WPKH signature reproduced (RFC 6979), the witnesses
 * and the txid. (The interactive protocol itself belongs to BOLT 2.)
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { createBase58check } from "@scure/base"
import { Redacted } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { unsafePublicKey } from "../../../src/protocol/keys/keys.ts"
import { encodeTxSignature } from "../../../src/protocol/tx/bitcoin/der.ts"
import { p2wpkhScript, p2wpkhScriptCode } from "../../../src/protocol/tx/bitcoin/script.ts"
import { SIGHASH_ALL } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import {
  decodeTransaction,
  serializeTransaction,
  setWitness,
  txid,
  txidToHex,
  witnessSize,
  type Transaction,
  type TxInput
} from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { contributionFee, feeForWeight } from "../../../src/protocol/tx/fees.ts"
import { fundingOutput } from "../../../src/protocol/tx/funding.ts"
import { signInput, verifyInput } from "../../../src/protocol/tx/signing.ts"
import { contributionWeight } from "../../../src/protocol/tx/weights.ts"
import { sat } from "../../../src/protocol/units.ts"
import { ok, secp } from "./fixtures.ts"
import { VECTORS_DIR } from "../../vectors.ts"

interface AddInput { serial_id: number; prevtx: string; prev_vout: number; sequence: number }
interface AddOutput { serial_id: number; sats: number; script: string }
const v = JSON.parse(readFileSync(`${VECTORS_DIR}/bolt03-dual-funding.json`, "utf8")) as {
  locktime: number
  feerate_per_kw: number
  opener_funding_satoshis: number
  accepter_funding_satoshis: number
  inputs: ReadonlyArray<{ pubkey?: string; privkey_wif?: string }>
  outputs: { funding_2of2: { pubkey1: string; pubkey2: string; script: string; script_pubkey: string } }
  opener_tx_add_input: ReadonlyArray<AddInput>
  accepter_tx_add_input: ReadonlyArray<AddInput>
  opener_tx_add_output: ReadonlyArray<AddOutput>
  accepter_tx_add_output: ReadonlyArray<AddOutput>
  fees: { opener: { weight: number; fees_satoshi: number; change_satoshi: number }; accepter: { weight: number; fees_satoshi: number; change_satoshi: number } }
  unsigned_funding_tx: string
  signed_funding_tx: string
  opener_tx_signatures: { txid: string; witnesses: ReadonlyArray<{ witness_data: string }> }
  accepter_tx_signatures: { witnesses: ReadonlyArray<{ witness_data: string }> }
}

/** Splits a serialized witness stack (count, then length-prefixed items); small items only. */
const witnessItems = (hex: string): Array<Uint8Array> => {
  const b = fromHex(hex)
  const items: Array<Uint8Array> = []
  let at = 1
  for (let i = 0; i < (b[0] ?? 0); i++) {
    const len = b[at] ?? 0
    items.push(b.slice(at + 1, at + 1 + len))
    at += 1 + len
  }
  return items
}
/** The output (script, amount) an `tx_add_input` spends, from its `prevtx`. */
const prevout = (i: AddInput) => {
  const prev = ok(decodeTransaction(fromHex(i.prevtx)))
  const out = prev.outputs[i.prev_vout]
  if (out === undefined) throw new Error("bad prev_vout")
  return { txid: txid(prev), out }
}

describe("BOLT 3 Appendix G: dual-funded funding transaction", () => {
  const inputs = [...v.opener_tx_add_input, ...v.accepter_tx_add_input].sort((a, b) => a.serial_id - b.serial_id)
  const outputs = [...v.opener_tx_add_output, ...v.accepter_tx_add_output].sort((a, b) => a.serial_id - b.serial_id)
  const unsigned: Transaction = {
    version: 2,
    locktime: v.locktime,
    inputs: inputs.map((i): TxInput => ({ prevout: { txid: prevout(i).txid, vout: i.prev_vout }, scriptSig: new Uint8Array(0), sequence: i.sequence, witness: [] })),
    // tx_add_output.script is printed with its length byte
    outputs: outputs.map((o) => ({ value: sat(BigInt(o.sats)), scriptPubKey: fromHex(o.script).subarray(1) }))
  }

  it("the funding output is the BOLT 3 2-of-2", () => {
    const f = fundingOutput(sat(400_000_000n), unsafePublicKey(fromHex(v.outputs.funding_2of2.pubkey2)), unsafePublicKey(fromHex(v.outputs.funding_2of2.pubkey1)))
    expect(toHex(f.witnessScript)).toBe(v.outputs.funding_2of2.script)
    expect(toHex(f.scriptPubKey)).toBe(v.outputs.funding_2of2.script_pubkey)
    expect(unsigned.outputs.some((o) => toHex(o.scriptPubKey) === toHex(f.scriptPubKey) && o.value === f.value)).toBe(true)
  })

  it("assembles the unsigned transaction in serial_id order", () => {
    expect(toHex(serializeTransaction(unsigned))).toBe(v.unsigned_funding_tx)
    expect(txidToHex(txid(unsigned))).toBe(v.opener_tx_signatures.txid)
  })

  it("each side's fee and change follow from its contribution weight", () => {
    const openerWitness = witnessItems(v.opener_tx_signatures.witnesses[0]?.witness_data ?? "")
    const accepterWitness = witnessItems(v.accepter_tx_signatures.witnesses[0]?.witness_data ?? "")
    const opener = contributionWeight({
      initiator: true,
      inputs: v.opener_tx_add_input.length,
      outputScriptLengths: v.opener_tx_add_output.map((o) => fromHex(o.script).length - 1),
      witnessSizes: [witnessSize(openerWitness)]
    })
    const accepter = contributionWeight({
      initiator: false,
      inputs: v.accepter_tx_add_input.length,
      outputScriptLengths: v.accepter_tx_add_output.map((o) => fromHex(o.script).length - 1),
      witnessSizes: [witnessSize(accepterWitness)]
    })
    expect(opener).toBe(v.fees.opener.weight)
    expect(accepter).toBe(v.fees.accepter.weight)
    // Appendix G rounds the contribution fee up: 609 * 253 / 1000 = 154.08 -> 155
    const openerFee = contributionFee(v.feerate_per_kw, opener)
    const accepterFee = contributionFee(v.feerate_per_kw, accepter)
    expect(Number(feeForWeight(v.feerate_per_kw, opener))).toBe(v.fees.opener.fees_satoshi - 1)
    expect(Number(openerFee)).toBe(v.fees.opener.fees_satoshi)
    expect(Number(accepterFee)).toBe(v.fees.accepter.fees_satoshi)
    const inputValue = (i: AddInput) => prevout(i).out.value
    const openerIn = v.opener_tx_add_input.reduce((a, i) => a + inputValue(i), 0n)
    const accepterIn = v.accepter_tx_add_input.reduce((a, i) => a + inputValue(i), 0n)
    expect(openerIn - BigInt(v.opener_funding_satoshis) - openerFee).toBe(BigInt(v.fees.opener.change_satoshi))
    expect(accepterIn - BigInt(v.accepter_funding_satoshis) - accepterFee).toBe(BigInt(v.fees.accepter.change_satoshi))
  })

  it("reproduces the accepter's P2WPKH signature and the signed transaction", () => {
    const wif = createBase58check(sha256).decode(v.inputs[1]?.privkey_wif ?? "")
    // testnet WIF: version byte, 32-byte key, compressed flag
    expect(wif.length).toBe(34)
    const key = Redacted.make(wif.slice(1, 33))
    const pub = unsafePublicKey(fromHex(v.inputs[1]?.pubkey ?? ""))
    expect(toHex(secp.publicKey(Redacted.value(key)) ?? new Uint8Array(0))).toBe(toHex(pub))
    const accepterIndex = inputs.findIndex((i) => i.serial_id === v.accepter_tx_add_input[0]?.serial_id)
    const spent = prevout(inputs[accepterIndex] as AddInput).out
    expect(toHex(spent.scriptPubKey)).toBe(toHex(p2wpkhScript(pub)))
    const input = { tx: unsigned, index: accepterIndex, scriptCode: p2wpkhScriptCode(pub), amount: spent.value }
    const sig = signInput(secp, input, SIGHASH_ALL, key)
    expect(verifyInput(secp, input, SIGHASH_ALL, sig, pub)).toBe(true)
    const accepterWitness = [encodeTxSignature(sig, SIGHASH_ALL), pub]
    expect(accepterWitness.map(toHex)).toEqual(witnessItems(v.accepter_tx_signatures.witnesses[0]?.witness_data ?? "").map(toHex))
    const openerIndex = inputs.findIndex((i) => i.serial_id === v.opener_tx_add_input[0]?.serial_id)
    const signed = setWitness(setWitness(unsigned, accepterIndex, accepterWitness), openerIndex, witnessItems(v.opener_tx_signatures.witnesses[0]?.witness_data ?? ""))
    expect(toHex(serializeTransaction(signed))).toBe(v.signed_funding_tx)
    expect(txidToHex(txid(signed))).toBe(v.opener_tx_signatures.txid)
  })
})
