import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Latch, PubSub, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import { makeFileStore } from "../../../src/layers/store/FileStore.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { SimulatedDisk } from "../../../src/layers/store/SimulatedDisk.ts"
import { makeReplicatedPersister, type ReplicatedPersisterOptions } from "../../../src/layers/persister/ReplicatedPersister.ts"
import { decodeUpdate, makeStoreReplica } from "../../../src/layers/persister/StoreReplica.ts"
import { lastUpdateIdOf, ReplicaError, type MonitorReplica, type ReplicaWrite } from "../../../src/layers/persister/replica.ts"
import { replay, replayFrom } from "../../../src/protocol/monitor/apply.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import type { MonitorPersisterShape, PersistCompletion } from "../../../src/services/MonitorPersister.ts"
import type { StoreShape } from "../../../src/services/Store.ts"
import { secp } from "../../protocol/monitor/fixtures.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

const A = channelIdOf(1)
const B = channelIdOf(2)
const logA = logOf(1, 16)
const logB = logOf(2, 16)

/** A store replica over a memory store, with its knobs. */
const memoryReplica = (name: string, data: MemoryStoreData = makeMemoryStoreData(), keepsChannelState = true) => {
  const { store, control } = makeMemoryStore(data)
  return { data, store, control, replica: makeStoreReplica(store, { name, keepsChannelState }) }
}

const open = (options: ReplicatedPersisterOptions) => makeReplicatedPersister(options)

/** Runs a persister in its own scope (a process lifetime), closed at the end. */
const lifetime = <A, E>(options: ReplicatedPersisterOptions, f: (p: MonitorPersisterShape) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(open(options), f))

const updateKeys = (store: StoreShape, channel: ChannelId) =>
  Effect.map(store.list("monitor/"), (es) => es.filter((e) => e.key.includes("/u/") && e.key.includes(Buffer.from(channel).toString("hex"))).length)

const takeN = (sub: PubSub.Subscription<PersistCompletion>, n: number) => Effect.forEach(Array.from({ length: n }), () => PubSub.take(sub))

