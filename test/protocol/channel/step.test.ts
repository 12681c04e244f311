/**
 * The channel reducer driven end to end: two nodes, real signers, monitors fed by the Persist
 * outputs (see step-harness.ts, which also checks at every Send that the monitor is not behind).
 */
import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { ChannelStateSchema } from "../../../src/protocol/channel/state.ts"
import { UpdateAddHtlc } from "../../../src/protocol/messages/channel.ts"
import type { FeatureName } from "../../../src/protocol/features.ts"
import { msat } from "../../../src/protocol/units.ts"
import { balances, baseFeatures, equalBytes, newPair, preimageFor, txidOf, type Node, type Pair } from "./step-harness.ts"

const openNormal = (opts: Parameters<Pair["open"]>[0] = {}, names: readonly [string, string] = ["alice", "bob"]): Pair => {
  const p = newPair(names[0], names[1])
  p.open(opts)
  return p
}

const json = (n: Node): string => JSON.stringify(n.state === undefined ? null : Schema.encodeSync(ChannelStateSchema)(n.state))

/** Both ends agree on both commitments. */
const expectInSync = (p: Pair): void => {
  const sa = p.a.state
  const sb = p.b.state
  if (sa === undefined || sb === undefined || !("commitments" in sa) || !("commitments" in sb)) throw new Error("no commitments")
  const ca = sa.commitments
  const cb = sb.commitments
  expect(ca.localCommit.number).toBe(cb.remoteCommit.number)
  expect(ca.remoteCommit.number).toBe(cb.localCommit.number)
  expect(ca.localCommit.spec.toLocal).toBe(cb.remoteCommit.spec.toLocal)
  expect(ca.localCommit.spec.toRemote).toBe(cb.remoteCommit.spec.toRemote)
  expect(ca.localCommit.spec.htlcs.length).toBe(cb.remoteCommit.spec.htlcs.length)
  expect(ca.remoteCommit.spec.htlcs.length).toBe(cb.localCommit.spec.htlcs.length)
  // Balances conserved: both sides' balances plus HTLCs make the capacity minus nothing (fees are inside).
  const total = (s: typeof ca.localCommit.spec) => s.toLocal + s.toRemote + s.htlcs.reduce((x, h) => x + h.amount, 0n)
  expect(total(ca.localCommit.spec)).toBe(ca.params.fundingAmount * 1000n)
  expect(total(cb.localCommit.spec)).toBe(cb.params.fundingAmount * 1000n)
  // The monitors hold the current commitments.
  expect(p.a.monitor?.holderCommitment.commitmentNumber).toBe(ca.localCommit.number)
  expect(p.b.monitor?.holderCommitment.commitmentNumber).toBe(cb.localCommit.number)
}

