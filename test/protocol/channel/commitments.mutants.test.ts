/**
 * Tests written against mutants that survived Stryker (`npm run mutate`) in `commitments.ts`.
 *
 * commitments.rules.test.ts checks that each BOLT 2 rule refuses with the error named after
 * it. These check what the refusal SAYS: the values each typed error carries (the id, the
 * limit, how far short a sender falls, which commitment's dust exposure), since the channel
 * actor reports them to the peer in its `warning`/`error` and to our own caller, and a rule
 * that measures the wrong thing names the wrong numbers even when it picks the right tag. And
 * the optional TLVs a sending node must relay (`blinded_path`, `attribution_data`).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import {
  completeCommit,
  completeRevoke,
  latestRemoteCommit,
  mirrorSpec,
  prepareCommit,
  receiveAdd,
  receiveCommit,
  receiveFail,
  receiveFailMalformed,
  receiveFee,
  receiveFulfill,
  receiveRevoke,
  sendAdd,
  sendFail,
  sendFailMalformed,
  sendFee,
  sendFulfill,
  SecretStoreSchema,
  type AddHtlcCommand,
  type Commitments,
  type HtlcLimits
} from "../../../src/protocol/channel/commitments.ts"
import { ATTRIBUTION_DATA_LENGTH, CommitmentSigned, RevokeAndAck, UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc, UpdateFee, UpdateFulfillHtlc, type ChannelMessage } from "../../../src/protocol/messages/channel.ts"
import { perCommitmentPoint } from "../../../src/protocol/keys/derivation.ts"
import { commitmentFee } from "../../../src/protocol/tx/fees.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { bounds, limits, ok, onion, Pair, preimageOf, secp, snapshot, type ChannelOptions } from "./harness.ts"

/** The refusal as plain data (`_tag` and fields); `c` must be unchanged by the attempt. */
const refusal = <A>(c: Commitments, f: (c: Commitments) => Result.Result<A, { readonly _tag: string }>): Record<string, unknown> => {
  const before = snapshot(c)
  const r = f(c)
  expect(snapshot(c)).toBe(before)
  if (Result.isSuccess(r)) throw new Error("expected a refusal, got success")
  return { ...r.failure }
}

const pair = (options: Partial<ChannelOptions> = {}) => new Pair({ type: staticRemoteKey, ...options })

const addMsg = (c: Commitments, fields: Partial<Parameters<typeof UpdateAddHtlc.make>[0]> = {}): UpdateAddHtlc =>
  UpdateAddHtlc.make({
    channelId: c.params.channelId,
    id: c.remoteNextHtlcId,
    amountMsat: msat(5_000_000n),
    paymentHash: sha256(new Uint8Array(32)),
    cltvExpiry: 800_000,
    onionRoutingPacket: onion,
    ...fields
  })

const cmd = (amount: bigint, fields: Partial<AddHtlcCommand> = {}): AddHtlcCommand => ({
  amount: msat(amount),
  paymentHash: sha256(new Uint8Array(32)),
  cltvExpiry: 800_000,
  onionRoutingPacket: onion,
  ...fields
})

/** `c` with the dust limits of each side replaced (each side announces its own in open/accept). */
const withDustLimits = (c: Commitments, local: bigint, remote: bigint): Commitments => ({
  ...c,
  params: { ...c.params, local: { ...c.params.local, dustLimit: sat(local) }, remote: { ...c.params.remote, dustLimit: sat(remote) } }
})

const take = (p: Pair, to: "alice" | "bob"): ChannelMessage => {
  const m = p.queues[to].shift()
  if (m === undefined) throw new Error("no message queued")
  return m
}

/** A funder's commitment fee in msat (BOLT 3 "Fee Calculation"), static_remotekey. */
const feeMsat = (feeratePerKw: number, htlcs: number): bigint => commitmentFee(staticRemoteKey, feeratePerKw, htlcs) * 1000n

// The default channel (harness.ts): 1,000,000 sat, Alice (funder) 700,000 sat, Bob 300,000 sat,
// reserves 10,000 sat, dust limits 546 sat, htlc_minimum_msat 1,000, feerate 2,500 sat/kw.

