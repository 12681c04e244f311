import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result, Schema } from "effect"
import fc from "fast-check"
import * as ReplicatedPersister from "../../../src/layers/persister/ReplicatedPersister.ts"
import { makeReplicatedPersister } from "../../../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../../../src/layers/persister/StoreReplica.ts"
import { makeFileStore } from "../../../src/layers/store/FileStore.ts"
import * as MemoryStore from "../../../src/layers/store/MemoryStore.ts"
import { SimulatedDisk } from "../../../src/layers/store/SimulatedDisk.ts"
import { replay, replayFrom } from "../../../src/protocol/monitor/apply.ts"
import { MonitorStateSchema } from "../../../src/protocol/monitor/state.ts"
import { encodeJsonWith, MonitorPersister } from "../../../src/services/MonitorPersister.ts"
import { arbitraryLog, secp } from "../../protocol/monitor/fixtures.ts"
import { channelIdOf } from "./fixtures.ts"

const encodeState = encodeJsonWith(MonitorStateSchema)

describe("monitor updates of whole channel lives through the files store", () => {
  it.effect("persisted in random chunks, read back after a restart, they replay to the same monitor", () =>
    Effect.gen(function*() {
      const cases = fc.sample(fc.tuple(arbitraryLog(50), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 50, maxLength: 50 })), { numRuns: 12, seed: 3 })
      const disk = new SimulatedDisk()
      const options = { directory: "/node", compactAfterBatches: 10 }
      const expected = new Map<string, unknown>()
      yield* Effect.scoped(
        Effect.gen(function*() {
          const store = yield* makeFileStore(disk, options)
          const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store)] })
          for (const [i, [log, chunks]] of cases.entries()) {
            const state = replay(secp, log)
            assert.isTrue(Result.isSuccess(state))
            if (Result.isFailure(state)) continue
            const json = encodeState(state.success)
            assert.isTrue(Result.isSuccess(json))
            if (Result.isFailure(json)) continue
            let at = 0
            for (const size of chunks) {
              if (at >= log.length) break
              assert.strictEqual(yield* p.persist(channelIdOf(900 + i), log.slice(at, at + size), json.success), "Completed")
              at += size
            }
            if (at < log.length) yield* p.persist(channelIdOf(900 + i), log.slice(at), json.success)
            expected.set(Buffer.from(channelIdOf(900 + i)).toString("hex"), json.success)
          }
        })
      )
      const loaded = yield* Effect.scoped(
        Effect.gen(function*() {
          const store = yield* makeFileStore(disk, options)
          const p = yield* makeReplicatedPersister({ replicas: [makeStoreReplica(store)] })
          return yield* p.load
        })
      )
      assert.strictEqual(loaded.length, cases.length)
      for (const c of loaded) {
        // Logs of 16+ updates were compacted (DEFAULT_COMPACT_EVERY): a snapshot, then the updates after it.
        const state = c.monitor === undefined ? replay(secp, c.updates) : replayFrom(secp, c.monitor, c.updates)
        assert.isTrue(Result.isSuccess(state))
        assert.isBelow(c.updates.length, 16)
        if (Result.isFailure(state)) continue
        // the monitor rebuilt from the log is the one whose JSON was stored as the channel state
        assert.deepStrictEqual(c.channelState, expected.get(Buffer.from(c.channelId).toString("hex")))
        assert.deepStrictEqual(Schema.decodeUnknownSync(MonitorStateSchema)(c.channelState), state.success)
      }
    }))
})

describe("layers", () => {
  it.effect("ReplicatedPersister.layerLocal over MemoryStore.layer", () =>
    Effect.gen(function*() {
      const p = yield* MonitorPersister
      assert.deepStrictEqual(yield* p.load, [])
      const [log] = fc.sample(arbitraryLog(5), { numRuns: 1, seed: 1 })
      assert.strictEqual(yield* p.persist(channelIdOf(1), log ?? [], { phase: "normal" }), "Completed")
    }).pipe(Effect.provide(ReplicatedPersister.layerLocal().pipe(Layer.provide(MemoryStore.layer())))))
})
