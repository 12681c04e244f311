/**
 * The BOLT 3 / BOLT 5 expected weights (bolt03-bolt05-expected-weights.json) checked against
 * the scripts, witnesses and transactions this library builds, with 73-byte signatures.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { anchorsZeroFeeHtlcTx, staticRemoteKey, type ChannelType } from "../../../src/protocol/channel-type.ts"
import { p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { makeInput, setWitness, txidFromBytes, weight, witnessSize, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentTransaction, type CommitmentHtlc } from "../../../src/protocol/tx/commitment.ts"
import { buildHtlcTransactions } from "../../../src/protocol/tx/htlc.ts"
import { fundingOutput } from "../../../src/protocol/tx/funding.ts"
import { offeredHtlcScript, receivedHtlcScript, toLocalScript } from "../../../src/protocol/tx/scripts.ts"
import {
  fundingWitness,
  htlcRevocationWitness,
  htlcSuccessWitness,
  htlcTimeoutWitness,
  toLocalRevocationWitness
} from "../../../src/protocol/tx/witness.ts"
import {
  ACCEPTED_HTLC_PENALTY_WITNESS,
  acceptedHtlcScriptSize,
  expectedCommitmentWeight,
  expectedFundingWeight,
  expectedHtlcSuccessWeight,
  expectedHtlcTimeoutWeight,
  OFFERED_HTLC_PENALTY_WITNESS,
  offeredHtlcScriptSize,
  TO_LOCAL_PENALTY_WITNESS
} from "../../../src/protocol/tx/weights.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { keysOf, legacy, ok, paramsOf, type CommitmentVector } from "./fixtures.ts"
import { VECTORS_DIR } from "../../vectors.ts"

const W = JSON.parse(readFileSync(`${VECTORS_DIR}/bolt03-bolt05-expected-weights.json`, "utf8")) as {
  bolt03: {
    commitment_tx: { no_anchors: { witness_weight: number }; anchors: { witness_weight: number }; component_bytes: Record<string, number> }
    htlc_tx: {
      non_witness_weight: number
      htlc_timeout_weight: { no_anchors: number; anchors: number }
      htlc_success_weight: { no_anchors: number; anchors: number }
      component_bytes: {
        accepted_htlc_script: { no_anchors: number; anchors: number }
        offered_htlc_script: { no_anchors: number; anchors: number }
        timeout_witness: { no_anchors: number; anchors: number }
        success_witness: { no_anchors: number; anchors: number }
      }
    }
  }
  bolt05_penalty_witness_bytes: Record<string, number>
}

/** A maximum-size (73-byte) witness signature: 72-byte DER with 33-byte R and S, plus sighash. */
const SIG73 = Uint8Array.from([0x30, 0x46, 0x02, 0x21, 0x00, ...new Array<number>(32).fill(0x81), 0x02, 0x21, 0x00, ...new Array<number>(32).fill(0x82), 0x01])
const keys = keysOf(legacy.common)
const hash = sha256(new Uint8Array(32))
const variant = (type: ChannelType): "anchors" | "no_anchors" => (type.anchors ? "anchors" : "no_anchors")

