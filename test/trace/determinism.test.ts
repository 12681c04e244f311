import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { encodeTraceLine } from "../../src/services/Trace.ts"
import { recordPair } from "./harness.ts"
import { traceHash } from "./print-trace-hash.ts"

describe("trace determinism", () => {
  it.live("the same seed gives the same trace bytes; another seed other bytes", () =>
    Effect.gen(function*() {
      const lines = (seed: string) => Effect.map(recordPair(seed, { frozen: true }), (t) => t.map(encodeTraceLine).join("\n"))
      const one = yield* lines("same-1")
      const two = yield* lines("same-1")
      const other = yield* lines("same-2")
      assert.isAbove(one.split("\n").length, 200)
      assert.strictEqual(one, two)
      assert.notStrictEqual(one, other)
    }), 60_000)

  it.live("and in another process", () =>
    Effect.gen(function*() {
      const here = yield* traceHash("same-3")
      const there = execFileSync(process.execPath, ["test/trace/print-trace-hash.ts", "same-3"], { encoding: "utf8" }).trim().split("\n").at(-1)
      assert.strictEqual(there, here)
    }), 60_000)
})
