/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/channel/close.ts`)
 * left alive in `close.ts`: the BOLT 2 "Channel Close" rules the scenario tests in
 * close.test.ts do not reach on their own (a zero-length upfront script, our own fee range, the
 * funder's balance as the legacy fee's ceiling, the non-funder's first answer inside the overlap,
 * the fee negotiation without `fee_range` at each bound, the simple close's signature count), and
 * the text each rejection carries: it becomes the data of the `warning` / `error` we send
 * (BOLT 1 "The `error` and `warning` Messages"; step.ts `errorText`), so it must say why, with
 * the amounts when the rule compares amounts.
 */
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  checkUpdateAfterShutdown,
  closeFeatures,
  closingChannel,
  closingFee,
  decideLegacyFee,
  legacyClosingTx,
  legacyFeeRange,
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
import type { ClosingRejected, ShutdownRejected } from "../../../src/protocol/channel/errors.ts"
import type { ChannelParams } from "../../../src/protocol/channel/params.ts"
import { ClosingSigned, Shutdown } from "../../../src/protocol/messages/channel.ts"
import { p2wpkhScript, p2wshScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { weight, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { msat, sat, type Sat } from "../../../src/protocol/units.ts"
import { makeParty, openChannel, secp, unwrap, type Party } from "./open-fixtures.ts"

const o = openChannel()
const scriptA = p2wpkhScript(makeParty("close-mut-alice").basepoints.paymentBasepoint)
const scriptB = p2wpkhScript(makeParty("close-mut-bob").basepoints.paymentBasepoint)
const legacyFeatures = closeFeatures(new Set(["option_upfront_shutdown_script"]))
const simpleFeatures = closeFeatures(new Set(["option_shutdown_anysegwit", "option_upfront_shutdown_script", "option_simple_close"]))

const sign = (p: Party, tx: Transaction): Uint8Array => Effect.runSync(p.signer.signClosing(p.keyId, tx))

/** The rule of a rejection, after checking it says why (its detail is the text sent to the peer). */
const rejected = <A>(r: Result.Result<A, ShutdownRejected | ClosingRejected>): string => {
  if (Result.isSuccess(r)) throw new Error("expected a rejection")
  expect(r.failure.detail.length).toBeGreaterThan(0)
  return r.failure.rule
}
const detailOf = <A>(r: Result.Result<A, ShutdownRejected | ClosingRejected>): string => {
  if (Result.isSuccess(r)) throw new Error("expected a rejection")
  return r.failure.detail
}

const ctx = (params: ChannelParams, over: Partial<ShutdownContext> = {}): ShutdownContext => ({
  params,
  features: legacyFeatures,
  fundingSent: true,
  fundingReceived: true,
  pendingUpdatesForRemote: false,
  ...over
})

const chanA: ClosingChannel = closingChannel(o.funder.params, { toLocal: msat(900_000_000n), toRemote: msat(100_000_000n) })
const chanB: ClosingChannel = closingChannel(o.fundee.params, { toLocal: msat(100_000_000n), toRemote: msat(900_000_000n) })

const legacy = (channel: ClosingChannel, feeRange: { min: Sat; max: Sat }, local = scriptA, remote = scriptB): LegacyNegotiation =>
  unwrap(startLegacyNegotiation({ channel, localScript: local, remoteScript: remote, feeRange }))

describe("shutdown (BOLT 2 Closing Initiation)", () => {
  const pA = o.funder.params
  const pB = o.fundee.params

  it("sender: each refusal says why", () => {
    expect(rejected(makeShutdown(ctx(pA, { fundingSent: false }), noShutdown, scriptA))).toBe("NotFunded")
    expect(rejected(makeShutdown(ctx(pA), { localScript: scriptA }, scriptA))).toBe("AlreadySent")
    expect(rejected(makeShutdown(ctx(pA, { pendingUpdatesForRemote: true }), noShutdown, scriptA))).toBe("PendingUpdates")
    const bound = { ...pA, local: { ...pA.local, upfrontShutdownScript: scriptB } }
    expect(rejected(makeShutdown(ctx(bound), noShutdown, scriptA))).toBe("UpfrontScriptMismatch")
    expect(rejected(makeShutdown(ctx(pA), noShutdown, Uint8Array.of(0x51)))).toBe("InvalidScript")
  })

  it("sender: a zero-length upfront_shutdown_script binds to nothing (only a non-zero-length one must be repeated)", () => {
    const empty = { ...pA, local: { ...pA.local, upfrontShutdownScript: new Uint8Array(0) } }
    const ok = unwrap(makeShutdown(ctx(empty), noShutdown, scriptA))
    expect(ok.state.localScript).toEqual(scriptA)
    expect(ok.message.scriptpubkey).toEqual(scriptA)
    // The same upfront script as the one sent is accepted.
    const same = { ...pA, local: { ...pA.local, upfrontShutdownScript: scriptA } }
    expect(unwrap(makeShutdown(ctx(same), noShutdown, scriptA)).message.channelId).toEqual(pA.channelId)
  })

  it("receiver: each refusal says why", () => {
    const msg = Shutdown.make({ channelId: pB.channelId, scriptpubkey: scriptA })
    expect(rejected(receiveShutdown(ctx(pB), noShutdown, { ...msg, channelId: o.funder.temporaryChannelId }))).toBe("ChannelIdMismatch")
    expect(rejected(receiveShutdown(ctx(pB, { fundingReceived: false }), noShutdown, msg))).toBe("NotFunded")
    expect(rejected(receiveShutdown(ctx(pB), { remoteScript: scriptB }, msg))).toBe("AlreadyReceived")
    expect(rejected(receiveShutdown(ctx(pB), noShutdown, { ...msg, scriptpubkey: Uint8Array.of(0x51) }))).toBe("InvalidScript")
    const bound = { ...pB, remote: { ...pB.remote, upfrontShutdownScript: scriptB } }
    expect(rejected(receiveShutdown(ctx(bound), noShutdown, msg))).toBe("UpfrontScriptMismatch")
  })

  it("receiver: a zero-length upfront script from the peer binds to nothing; a repeat of the same shutdown is accepted", () => {
    const msg = Shutdown.make({ channelId: pB.channelId, scriptpubkey: scriptA })
    const empty = { ...pB, remote: { ...pB.remote, upfrontShutdownScript: new Uint8Array(0) } }
    expect(unwrap(receiveShutdown(ctx(empty), noShutdown, msg)).state.remoteScript).toEqual(scriptA)
    const again = unwrap(receiveShutdown(ctx(pB), { remoteScript: scriptA }, msg))
    expect(again.state.remoteScript).toEqual(scriptA)
  })

  it("the close features read from the connection's features, each on its own", () => {
    expect(closeFeatures(new Set())).toEqual({ anySegwit: false, simpleClose: false, upfrontShutdown: false })
    expect(closeFeatures(new Set(["option_shutdown_anysegwit"]))).toEqual({ anySegwit: true, simpleClose: false, upfrontShutdown: false })
    expect(closeFeatures(new Set(["option_simple_close"]))).toEqual({ anySegwit: false, simpleClose: true, upfrontShutdown: false })
    expect(closeFeatures(new Set(["option_upfront_shutdown_script"]))).toEqual({ anySegwit: false, simpleClose: false, upfrontShutdown: true })
  })

  it("negotiation waits for every update to be in both commitments, and for both shutdowns", () => {
    const both = { localScript: scriptA, remoteScript: scriptB }
    const quiet = { htlcCount: 0, pendingUpdates: false, revocationOwed: false }
    expect(readyToNegotiate(both, quiet)).toBe(true)
    expect(readyToNegotiate(both, { ...quiet, pendingUpdates: true })).toBe(false)
    expect(readyToNegotiate({ remoteScript: scriptB }, quiet)).toBe(false)
  })

  it("no update at all only once the channel is empty after BOTH shutdowns; an update other than an add is allowed after ours alone", () => {
    expect(Result.isSuccess(checkUpdateAfterShutdown({ localScript: scriptA }, { direction: "send", kind: "other", channelEmpty: true }))).toBe(true)
    expect(Result.isSuccess(checkUpdateAfterShutdown({ remoteScript: scriptB }, { direction: "receive", kind: "other", channelEmpty: true }))).toBe(true)
    expect(Result.isSuccess(checkUpdateAfterShutdown(noShutdown, { direction: "send", kind: "add", channelEmpty: true }))).toBe(true)
  })

  it("the closing channel: the funding output, both funding keys, the funder, both dust limits and the final balances", () => {
    const c = closingChannel(pA, { toLocal: msat(1n), toRemote: msat(2n) })
    expect(c).toEqual({
      channelId: pA.channelId,
      fundingOutpoint: pA.fundingOutpoint,
      fundingAmount: pA.fundingAmount,
      localFundingPubkey: pA.local.basepoints.fundingPubkey,
      remoteFundingPubkey: pA.remote.basepoints.fundingPubkey,
      localIsFunder: pA.localIsFunder,
      localDustLimit: pA.local.dustLimit,
      remoteDustLimit: pA.remote.dustLimit,
      toLocal: 1n,
      toRemote: 2n
    })
  })

  it("updates after shutdown: each refusal says why", () => {
    expect(rejected(checkUpdateAfterShutdown({ localScript: scriptA }, { direction: "send", kind: "add", channelEmpty: false }))).toBe("UpdateAfterShutdown")
    expect(
      rejected(checkUpdateAfterShutdown({ localScript: scriptA, remoteScript: scriptB }, { direction: "receive", kind: "other", channelEmpty: true }))
    ).toBe("UpdateAfterShutdown")
  })
})

describe("legacy closing_signed (BOLT 2 Legacy Closing Negotiation)", () => {
  it("our own fee_range must be a range (min_fee_satoshis <= max_fee_satoshis); min = max is one", () => {
    expect(rejected(startLegacyNegotiation({ channel: chanA, localScript: scriptA, remoteScript: scriptB, feeRange: { min: sat(2n), max: sat(1n) } }))).toBe(
      "InvalidFeeRange"
    )
    const n = legacy(chanA, { min: sat(700n), max: sat(700n) })
    expect(n.feeRange).toEqual({ min: 700n, max: 700n })
    expect(n.localScript).toEqual(scriptA)
    expect(n.remoteScript).toEqual(scriptB)
    expect(n.channel).toBe(chanA)
  })

  it("our range: the funder from its minimum percentage, the non-funder (who does not pay) from zero", () => {
    const config = { closingFeeMinPercent: 50, closingFeeMaxPercent: 300 }
    expect(legacyFeeRange(config, true, sat(1000n))).toEqual({ min: 500n, max: 3000n })
    expect(legacyFeeRange(config, false, sat(1000n))).toEqual({ min: 0n, max: 3000n })
  })

  it("the funder pays the fee (BOLT 3): a fee above its balance is FeeExceedsBalance, one that leaves no output NoOutputLeft", () => {
    // A holds 900,000 sat, B 100,000.
    const n = legacy(chanA, { min: sat(0n), max: sat(2_000_000n) })
    expect(rejected(legacyClosingTx(n, sat(900_001n)))).toBe("FeeExceedsBalance")
    // B's output alone is below A's dust limit and A's is all fee: nothing is left.
    const poor = legacy({ ...chanA, toLocal: msat(500_000n), toRemote: msat(999_500_000n), localIsFunder: true, localDustLimit: sat(1_000_000n) }, { min: sat(0n), max: sat(500n) })
    expect(rejected(legacyClosingTx(poor, sat(500n)))).toBe("NoOutputLeft")
  })

  it("the fee at a feerate prices the signed transaction: its weight plus the 2-of-2 witness (BOLT 3 Appendix A: 222) and the segwit marker and flag", () => {
    const n = legacy(chanA, { min: sat(0n), max: sat(10_000n) })
    const tx = unwrap(legacyClosingTx(n, sat(0n))).tx
    expect(closingFee(tx, 1000)).toBe(BigInt(weight(tx) + 224))
    expect(closingFee(tx, 253)).toBe((253n * BigInt(weight(tx) + 224)) / 1000n)
  })

  it("no first proposal when even a zero fee leaves no output above our dust limit", () => {
    const poor = legacy({ ...chanA, toLocal: msat(500_000n), toRemote: msat(999_500_000n), localDustLimit: sat(1_000_000n) }, { min: sat(0n), max: sat(500n) })
    expect(rejected(legacyInitialProposal(poor, 253))).toBe("NoOutputLeft")
  })

  it("the first proposal is our estimate clamped to our range", () => {
    const n = legacy(chanA, { min: sat(500n), max: sat(2000n) })
    const low = unwrap(legacyInitialProposal(n, 1))
    expect(low.fee).toBe(500n)
    const high = unwrap(legacyInitialProposal(n, 100_000))
    expect(high.fee).toBe(2000n)
    const mid = unwrap(legacyInitialProposal(n, 2_000))
    expect(mid.fee).toBeGreaterThan(500n)
    expect(mid.fee).toBeLessThan(2000n)
    // The transaction pays exactly that fee: funding amount minus the outputs.
    const out = mid.tx.tx.outputs.reduce((a, x) => a + x.value, 0n)
    expect(chanA.fundingAmount - out).toBe(mid.fee)
  })

  it("a closing_signed always carries our fee_range, and the state remembers the fee and range sent", () => {
    const n = legacy(chanA, { min: sat(500n), max: sat(2000n) })
    const tx = unwrap(legacyClosingTx(n, sat(1000n)))
    const sent = sendClosingSigned(n, sat(1000n), sign(o.a, tx.tx))
    expect(sent.message.tlvs.feeRange).toEqual({ minFeeSatoshis: 500n, maxFeeSatoshis: 2000n })
    expect(sent.message.feeSatoshis).toBe(1000n)
    expect(sent.state.lastSent).toBe(1000n)
    expect(sent.state.sentRange).toEqual({ min: 500n, max: 2000n })
  })

  it("non-funder, not yet sent, fee inside the overlap: agrees and replies, keeping its max raised to the funder's", () => {
    const b = legacy(chanB, { min: sat(0n), max: sat(1000n) })
    const d = unwrap(decideLegacyFee(b, sat(1500n), { min: sat(1200n), max: sat(3000n) }))
    // BOLT 2: the non-funder SHOULD set max_fee_satoshis to at least the max received.
    expect(d.decision).toEqual({ _tag: "Agree", fee: 1500n, reply: true })
    expect(d.feeRange).toEqual({ min: 0n, max: 3000n })
  })

  it("non-funder, not yet sent, fee outside the overlap: proposes the overlap's nearer bound", () => {
    const b = legacy(chanB, { min: sat(1000n), max: sat(2000n) })
    // Their range [500, 4000], ours widened to [1000, 4000]: overlap [1000, 4000].
    expect(unwrap(decideLegacyFee(b, sat(600n), { min: sat(500n), max: sat(4000n) })).decision).toEqual({ _tag: "Counter", fee: 1000n })
    // Their max below ours: not widened, overlap [1000, 1800]; a fee above it is countered with its top.
    const d = unwrap(decideLegacyFee(b, sat(1900n), { min: sat(500n), max: sat(1800n) }))
    expect(d.feeRange).toEqual({ min: 1000n, max: 2000n })
    expect(d.decision).toEqual({ _tag: "Counter", fee: 1800n })
  })

  it("the funder: a fee in the overlap is agreed with the same fee; outside it fails, naming the fee and the overlap", () => {
    const a = legacy(chanA, { min: sat(500n), max: sat(2000n) })
    expect(unwrap(decideLegacyFee(a, sat(1500n), { min: sat(1000n), max: sat(3000n) })).decision).toEqual({ _tag: "Agree", fee: 1500n, reply: true })
    const r = decideLegacyFee(a, sat(2500n), { min: sat(1000n), max: sat(3000n) })
    expect(rejected(r)).toBe("FeeOutsideOverlap")
    expect(detailOf(r)).toContain("2500")
    expect(detailOf(r)).toContain("1000")
    expect(detailOf(r)).toContain("2000")
    expect(rejected(decideLegacyFee(a, sat(1500n), { min: sat(2500n), max: sat(3000n) }))).toBe("FeeRangeNoOverlap")
    expect(rejected(decideLegacyFee(a, sat(1500n), { min: sat(3000n), max: sat(2500n) }))).toBe("InvalidFeeRange")
  })

  it("a fee inside the fee_range we sent is agreed before their fee_range is looked at (BOLT 2 order of the receiver rules)", () => {
    const n: LegacyNegotiation = { ...legacy(chanA, { min: sat(500n), max: sat(2000n) }), lastSent: sat(800n), sentRange: { min: sat(500n), max: sat(2000n) } }
    // Their range [600, 3000] does not hold 500, and [100, 1900] does not hold 2000: still agreed, ours was sent first.
    expect(unwrap(decideLegacyFee(n, sat(500n), { min: sat(600n), max: sat(3000n) })).decision).toEqual({ _tag: "Agree", fee: 500n, reply: true })
    expect(unwrap(decideLegacyFee(n, sat(2000n), { min: sat(100n), max: sat(1900n) })).decision).toEqual({ _tag: "Agree", fee: 2000n, reply: true })
  })

  it("a fee_range of one value (min = max) is a range", () => {
    const a = legacy(chanA, { min: sat(500n), max: sat(2000n) })
    expect(unwrap(decideLegacyFee(a, sat(1500n), { min: sat(1500n), max: sat(1500n) })).decision).toEqual({ _tag: "Agree", fee: 1500n, reply: true })
  })

  it("the funder: the overlap's bounds are in it", () => {
    const a = legacy(chanA, { min: sat(500n), max: sat(2000n) })
    expect(unwrap(decideLegacyFee(a, sat(1000n), { min: sat(1000n), max: sat(3000n) })).decision).toEqual({ _tag: "Agree", fee: 1000n, reply: true })
    expect(unwrap(decideLegacyFee(a, sat(2000n), { min: sat(1000n), max: sat(3000n) })).decision).toEqual({ _tag: "Agree", fee: 2000n, reply: true })
    expect(rejected(decideLegacyFee(a, sat(999n), { min: sat(1000n), max: sat(3000n) }))).toBe("FeeOutsideOverlap")
    expect(rejected(decideLegacyFee(a, sat(2001n), { min: sat(1000n), max: sat(3000n) }))).toBe("FeeOutsideOverlap")
  })

  it("a non-funder that already sent its closing_signed no longer raises its max: a range above the one it sent does not overlap", () => {
    const sent: LegacyNegotiation = { ...legacy(chanB, { min: sat(1000n), max: sat(2000n) }), lastSent: sat(1500n), sentRange: { min: sat(1000n), max: sat(2000n) } }
    expect(rejected(decideLegacyFee(sent, sat(2600n), { min: sat(2500n), max: sat(3000n) }))).toBe("FeeRangeNoOverlap")
  })

  it("a non-funder that already sent must see its own fee back: the refusal names both fees", () => {
    const b: LegacyNegotiation = { ...legacy(chanB, { min: sat(1500n), max: sat(3000n) }), lastSent: sat(1600n), sentRange: { min: sat(1500n), max: sat(3000n) } }
    const r = decideLegacyFee(b, sat(1400n), { min: sat(500n), max: sat(2000n) })
    expect(rejected(r)).toBe("FeeChanged")
    expect(detailOf(r)).toContain("1400")
    expect(detailOf(r)).toContain("1600")
  })

  it("a fee equal to the one we sent: agreed, no reply; one inside the range we sent: agreed with a reply", () => {
    const n: LegacyNegotiation = { ...legacy(chanA, { min: sat(500n), max: sat(2000n) }), lastSent: sat(800n), sentRange: { min: sat(500n), max: sat(2000n) } }
    expect(unwrap(decideLegacyFee(n, sat(800n), undefined)).decision).toEqual({ _tag: "Agree", fee: 800n, reply: false })
    expect(unwrap(decideLegacyFee(n, sat(500n), undefined)).decision).toEqual({ _tag: "Agree", fee: 500n, reply: true })
    expect(unwrap(decideLegacyFee(n, sat(2000n), undefined)).decision).toEqual({ _tag: "Agree", fee: 2000n, reply: true })
  })

  it("without fee_range: a first fee inside our range is agreed (at both bounds), outside it countered with the nearer bound", () => {
    const n = legacy(chanB, { min: sat(1000n), max: sat(2000n) })
    expect(unwrap(decideLegacyFee(n, sat(1000n), undefined)).decision).toEqual({ _tag: "Agree", fee: 1000n, reply: true })
    expect(unwrap(decideLegacyFee(n, sat(2000n), undefined)).decision).toEqual({ _tag: "Agree", fee: 2000n, reply: true })
    expect(unwrap(decideLegacyFee(n, sat(999n), undefined)).decision).toEqual({ _tag: "Counter", fee: 1000n })
    expect(unwrap(decideLegacyFee(n, sat(2001n), undefined)).decision).toEqual({ _tag: "Counter", fee: 2000n })
  })

  it("without fee_range: the strictly-between rule needs both our last fee and theirs; with only theirs, the fee is judged against our range", () => {
    const n: LegacyNegotiation = { ...legacy(chanB, { min: sat(1000n), max: sat(2000n) }), lastReceived: sat(3000n) }
    expect(unwrap(decideLegacyFee(n, sat(1500n), undefined)).decision).toEqual({ _tag: "Agree", fee: 1500n, reply: true })
  })

  it("without fee_range: strictly between our last and their last (either order), else refused with both bounds", () => {
    const base = legacy(chanA, { min: sat(0n), max: sat(100n) })
    const up: LegacyNegotiation = { ...base, lastSent: sat(1000n), lastReceived: sat(3000n) }
    const down: LegacyNegotiation = { ...base, lastSent: sat(3000n), lastReceived: sat(1000n) }
    for (const n of [up, down]) {
      const below = decideLegacyFee(n, sat(500n), undefined)
      expect(rejected(below)).toBe("FeeNotBetween")
      expect(detailOf(below)).toContain("500")
      expect(detailOf(below)).toContain("1000")
      expect(detailOf(below)).toContain("3000")
      expect(rejected(decideLegacyFee(n, sat(3500n), undefined))).toBe("FeeNotBetween")
    }
    // Their own last fee again is not strictly between (only our own last fee is agreed at once).
    expect(rejected(decideLegacyFee(up, sat(3000n), undefined))).toBe("FeeNotBetween")
    expect(rejected(decideLegacyFee(down, sat(1000n), undefined))).toBe("FeeNotBetween")
    // Just inside both bounds: not refused.
    expect(Result.isSuccess(decideLegacyFee(up, sat(1001n), undefined))).toBe(true)
    expect(Result.isSuccess(decideLegacyFee(up, sat(2999n), undefined))).toBe(true)
    // Strictly between, outside our range: halfway between theirs and our last.
    expect(unwrap(decideLegacyFee(up, sat(2000n), undefined)).decision).toEqual({ _tag: "Counter", fee: 1500n })
    expect(unwrap(decideLegacyFee(down, sat(2000n), undefined)).decision).toEqual({ _tag: "Counter", fee: 2500n })
    // 1 sat apart from our last: nothing strictly between, take theirs.
    expect(unwrap(decideLegacyFee({ ...base, lastSent: sat(1000n), lastReceived: sat(1003n) }, sat(1001n), undefined)).decision).toEqual({
      _tag: "Agree",
      fee: 1001n,
      reply: true
    })
    expect(unwrap(decideLegacyFee({ ...base, lastSent: sat(1003n), lastReceived: sat(1000n) }, sat(1002n), undefined)).decision).toEqual({
      _tag: "Agree",
      fee: 1002n,
      reply: true
    })
  })

  it("a received closing_signed: the channel id, then the signature on one of the sender's two variants", () => {
    const a = legacy(chanA, { min: sat(500n), max: sat(2000n) })
    const b = legacy(chanB, { min: sat(0n), max: sat(1500n) }, scriptB, scriptA)
    const tx = unwrap(legacyClosingTx(a, sat(1000n)))
    const msg = sendClosingSigned(a, sat(1000n), sign(o.a, tx.tx)).message
    expect(rejected(receiveClosingSigned(secp, b, { ...msg, channelId: o.funder.temporaryChannelId }))).toBe("ChannelIdMismatch")
    expect(rejected(receiveClosingSigned(secp, b, { ...msg, signature: new Uint8Array(64).fill(3) }))).toBe("InvalidSignature")
    const got = unwrap(receiveClosingSigned(secp, b, msg))
    // B agrees (1000 is in the overlap), remembers the fee received and its max raised to A's 2000.
    expect(got.state.lastReceived).toBe(1000n)
    expect(got.state.feeRange).toEqual({ min: 0n, max: 2000n })
    expect(got.outcome._tag).toBe("Agreed")
    if (got.outcome._tag !== "Agreed") return
    expect(got.outcome.fee).toBe(1000n)
    expect(got.outcome.remoteSignature).toEqual(msg.signature)
    expect(got.outcome.tx.outputs.map((x) => x.value)).toEqual(tx.tx.outputs.map((x) => x.value))
  })

  it("a received closing_signed signed on the variant without the sender's own output is accepted", () => {
    // A's own output omitted (BOLT 3: the sender may omit its output); B verifies the second variant.
    const smallA = { ...chanA, toLocal: msat(400_000_000n), toRemote: msat(600_000_000n) }
    const smallB = { ...chanB, toLocal: msat(600_000_000n), toRemote: msat(400_000_000n) }
    const b = legacy(smallB, { min: sat(0n), max: sat(3000n) }, scriptB, scriptA)
    const a = legacy(smallA, { min: sat(500n), max: sat(2000n) })
    const full = unwrap(legacyClosingTx(a, sat(1000n)))
    const mine = full.tx.outputs.findIndex((x) => x.scriptPubKey.length === scriptA.length && x.scriptPubKey.every((v, i) => v === scriptA[i]))
    expect(mine).toBeGreaterThanOrEqual(0)
    const omitted: Transaction = { ...full.tx, outputs: full.tx.outputs.filter((_, i) => i !== mine) }
    const msg = ClosingSigned.make({ channelId: chanA.channelId, feeSatoshis: sat(1000n), signature: sign(o.a, omitted) })
    const got = unwrap(receiveClosingSigned(secp, b, msg))
    expect(got.outcome._tag).toBe("Agreed")
    if (got.outcome._tag === "Agreed") expect(got.outcome.tx.outputs.length).toBe(1)
  })

  it("a counter-proposal comes with our transaction at the countered fee", () => {
    const a = legacy(chanA, { min: sat(500n), max: sat(900n) })
    const b = legacy(chanB, { min: sat(1500n), max: sat(3000n) }, scriptB, scriptA)
    const tx = unwrap(legacyClosingTx(a, sat(800n)))
    const msg = ClosingSigned.make({ channelId: chanA.channelId, feeSatoshis: sat(800n), signature: sign(o.a, tx.tx) })
    const got = unwrap(receiveClosingSigned(secp, b, msg))
    expect(got.outcome).toMatchObject({ _tag: "Counter", fee: 1500n })
    if (got.outcome._tag !== "Counter") return
    const out = got.outcome.tx.outputs.reduce((s, x) => s + x.value, 0n)
    expect(chanB.fundingAmount - out).toBe(1500n)
  })
})

describe("option_simple_close (BOLT 2 Closing Negotiation)", () => {
  const a = (): SimpleClose => startSimpleClose({ channel: chanA, localScript: scriptA, remoteScript: scriptB })
  const b = (): SimpleClose => startSimpleClose({ channel: chanB, localScript: scriptB, remoteScript: scriptA })

  it("closer: a fee up to our whole balance is allowed, one sat more is FeeExceedsBalance", () => {
    // B holds 100,000 sat, less than A: at a fee of all of it, only A's output is left.
    expect(rejected(proposeClosingComplete(b(), { fee: sat(100_001n), locktime: 0 }))).toBe("FeeExceedsBalance")
    const all = unwrap(proposeClosingComplete(b(), { fee: sat(100_000n), locktime: 0 }))
    expect(all.toSign.map((t) => t.variant)).toEqual(["closee_output_only"])
    expect(all.toSign[0]?.tx.outputs.map((x) => x.value)).toEqual([900_000n])
  })

  it("closer: every output dust at this fee is NoOutputLeft, with a reason", () => {
    const tiny = startSimpleClose({ channel: { ...chanA, toLocal: msat(300_000n), toRemote: msat(200_000n) }, localScript: scriptA, remoteScript: scriptB })
    expect(rejected(proposeClosingComplete(tiny, { fee: sat(100n), locktime: 0 }))).toBe("NoOutputLeft")
  })

  it("closer: nLockTime is 32 bits (BOLT 3): a larger locktime asked of us is LocktimeOutOfRange", () => {
    expect(rejected(proposeClosingComplete(b(), { fee: sat(1000n), locktime: 2 ** 32 }))).toBe("LocktimeOutOfRange")
    expect(rejected(proposeClosingComplete(b(), { fee: sat(1000n), locktime: -1 }))).toBe("LocktimeOutOfRange")
    expect(unwrap(proposeClosingComplete(b(), { fee: sat(1000n), locktime: 2 ** 32 - 1 })).locktime).toBe(2 ** 32 - 1)
  })

  it("closer: a closer script given replaces ours; the proposal keeps the fee and locktime asked", () => {
    const other = p2wshScript(new Uint8Array(32).fill(9))
    const p = unwrap(proposeClosingComplete(a(), { fee: sat(1000n), locktime: 123, closerScript: other }))
    expect(p.closerScript).toEqual(other)
    expect(p.closeeScript).toEqual(scriptB)
    expect(p.fee).toBe(1000n)
    expect(p.locktime).toBe(123)
    for (const t of p.toSign) expect(t.tx.locktime).toBe(123)
    const sent = unwrap(sendClosingComplete(a(), p, p.toSign.map((t) => sign(o.a, t.tx))))
    expect(sent.state.localScript).toEqual(other)
    expect(sent.message.closerScriptpubkey).toEqual(other)
  })

  it("closer: omitOwnOutputIfLesser drops our output when we hold less (MAY set closee_output_only)", () => {
    const p = unwrap(proposeClosingComplete(b(), { fee: sat(1000n), locktime: 0, omitOwnOutputIfLesser: true }))
    expect(p.toSign.map((t) => t.variant)).toEqual(["closee_output_only"])
    const q = unwrap(proposeClosingComplete(b(), { fee: sat(1000n), locktime: 0 }))
    expect(q.toSign.map((t) => t.variant)).toEqual(["closer_and_closee_outputs"])
  })

  it("closer: our output omitted, the signature goes in closee_output_only", () => {
    const p = unwrap(proposeClosingComplete(b(), { fee: sat(1000n), locktime: 0, omitOwnOutputIfLesser: true }))
    const sigs = p.toSign.map((t) => sign(o.b, t.tx))
    expect(sigs.length).toBe(1)
    const sent = unwrap(sendClosingComplete(b(), p, sigs))
    expect(sent.message.tlvs).toEqual({ closeeOutputOnly: sigs[0] })
  })

  it("closer: a locktime outside nLockTime's 32 bits is refused", () => {
    const r = proposeClosingComplete(a(), { fee: sat(1000n), locktime: 2 ** 32 })
    expect(Result.isFailure(r)).toBe(true)
    expect(detailOf(r)).toContain("locktime")
  })

  it("closer: one signature per variant to sign, else SignatureMissing", () => {
    const p = unwrap(proposeClosingComplete(a(), { fee: sat(1000n), locktime: 0 }))
    expect(p.toSign.length).toBe(2)
    const sigs = p.toSign.map((t) => sign(o.a, t.tx))
    expect(rejected(sendClosingComplete(a(), p, sigs.slice(0, 1)))).toBe("SignatureMissing")
    const sent = unwrap(sendClosingComplete(a(), p, sigs))
    expect(sent.message.tlvs.closerOutputOnly).toEqual(sigs[0])
    expect(sent.message.tlvs.closerAndCloseeOutputs).toEqual(sigs[1])
    expect(sent.message.tlvs.closeeOutputOnly).toBeUndefined()
    expect(sent.state.pending?.signatures.map((s) => s.variant)).toEqual(["closer_output_only", "closer_and_closee_outputs"])
    // MUST wait for closing_sig before another closing_complete.
    expect(rejected(proposeClosingComplete(sent.state, { fee: sat(1100n), locktime: 0 }))).toBe("ClosingCompletePending")
  })

  it("closee: each refusal says why; it then uses the closer's script as the closee script of its own closing_complete", () => {
    const p = unwrap(proposeClosingComplete(a(), { fee: sat(1000n), locktime: 0 }))
    const sent = unwrap(sendClosingComplete(a(), p, p.toSign.map((t) => sign(o.a, t.tx))))
    const m = sent.message
    expect(rejected(receiveClosingComplete(secp, b(), simpleFeatures, { ...m, channelId: o.funder.temporaryChannelId }))).toBe("ChannelIdMismatch")
    expect(rejected(receiveClosingComplete(secp, b(), simpleFeatures, { ...m, feeSatoshis: sat(900_001n) }))).toBe("FeeExceedsBalance")
    expect(rejected(receiveClosingComplete(secp, b(), simpleFeatures, { ...m, closeeScriptpubkey: scriptA }))).toBe("CloseeScriptMismatch")
    expect(rejected(receiveClosingComplete(secp, b(), simpleFeatures, { ...m, closerScriptpubkey: Uint8Array.of(0x51) }))).toBe("InvalidCloserScript")
    expect(rejected(receiveClosingComplete(secp, b(), simpleFeatures, { ...m, tlvs: {} }))).toBe("SignatureMissing")
    const bad = { ...m, tlvs: { ...m.tlvs, closerAndCloseeOutputs: new Uint8Array(64).fill(1) } }
    expect(rejected(receiveClosingComplete(secp, b(), simpleFeatures, bad))).toBe("InvalidSignature")
    const got = unwrap(receiveClosingComplete(secp, b(), simpleFeatures, m))
    expect(got.state.remoteScript).toEqual(scriptA)
    const reply = sendClosingSig(got.state, got.received, sign(o.b, got.received.tx))
    expect(reply.message.tlvs).toEqual({ closerAndCloseeOutputs: reply.message.tlvs.closerAndCloseeOutputs })
    expect(reply.message.feeSatoshis).toBe(1000n)
  })

  it("closee: a fee of the closer's whole balance is allowed (only above it MUST fail)", () => {
    // B closes paying all its 100,000 sat: only A's output is left.
    const p = unwrap(proposeClosingComplete(b(), { fee: sat(100_000n), locktime: 0 }))
    const sent = unwrap(sendClosingComplete(b(), p, p.toSign.map((t) => sign(o.b, t.tx))))
    const got = unwrap(receiveClosingComplete(secp, a(), simpleFeatures, sent.message))
    expect(got.received.variant).toBe("closee_output_only")
    expect(got.received.tx.outputs.map((x) => x.value)).toEqual([900_000n])
  })

  it("closing_sig: each refusal says why; after it, another closing_complete may be sent", () => {
    const p = unwrap(proposeClosingComplete(a(), { fee: sat(1000n), locktime: 0 }))
    const sent = unwrap(sendClosingComplete(a(), p, p.toSign.map((t) => sign(o.a, t.tx))))
    const got = unwrap(receiveClosingComplete(secp, b(), simpleFeatures, sent.message))
    const answer = sendClosingSig(got.state, got.received, sign(o.b, got.received.tx)).message
    expect(rejected(receiveClosingSig(secp, sent.state, { ...answer, channelId: o.funder.temporaryChannelId }))).toBe("ChannelIdMismatch")
    expect(rejected(receiveClosingSig(secp, a(), answer))).toBe("NoPendingClosingComplete")
    expect(rejected(receiveClosingSig(secp, sent.state, { ...answer, closerScriptpubkey: scriptB }))).toBe("ClosingSigMismatch")
    expect(rejected(receiveClosingSig(secp, sent.state, { ...answer, tlvs: {} }))).toBe("NotExactlyOneSignature")
    const sig = answer.tlvs.closerAndCloseeOutputs ?? new Uint8Array(64)
    expect(rejected(receiveClosingSig(secp, sent.state, { ...answer, tlvs: { closeeOutputOnly: sig } }))).toBe("UnexpectedSignatureVariant")
    expect(rejected(receiveClosingSig(secp, sent.state, { ...answer, tlvs: { closerOutputOnly: sig } }))).toBe("InvalidSignature")
    const done = unwrap(receiveClosingSig(secp, sent.state, answer))
    expect(done.variant).toBe("closer_and_closee_outputs")
    expect(done.state.pending).toBeUndefined()
    expect(Result.isSuccess(proposeClosingComplete(done.state, { fee: sat(1100n), locktime: 0 }))).toBe(true)
  })
})
