/**
 * The WebSocket-to-TCP bridge (src/layers/node/WebSocketBridge.ts) and the WebSocket transport
 * (src/layers/browser/WebSocketTransport.ts), under Node (its built-in WebSocket client):
 * - the transport alone: bytes both ways, close, `listen` refused, the receive bound;
 * - a node dialing over WebSockets through the bridge opens a channel to a node listening on TCP
 *   and pays its invoice (the demo's bridged scenario, with in-memory stores);
 * - the RFC 6455 handshake and framing rules, checked with raw sockets: the accept key, masked
 *   frames only, ping answered by pong, text refused with 1003, oversized frames with 1009,
 *   a wrong version with 426, an unknown origin with 403.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { connect, createServer, type Socket } from "node:net"
import { openChannel, payOne, PEER_PORT, startBridged, summary } from "../../browser/demo/scenario.ts"
import { startDemoServer } from "../../browser/demo/server.ts"
import { makeWebSocketTransport } from "../../src/layers/browser/WebSocketTransport.ts"
import * as WebSocketTransport from "../../src/layers/browser/WebSocketTransport.ts"
import * as WebSocketBridge from "../../src/layers/node/WebSocketBridge.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { msat } from "../../src/protocol/units.ts"
import { Store } from "../../src/services/Store.ts"

const keys = {
  seed: (name: string) => Effect.succeed(sha256(new TextEncoder().encode(`bridge-test/${name}`))),
  entropy: SeededEntropy.layer("bridge-test")
}
const stores = () => Layer.sync(Store, () => makeMemoryStore().store)

/** Sends `request` bytes on a raw TCP socket to the bridge and collects what comes back until it closes. */
const raw = (port: number, request: Uint8Array | string, frames: ReadonlyArray<Uint8Array> = []) =>
  Effect.callback<Buffer>((resume) => {
    const socket = connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    socket.on("connect", () => {
      socket.write(request)
      for (const f of frames) socket.write(f)
    })
    socket.on("data", (c: Buffer) => chunks.push(c))
    socket.on("close", () => resume(Effect.succeed(Buffer.concat(chunks))))
    socket.on("error", () => {})
    // A connection the bridge keeps open (the echo) is ended by us after a while.
    setTimeout(() => socket.destroy(), 1000).unref()
  })

/** A TCP server echoing every byte, for the scope. */
const echoServer = Effect.acquireRelease(
  Effect.callback<{ port: number; close: () => void }>((resume) => {
    const s = createServer((c: Socket) => {
      c.on("error", () => {})
      c.pipe(c)
    })
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      resume(Effect.succeed({ port: typeof a === "object" && a !== null ? a.port : 0, close: () => s.close() }))
    })
  }),
  (e) => Effect.sync(e.close)
)

const KEY = "dGhlIHNhbXBsZSBub25jZQ=="
const upgrade = (headers = "Sec-WebSocket-Version: 13\r\n") =>
  `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n${headers}\r\n`

/** A client frame: FIN, `opcode`, masked with a fixed key. */
const clientFrame = (opcode: number, payload: Uint8Array, masked = true): Uint8Array => {
  const mask = Uint8Array.of(1, 2, 3, 4)
  const header = payload.length < 126 ? [0x80 | opcode, (masked ? 0x80 : 0) | payload.length] : [0x80 | opcode, (masked ? 0x80 : 0) | 126, payload.length >> 8, payload.length & 0xff]
  const body = masked ? payload.map((b, i) => b ^ (mask[i & 3] ?? 0)) : payload
  return Uint8Array.from([...header, ...(masked ? mask : []), ...body])
}

/** The close code of the last frame in `bytes` after the 101 response, if it is a close frame. */
const closeCode = (bytes: Buffer): number | undefined => {
  const end = bytes.indexOf("\r\n\r\n")
  const frames = bytes.subarray(end + 4)
  for (let i = 0; i + 1 < frames.length;) {
    const opcode = (frames[i] ?? 0) & 0x0f
    const length = (frames[i + 1] ?? 0) & 0x7f
    if (opcode === 0x8) return frames.readUInt16BE(i + 2)
    i += 2 + length
  }
  return undefined
}

