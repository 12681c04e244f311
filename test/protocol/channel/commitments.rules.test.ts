/**
 * Every receive-side MUST of BOLT 2 "Normal Operation" (and the send-side refusals): a state,
 * the violating message, the typed error named after the rule, and the state unchanged (its
 * persisted JSON is byte-identical before and after).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import {
  completeCommit,
  completeRevoke,
  funderCharge,
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
  type Commitments,
  type HtlcLimits
} from "../../../src/protocol/channel/commitments.ts"
import { scalarFromBytes, scalarToBytes } from "../../../src/protocol/crypto/secp256k1.ts"
import { perCommitmentPoint } from "../../../src/protocol/keys/derivation.ts"
import {
  CommitmentSigned,
  RevokeAndAck,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc,
  type ChannelMessage
} from "../../../src/protocol/messages/channel.ts"
import { commitmentFee } from "../../../src/protocol/tx/fees.ts"
import { msat } from "../../../src/protocol/units.ts"
import { bounds, failureTag, limits, ok, onion, Pair, preimageOf, secp, snapshot, type ChannelOptions } from "./harness.ts"

/** Applies `f` to `c`: it must fail with `tag`, and `c` must be unchanged. */
const rejects = <A>(c: Commitments, f: (c: Commitments) => Result.Result<A, { readonly _tag: string }>, tag: string): void => {
  const before = snapshot(c)
  const r = f(c)
  expect(Result.isFailure(r) ? r.failure._tag : "success").toBe(tag)
  expect(snapshot(c)).toBe(before)
}

const pair = (options: Partial<ChannelOptions> = {}) => new Pair({ type: staticRemoteKey, ...options })

const add = (c: Commitments, fields: Partial<Parameters<typeof UpdateAddHtlc.make>[0]> = {}): UpdateAddHtlc =>
  UpdateAddHtlc.make({
    channelId: c.params.channelId,
    id: c.remoteNextHtlcId,
    amountMsat: msat(5_000_000n),
    paymentHash: sha256(new Uint8Array(32)),
    cltvExpiry: 800_000,
    onionRoutingPacket: onion,
    ...fields
  })

/** The next message queued for `to`, removed from the queue. */
const take = (p: Pair, to: "alice" | "bob"): ChannelMessage => {
  const m = p.queues[to].shift()
  if (m === undefined) throw new Error("no message queued")
  return m
}

const asCommitmentSigned = (m: ChannelMessage): CommitmentSigned => {
  if (m._tag !== "CommitmentSigned") throw new Error(`expected commitment_signed, got ${m._tag}`)
  return m
}
const asRevokeAndAck = (m: ChannelMessage): RevokeAndAck => {
  if (m._tag !== "RevokeAndAck") throw new Error(`expected revoke_and_ack, got ${m._tag}`)
  return m
}

/** A channel where Alice offered HTLC 0 (5,000 sat) and it is irrevocably committed on both sides. */
const withAliceHtlc = (options: Partial<ChannelOptions> = {}, amount = 5_000_000n): Pair => {
  const p = pair(options)
  expect(p.add("alice", amount)).toBe("ok")
  p.settle()
  return p
}

