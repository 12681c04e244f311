/**
 * Disconnection and `channel_reestablish` (BOLT 2 "Message Retransmission"), driven end to end:
 * a disconnection at every point of the commitment dance, after which both sides converge with
 * nothing lost or duplicated; `channel_ready` retransmission; `option_data_loss_protect` both
 * ways; lies in `channel_reestablish`.
 */
import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { ChannelStateSchema } from "../../../src/protocol/channel/state.ts"
import type { ChannelMessage } from "../../../src/protocol/messages/channel.ts"
import { alias, balances, negotiateClose, newPair, preimageFor, txidOf, type Pair } from "./step-harness.ts"

/** One step of the dance: deliver the next message (alice's inbox first) and let the receiver sign; or sign when quiet. */
const tick = (p: Pair): boolean => {
  const node = p.a.inbox.length > 0 ? p.a : p.b.inbox.length > 0 ? p.b : undefined
  if (node !== undefined) {
    p.deliver(node)
    p.signNow(node)
    return true
  }
  const before = p.log.length
  p.signNow(p.a)
  p.signNow(p.b)
  return p.log.length > before
}

const countTicks = (setup: () => Pair): number => {
  const p = setup()
  let n = 0
  while (tick(p)) n++
  return n
}

const expectConverged = (p: Pair): void => {
  expect(p.a.phase).toBe("Normal")
  expect(p.b.phase).toBe("Normal")
  const sa = p.a.state
  const sb = p.b.state
  if (sa?._tag !== "Normal" || sb?._tag !== "Normal") throw new Error("not normal")
  const ca = sa.commitments
  const cb = sb.commitments
  expect(ca.localCommit.number).toBe(cb.remoteCommit.number)
  expect(cb.localCommit.number).toBe(ca.remoteCommit.number)
  expect(ca.localCommit.spec).toEqual({ ...cb.remoteCommit.spec, htlcs: ca.localCommit.spec.htlcs })
  expect(ca.localCommit.spec.htlcs.length).toBe(cb.remoteCommit.spec.htlcs.length)
  expect(ca.localChanges).toEqual({ proposed: [], signed: [], acked: [] })
  expect(cb.localChanges).toEqual({ proposed: [], signed: [], acked: [] })
  expect(p.a.monitor?.holderCommitment.commitmentNumber).toBe(ca.localCommit.number)
  expect(p.b.monitor?.holderCommitment.commitmentNumber).toBe(cb.localCommit.number)
  expect(p.a.rejected).toEqual([])
  expect(p.b.rejected).toEqual([])
}

const opened = (): Pair => {
  const p = newPair()
  p.open()
  return p
}

