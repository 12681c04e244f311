/**
 * The Channel actor's sequencing, with a toy core (the BOLT 2 rules are tested in
 * test/protocol/channel): persistence that pauses sends, completions out of order, signer answers
 * fed back first, batching, rejected commands, restart from what the persister stored.
 */
import { assert, describe, it } from "@effect/vitest"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Deferred, Effect, Fiber, Result, Schema } from "effect"
import { type ChannelCore, type ChannelPorts, type ChannelSnapshot, makeChannel } from "../../src/actors/Channel.ts"
import type { PersistStatus } from "../../src/services/MonitorPersister.ts"
import { SessionId } from "../../src/actors/PeerEvent.ts"
import { ChannelIdSchema } from "../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { NothingToSign } from "../../src/protocol/channel/errors.ts"
import type { ChannelEvent, ChannelOutput } from "../../src/protocol/channel/io.ts"
import { UpdateFee } from "../../src/protocol/messages/channel.ts"
import type { LightningMessage } from "../../src/protocol/messages/index.ts"
import type { MonitorUpdate } from "../../src/protocol/monitor/update.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import { channelKeyId, type ChannelKeyId } from "../../src/services/ChannelSigner.ts"

const channelId = Schema.decodeSync(ChannelIdSchema)("11".repeat(32))
const keyIdOrUndefined = channelKeyId(new Uint8Array(32).fill(7))
if (keyIdOrUndefined === undefined) throw new Error("unreachable")
const keyId: ChannelKeyId = keyIdOrUndefined
const signer = makeSeedChannelSigner(new Uint8Array(32).fill(3), nobleSecp256k1)

/** The toy channel: a log of what it saw, the next update id, and how many changes await a signature. */
interface Toy {
  readonly log: ReadonlyArray<string>
  readonly nextUpdateId: bigint
  readonly pending: number
}

const preimage = (n: bigint) => new Uint8Array(32).fill(Number(n % 256n))

/**
 * `UpdateFee` persists one update then sends `update_fee`; `FeerateEstimate` asks the signer for a
 * point; `PeerWarning` is logged (and counts as a change to sign); `SignNow` signs the changes;
 * `ForceClose` is refused (a typed error).
 */
const toyCore: ChannelCore<Toy> = {
  channelId: () => channelId,
  keyId: () => keyId,
  hasPendingChanges: (s) => s.pending > 0,
  feedCompletions: true,
  step: (s, input) => {
    const log = (entry: string) => [...s.log, entry]
    switch (input._tag) {
      case "UpdateFee": {
        const update: MonitorUpdate = { _tag: "PaymentPreimage", updateId: s.nextUpdateId, preimage: preimage(s.nextUpdateId) }
        return Result.succeed({
          state: { ...s, log: log(`fee ${input.feeratePerKw}`), nextUpdateId: s.nextUpdateId + 1n },
          outputs: [
            { _tag: "Persist", update },
            { _tag: "Send", message: UpdateFee.make({ channelId, feeratePerKw: input.feeratePerKw }) },
            { _tag: "Emit", event: { _tag: "ChannelReady", channelId } }
          ]
        })
      }
      case "FeerateEstimate":
        return Result.succeed({
          state: { ...s, log: log("sign?") },
          outputs: [{ _tag: "Sign", request: { _tag: "PerCommitmentPoint", commitmentNumber: 5n } }]
        })
      case "Signed":
        return Result.succeed({ state: { ...s, log: log(`signed ${input.result._tag}`) }, outputs: [] })
      case "PeerWarning":
        return Result.succeed({ state: { ...s, log: log(`warning ${input.message}`), pending: s.pending + 1 }, outputs: [] })
      case "SignNow":
        return s.pending === 0
          ? Result.fail(new NothingToSign())
          : Result.succeed({ state: { ...s, log: log(`sign ${s.pending}`), pending: 0 }, outputs: [] })
      case "PersistCompleted":
        return Result.succeed({ state: { ...s, log: log(`completed ${input.updateId}`) }, outputs: [] })
      case "PeerConnected":
        return Result.succeed({ state: { ...s, log: log("connected") }, outputs: [] })
      default:
        return Result.fail(new NothingToSign())
    }
  }
}

const empty: Toy = { log: [], nextUpdateId: 0n, pending: 0 }
const session = SessionId(1)

