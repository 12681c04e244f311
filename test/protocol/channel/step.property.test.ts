/**
 * Random sequences of HTLC adds, fulfills, fails, fee updates, partial deliveries and
 * disconnections between two reducers (fast-check): after every sequence, once the link
 * settles, both sides agree on both commitments, balances are conserved, every HTLC is
 * accounted for exactly once, and no channel failed.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { msat } from "../../../src/protocol/units.ts"
import { newPair, preimageFor, type Node, type Pair } from "./step-harness.ts"

type Command =
  | { readonly _tag: "Add"; readonly fromA: boolean; readonly amount: number }
  | { readonly _tag: "Settle"; readonly fromA: boolean; readonly fulfill: boolean; readonly pick: number }
  | { readonly _tag: "Fee"; readonly feerate: number }
  | { readonly _tag: "Deliver"; readonly n: number }
  | { readonly _tag: "Cut" }

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ _tag: fc.constant("Add" as const), fromA: fc.boolean(), amount: fc.integer({ min: 1_000, max: 20_000_000 }) }),
  fc.record({ _tag: fc.constant("Settle" as const), fromA: fc.boolean(), fulfill: fc.boolean(), pick: fc.nat() }),
  fc.record({ _tag: fc.constant("Fee" as const), feerate: fc.integer({ min: 1_500, max: 6_000 }) }),
  fc.record({ _tag: fc.constant("Deliver" as const), n: fc.integer({ min: 1, max: 6 }) }),
  fc.constant({ _tag: "Cut" as const })
)

/** Only the link: partial deliveries and disconnections. */
const linkCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ _tag: fc.constant("Deliver" as const), n: fc.integer({ min: 1, max: 6 }) }),
  fc.constant({ _tag: "Cut" as const })
)

/** A command's own rejection is allowed (e.g. a fulfill before the HTLC is committed); it is forgotten. */
const attempt = (p: Pair, node: Node, run: () => void): void => {
  const before = node.rejected.length
  run()
  node.rejected.splice(before)
}

const deliverOne = (p: Pair): void => {
  const node = p.a.inbox.length > 0 ? p.a : p.b.inbox.length > 0 ? p.b : undefined
  if (node === undefined) return
  p.deliver(node)
  p.signNow(node)
}

let labels = 0

const runCommand = (p: Pair, c: Command): void => {
  switch (c._tag) {
    case "Add": {
      const from = c.fromA ? p.a : p.b
      const label = `h${labels++}`
      attempt(p, from, () =>
        p.input(from, { _tag: "AddHtlc", requestId: label, amount: msat(BigInt(c.amount)), paymentHash: sha(label), cltvExpiry: 800_000, onion: new Uint8Array(1366) })
      )
      return
    }
    case "Settle": {
      const by = c.fromA ? p.a : p.b
      const open = by.eventsOf("HtlcReceived")
      if (open.length === 0) return
      const h = open[c.pick % open.length]
      if (h === undefined) return
      const label = labelOf(p.other(by), h.htlcId)
      attempt(p, by, () =>
        p.input(by, c.fulfill && label !== undefined ? { _tag: "FulfillHtlc", htlcId: h.htlcId, preimage: preimageFor(label) } : { _tag: "FailHtlc", htlcId: h.htlcId, reason: new Uint8Array([9]) })
      )
      return
    }
    case "Fee":
      attempt(p, p.a, () => p.input(p.a, { _tag: "UpdateFee", feeratePerKw: c.feerate }))
      return
    case "Deliver":
      for (let i = 0; i < c.n; i++) deliverOne(p)
      return
    case "Cut":
      p.disconnect()
      p.reconnect()
      return
  }
}

import { sha256 } from "@noble/hashes/sha2.js"
const sha = (label: string): Uint8Array => sha256(preimageFor(label))
const labelOf = (offerer: Node, htlcId: bigint): string | undefined => offerer.eventsOf("HtlcAdded").find((e) => e.htlcId === htlcId)?.requestId

