/**
 * Tests written against mutants that Stryker (`npm run mutate`) found uncovered or surviving in
 * `pending.ts`: what a channel restored after a crash reports again, and watches again.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { pendingEvents, restoredWatches } from "../../../src/protocol/channel/pending.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { msat } from "../../../src/protocol/units.ts"
import { expectedFundingWatch, newPair, preimageFor, type Pair } from "./step-harness.ts"

const stateOf = (s: ChannelState | undefined): ChannelState => {
  if (s === undefined) throw new Error("no state")
  return s
}

describe("restoredWatches: the funding output is watched again after a restart (BOLT 2 funding_locked depth, BOLT 5 spends)", () => {
  it("waiting for channel_ready: with the minimum depth; in normal operation: depth 0", () => {
    const p = newPair("watch-a", "watch-b")
    p.openFunded({ minimumDepth: 3 })
    for (const n of [p.a, p.b]) {
      const s = stateOf(n.state)
      if (s._tag !== "WaitChannelReady") throw new Error(s._tag)
      expect(s.minimumDepth).toBeGreaterThan(0)
      expect(restoredWatches(s)).toEqual([expectedFundingWatch(s, s.minimumDepth)])
    }
    p.confirm(3)
    p.settle()
    for (const n of [p.a, p.b]) {
      const s = stateOf(n.state)
      expect(s._tag).toBe("Normal")
      expect(restoredWatches(s)).toEqual([expectedFundingWatch(s, 0)])
    }
  })
})

describe("pendingEvents after a restart", () => {
  const withHtlc = (): { p: Pair; preimage: Uint8Array } => {
    const p = newPair("pend-m-a", "pend-m-b")
    p.open()
    const preimage = preimageFor("pending-mutants")
    p.input(p.a, { _tag: "AddHtlc", requestId: "r", amount: msat(5_000_000n), paymentHash: sha256(preimage), cltvExpiry: 800_000, onion: new Uint8Array(1366) })
    p.settle()
    expect(pendingEvents(stateOf(p.b.state))).toHaveLength(1)
    return { p, preimage }
  }

  it("a received HTLC we are failing (update_fail_htlc or update_fail_malformed_htlc in our log) is not reported again", () => {
    const { p } = withHtlc()
    expect(p.input(p.b, { _tag: "FailHtlc", htlcId: 0n, reason: new Uint8Array(32) })).toBeUndefined()
    expect(pendingEvents(stateOf(p.b.state))).toEqual([])
    const q = withHtlc().p
    expect(q.input(q.b, { _tag: "FailMalformedHtlc", htlcId: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 })).toBeUndefined()
    expect(pendingEvents(stateOf(q.b.state))).toEqual([])
  })

  it("our HTLC fulfilled by the peer whose fulfill was dropped at a disconnection: reported with the preimage the monitor holds", () => {
    const { p, preimage } = withHtlc()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage })).toBeUndefined()
    p.deliver(p.a) // update_fulfill_htlc, not yet committed
    p.disconnect() // Alice forgets Bob's uncommitted fulfill (BOLT 2)
    const a = stateOf(p.a.state)
    if (a._tag !== "Normal") throw new Error(a._tag)
    expect(a.fulfilledByPeer).toEqual([0n])
    const hash = sha256(preimage)
    const monitor = (h: Uint8Array) => (equalBytes(h, hash) ? preimage : undefined)
    expect(pendingEvents(a, monitor)).toEqual([{ _tag: "HtlcResolved", channelId: a.commitments.params.channelId, htlcId: 0n, result: { _tag: "Fulfilled", preimage } }])
    // Without the monitor's preimage there is nothing to report.
    expect(pendingEvents(a)).toEqual([])
  })
})
