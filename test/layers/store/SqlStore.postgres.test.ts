/**
 * The SQL store on a real Postgres: a throwaway server (`test/support/postgres.ts`) for this
 * file, one fresh schema per backing. The conformance suite and Postgres specifics.
 */
import { afterAll, beforeAll } from "vitest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { PgClient } from "@effect/sql-pg"
import { Reactivity } from "effect/reactivity"
import { makePostgresStore } from "../../../src/layers/store/SqlStore.ts"
import { startPostgres, type PostgresServer } from "../../support/postgres.ts"
import { type StoreBacking, storeConformance } from "./conformance.ts"

let server: PostgresServer | undefined
let schemas = 0

beforeAll(async () => {
  // fsync off: the tests check the store's logic, the bench measures real commits
  server = await startPostgres({ fsync: false })
}, 120_000)
afterAll(async () => {
  await server?.stop()
})

const serverUrl = Effect.sync(() => {
  if (server === undefined) throw new Error("no server")
  return server.url
})

/** A schema never used before (created by the store at open). */
const freshSchema = Effect.sync(() => `store_${++schemas}`)

const postgresBacking = Effect.gen(function*() {
  const url = yield* serverUrl
  const schema = yield* freshSchema
  return {
    open: (options) =>
      makePostgresStore({
        url,
        schema,
        owner: options?.owner ?? "test-node",
        ...(options?.crashAt === undefined ? {} : { crashAtStatement: options.crashAt })
      }),
    crashed: () => false,
    recover: Effect.void
  } satisfies StoreBacking
})

storeConformance({ name: "PostgresStore", exclusive: true, fresh: postgresBacking })

/** A plain client on the server, as an operator's session. */
const adminClient = (url: string) => PgClient.make({ url: Redacted.make(url), maxConnections: 1 }).pipe(Effect.provide(Reactivity.layer))

describe("PostgresStore", () => {
  it.live("the lock dies with its session: the next opener takes over, and the old holder's writes are fenced off", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      const schema = yield* freshSchema
      const a = yield* makePostgresStore({ url, schema, owner: "node-a" })
      yield* a.put("k", new Uint8Array([1]))
      const refused = yield* Effect.flip(Effect.scoped(makePostgresStore({ url, schema, owner: "node-b" })))
      assert.deepInclude(refused, { _tag: "StoreOwned" })
      assert.include(refused.message, "node-a")
      // the session holding the lock dies (a killed backend, a partition); node-a does not notice
      const sql = yield* adminClient(url)
      const killed = yield* sql<{ readonly killed: boolean }>`SELECT pg_terminate_backend(pid) AS killed FROM pg_locks WHERE locktype = 'advisory' AND classid = 1701604979 AND granted AND pid <> pg_backend_pid()`
      assert.deepStrictEqual(killed.map((r) => r.killed), [true])
      const b = yield* makePostgresStore({ url, schema, owner: "node-b" })
      assert.deepStrictEqual((yield* b.get("k"))?.value, new Uint8Array([1]))
      yield* b.put("k2", new Uint8Array([2]))
      // node-a's pool still reaches the database, but its generation is over: nothing it writes lands
      const fenced = yield* Effect.flip(a.put("k3", new Uint8Array([3])))
      assert.strictEqual(fenced._tag, "StoreError")
      assert.isUndefined(yield* b.get("k3"))
      const owner = yield* sql<{ readonly owner: string }>`SELECT owner FROM ${sql(schema)}.store_owner`
      assert.deepStrictEqual(owner.map((r) => r.owner), ["node-b"])
    }).pipe(Effect.scoped))

  it.live("stores in different schemas of one database are independent", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      const one = yield* makePostgresStore({ url, schema: yield* freshSchema, owner: "node-a" })
      const two = yield* makePostgresStore({ url, schema: yield* freshSchema, owner: "node-b" })
      yield* one.put("k", new Uint8Array([1]))
      assert.isUndefined(yield* two.get("k"))
      assert.strictEqual((yield* Effect.flip(makePostgresStore({ url, schema: "bad-name", owner: "x" })))._tag, "StoreError")
    }).pipe(Effect.scoped))
})