describe("update_add_htlc, receiving node: what each refusal reports (BOLT 2 \"Adding an HTLC\")", () => {
  it("the id expected and the id received", () => {
    const c = pair().nodes.bob.c
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { id: 3n }), limits))).toEqual({ _tag: "UnexpectedHtlcId", expected: 0n, received: 3n })
  })

  it("the HTLC id, its amount and our htlc_minimum_msat; its cltv_expiry", () => {
    const c = pair().nodes.bob.c
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { amountMsat: msat(0n) }), limits))).toEqual({ _tag: "HtlcAmountZero", id: 0n })
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { amountMsat: msat(999n) }), limits))).toEqual({
      _tag: "HtlcAmountBelowMinimum",
      id: 0n,
      amount: 999n,
      minimum: 1_000n
    })
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { cltvExpiry: 500_000_001 }), limits))).toEqual({
      _tag: "HtlcCltvExpiryTooHigh",
      id: 0n,
      cltvExpiry: 500_000_001
    })
  })

  it("a non-funder sender short of its reserve: how much is missing, the reserve, no fees", () => {
    const c = pair().nodes.alice.c
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { amountMsat: msat(290_000_007n) }), limits))).toEqual({
      _tag: "HtlcNotAffordable",
      id: 0n,
      missing: 7n,
      reserve: 10_000_000n,
      fees: 0n
    })
  })

  it("a funder sender: the fee of the commitment with the HTLC counts against it", () => {
    const c = pair().nodes.bob.c
    const fees = feeMsat(2_500, 1)
    const affordable = 700_000_000n - 10_000_000n - fees
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { amountMsat: msat(affordable + 5n) }), limits))).toEqual({
      _tag: "HtlcNotAffordable",
      id: 0n,
      missing: 5n,
      reserve: 10_000_000n,
      fees
    })
  })

  it("the limit and the count or value offered to us", () => {
    let c = pair({ maxAcceptedHtlcs: 2 }).nodes.bob.c
    for (let i = 0; i < 2; i++) c = ok(receiveAdd(c, addMsg(c), limits)).commitments
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s), limits))).toEqual({ _tag: "TooManyAcceptedHtlcs", limit: 2, count: 3 })
    let v = pair({ maxHtlcValueInFlightMsat: 10_000_000n }).nodes.bob.c
    v = ok(receiveAdd(v, addMsg(v, { amountMsat: msat(6_000_000n) }), limits)).commitments
    expect(refusal(v, (s) => receiveAdd(s, addMsg(s, { amountMsat: msat(4_000_003n) }), limits))).toEqual({
      _tag: "HtlcValueInFlightExceeded",
      limit: 10_000_000n,
      value: 10_000_003n
    })
  })

  it("dust exposure (SHOULD fail once committed): which commitment, its trimmed value, our limit", () => {
    const small: HtlcLimits = { maxDustHtlcExposure: msat(1_000_000n) }
    let c = pair().nodes.bob.c
    c = ok(receiveAdd(c, addMsg(c, { amountMsat: msat(600_000n) }), small)).commitments
    const second = ok(receiveAdd(c, addMsg(c, { amountMsat: msat(700_000n) }), small))
    expect({ ...second.dustExposureExceeded }).toEqual({ _tag: "DustExposureExceeded", commitment: "local", exposure: 1_300_000n, limit: 1_000_000n })
    // Our dust limit is low (the 3,000 sat HTLC has an output in our commitment), theirs high
    // (it is trimmed from theirs): the exposure is on THEIR commitment.
    const d = withDustLimits(pair().nodes.bob.c, 354n, 5_000n)
    const flagged = ok(receiveAdd(d, addMsg(d, { amountMsat: msat(3_000_000n) }), small))
    expect({ ...flagged.dustExposureExceeded }).toEqual({ _tag: "DustExposureExceeded", commitment: "remote", exposure: 3_000_000n, limit: 1_000_000n })
    // Under the limit on both: no notice.
    expect(ok(receiveAdd(d, addMsg(d, { amountMsat: msat(3_000_000n) }), limits)).dustExposureExceeded).toBeUndefined()
  })
})

describe("update_add_htlc, sending node: what each refusal reports", () => {
  it("amount, minimum, cltv_expiry, in-flight and count limits of the receiver", () => {
    const c = pair({ maxAcceptedHtlcs: 1, maxHtlcValueInFlightMsat: 50_000_000n }).nodes.alice.c
    expect(refusal(c, (s) => sendAdd(s, cmd(0n), limits))).toEqual({ _tag: "HtlcAmountZero", id: 0n })
    expect(refusal(c, (s) => sendAdd(s, cmd(998n), limits))).toEqual({ _tag: "HtlcAmountBelowMinimum", id: 0n, amount: 998n, minimum: 1_000n })
    expect(refusal(c, (s) => sendAdd(s, cmd(5_000_000n, { cltvExpiry: 600_000_000 }), limits))).toEqual({
      _tag: "HtlcCltvExpiryTooHigh",
      id: 0n,
      cltvExpiry: 600_000_000
    })
    expect(refusal(c, (s) => sendAdd(s, cmd(50_000_002n), limits))).toEqual({ _tag: "HtlcValueInFlightExceeded", limit: 50_000_000n, value: 50_000_002n })
    const one = ok(sendAdd(c, cmd(5_000_000n), limits)).commitments
    expect(refusal(one, (s) => sendAdd(s, cmd(5_000_000n), limits))).toEqual({ _tag: "TooManyAcceptedHtlcs", limit: 1, count: 2 })
  })

  it("the next id is one more than the last offered, and a refusal does not use one", () => {
    let c = pair().nodes.alice.c
    const first = ok(sendAdd(c, cmd(5_000_000n), limits))
    expect(first.message.id).toBe(0n)
    c = first.commitments
    expect(refusal(c, (s) => sendAdd(s, cmd(0n), limits))).toEqual({ _tag: "HtlcAmountZero", id: 1n })
    expect(ok(sendAdd(c, cmd(5_000_000n), limits)).message.id).toBe(1n)
  })

  it("affordability: the missing amount, the reserve and the fees the funder pays", () => {
    // Bob (not the funder) keeps his 10,000 sat reserve.
    expect(refusal(pair().nodes.bob.c, (s) => sendAdd(s, cmd(290_000_004n), limits))).toEqual({
      _tag: "HtlcNotAffordable",
      id: 0n,
      missing: 4n,
      reserve: 10_000_000n,
      fees: 0n
    })
    // Alice (funder) also pays the fee of the commitment with the HTLC.
    const fees = feeMsat(2_500, 1)
    expect(refusal(pair().nodes.alice.c, (s) => sendAdd(s, cmd(700_000_000n - 10_000_000n - fees + 9n), limits))).toEqual({
      _tag: "HtlcNotAffordable",
      id: 0n,
      missing: 9n,
      reserve: 10_000_000n,
      fees
    })
  })

  it("fee spike buffer: short by the fee at twice the feerate with one more HTLC", () => {
    const fee1 = feeMsat(2_500, 1)
    const amount = 700_000_000n - 10_000_000n - fee1
    // After the HTLC Alice holds exactly reserve + fee; the buffer asks for the fee at 5,000 sat/kw with 2 HTLCs.
    expect(refusal(pair().nodes.alice.c, (s) => sendAdd(s, cmd(amount), limits))).toEqual({
      _tag: "FeeSpikeBufferNotMet",
      missing: feeMsat(5_000, 2) - fee1
    })
  })

  it("a non-funder's HTLC that would leave the funder short of the fee: by how much", () => {
    const fee0 = feeMsat(2_500, 0)
    const p = pair({ pushMsat: 1_000_000_000n - 10_000_000n - fee0 })
    expect(refusal(p.nodes.bob.c, (s) => sendAdd(s, cmd(5_000_000n), limits))).toEqual({
      _tag: "FunderCannotAffordFees",
      missing: feeMsat(2_500, 1) - fee0
    })
  })

  it("dust exposure: on their commitment first, then on ours (SHOULD NOT send)", () => {
    const c = pair().nodes.alice.c
    const none: HtlcLimits = { maxDustHtlcExposure: msat(0n) }
    expect(refusal(c, (s) => sendAdd(s, cmd(600_000n), none))).toEqual({ _tag: "DustExposureExceeded", commitment: "remote", exposure: 600_000n, limit: 0n })
    // Our dust limit high: the 3,000 sat HTLC is trimmed from our commitment only.
    const d = withDustLimits(c, 5_000n, 546n)
    const small: HtlcLimits = { maxDustHtlcExposure: msat(1_000_000n) }
    expect(refusal(d, (s) => sendAdd(s, cmd(3_000_000n), small))).toEqual({ _tag: "DustExposureExceeded", commitment: "local", exposure: 3_000_000n, limit: 1_000_000n })
    expect(Result.isSuccess(sendAdd(d, cmd(3_000_000n), limits))).toBe(true)
  })

  it("relays the blinded path's path_key in the blinded_path TLV (BOLT 2 update_add_htlc_tlvs)", () => {
    const c = pair().nodes.alice.c
    const pathKey = c.localNextPerCommitmentPoint
    const sent = ok(sendAdd(c, cmd(5_000_000n, { pathKey }), limits))
    expect(sent.message.tlvs.blindedPath).toEqual(pathKey)
    expect(sent.commitments.localChanges.proposed).toEqual([sent.message])
    expect(ok(sendAdd(c, cmd(5_000_000n), limits)).message.tlvs.blindedPath).toBeUndefined()
  })
})