/** Ports that record everything; `status` decides each persist's answer. */
const recordingPorts = (status: (update: MonitorUpdate) => PersistStatus) => {
  const sent: Array<LightningMessage> = []
  const events: Array<ChannelEvent> = []
  const stored: Array<{ readonly update: MonitorUpdate; readonly state: Toy }> = []
  const ports: ChannelPorts<Toy> = {
    persist: (update, state) =>
      Effect.sync(() => {
        stored.push({ update, state })
        return status(update)
      }),
    send: (_session, message) => Effect.sync(() => void sent.push(message)),
    emit: (event) => Effect.sync(() => void events.push(event)),
    chain: () => Effect.void,
    rekey: () => Effect.void
  }
  return { ports, sent, events, stored }
}

/** Lets the actor drain: a grouped write takes two trips through the mailbox (`PersistNow` goes behind it once). */
const settle = <S>(ch: { readonly snapshot: Effect.Effect<S, unknown> }) => Effect.orDie(Effect.andThen(ch.snapshot, Effect.andThen(ch.snapshot, ch.snapshot)))

const fees = (sent: ReadonlyArray<LightningMessage>) => sent.flatMap((m) => (m._tag === "UpdateFee" ? [m.feeratePerKw] : []))

describe("Channel actor", () => {
  it.effect("an InProgress persist holds later sends and events, in order, until its completion", () =>
    Effect.gen(function*() {
      const rec = recordingPorts((u) => (u.updateId === 0n ? "InProgress" : "Completed"))
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      // Update 1 completes at once, but its send follows update 0's: it waits too.
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 2000 })
      let snap = yield* ch.snapshot
      assert.deepStrictEqual(fees(rec.sent), [])
      assert.strictEqual(rec.events.length, 0)
      assert.strictEqual(snap.held, 4)
      assert.strictEqual(snap.durableThrough, -1n)
      assert.strictEqual(snap.lastPersisted, 1n)
      // Inputs keep being accepted while paused.
      yield* ch.tell({ _tag: "PeerWarning", message: "hi" })
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
      snap = yield* ch.snapshot
      assert.deepStrictEqual(fees(rec.sent), [1000, 2000])
      assert.strictEqual(rec.events.length, 2)
      assert.strictEqual(snap.held, 0)
      assert.strictEqual(snap.durableThrough, 1n)
      // The state was stored with each update: the state after that update's step.
      assert.deepStrictEqual(rec.stored.map((s) => s.state.log), [["connected", "fee 1000"], ["connected", "fee 1000", "fee 2000"]])
      // Only the update that was InProgress is fed back as a completion.
      assert.includeMembers([...snap.state.log], ["completed 0"])
      assert.notInclude([...snap.state.log], "completed 1")
    }))

  it.effect("snapshotNow gives its last snapshot again while nothing in it changed, a fresh one after any change", () =>
    Effect.gen(function*() {
      const plain = (s: ChannelSnapshot<Toy>) => ({ ...s })
      /** The snapshot once the actor is idle (its last write's fiber may still be finishing). */
      const idleSnapshot = (ch: { readonly snapshotNow: () => ChannelSnapshot<Toy> | undefined }) =>
        Effect.gen(function*() {
          for (;;) {
            const now = ch.snapshotNow()
            if (now !== undefined) return now
            yield* Effect.yieldNow
          }
        })
      const rec = recordingPorts(() => "InProgress")
      // Completions not fed to the core: they change the bookkeeping (durable, held) but not the state.
      const ch = yield* makeChannel({ core: { ...toyCore, feedCompletions: false }, ports: rec.ports, signer, state: empty })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      yield* settle(ch)
      const first = yield* idleSnapshot(ch)
      assert.deepStrictEqual(plain(first), { state: first.state, channelId, session, lastPersisted: 0n, durableThrough: -1n, held: 2, stateWritePending: false })
      assert.strictEqual(ch.snapshotNow(), first)
      // The write completes: same state, the bookkeeping changed (durable, the held send and event left).
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
      yield* settle(ch)
      const second = yield* idleSnapshot(ch)
      assert.strictEqual(second.state, first.state)
      assert.notStrictEqual(second, first)
      assert.deepStrictEqual(plain(second), { ...plain(first), durableThrough: 0n, held: 0 })
      assert.strictEqual(ch.snapshotNow(), second)
      // A rejected input that changes the session only (the state is the same object).
      yield* ch.tell({ _tag: "PeerDisconnected" })
      yield* settle(ch)
      const third = yield* idleSnapshot(ch)
      assert.strictEqual(third.state, first.state)
      assert.deepStrictEqual(plain(third), { ...plain(second), session: undefined })
      // A new state.
      yield* ch.tell({ _tag: "PeerWarning", message: "w" })
      yield* settle(ch)
      const fourth = yield* idleSnapshot(ch)
      assert.notStrictEqual(fourth.state, first.state)
      assert.includeMembers([...fourth.state.log], ["warning w"])
      assert.strictEqual(yield* Effect.orDie(ch.snapshot), ch.snapshotNow())
    }))

  it.effect("completions that arrive out of order are applied in updateId order", () =>
    Effect.gen(function*() {
      const rec = recordingPorts(() => "InProgress")
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
      for (const fee of [1000, 2000, 3000]) yield* ch.command({ _tag: "UpdateFee", feeratePerKw: fee })
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 2n })
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 1n })
      let snap = yield* ch.snapshot
      assert.deepStrictEqual(fees(rec.sent), [])
      assert.strictEqual(snap.durableThrough, -1n)
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
      snap = yield* ch.snapshot
      assert.deepStrictEqual(fees(rec.sent), [1000, 2000, 3000])
      assert.strictEqual(snap.durableThrough, 2n)
      const completions = snap.state.log.filter((e) => e.startsWith("completed"))
      assert.deepStrictEqual(completions, ["completed 0", "completed 1", "completed 2"])
      // A duplicate completion changes nothing.
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 1n })
      assert.deepStrictEqual((yield* ch.snapshot).state.log.filter((e) => e.startsWith("completed")).length, 3)
    }))

  it.effect("a Signed answer is the very next input, before what was already queued", () =>
    Effect.gen(function*() {
      const rec = recordingPorts(() => "Completed")
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      yield* ch.tell({ _tag: "FeerateEstimate", feeratePerKw: 253 })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
      const snap = yield* ch.snapshot
      assert.deepStrictEqual(snap.state.log.slice(0, 3), ["sign?", "signed Point", "connected"])
    }))

  it.effect("a step asking for several signatures has their answers stepped in order, each before anything else", () =>
    Effect.gen(function*() {
      // Each `Signed` answer asks for one more signature until three were asked: answers must come back in request order,
      // interleaved with the requests they lead to exactly as a first-in first-out queue of inputs would have them.
      const core: ChannelCore<Toy> = {
        ...toyCore,
        step: (s, input) => {
          const log = (entry: string) => [...s.log, entry]
          const ask = (n: bigint) => ({ _tag: "Sign" as const, request: { _tag: "PerCommitmentPoint" as const, commitmentNumber: n } })
          if (input._tag === "FeerateEstimate") return Result.succeed({ state: { ...s, log: log("ask 5 6") }, outputs: [ask(5n), ask(6n)] })
          if (input._tag === "Signed" && input.result._tag === "Point") {
            const n = input.result.commitmentNumber
            return Result.succeed({ state: { ...s, log: log(`point ${n}`) }, outputs: n === 5n ? [ask(7n)] : [] })
          }
          return toyCore.step(s, input)
        }
      }
      const rec = recordingPorts(() => "Completed")
      const ch = yield* makeChannel({ core, ports: rec.ports, signer, state: empty })
      yield* ch.tell({ _tag: "FeerateEstimate", feeratePerKw: 253 })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
      const snap = yield* ch.snapshot
      assert.deepStrictEqual(snap.state.log, ["ask 5 6", "point 5", "point 6", "point 7", "connected"])
    }))

  it.effect("changes queued in the mailbox are signed once, after the mailbox drained (batching)", () =>
    Effect.gen(function*() {
      const rec = recordingPorts(() => "Completed")
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      for (const m of ["a", "b", "c"]) yield* ch.tell({ _tag: "PeerWarning", message: m })
      // The three warnings and this snapshot were queued before the actor ran: the flush comes after them.
      assert.deepStrictEqual((yield* ch.snapshot).state.log, ["warning a", "warning b", "warning c"])
      assert.deepStrictEqual((yield* ch.snapshot).state.log, ["warning a", "warning b", "warning c", "sign 3"])
    }))

  it.effect("a rejected command gets its typed error and leaves the state unchanged", () =>
    Effect.gen(function*() {
      const rec = recordingPorts(() => "Completed")
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      const before = (yield* ch.snapshot).state
      const error = yield* Effect.flip(ch.command({ _tag: "ForceClose", reason: "test" }))
      assert.strictEqual(error._tag, "ChannelCommandRejected")
      if (error._tag !== "ChannelCommandRejected") return
      assert.strictEqual(error.error._tag, "NothingToSign")
      assert.strictEqual(error.input, "ForceClose")
      assert.deepStrictEqual((yield* ch.snapshot).state, before)
    }))

  it.effect("nothing is sent while disconnected; sends go to the session of the last PeerConnected", () =>
    Effect.gen(function*() {
      const to: Array<number> = []
      const rec = recordingPorts(() => "Completed")
      const ports: ChannelPorts<Toy> = { ...rec.ports, send: (s) => Effect.sync(() => void to.push(s)) }
      const ch = yield* makeChannel({ core: toyCore, ports, signer, state: empty })
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, SessionId(4))
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 2000 })
      yield* ch.tell({ _tag: "PeerDisconnected" })
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 3000 })
      assert.deepStrictEqual(to, [4])
    }))

  it.effect("a restart from the last stored state resumes where the store says (state equal)", () =>
    Effect.gen(function*() {
      const rec = recordingPorts(() => "Completed")
      const first = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      yield* first.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      yield* first.command({ _tag: "UpdateFee", feeratePerKw: 2000 })
      const before = yield* first.snapshot
      yield* first.actor.stop
      const last = rec.stored[rec.stored.length - 1]
      assert.isDefined(last)
      if (last === undefined) return
      const second = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: last.state, lastUpdateId: last.update.updateId })
      const after = yield* second.snapshot
      assert.deepStrictEqual(after.state, before.state)
      assert.strictEqual(after.durableThrough, 1n)
      yield* second.command({ _tag: "UpdateFee", feeratePerKw: 3000 })
      assert.deepStrictEqual(rec.stored.map((s) => s.update.updateId), [0n, 1n, 2n])
    }))

  it.effect("a command's answer says where the writes stood: its last update id and what was durable then (as a snapshot would)", () =>
    Effect.gen(function*() {
      const rec = recordingPorts((u) => (u.updateId === 0n ? "InProgress" : "Completed"))
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty })
      const ids = (r: { readonly lastUpdateId: bigint; readonly durableThrough: bigint }) => [r.lastUpdateId, r.durableThrough]
      const asSnapshot = (s: { readonly lastPersisted: bigint; readonly durableThrough: bigint }) => [s.lastPersisted, s.durableThrough]
      assert.deepStrictEqual(ids(yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })), [0n, -1n])
      // Update 1 is stored, but update 0 is not yet: nothing is durable.
      assert.deepStrictEqual(ids(yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 2000 })), [1n, -1n])
      assert.deepStrictEqual(asSnapshot(yield* ch.snapshot), [1n, -1n])
      yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
      // A command that writes nothing: the last update is the one before it, durable now.
      const quiet = yield* ch.command({ _tag: "PeerWarning", message: "hi" })
      assert.deepStrictEqual(ids(quiet), [1n, 1n])
      assert.deepStrictEqual(asSnapshot(yield* ch.snapshot), [1n, 1n])
      // Restored: every stored update is durable.
      const restored = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty, lastUpdateId: 4n })
      assert.deepStrictEqual(ids(yield* restored.command({ _tag: "PeerWarning", message: "hi" })), [4n, 4n])
    }))

  describe("grouped persistence (persistMany)", () => {
    /** Ports whose `persistMany` records each call; `status` decides each call's answer. */
    const groupedPorts = (status: (updates: ReadonlyArray<MonitorUpdate>) => PersistStatus) => {
      const rec = recordingPorts(() => "Completed")
      const calls: Array<{ readonly ids: ReadonlyArray<bigint>; readonly state: Toy }> = []
      const ports: ChannelPorts<Toy> = {
        ...rec.ports,
        persistMany: (updates, state) =>
          Effect.sync(() => {
            calls.push({ ids: updates.map((u) => u.updateId), state })
            return status(updates)
          })
      }
      return { ...rec, ports, calls }
    }

    it.effect("the updates of every input drained from the mailbox go in ONE write, with the state after the last; sends wait for it", () =>
      Effect.gen(function*() {
        const g = groupedPorts(() => "Completed")
        const ch = yield* makeChannel({ core: toyCore, ports: g.ports, signer, state: empty })
        yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
        // Three inputs queued before the actor runs: one write for the three updates.
        for (const fee of [1000, 2000, 3000]) yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: fee })
        const snap = yield* ch.snapshot
        // The snapshot came before the write (queued behind it): nothing is sent yet.
        assert.deepStrictEqual(fees(g.sent), [])
        assert.strictEqual(snap.held, 6)
        assert.strictEqual(snap.lastPersisted, 2n)
        assert.strictEqual(snap.durableThrough, -1n)
        yield* settle(ch)
        const after = yield* ch.snapshot
        assert.deepStrictEqual(g.calls.map((c) => c.ids), [[0n, 1n, 2n]])
        assert.deepStrictEqual(g.calls[0]?.state.log, ["connected", "fee 1000", "fee 2000", "fee 3000"])
        assert.deepStrictEqual(fees(g.sent), [1000, 2000, 3000])
        assert.strictEqual(after.held, 0)
        assert.strictEqual(after.durableThrough, 2n)
        // `persist` (one update at a time) is not used when `persistMany` is given.
        assert.strictEqual(g.stored.length, 0)
      }))

    it.effect("free writes (ChannelPorts.writesFree): the write goes at once, with no yield first for another fiber", () =>
      Effect.gen(function*() {
        // A fiber forked right after the input, from the same fiber, runs right after the actor's
        // first run: it has run by the write only if the actor yielded before writing.
        const writeSawOther = (free: boolean | undefined) =>
          Effect.gen(function*() {
            let other = false
            const seen: Array<boolean> = []
            const g = groupedPorts(() => "Completed")
            const ports: ChannelPorts<Toy> = {
              ...g.ports,
              persistMany: (updates, state) => Effect.andThen(Effect.sync(() => void seen.push(other)), g.ports.persistMany?.(updates, state) ?? Effect.die("no persistMany")),
              ...(free === undefined ? {} : { writesFree: () => free })
            }
            const ch = yield* makeChannel({ core: toyCore, ports, signer, state: empty })
            yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: 1000 })
            yield* Effect.forkChild(Effect.sync(() => void (other = true)))
            yield* settle(ch)
            assert.deepStrictEqual(g.calls.map((c) => c.ids), [[0n]])
            return seen
          })
        assert.deepStrictEqual(yield* writeSawOther(true), [false])
        // Not free (or not said): the `PersistNow` yields once before it writes.
        assert.deepStrictEqual(yield* writeSawOther(false), [true])
        assert.deepStrictEqual(yield* writeSawOther(undefined), [true])
      }))

    it.effect("an InProgress group is completed by its last id (or by each id), in order; later groups wait", () =>
      Effect.gen(function*() {
        const g = groupedPorts(() => "InProgress")
        const ch = yield* makeChannel({ core: toyCore, ports: g.ports, signer, state: empty })
        yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
        for (const fee of [1000, 2000]) yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: fee })
        yield* settle(ch)
        yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 3000 })
        yield* settle(ch)
        assert.deepStrictEqual(g.calls.map((c) => c.ids), [[0n, 1n], [2n]])
        // The second group completes first: it waits for the first.
        yield* ch.tell({ _tag: "PersistCompleted", updateId: 2n })
        let snap = yield* ch.snapshot
        assert.deepStrictEqual(fees(g.sent), [])
        assert.strictEqual(snap.durableThrough, -1n)
        // The first group's completion carries its last id alone: the whole group is durable.
        yield* ch.tell({ _tag: "PersistCompleted", updateId: 1n })
        snap = yield* ch.snapshot
        assert.deepStrictEqual(fees(g.sent), [1000, 2000, 3000])
        assert.strictEqual(snap.durableThrough, 2n)
        assert.strictEqual(snap.held, 0)
        // Every update that was InProgress is fed back once, in order.
        assert.deepStrictEqual(snap.state.log.filter((e) => e.startsWith("completed")), ["completed 0", "completed 1", "completed 2"])
      }))

    it.effect("per-update completions of a group, out of order, release in updateId order (the group's last id completes it all: one atomic write)", () =>
      Effect.gen(function*() {
        const g = groupedPorts(() => "InProgress")
        const ch = yield* makeChannel({ core: toyCore, ports: g.ports, signer, state: empty })
        yield* ch.tell({ _tag: "PeerConnected", remoteFeatures: new Uint8Array(0) }, session)
        for (const fee of [1000, 2000, 3000]) yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: fee })
        yield* settle(ch)
        assert.deepStrictEqual(g.calls.map((c) => c.ids), [[0n, 1n, 2n]])
        yield* ch.tell({ _tag: "PersistCompleted", updateId: 1n })
        yield* ch.snapshot
        assert.deepStrictEqual(fees(g.sent), [])
        yield* ch.tell({ _tag: "PersistCompleted", updateId: 0n })
        yield* ch.snapshot
        assert.deepStrictEqual(fees(g.sent), [1000, 2000])
        yield* ch.tell({ _tag: "PersistCompleted", updateId: 2n })
        const snap = yield* ch.snapshot
        assert.deepStrictEqual(fees(g.sent), [1000, 2000, 3000])
        assert.strictEqual(snap.durableThrough, 2n)
      }))
  })

  it.live("the open-time outputs are performed, then let go (a long-lived channel does not keep them)", () =>
    Effect.gen(function*() {
      setFlagsFromString("--expose-gc")
      const gc: unknown = runInNewContext("gc")
      if (typeof gc !== "function") throw new Error("no gc")
      const rec = recordingPorts(() => "Completed")
      const refs: Array<WeakRef<object>> = []
      const initial = (): ReadonlyArray<ChannelOutput> => {
        const outputs: ReadonlyArray<ChannelOutput> = [{ _tag: "Send", message: UpdateFee.make({ channelId, feeratePerKw: 777 }) }]
        refs.push(new WeakRef(outputs))
        return outputs
      }
      const ch = yield* makeChannel({ core: toyCore, ports: rec.ports, signer, state: empty, session, initialOutputs: initial() })
      yield* settle(ch)
      assert.deepStrictEqual(fees(rec.sent), [777])
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
      gc()
      assert.isUndefined(refs[0]?.deref())
      // The actor lives on.
      yield* ch.command({ _tag: "UpdateFee", feeratePerKw: 1000 })
      yield* settle(ch)
      assert.deepStrictEqual(fees(rec.sent), [777, 1000])
    }))
  it.effect("a snapshot of a busy channel waits for the input being handled; an idle channel answers at once, the same", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const rec = recordingPorts(() => "Completed")
      // The send blocks until the gate opens: the actor is busy with the `UpdateFee` until then.
      const ports: ChannelPorts<Toy> = { ...rec.ports, send: (to, message) => Effect.andThen(Deferred.await(gate), () => rec.ports.send(to, message) ?? Effect.void) }
      const ch = yield* makeChannel({ core: toyCore, ports, signer, state: empty, session })
      yield* ch.tell({ _tag: "UpdateFee", feeratePerKw: 1000 })
      let answered = false
      const asked = yield* Effect.forkChild(Effect.tap(ch.snapshot, () => Effect.sync(() => void (answered = true))))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isFalse(answered)
      assert.deepStrictEqual(rec.sent, [])
      yield* Deferred.succeed(gate, undefined)
      const busy = yield* Fiber.join(asked)
      assert.deepStrictEqual(busy.state.log, ["fee 1000"])
      assert.strictEqual(busy.lastPersisted, 0n)
      assert.deepStrictEqual(fees(rec.sent), [1000])
      // Idle now: answered without a trip through the mailbox, and the same picture.
      assert.isTrue(ch.actor.idle())
      const idle = yield* ch.snapshot
      assert.deepStrictEqual({ ...idle, state: idle.state.log }, { ...busy, state: busy.state.log })
      // Synchronously, even: a trip through the mailbox would not complete within `runSync`.
      assert.deepStrictEqual(Effect.runSync(ch.snapshot).state.log, ["fee 1000"])
    }))
})
