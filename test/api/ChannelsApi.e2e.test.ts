/**
 * Channels through the control API, end to end: two production nodes (`NodeLive`: TCP, seed
 * file, files store under the data directory) in one process, each serving its API on
 * 127.0.0.1 port 0. A opens a channel to B, funds it with a made-up segwit transaction, both
 * are fed the funding depth by hand (`/chain`), both reach `Normal`; B restarts on the same data
 * directory and restores the channel, which reestablishes once A reconnects; A closes it
 * cooperatively.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, FileSystem, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import { apiToken, auth } from "./harness.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import { fundingTransaction } from "../interop/ldk/fundingTx.ts"

/** A node and its API over `dataDir`, in its own scope (closed by `stop`). */
const startNode = (dataDir: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    // Stopped before the test's scope removes the data directories, also when the test fails.
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(
      ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, logRequests: false }).pipe(
        Layer.provideMerge(NodeLive.layer({ dataDir, listen: { host: "127.0.0.1", port: 0 } }))
      ),
      scope
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag === "UnixPathAddress") return yield* Effect.die("unexpected unix address")
    const peers = Context.get(context, PeerManager)
    const listen = peers.listenAddress
    if (listen === undefined) return yield* Effect.die("not listening")
    return {
      url: `http://127.0.0.1:${address.port}`,
      nodeId: toHex(peers.nodeId),
      listen,
      stop: Scope.close(scope, Exit.void)
    }
  })
type TestNode = Effect.Success<ReturnType<typeof startNode>>

interface Reply {
  readonly status: number
  readonly body: unknown
}
const call = (method: string, url: string, body?: unknown) =>
  Effect.promise(async (): Promise<Reply> => {
    const init: RequestInit = body === undefined
      ? { method, headers: auth }
      : { method, body: JSON.stringify(body), headers: { ...auth, "content-type": "application/json" } }
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(40_000) })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
  })

type Json = Record<string, unknown>
const obj = (u: unknown): Json => (typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Json) : {})
const expectOk = (reply: Reply, what: string): Json => {
  assert.isBelow(reply.status, 300, `${what}: ${reply.status} ${JSON.stringify(reply.body)}`)
  return obj(reply.body)
}

/** The node's channels (GET /v1/channels). */
const channels = (node: TestNode) =>
  Effect.map(call("GET", `${node.url}/v1/channels`), (r) => (Array.isArray(r.body) ? r.body.map(obj) : []))

/** Polls GET /v1/channels/{id} until `predicate` holds (bounded). */
const waitForChannel = (node: TestNode, channelId: string, what: string, predicate: (c: Json) => boolean) =>
  Effect.gen(function*() {
    let last: unknown
    for (let i = 0; i < 1000; i++) {
      const reply = yield* call("GET", `${node.url}/v1/channels/${channelId}`)
      last = reply.body
      if (reply.status === 200 && predicate(obj(reply.body))) return obj(reply.body)
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`${what}: never reached; last ${JSON.stringify(last)}`))
  })

const waitForGone = (node: TestNode, channelId: string, what: string) =>
  Effect.gen(function*() {
    let last: unknown
    for (let i = 0; i < 1000; i++) {
      const reply = yield* call("GET", `${node.url}/v1/channels/${channelId}`)
      last = reply.body
      if (reply.status === 404 && obj(reply.body)._tag === "ChannelNotFound") return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`${what}: never reached; last ${JSON.stringify(last)}`))
  })

const connect = (from: TestNode, to: TestNode) =>
  Effect.map(
    call("POST", `${from.url}/v1/peers`, { nodeId: to.nodeId, host: to.listen.host, port: to.listen.port }),
    (r) => expectOk(r, "connect")
  )