/** Alice offered HTLC 0, irrevocably committed on both sides. */
const withAliceHtlc = (amount = 5_000_000n, options: Partial<ChannelOptions> = {}): Pair => {
  const p = pair(options)
  expect(p.add("alice", amount)).toBe("ok")
  p.settle()
  return p
}

describe("removing an HTLC: what each refusal reports (BOLT 2 \"Removing an HTLC\")", () => {
  it("receiving: the id unknown, already removed, with a wrong preimage; the failure code without BADONION", () => {
    const c = withAliceHtlc().nodes.alice.c
    const ch = c.params.channelId
    expect(refusal(c, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: ch, id: 4n, paymentPreimage: preimageOf("alice", 4n) })))).toEqual({
      _tag: "UnknownHtlcId",
      id: 4n
    })
    expect(refusal(c, (s) => receiveFail(s, UpdateFailHtlc.make({ channelId: ch, id: 5n, reason: new Uint8Array(10) })))).toEqual({ _tag: "UnknownHtlcId", id: 5n })
    expect(refusal(c, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: ch, id: 0n, paymentPreimage: new Uint8Array(32) })))).toEqual({
      _tag: "InvalidPaymentPreimage",
      id: 0n
    })
    expect(
      refusal(c, (s) => receiveFailMalformed(s, UpdateFailMalformedHtlc.make({ channelId: ch, id: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x4000 | 5 })))
    ).toEqual({ _tag: "FailMalformedWithoutBadOnion", id: 0n, failureCode: 0x4000 | 5 })
    const failed = ok(receiveFail(c, UpdateFailHtlc.make({ channelId: ch, id: 0n, reason: new Uint8Array(10) }))).commitments
    expect(refusal(failed, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: ch, id: 0n, paymentPreimage: preimageOf("alice", 0n) })))).toEqual({
      _tag: "HtlcAlreadyRemoved",
      id: 0n
    })
  })

  it("receiving: a preimage of the right hash but not 32 bytes long is refused", () => {
    // payment_preimage is a 32-byte field; a longer value hashing to the payment_hash cannot be one.
    const p = pair()
    const long = new Uint8Array(33).fill(7)
    const c0 = p.nodes.alice.c
    const sent = ok(sendAdd(c0, cmd(5_000_000n, { paymentHash: sha256(long) }), limits))
    p.nodes.alice.c = sent.commitments
    p.queues.bob.push(sent.message)
    p.settle()
    const c = p.nodes.alice.c
    expect(refusal(c, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: s.params.channelId, id: 0n, paymentPreimage: long })))).toEqual({
      _tag: "InvalidPaymentPreimage",
      id: 0n
    })
  })

  it("sending: not yet irrevocably committed, unknown, wrong preimage, no BADONION, removed twice", () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob")
    p.deliver("bob")
    expect(refusal(p.nodes.bob.c, (s) => sendFulfill(s, { id: 0n, paymentPreimage: preimageOf("alice", 0n) }))).toEqual({
      _tag: "HtlcNotIrrevocablyCommitted",
      id: 0n
    })
    expect(refusal(p.nodes.bob.c, (s) => sendFail(s, { id: 0n, reason: new Uint8Array(10) }))).toEqual({ _tag: "HtlcNotIrrevocablyCommitted", id: 0n })
    p.settle()
    const c = p.nodes.bob.c
    expect(refusal(c, (s) => sendFulfill(s, { id: 2n, paymentPreimage: preimageOf("alice", 2n) }))).toEqual({ _tag: "UnknownHtlcId", id: 2n })
    expect(refusal(c, (s) => sendFulfill(s, { id: 0n, paymentPreimage: new Uint8Array(32) }))).toEqual({ _tag: "InvalidPaymentPreimage", id: 0n })
    expect(refusal(c, (s) => sendFailMalformed(s, { id: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x4000 | 2 }))).toEqual({
      _tag: "FailMalformedWithoutBadOnion",
      id: 0n,
      failureCode: 0x4000 | 2
    })
    const malformed = ok(sendFailMalformed(c, { id: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 }))
    expect(malformed.message.failureCode).toBe(0x8000 | 0x4000 | 5)
    expect(refusal(malformed.commitments, (s) => sendFail(s, { id: 0n, reason: new Uint8Array(10) }))).toEqual({ _tag: "HtlcAlreadyRemoved", id: 0n })
  })

  it("sending: relays attribution_data when given, in update_fulfill_htlc and update_fail_htlc (BOLT 2 TLVs)", () => {
    const c = withAliceHtlc().nodes.bob.c
    const attributionData = new Uint8Array(ATTRIBUTION_DATA_LENGTH).fill(3)
    const fulfill = ok(sendFulfill(c, { id: 0n, paymentPreimage: preimageOf("alice", 0n), attributionData }))
    expect(fulfill.message.tlvs.attributionData).toEqual(attributionData)
    expect(ok(sendFulfill(c, { id: 0n, paymentPreimage: preimageOf("alice", 0n) })).message.tlvs.attributionData).toBeUndefined()
    const fail = ok(sendFail(c, { id: 0n, reason: new Uint8Array(10), attributionData }))
    expect(fail.message.tlvs.attributionData).toEqual(attributionData)
    expect(ok(sendFail(c, { id: 0n, reason: new Uint8Array(10) })).message.tlvs.attributionData).toBeUndefined()
  })
})

