/**
 * BOLT 3 Appendix C (16 legacy tests) and Appendix F (9 anchors tests): every commitment
 * transaction and every HTLC transaction byte for byte, and every signature reproduced by
 * signing with the vector keys (RFC 6979 is deterministic).
 */
import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import type { ChannelType } from "../../../src/protocol/channel-type.ts"
import { deriveCommitmentKeys } from "../../../src/protocol/keys/commitment-keys.ts"
import { derivePrivateKey, perCommitmentPoint } from "../../../src/protocol/keys/derivation.ts"
import { compactToDer, decodeTxSignature, derToCompact } from "../../../src/protocol/tx/bitcoin/der.ts"
import { SIGHASH_ALL, SIGHASH_SINGLE_ANYONECANPAY } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import { decodeTransaction, serializeTransaction, txid, txidToHex } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentTransaction } from "../../../src/protocol/tx/commitment.ts"
import { buildHtlcTransaction, buildHtlcTransactions } from "../../../src/protocol/tx/htlc.ts"
import { fundingScript } from "../../../src/protocol/tx/scripts.ts"
import {
  finalizeCommitment,
  finalizeHtlcTransaction,
  preimageMatches,
  signCommitment,
  signHtlcAsLocal,
  signHtlcAsRemote,
  verifyCommitmentSignature,
  verifyRemoteHtlcSignature
} from "../../../src/protocol/tx/signing.ts"
import { anchors, anchorsType, basepointsOf, type Common, type CommitmentVector, keysOf, legacy, legacyType, ok, paramsOf, pk, priv, secp } from "./fixtures.ts"

describe("Appendix C common values", () => {
  const c = legacy.common
  const d = c.internal_derivation_values
  it("funding script", () => {
    expect(toHex(fundingScript(pk(c.local_funding_pubkey), pk(c.remote_funding_pubkey)))).toBe(c.funding_wscript)
  })
  it("obscuring factor", () => {
    const p = paramsOf(c, legacy.tests[0] as CommitmentVector, legacyType)
    expect(p.obscuringFactor.toString(16).padStart(12, "0")).toBe(c.obscuring_factor)
  })
  it("per-commitment keys derive from the basepoints", () => {
    const point = ok(perCommitmentPoint(secp, fromHex(d.x_local_per_commitment_secret)))
    expect(toHex(point)).toBe(d.local_per_commitment_point)
    const { counterparty, owner } = basepointsOf(c)
    const keys = ok(deriveCommitmentKeys(secp, owner, counterparty, point))
    const expected = keysOf(c)
    expect(toHex(keys.revocationPubkey)).toBe(toHex(expected.revocationPubkey))
    expect(toHex(keys.localDelayedPubkey)).toBe(toHex(expected.localDelayedPubkey))
    expect(toHex(keys.localHtlcPubkey)).toBe(toHex(expected.localHtlcPubkey))
    expect(toHex(keys.remoteHtlcPubkey)).toBe(toHex(expected.remoteHtlcPubkey))
    expect(toHex(keys.remotePaymentPubkey)).toBe(toHex(expected.remotePaymentPubkey))
    // private keys: localprivkey (payment = htlc basepoint here), remote htlc privkey, delayed privkey
    expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(d.local_payment_basepoint_secret), point))))).toBe(c.local_privkey)
    expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(d.remote_payment_basepoint_secret), point))))).toBe(d.remote_privkey)
    expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(d.local_delayed_payment_basepoint_secret), point))))).toBe(d.local_delayed_privkey)
  })
})

