import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import * as fc from "fast-check"
import { makeMemoryStore, makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { deleteOp, givenPutOp, putOp, type StoreOp, type StoreShape, storeWriteNowOf } from "../../../src/services/Store.ts"
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

  it("the write at once (storeWriteNowOf) is the write: same versions, same refusals, same content, on any sequence", () => {
    const key = fc.constantFrom("a", "b", "ch/c", "", "bad key")
    const version = fc.option(fc.nat(12), { nil: undefined })
    const op = fc.oneof(
      fc.record({ put: fc.constant(true), key, value: fc.uint8Array({ maxLength: 4 }), version, given: fc.boolean() }),
      fc.record({ put: fc.constant(false), key, version })
    )
    const step = fc.oneof(
      { weight: 8, arbitrary: fc.record({ _tag: fc.constant("write" as const), ops: fc.array(op, { maxLength: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ _tag: fc.constant("down" as const), down: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ _tag: fc.constant("fail" as const), n: fc.nat(2) }) }
    )
    const toOps = (ops: ReadonlyArray<{ readonly put: boolean; readonly key: string; readonly version: number | undefined; readonly value?: Uint8Array; readonly given?: boolean }>): Array<StoreOp> =>
      ops.map((o) => (o.put ? (o.given === true ? givenPutOp : putOp)(o.key, Uint8Array.from(o.value ?? []), o.version) : deleteOp(o.key, o.version)))
    const content = (store: StoreShape) => Effect.runSync(Effect.orDie(store.list(""))).map((e) => [e.key, e.version, [...e.value]])
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const viaEffect = makeMemoryStore()
        const atOnce = makeMemoryStore()
        const now = storeWriteNowOf(atOnce.store)
        if (now === undefined) return false
        for (const s of steps) {
          if (s._tag === "down") {
            Effect.runSync(viaEffect.control.setDown(s.down))
            Effect.runSync(atOnce.control.setDown(s.down))
            continue
          }
          if (s._tag === "fail") {
            Effect.runSync(viaEffect.control.failNextWrites(s.n))
            Effect.runSync(atOnce.control.failNextWrites(s.n))
            continue
          }
          const exit = Effect.runSyncExit(viaEffect.store.write(toOps(s.ops)))
          const direct = now(toOps(s.ops))
          if (Exit.isSuccess(exit)) assert.strictEqual(direct, exit.value)
          else {
            const error = Exit.findError(exit)
            assert.deepStrictEqual(direct, Result.isSuccess(error) ? error.success : undefined)
          }
        }
        Effect.runSync(viaEffect.control.setDown(false))
        Effect.runSync(atOnce.control.setDown(false))
        assert.deepStrictEqual(content(atOnce.store), content(viaEffect.store))
        assert.strictEqual(Effect.runSync(atOnce.control.writeCount), Effect.runSync(viaEffect.control.writeCount))
        return true
      }),
      { numRuns: 300 }
    )
  })

  it("the write at once is declared by object: a wrapper that spreads the fields does not inherit it", () => {
    const { store } = makeMemoryStore()
    assert.isDefined(storeWriteNowOf(store))
    assert.isUndefined(storeWriteNowOf({ ...store, write: store.write }))
  })
})
