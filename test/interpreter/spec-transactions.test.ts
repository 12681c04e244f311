/**
 * Validates the interpreter harness itself on the spec's own transactions: every transaction of
 * BOLT 3 Appendices B, C and F (funding, commitment, HTLC-success/timeout, legacy and anchors)
 * spends its prevout under the standard flags; and the harness is not a rubber stamp: a flipped
 * signature bit, a wrong amount or a wrong prevout script is rejected.
 */
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import all from "../vectors/derived/bolt03-all-transactions.json" with { type: "json" }
import { isFinalAt, parseTx, verifyInput, verifyTx, type ParsedTx, type Prevout } from "./bitcore.ts"

const hexes = [all.coinbase, all.funding, ...all.txs.map((t) => t.hex)]
const parsed = new Map<string, ParsedTx>(hexes.map((h) => {
  const t = parseTx(h)
  return [t.txid, t]
}))

const prevoutsOf = (hex: string): ReadonlyArray<Prevout> =>
  parseTx(hex).inputs.map((i) => {
    const out = parsed.get(i.txid)?.outputs[i.vout]
    if (out === undefined) throw new Error(`prevout ${i.txid}:${i.vout} not among the spec transactions`)
    return out
  })

describe("every BOLT 3 transaction spends its prevouts in bitcore's interpreter", () => {
  it("the funding transaction (Appendix B, P2PKH coinbase spend)", () => {
    expect(verifyTx(all.funding, prevoutsOf(all.funding))).toEqual({ ok: true, error: "" })
  })

  for (const t of all.txs) {
    it(`${t.appendix}: ${t.name}: ${t.kind}`, () => {
      expect(verifyTx(t.hex, prevoutsOf(t.hex))).toEqual({ ok: true, error: "" })
    })
  }

  it("HTLC-timeout transactions are final only after their cltv_expiry; the others at once", () => {
    for (const t of all.txs) {
      const tx = parseTx(t.hex)
      if (t.kind.startsWith("htlc_timeout") || (t.kind.startsWith("htlc resolution") && tx.locktime !== 0)) {
        expect(tx.locktime).toBeGreaterThan(0)
        expect(tx.locktime).toBeLessThan(500_000_000)
        expect(isFinalAt(t.hex, tx.locktime)).toBe(false)
        expect(isFinalAt(t.hex, tx.locktime + 1)).toBe(true)
      } else {
        expect(isFinalAt(t.hex, 1)).toBe(true)
      }
    }
  })

  it("covers all 73 spec transactions of Appendices C and F", () => {
    expect(all.txs.length).toBe(73)
    expect(all.txs.filter((t) => t.kind.startsWith("commit")).length).toBe(16 + 9)
  })
})

describe("the harness rejects what it must", () => {
  const flipInside = (txHex: string, element: Uint8Array, at: number): string => {
    const original = toHex(element)
    const tampered = element.slice()
    tampered[at] = (tampered[at] ?? 0) ^ 0x01
    const pos = txHex.indexOf(original)
    expect(pos).toBeGreaterThan(0)
    return txHex.slice(0, pos) + toHex(tampered) + txHex.slice(pos + original.length)
  }

  for (const t of all.txs) {
    it(`${t.appendix}: ${t.name}: ${t.kind}: tampered signature, wrong amount, wrong script`, () => {
      const tx = parseTx(t.hex)
      const [prevout] = prevoutsOf(t.hex)
      if (prevout === undefined) throw new Error("unreachable")
      // Witness: [empty, sig, sig, (preimage or empty), script] for 2-of-2 and HTLC txs.
      const sig = tx.inputs[0]?.witness[1]
      if (sig === undefined) throw new Error("no signature in witness")
      // Byte 10 lies inside r; flipping it keeps the DER encoding valid.
      expect(verifyInput(flipInside(t.hex, sig, 10), 0, prevout).ok).toBe(false)
      expect(verifyInput(t.hex, 0, { ...prevout, value: prevout.value - 1n }).ok).toBe(false)
      expect(verifyInput(t.hex, 0, { ...prevout, value: prevout.value + 1n }).ok).toBe(false)
      const otherScript = prevout.script.slice()
      otherScript[5] = (otherScript[5] ?? 0) ^ 0x01
      expect(verifyInput(t.hex, 0, { ...prevout, script: otherScript }).ok).toBe(false)
    })
  }

  it("the funding tx against a wrong P2PKH script", () => {
    const [prevout] = prevoutsOf(all.funding)
    if (prevout === undefined) throw new Error("unreachable")
    expect(verifyInput(all.funding, 0, prevout).ok).toBe(true)
    const script = prevout.script.slice()
    script[4] = (script[4] ?? 0) ^ 0x01
    expect(verifyInput(all.funding, 0, { ...prevout, script }).ok).toBe(false)
    expect(verifyInput(fromHex(all.funding), 0, prevout).ok).toBe(true)
  })
})