describe("local store persister", () => {
  it.effect("Completed; the state and the updates of one persist are one store write", () =>
    Effect.gen(function*() {
      const r = memoryReplica("local")
      yield* lifetime({ replicas: [r.replica] }, (p) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 3), stateAt(1, 2n)), "Completed")
          assert.strictEqual(yield* r.control.writeCount, 1)
          assert.strictEqual(yield* p.persist(A, [], stateAt(1, 2n, 7)), "Completed")
          const keys = (yield* r.store.list("")).map((e) => e.key)
          assert.strictEqual(keys.length, 4)
          assert.isTrue(keys.every((k) => k.startsWith("monitor/")))
        })
      )
    }))

  it.effect("load after a restart returns exactly what was written, and the log replays", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) =>
        Effect.gen(function*() {
          for (let i = 0; i < 16; i += 3) {
            yield* p.persist(A, logA.slice(i, i + 3), stateAt(1, BigInt(Math.min(i + 2, 15))))
            if (i < 9) yield* p.persist(B, logB.slice(i, i + 3), stateAt(2, BigInt(i + 2)))
          }
        })
      )
      const loaded = yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) => p.load)
      const a = loaded.find((c) => c.channelId.every((b, i) => b === A[i]))
      const b = loaded.find((c) => c.channelId.every((x, i) => x === B[i]))
      // A's 16 updates reached the compaction period: one snapshot, no update after it.
      assert.deepStrictEqual(a?.updates, [])
      assert.deepStrictEqual(a?.monitor, Result.getOrThrow(replay(secp, logA)))
      assert.deepStrictEqual(a?.channelState, stateAt(1, 15n))
      assert.strictEqual(a?.latestUpdateId, 15n)
      assert.deepStrictEqual(b?.updates, logB.slice(0, 9))
      assert.isUndefined(b?.monitor)
      assert.isTrue(Result.isSuccess(replayFrom(secp, a?.monitor ?? Result.getOrThrow(replay(secp, logA.slice(0, 1))), a?.updates ?? [])))
      // and the restarted persister continues the log
      yield* lifetime({ replicas: [memoryReplica("local", data).replica] }, (p) =>
        Effect.gen(function*() {
          const bad = yield* Effect.flip(p.persist(B, logB.slice(10, 11), stateAt(2, 10n)))
          assert.deepInclude(bad, { _tag: "PersistOutOfOrder", expected: 9n, received: 10n })
          assert.strictEqual(yield* p.persist(B, logB.slice(9, 10), stateAt(2, 9n)), "Completed")
        })
      )
    }))

  it.effect("concurrent persists of many channels are grouped into few store writes", () =>
    Effect.gen(function*() {
      const r = memoryReplica("local")
      // a store that may suspend (a disk): its writes go through the replica's writer, which groups them
      const disk = makeStoreReplica({ ...r.store, synchronous: false }, { name: "local" })
      const channels = Array.from({ length: 40 }, (_, i) => ({ id: channelIdOf(100 + i), log: logOf(100 + i, 2) }))
      yield* lifetime({ replicas: [disk] }, (p) =>
        Effect.gen(function*() {
          const statuses = yield* Effect.forEach(channels, (c) => p.persist(c.id, c.log, stateAt(0, 1n)), { concurrency: "unbounded" })
          assert.isTrue(statuses.every((s) => s === "Completed"))
          assert.isBelow(yield* r.control.writeCount, 10)
          const many = yield* p.persistMany(channels.map((c) => ({ channelId: c.id, updates: [], channelState: stateAt(0, 1n, 1) })))
          assert.strictEqual(many.length, 40)
        })
      )
      assert.strictEqual((yield* r.store.list("monitor/")).length, 40 * 3)
    }))

  it.effect("a store outage: InProgress, retried with backoff on the clock, completed in order, nothing dropped", () =>
    Effect.gen(function*() {
      const r = memoryReplica("local")
      yield* lifetime({ replicas: [r.replica] }, (p) =>
        Effect.gen(function*() {
          const sub = yield* p.subscribe
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 2), stateAt(1, 1n)), "Completed")
          yield* r.control.setDown(true)
          assert.strictEqual(yield* p.persist(A, logA.slice(2, 4), stateAt(1, 3n)), "InProgress")
          assert.strictEqual(yield* p.persist(A, logA.slice(4, 5), stateAt(1, 4n)), "InProgress")
          assert.strictEqual(yield* p.persist(B, logB.slice(0, 1), stateAt(2, 0n)), "InProgress")
          for (let i = 0; i < 5; i++) yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* updateKeys(r.store, A).pipe(Effect.orElseSucceed(() => -1)), -1) // still down
          yield* r.control.setDown(false)
          yield* TestClock.adjust("5 seconds")
          const done = yield* takeN(sub, 3)
          const forA = done.filter((c) => c.channelId === A).map((c) => c.updateId)
          assert.deepStrictEqual(forA, [3n, 4n])
          assert.strictEqual(yield* updateKeys(r.store, A), 5)
          assert.strictEqual(yield* p.persist(A, logA.slice(5, 6), stateAt(1, 5n)), "Completed")
        })
      )
    }))

  it.effect("over a store in memory each persist is written in the caller's turn; a failed one is retried by the writer on its schedule", () =>
    Effect.gen(function*() {
      const r = memoryReplica("local")
      assert.isTrue(r.replica.synchronous)
      yield* lifetime({ replicas: [r.replica] }, (p) =>
        Effect.gen(function*() {
          const sub = yield* p.subscribe
          const channels = Array.from({ length: 5 }, (_, i) => ({ id: channelIdOf(200 + i), log: logOf(200 + i, 2) }))
          const statuses = yield* Effect.forEach(channels, (c) => p.persist(c.id, c.log, stateAt(0, 1n)), { concurrency: "unbounded" })
          assert.isTrue(statuses.every((s) => s === "Completed"))
          // nothing to group: each was written as it came (no fsync to share)
          assert.strictEqual(yield* r.control.writeCount, 5)
          yield* r.control.failNextWrites(1)
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 2), stateAt(1, 1n)), "InProgress")
          // the failure is the retry schedule's first: no attempt before its first delay (10 ms)...
          yield* TestClock.adjust("9 millis")
          assert.strictEqual(yield* r.control.writeCount, 5)
          // ... then the writer writes it and publishes the completion
          yield* TestClock.adjust("1 millis")
          const [c] = yield* takeN(sub, 1)
          assert.strictEqual(c?.updateId, 1n)
          assert.strictEqual(yield* r.control.writeCount, 6)
          assert.strictEqual(yield* p.persist(A, logA.slice(2, 3), stateAt(1, 2n)), "Completed")
          assert.strictEqual(yield* r.control.writeCount, 7)
        })
      )
    }))

  it.effect("a slow store: InProgress after the inline wait, then the completion", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      const gate = yield* Latch.make(false)
      // (it keeps the memory store's `synchronous` flag: a caller's write that suspends after all
      // does not hold the caller past its wait)
      const slow: StoreShape = { ...store, write: (ops) => Effect.andThen(gate.await, store.write(ops)) }
      yield* lifetime({ replicas: [makeStoreReplica(slow)], inlineWait: "100 millis" }, (p) =>
        Effect.gen(function*() {
          const sub = yield* p.subscribe
          const fiber = yield* Effect.forkChild(p.persist(A, logA.slice(0, 1), stateAt(1, 0n)))
          yield* TestClock.adjust("100 millis")
          assert.strictEqual(yield* Fiber.join(fiber), "InProgress")
          yield* gate.open
          const [c] = yield* takeN(sub, 1)
          assert.strictEqual(c?.updateId, 0n)
        })
      )
    }))
})

