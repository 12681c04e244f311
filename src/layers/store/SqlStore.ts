/**
 * `Store` over SQL: SQLite (Node's built-in `node:sqlite`, behind an Effect `SqlClient`, see
 * `sql/NodeSqliteClient.ts`) and Postgres (`@effect/sql-pg`). The same statements and schema
 * (`sql/schema.ts`, Effect `Migrator` migrations) on both; every guarantee of `Store.ts` holds,
 * and the database enforces them:
 *
 * - Atomic, durable writes: one database transaction per group of writes; a write succeeds only
 *   after its transaction committed (SQLite: WAL with `synchronous = FULL`; Postgres: its
 *   default `synchronous_commit`). A channel's monitor updates and state, written by the local
 *   persister as ONE `Store.write`, are therefore appended in the transaction of the state they
 *   belong to; update keys are put with compare-and-set "absent", so a log entry is never
 *   overwritten and an update id is written once.
 * - Versions and compare-and-set in SQL: `store_meta` is the single version sequence row. A
 *   group reads it and the versions of the keys it touches, decides each write in submission
 *   order (a write whose `ifVersion` does not match fails alone with `StoreConflict`; the others
 *   go on), then applies the outcome with conditional statements: a put is an upsert whose
 *   update only happens `WHERE store_kv.version = <version read>` (0: the insert, which a
 *   present key refuses), a delete is `WHERE key = .. AND version = <version read>`, and the
 *   sequence row moves `WHERE version = <version read>`. Any statement affecting fewer rows
 *   than decided (someone else wrote meanwhile) rolls the whole group back (`StoreError`,
 *   retryable): a version is never given twice and a compare-and-set never passes on a stale
 *   read.
 * - Group commit: writes queue to one writer fiber, which takes every write waiting (up to
 *   `maxGroupWrites`) into one transaction: writes that arrive while a transaction is in flight
 *   join the next one. A few statements per group whatever its size: one read (the sequence
 *   row, the owner's generation and the keys' versions), then the multi-row upsert, the delete
 *   and the sequence row (on Postgres these three are ONE statement of data-modifying CTEs, so a
 *   group is four round trips with BEGIN and COMMIT); 100 channels writing at once cost about
 *   one commit.
 * - One owner: at open the store takes the database's lock for as long as it is open, and a
 *   second opener (another process, or another layer in this one) is refused with `StoreOwned`.
 *   SQLite: `locking_mode = EXCLUSIVE` and a write at open (the file lock is held until the
 *   connection closes); Postgres: a session advisory lock on a connection reserved for it. Both
 *   locks die with their holder (a crashed process, a dropped connection), so a stale owner
 *   never blocks a restart: the next opener takes the lock and then takes over the owner row
 *   (`store_owner`, whose previous owner is logged). The row's `generation` grows at every open
 *   and every write checks it, so a writer that lost its lock without noticing (a network
 *   partition on Postgres) cannot write after a takeover. The lock is not taken again: if the
 *   Postgres connection holding it drops, this store keeps writing (through its pool) until
 *   another opener takes over, and from then on every write fails (`StoreError`); restart the
 *   node. SQLite's exclusive mode also keeps other processes from reading the file while the
 *   node runs (an operator's `sqlite3` shell included).
 * - Reads (`get`, `list`) are plain queries: they see committed writes only. Values are copied.
 *
 * Errors: an unreachable or failing database is `StoreError` (retryable: the persister retries
 * on its `Schedule`); a failed migration at open is `StoreError` too, with nothing changed; a
 * database the engine reports damaged is `StoreCorrupt` at open.
 */
import { Array as Arr, Data, Deferred, Effect, Layer, Redacted, type Scope } from "effect"
import { PgClient } from "@effect/sql-pg"
import { Reactivity } from "effect/reactivity"
import { SqlClient, SqlError } from "effect/sql"
import {
  deleteOp,
  invalidKeyReason,
  invalidWrite,
  putOp,
  Store,
  StoreConflict,
  StoreCorrupt,
  StoreError,
  StoreInvalidRequest,
  type StoreEntry,
  type StoreOp,
  type StoreShape,
  type StoreVersion,
  StoreOwned,
  type StoreWriteError
} from "../../services/Store.ts"
import { startGroupCommit, type PendingWrite } from "./GroupCommit.ts"
import { makeNodeSqliteClient } from "./sql/NodeSqliteClient.ts"
import { migrateStore } from "./sql/schema.ts"

/** The store is held by another owner (a running node): refused at open, nothing changed (declared with the `Store` service). */
export { StoreOwned }

