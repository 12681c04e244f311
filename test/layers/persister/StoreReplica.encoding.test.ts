/**
 * The stored form of monitor updates: the hand-written encoding of the commitment-dance updates
 * (`encodeHotUpdate`) is exactly the Schema's JSON text, on whole channel lives; so is the
 * hand-written encoding of monitor snapshots (`encodeHotSnapshot`), at every step of them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import fc from "fast-check"
import { decodeSnapshot, decodeUpdate, encodeHotSnapshot, encodeHotUpdate, encodeRevokedChunk, encodeSnapshot, encodeUpdate } from "../../../src/layers/persister/StoreReplica.ts"
import { foldAccepted } from "../../../src/protocol/monitor/apply.ts"
import { type MonitorState, MonitorStateSchema } from "../../../src/protocol/monitor/state.ts"
import { RevokedCommitments } from "../../../src/protocol/monitor/revoked.ts"
import { MonitorUpdateSchema } from "../../../src/protocol/monitor/update.ts"
import { arbitraryLog } from "../../protocol/monitor/fixtures.ts"

const schemaText = (u: Schema.Schema.Type<typeof MonitorUpdateSchema>): string => JSON.stringify(Schema.encodeSync(MonitorUpdateSchema)(u))

describe("StoreReplica update encoding", () => {
  it("the hand-written encoding is the Schema's JSON text, and decodes back to the update", () => {
    const logs = fc.sample(arbitraryLog(60), { numRuns: 20, seed: 7 })
    const seen = new Set<string>()
    for (const log of logs) {
      for (const u of log) {
        const hot = encodeHotUpdate(u)
        if (hot !== undefined) {
          seen.add(u._tag)
          assert.strictEqual(JSON.stringify(hot), schemaText(u))
        }
        const bytes = encodeUpdate(u)
        assert.strictEqual(new TextDecoder().decode(bytes), schemaText(u))
        const back = decodeUpdate(bytes)
        assert.isTrue(Result.isSuccess(back))
        if (Result.isSuccess(back)) assert.deepStrictEqual(back.success, u)
      }
    }
    // Every hand-written kind was exercised.
    assert.deepStrictEqual([...seen].sort(), ["CommitmentSecret", "CounterpartyCommitment", "HolderCommitment", "PaymentPreimage"])
  })

  it("the hand-written snapshot encoding is the Schema's JSON text; a snapshot with its revoked commitments in chunks decodes back", () => {
    const logs = fc.sample(arbitraryLog(60), { numRuns: 20, seed: 11 })
    const snapshotText = (m: MonitorState): string => JSON.stringify(Schema.encodeSync(MonitorStateSchema)(m))
    let hot = 0
    let withRevoked = 0
    let closing = 0
    for (const log of logs) {
      let m: MonitorState | undefined
      for (const u of log) {
        m = Result.getOrThrow(foldAccepted(m, [u]))
        const h = encodeHotSnapshot(m)
        if (h === undefined) closing++
        else {
          hot++
          assert.strictEqual(h, snapshotText(m))
        }
        assert.strictEqual(new TextDecoder().decode(encodeSnapshot(m)), snapshotText(m))
        assert.deepStrictEqual(Result.getOrThrow(decodeSnapshot(encodeSnapshot(m))), m)
        // split at every point: chunks of the first `k` revoked commitments, the rest inline
        const revoked = m.revokedCommitments
        if (revoked.length > 0) withRevoked++
        for (let k = 0; k <= revoked.length; k++) {
          const chunks = new Map<number, Uint8Array>()
          const part = (from: number, to: number) => encodeRevokedChunk(RevokedCommitments.of([...revoked].slice(from, to)))
          if (k > 0) chunks.set(0, part(0, Math.ceil(k / 2)))
          if (k > 1) chunks.set(Math.ceil(k / 2), part(Math.ceil(k / 2), k))
          assert.deepStrictEqual(Result.getOrThrow(decodeSnapshot(encodeSnapshot(m, k), chunks)), m)
          // a missing chunk, or one the header does not count, is refused
          if (k > 1) assert.isTrue(Result.isFailure(decodeSnapshot(encodeSnapshot(m, k), new Map([[0, chunks.get(0)!]]))))
          if (k > 0) assert.isTrue(Result.isFailure(decodeSnapshot(encodeSnapshot(m, 0), chunks)))
        }
      }
    }
    assert.isAbove(hot, 100)
    assert.isAbove(withRevoked, 20)
    assert.isAbove(closing, 0)
  })
})