describe("step: opening", () => {
  for (const [label, names] of [
    ["alice funds", ["alice", "bob"]],
    ["bob funds", ["bob", "alice"]]
  ] as const)
    for (const type of ["static_remote_key", "anchors_zero_fee_htlc_tx"] as const)
      it(`${label}, ${type}: both reach Normal, funding broadcast after Opened`, () => {
        const p = openNormal({ channelType: { name: type, scidAlias: false, zeroConf: false } }, names)
        expect(p.a.phase).toBe("Normal")
        expect(p.b.phase).toBe("Normal")
        expect(p.a.broadcasts.map((b) => b.label)).toEqual(["funding"])
        expect(p.b.broadcasts).toEqual([])
        expect(p.a.updates.map((u) => u._tag)).toEqual(["Opened"])
        expect(p.b.updates.map((u) => u._tag)).toEqual(["Opened"])
        expect(p.a.eventsOf("ChannelPending")).toHaveLength(1)
        expect(p.a.eventsOf("ChannelReady")).toHaveLength(1)
        expect(p.b.eventsOf("ChannelReady")).toHaveLength(1)
        expect(balances(p.a)).toEqual([800_000_000n, 200_000_000n])
        expect(balances(p.b)).toEqual([200_000_000n, 800_000_000n])
        expectInSync(p)
        // The message order of a v1 open.
        expect(p.log.map((l) => `${l.from}:${l.message._tag}`)).toEqual([
          `${names[0]}:OpenChannel`,
          `${names[1]}:AcceptChannel`,
          `${names[0]}:FundingCreated`,
          `${names[1]}:FundingSigned`,
          `${names[0]}:ChannelReady`,
          `${names[1]}:ChannelReady`
        ])
      })

  it("channel_ready waits for minimum_depth", () => {
    const p = newPair()
    p.openFunded({ minimumDepth: 6 })
    p.settle()
    expect(p.a.phase).toBe("WaitChannelReady")
    p.confirm(5)
    p.settle()
    expect(p.log.filter((l) => l.message._tag === "ChannelReady")).toHaveLength(0)
    p.input(p.a, { _tag: "FundingDepth", depth: 6 })
    p.settle()
    // Alice sent hers; Bob has not reached the depth yet: neither is Normal.
    expect(p.log.filter((l) => l.message._tag === "ChannelReady").map((l) => l.from)).toEqual(["alice"])
    expect(p.a.phase).toBe("WaitChannelReady")
    expect(p.b.phase).toBe("WaitChannelReady")
    p.input(p.b, { _tag: "FundingDepth", depth: 6 })
    p.settle()
    expect(p.a.phase).toBe("Normal")
    expect(p.b.phase).toBe("Normal")
  })

  it("an update before channel_ready fails the channel", () => {
    const p = newPair()
    p.openFunded({})
    const s = p.b.state
    if (s?._tag !== "WaitChannelReady") throw new Error(`unexpected ${p.b.phase}`)
    p.b.inbox.push(
      UpdateAddHtlc.make({
        channelId: s.params.channelId,
        id: 0n,
        amountMsat: msat(1_000_000n),
        paymentHash: new Uint8Array(32),
        cltvExpiry: 800_000,
        onionRoutingPacket: new Uint8Array(1366)
      })
    )
    p.deliver(p.b)
    expect(p.b.phase).toBe("Failed")
    expect(p.b.updates.map((u) => u._tag)).toEqual(["Opened", "ForceClose"])
  })

  it("zero-conf with scid aliases: channel_ready at once, with the alias", () => {
    const p = newPair()
    p.open({ channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: true, zeroConf: true }, minimumDepth: 0 })
    expect(p.a.phase).toBe("Normal")
    expect(p.b.phase).toBe("Normal")
    const readies = p.log.filter((l) => l.message._tag === "ChannelReady")
    expect(readies).toHaveLength(2)
    for (const r of readies) if (r.message._tag === "ChannelReady") expect(r.message.tlvs.shortChannelId).toBeDefined()
    const ev = p.a.eventsOf("ChannelReady")[0]
    expect(ev?.alias).toBeDefined()
  })

  it("an invalid funding_signed fails the open: no broadcast, no monitor", () => {
    const q = newPair("erin", "frank")
    // Tamper: let frank's funding_signed carry a wrong signature.
    const origDeliver = q.deliver.bind(q)
    q.deliver = (to: Node) => {
      const m = to.inbox[0]
      if (m !== undefined && m._tag === "FundingSigned") to.inbox[0] = { ...m, signature: new Uint8Array(64).fill(1) }
      return origDeliver(to)
    }
    try {
      q.open({})
    } catch {
      // the open stops at the bad funding_signed
    }
    expect(q.a.phase).toBe("Closed")
    expect(q.a.broadcasts).toEqual([])
    expect(q.a.monitor).toBeUndefined()
    expect(q.a.errorsSent).toHaveLength(1)
    expect(q.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("FundingAborted")
  })
})

