/**
 * The Channel actor's state-only writes (grouped persistence): a step that changes what a
 * restart must find (a phase change, `channel_ready` sent or received: BOLT 2 "The
 * channel_ready Message") without a monitor update writes the state alone, and what that step
 * and later ones send waits until it is durable. With a toy core shaped like the channel states
 * (`_tag`, `localReadySent`, `remoteReady`); the end-to-end case (a restart between
 * `channel_ready` and the first HTLC) is test/sim/channels/ready-restart.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { type ChannelCore, type ChannelPorts, channelMilestone, makeChannel } from "../../src/actors/Channel.ts"
import { SessionId } from "../../src/actors/PeerEvent.ts"
import { NothingToSign } from "../../src/protocol/channel/errors.ts"
import type { ChannelEvent, ChannelOutput } from "../../src/protocol/channel/io.ts"
import { ChannelIdSchema } from "../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { UpdateFee } from "../../src/protocol/messages/channel.ts"
import type { LightningMessage } from "../../src/protocol/messages/index.ts"
import type { MonitorUpdate } from "../../src/protocol/monitor/update.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { channelKeyId, type ChannelKeyId } from "../../src/services/ChannelSigner.ts"
import type { PersistStatus } from "../../src/services/MonitorPersister.ts"

const channelId = Schema.decodeSync(ChannelIdSchema)("22".repeat(32))
const keyIdOrUndefined = channelKeyId(new Uint8Array(32).fill(9))
if (keyIdOrUndefined === undefined) throw new Error("unreachable")
const keyId: ChannelKeyId = keyIdOrUndefined
const signer = makeSeedChannelSigner(new Uint8Array(32).fill(4), nobleSecp256k1)
const session = SessionId(1)

/** The toy channel, shaped like `WaitChannelReady` -> `Normal`. */
interface Toy {
  readonly _tag: "WaitChannelReady" | "Normal"
  readonly nextUpdateId: bigint
  readonly localReadySent: boolean
  readonly remoteReady?: true
  readonly log: ReadonlyArray<string>
}

/** Marker feerates: the toy's `channel_ready` goes out as an `update_fee` with this feerate. */
const READY = 1

const send = (feeratePerKw: number): ChannelOutput => ({ _tag: "Send", message: UpdateFee.make({ channelId, feeratePerKw }) })

/**
 * `FundingDepth` sends our ready (`localReadySent`), `PeerWarning "ready"` is theirs
 * (`remoteReady`); with both: `Normal` (emits `ChannelReady`). `UpdateFee` persists one update
 * then sends; any other `PeerWarning` only logs (no milestone).
 */
const toyCore: ChannelCore<Toy> = {
  channelId: () => channelId,
  keyId: () => keyId,
  hasPendingChanges: () => false,
  feedCompletions: false,
  step: (s, input) => {
    const log = [...s.log, input._tag]
    const readyOrNormal = (next: Toy, outputs: Array<ChannelOutput>) => {
      if (next.localReadySent && next.remoteReady === true && next._tag === "WaitChannelReady") {
        outputs.push({ _tag: "Emit", event: { _tag: "ChannelReady", channelId } })
        return Result.succeed({ state: { ...next, _tag: "Normal" as const }, outputs })
      }
      return Result.succeed({ state: next, outputs })
    }
    switch (input._tag) {
      case "FundingDepth":
        return s.localReadySent ? Result.succeed({ state: { ...s, log }, outputs: [] }) : readyOrNormal({ ...s, log, localReadySent: true }, [send(READY)])
      case "PeerWarning":
        return input.message === "ready" ? readyOrNormal({ ...s, log, remoteReady: true }, []) : Result.succeed({ state: { ...s, log }, outputs: [] })
      case "UpdateFee": {
        const update: MonitorUpdate = { _tag: "PaymentPreimage", updateId: s.nextUpdateId, preimage: new Uint8Array(32).fill(1) }
        return Result.succeed({
          state: { ...s, log, nextUpdateId: s.nextUpdateId + 1n },
          outputs: [{ _tag: "Persist", update }, send(input.feeratePerKw)]
        })
      }
      case "PeerConnected":
      case "PersistCompleted":
        return Result.succeed({ state: { ...s, log }, outputs: [] })
      default:
        return Result.fail(new NothingToSign())
    }
  }
}

