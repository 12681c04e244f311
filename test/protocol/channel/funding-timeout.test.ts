/**
 * BOLT 2 (`funding_signed`): the fundee "SHOULD forget the channel if it does not see the
 * correct funding transaction after a timeout of 2016 blocks". Counted from the first chain
 * height seen while unconfirmed (`FundingDepth { depth: 0, tipHeight }`, sent per block by the
 * ChainWatcher); the funder never forgets this way; a confirmation stops the count.
 */
import { describe, expect, it } from "vitest"
import { FUNDING_TIMEOUT_BLOCKS } from "../../../src/protocol/channel/step.ts"
import { newPair } from "./step-harness.ts"

describe("funding timeout (BOLT 2: the fundee forgets after 2016 blocks)", () => {
  it("the fundee forgets at 2016 blocks after the first height seen, not one block before", () => {
    const p = newPair()
    p.openFunded({ minimumDepth: 3 })
    p.settle()
    expect(p.b.phase).toBe("WaitChannelReady")
    const start = 800_000
    expect(p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: start })).toBeUndefined()
    expect(p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: start + FUNDING_TIMEOUT_BLOCKS - 1 })).toBeUndefined()
    expect(p.b.phase).toBe("WaitChannelReady")
    expect(p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: start + FUNDING_TIMEOUT_BLOCKS })).toBeUndefined()
    const s = p.b.state
    expect(s?._tag).toBe("Closed")
    if (s?._tag === "Closed") expect(s.reason).toEqual({ _tag: "FundingAborted", reason: "funding transaction not seen after 2016 blocks" })
    expect(p.b.eventsOf("ChannelClosed").map((e) => e.reason._tag)).toEqual(["FundingAborted"])
    expect(FUNDING_TIMEOUT_BLOCKS).toBe(2016)
  })

  it("the funder never forgets its channel this way", () => {
    const p = newPair()
    p.openFunded({ minimumDepth: 3 })
    p.settle()
    for (const h of [800_000, 802_016, 900_000]) expect(p.input(p.a, { _tag: "FundingDepth", depth: 0, tipHeight: h })).toBeUndefined()
    expect(p.a.phase).toBe("WaitChannelReady")
    const s = p.a.state
    if (s?._tag === "WaitChannelReady") expect(s.unfundedSince).toBeUndefined()
  })

  it("a confirmation stops the count; a reorg back to unconfirmed starts it again", () => {
    const p = newPair()
    p.openFunded({ minimumDepth: 6 })
    p.settle()
    p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: 800_000 })
    p.input(p.b, { _tag: "FundingDepth", depth: 1, tipHeight: 801_000 })
    const confirmed = p.b.state
    if (confirmed?._tag === "WaitChannelReady") expect(confirmed.unfundedSince).toBeUndefined()
    // Reorged away: counts from 802,000 now, so 803,000 is not the end.
    p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: 802_000 })
    p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: 803_000 })
    expect(p.b.phase).toBe("WaitChannelReady")
    p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: 802_000 + FUNDING_TIMEOUT_BLOCKS })
    expect(p.b.phase).toBe("Closed")
  })

  it("depth facts without a height (older chain sources) never forget", () => {
    const p = newPair()
    p.openFunded({ minimumDepth: 3 })
    p.settle()
    for (let i = 0; i < 3; i++) p.input(p.b, { _tag: "FundingDepth", depth: 0 })
    expect(p.b.phase).toBe("WaitChannelReady")
  })
})