describe("step: HTLCs", () => {
  for (const type of ["static_remote_key", "anchors_zero_fee_htlc_tx"] as const)
    it(`add and fulfill, alice -> bob (${type}): HtlcReceived once committed, preimage stored then reported`, () => {
      const p = openNormal({ channelType: { name: type, scidAlias: false, zeroConf: false } })
      p.add(p.a, 10_000_000n, "x")
      expect(p.a.eventsOf("HtlcAdded")).toHaveLength(1)
      p.settle()
      expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
      expectInSync(p)
      expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("x") })).toBeUndefined()
      p.settle()
      const resolved = p.a.eventsOf("HtlcResolved")
      expect(resolved.map((r) => r.result._tag)).toEqual(["Fulfilled"])
      expect(p.a.updates.some((u) => u._tag === "PaymentPreimage")).toBe(true)
      expect(p.b.updates.some((u) => u._tag === "PaymentPreimage")).toBe(true)
      expect(balances(p.a)).toEqual([790_000_000n, 210_000_000n])
      expect(balances(p.b)).toEqual([210_000_000n, 790_000_000n])
      expectInSync(p)
    })

  it("HTLCs both ways in one batch, one fulfilled, one failed", () => {
    const p = openNormal()
    p.add(p.a, 5_000_000n, "a1")
    p.add(p.b, 7_000_000n, "b1")
    p.settle()
    expect(p.a.eventsOf("HtlcReceived").map((e) => e.amount)).toEqual([7_000_000n])
    expect(p.b.eventsOf("HtlcReceived").map((e) => e.amount)).toEqual([5_000_000n])
    expect(p.input(p.a, { _tag: "FailHtlc", htlcId: 0n, reason: new Uint8Array([1, 2, 3]) })).toBeUndefined()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("a1") })).toBeUndefined()
    p.settle()
    expect(p.a.eventsOf("HtlcResolved").map((e) => e.result._tag)).toEqual(["Fulfilled"])
    expect(p.b.eventsOf("HtlcResolved").map((e) => e.result._tag)).toEqual(["Failed"])
    expect(balances(p.a)).toEqual([795_000_000n, 205_000_000n])
    expectInSync(p)
  })

  it("fail_malformed is reported as Malformed", () => {
    const p = openNormal()
    p.add(p.a, 5_000_000n, "m")
    p.settle()
    expect(p.input(p.b, { _tag: "FailMalformedHtlc", htlcId: 0n, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 })).toBeUndefined()
    p.settle()
    expect(p.a.eventsOf("HtlcResolved").map((e) => e.result._tag)).toEqual(["Malformed"])
  })

  it("an HTLC over our dust exposure limit is flagged when received", () => {
    const p = openNormal()
    p.b.ctx = { ...p.b.ctx, maxDustHtlcExposure: msat(50_000n) }
    p.add(p.a, 100_000n, "dust") // 100 sat: below the dust limit, trimmed
    p.settle()
    expect(p.b.eventsOf("HtlcReceived").map((e) => e.dustExposureExceeded)).toEqual([true])
    p.add(p.a, 5_000_000n, "fine")
    p.settle()
    expect(p.b.eventsOf("HtlcReceived").map((e) => e.dustExposureExceeded)).toEqual([true, undefined])
  })

  it("batches many updates in one commitment_signed", () => {
    const p = openNormal()
    for (let i = 0; i < 5; i++) p.add(p.a, 1_000_000n + BigInt(i), `batch${i}`)
    const before = p.log.length
    p.signNow(p.a)
    const sent = p.log.slice(before).map((l) => l.message._tag)
    expect(sent).toEqual(["CommitmentSigned"])
    p.settle()
    expect(p.b.eventsOf("HtlcReceived")).toHaveLength(5)
    expectInSync(p)
  })

  it("an AddHtlc the channel cannot afford is rejected as an event, state unchanged", () => {
    const p = openNormal()
    const before = json(p.b)
    expect(p.input(p.b, { _tag: "AddHtlc", requestId: "big", amount: msat(300_000_000n), paymentHash: new Uint8Array(32), cltvExpiry: 800_000, onion: new Uint8Array(1366) })).toBeUndefined()
    expect(p.b.eventsOf("HtlcRejected").map((e) => e.requestId)).toEqual(["big"])
    expect(json(p.b)).toBe(before)
    expect(p.b.inbox.length + p.a.inbox.length).toBe(0)
  })

  it("our bad command is a typed error and changes nothing", () => {
    const p = openNormal()
    const before = json(p.a)
    const e = p.input(p.a, { _tag: "FulfillHtlc", htlcId: 7n, preimage: new Uint8Array(32) })
    expect(e?._tag).toBe("UnknownHtlcId")
    expect(json(p.a)).toBe(before)
  })
})

describe("step: update_fee", () => {
  it("the funder updates the feerate; both commitments move", () => {
    const p = openNormal()
    expect(p.input(p.a, { _tag: "UpdateFee", feeratePerKw: 3000 })).toBeUndefined()
    p.settle()
    const sa = p.a.state
    const sb = p.b.state
    if (sa?._tag !== "Normal" || sb?._tag !== "Normal") throw new Error("not normal")
    expect(sa.commitments.localCommit.spec.feeratePerKw).toBe(3000)
    expect(sb.commitments.localCommit.spec.feeratePerKw).toBe(3000)
    expectInSync(p)
  })

  it("the non-funder may not", () => {
    const p = openNormal()
    const before = json(p.b)
    expect(p.input(p.b, { _tag: "UpdateFee", feeratePerKw: 3000 })?._tag).toBe("UpdateFeeFromNonFunder")
    expect(json(p.b)).toBe(before)
  })

  it("a non-funder's update_fee received fails the channel", () => {
    const p = openNormal()
    const sb = p.b.state
    if (sb?._tag !== "Normal") throw new Error("not normal")
    p.b.inbox.push(...[]) // nothing
    p.a.inbox.push({ _tag: "UpdateFee", channelId: sb.commitments.params.channelId, feeratePerKw: 3000, tlvs: {} })
    p.deliver(p.a)
    expect(p.a.phase).toBe("Failed")
    expect(p.a.errorsSent).toHaveLength(1)
    expect(p.a.updates.at(-1)?._tag).toBe("ForceClose")
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("ProtocolError")
  })
})

