/**
 * In-memory `Transport` for tests and simulation: many nodes in one process, connected by
 * byte pipes, addressed by `host:port` strings exactly like TCP.
 *
 * One `MemoryNetwork` is the shared "internet"; each node gets `network.transport(host)`, a
 * `Transport` whose outbound connections appear to listeners as coming from `host` (with an
 * ephemeral port). Every pipe is bounded (`chunkCapacity` chunks in flight and as many
 * delivered-but-unread), so a slow reader applies backpressure to the writer as TCP would.
 *
 * Delivery: each direction has a pump fiber that hands chunks to the reader in order, after
 * `delay` (measured with Effect's `Clock`, so under `TestClock` time only moves when the test
 * says so). With the same program and seed, delivery order is the same on every run.
 *
 * Closing a connection delivers what was already written and then makes the remote's `read`
 * fail with `TransportClosed` (like a TCP FIN); the closer's own reads and writes fail at once.
 *
 * `transcript` (when `recordLimit` > 0) returns every chunk written, in order, so tests can
 * assert that the same seed gives the same bytes on the wire.
 */
import { type Cause, Clock, Duration, Effect, Exit, Layer, Queue, type Scope } from "effect"
import { concatBytes } from "../../protocol/bytes.ts"
import {
  type Connection,
  formatAddress,
  type Listener,
  type SocketAddress,
  Transport,
  TransportClosed,
  TransportError,
  type TransportShape
} from "../../services/Transport.ts"

export interface MemoryNetworkOptions {
  /** One-way delivery delay for every chunk (default 0). */
  readonly delay?: Duration.Input
  /** Chunks in flight per direction, and chunks delivered but unread (default 64 each). */
  readonly chunkCapacity?: number
  /** Inbound connections waiting for `accept` per listener (default 64); beyond it `connect` is refused. */
  readonly backlog?: number
  /** Keep at most this many written chunks in `transcript` (default 0: record nothing). */
  readonly recordLimit?: number
}

/** One chunk as written on the wire. `from`/`to` are `host:port` of the writer and the reader. */
export interface WireRecord {
  readonly from: string
  readonly to: string
  readonly bytes: Uint8Array
}

export interface MemoryNetwork {
  /** A `Transport` for a node whose outbound connections come from `host`. */
  readonly transport: (host: string) => TransportShape
  /** Layer form of `transport(host)`. */
  readonly layer: (host: string) => Layer.Layer<Transport>
  /** The chunks written so far (up to `recordLimit`), in write order. */
  readonly transcript: Effect.Effect<ReadonlyArray<WireRecord>>
  /** Addresses currently listening. */
  readonly listeners: Effect.Effect<ReadonlyArray<string>>
}

interface InFlight {
  readonly deliverAt: number
  readonly bytes: Uint8Array
}

/** One direction of a connection. */
interface Pipe {
  readonly wire: Queue.Queue<InFlight, Cause.Done>
  readonly inbox: Queue.Queue<Uint8Array, TransportClosed | Cause.Done>
}

interface PairState {
  closed: boolean
}

const FIRST_LISTEN_PORT = 10_000
const FIRST_EPHEMERAL_PORT = 40_000
/** Client ports cycle through 40000..65535, like an OS's ephemeral range (addresses stay valid TCP ports). */
const EPHEMERAL_PORTS = 65_536 - FIRST_EPHEMERAL_PORT

/**
 * Creates a network. Its pump fibers live in the current scope: closing it stops all traffic.
 */
