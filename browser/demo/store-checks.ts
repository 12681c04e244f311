/**
 * The IndexedDB store's guarantees (src/services/Store.ts), checked in the browser that runs the
 * page: versions, compare-and-set, all-or-nothing writes, key validation, ordered listing, one
 * owner at a time, and data and versions that survive closing and reopening. Each check is a
 * named boolean so a test can say which one failed.
 */
import { Effect, Exit } from "effect"
import { deleteIndexedDbStore, makeIndexedDbStore } from "../../src/layers/browser/IndexedDbStore.ts"
import { equalBytes } from "../../src/protocol/bytes.ts"
import { deleteOp, putOp, type StoreShape } from "../../src/services/Store.ts"

export interface CheckResult {
  readonly check: string
  readonly ok: boolean
}

const bytes = (...b: Array<number>) => Uint8Array.from(b)

const failsWith = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>, tag: string) =>
  Effect.map(Effect.exit(effect), (exit) => Exit.isFailure(exit) && Exit.findErrorOption(exit).pipe((o) => o._tag === "Some" && o.value._tag === tag))

/** Runs every check against a fresh database `name` (deleted first and afterwards). */
export const storeChecks = (name: string) =>
  Effect.gen(function*() {
    const results: Array<CheckResult> = []
    const check = (label: string, ok: boolean) => void results.push({ check: label, ok })
    yield* deleteIndexedDbStore(name)

    const maxVersion = yield* Effect.scoped(Effect.gen(function*() {
      const store: StoreShape = yield* makeIndexedDbStore({ name })
      const v1 = yield* store.put("a", bytes(1))
      const a = yield* store.get("a")
      check("put then get returns the value and its version", v1 > 0 && a !== undefined && a.version === v1 && equalBytes(a.value, bytes(1)))

      const v2 = yield* store.write([putOp("b", bytes(2)), putOp("c", bytes(3))])
      const b = yield* store.get("b")
      const c = yield* store.get("c")
      check("a multi-op write gets one greater version for every key", v2 > v1 && b?.version === v2 && c?.version === v2)

      check("compare-and-set with a stale version is a StoreConflict", yield* failsWith(store.put("a", bytes(9), v1 + 100), "StoreConflict"))
      const conflicted = yield* failsWith(store.write([putOp("d", bytes(4)), putOp("a", bytes(9), v2 + 100)]), "StoreConflict")
      check("a refused write applies nothing (all or nothing)", conflicted && (yield* store.get("d")) === undefined && equalBytes((yield* store.get("a"))?.value ?? bytes(), bytes(1)))

      const v3 = yield* store.put("a", bytes(5), v1)
      check("compare-and-set with the current version succeeds", v3 > v2 && (yield* store.get("a"))?.version === v3)

      yield* store.delete("a")
      check("a deleted key is absent", (yield* store.get("a")) === undefined)
      check("an old version never matches a re-created key", yield* failsWith(store.put("a", bytes(6), v3), "StoreConflict"))
      const v5 = yield* store.put("a", bytes(6), 0)
      check("ifVersion 0 creates an absent key", v5 > v3)

      const all = yield* store.list("")
      check("list returns every key in order", all.map((e) => e.key).join(",") === "a,b,c")
      check("list filters by prefix", (yield* store.list("b")).map((e) => e.key).join(",") === "b")

      check("an invalid key is refused", yield* failsWith(store.put("has space", bytes(1)), "StoreInvalidRequest"))
      check("the same key twice in one write is refused", yield* failsWith(store.write([putOp("x", bytes(1)), deleteOp("x")]), "StoreInvalidRequest"))

      const second = yield* Effect.exit(Effect.scoped(makeIndexedDbStore({ name })))
      check("a second owner cannot open the store", Exit.isFailure(second))
      return v5
    }))

    yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* makeIndexedDbStore({ name })
      const a = yield* store.get("a")
      check("data survives closing and reopening", a?.version === maxVersion && equalBytes(a.value, bytes(6)))
      const next = yield* store.put("e", bytes(7))
      check("versions keep increasing after reopening", next > maxVersion)
    }))
    yield* deleteIndexedDbStore(name)
    return results
  })