describe("step: random sequences", () => {
  it("both ends converge, balances are conserved, HTLCs accounted once", () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 14 }), (commands) => {
        const p = newPair()
        p.open()
        for (const c of commands) runCommand(p, c)
        p.settle()
        expect(p.a.phase).toBe("Normal")
        expect(p.b.phase).toBe("Normal")
        expect(p.a.rejected).toEqual([])
        expect(p.b.rejected).toEqual([])
        const sa = p.a.state
        const sb = p.b.state
        if (sa?._tag !== "Normal" || sb?._tag !== "Normal") throw new Error("not normal")
        const ca = sa.commitments
        const cb = sb.commitments
        expect(ca.localCommit.number).toBe(cb.remoteCommit.number)
        expect(cb.localCommit.number).toBe(ca.remoteCommit.number)
        expect(ca.localCommit.spec.toLocal).toBe(cb.remoteCommit.spec.toLocal)
        expect(ca.localCommit.spec.toRemote).toBe(cb.remoteCommit.spec.toRemote)
        expect(ca.localCommit.spec.feeratePerKw).toBe(cb.remoteCommit.spec.feeratePerKw)
        const total = ca.localCommit.spec.toLocal + ca.localCommit.spec.toRemote + ca.localCommit.spec.htlcs.reduce((x, h) => x + h.amount, 0n)
        expect(total).toBe(1_000_000_000n)
        // Every HTLC added is received once by the peer; resolved at most once.
        for (const [from, to] of [
          [p.a, p.b],
          [p.b, p.a]
        ] as const) {
          const added = from.eventsOf("HtlcAdded").map((e) => e.htlcId)
          const received = to.eventsOf("HtlcReceived").map((e) => e.htlcId)
          expect(new Set(received).size).toBe(received.length)
          expect([...received].sort()).toEqual([...added].sort())
          const resolved = from.eventsOf("HtlcResolved").map((e) => e.htlcId)
          expect(new Set(resolved).size).toBe(resolved.length)
          // Pending ones are exactly those still in the commitment.
          const pending = (from === p.a ? ca : cb).localCommit.spec.htlcs.filter((h) => h.direction === "offered").map((h) => h.id)
          expect([...pending, ...resolved].sort()).toEqual([...added].sort())
        }
        expect(p.a.monitor?.holderCommitment.commitmentNumber).toBe(ca.localCommit.number)
        expect(p.b.monitor?.holderCommitment.commitmentNumber).toBe(cb.localCommit.number)
      }),
      { numRuns: 25, seed: 7 }
    )
  }, 120_000)

  for (const simple of [false, true])
    it(`after random traffic, a close with HTLCs pending drains and completes (${simple ? "simple" : "legacy"} close)`, () => {
      fc.assert(
        fc.property(fc.array(command, { minLength: 1, maxLength: 10 }), fc.boolean(), fc.array(linkCommand, { maxLength: 6 }), (commands, aCloses, during) => {
          const p = newPair()
          p.open(simple ? { features: new Set([...p.a.ctx.features, "option_simple_close" as const]) } : {})
          for (const c of commands) runCommand(p, c)
          const closer = aCloses ? p.a : p.b
          attempt(p, closer, () => p.input(closer, { _tag: "Close", scriptPubKey: closer.ctx.shutdownScript, feeratePerKw: 2500 }))
          for (const c of during) runCommand(p, c)
          p.settle()
          // Resolve whatever is still pending, both ways.
          for (const by of [p.a, p.b]) {
            for (const h of by.eventsOf("HtlcReceived")) {
              const label = labelOf(p.other(by), h.htlcId)
              attempt(p, by, () => p.input(by, label === undefined ? { _tag: "FailHtlc", htlcId: h.htlcId, reason: new Uint8Array([1]) } : { _tag: "FulfillHtlc", htlcId: h.htlcId, preimage: preimageFor(label) }))
            }
          }
          for (const c of during) runCommand(p, c)
          p.settle()
          expect(p.a.phase).toBe("Closing")
          expect(p.b.phase).toBe("Closing")
          expect(p.a.rejected).toEqual([])
          expect(p.b.rejected).toEqual([])
          expect(p.a.eventsOf("ChannelClosed").map((e) => e.reason._tag)).toEqual(["Cooperative"])
          expect(p.b.eventsOf("ChannelClosed").map((e) => e.reason._tag)).toEqual(["Cooperative"])
        }),
        { numRuns: 12, seed: 11 }
      )
    }, 120_000)
})
