import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeMemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import { formatAddress, parseAddress } from "../../../src/services/Transport.ts"

const text = (b: Uint8Array) => new TextDecoder().decode(b)
const bytes = (s: string) => new TextEncoder().encode(s)

describe("in-memory Transport", () => {
  it.effect("connect and accept give a duplex pipe with addresses", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ recordLimit: 100 })
      const server = net.transport("10.0.0.1")
      const client = net.transport("10.0.0.2")
      const listener = yield* server.listen({ host: "10.0.0.1", port: 9735 })
      assert.deepStrictEqual(listener.address, { host: "10.0.0.1", port: 9735 })
      const c = yield* client.connect({ host: "10.0.0.1", port: 9735 })
      const s = yield* listener.accept
      assert.strictEqual(s.remoteAddress.host, "10.0.0.2")
      assert.deepStrictEqual(c.remoteAddress, { host: "10.0.0.1", port: 9735 })
      yield* c.write(bytes("ping"))
      assert.strictEqual(text(yield* s.read), "ping")
      yield* s.write(bytes("pong"))
      assert.strictEqual(text(yield* c.read), "pong")
      yield* c.write([bytes("se"), new Uint8Array(0), bytes("veral")])
      assert.strictEqual(text(yield* s.read), "several")
      const t = yield* net.transcript
      assert.deepStrictEqual(t.map((r) => [r.from === formatAddress(s.remoteAddress), text(r.bytes)]), [[true, "ping"], [false, "pong"], [true, "several"]])
    }))

  it.effect("close delivers what was written, then the remote read fails; writes fail", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const t = net.transport("h")
      const listener = yield* t.listen({ host: "h", port: 0 })
      const c = yield* t.connect(listener.address)
      const s = yield* listener.accept
      yield* c.write(bytes("last words"))
      yield* c.close
      assert.strictEqual(text(yield* s.read), "last words")
      const e = yield* Effect.flip(s.read)
      assert.strictEqual(e.reason, "closed by remote")
      assert.strictEqual((yield* Effect.flip(s.write(bytes("x"))))._tag, "TransportClosed")
      assert.strictEqual((yield* Effect.flip(c.read)).reason, "closed locally")
    }))

  it.effect("refused without a listener, address in use, listener scope closes connections", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const t = net.transport("h")
      const refused = yield* Effect.flip(t.connect({ host: "h", port: 1 }))
      assert.strictEqual(refused.message, "connection refused")
      const s = yield* Effect.gen(function*() {
        const listener = yield* t.listen({ host: "h", port: 5 })
        const inUse = yield* Effect.flip(t.listen({ host: "h", port: 5 }))
        assert.strictEqual(inUse.message, "address in use")
        const c = yield* t.connect(listener.address).pipe(Effect.scoped)
        void c
        return yield* listener.accept
      }).pipe(Effect.scoped)
      assert.strictEqual((yield* Effect.flip(s.read))._tag, "TransportClosed")
      assert.deepStrictEqual(yield* net.listeners, [])
      assert.strictEqual(parseAddress("[::1]:9735")?.host, "::1")
      assert.isUndefined(parseAddress("h:70000"))
    }))

  it.effect("delivery waits for the configured delay under TestClock", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ delay: "50 millis" })
      const t = net.transport("h")
      const listener = yield* t.listen({ host: "h", port: 1 })
      const c = yield* t.connect(listener.address)
      const s = yield* listener.accept
      yield* c.write(bytes("a"))
      yield* c.write(bytes("b"))
      const reader = yield* Effect.forkChild(s.read)
      yield* TestClock.adjust("49 millis")
      assert.isUndefined(reader.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(text(yield* Fiber.join(reader)), "a")
      assert.strictEqual(text(yield* s.read), "b")
    }))

  it.effect("a pipe is bounded: a writer waits while the reader does not read", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ chunkCapacity: 2 })
      const t = net.transport("h")
      const listener = yield* t.listen({ host: "h", port: 1 })
      const c = yield* t.connect(listener.address)
      const s = yield* listener.accept
      const writer = yield* Effect.forkChild(Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], (i) => c.write(Uint8Array.of(i))))
      yield* TestClock.adjust("1 second")
      assert.isUndefined(writer.pollUnsafe())
      const got: Array<number> = []
      while (got.length < 8) for (const b of yield* s.read) got.push(b)
      yield* Fiber.join(writer)
      assert.deepStrictEqual(got, [1, 2, 3, 4, 5, 6, 7, 8])
    }))
})
