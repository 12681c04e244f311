/**
 * `effect-lightning/node`: the production layers on Node.js. OS randomness (`OsEntropy`), TCP
 * (`TcpTransport`), the seed file and the keys derived from it (`SeedFileSigner`, `SeedKeys`),
 * the files store and local persister of a data directory (`ChannelStoreLive`), the SQL stores
 * (`layerSqliteStore`, `layerPostgresStore`; every durable store holds an owner lock while open,
 * a second opener gets `StoreOwned`), the WebSocket-to-TCP bridge for browser nodes
 * (`WebSocketBridge`), and a whole node as one layer (`NodeLive`: the peer registry and the
 * channel manager over all of these).
 */
import { Effect, Layer } from "effect"
import type { PostgresStoreOptions, SqliteStoreOptions, SqlStoreOpenError } from "../layers/store/SqlStore.ts"
import type { Store } from "../services/Store.ts"

export * from "../layers/node/index.ts"
// The composition root of a production node, and the daemon's flags (`src/daemon/`).
export * as NodeLive from "./NodeLive.ts"
export {
  CHANNEL_SIGNER_SEED_LABEL,
  CHANNELS_DIRECTORY,
  GRAPH_DIRECTORY,
  type NodeLiveOptions,
  nodeShutdownScript,
  ONCHAIN_DIRECTORY,
  PAYMENTS_DIRECTORY,
  SHUTDOWN_KEY_LABEL,
  WALLET_DIRECTORY,
  WALLET_SEED_LABEL
} from "./NodeLive.ts"
export * from "../daemon/NodeFlags.ts"
export { layerFileStore } from "../layers/store/FileStore.ts"
export { StoreOwned } from "../services/Store.ts"
export type { PostgresStoreOptions, SqliteStoreOptions, SqlStoreOpenError } from "../layers/store/SqlStore.ts"
export { layerLocalPersister } from "../layers/persister/ReplicatedPersister.ts"
export * as BitcoindChain from "../layers/chain/BitcoindChain.ts"
export * as WebSocketBridge from "../layers/node/WebSocketBridge.ts"
/** Span export over OTLP/HTTP with Effect's own exporter (`--otlp-endpoint`). */
export * as OtlpTracing from "../layers/observability/OtlpTracing.ts"

/**
 * The SQL store module, imported on first use: importing this entry point never loads
 * `node:sqlite` (an experimental warning on Node 24) or the Postgres driver.
 */
const sqlStore = Effect.promise(() => import("../layers/store/SqlStore.ts"))

/** The SQL store on a SQLite file (`SqlStore.ts`'s `layerSqliteStore`, loaded when built). */
export const layerSqliteStore = (options: SqliteStoreOptions): Layer.Layer<Store, SqlStoreOpenError> =>
  Layer.unwrap(Effect.map(sqlStore, (m) => m.layerSqliteStore(options)))

/** The SQL store on a Postgres database (`SqlStore.ts`'s `layerPostgresStore`, loaded when built). */
export const layerPostgresStore = (options: PostgresStoreOptions): Layer.Layer<Store, SqlStoreOpenError> =>
  Layer.unwrap(Effect.map(sqlStore, (m) => m.layerPostgresStore(options)))