describe("update_fee: what each refusal reports (BOLT 2 \"Updating Fees\")", () => {
  const fee = (c: Commitments, feeratePerKw: number) => UpdateFee.make({ channelId: c.params.channelId, feeratePerKw })

  it("who sent it, and the feerate against the minimum or maximum", () => {
    expect(refusal(pair().nodes.alice.c, (s) => receiveFee(s, fee(s, 3_000), bounds, limits))).toEqual({ _tag: "UpdateFeeFromNonFunder", sender: "remote" })
    expect(refusal(pair().nodes.bob.c, (s) => sendFee(s, 3_000, limits))).toEqual({ _tag: "UpdateFeeFromNonFunder", sender: "local" })
    expect(refusal(pair().nodes.alice.c, (s) => sendFee(s, 250, limits))).toEqual({ _tag: "FeerateTooLow", feeratePerKw: 250, minimum: 253 })
    const c = pair().nodes.bob.c
    expect(refusal(c, (s) => receiveFee(s, fee(s, 252), bounds, limits))).toEqual({ _tag: "FeerateTooLow", feeratePerKw: 252, minimum: 253 })
    // Minimum: 50% of 10,001 rounded down; maximum: 150% of 10,001 rounded up.
    const odd = { estimatedFeeratePerKw: 10_001, minPercent: 50, maxPercent: 150 }
    expect(refusal(c, (s) => receiveFee(s, fee(s, 4_999), odd, limits))).toEqual({ _tag: "FeerateTooLow", feeratePerKw: 4_999, minimum: 5_000 })
    expect(Result.isSuccess(receiveFee(c, fee(c, 5_000), odd, limits))).toBe(true)
    expect(refusal(c, (s) => receiveFee(s, fee(s, 15_003), odd, limits))).toEqual({ _tag: "FeerateTooHigh", feeratePerKw: 15_003, maximum: 15_002 })
    expect(Result.isSuccess(receiveFee(c, fee(c, 15_002), odd, limits))).toBe(true)
  })

  it("unaffordable: the feerate and how far the funder falls short of fee plus reserve", () => {
    const p = pair({ pushMsat: 980_000_000n })
    const missing = feeMsat(20_000, 0) - 10_000_000n
    expect(refusal(p.nodes.bob.c, (s) => receiveFee(s, fee(s, 20_000), bounds, limits))).toEqual({ _tag: "FeerateNotAffordable", feeratePerKw: 20_000, missing })
    expect(refusal(p.nodes.alice.c, (s) => sendFee(s, 20_000, limits))).toEqual({ _tag: "FeerateNotAffordable", feeratePerKw: 20_000, missing })
  })

  it("dust exposure at the new feerate: which commitment, its value, the limit", () => {
    const p = withAliceHtlc(3_000_000n)
    const small: HtlcLimits = { maxDustHtlcExposure: msat(2_000_000n) }
    const dust = { _tag: "DustExposureExceeded", commitment: "local", exposure: 3_000_000n, limit: 2_000_000n }
    expect(refusal(p.nodes.bob.c, (s) => receiveFee(s, fee(s, 5_000), bounds, small))).toEqual(dust)
    expect(refusal(p.nodes.alice.c, (s) => sendFee(s, 5_000, small))).toEqual(dust)
    // A 5,000 sat HTLC at 5,000 sat/kw: kept in Bob's commitment (dust limit 354 sat), trimmed from
    // Alice's (dust limit 2,000 sat): the exposure is on the remote commitment.
    const q = withAliceHtlc(5_000_000n)
    const bob = withDustLimits(q.nodes.bob.c, 354n, 2_000n)
    expect(refusal(bob, (s) => receiveFee(s, fee(s, 5_000), bounds, small))).toEqual({ ...dust, commitment: "remote", exposure: 5_000_000n })
    const alice = withDustLimits(q.nodes.alice.c, 354n, 2_000n)
    // Sending: Alice's HTLC keeps its output in her commitment (354 + 3,315 sat < 5,000) and is
    // trimmed from Bob's (2,000 + 3,515 sat > 5,000).
    expect(refusal(alice, (s) => sendFee(s, 5_000, small))).toEqual({ ...dust, commitment: "remote", exposure: 5_000_000n })
    expect(Result.isSuccess(sendFee(alice, 5_000, limits))).toBe(true)
  })

  it("with anchors, fee changes never count dust (the trim threshold does not move; BOLT 2 applies the check without option_anchors)", () => {
    // A 500 sat HTLC is below the 546 sat dust limit: trimmed at any feerate.
    const a = new Pair({ type: anchorsZeroFeeHtlcTx })
    expect(a.add("alice", 500_000n)).toBe("ok")
    a.settle()
    const none: HtlcLimits = { maxDustHtlcExposure: msat(0n) }
    expect(Result.isSuccess(sendFee(a.nodes.alice.c, 5_000, none))).toBe(true)
    expect(Result.isSuccess(receiveFee(a.nodes.bob.c, fee(a.nodes.bob.c, 5_000), bounds, none))).toBe(true)
  })
})

