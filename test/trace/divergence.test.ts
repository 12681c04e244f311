import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { numberField, stringField } from "../../src/layers/trace/records.ts"
import type { TraceRecord } from "../../src/services/Trace.ts"
import { replayTrace } from "../../src/trace/replay.ts"
import { recordPair } from "./harness.ts"

/** The same hex with its last byte changed. */
const flipLast = (hex: string): string => hex.slice(0, -2) + (hex.endsWith("00") ? "01" : "00")

const alice = (trace: ReadonlyArray<TraceRecord>) => trace.filter((r) => r.node === "alice")

describe("replay reports where a changed trace diverges", () => {
  it.live("a changed output, a changed input, a missing record, no start record", () =>
    Effect.gen(function*() {
      const trace = alice(yield* recordPair("divergence"))

      // An output (a chunk alice wrote) changed: reported at that very record, with both values.
      const w = trace.findIndex((r, i) => i > 40 && r.kind === "write")
      const write = trace[w]
      if (write === undefined) return assert.fail("no write")
      const changedWrite: TraceRecord = {
        ...write,
        data: { conn: numberField(write.data, "conn") ?? -1, hex: flipLast(stringField(write.data, "hex") ?? "") }
      }
      const one = yield* replayTrace(trace.map((r, i) => (i === w ? changedWrite : r)))
      assert.strictEqual(one._tag, "Diverged")
      if (one._tag === "Diverged") {
        assert.strictEqual(one.index, w)
        assert.strictEqual(one.seq, write.seq)
        assert.deepStrictEqual(one.expected, changedWrite)
        assert.deepStrictEqual(one.actual, { ...write, seq: w })
      }

      // An input (the random bytes of alice's first ephemeral key) changed: the replayed node
      // uses them, and the first output that depends on them (BOLT 8 act one) differs.
      const e = trace.findIndex((r) => r.kind === "entropy")
      const entropy = trace[e]
      if (entropy === undefined) return assert.fail("no entropy")
      const changedEntropy: TraceRecord = { ...entropy, data: { hex: flipLast(stringField(entropy.data, "hex") ?? "") } }
      const two = yield* replayTrace(trace.map((r, i) => (i === e ? changedEntropy : r)))
      assert.strictEqual(two._tag, "Diverged")
      if (two._tag === "Diverged") {
        assert.strictEqual(two.index, e + 1)
        assert.strictEqual(two.expected?.kind, "write")
        assert.strictEqual(two.actual?.kind, "write")
        assert.notDeepEqual(two.expected?.data, two.actual?.data)
      }

      // A record missing (a persisted write): the node writes it where the trace has the next one.
      const p = trace.findIndex((r) => r.kind === "persist")
      const three = yield* replayTrace(trace.filter((_, i) => i !== p))
      assert.strictEqual(three._tag, "Diverged")
      if (three._tag === "Diverged") {
        assert.strictEqual(three.index, p)
        assert.strictEqual(three.actual?.kind, "persist")
      }

      // Nothing to build the node from.
      const four = yield* Effect.flip(replayTrace(trace.filter((r) => r.kind !== "start")))
      assert.strictEqual(four._tag, "ReplayFailed")
    }), 60_000)
})
