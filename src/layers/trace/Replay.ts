/**
 * Replay layers: a node's entropy, clock, transport and persister served from a recorded trace
 * (no sockets, no OS randomness, no real time).
 *
 * Synchronous inputs are served in the order the node asks for them: `randomBytes` returns the
 * next recorded `entropy` bytes, clock readings the next recorded `clock` values. Inputs the node
 * waits for (a bound address, a connection, bytes on a connection, a timer, a persister's answer)
 * stay pending until the replay driver (`src/trace/replay.ts`) `deliver`s their record, in the
 * recorded order. Every record the node produces goes to the replay's own `Trace`, written
 * exactly as the recording wrappers (`Recording.ts`) write it, so the two traces can be compared
 * line by line.
 */
import { type Clock, Deferred, Duration, Effect, PubSub, Schema, Stream } from "effect"
import { fromHex } from "../../protocol/bytes.ts"
import { ChannelIdSchema } from "../../protocol/codec/fields.ts"
import type { ChannelId } from "../../protocol/units.ts"
import type { EntropyShape } from "../../services/Entropy.ts"
import {
  type MonitorPersisterShape,
  PersisterClosed,
  type PersistError,
  type PersistCompletion,
  type PersistedChannel,
  type PersistStatus,
  PersistUnavailable
} from "../../services/MonitorPersister.ts"
import { type MonitorUpdate, MonitorUpdateSchema } from "../../protocol/monitor/update.ts"
import { type MonitorState, MonitorStateSchema } from "../../protocol/monitor/state.ts"
import type { TraceRecord, TraceShape } from "../../services/Trace.ts"
import {
  type Connection,
  type Listener,
  type SocketAddress,
  TransportClosed,
  TransportError,
  type TransportShape
} from "../../services/Transport.ts"
import { Actors, bytesData, type ClockOp, clockData, entropyData, field, numberField, persistData, stringField, timerData } from "./records.ts"

export interface ReplayWorld {
  readonly entropy: EntropyShape
  readonly clock: Clock.Clock
  readonly transport: TransportShape
  readonly persister: MonitorPersisterShape
  /**
   * Hands the node one recorded input it waits for (`listen`, `accept`, `connect`, `read`,
   * `read-end`, `timer`, `completion`), writing its record. `undefined` when delivered, else why
   * the node was not waiting for it (a divergence).
   */
  readonly deliver: (record: TraceRecord) => string | undefined
}

const asChannelId = (hex: string): ChannelId => Schema.decodeSync(ChannelIdSchema)(hex)

const decodeUpdate = Schema.decodeUnknownResult(MonitorUpdateSchema)
const decodeMonitorState = Schema.decodeUnknownResult(MonitorStateSchema)

/** A `load` record's channels, or undefined if it does not decode. */
const decodeLoad = (load: Schema.Json): ReadonlyArray<PersistedChannel> | undefined => {
  if (!Array.isArray(load)) return undefined
  const out: Array<PersistedChannel> = []
  for (const c of load) {
    const channel = stringField(c, "channel")
    const latest = stringField(c, "latestUpdateId")
    const updatesJson = field(c, "updates")
    const state = field(c, "state")
    if (channel === undefined || latest === undefined || state === undefined || !Array.isArray(updatesJson)) return undefined
    const updates: Array<MonitorUpdate> = []
    for (const u of updatesJson) {
      const r = decodeUpdate(u)
      if (r._tag === "Failure") return undefined
      updates.push(r.success)
    }
    const monitorJson = field(c, "monitor")
    let monitor: MonitorState | undefined
    if (monitorJson !== undefined) {
      const m = decodeMonitorState(monitorJson)
      if (m._tag === "Failure") return undefined
      monitor = m.success
    }
    out.push({ channelId: asChannelId(channel), channelState: state, updates, ...(monitor === undefined ? {} : { monitor }), latestUpdateId: BigInt(latest) })
  }
  return out
}

