/**
 * Store: keyed, versioned blobs with atomic writes (bring your own disk). The node keeps its
 * channels here: `MonitorPersister` writes a channel's state and its new monitor updates in ONE
 * atomic `write`, so after a crash the two never disagree (see `docs` "One source of truth").
 *
 * Guarantees every layer gives:
 * - A `write` is all-or-nothing: every op or none is applied, in memory and on disk. When it
 *   succeeds, it is durable (the files layer has fsync'ed it).
 * - Every successful write gets a version greater than every earlier one; each key it puts
 *   carries that version. `ifVersion` is compare-and-set: the op (and with it the whole write)
 *   is refused with `StoreConflict` unless the key's current version is `ifVersion`
 *   (0 = the key must be absent). Versions are never reused, so a deleted and re-created key
 *   never matches an old version.
 * - Reads see exactly the writes that succeeded, never a write in progress.
 * - A failed write (`StoreError`) changed nothing that a read can see. After a crash, a write
 *   that failed with an I/O error may or may not be there (as with any disk or network):
 *   callers retry the same write, which is idempotent for the persister.
 * - Existing data is never lost or corrupted by a crash at any point; a store whose files
 *   are damaged refuses to open (`StoreCorrupt`) rather than silently dropping data.
 *
 * - One owner (durable layers): while a store is open, a second opener of the same directory or
 *   database (another node, or another layer in the same process) is refused at open with
 *   `StoreOwned`, so two nodes cannot share one store by mistake. The owner lock dies with its
 *   holder: after the first closes or crashes, the next opener takes the store over. The
 *   in-memory layer is exempt: its data is shared on purpose by a simulated node's restarts.
 *
 * Keys are printable ASCII (0x21..0x7e), 1..1024 characters; `/` is a conventional separator
 * for `list` prefixes. Layers: `src/layers/store/`: in memory (`MemoryStore.ts`), files over a
 * directory (`FileStore.ts`, owner lock: a `LOCK` file), and SQL (`SqlStore.ts`: SQLite and
 * Postgres, owner lock: the database's own lock).
 */
import { Context, Data, type Effect } from "effect"

/** A write's version: a positive integer, increasing with every successful write. */
export type StoreVersion = number

export interface StoreEntry {
  readonly key: string
  readonly version: StoreVersion
  readonly value: Uint8Array
}

export type StoreOp =
  | {
      readonly _tag: "Put"
      readonly key: string
      readonly value: Uint8Array
      readonly ifVersion?: StoreVersion
      /** The caller hands `value` over (`givenPutOp`): it never changes it afterwards. */
      readonly given?: true
    }
  | { readonly _tag: "Delete"; readonly key: string; readonly ifVersion?: StoreVersion }

/** A put; the store keeps a copy of `value` (the caller may reuse its buffer). */
export const putOp = (key: string, value: Uint8Array, ifVersion?: StoreVersion): StoreOp =>
  ifVersion === undefined ? { _tag: "Put", key, value } : { _tag: "Put", key, value, ifVersion }

/**
 * A put whose `value` the caller hands over, never to change it afterwards: a layer keeping
 * values in memory keeps it as it is, without the copy (`putOp`'s), an allocation and a copy
 * per value saved (the persister's writes: a channel state and its updates at every persist).
 */
export const givenPutOp = (key: string, value: Uint8Array, ifVersion?: StoreVersion): StoreOp =>
  ifVersion === undefined ? { _tag: "Put", key, value, given: true } : { _tag: "Put", key, value, ifVersion, given: true }

export const deleteOp = (key: string, ifVersion?: StoreVersion): StoreOp =>
  ifVersion === undefined ? { _tag: "Delete", key } : { _tag: "Delete", key, ifVersion }

/** The store could not do the operation (I/O failure, outage, closed). Retrying may succeed. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly reason: string
}> {
  override get message(): string {
    return `store ${this.operation} failed: ${this.reason}`
  }
}

/** Compare-and-set refused: `key` is at version `actual` (0 = absent), not `expected`. */
export class StoreConflict extends Data.TaggedError("StoreConflict")<{
  readonly key: string
  readonly expected: StoreVersion
  readonly actual: StoreVersion
}> {
  override get message(): string {
    return `store conflict on ${this.key}: expected version ${this.expected}, found ${this.actual}`
  }
}