describe("update_add_htlc, receiving node (BOLT 2 \"Adding an HTLC\")", () => {
  it("an id that is not the next one (skipped, or repeated): UnexpectedHtlcId", () => {
    const p = pair()
    rejects(p.nodes.bob.c, (c) => receiveAdd(c, add(c, { id: 1n }), limits), "UnexpectedHtlcId")
    const accepted = ok(receiveAdd(p.nodes.bob.c, add(p.nodes.bob.c), limits)).commitments
    rejects(accepted, (c) => receiveAdd(c, add(c, { id: 0n }), limits), "UnexpectedHtlcId")
  })

  it("amount_msat equal to 0: HtlcAmountZero", () => {
    rejects(pair().nodes.bob.c, (c) => receiveAdd(c, add(c, { amountMsat: msat(0n) }), limits), "HtlcAmountZero")
  })

  it("amount_msat below our htlc_minimum_msat: HtlcAmountBelowMinimum", () => {
    rejects(pair().nodes.bob.c, (c) => receiveAdd(c, add(c, { amountMsat: msat(999n) }), limits), "HtlcAmountBelowMinimum")
  })

  it("cltv_expiry >= 500000000: HtlcCltvExpiryTooHigh", () => {
    rejects(pair().nodes.bob.c, (c) => receiveAdd(c, add(c, { cltvExpiry: 500_000_000 }), limits), "HtlcCltvExpiryTooHigh")
    expect(failureTag(receiveAdd(pair().nodes.bob.c, add(pair().nodes.bob.c, { cltvExpiry: 499_999_999 }), limits))).toBe("success")
  })

  it("a non-funder sender that cannot keep its reserve: HtlcNotAffordable", () => {
    // Bob holds 300,000 sat and must keep 10,000.
    rejects(pair().nodes.alice.c, (c) => receiveAdd(c, add(c, { amountMsat: msat(290_000_001n) }), limits), "HtlcNotAffordable")
    expect(failureTag(receiveAdd(pair().nodes.alice.c, add(pair().nodes.alice.c, { amountMsat: msat(290_000_000n) }), limits))).toBe("success")
  })

  it("a funder sender that cannot pay the fee (and, with anchors, the two anchors) above its reserve: HtlcNotAffordable", () => {
    for (const type of [staticRemoteKey, anchorsZeroFeeHtlcTx]) {
      const p = new Pair({ type })
      // Alice holds 700,000 sat; after the HTLC she must still pay the fee for one HTLC output and the anchors.
      const fee = commitmentFee(type, 2_500, 1) * 1000n
      const withoutAnchors = 700_000_000n - 10_000_000n - fee
      const affordable = withoutAnchors - 2n * type.anchorAmount * 1000n
      rejects(p.nodes.bob.c, (c) => receiveAdd(c, add(c, { amountMsat: msat(affordable + 1n) }), limits), "HtlcNotAffordable")
      expect(failureTag(receiveAdd(p.nodes.bob.c, add(p.nodes.bob.c, { amountMsat: msat(affordable) }), limits))).toBe("success")
    }
  })

  it("more than our max_accepted_htlcs offered to us: TooManyAcceptedHtlcs", () => {
    let c = pair({ maxAcceptedHtlcs: 2 }).nodes.bob.c
    for (let i = 0; i < 2; i++) c = ok(receiveAdd(c, add(c), limits)).commitments
    rejects(c, (s) => receiveAdd(s, add(s), limits), "TooManyAcceptedHtlcs")
  })

  it("more than our max_htlc_value_in_flight_msat offered to us: HtlcValueInFlightExceeded", () => {
    let c = pair({ maxHtlcValueInFlightMsat: 10_000_000n }).nodes.bob.c
    c = ok(receiveAdd(c, add(c, { amountMsat: msat(6_000_000n) }), limits)).commitments
    rejects(c, (s) => receiveAdd(s, add(s, { amountMsat: msat(4_000_001n) }), limits), "HtlcValueInFlightExceeded")
    expect(failureTag(receiveAdd(c, add(c, { amountMsat: msat(4_000_000n) }), limits))).toBe("success")
  })

  it("MUST allow multiple HTLCs with the same payment_hash", () => {
    let c = pair().nodes.bob.c
    for (let i = 0; i < 3; i++) c = ok(receiveAdd(c, add(c), limits)).commitments
    expect(c.remoteChanges.proposed).toHaveLength(3)
  })

  it("dust exposure above max_dust_htlc_exposure_msat: accepted, flagged to fail once committed (SHOULD)", () => {
    const small: HtlcLimits = { maxDustHtlcExposure: msat(1_000_000n) }
    let c = pair().nodes.bob.c
    const first = ok(receiveAdd(c, add(c, { amountMsat: msat(600_000n) }), small))
    expect(first.dustExposureExceeded).toBeUndefined()
    c = first.commitments
    const second = ok(receiveAdd(c, add(c, { amountMsat: msat(600_000n) }), small))
    expect(second.dustExposureExceeded?._tag).toBe("DustExposureExceeded")
    expect(second.commitments.remoteChanges.proposed).toHaveLength(2)
  })
})

