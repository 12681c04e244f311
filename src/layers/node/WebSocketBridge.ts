/**
 * A WebSocket-to-TCP bridge: lets a node in a browser tab (`src/layers/browser/WebSocketTransport.ts`)
 * reach a node's peer port. Each WebSocket accepted here gets its own TCP connection to ONE
 * configured target (the node's peer port, never an address the client chooses: an open relay
 * would let any web page reach any host), and the bytes flow unchanged both ways: the binary
 * messages' payloads are the BOLT 8 stream, so the node behind sees an ordinary TCP peer.
 * Optional: a node that never serves browsers does not run it.
 *
 * The minimal server side of RFC 6455, by hand over `node:http` (Node has a WebSocket client,
 * no server):
 * - Opening handshake (section 4.2): a GET with `Upgrade: websocket`, `Connection: Upgrade`,
 *   `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` of 16 base64 bytes, answered with
 *   101 and `Sec-WebSocket-Accept` = base64(SHA-1(key || the RFC's GUID)) once the TCP
 *   connection to the target is up (502 if it cannot be made, 426 for another version, 403 for
 *   an `Origin` outside `allowedOrigins` when that list is given (section 10.2), 503 beyond `maxConnections`).
 *   No extensions or subprotocols are negotiated.
 * - Framing (section 5): client frames must be masked (5.1) and have no RSV bits (5.2); binary
 *   (0x2) and continuation (0x0) payloads are written to TCP as they arrive (message boundaries
 *   carry no meaning here), text (0x1) closes with 1003; ping (0x9) is answered by a pong with
 *   its payload, pong (0xA) ignored, close (0x8) echoed and the TCP side ended (5.5.1). Control
 *   frames must be final with at most 125 bytes (5.5). Server frames are unmasked binary
 *   frames, one per TCP chunk.
 * - Bounds: a frame longer than `maxFrameBytes` closes with 1009; the receive buffer never holds
 *   more than one frame plus one socket read; each side is paused while the other cannot take
 *   more (`write` returned false, until `drain`), so a slow end pushes back on the fast one.
 */
import { createHash } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import { connect as tcpConnect, type Socket } from "node:net"
import type { Duplex } from "node:stream"
import { Effect, type Scope } from "effect"
import { type SocketAddress, TransportError } from "../../services/Transport.ts"

export interface WebSocketBridgeOptions {
  /** Where the bridge accepts WebSockets (port 0: any free port). */
  readonly listen: SocketAddress
  /** The one TCP address every WebSocket is bridged to: the node's peer port. */
  readonly target: SocketAddress
  /**
   * Accepted `Origin` headers (e.g. `http://localhost:8080`); default any. Browsers always send
   * one, so this keeps other web pages out; a request without one (a program, which could dial
   * the TCP port itself anyway) is accepted.
   */
  readonly allowedOrigins?: ReadonlyArray<string>
  /** Open bridged connections at most (default 64). */
  readonly maxConnections?: number
  /** Largest client frame payload (default 1 MiB; a BOLT 8 packet is at most 65,569 bytes). */
  readonly maxFrameBytes?: number
}

export interface WebSocketBridge {
  /** The bound address (a requested port 0 resolved). */
  readonly address: SocketAddress
  /** Bridged connections currently open. */
  readonly connections: Effect.Effect<number>
}

/** RFC 6455 section 1.3. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** Close codes (RFC 6455 section 7.4.1). */
const CLOSE_NORMAL = 1000
const CLOSE_PROTOCOL_ERROR = 1002
const CLOSE_UNSUPPORTED_DATA = 1003
const CLOSE_TOO_BIG = 1009
const CLOSE_INTERNAL_ERROR = 1011

/** How long a closing client has to close its socket after our close frame. */
const CLOSE_GRACE_MS = 5_000

const OP_CONTINUATION = 0x0
const OP_TEXT = 0x1
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa

/** `Sec-WebSocket-Accept` for a client key (RFC 6455 section 4.2.2, item 5.4). */
export const acceptKey = (key: string): string => createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64")

