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
import { channelIdOf, type ChannelState } from "../../../src/protocol/channel/state.ts"
import { openChannel, step, type Step } from "../../../src/protocol/channel/step.ts"
import { Shutdown } from "../../../src/protocol/messages/channel.ts"
import { ATTRIBUTION_DATA_LENGTH } from "../../../src/protocol/messages/channel.ts"
import { serializeTransaction, type Transaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { ChannelId, msat, sat } from "../../../src/protocol/units.ts"
import { alias, newPair, preimageFor, temporaryId, txidOf, type Node, type Pair } from "./step-harness.ts"

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
  const backup = p.b.state
  const backupMonitor = p.b.monitor
  p.add(p.a, 1_000_000n, `${tag}-stale`)
  p.settle()
  p.disconnect()
  p.b.state = backup
  p.b.monitor = backupMonitor
  p.reconnect()
  p.settle()
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

  it("a peer message is ignored; an HTLC is rejected as an event; any other command is refused", () => {
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
    const r = openChannel(p.a.ctx, {
      temporaryChannelId: temporaryId(p.a.name),
      keyId: p.a.keyId,
      fundingAmount: sat(1_000_000n),
      pushAmount: msat(0n),
      basepoints: p.a.basepoints,
      firstPerCommitmentPoint: p.a.point(0n),
      feeratePerKw: 2500,
      channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false },
      announce: false,
      localAlias: alias(p.a.name)
    })
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

  it("a closing_signed before any shutdown fails the channel as unexpected", () => {
    const p = negotiating("early-cs")
    const cs = p.b.inbox.find((m) => m._tag === "ClosingSigned") ?? p.a.inbox.find((m) => m._tag === "ClosingSigned")
    const q = opened("early-cs2")
    if (cs === undefined) throw new Error("no closing_signed")
    const r = accepted(run(q.a, { _tag: "PeerMessage", message: cs }))
    expect(r.state._tag).toBe("Failed")
    expect(r.outputs[0]).toMatchObject({ _tag: "SendError", message: "unexpected ClosingSigned in Normal" })
  })

  it("negotiating: messages before channel_reestablish or while the signer works are refused; HTLCs rejected; depth ignored; other commands refused", () => {
    const p = negotiating("neg")
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error("not Negotiating")
    const { awaiting: _asked, ...idle } = s
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
    const p = negotiating("negsig")
    const s = p.a.state
    if (s?._tag !== "Negotiating") throw new Error("not Negotiating")
    const { awaiting: _asked, ...idle } = s
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
  it("force-closes with the rule and why (a local failure)", () => {
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
    const normal: ChannelState = {
      _tag: "Normal",
      nextUpdateId: s.nextUpdateId,
      connection: s.connection,
      commitments: s.commitments,
      shutdown: s.shutdown,
      closingFeeratePerKw: s.closingFeeratePerKw,
      revealedSecrets: s.revealedSecrets,
      fulfilledByPeer: []
    }
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
    const p = pairOf("simplewarn")
    p.open({ features: new Set([...p.a.ctx.features, "option_simple_close"]) })
    close(p, p.a)
    until(p, () => p.b.inbox.some((m) => m._tag === "ClosingComplete"))
    const cc = p.b.inbox.find((m) => m._tag === "ClosingComplete")
    const s = p.b.state
    if (cc?._tag !== "ClosingComplete" || s === undefined || (s._tag !== "Negotiating" && s._tag !== "Closing")) throw new Error("no closing_complete")
    const { awaiting: _asked, ...idle } = s
    const channelId = s.commitments.params.channelId
    const other = accepted(run(p.b, { _tag: "PeerMessage", message: { ...cc, closeeScriptpubkey: p.a.ctx.shutdownScript } }, idle))
    expect(other.outputs).toEqual([{ _tag: "SendWarning", channelId, message: "ClosingRejected: closee_scriptpubkey is not the last script we sent" }])
    expect(other.state).toEqual(idle)
    const odd = accepted(run(p.b, { _tag: "PeerMessage", message: { ...cc, closerScriptpubkey: new Uint8Array([0x51, 0x51, 0x51]) } }, idle))
    expect(odd.outputs).toEqual([{ _tag: "SendWarning", channelId, message: "ClosingRejected: closer_scriptpubkey is not an allowed form" }])
  })
})
