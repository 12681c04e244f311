/**
 * `ClaimPreimage`: the preimage of a received HTLC goes to the monitor (one `PaymentPreimage`
 * update) with nothing sent and the commitments unchanged, so a multi-part claim can store every
 * part's preimage before fulfilling any; the checks are those of `FulfillHtlc`.
 */
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { equalBytes, newPair, preimageFor } from "./step-harness.ts"

const withReceivedHtlc = () => {
  const p = newPair("claim-a", "claim-b")
  p.open()
  p.add(p.a, 10_000_000n, "x")
  p.settle()
  expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
  return p
}

describe("ClaimPreimage", () => {
  it("persists the preimage and nothing else; the fulfill that follows works as usual", () => {
    const p = withReceivedHtlc()
    const before = p.b.state
    const sent = p.log.length
    const updates = p.b.updates.length
    expect(p.input(p.b, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("x") })).toBeUndefined()
    expect(p.log.length).toBe(sent)
    expect(p.b.updates.slice(updates).map((u) => u._tag)).toEqual(["PaymentPreimage"])
    expect(p.b.monitor?.preimages.some((e) => equalBytes(e.paymentHash, sha256(preimageFor("x"))))).toBe(true)
    if (before === undefined || p.b.state === undefined || !("commitments" in before) || !("commitments" in p.b.state)) throw new Error("no commitments")
    expect(p.b.state.commitments.localChanges).toEqual(before.commitments.localChanges)
    expect(p.b.state.nextUpdateId).toBe(before.nextUpdateId + 1n)
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("x") })).toBeUndefined()
    p.settle()
    expect(p.a.eventsOf("HtlcResolved").map((r) => r.result._tag)).toEqual(["Fulfilled"])
  })

  it("refuses what a fulfill would refuse (unknown id, wrong preimage, our own HTLC), changing nothing", () => {
    const p = withReceivedHtlc()
    const updates = p.b.updates.length
    const state = JSON.stringify(p.b.state, (_, v) => (typeof v === "bigint" ? v.toString() : v))
    expect(p.input(p.b, { _tag: "ClaimPreimage", htlcId: 5n, preimage: preimageFor("x") })?._tag).toBe("UnknownHtlcId")
    expect(p.input(p.b, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("y") })?._tag).toBe("InvalidPaymentPreimage")
    expect(p.input(p.a, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("x") })).toBeDefined()
    expect(p.b.updates.length).toBe(updates)
    expect(JSON.stringify(p.b.state, (_, v) => (typeof v === "bigint" ? v.toString() : v))).toBe(state)
  })
})
