/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/channel/step.ts`)
 * left alive or without coverage in `step.ts`, the reducer that composes the BOLT 2 rules: what
 * failing the channel does in each phase (BOLT 2 "fail the channel", BOLT 1 `error`), the inputs
 * each phase ignores, refuses or answers with an event, the signer's answers that do not fit what
 * was asked, the TLVs a command carries to the wire and back (BOLT 2 `blinded_path`, BOLT 4
 * `attribution_data`), and the funding output spent in a failed or unfunded channel. A refused
 * input's `detail` and a failure's text are what the operator and the peer read, so they are
 * checked word for word.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import type { ChannelEvent, ChannelInput, ChannelOutput } from "../../../src/protocol/channel/io.ts"
import { channelIdOf, type ChannelState, makeNormal, type Negotiating } from "../../../src/protocol/channel/state.ts"
import { acceptChannel, openChannel, step, type OpenChannelArgs, type Step } from "../../../src/protocol/channel/step.ts"
import { ClosingComplete, ClosingSig, Shutdown, UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc, UpdateFee } from "../../../src/protocol/messages/channel.ts"
import { ATTRIBUTION_DATA_LENGTH } from "../../../src/protocol/messages/channel.ts"
import { ChainHashes } from "../../../src/protocol/messages/init.ts"
import { serializeTransaction, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { ChannelId, msat, sat } from "../../../src/protocol/units.ts"
import { alias, newPair, openArgs, preimageFor, restoreBobFromBackup, txidOf, type Node, type Pair } from "./step-harness.ts"

// ---- helpers ---------------------------------------------------------------------------------------

type StepResult = ReturnType<typeof step>

/** `node`'s step on `input` from `state` (its current one by default), not applied. */
const run = (node: Node, input: ChannelInput, state: ChannelState | undefined = node.state): StepResult => {
  if (state === undefined) throw new Error(`${node.name} has no channel`)
  return step(node.ctx, state, input)
}
const accepted = (r: StepResult): Step => {
  if (Result.isFailure(r)) throw new Error(`refused: ${JSON.stringify(r.failure)}`)
  return r.success
}
/** The input is refused as not valid in this phase, with this detail. */
const refused = (r: StepResult, phase: string, input: string, detail: string): void => {
  if (Result.isSuccess(r)) throw new Error(`accepted: ${r.success.state._tag}`)
  expect(r.failure).toMatchObject({ _tag: "UnexpectedInput", phase, input, detail })
}
const events = (s: Step): Array<ChannelEvent> => s.outputs.flatMap((o) => (o._tag === "Emit" ? [o.event] : []))
const tags = (outputs: ReadonlyArray<ChannelOutput>): Array<string> =>
  outputs.map((o) => (o._tag === "Persist" ? `Persist ${o.update._tag}` : o._tag === "Emit" ? `Emit ${o.event._tag}` : o._tag === "Send" ? `Send ${o.message._tag}` : o._tag))
/** The reason of the `ChannelClosed` event of a step. */
const closedReason = (s: Step) => {
  const e = events(s).find((x) => x._tag === "ChannelClosed")
  return e?._tag === "ChannelClosed" ? e.reason : undefined
}
const commitTxidOf = (s: ChannelState | undefined): Uint8Array => {
  if (s === undefined) throw new Error("no state")
  if (s._tag === "WaitChannelReady") return s.localCommit.txid
  if (s._tag === "Normal" || s._tag === "Negotiating" || s._tag === "Closing") return s.commitments.localCommit.txid
  throw new Error(`no commitment in ${s._tag}`)
}

// ---- scenarios ---------------------------------------------------------------------------------------

const pairOf = (tag: string): Pair => newPair(`step-mut-${tag}-a`, `step-mut-${tag}-b`)
const opened = (tag: string): Pair => {
  const p = pairOf(tag)
  p.open()
  return p
}
const close = (p: Pair, n: Node): void => {
  expect(p.input(n, { _tag: "Close", scriptPubKey: n.ctx.shutdownScript, feeratePerKw: 2500 })).toBeUndefined()
}
/** Alice in the legacy closing negotiation (Bob too, or about to be). */
const negotiating = (tag: string): Pair => {
  const p = opened(tag)
  close(p, p.a)
  for (let i = 0; i < 40 && p.a.phase !== "Negotiating"; i++) {
    const node = p.a.inbox.length > 0 ? p.a : p.b
    if (node.inbox.length === 0) break
    p.deliver(node)
    p.signNow(node)
  }
  expect(p.a.phase).toBe("Negotiating")
  return p
}
/** Alice negotiating the close, and her state with no signer request pending. */
const idleNegotiating = (tag: string): { readonly p: Pair; readonly s: Negotiating; readonly idle: Omit<Negotiating, "awaiting"> } => {
  const p = negotiating(tag)
  const s = p.a.state
  if (s?._tag !== "Negotiating") throw new Error("not Negotiating")
  const { awaiting: _asked, ...idle } = s
  return { p, s, idle }
}
/** Both sides signed and broadcast the mutual close. */
const closing = (tag: string): Pair => {
  const p = opened(tag)
  close(p, p.a)
  p.settle()
  expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
  return p
}
const mutualCloseTxid = (n: Node): Uint8Array => {
  const b = n.broadcasts.find((x) => x.label === "mutual-close")
  if (b === undefined) throw new Error("no mutual close broadcast")
  return txidOf(b.tx)
}
/** Alice closed cooperatively, the close confirmed. */
const closed = (tag: string): Pair => {
  const p = closing(tag)
  expect(p.input(p.a, { _tag: "FundingSpent", txid: mutualCloseTxid(p.a) })).toBeUndefined()
  expect(p.a.phase).toBe("Closed")
  return p
}
/** Alice force-closed. */
const failed = (tag: string): Pair => {
  const p = opened(tag)
  expect(p.input(p.a, { _tag: "ForceClose", reason: "operator" })).toBeUndefined()
  expect(p.a.phase).toBe("Failed")
  return p
}
/** Bob restored from a backup learned he is behind (option_data_loss_protect): `WaitRemoteClose`. */
const staleBob = (tag: string): Pair => {
  const p = opened(tag)
  restoreBobFromBackup(p, `${tag}-stale`)
  expect(p.b.phase).toBe("WaitRemoteClose")
  return p
}
/** The funding phases: Alice in `WaitFundingTx` with her funding transaction at hand, Bob in `WaitFundingCreated`. */
const funding = (tag: string): { readonly p: Pair; readonly tx: Uint8Array } => {
  const p = pairOf(tag)
  let captured: Transaction | undefined
  p.fund = (tx) => {
    captured = tx
  }
  p.openFunded()
  if (captured === undefined) throw new Error("no funding transaction")
  expect([p.a.phase, p.b.phase]).toEqual(["WaitFundingTx", "WaitFundingCreated"])
  return { p, tx: serializeTransaction(captured) }
}
const someAdd = (requestId: string): Extract<ChannelInput, { readonly _tag: "AddHtlc" }> => ({
  _tag: "AddHtlc",
  requestId,
  amount: msat(1_000_000n),
  paymentHash: new Uint8Array(32).fill(1),
  cltvExpiry: 800_000,
  onion: new Uint8Array(1366)
})
const signerFailed: ChannelInput = { _tag: "Signed", result: { _tag: "SignerFailed", reason: "hsm unplugged" } }

// ---- failing the channel -----------------------------------------------------------------------------

describe("failing the channel (BOLT 2 'fail the channel', BOLT 1 error)", () => {
  it("the peer's error fails a funded channel: no error back, our commitment to the monitor, ProtocolError sent by the peer", () => {
    const p = opened("perr")
    const txid = commitTxidOf(p.a.state)
    const r = accepted(run(p.a, { _tag: "PeerError", message: "boom" }))
    expect(tags(r.outputs)).toEqual(["Persist ForceClose", "Emit ChannelClosed"])
    expect(closedReason(r)).toEqual({ _tag: "ProtocolError", reason: "peer error: boom", sentByPeer: true })
    expect(r.state).toMatchObject({ _tag: "Failed", errorMessage: "peer error: boom", localCommitTxid: txid })
  })

  it("a peer violation: an error naming the rule broken (a rule without detail: its name alone), not sent by the peer", () => {
    const p = opened("viol")
    p.add(p.a, 1_000_000n, "viol")
    p.settle()
    const oldRevoke = p.log.find((l) => l.from === p.a.name && l.message._tag === "RevokeAndAck")?.message
    if (oldRevoke === undefined) throw new Error("no revoke_and_ack")
    // Bob awaits no revocation: the repeat is UnexpectedRevokeAndAck.
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: oldRevoke }))
    expect(tags(r.outputs)).toEqual(["SendError", "Persist ForceClose", "Emit ChannelClosed"])
    expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: "UnexpectedRevokeAndAck" })
    expect(closedReason(r)).toEqual({ _tag: "ProtocolError", reason: "UnexpectedRevokeAndAck", sentByPeer: false })
  })

  it("waiting for channel_ready (funded): the monitor is told to broadcast, the Failed state keeps our first commitment's txid", () => {
    const p = pairOf("wcr")
    p.openFunded()
    expect(p.a.phase).toBe("WaitChannelReady")
    const r = accepted(run(p.a, { _tag: "PeerError", message: "x" }))
    expect(tags(r.outputs)).toEqual(["Persist ForceClose", "Emit ChannelClosed"])
    expect(r.state).toMatchObject({ _tag: "Failed", localCommitTxid: commitTxidOf(p.a.state) })
  })

  it("a force close while negotiating or after the mutual close was broadcast: the channel is funded, our commitment goes to the monitor", () => {
    for (const p of [negotiating("fcn"), closing("fcc")]) {
      const txid = commitTxidOf(p.a.state)
      const r = accepted(run(p.a, { _tag: "ForceClose", reason: "operator" }))
      expect(tags(r.outputs)).toEqual(["SendError", "Persist ForceClose", "Emit ChannelClosed"])
      expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "operator" })
      expect(r.state).toMatchObject({ _tag: "Failed", localCommitTxid: txid })
    }
  })

  it("a channel closed, failed, waiting for the peer's close or closing ignores the peer's error (BOLT 1: nothing left to fail)", () => {
    for (const [n, state] of [
      [closed("pe-cl").a, "Closed"],
      [failed("pe-f").a, "Failed"],
      [staleBob("pe-w").b, "WaitRemoteClose"],
      [closing("pe-c").a, "Closing"]
    ] as const) {
      expect(n.phase).toBe(state)
      const r = accepted(run(n, { _tag: "PeerError", message: "late" }))
      expect(r.outputs).toEqual([])
      expect(r.state).toEqual(n.state)
    }
  })

  it("a force close of a closed or failed channel is refused, saying so; of a stale one too, saying why", () => {
    refused(run(closed("fc-cl").a, { _tag: "ForceClose", reason: "x" }), "Closed", "ForceClose", "the channel is already closed")
    refused(run(failed("fc-f").a, { _tag: "ForceClose", reason: "x" }), "Failed", "ForceClose", "the channel is already closed")
    refused(
      run(staleBob("fc-w").b, { _tag: "ForceClose", reason: "x" }),
      "WaitRemoteClose",
      "ForceClose",
      "our state is stale: broadcasting our commitment would lose funds"
    )
  })

  it("the peer's warning changes nothing (BOLT 1: SHOULD log it)", () => {
    const p = opened("warn")
    const r = accepted(run(p.a, { _tag: "PeerWarning", message: "hm" }))
    expect(r.outputs).toEqual([])
    expect(r.state).toEqual(p.a.state)
  })
})

// ---- phases with no channel left -----------------------------------------------------------------------

describe("a closed, failed or stale channel (BOLT 2: an error state ignores every other message)", () => {
  const phases = (): ReadonlyArray<readonly [Node, string]> => [
    [closed("cl").a, "Closed"],
    [failed("f").a, "Failed"],
    [staleBob("w").b, "WaitRemoteClose"]
  ]

  it("a peer message is ignored; an HTLC is rejected as an event; other commands are refused", () => {
    for (const [n, phase] of phases()) {
      const s = n.state
      if (s === undefined) throw new Error("no state")
      const channelId = ChannelId(channelIdOf(s))
      const message = Shutdown.make({ channelId, scriptpubkey: n.ctx.shutdownScript })
      const ignored = accepted(run(n, { _tag: "PeerMessage", message }))
      expect(ignored.outputs).toEqual([])
      expect(ignored.state).toEqual(s)
      const add = accepted(run(n, someAdd("late")))
      expect(events(add)).toEqual([{ _tag: "HtlcRejected", channelId, requestId: "late", reason: "the channel is closed" }])
      refused(run(n, { _tag: "SignNow" }), phase, "SignNow", "the channel is closed")
    }
  })
})

describe("the funding output spent", () => {
  it("a failed channel: by our commitment, closed for the reason it failed (already announced); by another transaction, a remote force close", () => {
    const p = failed("spent")
    const s = p.a.state
    if (s?._tag !== "Failed") throw new Error("not Failed")
    const ours = accepted(run(p.a, { _tag: "FundingSpent", txid: s.localCommitTxid ?? new Uint8Array(32) }))
    expect(ours.state).toMatchObject({ _tag: "Closed", reason: s.reason })
    expect(ours.outputs).toEqual([])
    const other = new Uint8Array(32).fill(0xab)
    const theirs = accepted(run(p.a, { _tag: "FundingSpent", txid: other }))
    expect(theirs.state).toMatchObject({ _tag: "Closed", reason: { _tag: "RemoteForceClose", txid: other } })
    expect(closedReason(theirs)).toEqual({ _tag: "RemoteForceClose", txid: other })
  })

  it("a closed channel stays as it is; a channel not funded yet refuses the fact", () => {
    const p = closed("spent-cl")
    const again = accepted(run(p.a, { _tag: "FundingSpent", txid: new Uint8Array(32).fill(1) }))
    expect(again.outputs).toEqual([])
    expect(again.state).toEqual(p.a.state)
    const f = funding("spent-unf")
    refused(run(f.p.a, { _tag: "FundingSpent", txid: new Uint8Array(32).fill(1) }), "WaitFundingTx", "FundingSpent", "the channel is not funded")
  })
})

// ---- before the funding ---------------------------------------------------------------------------------

describe("before the funding is signed", () => {
  const waitAccept = (tag: string): Node => {
    const p = pairOf(tag)
    const r = openChannel(p.a.ctx, openArgs(p.a, { localAlias: alias(p.a.name) }))
    if (Result.isFailure(r)) throw new Error("open refused")
    p.a.state = r.success.state
    return p.a
  }

  it("an unexpected peer message forgets the channel (error, FundingAborted); an HTLC is rejected; SignNow does nothing; other commands are refused", () => {
    const a = waitAccept("wa")
    const s = a.state
    if (s?._tag !== "WaitAcceptChannel") throw new Error("not WaitAcceptChannel")
    const message = Shutdown.make({ channelId: s.open.temporaryChannelId, scriptpubkey: a.ctx.shutdownScript })
    const r = accepted(run(a, { _tag: "PeerMessage", message }))
    expect(tags(r.outputs)).toEqual(["SendError", "Emit ChannelClosed"])
    expect(r.outputs[0]).toMatchObject({ message: "unexpected Shutdown in WaitAcceptChannel" })
    expect(r.state).toMatchObject({ _tag: "Closed", reason: { _tag: "FundingAborted", reason: "unexpected Shutdown in WaitAcceptChannel" } })
    const add = accepted(run(a, someAdd("early")))
    expect(events(add)).toEqual([{ _tag: "HtlcRejected", channelId: s.open.temporaryChannelId, requestId: "early", reason: "the channel is not ready" }])
    const idle = accepted(run(a, { _tag: "SignNow" }))
    expect(idle.outputs).toEqual([])
    expect(idle.state).toEqual(s)
    refused(run(a, { _tag: "UpdateFee", feeratePerKw: 3000 }), "WaitAcceptChannel", "UpdateFee", "not valid before the channel is funded")
  })

  it("a funding transaction that does not parse is refused, saying why", () => {
    const { p } = funding("badtx")
    const r = run(p.a, { _tag: "FundingTransaction", tx: new Uint8Array([1, 2, 3]) })
    if (Result.isSuccess(r)) throw new Error("accepted")
    expect(r.failure._tag).toBe("InvalidFundingTransaction")
    expect("reason" in r.failure ? r.failure.reason : "").not.toBe("")
  })

  it("funder: the signer failing forgets the channel with its reason; an answer that was not asked for is refused, naming what is awaited", () => {
    const { p, tx } = funding("fsig")
    const awaiting = accepted(run(p.a, { _tag: "FundingTransaction", tx })).state
    expect(awaiting._tag).toBe("WaitFundingSigned")
    const failedSigner = accepted(run(p.a, signerFailed, awaiting))
    expect(tags(failedSigner.outputs)).toEqual(["SendError", "Emit ChannelClosed"])
    expect(failedSigner.state).toMatchObject({ _tag: "Closed", reason: { _tag: "FundingAborted", reason: "signer: hsm unplugged" } })
    const point: ChannelInput = { _tag: "Signed", result: { _tag: "Point", commitmentNumber: 0n, point: p.a.point(0n) } }
    refused(run(p.a, point, awaiting), "WaitFundingSigned", "Signed", "signer answer Point while awaiting FundingCreatedSignature")
    // funding_created sent: nothing is awaited until funding_signed.
    expect(p.input(p.a, { _tag: "FundingTransaction", tx })).toBeUndefined()
    refused(run(p.a, point), "WaitFundingSigned", "Signed", "signer answer Point while awaiting nothing")
  })

  it("fundee: an answer before funding_created is refused; the signer failing forgets the channel; a wrong answer names what is awaited", () => {
    const { p, tx } = funding("fcr")
    const point: ChannelInput = { _tag: "Signed", result: { _tag: "Point", commitmentNumber: 0n, point: p.b.point(0n) } }
    refused(run(p.b, point), "WaitFundingCreated", "Signed", "no funding_created received")
    expect(accepted(run(p.b, signerFailed)).state).toMatchObject({ _tag: "Closed", reason: { _tag: "FundingAborted", reason: "signer: hsm unplugged" } })
    expect(p.input(p.a, { _tag: "FundingTransaction", tx })).toBeUndefined()
    const created = p.b.inbox[0]
    if (created?._tag !== "FundingCreated") throw new Error("expected funding_created")
    const awaiting = accepted(run(p.b, { _tag: "PeerMessage", message: created })).state
    refused(run(p.b, point, awaiting), "WaitFundingCreated", "Signed", "signer answer Point while awaiting FundingSignedSignature")
    if (awaiting._tag !== "WaitFundingCreated") throw new Error("not WaitFundingCreated")
    const { awaiting: _asked, ...none } = awaiting
    refused(run(p.b, point, none), "WaitFundingCreated", "Signed", "signer answer Point while awaiting nothing")
  })
})

// ---- waiting for channel_ready ------------------------------------------------------------------------------

describe("waiting for channel_ready", () => {
  const waiting = (tag: string): Pair => {
    const p = pairOf(tag)
    p.openFunded()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["WaitChannelReady", "WaitChannelReady"])
    return p
  }

  it("the short_channel_id the chain gives is kept into normal operation and announced in the ChannelReady event", () => {
    const p = waiting("scid")
    const scid = alias("a-confirmed-funding")
    p.input(p.a, { _tag: "FundingDepth", depth: 3, shortChannelId: scid })
    p.input(p.b, { _tag: "FundingDepth", depth: 3, shortChannelId: scid })
    p.settle()
    expect(p.a.state).toMatchObject({ _tag: "Normal", shortChannelId: scid })
    expect(p.a.eventsOf("ChannelReady")[0]?.shortChannelId).toBe(scid)
    // Without one, nothing is invented.
    const q = waiting("noscid")
    q.confirm(3)
    q.settle()
    expect(q.a.state?._tag === "Normal" ? q.a.state.shortChannelId : "not normal").toBeUndefined()
    expect(q.a.eventsOf("ChannelReady")[0]?.shortChannelId).toBeUndefined()
  })

  it("a message before channel_reestablish is refused (BOLT 2: MUST wait for the peer's channel_reestablish)", () => {
    const p = waiting("wcr-re")
    p.disconnect()
    p.reconnect()
    const s = p.a.state
    if (s?._tag !== "WaitChannelReady") throw new Error("not WaitChannelReady")
    const message = Shutdown.make({ channelId: s.params.channelId, scriptpubkey: p.a.ctx.shutdownScript })
    refused(run(p.a, { _tag: "PeerMessage", message }), "WaitChannelReady", "PeerMessage", "not reestablished yet")
  })

  it("a shutdown before channel_ready is answered with a warning and ignored; HTLCs are rejected; SignNow does nothing; other commands are refused", () => {
    const p = waiting("wcr-sd")
    const s = p.a.state
    if (s?._tag !== "WaitChannelReady") throw new Error("not WaitChannelReady")
    const message = Shutdown.make({ channelId: s.params.channelId, scriptpubkey: p.b.ctx.shutdownScript })
    const r = accepted(run(p.a, { _tag: "PeerMessage", message }))
    expect(r.outputs).toEqual([{ _tag: "SendWarning", channelId: s.params.channelId, message: "shutdown before channel_ready is not supported" }])
    expect(r.state).toEqual(s)
    expect(events(accepted(run(p.a, someAdd("early"))))).toEqual([
      { _tag: "HtlcRejected", channelId: s.params.channelId, requestId: "early", reason: "the channel is not ready" }
    ])
    expect(accepted(run(p.a, { _tag: "SignNow" })).outputs).toEqual([])
    refused(run(p.a, { _tag: "UpdateFee", feeratePerKw: 3000 }), "WaitChannelReady", "UpdateFee", "not valid before channel_ready")
  })
})

// ---- normal operation ------------------------------------------------------------------------------------------

describe("normal operation: inputs out of turn", () => {
  it("a message before channel_reestablish, or while the signer works, is refused", () => {
    const p = opened("turn")
    p.disconnect()
    p.reconnect()
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const message = Shutdown.make({ channelId: s.commitments.params.channelId, scriptpubkey: p.b.ctx.shutdownScript })
    refused(run(p.a, { _tag: "PeerMessage", message }), "Normal", "PeerMessage", "a message before channel_reestablish")
    p.settle()
    p.add(p.a, 1_000_000n, "turn")
    const signing = accepted(run(p.a, { _tag: "SignNow" })).state
    expect(signing._tag === "Normal" ? signing.awaiting?._tag : undefined).toBe("Commit")
    refused(run(p.a, { _tag: "PeerMessage", message }, signing), "Normal", "PeerMessage", "a message while the signer is working (Signed must come first)")
  })

  it("an HTLC once the peer sent shutdown is rejected as an event (BOLT 2: no update_add_htlc after shutdown)", () => {
    const p = opened("peerclosing")
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const r = accepted(run(p.a, someAdd("after"), { ...s, shutdown: { ...s.shutdown, remoteScript: p.b.ctx.shutdownScript } }))
    expect(events(r)).toEqual([{ _tag: "HtlcRejected", channelId: s.commitments.params.channelId, requestId: "after", reason: "the peer is closing the channel" }])
  })

  it("a second Close is refused; the funding depth records a short_channel_id when given one; a funding transaction is refused", () => {
    const p = opened("cmds")
    close(p, p.a)
    refused(run(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 }), "Normal", "Close", "shutdown was already sent")
    const q = opened("depth")
    const s = q.a.state
    const scid = alias("depth-scid")
    expect(accepted(run(q.a, { _tag: "FundingDepth", depth: 10, shortChannelId: scid })).state).toEqual({ ...s, shortChannelId: scid })
    expect(accepted(run(q.a, { _tag: "FundingDepth", depth: 10 })).state).toEqual(s)
    refused(run(q.a, { _tag: "FundingTransaction", tx: new Uint8Array(10) }), "Normal", "FundingTransaction", "not valid in normal operation")
  })
})

describe("normal operation: TLVs from the command to the wire and back", () => {
  it("a blinded HTLC's path key goes out in update_add_htlc (blinded_path) and comes back in HtlcReceived", () => {
    const p = opened("blind")
    const pathKey = p.a.point(7n)
    expect(p.input(p.a, { ...someAdd("blind"), paymentHash: new Uint8Array(32).fill(2), pathKey })).toBeUndefined()
    const add = p.b.inbox[0]
    expect(add?._tag === "UpdateAddHtlc" ? add.tlvs.blindedPath : undefined).toEqual(pathKey)
    p.settle()
    expect(p.b.eventsOf("HtlcReceived")[0]?.pathKey).toEqual(pathKey)
  })

  it("attribution_data of a fulfill and of a fail goes out in the message and comes back in HtlcResolved (BOLT 4 attributable failures)", () => {
    const p = opened("attr")
    p.add(p.a, 1_000_000n, "attr-ok")
    p.add(p.a, 2_000_000n, "attr-ko")
    p.settle()
    const attribution = new Uint8Array(ATTRIBUTION_DATA_LENGTH).fill(7)
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("attr-ok"), attributionData: attribution })).toBeUndefined()
    expect(p.input(p.b, { _tag: "FailHtlc", htlcId: 1n, reason: new Uint8Array(32).fill(3), attributionData: attribution })).toBeUndefined()
    expect(p.a.inbox.map((m) => (m._tag === "UpdateFulfillHtlc" || m._tag === "UpdateFailHtlc" ? m.tlvs.attributionData : undefined))).toEqual([
      attribution,
      attribution
    ])
    p.settle()
    const resolved = p.a.eventsOf("HtlcResolved").map((e) => e.result)
    expect(resolved).toEqual([
      { _tag: "Fulfilled", preimage: preimageFor("attr-ok"), attributionData: attribution },
      { _tag: "Failed", reason: new Uint8Array(32).fill(3), attributionData: attribution }
    ])
  })

  it("without attribution_data, HtlcResolved's result has no such key (not one holding undefined)", () => {
    const p = opened("noattr")
    p.add(p.a, 1_000_000n, "noattr-ok")
    p.add(p.a, 2_000_000n, "noattr-ko")
    p.settle()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("noattr-ok") })).toBeUndefined()
    expect(p.input(p.b, { _tag: "FailHtlc", htlcId: 1n, reason: new Uint8Array(32).fill(3) })).toBeUndefined()
    p.settle()
    expect(p.a.eventsOf("HtlcResolved").map((e) => Object.keys(e.result))).toStrictEqual([
      ["_tag", "preimage"],
      ["_tag", "reason"]
    ])
  })
})

describe("normal operation: the signer's answers", () => {
  it("an answer with nothing asked is refused; the signer failing force-closes with its reason (a local failure)", () => {
    const p = opened("sig")
    const point: ChannelInput = { _tag: "Signed", result: { _tag: "Point", commitmentNumber: 1n, point: p.a.point(1n) } }
    refused(run(p.a, point), "Normal", "Signed", "no signer request pending")
    p.add(p.a, 1_000_000n, "sig")
    const signing = accepted(run(p.a, { _tag: "SignNow" })).state
    refused(run(p.a, point, signing), "Normal", "Signed", "signer answer Point while awaiting Commit")
    const r = accepted(run(p.a, signerFailed, signing))
    expect(tags(r.outputs)).toEqual(["SendError", "Persist ForceClose", "Emit ChannelClosed"])
    expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "signer: hsm unplugged" })
  })

  it("a revocation without the secret, or with a secret not ours, force-closes (a local failure: we cannot revoke)", () => {
    const p = opened("rev")
    p.add(p.a, 1_000_000n, "rev")
    p.signNow(p.a)
    p.deliver(p.b) // the add
    const commit = p.b.inbox[0]
    if (commit?._tag !== "CommitmentSigned") throw new Error("expected commitment_signed")
    const revoking = accepted(run(p.b, { _tag: "PeerMessage", message: commit })).state
    expect(revoking._tag === "Normal" ? revoking.awaiting?._tag : undefined).toBe("Revoke")
    const noSecret = accepted(run(p.b, { _tag: "Signed", result: { _tag: "Revocation", nextPerCommitmentPoint: p.b.point(2n) } }, revoking))
    expect(closedReason(noSecret)).toEqual({ _tag: "LocalForceClose", reason: "the signer released no secret" })
    const wrong = accepted(
      run(p.b, { _tag: "Signed", result: { _tag: "Revocation", perCommitmentSecret: new Uint8Array(32).fill(9), nextPerCommitmentPoint: p.b.point(2n) } }, revoking)
    )
    expect(closedReason(wrong)).toEqual({ _tag: "LocalForceClose", reason: "SignerSecretMismatch" })
  })
})

// ---- closing -------------------------------------------------------------------------------------------------

describe("closing", () => {
  it("a shutdown with a script form not allowed: a warning naming the rule and why, the message ignored (BOLT 2: SHOULD send a warning)", () => {
    const p = opened("badscript")
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const message = Shutdown.make({ channelId: s.commitments.params.channelId, scriptpubkey: new Uint8Array([0x51, 0x51, 0x51]) })
    const r = accepted(run(p.a, { _tag: "PeerMessage", message }))
    expect(r.outputs).toEqual([
      { _tag: "SendWarning", channelId: s.commitments.params.channelId, message: "ShutdownRejected: not an allowed shutdown scriptpubkey form" }
    ])
    expect(r.state).toEqual(s)
  })

  it("a closing_signed before either shutdown fails the channel as unexpected", () => {
    const p = negotiating("early-cs")
    const cs = p.b.inbox.find((m) => m._tag === "ClosingSigned") ?? p.a.inbox.find((m) => m._tag === "ClosingSigned")
    const q = opened("early-cs2")
    if (cs === undefined) throw new Error("no closing_signed")
    const r = accepted(run(q.a, { _tag: "PeerMessage", message: cs }))
    expect(r.state._tag).toBe("Failed")
    expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: "unexpected ClosingSigned in Normal" })
  })

  it("negotiating: messages before channel_reestablish or while the signer works are refused; HTLCs rejected; depth ignored; other commands refused", () => {
    const { p, s, idle } = idleNegotiating("neg")
    const message = Shutdown.make({ channelId: s.commitments.params.channelId, scriptpubkey: p.b.ctx.shutdownScript })
    refused(run(p.a, { _tag: "PeerMessage", message }, { ...idle, connection: "Reestablishing" }), "Negotiating", "PeerMessage", "a message before channel_reestablish")
    const request = { _tag: "SignClosing" as const, tx: new Uint8Array(0) }
    const signing: ChannelState = { ...idle, awaiting: { _tag: "ClosingSigned", request, signing: { _tag: "Propose", fee: sat(1000n) } } }
    refused(run(p.a, { _tag: "PeerMessage", message }, signing), "Negotiating", "PeerMessage", "a message while the signer is working (Signed must come first)")
    expect(events(accepted(run(p.a, someAdd("neg"), idle)))).toEqual([
      { _tag: "HtlcRejected", channelId: s.commitments.params.channelId, requestId: "neg", reason: "the channel is closing" }
    ])
    const depth = accepted(run(p.a, { _tag: "FundingDepth", depth: 9 }, idle))
    expect(depth.outputs).toEqual([])
    expect(depth.state).toEqual(idle)
    refused(run(p.a, { _tag: "UpdateFee", feeratePerKw: 3000 }, idle), "Negotiating", "UpdateFee", "not valid in Negotiating")
  })

  it("negotiating: an answer with nothing asked is refused; a wrong answer names what is awaited; the signer failing force-closes", () => {
    const { p, idle } = idleNegotiating("negsig")
    const point: ChannelInput = { _tag: "Signed", result: { _tag: "Point", commitmentNumber: 1n, point: p.a.point(1n) } }
    refused(run(p.a, point, idle), "Negotiating", "Signed", "no signer request pending")
    const request = { _tag: "SignClosing" as const, tx: new Uint8Array(0) }
    const signing: ChannelState = { ...idle, awaiting: { _tag: "ClosingSigned", request, signing: { _tag: "Propose", fee: sat(1000n) } } }
    refused(run(p.a, point, signing), "Negotiating", "Signed", "signer answer Point while awaiting ClosingSigned")
    const r = accepted(run(p.a, signerFailed, signing))
    expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "signer: hsm unplugged" })
  })
})

// ---- second batch: more phases and paths -----------------------------------------------------------

/** Delivers one message at a time (the receiver signs what it can after each) until `done` holds. */
const until = (p: Pair, done: () => boolean, max = 60): void => {
  for (let i = 0; i < max && !done(); i++) {
    const node = p.a.inbox.length > 0 ? p.a : p.b.inbox.length > 0 ? p.b : undefined
    if (node === undefined) break
    p.deliver(node)
    p.signNow(node)
  }
  if (!done()) throw new Error("never reached")
}
/** option_simple_close: Alice closes; Bob holds her closing_complete, and his state with no signer request pending. */
const closingCompleteAtBob = (tag: string) => {
  const p = pairOf(tag)
  p.open({ features: new Set([...p.a.ctx.features, "option_simple_close"]) })
  close(p, p.a)
  until(p, () => p.b.inbox.some((m) => m._tag === "ClosingComplete"))
  const cc = p.b.inbox.find((m) => m._tag === "ClosingComplete")
  const s = p.b.state
  if (cc?._tag !== "ClosingComplete" || s === undefined || (s._tag !== "Negotiating" && s._tag !== "Closing")) throw new Error("no closing_complete")
  const { awaiting: _asked, ...idle } = s
  return { p, cc, s, idle }
}

describe("commands the channel rejects as events (the payment layer hears about every HTLC)", () => {
  it("an HTLC while the peer is away, or after our Close, is rejected with the reason", () => {
    const p = opened("rej")
    p.disconnect()
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const channelId = s.commitments.params.channelId
    expect(events(accepted(run(p.a, someAdd("away"))))).toEqual([{ _tag: "HtlcRejected", channelId, requestId: "away", reason: "the peer is not connected" }])
    p.reconnect()
    p.settle()
    close(p, p.a)
    expect(events(accepted(run(p.a, someAdd("closing"))))).toEqual([{ _tag: "HtlcRejected", channelId, requestId: "closing", reason: "the channel is closing" }])
  })

  it("a preimage for a channel closed cooperatively is refused: no HTLC went on chain (BOLT 2: none once shutdown is done)", () => {
    const p = closed("claim")
    refused(run(p.a, { _tag: "ClaimPreimage", htlcId: 0n, preimage: preimageFor("x") }), "Closed", "ClaimPreimage", "the channel closed with no HTLC on chain")
  })

  it("an unexpected message type in normal operation fails the channel naming it", () => {
    const p = opened("oddmsg")
    const created = p.log.find((l) => l.message._tag === "FundingCreated")?.message
    if (created === undefined) throw new Error("no funding_created")
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: created }))
    expect(r.state._tag).toBe("Failed")
    expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: "unexpected FundingCreated in Normal" })
  })
})

describe("the fundee's funding timeout (BOLT 2: SHOULD forget the channel after 2016 blocks without the funding)", () => {
  it("a depth report without the chain height does not count: the channel is kept", () => {
    const p = pairOf("fto")
    p.openFunded()
    expect(p.input(p.b, { _tag: "FundingDepth", depth: 0, tipHeight: 100 })).toBeUndefined()
    const r = accepted(run(p.b, { _tag: "FundingDepth", depth: 0 }))
    expect(r.state._tag).toBe("WaitChannelReady")
    expect(r.outputs).toEqual([])
  })
})

describe("channel_ready we cannot make", () => {
  it("an option_scid_alias channel without our alias force-closes with the rule (a local failure)", () => {
    const p = pairOf("noalias")
    p.openFunded({ channelType: { name: "static_remote_key", scidAlias: true, zeroConf: false } })
    const s = p.a.state
    if (s?._tag !== "WaitChannelReady") throw new Error("not WaitChannelReady")
    const { localAlias: _alias, ...withoutAlias } = s
    const r = accepted(run(p.a, { _tag: "FundingDepth", depth: 6 }, withoutAlias))
    expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "ChannelReadyRejected: option_scid_alias: channel_ready must carry an alias" })
  })
})

describe("the signer's signatures for a commitment nobody is signing", () => {
  it("force-closes naming the rule (a local failure)", () => {
    const p = opened("nocommit")
    p.add(p.a, 1_000_000n, "nocommit")
    const s = p.a.state
    const signing = accepted(run(p.a, { _tag: "SignNow" })).state
    if (s?._tag !== "Normal" || signing._tag !== "Normal" || signing.awaiting === undefined) throw new Error("not signing")
    // The request is pending but the commitments never started signing.
    const r = accepted(run(p.a, { _tag: "Signed", result: { _tag: "CounterpartySignatures", signature: new Uint8Array(64), htlcSignatures: [] } }, { ...s, awaiting: signing.awaiting }))
    expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "NoSignatureRequested" })
  })
})

describe("received dust-exposed HTLCs (BOLT 2: over max_dust_htlc_exposure_msat, SHOULD fail once committed)", () => {
  it("a flagged add not yet committed by a revocation keeps its flag until it is", () => {
    const p = opened("dustkeep")
    p.b.ctx = { ...p.b.ctx, maxDustHtlcExposure: msat(1_000_000n) }
    p.add(p.a, 2_000_000n, "dk-0")
    p.signNow(p.a)
    p.deliver(p.b)
    p.deliver(p.b)
    p.signNow(p.b)
    // Bob revoked and signed for the first add; the second one reaches him before Alice's revocation.
    p.add(p.a, 2_000_000n, "dk-1")
    p.deliver(p.b)
    expect(p.a.inbox.map((m) => m._tag)).toEqual(["RevokeAndAck", "CommitmentSigned"])
    p.deliver(p.a)
    p.deliver(p.a)
    expect(p.b.inbox.map((m) => m._tag)).toEqual(["RevokeAndAck"])
    p.deliver(p.b)
    // Alice's revocation committed the first add only: the second keeps its flag.
    const s = p.b.state
    expect(s?._tag === "Normal" ? s.dustExposed : undefined).toEqual([1n])
    p.settle()
    expect(p.b.eventsOf("HtlcReceived").map((e) => [e.htlcId, e.dustExposureExceeded])).toEqual([
      [0n, true],
      [1n, true]
    ])
  })
})

describe("closing: more", () => {
  it("a closing_signed that finds both shutdowns exchanged before the negotiation started starts it and is handled as in it", () => {
    const p = opened("csready")
    close(p, p.a)
    until(p, () => p.b.phase === "Negotiating" && p.b.inbox[0]?._tag === "ClosingSigned")
    const s = p.b.state
    const cs = p.b.inbox[0]
    if (s?._tag !== "Negotiating" || s.awaiting !== undefined || cs === undefined) throw new Error("not waiting for closing_signed")
    const direct = accepted(run(p.b, { _tag: "PeerMessage", message: cs }))
    // The same channel one step earlier: Normal, both scripts known, nothing pending.
    const normal: ChannelState = makeNormal({
      nextUpdateId: s.nextUpdateId,
      connection: s.connection,
      commitments: s.commitments,
      shutdown: s.shutdown,
      closingFeeratePerKw: s.closingFeeratePerKw,
      revealedSecrets: s.revealedSecrets,
      localAlias: s.localAlias,
      fulfilledByPeer: []
    })
    const viaNormal = accepted(run(p.b, { _tag: "PeerMessage", message: cs }, normal))
    expect(viaNormal.state._tag).toBe("Negotiating")
    expect(viaNormal).toEqual(direct)
  })

  it("our agreed closing transaction that does not parse force-closes (a local failure)", () => {
    const p = negotiating("badclose")
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error("not Negotiating")
    const request = { _tag: "SignClosing" as const, tx: new Uint8Array(0) }
    const agree = { _tag: "Agree" as const, fee: sat(1000n), tx: new Uint8Array([1, 2]), remoteSignature: new Uint8Array(64), reply: false }
    const state: ChannelState = { ...s, awaiting: { _tag: "ClosingSigned", request, signing: agree } }
    const r = accepted(run(p.a, { _tag: "Signed", result: { _tag: "ClosingSignature", signature: new Uint8Array(64) } }, state))
    expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "closing transaction does not parse" })
  })

  it("a closing signature for a simple-close request in a legacy negotiation is refused, naming what is awaited", () => {
    const p = negotiating("mixed")
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error("not Negotiating")
    const request = { _tag: "SignClosing" as const, tx: new Uint8Array(0) }
    const state: ChannelState = { ...s, awaiting: { _tag: "ClosingComplete", request, fee: sat(1000n), locktime: 0, signatures: [] } }
    refused(
      run(p.a, { _tag: "Signed", result: { _tag: "ClosingSignature", signature: new Uint8Array(64) } }, state),
      "Negotiating",
      "Signed",
      "signer answer ClosingSignature while awaiting ClosingComplete"
    )
  })

  it("simple close: a closing_complete naming another closee script, or a closer script not allowed, gets a warning and is ignored (BOLT 2 SHOULD)", () => {
    const { p, cc, s, idle } = closingCompleteAtBob("simplewarn")
    const channelId = s.commitments.params.channelId
    const other = accepted(run(p.b, { _tag: "PeerMessage", message: { ...cc, closeeScriptpubkey: p.a.ctx.shutdownScript } }, idle))
    expect(other.outputs).toEqual([{ _tag: "SendWarning", channelId, message: "ClosingRejected: closee_scriptpubkey is not the last script we sent" }])
    expect(other.state).toEqual(idle)
    const odd = accepted(run(p.b, { _tag: "PeerMessage", message: { ...cc, closerScriptpubkey: new Uint8Array([0x51, 0x51, 0x51]) } }, idle))
    expect(odd.outputs).toEqual([{ _tag: "SendWarning", channelId, message: "ClosingRejected: closer_scriptpubkey is not an allowed form" }])
  })
})

describe("normal operation: removing HTLCs and fees while the peer is away (BOLT 2: updates wait for the reestablish)", () => {
  it("a fail, a malformed fail, a fulfill and an update_fee are kept, not sent, while disconnected; all go out after channel_reestablish", () => {
    const p = opened("away")
    for (const label of ["away-0", "away-1", "away-2"]) p.add(p.a, 2_000_000n, label)
    p.settle()
    p.disconnect()
    const malformed = new Uint8Array(32).fill(4)
    const inputs: ReadonlyArray<ChannelInput> = [
      { _tag: "FailHtlc", htlcId: 0n, reason: new Uint8Array(32).fill(3) },
      { _tag: "FailMalformedHtlc", htlcId: 1n, sha256OfOnion: malformed, failureCode: 0x8000 | 0x4000 | 5 },
      { _tag: "FulfillHtlc", htlcId: 2n, preimage: preimageFor("away-2") }
    ]
    for (const input of inputs) {
      const r = accepted(run(p.b, input))
      expect(r.outputs.filter((o) => o._tag === "Send")).toEqual([])
      expect(p.input(p.b, input)).toBeUndefined()
    }
    const fee = accepted(run(p.a, { _tag: "UpdateFee", feeratePerKw: 3000 }))
    expect(fee.outputs.filter((o) => o._tag === "Send")).toEqual([])
    expect(p.input(p.a, { _tag: "UpdateFee", feeratePerKw: 3000 })).toBeUndefined()
    p.reconnect()
    p.settle()
    // The preimage is reported on receipt; the failures once irrevocably committed.
    expect(p.a.eventsOf("HtlcResolved").map((e) => e.result._tag)).toEqual(["Fulfilled", "Failed", "Malformed"])
    const s = p.b.state
    expect(s?._tag === "Normal" ? s.commitments.localCommit.spec.feeratePerKw : undefined).toBe(3000)
  })

  it("a fail or malformed fail of an HTLC we do not have is refused (BOLT 2: the id must be of an HTLC offered to us)", () => {
    const p = opened("unknown")
    for (const input of [
      { _tag: "FailHtlc", htlcId: 7n, reason: new Uint8Array(32) },
      { _tag: "FailMalformedHtlc", htlcId: 7n, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 }
    ] as const) {
      const r = run(p.b, input)
      if (Result.isSuccess(r)) throw new Error("accepted")
      expect(r.failure._tag).toBe("UnknownHtlcId")
    }
  })

  it("a second Close while our shutdown still waits for our updates to be signed is refused", () => {
    const p = opened("pending-close")
    p.add(p.a, 1_000_000n, "pending-close")
    close(p, p.a)
    const s = p.a.state
    expect(s?._tag === "Normal" ? [s.pendingClose !== undefined, s.shutdown.localScript] : undefined).toEqual([true, undefined])
    refused(run(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw: 2500 }), "Normal", "Close", "shutdown was already sent")
  })
})

// ---- third batch: shutdown, revocations, the funding output spent in normal operation ------------------

describe("shutdown in normal operation (BOLT 2 Closing Initiation: shutdown)", () => {
  it("the peer's shutdown is stored before we answer, reported as started by the peer; our reply uses our payout script; a repeat changes nothing", () => {
    const p = opened("sd")
    close(p, p.a)
    const theirs = p.b.inbox[0]
    if (theirs?._tag !== "Shutdown") throw new Error("expected shutdown")
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: theirs }))
    const s = p.b.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    expect(tags(r.outputs).slice(0, 4)).toEqual(["Persist ShutdownScript", "Emit ShutdownStarted", "Persist ShutdownScript", "Send Shutdown"])
    expect(r.outputs[0]).toMatchObject({ update: { side: "counterparty", script: theirs.scriptpubkey } })
    expect(events(r).filter((e) => e._tag === "ShutdownStarted")).toEqual([{ _tag: "ShutdownStarted", channelId: s.commitments.params.channelId, initiator: "remote" }])
    expect(r.outputs[2]).toMatchObject({ update: { side: "holder", script: p.b.ctx.shutdownScript } })
    const reply = r.outputs[3]
    expect(reply?._tag === "Send" && reply.message._tag === "Shutdown" ? reply.message.scriptpubkey : undefined).toEqual(p.b.ctx.shutdownScript)
    // The initiator is told once (by its own Close); the peer's reply starts nothing new.
    expect(p.a.eventsOf("ShutdownStarted").map((e) => e.initiator)).toEqual(["local"])
    expect(p.input(p.b, { _tag: "PeerMessage", message: theirs })).toBeUndefined()
    const again = accepted(run(p.b, { _tag: "PeerMessage", message: theirs }))
    expect(again.outputs).toEqual([])
  })

  it("a configured upfront script is our reply when the peer closes and we gave none at open", () => {
    const p = opened("sd-up")
    const upfront = p.b.ctx.shutdownScript.slice()
    upfront[upfront.length - 1] = (upfront[upfront.length - 1] ?? 0) ^ 1
    p.b.ctx = { ...p.b.ctx, config: { ...p.b.ctx.config, upfrontShutdownScript: upfront } }
    close(p, p.a)
    p.deliver(p.b)
    const reply = p.a.inbox[0]
    expect(reply?._tag === "Shutdown" ? reply.scriptpubkey : undefined).toEqual(upfront)
  })

  it("when our payout script cannot be sent, the channel fails (a local failure) saying why", () => {
    const p = opened("sd-bad")
    p.b.ctx = { ...p.b.ctx, shutdownScript: new Uint8Array([0x51, 0x51, 0x51]) }
    close(p, p.a)
    const theirs = p.b.inbox[0]
    if (theirs === undefined) throw new Error("no shutdown")
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: theirs }))
    expect(closedReason(r)).toEqual({ _tag: "LocalForceClose", reason: "cannot send shutdown: ShutdownRejected: not an allowed shutdown scriptpubkey form" })
  })

  it("a Close with a script form not allowed is refused; a Close while the peer's updates wait for our signature is accepted (sent once they are signed)", () => {
    const p = opened("close-cmd")
    const bad = run(p.a, { _tag: "Close", scriptPubKey: new Uint8Array([0x51, 0x51, 0x51]), feeratePerKw: 2500 })
    if (Result.isSuccess(bad)) throw new Error("accepted")
    expect(bad.failure).toMatchObject({ _tag: "ShutdownRejected", rule: "InvalidScript" })
    // Bob acked Alice's add (revoked) but has not signed it for her yet.
    p.add(p.a, 1_000_000n, "close-cmd")
    p.signNow(p.a)
    p.deliver(p.b)
    p.deliver(p.b)
    const s = p.b.state
    expect(s?._tag === "Normal" ? s.commitments.remoteChanges.acked.length : 0).toBe(1)
    const r = accepted(run(p.b, { _tag: "Close", scriptPubKey: p.b.ctx.shutdownScript, feeratePerKw: 2500 }))
    expect(r.state).toMatchObject({ _tag: "Normal", pendingClose: { scriptPubKey: p.b.ctx.shutdownScript }, closingFeeratePerKw: 2500 })
    expect(r.outputs.filter((o) => o._tag === "Send")).toEqual([])
  })

  it("a redundant channel_ready in normal operation is ignored, but a new alias in it is taken (BOLT 2: MAY send channel_ready with a different alias)", () => {
    const p = opened("ready-alias")
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const ready = p.log.find((l) => l.from === p.b.name && l.message._tag === "ChannelReady")?.message
    if (ready?._tag !== "ChannelReady") throw new Error("no channel_ready")
    const fresh = alias("a-new-alias-for-bob")
    const r = accepted(run(p.a, { _tag: "PeerMessage", message: { ...ready, tlvs: { shortChannelId: fresh } } }))
    expect(r.outputs).toEqual([])
    expect(r.state).toEqual({ ...s, remoteAlias: fresh })
    expect(accepted(run(p.a, { _tag: "PeerMessage", message: { ...ready, tlvs: {} } })).state).toEqual(s)
  })
})

describe("signing and revoking", () => {
  it("SignNow does nothing while disconnected, while the signer works, or while our last commitment awaits its revocation", () => {
    const p = opened("signnow")
    p.add(p.a, 1_000_000n, "sn-0")
    p.disconnect()
    expect(accepted(run(p.a, { _tag: "SignNow" })).outputs).toEqual([])
    p.reconnect()
    p.settle()
    p.add(p.a, 1_000_000n, "sn-1")
    const signing = accepted(run(p.a, { _tag: "SignNow" }))
    expect(tags(signing.outputs)).toEqual(["Sign"])
    expect(accepted(run(p.a, { _tag: "SignNow" }, signing.state)).outputs).toEqual([])
    p.signNow(p.a)
    p.add(p.a, 1_000_000n, "sn-2")
    // commitment_signed sent, no revoke_and_ack yet: the next one waits (BOLT 2).
    expect(accepted(run(p.a, { _tag: "SignNow" })).outputs).toEqual([])
  })

  it("we keep the secrets of our last two revocations (what channel_reestablish checks and retransmits)", () => {
    const p = opened("secrets")
    for (const label of ["s0", "s1", "s2"]) {
      p.add(p.a, 1_000_000n, label)
      p.settle()
    }
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    expect(s.commitments.localCommit.number).toBe(3n)
    expect(s.revealedSecrets.map((r) => r.commitmentNumber)).toEqual([1n, 2n])
  })

  it("our commitment_signed leaves after the monitor's copy of the peer's commitment (the monitor is never behind the wire)", () => {
    const p = opened("order")
    p.add(p.a, 1_000_000n, "order")
    const signing = accepted(run(p.a, { _tag: "SignNow" }))
    const request = signing.outputs[0]
    if (request?._tag !== "Sign") throw new Error("expected Sign")
    const sigs = p.answer(p.a, request.request)
    const committed = accepted(run(p.a, { _tag: "Signed", result: sigs }, signing.state))
    expect(tags(committed.outputs)).toEqual(["Persist CounterpartyCommitment", "Send CommitmentSigned"])
    expect(committed.outputs[0]).toMatchObject({ update: { _tag: "CounterpartyCommitment", commitment: { commitmentNumber: 1n, feeratePerKw: 2500 } } })
    expect(committed.state).toMatchObject({ commitSentAtLocalNumber: 0n })
  })
})

describe("the funding output spent while the channel is open", () => {
  it("by our commitment: a local force close we did not ask for; by another transaction: the peer's force close", () => {
    const p = opened("spent-n")
    const ours = accepted(run(p.a, { _tag: "FundingSpent", txid: commitTxidOf(p.a.state) }))
    expect(ours.state).toMatchObject({ _tag: "Closed", reason: { _tag: "LocalForceClose", reason: "our commitment was published" } })
    expect(closedReason(ours)).toEqual({ _tag: "LocalForceClose", reason: "our commitment was published" })
    const other = new Uint8Array(32).fill(0xcd)
    expect(closedReason(accepted(run(p.a, { _tag: "FundingSpent", txid: other })))).toEqual({ _tag: "RemoteForceClose", txid: other })
    const q = pairOf("spent-w")
    q.openFunded()
    expect(accepted(run(q.a, { _tag: "FundingSpent", txid: commitTxidOf(q.a.state) })).state).toMatchObject({ reason: { _tag: "LocalForceClose" } })
  })

  it("after the mutual close was broadcast: our closing transaction confirms cooperatively (stored, already announced); another one is a force close", () => {
    const p = closing("spent-c")
    const txid = mutualCloseTxid(p.a)
    const coop = accepted(run(p.a, { _tag: "FundingSpent", txid }))
    expect(tags(coop.outputs)).toEqual(["Persist ChannelClosed"])
    expect(coop.state).toMatchObject({ _tag: "Closed", reason: { _tag: "Cooperative", closingTxid: txid } })
    const other = new Uint8Array(32).fill(0xef)
    expect(closedReason(accepted(run(p.a, { _tag: "FundingSpent", txid: other })))).toEqual({ _tag: "RemoteForceClose", txid: other })
    expect(closedReason(accepted(run(p.a, { _tag: "FundingSpent", txid: commitTxidOf(p.a.state) })))).toEqual({
      _tag: "LocalForceClose",
      reason: "our commitment was published"
    })
  })
})

describe("more of the signer's answers and the received HTLCs", () => {
  it("a revocation while our commitment_signed is being signed is refused, naming what is awaited", () => {
    const p = opened("commit-rev")
    p.add(p.a, 1_000_000n, "commit-rev")
    const signing = accepted(run(p.a, { _tag: "SignNow" })).state
    const r = run(p.a, { _tag: "Signed", result: { _tag: "Revocation", perCommitmentSecret: new Uint8Array(32).fill(1), nextPerCommitmentPoint: p.a.point(2n) } }, signing)
    refused(r, "Normal", "Signed", "signer answer Revocation while awaiting Commit")
  })

  it("an HTLC received earlier stays pending (not yet resolved) across our next revocations", () => {
    const p = opened("held")
    p.add(p.a, 1_000_000n, "held-0")
    p.settle()
    p.add(p.a, 1_000_000n, "held-1")
    p.settle()
    const s = p.b.state
    expect(s?._tag === "Normal" ? (s.receivedHtlcs ?? []).map((h) => h.htlcId) : undefined).toEqual([0n, 1n])
  })
})

describe("closing: scripts, repeats, a counter-proposal", () => {
  it("our Close's script is the one our shutdown carries (not the node's default payout script)", () => {
    const p = opened("own-script")
    const script = p.b.ctx.shutdownScript
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: script, feeratePerKw: 2500 })).toBeUndefined()
    const sd = p.b.inbox[0]
    expect(sd?._tag === "Shutdown" ? sd.scriptpubkey : undefined).toEqual(script)
    expect(p.a.updates.at(-1)).toMatchObject({ _tag: "ShutdownScript", side: "holder", script })
  })

  it("an update_add_htlc after the peer's shutdown fails the channel (BOLT 2: MUST NOT send update_add_htlc after shutdown)", () => {
    const p = opened("add-after")
    close(p, p.a)
    const sd = p.b.inbox[0]
    const s = p.b.state
    if (sd?._tag !== "Shutdown" || s?._tag !== "Normal") throw new Error("no shutdown")
    // Bob has an update of his own pending, so he cannot answer yet: still Normal after Alice's shutdown.
    p.add(p.b, 1_000_000n, "add-after")
    p.deliver(p.b)
    expect(p.b.phase).toBe("Normal")
    const add = UpdateAddHtlc.make({
      channelId: s.commitments.params.channelId,
      id: 0n,
      amountMsat: msat(1_000_000n),
      paymentHash: new Uint8Array(32).fill(1),
      cltvExpiry: 800_000,
      onionRoutingPacket: new Uint8Array(1366)
    })
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: add }))
    expect(r.state._tag).toBe("Failed")
    expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: "ShutdownRejected: update_add_htlc after shutdown" })
  })

  it("repeats after a reconnection are ignored while negotiating (shutdown, channel_ready) and anything late once closing", () => {
    const { p, s, idle } = idleNegotiating("repeats")
    const sd = p.log.find((l) => l.from === p.b.name && l.message._tag === "Shutdown")?.message
    const ready = p.log.find((l) => l.from === p.b.name && l.message._tag === "ChannelReady")?.message
    if (sd === undefined || ready === undefined) throw new Error("no shutdown or channel_ready")
    for (const message of [sd, ready]) {
      const r = accepted(run(p.a, { _tag: "PeerMessage", message }, idle))
      expect(r.outputs).toEqual([])
      expect(r.state).toEqual(idle)
    }
    const fee = UpdateFee.make({ channelId: s.commitments.params.channelId, feeratePerKw: 3000 })
    expect(accepted(run(p.a, { _tag: "PeerMessage", message: fee }, idle)).state._tag).toBe("Failed")
    const c = closing("repeats-c")
    expect(accepted(run(c.a, { _tag: "PeerMessage", message: fee })).outputs).toEqual([])
  })

  it("legacy, without fee_range: the fundee whose range excludes the funder's fee counter-proposes its bound; both sign the same transaction", () => {
    const p = opened("counter")
    // Bob's estimate is 40% of Alice's closing feerate: his range tops at 80% of her fee.
    p.b.ctx = { ...p.b.ctx, feerateEstimatePerKw: 1000 }
    close(p, p.a)
    until(p, () => p.b.inbox[0]?._tag === "ClosingSigned")
    const first = p.b.inbox[0]
    if (first?._tag !== "ClosingSigned") throw new Error("no closing_signed")
    // A peer without fee_range (BOLT 2: the receiver then proposes a fee "strictly between", or its own bound).
    p.b.inbox[0] = { ...first, tlvs: {} }
    p.settle()
    const fees = p.log.flatMap((l) => (l.message._tag === "ClosingSigned" ? [[l.from, l.message.feeSatoshis] as const] : []))
    expect(fees[0]).toEqual([p.a.name, first.feeSatoshis])
    expect(fees[1]?.[0]).toBe(p.b.name)
    expect(fees[1]?.[1]).toBeLessThan(first.feeSatoshis)
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
    expect(mutualCloseTxid(p.a)).toEqual(mutualCloseTxid(p.b))
  })
})

describe("fulfilled HTLCs are forgotten once irrevocably removed (a bounded state)", () => {
  it("the peer's fulfill is remembered until its removal is committed, then dropped", () => {
    const p = opened("ff")
    p.add(p.a, 1_000_000n, "ff")
    p.settle()
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage: preimageFor("ff") })).toBeUndefined()
    p.deliver(p.a)
    const mid = p.a.state
    expect(mid?._tag === "Normal" ? mid.fulfilledByPeer : undefined).toEqual([0n])
    p.settle()
    const end = p.a.state
    expect(end?._tag === "Normal" ? end.fulfilledByPeer : undefined).toEqual([])
  })
})

describe("answers for a retransmission, and removals of HTLCs we never offered", () => {
  it("in normal operation, a point while our revoke_and_ack is rebuilt, or a revocation during the data-loss check, is refused naming what is awaited", () => {
    const p = opened("rt")
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const retransmit: ChannelState = { ...s, awaiting: { _tag: "RetransmitRevoke", request: { _tag: "ReleaseRevoked", revokeCommitmentNumber: 0n, nextCommitmentNumber: 2n }, before: [], after: [] } }
    refused(
      run(p.a, { _tag: "Signed", result: { _tag: "Point", commitmentNumber: 1n, point: p.a.point(1n) } }, retransmit),
      "Normal",
      "Signed",
      "signer answer Point while awaiting RetransmitRevoke"
    )
    const check: ChannelState = {
      ...s,
      awaiting: { _tag: "DataLossCheck", request: { _tag: "PerCommitmentPoint", commitmentNumber: 3n }, commitmentNumber: 3n, secret: new Uint8Array(32).fill(5) }
    }
    refused(
      run(p.a, { _tag: "Signed", result: { _tag: "Revocation", perCommitmentSecret: new Uint8Array(32).fill(1), nextPerCommitmentPoint: p.a.point(2n) } }, check),
      "Normal",
      "Signed",
      "signer answer Revocation while awaiting DataLossCheck"
    )
  })

  it("the peer failing an HTLC id we never offered fails the channel (BOLT 2: the id must be of an HTLC in its commitment)", () => {
    const p = opened("unk-rm")
    const s = p.a.state
    if (s?._tag !== "Normal") throw new Error("not Normal")
    const channelId = s.commitments.params.channelId
    for (const message of [
      UpdateFailHtlc.make({ channelId, id: 5n, reason: new Uint8Array(32) }),
      UpdateFailMalformedHtlc.make({ channelId, id: 5n, sha256OfOnion: new Uint8Array(32), failureCode: 0x8000 | 0x4000 | 5 })
    ]) {
      const r = accepted(run(p.a, { _tag: "PeerMessage", message }))
      expect(r.state._tag).toBe("Failed")
      expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: "UnknownHtlcId" })
    }
  })

  it("without attribution_data, neither the update_fail_htlc nor the HtlcResolved event carries the field", () => {
    const p = opened("no-attr")
    p.add(p.a, 1_000_000n, "no-attr")
    p.settle()
    expect(p.input(p.b, { _tag: "FailHtlc", htlcId: 0n, reason: new Uint8Array(32).fill(3) })).toBeUndefined()
    const fail = p.a.inbox[0]
    if (fail?._tag !== "UpdateFailHtlc") throw new Error("expected update_fail_htlc")
    expect(Object.keys(fail.tlvs)).not.toContain("attributionData")
    p.settle()
    const resolved = p.a.eventsOf("HtlcResolved")[0]?.result
    expect(resolved === undefined ? ["none"] : Object.keys(resolved)).toEqual(["_tag", "reason"])
  })
})

describe("legacy closing negotiation (BOLT 2 Legacy Closing Negotiation: closing_signed)", () => {
  const closeAt = (tag: string, feeratePerKw: number): Pair => {
    const p = opened(tag)
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw })).toBeUndefined()
    p.settle()
    return p
  }
  const closingSigned = (p: Pair) => p.log.flatMap((l) => (l.message._tag === "ClosingSigned" ? [[l.from, l.message.feeSatoshis] as const] : []))

  it("the funder proposes at the Close command's feerate, the fundee agrees and replies once: two closing_signed in all", () => {
    const at2500 = closingSigned(closeAt("cs-2500", 2500))
    const at5000 = closingSigned(closeAt("cs-5000", 5000))
    expect(at2500.map(([from]) => from)).toEqual(["step-mut-cs-2500-a", "step-mut-cs-2500-b"])
    expect(at2500[1]?.[1]).toBe(at2500[0]?.[1])
    // The fee is the closing transaction's weight at the feerate: twice the feerate, twice the fee.
    expect(at5000[0]?.[1]).toBe(2n * (at2500[0]?.[1] ?? 0n))
    expect(at5000).toHaveLength(2)
  })

  it("a closing_signed whose signature does not verify fails the channel, naming the rule", () => {
    const p = opened("cs-badsig")
    close(p, p.a)
    until(p, () => p.b.inbox[0]?._tag === "ClosingSigned")
    const cs = p.b.inbox[0]
    if (cs?._tag !== "ClosingSigned") throw new Error("no closing_signed")
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: { ...cs, signature: new Uint8Array(64).fill(1) } }))
    expect(r.state._tag).toBe("Failed")
    const error = r.outputs[0]
    expect(error?._tag === "SendError" ? error.message : "").toMatch(/^ClosingRejected: ./)
  })

  it("a closing_signed arriving after the mutual close was broadcast is ignored", () => {
    const p = closing("cs-late")
    const late = p.log.find((l) => l.from === p.b.name && l.message._tag === "ClosingSigned")?.message
    if (late === undefined) throw new Error("no closing_signed")
    const r = accepted(run(p.a, { _tag: "PeerMessage", message: late }))
    expect(r.outputs).toEqual([])
    expect(r.state).toEqual(p.a.state)
  })
})

describe("who started the close", () => {
  it("we asked to close first (our shutdown waiting for our updates): the peer's shutdown is not reported as started by the peer", () => {
    const p = opened("both-close")
    p.add(p.a, 1_000_000n, "both-close")
    close(p, p.a)
    close(p, p.b)
    const theirs = p.a.inbox.find((m) => m._tag === "Shutdown")
    if (theirs === undefined) throw new Error("no shutdown from Bob")
    p.a.inbox = p.a.inbox.filter((m) => m !== theirs)
    const r = accepted(run(p.a, { _tag: "PeerMessage", message: theirs }))
    expect(events(r).filter((e) => e._tag === "ShutdownStarted")).toEqual([])
  })
})

describe("simple close (BOLT 2 Closing Negotiation: closing_complete and closing_sig, option_simple_close)", () => {
  const simpleClose = (tag: string, feeratePerKw: number, pushMsat?: bigint): Pair => {
    const p = pairOf(tag)
    p.open({ features: new Set([...p.a.ctx.features, "option_simple_close"]), ...(pushMsat === undefined ? {} : { pushMsat }) })
    expect(p.input(p.a, { _tag: "Close", scriptPubKey: p.a.ctx.shutdownScript, feeratePerKw })).toBeUndefined()
    p.settle()
    expect([p.a.phase, p.b.phase]).toEqual(["Closing", "Closing"])
    return p
  }
  const completes = (p: Pair, from: Node) =>
    p.log.flatMap((l) => (l.from === from.name && l.message._tag === "ClosingComplete" ? [l.message.feeSatoshis] : []))

  it("our closing_complete pays the fee of the Close command's feerate (the closer pays it)", () => {
    const at2500 = simpleClose("sc-2500", 2500)
    const at5000 = simpleClose("sc-5000", 5000)
    const fee2500 = completes(at2500, at2500.a)
    const fee5000 = completes(at5000, at5000.a)
    expect(fee2500).toHaveLength(1)
    expect(fee5000).toEqual([2n * (fee2500[0] ?? 0n)])
  })

  it("a side whose balance cannot pay a closing fee sends no closing_complete: it only signs the peer's (the close completes)", () => {
    const p = simpleClose("sc-poor", 2500, 0n)
    expect(completes(p, p.b)).toEqual([])
    expect(completes(p, p.a)).toHaveLength(1)
    expect(mutualCloseTxid(p.a)).toEqual(mutualCloseTxid(p.b))
  })
})

describe("after the mutual close was broadcast, on reconnection (BOLT 2: MUST retransmit shutdown; closing_signed has no acknowledgment)", () => {
  it("our shutdown and our last closing_signed go out again after channel_reestablish", () => {
    const p = closing("retransmit")
    const ours = p.log.filter((l) => l.from === p.a.name && (l.message._tag === "Shutdown" || l.message._tag === "ClosingSigned")).map((l) => l.message)
    p.disconnect()
    p.reconnect()
    const theirs = p.a.inbox[0]
    if (theirs?._tag !== "ChannelReestablish") throw new Error("expected channel_reestablish")
    const r = accepted(run(p.a, { _tag: "PeerMessage", message: theirs }))
    const again = r.outputs.flatMap((o) => (o._tag === "Send" ? [o.message] : []))
    // (channel_ready first: no commitment moved, both next_commitment_number are 1, BOLT 2 MUST.)
    expect(again.map((m) => m._tag)).toEqual(["ChannelReady", "Shutdown", "ClosingSigned"])
    expect(again.slice(1)).toEqual([ours[0], ours.at(-1)])
  })
})

describe("closing messages of the other negotiation mode", () => {
  it("a closing_complete or closing_sig in a legacy negotiation fails the channel as unexpected (option_simple_close was not negotiated)", () => {
    const { p, s, idle } = idleNegotiating("mode")
    const fields = {
      channelId: s.commitments.params.channelId,
      closerScriptpubkey: p.b.ctx.shutdownScript,
      closeeScriptpubkey: p.a.ctx.shutdownScript,
      feeSatoshis: sat(1000n),
      locktime: 0
    }
    for (const message of [ClosingComplete.make(fields, { closerAndCloseeOutputs: new Uint8Array(64) }), ClosingSig.make(fields, { closerAndCloseeOutputs: new Uint8Array(64) })]) {
      const r = accepted(run(p.a, { _tag: "PeerMessage", message }, idle))
      expect(r.state._tag).toBe("Failed")
      expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: `unexpected ${message._tag} in Negotiating` })
    }
  })

  it("simple close: a closing_complete whose signature does not verify fails the channel, naming the rule", () => {
    const { p, cc, idle } = closingCompleteAtBob("simplebad")
    const forged = { ...cc, tlvs: Object.fromEntries(Object.keys(cc.tlvs).map((k) => [k, new Uint8Array(64).fill(1)])) }
    const r = accepted(run(p.b, { _tag: "PeerMessage", message: forged }, idle))
    expect(r.state._tag).toBe("Failed")
    const error = r.outputs[0]
    expect(error?._tag === "SendError" ? error.message : "").toMatch(/^ClosingRejected: ./)
  })
})

describe("making a channel (BOLT 2: with option_scid_alias, channel_ready MUST carry our alias)", () => {
  const scidType = { name: "static_remote_key" as const, scidAlias: true, zeroConf: false }
  const openScidArgs = (node: Node, over: Partial<OpenChannelArgs> = {}): OpenChannelArgs => openArgs(node, { channelType: scidType, ...over })
  const failureTag = (r: Result.Result<Step, { readonly _tag: string }>): string => (Result.isFailure(r) ? r.failure._tag : "accepted")
  const made = <E>(r: Result.Result<Step, E>): Step => {
    if (Result.isFailure(r)) throw new Error(`refused: ${JSON.stringify(r.failure)}`)
    return r.success
  }

  it("the funder: no alias for an option_scid_alias channel is refused (AliasRequired); with one, the state keeps it", () => {
    const p = newPair("mk-alias-a", "mk-alias-b")
    expect(failureTag(openChannel(p.a.ctx, openScidArgs(p.a)))).toBe("AliasRequired")
    const withAlias = made(openChannel(p.a.ctx, openScidArgs(p.a, { localAlias: alias(p.a.name) })))
    expect(withAlias.state._tag === "WaitAcceptChannel" ? withAlias.state.localAlias : undefined).toBe(alias(p.a.name))
    // Without the option, no alias is needed nor kept.
    const plain = made(openChannel(p.a.ctx, openScidArgs(p.a, { channelType: { ...scidType, scidAlias: false } })))
    expect(Object.keys(plain.state)).not.toContain("localAlias")
  })

  it("the funder: an invalid command is refused with its own error", () => {
    const p = newPair("mk-bad-a", "mk-bad-b")
    const r = openChannel(p.a.ctx, openScidArgs(p.a, { localAlias: alias(p.a.name), pushAmount: msat(1_000_000_001n) }))
    expect(Result.isFailure(r) ? r.failure : undefined).toMatchObject({ _tag: "InvalidOpenCommand", rule: "PushExceedsFunding" })
  })

  it("the fundee: an option_scid_alias open_channel without our alias is refused (AliasRequired); an invalid one with its own error", () => {
    const p = newPair("mk-fundee-a", "mk-fundee-b")
    const opened = made(openChannel(p.a.ctx, openScidArgs(p.a, { localAlias: alias(p.a.name) })))
    const sentOpen = opened.outputs[0]
    if (sentOpen?._tag !== "Send" || sentOpen.message._tag !== "OpenChannel") throw new Error("expected open_channel")
    const m = sentOpen.message
    const args = { keyId: p.b.keyId, basepoints: p.b.basepoints, firstPerCommitmentPoint: p.b.point(0n) }
    expect(failureTag(acceptChannel(p.b.ctx, m, args))).toBe("AliasRequired")
    const ok = made(acceptChannel(p.b.ctx, m, { ...args, localAlias: alias(p.b.name) }))
    expect(ok.state._tag === "WaitFundingCreated" ? ok.state.localAlias : undefined).toBe(alias(p.b.name))
    const bad = acceptChannel(p.b.ctx, { ...m, chainHash: ChainHashes.bitcoin }, { ...args, localAlias: alias(p.b.name) })
    expect(Result.isFailure(bad) ? bad.failure : undefined).toMatchObject({ _tag: "OpenChannelRejected", rule: "UnknownChainHash" })
  })
})

describe("inputs every phase takes alike: nothing to do", () => {
  it.each([
    { _tag: "PersistCompleted", updateId: 3n },
    { _tag: "Tick", nowMillis: 1_000 },
    { _tag: "FeerateEstimate", feeratePerKw: 9_999 },
    { _tag: "PeerWarning", message: "careful" }
  ] satisfies ReadonlyArray<ChannelInput>)("$_tag: the state unchanged, no output", (input) => {
    const p = newPair(`alike-${input._tag}-a`, `alike-${input._tag}-b`)
    p.open()
    const s = p.a.state
    const r = accepted(run(p.a, input))
    expect(r.state).toEqual(s)
    expect(r.outputs).toEqual([])
  })
})