/** Reads `GET /v1/channels/events` (Server-Sent Events) into `events` until `close`. */
const watchEvents = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const controller = new AbortController()
      const response = await fetch(`${url}/v1/channels/events`, { headers: auth, signal: controller.signal })
      const events: Array<Json> = []
      const contentType = response.headers.get("content-type") ?? ""
      const reader = response.body?.getReader()
      const decoder = new TextDecoder()
      let buffer = ""
      const pump = (async () => {
        if (reader === undefined) return
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return
          buffer += decoder.decode(value, { stream: true })
          let end = buffer.indexOf("\n\n")
          while (end >= 0) {
            const data = buffer.slice(0, end).split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n")
            if (data.length > 0) events.push(obj(JSON.parse(data)))
            buffer = buffer.slice(end + 2)
            end = buffer.indexOf("\n\n")
          }
        }
      })().catch(() => undefined)
      // The first event says the stream is subscribed: nothing after it is missed.
      for (let i = 0; i < 500 && events.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
      return { status: response.status, contentType, events, close: () => controller.abort(), pump }
    }),
    (w) => Effect.promise(async () => {
      w.close()
      await w.pump
    })
  )

describe("channels through the control API (two NodeLive nodes over TCP)", () => {
  it.live("open, fund, depth, Normal; restart restores and reestablishes; cooperative close", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dirA = yield* fs.makeTempDirectoryScoped({ prefix: "ln-ch-a-" })
      const dirB = yield* fs.makeTempDirectoryScoped({ prefix: "ln-ch-b-" })
      const a = yield* startNode(dirA)
      let b = yield* startNode(dirB)
      yield* connect(a, b)
      const eventsA = yield* watchEvents(a.url)
      assert.strictEqual(eventsA.status, 200)
      assert.match(eventsA.contentType, /^text\/event-stream/)
      assert.deepStrictEqual(eventsA.events, [{ nodeId: a.nodeId, channelId: null, type: "Subscribed", event: null }])

      // Open: the answer comes after accept_channel, with the output to fund.
      const opened = expectOk(
        yield* call("POST", `${a.url}/v1/channels`, { nodeId: b.nodeId, amountSat: 250_000, pushMsat: 20_000_000 }),
        "open"
      )
      assert.strictEqual(opened.phase, "WaitFundingTx")
      assert.strictEqual(opened.nodeId, b.nodeId)
      assert.strictEqual(opened.funder, true)
      assert.strictEqual(opened.capacitySat, 250_000)
      assert.strictEqual(opened.channelType, "static_remote_key")
      const output = obj(opened.fundingOutput)
      assert.strictEqual(output.amountSat, 250_000)
      assert.match(String(output.scriptPubKey), /^0020[0-9a-f]{64}$/) // P2WSH
      const temporaryChannelId = String(opened.channelId)

      // Fund with a made-up segwit transaction paying that output.
      const funding = fundingTransaction(fromHex(String(output.scriptPubKey)), 250_000n)
      const funded = expectOk(
        yield* call("POST", `${a.url}/v1/channels/${temporaryChannelId}/fund`, { tx: toHex(funding.bytes) }),
        "fund"
      )
      assert.strictEqual(funded.phase, "WaitChannelReady")
      const channelId = String(funded.channelId)
      assert.notStrictEqual(channelId, temporaryChannelId)
      assert.strictEqual(String(funded.fundingOutpoint), `${toHex(Uint8Array.from(funding.txid).reverse())}:0`)
      const minimumDepth = Number(funded.minimumDepth)
      assert.isAbove(minimumDepth, 0)
      // The temporary id is gone; B knows the channel under the final id.
      assert.strictEqual((yield* call("GET", `${a.url}/v1/channels/${temporaryChannelId}`)).status, 404)
      yield* waitForChannel(b, channelId, "B funded", (c) => c.phase === "WaitChannelReady")

      // The chain stand-in: the funding transaction reaches the depth on both sides.
      for (const node of [a, b]) {
        const reply = yield* call("POST", `${node.url}/v1/channels/${channelId}/chain`, { depth: minimumDepth, shortChannelId: "120x1x0" })
        assert.strictEqual(reply.status, 202, JSON.stringify(reply.body))
      }
      const normalA = yield* waitForChannel(a, channelId, "A Normal", (c) => c.phase === "Normal")
      const normalB = yield* waitForChannel(b, channelId, "B Normal", (c) => c.phase === "Normal")
      assert.deepStrictEqual(obj(normalA.balance), { localMsat: 230_000_000, remoteMsat: 20_000_000, htlcs: 0 })
      assert.deepStrictEqual(obj(normalB.balance), { localMsat: 20_000_000, remoteMsat: 230_000_000, htlcs: 0 })
      assert.strictEqual(normalA.shortChannelId, "120x1x0")
      assert.strictEqual(normalB.funder, false)
      // The same story on A's event stream.
      const types = eventsA.events.map((e) => e.type)
      for (const t of ["FundingNeeded", "ChannelPending", "Broadcast", "WatchFunding", "ChannelReady"]) assert.include(types, t)
      const needed = eventsA.events.find((e) => e.type === "FundingNeeded")
      assert.strictEqual(needed?.channelId, temporaryChannelId)
      assert.strictEqual(obj(needed?.event).scriptPubKey, output.scriptPubKey)
      assert.strictEqual(obj(needed?.event).amount, "250000")
      assert.strictEqual(obj(eventsA.events.find((e) => e.type === "Broadcast")?.event).tx, toHex(funding.bytes))
      assert.strictEqual(eventsA.events.find((e) => e.type === "ChannelReady")?.channelId, channelId)
      const listedA = yield* channels(a)
      assert.deepStrictEqual(listedA.map((c) => [c.channelId, c.phase, c.nodeId]), [[channelId, "Normal", b.nodeId]])

      // B restarts on the same data directory: the channel is restored from the store.
      yield* b.stop
      yield* waitForChannel(a, channelId, "A sees B gone", (c) => c.connection === "Disconnected")
      b = yield* startNode(dirB)
      const restored = yield* channels(b)
      assert.deepStrictEqual(restored.map((c) => [c.channelId, c.nodeId]), [[channelId, a.nodeId]])
      // The channel state is stored with each monitor update; channel_ready moves no commitment,
      // so a channel with no payment yet comes back as WaitChannelReady, without the depth.
      assert.include(["WaitChannelReady", "Normal"], restored[0]?.phase)
      assert.strictEqual(restored[0]?.connection, "Disconnected")
      assert.deepStrictEqual(obj(restored[0]?.balance), { localMsat: 20_000_000, remoteMsat: 230_000_000, htlcs: 0 })
      // A chain source reports the depth again at start.
      const refeed = yield* call("POST", `${b.url}/v1/channels/${channelId}/chain`, { depth: minimumDepth, shortChannelId: "120x1x0" })
      assert.strictEqual(refeed.status, 202)
      // A reconnects: channel_reestablish both ways, back to Connected.
      yield* connect(a, b)
      yield* waitForChannel(a, channelId, "A reestablished", (c) => c.phase === "Normal" && c.connection === "Connected")
      yield* waitForChannel(b, channelId, "B reestablished", (c) => c.phase === "Normal" && c.connection === "Connected")

      // A second channel: a transaction without the funding output is refused (409), then a
      // force close before funding aborts it on both sides.
      const second = expectOk(yield* call("POST", `${a.url}/v1/channels`, { nodeId: b.nodeId, amountSat: 100_000 }), "open 2")
      assert.strictEqual(second.phase, "WaitFundingTx")
      const secondId = String(second.channelId)
      const wrongTx = fundingTransaction(fromHex("0014" + "00".repeat(20)), 100_000n)
      const refused = yield* call("POST", `${a.url}/v1/channels/${secondId}/fund`, { tx: toHex(wrongTx.bytes) })
      assert.strictEqual(refused.status, 409, JSON.stringify(refused.body))
      assert.strictEqual(obj(refused.body)._tag, "ChannelCommandRejected")
      assert.strictEqual(obj(refused.body).command, "FundingTransaction")
      const forced = expectOk(yield* call("POST", `${a.url}/v1/channels/${secondId}/force-close`), "force-close")
      assert.strictEqual(forced.phase, "Closed")
      assert.strictEqual(obj(forced.closed).reason, "FundingAborted")
      // B (the fundee) forgets a channel that failed before funding (BOLT 2): it answers 404.
      yield* waitForGone(b, secondId, "B forgot the aborted channel")

      // Cooperative close from A with the node's default script and feerate.
      const closing = expectOk(yield* call("POST", `${a.url}/v1/channels/${channelId}/close`, {}), "close")
      assert.strictEqual(closing.channelId, channelId)
      yield* waitForChannel(a, channelId, "A closing", (c) => c.phase === "Closing")
      yield* waitForChannel(b, channelId, "B closing", (c) => c.phase === "Closing")
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), { timeout: 120_000 })
})
