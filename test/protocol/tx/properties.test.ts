/**
 * Property tests of the BOLT 3 builders: balance conservation, both peers building the same
 * commitment, signatures made by one side verifying on the other.
 */
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { derivePrivateKey } from "../../../src/protocol/keys/derivation.ts"
import { unsafePublicKey } from "../../../src/protocol/keys/keys.ts"
import { serializeTransaction, txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { compareOutputs } from "../../../src/protocol/tx/bip69.ts"
import { isHtlcTrimmed } from "../../../src/protocol/tx/fees.ts"
import { buildHtlcTransactions, htlcTxFee } from "../../../src/protocol/tx/htlc.ts"
import { signCommitment, signHtlcAsRemote, verifyCommitmentSignature, verifyRemoteHtlcSignature } from "../../../src/protocol/tx/signing.ts"
import { buildCommitmentForSide, mirrorView } from "../../../src/protocol/tx/view.ts"
import { msatToSat } from "../../../src/protocol/units.ts"
import { alice, bob, viewArb } from "./arbitraries.ts"
import { cachedSecp as secp, ok } from "./fixtures.ts"

const pointA = unsafePublicKey(alice.perCommitmentPoint)
const pointB = unsafePublicKey(bob.perCommitmentPoint)

describe("commitment properties", () => {
  it("conserves the funding amount: outputs + fee, and the fee is exactly what BOLT 3 sends to fees", () => {
    fc.assert(
      fc.property(viewArb(), fc.constantFrom("local" as const, "remote" as const), (view, side) => {
        const c = ok(buildCommitmentForSide(secp, view, side, 7n, side === "local" ? pointA : pointB))
        const p = c.params
        const type = p.channelType
        const outSum = c.outputs.reduce((a, o) => a + o.amount, 0n)
        expect(outSum + c.fee).toBe(p.fundingAmount)

        // independent accounting of where every satoshi went
        const parts = [p.toLocal, p.toRemote, ...p.htlcs.map((h) => h.amount)]
        const rounding = p.fundingAmount - parts.reduce((a, m) => a + msatToSat(m), 0n)
        const funderSat = msatToSat(p.localIsFunder ? p.toLocal : p.toRemote)
        const charge = c.baseFee + 2n * type.anchorAmount
        const paid = charge < funderSat ? charge : funderSat
        const trimmedHtlcSat = c.trimmedHtlcs.reduce((a, h) => a + msatToSat(h.amount), 0n)
        const anchors = c.outputs.filter((o) => o.kind === "local_anchor" || o.kind === "remote_anchor")
        const droppedBalances = (c.hasToLocal ? 0n : c.toLocalAmount) + (c.hasToRemote ? 0n : c.toRemoteAmount)
        expect(c.fee).toBe(rounding + paid + trimmedHtlcSat + droppedBalances - type.anchorAmount * BigInt(anchors.length))

        // every HTLC is either an output of its exact amount or trimmed, per the trimming rule
        expect(c.htlcOutputs.length + c.trimmedHtlcs.length).toBe(p.htlcs.length)
        for (const o of c.htlcOutputs) {
          expect(o.amount).toBe(msatToSat(o.htlc.amount))
          expect(isHtlcTrimmed(type, p.feeratePerKw, p.dustLimit, o.htlc.direction, o.htlc.amount)).toBe(false)
          expect(o.kind).toBe(o.htlc.direction === "offered" ? "offered_htlc" : "received_htlc")
        }
        for (const h of c.trimmedHtlcs) expect(isHtlcTrimmed(type, p.feeratePerKw, p.dustLimit, h.direction, h.amount)).toBe(true)
        // anchors only with the types that have them, and only when BOLT 3 adds them
        const hasLocalAnchor = anchors.some((o) => o.kind === "local_anchor")
        const hasRemoteAnchor = anchors.some((o) => o.kind === "remote_anchor")
        expect(hasLocalAnchor).toBe(type.anchors && (c.hasToLocal || c.htlcOutputs.length > 0))
        expect(hasRemoteAnchor).toBe(type.anchors && (c.hasToRemote || c.htlcOutputs.length > 0))
        // outputs are in BIP 69 + CLTV order, indexes match the transaction
        for (let i = 1; i < c.outputs.length; i++) {
          const a = c.outputs[i - 1]
          const b = c.outputs[i]
          if (a === undefined || b === undefined) throw new Error("missing output")
          expect(compareOutputs({ value: a.amount, scriptPubKey: a.scriptPubKey, cltvExpiry: a.htlc?.cltvExpiry }, { value: b.amount, scriptPubKey: b.scriptPubKey, cltvExpiry: b.htlc?.cltvExpiry })).toBeLessThanOrEqual(0)
        }
        c.outputs.forEach((o, i) => {
          expect(o.index).toBe(i)
          expect(c.tx.outputs[i]?.value).toBe(o.amount)
        })
        // HTLC transactions spend their own output, pay exactly the BOLT 3 fee (never a negative output)
        const commitTxid = toHex(txid(c.tx))
        for (const h of buildHtlcTransactions(c)) {
          expect(h.tx.inputs[0]?.prevout.vout).toBe(h.commitmentOutputIndex)
          expect(toHex(h.tx.inputs[0]?.prevout.txid ?? new Uint8Array(0))).toBe(commitTxid)
          expect(h.tx.inputs[0]?.sequence).toBe(type.htlcInputSequence)
          expect(h.tx.locktime).toBe(h.kind === "htlc-timeout" ? h.htlc.cltvExpiry : 0)
          expect(h.tx.outputs[0]?.value).toBe(h.inputAmount - htlcTxFee(type, p.feeratePerKw, h.kind))
          expect(h.tx.outputs[0]?.value ?? -1n).toBeGreaterThanOrEqual(p.dustLimit)
        }
      }),
      { numRuns: 1_000 }
    )
  })

  it("both peers build the same commitment from the same state", () => {
    fc.assert(
      fc.property(viewArb(), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), (viewA, n) => {
        const viewB = mirrorView(viewA)
        // Alice's commitment: as Alice builds it, and as Bob builds it for her
        const aliceOwn = ok(buildCommitmentForSide(secp, viewA, "local", n, pointA))
        const aliceByBob = ok(buildCommitmentForSide(secp, viewB, "remote", n, pointA))
        expect(toHex(serializeTransaction(aliceOwn.tx))).toBe(toHex(serializeTransaction(aliceByBob.tx)))
        expect(aliceOwn.htlcOutputs.map((o) => `${o.index}:${o.htlc.id}`)).toEqual(aliceByBob.htlcOutputs.map((o) => `${o.index}:${o.htlc.id}`))
        expect(aliceOwn.trimmedHtlcs.map((h) => h.id)).toEqual(aliceByBob.trimmedHtlcs.map((h) => h.id))
        // Bob's commitment likewise
        const bobOwn = ok(buildCommitmentForSide(secp, viewB, "local", n, pointB))
        const bobByAlice = ok(buildCommitmentForSide(secp, viewA, "remote", n, pointB))
        expect(toHex(serializeTransaction(bobOwn.tx))).toBe(toHex(serializeTransaction(bobByAlice.tx)))
        // HTLC transactions agree too
        expect(buildHtlcTransactions(bobOwn).map((h) => toHex(serializeTransaction(h.tx)))).toEqual(
          buildHtlcTransactions(bobByAlice).map((h) => toHex(serializeTransaction(h.tx)))
        )
      }),
      { numRuns: 500 }
    )
  })

  it("a signature made by one side verifies on the other", () => {
    fc.assert(
      fc.property(viewArb(6), (viewA) => {
        const viewB = mirrorView(viewA)
        // Alice signs Bob's commitment and its HTLC transactions (commitment_signed)...
        const bobByAlice = ok(buildCommitmentForSide(secp, viewA, "remote", 3n, pointB))
        const sig = signCommitment(secp, bobByAlice, alice.funding)
        const aliceHtlcKey = ok(derivePrivateKey(secp, alice.htlc, pointB))
        const htlcSigs = buildHtlcTransactions(bobByAlice).map((h) => signHtlcAsRemote(secp, h, aliceHtlcKey))
        // ...and Bob checks them against his own view of his commitment
        const bobOwn = ok(buildCommitmentForSide(secp, viewB, "local", 3n, pointB))
        expect(toHex(txid(bobOwn.tx))).toBe(toHex(txid(bobByAlice.tx)))
        expect(verifyCommitmentSignature(secp, bobOwn, sig, alice.basepoints.fundingPubkey)).toBe(true)
        expect(verifyCommitmentSignature(secp, bobOwn, sig, bob.basepoints.fundingPubkey)).toBe(false)
        const bobHtlcTxs = buildHtlcTransactions(bobOwn)
        expect(bobHtlcTxs.length).toBe(htlcSigs.length)
        bobHtlcTxs.forEach((h, i) => {
          const s = htlcSigs[i]
          if (s === undefined) throw new Error("missing signature")
          expect(verifyRemoteHtlcSignature(secp, h, s, bobOwn.params.keys.remoteHtlcPubkey)).toBe(true)
        })
      }),
      { numRuns: 40 }
    )
  })

  it("rejects inconsistent states with a typed error instead of throwing", () => {
    fc.assert(
      fc.property(viewArb(3), fc.bigInt({ min: 1n, max: 1_000_000n }), (view, extra) => {
        const bad = { ...view, toLocal: (view.toLocal + extra) as typeof view.toLocal }
        const r = buildCommitmentForSide(secp, bad, "local", 0n, pointA)
        return Result.isFailure(r) && r.failure._tag === "CommitmentError"
      }),
      { numRuns: 100 }
    )
  })
})
