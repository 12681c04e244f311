/**
 * StoreReplica's long strings (an HTLC's onion in a channel state): written once as a blob,
 * referred to by the states after it, deleted with the write that stops referring to it; the
 * state loads back whole, also after a restart; a state with its own `$blob` key is stored whole.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Schema } from "effect"
import { makeStoreReplica } from "../../../src/layers/persister/StoreReplica.ts"
import { makeMemoryStore } from "../../../src/layers/store/MemoryStore.ts"
import { StoreError, type StoreShape } from "../../../src/services/Store.ts"
import { channelIdOf, logOf } from "./fixtures.ts"

const A = channelIdOf(1)
const log = logOf(1, 4)
const onion = (tag: string) => tag.repeat(2732 / tag.length)
const keysOf = (store: StoreShape) => Effect.map(store.list(""), (es) => es.map((e) => e.key.slice(e.key.indexOf("/", "monitor/".length + 1) + 1)))
const stateBytes = (store: StoreShape) => Effect.map(store.list(""), (es) => es.find((e) => e.key.endsWith("/state"))?.value.length ?? -1)

describe("StoreReplica blobs", () => {
  it.effect("an onion is written once, referred to while it lives, deleted after, and the state loads back whole", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      const replica = makeStoreReplica(store)
      const one: Schema.Json = { htlcs: [{ id: "0", onion: onion("ab") }], shortText: "x".repeat(100) }
      yield* replica.write([{ channelId: A, updates: log.slice(0, 1), channelState: one }])
      assert.deepStrictEqual((yield* keysOf(store)).filter((k) => k.startsWith("blob/")), ["blob/0"])
      assert.isBelow(yield* stateBytes(store), 300) // the onion is not in the state's text
      // The same onion again (and a second one): only the new one is written.
      const two: Schema.Json = { htlcs: [{ id: "0", onion: onion("ab") }, { id: "1", onion: onion("cd") }], copy: onion("ab") }
      yield* replica.write([{ channelId: A, updates: log.slice(1, 2), channelState: two }])
      assert.deepStrictEqual((yield* keysOf(store)).filter((k) => k.startsWith("blob/")), ["blob/0", "blob/1"])
      assert.deepStrictEqual((yield* makeStoreReplica(store).load)[0]?.channelState, two)
      // The first onion resolved: its blob goes with the write that stops referring to it.
      const three: Schema.Json = { htlcs: [{ id: "1", onion: onion("cd") }] }
      yield* replica.write([{ channelId: A, updates: log.slice(2, 3), channelState: three }])
      assert.deepStrictEqual((yield* keysOf(store)).filter((k) => k.startsWith("blob/")), ["blob/1"])

      // A restart: the state loads whole; the next write stores what it refers to again and deletes the old blob.
      const restarted = makeStoreReplica(store)
      const loaded = yield* restarted.load
      assert.deepStrictEqual(loaded[0]?.channelState, three)
      assert.strictEqual(loaded[0]?.updates.length, 3)
      const four: Schema.Json = { htlcs: [{ id: "1", onion: onion("cd") }], fee: 1 }
      yield* restarted.write([{ channelId: A, updates: log.slice(3, 4), channelState: four }])
      assert.deepStrictEqual((yield* keysOf(store)).filter((k) => k.startsWith("blob/")), ["blob/2"])
      assert.deepStrictEqual((yield* makeStoreReplica(store).load)[0]?.channelState, four)
    }))

  it.effect("long strings with escapes and long keys round-trip (keys are never cut out)", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      const replica = makeStoreReplica(store)
      const weird = `${'a"\\b\n'.repeat(300)}é\u2028"`
      const state: Schema.Json = { [`k${"y".repeat(1100)}`]: 1, weird, list: [weird, onion("ab")], short: '"q"' }
      yield* replica.write([{ channelId: A, updates: log.slice(0, 1), channelState: state }])
      assert.deepStrictEqual((yield* keysOf(store)).filter((k) => k.startsWith("blob/")), ["blob/0", "blob/1"])
      assert.deepStrictEqual((yield* makeStoreReplica(store).load)[0]?.channelState, state)
    }))

  it.effect("after a write that failed but landed, no state refers to a blob that write deleted", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      let landThenFail = false
      const ambiguous: StoreShape = {
        ...store,
        write: (ops) =>
          Effect.flatMap(store.write(ops), (version) => {
            if (!landThenFail) return Effect.succeed(version)
            landThenFail = false
            return Effect.fail(new StoreError({ operation: "write", reason: "timed out (but landed)" }))
          })
      }
      const replica = makeStoreReplica(ambiguous)
      yield* replica.write([{ channelId: A, updates: log.slice(0, 1), channelState: { onion: onion("ab") } }])
      landThenFail = true
      const failed = yield* Effect.flip(replica.write([{ channelId: A, updates: log.slice(1, 2), channelState: { none: true } }]))
      assert.include(failed.reason, "landed")
      // The onion comes back: it must be written again, the blob the landed write deleted is not relied on.
      const back: Schema.Json = { onion: onion("ab"), again: true }
      const retry = replica.write([{ channelId: A, updates: log.slice(1, 3), channelState: back }])
      // The first retry finds update 1 there (a conflict: the replica learns its head again), the next one goes through.
      assert.strictEqual((yield* Effect.flip(retry))._tag, "ReplicaError")
      yield* retry
      assert.deepStrictEqual((yield* makeStoreReplica(store).load)[0]?.channelState, back)
    }))

  it.effect("a state with its own $blob key is stored whole, and loads back as it was", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      const replica = makeStoreReplica(store)
      const tricky: Schema.Json = { a: { $blob: "0" }, onion: onion("ef") }
      yield* replica.write([{ channelId: A, updates: log.slice(0, 1), channelState: tricky }])
      assert.deepStrictEqual((yield* keysOf(store)).filter((k) => k.startsWith("blob/")), [])
      assert.deepStrictEqual((yield* makeStoreReplica(store).load)[0]?.channelState, tricky)
    }))

  it.effect("a state referring to a missing blob does not load", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      const replica = makeStoreReplica(store)
      yield* replica.write([{ channelId: A, updates: log.slice(0, 1), channelState: { onion: onion("ab") } }])
      const blob = (yield* store.list("")).find((e) => e.key.includes("/blob/"))
      if (blob === undefined) return assert.fail("no blob written")
      yield* store.delete(blob.key)
      const loaded = yield* Effect.flip(makeStoreReplica(store).load)
      assert.include(loaded.reason, "blob 0 is missing")
    }))
})
