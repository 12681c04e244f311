/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/channel/pending.ts`)
 * left alive in `pending.ts`: the bookkeeping a restored channel reads to report again what the
 * payment layer may have missed (BOLT 2: a received HTLC may be forwarded once irrevocably
 * committed; a peer's `update_fulfill_htlc` gives the preimage at once; each commitment lists the
 * HTLCs as its owner sees them, so our HTLC is "offered" in our commitment and "received" in
 * theirs). The `stillReceived` and offered-HTLC cases edit one commitment's HTLC list of a real
 * state to reach each half of the "in our commitment or in theirs" rule on its own.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import type { Commitments } from "../../../src/protocol/channel/commitments.ts"
import type { ChannelEvent } from "../../../src/protocol/channel/io.ts"
import { pendingEvents, restoredWatches, stillReceived } from "../../../src/protocol/channel/pending.ts"
import { paramsOf, type ChannelState, type Normal } from "../../../src/protocol/channel/state.ts"
import type { ChannelMessage } from "../../../src/protocol/messages/channel.ts"
import { expectedFundingWatch, newPair, Node, Pair, preimageFor } from "./step-harness.ts"

type Htlc = Commitments["localCommit"]["spec"]["htlcs"][number]

const normalOf = (n: Node): Normal => {
  const s = n.state
  if (s === undefined || s._tag !== "Normal") throw new Error(`not Normal: ${s?._tag}`)
  return s
}

const stateOf = (n: Node): ChannelState => {
  if (n.state === undefined) throw new Error("no state")
  return n.state
}

/** `s` with the HTLC lists of its two current commitments replaced. */
const withHtlcs = (s: Normal, local: ReadonlyArray<Htlc>, remote: ReadonlyArray<Htlc>): Normal => {
  const c = s.commitments
  return {
    ...s,
    commitments: {
      ...c,
      localCommit: { ...c.localCommit, spec: { ...c.localCommit.spec, htlcs: [...local] } },
      remoteCommit: { ...c.remoteCommit, spec: { ...c.remoteCommit.spec, htlcs: [...remote] } }
    }
  }
}

const pick = (htlcs: ReadonlyArray<Htlc>, direction: Htlc["direction"], id: bigint): Htlc => {
  const h = htlcs.find((x) => x.direction === direction && x.id === id)
  if (h === undefined) throw new Error(`no ${direction} HTLC ${id}`)
  return h
}

/** Alice offers HTLCs "a0" and "a1" to Bob, Bob offers "b0" and "b1" to Alice; all committed both ways. */
const crossed = (): Pair => {
  const p = newPair("pend-bk-a", "pend-bk-b")
  p.open()
  p.add(p.a, 5_000_000n, "a0")
  p.add(p.a, 6_000_000n, "a1")
  p.add(p.b, 7_000_000n, "b0")
  p.add(p.b, 8_000_000n, "b1")
  p.settle()
  return p
}

describe("stillReceived: a received HTLC stays while it is in our commitment (received) or theirs (offered)", () => {
  const p = crossed()
  const b = normalOf(p.b)
  const received = b.receivedHtlcs ?? []
  const local = b.commitments.localCommit.spec.htlcs
  const remote = b.commitments.remoteCommit.spec.htlcs
  // Bob's view: Alice's HTLCs are "received" in his commitment and "offered" in hers; his own the reverse.
  const aliceInBob = [pick(local, "received", 0n), pick(local, "received", 1n)]
  const bobInBob = [pick(local, "offered", 0n), pick(local, "offered", 1n)]
  const aliceInAlice = [pick(remote, "offered", 0n), pick(remote, "offered", 1n)]
  const bobInAlice = [pick(remote, "received", 0n), pick(remote, "received", 1n)]

  it("Bob reported both of Alice's HTLCs; in both commitments they stay", () => {
    expect(received.map((e) => e.htlcId)).toEqual([0n, 1n])
    expect(stillReceived(b.commitments, received)).toEqual(received)
  })

  it("nothing reported: the same (empty) list back", () => {
    const none: ReadonlyArray<(typeof received)[number]> = []
    expect(stillReceived(b.commitments, none)).toBe(none)
  })

  it("in our commitment only (their commitment already without it): still received", () => {
    const s = withHtlcs(b, [...bobInBob, ...aliceInBob], bobInAlice)
    expect(stillReceived(s.commitments, received)).toEqual(received)
  })

  it("in their commitment only (ours already without it): still received", () => {
    const s = withHtlcs(b, bobInBob, [...bobInAlice, ...aliceInAlice])
    expect(stillReceived(s.commitments, received)).toEqual(received)
  })

  it("in neither commitment: gone, even though HTLCs of ours with the same ids remain (ids are per direction)", () => {
    const s = withHtlcs(b, bobInBob, bobInAlice)
    expect(stillReceived(s.commitments, received)).toEqual([])
  })

  it("one of two removed from both commitments: only the other stays", () => {
    const s = withHtlcs(b, [...bobInBob, pick(local, "received", 1n)], [...bobInAlice, pick(remote, "offered", 1n)])
    expect(stillReceived(s.commitments, received).map((e) => e.htlcId)).toEqual([1n])
  })
})

describe("pendingEvents: only a Normal channel has pending HTLC events", () => {
  it("waiting for channel_ready, negotiating the close, closing: nothing", () => {
    const p = newPair("pend-bk-phase-a", "pend-bk-phase-b")
    p.openFunded()
    expect(stateOf(p.a)._tag).toBe("WaitChannelReady")
    expect(pendingEvents(stateOf(p.a))).toEqual([])
    expect(pendingEvents(stateOf(p.b))).toEqual([])
  })
})

describe("pendingEvents: HtlcReceived again unless we are settling it", () => {
  it("our own update_add_htlc with the same id as a received HTLC is no settlement of it", () => {
    const p = newPair("pend-bk-add-a", "pend-bk-add-b")
    p.open()
    p.add(p.a, 5_000_000n, "x")
    p.settle()
    const before = normalOf(p.b)
    const entry = before.receivedHtlcs?.[0]
    if (entry === undefined) throw new Error("no received HTLC")
    // Bob proposes his own HTLC 0 (not yet signed): in his update log next to Alice's HTLC 0.
    p.add(p.b, 3_000_000n, "y")
    const b = normalOf(p.b)
    expect(b.commitments.localChanges.proposed.map((u) => [u._tag, u._tag === "UpdateAddHtlc" ? u.id : -1n])).toEqual([["UpdateAddHtlc", 0n]])
    const expected: ChannelEvent = { _tag: "HtlcReceived", channelId: b.commitments.params.channelId, ...entry }
    expect(pendingEvents(b)).toEqual([expected])
  })
})

describe("pendingEvents: HtlcResolved for our HTLCs the peer fulfilled", () => {
  it("each fulfill is matched by its HTLC id, not by position, and never by another update with that id", () => {
    const p = newPair("pend-bk-ff-a", "pend-bk-ff-b")
    p.open()
    p.add(p.a, 5_000_000n, "f0")
    p.add(p.a, 6_000_000n, "f1")
    p.settle()
    // Bob's own HTLC 0 reaches Alice first (in her log of his updates), then his fulfills of 1 and 0.
    p.add(p.b, 7_000_000n, "g0")
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 1n, preimage: preimageFor("f1") })).toBeUndefined()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("f0") })).toBeUndefined()
    const delivered: Array<ChannelMessage["_tag"]> = []
    for (let m = p.deliver(p.a); m !== undefined; m = p.deliver(p.a)) delivered.push(m._tag)
    expect(delivered).toEqual(["UpdateAddHtlc", "UpdateFulfillHtlc", "UpdateFulfillHtlc"])
    const a = normalOf(p.a)
    expect(a.fulfilledByPeer).toEqual([1n, 0n])
    const channelId = a.commitments.params.channelId
    expect(pendingEvents(a)).toEqual([
      { _tag: "HtlcResolved", channelId, htlcId: 1n, result: { _tag: "Fulfilled", preimage: preimageFor("f1") } },
      { _tag: "HtlcResolved", channelId, htlcId: 0n, result: { _tag: "Fulfilled", preimage: preimageFor("f0") } }
    ])
  })

  describe("fulfill dropped (no longer in the log): the monitor's preimage for the HTLC's payment hash", () => {
    const p = crossed()
    const a0 = normalOf(p.a)
    // Alice's view: her HTLCs "offered" in her commitment, "received" in Bob's; his the reverse.
    const local = a0.commitments.localCommit.spec.htlcs
    const remote = a0.commitments.remoteCommit.spec.htlcs
    // The wanted HTLC (Alice's 1) last, so that matching any earlier entry gives another hash.
    const localAll = [pick(local, "received", 0n), pick(local, "received", 1n), pick(local, "offered", 0n), pick(local, "offered", 1n)]
    const remoteAll = [pick(remote, "offered", 0n), pick(remote, "offered", 1n), pick(remote, "received", 0n), pick(remote, "received", 1n)]
    // Bob's HTLCs (received by Alice, reported by her) left out: only the fulfilled ones matter here.
    const fulfilled = (s: Normal, ids: ReadonlyArray<bigint>): Normal => ({ ...s, fulfilledByPeer: [...ids], receivedHtlcs: [] })
    const hash = sha256(preimageFor("a1"))
    const monitor = (h: Uint8Array): Uint8Array | undefined => (equalBytes(h, hash) ? preimageFor("a1") : undefined)
    const expected: ReadonlyArray<ChannelEvent> = [
      { _tag: "HtlcResolved", channelId: a0.commitments.params.channelId, htlcId: 1n, result: { _tag: "Fulfilled", preimage: preimageFor("a1") } }
    ]

    it("the HTLC in both commitments", () => {
      expect(pendingEvents(fulfilled(withHtlcs(a0, localAll, remoteAll), [1n]), monitor)).toEqual(expected)
    })

    it("the HTLC only in our commitment (offered there)", () => {
      const s = fulfilled(withHtlcs(a0, localAll, remoteAll.filter((h) => h.direction === "offered")), [1n])
      expect(pendingEvents(s, monitor)).toEqual(expected)
    })

    it("the HTLC only in their commitment (received there)", () => {
      const s = fulfilled(withHtlcs(a0, localAll.filter((h) => h.direction === "received"), remoteAll), [1n])
      expect(pendingEvents(s, monitor)).toEqual(expected)
    })

    it("an id in neither commitment and no fulfill: nothing, and the monitor is not asked", () => {
      const asked: Array<Uint8Array> = []
      const s = fulfilled(withHtlcs(a0, localAll, remoteAll), [7n])
      expect(pendingEvents(s, (h) => {
        asked.push(h)
        return preimageFor("a1")
      })).toEqual([])
      expect(asked).toEqual([])
    })
  })
})

describe("restoredWatches: which phases watch the funding output again", () => {

  it("funder before funding_signed (BOLT 2: the funding transaction not yet broadcast): none", () => {
    /** Holds back `funding_signed`. */
    class HoldFundingSigned extends Pair {
      override deliver(to: Node): ChannelMessage | undefined {
        return to.inbox[0]?._tag === "FundingSigned" ? undefined : super.deliver(to)
      }
    }
    const p = new HoldFundingSigned(new Node("pend-bk-fs-a"), new Node("pend-bk-fs-b"))
    p.openFunded()
    const a = stateOf(p.a)
    expect(a._tag).toBe("WaitFundingSigned")
    expect(paramsOf(a)).toBeDefined()
    expect(restoredWatches(a)).toEqual([])
  })

  it("negotiating the close, then closing: the funding output at depth 0 (its spend ends the channel)", () => {
    const p = newPair("pend-bk-close-a", "pend-bk-close-b")
    p.open()
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    for (let i = 0; i < 30 && p.a.phase !== "Negotiating"; i++) {
      const node = p.a.inbox.length > 0 ? p.a : p.b.inbox.length > 0 ? p.b : undefined
      if (node === undefined) break
      p.deliver(node)
      p.signNow(node)
    }
    const negotiating = stateOf(p.a)
    expect(negotiating._tag).toBe("Negotiating")
    expect(pendingEvents(negotiating)).toEqual([])
    expect(restoredWatches(negotiating)).toEqual([expectedFundingWatch(negotiating, 0)])
    p.settle()
    const closing = stateOf(p.a)
    expect(closing._tag).toBe("Closing")
    expect(pendingEvents(closing)).toEqual([])
    expect(restoredWatches(closing)).toEqual([expectedFundingWatch(closing, 0)])
  })
})
