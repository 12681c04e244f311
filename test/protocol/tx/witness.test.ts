/**
 * Witness builders: each stack has the shape BOLT 3 prescribes, ends with the script the
 * spent output commits to, and its signature verifies for the key that script checks.
 * (Execution by a real script interpreter is covered by the interpreter tests.)
 */
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { derivePrivateKey, deriveRevocationPrivateKey } from "../../../src/protocol/keys/derivation.ts"
import { publicKeyOf } from "../../../src/protocol/keys/keys.ts"
import { decodeTxSignature, encodeTxSignature } from "../../../src/protocol/tx/bitcoin/der.ts"
import { p2wshScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { SIGHASH_ALL } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import { makeInput, txid, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentTransaction } from "../../../src/protocol/tx/commitment.ts"
import { buildHtlcTransactions } from "../../../src/protocol/tx/htlc.ts"
import { signInput, verifyInput } from "../../../src/protocol/tx/signing.ts"
import * as W from "../../../src/protocol/tx/witness.ts"
import { sat } from "../../../src/protocol/units.ts"
import { anchors, anchorsType, legacy, legacyType, ok, paramsOf, pk, priv, secp, type CommitmentVector } from "./fixtures.ts"

const d = legacy.common.internal_derivation_values
const point = pk(d.local_per_commitment_point)
const localDelayed = priv(d.local_delayed_privkey)
const remoteHtlc = priv(d.remote_privkey)
const revocation = ok(deriveRevocationPrivateKey(secp, priv(d.remote_revocation_basepoint_secret), Redacted.value(priv(d.x_local_per_commitment_secret))))
const remotePayment = priv(d.remote_payment_basepoint_secret)
const localFunding = priv(legacy.common.local_funding_privkey)
const remoteFunding = priv(d.remote_funding_privkey)

const spend = (prev: Transaction, vout: number, sequence: number, locktime: number): Transaction => ({
  version: 2,
  inputs: [makeInput({ txid: txid(prev), vout }, sequence)],
  outputs: [{ value: sat(1000n), scriptPubKey: p2wshScript(Uint8Array.of(0x51)) }],
  locktime
})

for (const [name, type, vectors] of [["legacy", legacyType, legacy], ["anchors", anchorsType, anchors]] as const) {
  describe(`witness paths (${name})`, () => {
    const t = vectors.tests.find((x) => x.name.includes("untrimmed")) as CommitmentVector
    const c = ok(buildCommitmentTransaction(paramsOf(vectors.common, t, type)))

    it("the derived private keys match the script keys", () => {
      expect(toHex(publicKeyOf(secp, revocation))).toBe(toHex(c.params.keys.revocationPubkey))
      expect(toHex(publicKeyOf(secp, localDelayed))).toBe(toHex(c.params.keys.localDelayedPubkey))
      expect(toHex(publicKeyOf(secp, ok(derivePrivateKey(secp, priv(d.local_payment_basepoint_secret), point))))).toBe(toHex(c.params.keys.localHtlcPubkey))
    })

    it("every output path: stack shape, script last, signature verifies", () => {
      let checked = 0
      for (const o of c.outputs) {
        const script = o.witnessScript
        const check = (witness: ReadonlyArray<Uint8Array>, key: typeof localDelayed, sequence: number, locktime: number, sigIndex: number) => {
          const tx = spend(c.tx, o.index, sequence, locktime)
          const input = { tx, index: 0, scriptCode: script ?? new Uint8Array(0), amount: o.amount }
          const sig = signInput(secp, input, SIGHASH_ALL, key)
          const w = witness.map((x) => (x.length === 1 && x[0] === 0xee ? encodeTxSignature(sig, SIGHASH_ALL) : x))
          const last = w[w.length - 1]
          if (script !== undefined) expect(toHex(p2wshScript(last ?? new Uint8Array(0)))).toBe(toHex(o.scriptPubKey))
          const decoded = ok(decodeTxSignature(w[sigIndex] ?? new Uint8Array(0)))
          expect(verifyInput(secp, input, decoded.sighashType, decoded.compact, publicKeyOf(secp, key))).toBe(true)
          checked++
        }
        const SIG = Uint8Array.of(0xee)
        const s = script ?? new Uint8Array(0)
        switch (o.kind) {
          case "to_local":
            check(W.toLocalDelayedWitness(SIG, s), localDelayed, c.params.toSelfDelay, 0, 0)
            check(W.toLocalRevocationWitness(SIG, s), revocation, 0xffffffff, 0, 0)
            expect(W.toLocalRevocationWitness(SIG, s)[1]).toEqual(Uint8Array.of(1))
            expect(W.toLocalDelayedWitness(SIG, s)[1]?.length).toBe(0)
            break
          case "to_remote":
            if (type.anchors) check(W.toRemoteAnchorsWitness(SIG, s), remotePayment, 1, 0, 0)
            else {
              const w = W.toRemoteP2wpkhWitness(SIG, c.params.keys.remotePaymentPubkey)
              expect(w.length).toBe(2)
              expect(toHex(w[1] ?? new Uint8Array(0))).toBe(toHex(publicKeyOf(secp, remotePayment)))
            }
            break
          case "local_anchor":
            check(W.anchorWitness(SIG, s), localFunding, 0xfffffffd, 0, 0)
            expect(W.anchorSweepWitness(s)[0]?.length).toBe(0)
            break
          case "remote_anchor":
            check(W.anchorWitness(SIG, s), remoteFunding, 0xfffffffd, 0, 0)
            break
          case "offered_htlc": {
            const preimage = (o.htlc as { preimage: Uint8Array }).preimage
            check(W.offeredHtlcPreimageClaimWitness(SIG, preimage, s), remoteHtlc, type.htlcInputSequence, 0, 0)
            check(W.htlcRevocationWitness(SIG, c.params.keys.revocationPubkey, s), revocation, 0xffffffff, 0, 0)
            break
          }
          case "received_htlc":
            check(W.receivedHtlcTimeoutClaimWitness(SIG, s), remoteHtlc, type.htlcInputSequence, o.htlc?.cltvExpiry ?? 0, 0)
            expect(W.receivedHtlcTimeoutClaimWitness(SIG, s)[1]?.length).toBe(0)
            check(W.htlcRevocationWitness(SIG, c.params.keys.revocationPubkey, s), revocation, 0xffffffff, 0, 0)
            break
        }
      }
      expect(checked).toBeGreaterThan(8)
    })

    it("second-stage outputs: delayed and revocation paths", () => {
      for (const h of buildHtlcTransactions(c)) {
        const out = h.tx.outputs[0]
        if (out === undefined) throw new Error("no output")
        expect(toHex(p2wshScript(h.outputWitnessScript))).toBe(toHex(out.scriptPubKey))
        for (const [w, key, seq] of [
          [W.htlcTxOutputDelayedWitness(Uint8Array.of(0xee), h.outputWitnessScript), localDelayed, c.params.toSelfDelay],
          [W.htlcTxOutputRevocationWitness(Uint8Array.of(0xee), h.outputWitnessScript), revocation, 0xffffffff]
        ] as const) {
          const tx = spend(h.tx, 0, seq, 0)
          const input = { tx, index: 0, scriptCode: h.outputWitnessScript, amount: out.value }
          const sig = signInput(secp, input, SIGHASH_ALL, key)
          expect(verifyInput(secp, input, SIGHASH_ALL, sig, publicKeyOf(secp, key))).toBe(true)
          // the signing key is one the script checks, and the stack selects its branch
          expect(toHex(h.outputWitnessScript).includes(toHex(publicKeyOf(secp, key)))).toBe(true)
          expect(w.length).toBe(3)
          expect(toHex(w[1] ?? Uint8Array.of(0xff))).toBe(key === revocation ? "01" : "")
          expect(toHex(w[2] ?? new Uint8Array(0))).toBe(toHex(h.outputWitnessScript))
        }
      }
    })
  })
}
