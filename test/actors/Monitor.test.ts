/** The Monitor: fed only by updates, refuses what does not apply, serves and restores its state. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { makeMonitor } from "../../src/actors/Monitor.ts"
import { replay } from "../../src/protocol/monitor/apply.ts"
import { LogBuilder, secp } from "../protocol/monitor/fixtures.ts"

describe("Monitor actor", () => {
  it.effect("applies updates in order and serves the state a replay of the same log gives", () =>
    Effect.gen(function*() {
      const b = new LogBuilder()
      b.signCounterparty()
      b.revoke()
      b.holder()
      b.preimage(1)
      const monitor = yield* makeMonitor({ name: "monitor", secp })
      assert.isUndefined(yield* monitor.state)
      for (const u of b.log) assert.isUndefined(monitor.applyNow(u))
      const expected = replay(secp, b.log)
      assert.isTrue(Result.isSuccess(expected))
      if (Result.isSuccess(expected)) assert.deepStrictEqual(yield* monitor.state, expected.success)
    }))

  it.effect("refuses an update out of order or before Opened, state unchanged", () =>
    Effect.gen(function*() {
      const b = new LogBuilder()
      const holder = b.holder()
      const monitor = yield* makeMonitor({ name: "monitor", secp })
      assert.strictEqual(monitor.applyNow(holder)?._tag, "MonitorNotOpened")
      const opened = b.log[0]
      if (opened === undefined) return
      assert.isUndefined(monitor.applyNow(opened))
      const before = yield* monitor.state
      assert.strictEqual(monitor.applyNow({ ...holder, updateId: 5n })?._tag, "MonitorUpdateOutOfOrder")
      assert.deepStrictEqual(yield* monitor.state, before)
      // A refusal leaves the monitor usable: the next update in order applies.
      assert.isDefined(monitor.applyNow({ ...holder, updateId: 7n }))
      assert.isUndefined(monitor.applyNow(holder))
      assert.strictEqual((yield* monitor.state)?.latestUpdateId, 1n)
    }))

  it.effect("starts from a restored state and continues the log", () =>
    Effect.gen(function*() {
      const b = new LogBuilder()
      b.signCounterparty()
      const restored = replay(secp, b.log)
      if (Result.isFailure(restored)) return assert.fail("fixture log must replay")
      const monitor = yield* makeMonitor({ name: "monitor", secp, state: restored.success })
      assert.isUndefined(monitor.applyNow(b.revoke()))
      assert.strictEqual((yield* monitor.state)?.latestUpdateId, 2n)
    }))
})
