/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/channel/reestablish.ts`)
 * reported without coverage in `reestablish.ts` (BOLT 2 "Message Retransmission"): the lies a
 * peer may tell in `channel_reestablish` while the channel waits for `channel_ready` or while we
 * await its `revoke_and_ack`, a `channel_reestablish` for another channel, the phases with
 * nothing to reestablish, and a disconnection while the signer's answer is awaited. Each
 * refusal's text is the data of the `error` we send (BOLT 1), so it says which number was wrong.
 */
import { describe, expect, it } from "vitest"
import type { ChannelOutput } from "../../../src/protocol/channel/io.ts"
import type { Negotiating } from "../../../src/protocol/channel/state.ts"
import { step } from "../../../src/protocol/channel/step.ts"
import { emptySecretStore } from "../../../src/protocol/keys/shachain.ts"
import type { ChannelMessage, ChannelReestablish } from "../../../src/protocol/messages/channel.ts"
import { ChannelId, msat } from "../../../src/protocol/units.ts"
import { alias, negotiateClose, newPair, restoreBobFromBackup, type Node, type Pair } from "./step-harness.ts"

/** The peer's `channel_reestablish` waiting in `to`'s inbox after a reconnection, changed by `edit`, then delivered. */
const deliverEdited = (p: Pair, to: Node, edit: (m: ChannelReestablish) => ChannelReestablish): void => {
  const m = to.inbox[0]
  if (m?._tag !== "ChannelReestablish") throw new Error(`expected channel_reestablish, got ${m?._tag}`)
  to.inbox[0] = edit(m)
  p.deliver(to)
}

describe("waiting for channel_ready: the peer's numbers must be those of a channel that never moved", () => {
  const waiting = (tag: string): Pair => {
    const p = newPair(`re-mut-${tag}-a`, `re-mut-${tag}-b`)
    p.openFunded()
    expect(p.b.phase).toBe("WaitChannelReady")
    p.disconnect()
    p.reconnect()
    return p
  }

  it("next_commitment_number 0 fails the channel (MUST), saying so", () => {
    const p = waiting("wr0")
    deliverEdited(p, p.b, (m) => ({ ...m, nextCommitmentNumber: 0n }))
    expect(p.b.phase).toBe("Failed")
    expect(p.b.errorsSent[0]).toContain("next_commitment_number 0")
  })

  it("a next_commitment_number or next_revocation_number ahead of the first commitment fails the channel", () => {
    const ahead = waiting("wr2")
    deliverEdited(ahead, ahead.b, (m) => ({ ...m, nextCommitmentNumber: 2n }))
    expect(ahead.b.phase).toBe("Failed")
    expect(ahead.b.errorsSent[0]).toContain("ahead")
    const revoked = waiting("wrr")
    deliverEdited(revoked, revoked.b, (m) => ({ ...m, nextRevocationNumber: 1n }))
    expect(revoked.b.phase).toBe("Failed")
  })

  it("the right numbers: connected again, still waiting for the funding depth", () => {
    const p = waiting("wok")
    const sent = p.log.length
    p.deliver(p.b)
    expect(p.b.phase).toBe("WaitChannelReady")
    expect(p.b.errorsSent).toEqual([])
    // Bob never sent channel_ready (no depth yet): nothing to retransmit.
    expect(p.log.slice(sent)).toEqual([])
  })
})

describe("in normal operation", () => {
  const opened = (tag: string): Pair => {
    const p = newPair(`re-mut-${tag}-a`, `re-mut-${tag}-b`)
    p.open()
    return p
  }

  it("a channel_reestablish for another channel id fails the channel", () => {
    const p = opened("cid")
    p.disconnect()
    p.reconnect()
    deliverEdited(p, p.b, (m) => ({ ...m, channelId: ChannelId(new Uint8Array(32).fill(9)) }))
    expect(p.b.phase).toBe("Failed")
    expect(p.b.errorsSent[0]).toContain("another channel")
  })

  it("awaiting their revoke_and_ack for commitment N: a next_commitment_number other than N or N + 1 fails the channel, naming both", () => {
    const p = opened("wfr")
    // Alice signs commitment 1 for Bob; Bob never receives it.
    p.add(p.a, 1_000_000n, "wfr")
    p.signNow(p.a)
    expect(p.b.inbox.map((m) => m._tag)).toEqual(["UpdateAddHtlc", "CommitmentSigned"])
    p.disconnect()
    p.reconnect()
    deliverEdited(p, p.a, (m) => ({ ...m, nextCommitmentNumber: 3n }))
    expect(p.a.phase).toBe("Failed")
    expect(p.a.errorsSent[0]).toContain("next_commitment_number 3")
    expect(p.a.errorsSent[0]).toContain("expected 1 or 2")
  })

  it("the peer's uncommitted add forgotten on disconnection takes its dust-exposure flag with it: the HTLC that reuses its id is not flagged", () => {
    const p = opened("dust")
    // Bob accepts at most 1,000 sat of dust exposure (BOLT 2 max_dust_htlc_exposure_msat).
    p.b.ctx = { ...p.b.ctx, maxDustHtlcExposure: msat(1_000_000n) }
    p.add(p.a, 2_000_000n, "dust-0")
    const add = p.b.inbox[0]
    expect(add?._tag).toBe("UpdateAddHtlc")
    p.deliver(p.b)
    const flagged = p.b.state
    expect(flagged?._tag === "Normal" ? flagged.dustExposed : undefined).toEqual([0n])
    // The connection drops before Alice's commitment_signed: Bob forgets the add (BOLT 2 MUST) and its id.
    p.disconnect()
    const after = p.b.state
    expect(after?._tag === "Normal" ? after.dustExposed : "not normal").toBeUndefined()
    // Alice re-sends her unsigned add after the reestablish (same id 0): with the exposure limit restored, not flagged.
    p.b.ctx = { ...p.b.ctx, maxDustHtlcExposure: msat(50_000_000n) }
    p.reconnect()
    p.settle()
    const received = p.b.eventsOf("HtlcReceived")
    expect(received.map((e) => e.htlcId)).toEqual([0n])
    expect(received[0]?.dustExposureExceeded).toBeUndefined()
  })

  it("a dust-exposure flag of an add the peer already signed survives the disconnection: the HTLC is still reported over the limit", () => {
    const p = opened("dust2")
    p.b.ctx = { ...p.b.ctx, maxDustHtlcExposure: msat(1_000_000n) }
    p.add(p.a, 2_000_000n, "dust-1")
    p.signNow(p.a)
    expect(p.b.inbox.map((m) => m._tag)).toEqual(["UpdateAddHtlc", "CommitmentSigned"])
    p.deliver(p.b)
    p.deliver(p.b)
    // Bob holds Alice's signature for the add; the connection drops before the dance ends.
    p.disconnect()
    const s = p.b.state
    expect(s?._tag === "Normal" ? s.dustExposed : undefined).toEqual([0n])
    expect(p.b.eventsOf("HtlcReceived")).toEqual([])
    p.reconnect()
    p.settle()
    const received = p.b.eventsOf("HtlcReceived")
    expect(received.map((e) => [e.htlcId, e.dustExposureExceeded])).toEqual([[0n, true]])
  })

  it("a disconnection while the signer's answer is awaited is refused: the answer must come first", () => {
    const p = opened("awt")
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const request = { _tag: "PerCommitmentPoint" as const, commitmentNumber: 5n }
    const awaiting = { ...s, awaiting: { _tag: "DataLossCheck" as const, request, commitmentNumber: 5n, secret: new Uint8Array(32) } }
    const r = step(p.a.ctx, awaiting, { _tag: "PeerDisconnected" })
    expect(r._tag).toBe("Failure")
    if (r._tag !== "Failure") return
    expect(r.failure).toMatchObject({ _tag: "UnexpectedInput", phase: "Normal", input: "PeerDisconnected" })
    expect("detail" in r.failure ? r.failure.detail : "").toContain("Signed")
  })
})

describe("one channel_reestablish per connection", () => {
  it("a second channel_reestablish on the same connection is ignored: nothing is sent again", () => {
    // A channel whose commitments never moved: a reestablish would send channel_ready again.
    const p = newPair("re-mut-dup-a", "re-mut-dup-b")
    p.open()
    p.disconnect()
    p.reconnect()
    const again = p.b.inbox[0]
    if (again?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    p.settle()
    const state = p.b.state
    const sent = p.log.length
    p.b.inbox = [again]
    p.deliver(p.b)
    expect(p.log.length).toBe(sent)
    expect(p.b.state).toEqual(state)
  })

  it("the same while waiting for channel_ready", () => {
    const p = newPair("re-mut-dupw-a", "re-mut-dupw-b")
    p.openFunded()
    p.settle()
    p.input(p.b, { _tag: "FundingDepth", depth: 3 })
    p.disconnect()
    p.reconnect()
    const again = p.b.inbox[0]
    if (again?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    p.deliver(p.b)
    const state = p.b.state
    const sent = p.log.length
    p.b.inbox = [again]
    p.deliver(p.b)
    expect(p.log.length).toBe(sent)
    expect(p.b.state).toEqual(state)
  })
})

describe("while closing", () => {
  it("a disconnection while the signer's answer is awaited in the closing negotiation is refused too; without one, the channel waits for the reconnection", () => {
    const p = newPair("re-mut-neg-a", "re-mut-neg-b")
    p.open()
    negotiateClose(p)
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error(`not Negotiating: ${s?._tag}`)
    const request = { _tag: "PerCommitmentPoint" as const, commitmentNumber: 5n }
    const r = step(p.a.ctx, { ...s, awaiting: { _tag: "DataLossCheck" as const, request, commitmentNumber: 5n, secret: new Uint8Array(32) } }, { _tag: "PeerDisconnected" })
    expect(r._tag === "Failure" ? r.failure._tag : "accepted").toBe("UnexpectedInput")
    const ok = step(p.a.ctx, s, { _tag: "PeerDisconnected" })
    expect(ok._tag === "Success" ? ok.success.state._tag : "refused").toBe("Negotiating")
    expect(ok._tag === "Success" && ok.success.state._tag === "Negotiating" ? ok.success.state.connection : undefined).toBe("Disconnected")
  })
})

describe("phases with nothing to reestablish", () => {
  it("a failed channel ignores channel_reestablish and stays as it is on a disconnection", () => {
    const p = newPair("re-mut-fail-a", "re-mut-fail-b")
    p.openFunded()
    p.disconnect()
    p.reconnect()
    const honest = p.b.inbox[0]
    if (honest?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    deliverEdited(p, p.b, (m) => ({ ...m, nextCommitmentNumber: 0n }))
    expect(p.b.phase).toBe("Failed")
    const failed = p.b.state
    const sent = p.log.length
    const errors = p.b.errorsSent.length
    p.b.inbox = [honest]
    p.deliver(p.b)
    expect(p.b.state).toEqual(failed)
    expect(p.log.length).toBe(sent)
    expect(p.b.errorsSent.length).toBe(errors)
    expect(p.input(p.b, { _tag: "PeerDisconnected" })).toBeUndefined()
    expect(p.b.state).toEqual(failed)
  })

  it("a node that learned it is behind (option_data_loss_protect) waits for the peer's close across disconnections", () => {
    const p = newPair("re-mut-wrc-a", "re-mut-wrc-b")
    p.open()
    restoreBobFromBackup(p, "wrc")
    expect(p.b.phase).toBe("WaitRemoteClose")
    const waiting = p.b.state
    expect(p.input(p.b, { _tag: "PeerDisconnected" })).toBeUndefined()
    expect(p.b.state).toEqual(waiting)
    // On the next connection it sends its error again (BOLT 2: a channel in an error state retransmits it).
    const errors = p.b.errorsSent.length
    expect(p.input(p.b, { _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) })).toBeUndefined()
    expect(p.b.errorsSent.length).toBe(errors + 1)
    expect(p.b.errorsSent.at(-1)).toBe(p.b.errorsSent[0])
  })

  it("a disconnection before accept_channel, or after funding_created but before funding_signed, forgets the channel (BOLT 2: the funding is not broadcast yet)", () => {
    for (const lost of ["AcceptChannel", "FundingSigned"] as const) {
      const p = newPair(`re-mut-lost-${lost}-a`, `re-mut-lost-${lost}-b`)
      const deliver = p.deliver.bind(p)
      // Alice's link drops instead of delivering `lost` to her.
      p.deliver = (to) => {
        if (to === p.a && to.inbox[0]?._tag === lost) {
          p.disconnect()
          return undefined
        }
        return deliver(to)
      }
      if (lost === "AcceptChannel") expect(() => p.openFunded()).toThrow("no FundingNeeded")
      else p.openFunded()
      expect(p.a.phase).toBe("Closed")
      const closed = p.a.eventsOf("ChannelClosed")
      expect(closed).toHaveLength(1)
      expect(closed[0]?.reason).toEqual({ _tag: "FundingAborted", reason: expect.stringContaining("disconnected") })
      expect(p.a.monitor).toBeUndefined()
    }
  })

  it("a channel forgotten before its funding was signed stays forgotten: nothing is sent on a reconnection", () => {
    const p = newPair("re-mut-gone-a", "re-mut-gone-b")
    p.fund = () => p.disconnect()
    p.openFunded({})
    expect(p.a.phase).toBe("Closed")
    const closed = p.a.state
    const sent = p.log.length
    p.reconnect()
    expect(p.a.state).toEqual(closed)
    expect(p.b.state?._tag).toBe("Closed")
    expect(p.log.length).toBe(sent)
    expect(p.a.errorsSent).toEqual([])
    // A disconnection changes nothing either.
    expect(p.input(p.a, { _tag: "PeerDisconnected" })).toBeUndefined()
    expect(p.a.state).toEqual(closed)
  })
})

// ---- second run: the mutants that survived the complete run (79.8%) ------------------------------

/** `to` handles the peer's `channel_reestablish` waiting in its inbox (changed by `edit`): the step itself, not applied. */
const handleReestablish = (to: Node, edit: (m: ChannelReestablish) => ChannelReestablish = (m) => m) => {
  const m = to.inbox[0]
  if (m?._tag !== "ChannelReestablish" || to.state === undefined) throw new Error(`expected channel_reestablish, got ${m?._tag}`)
  const r = step(to.ctx, to.state, { _tag: "PeerMessage", message: edit(m) })
  if (r._tag !== "Success") throw new Error(`channel_reestablish refused: ${r.failure._tag}`)
  return r.success
}
const sentBy = (outputs: ReadonlyArray<ChannelOutput>): Array<ChannelMessage> => outputs.flatMap((o) => (o._tag === "Send" ? [o.message] : []))
const errorOf = (outputs: ReadonlyArray<ChannelOutput>): string | undefined => outputs.flatMap((o) => (o._tag === "SendError" ? [o.message] : []))[0]

/** Alice and Bob after `rounds` HTLC round trips (each commitment number is then `rounds`). */
const movedOn = (tag: string, rounds: number): Pair => {
  const p = newPair(`re-mut2-${tag}-a`, `re-mut2-${tag}-b`)
  p.open()
  for (let i = 0; i < rounds; i++) {
    p.add(p.a, 1_000_000n, `${tag}-${i}`)
    p.settle()
  }
  return p
}

describe("the numbers in the peer's channel_reestablish (BOLT 2 Message Retransmission)", () => {
  it.each([
    // MUST fail the channel.
    { rule: "next_commitment_number 0 in normal operation", rounds: 0, change: { nextCommitmentNumber: 0n }, error: "channel_reestablish with next_commitment_number 0" },
    // SHOULD fail: neither the last nor the next commitment we signed.
    { rule: "a next_commitment_number neither the last nor the next we signed", rounds: 0, change: { nextCommitmentNumber: 3n }, error: "next_commitment_number 3: expected 1" },
    // SHOULD fail: older than our last revoke_and_ack minus one (our commitment is at 2 after two rounds).
    { rule: "a next_revocation_number older than our last revoke_and_ack minus one", rounds: 2, change: { nextRevocationNumber: 0n }, error: "next_revocation_number 0: expected 2" }
  ])("$rule: the channel fails with an error naming it", ({ rounds, change, error }) => {
    const p = movedOn(`numbers-${rounds}-${error.length}`, rounds)
    const s = p.b.state
    expect(s?._tag === "Normal" ? s.commitments.localCommit.number : undefined).toBe(BigInt(rounds))
    p.disconnect()
    p.reconnect()
    const r = handleReestablish(p.b, (m) => ({ ...m, ...change }))
    expect(r.state._tag).toBe("Failed")
    expect(errorOf(r.outputs)).toBe(error)
  })

  it("without the secret we revealed for next_revocation_number - 1 kept, nothing to compare: reestablished (the SHOULD-fail needs an expected value)", () => {
    const p = movedOn("nosecret", 2)
    p.disconnect()
    const s = p.b.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    p.b.state = { ...s, revealedSecrets: [] }
    p.reconnect()
    const r = handleReestablish(p.b)
    expect(r.state._tag).toBe("Normal")
    expect(errorOf(r.outputs)).toBeUndefined()
  })

  it("our channel_reestablish carries zeros as your_last_per_commitment_secret when no secret of theirs is known", () => {
    const p = movedOn("zeros", 1)
    p.disconnect()
    const s = p.b.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    expect(s.commitments.remoteCommit.number).toBe(1n)
    p.b.state = { ...s, commitments: { ...s.commitments, remotePerCommitmentSecrets: emptySecretStore } }
    p.reconnect()
    const ours = p.a.inbox[0]
    if (ours?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    expect(ours.nextRevocationNumber).toBe(1n)
    expect(ours.yourLastPerCommitmentSecret).toEqual(new Uint8Array(32))
  })
})

describe("what is retransmitted", () => {
  it("our last revoke_and_ack again, rebuilt from the secret we keep (no signer round trip), equal to the one lost (MUST re-send)", () => {
    const p = movedOn("rev", 0)
    p.add(p.a, 1_000_000n, "rev")
    p.signNow(p.a)
    // Bob gets the add and Alice's commitment_signed; his revoke_and_ack is lost.
    p.deliver(p.b)
    p.deliver(p.b)
    const lost = p.log.at(-1)?.message
    expect(lost?._tag).toBe("RevokeAndAck")
    p.disconnect()
    p.reconnect()
    const r = handleReestablish(p.b)
    expect(r.outputs.some((o) => o._tag === "Sign")).toBe(false)
    expect(sentBy(r.outputs)).toEqual([lost])
  })

  it("our commitment_signed again, byte for byte the one lost (MUST reuse the same commitment number; same signatures)", () => {
    const p = movedOn("com", 0)
    p.add(p.a, 1_000_000n, "com")
    p.signNow(p.a)
    const lost = p.log.at(-1)?.message
    expect(lost?._tag).toBe("CommitmentSigned")
    p.disconnect()
    p.reconnect()
    const r = handleReestablish(p.a)
    // Bob's commitment never moved either: channel_ready first (both next_commitment_number are 1).
    expect(sentBy(r.outputs).map((m) => m._tag)).toEqual(["ChannelReady", "UpdateAddHtlc", "CommitmentSigned"])
    expect(sentBy(r.outputs)[2]).toEqual(lost)
  })

  it("channel_ready again, with our alias, when both next_commitment_number are 1 (MUST retransmit)", () => {
    const p = movedOn("ready", 0)
    p.disconnect()
    p.reconnect()
    const sent = sentBy(handleReestablish(p.a).outputs)
    expect(sent.map((m) => m._tag)).toEqual(["ChannelReady"])
    const ready = sent[0]
    if (ready?._tag !== "ChannelReady") throw new Error("expected channel_ready")
    expect(ready.tlvs.shortChannelId).toBe(alias(p.a.name))
    expect(ready.secondPerCommitmentPoint).toEqual(p.a.point(1n))
  })

  it("channel_ready again without an alias when we have none", () => {
    const p = movedOn("noalias", 0)
    p.disconnect()
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const { localAlias: _alias, ...withoutAlias } = s
    p.a.state = withoutAlias
    p.reconnect()
    const ready = sentBy(handleReestablish(p.a).outputs)[0]
    if (ready?._tag !== "ChannelReady") throw new Error("expected channel_ready")
    expect(Object.keys(ready.tlvs)).not.toContain("shortChannelId")
  })

  it("no channel_ready once the peer's commitment moved, even if ours did not (MUST NOT retransmit)", () => {
    const p = movedOn("notready", 0)
    p.add(p.a, 1_000_000n, "notready")
    p.signNow(p.a)
    // Bob holds commitment 1; Alice's is still 0 (Bob's revoke_and_ack is lost, he signed nothing).
    p.deliver(p.b)
    p.deliver(p.b)
    p.disconnect()
    p.reconnect()
    const theirs = p.a.inbox[0]
    expect(theirs?._tag === "ChannelReestablish" ? theirs.nextCommitmentNumber : undefined).toBe(2n)
    const r = handleReestablish(p.a)
    expect(sentBy(r.outputs).map((m) => m._tag)).not.toContain("ChannelReady")
    expect(r.state._tag).toBe("Normal")
  })

  it("a close asked for while disconnected: our shutdown follows the reestablish at once", () => {
    const p = movedOn("close", 0)
    p.disconnect()
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
    expect(p.a.updates.at(-1)?._tag).not.toBe("ShutdownScript")
    p.reconnect()
    const r = handleReestablish(p.a)
    expect(sentBy(r.outputs).map((m) => m._tag)).toEqual(["ChannelReady", "Shutdown"])
    expect(r.outputs.some((o) => o._tag === "Persist" && o.update._tag === "ShutdownScript")).toBe(true)
  })
})

describe("option_data_loss_protect: a next_revocation_number ahead of ours", () => {
  it("a claim about our current or next commitment is checked against the point we hold, at once (no signer round trip)", () => {
    for (const ahead of [1n, 2n]) {
      const p = movedOn(`dl${ahead}`, 1)
      p.disconnect()
      p.reconnect()
      const r = handleReestablish(p.b, (m) => ({ ...m, nextRevocationNumber: 1n + ahead, yourLastPerCommitmentSecret: new Uint8Array(32).fill(5) }))
      expect(r.outputs.some((o) => o._tag === "Sign")).toBe(false)
      expect(r.state._tag).toBe("Failed")
      expect(errorOf(r.outputs)).toBe("channel_reestablish claims a revocation we never made")
    }
  })

  it("a secret that is not a valid private key proves nothing: the channel fails", () => {
    const p = movedOn("dlzero", 1)
    p.disconnect()
    p.reconnect()
    const r = handleReestablish(p.b, (m) => ({ ...m, nextRevocationNumber: 2n, yourLastPerCommitmentSecret: new Uint8Array(32) }))
    expect(r.state._tag).toBe("Failed")
    expect(errorOf(r.outputs)).toBe("channel_reestablish claims a revocation we never made")
  })

  it("proven behind: the error asks the peer to close (SHOULD send an error), we do not broadcast", () => {
    const p = movedOn("behind", 0)
    restoreBobFromBackup(p, "behind")
    expect(p.b.phase).toBe("WaitRemoteClose")
    expect(p.b.errorsSent).toEqual(["our channel state is outdated (option_data_loss_protect): please close the channel"])
  })
})

describe("the signer's answer to a retransmission request must be the one asked for", () => {
  const negotiating = (tag: string): { readonly s: Negotiating; readonly node: Node } => {
    const p = newPair(`re-mut2-${tag}-a`, `re-mut2-${tag}-b`)
    p.open()
    negotiateClose(p)
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error(`not Negotiating: ${s?._tag}`)
    const { awaiting: _none, ...idle } = s
    return { s: idle, node: p.a }
  }
  const refused = (r: ReturnType<typeof step>, phase: string, detail: string): void => {
    if (r._tag !== "Failure") throw new Error(`accepted: ${r.success.state._tag}`)
    expect(r.failure).toMatchObject({ _tag: "UnexpectedInput", phase, input: "Signed", detail })
  }

  it("a revocation while a point for the data-loss check is awaited is refused", () => {
    const { s, node } = negotiating("dlc")
    const request = { _tag: "PerCommitmentPoint" as const, commitmentNumber: 5n }
    const awaiting: Negotiating = { ...s, awaiting: { _tag: "DataLossCheck", request, commitmentNumber: 5n, secret: new Uint8Array(32).fill(5) } }
    const r = step(node.ctx, awaiting, { _tag: "Signed", result: { _tag: "Revocation", perCommitmentSecret: new Uint8Array(32).fill(1), nextPerCommitmentPoint: node.point(2n) } })
    refused(r, "Negotiating", "signer answer Revocation not expected")
  })

  it("a point, or a revocation without its secret, while our revoke_and_ack is to be rebuilt is refused", () => {
    const { s, node } = negotiating("rr")
    const request = { _tag: "ReleaseRevoked" as const, revokeCommitmentNumber: 0n, nextCommitmentNumber: 2n }
    const awaiting: Negotiating = { ...s, awaiting: { _tag: "RetransmitRevoke", request, before: [], after: [] } }
    refused(step(node.ctx, awaiting, { _tag: "Signed", result: { _tag: "Point", commitmentNumber: 1n, point: node.point(1n) } }), "Negotiating", "signer answer Point not expected")
    refused(
      step(node.ctx, awaiting, { _tag: "Signed", result: { _tag: "Revocation", nextPerCommitmentPoint: node.point(2n) } }),
      "Negotiating",
      "signer answer Revocation not expected"
    )
  })

  it("the same in normal operation: a revocation without its secret is refused", () => {
    const p = movedOn("rrn", 0)
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const request = { _tag: "ReleaseRevoked" as const, revokeCommitmentNumber: 0n, nextCommitmentNumber: 2n }
    const r = step(p.a.ctx, { ...s, awaiting: { _tag: "RetransmitRevoke", request, before: [], after: [] } }, {
      _tag: "Signed",
      result: { _tag: "Revocation", nextPerCommitmentPoint: p.a.point(2n) }
    })
    refused(r, "Normal", "signer answer Revocation not expected")
  })
})
