/**
 * Recording wrappers: services that hand the node what the real ones give and write it into the
 * node's `Trace` on the way (architecture: record at the service boundaries).
 *
 * - `tracingEntropy`: the bytes each `randomBytes` returns (`entropy`).
 * - `tracingClock`: each reading (`clock`), and each `sleep` that ends (`timer`, numbered in call
 *   order), the end held at the gate.
 * - `tracingTransport`: the bound address (`listen`), each connection (`connect` / `accept`,
 *   numbered in order), each chunk read (`read`, `read-end`), held at the gate; each chunk written
 *   (`write`) and each close (`close`).
 * - `tracingPersister`: each write (`persist`: updates, state hash) and its answer
 *   (`completion`), the answer held at the gate.
 *
 * The `Gate` (`src/trace/Quiescence.ts`) decides when a real input reaches the node: `makeGate`
 * for a process with real I/O (TCP, OS timers: one input at a time, at quiescence, so replay can
 * reproduce the interleaving), `passThroughGate` for runs that are deterministic already.
 * With `detachWrites`, writes and closes go to the real connection from a background fiber, so
 * the node never waits on real I/O (needed with a real gate; a full 65,536-chunk backlog fails
 * the write with `TransportClosed`).
 */
import { Cause, Clock, Duration, Effect, Exit, PubSub, Queue, type Schema, type Scope, Stream } from "effect"
import { concatBytes } from "../../protocol/bytes.ts"
import type { EntropyShape } from "../../services/Entropy.ts"
import type { MonitorPersisterShape, PersistCompletion, PersistStatus } from "../../services/MonitorPersister.ts"
import type { TraceShape } from "../../services/Trace.ts"
import {
  type Connection,
  type Listener,
  TransportClosed,
  type TransportShape
} from "../../services/Transport.ts"
import type { Gate } from "../../trace/Quiescence.ts"
import { Actors, bytesData, clockData, completionData, entropyData, loadData, persistData, timerData } from "./records.ts"

const interrupted = <A, E>(exit: Exit.Exit<A, E>): boolean => Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

export const tracingEntropy = (inner: EntropyShape, trace: TraceShape): EntropyShape => ({
  randomBytes: (length) =>
    Effect.map(inner.randomBytes(length), (bytes) => {
      trace.emit(Actors.entropy, "entropy", entropyData(bytes))
      return bytes
    })
})

export const tracingClock = (inner: Clock.Clock, trace: TraceShape, gate: Gate): Clock.Clock => {
  let sleeps = 0
  const millis = () => {
    const v = inner.currentTimeMillisUnsafe()
    trace.emit(Actors.clock, "clock", clockData("millis", v))
    return v
  }
  const nanos = () => {
    const v = inner.currentTimeNanosUnsafe()
    trace.emit(Actors.clock, "clock", clockData("nanos", v))
    return v
  }
  const mono = () => {
    const v = inner.monotonicTimeNanosUnsafe()
    trace.emit(Actors.clock, "clock", clockData("mono", v))
    return v
  }
  return {
    currentTimeMillisUnsafe: millis,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: mono,
    monotonicTimeNanos: Effect.sync(mono),
    sleep: (duration) =>
      Effect.suspend(() => {
        const id = sleeps++
        return gate.deliver(inner.sleep(duration), (exit) => {
          if (!interrupted(exit)) trace.emit(Actors.clock, "timer", timerData(id, Duration.toMillis(duration)))
        })
      })
  }
}

const WRITE_BACKLOG = 65_536

type Outgoing = Uint8Array | "close"

export interface TracingTransportOptions {
  /** Write and close from a background fiber (see the module doc). */
  readonly detachWrites?: boolean
  /**
   * The clock the real transport runs with (default: the caller's). The node's clock is a
   * recording one: the real layer's own readings (a simulated link's delays) are not the node's
   * inputs and must not land in its trace.
   */
  readonly clock?: Clock.Clock
}

