import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeMemoryStore, makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { givenPutOp, putOp } from "../../../src/services/Store.ts"
import { storeContract } from "./contract.ts"

storeContract("MemoryStore", () => Effect.sync(() => makeMemoryStore().store))

describe("MemoryStore", () => {
  it.effect("a new store over the same data sees what was written (restart)", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const first = makeMemoryStore(data).store
      const v = yield* first.put("k", new Uint8Array([1]))
      const second = makeMemoryStore(data).store
      assert.strictEqual((yield* second.get("k"))?.version, v)
      assert.isAbove(yield* second.put("k2", new Uint8Array([2])), v)
    }))

  it.effect("down: every operation fails, nothing changes; up again: as before", () =>
    Effect.gen(function*() {
      const { store, control } = makeMemoryStore()
      yield* store.put("k", new Uint8Array([1]))
      yield* control.setDown(true)
      assert.strictEqual((yield* Effect.flip(store.get("k")))._tag, "StoreError")
      assert.strictEqual((yield* Effect.flip(store.list("")))._tag, "StoreError")
      assert.strictEqual((yield* Effect.flip(store.put("k", new Uint8Array([2]))))._tag, "StoreError")
      yield* control.setDown(false)
      assert.deepStrictEqual((yield* store.get("k"))?.value, new Uint8Array([1]))
    }))

  it.effect("failNextWrites fails exactly that many writes", () =>
    Effect.gen(function*() {
      const { store, control } = makeMemoryStore()
      yield* control.failNextWrites(2)
      assert.strictEqual((yield* Effect.flip(store.put("k", new Uint8Array([1]))))._tag, "StoreError")
      assert.strictEqual((yield* Effect.flip(store.put("k", new Uint8Array([1]))))._tag, "StoreError")
      yield* store.put("k", new Uint8Array([1]))
      assert.strictEqual(yield* control.writeCount, 1)
    }))

  it.effect("a put's value is copied, a given one (givenPutOp) kept as it is; reads give copies either way", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const { store } = makeMemoryStore(data)
      const copied = new Uint8Array([1, 2])
      const given = new Uint8Array([3, 4])
      yield* store.write([putOp("a", copied), givenPutOp("b", given, 0)])
      copied[0] = 9 // the caller reuses its buffer: the store kept a copy
      assert.deepStrictEqual((yield* store.get("a"))?.value, new Uint8Array([1, 2]))
      const read = yield* store.get("b")
      assert.deepStrictEqual(read?.value, new Uint8Array([3, 4]))
      if (read !== undefined) read.value[0] = 7 // a read is a copy
      assert.deepStrictEqual((yield* store.get("b"))?.value, new Uint8Array([3, 4]))
      // a given put is a put: compare-and-set, versions
      assert.strictEqual((yield* Effect.flip(store.write([givenPutOp("b", new Uint8Array([5]), 0)])))._tag, "StoreConflict")
    }))
})