describe("files store underneath: a crash at any persistence point", () => {
  it.effect("the restarted node loads a prefix holding every completed write", () =>
    Effect.gen(function*() {
      const writes = [
        { id: A, updates: logA.slice(0, 3), state: stateAt(1, 2n) },
        { id: B, updates: logB.slice(0, 2), state: stateAt(2, 1n) },
        { id: A, updates: logA.slice(3, 5), state: stateAt(1, 4n) },
        { id: A, updates: [] as ReadonlyArray<MonitorUpdate>, state: stateAt(1, 4n, 1) },
        { id: B, updates: logB.slice(2, 3), state: stateAt(2, 2n) }
      ]
      let crashes = 0
      for (let k = 0; ; k++) {
        const disk = new SimulatedDisk()
        disk.crashAfter(k)
        let completed = 0
        const scope = yield* Scope.make()
        const run = yield* Effect.exit(
          Effect.gen(function*() {
            const store = yield* makeFileStore(disk, { directory: "/node", compactAfterBatches: 3 })
            const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store)] })
            for (const w of writes) {
              const status = yield* p.persist(w.id, w.updates, w.state)
              if (status === "Completed") completed += 1
              else break
            }
          }).pipe(Scope.provide(scope))
        )
        yield* Scope.close(scope, Exit.void)
        if (Exit.isSuccess(run) && !disk.isCrashed && completed === writes.length) break
        crashes += 1
        disk.recover("durable")
        const loaded = yield* Effect.scoped(
          Effect.gen(function*() {
            const store = yield* makeFileStore(disk, { directory: "/node" })
            const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store)] })
            return yield* p.load
          })
        )
        // what the store holds is the result of the first m writes, m >= completed
        const candidates = Array.from({ length: writes.length + 1 }, (_, m) => m).filter((m) => m >= completed)
        const describe = (m: number) => {
          const byChannel = new Map<string, { updates: Array<MonitorUpdate>; state: unknown }>()
          for (const w of writes.slice(0, m)) {
            const key = Buffer.from(w.id).toString("hex")
            const c = byChannel.get(key) ?? { updates: [], state: undefined }
            c.updates.push(...w.updates)
            c.state = w.state
            byChannel.set(key, c)
          }
          return JSON.stringify([...byChannel.entries()].sort().map(([key, c]) => [key, c.updates.map((u) => String(u.updateId)), c.state]))
        }
        const got = JSON.stringify(
          loaded
            .map((c) => [Buffer.from(c.channelId).toString("hex"), c.updates.map((u) => String(u.updateId)), c.channelState] as const)
            .sort()
        )
        assert.isTrue(candidates.some((m) => describe(m) === got), `crash at ${k}: ${got}`)
      }
      assert.isAbove(crashes, 15)
    }))
})

