/**
 * The one store conformance suite, run against every `Store` layer (memory, files, SQLite,
 * Postgres): the `Store` contract (`contract.ts`: round trips, list by prefix, versions,
 * compare-and-set, atomicity, concurrency), a restart reading back exactly what was written,
 * group commit where a conflicting write fails alone, a crash between any two steps of the
 * layer (disk steps, SQL statements) leaving the state of a prefix of the acknowledged writes,
 * and one owner at a time: a second opener refused while the first is open, then let in once
 * the first closed or crashed (files, SQLite, Postgres).
 *
 * The in-memory layer is exempt from the ownership case (`exclusive: false`): it has no open
 * and no close (`makeMemoryStore` is a plain function, not scoped), and its `MemoryStoreData` is
 * shared on purpose by the simulation harnesses (`test/sim/payments/PaymentNet.ts`,
 * `src/sim/Engine.ts`), which "crash" a node by dropping it and restart it with a new
 * `makeMemoryStore` over the same data without any close. An owner flag on the data would
 * refuse every such restart.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, type Scope } from "effect"
import { deleteOp, putOp, type StoreOp, type StoreShape } from "../../../src/services/Store.ts"
import { storeContract } from "./contract.ts"

/** One store's durable medium (a directory, a database file, a database), opened many times. */
export interface StoreBacking {
  /**
   * Opens the store over this backing, for the scope (one process lifetime). `crashAt`: the
   * layer's step (disk operation, SQL statement, write) at which the "process" crashes: that
   * step and every later one fail and nothing more reaches the medium. `owner` names the opener.
   */
  readonly open: (options?: { readonly crashAt?: number; readonly owner?: string }) => Effect.Effect<StoreShape, unknown, Scope.Scope>
  /** Whether the crash injected by the last `open` happened where the run could not see it (a background step). */
  readonly crashed: () => boolean
  /** The power comes back after a crash (what the medium keeps); nothing for a database. */
  readonly recover: Effect.Effect<void>
}

export interface StoreLayerFactory {
  readonly name: string
  /** A fresh, empty backing, removed when the scope closes. */
  readonly fresh: Effect.Effect<StoreBacking, unknown, Scope.Scope>
  /** The layer refuses a second owner while one has it open (`StoreOwned`); every durable layer does. */
  readonly exclusive: boolean
}

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

/** Every key and value, as text. */
const dump = (store: StoreShape) => Effect.map(store.list(""), (entries) => Object.fromEntries(entries.map((e) => [e.key, text(e.value)])))

const script: ReadonlyArray<ReadonlyArray<StoreOp>> = [
  [putOp("monitor/aa/state", bytes("s1")), putOp("monitor/aa/u/0", bytes("u0"), 0)],
  [putOp("monitor/aa/state", bytes("s2")), putOp("monitor/aa/u/1", bytes("u1"), 0), putOp("monitor/bb/state", bytes("t1"))],
  [deleteOp("monitor/bb/state"), putOp("monitor/aa/u/2", bytes("u2"), 0), putOp("monitor/aa/state", bytes("s3"))],
  [putOp("monitor/aa/blob/1", bytes("onion"))],
  [putOp("monitor/aa/state", bytes("s4")), deleteOp("monitor/aa/blob/1"), putOp("monitor/aa/u/3", bytes("u3"), 0)]
]

