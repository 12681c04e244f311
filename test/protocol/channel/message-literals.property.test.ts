/**
 * The messages the reducer sends are written out as literals (commitments.ts, `noExtension`),
 * not made by the def's `make`: each must be strictly equal to what `make` gives for the same
 * fields and extension, with the same keys in the same order, and encode to the same bytes, on
 * any input (optional extensions absent or present).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import {
  completeCommit,
  completeRevoke,
  prepareCommit,
  receiveAdd,
  receiveCommit,
  sendAdd,
  sendFail,
  sendFailMalformed,
  sendFee,
  sendFulfill
} from "../../../src/protocol/channel/commitments.ts"
import {
  CommitmentSigned,
  RevokeAndAck,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc
} from "../../../src/protocol/messages/channel.ts"
import { BADONION } from "../../../src/protocol/onion/failure.ts"
import { msat } from "../../../src/protocol/units.ts"
import { CompactSignature } from "../../../src/services/ChannelSigner.ts"
import { limits, must, ok, onion, Pair, preimageOf, secp } from "./harness.ts"

/** The same value, the same own keys in the same order (the extension's too), the same bytes. */
const expectSame = <M extends { readonly tlvs: object }>(literal: M, made: M, encode: (m: M) => Result.Result<Uint8Array, unknown>): void => {
  expect(literal).toStrictEqual(made)
  expect(Object.keys(literal)).toEqual(Object.keys(made))
  expect(Object.keys(literal.tlvs)).toEqual(Object.keys(made.tlvs))
  expect(Object.isFrozen(literal.tlvs)).toBe(Object.isFrozen(made.tlvs))
  expect(encode(literal)).toStrictEqual(encode(made))
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
const maybe = <A>(a: fc.Arbitrary<A>) => fc.option(a, { nil: undefined })

// Alice offered HTLC 0 to Bob (committed both ways), then proposed HTLC 1 and signed it: Bob may
// remove HTLC 0, and owes a revocation once he receives Alice's commitment_signed.
const pair = new Pair({ type: anchorsZeroFeeHtlcTx })
expect(pair.add("alice", 5_000_000n)).toBe("ok")
pair.commitFrom("alice")
expect(pair.add("alice", 6_000_000n)).toBe("ok")
expect(pair.sign("alice")).toBe("ok")
const alice = pair.nodes.alice
const bob = pair.nodes.bob
const committed = pair.queues.bob.filter((m) => m._tag === "CommitmentSigned")[0]
if (committed === undefined) throw new Error("no commitment_signed in flight")
const bobAdd = pair.queues.bob.filter((m) => m._tag === "UpdateAddHtlc")[0]
if (bobAdd === undefined) throw new Error("no update_add_htlc in flight")

describe("the messages sent are make's values", () => {
  it("update_add_htlc, with and without a blinding point", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1_000n, max: 10_000_000n }), fc.integer({ min: 1, max: 499_999_999 }), maybe(bytes(33)), (amount, cltvExpiry, pathKey) => {
        const paymentHash = sha256(Uint8Array.of(Number(amount % 256n)))
        const r = ok(sendAdd(alice.c, { amount: msat(amount), paymentHash, cltvExpiry, onionRoutingPacket: onion, pathKey }, limits))
        const made = UpdateAddHtlc.make(
          { channelId: alice.c.params.channelId, id: alice.c.localNextHtlcId, amountMsat: msat(amount), paymentHash, cltvExpiry, onionRoutingPacket: onion },
          pathKey === undefined ? {} : { blindedPath: pathKey }
        )
        expectSame(r.message, made, UpdateAddHtlc.encode)
      }),
      { seed: 19_01, numRuns: 60 }
    )
  })

  it("update_fulfill_htlc, update_fail_htlc and update_fail_malformed_htlc, with and without attribution data", () => {
    fc.assert(
      fc.property(maybe(bytes(920)), fc.uint8Array({ maxLength: 300 }), bytes(32), fc.integer({ min: 0, max: 0xffff }), (attributionData, reason, sha256OfOnion, code) => {
        const channelId = bob.c.params.channelId
        const preimage = preimageOf("alice", 0n)
        const fulfilled = ok(sendFulfill(bob.c, { id: 0n, paymentPreimage: preimage, attributionData }))
        const extension = attributionData === undefined ? {} : { attributionData }
        expectSame(fulfilled.message, UpdateFulfillHtlc.make({ channelId, id: 0n, paymentPreimage: preimage }, extension), UpdateFulfillHtlc.encode)
        const failed = ok(sendFail(bob.c, { id: 0n, reason, attributionData }))
        expectSame(failed.message, UpdateFailHtlc.make({ channelId, id: 0n, reason }, extension), UpdateFailHtlc.encode)
        const failureCode = code | BADONION
        const malformed = ok(sendFailMalformed(bob.c, { id: 0n, sha256OfOnion, failureCode }))
        expectSame(malformed.message, UpdateFailMalformedHtlc.make({ channelId, id: 0n, sha256OfOnion, failureCode }), UpdateFailMalformedHtlc.encode)
      }),
      { seed: 19_02, numRuns: 60 }
    )
  })

  it("update_fee", () => {
    fc.assert(
      fc.property(fc.integer({ min: 253, max: 5_000 }), (feeratePerKw) => {
        const r = ok(sendFee(alice.c, feeratePerKw, limits))
        expectSame(r.message, UpdateFee.make({ channelId: alice.c.params.channelId, feeratePerKw }), UpdateFee.encode)
      }),
      { seed: 19_03, numRuns: 40 }
    )
  })

  it("commitment_signed, with any number of HTLC signatures", () => {
    fc.assert(
      fc.property(bytes(64), fc.array(bytes(64), { maxLength: 5 }), fc.boolean(), (signature, htlcSignatures, fulfill) => {
        // Bob removes HTLC 0 (fulfilled or failed): something to sign.
        const removed = fulfill
          ? ok(sendFulfill(bob.c, { id: 0n, paymentPreimage: preimageOf("alice", 0n) })).commitments
          : ok(sendFail(bob.c, { id: 0n, reason: new Uint8Array(8) })).commitments
        const prepared = ok(prepareCommit(removed))
        const r = ok(completeCommit(prepared.commitments, { signature, htlcSignatures }))
        const made = CommitmentSigned.make(
          { channelId: bob.c.params.channelId, signature, htlcSignatures },
          { fundingTxid: bob.c.params.fundingOutpoint.txid }
        )
        expectSame(r.message, made, CommitmentSigned.encode)
      }),
      { seed: 19_04, numRuns: 40 }
    )
  })

  it("revoke_and_ack", () => {
    // Bob receives Alice's add and commitment_signed: he owes the revocation of commitment 1.
    const received = ok(receiveCommit(secp, ok(receiveAdd(bob.c, bobAdd, limits)).commitments, committed))
    const { holderCommitment, signature, htlcSignatures, revokeCommitmentNumber } = received.request
    // The signer takes its own branded signature type (these 64 bytes came off the wire).
    must(bob.signer.validateHolderCommitment(bob.keyId, holderCommitment, CompactSignature(signature), htlcSignatures.map((s) => CompactSignature(s))))
    const secret = must(bob.signer.releaseCommitmentSecret(bob.keyId, revokeCommitmentNumber))
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1000n }), (n) => {
        const point = must(bob.signer.perCommitmentPoint(bob.keyId, n))
        const r = ok(completeRevoke(secp, received.commitments, secret, point))
        const made = RevokeAndAck.make({ channelId: bob.c.params.channelId, perCommitmentSecret: secret, nextPerCommitmentPoint: point })
        expectSame(r.message, made, RevokeAndAck.encode)
      }),
      { seed: 19_05, numRuns: 20 }
    )
    expect(Result.isSuccess(completeRevoke(secp, received.commitments, secret, must(bob.signer.perCommitmentPoint(bob.keyId, 3n))))).toBe(true)
  })
})