export interface SqlStoreOptions {
  /** Who opens the store, recorded in `store_owner` (e.g. the node id, or host and data dir). */
  readonly owner: string
  /** Writes grouped in one transaction at most (default 512). */
  readonly maxGroupWrites?: number
  /**
   * Test knob: statement n (0 = the first after open) and every later one fail as if the
   * database connection had died (the transaction in flight is rolled back by the database).
   * Used by the conformance suite to crash the store between any two statements.
   */
  readonly crashAtStatement?: number
}

export type SqlStoreOpenError = StoreError | StoreCorrupt | StoreOwned

interface KvRow {
  readonly key: string
  readonly version: number | bigint | string
  readonly value: Uint8Array
}

/** Rows per multi-row statement (well under SQLite's 32766 and Postgres' 65535 parameters). */
const CHUNK = 500

const toVersion = (v: unknown): StoreVersion => (typeof v === "number" ? v : Number(v))

/** Rows a statement changed: Postgres' `rowCount`, `node:sqlite`'s `changes`. */
const affected = (raw: unknown): number => {
  if (typeof raw === "object" && raw !== null) {
    if ("rowCount" in raw && typeof raw.rowCount === "number") return raw.rowCount
    if ("changes" in raw && (typeof raw.changes === "number" || typeof raw.changes === "bigint")) return Number(raw.changes)
  }
  return 0
}

const chunks = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

/** Checked before queueing. */
const malformed = invalidWrite

/** The smallest string greater than every string starting with `prefix` (printable ASCII prefix). */
const prefixEnd = (prefix: string): string => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)

/** A group's outcome disagreed with the database (another writer): the transaction rolls back. */
class Interference extends Data.TaggedError("Interference")<{ readonly reason: string }> {}

/** SQLite's words for a damaged file (SQLITE_NOTADB, SQLITE_CORRUPT), Postgres' data corruption class. */
const CORRUPT = /file is not a database|database disk image is malformed|data_corrupted|index_corrupted/i

const isLockedError = (e: SqlError.SqlError): boolean => /locked|busy/i.test(e.message)

/**
 * Opens the store on the `SqlClient` in context: `lock` takes the database's owner lock for
 * the scope (dialect-specific), then the migrations run and the owner row is taken over.
 */