describe("update_add_htlc, sending node", () => {
  it("refuses what the receiver would reject, and the funder keeps a fee spike buffer", () => {
    const p = pair({ maxAcceptedHtlcs: 1, maxHtlcValueInFlightMsat: 50_000_000n })
    const cmd = { amount: msat(5_000_000n), paymentHash: sha256(preimageOf("alice", 0n)), cltvExpiry: 800_000, onionRoutingPacket: onion }
    rejects(p.nodes.alice.c, (c) => sendAdd(c, { ...cmd, amount: msat(0n) }, limits), "HtlcAmountZero")
    rejects(p.nodes.alice.c, (c) => sendAdd(c, { ...cmd, amount: msat(999n) }, limits), "HtlcAmountBelowMinimum")
    rejects(p.nodes.alice.c, (c) => sendAdd(c, { ...cmd, cltvExpiry: 500_000_000 }, limits), "HtlcCltvExpiryTooHigh")
    rejects(p.nodes.alice.c, (c) => sendAdd(c, { ...cmd, amount: msat(50_000_001n) }, limits), "HtlcValueInFlightExceeded")
    rejects(p.nodes.alice.c, (c) => sendAdd(c, { ...cmd, amount: msat(600_000n) }, { maxDustHtlcExposure: msat(0n) }), "DustExposureExceeded")
    const one = ok(sendAdd(p.nodes.alice.c, cmd, limits)).commitments
    rejects(one, (c) => sendAdd(c, cmd, limits), "TooManyAcceptedHtlcs")
    rejects(pair().nodes.bob.c, (c) => sendAdd(c, { ...cmd, amount: msat(290_000_001n) }, limits), "HtlcNotAffordable")
    // Alice could pay the fee at the current feerate, but not at twice it with one more HTLC.
    const c = pair().nodes.alice.c
    const fee = commitmentFee(staticRemoteKey, 2_500, 1) * 1000n
    const amount = 700_000_000n - 10_000_000n - fee
    rejects(c, (s) => sendAdd(s, { ...cmd, amount: msat(amount) }, limits), "FeeSpikeBufferNotMet")
    const buffer = funderCharge(c.params, { ...c.remoteCommit.spec, htlcs: [] }, c.params.remote.dustLimit, 5_000, 2)
    expect(failureTag(sendAdd(c, { ...cmd, amount: msat(700_000_000n - 10_000_000n - buffer) }, limits))).toBe("success")
  })

  it("a non-funder does not leave the funder unable to pay the fee: FunderCannotAffordFees", () => {
    // Alice (funder) keeps just her reserve; Bob's HTLC would add an output she must pay for.
    const p = pair({ pushMsat: 1_000_000_000n - 10_000_000n - commitmentFee(staticRemoteKey, 2_500, 0) * 1000n })
    const cmd = { amount: msat(5_000_000n), paymentHash: sha256(preimageOf("bob", 0n)), cltvExpiry: 800_000, onionRoutingPacket: onion }
    rejects(p.nodes.bob.c, (c) => sendAdd(c, cmd, limits), "FunderCannotAffordFees")
  })
})

describe("update_fulfill_htlc / update_fail_htlc / update_fail_malformed_htlc, receiving node (BOLT 2 \"Removing an HTLC\")", () => {
  it("an id that is not an HTLC of ours in our current commitment: UnknownHtlcId", () => {
    const p = withAliceHtlc()
    const c = p.nodes.alice.c
    const id = 7n
    rejects(c, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: s.params.channelId, id, paymentPreimage: preimageOf("alice", id) })), "UnknownHtlcId")
    rejects(c, (s) => receiveFail(s, UpdateFailHtlc.make({ channelId: s.params.channelId, id, reason: new Uint8Array(10) })), "UnknownHtlcId")
    rejects(
      c,
      (s) => receiveFailMalformed(s, UpdateFailMalformedHtlc.make({ channelId: s.params.channelId, id, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 })),
      "UnknownHtlcId"
    )
    // Bob's HTLC ids are another counter: his HTLC 0 is not Alice's HTLC 0, which she cannot see failed twice.
    expect(p.add("bob", 1_000_000n)).toBe("ok")
    p.settle()
    rejects(p.nodes.alice.c, (s) => receiveFail(s, UpdateFailHtlc.make({ channelId: s.params.channelId, id: 1n, reason: new Uint8Array(10) })), "UnknownHtlcId")
  })

  it("an HTLC only proposed, not yet in our current commitment: UnknownHtlcId", () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    rejects(p.nodes.alice.c, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: s.params.channelId, id: 0n, paymentPreimage: preimageOf("alice", 0n) })), "UnknownHtlcId")
  })

  it("a payment_preimage that does not hash to the payment_hash: InvalidPaymentPreimage", () => {
    const c = withAliceHtlc().nodes.alice.c
    rejects(c, (s) => receiveFulfill(s, UpdateFulfillHtlc.make({ channelId: s.params.channelId, id: 0n, paymentPreimage: new Uint8Array(32) })), "InvalidPaymentPreimage")
  })

  it("a second removal of the same HTLC: HtlcAlreadyRemoved", () => {
    const c = withAliceHtlc().nodes.alice.c
    const fulfill = UpdateFulfillHtlc.make({ channelId: c.params.channelId, id: 0n, paymentPreimage: preimageOf("alice", 0n) })
    const once = ok(receiveFulfill(c, fulfill)).commitments
    rejects(once, (s) => receiveFulfill(s, fulfill), "HtlcAlreadyRemoved")
    rejects(once, (s) => receiveFail(s, UpdateFailHtlc.make({ channelId: s.params.channelId, id: 0n, reason: new Uint8Array(10) })), "HtlcAlreadyRemoved")
  })

  it("update_fail_malformed_htlc without the BADONION bit: FailMalformedWithoutBadOnion", () => {
    const c = withAliceHtlc().nodes.alice.c
    rejects(
      c,
      (s) => receiveFailMalformed(s, UpdateFailMalformedHtlc.make({ channelId: s.params.channelId, id: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x4000 | 5 })),
      "FailMalformedWithoutBadOnion"
    )
    expect(
      failureTag(receiveFailMalformed(c, UpdateFailMalformedHtlc.make({ channelId: c.params.channelId, id: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 })))
    ).toBe("success")
  })
})