const runSuite = (label: string, common: Common, tests: ReadonlyArray<CommitmentVector>, type: ChannelType, expectedCount: number): void => {
  describe(label, () => {
    const d = common.internal_derivation_values
    const localFunding = priv(common.local_funding_privkey)
    const remoteFunding = priv(d.remote_funding_privkey)
    const localHtlc = priv(common.local_privkey)
    const remoteHtlc = priv(d.remote_privkey)

    it(`has ${expectedCount} tests`, () => expect(tests.length).toBe(expectedCount))

    for (const t of tests) {
      it(t.name, () => {
        const commitment = ok(buildCommitmentTransaction(paramsOf(common, t, type)))

        // fee and outputs as the spec comments state them (legacy vectors print these)
        if (t.base_fee_satoshi !== undefined) expect(Number(commitment.baseFee)).toBe(t.base_fee_satoshi)
        if (t.actual_fee_satoshi !== undefined) expect(Number(commitment.fee)).toBe(t.actual_fee_satoshi)
        if (t.outputs !== undefined) {
          const expected = t.outputs.map((o) => `${o.type}:${o.htlc_id ?? ""}:${o.amount_satoshi}:${o.wscript ?? ""}`).sort()
          const kindName = (k: string) => (k === "offered_htlc" ? "htlc_offered" : k === "received_htlc" ? "htlc_received" : k)
          // The last legacy test prints only its HTLC outputs (no to_local/to_remote comments).
          const printsBalances = t.outputs.some((o) => o.type === "to_local" || o.type === "to_remote")
          const actual = commitment.outputs
            .filter((o) => printsBalances || o.htlc !== undefined)
            .map((o) => `${kindName(o.kind)}:${o.htlc?.id ?? ""}:${o.amount}:${o.kind === "to_remote" ? "" : toHex(o.witnessScript ?? new Uint8Array(0))}`)
            .sort()
          expect(actual).toEqual(expected)
        }
        expect(commitment.htlcOutputs.length + commitment.trimmedHtlcs.length).toBe(t.htlc_ids.length)

        // signatures: both reproduced exactly, and they verify
        const localSig = signCommitment(secp, commitment, localFunding)
        const remoteSig = signCommitment(secp, commitment, remoteFunding)
        expect(toHex(compactToDer(remoteSig))).toBe(t.remote_signature)
        if (t.local_signature !== undefined) expect(toHex(compactToDer(localSig))).toBe(t.local_signature)
        expect(verifyCommitmentSignature(secp, commitment, remoteSig, pk(common.remote_funding_pubkey))).toBe(true)
        expect(verifyCommitmentSignature(secp, commitment, localSig, pk(common.remote_funding_pubkey))).toBe(false)

        const signed = finalizeCommitment(commitment, localSig, remoteSig)
        expect(toHex(serializeTransaction(signed))).toBe(t.commit_tx)

        // HTLC transactions in commitment output order
        const htlcTxs = buildHtlcTransactions(commitment)
        expect(htlcTxs.length).toBe(t.htlc_txs.length)
        const commitTxid = txid(commitment.tx)
        // an output that is not an HTLC output (or out of range) builds no HTLC transaction
        for (const o of commitment.outputs.filter((x) => x.htlc === undefined))
          expect(Result.isFailure(buildHtlcTransaction(commitment, commitTxid, o.index))).toBe(true)
        expect(Result.isFailure(buildHtlcTransaction(commitment, commitTxid, commitment.outputs.length))).toBe(true)
        htlcTxs.forEach((h, i) => {
          const v = t.htlc_txs[i]
          if (v === undefined) throw new Error("missing vector")
          expect(h.commitmentOutputIndex).toBe(v.commit_output_index)
          expect(h.kind).toBe(v.type)
          expect(h.htlc.id).toBe(v.htlc_id)
          expect(txidToHex(h.tx.inputs[0]?.prevout.txid ?? commitTxid)).toBe(txidToHex(commitTxid))
          const remote = signHtlcAsRemote(secp, h, remoteHtlc)
          const local = signHtlcAsLocal(secp, h, localHtlc)
          expect(toHex(compactToDer(remote))).toBe(v.remote_htlc_signature)
          if (v.local_htlc_signature !== undefined) expect(toHex(compactToDer(local))).toBe(v.local_htlc_signature)
          expect(verifyRemoteHtlcSignature(secp, h, remote, pk(common.remote_htlcpubkey))).toBe(true)
          if (h.kind === "htlc-success") {
            expect(preimageMatches(h, h.htlc.preimage)).toBe(true)
            expect(preimageMatches(h, new Uint8Array(32).fill(9))).toBe(false)
          }
          const final = ok(finalizeHtlcTransaction(h, remote, local, h.kind === "htlc-success" ? h.htlc.preimage : undefined))
          expect(toHex(serializeTransaction(final))).toBe(v.tx)
          // a wrong, missing or superfluous preimage, or a non-compact signature, is a typed error
          const refused = (pre: Uint8Array | undefined, r: Uint8Array = remote): string => {
            const f = finalizeHtlcTransaction(h, r, local, pre)
            return Result.isFailure(f) ? f.failure._tag : "built"
          }
          if (h.kind === "htlc-success") {
            expect(refused(undefined)).toBe("HtlcTransactionError")
            expect(refused(new Uint8Array(32).fill(9))).toBe("HtlcTransactionError")
            expect(refused(h.htlc.preimage.subarray(0, 31))).toBe("HtlcTransactionError")
          } else {
            expect(refused(new Uint8Array(32))).toBe("HtlcTransactionError")
          }
          expect(refused(h.kind === "htlc-success" ? h.htlc.preimage : undefined, compactToDer(remote))).toBe("HtlcTransactionError")

          // the same transaction built alone from the commitment's txid and the output index
          expect(toHex(serializeTransaction(ok(buildHtlcTransaction(commitment, commitTxid, h.commitmentOutputIndex)).tx))).toBe(
            toHex(serializeTransaction(h.tx))
          )

          // the witness carries the right sighash types
          const decoded = ok(decodeTransaction(fromHex(v.tx)))
          const w = decoded.inputs[0]?.witness ?? []
          const remoteW = ok(decodeTxSignature(w[1] ?? new Uint8Array(0)))
          const localW = ok(decodeTxSignature(w[2] ?? new Uint8Array(0)))
          expect(remoteW.sighashType).toBe(type.anchors ? SIGHASH_SINGLE_ANYONECANPAY : SIGHASH_ALL)
          expect(localW.sighashType).toBe(SIGHASH_ALL)
          expect(toHex(localW.compact)).toBe(toHex(local))
          expect(toHex(ok(derToCompact(fromHex(v.remote_htlc_signature))))).toBe(toHex(remote))
        })
      })
    }
  })
}

runSuite("BOLT 3 Appendix C: legacy (static_remotekey) commitment and HTLC transactions", legacy.common, legacy.tests, legacyType, 16)
runSuite("BOLT 3 Appendix F: anchors commitment and HTLC transactions", anchors.common, anchors.tests, anchorsType, 9)