type Pending<A, E = never> = Deferred.Deferred<A, E>

const isStatus = (v: unknown): v is PersistStatus => v === "Completed" || v === "InProgress"

/** The replay services over the records of one node (in trace order). */
export const makeReplayWorld = (records: ReadonlyArray<TraceRecord>, trace: TraceShape): Effect.Effect<ReplayWorld> =>
  Effect.map(PubSub.unbounded<PersistCompletion>(), (completions) => replayWorld(records, trace, completions))

const replayWorld = (
  records: ReadonlyArray<TraceRecord>,
  trace: TraceShape,
  completions: PubSub.PubSub<PersistCompletion>
): ReplayWorld => {
  const entropyRecords = records.filter((r) => r.kind === "entropy")
  const clockRecords = records.filter((r) => r.kind === "clock")
  let entropyAt = 0
  let clockAt = 0

  const entropy: EntropyShape = {
    randomBytes: (length) =>
      Effect.sync(() => {
        const r = entropyRecords[entropyAt++]
        const hex = r === undefined ? undefined : stringField(r.data, "hex")
        const bytes = hex !== undefined && hex.length === 2 * length ? fromHex(hex) : new Uint8Array(length)
        trace.emit(Actors.entropy, "entropy", entropyData(bytes))
        return bytes
      })
  }

  const reading = (op: ClockOp): string => {
    const r = clockRecords[clockAt++]
    const v = r === undefined ? undefined : stringField(r.data, "v")
    const recordedOp = r === undefined ? undefined : stringField(r.data, "op")
    return v !== undefined && recordedOp === op ? v : "0"
  }
  const millis = () => {
    const v = Number(reading("millis"))
    trace.emit(Actors.clock, "clock", clockData("millis", v))
    return v
  }
  const nanos = () => {
    const v = BigInt(reading("nanos"))
    trace.emit(Actors.clock, "clock", clockData("nanos", v))
    return v
  }
  const mono = () => {
    const v = BigInt(reading("mono"))
    trace.emit(Actors.clock, "clock", clockData("mono", v))
    return v
  }
  let sleeps = 0
  const timers = new Map<number, { readonly ms: number; readonly done: Pending<void> }>()
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: millis,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: mono,
    monotonicTimeNanos: Effect.sync(mono),
    sleep: (duration) =>
      Effect.suspend(() => {
        const id = sleeps++
        const done = Deferred.makeUnsafe<void>()
        timers.set(id, { ms: Duration.toMillis(duration), done })
        return Deferred.await(done).pipe(Effect.ensuring(Effect.sync(() => timers.delete(id))))
      })
  }

  // Transport
  const listens: Array<{ readonly address: SocketAddress; readonly done: Pending<SocketAddress, TransportError> }> = []
  const accepts: Array<Pending<Connection>> = []
  const connects: Array<{ readonly address: SocketAddress; readonly done: Pending<Connection, TransportError> }> = []
  const reads = new Map<number, Pending<Uint8Array, TransportClosed>>()

  const connection = (conn: number, remoteAddress: SocketAddress): Connection => ({
    remoteAddress,
    read: Effect.suspend(() => {
      const done = Deferred.makeUnsafe<Uint8Array, TransportClosed>()
      reads.set(conn, done)
      return Deferred.await(done).pipe(Effect.ensuring(Effect.sync(() => {
        if (reads.get(conn) === done) reads.delete(conn)
      })))
    }),
    write: (data) =>
      Effect.sync(() => {
        const parts = data instanceof Uint8Array ? [data] : data
        let length = 0
        for (const p of parts) length += p.length
        const bytes = new Uint8Array(length)
        let at = 0
        for (const p of parts) {
          bytes.set(p, at)
          at += p.length
        }
        trace.emit(Actors.transport, "write", bytesData(conn, bytes))
      }),
    close: Effect.sync(() => trace.emit(Actors.transport, "close", { conn }))
  })

  const removeFrom = <A>(list: Array<A>, item: A) =>
    Effect.sync(() => {
      const i = list.indexOf(item)
      if (i >= 0) list.splice(i, 1)
    })

  const transport: TransportShape = {
    listen: (address) =>
      Effect.gen(function*() {
        const entry = { address, done: Deferred.makeUnsafe<SocketAddress, TransportError>() }
        listens.push(entry)
        const bound = yield* Deferred.await(entry.done).pipe(Effect.ensuring(removeFrom(listens, entry)))
        const listener: Listener = {
          address: bound,
          accept: Effect.suspend(() => {
            const done = Deferred.makeUnsafe<Connection>()
            accepts.push(done)
            return Deferred.await(done).pipe(Effect.ensuring(removeFrom(accepts, done)))
          })
        }
        return listener
      }),
    connect: (address) =>
      Effect.suspend(() => {
        const entry = { address, done: Deferred.makeUnsafe<Connection, TransportError>() }
        connects.push(entry)
        return Deferred.await(entry.done).pipe(Effect.ensuring(removeFrom(connects, entry)))
      })
  }

  // Persister: the recorded answers (nothing is stored: `load` gives what the trace says).
  let persists = 0
  const loads: Array<Pending<ReadonlyArray<PersistedChannel>, PersistUnavailable>> = []
  const answers = new Map<number, Pending<PersistStatus | ReadonlyArray<PersistStatus>, PersistError>>()
  const awaitAnswer = (id: number) => {
    const done = Deferred.makeUnsafe<PersistStatus | ReadonlyArray<PersistStatus>, PersistError>()
    answers.set(id, done)
    return Deferred.await(done).pipe(Effect.ensuring(Effect.sync(() => answers.delete(id))))
  }
  const persister: MonitorPersisterShape = {
    persist: (channelId, updates, channelState) =>
      Effect.suspend(() => {
        const id = persists++
        trace.emit(Actors.persister, "persist", persistData(id, channelId, updates, channelState))
        return awaitAnswer(id).pipe(Effect.map((s) => (typeof s === "string" ? s : s[0] ?? "Completed")))
      }),
    persistMany: (writes) =>
      Effect.suspend(() => {
        const id = persists++
        trace.emit(Actors.persister, "persist", { id, writes: writes.map((w) => persistData(id, w.channelId, w.updates, w.channelState)) })
        return awaitAnswer(id).pipe(Effect.map((s) => (typeof s === "string" ? writes.map(() => s) : s)))
      }),
    subscribe: PubSub.subscribe(completions),
    completions: Stream.fromPubSub(completions),
    load: Effect.suspend(() => {
      const done = Deferred.makeUnsafe<ReadonlyArray<PersistedChannel>, PersistUnavailable>()
      loads.push(done)
      return Deferred.await(done)
    }),
    archive: () => Effect.void,
    remove: () => Effect.void
  }

  const deliver = (record: TraceRecord): string | undefined => {
    const data = record.data
    switch (record.kind) {
      case "timer": {
        const id = numberField(data, "id") ?? -1
        const t = timers.get(id)
        if (t === undefined) return `no sleep #${id} pending`
        trace.emit(Actors.clock, "timer", timerData(id, t.ms))
        Deferred.doneUnsafe(t.done, Effect.void)
        return undefined
      }
      case "listen": {
        const entry = listens.shift()
        if (entry === undefined) return "no listen pending"
        const host = stringField(data, "host") ?? entry.address.host
        const port = numberField(data, "port") ?? entry.address.port
        if (field(data, "error") !== undefined) {
          trace.emit(Actors.transport, "listen", { host: entry.address.host, port: entry.address.port, error: true })
          Deferred.doneUnsafe(entry.done, Effect.fail(new TransportError({ operation: "listen", address: entry.address, message: "failed when recorded" })))
        } else {
          trace.emit(Actors.transport, "listen", { host, port })
          Deferred.doneUnsafe(entry.done, Effect.succeed({ host, port }))
        }
        return undefined
      }
      case "accept": {
        const done = accepts.shift()
        if (done === undefined) return "no accept pending"
        const conn = numberField(data, "conn") ?? -1
        const remote = { host: stringField(data, "host") ?? "", port: numberField(data, "port") ?? 0 }
        trace.emit(Actors.transport, "accept", { conn, host: remote.host, port: remote.port })
        Deferred.doneUnsafe(done, Effect.succeed(connection(conn, remote)))
        return undefined
      }
      case "connect": {
        const entry = connects.shift()
        if (entry === undefined) return "no connect pending"
        const conn = numberField(data, "conn") ?? -1
        trace.emit(Actors.transport, "connect", { conn, host: entry.address.host, port: entry.address.port })
        Deferred.doneUnsafe(
          entry.done,
          conn < 0
            ? Effect.fail(new TransportError({ operation: "connect", address: entry.address, message: "failed when recorded" }))
            : Effect.succeed(connection(conn, entry.address))
        )
        return undefined
      }
      case "read":
      case "read-end": {
        const conn = numberField(data, "conn") ?? -1
        const done = reads.get(conn)
        if (done === undefined) return `no read pending on connection ${conn}`
        reads.delete(conn)
        if (record.kind === "read") {
          const hex = stringField(data, "hex") ?? ""
          trace.emit(Actors.transport, "read", { conn, hex })
          Deferred.doneUnsafe(done, Effect.succeed(fromHex(hex)))
        } else {
          const reason = stringField(data, "reason") ?? "closed"
          trace.emit(Actors.transport, "read-end", { conn, reason })
          Deferred.doneUnsafe(done, Effect.fail(new TransportClosed({ reason })))
        }
        return undefined
      }
      case "completion": {
        const load = field(data, "load")
        if (load !== undefined) {
          const done = loads.shift()
          if (done === undefined) return "no load of the persister pending"
          trace.emit(Actors.persister, "completion", data)
          const channels = decodeLoad(load)
          Deferred.doneUnsafe(done, channels === undefined ? Effect.fail(new PersistUnavailable({ reason: "undecodable load record" })) : Effect.succeed(channels))
          return undefined
        }
        if (field(data, "id") === undefined) {
          // A completion of an `InProgress` write: published to the node's subscription.
          const channel = stringField(data, "channel")
          const updateId = stringField(data, "updateId")
          if (channel === undefined || updateId === undefined) return "a completion record without channel and updateId"
          trace.emit(Actors.persister, "completion", data)
          PubSub.publishUnsafe(completions, { channelId: asChannelId(channel), updateId: BigInt(updateId) })
          return undefined
        }
        const id = numberField(data, "id") ?? -1
        const done = answers.get(id)
        if (done === undefined) return `no persist #${id} waiting for its answer`
        answers.delete(id)
        const status = field(data, "status")
        trace.emit(Actors.persister, "completion", data)
        if (isStatus(status)) Deferred.doneUnsafe(done, Effect.succeed(status))
        else if (Array.isArray(status)) Deferred.doneUnsafe(done, Effect.succeed(status.filter(isStatus)))
        else Deferred.doneUnsafe(done, Effect.fail(new PersisterClosed()))
        return undefined
      }
      default:
        return `${record.kind} is not an input the replay layers deliver`
    }
  }

  return { entropy, clock, transport, persister, deliver }
}

/** Whether the replay driver delivers records of this kind (the others the node produces itself). */
export const isDeliveredKind = (kind: TraceRecord["kind"]): boolean =>
  kind === "command" || kind === "listen" || kind === "accept" || kind === "connect" || kind === "read" ||
  kind === "read-end" || kind === "timer" || kind === "completion" || kind === "chain"
