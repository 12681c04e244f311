/**
 * `Store` on IndexedDB: a node's channels, invoices and payments survive a reload of the tab.
 * Every guarantee of `src/services/Store.ts` holds, from IndexedDB's own transactions:
 *
 * - A `write` is ONE `readwrite` transaction over the entries and the version counter, opened
 *   with `durability: "strict"` (Chromium's default, "relaxed", may answer before the data is
 *   on disk): either every op and the new counter commit, or the transaction aborts and nothing
 *   does. The write succeeds only on the transaction's `complete` event, after the flush.
 * - Versions: the counter (`meta/version`) is read and advanced inside the write's transaction,
 *   so every successful write gets a greater version, never reused (a deleted key's old version
 *   never comes back). Each put stores `{ key, version, value }`.
 * - Compare-and-set: `ifVersion` ops read the key's current version inside the same
 *   transaction; a mismatch aborts it (`StoreConflict`, nothing applied). IndexedDB runs
 *   `readwrite` transactions with overlapping scopes one at a time in creation order, and every
 *   write touches the counter, so writes are serialised in the order they were submitted.
 * - Reads are `readonly` transactions: they see committed writes only.
 * - Opening checks every record (shape, version not above the counter) and refuses a damaged
 *   database with `StoreCorrupt` instead of dropping data.
 * - One owner: the store holds an exclusive Web Lock (`navigator.locks`) named after the
 *   database for its lifetime, so a second node (another tab) cannot open the same store by
 *   mistake; it fails with `StoreError`. (Where the Web Locks API is missing, this check is skipped.)
 *
 * Typed here against the few IndexedDB calls it makes, so the project needs no DOM typings.
 */
import { Effect, Layer, type Scope } from "effect"
import {
  invalidKeyReason,
  invalidWrite,
  Store,
  StoreConflict,
  StoreCorrupt,
  type StoreEntry,
  StoreError,
  StoreInvalidRequest,
  type StoreOp,
  type StoreShape,
  type StoreVersion,
  type StoreWriteError,
  deleteOp,
  putOp
} from "../../services/Store.ts"

// ---- The part of IndexedDB this layer uses -------------------------------------------------

interface IdbRequest<T> {
  readonly result: T
  readonly error: unknown
  onsuccess: (() => void) | null
  onerror: (() => void) | null
}

interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null
  onblocked: (() => void) | null
}

interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>
  getAll(range?: unknown): IdbRequest<ReadonlyArray<unknown>>
  put(value: unknown, key: string): IdbRequest<unknown>
  delete(key: string): IdbRequest<unknown>
}

interface IdbTransaction {
  readonly error: unknown
  objectStore(name: string): IdbObjectStore
  abort(): void
  oncomplete: (() => void) | null
  onabort: (() => void) | null
}

interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean }
  createObjectStore(name: string): unknown
  transaction(
    stores: ReadonlyArray<string>,
    mode: "readonly" | "readwrite",
    options?: { readonly durability: "strict" | "relaxed" | "default" }
  ): IdbTransaction
  close(): void
  onversionchange: (() => void) | null
}

interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest
  deleteDatabase(name: string): IdbRequest<unknown>
}

interface IdbKeyRangeStatic {
  bound(lower: string, upper: string, lowerOpen: boolean, upperOpen: boolean): unknown
}

