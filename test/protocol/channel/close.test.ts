import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import fc from "fast-check"
import {
  checkUpdateAfterShutdown,
  closeFeatures,
  closingChannel,
  decideLegacyFee,
  finalizeClosing,
  legacyClosingTx,
  legacyInitialProposal,
  makeShutdown,
  noShutdown,
  proposeClosingComplete,
  readyToNegotiate,
  receiveClosingComplete,
  receiveClosingSig,
  receiveClosingSigned,
  receiveShutdown,
  sendClosingComplete,
  sendClosingSig,
  sendClosingSigned,
  startLegacyNegotiation,
  startSimpleClose,
  type ClosingChannel,
  type LegacyNegotiation,
  type ShutdownContext,
  type SimpleClose
} from "../../../src/protocol/channel/close.ts"
import type { ChannelParams } from "../../../src/protocol/channel/params.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { ClosingComplete, ClosingSig, ClosingSigned, Shutdown } from "../../../src/protocol/messages/channel.ts"
import { p2trScript, p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { serializeTransaction, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { msat, sat, type Sat } from "../../../src/protocol/units.ts"
import { failureOf, makeParty, openChannel, secp, unwrap, type Party } from "./open-fixtures.ts"
import { step } from "../../../src/protocol/channel/step.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { baseFeatures, newPair, type Node } from "./step-harness.ts"

const o = openChannel()
const scriptA = p2wpkhScript(makeParty("alice-wallet").basepoints.paymentBasepoint)
const scriptB = p2wpkhScript(makeParty("bob-wallet").basepoints.paymentBasepoint)
const all = closeFeatures(new Set(["option_shutdown_anysegwit", "option_upfront_shutdown_script", "option_simple_close"]))
const legacyFeatures = closeFeatures(new Set(["option_upfront_shutdown_script"]))

const sign = (p: Party, tx: Transaction): Uint8Array => Effect.runSync(p.signer.signClosing(p.keyId, tx))
const hexTx = (tx: Transaction) => toHex(serializeTransaction(tx))

const chanA: ClosingChannel = closingChannel(o.funder.params, { toLocal: msat(900_000_000n), toRemote: msat(100_000_000n) })
const chanB: ClosingChannel = closingChannel(o.fundee.params, { toLocal: msat(100_000_000n), toRemote: msat(900_000_000n) })

const ctx = (params: ChannelParams, over: Partial<ShutdownContext> = {}): ShutdownContext => ({
  params,
  features: legacyFeatures,
  fundingSent: true,
  fundingReceived: true,
  pendingUpdatesForRemote: false,
  ...over
})

describe("shutdown", () => {
  const pA = o.funder.params
  const pB = o.fundee.params
  it("sender rules", () => {
    expect(failureOf(makeShutdown(ctx(pA, { fundingSent: false }), noShutdown, scriptA)).rule).toBe("NotFunded")
    expect(failureOf(makeShutdown(ctx(pA, { pendingUpdatesForRemote: true }), noShutdown, scriptA)).rule).toBe("PendingUpdates")
    expect(failureOf(makeShutdown(ctx(pA), { localScript: scriptA }, scriptA)).rule).toBe("AlreadySent")
    expect(failureOf(makeShutdown(ctx(pA), noShutdown, Uint8Array.of(0x6a, 0x01, 0x00))).rule).toBe("InvalidScript")
    const bound = { ...pA, local: { ...pA.local, upfrontShutdownScript: scriptB } }
    expect(failureOf(makeShutdown(ctx(bound), noShutdown, scriptA)).rule).toBe("UpfrontScriptMismatch")
    const ok = unwrap(makeShutdown(ctx(pA), noShutdown, scriptA))
    expect(ok.state.localScript).toEqual(scriptA)
    expect(Shutdown.decode(unwrap(Shutdown.encode(ok.message)))._tag).toBe("Success")
  })
  it("receiver rules", () => {
    const msg = Shutdown.make({ channelId: pB.channelId, scriptpubkey: scriptA })
    expect(failureOf(receiveShutdown(ctx(pB), noShutdown, { ...msg, channelId: o.funder.temporaryChannelId })).rule).toBe("ChannelIdMismatch")
    expect(failureOf(receiveShutdown(ctx(pB, { fundingReceived: false }), noShutdown, msg)).rule).toBe("NotFunded")
    // witness v1 only with option_shutdown_anysegwit
    const taproot = p2trScript(new Uint8Array(32).fill(7))
    expect(failureOf(receiveShutdown(ctx(pB), noShutdown, { ...msg, scriptpubkey: taproot })).rule).toBe("InvalidScript")
    expect(Result.isSuccess(receiveShutdown(ctx(pB, { features: all }), noShutdown, { ...msg, scriptpubkey: taproot }))).toBe(true)
    // OP_RETURN only with option_simple_close
    const opReturn = Uint8Array.of(0x6a, 6, 1, 2, 3, 4, 5, 6)
    expect(failureOf(receiveShutdown(ctx(pB), noShutdown, { ...msg, scriptpubkey: opReturn })).rule).toBe("InvalidScript")
    expect(Result.isSuccess(receiveShutdown(ctx(pB, { features: all }), noShutdown, { ...msg, scriptpubkey: opReturn }))).toBe(true)
    // upfront script binds when both advertised the feature
    const bound = { ...pB, remote: { ...pB.remote, upfrontShutdownScript: scriptB } }
    expect(failureOf(receiveShutdown(ctx(bound), noShutdown, msg)).rule).toBe("UpfrontScriptMismatch")
    expect(Result.isSuccess(receiveShutdown(ctx(bound, { features: closeFeatures(new Set()) }), noShutdown, msg))).toBe(true)
    expect(failureOf(receiveShutdown(ctx(pB), { remoteScript: scriptB }, msg)).rule).toBe("AlreadyReceived")
    const r = unwrap(receiveShutdown(ctx(pB), noShutdown, msg))
    expect(r.mustReply).toBe(true)
    expect(unwrap(receiveShutdown(ctx(pB), { localScript: scriptB }, msg)).mustReply).toBe(false)
  })
  it("no update_add_htlc after shutdown; no update at all once empty", () => {
    const sent = { localScript: scriptA }
    expect(failureOf(checkUpdateAfterShutdown(sent, { direction: "send", kind: "add", channelEmpty: false })).rule).toBe("UpdateAfterShutdown")
    expect(Result.isSuccess(checkUpdateAfterShutdown(sent, { direction: "receive", kind: "add", channelEmpty: false }))).toBe(true)
    expect(failureOf(checkUpdateAfterShutdown({ remoteScript: scriptB }, { direction: "receive", kind: "add", channelEmpty: false })).rule).toBe("UpdateAfterShutdown")
    expect(Result.isSuccess(checkUpdateAfterShutdown({ localScript: scriptA, remoteScript: scriptB }, { direction: "send", kind: "other", channelEmpty: false }))).toBe(true)
    expect(failureOf(checkUpdateAfterShutdown({ localScript: scriptA, remoteScript: scriptB }, { direction: "send", kind: "other", channelEmpty: true })).rule).toBe("UpdateAfterShutdown")
  })
  it("negotiation waits for both shutdowns and for HTLCs to drain", () => {
    const both = { localScript: scriptA, remoteScript: scriptB }
    expect(readyToNegotiate(both, { htlcCount: 1, pendingUpdates: false, revocationOwed: false })).toBe(false)
    expect(readyToNegotiate(both, { htlcCount: 0, pendingUpdates: false, revocationOwed: true })).toBe(false)
    expect(readyToNegotiate({ localScript: scriptA }, { htlcCount: 0, pendingUpdates: false, revocationOwed: false })).toBe(false)
    expect(readyToNegotiate(both, { htlcCount: 0, pendingUpdates: false, revocationOwed: false })).toBe(true)
  })
})

const legacyPair = (rangeA: { min: Sat; max: Sat }, rangeB: { min: Sat; max: Sat }) => ({
  a: unwrap(startLegacyNegotiation({ channel: chanA, localScript: scriptA, remoteScript: scriptB, feeRange: rangeA })),
  b: unwrap(startLegacyNegotiation({ channel: chanB, localScript: scriptB, remoteScript: scriptA, feeRange: rangeB }))
})

describe("legacy closing_signed", () => {
  it("funder proposes, fundee counters inside the overlap, funder agrees: both hold the same signed tx", () => {
    const { a, b } = legacyPair({ min: sat(500n), max: sat(2000n) }, { min: sat(1500n), max: sat(3000n) })
    const first = unwrap(legacyInitialProposal(a, 1000))
    const sentA = sendClosingSigned(a, first.fee, sign(o.a, first.tx.tx))
    const msg1 = unwrap(ClosingSigned.decode(unwrap(ClosingSigned.encode(sentA.message))))
    const atB = unwrap(receiveClosingSigned(secp, b, msg1))
    expect(atB.outcome._tag).toBe("Counter")
    if (atB.outcome._tag !== "Counter") return
    expect(atB.outcome.fee).toBe(1500n)
    const sentB = sendClosingSigned(atB.state, atB.outcome.fee, sign(o.b, atB.outcome.tx))
    const atA = unwrap(receiveClosingSigned(secp, sentA.state, sentB.message))
    expect(atA.outcome._tag).toBe("Agreed")
    if (atA.outcome._tag !== "Agreed") return
    expect(atA.outcome.reply).toBe(true)
    const sigA = sign(o.a, atA.outcome.tx)
    const finalA = finalizeClosing(chanA, atA.outcome.tx, sigA, atA.outcome.remoteSignature)
    const replyA = sendClosingSigned(atA.state, atA.outcome.fee, sigA)
    const atB2 = unwrap(receiveClosingSigned(secp, sentB.state, replyA.message))
    expect(atB2.outcome._tag).toBe("Agreed")
    if (atB2.outcome._tag !== "Agreed") return
    expect(atB2.outcome.reply).toBe(false)
    const finalB = finalizeClosing(chanB, atB2.outcome.tx, sign(o.b, atB2.outcome.tx), atB2.outcome.remoteSignature)
    expect(hexTx(finalA)).toBe(hexTx(finalB))
  })

  it("receiver MUSTs: bad signature, dust output, ranges", () => {
    const { a, b } = legacyPair({ min: sat(500n), max: sat(2000n) }, { min: sat(1500n), max: sat(3000n) })
    const tx = unwrap(legacyClosingTx(a, sat(1000n)))
    const msg = sendClosingSigned(a, sat(1000n), sign(o.a, tx.tx)).message
    expect(failureOf(receiveClosingSigned(secp, b, { ...msg, signature: new Uint8Array(64).fill(3) })).rule).toBe("InvalidSignature")
    expect(failureOf(receiveClosingSigned(secp, b, { ...msg, feeSatoshis: sat(1001n) })).rule).toBe("InvalidSignature")
    expect(failureOf(receiveClosingSigned(secp, b, { ...msg, channelId: o.funder.temporaryChannelId })).rule).toBe("ChannelIdMismatch")
    expect(failureOf(receiveClosingSigned(secp, b, { ...msg, tlvs: { feeRange: { minFeeSatoshis: sat(100n), maxFeeSatoshis: sat(1000n) } } })).rule).toBe(
      "FeeRangeNoOverlap"
    )
    expect(failureOf(receiveClosingSigned(secp, b, { ...msg, tlvs: { feeRange: { minFeeSatoshis: sat(6000n), maxFeeSatoshis: sat(5000n) } } })).rule).toBe("InvalidFeeRange")
    // A non-funder that already sent must see its own fee back.
    const bSent: LegacyNegotiation = { ...b, lastSent: sat(1500n), sentRange: { min: sat(1500n), max: sat(3000n) } }
    expect(failureOf(decideLegacyFee(bSent, sat(1400n), { min: sat(500n), max: sat(2000n) })).rule).toBe("FeeChanged")
    // A funder: a fee outside the overlap fails.
    expect(failureOf(decideLegacyFee(a, sat(2500n), { min: sat(1500n), max: sat(3000n) })).rule).toBe("FeeOutsideOverlap")
    // Without fee_range: strictly between.
    const mid: LegacyNegotiation = { ...a, lastSent: sat(1000n), lastReceived: sat(3000n) }
    expect(failureOf(decideLegacyFee(mid, sat(3000n), undefined)).rule).toBe("FeeNotBetween")
    expect(unwrap(decideLegacyFee(mid, sat(2800n), undefined)).decision).toEqual({ _tag: "Counter", fee: 1900n })
  })

  it("an output below its script's dust threshold fails the channel", () => {
    // B holds 100,000 sat; with a tiny balance the non-funder's output becomes dust for P2WPKH (294).
    const tiny = { ...chanA, toLocal: msat(999_800_000n), toRemote: msat(200_000n) }
    const tinyB = { ...chanB, toLocal: msat(200_000n), toRemote: msat(999_800_000n), remoteDustLimit: sat(100n) }
    const a = unwrap(startLegacyNegotiation({ channel: tiny, localScript: scriptA, remoteScript: scriptB, feeRange: { min: sat(500n), max: sat(2000n) } }))
    const b = unwrap(startLegacyNegotiation({ channel: tinyB, localScript: scriptB, remoteScript: scriptA, feeRange: { min: sat(0n), max: sat(2000n) } }))
    const tx = unwrap(buildWithDust(a, 100n))
    const msg = ClosingSigned.make({ channelId: chanA.channelId, feeSatoshis: sat(1000n), signature: sign(o.a, tx) })
    expect(failureOf(receiveClosingSigned(secp, b, msg)).rule).toBe("OutputBelowDust")
  })

  it("property: with fee_range the negotiation ends within 3 messages (or no overlap)", () => {
    const range = fc.tuple(fc.bigInt({ min: 0n, max: 20_000n }), fc.bigInt({ min: 0n, max: 20_000n })).map(([x, y]) => (x <= y ? { min: sat(x), max: sat(y) } : { min: sat(y), max: sat(x) }))
    fc.assert(
      fc.property(range, range, fc.bigInt({ min: 0n, max: 20_000n }), (ra, rb, start) => {
        let a: LegacyNegotiation = { ...legacyPair(ra, rb).a }
        let b: LegacyNegotiation = { ...legacyPair(ra, rb).b }
        const first = sat(start < ra.min ? ra.min : start > ra.max ? ra.max : start)
        a = { ...a, lastSent: first, sentRange: a.feeRange }
        let inFlight: { fee: Sat; range: { min: Sat; max: Sat } } = { fee: first, range: a.feeRange }
        let toB = true
        for (let messages = 1; messages <= 3; messages++) {
          const me = toB ? b : a
          const d = decideLegacyFee(me, inFlight.fee, inFlight.range)
          if (Result.isFailure(d)) {
            const overlap = (ra.min > rb.min ? ra.min : rb.min) <= (ra.max < rb.max ? ra.max : rb.max)
            // A no-overlap failure is correct exactly when the non-funder's widened range misses the funder's.
            expect(["FeeRangeNoOverlap"]).toContain(d.failure.rule)
            expect(overlap && rb.max >= ra.min).toBe(false)
            return
          }
          const next: LegacyNegotiation = { ...me, feeRange: d.success.feeRange, lastReceived: inFlight.fee }
          const dec = d.success.decision
          if (dec._tag === "Agree" && !dec.reply) return
          const sent = { ...next, lastSent: dec.fee, sentRange: next.feeRange }
          if (toB) b = sent
          else a = sent
          inFlight = { fee: dec.fee, range: sent.feeRange }
          toB = !toB
          if (dec._tag === "Agree") {
            // The other side sees its own fee back (or one in its range): done without reply.
            const other = toB ? b : a
            const end = unwrap(decideLegacyFee(other, dec.fee, sent.feeRange)).decision
            expect(end._tag).toBe("Agree")
            return
          }
        }
        throw new Error("no agreement within 3 messages")
      }),
      { numRuns: 300 }
    )
  })

  it("property: without fee_range the halfway rule converges in a bounded number of rounds", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 100_000n }), fc.bigInt({ min: 0n, max: 100_000n }), (x, y) => {
        const lowA = x < y ? x : y
        const highB = x < y ? y : x
        // A accepts only [0, lowA], B only [highB, 200k]: they must meet by halving.
        let a: LegacyNegotiation = { ...legacyPair({ min: sat(0n), max: sat(lowA) }, { min: sat(highB), max: sat(200_000n) }).a, lastSent: sat(lowA) }
        let b: LegacyNegotiation = legacyPair({ min: sat(0n), max: sat(lowA) }, { min: sat(highB), max: sat(200_000n) }).b
        let fee = sat(lowA)
        let toB = true
        for (let round = 0; round < 64; round++) {
          const me = toB ? b : a
          const dec = unwrap(decideLegacyFee(me, fee, undefined)).decision
          if (dec._tag === "Agree") return
          const next = { ...me, lastReceived: fee, lastSent: dec.fee }
          if (toB) b = next
          else a = next
          fee = dec.fee
          toB = !toB
        }
        throw new Error("did not converge in 64 rounds")
      }),
      { numRuns: 300 }
    )
  })
})

