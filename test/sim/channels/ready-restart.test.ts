/**
 * A restart between `channel_ready` and the first HTLC (found by the simulator).
 *
 * The step WaitChannelReady -> Normal (both `channel_ready`s, BOLT 2 "The channel_ready
 * Message") produces no monitor update. The channel state used to be written only with monitor
 * updates, so a node restarted before any HTLC came back in `WaitChannelReady` without
 * `localReadySent`; its peer, in `Normal` and holding our `channel_ready`, may send
 * `update_add_htlc` right after `channel_reestablish`, before the chain source reports the
 * funding depth again, and the channel force-closed on it. The `Channel` actor now writes the
 * state alone on such a transition, before anything that follows it leaves.
 *
 * Manager backend (the `ChannelManager` over the in-memory persister): the "sim" backend's
 * persist port takes one update per call and has no `persistMany`, so it cannot write a state
 * alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { Harness, agreement, key } from "./Harness.ts"

const FUNDING = 1_000_000n
const PUSH = 300_000_000n
const PAYMENT = 10_000_000n

const must = <A>(r: Result.Result<A, string>, h: Harness): A => {
  if (Result.isFailure(r)) throw new Error(`${r.failure}\n${h.log.slice(-30).join("\n")}`)
  return r.success
}

const toLocal = (s: ChannelState | undefined): bigint => (s?._tag === "Normal" ? s.commitments.localCommit.spec.toLocal : -1n)
const htlcCount = (s: ChannelState | undefined): number => (s?._tag === "Normal" ? s.commitments.localCommit.spec.htlcs.length : -1)

const withHarness = <A>(seed: string, f: (h: Harness) => Effect.Effect<A>) =>
  Effect.acquireUseRelease(Harness.make({ seed, nodes: 2, backend: "manager" }), f, (h) => h.shutdown)

/**
 * Opens 0 -> 1 to Normal, restarts `restarted` with the chain source silent (no funding depth
 * reported again), reconnects, and has the other node pay `PAYMENT` to it at once; the
 * restarted node settles the HTLC.
 */
const scenario = (seed: string, restarted: 0 | 1) =>
  withHarness(seed, (h) =>
    Effect.gen(function*() {
      const payer = restarted === 0 ? 1 : 0
      yield* h.connect(0, 1)
      const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
      assert.strictEqual((yield* h.state(restarted, id))?._tag, "Normal", h.log.slice(-20).join("\n"))
      // The chain source of the restarted node says nothing about the funding (not yet re-scanned).
      h.depths.delete(key(id))
      yield* h.restart(restarted)
      // What the store gave back: Normal (the transition was stored although it had no monitor update).
      assert.strictEqual((yield* h.state(restarted, id))?._tag, "Normal", h.log.slice(-20).join("\n"))
      yield* h.connect(0, 1)
      yield* h.quiesce()
      const payerBefore = toLocal(yield* h.state(payer, id))
      const htlc = must(yield* h.addHtlc(payer, id, PAYMENT, 1), h)
      yield* h.quiesce()
      const mine = yield* h.state(restarted, id)
      assert.strictEqual(mine?._tag, "Normal", h.log.slice(-30).join("\n"))
      assert.strictEqual(htlcCount(mine), 1)
      must(yield* h.fulfillHtlc(restarted, id, htlc, 1), h)
      yield* h.quiesce()
      const a = yield* h.state(0, id)
      const b = yield* h.state(1, id)
      if (a === undefined || b === undefined) return assert.fail("a channel is missing")
      assert.deepStrictEqual(agreement(a, b), [])
      assert.strictEqual(toLocal(yield* h.state(payer, id)), payerBefore - PAYMENT)
      assert.strictEqual(htlcCount(a), 0)
      assert.strictEqual(htlcCount(b), 0)
      assert.deepStrictEqual(h.eventsOf(0, "ChannelClosed"), [])
      assert.deepStrictEqual(h.eventsOf(1, "ChannelClosed"), [])
      assert.deepStrictEqual(h.violations, [])
      assert.deepStrictEqual(yield* h.monitorAgreement(0, 1, id), [])
      assert.deepStrictEqual(yield* h.monitorAgreement(1, 0, id), [])
    })
  )

describe("restart after channel_ready, before the first HTLC (manager backend)", () => {
  it.effect("the acceptor, restarted without a depth report, accepts the funder's first HTLC and settles it", () => scenario("ready-restart-acceptor", 1))

  it.effect("the funder, restarted without a depth report, accepts the acceptor's first HTLC and settles it", () => scenario("ready-restart-funder", 0))
})
