/**
 * The memory persister compacts a channel's monitor update log: every `compactEvery` updates
 * (and at start) the log is folded into a monitor snapshot and the older updates are dropped.
 * What a restart loads (snapshot + the updates after it) replays to exactly the state of the
 * whole log, at every crash point, and the update order rules keep working across a snapshot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { makeMemoryPersister, makeMemoryPersisterData } from "../../../src/layers/persister/MemoryPersister.ts"
import { replay, replayFrom } from "../../../src/protocol/monitor/apply.ts"
import type { MonitorState } from "../../../src/protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import type { PersistedChannel } from "../../../src/services/MonitorPersister.ts"
import { secp } from "../../protocol/monitor/fixtures.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

const A = channelIdOf(1)
const log = logOf(1, 40)

const whole = (updates: ReadonlyArray<MonitorUpdate>): MonitorState => {
  const r = replay(secp, updates)
  if (Result.isFailure(r)) throw new Error(`fixture log does not replay: ${r.failure._tag}`)
  return r.success
}

const loaded = (c: PersistedChannel | undefined): MonitorState => {
  if (c === undefined) throw new Error("channel not loaded")
  const r = c.monitor === undefined ? replay(secp, c.updates) : replayFrom(secp, c.monitor, c.updates)
  if (Result.isFailure(r)) throw new Error(`loaded log does not replay: ${r.failure._tag}`)
  return r.success
}

describe("MemoryPersister compaction", () => {
  it.effect("every N updates the log is folded into a snapshot; the store never holds N or more updates", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister } = yield* makeMemoryPersister({ data, compactEvery: 5 })
      for (let i = 0; i < log.length; i++) {
        assert.strictEqual(yield* persister.persist(A, log.slice(i, i + 1), stateAt(1, BigInt(i))), "Completed")
        const stored = [...data.channels.values()][0]
        assert.isBelow(stored?.updates.length ?? 99, 5)
        if (i >= 4) assert.isDefined(stored?.monitor)
      }
      const stored = [...data.channels.values()][0]
      // 40 updates, folded at 5, 10, ... 40: nothing after the snapshot, which is the whole log's state.
      assert.strictEqual(stored?.updates.length, 0)
      assert.deepStrictEqual(stored?.monitor, whole(log))
    }))

  it.effect("a restart loads snapshot + later updates, equal to the whole log's state, and continues the ids", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister } = yield* makeMemoryPersister({ data, compactEvery: 8 })
      yield* persister.persist(A, log.slice(0, 11), stateAt(1, 10n)) // folded (11 >= 8)
      yield* persister.persist(A, log.slice(11, 14), stateAt(1, 13n)) // kept after the snapshot
      const { persister: restarted } = yield* makeMemoryPersister({ data, compactEvery: 8 })
      const [c] = yield* restarted.load
      assert.strictEqual(c?.latestUpdateId, 13n)
      assert.deepStrictEqual(c?.channelState, stateAt(1, 13n))
      assert.isDefined(c?.monitor)
      assert.deepStrictEqual(loaded(c), whole(log.slice(0, 14)))
      // The order rules see through the snapshot: an id already folded is refused, the next one is taken.
      const old = yield* Effect.flip(restarted.persist(A, log.slice(5, 6), stateAt(1, 5n)))
      assert.deepInclude(old, { _tag: "PersistOutOfOrder", expected: 14n, received: 5n })
      assert.strictEqual(yield* restarted.persist(A, log.slice(14, 16), stateAt(1, 15n)), "Completed")
    }))

  it.effect("at start a whole log (written without compaction) is folded; compactEvery 0 keeps every update", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister } = yield* makeMemoryPersister({ data, compactEvery: 0 })
      yield* persister.persist(A, log.slice(0, 30), stateAt(1, 29n))
      assert.strictEqual([...data.channels.values()][0]?.updates.length, 30)
      const { persister: kept } = yield* makeMemoryPersister({ data, compactEvery: 0 })
      const [k] = yield* kept.load
      assert.strictEqual(k?.updates.length, 30)
      assert.isUndefined(k?.monitor)
      const { persister: restarted } = yield* makeMemoryPersister({ data })
      const [c] = yield* restarted.load
      assert.strictEqual(c?.updates.length, 0)
      assert.deepStrictEqual(c?.monitor, whole(log.slice(0, 30)))
      assert.strictEqual(c?.latestUpdateId, 29n)
    }))

  it.effect("a crash at any write (held writes lost) leaves a store that loads to exactly the durable updates", () =>
    Effect.gen(function*() {
      for (let durable = 1; durable <= 20; durable++) {
        const data = makeMemoryPersisterData()
        const { persister, control } = yield* makeMemoryPersister({ data, compactEvery: 3 })
        for (let i = 0; i < durable; i++) yield* persister.persist(A, log.slice(i, i + 1), stateAt(1, BigInt(i)))
        // Two more writes never become durable: the crash loses them (never acknowledged).
        yield* control.setMode("hold")
        yield* persister.persist(A, log.slice(durable, durable + 2), stateAt(1, BigInt(durable + 1)))
        yield* control.crash
        const { persister: restarted } = yield* makeMemoryPersister({ data, compactEvery: 3 })
        const [c] = yield* restarted.load
        assert.strictEqual(c?.latestUpdateId, BigInt(durable - 1))
        assert.deepStrictEqual(c?.channelState, stateAt(1, BigInt(durable - 1)))
        assert.deepStrictEqual(loaded(c), whole(log.slice(0, durable)))
      }
    }))

  it.effect("a log that does not fold is kept whole (load reports it as written)", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister } = yield* makeMemoryPersister({ data, compactEvery: 2 })
      // Updates 1.. without `Opened`: a caller bug the persister cannot fold; nothing is lost.
      data.channels.set("x", { channelId: A, channelState: stateAt(1, 0n), updates: [] })
      yield* Effect.flip(persister.persist(A, log.slice(1, 3), stateAt(1, 2n)))
      const { persister: restarted } = yield* makeMemoryPersister({ data, compactEvery: 2 })
      const loadedAll = yield* restarted.load
      assert.strictEqual(loadedAll.length, 1)
      assert.isUndefined(loadedAll[0]?.monitor)
    }))
})
