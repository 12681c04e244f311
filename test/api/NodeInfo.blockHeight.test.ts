/** `GET /v1/info` carries `blockHeight` when the node follows a chain (a `ChainSource`), and omits it otherwise. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import * as SimulatedChain from "../../src/layers/chain/SimulatedChain.ts"
import { apiToken, FakeChannelManager, FakePeerManager, field, request, ServerLive } from "./harness.ts"

const ServerWithChain = ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, maxBodyBytes: 1024, logRequests: false }).pipe(
  Layer.provide([FakePeerManager, FakeChannelManager]),
  Layer.provideMerge(SimulatedChain.layer({ seed: "node-info", initialBlocks: 5 }))
)

describe("GET /v1/info blockHeight", () => {
  it.layer(ServerWithChain)((it) => {
    it.effect("is the chain tip's height, read at each request", () =>
      Effect.gen(function*() {
        const chain = yield* SimulatedChain.SimChain
        const before = yield* request("GET", "/v1/info")
        assert.strictEqual(before.status, 200)
        assert.strictEqual(field(before.body, "blockHeight"), yield* chain.height)
        yield* chain.mine(3)
        const after = yield* request("GET", "/v1/info")
        assert.strictEqual(field(after.body, "blockHeight"), yield* chain.height)
        assert.strictEqual(field(after.body, "blockHeight"), Number(field(before.body, "blockHeight")) + 3)
      }))
  })

  it.layer(ServerLive)((it) => {
    it.effect("is absent without a chain source", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/v1/info")
        assert.strictEqual(reply.status, 200)
        assert.isFalse(typeof reply.body === "object" && reply.body !== null && "blockHeight" in reply.body)
      }))
  })
})
