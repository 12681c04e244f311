/**
 * The Channel actor's write done at once (`ChannelPorts.persistManyNow`, given by the
 * ChannelManager when the persister and the signer are in memory) against the plain grouped write
 * (`persistMany`): for any inputs, write answers and completions, the same writes (ids and state),
 * the same sends and events in the same order, and the same bookkeeping, whether each write is
 * done at once (a status, or an effect giving it) or not (undefined: then `persistMany`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import fc from "fast-check"
import { type ChannelCore, type ChannelPorts, makeChannel } from "../../src/actors/Channel.ts"
import { SessionId } from "../../src/actors/PeerEvent.ts"
import { NothingToSign } from "../../src/protocol/channel/errors.ts"
import type { ChannelEvent } from "../../src/protocol/channel/io.ts"
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

interface Toy {
  readonly log: ReadonlyArray<string>
  readonly nextUpdateId: bigint
  readonly pending: number
}

/** `UpdateFee`: one update, a send, an event, and a change to sign; `PeerWarning`: a change to sign; `SignNow`: one update (the signature's). */
const core: ChannelCore<Toy> = {
  channelId: () => channelId,
  keyId: () => keyId,
  hasPendingChanges: (s) => s.pending > 0,
  feedCompletions: true,
  step: (s, input) => {
    const log = (entry: string) => [...s.log, entry]
    switch (input._tag) {
      case "UpdateFee": {
        const update: MonitorUpdate = { _tag: "PaymentPreimage", updateId: s.nextUpdateId, preimage: new Uint8Array(32).fill(1) }
        return Result.succeed({
          state: { log: log(`fee ${input.feeratePerKw}`), nextUpdateId: s.nextUpdateId + 1n, pending: s.pending + 1 },
          outputs: [
            { _tag: "Persist", update },
            { _tag: "Send", message: UpdateFee.make({ channelId, feeratePerKw: input.feeratePerKw }) },
            { _tag: "Emit", event: { _tag: "ChannelReady", channelId } }
          ]
        })
      }
      case "PeerWarning":
        return Result.succeed({ state: { ...s, log: log(`warning ${input.message}`), pending: s.pending + 1 }, outputs: [] })
      case "SignNow": {
        if (s.pending === 0) return Result.fail(new NothingToSign())
        const update: MonitorUpdate = { _tag: "PaymentPreimage", updateId: s.nextUpdateId, preimage: new Uint8Array(32).fill(2) }
        return Result.succeed({
          state: { log: log(`sign ${s.pending}`), nextUpdateId: s.nextUpdateId + 1n, pending: 0 },
          outputs: [
            { _tag: "Persist", update },
            { _tag: "Send", message: UpdateFee.make({ channelId, feeratePerKw: 1 }) }
          ]
        })
      }
      case "PersistCompleted":
        return Result.succeed({ state: { ...s, log: log(`completed ${input.updateId}`) }, outputs: [] })
      case "PeerConnected":
        return Result.succeed({ state: { ...s, log: log("connected") }, outputs: [] })
      default:
        return Result.fail(new NothingToSign())
    }
  }
}

type Action = { readonly _tag: "fee"; readonly fee: number } | { readonly _tag: "warning" } | { readonly _tag: "settle" } | { readonly _tag: "complete" }

/** How the write-at-once port answers a write: not at once (undefined), a status, or an effect giving it. */
type NowMode = "none" | "status" | "effect"

interface Outcome {
  readonly writes: ReadonlyArray<string>
  readonly sent: ReadonlyArray<number>
  readonly events: number
  readonly log: ReadonlyArray<string>
  readonly held: number
  readonly durableThrough: bigint
  readonly lastPersisted: bigint
}