interface WebLocks {
  request(name: string, options: { readonly mode: "exclusive"; readonly ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>): Promise<void>
}

const hasFunction = (u: unknown, name: string): boolean =>
  (typeof u === "object" || typeof u === "function") && u !== null && typeof Reflect.get(u, name) === "function"

const isIdbFactory = (u: unknown): u is IdbFactory => hasFunction(u, "open") && hasFunction(u, "deleteDatabase")
const isKeyRange = (u: unknown): u is IdbKeyRangeStatic => hasFunction(u, "bound")
const isWebLocks = (u: unknown): u is WebLocks => hasFunction(u, "request")

const describe = (e: unknown): string => (e instanceof Error ? e.message : typeof e === "object" && e !== null ? String(Reflect.get(e, "name") ?? e) : String(e))

// ---- Records -------------------------------------------------------------------------------

const ENTRIES = "entries"
const META = "meta"
const VERSION_KEY = "version"
const SCHEMA_VERSION = 1

interface StoredRecord {
  readonly key: string
  readonly version: StoreVersion
  readonly value: Uint8Array
}

const isStoredRecord = (u: unknown): u is StoredRecord =>
  typeof u === "object" && u !== null &&
  typeof Reflect.get(u, "key") === "string" &&
  Number.isSafeInteger(Reflect.get(u, "version")) &&
  Reflect.get(u, "value") instanceof Uint8Array

const versionOfRecord = (u: unknown): StoreVersion | undefined => (u === undefined ? 0 : isStoredRecord(u) ? u.version : undefined)

const entry = (r: StoredRecord): StoreEntry => ({ key: r.key, version: r.version, value: r.value })

// ---- The layer -----------------------------------------------------------------------------

export interface IndexedDbStoreOptions {
  /** The IndexedDB database name (one store per database). */
  readonly name: string
  /** Hold an exclusive Web Lock on the name while open (default true). */
  readonly exclusive?: boolean
}

const requestEffect = <T>(operation: string, open: () => IdbRequest<T>): Effect.Effect<T, StoreError> =>
  Effect.callback<T, StoreError>((resume) => {
    try {
      const r = open()
      r.onsuccess = () => resume(Effect.succeed(r.result))
      r.onerror = () => resume(Effect.fail(new StoreError({ operation, reason: describe(r.error) })))
    } catch (e) {
      resume(Effect.fail(new StoreError({ operation, reason: describe(e) })))
    }
  })

const indexedDb = (operation: string): Effect.Effect<IdbFactory, StoreError> =>
  Effect.suspend(() => {
    const factory: unknown = Reflect.get(globalThis, "indexedDB")
    return isIdbFactory(factory) ? Effect.succeed(factory) : Effect.fail(new StoreError({ operation, reason: "IndexedDB is not available here" }))
  })

/** Deletes the database `name` (tests and demos start afresh with it). Fails if it is open elsewhere and stays blocked. */
export const deleteIndexedDbStore = (name: string): Effect.Effect<void, StoreError> =>
  Effect.flatMap(indexedDb("delete"), (factory) => Effect.asVoid(requestEffect("delete", () => factory.deleteDatabase(name))))

/** Holds the Web Lock `name` until the scope closes; fails if another holder has it. */
const holdLock = (name: string): Effect.Effect<void, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const navigator: unknown = Reflect.get(globalThis, "navigator")
    const locks: unknown = typeof navigator === "object" && navigator !== null ? Reflect.get(navigator, "locks") : undefined
    if (!isWebLocks(locks)) return
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let requested: Promise<void> = Promise.resolve()
    const granted = yield* Effect.callback<boolean>((resume) => {
      requested = locks.request(`effect-lightning/store/${name}`, { mode: "exclusive", ifAvailable: true }, (lock) => {
        resume(Effect.succeed(lock !== null))
        return lock === null ? Promise.resolve() : held
      }).catch(() => resume(Effect.succeed(false)))
    })
    if (!granted) {
      return yield* Effect.fail(new StoreError({ operation: "open", reason: `store ${name} is open in another node (tab or worker)` }))
    }
    // The lock is free again once `request` settles, so a reopen right after closing succeeds.
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        release()
        return requested
      })
    )
  })

const openDatabase = (factory: IdbFactory, name: string): Effect.Effect<IdbDatabase, StoreError> =>
  Effect.callback<IdbDatabase, StoreError>((resume) => {
    const r = factory.open(name, SCHEMA_VERSION)
    r.onupgradeneeded = () => {
      const db = r.result
      if (!db.objectStoreNames.contains(ENTRIES)) db.createObjectStore(ENTRIES)
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META)
    }
    r.onsuccess = () => resume(Effect.succeed(r.result))
    r.onerror = () => resume(Effect.fail(new StoreError({ operation: "open", reason: describe(r.error) })))
    r.onblocked = () => resume(Effect.fail(new StoreError({ operation: "open", reason: "blocked by an older connection" })))
  })

