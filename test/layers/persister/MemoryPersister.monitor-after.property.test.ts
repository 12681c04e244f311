/**
 * The memory persister's compaction with the writer's monitor state (`WriteNow`'s `monitorAfter`,
 * the state after the write's updates, as the channel manager's monitor computes it) against the
 * plain compaction (folding the log): for any log cut into writes and any `compactEvery`, the store
 * holds the same snapshot and the same updates after every write; the snapshot taken is the
 * monitor's own state object when it is at the log's end, and a state at any other id (a monitor
 * that refused an update, or a stale one) is not taken: the log is folded as without it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { makeMonitorSync } from "../../../src/actors/Monitor.ts"
import { makeMemoryPersister, makeMemoryPersisterData } from "../../../src/layers/persister/MemoryPersister.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import { writeNowOf } from "../../../src/services/MonitorPersister.ts"
import { arbitraryLog, secp } from "../../protocol/monitor/fixtures.ts"
import { channelIdOf, stateAt } from "./fixtures.ts"

const A = channelIdOf(1)

const cutsArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 30 })

const writesOf = (log: ReadonlyArray<MonitorUpdate>, cuts: ReadonlyArray<number>): Array<ReadonlyArray<MonitorUpdate>> => {
  const writes: Array<ReadonlyArray<MonitorUpdate>> = []
  let at = 0
  for (const take of cuts) {
    if (at >= log.length) break
    writes.push(log.slice(at, at + take))
    at += take
  }
  return writes
}

describe("MemoryPersister compaction with the writer's monitor state", () => {
  it("stores what folding the log stores; takes the monitor's state only at the log's end", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryLog(40), cutsArb, fc.integer({ min: 1, max: 8 }), fc.constantFrom("right", "stale", "none"), (log, cuts, every, given) =>
        Effect.runPromise(
          Effect.scoped(
            Effect.gen(function*() {
              const plainData = makeMemoryPersisterData()
              const givenData = makeMemoryPersisterData()
              const plain = writeNowOf((yield* makeMemoryPersister({ data: plainData, compactEvery: every })).persister)
              const withMonitor = writeNowOf((yield* makeMemoryPersister({ data: givenData, compactEvery: every })).persister)
              if (plain === undefined || withMonitor === undefined) return assert.fail("the memory persister writes at once")
              const monitor = makeMonitorSync({ name: "monitor", secp })
              for (const [k, w] of writesOf(log, cuts).entries()) {
                const state = stateAt(1, BigInt(k))
                const due = ([...plainData.channels.values()][0]?.updates.length ?? 0) + w.length >= every
                assert.strictEqual(plain(A, w, state), "Completed")
                const before = monitor.preview([]).state
                const preview = monitor.preview(w)
                let asked = false
                const monitorAfter = () => {
                  asked = true
                  return given === "right" ? preview.state : given === "stale" ? before : undefined
                }
                assert.strictEqual(withMonitor(A, w, state, monitorAfter), "Completed")
                monitor.commit(preview)
                const p = [...plainData.channels.values()][0]
                const g = [...givenData.channels.values()][0]
                assert.deepStrictEqual(g?.updates, p?.updates)
                assert.deepStrictEqual(g?.monitor, p?.monitor)
                // Asked only when compacting; the right state taken as it is (the very object).
                assert.strictEqual(asked, due)
                if (due && given === "right") assert.strictEqual(g?.monitor, preview.state)
              }
            })
          )
        )
      ),
      { numRuns: 120, seed: 11 }
    )
  })
})
