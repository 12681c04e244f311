/**
 * A write with no update (the channel state alone: the `Channel` actor writes one when a step
 * changes the phase, e.g. WaitChannelReady -> Normal, without a monitor update): every layer takes
 * it (the contiguity check is trivially met), keeps the latest update id, completes it with that
 * id, and `load` gives the new state back. Over several state-keeping replicas, the state
 * version decides between equally long logs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, Scope } from "effect"
import { TestClock } from "effect/testing"
import { makeMemoryPersister, makeMemoryPersisterData } from "../../../src/layers/persister/MemoryPersister.ts"
import { makeReplicatedPersister, type ReplicatedPersisterOptions } from "../../../src/layers/persister/ReplicatedPersister.ts"
import { decodeState, makeStoreReplica, splitStateVersion, withStateVersion, encodeState } from "../../../src/layers/persister/StoreReplica.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { LazyJson, type ChannelStateValue, type MonitorPersisterShape } from "../../../src/services/MonitorPersister.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

const A = channelIdOf(71)
const logA = logOf(71, 6)
const ready = stateAt(71, 2n, 1)
const normal = stateAt(71, 2n, 2)

const memoryReplica = (name: string, data: MemoryStoreData = makeMemoryStoreData()) => {
  const { store, control } = makeMemoryStore(data)
  return { data, store, control, replica: makeStoreReplica(store, { name }) }
}

const lifetime = <X, E>(options: ReplicatedPersisterOptions, f: (p: MonitorPersisterShape) => Effect.Effect<X, E, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(makeReplicatedPersister(options), f))

describe("a write with no update (the state alone)", () => {
  it.effect("memory persister: accepted, InProgress completes with the latest update id, load gives the new state", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister, control } = yield* makeMemoryPersister({ data })
      const sub = yield* persister.subscribe
      assert.strictEqual(yield* persister.persist(A, logA.slice(0, 3), stateAt(71, 2n)), "Completed")
      yield* control.setMode("hold")
      assert.strictEqual(yield* persister.persist(A, [], ready), "InProgress")
      assert.strictEqual(yield* control.release(A), 1)
      const completion = yield* PubSub.take(sub)
      assert.strictEqual(completion.updateId, 2n)
      yield* control.setMode("immediate")
      assert.strictEqual(yield* persister.persist(A, [], normal), "Completed")
      // The log goes on at 3: nothing was added by the state writes.
      assert.strictEqual(yield* persister.persist(A, logA.slice(3, 4), stateAt(71, 3n)), "Completed")
      const { persister: restarted } = yield* makeMemoryPersister({ data })
      const loaded = (yield* restarted.load)[0]
      assert.deepStrictEqual(loaded?.channelState, stateAt(71, 3n))
      assert.strictEqual(loaded?.latestUpdateId, 3n)
      // A state written alone last is what a restart finds.
      yield* restarted.persist(A, [], normal)
      const again = (yield* (yield* makeMemoryPersister({ data })).persister.load)[0]
      assert.deepStrictEqual(again?.channelState, normal)
      assert.strictEqual(again?.latestUpdateId, 3n)
      // Folded at start into a snapshot at update 3 (compaction), nothing after it.
      assert.strictEqual(again?.monitor?.latestUpdateId, 3n)
      assert.strictEqual(again?.updates.length, 0)
    }))

  it.effect("store persister: a lazy state (LazyJson) gives exactly the bytes of the same state given as JSON, encoded once per write", () =>
    Effect.gen(function*() {
      const run = (wrap: (v: ReturnType<typeof stateAt>) => ChannelStateValue) =>
        Effect.gen(function*() {
          const data = makeMemoryStoreData()
          yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) =>
            Effect.gen(function*() {
              assert.strictEqual(yield* p.persist(A, logA.slice(0, 3), wrap(stateAt(71, 2n))), "Completed")
              assert.strictEqual(yield* p.persist(A, [], wrap(ready)), "Completed")
              assert.strictEqual(yield* p.persist(A, logA.slice(3, 5), wrap(stateAt(71, 4n))), "Completed")
            })
          )
          return new Map([...data.table.entries()].map(([k, c]) => [k, Buffer.from(c.value).toString("hex")]))
        })
      let calls = 0
      const lazy = yield* run((v) =>
        new LazyJson(() => {
          calls += 1
          return v
        })
      )
      const plain = yield* run((v) => v)
      assert.strictEqual(calls, 3)
      assert.isAbove(plain.size, 0)
      assert.deepStrictEqual(lazy, plain)
    }))

  it.effect("local store persister: the state alone is stored, the latest update id stays, load after a restart gives it", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 3), stateAt(71, 2n)), "Completed")
          assert.strictEqual(yield* p.persist(A, [], ready), "Completed")
          assert.strictEqual(yield* p.persist(A, [], normal), "Completed")
        })
      )
      const loaded = yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) => p.load)
      assert.deepStrictEqual(loaded[0]?.channelState, normal)
      assert.strictEqual(loaded[0]?.latestUpdateId, 2n)
      assert.deepStrictEqual(loaded[0]?.updates, logA.slice(0, 3))
      // The next write continues the log where it was.
      yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) =>
        Effect.gen(function*() {
          yield* p.load
          assert.strictEqual(yield* p.persist(A, logA.slice(3, 4), stateAt(71, 3n)), "Completed")
        })
      )
    }))

  it.effect("2 of 3 state replicas: a state written alone while one replica was down wins at the restart (same log length, higher version)", () =>
    Effect.gen(function*() {
      const datas = [makeMemoryStoreData(), makeMemoryStoreData(), makeMemoryStoreData()]
      const replicas = () => datas.map((d, i) => memoryReplica(`r${i}`, d))
      const first = replicas()
      yield* lifetime({ replicas: first.map((r) => r.replica), quorum: 2 }, (p) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 3), stateAt(71, 2n)), "Completed")
          // r0 (read first at a restart) misses the state written alone.
          yield* first[0]!.control.setDown(true)
          assert.strictEqual(yield* p.persist(A, [], normal), "Completed")
        })
      )
      const second = replicas()
      const loaded = yield* lifetime({ replicas: second.map((r) => r.replica), quorum: 2 }, (p) =>
        Effect.gen(function*() {
          const l = yield* p.load
          // The writers catch up lagging replicas in the background.
          yield* TestClock.adjust("1 second")
          return l
        })
      )
      assert.deepStrictEqual(loaded[0]?.channelState, normal)
      assert.strictEqual(loaded[0]?.latestUpdateId, 2n)
      // r0 caught up at that start (the lagging replica is written from the truth).
      const r0 = yield* makeStoreReplica(makeMemoryStore(datas[0]!).store).load
      assert.deepStrictEqual(r0[0]?.channelState, normal)
      assert.strictEqual(r0[0]?.updates.length, 3)
    }))

  it("the state version header round-trips; a state without it is version 0", () => {
    const bytes = encodeState({ a: 1 })
    assert.deepStrictEqual(splitStateVersion(bytes), { version: 0n, body: bytes })
    const stored = withStateVersion(42n, bytes)
    assert.strictEqual(splitStateVersion(stored)?.version, 42n)
    assert.deepStrictEqual(decodeState(stored), decodeState(bytes))
    assert.isUndefined(splitStateVersion(new Uint8Array([0x02, 0x78, 0x0a])))
  })
})