/** Funded (update 0, `Opened`, is stored), waiting for the depth and their ready. */
const waiting: Toy = { _tag: "WaitChannelReady", nextUpdateId: 1n, localReadySent: false, log: [] }

/** Ports with `persistMany` recording each call; `status` decides each answer. */
const groupedPorts = (status: (updates: ReadonlyArray<MonitorUpdate>) => PersistStatus) => {
  const sent: Array<LightningMessage> = []
  const events: Array<ChannelEvent> = []
  const calls: Array<{ readonly ids: ReadonlyArray<bigint>; readonly state: Toy }> = []
  const single: Array<bigint> = []
  const ports: ChannelPorts<Toy> = {
    persist: (update) => Effect.sync(() => (single.push(update.updateId), "Completed" as const)),
    persistMany: (updates, state) =>
      Effect.sync(() => {
        calls.push({ ids: updates.map((u) => u.updateId), state })
        return status(updates)
      }),
    send: (_session, message) => Effect.sync(() => void sent.push(message)),
    emit: (event) => Effect.sync(() => void events.push(event)),
    chain: () => Effect.void,
    rekey: () => Effect.void
  }
  return { ports, sent, events, calls, single }
}

const fees = (sent: ReadonlyArray<LightningMessage>) => sent.flatMap((m) => (m._tag === "UpdateFee" ? [m.feeratePerKw] : []))

/** Lets the actor drain (a grouped write takes two trips through the mailbox). */
const settle = <S>(ch: { readonly snapshot: Effect.Effect<S, unknown> }) =>
  Effect.orDie(Effect.andThen(ch.snapshot, Effect.andThen(ch.snapshot, Effect.andThen(ch.snapshot, ch.snapshot))))

const start = (ports: ChannelPorts<Toy>, state: Toy = waiting, lastUpdateId = 0n) =>
  Effect.gen(function*() {
    const ch = yield* makeChannel({ core: toyCore, ports, signer, state, lastUpdateId })
    yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
    return ch
  })

