/**
 * The stored form of monitor updates: the hand-written encoding of the commitment-dance updates
 * (`encodeHotUpdate`) is exactly the Schema's JSON text, on whole channel lives.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import fc from "fast-check"
import { decodeUpdate, encodeHotUpdate, encodeUpdate } from "../../../src/layers/persister/StoreReplica.ts"
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
})