export const makeMemoryNetwork = (options: MemoryNetworkOptions = {}): Effect.Effect<MemoryNetwork, never, Scope.Scope> =>
  Effect.gen(function*() {
    const networkScope = yield* Effect.scope
    const delayMs = Duration.toMillis(options.delay ?? 0)
    const chunkCapacity = Math.max(1, options.chunkCapacity ?? 64)
    const backlog = Math.max(1, options.backlog ?? 64)
    const recordLimit = Math.max(0, options.recordLimit ?? 0)
    const listeners = new Map<string, Queue.Queue<Connection, Cause.Done>>()
    const transcript: Array<WireRecord> = []
    let nextListenPort = FIRST_LISTEN_PORT
    let ephemeralCount = 0

    const makePipe = Effect.gen(function*() {
      const pipe: Pipe = {
        wire: yield* Queue.bounded<InFlight, Cause.Done>(chunkCapacity),
        inbox: yield* Queue.bounded<Uint8Array, TransportClosed | Cause.Done>(chunkCapacity)
      }
      // Pump: deliver in order after the delay; end the inbox after the last chunk.
      const pump: Effect.Effect<void> = Effect.gen(function*() {
        while (true) {
          const next = yield* Effect.exit(Queue.take(pipe.wire))
          if (Exit.isFailure(next)) break
          const now = yield* Clock.currentTimeMillis
          if (next.value.deliverAt > now) yield* Effect.sleep(next.value.deliverAt - now)
          if (!(yield* Queue.offer(pipe.inbox, next.value.bytes))) break
        }
        yield* Queue.end(pipe.inbox)
      })
      yield* pump.pipe(Effect.forkIn(networkScope))
      return pipe
    })

    /** The end of a connection that writes into `out` and reads from `incoming`. */
    const makeEnd = (
      state: PairState,
      local: string,
      remote: SocketAddress,
      out: Pipe,
      incoming: Pipe
    ): Connection => {
      const remoteText = formatAddress(remote)
      let closedLocally = false
      const closedError = () =>
        new TransportClosed({ reason: closedLocally ? "closed locally" : "closed by remote" })
      return {
        remoteAddress: remote,
        read: Effect.suspend(() =>
          closedLocally ? Effect.fail(closedError()) : Queue.take(incoming.inbox)
        ).pipe(
          Effect.catchTag("Done", () => Effect.fail(closedError()))
        ),
        write: (data) =>
          Effect.gen(function*() {
            if (state.closed) return yield* Effect.fail(closedError())
            // One chunk on the simulated wire either way (the copy is needed anyway).
            const copy = data instanceof Uint8Array ? data.slice() : concatBytes(...data)
            if (copy.length === 0) return
            const now = yield* Clock.currentTimeMillis
            const accepted = yield* Queue.offer(out.wire, { deliverAt: now + delayMs, bytes: copy })
            if (!accepted) return yield* Effect.fail(closedError())
            if (transcript.length < recordLimit) transcript.push({ from: local, to: remoteText, bytes: copy })
          }),
        close: Effect.gen(function*() {
          if (closedLocally) return
          closedLocally = true
          state.closed = true
          yield* Queue.end(out.wire) // the remote still gets what we wrote, then EOF
          yield* Queue.end(incoming.wire) // the remote's writes now fail
          yield* Queue.fail(incoming.inbox, new TransportClosed({ reason: "closed locally" }))
        })
      }
    }

    const transport = (host: string): TransportShape => ({
      listen: (address) =>
        Effect.gen(function*() {
          let port = address.port
          if (port === 0) {
            while (listeners.has(formatAddress({ host: address.host, port: nextListenPort }))) nextListenPort++
            port = nextListenPort++
          }
          const bound: SocketAddress = { host: address.host, port }
          const key = formatAddress(bound)
          if (listeners.has(key)) {
            return yield* Effect.fail(new TransportError({ operation: "listen", address, message: "address in use" }))
          }
          const queue = yield* Queue.bounded<Connection, Cause.Done>(backlog)
          // Accepted connections still open (closing one removes it), closed with the listener.
          const accepted = new Set<Connection>()
          listeners.set(key, queue)
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              listeners.delete(key)
              yield* Queue.end(queue)
              for (const c of yield* Queue.clear(queue)) yield* c.close
              for (const c of accepted) yield* c.close
              accepted.clear()
            })
          )
          const listener: Listener = {
            address: bound,
            accept: Queue.take(queue).pipe(
              Effect.map((c) => {
                const tracked: Connection = {
                  ...c,
                  close: Effect.suspend(() => {
                    accepted.delete(tracked)
                    return c.close
                  })
                }
                accepted.add(tracked)
                return tracked
              }),
              Effect.catchTag("Done", () => Effect.fail(new TransportClosed({ reason: "listener closed" })))
            )
          }
          return listener
        }),
      connect: (address) =>
        Effect.gen(function*() {
          const queue = listeners.get(formatAddress(address))
          if (queue === undefined) {
            return yield* Effect.fail(new TransportError({ operation: "connect", address, message: "connection refused" }))
          }
          const clientAddress: SocketAddress = { host, port: FIRST_EPHEMERAL_PORT + (ephemeralCount++ % EPHEMERAL_PORTS) }
          const toServer = yield* makePipe
          const toClient = yield* makePipe
          const state: PairState = { closed: false }
          const client = makeEnd(state, formatAddress(clientAddress), address, toServer, toClient)
          const server = makeEnd(state, formatAddress(address), clientAddress, toClient, toServer)
          if (!Queue.offerUnsafe(queue, server)) {
            yield* client.close
            return yield* Effect.fail(new TransportError({ operation: "connect", address, message: "backlog full" }))
          }
          yield* Effect.addFinalizer(() => client.close)
          return client
        })
    })

    return {
      transport,
      layer: (host) => Layer.succeed(Transport, Transport.of(transport(host))),
      transcript: Effect.sync(() => transcript.slice()),
      listeners: Effect.sync(() => [...listeners.keys()])
    } satisfies MemoryNetwork
  })