describe("expected weights", () => {
  it("the signature stand-in is 73 bytes", () => expect(SIG73.length).toBe(73))

  for (const type of [staticRemoteKey, anchorsZeroFeeHtlcTx]) {
    describe(type.name, () => {
      it("HTLC script sizes", () => {
        expect(offeredHtlcScript(keys, hash, type.anchors).length).toBe(W.bolt03.htlc_tx.component_bytes.offered_htlc_script[variant(type)])
        expect(offeredHtlcScriptSize(type)).toBe(W.bolt03.htlc_tx.component_bytes.offered_htlc_script[variant(type)])
        // a 4-byte cltv_expiry (>= 2^23) gives the spec's figure
        expect(receivedHtlcScript(keys, hash, 8_400_000, type.anchors).length).toBe(W.bolt03.htlc_tx.component_bytes.accepted_htlc_script[variant(type)])
        expect(acceptedHtlcScriptSize(type)).toBe(W.bolt03.htlc_tx.component_bytes.accepted_htlc_script[variant(type)])
      })

      it("HTLC witnesses and transaction weights", () => {
        const offered = offeredHtlcScript(keys, hash, type.anchors)
        const received = receivedHtlcScript(keys, hash, 8_400_000, type.anchors)
        const timeoutW = htlcTimeoutWitness(SIG73, SIG73, offered)
        const successW = htlcSuccessWitness(SIG73, SIG73, new Uint8Array(32), received)
        expect(witnessSize(timeoutW)).toBe(W.bolt03.htlc_tx.component_bytes.timeout_witness[variant(type)])
        expect(witnessSize(successW)).toBe(W.bolt03.htlc_tx.component_bytes.success_witness[variant(type)])

        // build real HTLC transactions (one offered, one received) and fill in max-size witnesses
        const t = legacy.tests[0] as CommitmentVector
        const htlcs: Array<CommitmentHtlc> = [
          { direction: "offered", amount: msat(5_000_000n), paymentHash: hash, cltvExpiry: 8_400_000 },
          { direction: "received", amount: msat(6_000_000n), paymentHash: hash, cltvExpiry: 8_400_000 }
        ]
        const base = paramsOf(legacy.common, t, type)
        const c = ok(buildCommitmentTransaction({ ...base, toLocal: msat(base.toLocal - 11_000_000n), htlcs, feeratePerKw: 253 }))
        const txs = buildHtlcTransactions(c)
        expect(txs.length).toBe(2)
        for (const h of txs) {
          const w =
            h.kind === "htlc-timeout"
              ? htlcTimeoutWitness(SIG73, SIG73, h.inputWitnessScript)
              : htlcSuccessWitness(SIG73, SIG73, new Uint8Array(32), h.inputWitnessScript)
          const full = setWitness(h.tx, 0, w)
          expect(weight({ ...h.tx, inputs: h.tx.inputs.map((i) => ({ ...i, witness: [] })) }) ).toBe(W.bolt03.htlc_tx.non_witness_weight)
          if (h.kind === "htlc-timeout") {
            expect(weight(full)).toBe(W.bolt03.htlc_tx.htlc_timeout_weight[variant(type)])
            expect(expectedHtlcTimeoutWeight(type)).toBe(W.bolt03.htlc_tx.htlc_timeout_weight[variant(type)])
          } else {
            // "really 702 and 705, but we use these numbers for historical reasons"
            expect(weight(full)).toBe(W.bolt03.htlc_tx.htlc_success_weight[variant(type)] - 1)
            expect(expectedHtlcSuccessWeight(type)).toBe(W.bolt03.htlc_tx.htlc_success_weight[variant(type)])
          }
        }
      })

      it("commitment transaction weight: base + 172 per HTLC output, with both balance outputs", () => {
        const t = legacy.tests[0] as CommitmentVector
        const base = paramsOf(legacy.common, t, type)
        for (const n of [0, 1, 3, 20]) {
          const htlcs: Array<CommitmentHtlc> = Array.from({ length: n }, (_, i) => ({
            direction: i % 2 === 0 ? "offered" : "received",
            amount: msat(1_000_000n),
            paymentHash: hash,
            cltvExpiry: 500 + i
          }))
          const c = ok(buildCommitmentTransaction({ ...base, toLocal: msat(base.toLocal - BigInt(n) * 1_000_000n), htlcs, feeratePerKw: 253 }))
          expect(c.htlcOutputs.length).toBe(n)
          const { localFundingPubkey: a, remoteFundingPubkey: b } = c.params
          const script = fundingOutput(base.fundingAmount, a, b).witnessScript
          const full = setWitness(c.tx, 0, fundingWitness(SIG73, SIG73, a, b, script))
          expect(witnessSize(full.inputs[0]?.witness ?? [])).toBe(W.bolt03.commitment_tx.component_bytes["witness"])
          // BOLT 3 Appendix A counts the anchors output count as 3 bytes ("count_tx_out: 3 byte"):
          // the real transaction is 2 bytes (8 weight) lighter than the expected weight.
          expect(weight(full)).toBe(expectedCommitmentWeight(type, n) - (type.anchors ? 8 : 0))
          const spec = type.anchors ? 1124 : 724
          expect(expectedCommitmentWeight(type, n)).toBe(spec + 172 * n)
        }
      })
    })
  }

  it("BOLT 5 penalty witnesses", () => {
    const P = W.bolt05_penalty_witness_bytes
    // to_local: BOLT 5 budgets 8 bytes for the delay; a u16 to_self_delay needs at most 3
    const toLocal = toLocalScript(keys.revocationPubkey, 0xffff, keys.localDelayedPubkey)
    expect(toLocal.length).toBeLessThanOrEqual(P["to_local_script"] ?? 0)
    expect(witnessSize(toLocalRevocationWitness(SIG73, toLocal))).toBeLessThanOrEqual(TO_LOCAL_PENALTY_WITNESS)
    expect(TO_LOCAL_PENALTY_WITNESS).toBe(P["to_local_penalty_witness"])
    const offered = offeredHtlcScript(keys, hash, false)
    expect(offered.length).toBe(P["offered_htlc_script"])
    expect(witnessSize(htlcRevocationWitness(SIG73, keys.revocationPubkey, offered))).toBe(OFFERED_HTLC_PENALTY_WITNESS)
    expect(OFFERED_HTLC_PENALTY_WITNESS).toBe(P["offered_htlc_penalty_witness"])
    // BOLT 5's 139-byte accepted script has a 3-byte cltv_expiry
    const accepted = receivedHtlcScript(keys, hash, 800_000, false)
    expect(accepted.length).toBe(P["accepted_htlc_script"])
    expect(witnessSize(htlcRevocationWitness(SIG73, keys.revocationPubkey, accepted))).toBe(ACCEPTED_HTLC_PENALTY_WITNESS)
    expect(ACCEPTED_HTLC_PENALTY_WITNESS).toBe(P["accepted_htlc_penalty_witness"])
  })

  it("funding transaction (v2) formula matches the serialized weight", () => {
    const fo = fundingOutput(sat(1_000_000n), keys.localHtlcPubkey, keys.remoteHtlcPubkey)
    const change = p2wpkhScript(keys.localHtlcPubkey)
    const inputs = [0, 1, 2].map((i) => makeInput({ txid: txidFromBytes(sha256(Uint8Array.of(i))), vout: i }, 0xfffffffd))
    let tx: Transaction = { version: 2, inputs, outputs: [{ value: fo.value, scriptPubKey: fo.scriptPubKey }, { value: sat(5000n), scriptPubKey: change }], locktime: 0 }
    const witnesses = [[SIG73, keys.localHtlcPubkey], [SIG73.subarray(1), keys.localHtlcPubkey], [SIG73, keys.remoteHtlcPubkey]]
    witnesses.forEach((w, i) => {
      tx = setWitness(tx, i, w)
    })
    expect(weight(tx)).toBe(expectedFundingWeight(3, [change.length], witnesses.map((w) => witnessSize(w))))
  })
})