export const tracingTransport = (
  inner: TransportShape,
  trace: TraceShape,
  gate: Gate,
  options: TracingTransportOptions = {}
): TransportShape => {
  let connections = 0
  const detach = options.detachWrites === true
  const realClock = options.clock
  const real = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    realClock === undefined ? effect : Effect.provideService(effect, Clock.Clock, realClock)

  const wrap = (c: Connection, conn: number, scope: Scope.Scope): Effect.Effect<Connection> =>
    Effect.gen(function*() {
      let write: Connection["write"]
      let close: Connection["close"]
      if (detach) {
        const outgoing = yield* Queue.bounded<Outgoing>(WRITE_BACKLOG)
        const pump: Effect.Effect<void> = Effect.gen(function*() {
          while (true) {
            const next = yield* Queue.take(outgoing)
            if (next === "close") {
              yield* c.close
              return
            }
            const ok = yield* Effect.exit(c.write(next))
            if (Exit.isFailure(ok)) return
          }
        })
        yield* Effect.forkIn(real(pump), scope)
        write = (data) =>
          Effect.suspend(() => {
            const bytes = data instanceof Uint8Array ? data.slice() : concatBytes(...data)
            trace.emit(Actors.transport, "write", bytesData(conn, bytes))
            return Queue.offerUnsafe(outgoing, bytes) ? Effect.void : Effect.fail(new TransportClosed({ reason: "trace write backlog full" }))
          })
        close = Effect.suspend(() => {
          trace.emit(Actors.transport, "close", { conn })
          Queue.offerUnsafe(outgoing, "close")
          return Effect.void
        })
      } else {
        write = (data) =>
          Effect.suspend(() => {
            const bytes = data instanceof Uint8Array ? data : concatBytes(...data)
            trace.emit(Actors.transport, "write", bytesData(conn, bytes))
            return real(c.write(bytes))
          })
        close = Effect.suspend(() => {
          trace.emit(Actors.transport, "close", { conn })
          return real(c.close)
        })
      }
      return {
        remoteAddress: c.remoteAddress,
        read: gate.deliver(real(c.read), (exit) => {
          if (Exit.isSuccess(exit)) trace.emit(Actors.transport, "read", bytesData(conn, exit.value))
          else if (!interrupted(exit)) {
            const e = Cause.findError(exit.cause)
            trace.emit(Actors.transport, "read-end", { conn, reason: e._tag === "Success" ? e.success.reason : "defect" })
          }
        }),
        write,
        close
      }
    })

  return {
    listen: (address) =>
      Effect.gen(function*() {
        const scope = yield* Effect.scope
        const listener = yield* gate.deliver(real(inner.listen(address)), (exit) => {
          if (Exit.isSuccess(exit)) trace.emit(Actors.transport, "listen", { host: exit.value.address.host, port: exit.value.address.port })
          else if (!interrupted(exit)) trace.emit(Actors.transport, "listen", { host: address.host, port: address.port, error: true })
        })
        const wrapped: Listener = {
          address: listener.address,
          accept: Effect.gen(function*() {
            let conn = -1
            const c = yield* gate.deliver(real(listener.accept), (exit) => {
              if (Exit.isSuccess(exit)) {
                conn = connections++
                trace.emit(Actors.transport, "accept", { conn, host: exit.value.remoteAddress.host, port: exit.value.remoteAddress.port })
              }
            })
            return yield* wrap(c, conn, scope)
          })
        }
        return wrapped
      }),
    connect: (address) =>
      Effect.gen(function*() {
        const scope = yield* Effect.scope
        let conn = -1
        const c = yield* gate.deliver(real(inner.connect(address)), (exit) => {
          if (Exit.isSuccess(exit)) {
            conn = connections++
            trace.emit(Actors.transport, "connect", { conn, host: address.host, port: address.port })
          } else if (!interrupted(exit)) trace.emit(Actors.transport, "connect", { conn: -1, host: address.host, port: address.port })
        })
        return yield* wrap(c, conn, scope)
      })
  }
}

const statusData = (id: number, exit: Exit.Exit<PersistStatus | ReadonlyArray<PersistStatus>, { readonly _tag: string }>): Schema.Json => {
  if (Exit.isSuccess(exit)) return { id, status: typeof exit.value === "string" ? exit.value : [...exit.value] }
  const e = Cause.findError(exit.cause)
  return { id, error: e._tag === "Success" ? e.success._tag : "defect" }
}

/** `clock`: the one the real persister runs with (its retry schedule), default the caller's. */
export const tracingPersister = (inner: MonitorPersisterShape, trace: TraceShape, gate: Gate, clock?: Clock.Clock): MonitorPersisterShape => {
  let persists = 0
  const real = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    clock === undefined ? effect : Effect.provideService(effect, Clock.Clock, clock)
  const tracing: MonitorPersisterShape = {
    ...inner,
    persist: (channelId, updates, channelState) =>
      Effect.suspend(() => {
        const id = persists++
        trace.emit(Actors.persister, "persist", persistData(id, channelId, updates, channelState))
        return gate.deliver(real(inner.persist(channelId, updates, channelState)), (exit) => {
          if (!interrupted(exit)) trace.emit(Actors.persister, "completion", statusData(id, exit))
        })
      }),
    persistMany: (writes) =>
      Effect.suspend(() => {
        const id = persists++
        trace.emit(Actors.persister, "persist", { id, writes: writes.map((w) => persistData(id, w.channelId, w.updates, w.channelState)) })
        return gate.deliver(real(inner.persistMany(writes)), (exit) => {
          if (!interrupted(exit)) trace.emit(Actors.persister, "completion", statusData(id, exit))
        })
      }),
    // What the store held at start is an input too (a restarted node's channels).
    load: gate.deliver(real(inner.load), (exit) => {
      if (Exit.isSuccess(exit)) trace.emit(Actors.persister, "completion", loadData(exit.value))
    }),
    // Completions of `InProgress` writes reach the node through the gate, one by one.
    subscribe: Effect.gen(function*() {
      const source = yield* real(inner.subscribe)
      const out = yield* PubSub.unbounded<PersistCompletion>()
      const subscription = yield* PubSub.subscribe(out)
      const forward: Effect.Effect<void> = Effect.forever(
        gate.deliver(real(PubSub.take(source)), (exit) => {
          if (Exit.isSuccess(exit)) trace.emit(Actors.persister, "completion", completionData(exit.value))
        }).pipe(Effect.flatMap((c) => PubSub.publish(out, c)))
      )
      yield* Effect.forkScoped(forward)
      return subscription
    }),
    completions: Stream.unwrap(Effect.map(Effect.suspend(() => tracing.subscribe), Stream.fromSubscription))
  }
  return tracing
}