describe("commitment_signed and revoke_and_ack: what each refusal reports", () => {
  /** Alice offered `amounts` and signed; Bob has her adds, her commitment_signed is next. */
  const signed = (amounts: ReadonlyArray<bigint>) => {
    const p = pair()
    for (const a of amounts) expect(p.add("alice", a)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    for (let i = 0; i < amounts.length; i++) p.deliver("bob")
    const m = take(p, "bob")
    if (m._tag !== "CommitmentSigned") throw new Error(m._tag)
    return { p, c: p.nodes.bob.c, msg: m }
  }

  it("the commitment number of a bad signature; the HTLC signature count; the index of a bad HTLC signature", () => {
    const { c, msg } = signed([5_000_000n, 6_000_000n])
    const bad = Uint8Array.from(msg.signature)
    bad[5] = (bad[5] ?? 0) ^ 1
    expect(refusal(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, signature: bad }, msg.tlvs)))).toEqual({
      _tag: "InvalidCommitmentSignature",
      commitmentNumber: 1n
    })
    expect(refusal(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, htlcSignatures: msg.htlcSignatures.slice(1) }, msg.tlvs)))).toEqual({
      _tag: "WrongHtlcSignatureCount",
      expected: 2,
      received: 1
    })
    const [first, second] = msg.htlcSignatures
    if (first === undefined || second === undefined) throw new Error("two HTLC signatures expected")
    // Each htlc_signature must be valid for ITS HTLC transaction: swapped, the first is wrong.
    expect(refusal(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, htlcSignatures: [second, first] }, msg.tlvs)))).toEqual({
      _tag: "InvalidHtlcSignature",
      commitmentNumber: 1n,
      index: 0
    })
    expect(refusal(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, htlcSignatures: [first, first] }, msg.tlvs)))).toEqual({
      _tag: "InvalidHtlcSignature",
      commitmentNumber: 1n,
      index: 1
    })
    const accepted = ok(receiveCommit(secp, c, msg))
    expect(accepted.request.revokeCommitmentNumber).toBe(0n)
    expect(accepted.request.nextCommitmentNumber).toBe(2n)
    expect(accepted.commitments.localCommit.number).toBe(1n)
    expect(accepted.commitments.owedRevocation).toEqual({ commitmentNumber: 0n, perCommitmentPoint: c.localCommit.perCommitmentPoint })
  })

  it("a commitment_signed that covers only our own updates (acked by their revocation) has updates: accepted", () => {
    // BOLT 2: MUST NOT send commitment_signed without updates; our updates they acked are updates
    // of our next commitment even when they proposed nothing.
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob") // add
    p.deliver("bob") // commitment_signed -> Bob answers revoke_and_ack
    p.deliver("alice") // revoke_and_ack: Alice's add is now acked, nothing proposed by Bob
    expect(p.nodes.alice.c.localChanges.acked).toHaveLength(1)
    expect(p.nodes.alice.c.remoteChanges.proposed).toHaveLength(0)
    expect(p.sign("bob")).toBe("ok")
    const m = take(p, "alice")
    if (m._tag !== "CommitmentSigned") throw new Error(m._tag)
    expect(Result.isSuccess(receiveCommit(secp, p.nodes.alice.c, m))).toBe(true)
  })

  it("revoke_and_ack: the number of the commitment whose secret is wrong; the signer's secret mismatch", () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob")
    p.deliver("bob")
    const m = take(p, "alice")
    if (m._tag !== "RevokeAndAck") throw new Error(m._tag)
    expect(refusal(p.nodes.alice.c, (s) => receiveRevoke(secp, s, RevokeAndAck.make({ ...m, perCommitmentSecret: sha256(new Uint8Array(3)) })))).toEqual({
      _tag: "InvalidRevocationSecret",
      commitmentNumber: 0n
    })
    const done = ok(receiveRevoke(secp, p.nodes.alice.c, m))
    expect(done.revokedCommitmentNumber).toBe(0n)
    expect(done.commitments.remoteCommit.number).toBe(1n)
    // Bob owes nothing now; before his revocation he owed the secret of commitment 0.
    const q = pair()
    expect(q.add("alice", 5_000_000n)).toBe("ok")
    expect(q.sign("alice")).toBe("ok")
    q.deliver("bob")
    const cs = take(q, "bob")
    if (cs._tag !== "CommitmentSigned") throw new Error(cs._tag)
    const received = ok(receiveCommit(secp, q.nodes.bob.c, cs)).commitments
    expect(refusal(received, (s) => completeRevoke(secp, s, sha256(new Uint8Array(4)), s.localNextPerCommitmentPoint))).toEqual({
      _tag: "SignerSecretMismatch",
      commitmentNumber: 0n
    })
  })

  it("a revocation secret that breaks the shachain: the commitment number and the reason", () => {
    // One honest round stores a secret; then a peer whose point for commitment 1 comes from a
    // secret that is not derived from the same seed (BOLT 3 "Efficient Per-commitment Secret Storage").
    const p = withAliceHtlc()
    expect(p.add("alice", 1_000_000n)).toBe("ok")
    const prepared = ok(prepareCommit(p.nodes.alice.c))
    const foreign = sha256(new TextEncoder().encode("foreign"))
    const foreignPoint = ok(perCommitmentPoint(secp, foreign))
    const c0 = ok(completeCommit(prepared.commitments, { signature: new Uint8Array(64), htlcSignatures: [] })).commitments
    const c: Commitments = { ...c0, remoteCommit: { ...c0.remoteCommit, perCommitmentPoint: foreignPoint } }
    const msg = RevokeAndAck.make({ channelId: c.params.channelId, perCommitmentSecret: foreign, nextPerCommitmentPoint: foreignPoint })
    const r = refusal(c, (s) => receiveRevoke(secp, s, msg))
    expect(r).toEqual({ _tag: "RevocationSecretNotFromShachain", commitmentNumber: 1n, reason: expect.any(String) })
    expect(String(r["reason"]).length).toBeGreaterThan(0)
  })

  it("completeCommit without a prepared commitment names the state it found", () => {
    const c = pair().nodes.alice.c
    const r = refusal(c, (s) => completeCommit(s, { signature: new Uint8Array(64), htlcSignatures: [] }))
    expect(r["_tag"]).toBe("NoSignatureRequested")
    expect(r["reason"]).toContain("NextPoint")
  })
})

