/**
 * Channel scenarios over the many-node harness (test/sim/channels/Harness.ts): our nodes, in
 * one process, on deterministic layers, the network driven message by message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import { LightningMessages } from "../../../src/protocol/messages/index.ts"
import type { ChannelState } from "../../../src/protocol/channel/state.ts"
import { type Backend, type CrashPoint, Harness, agreement } from "./Harness.ts"

/** Backends to run (`SIM_BACKENDS=sim` or `manager` for one): H's ChannelManager, or the harness's own routing. */
const backends: ReadonlyArray<Backend> = (process.env["SIM_BACKENDS"] ?? "manager,sim").split(",").filter((b): b is Backend => b === "manager" || b === "sim")

const FUNDING = 1_000_000n
const PUSH = 300_000_000n
const PAYMENT = 10_000_000n

/** The HTLCs of a state's current commitment, as comparable strings. */
const htlcsOf = (s: ChannelState | undefined): ReadonlyArray<string> =>
  s?._tag === "Normal" ? s.commitments.localCommit.spec.htlcs.map((x) => `${x.direction}/${x.id}/${x.amount}`) : []

const toLocal = (s: ChannelState | undefined): bigint => (s?._tag === "Normal" ? s.commitments.localCommit.spec.toLocal : -1n)

const must = <A>(r: Result.Result<A, string>, h: Harness): A => {
  if (Result.isFailure(r)) throw new Error(`${r.failure}\n${h.log.slice(-30).join("\n")}`)
  return r.success
}

/** Both sides agree, their monitors agree with them, nothing was sent ahead of the store. */
const assertConsistent = (h: Harness, a: number, b: number, id: Uint8Array) =>
  Effect.gen(function*() {
    const sa = yield* h.state(a, id)
    const sb = yield* h.state(b, id)
    assert.strictEqual(sa?._tag, "Normal", `node ${a}: ${sa?._tag}\n${h.log.slice(-30).join("\n")}`)
    assert.strictEqual(sb?._tag, "Normal", `node ${b}: ${sb?._tag}\n${h.log.slice(-30).join("\n")}`)
    if (sa === undefined || sb === undefined) return
    assert.deepStrictEqual(agreement(sa, sb), [])
    // The txid comparison has its own test (a known bug would hide everything else here).
    assert.deepStrictEqual(yield* h.monitorAgreement(a, b, id), [])
    assert.deepStrictEqual(yield* h.monitorAgreement(b, a, id), [])
    assert.deepStrictEqual(h.violations, [])
  })

