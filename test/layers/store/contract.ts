/** The behaviour every `Store` layer must have, as one suite run against each layer. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, type Scope } from "effect"
import { deleteOp, putOp, type StoreShape } from "../../../src/services/Store.ts"

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

export const storeContract = (name: string, open: () => Effect.Effect<StoreShape, unknown, Scope.Scope>) =>
  describe(`${name}: Store contract`, () => {
    it.effect("put, get, versions increase, delete", () =>
      Effect.gen(function*() {
        const store = yield* open()
        assert.isUndefined(yield* store.get("a"))
        const v1 = yield* store.put("a", bytes("1"))
        const v2 = yield* store.put("a", bytes("2"))
        assert.isAbove(v1, 0)
        assert.isAbove(v2, v1)
        const e = yield* store.get("a")
        assert.strictEqual(text(e?.value), "2")
        assert.strictEqual(e?.version, v2)
        yield* store.delete("a")
        assert.isUndefined(yield* store.get("a"))
        yield* store.delete("never-there")
      }))

    it.effect("list by prefix, in key order", () =>
      Effect.gen(function*() {
        const store = yield* open()
        yield* store.write([putOp("ch/b/state", bytes("b")), putOp("ch/a/state", bytes("a")), putOp("other", bytes("o")), putOp("ch/a/u/1", bytes("u"))])
        const listed = yield* store.list("ch/")
        assert.deepStrictEqual(listed.map((e) => e.key), ["ch/a/state", "ch/a/u/1", "ch/b/state"])
        assert.strictEqual((yield* store.list("")).length, 4)
        assert.strictEqual((yield* store.list("zz")).length, 0)
      }))

    it.effect("compare-and-set on a version, 0 meaning absent", () =>
      Effect.gen(function*() {
        const store = yield* open()
        const v1 = yield* store.put("k", bytes("1"), 0)
        const again = yield* Effect.flip(store.put("k", bytes("x"), 0))
        assert.strictEqual(again._tag, "StoreConflict")
        const v2 = yield* store.put("k", bytes("2"), v1)
        const stale = yield* Effect.flip(store.put("k", bytes("x"), v1))
        assert.deepInclude(stale, { _tag: "StoreConflict", key: "k", expected: v1, actual: v2 })
        assert.strictEqual(text((yield* store.get("k"))?.value), "2")
        // delete and re-create: the old version never matches again
        yield* store.delete("k", v2)
        const v3 = yield* store.put("k", bytes("3"), 0)
        assert.notStrictEqual(v3, v1)
        assert.strictEqual((yield* Effect.flip(store.delete("k", v2)))._tag, "StoreConflict")
      }))

    it.effect("a write is all or nothing", () =>
      Effect.gen(function*() {
        const store = yield* open()
        const v = yield* store.write([putOp("x", bytes("1")), putOp("y", bytes("1"))])
        const refused = yield* Effect.flip(store.write([putOp("x", bytes("2")), deleteOp("y"), putOp("z", bytes("2"), 12345)]))
        assert.strictEqual(refused._tag, "StoreConflict")
        assert.strictEqual(text((yield* store.get("x"))?.value), "1")
        assert.strictEqual(text((yield* store.get("y"))?.value), "1")
        assert.isUndefined(yield* store.get("z"))
        const v2 = yield* store.write([putOp("x", bytes("2"), v), deleteOp("y", v), putOp("z", bytes("2"), 0)])
        assert.strictEqual((yield* store.get("x"))?.version, v2)
        assert.isUndefined(yield* store.get("y"))
      }))

    it.effect("malformed requests are refused", () =>
      Effect.gen(function*() {
        const store = yield* open()
        for (const key of ["", "has space", "é", "x".repeat(1025)])
          assert.strictEqual((yield* Effect.flip(store.put(key, bytes("1"))))._tag, "StoreInvalidRequest")
        const twice = yield* Effect.flip(store.write([putOp("d", bytes("1")), deleteOp("d")]))
        assert.strictEqual(twice._tag, "StoreInvalidRequest")
        assert.isUndefined(yield* store.get("d"))
      }))

    it.effect("values are copied in and out", () =>
      Effect.gen(function*() {
        const store = yield* open()
        const value = bytes("abc")
        yield* store.put("c", value)
        value[0] = 0
        const got = yield* store.get("c")
        assert.strictEqual(text(got?.value), "abc")
        if (got !== undefined) got.value[0] = 0
        assert.strictEqual(text((yield* store.get("c"))?.value), "abc")
      }))

    it.effect("concurrent compare-and-set writers lose no increment", () =>
      Effect.gen(function*() {
        const store = yield* open()
        const increment = Effect.gen(function*() {
          for (;;) {
            const e = yield* store.get("counter")
            const n = e === undefined ? 0 : Number(text(e.value))
            const r = yield* Effect.exit(store.put("counter", bytes(String(n + 1)), e?.version ?? 0))
            if (Exit.isSuccess(r)) return
          }
        })
        const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.forkChild(Effect.repeat(increment, { times: 4 })))
        yield* Effect.forEach(fibers, Fiber.join)
        assert.strictEqual(text((yield* store.get("counter"))?.value), "100")
        // and independent writers all land, each with its own version
        const versions = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => store.put(`w/${i}`, bytes(String(i))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(new Set(versions).size, 50)
        assert.strictEqual((yield* store.list("w/")).length, 50)
      }))
  })