describe("removing an HTLC, sending node", () => {
  it("only HTLCs irrevocably committed on both sides, once, with the right preimage and a BADONION code", () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob") // update_add_htlc
    p.deliver("bob") // commitment_signed: in Bob's commitment, not yet in Alice's
    rejects(p.nodes.bob.c, (c) => sendFulfill(c, { id: 0n, paymentPreimage: preimageOf("alice", 0n) }), "HtlcNotIrrevocablyCommitted")
    p.settle()
    const c = p.nodes.bob.c
    rejects(c, (s) => sendFulfill(s, { id: 1n, paymentPreimage: preimageOf("alice", 1n) }), "UnknownHtlcId")
    rejects(c, (s) => sendFulfill(s, { id: 0n, paymentPreimage: new Uint8Array(32) }), "InvalidPaymentPreimage")
    rejects(c, (s) => sendFailMalformed(s, { id: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x4000 }), "FailMalformedWithoutBadOnion")
    const failed = ok(sendFail(c, { id: 0n, reason: new Uint8Array(10) })).commitments
    rejects(failed, (s) => sendFulfill(s, { id: 0n, paymentPreimage: preimageOf("alice", 0n) }), "HtlcAlreadyRemoved")
  })
})

describe("update_fee, receiving node (BOLT 2 \"Updating Fees\")", () => {
  const fee = (c: Commitments, feeratePerKw: number) => UpdateFee.make({ channelId: c.params.channelId, feeratePerKw })

  it("from the node not responsible for the fee: UpdateFeeFromNonFunder", () => {
    rejects(pair().nodes.alice.c, (c) => receiveFee(c, fee(c, 3_000), bounds, limits), "UpdateFeeFromNonFunder")
    rejects(pair().nodes.bob.c, (c) => sendFee(c, 3_000, limits), "UpdateFeeFromNonFunder")
  })

  it("too low for timely processing: FeerateTooLow", () => {
    rejects(pair().nodes.bob.c, (c) => receiveFee(c, fee(c, 252), bounds, limits), "FeerateTooLow")
    const high = { estimatedFeeratePerKw: 10_000, minPercent: 50, maxPercent: 1_000 }
    rejects(pair().nodes.bob.c, (c) => receiveFee(c, fee(c, 4_999), high, limits), "FeerateTooLow")
    expect(failureTag(receiveFee(pair().nodes.bob.c, fee(pair().nodes.bob.c, 5_000), high, limits))).toBe("success")
  })

  it("unreasonably large: FeerateTooHigh", () => {
    rejects(pair().nodes.bob.c, (c) => receiveFee(c, fee(c, 25_001), bounds, limits), "FeerateTooHigh")
  })

  it("a feerate the funder cannot afford on our commitment: FeerateNotAffordable", () => {
    // Alice keeps 20,000 sat, 10,000 of them as reserve: 20,000 sat/kw costs 14,480 sat.
    const p = pair({ pushMsat: 980_000_000n })
    rejects(p.nodes.bob.c, (c) => receiveFee(c, fee(c, 20_000), bounds, limits), "FeerateNotAffordable")
    rejects(p.nodes.alice.c, (c) => sendFee(c, 20_000, limits), "FeerateNotAffordable")
    expect(failureTag(receiveFee(p.nodes.bob.c, fee(p.nodes.bob.c, 10_000), bounds, limits))).toBe("success")
  })

  it("without anchors, a feerate that trims HTLCs beyond max_dust_htlc_exposure_msat: DustExposureExceeded", () => {
    // 3,000 sat HTLC: untrimmed at 2,500 sat/kw (HTLC-success fee 1,757 sat), trimmed at 5,000.
    const p = withAliceHtlc({}, 3_000_000n)
    const small: HtlcLimits = { maxDustHtlcExposure: msat(2_000_000n) }
    rejects(p.nodes.bob.c, (c) => receiveFee(c, fee(c, 5_000), bounds, small), "DustExposureExceeded")
    rejects(p.nodes.alice.c, (c) => sendFee(c, 5_000, small), "DustExposureExceeded")
    expect(failureTag(receiveFee(p.nodes.bob.c, fee(p.nodes.bob.c, 5_000), bounds, limits))).toBe("success")
    // With anchors the trim threshold does not depend on the feerate.
    const a = new Pair({ type: anchorsZeroFeeHtlcTx })
    expect(a.add("alice", 3_000_000n)).toBe("ok")
    a.settle()
    expect(failureTag(receiveFee(a.nodes.bob.c, fee(a.nodes.bob.c, 5_000), bounds, small))).toBe("success")
  })
})