describe("k-of-n replication", () => {
  it.effect("2 of 3: a replica down does not stop completions; back up, it catches up from its last update", () =>
    Effect.gen(function*() {
      const r1 = memoryReplica("r1")
      const r2 = memoryReplica("r2")
      const r3 = memoryReplica("r3")
      yield* lifetime({ replicas: [r1.replica, r2.replica, r3.replica], quorum: 2 }, (p) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 2), stateAt(1, 1n)), "Completed")
          yield* r3.control.setDown(true)
          for (let i = 2; i < 8; i++) assert.strictEqual(yield* p.persist(A, logA.slice(i, i + 1), stateAt(1, BigInt(i))), "Completed")
          assert.strictEqual(yield* p.persist(B, logB.slice(0, 3), stateAt(2, 2n)), "Completed")
          yield* r3.control.setDown(false)
          for (let i = 0; i < 4; i++) yield* TestClock.adjust("5 seconds")
          for (const r of [r1, r2, r3]) {
            assert.strictEqual(yield* updateKeys(r.store, A), 8, r.replica.name)
            assert.strictEqual(yield* updateKeys(r.store, B), 3, r.replica.name)
          }
          const values = (s: StoreShape) => Effect.map(s.list(""), (es) => es.map((e) => [e.key, Buffer.from(e.value).toString("hex")]))
          assert.deepStrictEqual(yield* values(r3.store), yield* values(r1.store))
        })
      )
    }))

  it.effect("a replica down for long: the persister keeps at most maxRetained updates for it, then a snapshot it catches up from", () =>
    Effect.gen(function*() {
      const life = logOf(1, 120)
      const local = memoryReplica("local")
      const tower = memoryReplica("tower", makeMemoryStoreData(), false)
      const landed: Array<ReadonlyArray<ReplicaWrite>> = []
      const watched: MonitorReplica = { ...tower.replica, write: (ws) => Effect.tap(tower.replica.write(ws), () => Effect.sync(() => landed.push(ws))) }
      yield* lifetime({ replicas: [local.replica, watched], quorum: 1, maxRetained: 8 }, (p) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* p.persist(A, life.slice(0, 2), stateAt(1, 1n)), "Completed")
          yield* tower.control.setDown(true)
          for (let i = 2; i < life.length; i++) assert.strictEqual(yield* p.persist(A, life.slice(i, i + 1), stateAt(1, BigInt(i))), "Completed")
          for (let i = 0; i < 4; i++) yield* TestClock.adjust("5 seconds") // retries fail while down
          landed.length = 0
          yield* tower.control.setDown(false)
          for (let i = 0; i < 4; i++) yield* TestClock.adjust("5 seconds")
        })
      )
      // back up, the tower got a snapshot and at most 8 updates after it, not the 118 it missed
      const catchUp = landed[0]?.[0]
      assert.isDefined(catchUp?.monitor)
      assert.isAtMost(catchUp?.updates.length ?? 99, 8)
      const [t] = yield* makeStoreReplica(tower.store, { keepsChannelState: false }).load
      assert.strictEqual(lastUpdateIdOf(t!), BigInt(life.length - 1))
      assert.deepStrictEqual(Result.getOrThrow(replayFrom(secp, t!.monitor!, t!.updates)), Result.getOrThrow(replay(secp, life)))
    }))

  it.effect("2 of 3 with two down: InProgress until one is back, then the completion", () =>
    Effect.gen(function*() {
      const r1 = memoryReplica("r1")
      const r2 = memoryReplica("r2")
      const r3 = memoryReplica("r3")
      yield* lifetime({ replicas: [r1.replica, r2.replica, r3.replica], quorum: 2 }, (p) =>
        Effect.gen(function*() {
          const sub = yield* p.subscribe
          yield* r2.control.setDown(true)
          yield* r3.control.setDown(true)
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 2), stateAt(1, 1n)), "InProgress")
          yield* TestClock.adjust("1 second")
          yield* r2.control.setDown(false)
          yield* TestClock.adjust("5 seconds")
          const [c] = yield* takeN(sub, 1)
          assert.strictEqual(c?.updateId, 1n)
        })
      )
    }))

  it.effect("a watchtower replica receives only updates, and only those a state replica holds", () =>
    Effect.gen(function*() {
      const local = memoryReplica("local")
      const tower = memoryReplica("tower", makeMemoryStoreData(), false)
      yield* lifetime({ replicas: [local.replica, tower.replica], quorum: 2 }, (p) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 3), stateAt(1, 2n)), "Completed")
          assert.strictEqual(yield* updateKeys(tower.store, A), 3)
          assert.isFalse((yield* tower.store.list("")).some((e) => e.key.endsWith("/state")))
          // the local store is down: the tower gets nothing new either
          yield* local.control.setDown(true)
          assert.strictEqual(yield* p.persist(A, logA.slice(3, 5), stateAt(1, 4n)), "InProgress")
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* updateKeys(tower.store, A), 3)
          yield* local.control.setDown(false)
          yield* TestClock.adjust("5 seconds")
          assert.strictEqual(yield* updateKeys(tower.store, A), 5)
          const towerUpdates = (yield* tower.store.list("monitor/")).map((e) => decodeUpdate(e.value))
          assert.isTrue(towerUpdates.every(Result.isSuccess))
        })
      )
    }))

  it.effect("at start: the longest state log wins; a lagging replica catches up; too few answers fail", () =>
    Effect.gen(function*() {
      const r1 = memoryReplica("r1")
      const r2 = memoryReplica("r2")
      yield* lifetime({ replicas: [r1.replica, r2.replica], quorum: 1 }, (p) =>
        Effect.gen(function*() {
          yield* p.persist(A, logA.slice(0, 2), stateAt(1, 1n))
          yield* r2.control.setDown(true)
          yield* p.persist(A, logA.slice(2, 6), stateAt(1, 5n))
        })
      )
      // restart with r2 still down: 2 state replicas must all answer
      const fresh1 = memoryReplica("r1", r1.data)
      const fresh2 = memoryReplica("r2", r2.data)
      yield* fresh2.control.setDown(true)
      const refused = yield* Effect.flip(lifetime({ replicas: [fresh1.replica, fresh2.replica], quorum: 1 }, (p) => p.load))
      assert.strictEqual(refused._tag, "PersistUnavailable")
      yield* fresh2.control.setDown(false)
      yield* lifetime({ replicas: [fresh1.replica, fresh2.replica], quorum: 1 }, (p) =>
        Effect.gen(function*() {
          const [a] = yield* p.load
          assert.strictEqual(a?.latestUpdateId, 5n)
          assert.deepStrictEqual(a?.channelState, stateAt(1, 5n))
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* updateKeys(fresh2.store, A), 6)
        })
      )
    }))

  it.effect("a replica write that reports failure but landed is not written twice (ambiguous failure)", () =>
    Effect.gen(function*() {
      const { store } = makeMemoryStore()
      // a replica whose first write lands but reports an error (a timeout after the write)
      const inner = makeStoreReplica(store)
      let failOnce = true
      const flaky: MonitorReplica = {
        ...inner,
        write: (ws) =>
          Effect.flatMap(inner.write(ws), () => {
            if (!failOnce) return Effect.void
            failOnce = false
            return Effect.fail(new ReplicaError({ replica: "flaky", reason: "timeout after write" }))
          })
      }
      yield* lifetime({ replicas: [flaky] }, (p) =>
        Effect.gen(function*() {
          const sub = yield* p.subscribe
          assert.strictEqual(yield* p.persist(A, logA.slice(0, 3), stateAt(1, 2n)), "InProgress")
          yield* TestClock.adjust("1 second")
          const [c] = yield* takeN(sub, 1)
          assert.strictEqual(c?.updateId, 2n)
          assert.strictEqual(yield* updateKeys(store, A), 3)
          assert.strictEqual(yield* p.persist(A, logA.slice(3, 4), stateAt(1, 3n)), "Completed")
        })
      )
    }))

  it.effect("archive and remove take a closed channel out of every replica", () =>
    Effect.gen(function*() {
      const r1 = memoryReplica("r1")
      const r2 = memoryReplica("r2")
      yield* lifetime({ replicas: [r1.replica, r2.replica], quorum: 2 }, (p) =>
        Effect.gen(function*() {
          yield* p.persist(A, logA.slice(0, 2), stateAt(1, 1n))
          yield* p.persist(B, logB.slice(0, 2), stateAt(2, 1n))
          yield* p.archive(A)
          yield* p.remove(B)
        })
      )
      for (const r of [r1, r2]) {
        assert.strictEqual((yield* r.store.list("monitor/")).length, 0)
        assert.strictEqual((yield* r.store.list("archive/")).length, 3)
      }
      const loaded = yield* lifetime({ replicas: [memoryReplica("r1", r1.data).replica, memoryReplica("r2", r2.data).replica] }, (p) => p.load)
      assert.strictEqual(loaded.length, 0)
    }))
})
