/**
 * The Node side of the demo: `node browser/demo/server.ts [port]` (after `npm run build:browser`).
 *
 * - Serves the built page (`browser/dist/demo/`) over HTTP on localhost.
 * - Runs a node under Node ("dave": `makeBrowserNode` over TCP, OS entropy and in-memory stores)
 *   listening for peers on a local TCP port, and the WebSocket-to-TCP bridge
 *   (`src/layers/node/WebSocketBridge.ts`) in front of that port, accepting the page's origin only.
 * - `/config.json` tells the page the bridge's URL and the node's id; `/invoice?amountMsat=N`
 *   returns a fresh BOLT 11 invoice of the node's.
 *
 * Dave follows no chain: the page's node funds the channel on the page's own simulated chain,
 * which Dave cannot see, so Dave takes the funding as confirmed when the channel asks to watch
 * it (`WatchFunding` answered at once with `FundingDepth`). That trust is for this demo only.
 */
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { readFile } from "node:fs/promises"
import { dirname, extname, join, normalize, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Layer, Scope, Stream } from "effect"
import { type BrowserNode, makeBrowserNode } from "../../src/layers/browser/BrowserNode.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import * as TcpTransport from "../../src/layers/node/TcpTransport.ts"
import * as WebSocketBridge from "../../src/layers/node/WebSocketBridge.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { msat } from "../../src/protocol/units.ts"
import { Store } from "../../src/services/Store.ts"
import { type SocketAddress, TransportError } from "../../src/services/Transport.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "dist", "demo")

export interface DemoServer {
  /** The page, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string
  readonly bridge: WebSocketBridge.WebSocketBridge
  /** The node under Node. */
  readonly node: BrowserNode
}

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".json": "application/json" }

/** Trusts every funding the node is asked to watch (see the module doc): demo only. */
const confirmFundingAtOnce = (node: BrowserNode): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const events = yield* node.channels.subscribe
    yield* events.pipe(
      Stream.runForEach(({ channelId, event }) =>
        event._tag === "WatchFunding"
          ? Effect.ignore(node.channels.chainFact(channelId, { _tag: "FundingDepth", depth: event.minimumDepth }))
          : Effect.void
      ),
      Effect.forkScoped
    )
  })

const listen = (server: ReturnType<typeof createServer>, address: SocketAddress) =>
  Effect.acquireRelease(
    Effect.callback<number, TransportError>((resume) => {
      server.once("error", (e) => resume(Effect.fail(new TransportError({ operation: "listen", address, message: e.message }))))
      server.listen(address.port, address.host, () => {
        const bound = server.address()
        resume(Effect.succeed(typeof bound === "object" && bound !== null ? bound.port : address.port))
      })
    }),
    () => Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    })
  )

/** Starts the page server, the node and the bridge in the current scope. */
export const startDemoServer = (options: { readonly host?: string; readonly port?: number } = {}) =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const memoryStore = () => Layer.sync(Store, () => makeMemoryStore().store)
    const node = yield* makeBrowserNode({
      seed: new Uint8Array(randomBytes(32)),
      transport: TcpTransport.layer(),
      entropy: OsEntropy.layer,
      channelStore: memoryStore(),
      paymentStore: memoryStore(),
      listen: { host, port: 0 }
    })
    yield* confirmFundingAtOnce(node)
    const peerAddress = node.peers.listenAddress
    if (peerAddress === undefined) return yield* Effect.die(new Error("the node is not listening"))

    let config = ""
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      if (url.pathname === "/config.json") {
        res.writeHead(200, { "Content-Type": TYPES[".json"] ?? "" }).end(config)
        return
      }
      if (url.pathname === "/invoice") {
        const amount = BigInt(/^\d{1,15}$/.test(url.searchParams.get("amountMsat") ?? "") ? url.searchParams.get("amountMsat") ?? "0" : "0")
        Effect.runPromise(node.payments.createInvoice({ amountMsat: msat(amount > 0n ? amount : 1_000n), description: { text: "from the Node node" } })).then(
          (created) => res.writeHead(200, { "Content-Type": "text/plain" }).end(created.invoice),
          (e: unknown) => res.writeHead(500).end(String(e))
        )
        return
      }
      const file = normalize(join(root, url.pathname === "/" ? "index.html" : url.pathname))
      if (!file.startsWith(root)) {
        res.writeHead(403).end()
        return
      }
      readFile(file).then(
        (body) => res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" }).end(body),
        () => res.writeHead(404).end("not found (run npm run build:browser first)")
      )
    }
    const port = yield* listen(createServer(handle), { host, port: options.port ?? 0 })
    const url = `http://${host}:${port}/`
    const bridge = yield* WebSocketBridge.make({
      listen: { host, port: 0 },
      target: peerAddress,
      allowedOrigins: [`http://${host}:${port}`, `http://localhost:${port}`]
    })
    config = JSON.stringify({ bridgeUrl: `ws://${host}:${bridge.address.port}/`, nodeId: toHex(node.nodeId), invoiceUrl: "/invoice" })
    const server: DemoServer = { url, bridge, node }
    return server
  })

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? "8080")
  Effect.runFork(
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startDemoServer({ port })
      yield* Effect.log(`demo page: ${server.url} (bridge on port ${server.bridge.address.port}, node ${toHex(server.node.nodeId)})`)
      return yield* Effect.never
    }))
  )
}
