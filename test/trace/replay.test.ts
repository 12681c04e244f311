import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { formatReport, replayTrace } from "../../src/trace/replay.ts"
import { recordPair } from "./harness.ts"

describe("replay of an in-memory two-node run", () => {
  it.live("each node replays alone, record for record", () =>
    Effect.gen(function*() {
      const trace = yield* recordPair("replay-1")
      const kinds = new Set(trace.map((r) => r.kind))
      for (const k of ["start", "command", "listen", "connect", "accept", "read", "write", "entropy", "mailbox", "persist", "completion", "event", "reply", "timer"]) {
        assert.isTrue(kinds.has(k as never), `the trace has ${k} records`)
      }
      for (const node of ["alice", "bob"]) {
        const report = yield* replayTrace(trace, { node })
        assert.strictEqual(report._tag, "Identical", formatReport(report))
      }
    }), 60_000)

  it.live("late persistence: InProgress answers and their completions are inputs too", () =>
    Effect.gen(function*() {
      const trace = yield* recordPair("replay-hold", { holdPersistence: true })
      const completions = trace.filter((r) => r.node === "alice" && r.kind === "completion")
      assert.isTrue(completions.some((r) => JSON.stringify(r.data).includes("InProgress")), "alice's persister answered InProgress")
      assert.isTrue(completions.some((r) => JSON.stringify(r.data).includes("updateId")), "and completed later")
      const report = yield* replayTrace(trace, { node: "alice" })
      assert.strictEqual(report._tag, "Identical", formatReport(report))
    }), 60_000)
})