const closeScript = (n: Node): Uint8Array => n.ctx.shutdownScript

const closeWithPendingHtlc = (features: ReadonlySet<FeatureName>): Pair => {
  const p = openNormal({ features })
  p.add(p.a, 10_000_000n, "c")
  p.settle()
  expect(p.input(p.a, { _tag: "Close", scriptPubKey: closeScript(p.a), feeratePerKw: 2500 })).toBeUndefined()
  p.settle()
  // Both shutdowns exchanged, the HTLC still pending: no new HTLC either way.
  expect(p.a.phase).toBe("Normal")
  expect(p.log.filter((l) => l.message._tag === "Shutdown").map((l) => l.from)).toEqual(["alice", "bob"])
  expect(p.input(p.b, { _tag: "AddHtlc", requestId: "late", amount: msat(1_000_000n), paymentHash: new Uint8Array(32), cltvExpiry: 800_000, onion: new Uint8Array(1366) })).toBeUndefined()
  expect(p.b.eventsOf("HtlcRejected").map((e) => e.requestId)).toEqual(["late"])
  expect(p.a.eventsOf("ShutdownStarted")[0]?.initiator).toBe("local")
  expect(p.b.eventsOf("ShutdownStarted")[0]?.initiator).toBe("remote")
  // Draining: the fulfill still goes through, then the negotiation.
  expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("c") })).toBeUndefined()
  p.settle()
  return p
}