export const makeSqlStore = (
  name: string,
  lock: Effect.Effect<void, StoreOwned | SqlError.SqlError, SqlClient.SqlClient | Scope.Scope>,
  options: SqlStoreOptions
): Effect.Effect<StoreShape, SqlStoreOpenError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const maxGroupWrites = options.maxGroupWrites ?? 512
    const openError = (e: { readonly message: string }) => new StoreError({ operation: "open", reason: `${name}: ${e.message}` })
    // a damaged database is refused as such (nothing is changed), like a damaged files store
    const damaged = (e: { readonly message: string }): StoreError | StoreCorrupt =>
      CORRUPT.test(e.message) ? new StoreCorrupt({ file: name, reason: e.message }) : openError(e)

    yield* lock.pipe(Effect.mapError((e) => (e._tag === "StoreOwned" ? e : damaged(e))))
    yield* migrateStore.pipe(Effect.mapError(damaged))

    // take the owner row: a new generation fences any earlier holder's writes
    const taken = yield* sql
      .withTransaction(
        Effect.gen(function*() {
          const before = yield* sql<{ readonly owner: string; readonly generation: unknown }>`SELECT owner, generation FROM store_owner WHERE id = 1`
          const generation = toVersion(before[0]?.generation ?? 0) + 1
          yield* sql`UPDATE store_owner SET owner = ${options.owner}, generation = ${generation} WHERE id = 1`
          return { previous: before[0]?.owner ?? "", generation }
        })
      )
      .pipe(Effect.mapError(openError))
    if (taken.previous !== "" && taken.previous !== options.owner)
      yield* Effect.logWarning(`${name}: taking over from ${taken.previous}, whose lock is gone (it stopped without releasing)`)
    const generation = taken.generation

    // ---- statements, counted for the crash knob ----
    let statements = 0
    const crashAt = options.crashAtStatement
    const exec = <A, E, R>(statement: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
      Effect.suspend((): Effect.Effect<A, E | SqlError.SqlError, R> => {
        const n = statements++
        if (crashAt !== undefined && n >= crashAt)
          return Effect.fail(new SqlError.SqlError({ reason: new SqlError.ConnectionError({ cause: "injected crash", message: "injected crash", operation: "execute" }) }))
        return statement
      })

    yield* Effect.addFinalizer(() =>
      Effect.ignore(exec(sql`UPDATE store_owner SET owner = '' WHERE id = 1 AND generation = ${generation}`))
    )

    // ---- reads ----
    const readError = (operation: string) => (e: SqlError.SqlError) => new StoreError({ operation, reason: e.message })
    const entry = (r: KvRow): StoreEntry => ({ key: r.key, version: toVersion(r.version), value: Uint8Array.from(r.value) })

    const get = (key: string): Effect.Effect<StoreEntry | undefined, StoreError | StoreInvalidRequest> =>
      Effect.suspend((): Effect.Effect<StoreEntry | undefined, StoreError | StoreInvalidRequest> => {
        const bad = invalidKeyReason(key)
        if (bad !== undefined) return Effect.fail(new StoreInvalidRequest({ reason: bad }))
        return exec(sql<KvRow>`SELECT key, version, value FROM store_kv WHERE key = ${key}`).pipe(
          Effect.map((rows) => (rows[0] === undefined ? undefined : entry(rows[0]))),
          Effect.mapError(readError("get"))
        )
      })

    const list = (prefix: string): Effect.Effect<ReadonlyArray<StoreEntry>, StoreError | StoreInvalidRequest> =>
      Effect.suspend(() => {
        // no key holds a character outside 0x21..0x7e: such a prefix matches nothing
        if (prefix !== "" && invalidKeyReason(prefix) !== undefined) return Effect.succeed([])
        const query =
          prefix === ""
            ? sql<KvRow>`SELECT key, version, value FROM store_kv ORDER BY key`
            : sql<KvRow>`SELECT key, version, value FROM store_kv WHERE key >= ${prefix} AND key < ${prefixEnd(prefix)} ORDER BY key`
        return exec(query).pipe(Effect.map((rows) => rows.map(entry)), Effect.mapError(readError("list")))
      })

    // ---- group commit ----
    interface Decided {
      readonly write: PendingWrite
      readonly outcome: StoreVersion | StoreConflict
    }

    /** One transaction for the group; each write's outcome (a version or its conflict). */
    const transaction = (group: ReadonlyArray<PendingWrite>) =>
      Effect.gen(function*() {
        // one read: the sequence row and the owner's generation (as the row with the empty key,
        // which no key is), and the versions of the first keys; then any further keys
        const keys = [...new Set(group.flatMap((w) => w.ops.map((op) => op.key)))]
        const [first = [], ...rest] = chunks(keys)
        const headRow = sql`SELECT '' AS key, m.version AS version, o.generation AS generation FROM store_meta m, store_owner o WHERE m.id = 1 AND o.id = 1`
        const read = yield* exec(
          sql<{ readonly key: string; readonly version: unknown; readonly generation: unknown }>`${headRow}${
            first.length === 0 ? sql`` : sql` UNION ALL SELECT key, version, 0 FROM store_kv WHERE ${sql.in("key", first)}`
          }`
        )
        const head = read.find((r) => r.key === "")
        if (head === undefined) return yield* new Interference({ reason: "store_meta row missing" })
        if (toVersion(head.generation) !== generation) return yield* new Interference({ reason: "the store was taken over by another owner" })
        const start = toVersion(head.version)
        const before = new Map<string, StoreVersion>()
        for (const r of read) if (r.key !== "") before.set(r.key, toVersion(r.version))
        for (const part of rest) {
          const rows = yield* exec(sql<{ readonly key: string; readonly version: unknown }>`SELECT key, version FROM store_kv WHERE ${sql.in("key", part)}`)
          for (const r of rows) before.set(r.key, toVersion(r.version))
        }

        // decide each write in order against the versions read and the writes before it
        const current = new Map(before)
        const final = new Map<string, { readonly op: StoreOp; readonly version: StoreVersion }>()
        const decided: Array<Decided> = []
        let version = start
        for (const w of group) {
          let conflict: StoreConflict | undefined
          for (const op of w.ops) {
            if (op.ifVersion === undefined) continue
            const actual = current.get(op.key) ?? 0
            if (actual !== op.ifVersion) {
              conflict = new StoreConflict({ key: op.key, expected: op.ifVersion, actual })
              break
            }
          }
          if (conflict !== undefined) {
            decided.push({ write: w, outcome: conflict })
            continue
          }
          version += 1
          for (const op of w.ops) {
            current.set(op.key, op._tag === "Put" ? version : 0)
            final.set(op.key, { op, version })
          }
          decided.push({ write: w, outcome: version })
        }
        if (version === start) return decided

        const puts: Array<{ key: string; version: number; value: Uint8Array; replaced: number }> = []
        const deletes: Array<{ readonly key: string; readonly version: StoreVersion }> = []
        for (const [key, f] of final) {
          const was = before.get(key) ?? 0
          if (f.op._tag === "Put") puts.push({ key, version: f.version, value: f.op.value, replaced: was })
          else if (was > 0) deletes.push({ key, version: was })
        }
        const upsert = (part: Arr.NonEmptyReadonlyArray<(typeof puts)[number]>) =>
          sql`INSERT INTO store_kv ${sql.insert(part)} ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value, replaced = excluded.replaced WHERE store_kv.version = excluded.replaced`
        const remove = (part: ReadonlyArray<(typeof deletes)[number]>) =>
          sql`DELETE FROM store_kv WHERE ${sql.or(part.map((d) => sql.and([sql`key = ${d.key}`, sql`version = ${d.version}`])))}`
        const move = sql`UPDATE store_meta SET version = ${version} WHERE id = 1 AND version = ${start} AND EXISTS (SELECT 1 FROM store_owner WHERE id = 1 AND generation = ${generation})`

        // Postgres, a group of usual size: the three in ONE statement (data-modifying CTEs over
        // disjoint keys), one round trip; each count checked as below
        if (sql.onDialectOrElse({ pg: () => true, orElse: () => false }) && puts.length <= CHUNK && deletes.length <= CHUNK) {
          const ctes = [
            ...(Arr.isReadonlyArrayNonEmpty(puts) ? [sql`up AS (${upsert(puts)} RETURNING 1)`] : []),
            ...(deletes.length > 0 ? [sql`del AS (${remove(deletes)} RETURNING 1)`] : []),
            sql`mv AS (${move} RETURNING 1)`
          ]
          const counts = yield* exec(
            sql<{ readonly up: unknown; readonly del: unknown; readonly mv: unknown }>`WITH ${sql.csv(ctes)} SELECT ${
              puts.length > 0 ? sql`(SELECT count(*) FROM up)` : sql`0`
            } AS up, ${deletes.length > 0 ? sql`(SELECT count(*) FROM del)` : sql`0`} AS del, (SELECT count(*) FROM mv) AS mv`
          )
          const c = counts[0]
          if (c === undefined || toVersion(c.up) !== puts.length || toVersion(c.del) !== deletes.length)
            return yield* new Interference({ reason: "a key changed under the group" })
          if (toVersion(c.mv) !== 1) return yield* new Interference({ reason: "the version sequence moved under the group" })
          return decided
        }
        for (const part of chunks(puts)) {
          if (!Arr.isReadonlyArrayNonEmpty(part)) continue
          const raw = yield* exec(upsert(part).raw)
          if (affected(raw) !== part.length) return yield* new Interference({ reason: "a key changed under the group" })
        }
        for (const part of chunks(deletes)) {
          const raw = yield* exec(remove(part).raw)
          if (affected(raw) !== part.length) return yield* new Interference({ reason: "a key changed under the group" })
        }
        const moved = yield* exec(move.raw)
        if (affected(moved) !== 1) return yield* new Interference({ reason: "the version sequence moved under the group" })
        return decided
      })

    const commitGroup = (group: ReadonlyArray<PendingWrite>) =>
      Effect.gen(function*() {
        const result = yield* Effect.result(sql.withTransaction(transaction(group)))
        if (result._tag === "Failure") {
          const error = new StoreError({ operation: "write", reason: `${name}: ${result.failure.message}` })
          for (const w of group) yield* Deferred.fail(w.done, error)
          return
        }
        for (const d of result.success) {
          if (typeof d.outcome === "number") yield* Deferred.succeed(d.write.done, d.outcome)
          else yield* Deferred.fail(d.write.done, d.outcome)
        }
      })

    const submit = yield* startGroupCommit({ commitGroup, maxGroupWrites, closed: new StoreError({ operation: "write", reason: `${name}: store closed` }) })
    const write = (ops: ReadonlyArray<StoreOp>): Effect.Effect<StoreVersion, StoreWriteError> =>
      Effect.suspend(() => {
        const bad = malformed(ops)
        return bad === undefined ? submit(ops) : Effect.fail(bad)
      })

    return {
      get,
      list,
      put: (key, value, ifVersion) => write([putOp(key, value, ifVersion)]),
      delete: (key, ifVersion) => Effect.asVoid(write([deleteOp(key, ifVersion)])),
      write
    } satisfies StoreShape
  })

