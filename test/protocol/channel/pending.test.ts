/**
 * `pendingEvents`: what a restored channel reports again. A received HTLC stays reported
 * (`HtlcReceived`, onion included) from its irrevocable commitment until we settle it, and
 * leaves the state once its removal is irrevocably committed; our HTLC fulfilled by the peer is
 * reported (`HtlcResolved`, with the preimage) until that fulfill is irrevocably committed.
 */
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { pendingEvents } from "../../../src/protocol/channel/pending.ts"
import { msat } from "../../../src/protocol/units.ts"
import { newPair, preimageFor } from "./step-harness.ts"

describe("pendingEvents", () => {
  it("reports a received HTLC until we settle it, and a peer's fulfill until it is committed", () => {
    const p = newPair("pend-a", "pend-b")
    p.open()
    const preimage = preimageFor("pending")
    const onion = new Uint8Array(1366).fill(4)
    p.input(p.a, { _tag: "AddHtlc", requestId: "r", amount: msat(5_000_000n), paymentHash: sha256(preimage), cltvExpiry: 800_123, onion })
    p.settle()
    const b = p.b.state
    if (b === undefined) throw new Error("no state")
    const pending = pendingEvents(b)
    expect(pending).toHaveLength(1)
    const received = pending[0]
    if (received?._tag !== "HtlcReceived") throw new Error("expected HtlcReceived")
    expect(received.htlcId).toBe(0n)
    expect(received.amount).toBe(5_000_000n)
    expect(received.cltvExpiry).toBe(800_123)
    expect(received.onion).toEqual(onion)
    expect(pendingEvents(p.a.state ?? b)).toEqual([])

    // B fulfills: no longer pending on B; A, having the fulfill uncommitted, reports it resolved.
    p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage })
    expect(pendingEvents(p.b.state ?? b)).toEqual([])
    p.deliver(p.a)
    const resolved = pendingEvents(p.a.state ?? b)
    expect(resolved).toHaveLength(1)
    expect(resolved[0]).toMatchObject({ _tag: "HtlcResolved", htlcId: 0n, result: { _tag: "Fulfilled", preimage } })

    // Once everything is committed, nothing is pending and the entry is gone.
    p.settle()
    expect(pendingEvents(p.a.state ?? b)).toEqual([])
    expect(pendingEvents(p.b.state ?? b)).toEqual([])
    const after = p.b.state
    expect(after?._tag === "Normal" ? after.receivedHtlcs : "not normal").toBeUndefined()
  })
})
