import { Result, Schema } from "effect"
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { fromHex } from "../../../src/protocol/bytes.ts"
import {
  apply,
  open,
  replay,
  replayFrom,
  type MonitorError
} from "../../../src/protocol/monitor/apply.ts"
import {
  counterpartyCommitmentByTxid,
  counterpartySecret,
  isOpen,
  isRevoked,
  lastRevokedCommitmentNumber,
  latestHolderCommitment,
  nextUpdateId,
  preimageMatches,
  preimageOf,
  revokedCommitmentByNumber,
  revokedCommitmentByTxid,
  unrevokedCounterpartyCommitments
} from "../../../src/protocol/monitor/query.ts"
import { MonitorStateSchema, type MonitorState } from "../../../src/protocol/monitor/state.ts"
import { MonitorUpdateSchema, type MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import {
  arbitraryLog,
  counterpartyCommitment,
  counterpartySecretFor,
  HOLDER_UPFRONT_SCRIPT,
  holderCommitment,
  LogBuilder,
  makeParams,
  openedUpdate,
  OTHER_SEED,
  preimageFor,
  secp,
  type HtlcSpec
} from "./fixtures.ts"

const encodeState = Schema.encodeSync(MonitorStateSchema)
const decodeState = Schema.decodeUnknownSync(MonitorStateSchema)
const encodeUpdate = Schema.encodeSync(MonitorUpdateSchema)
const decodeUpdate = Schema.decodeUnknownSync(MonitorUpdateSchema)
const json = (s: MonitorState) => JSON.stringify(encodeState(s))

const ok = (r: Result.Result<MonitorState, MonitorError>): MonitorState => {
  if (Result.isFailure(r)) throw new Error(`unexpected ${r.failure._tag}: ${r.failure.message}`)
  return r.success
}

const replayOk = (log: ReadonlyArray<MonitorUpdate>): MonitorState => ok(replay(secp, log))

/** Applies `update` expecting `tag`, and checks the input state is untouched. */
const expectError = (state: MonitorState, update: MonitorUpdate, tag: MonitorError["_tag"]): MonitorError => {
  const before = json(state)
  const r = apply(secp, state, update)
  if (Result.isSuccess(r)) throw new Error(`expected ${tag}, got a new state`)
  expect(r.failure._tag).toBe(tag)
  expect(json(state)).toBe(before)
  return r.failure
}

const htlc = (id: number, preimageTag: number, direction: "offered" | "received" = "received"): HtlcSpec => ({
  id,
  direction,
  amountMsat: 5_000_000,
  preimageTag,
  cltvExpiry: 500_000
})

describe("open", () => {
  it("builds the initial state from Opened", () => {
    const s = ok(open(openedUpdate()))
    expect(s.latestUpdateId).toBe(0n)
    expect(s.holderCommitment.commitmentNumber).toBe(0n)
    expect(s.counterpartyCurrent.commitmentNumber).toBe(0n)
    expect(s.counterpartyNext).toBeUndefined()
    expect(s.closing._tag).toBe("Open")
    expect(nextUpdateId(s)).toBe(1n)
  })
  it("Opened must be update 0", () => {
    const r = open({ ...openedUpdate(), updateId: 1n })
    expect(Result.isFailure(r) && r.failure._tag).toBe("MonitorUpdateOutOfOrder")
  })
})

describe("apply: errors leave the state unchanged", () => {
  const b = new LogBuilder()
  b.holder([htlc(0, 1)])
  b.signCounterparty([htlc(0, 1)])
  const state = replayOk(b.log)

  it("update id with a gap", () => {
    const e = expectError(state, { _tag: "PaymentPreimage", updateId: b.id + 1n, preimage: preimageFor(1) }, "MonitorUpdateOutOfOrder")
    expect(e).toMatchObject({ expected: b.id, received: b.id + 1n })
  })
  it("update id repeated (replay of an old update)", () => {
    expectError(state, { _tag: "PaymentPreimage", updateId: b.id - 1n, preimage: preimageFor(1) }, "MonitorUpdateOutOfOrder")
  })
  it("Opened on an existing monitor", () => {
    expectError(state, openedUpdate(), "MonitorAlreadyOpened")
  })
  it("holder commitment number going back", () => {
    const e = expectError(state, { _tag: "HolderCommitment", updateId: b.id, commitment: holderCommitment(0n) }, "CommitmentNumberMismatch")
    expect(e).toMatchObject({ side: "holder", expected: 2n, received: 0n })
  })
  it("holder commitment number repeated", () => {
    expectError(state, { _tag: "HolderCommitment", updateId: b.id, commitment: holderCommitment(1n) }, "CommitmentNumberMismatch")
  })
  it("holder commitment number skipping one", () => {
    expectError(state, { _tag: "HolderCommitment", updateId: b.id, commitment: holderCommitment(3n) }, "CommitmentNumberMismatch")
  })
  it("counterparty commitment while the previous one awaits revocation", () => {
    const e = expectError(
      state,
      { _tag: "CounterpartyCommitment", updateId: b.id, commitment: counterpartyCommitment(2n) },
      "CounterpartyCommitmentPending"
    )
    expect(e).toMatchObject({ pending: 1n })
  })
  it("counterparty commitment number going back or skipping", () => {
    const s = replayOk([openedUpdate()])
    expectError(s, { _tag: "CounterpartyCommitment", updateId: 1n, commitment: counterpartyCommitment(0n) }, "CommitmentNumberMismatch")
    const e = expectError(s, { _tag: "CounterpartyCommitment", updateId: 1n, commitment: counterpartyCommitment(2n) }, "CommitmentNumberMismatch")
    expect(e).toMatchObject({ side: "counterparty", expected: 1n, received: 2n })
  })
  it("a secret before any next commitment was signed", () => {
    const s = replayOk([openedUpdate()])
    const e = expectError(s, { _tag: "CommitmentSecret", updateId: 1n, commitmentNumber: 0n, secret: counterpartySecretFor(0n) }, "UnexpectedRevocation")
    expect(e).toMatchObject({ commitmentNumber: 0n, expected: undefined })
  })
  it("a secret for another commitment than the current one", () => {
    const e = expectError(
      state,
      { _tag: "CommitmentSecret", updateId: b.id, commitmentNumber: 1n, secret: counterpartySecretFor(1n) },
      "UnexpectedRevocation"
    )
    expect(e).toMatchObject({ commitmentNumber: 1n, expected: 0n })
  })
  it("a secret that does not give the per-commitment point", () => {
    const e = expectError(
      state,
      { _tag: "CommitmentSecret", updateId: b.id, commitmentNumber: 0n, secret: counterpartySecretFor(0n, OTHER_SEED) },
      "InvalidCommitmentSecret"
    )
    expect(e).toMatchObject({ reason: "PointMismatch" })
  })
  it("a secret that is not a valid scalar", () => {
    const e = expectError(state, { _tag: "CommitmentSecret", updateId: b.id, commitmentNumber: 0n, secret: new Uint8Array(32) }, "InvalidCommitmentSecret")
    expect(e).toMatchObject({ reason: "InvalidSecret" })
  })
  it("a secret that does not fit the shachain (from another seed, at the right point)", () => {
    // Commitment 1 is signed at the point of another seed's secret: the point check alone would
    // pass, but secret 1 must derive secret 0 (BOLT 3: index 2^48-2 derives 2^48-1).
    const c = new LogBuilder()
    c.signCounterparty()
    c.revoke()
    const s0 = replayOk(c.log)
    const s1 = ok(apply(secp, s0, { _tag: "CounterpartyCommitment", updateId: c.id, commitment: counterpartyCommitment(2n) }))
    const withOther: MonitorState = { ...s1, counterpartyCurrent: counterpartyCommitment(1n, [], { seed: OTHER_SEED }) }
    const e = expectError(
      withOther,
      { _tag: "CommitmentSecret", updateId: c.id + 1n, commitmentNumber: 1n, secret: counterpartySecretFor(1n, OTHER_SEED) },
      "InvalidCommitmentSecret"
    )
    expect(e).toMatchObject({ commitmentNumber: 1n, reason: "InconsistentSecret" })
  })
  it("a shutdown script other than the upfront one", () => {
    const c = new LogBuilder(makeParams({ holderUpfront: HOLDER_UPFRONT_SCRIPT }))
    const s = replayOk(c.log)
    const e = expectError(s, { _tag: "ShutdownScript", updateId: 1n, side: "holder", script: fromHex("0014" + "22".repeat(20)) }, "ShutdownScriptConflict")
    expect(e).toMatchObject({ side: "holder" })
    // the same script, and the other side (no upfront script), are fine
    ok(apply(secp, s, { _tag: "ShutdownScript", updateId: 1n, side: "holder", script: fromHex(HOLDER_UPFRONT_SCRIPT) }))
    ok(apply(secp, s, { _tag: "ShutdownScript", updateId: 1n, side: "counterparty", script: fromHex("0014" + "22".repeat(20)) }))
  })
  it("no new commitment after a force close; secrets and preimages still apply", () => {
    const c = new LogBuilder()
    c.holder([htlc(0, 3)])
    c.signCounterparty([htlc(0, 3)])
    c.forceClose("peer sent error")
    const s = replayOk(c.log)
    expect(isOpen(s)).toBe(false)
    expect(s.closing).toEqual({ _tag: "ForceClosed", reason: "peer sent error" })
    expectError(s, { _tag: "HolderCommitment", updateId: c.id, commitment: holderCommitment(2n) }, "MonitorClosed")
    expectError(s, { _tag: "ForceClose", updateId: c.id, reason: "again" }, "MonitorClosed")
    expectError(s, { _tag: "ShutdownScript", updateId: c.id, side: "holder", script: fromHex("00") }, "MonitorClosed")
    c.revoke()
    c.preimage(3)
    const after = replayOk(c.log)
    expect(lastRevokedCommitmentNumber(after)).toBe(0n)
    expect(preimageOf(after, sha256(preimageFor(3)))).toEqual(preimageFor(3))
    c.closed()
    const closed = replayOk(c.log)
    expectError(closed, { _tag: "PaymentPreimage", updateId: c.id, preimage: preimageFor(4) }, "MonitorClosed")
    expectError(closed, { _tag: "ChannelClosed", updateId: c.id }, "MonitorClosed")
    const e = expectError(closed, { _tag: "CounterpartyCommitment", updateId: c.id, commitment: counterpartyCommitment(2n) }, "MonitorClosed")
    expect(e).toMatchObject({ status: "Closed", update: "CounterpartyCommitment" })
  })
})

describe("replay", () => {
  it("an empty log, or one not starting with Opened, is MonitorNotOpened", () => {
    const r1 = replay(secp, [])
    expect(Result.isFailure(r1) && r1.failure._tag).toBe("MonitorNotOpened")
    const r2 = replay(secp, [{ _tag: "PaymentPreimage", updateId: 0n, preimage: preimageFor(0) }])
    expect(Result.isFailure(r2) && r2.failure).toMatchObject({ _tag: "MonitorNotOpened", first: "PaymentPreimage" })
  })
  it("stops at the first bad update and returns its error", () => {
    const b = new LogBuilder()
    b.holder()
    const bad: MonitorUpdate = { _tag: "HolderCommitment", updateId: 2n, commitment: holderCommitment(1n) }
    const r = replay(secp, [...b.log, bad])
    expect(Result.isFailure(r) && r.failure._tag).toBe("CommitmentNumberMismatch")
  })
})

describe("the commitment dance", () => {
  it("a revocation moves next to current, keeps the revoked HTLCs, and serves secrets", () => {
    const b = new LogBuilder()
    b.signCounterparty([htlc(0, 7, "offered")])
    b.revoke() // revokes 0 (no HTLCs: no entry)
    b.holder([htlc(0, 7, "offered")])
    b.signCounterparty([])
    b.revoke() // revokes 1, which had the HTLC
    const s = replayOk(b.log)
    expect(s.counterpartyCurrent.commitmentNumber).toBe(2n)
    expect(s.counterpartyNext).toBeUndefined()
    expect(Array.from(s.revokedCommitments, (r) => r.commitmentNumber)).toEqual([1n])
    const revoked1 = counterpartyCommitment(1n, [htlc(0, 7, "offered")])
    expect(revokedCommitmentByTxid(s, revoked1.txid)?.htlcs).toEqual(revoked1.htlcs)
    expect(revokedCommitmentByNumber(s, 1n)?.txid).toEqual(revoked1.txid)
    expect(revokedCommitmentByNumber(s, 0n)).toBeUndefined()
    expect(isRevoked(s, 1n)).toBe(true)
    expect(isRevoked(s, 2n)).toBe(false)
    for (const n of [0n, 1n]) {
      const secret = counterpartySecret(s, n)
      expect(Result.isSuccess(secret) && secret.success).toEqual(counterpartySecretFor(n))
    }
    expect(Result.isFailure(counterpartySecret(s, 2n))).toBe(true)
    expect(latestHolderCommitment(s).commitmentNumber).toBe(1n)
    expect(unrevokedCounterpartyCommitments(s).map((c) => c.commitmentNumber)).toEqual([2n])
    expect(counterpartyCommitmentByTxid(s, s.counterpartyCurrent.txid)).toBe(s.counterpartyCurrent)
  })
  it("preimages are kept while a broadcastable commitment has their HTLC, and deduplicated", () => {
    const b = new LogBuilder()
    b.holder([htlc(0, 9)])
    b.preimage(9)
    b.preimage(9)
    b.preimage(10) // no HTLC with this hash: kept until the next commitment change
    let s = replayOk(b.log)
    expect(s.preimages.length).toBe(2)
    expect(preimageMatches(preimageFor(9), s.preimages[0]?.paymentHash ?? new Uint8Array())).toBe(true)
    b.holder([htlc(0, 9)])
    s = replayOk(b.log)
    expect(s.preimages.map((p) => p.preimage)).toEqual([preimageFor(9)])
    b.holder([])
    s = replayOk(b.log)
    expect(s.preimages).toEqual([])
  })
  it("a shutdown script may change (simple close) without an upfront script", () => {
    const b = new LogBuilder()
    b.shutdown("counterparty", fromHex("0014" + "33".repeat(20)))
    b.shutdown("counterparty", fromHex("0014" + "44".repeat(20)))
    b.shutdown("holder", fromHex("0014" + "55".repeat(20)))
    const s = replayOk(b.log)
    expect(s.counterpartyShutdownScript).toEqual(fromHex("0014" + "44".repeat(20)))
    expect(s.holderShutdownScript).toEqual(fromHex("0014" + "55".repeat(20)))
  })
})

describe("properties", () => {
  it("a random valid log replays to the same state as step-by-step apply of its JSON round trip", () => {
    fc.assert(
      fc.property(arbitraryLog(), fc.nat(), (log, cut) => {
        const whole = replayOk(log)
        // step by step, each update through JSON
        let s: MonitorState | undefined = undefined
        for (const u of log) {
          const back = decodeUpdate(JSON.parse(JSON.stringify(encodeUpdate(u))))
          expect(back).toEqual(u)
          if (s === undefined) {
            expect(back._tag).toBe("Opened")
            s = back._tag === "Opened" ? ok(open(back)) : undefined
          } else s = ok(apply(secp, s, back))
        }
        expect(s).toEqual(whole)
        // from a snapshot taken anywhere, then the rest
        const at = 1 + (cut % log.length)
        const prefix = replayOk(log.slice(0, at))
        const snapshot = decodeState(JSON.parse(JSON.stringify(encodeState(prefix))))
        expect(ok(replayFrom(secp, snapshot, log.slice(at)))).toEqual(whole)
        expect(whole.latestUpdateId).toBe(BigInt(log.length - 1))
      }),
      { numRuns: 60 }
    )
  })

  it("a revocation's state is the previous one without its next commitment, field for field (the plain object-rest form)", () => {
    // The reference: what `applyCommitmentSecret` wrote before it listed the fields itself.
    const plainRevoked = (before: MonitorState, after: MonitorState): MonitorState => {
      const { counterpartyNext, ...rest } = before
      if (counterpartyNext === undefined) throw new Error("a revocation without a next commitment was accepted")
      return {
        ...rest,
        latestUpdateId: after.latestUpdateId,
        counterpartyCurrent: counterpartyNext,
        counterpartySecrets: after.counterpartySecrets,
        revokedCommitments: after.revokedCommitments,
        preimages: after.preimages
      }
    }
    let revocations = 0
    fc.assert(
      fc.property(arbitraryLog(), (log) => {
        let s: MonitorState | undefined = undefined
        for (const u of log) {
          if (s === undefined) {
            s = u._tag === "Opened" ? ok(open(u)) : undefined
            continue
          }
          const next = ok(apply(secp, s, u))
          if (u._tag === "CommitmentSecret") {
            revocations++
            expect(next).toEqual(plainRevoked(s, next))
            expect(Object.keys(next).sort()).toEqual(Object.keys(plainRevoked(s, next)).sort())
            expect(json(next)).toBe(json(plainRevoked(s, next)))
          }
          s = next
        }
      }),
      { numRuns: 80, seed: 2024 }
    )
    expect(revocations).toBeGreaterThan(100)
  })

  it("every MonitorState round-trips through JSON", () => {
    fc.assert(
      fc.property(arbitraryLog(60), (log) => {
        const s = replayOk(log)
        const text = JSON.stringify(encodeState(s))
        const back = decodeState(JSON.parse(text))
        expect(back).toEqual(s)
        expect(JSON.stringify(encodeState(back))).toBe(text)
      }),
      { numRuns: 40 }
    )
  })

  it("any update whose id is not the next one is refused, whatever it is", () => {
    fc.assert(
      fc.property(arbitraryLog(20), fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0), (log, delta) => {
        const s = replayOk(log)
        const before = json(s)
        for (const u of log.slice(1)) {
          const r = apply(secp, s, { ...u, updateId: s.latestUpdateId + 1n + BigInt(delta) })
          expect(Result.isFailure(r) && r.failure._tag).toBe("MonitorUpdateOutOfOrder")
        }
        expect(json(s)).toBe(before)
      }),
      { numRuns: 30 }
    )
  })
})

describe("Schema", () => {
  it("refuses a corrupted secret storage", () => {
    const b = new LogBuilder()
    b.signCounterparty()
    b.revoke()
    b.signCounterparty()
    b.revoke()
    const encoded = encodeState(replayOk(b.log)) as { counterpartySecrets: string }
    const hex = encoded.counterpartySecrets
    const corrupted = hex.slice(0, -2) + (hex.endsWith("00") ? "01" : "00")
    expect(() => decodeState({ ...encoded, counterpartySecrets: corrupted })).toThrow()
    expect(() => decodeState({ ...encoded, counterpartySecrets: "02" })).toThrow()
  })
  it("refuses unknown update tags and wrong-length fields", () => {
    expect(() => decodeUpdate({ _tag: "Nope", updateId: "1" })).toThrow()
    expect(() => decodeUpdate({ _tag: "PaymentPreimage", updateId: "1", preimage: "00" })).toThrow()
    expect(() => decodeUpdate({ _tag: "PaymentPreimage", updateId: "-1", preimage: "00".repeat(32) })).toThrow()
  })
})
