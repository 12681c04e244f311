/**
 * In-memory `Store`: the semantics of the files layer without a disk, for tests, simulations
 * and nodes that keep nothing. The data lives in a `MemoryStoreData` the caller may create and
 * keep, so a "restarted" node (a new layer over the same data) finds what was written: that is
 * how the simulation harness crashes a node and restarts it from its store.
 *
 * Test knobs (`MemoryStoreControl`): take the store down (every operation fails with
 * `StoreError` until it is up again) and fail the next N writes, to exercise outages.
 */
import { Context, Effect, Layer } from "effect"
import {
  declareStoreWriteNow,
  Store,
  StoreError,
  type StoreOp,
  type StoreShape,
  type StoreVersion,
  type StoreWriteError,
  type StoreWriteNow,
  deleteOp,
  putOp
} from "../../services/Store.ts"
import { StoreTable } from "./table.ts"

/** The durable content of an in-memory store; outlives any layer built over it. */
export interface MemoryStoreData {
  readonly table: StoreTable
  version: StoreVersion
}

export const makeMemoryStoreData = (): MemoryStoreData => ({ table: new StoreTable(), version: 0 })

export interface MemoryStoreControl {
  /** While down, every operation fails with `StoreError` (nothing changes). */
  readonly setDown: (down: boolean) => Effect.Effect<void>
  /** The next `n` writes fail with `StoreError` (nothing changes). */
  readonly failNextWrites: (n: number) => Effect.Effect<void>
  /** Successful writes so far (on this layer). */
  readonly writeCount: Effect.Effect<number>
}

export class MemoryStoreControls extends Context.Service<MemoryStoreControls, MemoryStoreControl>()(
  "effect-lightning/MemoryStoreControls"
) {}

export const makeMemoryStore = (data: MemoryStoreData = makeMemoryStoreData()): { readonly store: StoreShape; readonly control: MemoryStoreControl } => {
  let down = false
  let failWrites = 0
  let writes = 0
  const unavailable = (operation: string) => Effect.fail(new StoreError({ operation, reason: "store is down" }))

  /** A write at once (declared: `storeWriteNowOf`); `write` is the same as an effect. */
  const writeNow: StoreWriteNow = (ops) => {
    if (down) return new StoreError({ operation: "write", reason: "store is down" })
    const bad = data.table.check(ops)
    if (bad !== undefined) return bad
    if (failWrites > 0) {
      failWrites -= 1
      return new StoreError({ operation: "write", reason: "injected failure" })
    }
    data.version += 1
    data.table.apply(ops, data.version)
    writes += 1
    return data.version
  }
  const write = (ops: ReadonlyArray<StoreOp>): Effect.Effect<StoreVersion, StoreWriteError> =>
    Effect.suspend((): Effect.Effect<StoreVersion, StoreWriteError> => {
      const written = writeNow(ops)
      return typeof written === "number" ? Effect.succeed(written) : Effect.fail(written)
    })

  const store: StoreShape = declareStoreWriteNow({
    get: (key) => Effect.suspend(() => (down ? unavailable("get") : Effect.succeed(data.table.get(key)))),
    list: (prefix) => Effect.suspend(() => (down ? unavailable("list") : Effect.succeed(data.table.list(prefix)))),
    put: (key, value, ifVersion) => write([putOp(key, value, ifVersion)]),
    delete: (key, ifVersion) => Effect.asVoid(write([deleteOp(key, ifVersion)])),
    write,
    synchronous: true
  }, writeNow)
  const control: MemoryStoreControl = {
    setDown: (d) => Effect.sync(() => void (down = d)),
    failNextWrites: (n) => Effect.sync(() => void (failWrites = n)),
    writeCount: Effect.sync(() => writes)
  }
  return { store, control }
}

/** `Store` over `data` (a fresh one by default), with its `MemoryStoreControls`. */
export const layer = (data?: MemoryStoreData): Layer.Layer<Store | MemoryStoreControls> =>
  Layer.unwrap(
    Effect.sync(() => {
      const { store, control } = makeMemoryStore(data)
      return Layer.mergeAll(Layer.succeed(Store, store), Layer.succeed(MemoryStoreControls, control))
    })
  )