/** Registers the suite for `factory`. */
export const storeConformance = (factory: StoreLayerFactory) => {
  storeContract(factory.name, () => Effect.flatMap(factory.fresh, (b) => b.open()))

  describe(`${factory.name}: store conformance`, () => {
    it.live("a reopen reads back exactly what was written, versions included, and versions keep increasing", () =>
      Effect.gen(function*() {
        const backing = yield* factory.fresh
        const before = yield* Effect.scoped(
          Effect.gen(function*() {
            const s = yield* backing.open()
            for (const ops of script) yield* s.write(ops)
            return yield* s.list("")
          })
        )
        const after = yield* Effect.scoped(Effect.flatMap(backing.open(), (s) => s.list("")))
        assert.deepStrictEqual(after, before)
        const top = Math.max(...before.map((e) => e.version))
        // a deleted key re-created after the reopen gets a version above every earlier one
        const v = yield* Effect.scoped(Effect.flatMap(backing.open(), (s) => s.put("monitor/bb/state", bytes("again"), 0)))
        assert.isAbove(v, top)
      }))

    it.live("an empty write gets a version; a group of more writes than one statement holds lands whole", () =>
      Effect.gen(function*() {
        const backing = yield* factory.fresh
        yield* Effect.scoped(
          Effect.gen(function*() {
            const s = yield* backing.open()
            const v0 = yield* s.write([])
            const big = Array.from({ length: 1200 }, (_, i) => putOp(`big/${String(i).padStart(5, "0")}`, bytes(String(i)), 0))
            const v1 = yield* s.write(big)
            assert.isAbove(v1, v0)
            const again = yield* s.write(big.map((op) => deleteOp(op.key, v1)))
            assert.isAbove(again, v1)
            assert.strictEqual((yield* s.list("big/")).length, 0)
          })
        )
      }))

    it.live("an empty value is stored and read back empty, however its array was made, and survives a reopen", () =>
      Effect.gen(function*() {
        const backing = yield* factory.fresh
        // node:sqlite once bound an empty array whose ArrayBuffer had been touched as NULL.
        const touched = new Uint8Array(0)
        assert.strictEqual(touched.buffer.byteLength, 0)
        const empties: ReadonlyArray<readonly [string, Uint8Array]> = [
          ["empty/encoded", bytes("")],
          ["empty/fresh", new Uint8Array(0)],
          ["empty/touched", touched],
          ["empty/view", bytes("abc").subarray(1, 1)]
        ]
        yield* Effect.scoped(
          Effect.gen(function*() {
            const s = yield* backing.open()
            yield* s.write(empties.map(([key, value]) => putOp(key, value)))
            for (const [key] of empties) assert.deepStrictEqual((yield* s.get(key))?.value, new Uint8Array(0), key)
          })
        )
        const after = yield* Effect.scoped(Effect.flatMap(backing.open(), (s) => s.list("empty/")))
        assert.deepStrictEqual(after.map((e) => [e.key, e.value.length]), empties.map(([key]) => [key, 0]).sort())
      }))

    it.live("100 concurrent channels: every write lands once, and a conflicting write fails alone", () =>
      Effect.gen(function*() {
        const backing = yield* factory.fresh
        yield* Effect.scoped(
          Effect.gen(function*() {
            const s = yield* backing.open()
            const taken = yield* s.put("taken", bytes("x"))
            const results = yield* Effect.forEach(
              Array.from({ length: 100 }, (_, i) => i),
              (i) =>
                Effect.exit(
                  i % 25 === 3
                    ? s.write([putOp(`ch/${i}/state`, bytes("no")), putOp("taken", bytes("y"), taken + 1000)])
                    : s.write([putOp(`ch/${i}/state`, bytes(String(i))), putOp(`ch/${i}/u/0`, bytes("u"), 0)])
                ),
              { concurrency: "unbounded" }
            )
            const failed = results.filter(Exit.isFailure)
            assert.strictEqual(failed.length, 4)
            for (const f of failed) assert.include(JSON.stringify(f.cause), "StoreConflict")
            const versions = results.filter(Exit.isSuccess).map((r) => r.value)
            assert.strictEqual(new Set(versions).size, 96)
            assert.isTrue(versions.every((v) => v > taken))
            assert.strictEqual((yield* s.list("ch/")).length, 96 * 2)
            assert.strictEqual(text((yield* s.get("taken"))?.value), "x")
          })
        )
        assert.strictEqual((yield* Effect.scoped(Effect.flatMap(backing.open(), (s) => s.list("ch/")))).length, 96 * 2)
      }))

    it.live("a crash between any two steps leaves the state after a prefix of the writes (all acknowledged, at most one more)", () =>
      Effect.gen(function*() {
        // the states after each prefix, from a run without a crash
        const states: Array<Record<string, string | undefined>> = []
        const clean = yield* factory.fresh
        yield* Effect.scoped(
          Effect.gen(function*() {
            const s = yield* clean.open()
            states.push(yield* dump(s))
            for (const ops of script) {
              yield* s.write(ops)
              states.push(yield* dump(s))
            }
          })
        )
        let crashes = 0
        for (let k = 0; k < 500; k++) {
          const backing = yield* factory.fresh
          let acknowledged = 0
          const run = yield* Effect.exit(
            Effect.scoped(
              Effect.gen(function*() {
                const s = yield* backing.open({ crashAt: k })
                for (const ops of script) {
                  yield* s.write(ops)
                  acknowledged += 1
                }
              })
            )
          )
          if (Exit.isSuccess(run) && !backing.crashed()) break
          crashes += 1
          yield* backing.recover
          // one reopen: the state is a prefix, the store keeps working, log keys stay compare-and-set "absent"
          yield* Effect.scoped(
            Effect.gen(function*() {
              const s = yield* backing.open()
              const recovered = yield* dump(s)
              const candidates = [acknowledged, acknowledged + 1].filter((i) => i < states.length)
              assert.isTrue(
                candidates.some((i) => JSON.stringify(states[i]) === JSON.stringify(recovered)),
                `crash at step ${k}: ${JSON.stringify(recovered)} is not state ${candidates.join(" or ")}`
              )
              yield* s.put("after-crash", bytes("ok"))
              assert.strictEqual(text((yield* s.get("after-crash"))?.value), "ok")
              if (recovered["monitor/aa/u/0"] !== undefined)
                assert.strictEqual((yield* Effect.flip(s.put("monitor/aa/u/0", bytes("again"), 0)))._tag, "StoreConflict")
            })
          )
        }
        assert.isAtLeast(crashes, script.length)
      }))

    if (factory.exclusive)
      it.live("a second owner is refused while the first has the store open, and gets it once released or crashed", () =>
        Effect.gen(function*() {
          const backing = yield* factory.fresh
          yield* Effect.scoped(
            Effect.gen(function*() {
              const first = yield* backing.open({ owner: "node-a" })
              yield* first.put("k", bytes("a"))
              const refused = yield* Effect.flip(Effect.scoped(backing.open({ owner: "node-b" })))
              assert.deepInclude(refused, { _tag: "StoreOwned" })
              // the first owner is unaffected
              yield* first.put("k2", bytes("a"))
              // even the same owner name cannot open it twice
              assert.deepInclude(yield* Effect.flip(Effect.scoped(backing.open({ owner: "node-a" }))), { _tag: "StoreOwned" })
            })
          )
          const seen = yield* Effect.scoped(
            Effect.gen(function*() {
              const second = yield* backing.open({ owner: "node-b" })
              yield* second.put("k3", bytes("b"))
              return yield* dump(second)
            })
          )
          assert.deepStrictEqual(seen, { k: "a", k2: "a", k3: "b" })
          // an owner that crashes while holding the store (a step of its writes fails, its scope
          // ends as the process would) does not block the next one
          const crashed = yield* Effect.exit(
            Effect.scoped(
              Effect.gen(function*() {
                const third = yield* backing.open({ owner: "node-c", crashAt: 6 })
                for (let i = 0; i < 50; i++) yield* third.put(`c/${i}`, bytes("c"))
              })
            )
          )
          assert.isTrue(Exit.isFailure(crashed) || backing.crashed(), "the owner crashed")
          yield* backing.recover
          const after = yield* Effect.scoped(
            Effect.gen(function*() {
              const fourth = yield* backing.open({ owner: "node-d" })
              yield* fourth.put("k4", bytes("d"))
              return yield* dump(fourth)
            })
          )
          assert.deepInclude(after, { k: "a", k2: "a", k3: "b", k4: "d" })
        }))
  })
}