describe("commitment_signed, receiving node (BOLT 2 \"Committing Updates So Far\")", () => {
  /** Alice added an HTLC and signed: Bob's next message is her commitment_signed. */
  const signed = () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob") // the add
    return { p, c: p.nodes.bob.c, msg: asCommitmentSigned(take(p, "bob")) }
  }

  it("without any update: CommitmentSignedWithoutChanges", () => {
    const { msg } = signed()
    rejects(pair().nodes.bob.c, (c) => receiveCommit(secp, c, msg), "CommitmentSignedWithoutChanges")
  })

  it("a signature not valid for our next commitment: InvalidCommitmentSignature", () => {
    const { c, msg } = signed()
    const bad = Uint8Array.from(msg.signature)
    bad[10] = (bad[10] ?? 0) ^ 1
    rejects(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, signature: bad }, msg.tlvs)), "InvalidCommitmentSignature")
    expect(failureTag(receiveCommit(secp, c, msg))).toBe("success")
  })

  it("a high-S signature (LOW-S rule): InvalidCommitmentSignature", () => {
    const { c, msg } = signed()
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const s = scalarFromBytes(msg.signature.slice(32)) ?? 0n
    const highS = new Uint8Array(64)
    highS.set(msg.signature.slice(0, 32))
    highS.set(scalarToBytes(n - s), 32)
    rejects(c, (st) => receiveCommit(secp, st, CommitmentSigned.make({ ...msg, signature: highS }, msg.tlvs)), "InvalidCommitmentSignature")
  })

  it("num_htlcs not the number of HTLC outputs: WrongHtlcSignatureCount", () => {
    const { c, msg } = signed()
    expect(msg.htlcSignatures).toHaveLength(1)
    rejects(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, htlcSignatures: [] }, msg.tlvs)), "WrongHtlcSignatureCount")
    rejects(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, htlcSignatures: [...msg.htlcSignatures, msg.signature] }, msg.tlvs)), "WrongHtlcSignatureCount")
  })

  it("an htlc_signature not valid for its HTLC transaction: InvalidHtlcSignature", () => {
    const { c, msg } = signed()
    rejects(c, (s) => receiveCommit(secp, s, CommitmentSigned.make({ ...msg, htlcSignatures: [msg.signature] }, msg.tlvs)), "InvalidHtlcSignature")
  })

  it("a second commitment_signed before our revoke_and_ack: CommitmentSignedBeforeRevocation", () => {
    const { c, msg } = signed()
    const received = ok(receiveCommit(secp, c, msg)).commitments
    const more = ok(receiveAdd(received, add(received), limits)).commitments
    rejects(more, (s) => receiveCommit(secp, s, msg), "CommitmentSignedBeforeRevocation")
  })
})