/** Reads every record and the counter in one transaction; damaged data is `StoreCorrupt`. */
const checkDatabase = (db: IdbDatabase, name: string): Effect.Effect<void, StoreError | StoreCorrupt> =>
  Effect.gen(function*() {
    const tx = db.transaction([ENTRIES, META], "readonly")
    const [records, counter] = yield* Effect.all([
      requestEffect("open", () => tx.objectStore(ENTRIES).getAll()),
      requestEffect("open", () => tx.objectStore(META).get(VERSION_KEY))
    ])
    const version = counter === undefined ? 0 : counter
    if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) {
      return yield* Effect.fail(new StoreCorrupt({ file: `${name}/${META}/${VERSION_KEY}`, reason: "the version counter is not a non-negative integer" }))
    }
    for (const r of records) {
      if (!isStoredRecord(r) || invalidKeyReason(r.key) !== undefined || r.version < 1 || r.version > version) {
        const key = typeof r === "object" && r !== null ? String(Reflect.get(r, "key")) : "?"
        return yield* Effect.fail(new StoreCorrupt({ file: `${name}/${ENTRIES}/${key}`, reason: "malformed record or a version above the counter" }))
      }
    }
  })

/** Key syntax and distinct keys, checked before any transaction (as the other layers do). */
const invalidRequest = invalidWrite

/** One write as one IndexedDB transaction (see the module doc). */
const writeTransaction = (db: IdbDatabase, ops: ReadonlyArray<StoreOp>): Effect.Effect<StoreVersion, StoreWriteError> =>
  Effect.callback<StoreVersion, StoreWriteError>((resume) => {
    let tx: IdbTransaction
    try {
      tx = db.transaction([ENTRIES, META], "readwrite", { durability: "strict" })
    } catch (e) {
      resume(Effect.fail(new StoreError({ operation: "write", reason: describe(e) })))
      return
    }
    const entries = tx.objectStore(ENTRIES)
    const meta = tx.objectStore(META)
    let refusal: StoreConflict | StoreError | undefined
    let next = 0
    const refuse = (e: StoreConflict | StoreError) => {
      if (refusal !== undefined) return
      refusal = e
      tx.abort()
    }
    const apply = () => {
      for (const op of ops) {
        if (op._tag === "Put") entries.put({ key: op.key, version: next, value: op.value.slice() }, op.key)
        else entries.delete(op.key)
      }
      meta.put(next, VERSION_KEY)
    }
    const counter = meta.get(VERSION_KEY)
    counter.onsuccess = () => {
      const current = counter.result === undefined ? 0 : counter.result
      if (typeof current !== "number") return refuse(new StoreError({ operation: "write", reason: "the version counter is damaged" }))
      next = current + 1
      const checks = ops.filter((op) => op.ifVersion !== undefined)
      let remaining = checks.length
      if (remaining === 0) return apply()
      // Requests of one transaction complete in the order they were made: the first conflict
      // reported is the first conflicting op, as in the other layers.
      for (const op of checks) {
        const read = entries.get(op.key)
        read.onsuccess = () => {
          if (refusal !== undefined) return
          const actual = versionOfRecord(read.result)
          if (actual === undefined) return refuse(new StoreError({ operation: "write", reason: `record ${op.key} is damaged` }))
          if (actual !== op.ifVersion) return refuse(new StoreConflict({ key: op.key, expected: op.ifVersion ?? 0, actual }))
          remaining -= 1
          if (remaining === 0) apply()
        }
      }
    }
    tx.oncomplete = () => resume(refusal === undefined ? Effect.succeed(next) : Effect.fail(refusal))
    tx.onabort = () =>
      resume(Effect.fail(refusal ?? new StoreError({ operation: "write", reason: `transaction aborted: ${describe(tx.error)}` })))
  })

