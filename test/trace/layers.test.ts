import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Actor from "../../src/actors/Actor.ts"
import * as FileTrace from "../../src/layers/trace/FileTrace.ts"
import * as MemoryTrace from "../../src/layers/trace/MemoryTrace.ts"
import * as OffTrace from "../../src/layers/trace/OffTrace.ts"
import { decodeTraceLine, describeValue, forNode, Trace } from "../../src/services/Trace.ts"
import { runReplay } from "../../src/trace/cli.ts"
import { recordPair } from "./harness.ts"

/** An actor that handles three messages; returns when it handled them. */
const threeMessages = Effect.gen(function*() {
  const seen: Array<number> = []
  const actor = yield* Actor.make<{ readonly _tag: "N"; readonly n: number; readonly bytes: Uint8Array }>({
    name: "counter",
    capacity: 8,
    handle: (m) => Effect.sync(() => void seen.push(m.n))
  })
  for (const n of [1, 2, 3]) yield* actor.tell({ _tag: "N", n, bytes: Uint8Array.of(n, 255) })
  while (seen.length < 3) yield* Effect.yieldNow
  yield* actor.stop
  return seen
}).pipe(Effect.scoped)

describe("trace layers", () => {
  it.effect("off by default: an actor records nothing; the memory trace gets each mailbox delivery in order", () =>
    Effect.gen(function*() {
      assert.isFalse((yield* Trace).enabled)
      const sink = MemoryTrace.makeMemorySink()
      assert.deepStrictEqual(yield* threeMessages.pipe(Effect.provide(OffTrace.layer)), [1, 2, 3])
      assert.strictEqual(sink.size(), 0)
      yield* threeMessages.pipe(Effect.provide(MemoryTrace.layer(sink, "n1")))
      assert.deepStrictEqual(sink.records(), [1, 2, 3].map((n, seq) => ({
        node: "n1",
        actor: "counter",
        seq,
        kind: "mailbox" as const,
        data: { _tag: "N", n, bytes: `hex:${n.toString(16).padStart(2, "0")}ff` }
      })))
    }))

  it.effect("the JSON-lines file: one Schema-encoded record per line with node, actor and sequence", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "trace-file-"))
      try {
        const path = join(dir, "t.jsonl")
        yield* threeMessages.pipe(Effect.provide(Layer.fresh(FileTrace.layer(path, "n2"))))
        const lines = readFileSync(path, "utf8").trimEnd().split("\n")
        assert.strictEqual(lines.length, 3)
        assert.deepStrictEqual(lines.map((l) => decodeTraceLine(l).seq), [0, 1, 2])
        assert.deepStrictEqual(decodeTraceLine(lines[2] ?? ""), { node: "n2", actor: "counter", seq: 2, kind: "mailbox", data: { _tag: "N", n: 3, bytes: "hex:03ff" } })
        // Several nodes into one sink share one sequence.
        const sink = MemoryTrace.makeMemorySink()
        forNode(sink, "a").emit("x", "clock", 1)
        forNode(sink, "b").emit("y", "clock", 2)
        assert.deepStrictEqual(sink.records().map((r) => [r.node, r.seq]), [["a", 0], ["b", 1]])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.effect("describeValue: tags, bytes, bigints, class instances by name, bounded", () =>
    Effect.sync(() => {
      class Slot {}
      assert.deepStrictEqual(describeValue({ _tag: "A", x: 5n, b: Uint8Array.of(1), f: () => 1, s: new Slot(), u: undefined }), {
        _tag: "A",
        x: "5n",
        b: "hex:01",
        s: "<Slot>",
        u: null
      })
      const long = describeValue(Array.from({ length: 70 }, (_, i) => i))
      assert.isTrue(Array.isArray(long) && long.length === 65 && long[64] === "<+6>")
    }))

  it.live("npm run replay: a trace file replays identically; a usage error is exit code 2", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "trace-bin-"))
      try {
        const trace = (yield* recordPair("bin")).filter((r) => r.node === "bob")
        const path = join(dir, "bob.jsonl")
        yield* FileTrace.writeTraceFile(path, trace)
        const out = execFileSync(process.execPath, ["src/trace/bin.ts", path], { encoding: "utf8" })
        // (the node's own log lines come first)
        assert.strictEqual(out.trim().split("\n").at(-1), `identical: ${trace.length} records`)
        assert.strictEqual(yield* runReplay([]), 2)
        assert.strictEqual(yield* runReplay([join(dir, "missing.jsonl")]), 2)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }), 60_000)
})
