/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/monitor/apply.ts`)
 * found uncovered or surviving in `apply.ts`: the accepted-log path a persister folds with
 * (`applyAccepted`, `foldAccepted`: every rule but the point check), preimage pruning per
 * broadcastable commitment, the closing bookkeeping and the error texts.
 */
import { Result } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromHex } from "../../../src/protocol/bytes.ts"
import {
  apply,
  applyAccepted,
  CommitmentNumberMismatch,
  foldAccepted,
  InvalidCommitmentSecret,
  MonitorUpdateOutOfOrder,
  open,
  replay,
  type MonitorError
} from "../../../src/protocol/monitor/apply.ts"
import { emptySecretStore } from "../../../src/protocol/keys/shachain.ts"
import type { MonitorState } from "../../../src/protocol/monitor/state.ts"
import { RevokedCommitments } from "../../../src/protocol/monitor/revoked.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import { Txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import {
  arbitraryLog,
  counterpartyCommitment,
  counterpartySecretFor,
  holderCommitment,
  LogBuilder,
  makeParams,
  openedUpdate,
  OTHER_SEED,
  preimageFor,
  secp,
  type HtlcSpec
} from "./fixtures.ts"

type Applied = Result.Result<MonitorState, MonitorError>

const ok = (r: Applied): MonitorState => {
  if (Result.isFailure(r)) throw new Error(`unexpected ${r.failure._tag}: ${r.failure.message}`)
  return r.success
}

const failure = (r: Applied): MonitorError => {
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

const htlc = (id: number, preimageTag: number): HtlcSpec => ({ id, direction: "offered", amountMsat: 5_000_000, preimageTag, cltvExpiry: 500_000 })

/** A log with commitments both ways, a revocation, a preimage and a shutdown script. */
const sampleLog = (): LogBuilder => {
  const b = new LogBuilder()
  b.holder([htlc(0, 1)])
  b.signCounterparty([htlc(0, 1)])
  b.revoke()
  b.preimage(1)
  b.shutdown("holder", fromHex("0014" + "33".repeat(20)))
  b.holder([htlc(0, 1), htlc(1, 2)])
  return b
}

describe("open: the initial state", () => {
  it("holds the Opened update's params, script and commitments, and nothing else yet", () => {
    const u = openedUpdate()
    expect(ok(open(u))).toStrictEqual({
      params: u.params,
      fundingScript: u.fundingScript,
      latestUpdateId: 0n,
      holderCommitment: u.holderCommitment,
      counterpartyCurrent: u.counterpartyCommitment,
      counterpartySecrets: emptySecretStore,
      revokedCommitments: RevokedCommitments.empty,
      preimages: [],
      closing: { _tag: "Open" }
    })
  })
})

describe("applyAccepted: every rule of apply but the per-commitment point check", () => {
  // Commitment 1 signed: commitment 0 is the one to revoke.
  const b = new LogBuilder()
  b.signCounterparty()
  const s = ok(replay(secp, b.log))
  const foreign: MonitorUpdate = { _tag: "CommitmentSecret", updateId: b.id, commitmentNumber: 0n, secret: counterpartySecretFor(0n, OTHER_SEED) }

  it("a first secret that does not give the signed point: refused by apply, accepted from an accepted log", () => {
    expect(failure(apply(secp, s, foreign))).toMatchObject({ _tag: "InvalidCommitmentSecret", reason: "PointMismatch" })
    const accepted = ok(applyAccepted(s, foreign))
    expect(accepted.latestUpdateId).toBe(b.id)
    expect(accepted.counterpartyCurrent.commitmentNumber).toBe(1n)
    expect(accepted.counterpartyNext).toBeUndefined()
  })

  it("the shachain, the order and the phase rules still hold", () => {
    // Secret 1 from another seed cannot derive the stored secret 0 (BOLT 3).
    const c = new LogBuilder()
    c.signCounterparty()
    c.revoke()
    c.signCounterparty()
    const s1 = ok(replay(secp, c.log))
    const wrong = applyAccepted(s1, { _tag: "CommitmentSecret", updateId: c.id, commitmentNumber: 1n, secret: counterpartySecretFor(1n, OTHER_SEED) })
    expect(failure(wrong)).toMatchObject({ _tag: "InvalidCommitmentSecret", commitmentNumber: 1n, reason: "InconsistentSecret" })
    expect(failure(applyAccepted(s, { ...foreign, updateId: b.id + 1n }))).toMatchObject({ _tag: "MonitorUpdateOutOfOrder", expected: b.id })
    expect(failure(applyAccepted(s, openedUpdate()))).toMatchObject({ _tag: "MonitorAlreadyOpened", updateId: 0n })
    expect(failure(applyAccepted(s, { _tag: "CounterpartyCommitment", updateId: b.id, commitment: counterpartyCommitment(2n) }))).toMatchObject({
      _tag: "CounterpartyCommitmentPending",
      pending: 1n
    })
  })
})

describe("foldAccepted: a persister's compaction", () => {
  it("from no snapshot: the log must start with Opened at id 0", () => {
    expect(failure(foldAccepted(undefined, []))).toMatchObject({ _tag: "MonitorNotOpened", first: undefined })
    expect(failure(foldAccepted(undefined, [{ _tag: "PaymentPreimage", updateId: 0n, preimage: preimageFor(0) }]))).toMatchObject({
      _tag: "MonitorNotOpened",
      first: "PaymentPreimage"
    })
    expect(failure(foldAccepted(undefined, [{ ...openedUpdate(), updateId: 1n }]))).toMatchObject({ _tag: "MonitorUpdateOutOfOrder", expected: 0n, received: 1n })
  })

  it("from no snapshot, or from a snapshot of any prefix: the same state as replaying the whole log", () => {
    const log = sampleLog().log
    const whole = ok(replay(secp, log))
    expect(ok(foldAccepted(undefined, log))).toStrictEqual(whole)
    expect(ok(foldAccepted(undefined, log.slice(0, 1)))).toStrictEqual(ok(open(openedUpdate())))
    for (let at = 1; at < log.length; at++) {
      const snapshot = ok(replay(secp, log.slice(0, at)))
      expect(ok(foldAccepted(snapshot, log.slice(at)))).toStrictEqual(whole)
    }
    // A snapshot and nothing after it: the snapshot itself.
    expect(ok(foldAccepted(whole, []))).toBe(whole)
  })

  it("grows the revoked commitments of its own states in place, never those of the snapshot it starts from", () => {
    // The fast path (a fold's own list appended in place) against the plain one (replaying the
    // whole log, which copies the list at each revocation): the same states, and the snapshot
    // (a persister keeps it) unchanged, so a second fold from it gives the same state again.
    for (const log of fc.sample(arbitraryLog(60), { numRuns: 12, seed: 5 })) {
      const whole = ok(replay(secp, log))
      expect(ok(foldAccepted(undefined, log))).toStrictEqual(whole)
      for (let at = 1; at < log.length; at += 3) {
        const snapshot = ok(replay(secp, log.slice(0, at)))
        const revoked = snapshot.revokedCommitments
        const before = [...revoked]
        const folded = ok(foldAccepted(snapshot, log.slice(at)))
        expect(folded).toStrictEqual(whole)
        expect(snapshot.revokedCommitments).toBe(revoked)
        expect([...revoked]).toStrictEqual(before)
        expect(ok(foldAccepted(snapshot, log.slice(at)))).toStrictEqual(whole)
        // Folding on from the result (as the next compaction does) leaves the result as it was.
        const after = [...folded.revokedCommitments]
        ok(foldAccepted(folded, []))
        expect([...folded.revokedCommitments]).toStrictEqual(after)
      }
    }
  })

  it("stops at the first update it cannot apply and returns that error", () => {
    const b = new LogBuilder()
    b.holder()
    const bad: MonitorUpdate = { _tag: "HolderCommitment", updateId: 2n, commitment: holderCommitment(1n) }
    const after: MonitorUpdate = { _tag: "PaymentPreimage", updateId: 3n, preimage: preimageFor(1) }
    expect(failure(foldAccepted(undefined, [...b.log, bad, after]))).toMatchObject({ _tag: "CommitmentNumberMismatch", side: "holder", expected: 2n, received: 1n })
    const snapshot = ok(replay(secp, b.log))
    expect(failure(foldAccepted(snapshot, [bad, after]))).toMatchObject({ _tag: "CommitmentNumberMismatch" })
    expect(failure(foldAccepted(snapshot, [after]))).toMatchObject({ _tag: "MonitorUpdateOutOfOrder", expected: 2n, received: 3n })
  })

  it("skips the point check (the log was accepted with it)", () => {
    const b = new LogBuilder()
    b.signCounterparty()
    const log: ReadonlyArray<MonitorUpdate> = [
      ...b.log,
      { _tag: "CommitmentSecret", updateId: b.id, commitmentNumber: 0n, secret: counterpartySecretFor(0n, OTHER_SEED) }
    ]
    expect(failure(replay(secp, log))).toMatchObject({ reason: "PointMismatch" })
    expect(ok(foldAccepted(undefined, log)).counterpartyCurrent.commitmentNumber).toBe(1n)
  })
})

describe("preimages: kept while our latest, their current or their next commitment has the HTLC", () => {
  it("an HTLC only in their next commitment keeps its preimage through our commitment changes", () => {
    const b = new LogBuilder()
    b.signCounterparty([htlc(0, 5)])
    b.preimage(5)
    b.preimage(6) // no HTLC anywhere
    b.holder([]) // prunes: 5 is in their next commitment, 6 nowhere
    let s = ok(replay(secp, b.log))
    expect(s.preimages.map((p) => p.preimage)).toEqual([preimageFor(5)])
    b.revoke() // their next becomes current: still there
    s = ok(replay(secp, b.log))
    expect(s.counterpartyCurrent.htlcs.length).toBe(1)
    expect(s.preimages.map((p) => p.preimage)).toEqual([preimageFor(5)])
    b.signCounterparty([])
    b.holder([]) // still in their current commitment
    s = ok(replay(secp, b.log))
    expect(s.preimages.map((p) => p.preimage)).toEqual([preimageFor(5)])
    b.revoke() // gone from every broadcastable commitment (the revoked one is claimed whole)
    s = ok(replay(secp, b.log))
    expect(Array.from(s.revokedCommitments, (r) => r.commitmentNumber)).toEqual([1n])
    expect(s.preimages).toEqual([])
  })

  it("with many preimages and HTLCs (hashes looked up in a set), keeps exactly those some broadcastable commitment has", () => {
    const b = new LogBuilder()
    const ours = Array.from({ length: 12 }, (_, i) => htlc(i, 100 + i)) // tags 100..111 in our commitment
    const theirsNext = Array.from({ length: 6 }, (_, i) => htlc(i, 200 + i)) // tags 200..205 in their next one
    b.holder(ours)
    b.signCounterparty(theirsNext)
    for (let t = 100; t < 112; t++) b.preimage(t)
    for (let t = 200; t < 206; t++) b.preimage(t)
    for (let t = 300; t < 310; t++) b.preimage(t) // in no commitment
    b.holder(ours.slice(0, 5)) // prunes: 105..111 leave, 300..309 never were anywhere
    const s = ok(replay(secp, b.log))
    const expected = [...Array.from({ length: 5 }, (_, i) => 100 + i), ...Array.from({ length: 6 }, (_, i) => 200 + i)].map((t) => preimageFor(t))
    expect(s.preimages.map((p) => p.preimage)).toEqual(expected)
  })

  it("a preimage already known is not stored twice, and its entry is the hash with the preimage", () => {
    const b = new LogBuilder()
    b.holder([htlc(0, 8)])
    b.preimage(8)
    const s = ok(replay(secp, b.log))
    expect(s.preimages).toStrictEqual([{ paymentHash: sha256(preimageFor(8)), preimage: preimageFor(8) }])
    const again = ok(apply(secp, s, { _tag: "PaymentPreimage", updateId: b.id, preimage: preimageFor(8) }))
    expect(again.preimages).toBe(s.preimages)
    expect(again.latestUpdateId).toBe(b.id)
  })
})

describe("closing bookkeeping", () => {
  it("ChannelClosed records the closing txid when given, and no txid field otherwise", () => {
    const b = new LogBuilder()
    const s = ok(replay(secp, b.log))
    const txid = Txid(sha256(fromHex("01")))
    const closedWith = ok(apply(secp, s, { _tag: "ChannelClosed", updateId: 1n, closingTxid: txid }))
    expect(closedWith.closing).toStrictEqual({ _tag: "Closed", closingTxid: txid })
    const closedWithout = ok(apply(secp, s, { _tag: "ChannelClosed", updateId: 1n }))
    expect(closedWithout.closing).toStrictEqual({ _tag: "Closed" })
    expect(closedWithout.latestUpdateId).toBe(1n)
  })

  it("after ForceClose: no counterparty commitment either; a revocation and ChannelClosed still apply", () => {
    const b = new LogBuilder()
    b.signCounterparty()
    b.forceClose("gone")
    const s = ok(replay(secp, b.log))
    expect(failure(apply(secp, s, { _tag: "CounterpartyCommitment", updateId: b.id, commitment: counterpartyCommitment(2n) }))).toMatchObject({
      _tag: "MonitorClosed",
      status: "ForceClosed",
      update: "CounterpartyCommitment"
    })
    b.revoke()
    b.closed()
    const closed = ok(replay(secp, b.log))
    expect(closed.closing).toStrictEqual({ _tag: "Closed" })
    expect(closed.counterpartyCurrent.commitmentNumber).toBe(1n)
    expect(failure(apply(secp, closed, { _tag: "CommitmentSecret", updateId: b.id, commitmentNumber: 1n, secret: counterpartySecretFor(1n) }))).toMatchObject({
      _tag: "MonitorClosed",
      status: "Closed",
      update: "CommitmentSecret"
    })
  })
})

describe("shutdown scripts against upfront_shutdown_script", () => {
  const other = fromHex("0014" + "22".repeat(20))
  it("the counterparty's script is checked against its own upfront script, ours against ours", () => {
    const upfront = "0014" + "99".repeat(20)
    const s = ok(replay(secp, new LogBuilder(makeParams({ remoteUpfront: upfront })).log))
    expect(failure(apply(secp, s, { _tag: "ShutdownScript", updateId: 1n, side: "counterparty", script: other }))).toMatchObject({
      _tag: "ShutdownScriptConflict",
      side: "counterparty"
    })
    expect(ok(apply(secp, s, { _tag: "ShutdownScript", updateId: 1n, side: "counterparty", script: fromHex(upfront) })).counterpartyShutdownScript).toEqual(fromHex(upfront))
    const ours = ok(apply(secp, s, { _tag: "ShutdownScript", updateId: 1n, side: "holder", script: other }))
    expect(ours.holderShutdownScript).toEqual(other)
    expect(ours.counterpartyShutdownScript).toBeUndefined()
  })
  it("an empty upfront script (BOLT 2: opting out) allows any script", () => {
    const s = ok(replay(secp, new LogBuilder(makeParams({ holderUpfront: "" })).log))
    expect(ok(apply(secp, s, { _tag: "ShutdownScript", updateId: 1n, side: "holder", script: other })).holderShutdownScript).toEqual(other)
  })
})

describe("error texts", () => {
  it("name the numbers involved", () => {
    expect(new MonitorUpdateOutOfOrder({ expected: 4n, received: 6n }).message).toBe("monitor update 6 out of order: expected 4")
    expect(new CommitmentNumberMismatch({ side: "holder", expected: 2n, received: 5n }).message).toBe("holder commitment number 5: expected 2")
    expect(new InvalidCommitmentSecret({ commitmentNumber: 3n, reason: "PointMismatch" }).message).toBe("invalid secret for counterparty commitment 3: PointMismatch")
  })
})