/** The funder's closing tx at `fee`, built with a low dust limit so the other output survives as dust. */
const buildWithDust = (n: LegacyNegotiation, dustLimit: bigint): Result.Result<Transaction, unknown> =>
  Result.map(legacyClosingTx({ ...n, channel: { ...n.channel, localDustLimit: sat(dustLimit) } }, sat(1000n)), (t) => t.tx)

const simplePair = (): { a: SimpleClose; b: SimpleClose } => ({
  a: startSimpleClose({ channel: chanA, localScript: scriptA, remoteScript: scriptB }),
  b: startSimpleClose({ channel: chanB, localScript: scriptB, remoteScript: scriptA })
})

/** One simple-close round: `closer` sends closing_complete, `closee` answers closing_sig. Both get the same tx. */
const simpleRound = (closer: { s: SimpleClose; p: Party }, closee: { s: SimpleClose; p: Party }, fee: bigint, locktime = 800_000) => {
  const proposal = unwrap(proposeClosingComplete(closer.s, { fee: sat(fee), locktime }))
  const sent = unwrap(sendClosingComplete(closer.s, proposal, proposal.toSign.map((t) => sign(closer.p, t.tx))))
  const msg = unwrap(ClosingComplete.decode(unwrap(ClosingComplete.encode(sent.message))))
  const got = unwrap(receiveClosingComplete(secp, closee.s, all, msg))
  const answer = sendClosingSig(got.state, got.received, sign(closee.p, got.received.tx))
  const sig = unwrap(ClosingSig.decode(unwrap(ClosingSig.encode(answer.message))))
  const done = unwrap(receiveClosingSig(secp, sent.state, sig))
  return { closerState: done.state, closeeState: got.state, closerTx: done.tx, closeeTx: answer.tx, proposal, sent, msg, got }
}