/** A server frame header: FIN set, unmasked, `length` bytes of payload to follow. */
export const frameHeader = (opcode: number, length: number): Uint8Array => {
  if (length < 126) return Uint8Array.of(0x80 | opcode, length)
  if (length < 65_536) return Uint8Array.of(0x80 | opcode, 126, length >> 8, length & 0xff)
  const header = new Uint8Array(10)
  header[0] = 0x80 | opcode
  header[1] = 127
  new DataView(header.buffer).setBigUint64(2, BigInt(length))
  return header
}

const headerValue = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name]
  return (Array.isArray(v) ? v.join(",") : v ?? "").trim()
}

const hasToken = (value: string, token: string): boolean => value.toLowerCase().split(",").some((t) => t.trim() === token)

const refuse = (socket: Duplex, status: string, extra = ""): void => {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`)
}

/** Why an upgrade request is not a valid RFC 6455 opening handshake, or undefined. */
const invalidHandshake = (req: IncomingMessage): string | undefined => {
  if (req.method !== "GET") return "method is not GET"
  if (!hasToken(headerValue(req, "upgrade"), "websocket")) return "no Upgrade: websocket"
  if (!hasToken(headerValue(req, "connection"), "upgrade")) return "no Connection: Upgrade"
  const key = headerValue(req, "sec-websocket-key")
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return "Sec-WebSocket-Key is not 16 bytes in base64"
  return undefined
}

/**
 * One bridged connection: parses the client's frames (see the module doc) and relays bytes.
 * `onClosed` runs once when both sockets are done with.
 */
const bridgeConnection = (ws: Duplex, tcp: Socket, head: Buffer, maxFrameBytes: number, onClosed: () => void): void => {
  let buffer: Buffer = Buffer.alloc(0)
  let inMessage = false
  let closeSent = false
  let finished = false

  const finish = () => {
    if (finished) return
    finished = true
    tcp.destroy()
    ws.destroy()
    onClosed()
  }

  /** Our close frame, then half-close; the client answers with its own and closes the socket (5.5.1). */
  const sendClose = (code: number) => {
    if (closeSent) return
    closeSent = true
    const payload = Uint8Array.of(code >> 8, code & 0xff)
    ws.write(frameHeader(OP_CLOSE, payload.length))
    ws.end(payload)
    // A client that never closes its side is dropped after a grace period.
    setTimeout(finish, CLOSE_GRACE_MS).unref()
  }

  const fail = (code: number) => {
    sendClose(code)
    tcp.destroy()
  }

  /** Handles every complete frame in `buffer`; returns when one is incomplete. */
  const parse = () => {
    while (!closeSent) {
      if (buffer.length < 2) return
      const b0 = buffer[0] ?? 0
      const b1 = buffer[1] ?? 0
      const fin = (b0 & 0x80) !== 0
      const opcode = b0 & 0x0f
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0) return fail(CLOSE_PROTOCOL_ERROR) // RSV bits, unmasked client frame
      let length = b1 & 0x7f
      let offset = 2
      if (length === 126) {
        if (buffer.length < 4) return
        length = buffer.readUInt16BE(2)
        offset = 4
      } else if (length === 127) {
        if (buffer.length < 10) return
        const long = buffer.readBigUInt64BE(2)
        if (long > BigInt(maxFrameBytes)) return fail(CLOSE_TOO_BIG)
        length = Number(long)
        offset = 10
      }
      const control = opcode >= 0x8
      if (control && (!fin || length > 125)) return fail(CLOSE_PROTOCOL_ERROR)
      if (length > maxFrameBytes) return fail(CLOSE_TOO_BIG)
      if (buffer.length < offset + 4 + length) return
      const mask = buffer.subarray(offset, offset + 4)
      const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length))
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0)
      buffer = buffer.subarray(offset + 4 + length)
      switch (opcode) {
        case OP_BINARY:
        case OP_CONTINUATION: {
          if ((opcode === OP_BINARY) === inMessage) return fail(CLOSE_PROTOCOL_ERROR) // a new message inside one, or a continuation of none
          inMessage = !fin
          if (payload.length > 0 && !tcp.write(payload)) {
            ws.pause()
            tcp.once("drain", () => ws.resume())
          }
          break
        }
        case OP_TEXT:
          return fail(CLOSE_UNSUPPORTED_DATA)
        case OP_PING:
          ws.write(frameHeader(OP_PONG, payload.length))
          ws.write(payload)
          break
        case OP_PONG:
          break
        case OP_CLOSE: {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : CLOSE_NORMAL
          sendClose(code >= 1000 && code < 5000 ? code : CLOSE_NORMAL)
          tcp.end()
          return
        }
        default:
          return fail(CLOSE_PROTOCOL_ERROR)
      }
    }
  }

  const receive = (chunk: Buffer) => {
    if (closeSent) return
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    parse()
  }

  tcp.on("data", (chunk: Buffer) => {
    if (closeSent) return
    ws.write(frameHeader(OP_BINARY, chunk.length))
    if (!ws.write(chunk)) {
      tcp.pause()
      ws.once("drain", () => tcp.resume())
    }
  })
  tcp.on("end", () => {
    sendClose(CLOSE_NORMAL)
  })
  tcp.on("error", () => fail(CLOSE_INTERNAL_ERROR))
  tcp.on("close", () => sendClose(CLOSE_NORMAL))
  ws.on("data", receive)
  // The client's socket ended without a close handshake (or after ours): nothing more will come.
  ws.on("end", finish)
  ws.on("error", finish)
  ws.on("close", finish)
  if (head.length > 0) receive(head)
}

/**
 * Starts the bridge; it stops (every bridged connection closed) when the scope closes.
 * Fails with `TransportError` when it cannot listen.
 */
export const make = (options: WebSocketBridgeOptions): Effect.Effect<WebSocketBridge, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const maxConnections = Math.max(1, options.maxConnections ?? 64)
    const maxFrameBytes = Math.max(125, options.maxFrameBytes ?? 1024 * 1024)
    const open = new Set<Duplex>()

    const server = createServer((_req, res) => {
      res.writeHead(426, { "Upgrade": "websocket", "Connection": "close", "Content-Type": "text/plain" })
      res.end("a WebSocket-to-TCP bridge: connect with a WebSocket\n")
    })
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy())
      const bad = invalidHandshake(req)
      if (bad !== undefined) return refuse(socket, "400 Bad Request")
      if (headerValue(req, "sec-websocket-version") !== "13") return refuse(socket, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n")
      const origin = headerValue(req, "origin")
      if (options.allowedOrigins !== undefined && origin !== "" && !options.allowedOrigins.includes(origin)) return refuse(socket, "403 Forbidden")
      if (open.size >= maxConnections) return refuse(socket, "503 Service Unavailable")
      open.add(socket)
      const release = () => void open.delete(socket)
      const tcp = tcpConnect({ host: options.target.host, port: options.target.port })
      tcp.setNoDelay(true)
      const failed = () => {
        release()
        refuse(socket, "502 Bad Gateway")
      }
      // The client may leave before the target answers.
      const gone = () => {
        release()
        tcp.destroy()
      }
      tcp.once("error", failed)
      socket.once("close", gone)
      tcp.once("connect", () => {
        tcp.off("error", failed)
        socket.off("close", gone)
        const key = headerValue(req, "sec-websocket-key")
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`
        )
        bridgeConnection(socket, tcp, head, maxFrameBytes, release)
      })
    })

    const address = yield* Effect.acquireRelease(
      Effect.callback<SocketAddress, TransportError>((resume) => {
        const onError = (e: Error) =>
          resume(Effect.fail(new TransportError({ operation: "listen", address: options.listen, message: e.message })))
        server.once("error", onError)
        server.listen(options.listen.port, options.listen.host, () => {
          server.off("error", onError)
          const bound = server.address()
          resume(Effect.succeed(typeof bound === "object" && bound !== null ? { host: options.listen.host, port: bound.port } : options.listen))
        })
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const s of open) s.destroy()
          open.clear()
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    return { address, connections: Effect.sync(() => open.size) }
  })