// ---- SQLite ----

export interface SqliteStoreOptions extends SqlStoreOptions {
  /** The database file (created if absent). */
  readonly filename: string
}

/** SQLite's owner lock: exclusive locking mode, WAL, full sync, and a write to take the lock now. */
const sqliteLock = (filename: string): Effect.Effect<void, StoreOwned | SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe("PRAGMA locking_mode = EXCLUSIVE")
    yield* sql.unsafe("PRAGMA journal_mode = WAL")
    yield* sql.unsafe("PRAGMA synchronous = FULL")
    yield* sql.withTransaction(Effect.void)
  }).pipe(
    Effect.catchIf(isLockedError, (e) => Effect.fail(new StoreOwned({ store: filename, reason: `the database is locked (${e.message})` })))
  )

/** The SQLite store over `options.filename` in the current scope. */
export const makeSqliteStore = (options: SqliteStoreOptions): Effect.Effect<StoreShape, SqlStoreOpenError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* makeNodeSqliteClient({ filename: options.filename }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((e) => new StoreError({ operation: "open", reason: `sqlite ${options.filename}: ${e.message}` }))
    )
    return yield* makeSqlStore(`sqlite ${options.filename}`, sqliteLock(options.filename), options).pipe(
      Effect.provideService(SqlClient.SqlClient, client)
    )
  })

