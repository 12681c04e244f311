/**
 * Which `Store` layer a node keeps its data in (`--store files|sqlite|postgres`), and where each
 * of its stores lives in that layer. A node has several stores, each named (`channels`,
 * `payments`, `graph`):
 *   - files:    the directory `<dataDir>/<name>` (`FileStore`)
 *   - sqlite:   the database file `<dataDir>/<name>.sqlite` (`SqlStore`, `node:sqlite`)
 *   - postgres: the schema `<name>` of the database at `--postgres-url` (`SqlStore`, `@effect/sql-pg`)
 * The SQL layers hold an owner lock while open (`StoreOwned` for a second node).
 */
import { join } from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { Console, Effect, Layer, type Scope } from "effect"
import type { Store, StoreCorrupt, StoreError, StoreShape } from "../../services/Store.ts"
import * as FileStore from "./FileStore.ts"
import { nodeStoreDisk } from "./StoreDisk.ts"
import type { StoreOwned } from "./SqlStore.ts"
import { copyStore } from "./SqlStoreCopy.ts"

/** The SQL layers are loaded only when chosen (`node:sqlite`, the Postgres driver). */
const sqlStore = Effect.promise(() => import("./SqlStore.ts"))

export const StoreKinds = ["files", "sqlite", "postgres"] as const
export type StoreKind = typeof StoreKinds[number]

export type StoreSelection =
  | { readonly kind: "files" }
  | { readonly kind: "sqlite" }
  | { readonly kind: "postgres"; readonly url: string }

export type NodeStoreError = StoreError | StoreCorrupt | StoreOwned

/** The store `name` of a node in `dataDir` on the selected layer; `owner` names the holder in the store's lock. */
export const layer = (selection: StoreSelection, dataDir: string, name: string, owner: string): Layer.Layer<Store, NodeStoreError> => {
  switch (selection.kind) {
    case "files":
      return FileStore.layer({ directory: join(dataDir, name), owner }).pipe(Layer.provide(NodeFileSystem.layer))
    case "sqlite":
      return Layer.unwrap(Effect.map(sqlStore, (m) => m.layerSqlite({ filename: join(dataDir, `${name}.sqlite`), owner })))
    case "postgres":
      return Layer.unwrap(Effect.map(sqlStore, (m) => m.layerPostgres({ url: selection.url, schema: name, owner })))
  }
}

/** The same store opened for the current scope (for tools such as `--migrate-store`). */
export const openNodeStore = (
  selection: StoreSelection,
  dataDir: string,
  name: string,
  owner: string
): Effect.Effect<StoreShape, NodeStoreError, Scope.Scope> => {
  switch (selection.kind) {
    case "files":
      return Effect.flatMap(nodeStoreDisk, (disk) => FileStore.makeFileStore(disk, { directory: join(dataDir, name), owner })).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
    case "sqlite":
      return Effect.flatMap(sqlStore, (m) => m.makeSqliteStore({ filename: join(dataDir, `${name}.sqlite`), owner }))
    case "postgres":
      return Effect.flatMap(sqlStore, (m) => m.makePostgresStore({ url: selection.url, schema: name, owner }))
  }
}

/** The node's stores, by name (`NodeLive`'s `CHANNELS_DIRECTORY`, `PAYMENTS_DIRECTORY`, `GRAPH_DIRECTORY`). */
export const NODE_STORE_NAMES = ["channels", "payments", "graph"] as const

/**
 * `npm start -- --migrate-store FROM TO`: copies each of the node's stores from one layer to
 * the other with `copyStore` (the targets must be empty; every key and byte verified), printing
 * the keys and bytes of each. The node must be stopped (the SQL stores refuse a running one).
 */
export const migrateNodeStores = (dataDir: string, from: StoreSelection, to: StoreSelection) =>
  Effect.forEach(NODE_STORE_NAMES, (name) =>
    Effect.scoped(
      Effect.gen(function*() {
        const source = yield* openNodeStore(from, dataDir, name, "migrate-store (source)")
        const target = yield* openNodeStore(to, dataDir, name, "migrate-store (target)")
        const report = yield* copyStore(source, target)
        yield* Console.log(`${name}: ${report.keys} keys, ${report.bytes} bytes copied from ${from.kind} to ${to.kind}, verified`)
        return report
      })
    )
  )
