/**
 * Model-based: random persists on a few channels over 3 state replicas (quorum 2) and a
 * watchtower, with replicas going down and up, time passing, and node restarts. Checked:
 * - every InProgress persist gets exactly one completion, in order per channel;
 * - a restart loads, per channel, a prefix of what was persisted that holds every completed write;
 * - once everything is up and time passes, every replica holds the same log per channel (the
 *   watchtower: the same updates), equal to the model.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub, Scope, Exit } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { makeReplicatedPersister } from "../../../src/layers/persister/ReplicatedPersister.ts"
import { makeStoreReplica } from "../../../src/layers/persister/StoreReplica.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import type { PersistCompletion } from "../../../src/services/MonitorPersister.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

const CHANNELS = [0, 1, 2].map((i) => ({ id: channelIdOf(500 + i), log: logOf(500 + i, 80) }))
const hex = (id: ChannelId) => Buffer.from(id).toString("hex")

type Command =
  | { readonly _tag: "Persist"; readonly channel: number; readonly count: number }
  | { readonly _tag: "Toggle"; readonly replica: number }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "Restart" }

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ _tag: fc.constant("Persist" as const), channel: fc.integer({ min: 0, max: 2 }), count: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ _tag: fc.constant("Toggle" as const), replica: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Advance" as const), millis: fc.integer({ min: 1, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "Restart" as const }) }
)

const scenario = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const datas: Array<MemoryStoreData> = [0, 1, 2, 3].map(() => makeMemoryStoreData())
    const down = [false, false, false, false]
    /** Per channel: updates persisted (submitted) and the count known durable (completed). */
    const submitted = CHANNELS.map(() => 0)
    const completedThrough = CHANNELS.map(() => -1)

    const start = Effect.gen(function*() {
      const stores = datas.map((d, i) => {
        const s = makeMemoryStore(d)
        return { ...s, replica: makeStoreReplica(s.store, { name: `r${i}`, keepsChannelState: i < 3 }) }
      })
      for (let i = 0; i < 4; i++) yield* stores[i]!.control.setDown(down[i] === true)
      const scope = yield* Scope.make()
      const persister = yield* makeReplicatedPersister({ replicas: stores.map((s) => s.replica), quorum: 2 }).pipe(Scope.provide(scope))
      const subscription = yield* persister.subscribe.pipe(Scope.provide(scope))
      return { stores, scope, persister, subscription }
    })

    let node = yield* start
    // restarts need every state replica to answer
    const drainCompletions = Effect.gen(function*() {
      const got: Array<PersistCompletion> = []
      for (;;) {
        const batch = yield* PubSub.takeAll(node.subscription).pipe(Effect.timeoutOption(0))
        if (batch._tag === "None") return got
        got.push(...batch.value)
      }
    })
    const pendingInProgress = CHANNELS.map(() => [] as Array<number>)
    const noteCompletions = Effect.gen(function*() {
      for (const c of yield* drainCompletions) {
        const ch = CHANNELS.findIndex((x) => hex(x.id) === hex(c.channelId))
        const expected = pendingInProgress[ch]?.shift()
        assert.strictEqual(Number(c.updateId), expected, `completion order on channel ${ch}`)
        completedThrough[ch] = Math.max(completedThrough[ch] ?? -1, Number(c.updateId))
      }
    })

    for (const cmd of commands) {
      switch (cmd._tag) {
        case "Persist": {
          const ch = CHANNELS[cmd.channel]!
          const from = submitted[cmd.channel]!
          const updates: ReadonlyArray<MonitorUpdate> = ch.log.slice(from, Math.min(from + cmd.count, ch.log.length))
          const status = yield* node.persister.persist(ch.id, updates, stateAt(cmd.channel, BigInt(from + updates.length - 1), from))
          submitted[cmd.channel] = from + updates.length
          const through = submitted[cmd.channel]! - 1
          if (status === "Completed") completedThrough[cmd.channel] = Math.max(completedThrough[cmd.channel]!, through)
          else pendingInProgress[cmd.channel]!.push(through)
          break
        }
        case "Toggle":
          down[cmd.replica] = !down[cmd.replica]
          yield* node.stores[cmd.replica]!.control.setDown(down[cmd.replica] === true)
          break
        case "Advance":
          yield* TestClock.adjust(cmd.millis)
          break
        case "Restart": {
          yield* noteCompletions
          yield* Scope.close(node.scope, Exit.void)
          for (let i = 0; i < 3; i++) down[i] = false
          node = yield* start
          const loaded = yield* node.persister.load
          for (let c = 0; c < CHANNELS.length; c++) {
            const l = loaded.find((x) => hex(x.channelId) === hex(CHANNELS[c]!.id))
            const n = l === undefined ? 0 : l.updates.length
            assert.isAtLeast(n, completedThrough[c]! + 1, `channel ${c} lost completed updates`)
            assert.isAtMost(n, submitted[c]!, `channel ${c} has updates never persisted`)
            if (l !== undefined) assert.deepStrictEqual(l.updates, CHANNELS[c]!.log.slice(0, n))
            submitted[c] = n
            completedThrough[c] = n - 1
            pendingInProgress[c] = []
          }
          break
        }
      }
      yield* noteCompletions
    }
    // everything up, time passes: all converge
    for (let i = 0; i < 4; i++) {
      down[i] = false
      yield* node.stores[i]!.control.setDown(false)
    }
    for (let i = 0; i < 5; i++) yield* TestClock.adjust("5 seconds")
    yield* noteCompletions
    for (let c = 0; c < CHANNELS.length; c++) {
      assert.deepStrictEqual(pendingInProgress[c], [], `channel ${c}: completions missing`)
      assert.strictEqual(completedThrough[c], submitted[c]! - 1)
    }
    const logs = (i: number) =>
      Effect.map(node.stores[i]!.store.list("monitor/"), (es) => es.filter((e) => e.key.includes("/u/")).map((e) => [e.key, Buffer.from(e.value).toString("hex")]))
    const reference = yield* logs(0)
    assert.strictEqual(reference.length, submitted.reduce((a, b) => a + b, 0))
    for (let i = 1; i < 4; i++) assert.deepStrictEqual(yield* logs(i), reference, `replica ${i}`)
    yield* Scope.close(node.scope, Exit.void)
  })

describe("replicated persister: model-based", () => {
  it.effect("random persists, outages, time and restarts", () =>
    Effect.gen(function*() {
      const runs = fc.sample(fc.array(commandArb, { minLength: 10, maxLength: 40 }), { numRuns: 40, seed: 7 })
      for (const commands of runs) yield* scenario(commands)
    }))
})