describe("Channel actor: state-only writes on milestones", () => {
  it("channelMilestone: a phase change, or channel_ready sent or received; nothing else", () => {
    const normal: Toy = { ...waiting, _tag: "Normal" }
    assert.isTrue(channelMilestone(waiting, normal))
    assert.isTrue(channelMilestone(waiting, { ...waiting, localReadySent: true }))
    assert.isTrue(channelMilestone(waiting, { ...waiting, remoteReady: true }))
    assert.isFalse(channelMilestone(waiting, { ...waiting, log: ["x"] }))
    assert.isFalse(channelMilestone(normal, { ...normal, log: ["x"] }))
    assert.isFalse(channelMilestone(waiting, waiting))
    assert.isFalse(channelMilestone({ log: [] }, { log: ["x"] }))
  })

  it.effect("channel_ready sent: the state is written alone (no update) and the message waits until it is durable", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "InProgress")
      const ch = yield* start(g.ports)
      yield* ch.tell({ _tag: "FundingDepth", depth: 3 })
      yield* settle(ch)
      assert.deepStrictEqual(g.calls.map((c) => c.ids), [[]])
      assert.isTrue(g.calls[0]?.state.localReadySent)
      assert.deepStrictEqual(fees(g.sent), [])
      let snap = yield* ch.snapshot
      assert.isTrue(snap.stateWritePending)
      assert.strictEqual(snap.held, 1)
      // Its completion carries the channel's latest update id (0: nothing new).
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
      snap = yield* ch.snapshot
      assert.deepStrictEqual(fees(g.sent), [READY])
      assert.isFalse(snap.stateWritePending)
      assert.strictEqual(snap.held, 0)
      assert.strictEqual(snap.lastPersisted, 0n)
    }))

  it.effect("Normal (their channel_ready received) is written alone too; steps with no milestone write nothing", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "Completed")
      const ch = yield* start(g.ports)
      yield* ch.tell({ _tag: "PeerWarning", message: "hello" })
      yield* settle(ch)
      assert.strictEqual(g.calls.length, 0)
      yield* ch.tell({ _tag: "FundingDepth", depth: 3 })
      yield* settle(ch)
      yield* ch.tell({ _tag: "PeerWarning", message: "ready" })
      yield* settle(ch)
      assert.deepStrictEqual(g.calls.map((c) => [c.ids, c.state._tag, c.state.localReadySent, c.state.remoteReady === true]), [
        [[], "WaitChannelReady", true, false],
        [[], "Normal", true, true]
      ])
      assert.deepStrictEqual(fees(g.sent), [READY])
      assert.deepStrictEqual(g.events.map((e) => e._tag), ["ChannelReady"])
      yield* ch.tell({ _tag: "PeerWarning", message: "later" })
      yield* settle(ch)
      assert.strictEqual(g.calls.length, 2)
    }))

  it.effect("the ChannelReady event of the Normal step waits for that state's write", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "InProgress")
      const ch = yield* start(g.ports, { ...waiting, localReadySent: true })
      yield* ch.tell({ _tag: "PeerWarning", message: "ready" })
      yield* settle(ch)
      assert.deepStrictEqual(g.calls.map((c) => c.state._tag), ["Normal"])
      assert.deepStrictEqual(g.events, [])
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
      yield* settle(ch)
      assert.deepStrictEqual(g.events.map((e) => e._tag), ["ChannelReady"])
    }))

  it.effect("a milestone while an update write is in flight: the state write waits for it, then goes; sends keep their order", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "InProgress")
      const ch = yield* start(g.ports)
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      yield* settle(ch)
      yield* ch.tell({ _tag: "FundingDepth", depth: 3 })
      yield* settle(ch)
      // Only the update's write so far (its completion would be ambiguous with a state write's).
      assert.deepStrictEqual(g.calls.map((c) => c.ids), [[1n]])
      assert.deepStrictEqual(fees(g.sent), [])
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 1n })
      yield* settle(ch)
      // The update is durable: its send leaves; the state write goes now; READY waits for it.
      assert.deepStrictEqual(g.calls.map((c) => c.ids), [[1n], []])
      assert.isTrue(g.calls[1]?.state.localReadySent)
      assert.deepStrictEqual(fees(g.sent), [1000])
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 1n })
      yield* settle(ch)
      assert.deepStrictEqual(fees(g.sent), [1000, READY])
      assert.isFalse((yield* ch.snapshot).stateWritePending)
    }))

  it.effect("a milestone in a step that persists an update: no extra write (the state goes with the update)", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "Completed")
      const ch = yield* start(g.ports)
      // Both queued before the actor runs: one write carries the update and the new state.
      yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: 1000 })
      yield* ch.tell({ _tag: "FundingDepth", depth: 3 })
      yield* settle(ch)
      assert.deepStrictEqual(g.calls.map((c) => c.ids), [[1n]])
      assert.isTrue(g.calls[0]?.state.localReadySent)
      assert.deepStrictEqual(fees(g.sent), [1000, READY])
    }))

  it.effect("before the first update (an unfunded channel) nothing is written", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "Completed")
      const ch = yield* start(g.ports, { ...waiting, nextUpdateId: 0n }, -1n)
      yield* ch.tell({ _tag: "FundingDepth", depth: 3 })
      yield* settle(ch)
      assert.strictEqual(g.calls.length, 0)
      assert.deepStrictEqual(fees(g.sent), [READY])
    }))

  it.effect("without persistMany (one update per write) a milestone writes nothing and holds nothing", () =>
    Effect.gen(function*() {
      const g = groupedPorts(() => "Completed")
      const { persistMany: _unused, ...single } = g.ports
      const ch = yield* start(single)
      yield* ch.tell({ _tag: "FundingDepth", depth: 3 })
      yield* settle(ch)
      assert.strictEqual(g.calls.length, 0)
      assert.deepStrictEqual(g.single, [])
      assert.deepStrictEqual(fees(g.sent), [READY])
    }))
})
