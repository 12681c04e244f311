/**
 * The SQL store's schema, one for SQLite and Postgres, as Effect `Migrator` migrations (table
 * `store_migrations`). Add a migration, never edit one that shipped.
 *
 *   store_meta  (id = 1, version)             the single version sequence row: the last version
 *                                             given; every write transaction moves it forward
 *                                             with a compare-and-set (`WHERE version = <read>`)
 *   store_owner (id = 1, owner, generation)   who holds the store; `generation` grows at every
 *                                             open and fences writes (a write of an older
 *                                             generation changes nothing)
 *   store_kv    (key, version, value, replaced)  one row per key; `replaced` is the version the
 *                                             row replaced (0 = the key was absent), which the
 *                                             upsert's conditional update compares against
 * SQLite keeps `store_kv` a rowid table: a channel state (1-3 KB) fits in a table leaf, where
 * a WITHOUT ROWID row that size spills to an overflow page (more pages per commit).
 * Keys sort bytewise (`COLLATE "C"` on Postgres, SQLite's BINARY), which for the store's ASCII
 * keys is the UTF-16 code unit order `Store.list` promises.
 */
import { Effect } from "effect"
import { Migrator, SqlClient } from "effect/sql"

const initial = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const statements = sql.onDialectOrElse({
    pg: () => [
      sql`CREATE TABLE store_meta (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL CHECK (version >= 0))`,
      sql`CREATE TABLE store_owner (id integer PRIMARY KEY CHECK (id = 1), owner text NOT NULL, generation bigint NOT NULL)`,
      sql`CREATE TABLE store_kv (key text COLLATE "C" PRIMARY KEY, version bigint NOT NULL CHECK (version > 0), value bytea NOT NULL, replaced bigint NOT NULL CHECK (replaced >= 0 AND replaced < version))`
    ],
    orElse: () => [
      sql`CREATE TABLE store_meta (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL CHECK (version >= 0))`,
      sql`CREATE TABLE store_owner (id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, generation INTEGER NOT NULL)`,
      sql`CREATE TABLE store_kv (key TEXT PRIMARY KEY, version INTEGER NOT NULL CHECK (version > 0), value BLOB NOT NULL, replaced INTEGER NOT NULL CHECK (replaced >= 0 AND replaced < version))`
    ]
  })
  for (const s of statements) yield* s
  yield* sql`INSERT INTO store_meta (id, version) VALUES (1, 0)`
  yield* sql`INSERT INTO store_owner (id, owner, generation) VALUES (1, '', 0)`
})

/** Every migration, by `<id>_<name>`. */
export const storeMigrations = Migrator.fromRecord({ "1_store": initial })

/** Runs the pending migrations (in a transaction); the ids applied now. */
export const migrateStore = Migrator.make({})({ loader: storeMigrations, table: "store_migrations" })
