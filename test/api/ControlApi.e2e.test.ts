/**
 * The control API end to end: two production nodes (`NodeLive` over TCP) in one process, each
 * serving its API on 127.0.0.1 port 0; node A connects to node B through A's API.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, FileSystem, Layer } from "effect"
import { HttpServer } from "effect/http"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import { apiToken, auth } from "./harness.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { type Network, Networks } from "../../src/protocol/network.ts"
import { NodeNetwork } from "../../src/services/NodeNetwork.ts"

/** A node and its API; `network` is the node's network setting (regtest when not given). */
const startOn = (network: Network | undefined) => Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-api-" })
  const node = ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, logRequests: false }).pipe(
    Layer.provideMerge(NodeLive.layer({ dataDir, listen: { host: "127.0.0.1", port: 0 } }))
  )
  const context = yield* Layer.build(network === undefined ? node : node.pipe(Layer.provide(NodeNetwork.layer(network))))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag === "UnixPathAddress") return yield* Effect.die("unexpected unix address")
  return { url: `http://127.0.0.1:${address.port}`, peers: Context.get(context, PeerManager) }
})
const startNode = startOn(undefined)

interface Reply {
  readonly status: number
  readonly body: unknown
}
const call = (method: string, url: string, body?: unknown) =>
  Effect.promise(async (): Promise<Reply> => {
    const init: RequestInit = body === undefined
      ? { method, headers: auth }
      : { method, body: typeof body === "string" ? body : JSON.stringify(body), headers: { ...auth, "content-type": "application/json" } }
    // Hang guard: a request that never completes fails instead of hitting the test timeout.
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
  })

const get = (body: unknown, key: string): unknown =>
  typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined

const nodeIds = (body: unknown): ReadonlyArray<unknown> => (Array.isArray(body) ? body.map((p) => get(p, "nodeId")) : [])

/** Polls `GET /v1/peers` until `predicate` holds (the remote side finishes `init` on its own time). */
const waitForPeers = (url: string, predicate: (ids: ReadonlyArray<unknown>) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const reply = yield* call("GET", `${url}/v1/peers`)
      if (predicate(nodeIds(reply.body))) return reply
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error("peers never reached the expected state"))
  })

describe("ControlApi end to end (two nodes over TCP)", () => {
  it.live("info, connect through the API, list on both sides, delete, errors", () =>
    Effect.gen(function*() {
      const a = yield* startNode
      const b = yield* startNode

      const infoB = yield* call("GET", `${b.url}/v1/info`)
      assert.strictEqual(infoB.status, 200)
      const bId = toHex(b.peers.nodeId)
      assert.strictEqual(get(infoB.body, "nodeId"), bId)
      const listen = String(get(infoB.body, "listenAddress"))
      const [host, port] = listen.split(":")
      assert.strictEqual(host, "127.0.0.1")
      assert.deepStrictEqual(get(get(infoB.body, "features"), "hex"), toHex(b.peers.features))

      const connected = yield* call("POST", `${a.url}/v1/peers`, { nodeId: bId, host, port: Number(port) })
      assert.strictEqual(connected.status, 200, JSON.stringify(connected.body))
      assert.strictEqual(get(connected.body, "nodeId"), bId)
      assert.strictEqual(get(connected.body, "direction"), "outbound")
      assert.strictEqual(get(connected.body, "address"), listen)
      assert.isArray(get(connected.body, "negotiatedFeatures"))

      assert.deepStrictEqual(nodeIds((yield* call("GET", `${a.url}/v1/peers`)).body), [bId])
      const aId = toHex(a.peers.nodeId)
      const seenByB = yield* waitForPeers(b.url, (ids) => ids.length === 1)
      assert.deepStrictEqual(nodeIds(seenByB.body), [aId])
      assert.strictEqual(get((seenByB.body as Array<unknown>)[0], "direction"), "inbound")

      // Errors: bad JSON, bad node id, unknown peer, connection refused.
      const badJson = yield* call("POST", `${a.url}/v1/peers`, "{oops")
      assert.strictEqual(badJson.status, 400)
      assert.match(String(get(badJson.body, "message")), /JSON/)
      const badId = yield* call("DELETE", `${a.url}/v1/peers/123`)
      assert.strictEqual(badId.status, 400)
      assert.match(String(get(badId.body, "message")), /node id/)
      const unknown = yield* call("DELETE", `${a.url}/v1/peers/${aId}`)
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(get(unknown.body, "_tag"), "PeerNotFound")
      const existing = yield* call("POST", `${a.url}/v1/peers`, { nodeId: bId, host: "127.0.0.1", port: 1 })
      // B is connected already: connect returns the existing connection.
      assert.strictEqual(existing.status, 200)

      const deleted = yield* call("DELETE", `${a.url}/v1/peers/${bId}`)
      assert.strictEqual(deleted.status, 204)
      yield* waitForPeers(a.url, (ids) => ids.length === 0)
      yield* waitForPeers(b.url, (ids) => ids.length === 0)
      const deletedAgain = yield* call("DELETE", `${a.url}/v1/peers/${bId}`)
      assert.strictEqual(deletedAgain.status, 404)

      const unreachable = yield* call("POST", `${a.url}/v1/peers`, { nodeId: bId, host: "127.0.0.1", port: 1 })
      assert.strictEqual(unreachable.status, 502)
      assert.strictEqual(get(unreachable.body, "reason"), "TransportFailed")
      assert.match(String(get(unreachable.body, "message")), /127\.0\.0\.1:1/)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("the network setting: init carries its chain hash, /v1/info shows it, another chain is refused", () =>
    Effect.gen(function*() {
      const a = yield* startOn(Networks.mainnet)
      const b = yield* startOn(Networks.mainnet)
      const c = yield* startNode // regtest
      const mainnet = toHex(Networks.mainnet.chainHash)
      const infoA = yield* call("GET", `${a.url}/v1/info`)
      assert.strictEqual(get(infoA.body, "network"), "mainnet")
      assert.strictEqual(get(infoA.body, "chainHash"), mainnet)
      assert.strictEqual(get((yield* call("GET", `${c.url}/v1/info`)).body, "network"), "regtest")

      const listenOf = (info: Reply) => String(get(info.body, "listenAddress")).split(":")
      const [hostB, portB] = listenOf(yield* call("GET", `${b.url}/v1/info`))
      const connected = yield* call("POST", `${a.url}/v1/peers`, { nodeId: toHex(b.peers.nodeId), host: hostB, port: Number(portB) })
      assert.strictEqual(connected.status, 200, JSON.stringify(connected.body))
      // A learned B's chains from B's init, and B learned A's.
      assert.deepStrictEqual(get(connected.body, "remoteNetworks"), [mainnet])
      const seenByB = yield* waitForPeers(b.url, (ids) => ids.length === 1)
      assert.deepStrictEqual(get((seenByB.body as Array<unknown>)[0], "remoteNetworks"), [mainnet])

      // A mainnet node and a regtest node share no chain: the connection is refused.
      const [hostC, portC] = listenOf(yield* call("GET", `${c.url}/v1/info`))
      const refused = yield* call("POST", `${a.url}/v1/peers`, { nodeId: toHex(c.peers.nodeId), host: hostC, port: Number(portC) })
      assert.strictEqual(refused.status, 502, JSON.stringify(refused.body))
      assert.strictEqual(get(refused.body, "reason"), "NoCommonChain")
    }).pipe(Effect.provide(NodeServices.layer)))
})
