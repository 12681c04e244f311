/**
 * Tests written against mutants that survived Stryker (`npm run mutate`) in the monitor's
 * queries (`query.ts`): what BOLT 5 chain reactions look up in a `MonitorState`.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { replay } from "../../../src/protocol/monitor/apply.ts"
import {
  counterpartyCommitmentByTxid,
  isOpen,
  isRevoked,
  lastRevokedCommitmentNumber,
  nextUpdateId,
  preimageOf,
  unrevokedCounterpartyCommitments
} from "../../../src/protocol/monitor/query.ts"
import type { MonitorState } from "../../../src/protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import { LogBuilder, preimageFor, secp } from "./fixtures.ts"

const replayOk = (log: ReadonlyArray<MonitorUpdate>): MonitorState => {
  const r = replay(secp, log)
  if (Result.isFailure(r)) throw new Error(`unexpected ${r.failure._tag}`)
  return r.success
}

describe("monitor queries", () => {
  it("after our commitment_signed and before their revoke_and_ack, both their commitments may reach the chain (BOLT 5)", () => {
    const b = new LogBuilder()
    b.signCounterparty([])
    const s = replayOk(b.log)
    const next = s.counterpartyNext
    if (next === undefined) throw new Error("a next counterparty commitment expected")
    expect(unrevokedCounterpartyCommitments(s).map((c) => c.commitmentNumber)).toEqual([0n, 1n])
    expect(counterpartyCommitmentByTxid(s, next.txid)).toBe(next)
    expect(counterpartyCommitmentByTxid(s, s.counterpartyCurrent.txid)).toBe(s.counterpartyCurrent)
    expect(counterpartyCommitmentByTxid(s, sha256(new Uint8Array(1)))).toBeUndefined()
    expect(nextUpdateId(s)).toBe(2n)
  })

  it("before any revoke_and_ack nothing is revoked: no commitment of theirs is a breach", () => {
    const s = replayOk(new LogBuilder().log)
    expect(lastRevokedCommitmentNumber(s)).toBeUndefined()
    expect(isRevoked(s, 0n)).toBe(false)
  })

  it("a payment hash we hold no preimage for has none; an open channel is open until force-closed", () => {
    const b = new LogBuilder()
    b.preimage(1)
    const s = replayOk(b.log)
    expect(preimageOf(s, sha256(preimageFor(1)))).toEqual(preimageFor(1))
    expect(preimageOf(s, sha256(preimageFor(2)))).toBeUndefined()
    expect(isOpen(s)).toBe(true)
    b.forceClose()
    expect(isOpen(replayOk(b.log))).toBe(false)
  })
})