describe("WebSocket-to-TCP bridge", () => {
  it.live("a node over WebSockets pays a TCP node through the bridge", () =>
    Effect.gen(function*() {
      const server = yield* startDemoServer()
      const log: Array<string> = []
      const transport = WebSocketTransport.layer({ url: () => `ws://127.0.0.1:${server.bridge.address.port}/` })
      const { node, chain } = yield* startBridged(keys, () => stores(), transport, (l) => void log.push(l))
      yield* openChannel(node, chain, server.node.nodeId, { host: "node", port: PEER_PORT }, 500_000n, (l) => void log.push(l))
      const created = yield* server.node.payments.createInvoice({ amountMsat: msat(30_000_000n), description: { text: "t" } })
      const preimage = yield* payOne(node, created.invoice, (l) => void log.push(l))
      assert.strictEqual(preimage.length, 64)
      const received = yield* server.node.payments.invoice(created.paymentHash)
      assert.strictEqual(received?.status, "paid", log.join("\n"))
      assert.deepStrictEqual((yield* summary(node)).payments.map((p) => p.status), ["succeeded"])
      assert.strictEqual(yield* server.bridge.connections, 1)
    }).pipe(Effect.scoped))

  it.live("the WebSocket transport: bytes both ways, close, no listening, a bounded receive buffer", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const bridge = yield* WebSocketBridge.make({ listen: { host: "127.0.0.1", port: 0 }, target: { host: "127.0.0.1", port: echo.port } })
      const url = `ws://127.0.0.1:${bridge.address.port}/`
      const transport = makeWebSocketTransport({ url: () => url, maxBufferedBytes: 65_536 })
      const address = { host: "peer", port: 9735 }
      const listened = yield* Effect.exit(Effect.scoped(transport.listen(address)))
      assert.isTrue(Exit.isFailure(listened))
      const refused = yield* Effect.exit(Effect.scoped(makeWebSocketTransport({ url: () => "ws://127.0.0.1:1/" }).connect(address)))
      assert.strictEqual(Exit.isFailure(refused) ? Exit.findErrorOption(refused).pipe((o) => (o._tag === "Some" ? o.value._tag : "")) : "", "TransportError")

      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* transport.connect(address)
        yield* c.write([Uint8Array.of(1, 2), Uint8Array.of(3)])
        const got: Array<number> = []
        while (got.length < 3) got.push(...(yield* c.read))
        assert.deepStrictEqual(got, [1, 2, 3])
        yield* c.close
        assert.strictEqual((yield* Effect.flip(c.read))._tag, "TransportClosed")
        assert.strictEqual((yield* Effect.flip(c.write(Uint8Array.of(1))))._tag, "TransportClosed")
      }))

      // A reader that falls more than maxBufferedBytes behind loses the connection, not memory.
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* transport.connect(address)
        yield* c.write(new Uint8Array(100_000))
        yield* Effect.sleep("500 millis")
        let read = 0
        const end = yield* Effect.flip(Effect.forever(Effect.map(c.read, (chunk) => void (read += chunk.length))))
        assert.strictEqual(end._tag, "TransportClosed")
        assert.isBelow(read, 100_000)
      }))
    }).pipe(Effect.scoped))

  it.live("speaks RFC 6455: handshake, masking, ping, text, size, version, origin", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const bridge = yield* WebSocketBridge.make({
        listen: { host: "127.0.0.1", port: 0 },
        target: { host: "127.0.0.1", port: echo.port },
        allowedOrigins: ["http://good.example"],
        maxFrameBytes: 1000
      })
      const port = bridge.address.port
      // RFC 6455 section 1.3's example key and accept value.
      assert.strictEqual(WebSocketBridge.acceptKey(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
      const echoed = yield* raw(port, upgrade(), [clientFrame(0x2, Uint8Array.of(1, 2, 3)), clientFrame(0x9, Uint8Array.of(7))])
      const text = echoed.toString("latin1")
      assert.include(text, "HTTP/1.1 101 Switching Protocols")
      assert.include(text, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
      const body = echoed.subarray(echoed.indexOf("\r\n\r\n") + 4)
      // The binary payload comes back as an unmasked binary frame (the echo), the ping as a pong.
      assert.isTrue(body.includes(Buffer.from([0x82, 3, 1, 2, 3])), body.toString("hex"))
      assert.isTrue(body.includes(Buffer.from([0x8a, 1, 7])), body.toString("hex"))
      assert.strictEqual(closeCode(yield* raw(port, upgrade(), [clientFrame(0x2, Uint8Array.of(1), false)])), 1002)
      assert.strictEqual(closeCode(yield* raw(port, upgrade(), [clientFrame(0x1, new TextEncoder().encode("hi"))])), 1003)
      assert.strictEqual(closeCode(yield* raw(port, upgrade(), [clientFrame(0x2, new Uint8Array(1001))])), 1009)
      assert.include((yield* raw(port, upgrade("Sec-WebSocket-Version: 8\r\n"))).toString("latin1"), "426 Upgrade Required")
      assert.include((yield* raw(port, upgrade("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n"))).toString("latin1"), "403 Forbidden")
      assert.include((yield* raw(port, upgrade("Sec-WebSocket-Version: 13\r\nOrigin: http://good.example\r\n"))).toString("latin1"), "101 Switching")
      assert.include((yield* raw(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).toString("latin1"), "426")
    }).pipe(Effect.scoped))
})
