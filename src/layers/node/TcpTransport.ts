/**
 * Production `Transport`: TCP through `@effect/platform-node` (`NodeSocketServer` for listening,
 * `NodeSocket.fromDuplex` over `node:net` for dialling). BOLT 8 runs over this byte stream.
 *
 * How the `effect/socket` model maps onto `Connection`:
 * - Acquiring a socket's `reader` opens it, and the scope of that acquisition owns it. Each
 *   connection gets its own scope; `Connection.close` closes that scope.
 * - `pull` never ends quietly: every close, clean ones included, fails with a `SocketError`
 *   (a `SocketCloseError` with code 1000 for a clean close). `read` turns every such failure
 *   into `TransportClosed`, after the bytes received before it.
 * - A write on a socket whose reader scope has closed would wait for a reconnection that never
 *   comes, so each connection keeps a "closed" signal (completed by `close`, by its scope
 *   ending and by the Node socket's `close` event) and writes fail once it is set. A write
 *   waiting for `drain` is failed by the socket's own `close`/`error` events.
 * - Closing flushes: the socket is ended (FIN after the queued bytes, so a last `warning` or
 *   `error` message reaches the peer) and destroyed once flushed, or after `closeGraceMillis`.
 * - Reads are pulled: Node's socket stays paused until `read` asks, so a slow reader holds the
 *   remote back through TCP flow control instead of growing a buffer here.
 *
 * Inbound connections wait in a bounded accept queue (`acceptBacklog`); one arriving when it is
 * full is closed at once rather than queued without limit.
 */
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { Deferred, Effect, Exit, Layer, Option, Queue, Scope } from "effect"
import type { Cause } from "effect"
import * as NetAddress from "effect/net/NetAddress"
import { Socket } from "effect/socket"
import * as Net from "node:net"
import {
  type Connection,
  type Listener,
  type SocketAddress,
  Transport,
  TransportClosed,
  TransportError
} from "../../services/Transport.ts"

export interface TcpTransportOptions {
  /** Inbound connections accepted by the OS but not yet taken by `accept`. Default 64. */
  readonly acceptBacklog?: number
  /** How long `connect` waits for the TCP connection to open. Default 10 seconds. */
  readonly connectTimeoutMillis?: number
  /**
   * How long a closed connection (either direction) may take to flush before it is destroyed.
   * Default 5 seconds. Without this bound a remote that stops reading (a zero TCP window) would
   * keep every socket we closed open forever.
   */
  readonly closeGraceMillis?: number
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message
  return String(error)
}

/** A SocketError's reason as a short human text (open errors carry the Node error). */
const describeSocketError = (error: Socket.SocketError): string => {
  const reason = error.reason
  switch (reason._tag) {
    case "SocketCloseError":
      return reason.code === 1000 ? "closed by the remote" : `connection lost (code ${reason.code})`
    case "SocketOpenError":
      return reason.kind === "Timeout" ? "timed out" : describe(reason.cause)
    case "SocketReadError":
    case "SocketWriteError":
      return describe(reason.cause)
    case "SocketUpgradeError":
      return "upgrade failed"
  }
}

/**
 * Builds a `Connection` over an opened socket. `closed` completes when the connection is over
 * (closed locally, or the Node socket emitted `close`); `close` ends it locally.
 */