describe("revoke_and_ack, receiving node (BOLT 2 \"Completing the Transition\")", () => {
  /** Alice signed, Bob answered: Alice's next message is Bob's revoke_and_ack. */
  const revoked = () => {
    const p = pair()
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob")
    p.deliver("bob")
    return { p, c: p.nodes.alice.c, msg: asRevokeAndAck(take(p, "alice")) }
  }

  it("without a commitment_signed of ours awaiting it: UnexpectedRevokeAndAck", () => {
    const { msg } = revoked()
    rejects(pair().nodes.alice.c, (c) => receiveRevoke(secp, c, msg), "UnexpectedRevokeAndAck")
  })

  it("a secret that does not generate the previous per-commitment point, or is no valid secret key: InvalidRevocationSecret", () => {
    const { c, msg } = revoked()
    rejects(c, (s) => receiveRevoke(secp, s, RevokeAndAck.make({ ...msg, perCommitmentSecret: sha256(new Uint8Array(1)) })), "InvalidRevocationSecret")
    rejects(c, (s) => receiveRevoke(secp, s, RevokeAndAck.make({ ...msg, perCommitmentSecret: new Uint8Array(32).fill(0xff) })), "InvalidRevocationSecret")
    expect(failureTag(receiveRevoke(secp, c, msg))).toBe("success")
  })

  it("a secret not generated by the BOLT 3 shachain: RevocationSecretNotFromShachain", () => {
    // One honest round, so a secret is stored; then a peer whose point for commitment 1 comes from a foreign secret.
    const p = withAliceHtlc()
    expect(p.add("alice", 1_000_000n)).toBe("ok")
    const prepared = ok(prepareCommit(p.nodes.alice.c))
    const foreign = sha256(new TextEncoder().encode("foreign"))
    const foreignPoint = ok(perCommitmentPoint(secp, foreign))
    const c0 = ok(completeCommit(prepared.commitments, { signature: new Uint8Array(64), htlcSignatures: [] })).commitments
    const c: Commitments = { ...c0, remoteCommit: { ...c0.remoteCommit, perCommitmentPoint: foreignPoint } }
    const msg = RevokeAndAck.make({ channelId: c.params.channelId, perCommitmentSecret: foreign, nextPerCommitmentPoint: foreignPoint })
    rejects(c, (s) => receiveRevoke(secp, s, msg), "RevocationSecretNotFromShachain")
  })

  it("an invalid next_per_commitment_point: InvalidNextPerCommitmentPoint", () => {
    const { c, msg } = revoked()
    const notAPoint = new Uint8Array(33).fill(0xff)
    notAPoint[0] = 0x02
    rejects(c, (s) => receiveRevoke(secp, s, RevokeAndAck.make({ ...msg, nextPerCommitmentPoint: notAPoint })), "InvalidNextPerCommitmentPoint")
  })
})

describe("our commitment_signed and revoke_and_ack (commands)", () => {
  it("nothing to sign, one commitment_signed at a time, signatures only when requested", () => {
    const p = pair()
    rejects(p.nodes.alice.c, (c) => prepareCommit(c), "NothingToSign")
    rejects(p.nodes.alice.c, (c) => completeCommit(c, { signature: new Uint8Array(64), htlcSignatures: [] }), "NoSignatureRequested")
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    rejects(p.nodes.alice.c, (c) => prepareCommit(c), "AwaitingRevocation")
  })

  it("a revocation only when owed, with the secret of the commitment revoked", () => {
    const p = pair()
    const point = p.nodes.bob.c.localNextPerCommitmentPoint
    rejects(p.nodes.bob.c, (c) => completeRevoke(secp, c, new Uint8Array(32).fill(1), point), "NoRevocationOwed")
    expect(p.add("alice", 5_000_000n)).toBe("ok")
    expect(p.sign("alice")).toBe("ok")
    p.deliver("bob")
    const received = ok(receiveCommit(secp, p.nodes.bob.c, asCommitmentSigned(take(p, "bob")))).commitments
    rejects(received, (c) => completeRevoke(secp, c, sha256(new Uint8Array(2)), point), "SignerSecretMismatch")
  })
})
