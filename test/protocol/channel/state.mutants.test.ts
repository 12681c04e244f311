/**
 * Tests written for `state.ts` (`npm run mutate -- src/protocol/channel/state.ts`): what each
 * phase of a channel's life answers for its parameters (from the funding on: BOLT 2 "funding_created"
 * fixes the funding outpoint, hence the channel id) and its channel id (the temporary one before),
 * and the short channel ids a channel in normal operation answers to (BOLT 2 `option_scid_alias`:
 * the real one, our alias, the peer's alias).
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { channelIdOf, paramsOf, shortChannelIdsOf, type ChannelState } from "../../../src/protocol/channel/state.ts"
import { openChannel, step } from "../../../src/protocol/channel/step.ts"
import type { ShortChannelId } from "../../../src/protocol/codec/fields.ts"
import { alias, negotiateClose, newPair, openArgs, restoreBobFromBackup, temporaryId } from "./step-harness.ts"

const must = (s: ChannelState | undefined): ChannelState => {
  if (s === undefined) throw new Error("no state")
  return s
}

/** One state per phase of a channel's life, the funder's and the fundee's. */
const life = (() => {
  const p = newPair("st-mut-a", "st-mut-b")
  const opened = openChannel(p.a.ctx, openArgs(p.a))
  if (Result.isFailure(opened)) throw new Error("open refused")
  const snap: Record<string, ChannelState> = { WaitAcceptChannel: opened.success.state }
  const fund = p.fund.bind(p)
  p.fund = (tx) => {
    snap["WaitFundingTx"] = must(p.a.state)
    snap["WaitFundingCreated"] = must(p.b.state)
    fund(tx)
    snap["WaitFundingSigned"] = must(p.a.state)
  }
  p.openFunded()
  // The fundee holding funding_created, its signature on the way (the step alone, not applied).
  const fundingCreated = p.log.find((l) => l.message._tag === "FundingCreated")?.message
  if (fundingCreated === undefined) throw new Error("no funding_created")
  const received = step(p.b.ctx, must(snap["WaitFundingCreated"]), { _tag: "PeerMessage", message: fundingCreated })
  if (Result.isFailure(received)) throw new Error("funding_created refused")
  snap["WaitFundingCreated+received"] = received.success.state
  snap["WaitChannelReady"] = must(p.a.state)
  p.confirm(3)
  p.settle()
  snap["Normal"] = must(p.a.state)
  negotiateClose(p)
  snap["Negotiating"] = must(p.a.state)
  p.settle()
  snap["Closing"] = must(p.a.state)
  const failed = step(p.a.ctx, must(snap["Normal"]), { _tag: "ForceClose", reason: "test" })
  if (Result.isFailure(failed)) throw new Error("force close refused")
  snap["Failed"] = failed.success.state
  const q = newPair("st-mut-c", "st-mut-d")
  q.open()
  restoreBobFromBackup(q, "st-mut")
  snap["WaitRemoteClose"] = must(q.b.state)
  const closing = must(snap["Closing"])
  const closingTxid = closing._tag === "Closing" ? closing.closingTxids[0] : undefined
  if (closingTxid === undefined) throw new Error("no closing txid")
  const closed = step(p.a.ctx, closing, { _tag: "FundingSpent", txid: closingTxid })
  if (Result.isFailure(closed)) throw new Error("funding spent refused")
  snap["Closed"] = closed.success.state
  const n = must(snap["Normal"])
  if (n._tag !== "Normal") throw new Error("not Normal")
  return { snap, params: n.commitments.params, temporary: temporaryId(p.a.name) }
})()

describe("paramsOf: from the funding on, while the channel lives", () => {
  it.each(["WaitAcceptChannel", "WaitFundingTx", "WaitFundingCreated", "Failed", "Closed"])("%s: none", (phase) => {
    const s = life.snap[phase]
    expect(s?._tag).toBe(phase.split("+")[0])
    expect(paramsOf(must(s))).toBeUndefined()
  })
  it.each(["WaitFundingSigned", "WaitFundingCreated+received", "WaitChannelReady", "Normal", "Negotiating", "Closing"])("%s: the channel's", (phase) => {
    const s = must(life.snap[phase])
    expect(s._tag).toBe(phase.split("+")[0])
    expect(paramsOf(s)?.channelId).toEqual(life.params.channelId)
    expect(paramsOf(s)?.fundingOutpoint).toEqual(life.params.fundingOutpoint)
  })
  it("WaitRemoteClose: the channel's", () => {
    const s = must(life.snap["WaitRemoteClose"])
    if (s._tag !== "WaitRemoteClose") throw new Error(`not WaitRemoteClose: ${s._tag}`)
    expect(paramsOf(s)?.channelId).toEqual(s.channelId)
    expect(paramsOf(s)).toBe(s.params)
  })
})

describe("channelIdOf: the temporary id before the funding, the channel id after", () => {
  it("each phase", () => {
    for (const phase of ["WaitAcceptChannel", "WaitFundingTx", "WaitFundingSigned", "WaitFundingCreated"]) expect(channelIdOf(must(life.snap[phase]))).toEqual(life.temporary)
    for (const phase of ["WaitFundingCreated+received", "WaitChannelReady", "Normal", "Negotiating", "Closing", "Failed", "Closed"])
      expect(channelIdOf(must(life.snap[phase]))).toEqual(life.params.channelId)
  })
})

describe("shortChannelIdsOf: what a channel in normal operation answers to", () => {
  const scid = 700_000n as ShortChannelId
  it("the real one, our alias, the peer's alias, in that order; only those known", () => {
    const n = must(life.snap["Normal"])
    if (n._tag !== "Normal") throw new Error("not Normal")
    const { shortChannelId: _s, localAlias: _l, remoteAlias: _r, ...bare } = n
    expect(shortChannelIdsOf(bare)).toEqual([])
    expect(shortChannelIdsOf({ ...bare, shortChannelId: scid, localAlias: alias("ours"), remoteAlias: alias("theirs!") })).toEqual([scid, alias("ours"), alias("theirs!")])
    expect(shortChannelIdsOf({ ...bare, localAlias: alias("ours") })).toEqual([alias("ours")])
    expect(shortChannelIdsOf({ ...bare, remoteAlias: alias("theirs!") })).toEqual([alias("theirs!")])
    expect(shortChannelIdsOf({ ...bare, shortChannelId: scid })).toEqual([scid])
  })
  it("none in another phase (even one that keeps our alias)", () => {
    const neg = must(life.snap["Negotiating"])
    expect(neg._tag === "Negotiating" ? neg.localAlias : undefined).toBe(alias("st-mut-a"))
    expect(shortChannelIdsOf(neg)).toEqual([])
    expect(shortChannelIdsOf(must(life.snap["WaitChannelReady"]))).toEqual([])
  })
})