describe("reestablish: a disconnection at every point of the commitment dance", () => {
  const addSetup = (): Pair => {
    const p = opened()
    p.add(p.a, 10_000_000n, "r")
    return p
  }
  const addTicks = countTicks(addSetup)

  it(`the dance has steps to cut (${addTicks})`, () => expect(addTicks).toBeGreaterThan(3))

  for (let k = 0; k <= addTicks; k++)
    it(`add alice -> bob, cut after ${k} steps, then fulfill`, () => {
      const p = addSetup()
      for (let i = 0; i < k; i++) tick(p)
      p.disconnect()
      p.reconnect()
      p.settle()
      expectConverged(p)
      expect(p.a.eventsOf("HtlcAdded")).toHaveLength(1)
      expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
      expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("r") })).toBeUndefined()
      p.settle()
      expectConverged(p)
      expect(p.a.eventsOf("HtlcResolved").map((e) => e.result._tag)).toEqual(["Fulfilled"])
      expect(balances(p.a)).toEqual([790_000_000n, 210_000_000n])
    })

  const bothSetup = (): Pair => {
    const p = opened()
    p.add(p.a, 3_000_000n, "ab")
    p.add(p.b, 4_000_000n, "ba")
    p.signNow(p.a)
    p.signNow(p.b)
    return p
  }
  const bothTicks = countTicks(bothSetup)
  for (let k = 0; k <= bothTicks; k++)
    it(`crossed adds and commitments both ways, cut after ${k} steps`, () => {
      const p = bothSetup()
      for (let i = 0; i < k; i++) tick(p)
      p.disconnect()
      p.reconnect()
      p.settle()
      expectConverged(p)
      expect(p.a.eventsOf("HtlcReceived")).toHaveLength(1)
      expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
      const sa = p.a.state
      if (sa?._tag !== "Normal") throw new Error("not normal")
      expect(sa.commitments.localCommit.spec.htlcs).toHaveLength(2)
    })

  const fulfillSetup = (): Pair => {
    const p = opened()
    p.add(p.a, 10_000_000n, "f")
    p.settle()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("f") })).toBeUndefined()
    return p
  }
  const fulfillTicks = countTicks(fulfillSetup)
  for (let k = 0; k <= fulfillTicks; k++)
    it(`fulfill bob -> alice, cut after ${k} steps: the preimage is reported once`, () => {
      const p = fulfillSetup()
      for (let i = 0; i < k; i++) tick(p)
      p.disconnect()
      p.reconnect()
      p.settle()
      expectConverged(p)
      expect(p.a.eventsOf("HtlcResolved").map((e) => e.result._tag)).toEqual(["Fulfilled"])
      expect(p.a.updates.filter((u) => u._tag === "PaymentPreimage")).toHaveLength(1)
      expect(balances(p.a)).toEqual([790_000_000n, 210_000_000n])
      const sa = p.a.state
      if (sa?._tag !== "Normal") throw new Error("not normal")
      expect(sa.commitments.localCommit.spec.htlcs).toHaveLength(0)
    })

  it("revoke_and_ack and commitment_signed are retransmitted in their original relative order", () => {
    const sentByAliceAfterReconnect = (k: number): ReadonlyArray<string> => {
      const p = bothSetup()
      for (let i = 0; i < k; i++) tick(p)
      p.disconnect()
      const mark = p.log.length
      p.reconnect()
      p.deliver(p.a) // bob's channel_reestablish: alice retransmits
      return p.log.slice(mark).filter((l) => l.from === "alice").map((l) => l.message._tag)
    }
    // Alice signed first, then revoked Bob's commitment: commit before revoke.
    expect(sentByAliceAfterReconnect(2)).toEqual(["ChannelReestablish", "UpdateAddHtlc", "CommitmentSigned", "RevokeAndAck"])
    // Alice revoked, then signed her next commitment: revoke before commit.
    expect(sentByAliceAfterReconnect(5)).toEqual(["ChannelReestablish", "RevokeAndAck", "CommitmentSigned"])
  })

  const feeSetup = (): Pair => {
    const p = opened()
    p.add(p.a, 2_000_000n, "fee-a")
    expect(p.input(p.a, { _tag: "UpdateFee", feeratePerKw: 3000 })).toBeUndefined()
    p.add(p.b, 1_000_000n, "fee-b")
    p.signNow(p.a)
    return p
  }
  const feeTicks = countTicks(feeSetup)
  for (let k = 0; k <= feeTicks; k++)
    it(`update_fee with HTLCs both ways, cut after ${k} steps`, () => {
      const p = feeSetup()
      for (let i = 0; i < k; i++) tick(p)
      p.disconnect()
      p.reconnect()
      p.settle()
      expectConverged(p)
      const sa = p.a.state
      const sb = p.b.state
      if (sa?._tag !== "Normal" || sb?._tag !== "Normal") throw new Error("not normal")
      expect(sa.commitments.localCommit.spec.feeratePerKw).toBe(3000)
      expect(sb.commitments.localCommit.spec.feeratePerKw).toBe(3000)
      expect(p.a.eventsOf("HtlcReceived")).toHaveLength(1)
      expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
    })

  it("without the revealed secret kept, the signer re-releases it for the retransmitted revoke_and_ack", () => {
    const p = bothSetup()
    for (let i = 0; i < 5; i++) tick(p)
    p.disconnect()
    const sa = p.a.state
    if (sa?._tag !== "Normal") throw new Error("not normal")
    p.a.state = { ...sa, revealedSecrets: [] }
    const mark = p.log.length
    p.reconnect()
    p.settle()
    expectConverged(p)
    expect(p.log.slice(mark).filter((l) => l.from === "alice").map((l) => l.message._tag).slice(0, 3)).toEqual([
      "ChannelReestablish",
      "RevokeAndAck",
      "CommitmentSigned"
    ])
  })

  it("a node restarted without seeing the disconnection forgets the peer's uncommitted updates", () => {
    const p = opened()
    p.add(p.b, 1_000_000n, "restart")
    p.deliver(p.a) // alice holds bob's add, uncommitted
    // The link drops; alice restarts from her stored state (no PeerDisconnected for her).
    p.connected = false
    p.a.inbox = []
    p.b.inbox = []
    p.input(p.b, { _tag: "PeerDisconnected" })
    p.reconnect()
    p.settle()
    expectConverged(p)
    expect(p.a.eventsOf("HtlcReceived")).toHaveLength(1)
  })

  it("several disconnections in a row change nothing", () => {
    const p = addSetup()
    tick(p)
    tick(p)
    for (let i = 0; i < 3; i++) {
      p.disconnect()
      p.reconnect()
    }
    p.settle()
    expectConverged(p)
    expect(p.b.eventsOf("HtlcReceived")).toHaveLength(1)
  })
})

