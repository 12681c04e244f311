/**
 * Compaction in the store replica: the log is folded into a monitor snapshot (`<channel>/snap`)
 * every `compactEvery` updates, in the same atomic store write as the updates it folds. A crash
 * at any disk step of a life that compacts leaves a store that loads and replays to every
 * acknowledged update (at most one more write); a replica that lags behind a snapshot catches
 * up from it. The revoked commitments of a snapshot go to chunks written once, not again with every
 * snapshot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schedule } from "effect"
import { makeReplicatedPersister } from "../../../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../../../src/layers/persister/StoreReplica.ts"
import { makeFileStore } from "../../../src/layers/store/FileStore.ts"
import { makeMemoryStore, makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import { SimulatedDisk } from "../../../src/layers/store/SimulatedDisk.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { replay, replayFrom } from "../../../src/protocol/monitor/apply.ts"
import type { MonitorState } from "../../../src/protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import type { PersistedChannel } from "../../../src/services/MonitorPersister.ts"
import { secp } from "../../protocol/monitor/fixtures.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

const A = channelIdOf(1)
const log = logOf(1, 14)

const whole = (updates: ReadonlyArray<MonitorUpdate>): MonitorState => Result.getOrThrow(replay(secp, updates))
const stateOf = (c: PersistedChannel): MonitorState =>
  Result.getOrThrow(c.monitor === undefined ? replay(secp, c.updates) : replayFrom(secp, c.monitor, c.updates))
const noRetry = { retry: Schedule.recurs(0), inlineWait: "5 millis" } as const

describe("StoreReplica compaction", () => {
  it.effect("every N updates one write puts the snapshot and deletes the folded update keys", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const { store } = makeMemoryStore(data)
      const keys = () => Effect.map(store.list("monitor/"), (es) => es.map((e) => e.key.slice(e.key.indexOf("/", 8) + 1)))
      yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store, { compactEvery: 4 })] })
        for (let i = 0; i < 11; i++) assert.strictEqual(yield* p.persist(A, log.slice(i, i + 1), stateAt(1, BigInt(i))), "Completed")
      }))
      // Folded at 4 and 8 updates; 8, 9, 10 after the snapshot (at 7).
      const held = yield* keys()
      assert.includeMembers(held, ["snap", "state"])
      assert.deepStrictEqual(held.filter((k) => k.startsWith("u/")).map((k) => BigInt(k.slice(2))), [8n, 9n, 10n])
      const [c] = yield* Effect.scoped(Effect.flatMap(makeReplicatedPersister({ replicas: [makeStoreReplica(store, { compactEvery: 4 })] }), (p) => p.load))
      assert.strictEqual(c?.monitor?.latestUpdateId, 7n)
      assert.strictEqual(c?.latestUpdateId, 10n)
      assert.deepStrictEqual(stateOf(c!), whole(log.slice(0, 11)))
    }))

  it.effect("a crash at any disk step of a life that compacts loads every acknowledged update", () =>
    Effect.gen(function*() {
      const options = { directory: "/node", compactAfterBatches: 3 }
      let points = 0
      for (let crashAt = 0; ; crashAt++) {
        const disk = new SimulatedDisk()
        let acknowledged = 0
        let crashed = false
        yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* makeFileStore(disk, options)
          const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store, { compactEvery: 3 })], ...noRetry })
          disk.crashAfter(crashAt)
          for (let i = 0; i < log.length; i++) {
            const status = yield* p.persist(A, log.slice(i, i + 1), stateAt(1, BigInt(i)))
            if (status !== "Completed") {
              crashed = true
              break
            }
            acknowledged = i + 1
          }
        }))
        if (!crashed) break // past the last step: every point was tried
        points += 1
        disk.crashAfter(undefined)
        disk.recover(crashAt % 2 === 0 ? "durable" : "metadata")
        const loaded = yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* makeFileStore(disk, options)
          const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store, { compactEvery: 3 })] })
          return yield* p.load
        }))
        if (acknowledged === 0 && loaded.length === 0) continue
        const c = loaded[0]!
        const n = Number(c.latestUpdateId) + 1
        assert.isAtLeast(n, acknowledged, `crash at step ${crashAt}`)
        assert.isAtMost(n, acknowledged + 1, `crash at step ${crashAt}`)
        assert.deepStrictEqual(stateOf(c), whole(log.slice(0, n)), `crash at step ${crashAt}`)
        assert.deepStrictEqual(c.channelState, stateAt(1, BigInt(n - 1)))
      }
      assert.isAbove(points, 10)
    }))

  it.effect("revoked commitments go to chunks written once; remembering the log writes what reading it from the store writes", () =>
    Effect.gen(function*() {
      const life = logOf(1, 80)
      const run = (remember: boolean) =>
        Effect.gen(function*() {
          const { store } = makeMemoryStore(makeMemoryStoreData())
          const firstVersion = new Map<string, number>()
          let replica = makeStoreReplica(store, { compactEvery: 4 })
          for (let i = 0; i < life.length; i++) {
            if (!remember) {
              // a new instance knows the head from its load, not the log: it reads the store to compact
              replica = makeStoreReplica(store, { compactEvery: 4 })
              yield* replica.load
            }
            yield* replica.write([{ channelId: A, updates: life.slice(i, i + 1), channelState: stateAt(1, BigInt(i)), stateVersion: BigInt(i + 1) }])
            for (const e of yield* store.list("monitor/")) {
              if (!e.key.includes("/rv/")) continue
              const v = firstVersion.get(e.key)
              if (v === undefined) firstVersion.set(e.key, e.version)
              else assert.strictEqual(e.version, v, `${e.key} rewritten`)
            }
          }
          return { entries: yield* store.list("monitor/"), chunks: firstVersion.size, store }
        })
      const remembering = yield* run(true)
      const reading = yield* run(false)
      assert.deepStrictEqual(remembering.entries, reading.entries)
      assert.isAtLeast(remembering.chunks, 3)
      const snap = remembering.entries.find((e) => e.key.endsWith("/snap"))!
      const m = whole(life)
      const revoked = m.revokedCommitments
      assert.isAtLeast(revoked.length, 5)
      // the snapshot carries none of them: all are in chunks
      assert.strictEqual(snap.value[0], 0x03)
      for (const r of revoked) assert.notInclude(new TextDecoder().decode(snap.value), toHex(r.txid))
      const [c] = yield* makeStoreReplica(remembering.store).load
      assert.deepStrictEqual(Result.getOrThrow(replayFrom(secp, c!.monitor!, c!.updates)), m)
    }))

  it.effect("a replica behind the snapshot (a new watchtower) catches up from it", () =>
    Effect.gen(function*() {
      const local = makeMemoryStoreData()
      const { store } = makeMemoryStore(local)
      yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store, { compactEvery: 4 })] })
        yield* p.persist(A, log.slice(0, 10), stateAt(1, 9n))
      }))
      // A second replica joins with nothing: updates 0..7 are gone from the local store (folded).
      const tower = makeMemoryStore(makeMemoryStoreData())
      const replicas = () => [makeStoreReplica(store, { compactEvery: 4 }), makeStoreReplica(tower.store, { name: "tower", keepsChannelState: false, compactEvery: 4 })]
      yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* makeReplicatedPersister({ replicas: replicas(), quorum: 2 })
        const [c] = yield* p.load
        assert.strictEqual(c?.latestUpdateId, 9n)
        assert.strictEqual(yield* p.persist(A, log.slice(10, 11), stateAt(1, 10n)), "Completed")
      }))
      const towerHeld = yield* Effect.scoped(makeStoreReplica(tower.store, { name: "tower", keepsChannelState: false }).load)
      const t = towerHeld[0]
      assert.isDefined(t?.monitor)
      assert.deepStrictEqual(Result.getOrThrow(replayFrom(secp, t!.monitor!, t!.updates)), whole(log.slice(0, 11)))
    }))
})