const scenarios = (backend: Backend) => describe(`channel harness scenarios (${backend} backend)`, () => {
  const withHarness = <A>(nodes: number, seed: string, f: (h: Harness) => Effect.Effect<A>) =>
    Effect.acquireUseRelease(Harness.make({ seed, nodes, backend }), f, (h) => h.shutdown)

  it.effect("open + ready: a funded channel reaches Normal on both sides and they agree", () =>
    withHarness(2, "open-ready", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
        const a = yield* h.state(0, id)
        const b = yield* h.state(1, id)
        assert.strictEqual(a?._tag, "Normal", h.log.slice(-20).join("\n"))
        assert.strictEqual(b?._tag, "Normal")
        if (a === undefined || b === undefined) return
        assert.deepStrictEqual(agreement(a, b), [])
        assert.deepStrictEqual(h.violations, [])
        assert.strictEqual(h.eventsOf(0, "ChannelReady").length, 1)
        assert.strictEqual(h.eventsOf(1, "ChannelReady").length, 1)
        assert.strictEqual(toLocal(b), PUSH)
        // The funding went out only after Opened was stored (checked by the harness), once.
        assert.strictEqual(h.chain[0]!.filter((r) => r._tag === "Broadcast" && r.label === "funding").length, 1)
      })
    ))

  it.effect("same seed, same run: two runs of a payment scenario put the same bytes on the wire", () =>
    Effect.gen(function*() {
      const once = withHarness(2, "determinism", (h) =>
        Effect.gen(function*() {
          yield* h.connect(0, 1)
          const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
          const x = must(yield* h.addHtlc(0, id, 10_000_000n, 1), h)
          yield* h.addHtlc(1, id, 2_000_000n, 2)
          yield* h.reconnect(0, 1)
          yield* h.quiesce()
          must(yield* h.fulfillHtlc(1, id, x, 1), h)
          yield* h.quiesce()
          return h.wire.map((w) => {
            const bytes = LightningMessages.encode(w.message)
            return `${w.from}->${w.to} ${Result.isSuccess(bytes) ? toHex(bytes.success) : w.message._tag}`
          })
        })
      )
      const first = yield* once
      const second = yield* once
      assert.isAbove(first.length, 20)
      assert.deepStrictEqual(second, first)
    }))

  it.effect("the monitor's counterparty commitment txid is the peer's commitment txid (open)", () =>
    withHarness(2, "monitor-txid-open", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
        assert.deepStrictEqual(yield* h.monitorAgreement(0, 1, id), [])
        assert.deepStrictEqual(yield* h.monitorAgreement(1, 0, id), [])
      })
    ))

  it.effect("the monitor's counterparty commitment txid is the peer's commitment txid (after commitment_signed)", () =>
    withHarness(2, "monitor-txid-commit", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
        must(yield* h.addHtlc(0, id, 10_000_000n, 1), h)
        yield* h.quiesce()
        assert.deepStrictEqual(yield* h.monitorAgreement(0, 1, id), [])
        assert.deepStrictEqual(yield* h.monitorAgreement(1, 0, id), [])
      })
    ))

  it.effect("two nodes: HTLCs added, fulfilled and failed in both directions keep both sides in agreement", () =>
    withHarness(2, "two-node-htlcs", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
        const start0 = toLocal(yield* h.state(0, id))
        // 0 pays 1 (fulfilled)
        const h1 = must(yield* h.addHtlc(0, id, 10_000_000n, 1), h)
        yield* h.quiesce()
        assert.deepStrictEqual(htlcsOf(yield* h.state(0, id)), [`offered/${h1}/10000000`])
        assert.deepStrictEqual(htlcsOf(yield* h.state(1, id)), [`received/${h1}/10000000`])
        assert.strictEqual(h.eventsOf(1, "HtlcReceived").length, 1)
        must(yield* h.fulfillHtlc(1, id, h1, 1), h)
        yield* h.quiesce()
        assert.deepStrictEqual(h.eventsOf(0, "HtlcResolved").map((e) => e.result._tag), ["Fulfilled"])
        yield* assertConsistent(h, 0, 1, id)
        // 1 pays 0 (failed)
        const h2 = must(yield* h.addHtlc(1, id, 20_000_000n, 2), h)
        yield* h.quiesce()
        must(yield* h.failHtlc(0, id, h2), h)
        yield* h.quiesce()
        assert.deepStrictEqual(h.eventsOf(1, "HtlcResolved").map((e) => e.result._tag), ["Failed"])
        // 0 pays 1 (failed), 1 pays 0 (fulfilled), at the same time
        const h3 = must(yield* h.addHtlc(0, id, 7_000_000n, 3), h)
        const h4 = must(yield* h.addHtlc(1, id, 5_000_000n, 4), h)
        yield* h.quiesce()
        assert.strictEqual(htlcsOf(yield* h.state(0, id)).length, 2)
        must(yield* h.failHtlc(1, id, h3), h)
        must(yield* h.fulfillHtlc(0, id, h4, 4), h)
        yield* h.quiesce()
        yield* assertConsistent(h, 0, 1, id)
        assert.deepStrictEqual(htlcsOf(yield* h.state(0, id)), [])
        assert.strictEqual(toLocal(yield* h.state(0, id)), start0 - 10_000_000n + 5_000_000n)
        assert.deepStrictEqual(h.eventsOf(0, "ChannelClosed"), [])
        assert.deepStrictEqual(h.eventsOf(1, "ChannelClosed"), [])
      })
    ))

  it.effect("a 3-node line: each channel moves independently, and one link down leaves the other working", () =>
    withHarness(3, "three-node-line", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        yield* h.connect(1, 2)
        const a = yield* h.openToNormal(0, 1, { fundingSat: FUNDING })
        const b = yield* h.openToNormal(1, 2, { fundingSat: FUNDING })
        assert.isFalse(equalBytes(a, b))
        const ha = must(yield* h.addHtlc(0, a, 11_000_000n, 1), h)
        const hb = must(yield* h.addHtlc(1, b, 22_000_000n, 2), h)
        yield* h.quiesce()
        assert.deepStrictEqual(htlcsOf(yield* h.state(1, a)), [`received/${ha}/11000000`])
        assert.deepStrictEqual(htlcsOf(yield* h.state(1, b)), [`offered/${hb}/22000000`])
        yield* h.disconnect(1, 2)
        must(yield* h.fulfillHtlc(1, a, ha, 1), h)
        yield* h.quiesce()
        yield* assertConsistent(h, 0, 1, a)
        assert.deepStrictEqual(htlcsOf(yield* h.state(0, a)), [])
        // b kept its HTLC through the disconnection; reconnect and settle it.
        yield* h.connect(1, 2)
        yield* h.quiesce()
        must(yield* h.failHtlc(2, b, hb), h)
        yield* h.quiesce()
        yield* assertConsistent(h, 1, 2, b)
        assert.deepStrictEqual(htlcsOf(yield* h.state(2, b)), [])
        assert.strictEqual(toLocal(yield* h.state(0, a)), FUNDING * 1000n - 11_000_000n)
        assert.strictEqual(toLocal(yield* h.state(1, b)), FUNDING * 1000n)
      })
    ))

  /**
   * One payment 0 -> 1 driven one message at a time (oldest first); the receiver fulfills as soon
   * as it hears of the HTLC. `onDelivery(k)` runs after the k-th delivery.
   */
  const payStepwise = (h: Harness, id: Uint8Array, n: number, amount: bigint, onDelivery: (k: number) => Effect.Effect<void>) =>
    Effect.gen(function*() {
      must(yield* h.addHtlc(0, id, amount, n), h)
      let k = 0
      let fulfilled = false
      for (let guard = 0; guard < 500; guard++) {
        if (yield* h.deliverNext()) {
          k += 1
          yield* onDelivery(k)
          continue
        }
        const received = h.eventsOf(1, "HtlcReceived").find((e) => e.amount === amount)
        if (received !== undefined && !fulfilled) {
          fulfilled = true
          must(yield* h.fulfillHtlc(1, id, received.htlcId, n), h)
          continue
        }
        return k
      }
      throw new Error("payment did not finish")
    })

  it.effect("disconnect at every message of the commitment dance, then reconnect: both agree, no HTLC lost or duplicated", () =>
    Effect.gen(function*() {
      // A dry run counts the deliveries of one payment.
      const total = yield* withHarness(2, "dance", (h) =>
        Effect.gen(function*() {
          yield* h.connect(0, 1)
          const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING })
          return yield* payStepwise(h, id, 1, 10_000_000n, () => Effect.void)
        })
      )
      assert.isAtLeast(total, 10)
      for (let cut = 1; cut <= total; cut++) {
        yield* withHarness(2, "dance", (h) =>
          Effect.gen(function*() {
            yield* h.connect(0, 1)
            const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING })
            const start0 = toLocal(yield* h.state(0, id))
            yield* payStepwise(h, id, 1, 10_000_000n, (k) => (k === cut ? h.reconnect(0, 1) : Effect.void))
            yield* h.quiesce()
            const context = `cut after delivery ${cut}: ${h.log.slice(-25).join("\n")}`
            yield* assertConsistent(h, 0, 1, id)
            assert.deepStrictEqual(htlcsOf(yield* h.state(0, id)), [], context)
            assert.strictEqual(h.eventsOf(1, "HtlcReceived").length, 1, context)
            assert.deepStrictEqual(h.eventsOf(0, "HtlcResolved").map((e) => e.result._tag), ["Fulfilled"], context)
            assert.strictEqual(toLocal(yield* h.state(0, id)), start0 - 10_000_000n, context)
          })
        )
      }
    }), 120_000)

  it.effect("late and out-of-order persistence completion holds the sends that depend on it", () =>
    withHarness(2, "late-persist", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING, pushMsat: PUSH })
        yield* h.setPersistence(0, "InProgress")
        yield* h.setPersistence(1, "InProgress")
        const wireBefore = h.wire.length
        const h1 = must(yield* h.addHtlc(0, id, 10_000_000n, 1), h)
        const h2 = must(yield* h.addHtlc(1, id, 3_000_000n, 2), h)
        yield* h.quiesce()
        const sent = h.wire.slice(wireBefore).map((w) => `${w.from}:${w.message._tag}`)
        // Adds go out (nothing to store for them); no commitment_signed before its counterparty commitment is stored.
        assert.includeMembers(sent, ["0:UpdateAddHtlc", "1:UpdateAddHtlc"])
        assert.notInclude(sent, "0:CommitmentSigned")
        assert.notInclude(sent, "1:CommitmentSigned")
        assert.isAbove(yield* h.pendingWrites(0), 0)
        // Complete in reverse order, a step at a time, delivering in between.
        for (let round = 0; round < 50 && ((yield* h.pendingWrites(0)) > 0 || (yield* h.pendingWrites(1)) > 0); round++) {
          yield* h.completeWrites(0, "reverse")
          yield* h.quiesce()
          yield* h.completeWrites(1, "reverse")
          yield* h.quiesce()
        }
        assert.deepStrictEqual(h.violations, [])
        must(yield* h.fulfillHtlc(1, id, h1, 1), h)
        must(yield* h.failHtlc(0, id, h2), h)
        yield* h.quiesce()
        const fulfills = h.wire.filter((w) => w.message._tag === "UpdateFulfillHtlc").length
        assert.strictEqual(fulfills, 0, "update_fulfill_htlc must wait for its preimage to be stored")
        yield* h.quiesce({ completeWrites: true })
        yield* assertConsistent(h, 0, 1, id)
        assert.deepStrictEqual(htlcsOf(yield* h.state(0, id)), [])
      })
    ))

  /**
   * One payment 0 -> 1 through `quiesce`, finished after a crash the way a payment layer would
   * (fulfill again what is still pending, add again what was forgotten): returns when nothing is
   * pending. "Paid" is read from the balances, not from events.
   */
  const payThroughCrash = (h: Harness, id: Uint8Array, crashed: number, start0: bigint) =>
    Effect.gen(function*() {
      // The add may be refused if node 0 dies while handling it: the loop below adds it again.
      yield* h.addHtlc(0, id, PAYMENT, 1)
      for (let round = 0; round < 20; round++) {
        yield* h.quiesce()
        if (h.hasCrashed(crashed)) {
          yield* h.restart(crashed)
          yield* h.connect(0, 1)
          yield* h.quiesce()
        }
        const s0 = yield* h.state(0, id)
        const s1 = yield* h.state(1, id)
        if (s0?._tag !== "Normal" || s1?._tag !== "Normal") return
        if (htlcsOf(s0).length === 0 && htlcsOf(s1).length === 0) {
          if (toLocal(s0) !== start0) return
          // Forgotten by a crash before it was committed: the payment layer adds it again.
          yield* h.addHtlc(0, id, PAYMENT, 1)
          continue
        }
        // The receiver's HTLCs as its channel state lists them (not from events: the events test checks those).
        for (const x of s1.commitments.localCommit.spec.htlcs) if (x.direction === "received") yield* h.fulfillHtlc(1, id, x.id, 1)
      }
    })

  interface CrashOutcome {
    readonly label: string
    readonly funds: ReadonlyArray<string>
    readonly events: ReadonlyArray<string>
  }
  let crashOutcomes: ReadonlyArray<CrashOutcome> | undefined

  /** Every crash point (each node, each persist of one payment, before and after the write), run once and cached. */
  const crashSweep = Effect.gen(function*() {
    if (crashOutcomes !== undefined) return crashOutcomes
    // Dry run: how many persists each node makes during the payment.
    const calls = yield* withHarness(2, "crash", (h) =>
      Effect.gen(function*() {
        yield* h.connect(0, 1)
        const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING })
        const start0 = toLocal(yield* h.state(0, id))
        h.persistCalls[0] = 0
        h.persistCalls[1] = 0
        yield* payThroughCrash(h, id, 0, start0)
        return [h.persistCalls[0]!, h.persistCalls[1]!] as const
      })
    )
    const outcomes: Array<CrashOutcome> = []
    for (const node of [0, 1] as const)
      for (let k = 1; k <= calls[node]; k++)
        for (const when of ["before", "after"] as const) {
          const point: CrashPoint = { persistCall: k, when }
          outcomes.push(
            yield* withHarness(2, "crash", (h) =>
              Effect.gen(function*() {
                yield* h.connect(0, 1)
                const id = yield* h.openToNormal(0, 1, { fundingSat: FUNDING })
                const start0 = toLocal(yield* h.state(0, id))
                h.armCrash(node, point)
                yield* payThroughCrash(h, id, node, start0)
                yield* h.quiesce({ completeWrites: true })
                const label = `node ${node} crash at persist ${k} ${when} (${h.log.find((l) => l.startsWith(`node ${node}: crashed`)) ?? "no crash"})`
                const funds: Array<string> = []
                if (!h.log.some((l) => l.startsWith(`node ${node}: crashed`))) funds.push("no crash happened")
                funds.push(...h.violations.map((v) => `node ${v.node} sent ${v.message} ahead of its store: ${v.detail}`))
                const s0 = yield* h.state(0, id)
                const s1 = yield* h.state(1, id)
                if (s0 === undefined || s1 === undefined) funds.push("a channel is missing")
                else {
                  funds.push(...agreement(s0, s1))
                  if (htlcsOf(s0).length > 0) funds.push(`HTLCs still pending: ${htlcsOf(s0).join(",")}`)
                  if (toLocal(s0) !== start0 - PAYMENT) funds.push(`node 0 balance ${toLocal(s0)}, expected ${start0 - PAYMENT} (paid once)`)
                  funds.push(...(yield* h.monitorAgreement(0, 1, id)), ...(yield* h.monitorAgreement(1, 0, id)))
                }
                const events: Array<string> = []
                // At least once (a restart re-reports what the stored state says is pending), and
                // always about the same HTLC: consumers deduplicate by (channel id, HTLC id).
                const resolved = h.eventsOf(0, "HtlcResolved").filter((e) => e.result._tag === "Fulfilled")
                const resolvedIds = new Set(resolved.map((e) => e.htlcId))
                if (resolved.length < 1 || resolvedIds.size !== 1) {
                  events.push(`node 0 reported ${resolved.length} HtlcResolved(Fulfilled) about ${resolvedIds.size} HTLCs for one fulfilled HTLC`)
                }
                const received = h.eventsOf(1, "HtlcReceived")
                const receivedIds = new Set(received.map((e) => e.htlcId))
                if (received.length < 1 || receivedIds.size !== 1) {
                  events.push(`node 1 reported ${received.length} HtlcReceived about ${receivedIds.size} HTLCs for one HTLC`)
                }
                return { label, funds, events }
              })
            )
          )
        }
    crashOutcomes = outcomes
    return outcomes
  })

  it.effect("crash and restart at every persistence point of one payment loses no funds (monitor never behind the wire)", () =>
    Effect.gen(function*() {
      const outcomes = yield* crashSweep
      assert.isAtLeast(outcomes.length, 12)
      const bad = outcomes.filter((o) => o.funds.length > 0).map((o) => `${o.label}: ${o.funds.join("; ")}`)
      assert.deepStrictEqual(bad, [])
    }), 300_000)

  it.effect("crash and restart at every persistence point of one payment: every HTLC event (HtlcReceived, HtlcResolved) is reported at least once, about the same HTLC", () =>
    Effect.gen(function*() {
      const outcomes = yield* crashSweep
      const bad = outcomes.filter((o) => o.events.length > 0).map((o) => `${o.label}: ${o.events.join("; ")}`)
      assert.deepStrictEqual(bad, [])
    }), 300_000)
})

for (const backend of backends) scenarios(backend)