describe("option_simple_close", () => {
  it("both roles produce the same fully signed transaction", () => {
    const { a, b } = simplePair()
    const r1 = simpleRound({ s: a, p: o.a }, { s: b, p: o.b }, 1000n)
    expect(hexTx(r1.closerTx)).toBe(hexTx(r1.closeeTx))
    expect(r1.closerTx.locktime).toBe(800_000)
    expect(r1.closerTx.inputs[0]?.sequence).toBe(0xfffffffd)
    expect(r1.proposal.toSign.map((t) => t.variant)).toEqual(["closer_output_only", "closer_and_closee_outputs"])
    expect(r1.got.received.variant).toBe("closer_and_closee_outputs")
    const r2 = simpleRound({ s: b, p: o.b }, { s: a, p: o.a }, 700n)
    expect(hexTx(r2.closerTx)).toBe(hexTx(r2.closeeTx))
    // B holds less: it signs both outputs only (its output is not dust).
    expect(r2.proposal.toSign.map((t) => t.variant)).toEqual(["closer_and_closee_outputs"])
  })

  it("property: random balances and fees, both roles agree on the transaction", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1_000_000_000n }), fc.bigInt({ min: 200n, max: 5_000n }), fc.boolean(), (toA, fee, aCloses) => {
        const ca = { ...chanA, toLocal: msat(toA), toRemote: msat(1_000_000_000n - toA) }
        const cb = { ...chanB, toLocal: msat(1_000_000_000n - toA), toRemote: msat(toA) }
        const a = startSimpleClose({ channel: ca, localScript: scriptA, remoteScript: scriptB })
        const b = startSimpleClose({ channel: cb, localScript: scriptB, remoteScript: scriptA })
        const [closer, closee] = aCloses ? [{ s: a, p: o.a }, { s: b, p: o.b }] : [{ s: b, p: o.b }, { s: a, p: o.a }]
        const proposal = proposeClosingComplete(closer.s, { fee: sat(fee), locktime: 0 })
        if (Result.isFailure(proposal)) {
          expect(["FeeExceedsBalance", "NoOutputLeft"]).toContain(proposal.failure.rule)
          return
        }
        const r = simpleRound(closer, closee, fee, 0)
        expect(hexTx(r.closerTx)).toBe(hexTx(r.closeeTx))
      }),
      { numRuns: 25 }
    )
  })

  it("closer rules", () => {
    const { a } = simplePair()
    expect(failureOf(proposeClosingComplete(a, { fee: sat(900_001n), locktime: 0 })).rule).toBe("FeeExceedsBalance")
    const pending = simpleRound({ s: a, p: o.a }, { s: simplePair().b, p: o.b }, 1000n).sent.state
    expect(failureOf(proposeClosingComplete(pending, { fee: sat(1000n), locktime: 0 })).rule).toBe("ClosingCompletePending")
    // Every output dust: the closer cannot close this way.
    const poor = startSimpleClose({ channel: { ...chanA, toLocal: msat(300_000n), toRemote: msat(999_700_000n) }, localScript: scriptA, remoteScript: scriptB })
    expect(proposeClosingComplete(poor, { fee: sat(290n), locktime: 0 }).pipe(unwrap).toSign.map((t) => t.variant)).toEqual(["closee_output_only"])
  })

  it("closee rules", () => {
    const { a, b } = simplePair()
    const r = simpleRound({ s: a, p: o.a }, { s: b, p: o.b }, 1000n)
    const m = r.msg
    expect(failureOf(receiveClosingComplete(secp, b, all, { ...m, channelId: o.funder.temporaryChannelId })).rule).toBe("ChannelIdMismatch")
    expect(failureOf(receiveClosingComplete(secp, b, all, { ...m, feeSatoshis: sat(900_001n) })).rule).toBe("FeeExceedsBalance")
    expect(failureOf(receiveClosingComplete(secp, b, all, { ...m, closeeScriptpubkey: scriptA })).rule).toBe("CloseeScriptMismatch")
    expect(failureOf(receiveClosingComplete(secp, b, all, { ...m, closerScriptpubkey: Uint8Array.of(0x51) })).rule).toBe("InvalidCloserScript")
    // Without closer_and_closee_outputs the closee selects closee_output_only, which is absent.
    expect(failureOf(receiveClosingComplete(secp, b, all, { ...m, tlvs: { closerOutputOnly: m.tlvs.closerOutputOnly ?? new Uint8Array(64) } })).rule).toBe(
      "SignatureMissing"
    )
    expect(failureOf(receiveClosingComplete(secp, b, all, { ...m, tlvs: {} })).rule).toBe("SignatureMissing")
    const swapped = { ...m, tlvs: { closerOutputOnly: m.tlvs.closerOutputOnly ?? new Uint8Array(64), closerAndCloseeOutputs: m.tlvs.closerOutputOnly ?? new Uint8Array(64) } }
    expect(failureOf(receiveClosingComplete(secp, b, all, swapped)).rule).toBe("InvalidSignature")
    // Our output uneconomical: we select closer_output_only.
    expect(unwrap(receiveClosingComplete(secp, b, all, m, { ownOutputUneconomical: true })).received.variant).toBe("closer_output_only")
  })

  it("closing_sig rules", () => {
    const { a, b } = simplePair()
    const r = simpleRound({ s: a, p: o.a }, { s: b, p: o.b }, 1000n)
    const pending = r.sent.state
    const answer = sendClosingSig(r.got.state, r.got.received, sign(o.b, r.got.received.tx)).message
    expect(failureOf(receiveClosingSig(secp, a, answer)).rule).toBe("NoPendingClosingComplete")
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, feeSatoshis: sat(999n) })).rule).toBe("ClosingSigMismatch")
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, locktime: 1 })).rule).toBe("ClosingSigMismatch")
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, closeeScriptpubkey: scriptA })).rule).toBe("ClosingSigMismatch")
    const sig = answer.tlvs.closerAndCloseeOutputs ?? new Uint8Array(64)
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, tlvs: {} })).rule).toBe("NotExactlyOneSignature")
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, tlvs: { closerOutputOnly: sig, closerAndCloseeOutputs: sig } })).rule).toBe("NotExactlyOneSignature")
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, tlvs: { closeeOutputOnly: sig } })).rule).toBe("UnexpectedSignatureVariant")
    expect(failureOf(receiveClosingSig(secp, pending, { ...answer, tlvs: { closerOutputOnly: sig } })).rule).toBe("InvalidSignature")
    expect(Result.isSuccess(receiveClosingSig(secp, pending, answer))).toBe(true)
  })
})