describe("reestablish: closing", () => {
  it("a lost shutdown is retransmitted; the close completes", () => {
    const p = opened()
    p.add(p.a, 10_000_000n, "s")
    p.settle()
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    expect(p.b.inbox.map((m) => m._tag)).toEqual(["Shutdown"])
    p.disconnect()
    p.reconnect()
    p.settle()
    expect(p.log.filter((l) => l.message._tag === "Shutdown").map((l) => l.from)).toEqual(["alice", "alice", "bob"])
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("s") })).toBeUndefined()
    p.settle()
    expect(p.a.phase).toBe("Closing")
    expect(p.b.phase).toBe("Closing")
  })

  it("a closing negotiation cut in the middle restarts and completes", () => {
    const p = opened()
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    for (let i = 0; i < 20 && !p.b.inbox.some((m) => m._tag === "ClosingSigned"); i++) tick(p)
    expect(p.b.inbox.map((m) => m._tag)).toEqual(["ClosingSigned"])
    expect(p.a.phase).toBe("Negotiating")
    p.disconnect()
    p.reconnect()
    p.settle()
    expect(p.a.phase).toBe("Closing")
    expect(p.b.phase).toBe("Closing")
    const ta = p.a.broadcasts.filter((b) => b.label === "mutual-close").map((b) => txidOf(b.tx))
    const tb = p.b.broadcasts.filter((b) => b.label === "mutual-close").map((b) => txidOf(b.tx))
    expect(ta).toEqual(tb)
  })
})

