import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub } from "effect"
import { TestClock } from "effect/testing"
import { makeMemoryPersister, makeMemoryPersisterData } from "../../../src/layers/persister/MemoryPersister.ts"
import { channelStateJson, LazyJson, type PersistCompletion, writeNowOf, writesFreeOf } from "../../../src/services/MonitorPersister.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

const A = channelIdOf(1)
const B = channelIdOf(2)
const logA = logOf(1, 12)
const logB = logOf(2, 12)

const takeN = (sub: PubSub.Subscription<PersistCompletion>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => PubSub.take(sub))

const ids = (cs: ReadonlyArray<PersistCompletion>) => cs.map((c) => `${c.channelId === A ? "A" : c.channelId === B ? "B" : "?"}${c.updateId}`)

describe("MemoryPersister", () => {
  it.effect("immediate mode: Completed, and load after a restart gives exactly what was written", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister } = yield* makeMemoryPersister({ data })
      assert.strictEqual(yield* persister.persist(A, logA.slice(0, 3), stateAt(1, 2n)), "Completed")
      assert.strictEqual(yield* persister.persist(A, logA.slice(3, 4), stateAt(1, 3n)), "Completed")
      assert.strictEqual(yield* persister.persist(A, [], stateAt(1, 3n, 1)), "Completed")
      assert.deepStrictEqual(yield* persister.persistMany([{ channelId: B, updates: logB.slice(0, 2), channelState: stateAt(2, 1n) }]), ["Completed"])
      const { persister: restarted } = yield* makeMemoryPersister({ data, compactEvery: 0 }) // the whole log (compaction: MemoryPersister.compaction.test.ts)
      const loaded = yield* restarted.load
      assert.strictEqual(loaded.length, 2)
      const a = loaded.find((c) => c.channelId === A)
      assert.deepStrictEqual(a?.updates, logA.slice(0, 4))
      assert.deepStrictEqual(a?.channelState, stateAt(1, 3n, 1))
      assert.strictEqual(a?.latestUpdateId, 3n)
    }))

  it.effect("a lazy state (LazyJson) is encoded only when a restart loads it, at most once; a replaced one never", () =>
    Effect.gen(function*() {
      const encoded: Array<string> = []
      const lazy = (name: string, value: ReturnType<typeof stateAt>) =>
        new LazyJson(() => {
          encoded.push(name)
          return value
        })
      const data = makeMemoryPersisterData()
      const { persister } = yield* makeMemoryPersister({ data })
      assert.strictEqual(yield* persister.persist(A, logA.slice(0, 2), lazy("a1", stateAt(1, 1n))), "Completed")
      assert.strictEqual(yield* persister.persist(A, logA.slice(2, 3), lazy("a2", stateAt(1, 2n))), "Completed")
      assert.deepStrictEqual(yield* persister.persistMany([{ channelId: B, updates: logB.slice(0, 1), channelState: lazy("b0", stateAt(2, 0n)) }]), ["Completed"])
      assert.deepStrictEqual(encoded, [])
      const { persister: restarted } = yield* makeMemoryPersister({ data })
      const loaded = yield* restarted.load
      assert.deepStrictEqual(encoded, ["a2", "b0"])
      assert.deepStrictEqual(loaded.find((c) => c.channelId === A)?.channelState, stateAt(1, 2n))
      assert.deepStrictEqual(loaded.find((c) => c.channelId === B)?.channelState, stateAt(2, 0n))
      // Memoized: a second restart (or any later read) does not encode again.
      yield* (yield* makeMemoryPersister({ data })).persister.load
      assert.deepStrictEqual(encoded, ["a2", "b0"])
    }))

  it("LazyJson: the value is computed on first use and kept (even null); channelStateJson passes plain JSON through", () => {
    let calls = 0
    const l = new LazyJson(() => {
      calls += 1
      return null
    })
    assert.strictEqual(calls, 0)
    assert.strictEqual(channelStateJson(l), null)
    assert.strictEqual(l.value, null)
    assert.strictEqual(calls, 1)
    const plain = stateAt(1, 0n)
    assert.strictEqual(channelStateJson(plain), plain)
  })

  it.effect("out-of-order updates are refused and nothing is written", () =>
    Effect.gen(function*() {
      const { persister } = yield* makeMemoryPersister()
      const e1 = yield* Effect.flip(persister.persist(A, logA.slice(1, 2), stateAt(1, 1n)))
      assert.deepInclude(e1, { _tag: "PersistOutOfOrder", expected: 0n, received: 1n })
      yield* persister.persist(A, logA.slice(0, 2), stateAt(1, 1n))
      const e2 = yield* Effect.flip(persister.persist(A, [logA[2]!, logA[4]!], stateAt(1, 4n)))
      assert.deepInclude(e2, { _tag: "PersistOutOfOrder", expected: 3n, received: 4n })
      const e3 = yield* Effect.flip(persister.persistMany([
        { channelId: B, updates: logB.slice(0, 1), channelState: stateAt(2, 0n) },
        { channelId: A, updates: logA.slice(1, 2), channelState: stateAt(1, 1n) }
      ]))
      assert.strictEqual(e3._tag, "PersistOutOfOrder")
      assert.strictEqual(yield* persister.persist(B, logB.slice(0, 1), stateAt(2, 0n)), "Completed")
    }))

  it.effect("hold mode: InProgress, then completions when released late, out of order across channels", () =>
    Effect.gen(function*() {
      const { persister, control } = yield* makeMemoryPersister({ mode: "hold" })
      const sub = yield* persister.subscribe
      assert.strictEqual(yield* persister.persist(A, logA.slice(0, 2), stateAt(1, 1n)), "InProgress")
      assert.strictEqual(yield* persister.persist(B, logB.slice(0, 1), stateAt(2, 0n)), "InProgress")
      assert.strictEqual(yield* persister.persist(A, logA.slice(2, 3), stateAt(1, 2n)), "InProgress")
      assert.strictEqual((yield* control.pending).length, 3)
      // B first, then A one at a time
      assert.strictEqual(yield* control.release(B), 1)
      assert.strictEqual(yield* control.release(A, { count: 1 }), 1)
      assert.deepStrictEqual(ids(yield* takeN(sub, 2)), ["B0", "A1"])
      assert.strictEqual(yield* control.release(A), 1)
      assert.deepStrictEqual(ids(yield* takeN(sub, 1)), ["A2"])
      assert.strictEqual((yield* control.pending).length, 0)
    }))

  it.effect("a channel's completions can be delivered newest first; durability stays in order", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister, control } = yield* makeMemoryPersister({ data, mode: "hold" })
      const sub = yield* persister.subscribe
      for (let i = 0; i < 4; i++) yield* persister.persist(A, logA.slice(i, i + 1), stateAt(1, BigInt(i)))
      yield* control.release(A, { reverseCompletions: true })
      assert.deepStrictEqual(ids(yield* takeN(sub, 4)), ["A3", "A2", "A1", "A0"])
      assert.strictEqual(data.channels.get([...data.channels.keys()][0] ?? "")?.updates.length, 4)
    }))

  it.effect("an outage: InProgress, retried on the schedule (TestClock), completed, nothing dropped", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister, control } = yield* makeMemoryPersister({ data })
      const sub = yield* persister.subscribe
      yield* control.failNext(3)
      assert.strictEqual(yield* persister.persist(A, logA.slice(0, 2), stateAt(1, 1n)), "InProgress")
      assert.strictEqual(yield* persister.persist(A, logA.slice(2, 3), stateAt(1, 2n)), "InProgress") // queued behind
      assert.strictEqual((yield* control.pending).length, 2)
      // no time passes: no retry succeeds
      yield* Effect.yieldNow
      assert.strictEqual((yield* control.pending).length, 2)
      for (let i = 0; i < 10 && (yield* control.pending).length > 0; i++) yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(ids(yield* takeN(sub, 2)), ["A1", "A2"])
      assert.strictEqual(yield* control.attempts, 5) // 3 failed, then the two writes
      assert.strictEqual((yield* control.pending).length, 0)
      assert.strictEqual(data.channels.size, 1)
      assert.strictEqual([...data.channels.values()][0]?.updates.length, 3)
    }))

  it.effect("writes are free (writesFreeOf) exactly while a write would land at once; never for a wrapper", () =>
    Effect.gen(function*() {
      const { persister, control } = yield* makeMemoryPersister()
      const free = writesFreeOf(persister)
      if (free === undefined) return assert.fail("the in-memory persister declares its free writes")
      assert.isTrue(free())
      // A wrapper (a new object, here a spread of the persister's fields) is never taken for free.
      assert.isUndefined(writesFreeOf({ ...persister }))
      yield* control.setMode("hold")
      assert.isFalse(free())
      yield* control.setMode("immediate")
      assert.isTrue(free())
      // A write waiting (held, or behind a failure) or a failure planned: not free.
      yield* control.failNext(1)
      assert.isFalse(free())
      assert.strictEqual(yield* persister.persist(A, logA.slice(0, 1), stateAt(1, 0n)), "InProgress")
      assert.isFalse(free())
      for (let i = 0; i < 10 && (yield* control.pending).length > 0; i++) yield* TestClock.adjust("10 millis")
      assert.isTrue(free())
      yield* control.crash
      assert.isFalse(free())
    }))

  it.effect("a write at once (writeNowOf) lands exactly as persist would, or writes nothing and says so; never for a wrapper", () =>
    Effect.gen(function*() {
      // The same writes, at once on one persister and through `persist` on the other: the same data.
      const viaNow = makeMemoryPersisterData()
      const viaPersist = makeMemoryPersisterData()
      const now = yield* makeMemoryPersister({ data: viaNow, compactEvery: 4 })
      const plain = yield* makeMemoryPersister({ data: viaPersist, compactEvery: 4 })
      const writeNow = writeNowOf(now.persister)
      if (writeNow === undefined) return assert.fail("the in-memory persister declares its write at once")
      assert.isUndefined(writeNowOf({ ...now.persister }))
      // Two channels interleaved (the key memo is by the id's bytes: an equal copy of an id is the same channel).
      const writes = [
        { channelId: A, updates: logA.slice(0, 2), channelState: stateAt(1, 1n) },
        { channelId: B, updates: logB.slice(0, 1), channelState: stateAt(2, 0n) },
        { channelId: channelIdOf(1), updates: logA.slice(2, 5), channelState: stateAt(1, 4n) },
        { channelId: A, updates: [], channelState: stateAt(1, 4n, 1) },
        { channelId: B, updates: logB.slice(1, 6), channelState: stateAt(2, 5n) }
      ]
      for (const w of writes) {
        assert.strictEqual(writeNow(w.channelId, w.updates, w.channelState), "Completed")
        assert.strictEqual(yield* plain.persister.persist(w.channelId, w.updates, w.channelState), "Completed")
      }
      assert.deepStrictEqual(viaNow, viaPersist)
      assert.strictEqual(yield* now.control.attempts, yield* plain.control.attempts)
      // Out of order: nothing written, and `persist` then reports the error.
      assert.isUndefined(writeNow(A, logA.slice(6, 7), stateAt(1, 6n)))
      assert.deepStrictEqual(viaNow, viaPersist)
      assert.strictEqual((yield* Effect.flip(now.persister.persist(A, logA.slice(6, 7), stateAt(1, 6n))))._tag, "PersistOutOfOrder")
      // Not free (held): nothing written; `persist` holds it, and the next in order waits behind it.
      yield* now.control.setMode("hold")
      assert.isUndefined(writeNow(A, logA.slice(5, 6), stateAt(1, 5n)))
      assert.strictEqual(yield* now.persister.persist(A, logA.slice(5, 6), stateAt(1, 5n)), "InProgress")
      yield* now.control.setMode("immediate")
      assert.isUndefined(writeNow(A, logA.slice(6, 7), stateAt(1, 6n)))
      yield* now.control.releaseAll
      assert.strictEqual(writeNow(A, logA.slice(6, 7), stateAt(1, 6n)), "Completed")
      yield* now.control.crash
      assert.isUndefined(writeNow(A, logA.slice(7, 8), stateAt(1, 7n)))
    }))

  it.effect("a crash at any persistence point: the restarted node loads exactly what was durable", () =>
    Effect.gen(function*() {
      // persist 6 writes in hold mode, make the first `durable` of them durable (some silently:
      // their completions are lost), crash, restart.
      for (let durable = 0; durable <= 6; durable++) {
        const data = makeMemoryPersisterData()
        const { persister, control } = yield* makeMemoryPersister({ data, mode: "hold" })
        for (let i = 0; i < 6; i++) yield* persister.persist(A, logA.slice(i, i + 1), stateAt(1, BigInt(i)))
        yield* control.release(A, { count: durable, silent: durable % 2 === 1 })
        yield* control.crash
        assert.strictEqual((yield* Effect.flip(persister.persist(A, logA.slice(6, 7), stateAt(1, 6n))))._tag, "PersisterClosed")
        const { persister: restarted } = yield* makeMemoryPersister({ data, compactEvery: 0 })
        const loaded = yield* restarted.load
        if (durable === 0) assert.strictEqual(loaded.length, 0)
        else {
          assert.deepStrictEqual(loaded[0]?.updates, logA.slice(0, durable))
          assert.deepStrictEqual(loaded[0]?.channelState, stateAt(1, BigInt(durable - 1)))
          // the restarted channel goes on from there
          assert.strictEqual(yield* restarted.persist(A, logA.slice(durable, durable + 1), stateAt(1, BigInt(durable))), "Completed")
        }
      }
    }))

  it.effect("archive and remove", () =>
    Effect.gen(function*() {
      const data = makeMemoryPersisterData()
      const { persister, control } = yield* makeMemoryPersister({ data })
      yield* persister.persist(A, logA.slice(0, 2), stateAt(1, 1n))
      yield* persister.persist(B, logB.slice(0, 2), stateAt(2, 1n))
      yield* control.setMode("hold")
      yield* persister.persist(B, logB.slice(2, 3), stateAt(2, 2n))
      assert.strictEqual((yield* Effect.flip(persister.archive(B)))._tag, "PersistUnavailable")
      yield* control.releaseAll
      yield* persister.archive(A)
      yield* persister.remove(B)
      assert.strictEqual(data.channels.size, 0)
      assert.strictEqual(data.archived.size, 1)
      const { persister: restarted } = yield* makeMemoryPersister({ data })
      assert.strictEqual((yield* restarted.load).length, 0)
    }))
})
