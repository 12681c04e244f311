/**
 * The node's persister over the SQL store (SQLite here; Postgres runs the same statements): a
 * channel's monitor updates are appended in the transaction of the state they belong to, and a
 * restart loads exactly what was written.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import * as ReplicatedPersister from "../../../src/layers/persister/ReplicatedPersister.ts"
import { makeSqliteStore } from "../../../src/layers/store/SqlStore.ts"
import { MonitorPersister } from "../../../src/services/MonitorPersister.ts"
import { Store } from "../../../src/services/Store.ts"
import { channelIdOf, logOf, stateAt } from "../persister/fixtures.ts"

const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-lightning-sqlpersist-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The local persister over a SQLite store at `filename`, for the scope. */
const persisterAt = (filename: string) =>
  Effect.gen(function*() {
    const store = yield* makeSqliteStore({ filename, owner: "persister-test" })
    const context = yield* Layer.build(ReplicatedPersister.layerLocal().pipe(Layer.provide(Layer.succeed(Store, store))))
    return { store, persister: Context.get(context, MonitorPersister) }
  })

describe("local persister over the SQL store", () => {
  it.effect("20 channels persisting at once: each state is written with its updates, and a restart loads exactly that", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const filename = join(dir, "channels.sqlite")
      const channels = Array.from({ length: 20 }, (_, i) => ({ id: channelIdOf(i), log: logOf(i, 6) }))
      yield* Effect.scoped(
        Effect.gen(function*() {
          const { store, persister } = yield* persisterAt(filename)
          yield* persister.load
          for (let step = 0; step < 6; step += 2) {
            const statuses = yield* persister.persistMany(
              channels.map((c, i) => ({ channelId: c.id, updates: c.log.slice(step, step + 2), channelState: stateAt(i, BigInt(step + 1)) }))
            )
            assert.isTrue(statuses.every((s) => s === "Completed"))
          }
          // one transaction per write: a channel's state carries the version of its last updates
          for (const entries of [yield* store.list("monitor/")]) {
            const states = entries.filter((e) => e.key.endsWith("/state"))
            assert.strictEqual(states.length, 20)
            for (const s of states) {
              const prefix = s.key.slice(0, -"state".length)
              const updates = entries.filter((e) => e.key.startsWith(`${prefix}u/`))
              assert.strictEqual(updates.length, 6)
              assert.strictEqual(Math.max(...updates.map((u) => u.version)), s.version)
            }
          }
        })
      )
      const loaded = yield* Effect.scoped(Effect.flatMap(persisterAt(filename), ({ persister }) => persister.load))
      assert.strictEqual(loaded.length, 20)
      for (const [i, c] of channels.entries()) {
        const l = loaded.find((x) => equalBytes(x.channelId, c.id))
        assert.deepStrictEqual(l?.channelState, stateAt(i, 5n))
        assert.strictEqual(l?.latestUpdateId, 5n)
        assert.deepStrictEqual(l?.updates.map((u) => u.updateId), [0n, 1n, 2n, 3n, 4n, 5n])
      }
    }).pipe(Effect.scoped))
})