describe("step: close", () => {
  it("shutdown with a pending HTLC, then the legacy closing_signed negotiation", () => {
    const p = closeWithPendingHtlc(baseFeatures)
    expect(p.a.phase).toBe("Closing")
    expect(p.b.phase).toBe("Closing")
    expect(p.log.some((l) => l.message._tag === "ClosingSigned")).toBe(true)
    const ta = p.a.broadcasts.filter((b) => b.label === "mutual-close").map((b) => txidOf(b.tx))
    const tb = p.b.broadcasts.filter((b) => b.label === "mutual-close").map((b) => txidOf(b.tx))
    expect(ta).toHaveLength(1)
    expect(tb).toHaveLength(1)
    expect(equalBytes(ta[0] ?? new Uint8Array(), tb[0] ?? new Uint8Array())).toBe(true)
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("Cooperative")
    expect(p.a.eventsOf("HtlcResolved")).toHaveLength(1)
    // The close confirms.
    const txid = ta[0]
    if (txid === undefined) throw new Error("no close")
    expect(p.input(p.a, { _tag: "FundingSpent", txid })).toBeUndefined()
    expect(p.a.phase).toBe("Closed")
    expect(p.a.updates.at(-1)?._tag).toBe("ChannelClosed")
  })

  it("option_simple_close: both send closing_complete, both closing txs are valid and broadcast", () => {
    const features = new Set<FeatureName>([...baseFeatures, "option_simple_close"])
    const p = closeWithPendingHtlc(features)
    expect(p.a.phase).toBe("Closing")
    expect(p.b.phase).toBe("Closing")
    expect(p.log.filter((l) => l.message._tag === "ClosingComplete")).toHaveLength(2)
    expect(p.log.filter((l) => l.message._tag === "ClosingSig")).toHaveLength(2)
    expect(p.a.broadcasts.filter((b) => b.label === "mutual-close")).toHaveLength(2)
    expect(p.a.eventsOf("ChannelClosed")).toHaveLength(1)
  })

  for (const simple of [false, true]) {
    it(`the close confirms before the peer's last message reaches us: still cooperative (${simple ? "simple" : "legacy"})`, () => {
      const p = openNormal({ features: simple ? new Set<FeatureName>([...baseFeatures, "option_simple_close"]) : baseFeatures })
      expect(p.input(p.b, { _tag: "Close", scriptPubKey: closeScript(p.b), feeratePerKw: 2500 })).toBeUndefined()
      // Deliver one message at a time until one side broadcast a mutual close while the other still negotiates.
      let closer: typeof p.a | undefined
      for (let i = 0; i < 100 && closer === undefined; i++) {
        const next = p.a.inbox.length > 0 ? p.a : p.b
        if (next.inbox.length === 0) break
        p.deliver(next)
        for (const n of [p.a, p.b]) if (n.broadcasts.some((b) => b.label === "mutual-close") && p.other(n).phase === "Negotiating") closer = n
      }
      if (closer === undefined) throw new Error("no moment where one side broadcast and the other still negotiated")
      const waiting = p.other(closer)
      const tx = closer.broadcasts.find((b) => b.label === "mutual-close")?.tx
      if (tx === undefined) throw new Error("no mutual close")
      expect(p.input(waiting, { _tag: "FundingSpent", txid: txidOf(tx) })).toBeUndefined()
      expect(waiting.phase).toBe("Closed")
      expect(waiting.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("Cooperative")
      expect(waiting.updates.at(-1)?._tag).toBe("ChannelClosed")
    })
  }

  it("the peer initiates the close; the fundee pays nothing", () => {
    const p = openNormal()
    expect(p.input(p.b, { _tag: "Close", scriptPubKey: closeScript(p.b), feeratePerKw: 2500 })).toBeUndefined()
    p.settle()
    expect(p.a.phase).toBe("Closing")
    expect(p.b.phase).toBe("Closing")
  })
})

describe("step: failing", () => {
  it("a wrong HTLC id from the peer fails the channel", () => {
    const p = openNormal()
    const sb = p.b.state
    if (sb?._tag !== "Normal") throw new Error("not normal")
    p.b.inbox.push(
      UpdateAddHtlc.make({
        channelId: sb.commitments.params.channelId,
        id: 5n,
        amountMsat: msat(1_000_000n),
        paymentHash: new Uint8Array(32),
        cltvExpiry: 800_000,
        onionRoutingPacket: new Uint8Array(1366)
      })
    )
    p.deliver(p.b)
    expect(p.b.phase).toBe("Failed")
    expect(p.b.errorsSent[0]).toContain("UnexpectedHtlcId")
    expect(p.b.updates.at(-1)?._tag).toBe("ForceClose")
    expect(p.b.eventsOf("ChannelClosed")[0]?.reason).toEqual({ _tag: "ProtocolError", reason: p.b.errorsSent[0], sentByPeer: false })
  })

  it("a commitment_signed with a bad signature fails the channel", () => {
    const p = openNormal()
    p.add(p.a, 1_000_000n, "s")
    p.signNow(p.a)
    // b gets the add, then a forged commitment_signed.
    p.deliver(p.b)
    const cs = p.b.inbox[0]
    if (cs?._tag !== "CommitmentSigned") throw new Error("expected commitment_signed")
    p.b.inbox[0] = { ...cs, signature: new Uint8Array(64).fill(7) }
    p.deliver(p.b)
    expect(p.b.phase).toBe("Failed")
    expect(p.b.errorsSent[0]).toContain("InvalidCommitmentSignature")
  })

  it("an error from the peer fails the channel without answering", () => {
    const p = openNormal()
    expect(p.input(p.a, { _tag: "PeerError", message: "boom" })).toBeUndefined()
    expect(p.a.phase).toBe("Failed")
    expect(p.a.errorsSent).toEqual([])
    expect(p.a.updates.at(-1)?._tag).toBe("ForceClose")
  })

  it("ForceClose: the monitor is told, the error retransmitted on reconnection", () => {
    const p = openNormal()
    expect(p.input(p.a, { _tag: "ForceClose", reason: "operator" })).toBeUndefined()
    expect(p.a.phase).toBe("Failed")
    expect(p.a.updates.at(-1)).toMatchObject({ _tag: "ForceClose", reason: "operator" })
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("LocalForceClose")
    p.disconnect()
    p.input(p.a, { _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) })
    expect(p.a.errorsSent).toEqual(["operator", "operator"])
  })

  it("funding spent by another transaction: RemoteForceClose", () => {
    const p = openNormal()
    expect(p.input(p.a, { _tag: "FundingSpent", txid: new Uint8Array(32).fill(9) })).toBeUndefined()
    expect(p.a.phase).toBe("Closed")
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("RemoteForceClose")
  })

  it("funding spent by our own commitment: LocalForceClose", () => {
    const p = openNormal()
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not normal")
    expect(p.input(p.a, { _tag: "FundingSpent", txid: s.commitments.localCommit.txid })).toBeUndefined()
    expect(p.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("LocalForceClose")
  })
})
