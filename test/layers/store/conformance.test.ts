/** The store conformance suite on the memory and files layers (SQL: `SqlStore.*.test.ts`). */
import { Effect } from "effect"
import { makeFileStore } from "../../../src/layers/store/FileStore.ts"
import { makeMemoryStore, makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { SimulatedDisk } from "../../../src/layers/store/SimulatedDisk.ts"
import { StoreError, type StoreShape } from "../../../src/services/Store.ts"
import { type StoreBacking, storeConformance } from "./conformance.ts"

storeConformance({
  name: "MemoryStore",
  // no open or close, and the simulation harnesses reopen its data on purpose (see conformance.ts)
  exclusive: false,
  // a crash at write n: that write and everything after it fail, the data keeps what was written
  fresh: Effect.sync((): StoreBacking => {
    const data = makeMemoryStoreData()
    let crashed = false
    return {
      open: (options) =>
        Effect.sync((): StoreShape => {
          const { store } = makeMemoryStore(data)
          const crashAt = options?.crashAt
          crashed = false
          if (crashAt === undefined) return store
          let writes = 0
          const down = (operation: string) => Effect.fail(new StoreError({ operation, reason: "crashed" }))
          const write: StoreShape["write"] = (ops) =>
            Effect.suspend(() => {
              if (crashed || writes++ >= crashAt) {
                crashed = true
                return down("write")
              }
              return store.write(ops)
            })
          return {
            get: (key) => (crashed ? down("get") : store.get(key)),
            list: (prefix) => (crashed ? down("list") : store.list(prefix)),
            put: (key, value, ifVersion) => write([{ _tag: "Put", key, value, ...(ifVersion === undefined ? {} : { ifVersion }) }]),
            delete: (key, ifVersion) => Effect.asVoid(write([{ _tag: "Delete", key, ...(ifVersion === undefined ? {} : { ifVersion }) }])),
            write
          }
        }),
      crashed: () => crashed,
      recover: Effect.void
    }
  })
})

storeConformance({
  name: "FileStore (simulated disk)",
  exclusive: true,
  // a crash at disk step n (write, fsync, rename, directory fsync...); recovery keeps only what was made durable
  fresh: Effect.sync((): StoreBacking => {
    const disk = new SimulatedDisk()
    return {
      open: (options) =>
        Effect.suspend(() => {
          disk.crashAfter(options?.crashAt)
          return makeFileStore(disk, {
            directory: "/data/store",
            compactAfterBatches: 3,
            ...(options?.owner === undefined ? {} : { owner: options.owner })
          })
        }),
      crashed: () => disk.isCrashed,
      recover: Effect.sync(() => disk.recover("durable"))
    }
  })
})
