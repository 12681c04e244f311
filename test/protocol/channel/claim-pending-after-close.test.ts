/**
 * `ClaimPreimage` on a channel that is over (src/protocol/channel/step.ts `claimAfterClose`): a
 * received HTLC's preimage learned after the channel failed must still reach the monitor, which
 * claims the HTLC output on chain (BOLT 5 "HTLC Output Handling": a node that "receives (or
 * already possesses) a payment preimage for an unresolved HTLC output that it has been offered"
 * MUST spend it). Persisted as the monitor's `PaymentPreimage` (the harness applies it to a real
 * monitor, which accepts it after `ForceClose`), nothing sent, the state unchanged; refused when
 * the channel closed with no HTLC on chain (cooperative close, or never funded).
 */
import { describe, expect, it } from "vitest"
import { Result, Schema } from "effect"
import { step } from "../../../src/protocol/channel/step.ts"
import { type ChannelState, ChannelStateSchema } from "../../../src/protocol/channel/state.ts"
import { equalBytes, newPair, preimageFor, type Node, type Pair } from "./step-harness.ts"

/** A state without its update counter (which the write advances). */
const json = (s: ChannelState | undefined): string =>
  JSON.stringify(s === undefined ? null : Schema.encodeSync(ChannelStateSchema)({ ...s, nextUpdateId: 0n }))

/** Alice offers an HTLC Bob holds committed; then Bob's channel ends as `end` makes it. */
const withReceivedHtlc = (): Pair => {
  const p = newPair()
  p.open()
  p.add(p.a, 10_000_000n, "late")
  p.settle()
  expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
  return p
}

const claim = (p: Pair, node: Node) => {
  const sent = p.log.length
  const updates = node.updates.length
  const before = json(node.state)
  const failure = p.input(node, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("late") })
  return { failure, sent: p.log.slice(sent), written: node.updates.slice(updates), sameState: json(node.state) === before }
}

describe("ClaimPreimage after the channel is over", () => {
  it("force-closed (Failed): the monitor gets PaymentPreimage after its ForceClose; nothing sent, state unchanged (but its update counter)", () => {
    const p = withReceivedHtlc()
    expect(p.input(p.b, { _tag: "ForceClose", reason: "test" })).toBeUndefined()
    expect(p.b.phase).toBe("Failed")
    const r = claim(p, p.b)
    expect(r.failure).toBeUndefined()
    expect(r.written.map((u) => u._tag)).toEqual(["PaymentPreimage"])
    expect(p.b.updates.map((u) => u._tag).lastIndexOf("ForceClose")).toBe(p.b.updates.length - 2)
    expect(p.b.monitor?.closing._tag).toBe("ForceClosed")
    expect(p.b.monitor?.preimages.some((e) => equalBytes(e.preimage, preimageFor("late")))).toBe(true)
    expect(r.sent).toEqual([])
    expect(r.sameState).toBe(true)
  })

  it("closed by the peer's commitment on chain (Closed, RemoteForceClose): accepted", () => {
    const p = withReceivedHtlc()
    expect(p.input(p.b, { _tag: "FundingSpent", txid: new Uint8Array(32).fill(7) })).toBeUndefined()
    expect(p.b.state?._tag === "Closed" && p.b.state.reason._tag).toBe("RemoteForceClose")
    const r = claim(p, p.b)
    expect(r.failure).toBeUndefined()
    expect(r.written.map((u) => u._tag)).toEqual(["PaymentPreimage"])
    expect(p.b.monitor?.preimages.some((e) => equalBytes(e.preimage, preimageFor("late")))).toBe(true)
    expect(r.sent).toEqual([])
  })

  it("waiting for the peer's close (WaitRemoteClose, our state is stale): accepted (their commitment may hold the HTLC)", () => {
    const p = withReceivedHtlc()
    const s = p.b.state
    if (s?._tag !== "Normal") throw new Error("not normal")
    const waiting: ChannelState = { _tag: "WaitRemoteClose", nextUpdateId: s.nextUpdateId, channelId: s.commitments.params.channelId, params: s.commitments.params, errorMessage: "stale" }
    const r = step(p.b.ctx, waiting, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("late") })
    expect(Result.isSuccess(r)).toBe(true)
    if (Result.isSuccess(r)) {
      expect(r.success.outputs.map((o) => (o._tag === "Persist" ? o.update._tag : o._tag))).toEqual(["PaymentPreimage"])
      expect(r.success.state.nextUpdateId).toBe(s.nextUpdateId + 1n)
    }
  })

  it("closed with no HTLC on chain (cooperative, or never funded): refused, nothing written", () => {
    const p = withReceivedHtlc()
    const s = p.b.state
    if (s?._tag !== "Normal") throw new Error("not normal")
    const channelId = s.commitments.params.channelId
    for (const reason of [{ _tag: "Cooperative" as const, closingTxid: new Uint8Array(32).fill(1) }, { _tag: "FundingAborted" as const, reason: "x" }]) {
      const closed: ChannelState = { _tag: "Closed", nextUpdateId: s.nextUpdateId, channelId, reason }
      const r = step(p.b.ctx, closed, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("late") })
      expect(Result.isFailure(r) && r.failure._tag).toBe("UnexpectedInput")
    }
  })
})