/** A malformed request (bad key, the same key twice in one write): a caller bug, never retried. */
export class StoreInvalidRequest extends Data.TaggedError("StoreInvalidRequest")<{ readonly reason: string }> {}

/** The store's data is damaged (at open): nothing is changed or deleted, an operator must look. */
export class StoreCorrupt extends Data.TaggedError("StoreCorrupt")<{
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `store file ${this.file} is corrupt: ${this.reason}`
  }
}

/**
 * The store is held by another owner (a running node, or another open layer of this process):
 * refused at open, nothing changed. `store` names the directory or database, `reason` the holder.
 */
export class StoreOwned extends Data.TaggedError("StoreOwned")<{
  readonly store: string
  readonly reason: string
}> {
  override get message(): string {
    return `store ${this.store} is in use by another node: ${this.reason}`
  }
}

export type StoreWriteError = StoreError | StoreConflict | StoreInvalidRequest

export interface StoreShape {
  readonly get: (key: string) => Effect.Effect<StoreEntry | undefined, StoreError | StoreInvalidRequest>
  /** Every entry whose key starts with `prefix`, in key order (UTF-16 code unit order). */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<StoreEntry>, StoreError | StoreInvalidRequest>
  /** One put; its version. */
  readonly put: (key: string, value: Uint8Array, ifVersion?: StoreVersion) => Effect.Effect<StoreVersion, StoreWriteError>
  /** One delete (of an absent key: nothing to do, unless `ifVersion` says otherwise). */
  readonly delete: (key: string, ifVersion?: StoreVersion) => Effect.Effect<void, StoreWriteError>
  /**
   * Several ops on distinct keys, atomically; the write's version. Concurrent writes may be
   * grouped by the layer into one disk write (one fsync for many), never merged in meaning:
   * each is validated and applied on its own, in the order they were submitted.
   */
  readonly write: (ops: ReadonlyArray<StoreOp>) => Effect.Effect<StoreVersion, StoreWriteError>
  /**
   * True when every operation completes without suspending (a store in memory): a caller may
   * then run a write on its own fiber rather than hand it to another (no fiber hop).
   */
  readonly synchronous?: boolean
}

export class Store extends Context.Service<Store, StoreShape>()("effect-lightning/Store") {}

/** `StoreShape.write` done at once: the write's version, or why it was refused (`write`'s failures, nothing changed). */
export type StoreWriteNow = (ops: ReadonlyArray<StoreOp>) => StoreVersion | StoreWriteError

const storeWritesNow = new WeakMap<StoreShape, StoreWriteNow>()

/**
 * Declares that `store` writes at once (`StoreWriteNow`: a store in memory), so a caller that is
 * synchronous already (a payment record, a persister's write in memory) writes with no effect.
 * Declared by object: a wrapper that spreads the fields and replaces `write` does not inherit it
 * (its `write` is never bypassed).
 */
export const declareStoreWriteNow = <S extends StoreShape>(store: S, writeNow: StoreWriteNow): S => {
  storeWritesNow.set(store, writeNow)
  return store
}

/** The write at once `store` itself declared (`declareStoreWriteNow`), if any. */
export const storeWriteNowOf = (store: StoreShape): StoreWriteNow | undefined => storeWritesNow.get(store)

const MAX_KEY_LENGTH = 1024

/** Undefined for a valid key, else why it is not. */
export const invalidKeyReason = (key: string): string | undefined => {
  if (key.length === 0) return "empty key"
  if (key.length > MAX_KEY_LENGTH) return `key longer than ${MAX_KEY_LENGTH}`
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return `key has a character outside 0x21..0x7e at ${i}`
  }
  return undefined
}

/** Undefined for a well-formed write (valid keys, each at most once), else why not: every layer checks it first. */
export const invalidWrite = (ops: ReadonlyArray<StoreOp>): StoreInvalidRequest | undefined => {
  const seen = new Set<string>()
  for (const op of ops) {
    const bad = invalidKeyReason(op.key)
    if (bad !== undefined) return new StoreInvalidRequest({ reason: bad })
    if (seen.has(op.key)) return new StoreInvalidRequest({ reason: `key ${op.key} twice in one write` })
    seen.add(op.key)
  }
  return undefined
}