describe("the persisted counterparty secrets (BOLT 3 \"Efficient Per-commitment Secret Storage\")", () => {
  it("encodes a secret store, and refuses anything else rather than writing a state that cannot be read back", () => {
    const p = withAliceHtlc()
    const store = p.nodes.alice.c.remotePerCommitmentSecrets
    expect(store.lastIndex).toBeDefined()
    const encoded = Schema.encodeSync(SecretStoreSchema)(store)
    expect(Schema.decodeSync(SecretStoreSchema)(encoded)).toEqual(store)
    const encode = Schema.encodeUnknownOption(SecretStoreSchema)
    for (const bad of [null, "store", { buckets: [] }, { lastIndex: undefined }, { buckets: "x", lastIndex: undefined }])
      expect(encode(bad)._tag).toBe("None")
  })
})

describe("a state that does not describe a valid commitment", () => {
  it("commitment_signed against it is refused with the reason, not thrown", () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob")
    const m = take(p, "bob")
    if (m._tag !== "CommitmentSigned") throw new Error(m._tag)
    const c = p.nodes.bob.c
    // Balances that no longer add up to the funding amount (a corrupted store, say).
    const broken: Commitments = { ...c, localCommit: { ...c.localCommit, spec: { ...c.localCommit.spec, toLocal: msat(c.localCommit.spec.toLocal + 1n) } } }
    const r = refusal(broken, (s) => receiveCommit(secp, s, m))
    expect(r["_tag"]).toBe("CommitmentNotBuildable")
    expect(String(r["reason"])).toContain("funding amount")
  })

  it("persisted secret storage that does not decode is refused, with a message saying what it is", () => {
    // One entry announced, none present.
    const r = Schema.decodeUnknownResult(SecretStoreSchema)("01")
    if (Result.isSuccess(r)) throw new Error("expected a decoding failure")
    expect(String(r.failure)).toContain("per-commitment secret storage")
  })
})

describe("their latest commitment, and a commitment seen from the other side", () => {
  it("while our commitment_signed awaits its revoke_and_ack, HTLC limits count what we signed (BOLT 2 max_accepted_htlcs)", () => {
    // BOLT 2, sending node: MUST NOT offer an HTLC that would give the receiver more than its
    // max_accepted_htlcs in the remote commitment; the one we already signed is in it.
    const p = pair({ maxAcceptedHtlcs: 1 })
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    const c = p.nodes.alice.c
    expect(c.remoteNextCommitInfo._tag).toBe("WaitingForRevocation")
    expect(latestRemoteCommit(c).number).toBe(1n)
    expect(latestRemoteCommit(c).spec.htlcs).toHaveLength(1)
    expect(refusal(c, (s) => sendAdd(s, cmd(5_000_000n), limits))).toEqual({ _tag: "TooManyAcceptedHtlcs", limit: 1, count: 2 })
  })

  it("mirrors balances and HTLC directions: what one side offers, the other receives (BOLT 3)", () => {
    const p = withAliceHtlc()
    const spec = p.nodes.alice.c.localCommit.spec
    expect(spec.htlcs.map((h) => h.direction)).toEqual(["offered"])
    const mirrored = mirrorSpec(spec)
    expect(mirrored.htlcs.map((h) => h.direction)).toEqual(["received"])
    expect(mirrored.toLocal).toBe(spec.toRemote)
    expect(mirrored.toRemote).toBe(spec.toLocal)
    expect(mirrored).toEqual(p.nodes.bob.c.localCommit.spec)
    expect(mirrorSpec(mirrored)).toEqual(spec)
  })
})

describe("boundaries of the update_add_htlc rules", () => {
  it("an HTLC of exactly htlc_minimum_msat may be offered and is accepted (BOLT 2: MUST NOT offer BELOW it)", () => {
    const p = pair()
    const sent = ok(sendAdd(p.nodes.alice.c, cmd(1_000n), limits))
    expect(sent.message.amountMsat).toBe(1_000n)
    expect(Result.isSuccess(receiveAdd(p.nodes.bob.c, sent.message, limits))).toBe(true)
  })

  it("a trimmed HTLC adds no output, so the funder pays no fee for it (BOLT 3 \"Fee Calculation\")", () => {
    // Alice (funder) keeps her reserve, the fee of a commitment without HTLC outputs and 1,000 sat.
    const fee0 = feeMsat(2_500, 0)
    const p = pair({ pushMsat: 1_000_000_000n - 10_000_000n - fee0 - 1_000_000n })
    const c = p.nodes.bob.c
    // A 1,000 sat HTLC is below the trim threshold (546 + 1,757 sat): affordable to the msat.
    expect(Result.isSuccess(receiveAdd(c, addMsg(c, { amountMsat: msat(1_000_000n) }), limits))).toBe(true)
    expect(refusal(c, (s) => receiveAdd(s, addMsg(s, { amountMsat: msat(1_000_001n) }), limits))).toEqual({
      _tag: "HtlcNotAffordable",
      id: 0n,
      missing: 1n,
      reserve: 10_000_000n,
      fees: fee0
    })
  })
})