/**
 * Opens (creating if needed) the store in database `options.name`; closed with the scope.
 * Fails with `StoreCorrupt` on damaged data, `StoreError` when IndexedDB is missing, blocked,
 * or the store is held by another node.
 */
export const makeIndexedDbStore = (options: IndexedDbStoreOptions): Effect.Effect<StoreShape, StoreError | StoreCorrupt, Scope.Scope> =>
  Effect.gen(function*() {
    const factory = yield* indexedDb("open")
    if (options.exclusive ?? true) yield* holdLock(options.name)
    const db = yield* Effect.acquireRelease(openDatabase(factory, options.name), (d) => Effect.sync(() => d.close()))
    let closedReason: string | undefined
    // Another connection wants to upgrade or delete the database: let it, and fail from now on.
    db.onversionchange = () => {
      closedReason = "the database was deleted or upgraded elsewhere"
      db.close()
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => void (closedReason = "the store is closed")))
    yield* checkDatabase(db, options.name)
    const keyRange: unknown = Reflect.get(globalThis, "IDBKeyRange")

    const guard = <A, E>(operation: string, f: () => Effect.Effect<A, E>): Effect.Effect<A, E | StoreError> =>
      Effect.suspend((): Effect.Effect<A, E | StoreError> => (closedReason !== undefined ? Effect.fail(new StoreError({ operation, reason: closedReason })) : f()))

    // A transaction that cannot be created throws: `requestEffect` turns that into a StoreError.
    const read = <T>(operation: string, f: (s: IdbObjectStore) => IdbRequest<T>): Effect.Effect<T, StoreError> =>
      guard(operation, () => requestEffect(operation, () => f(db.transaction([ENTRIES], "readonly").objectStore(ENTRIES))))

    const write = (ops: ReadonlyArray<StoreOp>): Effect.Effect<StoreVersion, StoreWriteError> =>
      guard("write", () => {
        const bad = invalidRequest(ops)
        return bad !== undefined ? Effect.fail(bad) : writeTransaction(db, ops)
      })

    const store: StoreShape = {
      get: (key) => {
        const bad = invalidKeyReason(key)
        if (bad !== undefined) return Effect.fail(new StoreInvalidRequest({ reason: bad }))
        return read("get", (s) => s.get(key)).pipe(
          Effect.flatMap((r) =>
            r === undefined ? Effect.succeed(undefined) : isStoredRecord(r) ? Effect.succeed(entry(r)) : Effect.fail(new StoreError({ operation: "get", reason: `record ${key} is damaged` }))
          )
        )
      },
      list: (prefix) =>
        read("list", (s) =>
          // Keys are 0x21..0x7e, so prefix + 0x7f bounds every key that starts with prefix.
          prefix === "" || !isKeyRange(keyRange) ? s.getAll() : s.getAll(keyRange.bound(prefix, `${prefix}\x7f`, false, true))
        ).pipe(
          Effect.flatMap((records) => {
            const out: Array<StoreEntry> = []
            for (const r of records) {
              if (!isStoredRecord(r)) return Effect.fail(new StoreError({ operation: "list", reason: "a record is damaged" }))
              if (r.key.startsWith(prefix)) out.push(entry(r))
            }
            return Effect.succeed(out)
          })
        ),
      put: (key, value, ifVersion) => write([putOp(key, value, ifVersion)]),
      delete: (key, ifVersion) => Effect.asVoid(write([deleteOp(key, ifVersion)])),
      write
    }
    return store
  })

/** Layer: the IndexedDB store named `options.name`, open for the layer's lifetime. */
export const layer = (options: IndexedDbStoreOptions): Layer.Layer<Store, StoreError | StoreCorrupt> =>
  Layer.effect(Store, makeIndexedDbStore(options))
