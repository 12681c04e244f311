/**
 * Objects of normal operation written out field by field instead of `{ _tag, ...x }` (V8 copies
 * a spread that follows other properties through a generic path): the signer requests of
 * `commitment_signed` sent and received and the `HtlcReceived` event must be strictly equal to
 * the spread they replaced, with the same keys in the same order, on any input of their shape
 * (optional fields absent, present, or present holding undefined) and on the requests
 * `prepareCommit` and `receiveCommit` really make.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { prepareCommit, receiveCommit, type RevokeRequest, type SignCommitmentRequest } from "../../../src/protocol/channel/commitments.ts"
import { htlcReceivedEvent } from "../../../src/protocol/channel/pending.ts"
import type { ReceivedHtlc } from "../../../src/protocol/channel/state.ts"
import { signCommitmentRequest, validateAndRevokeRequest } from "../../../src/protocol/channel/step.ts"
import { msat } from "../../../src/protocol/units.ts"
import { Node, newPair, secp, temporaryId } from "./step-harness.ts"

/** The same value and the same own keys in the same order. */
const expectSameObject = (fast: object, plain: object): void => {
  expect(fast).toStrictEqual(plain)
  expect(Object.keys(fast)).toEqual(Object.keys(plain))
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
const commitment = fc.record({
  commitmentNumber: fc.bigInt({ min: 0n, max: 1n << 48n }),
  feeratePerKw: fc.integer({ min: 253, max: 100_000 }),
  toLocal: fc.bigInt({ min: 0n, max: 1n << 40n }).map(msat),
  toRemote: fc.bigInt({ min: 0n, max: 1n << 40n }).map(msat),
  htlcs: fc.array(
    fc.record({
      direction: fc.constantFrom("offered" as const, "received" as const),
      amount: fc.bigInt({ min: 1n, max: 1n << 40n }).map(msat),
      paymentHash: bytes(32),
      cltvExpiry: fc.nat({ max: 499_999_999 })
    }),
    { maxLength: 4 }
  )
})
const someNode = new Node("written-points")
const point = fc.constantFrom(someNode.point(1n), someNode.point(2n), someNode.point(3n))

type Presence = "absent" | "value" | "undefined"
const presence = fc.constantFrom<Presence>("absent", "value", "undefined")

const entry: fc.Arbitrary<ReceivedHtlc> = fc
  .record({ id: fc.bigInt({ min: 0n, max: 1000n }), hash: bytes(32), onion: bytes(1366), key: point, pathKey: presence, dust: presence })
  .map(({ id, hash, onion, key, pathKey, dust }): ReceivedHtlc => ({
    htlcId: id,
    amount: msat(5_000n),
    paymentHash: hash,
    cltvExpiry: 800_000,
    onion,
    ...(pathKey === "absent" ? {} : { pathKey: pathKey === "value" ? key : undefined }),
    ...(dust === "absent" ? {} : { dustExposureExceeded: dust === "value" ? true : undefined })
  }))

describe("objects written out field by field", () => {
  it("the signer requests are the spreads they replaced", () => {
    fc.assert(
      fc.property(commitment, point, (c, p) => {
        const r: SignCommitmentRequest = { commitment: c, theirPerCommitmentPoint: p }
        expectSameObject(signCommitmentRequest(r), { _tag: "SignCounterpartyCommitment", ...r })
      }),
      { numRuns: 100, seed: 15 }
    )
    fc.assert(
      fc.property(commitment, bytes(64), fc.array(bytes(64), { maxLength: 3 }), fc.bigInt({ min: 0n, max: 1n << 48n }), (c, sig, htlcSigs, n) => {
        const r: RevokeRequest = { holderCommitment: c, signature: sig, htlcSignatures: htlcSigs, revokeCommitmentNumber: n, nextCommitmentNumber: n + 2n }
        expectSameObject(validateAndRevokeRequest(r), { _tag: "ValidateAndRevoke", ...r })
      }),
      { numRuns: 100, seed: 16 }
    )
  })

  it("the requests prepareCommit and receiveCommit make have exactly the fields written out", () => {
    const p = newPair("written-a", "written-b")
    p.open()
    p.add(p.a, 5_000_000n, "w1")
    const a = p.a.state
    if (a?._tag !== "Normal") throw new Error("not Normal")
    const prepared = prepareCommit(a.commitments)
    if (prepared._tag !== "Success") throw new Error("nothing to sign")
    expectSameObject(signCommitmentRequest(prepared.success.request), { _tag: "SignCounterpartyCommitment", ...prepared.success.request })
    p.signNow(p.a)
    const b = p.b.state
    const signed = p.b.inbox.find((m) => m._tag === "CommitmentSigned")
    if (b?._tag !== "Normal" || signed?._tag !== "CommitmentSigned") throw new Error("no commitment_signed")
    p.deliver(p.b) // the add
    const bAfterAdd = p.b.state
    if (bAfterAdd?._tag !== "Normal") throw new Error("not Normal")
    const received = receiveCommit(secp, bAfterAdd.commitments, signed)
    if (received._tag !== "Success") throw new Error(`refused: ${JSON.stringify(received.failure)}`)
    expectSameObject(validateAndRevokeRequest(received.success.request), { _tag: "ValidateAndRevoke", ...received.success.request })
  })

  it("the HtlcReceived event is the spread it replaced, optional fields absent, present or undefined", () => {
    const channelId = temporaryId("written-channel")
    fc.assert(
      fc.property(entry, (e) => expectSameObject(htlcReceivedEvent(channelId, e), { _tag: "HtlcReceived", channelId, ...e })),
      { numRuns: 200, seed: 17 }
    )
  })
})
