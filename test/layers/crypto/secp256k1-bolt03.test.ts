/**
 * The BOLT 3 vectors with EVERY secp256k1 implementation (noble, WASM, native: `backends.ts`),
 * through the BOLT 3 code itself (`src/protocol/keys`, `src/protocol/tx`): Appendix E key
 * derivation, the Appendix C per-commitment keys, and every commitment and HTLC signature of
 * Appendices C (16 tests) and F (9 tests) reproduced byte for byte (RFC 6979) and verified, with
 * the signed transactions byte for byte. The builders' own vector tests run with noble; this
 * runs the fast ones too.
 */
import { describe, expect, it } from "vitest"
import { Redacted } from "effect"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { secp256k1Backends } from "./backends.ts"
import type { ChannelType } from "../../../src/protocol/channel-type.ts"
import { deriveCommitmentKeys } from "../../../src/protocol/keys/commitment-keys.ts"
import {
  derivePrivateKey,
  derivePublicKey,
  deriveRevocationPrivateKey,
  deriveRevocationPublicKey,
  perCommitmentPoint
} from "../../../src/protocol/keys/derivation.ts"
import { compactToDer } from "../../../src/protocol/tx/bitcoin/der.ts"
import { serializeTransaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { buildCommitmentTransaction } from "../../../src/protocol/tx/commitment.ts"
import { buildHtlcTransactions } from "../../../src/protocol/tx/htlc.ts"
import {
  finalizeCommitment,
  finalizeHtlcTransaction,
  signCommitment,
  signHtlcAsLocal,
  signHtlcAsRemote,
  verifyCommitmentSignature,
  verifyRemoteHtlcSignature
} from "../../../src/protocol/tx/signing.ts"
import keyDerivation from "../../vectors/bolt03-key-derivation.json" with { type: "json" }
import { anchors, anchorsType, basepointsOf, legacy, legacyType, ok, paramsOf, pk, priv, type Common, type CommitmentVector } from "../../protocol/tx/fixtures.ts"

const impls: ReadonlyArray<Secp256k1> = secp256k1Backends

for (const secp of impls) {
  describe(`BOLT 3 Appendix E with ${secp.name}`, () => {
    const { inputs, vectors } = keyDerivation
    const out = (name: string): string => vectors.find((v) => v.output_name === name)?.output ?? "missing"
    const basePoint = fromHex(inputs.base_point)
    const point = fromHex(inputs.per_commitment_point)

    it("per_commitment_point, localpubkey, localprivkey, revocationpubkey, revocationprivkey", () => {
      expect(toHex(ok(perCommitmentPoint(secp, fromHex(inputs.per_commitment_secret))))).toBe(inputs.per_commitment_point)
      expect(toHex(ok(derivePublicKey(secp, basePoint, point)))).toBe(out("localpubkey"))
      expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(inputs.base_secret), point))))).toBe(out("localprivkey"))
      expect(toHex(ok(deriveRevocationPublicKey(secp, basePoint, point)))).toBe(out("revocationpubkey"))
      expect(toHex(Redacted.value(ok(deriveRevocationPrivateKey(secp, priv(inputs.base_secret), fromHex(inputs.per_commitment_secret)))))).toBe(
        out("revocationprivkey")
      )
    })
  })

  describe(`BOLT 3 Appendix C per-commitment keys with ${secp.name}`, () => {
    it("every key derived from the internal secrets and basepoints", () => {
      const c = legacy.common
      const d = c.internal_derivation_values
      const point = ok(perCommitmentPoint(secp, fromHex(d.x_local_per_commitment_secret)))
      expect(toHex(point)).toBe(d.local_per_commitment_point)
      const { counterparty, owner } = basepointsOf(c)
      const keys = ok(deriveCommitmentKeys(secp, owner, counterparty, point))
      expect(toHex(keys.revocationPubkey)).toBe(c.local_revocation_pubkey)
      expect(toHex(keys.localDelayedPubkey)).toBe(c.local_delayedpubkey)
      expect(toHex(keys.localHtlcPubkey)).toBe(c.local_htlcpubkey)
      expect(toHex(keys.remoteHtlcPubkey)).toBe(c.remote_htlcpubkey)
      expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(d.local_payment_basepoint_secret), point))))).toBe(c.local_privkey)
      expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(d.remote_payment_basepoint_secret), point))))).toBe(d.remote_privkey)
      expect(toHex(Redacted.value(ok(derivePrivateKey(secp, priv(d.local_delayed_payment_basepoint_secret), point))))).toBe(d.local_delayed_privkey)
    })
  })

  const suite = (label: string, common: Common, tests: ReadonlyArray<CommitmentVector>, type: ChannelType, count: number) =>
    describe(`${label} signatures with ${secp.name}`, () => {
      const d = common.internal_derivation_values
      it(`has ${count} tests`, () => expect(tests.length).toBe(count))
      for (const t of tests) {
        it(t.name, () => {
          const commitment = ok(buildCommitmentTransaction(paramsOf(common, t, type)))
          const localSig = signCommitment(secp, commitment, priv(common.local_funding_privkey))
          const remoteSig = signCommitment(secp, commitment, priv(d.remote_funding_privkey))
          expect(toHex(compactToDer(remoteSig))).toBe(t.remote_signature)
          if (t.local_signature !== undefined) expect(toHex(compactToDer(localSig))).toBe(t.local_signature)
          expect(verifyCommitmentSignature(secp, commitment, remoteSig, pk(common.remote_funding_pubkey))).toBe(true)
          expect(verifyCommitmentSignature(secp, commitment, localSig, pk(common.local_funding_pubkey))).toBe(true)
          expect(verifyCommitmentSignature(secp, commitment, localSig, pk(common.remote_funding_pubkey))).toBe(false)
          expect(toHex(serializeTransaction(finalizeCommitment(commitment, localSig, remoteSig)))).toBe(t.commit_tx)
          const htlcTxs = buildHtlcTransactions(commitment)
          expect(htlcTxs.length).toBe(t.htlc_txs.length)
          htlcTxs.forEach((h, i) => {
            const v = t.htlc_txs[i]
            if (v === undefined) throw new Error("missing vector")
            const remote = signHtlcAsRemote(secp, h, priv(d.remote_privkey))
            const local = signHtlcAsLocal(secp, h, priv(common.local_privkey))
            expect(toHex(compactToDer(remote))).toBe(v.remote_htlc_signature)
            if (v.local_htlc_signature !== undefined) expect(toHex(compactToDer(local))).toBe(v.local_htlc_signature)
            expect(verifyRemoteHtlcSignature(secp, h, remote, pk(common.remote_htlcpubkey))).toBe(true)
            expect(verifyRemoteHtlcSignature(secp, h, local, pk(common.remote_htlcpubkey))).toBe(false)
            const preimage = h.kind === "htlc-success" ? h.htlc.preimage : undefined
            expect(toHex(serializeTransaction(ok(finalizeHtlcTransaction(h, remote, local, preimage))))).toBe(v.tx)
          })
        })
      }
    })

  suite("BOLT 3 Appendix C", legacy.common, legacy.tests, legacyType, 16)
  suite("BOLT 3 Appendix F", anchors.common, anchors.tests, anchorsType, 9)
}
