/**
 * Every spending path of the BOLT 3 scripts, run through a real script interpreter (bitcore-lib):
 * transactions built by `src/protocol/tx`, signed by the channel signers of two parties, then
 * evaluated input by input against the outputs they spend. For each path the valid spend
 * passes, and the invalid variants (tampered signature, wrong preimage, spend before its
 * CSV/CLTV) are rejected. Run for both channel types (static_remote_key and anchors).
 *
 * A spend "before its CSV/CLTV" is signed here with the raw key (derived from the test seed the
 * same way the signer derives it), because the signer itself refuses to sign such a spend;
 * that refusal is asserted too.
 */
import { describe, expect, it } from "vitest"
import { Redacted, Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { deriveSecret } from "../../src/protocol/keys/seed.ts"
import { anchorsZeroFeeHtlcTx, staticRemoteKey, type ChannelType } from "../../src/protocol/channel-type.ts"
import { deriveCommitmentKeys } from "../../src/protocol/keys/commitment-keys.ts"
import { derivePrivateKey } from "../../src/protocol/keys/derivation.ts"
import type { PrivateKey, PublicKey } from "../../src/protocol/keys/keys.ts"
import { encodeTxSignature } from "../../src/protocol/tx/bitcoin/der.ts"
import { p2wpkhScript, p2wpkhScriptCode as p2pkhScriptCode } from "../../src/protocol/tx/bitcoin/script.ts"
import { SIGHASH_ALL } from "../../src/protocol/tx/bitcoin/sighash.ts"
import {
  makeInput,
  serializeTransaction,
  setWitness,
  txid,
  type Transaction
} from "../../src/protocol/tx/bitcoin/transaction.ts"
import { buildLegacyClosingTransaction, buildSimpleClosingTransaction } from "../../src/protocol/tx/closing.ts"
import {
  buildCommitmentTransaction,
  commitmentNumberObscuringFactor,
  type CommitmentOutput,
  type CommitmentHtlc
} from "../../src/protocol/tx/commitment.ts"
import { fundingScript } from "../../src/protocol/tx/scripts.ts"
import { signInput } from "../../src/protocol/tx/signing.ts"
import {
  anchorSweepWitness,
  anchorWitness,
  fundingWitness,
  htlcRevocationWitness,
  htlcSuccessWitness,
  offeredHtlcPreimageClaimWitness,
  receivedHtlcTimeoutClaimWitness,
  toLocalDelayedWitness,
  toLocalRevocationWitness,
  toRemoteAnchorsWitness,
  toRemoteP2wpkhWitness,
  type Witness
} from "../../src/protocol/tx/witness.ts"
import { msat, sat, type Sat } from "../../src/protocol/units.ts"
import type { SpendDescriptor, SpendSignature } from "../../src/services/ChannelSigner.ts"
import {
  attempt,
  exchangeCommitment,
  failureTag,
  hex,
  htlc,
  must,
  openChannel,
  stateFor,
  type Channel,
  type Party
} from "../layers/signer/fixture.ts"
import { isFinalAt, parseTx, relativeLocksSatisfied, verifyInput, type Prevout } from "./bitcore.ts"

const FEERATE = 2500
const SINK = p2wpkhScript(sha256(Uint8Array.of(7)))

/** A one-input, one-output spend of output `vout` of `prev`, paying `value - 500` sat (or nothing, for an anchor) to a sink. */
const spend = (prev: Transaction, vout: number, value: Sat, sequence: number, locktime = 0): Transaction => ({
  version: 2,
  inputs: [makeInput({ txid: txid(prev), vout }, sequence)],
  outputs: [{ value: sat(value > 500n ? value - 500n : 0n), scriptPubKey: SINK }],
  locktime
})

const prevoutOf = (tx: Transaction, vout: number): Prevout => {
  const o = tx.outputs[vout]
  if (o === undefined) throw new Error(`no output ${vout}`)
  return { script: o.scriptPubKey, value: o.value }
}

const run = (tx: Transaction, prevout: Prevout) => verifyInput(serializeTransaction(tx), 0, prevout)
const withWitness = (tx: Transaction, witness: Witness): Transaction => setWitness(tx, 0, witness)
const sig = (s: SpendSignature): Uint8Array => encodeTxSignature(s.signature, s.sighashType)
const tamper = (bytes: Uint8Array): Uint8Array => {
  const t = bytes.slice()
  t[10] = (t[10] ?? 0) ^ 0x01 // inside R: the DER stays valid, the signature does not
  return t
}
const script = (s: SpendSignature): Uint8Array => {
  if (s.witnessScript === undefined) throw new Error("expected a P2WSH witness script")
  return s.witnessScript
}

/** The raw base secret the seed signer derives for `purpose` (same labels as the signer). */
const baseSecret = (p: Party, purpose: string): PrivateKey =>
  Redacted.make(deriveSecret(p.seed, `channel/${hex(p.keyId)}/${purpose}`, nobleSecp256k1))

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${String(r.failure)}`)
  return r.success
}

/** Signs input 0 of `tx` with a raw key (bypassing the signer's policy), witness form. */
const rawSig = (tx: Transaction, scriptCode: Uint8Array, amount: Sat, key: PrivateKey): Uint8Array =>
  encodeTxSignature(signInput(nobleSecp256k1, { tx, index: 0, scriptCode, amount }, SIGHASH_ALL, key), SIGHASH_ALL)

/** The fee-bumped HTLC tx signed by `p`'s signer, or the failure's tag. */
const attemptSign = (p: Party, htlcIndex: number, tx: Transaction, inputIndex: number): Transaction | string => {
  const r = attempt(p.signer.signHolderHtlcTransaction(p.keyId, 1n, htlcIndex, undefined, { tx, inputIndex }))
  return Result.isSuccess(r) ? r.success : r.failure._tag
}

const signSpend = (p: Party, tx: Transaction, amount: Sat, d: SpendDescriptor): SpendSignature =>
  must(p.signer.signSpend(p.keyId, { tx, inputIndex: 0, amount, spend: d }))

interface Scenario {
  readonly channel: Channel
  /** Alice's commitment #1, fully signed (revoked at the end of setup). */
  readonly commitment: Transaction
  readonly outputs: ReadonlyArray<CommitmentOutput<CommitmentHtlc>>
  /** Alice's HTLC txs of commitment #1, signed before it was revoked: [timeout of A's HTLC, success of B's HTLC]. */
  readonly htlcTimeout: Transaction
  readonly htlcSuccess: Transaction
  readonly alicePoint: PublicKey
  readonly aliceSecret: Uint8Array
  readonly offered: ReturnType<typeof htlc>
  readonly received: ReturnType<typeof htlc>
}

const setup = (type: ChannelType): Scenario => {
  const channel = openChannel(type, wasmSecp256k1, { label: `paths/${type.name}` })
  const { alice, bob } = channel
  const offered = htlc("alice", 500_000n, 500_123, "a1")
  const received = htlc("bob", 400_000n, 600_456, "b1")
  const balances = { alice: msat(5_600_000_000n), bob: msat(3_500_000_000n) }
  const htlcs = [offered, received]
  exchangeCommitment(channel, "alice", stateFor("alice", 1n, FEERATE, balances, htlcs))
  exchangeCommitment(channel, "bob", stateFor("bob", 1n, FEERATE, balances, htlcs))
  const signed = must(alice.signer.signHolderCommitment(alice.keyId, 1n))
  expect(signed.commitmentNumber).toBe(1n)

  // Rebuild Alice's commitment #1 independently with the BOLT 3 builder: the signer signed exactly it.
  const alicePoint = must(alice.signer.perCommitmentPoint(alice.keyId, 1n))
  const keys = ok(deriveCommitmentKeys(wasmSecp256k1, alice.basepoints, bob.basepoints, alicePoint))
  const state = stateFor("alice", 1n, FEERATE, balances, htlcs)
  const rebuilt = ok(
    buildCommitmentTransaction({
      channelType: type,
      fundingOutpoint: channel.fundingOutpoint,
      fundingAmount: channel.fundingAmount,
      localFundingPubkey: alice.basepoints.fundingPubkey,
      remoteFundingPubkey: bob.basepoints.fundingPubkey,
      commitmentNumber: 1n,
      obscuringFactor: commitmentNumberObscuringFactor(alice.basepoints.paymentBasepoint, bob.basepoints.paymentBasepoint),
      localIsFunder: true,
      toLocal: state.toLocal,
      toRemote: state.toRemote,
      htlcs: state.htlcs,
      feeratePerKw: FEERATE,
      dustLimit: alice.params.holderDustLimit,
      toSelfDelay: alice.params.holderSelfDelay,
      keys
    })
  )
  expect(hex(serializeTransaction(signed.tx, { witness: false }))).toBe(hex(serializeTransaction(rebuilt.tx, { witness: false })))

  const indexOf = (direction: "offered" | "received") => rebuilt.htlcOutputs.findIndex((o) => o.htlc.direction === direction)
  const htlcTimeout = must(alice.signer.signHolderHtlcTransaction(alice.keyId, 1n, indexOf("offered"), undefined))
  const htlcSuccess = must(alice.signer.signHolderHtlcTransaction(alice.keyId, 1n, indexOf("received"), received.preimage))

  // Alice moves to #2 and revokes #1: Bob now holds the secret of a commitment Alice could still broadcast.
  exchangeCommitment(channel, "alice", stateFor("alice", 2n, FEERATE, balances, htlcs))
  const aliceSecret = must(alice.signer.releaseCommitmentSecret(alice.keyId, 1n))
  return { channel, commitment: signed.tx, outputs: rebuilt.outputs, htlcTimeout, htlcSuccess, alicePoint, aliceSecret, offered, received }
}

for (const type of [staticRemoteKey, anchorsZeroFeeHtlcTx]) {
  describe(`script paths in bitcore's interpreter: ${type.name}`, () => {
    const s = setup(type)
    const { channel, commitment, outputs } = s
    const { alice, bob } = channel
    const out = (kind: CommitmentOutput["kind"]) => {
      const o = outputs.find((x) => x.kind === kind)
      if (o === undefined) throw new Error(`no ${kind} output`)
      return o
    }
    const htlcSequence = type.anchors ? 1 : 0

    it("funding 2-of-2: the signed commitment spends the funding output; a tampered signature does not", () => {
      expect(run(commitment, channel.fundingPrevout)).toEqual({ ok: true, error: "" })
      const w = commitment.inputs[0]?.witness ?? []
      expect(w.length).toBe(4)
      const bad = withWitness(commitment, [w[0] ?? new Uint8Array(), tamper(w[1] ?? new Uint8Array()), w[2] ?? new Uint8Array(), w[3] ?? new Uint8Array()])
      expect(run(bad, channel.fundingPrevout).ok).toBe(false)
      // Bob's side too (his commitment #1, still current).
      const bobCommitment = must(bob.signer.signHolderCommitment(bob.keyId, 1n))
      expect(run(bobCommitment.tx, channel.fundingPrevout)).toEqual({ ok: true, error: "" })
    })

    it("to_local: delayed spend after to_self_delay; rejected one block before; signer refuses the early spend", () => {
      const o = out("to_local")
      const delay = alice.params.holderSelfDelay
      const tx = spend(commitment, o.index, o.amount, delay)
      const signed = signSpend(alice, tx, o.amount, { _tag: "HolderDelayed", commitmentNumber: 1n })
      expect(hex(script(signed))).toBe(hex(o.witnessScript ?? new Uint8Array()))
      expect(run(withWitness(tx, toLocalDelayedWitness(sig(signed), script(signed))), prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" })
      expect(run(withWitness(tx, toLocalDelayedWitness(tamper(sig(signed)), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(false)

      const early = spend(commitment, o.index, o.amount, delay - 1)
      expect(failureTag(alice.signer.signSpend(alice.keyId, { tx: early, inputIndex: 0, amount: o.amount, spend: { _tag: "HolderDelayed", commitmentNumber: 1n } }))).toBe(
        "InvalidSigningRequest"
      )
      const key = ok(derivePrivateKey(nobleSecp256k1, baseSecret(alice, "delayed_payment"), s.alicePoint))
      const earlySig = rawSig(early, script(signed), o.amount, key)
      const verdict = run(withWitness(early, toLocalDelayedWitness(earlySig, script(signed))), prevoutOf(commitment, o.index))
      expect(verdict).toEqual({ ok: false, error: "SCRIPT_ERR_UNSATISFIED_LOCKTIME" })
      // The raw key really is the signer's key: the same spend with enough delay verifies with it.
      expect(run(withWitness(tx, toLocalDelayedWitness(rawSig(tx, script(signed), o.amount, key), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(true)
    })

    it("to_local: revocation spend by Bob with Alice's released secret, at once", () => {
      const o = out("to_local")
      const tx = spend(commitment, o.index, o.amount, 0)
      const signed = signSpend(bob, tx, o.amount, { _tag: "Revoked", perCommitmentSecret: s.aliceSecret, output: { _tag: "ToLocal" } })
      expect(hex(script(signed))).toBe(hex(o.witnessScript ?? new Uint8Array()))
      expect(run(withWitness(tx, toLocalRevocationWitness(sig(signed), script(signed))), prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" })
      expect(run(withWitness(tx, toLocalRevocationWitness(tamper(sig(signed)), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(false)
      // A secret from another commitment gives another key: rejected.
      const wrong = sha256(s.aliceSecret)
      const wrongSig = signSpend(bob, tx, o.amount, { _tag: "Revoked", perCommitmentSecret: wrong, output: { _tag: "ToLocal" } })
      expect(run(withWitness(tx, toLocalRevocationWitness(sig(wrongSig), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(false)
    })

    it(`to_remote: Bob's spend (${type.anchors ? "anchors script after CSV 1, rejected before" : "P2WPKH"})`, () => {
      const o = out("to_remote")
      if (type.anchors) {
        const tx = spend(commitment, o.index, o.amount, 1)
        const signed = signSpend(bob, tx, o.amount, { _tag: "CounterpartyToRemote" })
        expect(run(withWitness(tx, toRemoteAnchorsWitness(sig(signed), script(signed))), prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" })
        expect(run(withWitness(tx, toRemoteAnchorsWitness(tamper(sig(signed)), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(false)
        const early = spend(commitment, o.index, o.amount, 0)
        expect(failureTag(bob.signer.signSpend(bob.keyId, { tx: early, inputIndex: 0, amount: o.amount, spend: { _tag: "CounterpartyToRemote" } }))).toBe("InvalidSigningRequest")
        const earlySig = rawSig(early, script(signed), o.amount, baseSecret(bob, "payment"))
        expect(run(withWitness(early, toRemoteAnchorsWitness(earlySig, script(signed))), prevoutOf(commitment, o.index))).toEqual({
          ok: false,
          error: "SCRIPT_ERR_UNSATISFIED_LOCKTIME"
        })
      } else {
        const tx = spend(commitment, o.index, o.amount, 0xffffffff)
        const signed = signSpend(bob, tx, o.amount, { _tag: "CounterpartyToRemote" })
        expect(signed.witnessScript).toBeUndefined()
        expect(run(withWitness(tx, toRemoteP2wpkhWitness(sig(signed), signed.publicKey)), prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" })
        expect(run(withWitness(tx, toRemoteP2wpkhWitness(tamper(sig(signed)), signed.publicKey)), prevoutOf(commitment, o.index)).ok).toBe(false)
        expect(run(withWitness(tx, toRemoteP2wpkhWitness(sig(signed), alice.basepoints.paymentBasepoint)), prevoutOf(commitment, o.index)).ok).toBe(false)
      }
    })

    if (type.anchors) {
      it("anchors: each owner spends its anchor by key; anyone after 16 blocks, rejected at 15", () => {
        for (const [kind, owner] of [["local_anchor", alice], ["remote_anchor", bob]] as const) {
          const o = out(kind)
          const fixed = spend(commitment, o.index, o.amount, 0)
          const signed = signSpend(owner, fixed, o.amount, { _tag: "Anchor" })
          expect(run(withWitness(fixed, anchorWitness(sig(signed), script(signed))), prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" })
          expect(run(withWitness(fixed, anchorWitness(tamper(sig(signed)), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(false)
          // The other party's key does not open it.
          const other = owner === alice ? bob : alice
          const wrong = signSpend(other, fixed, o.amount, { _tag: "Anchor" })
          expect(run(withWitness(fixed, anchorWitness(sig(wrong), script(signed))), prevoutOf(commitment, o.index)).ok).toBe(false)
          const sweep = { ...fixed, inputs: [makeInput({ txid: txid(commitment), vout: o.index }, 16)] }
          expect(run(withWitness(sweep, anchorSweepWitness(script(signed))), prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" })
          const early = { ...fixed, inputs: [makeInput({ txid: txid(commitment), vout: o.index }, 15)] }
          expect(run(withWitness(early, anchorSweepWitness(script(signed))), prevoutOf(commitment, o.index))).toEqual({
            ok: false,
            error: "SCRIPT_ERR_UNSATISFIED_LOCKTIME"
          })
        }
      })
    }

    it("offered HTLC: timeout via the HTLC-timeout tx; a lower nLockTime breaks the counterparty's signature", () => {
      const o = out("offered_htlc")
      const prevout = prevoutOf(commitment, o.index)
      expect(s.htlcTimeout.locktime).toBe(s.offered.cltvExpiry)
      expect(s.htlcTimeout.inputs[0]?.sequence).toBe(htlcSequence)
      expect(run(s.htlcTimeout, prevout)).toEqual({ ok: true, error: "" })
      // Before its locktime: the timeout path is a 2-of-2 over a tx with nLockTime = cltv_expiry, so
      // a transaction with an earlier locktime carries no valid counterparty signature.
      const early = { ...s.htlcTimeout, locktime: s.offered.cltvExpiry - 1 }
      const key = ok(derivePrivateKey(nobleSecp256k1, baseSecret(alice, "htlc"), s.alicePoint))
      const w = s.htlcTimeout.inputs[0]?.witness ?? []
      const witnessScript = w[4] ?? new Uint8Array()
      const earlyLocal = rawSig(early, witnessScript, o.amount, key)
      expect(run(withWitness(early, [new Uint8Array(), w[1] ?? new Uint8Array(), earlyLocal, new Uint8Array(), witnessScript]), prevout).ok).toBe(false)
      // Tampered local signature.
      expect(run(withWitness(s.htlcTimeout, [new Uint8Array(), w[1] ?? new Uint8Array(), tamper(w[2] ?? new Uint8Array()), new Uint8Array(), witnessScript]), prevout).ok).toBe(false)
    })

    it("offered HTLC: Bob claims it on Alice's commitment with the preimage; a wrong preimage is rejected", () => {
      const o = out("offered_htlc")
      const prevout = prevoutOf(commitment, o.index)
      const tx = spend(commitment, o.index, o.amount, htlcSequence)
      const htlcFromAlice: CommitmentHtlc = { direction: "offered", amount: s.offered.amount, paymentHash: sha256(s.offered.preimage), cltvExpiry: s.offered.cltvExpiry }
      const signed = signSpend(bob, tx, o.amount, { _tag: "CounterpartyHtlc", perCommitmentPoint: s.alicePoint, htlc: htlcFromAlice })
      expect(hex(script(signed))).toBe(hex(o.witnessScript ?? new Uint8Array()))
      expect(run(withWitness(tx, offeredHtlcPreimageClaimWitness(sig(signed), s.offered.preimage, script(signed))), prevout)).toEqual({ ok: true, error: "" })
      expect(run(withWitness(tx, offeredHtlcPreimageClaimWitness(sig(signed), s.received.preimage, script(signed))), prevout).ok).toBe(false)
      expect(run(withWitness(tx, offeredHtlcPreimageClaimWitness(tamper(sig(signed)), s.offered.preimage, script(signed))), prevout).ok).toBe(false)
      if (type.anchors) {
        const early = spend(commitment, o.index, o.amount, 0)
        const key = ok(derivePrivateKey(nobleSecp256k1, baseSecret(bob, "htlc"), s.alicePoint))
        const earlySig = rawSig(early, script(signed), o.amount, key)
        expect(run(withWitness(early, offeredHtlcPreimageClaimWitness(earlySig, s.offered.preimage, script(signed))), prevout)).toEqual({
          ok: false,
          error: "SCRIPT_ERR_UNSATISFIED_LOCKTIME"
        })
      }
    })

    it("received HTLC: success via the HTLC-success tx with the preimage; a wrong preimage is rejected (by the signer and the script)", () => {
      const o = out("received_htlc")
      const prevout = prevoutOf(commitment, o.index)
      expect(s.htlcSuccess.locktime).toBe(0)
      expect(run(s.htlcSuccess, prevout)).toEqual({ ok: true, error: "" })
      const w = s.htlcSuccess.inputs[0]?.witness ?? []
      expect(hex(w[3] ?? new Uint8Array())).toBe(hex(s.received.preimage))
      const wrong = withWitness(s.htlcSuccess, [w[0] ?? new Uint8Array(), w[1] ?? new Uint8Array(), w[2] ?? new Uint8Array(), s.offered.preimage, w[4] ?? new Uint8Array()])
      expect(run(wrong, prevout).ok).toBe(false)
      const tampered = htlcSuccessWitness(tamper(w[1] ?? new Uint8Array()), w[2] ?? new Uint8Array(), s.received.preimage, w[4] ?? new Uint8Array())
      expect(run(withWitness(s.htlcSuccess, tampered), prevout).ok).toBe(false)
    })

    it("received HTLC: Bob takes it back on Alice's commitment after its CLTV; rejected one block before", () => {
      const o = out("received_htlc")
      const prevout = prevoutOf(commitment, o.index)
      const cltv = s.received.cltvExpiry
      const tx = spend(commitment, o.index, o.amount, htlcSequence, cltv)
      const htlcOnAlice: CommitmentHtlc = { direction: "received", amount: s.received.amount, paymentHash: sha256(s.received.preimage), cltvExpiry: cltv }
      const d: SpendDescriptor = { _tag: "CounterpartyHtlc", perCommitmentPoint: s.alicePoint, htlc: htlcOnAlice }
      const signed = signSpend(bob, tx, o.amount, d)
      expect(hex(script(signed))).toBe(hex(o.witnessScript ?? new Uint8Array()))
      expect(run(withWitness(tx, receivedHtlcTimeoutClaimWitness(sig(signed), script(signed))), prevout)).toEqual({ ok: true, error: "" })
      expect(run(withWitness(tx, receivedHtlcTimeoutClaimWitness(tamper(sig(signed)), script(signed))), prevout).ok).toBe(false)
      const early = spend(commitment, o.index, o.amount, htlcSequence, cltv - 1)
      expect(failureTag(bob.signer.signSpend(bob.keyId, { tx: early, inputIndex: 0, amount: o.amount, spend: d }))).toBe("InvalidSigningRequest")
      const key = ok(derivePrivateKey(nobleSecp256k1, baseSecret(bob, "htlc"), s.alicePoint))
      const earlySig = rawSig(early, script(signed), o.amount, key)
      expect(run(withWitness(early, receivedHtlcTimeoutClaimWitness(earlySig, script(signed))), prevout)).toEqual({
        ok: false,
        error: "SCRIPT_ERR_UNSATISFIED_LOCKTIME"
      })
    })

    it("offered and received HTLCs of the revoked commitment: Bob's revocation spends", () => {
      for (const [kind, h] of [["offered_htlc", s.offered], ["received_htlc", s.received]] as const) {
        const o = out(kind)
        const prevout = prevoutOf(commitment, o.index)
        const tx = spend(commitment, o.index, o.amount, 0)
        const direction = kind === "offered_htlc" ? "offered" : "received"
        const signed = signSpend(bob, tx, o.amount, {
          _tag: "Revoked",
          perCommitmentSecret: s.aliceSecret,
          output: { _tag: "Htlc", htlc: { direction, amount: h.amount, paymentHash: sha256(h.preimage), cltvExpiry: h.cltvExpiry } }
        })
        expect(hex(script(signed))).toBe(hex(o.witnessScript ?? new Uint8Array()))
        expect(run(withWitness(tx, htlcRevocationWitness(sig(signed), signed.publicKey, script(signed))), prevout)).toEqual({ ok: true, error: "" })
        expect(run(withWitness(tx, htlcRevocationWitness(tamper(sig(signed)), signed.publicKey, script(signed))), prevout).ok).toBe(false)
        // The revocation path checks the key hash: another key does not pass.
        expect(run(withWitness(tx, htlcRevocationWitness(sig(signed), bob.basepoints.revocationBasepoint, script(signed))), prevout).ok).toBe(false)
      }
    })

    it("second-stage HTLC outputs: Alice's delayed spend after to_self_delay (rejected before), Bob's revocation spend", () => {
      for (const second of [s.htlcTimeout, s.htlcSuccess]) {
        const value = second.outputs[0]?.value ?? sat(0n)
        const prevout = prevoutOf(second, 0)
        const delay = alice.params.holderSelfDelay
        // Zero-fee anchors HTLC txs carry the whole HTLC amount; the sweep pays the fee.
        const tx = spend(second, 0, value, delay)
        const signed = signSpend(alice, tx, value, { _tag: "HolderDelayed", commitmentNumber: 1n })
        expect(run(withWitness(tx, toLocalDelayedWitness(sig(signed), script(signed))), prevout)).toEqual({ ok: true, error: "" })
        expect(run(withWitness(tx, toLocalDelayedWitness(tamper(sig(signed)), script(signed))), prevout).ok).toBe(false)
        const early = spend(second, 0, value, delay - 1)
        const key = ok(derivePrivateKey(nobleSecp256k1, baseSecret(alice, "delayed_payment"), s.alicePoint))
        expect(run(withWitness(early, toLocalDelayedWitness(rawSig(early, script(signed), value, key), script(signed))), prevout)).toEqual({
          ok: false,
          error: "SCRIPT_ERR_UNSATISFIED_LOCKTIME"
        })
        const justice = spend(second, 0, value, 0)
        const revoked = signSpend(bob, justice, value, { _tag: "Revoked", perCommitmentSecret: s.aliceSecret, output: { _tag: "HtlcTxOutput" } })
        expect(run(withWitness(justice, toLocalRevocationWitness(sig(revoked), script(revoked))), prevout)).toEqual({ ok: true, error: "" })
        expect(run(withWitness(justice, toLocalRevocationWitness(tamper(sig(revoked)), script(revoked))), prevout).ok).toBe(false)
      }
    })

    it("transaction-level timelocks: the HTLC-timeout tx and the remote timeout claim are not final before cltv_expiry; CSV spends wait for confirmations", () => {
      const cltvA = s.offered.cltvExpiry
      // nLockTime = cltv_expiry: the earliest block that can include it is cltv_expiry + 1.
      expect(isFinalAt(serializeTransaction(s.htlcTimeout), cltvA)).toBe(false)
      expect(isFinalAt(serializeTransaction(s.htlcTimeout), cltvA + 1)).toBe(true)
      expect(isFinalAt(serializeTransaction(s.htlcSuccess), 1)).toBe(true)
      // The commitment itself (locktime 0x20......, a past timestamp) is final at once.
      expect(isFinalAt(serializeTransaction(commitment), 1)).toBe(true)
      const o = out("received_htlc")
      const claim = spend(commitment, o.index, o.amount, htlcSequence, s.received.cltvExpiry)
      expect(isFinalAt(serializeTransaction(claim), s.received.cltvExpiry)).toBe(false)
      expect(isFinalAt(serializeTransaction(claim), s.received.cltvExpiry + 1)).toBe(true)
      // to_local: confirmed at height 1000, spendable from block 1000 + to_self_delay.
      const local = out("to_local")
      const delay = alice.params.holderSelfDelay
      const sweep = serializeTransaction(spend(commitment, local.index, local.amount, delay))
      expect(relativeLocksSatisfied(sweep, [1000], 1000 + delay - 1)).toBe(false)
      expect(relativeLocksSatisfied(sweep, [1000], 1000 + delay)).toBe(true)
      // HTLC txs: nSequence 0 (legacy) needs nothing; 1 (anchors) one confirmation of the commitment.
      expect(relativeLocksSatisfied(serializeTransaction(s.htlcSuccess), [1000], 1000)).toBe(!type.anchors)
      expect(relativeLocksSatisfied(serializeTransaction(s.htlcSuccess), [1000], 1001)).toBe(true)
    })

    it(type.anchors ? "anchors: a zero-fee HTLC tx is fee-bumped with a wallet input and change; both inputs verify" : "legacy HTLC txs take no added inputs", () => {
      const bobCommitment = must(bob.signer.signHolderCommitment(bob.keyId, 1n)).tx
      // Bob's offered HTLC (b1) is the one without a preimage: find its index by trying.
      const timeoutIndex = [0, 1].find((i) => failureTag(bob.signer.signHolderHtlcTransaction(bob.keyId, 1n, i, undefined)) === "success")
      if (timeoutIndex === undefined) throw new Error("no HTLC-timeout on Bob's commitment")
      const plain = must(bob.signer.signHolderHtlcTransaction(bob.keyId, 1n, timeoutIndex, undefined))
      const plainInput = plain.inputs[0]
      const plainOutput = plain.outputs[0]
      if (plainInput === undefined || plainOutput === undefined) throw new Error("unreachable")
      const htlcPrevout = prevoutOf(bobCommitment, plainInput.prevout.vout)
      expect(run(plain, htlcPrevout)).toEqual({ ok: true, error: "" })

      const walletKey = Redacted.make(sha256(new TextEncoder().encode("wallet key")))
      const walletPub = nobleSecp256k1.publicKey(Redacted.value(walletKey)) ?? new Uint8Array()
      const walletPrevout = { script: p2wpkhScript(walletPub), value: 50_000n }
      const walletInput = makeInput({ txid: txid(bobCommitment), vout: 99 }, 0xfffffffd)
      const change = { value: sat(45_000n), scriptPubKey: p2wpkhScript(walletPub) }
      const htlcInput = makeInput(plainInput.prevout, plainInput.sequence)
      for (const inputIndex of [0, 1]) {
        const tx: Transaction = {
          version: plain.version,
          inputs: inputIndex === 0 ? [htlcInput, walletInput] : [walletInput, htlcInput],
          outputs: inputIndex === 0 ? [plainOutput, change] : [change, plainOutput],
          locktime: plain.locktime
        }
        const result = attemptSign(bob, timeoutIndex, tx, inputIndex)
        if (!type.anchors) {
          expect(result).toBe("InvalidSigningRequest")
          continue
        }
        if (typeof result === "string") throw new Error(result)
        const walletIndex = 1 - inputIndex
        const walletSig = encodeTxSignature(
          signInput(nobleSecp256k1, { tx: result, index: walletIndex, scriptCode: p2pkhScriptCode(walletPub), amount: sat(walletPrevout.value) }, SIGHASH_ALL, walletKey),
          SIGHASH_ALL
        )
        const full = setWitness(result, walletIndex, [walletSig, walletPub])
        const bytes = serializeTransaction(full)
        expect(verifyInput(bytes, inputIndex, htlcPrevout)).toEqual({ ok: true, error: "" })
        expect(verifyInput(bytes, walletIndex, walletPrevout)).toEqual({ ok: true, error: "" })
        // Changing the paired output is refused by the signer (and would break the counterparty's SINGLE signature).
        const cheat = { ...tx, outputs: tx.outputs.map((o, k) => (k === inputIndex ? { ...o, value: sat(o.value - 1n) } : o)) }
        expect(attemptSign(bob, timeoutIndex, cheat, inputIndex)).toBe("InvalidSigningRequest")
      }
    })

    it("one justice transaction sweeps to_local and both HTLC outputs of the revoked commitment", () => {
      const picked = [out("to_local"), out("offered_htlc"), out("received_htlc")]
      const total = picked.reduce((a, o) => a + o.amount, 0n)
      const justice: Transaction = {
        version: 2,
        inputs: picked.map((o) => makeInput({ txid: txid(commitment), vout: o.index }, 0xfffffffd)),
        outputs: [{ value: sat(total - 2_000n), scriptPubKey: p2wpkhScript(bob.basepoints.paymentBasepoint) }],
        locktime: 0
      }
      const descriptors: ReadonlyArray<SpendDescriptor> = picked.map((o) =>
        o.htlc === undefined
          ? { _tag: "Revoked", perCommitmentSecret: s.aliceSecret, output: { _tag: "ToLocal" } }
          : { _tag: "Revoked", perCommitmentSecret: s.aliceSecret, output: { _tag: "Htlc", htlc: o.htlc } }
      )
      let signed = justice
      picked.forEach((o, i) => {
        const d = descriptors[i]
        if (d === undefined) throw new Error("unreachable")
        const r = must(bob.signer.signSpend(bob.keyId, { tx: justice, inputIndex: i, amount: o.amount, spend: d }))
        const w = o.htlc === undefined ? toLocalRevocationWitness(sig(r), script(r)) : htlcRevocationWitness(sig(r), r.publicKey, script(r))
        signed = setWitness(signed, i, w)
      })
      const bytes = serializeTransaction(signed)
      picked.forEach((o, i) => expect(verifyInput(bytes, i, prevoutOf(commitment, o.index))).toEqual({ ok: true, error: "" }))
      // SIGHASH_ALL commits to every input's outpoint: dropping one input invalidates the others.
      const dropped = { ...signed, inputs: signed.inputs.slice(1) }
      expect(verifyInput(serializeTransaction(dropped), 0, prevoutOf(commitment, picked[1]?.index ?? 0)).ok).toBe(false)
    })

    it("closing transactions (legacy closing_signed and option_simple_close) spend the funding output", () => {
      const aliceScript = p2wpkhScript(alice.basepoints.paymentBasepoint)
      const bobScript = p2wpkhScript(bob.basepoints.paymentBasepoint)
      const legacy = ok(
        buildLegacyClosingTransaction({
          fundingOutpoint: channel.fundingOutpoint,
          fundingAmount: channel.fundingAmount,
          localScript: aliceScript,
          remoteScript: bobScript,
          toLocal: msat(6_000_000_000n),
          toRemote: msat(4_000_000_000n),
          localIsFunder: true,
          fee: sat(2_000n),
          dustLimit: sat(546n)
        })
      )
      const simple = ok(
        buildSimpleClosingTransaction({
          fundingOutpoint: channel.fundingOutpoint,
          fundingAmount: channel.fundingAmount,
          closerScript: bobScript,
          closeeScript: aliceScript,
          closerBalance: msat(4_000_000_000n),
          closeeBalance: msat(6_000_000_000n),
          fee: sat(1_500n),
          locktime: 800_000,
          variant: "closer_and_closee_outputs"
        })
      )
      const redeem = fundingScript(alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey)
      for (const closing of [legacy.tx, simple.tx]) {
        const a = encodeTxSignature(must(alice.signer.signClosing(alice.keyId, closing)), SIGHASH_ALL)
        const b = encodeTxSignature(must(bob.signer.signClosing(bob.keyId, closing)), SIGHASH_ALL)
        const w = fundingWitness(a, b, alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey, redeem)
        expect(run(withWitness(closing, w), channel.fundingPrevout)).toEqual({ ok: true, error: "" })
        // Signatures in the wrong order (CHECKMULTISIG takes them in key order), or tampered: rejected.
        const swapped = fundingWitness(b, a, alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey, redeem)
        expect(run(withWitness(closing, swapped), channel.fundingPrevout).ok).toBe(false)
        const tampered = fundingWitness(tamper(a), b, alice.basepoints.fundingPubkey, bob.basepoints.fundingPubkey, redeem)
        expect(run(withWitness(closing, tampered), channel.fundingPrevout).ok).toBe(false)
        expect(parseTx(serializeTransaction(withWitness(closing, w))).inputs[0]?.witness.length).toBe(4)
      }
    })
  })
}
