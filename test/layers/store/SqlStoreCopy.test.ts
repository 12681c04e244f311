/** `copyStore` (`--migrate-store`): every key and byte reaches the target, verified; a non-empty target is refused. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeMemoryStore } from "../../../src/layers/store/MemoryStore.ts"
import { makeSqliteStore } from "../../../src/layers/store/SqlStore.ts"
import { copyStore } from "../../../src/layers/store/SqlStoreCopy.ts"
import { putOp } from "../../../src/services/Store.ts"

const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-lightning-copy-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("copyStore", () => {
  it.effect("memory -> SQLite -> memory: every key and byte, across several batches", () =>
    Effect.gen(function*() {
      const source = makeMemoryStore().store
      let bytes = 0
      for (let i = 0; i < 700; i++) {
        const value = Uint8Array.from({ length: (i * 37) % 3000 }, (_, j) => (i + j) & 0xff)
        bytes += value.length
        yield* source.write([putOp(`monitor/${String(i).padStart(4, "0")}/state`, value)])
      }
      const dir = yield* tempDirectory
      const sqlite = yield* makeSqliteStore({ filename: join(dir, "copy.sqlite"), owner: "copy-test" })
      const report = yield* copyStore(source, sqlite)
      assert.deepStrictEqual(report, { keys: 700, bytes })
      const back = makeMemoryStore().store
      assert.deepStrictEqual(yield* copyStore(sqlite, back), { keys: 700, bytes })
      const a = yield* source.list("")
      const b = yield* back.list("")
      assert.deepStrictEqual(b.map((e) => [e.key, e.value]), a.map((e) => [e.key, e.value]))
    }).pipe(Effect.scoped))

  it.effect("a target that holds anything is refused, and left as it was", () =>
    Effect.gen(function*() {
      const source = makeMemoryStore().store
      yield* source.put("a", new Uint8Array([1]))
      const target = makeMemoryStore().store
      yield* target.put("b", new Uint8Array([2]))
      const refused = yield* Effect.flip(copyStore(source, target))
      assert.strictEqual(refused._tag, "StoreCopyMismatch")
      assert.deepStrictEqual((yield* target.list("")).map((e) => e.key), ["b"])
    }))
})