const makeConnection = (options: {
  readonly remoteAddress: SocketAddress
  readonly pull: Effect.Effect<ReadonlyArray<Uint8Array>, Socket.SocketError>
  readonly writer: Socket.Writer
  readonly closed: Deferred.Deferred<void>
  readonly close: Effect.Effect<void>
}): Connection => {
  const { closed, pull, writer } = options
  // Chunks of the last pull not yet handed out (at most one pull's batch).
  let buffered: Array<Uint8Array> = []
  let readFailure: TransportClosed | undefined

  const read: Effect.Effect<Uint8Array, TransportClosed> = Effect.suspend(() => {
    const next = buffered.shift()
    if (next !== undefined) return Effect.succeed(next)
    if (readFailure !== undefined) return Effect.fail(readFailure)
    return pull.pipe(
      Effect.mapError((error) => {
        readFailure = new TransportClosed({ reason: describeSocketError(error) })
        return readFailure
      }),
      Effect.flatMap((chunks) => {
        buffered = chunks.filter((chunk) => chunk.length > 0)
        return read
      })
    )
  })

  const writeChunk = (bytes: Uint8Array): Effect.Effect<void, TransportClosed> =>
    Effect.suspend(() => {
      if (Deferred.isDoneUnsafe(closed)) return Effect.fail(new TransportClosed({ reason: "connection closed" }))
      if (bytes.length === 0) return Effect.void
      return writer.write(bytes).pipe(
        Effect.mapError((error) => new TransportClosed({ reason: describeSocketError(error) }))
      )
    })
  const write = (data: Uint8Array | ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportClosed> =>
    data instanceof Uint8Array ? writeChunk(data) : Effect.forEach(data, writeChunk, { discard: true })

  return { remoteAddress: options.remoteAddress, read, write, close: options.close }
}

/** Completes `closed` when the Node socket closes (remote FIN/RST, error or local destroy). */
const watchClose = (socket: Net.Socket, closed: Deferred.Deferred<void>): void => {
  if (socket.closed) Deferred.doneUnsafe(closed, Exit.void)
  else socket.once("close", () => Deferred.doneUnsafe(closed, Exit.void))
}

const listenerClosed = new TransportClosed({ reason: "listener closed" })

/** Destroys `socket` after the grace period unless it is gone by then (the timer keeps no process alive). */
const destroyAfterGrace = (socket: Net.Socket, options: TcpTransportOptions): void => {
  if (!socket.destroyed) setTimeout(() => socket.destroy(), options.closeGraceMillis ?? 5_000).unref()
}

const listen = (options: TcpTransportOptions) => (address: SocketAddress) =>
  Effect.gen(function*() {
    const server = yield* NodeSocketServer.make({ host: address.host, port: address.port }).pipe(
      Effect.mapError((error) =>
        new TransportError({ operation: "listen", address, message: describe(error.reason.cause) })
      )
    )
    const bound = server.address
    if (bound._tag === "UnixPathAddress") {
      return yield* new TransportError({ operation: "listen", address, message: "bound to a unix path" })
    }
    const boundAddress: SocketAddress = { host: NetAddress.formatHost(bound), port: bound.port }

    const accepted = yield* Queue.dropping<Connection, Cause.Done>(options.acceptBacklog ?? 64)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Queue.end(accepted)
        for (const connection of yield* Queue.clear(accepted)) yield* connection.close
      })
    )

    // One fiber per inbound socket; it owns the socket until the connection is over.
    const handle = (socket: Socket.Socket) =>
      Effect.gen(function*() {
        // NodeSocketServer provides the Node socket to each handler (not visible in the types).
        const found = yield* Effect.serviceOption(NodeSocket.NetSocket)
        if (Option.isNone(found)) return yield* Effect.die("NodeSocketServer gave no NetSocket")
        const netSocket = found.value
        const closed = yield* Deferred.make<void>()
        watchClose(netSocket, closed)
        // The server ends the socket gracefully when this handler's scope closes; bound that wait.
        yield* Effect.addFinalizer(() => Effect.sync(() => destroyAfterGrace(netSocket, options)))
        const pull = yield* Socket.readerBytes(socket)
        const writer = yield* socket.writer
        const connection = makeConnection({
          remoteAddress: { host: netSocket.remoteAddress ?? "unknown", port: netSocket.remotePort ?? 0 },
          pull,
          writer,
          closed,
          close: Effect.asVoid(Deferred.succeed(closed, undefined))
        })
        if (!(yield* Queue.offer(accepted, connection))) {
          yield* Effect.logWarning(`inbound connection from ${netSocket.remoteAddress} dropped: accept backlog full`)
          return
        }
        yield* Deferred.await(closed)
      }).pipe(
        Effect.scoped, // closes the socket
        Effect.catch((error) => Effect.logDebug(`inbound connection failed: ${describeSocketError(error)}`))
      )
    yield* Effect.forkScoped(server.run(handle))

    const accept: Effect.Effect<Connection, TransportClosed> = Queue.take(accepted).pipe(
      Effect.catch(() => Effect.fail(listenerClosed))
    )
    return { address: boundAddress, accept } satisfies Listener
  })

const connect = (options: TcpTransportOptions) => (address: SocketAddress) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Effect.scope)
    const closed = yield* Deferred.make<void>()
    const close = Effect.andThen(Deferred.succeed(closed, undefined), Scope.close(scope, Exit.void))
    // Dial with node:net directly (rather than NodeSocket.makeNet) to keep the net.Socket for
    // its `close` event and destroy it when the connection's scope closes.
    const open = Effect.acquireRelease(
      Effect.callback<Net.Socket, Socket.SocketError>((resume) => {
        const netSocket = Net.createConnection({ host: address.host, port: address.port })
        const onError = (cause: Error) =>
          resume(Effect.fail(new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) })))
        netSocket.once("error", onError)
        netSocket.once("connect", () => {
          netSocket.off("error", onError)
          resume(Effect.succeed(netSocket))
        })
        return Effect.sync(() => netSocket.destroy())
      }),
      (netSocket) =>
        Effect.sync(() => {
          if (netSocket.destroyed) return
          // end() then destroy once flushed; a remote that never reads gets the grace period.
          netSocket.destroySoon()
          destroyAfterGrace(netSocket, options)
        })
    )
    let dialled: Net.Socket | undefined
    const socket = yield* NodeSocket.fromDuplex(Effect.tap(open, (s) => Effect.sync(() => (dialled = s))), {
      openTimeout: options.connectTimeoutMillis ?? 10_000
    })
    const pull = yield* Socket.readerBytes(socket).pipe(
      Scope.provide(scope),
      Effect.mapError((error) => new TransportError({ operation: "connect", address, message: describeSocketError(error) })),
      Effect.onError(() => Scope.close(scope, Exit.void))
    )
    const writer = yield* socket.writer.pipe(Scope.provide(scope))
    if (dialled !== undefined) watchClose(dialled, closed)
    yield* Scope.addFinalizer(scope, Deferred.succeed(closed, undefined))
    return makeConnection({ remoteAddress: address, pull, writer, closed, close })
  })

/** The TCP `Transport`. */
export const makeTcpTransport = (options: TcpTransportOptions = {}) =>
  Transport.of({ listen: listen(options), connect: connect(options) })

export const layer = (options: TcpTransportOptions = {}): Layer.Layer<Transport> =>
  Layer.succeed(Transport, makeTcpTransport(options))
