/**
 * An Effect `SqlClient` over Node's built-in SQLite (`node:sqlite`, `DatabaseSync`), so the SQL
 * store runs the same code (statements, transactions, `Migrator`) on SQLite as on Postgres.
 *
 * Why a client and not direct calls: the store's statements, its transaction handling and the
 * schema migrations (Effect's `Migrator`) are written once against `SqlClient`; this file is the
 * whole cost of SQLite (one `Connection` over one `DatabaseSync`, the shared SQLite acquirers and
 * compiler of `effect/sql`). No native dependency: `node:sqlite` ships with Node 24.
 *
 * One connection, serialised by a semaphore (SQLite is synchronous here: a statement blocks the
 * JavaScript thread for its duration, which for the store's few statements per group is
 * microseconds, plus one fsync per commit). Prepared statements are cached by text (bounded).
 * `busyTimeout` is 0 by default: a database locked by another process fails at once (the store
 * turns that into `StoreOwned`).
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite"
import { Effect, Scope, Semaphore, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, SqlError, Statement } from "effect/sql"
import type { Connection } from "effect/sql/SqlConnection"

export interface NodeSqliteClientOptions {
  /** The database file (created if absent), or ":memory:". */
  readonly filename: string
  /** Milliseconds to wait on a lock held by another connection (default 0: fail at once). */
  readonly busyTimeout?: number
  /** Prepared statements kept (default 128). */
  readonly statementCacheSize?: number
}

const toSqlError = (operation: string, cause: unknown): SqlError.SqlError =>
  new SqlError.SqlError({
    reason: SqlError.classifySqliteError(cause, { message: cause instanceof Error ? cause.message : String(cause), operation })
  })

/** A statement parameter as `node:sqlite` takes it (booleans as 0/1, undefined as NULL). */
const toInput = (value: unknown): SQLInputValue => {
  if (value === null || value === undefined) return null
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "string") return value
  if (typeof value === "boolean") return value ? 1 : 0
  // node:sqlite binds an empty array whose ArrayBuffer was ever materialized (`.buffer` read,
  // `TextEncoder.encode("")`) as NULL, not as an empty BLOB; a fresh one it binds as a BLOB.
  if (value instanceof Uint8Array) return value.length === 0 ? new Uint8Array(0) : value
  throw new TypeError(`unsupported SQLite parameter of type ${typeof value}`)
}

/** Opens `options.filename`; the database is closed when the scope closes. */
export const makeNodeSqliteClient = (
  options: NodeSqliteClientOptions
): Effect.Effect<SqlClient.SqlClient, SqlError.SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new DatabaseSync(options.filename, { timeout: options.busyTimeout ?? 0 }),
        catch: (e) => toSqlError("open", e)
      }),
      (d) => Effect.sync(() => d.close())
    )
    const cacheSize = options.statementCacheSize ?? 128
    const cache = new Map<string, StatementSync>()
    const prepare = (sql: string): StatementSync => {
      const cached = cache.get(sql)
      if (cached !== undefined) return cached
      const statement = db.prepare(sql)
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next()
        if (oldest.done !== true) cache.delete(oldest.value)
      }
      cache.set(sql, statement)
      return statement
    }
    const rows = (sql: string, params: ReadonlyArray<unknown>) =>
      Effect.try({ try: () => prepare(sql).all(...params.map(toInput)), catch: (e) => toSqlError("execute", e) })
    // rows as arrays, in column order (rows are objects in column order)
    const values = (sql: string, params: ReadonlyArray<unknown>) =>
      Effect.map(rows(sql, params), (all) => all.map((row): ReadonlyArray<unknown> => Object.values(row)))
    const connection: Connection = {
      execute: (sql, params, transformRows) => {
        const all = rows(sql, params)
        return transformRows === undefined ? all : Effect.map(all, transformRows)
      },
      // `{ changes, lastInsertRowid }` of `StatementSync.run`: what the store reads affected rows from
      executeRaw: (sql, params) =>
        Effect.try({ try: () => prepare(sql).run(...params.map(toInput)), catch: (e) => toSqlError("execute", e) }),
      executeStream: (sql, params, transformRows) =>
        Stream.fromIterableEffect(
          transformRows === undefined ? rows(sql, params) : Effect.map(rows(sql, params), transformRows)
        ),
      executeValues: (sql, params) => values(sql, params),
      executeValuesUnprepared: (sql, params) => values(sql, params),
      executeUnprepared: (sql, params, transformRows) => {
        const all = Effect.try({
          try: () => (params.length === 0 ? (db.exec(sql), []) : db.prepare(sql).all(...params.map(toInput))),
          catch: (e) => toSqlError("execute", e)
        })
        return transformRows === undefined ? all : Effect.map(all, transformRows)
      }
    }
    const semaphore = yield* Semaphore.make(1)
    const { acquirer, onCommitFailure, transactionAcquirer } = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore,
      isTransaction: () => db.isTransaction
    })
    return yield* SqlClient.make({
      acquirer,
      compiler: Statement.makeCompilerSqlite(),
      driver: "node:sqlite",
      transactionAcquirer,
      onCommitFailure,
      beginTransaction: "BEGIN IMMEDIATE",
      releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`,
      spanAttributes: [["db.system.name", "sqlite"]]
    })
  })
