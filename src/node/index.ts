/**
 * `effect-lightning/node`: the production layers on Node.js. OS randomness (`OsEntropy`), TCP
 * (`TcpTransport`), the seed file and the keys derived from it (`SeedFileSigner`, `SeedKeys`),
 * the files store and local persister of a data directory (`FileStore`, `ReplicatedPersister`,
 * `NodeLive.layerChannelStore`), the SQL stores
 * (`SqlStore.layerSqlite`, `SqlStore.layerPostgres`; every durable store holds an owner lock while open,
 * a second opener gets `StoreOwned`), the WebSocket-to-TCP bridge for browser nodes
 * (`WebSocketBridge`), and a whole node as one layer (`NodeLive`: the peer registry and the
 * channel manager over all of these).
 */
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
export * as FileStore from "../layers/store/FileStore.ts"
export { StoreOwned } from "../services/Store.ts"
export type { PostgresStoreOptions, SqliteStoreOptions, SqlStoreOpenError } from "../layers/store/SqlStore.ts"
/** The SQL stores, loaded on first use (`SqlStore.layerSqlite`, `SqlStore.layerPostgres`). */
export * as SqlStore from "./SqlStore.ts"
export * as ReplicatedPersister from "../layers/persister/ReplicatedPersister.ts"
export * as BitcoindChain from "../layers/chain/BitcoindChain.ts"
export * as WebSocketBridge from "../layers/node/WebSocketBridge.ts"
/** Span export over OTLP/HTTP with Effect's own exporter (`--otlp-endpoint`). */
export * as OtlpTracing from "../layers/observability/OtlpTracing.ts"