describe("a Close command's feerate (BOLT 3: the funder's output pays a legacy close's fee)", () => {
  const stateOf = (node: Node): ChannelState => {
    if (node.state === undefined) throw new Error("no channel")
    return node.state
  }
  const closeAt = (node: Node, feeratePerKw: number, state: ChannelState = stateOf(node)) =>
    step(node.ctx, state, { _tag: "Close", scriptPubKey: node.ctx.shutdownScript, feeratePerKw })
  const refusal = (node: Node, feeratePerKw: number) => {
    const r = closeAt(node, feeratePerKw)
    if (Result.isSuccess(r)) throw new Error(`Close at ${feeratePerKw} sat/kw accepted`)
    return r.failure
  }
  /** The highest feerate the funder's Close accepts (the step is pure: nothing is applied). */
  const highestAccepted = (node: Node, state: ChannelState = stateOf(node)): number => {
    let lo = 253
    let hi = 10_000_000
    expect(Result.isSuccess(closeAt(node, lo, state))).toBe(true)
    expect(Result.isFailure(closeAt(node, hi, state))).toBe(true)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (Result.isSuccess(closeAt(node, mid, state))) lo = mid
      else hi = mid
    }
    return lo
  }

  it("the funder's Close at a feerate it cannot pay is refused (FeeExceedsBalance), the state unchanged, nothing sent", () => {
    const p = newPair("close-fee-a", "close-fee-b")
    p.open()
    const before = p.a.state
    const failure = refusal(p.a, 2_000_000)
    expect(failure._tag).toBe("ClosingRejected")
    expect(failure._tag === "ClosingRejected" ? failure.rule : undefined).toBe("FeeExceedsBalance")
    // Alice holds 800,000 sat (1,000,000 funded, 200,000 pushed).
    expect(failure._tag === "ClosingRejected" ? failure.detail : undefined).toMatch(/^a closing fee of \d+ sat at 2000000 sat\/kw: fee exceeds the funder's balance \(800000 sat\)$/)
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2_000_000 })).toBeDefined()
    expect(p.a.state).toBe(before)
    expect(p.log.filter((l) => l.message._tag === "Shutdown")).toEqual([])
    // A feerate it can pay: the close goes through.
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
  })

  it("the highest feerate accepted closes cooperatively: the check is neither looser nor much stricter than the negotiation", () => {
    const p = newPair("close-max-a", "close-max-b")
    p.open()
    const highest = highestAccepted(p.a)
    // Alice holds 800,000 sat: a two-output closing transaction weighs ~700: ~1,150,000 sat/kw.
    expect(highest).toBeGreaterThan(1_000_000)
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: highest })).toBeUndefined()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("Cooperative")
  })

  it("HTLCs in flight count against the funder: what it offered may yet be paid out", () => {
    const p = newPair("close-htlc-a", "close-htlc-b")
    p.open()
    const idle = highestAccepted(p.a)
    p.add(p.a, 400_000_000n, "close-htlc-signed")
    p.settle()
    const withSigned = highestAccepted(p.a)
    expect(withSigned).toBeLessThan(idle * 0.6)
    // Not yet signed: counted the same.
    p.add(p.a, 200_000_000n, "close-htlc-proposed")
    const withProposed = highestAccepted(p.a)
    expect(withProposed).toBeLessThan(withSigned * 0.6)
  })

  it("the peer's script once known prices the real transaction (until then, the longest it may send)", () => {
    const p = newPair("close-script-a", "close-script-b")
    p.open()
    const before = stateOf(p.a)
    if (before._tag !== "Normal") throw new Error("not Normal")
    const unknown = highestAccepted(p.a)
    // Bob's shutdown (a 22-byte P2WPKH script): Alice's state once it is received, before her reply.
    expect(p.input(p.b, { _tag: "Close", scriptPubKey: p.b.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    const shutdown = p.a.inbox[0]
    if (shutdown?._tag !== "Shutdown") throw new Error("expected Bob's shutdown")
    expect(shutdown.scriptpubkey.length).toBe(22)
    const known = highestAccepted(p.a, { ...before, shutdown: { remoteScript: shutdown.scriptpubkey } })
    expect(known).toBeGreaterThan(unknown)
  })

  it("a close the peer starts, priced at the funder's estimate above its balance: it offers its whole balance (its output left out) and the close completes", () => {
    const p = newPair("close-peer-a", "close-peer-b")
    // Alice (the funder) keeps 10,000 sat; her estimate, 50,000 sat/kw, prices ~34,000 sat.
    p.open({ pushMsat: 990_000_000n })
    p.a.ctx = { ...p.a.ctx, feerateEstimatePerKw: 50_000 }
    expect(p.input(p.b, { _tag: "Close", scriptPubKey: p.b.ctx.shutdownScript, feeratePerKw: 20_000 })).toBeUndefined()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
    const proposals = p.log.filter((l) => l.message._tag === "ClosingSigned")
    const first = proposals[0]
    expect(first?.from).toBe(p.a.name)
    if (first?.message._tag !== "ClosingSigned") throw new Error("no closing_signed")
    expect(first.message.feeSatoshis).toBe(10_000n)
    expect(first.message.tlvs.feeRange).toEqual({ minFeeSatoshis: 10_000n, maxFeeSatoshis: 10_000n })
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("Cooperative")
  })

  it("nothing to refuse for the fundee (it pays no fee in a legacy close): its Close goes through", () => {
    const p = newPair("close-fundee-a", "close-fundee-b")
    p.open()
    expect(p.input(p.b, { _tag: "Close", scriptPubKey: p.b.ctx.shutdownScript, feeratePerKw: 2_000_000 })).toBeUndefined()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
  })

  it("nor with option_simple_close (each side pays for its own closing_complete)", () => {
    const p = newPair("close-simple-a", "close-simple-b")
    const features = new Set([...baseFeatures, "option_simple_close" as const])
    p.open({ features })
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2_000_000 })).toBeUndefined()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
  })
})
