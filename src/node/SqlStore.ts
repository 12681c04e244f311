/**
 * The SQL stores of `effect-lightning/node` (`SqlStore.layerSqlite`, `SqlStore.layerPostgres`):
 * the SQL store module is imported on first use, so importing this entry point never loads
 * `node:sqlite` (an experimental warning on Node 24) or the Postgres driver.
 */
import { Effect, Layer } from "effect"
import type { PostgresStoreOptions, SqliteStoreOptions, SqlStoreOpenError } from "../layers/store/SqlStore.ts"
import type { Store } from "../services/Store.ts"

export type { PostgresStoreOptions, SqliteStoreOptions, SqlStoreOpenError } from "../layers/store/SqlStore.ts"

const sqlStore = Effect.promise(() => import("../layers/store/SqlStore.ts"))

/** The SQL store on a SQLite file (loaded when built). */
export const layerSqlite = (options: SqliteStoreOptions): Layer.Layer<Store, SqlStoreOpenError> =>
  Layer.unwrap(Effect.map(sqlStore, (m) => m.layerSqlite(options)))

/** The SQL store on a Postgres database (loaded when built). */
export const layerPostgres = (options: PostgresStoreOptions): Layer.Layer<Store, SqlStoreOpenError> =>
  Layer.unwrap(Effect.map(sqlStore, (m) => m.layerPostgres(options)))
