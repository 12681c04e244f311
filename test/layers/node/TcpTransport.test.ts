import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import * as TcpTransport from "../../../src/layers/node/TcpTransport.ts"
import { type Connection, Transport } from "../../../src/services/Transport.ts"

/** Reads exactly `n` bytes (chunks arrive in any size). */
const readExactly = (connection: Connection, n: number) =>
  Effect.gen(function*() {
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = yield* connection.read
      assert.isAbove(chunk.length, 0)
      assert.isAtMost(filled + chunk.length, n, "received more bytes than were sent")
      out.set(chunk, filled)
      filled += chunk.length
    }
    return out
  })

/** Hang guard for real sockets: a test that stalls fails with its own message well before the runner's timeout. */
const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("no result in 20 s")) }))

const pattern = (n: number, salt: number) => new Uint8Array(n).map((_, i) => (i * 31 + salt) & 0xff)

describe("TcpTransport", () => {
  it.live("round trip both ways on 127.0.0.1, then a clean close seen by the other side", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
      assert.strictEqual(listener.address.host, "127.0.0.1")
      assert.isAbove(listener.address.port, 0)

      const acceptFiber = yield* Effect.forkChild(listener.accept)
      const client = yield* transport.connect(listener.address)
      const server = yield* Fiber.join(acceptFiber)
      assert.strictEqual(server.remoteAddress.host, "127.0.0.1")
      assert.deepStrictEqual(client.remoteAddress, listener.address)

      // Large enough to need several chunks and backpressure.
      const up = pattern(1_000_000, 1)
      const down = pattern(300_000, 7)
      const [gotUp] = yield* Effect.all([readExactly(server, up.length), client.write(up)], { concurrency: 2 })
      assert.deepStrictEqual(gotUp, up)
      const [gotDown] = yield* Effect.all([readExactly(client, down.length), server.write(down)], { concurrency: 2 })
      assert.deepStrictEqual(gotDown, down)

      // Several chunks in one write arrive back to back, in order.
      const parts = [pattern(18, 3), pattern(65_535, 4), new Uint8Array(0), pattern(16, 5)]
      const [gotParts] = yield* Effect.all([readExactly(server, 18 + 65_535 + 16), client.write(parts)], { concurrency: 2 })
      assert.deepStrictEqual(gotParts, Uint8Array.from([...parts[0] ?? [], ...parts[1] ?? [], ...parts[3] ?? []]))

      // Client closes: the server's read fails with TransportClosed, writes on the client fail too.
      yield* client.write(Uint8Array.of(1, 2, 3))
      yield* client.close
      yield* client.close // idempotent
      assert.deepStrictEqual(yield* readExactly(server, 3), Uint8Array.of(1, 2, 3))
      const serverRead = yield* Effect.flip(server.read)
      assert.strictEqual(serverRead._tag, "TransportClosed")
      const clientWrite = yield* Effect.flip(client.write(Uint8Array.of(9)))
      assert.strictEqual(clientWrite._tag, "TransportClosed")
      const clientRead = yield* Effect.flip(client.read)
      assert.strictEqual(clientRead._tag, "TransportClosed")
    }).pipe(bounded, Effect.provide(TcpTransport.layer())))

  it.live("the server closing ends the client's read and write", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
      const acceptFiber = yield* Effect.forkChild(listener.accept)
      const client = yield* transport.connect(listener.address)
      const server = yield* Fiber.join(acceptFiber)
      const pendingRead = yield* Effect.forkChild(Effect.flip(client.read))
      yield* server.close
      const error = yield* Fiber.join(pendingRead)
      assert.strictEqual(error._tag, "TransportClosed")
      // The write may be buffered by the kernel first, but it never hangs: retry until it fails.
      const writeError = yield* Effect.flip(
        Effect.forever(Effect.andThen(client.write(new Uint8Array(65536)), Effect.sleep("5 millis")))
      )
      assert.strictEqual(writeError._tag, "TransportClosed")
    }).pipe(bounded, Effect.provide(TcpTransport.layer())))

  it.live("bytes written just before close still arrive (close flushes), both directions", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
      for (const closer of ["client", "server"] as const) {
        const acceptFiber = yield* Effect.forkChild(listener.accept)
        const client = yield* transport.connect(listener.address)
        const server = yield* Fiber.join(acceptFiber)
        const [from, to] = closer === "client" ? [client, server] : [server, client]
        const payload = pattern(2_000_000, closer === "client" ? 3 : 5)
        const reader = yield* Effect.forkChild(readExactly(to, payload.length))
        yield* from.write(payload)
        yield* from.close
        assert.deepStrictEqual(yield* Fiber.join(reader), payload, closer)
        assert.strictEqual((yield* Effect.flip(to.read))._tag, "TransportClosed", closer)
      }
    }).pipe(bounded, Effect.provide(TcpTransport.layer())))

  it.live("a remote that stops reading cannot keep a closed connection open: it is destroyed after the grace period", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
      for (const closer of ["server", "client"] as const) {
        const acceptFiber = yield* Effect.forkChild(listener.accept)
        const client = yield* transport.connect(listener.address)
        const server = yield* Fiber.join(acceptFiber)
        const [from, to] = closer === "client" ? [client, server] : [server, client]
        // Far more than the kernel buffers hold while `to` does not read: most stays queued in `from`.
        const payload = new Uint8Array(16 * 1024 * 1024)
        yield* Effect.forkChild(Effect.ignore(from.write(payload)))
        yield* Effect.sleep("50 millis")
        yield* from.close
        yield* Effect.sleep("500 millis") // well past the 100 ms grace
        let received = 0
        const end = yield* Effect.flip(Effect.forever(Effect.map(to.read, (chunk) => (received += chunk.length))))
        assert.strictEqual(end._tag, "TransportClosed", closer)
        assert.isBelow(received, payload.length, `${closer}: the unread rest was dropped, not flushed forever`)
      }
    }).pipe(bounded, Effect.provide(TcpTransport.layer({ closeGraceMillis: 100 }))))

  it.live("connect to a port nobody listens on fails with TransportError", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      // Bind a port, then free it: nothing listens there afterwards.
      const scope = yield* Scope.make()
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 }).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(transport.connect(listener.address))
      assert.strictEqual(error._tag, "TransportError")
      assert.strictEqual(error.operation, "connect")
      assert.match(error.message, /ECONNREFUSED/)
    }).pipe(bounded, Effect.provide(TcpTransport.layer())))

  it.live("listen on a port in use fails with TransportError", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const first = yield* transport.listen({ host: "127.0.0.1", port: 0 })
      const error = yield* Effect.flip(transport.listen(first.address))
      assert.strictEqual(error._tag, "TransportError")
      assert.strictEqual(error.operation, "listen")
      assert.match(error.message, /EADDRINUSE/)
    }).pipe(bounded, Effect.provide(TcpTransport.layer())))

  it.live("closing the listener's scope fails accept and closes accepted connections", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const scope = yield* Scope.make()
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 }).pipe(Scope.provide(scope))
      const client = yield* transport.connect(listener.address)
      const server = yield* listener.accept
      const pendingAccept = yield* Effect.forkChild(Effect.flip(listener.accept))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* Fiber.join(pendingAccept))._tag, "TransportClosed")
      assert.strictEqual((yield* Effect.flip(server.read))._tag, "TransportClosed")
      assert.strictEqual((yield* Effect.flip(client.read))._tag, "TransportClosed")
    }).pipe(bounded, Effect.provide(TcpTransport.layer())))

  it.live("a full accept backlog closes new inbound connections instead of queueing them", () =>
    Effect.gen(function*() {
      const transport = yield* Transport
      const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
      const clients = [yield* transport.connect(listener.address), yield* transport.connect(listener.address)]
      // Nobody accepts yet: the backlog (1) holds one of them, the listener closes the other.
      yield* Effect.forEach(clients, (client, i) => Effect.ignore(client.write(Uint8Array.of(i))))
      const accepted = yield* listener.accept
      const [which] = yield* readExactly(accepted, 1)
      assert.oneOf(which, [0, 1])
      const dropped = clients[which === 0 ? 1 : 0]
      assert.isDefined(dropped)
      if (dropped !== undefined) assert.strictEqual((yield* Effect.flip(dropped.read))._tag, "TransportClosed")
    }).pipe(bounded, Effect.provide(TcpTransport.layer({ acceptBacklog: 1 }))))
})
