/** The SQL store on SQLite (`node:sqlite`, a file in a temporary directory): the conformance suite and SQLite specifics. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { makeSqliteStore } from "../../../src/layers/store/SqlStore.ts"
import { putOp } from "../../../src/services/Store.ts"
import { type StoreBacking, storeConformance } from "./conformance.ts"

const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-lightning-sqlite-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const sqliteBacking = Effect.map(
  tempDirectory,
  (dir): StoreBacking => ({
    open: (options) =>
      makeSqliteStore({
        filename: join(dir, "store.sqlite"),
        owner: options?.owner ?? "test-node",
        ...(options?.crashAt === undefined ? {} : { crashAtStatement: options.crashAt })
      }),
    crashed: () => false,
    recover: Effect.void
  })
)

storeConformance({ name: "SqliteStore", exclusive: true, fresh: sqliteBacking })

describe("SqliteStore", () => {
  it.effect("a file that is not a database is refused as damaged, and left as it was", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const filename = join(dir, "store.sqlite")
      const garbage = new Uint8Array(8192).map((_, i) => (i * 31 + 7) & 0xff)
      writeFileSync(filename, garbage)
      const refused = yield* Effect.flip(Effect.scoped(makeSqliteStore({ filename, owner: "a" })))
      assert.strictEqual(refused._tag, "StoreCorrupt")
      assert.deepStrictEqual(new Uint8Array(readFileSync(filename)), garbage)
    }).pipe(Effect.scoped))

  it.effect("a refused second opener changes nothing, and the file holds one schema version", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const filename = join(dir, "store.sqlite")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* makeSqliteStore({ filename, owner: "a" })
          yield* s.write([putOp("k", new Uint8Array([1]))])
          const second = yield* Effect.exit(Effect.scoped(makeSqliteStore({ filename, owner: "b" })))
          assert.isTrue(Exit.isFailure(second))
          assert.deepStrictEqual((yield* s.get("k"))?.value, new Uint8Array([1]))
        })
      )
      const { DatabaseSync } = yield* Effect.promise(() => import("node:sqlite"))
      const db = new DatabaseSync(filename)
      try {
        const migrations = db.prepare("SELECT migration_id FROM store_migrations").all()
        assert.deepStrictEqual(migrations.map((r) => r["migration_id"]), [1])
        const owner = db.prepare("SELECT owner, generation FROM store_owner").all()
        // released at close: no owner, and the generation counts the opens that got it (a, then nobody else)
        assert.deepStrictEqual(owner.map((r) => [r["owner"], r["generation"]]), [["", 1]])
      } finally {
        db.close()
      }
    }))
})