const run = (actions: ReadonlyArray<Action>, statuses: ReadonlyArray<PersistStatus>, modes: ReadonlyArray<NowMode> | undefined): Effect.Effect<Outcome, unknown> =>
  Effect.scoped(
    Effect.gen(function*() {
      const writes: Array<string> = []
      const sent: Array<number> = []
      const events: Array<ChannelEvent> = []
      /** The last id of every InProgress write not completed yet. */
      const open: Array<bigint> = []
      const record = (updates: ReadonlyArray<MonitorUpdate>, state: Toy): PersistStatus => {
        const status = statuses[writes.length % statuses.length] ?? "Completed"
        writes.push(`${updates.map((u) => u.updateId).join(",")}|${state.log.join(";")}|${status}`)
        const last = updates.at(-1)?.updateId
        if (status === "InProgress" && last !== undefined) open.push(last)
        return status
      }
      let n = 0
      const ports: ChannelPorts<Toy> = {
        persist: () => Effect.die("persist is not used in grouped mode"),
        persistMany: (updates, state) => Effect.sync(() => record(updates, state)),
        writesFree: () => true,
        ...(modes === undefined
          ? {}
          : {
              persistManyNow: (updates, state) => {
                const mode = modes[n++ % modes.length] ?? "none"
                if (mode === "none") return undefined
                const status = record(updates, state)
                return mode === "status" ? status : Effect.succeed(status)
              }
            }),
        send: (_session, message: LightningMessage) => Effect.sync(() => void (message._tag === "UpdateFee" && sent.push(message.feeratePerKw))),
        emit: (event) => Effect.sync(() => void events.push(event)),
        chain: () => Effect.void,
        rekey: () => Effect.void
      }
      const ch = yield* makeChannel({ core, ports, signer, state: { log: [], nextUpdateId: 0n, pending: 0 } })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
      for (const a of actions) {
        switch (a._tag) {
          case "fee":
            yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: a.fee })
            break
          case "warning":
            yield* ch.tell({ _tag: "PeerWarning", message: "w" })
            break
          case "settle":
            yield* Effect.orDie(ch.snapshot)
            break
          case "complete":
            for (const id of open.splice(0)) yield* ch.tell({ _tag: "PersistCompleted", updateId: id })
            break
        }
      }
      for (let i = 0; i < 4; i++) yield* Effect.orDie(ch.snapshot)
      for (const id of open.splice(0)) yield* ch.tell({ _tag: "PersistCompleted", updateId: id })
      for (let i = 0; i < 4; i++) yield* Effect.orDie(ch.snapshot)
      const snap = yield* Effect.orDie(ch.snapshot)
      return { writes, sent, events: events.length, log: snap.state.log, held: snap.held, durableThrough: snap.durableThrough, lastPersisted: snap.lastPersisted }
    })
  )

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.integer({ min: 2, max: 9999 }).map((fee): Action => ({ _tag: "fee", fee })),
  fc.constant<Action>({ _tag: "warning" }),
  fc.constant<Action>({ _tag: "settle" }),
  fc.constant<Action>({ _tag: "complete" })
)

describe("Channel actor: writes done at once (persistManyNow)", () => {
  it("give the same writes, sends, events and bookkeeping as persistMany, whatever each write answers", () =>
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 24 }),
        fc.array(fc.constantFrom<PersistStatus>("Completed", "InProgress"), { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom<NowMode>("none", "status", "effect"), { minLength: 1, maxLength: 4 }),
        (actions, statuses, modes) => {
          const plain = Effect.runSync(run(actions, statuses, undefined))
          const now = Effect.runSync(run(actions, statuses, modes))
          assert.deepStrictEqual(now, plain)
        }
      ),
      { numRuns: 200 }
    ))

  it("a write done at once is not made again through persistMany, and its sends leave once it is Completed", () => {
    const outcome = Effect.runSync(run([{ _tag: "fee", fee: 1000 }, { _tag: "settle" }], ["Completed"], ["status"]))
    // The `Flush` came up next (nothing else was queued) and ran at once: the fee's update and the signature's in one write.
    assert.deepStrictEqual(outcome.writes, ["0,1|connected;fee 1000;sign 1|Completed"])
    assert.deepStrictEqual(outcome.sent, [1000, 1])
    assert.strictEqual(outcome.held, 0)
  })
})