describe("the receiver's limits count only the HTLCs offered to it", () => {
  it("max_accepted_htlcs and max_htlc_value_in_flight_msat ignore HTLCs going the other way (BOLT 2 update_add_htlc)", () => {
    // Limits Bob sets on what Alice offers him; Bob's own HTLC to Alice is not part of them.
    const p = pair({ maxAcceptedHtlcs: 1, maxHtlcValueInFlightMsat: 20_000_000n })
    expect(p.add("bob", 15_000_000n)).toBe("ok")
    p.settle()
    const c = p.nodes.alice.c
    expect(c.localCommit.spec.htlcs).toHaveLength(1)
    // Exactly the in-flight limit, as the only HTLC Alice offers: allowed.
    const sent = ok(sendAdd(c, cmd(20_000_000n), limits))
    expect(Result.isSuccess(receiveAdd(p.nodes.bob.c, sent.message, limits))).toBe(true)
    expect(refusal(c, (s) => sendAdd(s, cmd(20_000_001n), limits))).toEqual({ _tag: "HtlcValueInFlightExceeded", limit: 20_000_000n, value: 20_000_001n })
    expect(refusal(sent.commitments, (s) => sendAdd(s, cmd(1_000n), limits))).toEqual({ _tag: "TooManyAcceptedHtlcs", limit: 1, count: 2 })
  })
})

describe("offering an HTLC: \"Bounding exposure to trimmed in-flight HTLCs\" (BOLT 2)", () => {
  // Default channel at 2,500 sat/kw, static_remotekey: HTLC-success fee 1,757 sat, HTLC-timeout fee 1,657 sat.

  it("applies only to an HTLC that is itself trimmed: a non-dust HTLC goes out whatever the dust already in flight", () => {
    const p = pair()
    const first = ok(sendAdd(p.nodes.alice.c, cmd(600_000n), limits)).commitments
    const small: HtlcLimits = { maxDustHtlcExposure: msat(500_000n) }
    expect(refusal(first, (s) => sendAdd(s, cmd(600_000n), small))["_tag"]).toBe("DustExposureExceeded")
    expect(Result.isSuccess(sendAdd(first, cmd(5_000_000n), small))).toBe(true)
  })

  it("the receiver's commitment trims with the HTLC-success fee: 2,250 sat is dust there (546 + 1,757 sat)", () => {
    const none: HtlcLimits = { maxDustHtlcExposure: msat(0n) }
    expect(refusal(pair().nodes.alice.c, (s) => sendAdd(s, cmd(2_250_000n), none))).toEqual({
      _tag: "DustExposureExceeded",
      commitment: "remote",
      exposure: 2_250_000n,
      limit: 0n
    })
  })

  it("our commitment trims with the HTLC-timeout fee: 2,250 sat is not dust there (546 + 1,657 sat)", () => {
    // Their dust limit low enough that the HTLC is not dust on their side either.
    const d = withDustLimits(pair().nodes.alice.c, 546n, 354n)
    expect(Result.isSuccess(sendAdd(d, cmd(2_250_000n), { maxDustHtlcExposure: msat(0n) }))).toBe(true)
  })

  it("an exposure equal to max_dust_htlc_exposure_msat is allowed (only GREATER is refused)", () => {
    const at: HtlcLimits = { maxDustHtlcExposure: msat(600_000n) }
    expect(Result.isSuccess(sendAdd(pair().nodes.alice.c, cmd(600_000n), at))).toBe(true)
    const d = withDustLimits(pair().nodes.alice.c, 5_000n, 546n)
    expect(Result.isSuccess(sendAdd(d, cmd(3_000_000n), { maxDustHtlcExposure: msat(3_000_000n) }))).toBe(true)
    expect(refusal(d, (s) => sendAdd(s, cmd(3_000_001n), { maxDustHtlcExposure: msat(3_000_000n) }))["_tag"]).toBe("DustExposureExceeded")
  })

  it("a non-funder may leave the funder with exactly its reserve plus the fee", () => {
    const fee1 = feeMsat(2_500, 1)
    const exact = pair({ pushMsat: 1_000_000_000n - 10_000_000n - fee1 })
    expect(Result.isSuccess(sendAdd(exact.nodes.bob.c, cmd(5_000_000n), limits))).toBe(true)
    const short = pair({ pushMsat: 1_000_000_000n - 10_000_000n - fee1 + 1n })
    expect(refusal(short.nodes.bob.c, (s) => sendAdd(s, cmd(5_000_000n), limits))).toEqual({ _tag: "FunderCannotAffordFees", missing: 1n })
  })
})

describe("receiving an HTLC: \"Bounding exposure to trimmed in-flight HTLCs\" (BOLT 2)", () => {
  const none: HtlcLimits = { maxDustHtlcExposure: msat(0n) }

  it("our commitment trims a received HTLC with the HTLC-success fee: 2,250 sat is dust (546 + 1,757 sat)", () => {
    const c = pair().nodes.bob.c
    const r = ok(receiveAdd(c, addMsg(c, { amountMsat: msat(2_250_000n) }), none))
    expect({ ...r.dustExposureExceeded }).toEqual({ _tag: "DustExposureExceeded", commitment: "local", exposure: 2_250_000n, limit: 0n })
  })

  it("their commitment trims it with the HTLC-timeout fee: 2,250 sat is not dust there (546 + 1,657 sat)", () => {
    const d = withDustLimits(pair().nodes.bob.c, 354n, 546n)
    expect(ok(receiveAdd(d, addMsg(d, { amountMsat: msat(2_250_000n) }), none)).dustExposureExceeded).toBeUndefined()
  })

  it("an exposure equal to the limit is not flagged, on either commitment", () => {
    const c = pair().nodes.bob.c
    expect(ok(receiveAdd(c, addMsg(c, { amountMsat: msat(600_000n) }), { maxDustHtlcExposure: msat(600_000n) })).dustExposureExceeded).toBeUndefined()
    const d = withDustLimits(pair().nodes.bob.c, 354n, 5_000n)
    expect(ok(receiveAdd(d, addMsg(d, { amountMsat: msat(3_000_000n) }), { maxDustHtlcExposure: msat(3_000_000n) })).dustExposureExceeded).toBeUndefined()
  })
})

