/**
 * Transport: how bytes reach other nodes. BOLT 8 runs over any reliable, ordered byte stream,
 * so the engine asks only for `listen` and `connect`, each giving duplex byte streams that
 * know their remote address. Layers: in-memory (tests and simulation, `src/layers/test/`),
 * TCP (`src/layers/node/`); a serial line or a simulated lossy link would fit the same shape.
 *
 * Lifetimes are scoped: a listener lives until the scope of `listen` closes (and takes every
 * connection it accepted with it); an outbound connection lives until the scope of `connect`
 * closes. `close` ends a single connection earlier. Implementations must bound their internal
 * buffers (apply backpressure to the remote rather than queueing without limit).
 */
import { Data, Context, type Effect, type Scope } from "effect"

/** A host and port, e.g. `{ host: "127.0.0.1", port: 9735 }`. `host` may be a DNS name or an IPv6 literal without brackets. */
export interface SocketAddress {
  readonly host: string
  readonly port: number
}

/** `host:port`, with IPv6 literals in brackets (`[::1]:9735`). */
export const formatAddress = (address: SocketAddress): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/** Parses `host:port` or `[v6]:port`; `undefined` when malformed or the port is outside 0..65535. */
export const parseAddress = (text: string): SocketAddress | undefined => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  if (m === null) return undefined
  const host = m[1] ?? m[2]
  const port = Number(m[3])
  if (host === undefined || host.length === 0 || !Number.isInteger(port) || port > 65535) return undefined
  return { host, port }
}

/**
 * The connection is closed: by the remote (EOF or reset), by `close`, or because its scope
 * ended. `reason` is for logs only.
 */
export class TransportClosed extends Data.TaggedError("TransportClosed")<{ readonly reason: string }> {}

/** `listen` or `connect` failed (address in use, refused, unreachable, no such host...). */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly operation: "listen" | "connect"
  readonly address: SocketAddress
  readonly message: string
}> {}

/** One duplex byte stream. Bytes arrive in order and unmodified, in chunks of any size. */
export interface Connection {
  /** Who is on the other end (for inbound TCP: the peer's source address and port). */
  readonly remoteAddress: SocketAddress
  /**
   * Waits for the next non-empty chunk of received bytes. Fails with `TransportClosed` once
   * the connection is closed and every chunk received before has been read. One reader at a time.
   */
  readonly read: Effect.Effect<Uint8Array, TransportClosed>
  /**
   * Sends bytes, or several chunks back to back in order (a BOLT 8 packet can go out as its
   * three parts without being copied into one buffer). May wait for backpressure. Fails with
   * `TransportClosed` once closed.
   */
  readonly write: (bytes: Uint8Array | ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportClosed>
  /** Closes both directions; idempotent. The remote's `read` then fails with `TransportClosed`. */
  readonly close: Effect.Effect<void>
}

/** A listening endpoint. */
export interface Listener {
  /** The bound address (a requested port 0 is resolved to the real one). */
  readonly address: SocketAddress
  /**
   * Waits for the next inbound connection. Fails with `TransportClosed` once the listener is
   * closed. An accepted connection lives until its `close` or until the listener's scope closes.
   */
  readonly accept: Effect.Effect<Connection, TransportClosed>
}

export interface TransportShape {
  readonly listen: (address: SocketAddress) => Effect.Effect<Listener, TransportError, Scope.Scope>
  readonly connect: (address: SocketAddress) => Effect.Effect<Connection, TransportError, Scope.Scope>
}

export class Transport extends Context.Service<Transport, TransportShape>()("effect-lightning/Transport") {}
