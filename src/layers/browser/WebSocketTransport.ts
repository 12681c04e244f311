/**
 * `Transport` over WebSockets, for a node in a browser tab: `connect` opens a WebSocket whose
 * binary messages carry the raw peer bytes (BOLT 8 packets, unchanged) to another node's peer
 * port, usually through a WebSocket-to-TCP bridge in front of that port
 * (`src/layers/node/WebSocketBridge.ts`). The bytes are a stream: message boundaries mean
 * nothing, as TCP segment boundaries mean nothing to BOLT 8.
 *
 * A browser cannot accept connections, so `listen` fails with `TransportError`: a node in a
 * tab dials out (to peers that accept WebSockets, or through a bridge).
 *
 * Bounds (the Transport contract asks for them): sends wait while the socket holds more than
 * `sendHighWaterMark` bytes unsent (`bufferedAmount`), which is backpressure on our writer. A
 * WebSocket cannot push back on what it receives, so bytes received and not yet read are counted
 * and a connection whose reader falls `maxBufferedBytes` behind is closed (`TransportClosed`)
 * rather than buffered without limit.
 *
 * Works wherever the standard `WebSocket` class exists: browsers, workers, Node 22+.
 */
import { Cause, Effect, Layer, Queue, type Scope } from "effect"
import {
  type Connection,
  type SocketAddress,
  Transport,
  TransportClosed,
  TransportError,
  type TransportShape
} from "../../services/Transport.ts"

export interface WebSocketTransportOptions {
  /**
   * The WebSocket URL of a peer address. Default `ws://host:port/` (a peer that accepts
   * WebSockets on its peer port); a bridge in front of a TCP node is mapped here.
   */
  readonly url?: (address: SocketAddress) => string
  /** Received bytes not yet read before the connection is closed (default 4 MiB). */
  readonly maxBufferedBytes?: number
  /** `write` waits while more than this many bytes wait to be sent (default 1 MiB). */
  readonly sendHighWaterMark?: number
}

/** `ws://host:port/`, with IPv6 literals in brackets. */
export const defaultWebSocketUrl = (address: SocketAddress): string =>
  `ws://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}/`

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * Close codes. The WebSocket API lets a client send only 1000 or an application code
 * (3000-4999, RFC 6455 section 7.4.2); ours mirror 1003 and 1008 of section 7.4.1.
 */
const NORMAL_CLOSURE = 1000
const UNSUPPORTED_DATA = 4003
const POLICY_VIOLATION = 4008

/** Opens one connection; it lives until `close` or the scope ends. */
const connectWebSocket = (
  address: SocketAddress,
  url: string,
  maxBufferedBytes: number,
  sendHighWaterMark: number
): Effect.Effect<Connection, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<Uint8Array, TransportClosed | Cause.Done>()
    let buffered = 0
    let closedLocally = false
    let closed = false
    const connectError = (message: string) => new TransportError({ operation: "connect", address, message })

    const socket = yield* Effect.callback<WebSocket, TransportError>((resume) => {
      let ws: WebSocket
      try {
        ws = new WebSocket(url)
      } catch (e) {
        resume(Effect.fail(connectError(`${url}: ${describe(e)}`)))
        return
      }
      ws.binaryType = "arraybuffer"
      let opened = false
      ws.onopen = () => {
        opened = true
        resume(Effect.succeed(ws))
      }
      ws.onmessage = (event) => {
        const data: unknown = event.data
        if (!(data instanceof ArrayBuffer)) {
          // Peer ports carry bytes only.
          ws.close(UNSUPPORTED_DATA, "binary messages only")
          closed = true
          Queue.failCauseUnsafe(inbox, Cause.fail(new TransportClosed({ reason: "the remote sent a text message" })))
          return
        }
        if (data.byteLength === 0) return
        buffered += data.byteLength
        if (buffered > maxBufferedBytes) {
          closed = true
          ws.close(POLICY_VIOLATION, "receive buffer full")
          Queue.failCauseUnsafe(inbox, Cause.fail(new TransportClosed({ reason: `more than ${maxBufferedBytes} bytes received and not read` })))
          return
        }
        Queue.offerUnsafe(inbox, new Uint8Array(data))
      }
      ws.onclose = (event) => {
        closed = true
        if (!opened) resume(Effect.fail(connectError(`${url}: closed before opening (code ${event.code})`)))
        else Queue.endUnsafe(inbox) // reads drain what arrived, then fail with TransportClosed
      }
      ws.onerror = () => {
        if (!opened) resume(Effect.fail(connectError(`${url}: connection failed`)))
      }
      return Effect.sync(() => ws.close())
    })

    const closedError = () => new TransportClosed({ reason: closedLocally ? "closed locally" : "closed by remote" })
    const close = Effect.sync(() => {
      if (closedLocally) return
      closedLocally = true
      closed = true
      socket.close(NORMAL_CLOSURE)
      Queue.endUnsafe(inbox)
    })
    yield* Effect.addFinalizer(() => close)

    /** Waits (polling, the socket has no drain event) until the unsent bytes fall below the mark. */
    const drained: Effect.Effect<void, TransportClosed> = Effect.gen(function*() {
      while (socket.bufferedAmount > sendHighWaterMark) {
        if (closed) return yield* Effect.fail(closedError())
        yield* Effect.sleep("5 millis")
      }
    })

    const connection: Connection = {
      remoteAddress: address,
      read: Effect.suspend(() => (closedLocally ? Effect.fail(closedError()) : Queue.take(inbox))).pipe(
        Effect.tap((chunk) => Effect.sync(() => void (buffered -= chunk.length))),
        Effect.catchTag("Done", () => Effect.fail(closedError()))
      ),
      write: (bytes) =>
        Effect.suspend(() => {
          if (closed) return Effect.fail(closedError())
          const chunks = bytes instanceof Uint8Array ? [bytes] : bytes
          try {
            // `send` copies the bytes before returning, so callers may reuse their buffers.
            for (const chunk of chunks) if (chunk.length > 0) socket.send(chunk)
          } catch (e) {
            return Effect.fail(new TransportClosed({ reason: describe(e) }))
          }
          return drained
        }),
      close
    }
    return connection
  })

/** A `Transport` that dials WebSockets (see the module doc). */
export const makeWebSocketTransport = (options: WebSocketTransportOptions = {}): TransportShape => {
  const url = options.url ?? defaultWebSocketUrl
  const maxBufferedBytes = Math.max(65_536, options.maxBufferedBytes ?? 4 * 1024 * 1024)
  const sendHighWaterMark = Math.max(1, options.sendHighWaterMark ?? 1024 * 1024)
  return {
    listen: (address) =>
      Effect.fail(new TransportError({ operation: "listen", address, message: "a WebSocket client cannot accept connections" })),
    connect: (address) => connectWebSocket(address, url(address), maxBufferedBytes, sendHighWaterMark)
  }
}

/** Layer form of `makeWebSocketTransport`. */
export const layer = (options: WebSocketTransportOptions = {}): Layer.Layer<Transport> =>
  Layer.succeed(Transport, Transport.of(makeWebSocketTransport(options)))