describe("update_fee boundaries (BOLT 2 \"Updating Fees\")", () => {
  const fee = (c: Commitments, feeratePerKw: number) => UpdateFee.make({ channelId: c.params.channelId, feeratePerKw })

  it("the relay floor itself, 253 sat/kw, may be sent", () => {
    expect(ok(sendFee(pair().nodes.alice.c, 253, limits)).message.feeratePerKw).toBe(253)
  })

  it("a funder left with exactly its reserve plus the new fee can afford it", () => {
    const p = pair({ pushMsat: 1_000_000_000n - 10_000_000n - feeMsat(5_000, 0) })
    expect(Result.isSuccess(sendFee(p.nodes.alice.c, 5_000, limits))).toBe(true)
    expect(Result.isSuccess(receiveFee(p.nodes.bob.c, fee(p.nodes.bob.c, 5_000), bounds, limits))).toBe(true)
    // 5,010 sat/kw costs 7 sat more (fees round down to the satoshi).
    expect(refusal(p.nodes.alice.c, (s) => sendFee(s, 5_010, limits))).toEqual({ _tag: "FeerateNotAffordable", feeratePerKw: 5_010, missing: feeMsat(5_010, 0) - feeMsat(5_000, 0) })
  })

  it("a dust exposure equal to the limit at the new feerate is allowed, on either commitment", () => {
    const p = withAliceHtlc(3_000_000n)
    const at: HtlcLimits = { maxDustHtlcExposure: msat(3_000_000n) }
    expect(Result.isSuccess(receiveFee(p.nodes.bob.c, fee(p.nodes.bob.c, 5_000), bounds, at))).toBe(true)
    expect(Result.isSuccess(sendFee(p.nodes.alice.c, 5_000, at))).toBe(true)
    const q = withAliceHtlc(5_000_000n)
    const bob = withDustLimits(q.nodes.bob.c, 354n, 2_000n)
    expect(Result.isSuccess(receiveFee(bob, fee(bob, 5_000), bounds, { maxDustHtlcExposure: msat(5_000_000n) }))).toBe(true)
  })
})

describe("HTLC ids are per direction", () => {
  it("a node removes only HTLCs offered TO it: its own HTLC with the same id is not one (BOLT 2 \"Removing an HTLC\")", () => {
    const p = pair()
    expect(p.add("bob", 5_000_000n)).toBe("ok")
    p.settle()
    const c = p.nodes.bob.c
    expect(refusal(c, (s) => sendFail(s, { id: 0n, reason: new Uint8Array(10) }))).toEqual({ _tag: "UnknownHtlcId", id: 0n })
    expect(refusal(c, (s) => sendFulfill(s, { id: 0n, paymentPreimage: preimageOf("bob", 0n) }))).toEqual({ _tag: "UnknownHtlcId", id: 0n })
    // And the peer cannot remove an HTLC it offered itself.
    const a = p.nodes.alice.c
    expect(refusal(a, (s) => receiveFail(s, UpdateFailHtlc.make({ channelId: s.params.channelId, id: 0n, reason: new Uint8Array(10) })))).toEqual({
      _tag: "UnknownHtlcId",
      id: 0n
    })
  })
})

describe("removals wait for our revoke_and_ack", () => {
  it("while we owe a revocation we remove no HTLC, not even one committed long ago (the rule of incomingToRemove)", () => {
    // Stricter than BOLT 2 needs (HTLC 0 is irrevocably committed), and free: the channel
    // completes its revocation right after accepting commitment_signed.
    const p = withAliceHtlc()
    expect(p.add("alice", 1_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob") // update_add_htlc
    const m = take(p, "bob")
    if (m._tag !== "CommitmentSigned") throw new Error(m._tag)
    const owing = ok(receiveCommit(secp, p.nodes.bob.c, m)).commitments
    expect(owing.owedRevocation).not.toBeNull()
    expect(refusal(owing, (s) => sendFulfill(s, { id: 0n, paymentPreimage: preimageOf("alice", 0n) }))).toEqual({ _tag: "HtlcNotIrrevocablyCommitted", id: 0n })
    expect(Result.isSuccess(sendFulfill(p.nodes.bob.c, { id: 0n, paymentPreimage: preimageOf("alice", 0n) }))).toBe(true)
  })
})

describe("our commitment_signed", () => {
  it("names the funding transaction it spends in its funding_txid TLV (BOLT 2 commitment_signed_tlvs)", () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob")
    const m = take(p, "bob")
    if (m._tag !== "CommitmentSigned") throw new Error(m._tag)
    expect(m.tlvs.fundingTxid).toEqual(p.nodes.alice.c.params.fundingOutpoint.txid)
  })
})

describe("the dust rule looks at the new HTLC's own size on each commitment (BOLT 2 max_dust_htlc_exposure_msat)", () => {
  // 2,250 sat at 2,500 sat/kw: dust where the HTLC-success fee applies (1,757 sat) with a 546 sat
  // dust limit, not where the HTLC-timeout fee applies (1,657 sat). 500 sat is dust everywhere.
  const limit: HtlcLimits = { maxDustHtlcExposure: msat(400_000n) }

  it("offering: an HTLC that is not dust on our commitment (546 + 1,657 sat) goes out past earlier dust", () => {
    const d = withDustLimits(pair().nodes.alice.c, 546n, 354n)
    const withDust = ok(sendAdd(d, cmd(500_000n), limits)).commitments
    expect(refusal(withDust, (s) => sendAdd(s, cmd(500_000n), limit))["_tag"]).toBe("DustExposureExceeded")
    expect(Result.isSuccess(sendAdd(withDust, cmd(2_250_000n), limit))).toBe(true)
  })

  it("receiving: an HTLC that is not dust on their commitment (546 + 1,657 sat) is not flagged for earlier dust", () => {
    const d = withDustLimits(pair().nodes.bob.c, 354n, 546n)
    const withDust = ok(receiveAdd(d, addMsg(d, { amountMsat: msat(500_000n) }), limits)).commitments
    expect(ok(receiveAdd(withDust, addMsg(withDust, { amountMsat: msat(500_000n) }), limit)).dustExposureExceeded).toBeDefined()
    expect(ok(receiveAdd(withDust, addMsg(withDust, { amountMsat: msat(2_250_000n) }), limit)).dustExposureExceeded).toBeUndefined()
  })
})