export const layerSqlite = (options: SqliteStoreOptions): Layer.Layer<Store, SqlStoreOpenError> =>
  Layer.effect(Store, makeSqliteStore(options))

// ---- Postgres ----

export interface PostgresStoreOptions extends SqlStoreOptions {
  /** `postgres://user:password@host:port/database` */
  readonly url: string
  /**
   * The schema holding the store's tables (default: the connection's `search_path`, normally
   * `public`); several stores can share a database in different schemas. Created if absent.
   */
  readonly schema?: string
  /** Pool size (default 4: the writer, the lock, and reads). */
  readonly maxConnections?: number
}

/**
 * The advisory lock of a store: (`"elns"` in ASCII, a hash of the store's schema), so stores in
 * different schemas of one database do not block each other.
 */
const PG_LOCK_KEY = "1701604979, hashtext(current_schema())"

/** Postgres' owner lock: a session advisory lock on a connection reserved for the scope. */
const postgresLock = (where: string): Effect.Effect<void, StoreOwned | SqlError.SqlError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const conn = yield* sql.reserve
    const got = yield* conn.executeValues(`SELECT pg_try_advisory_lock(${PG_LOCK_KEY})`, [])
    if (got[0]?.[0] !== true) {
      const rows = yield* sql<{ readonly owner: string }>`SELECT owner FROM store_owner WHERE id = 1`.pipe(
        Effect.orElseSucceed((): ReadonlyArray<{ readonly owner: string }> => [])
      )
      return yield* new StoreOwned({ store: where, reason: `held by ${rows[0]?.owner || "another session"}` })
    }
    yield* Effect.addFinalizer(() => Effect.ignore(conn.executeValues(`SELECT pg_advisory_unlock(${PG_LOCK_KEY})`, [])))
  })

/** Where a URL points, without its credentials (for messages). */
const describeUrl = (url: string): string => {
  const at = url.lastIndexOf("@")
  return at < 0 ? url : `postgres://${url.slice(at + 1)}`
}

/** The Postgres store at `options.url` in the current scope. */
export const makePostgresStore = (options: PostgresStoreOptions): Effect.Effect<StoreShape, SqlStoreOpenError, Scope.Scope> =>
  Effect.gen(function*() {
    const where = describeUrl(options.url)
    const schema = options.schema
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      return yield* new StoreError({ operation: "open", reason: `postgres schema name ${schema}: use a-z, 0-9 and _` })
    const client = yield* PgClient.make({
      url: Redacted.make(options.url),
      maxConnections: options.maxConnections ?? 4,
      ...(schema === undefined ? {} : { startupParameters: { search_path: schema } })
    }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((e) => new StoreError({ operation: "open", reason: `postgres ${where}: ${e.message}` }))
    )
    if (schema !== undefined)
      yield* client.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`).pipe(
        Effect.mapError((e) => new StoreError({ operation: "open", reason: `postgres ${where}: ${e.message}` }))
      )
    const name = schema === undefined ? `postgres ${where}` : `postgres ${where} schema ${schema}`
    return yield* makeSqlStore(name, postgresLock(name), options).pipe(Effect.provideService(SqlClient.SqlClient, client))
  })

export const layerPostgres = (options: PostgresStoreOptions): Layer.Layer<Store, SqlStoreOpenError> =>
  Layer.effect(Store, makePostgresStore(options))