describe("reestablish: closing (regressions)", () => {
  it("the agreeing side's closing_signed lost: it is retransmitted after channel_reestablish", () => {
    const p = opened()
    expect(p.input(p.b, { _tag: "Close", scriptPubKey: p.b.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    // Until Bob agreed (Closing) while his closing_signed is still in flight to Alice.
    for (let i = 0; i < 30 && p.b.phase !== "Closing"; i++) tick(p)
    expect(p.b.phase).toBe("Closing")
    expect(p.a.phase).toBe("Negotiating")
    expect(p.a.inbox.map((m) => m._tag)).toEqual(["ClosingSigned"])
    p.disconnect()
    p.reconnect()
    p.settle()
    expect(p.a.phase).toBe("Closing")
    const ta = p.a.broadcasts.filter((b) => b.label === "mutual-close").map((b) => txidOf(b.tx))
    const tb = p.b.broadcasts.filter((b) => b.label === "mutual-close").map((b) => txidOf(b.tx))
    expect(ta).toEqual(tb)
  })
})

describe("reestablish: opening", () => {
  it("disconnection before the funding is signed forgets the channel", () => {
    const s = newPair("kate", "liam")
    // Disconnect when the funder is asked for its funding transaction.
    s.fund = () => s.disconnect()
    s.openFunded({})
    expect(s.a.phase).toBe("Closed")
    expect(s.b.phase).toBe("Closed")
    expect(s.a.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("FundingAborted")
    expect(s.b.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("FundingAborted")
    expect(s.a.monitor).toBeUndefined()
  })

  it("a lost channel_ready is retransmitted", () => {
    const p = newPair()
    p.openFunded({})
    p.settle()
    p.input(p.a, { _tag: "FundingDepth", depth: 3 })
    expect(p.b.inbox.map((m) => m._tag)).toEqual(["ChannelReady"])
    p.disconnect() // lost
    p.input(p.b, { _tag: "FundingDepth", depth: 3 }) // bob reaches the depth while disconnected
    p.reconnect()
    p.settle()
    expect(p.a.phase).toBe("Normal")
    expect(p.b.phase).toBe("Normal")
    expect(p.a.rejected).toEqual([])
  })

  it("channel_ready is retransmitted when no commitment moved yet, also in Normal", () => {
    const p = opened()
    p.disconnect()
    p.reconnect()
    p.settle()
    const sent = p.log.slice(-4).map((l) => l.message._tag)
    expect(sent.filter((t) => t === "ChannelReady")).toHaveLength(2)
    expectConverged(p)
  })
})

describe("reestablish: channel_ready while closing (BOLT 2: both next_commitment_number 1 -> MUST retransmit channel_ready)", () => {
  /** Alice's messages after Bob's channel_reestablish reaches her, on a reconnection in her current phase. */
  const afterReconnect = (p: Pair): Array<ChannelMessage> => {
    p.disconnect()
    p.reconnect()
    const from = p.log.length
    expect(p.a.inbox[0]?._tag).toBe("ChannelReestablish")
    p.deliver(p.a)
    return p.log.slice(from).filter((l) => l.from === p.a.name).map((l) => l.message)
  }
  const readyOf = (m: ChannelMessage | undefined) => {
    if (m?._tag !== "ChannelReady") throw new Error(`expected channel_ready, got ${m?._tag}`)
    return m
  }

  it("in Negotiating: channel_ready (point 1, our alias) first, then our shutdown", () => {
    const p = opened()
    negotiateClose(p)
    expect(p.a.phase).toBe("Negotiating")
    const sent = afterReconnect(p)
    expect(sent.map((m) => m._tag).slice(0, 2)).toEqual(["ChannelReady", "Shutdown"])
    expect(readyOf(sent[0]).secondPerCommitmentPoint).toEqual(p.a.point(1n))
    expect(readyOf(sent[0]).tlvs.shortChannelId).toBe(alias(p.a.name))
    // The negotiation restarted from the reestablish keeps the alias for the next reconnection.
    const restarted = p.a.state
    expect(restarted?._tag === "Negotiating" ? restarted.localAlias : undefined).toBe(alias(p.a.name))
    // The peer ignores the redundant one (BOLT 2 MUST) and the close completes.
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
    expect(p.a.rejected).toEqual([])
    expect(p.b.rejected).toEqual([])
  })

  it("in Closing: channel_ready first, then our shutdown and closing_signed", () => {
    const p = opened()
    negotiateClose(p)
    p.settle()
    expect(p.a.phase).toBe("Closing")
    const sent = afterReconnect(p)
    expect(sent.map((m) => m._tag)).toEqual(["ChannelReady", "Shutdown", "ClosingSigned"])
    expect(readyOf(sent[0]).tlvs.shortChannelId).toBe(alias(p.a.name))
  })

  it("not once a commitment moved (MUST NOT retransmit)", () => {
    const p = opened()
    p.add(p.a, 1_000_000n, "moved")
    p.settle()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("moved") })).toBeUndefined()
    p.settle()
    negotiateClose(p)
    expect(p.a.phase).toBe("Negotiating")
    expect(afterReconnect(p).map((m) => m._tag)).not.toContain("ChannelReady")
  })

  it("the alias round-trips in the Negotiating and Closing records; a record from before it decodes, and for an option_scid_alias channel no channel_ready without its alias goes out", () => {
    const p = newPair()
    p.open({ channelType: { name: "static_remote_key", scidAlias: true, zeroConf: false } })
    negotiateClose(p)
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error(`not Negotiating: ${s?._tag}`)
    expect(s.localAlias).toBe(alias(p.a.name))
    const json = Schema.encodeSync(ChannelStateSchema)(s)
    expect(Schema.decodeUnknownSync(ChannelStateSchema)(json)).toEqual(s)
    // A record written before Negotiating kept the alias.
    const { localAlias: _dropped, ...old } = json as { readonly localAlias?: unknown }
    const decoded = Schema.decodeUnknownSync(ChannelStateSchema)(old)
    expect(decoded._tag === "Negotiating" ? decoded.localAlias : "other").toBeUndefined()
    p.a.state = decoded
    expect(afterReconnect(p).map((m) => m._tag)).toEqual(["Shutdown", "ClosingSigned"])
    p.settle()
    expect(p.a.phase).toBe("Closing")
    const closing = p.a.state
    if (closing?._tag !== "Closing") throw new Error("not Closing")
    expect(Schema.decodeUnknownSync(ChannelStateSchema)(Schema.encodeSync(ChannelStateSchema)(closing))).toEqual(closing)
  })
})

describe("reestablish: option_data_loss_protect", () => {
  for (const rounds of [1, 2, 3])
    it(`a node restored from a state ${rounds} round trip(s) old learns it is behind: it never force-closes, the peer does`, () => {
      const p = opened()
      // Bob's backup, taken now.
      const backup = p.b.state
      const backupMonitor = p.b.monitor
      // The channel moves on: two HTLC round trips.
      for (const label of ["d1", "d2", "d3"].slice(0, rounds)) {
        p.add(p.a, 1_000_000n, label)
        p.settle()
      }
      p.disconnect()
      // Bob restarts from the backup.
      p.b.state = backup
      p.b.monitor = backupMonitor
      const bobUpdates = p.b.updates.length
      p.reconnect()
      p.settle()
      // Alice sees Bob behind: she fails the channel (her commitment is the latest, safe to broadcast).
      expect(p.a.phase).toBe("Failed")
      expect(p.a.updates.at(-1)?._tag).toBe("ForceClose")
      // Bob sees the proof (Alice's your_last_per_commitment_secret is his): he must not broadcast.
      expect(p.b.phase).toBe("WaitRemoteClose")
      expect(p.b.updates.length).toBe(bobUpdates)
      expect(p.b.errorsSent).toHaveLength(1)
      expect(p.b.eventsOf("ChannelClosed")).toHaveLength(0)
      // A ForceClose command is refused: it would broadcast a revoked commitment.
      expect(p.input(p.b, { _tag: "ForceClose", reason: "x" })?._tag).toBe("UnexpectedInput")
      // Alice's commitment confirms: Bob's channel is closed.
      expect(p.input(p.b, { _tag: "FundingSpent", txid: new Uint8Array(32).fill(3) })).toBeUndefined()
      expect(p.b.phase).toBe("Closed")
      expect(p.b.eventsOf("ChannelClosed")[0]?.reason._tag).toBe("RemoteForceClose")
    })

  it("a wrong your_last_per_commitment_secret fails the channel", () => {
    const p = opened()
    p.add(p.a, 1_000_000n, "w")
    p.settle()
    p.disconnect()
    p.reconnect()
    const m = p.b.inbox[0]
    if (m?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    p.b.inbox[0] = { ...m, yourLastPerCommitmentSecret: new Uint8Array(32).fill(5) }
    p.deliver(p.b)
    expect(p.b.phase).toBe("Failed")
    expect(p.b.errorsSent[0]).toContain("your_last_per_commitment_secret")
  })

  it("a claim of a revocation we never made, without proof, fails the channel", () => {
    const p = opened()
    p.disconnect()
    p.reconnect()
    const m = p.b.inbox[0]
    if (m?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    p.b.inbox[0] = { ...m, nextRevocationNumber: 5n, yourLastPerCommitmentSecret: new Uint8Array(32).fill(5) }
    p.deliver(p.b)
    expect(p.b.phase).toBe("Failed")
  })

  it("next_commitment_number 0 fails the channel", () => {
    const p = opened()
    p.disconnect()
    p.reconnect()
    const m = p.b.inbox[0]
    if (m?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    p.b.inbox[0] = { ...m, nextCommitmentNumber: 0n }
    p.deliver(p.b)
    expect(p.b.phase).toBe("Failed")
  })
})

describe("reestablish: state", () => {
  it("every state on the way round-trips through its Schema", () => {
    const p = opened()
    p.add(p.a, 1_000_000n, "j")
    tick(p)
    tick(p)
    p.disconnect()
    for (const n of [p.a, p.b]) {
      const json = JSON.stringify(Schema.encodeSync(ChannelStateSchema)(n.state ?? p.a.state!))
      expect(Schema.encodeSync(ChannelStateSchema)(Schema.decodeUnknownSync(ChannelStateSchema)(JSON.parse(json)))).toEqual(JSON.parse(json))
    }
  })
})
