/**
 * The control API over real HTTP on 127.0.0.1 (port 0), against an in-memory `PeerManager`
 * double: request validation, status codes, JSON error bodies and the OpenAPI document.
 * `test/api/ControlApi.e2e.test.ts` runs it against real nodes over TCP.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import fc from "fast-check"
import { FetchHttpClient } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { ControlApi } from "../../src/api/ControlApi.ts"
import { featureBits } from "../../src/api/convert.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { Networks } from "../../src/protocol/network.ts"
import { NodeNetwork } from "../../src/services/NodeNetwork.ts"
import { apiToken, auth, baseUrl, field, ourId, reachable, request, ServerLive, unreachable } from "./harness.ts"
import * as ControlApiClient from "../../src/api/ControlApiClient.ts"

describe("ControlApi (HTTP, PeerManager double)", () => {
  it.layer(ServerLive)((it) => {
    it.effect("GET /v1/info", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/v1/info")
        assert.strictEqual(reply.status, 200)
        assert.deepStrictEqual(reply.body, {
          nodeId: toHex(ourId),
          features: { hex: "028202", bits: [1, 9, 15, 17] },
          listenAddress: "127.0.0.1:9735",
          network: "regtest",
          chainHash: toHex(Networks.regtest.chainHash)
        })
      }))

    it.effect("POST, GET, DELETE /v1/peers", () =>
      Effect.gen(function*() {
        const connect = yield* request(
          "POST",
          "/v1/peers",
          JSON.stringify({ nodeId: toHex(reachable), host: "127.0.0.1", port: 9999 })
        )
        assert.strictEqual(connect.status, 200)
        assert.strictEqual(field(connect.body, "nodeId"), toHex(reachable))
        assert.strictEqual(field(connect.body, "address"), "127.0.0.1:9999")
        assert.strictEqual(field(connect.body, "direction"), "outbound")
        assert.deepStrictEqual(field(connect.body, "negotiatedFeatures"), [7, 9])
        assert.strictEqual(field(connect.body, "remoteNetworks"), null)

        const list = yield* request("GET", "/v1/peers")
        assert.strictEqual(list.status, 200)
        assert.deepStrictEqual(list.body, [connect.body])

        const del = yield* request("DELETE", `/v1/peers/${toHex(reachable)}`)
        assert.strictEqual(del.status, 204)
        assert.deepStrictEqual((yield* request("GET", "/v1/peers")).body, [])

        const again = yield* request("DELETE", `/v1/peers/${toHex(reachable)}`)
        assert.strictEqual(again.status, 404)
        assert.strictEqual(field(again.body, "_tag"), "PeerNotFound")
        assert.match(String(field(again.body, "message")), /is not connected/)
      }))

    it.effect("a failed connection is a 502 with the reason", () =>
      Effect.gen(function*() {
        const reply = yield* request(
          "POST",
          "/v1/peers",
          JSON.stringify({ nodeId: toHex(unreachable), host: "127.0.0.1", port: 1 })
        )
        assert.strictEqual(reply.status, 502)
        assert.strictEqual(field(reply.body, "_tag"), "PeerConnectFailed")
        assert.strictEqual(field(reply.body, "reason"), "TransportFailed")
        assert.match(String(field(reply.body, "message")), /ECONNREFUSED/)
      }))

    it.effect("bad input is a 4xx with a message, and the server keeps serving", () =>
      Effect.gen(function*() {
        const valid = { nodeId: toHex(reachable), host: "127.0.0.1", port: 9735 }
        const cases: ReadonlyArray<readonly [string, string, string | undefined, number, RegExp]> = [
          ["POST", "/v1/peers", "{not json", 400, /valid JSON/],
          ["POST", "/v1/peers", "", 400, /request body/],
          ["POST", "/v1/peers", "[]", 400, /request body/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, nodeId: "02abc" }), 400, /node id.*nodeId/s],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, nodeId: "04" + "11".repeat(32) }), 400, /node id/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, port: 0 }), 400, /port/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, port: 70000 }), 400, /port/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, port: "9735" }), 400, /port/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, host: "" }), 400, /host/],
          ["POST", "/v1/peers", JSON.stringify({ nodeId: valid.nodeId }), 400, /host/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, nodeId: toHex(ourId) }), 400, /our own node id/],
          ["POST", "/v1/peers", JSON.stringify({ ...valid, pad: "x".repeat(2000) }), 413, /larger than 1024 bytes/],
          ["DELETE", "/v1/peers/nothex", undefined, 400, /node id/],
          ["DELETE", `/v1/peers/${toHex(unreachable)}`, undefined, 404, /not connected/],
          ["GET", "/v1/nope", undefined, 404, /no route for GET \/v1\/nope/],
          ["PUT", "/v1/peers", "{}", 404, /no route/]
        ]
        for (const [method, path, body, status, message] of cases) {
          const reply = yield* request(method, path, body)
          const label = `${method} ${path} ${body?.slice(0, 60)}`
          assert.strictEqual(reply.status, status, label)
          assert.match(String(field(reply.body, "message")), message, label)
          assert.isString(field(reply.body, "_tag"), label)
        }
        // `curl -d` sends JSON as form-urlencoded: the API reads every body as JSON.
        const curlStyle = yield* request("POST", "/v1/peers", JSON.stringify(valid), "application/x-www-form-urlencoded")
        assert.strictEqual(curlStyle.status, 200)
        assert.strictEqual((yield* request("DELETE", `/v1/peers/${valid.nodeId}`)).status, 204)
        const wrongType = yield* request("POST", "/v1/peers", "x", "text/plain")
        assert.strictEqual(wrongType.status, 415)
        assert.match(String(field(wrongType.body, "message")), /application\/json/)
        assert.strictEqual((yield* request("GET", "/v1/info")).status, 200)
      }))

    it.effect("arbitrary bodies and paths never get a 5xx (except 502 from the peer double)", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const body = fc.oneof(
          fc.json(),
          fc.string(),
          fc.record({
            nodeId: fc.oneof(fc.string(), fc.constant(toHex(unreachable)), fc.integer()),
            host: fc.oneof(fc.string(), fc.constant("127.0.0.1")),
            port: fc.oneof(fc.integer(), fc.double(), fc.string())
          }).map((r) => JSON.stringify(r))
        )
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(body, fc.string(), async (b, segment) => {
              const post = await fetch(`${url}/v1/peers`, {
                method: "POST",
                body: b,
                headers: { ...auth, "content-type": "application/json" }
              })
              const postText = await post.text()
              assert.oneOf(post.status, [400, 413, 502], `${b} -> ${postText}`)
              assert.isString(JSON.parse(postText).message)
              const del = await fetch(`${url}/v1/peers/${encodeURIComponent(segment)}`, { method: "DELETE", headers: auth })
              const delText = await del.text()
              assert.oneOf(del.status, [400, 404], `${segment} -> ${delText}`)
              assert.isString(JSON.parse(delText).message)
            }),
            { numRuns: 300 }
          )
        )
      }))

    it.effect("a 66-hex-digit id that is not a curve point is rejected", () =>
      Effect.gen(function*() {
        // Find an x coordinate with no point on secp256k1 (about half of them).
        let notPoint = ""
        for (let x = 1; notPoint === "" && x < 100; x++) {
          const candidate = "02" + x.toString(16).padStart(64, "0")
          if (!nobleSecp256k1.isValidPoint(Uint8Array.from(Buffer.from(candidate, "hex")))) notPoint = candidate
        }
        assert.notStrictEqual(notPoint, "")
        const reply = yield* request("DELETE", `/v1/peers/${notPoint}`)
        assert.strictEqual(reply.status, 400)
        assert.match(String(field(reply.body, "message")), /not a point on secp256k1/)
      }))

    it.effect("the typed client from the same declaration (HttpApiClient.make(ControlApi))", () =>
      Effect.gen(function*() {
        const client = yield* ControlApiClient.make({ baseUrl: yield* baseUrl, token: apiToken })
        const info = yield* client.node.info()
        assert.strictEqual(info.nodeId, toHex(ourId))
        const peer = yield* client.peers.connect({ payload: { nodeId: toHex(reachable), host: "127.0.0.1", port: 9 } })
        assert.strictEqual(peer.address, "127.0.0.1:9")
        assert.deepStrictEqual((yield* client.peers.list()).map((p) => p.nodeId), [toHex(reachable)])
        yield* client.peers.disconnect({ params: { nodeId: toHex(reachable) } })
        const missing = yield* Effect.flip(client.peers.disconnect({ params: { nodeId: toHex(reachable) } }))
        assert.strictEqual(missing._tag, "PeerNotFound")
        const failed = yield* Effect.flip(
          client.peers.connect({ payload: { nodeId: toHex(unreachable), host: "127.0.0.1", port: 9 } })
        )
        assert.strictEqual(failed._tag, "PeerConnectFailed")
      }).pipe(Effect.provide(FetchHttpClient.layer)))

    it.effect("every request needs the bearer token: none or a wrong one is a 401", () =>
      Effect.gen(function*() {
        for (const headers of [{}, { authorization: "Bearer wrong-token-0123456789" }, { authorization: "Basic abc" }]) {
          for (const path of ["/v1/info", "/v1/peers", "/openapi.json", "/no/such/route"]) {
            const reply = yield* request("GET", path, undefined, "application/json", headers)
            assert.strictEqual(reply.status, 401, `${path} ${JSON.stringify(headers)}`)
            assert.strictEqual(field(reply.body, "_tag"), "Unauthorized")
          }
          const post = yield* request("POST", "/v1/peers", "{}", "application/json", headers)
          assert.strictEqual(post.status, 401)
        }
        const missing = yield* request("GET", "/v1/info", undefined, "application/json", {})
        assert.match(String(field(missing.body, "message")), /missing bearer token/)
        // The scheme is case-insensitive; the token is not.
        const lower = yield* request("GET", "/v1/info", undefined, "application/json", {
          authorization: `bearer ${Redacted.value(apiToken)}`
        })
        assert.strictEqual(lower.status, 200)
        const upper = yield* request("GET", "/v1/info", undefined, "application/json", {
          authorization: `Bearer ${Redacted.value(apiToken).toUpperCase()}`
        })
        assert.strictEqual(upper.status, 401)
        // The typed client without the token fails with the status.
        const bare = yield* HttpApiClient.make(ControlApi, { baseUrl: yield* baseUrl })
        const refused = yield* Effect.flip(bare.node.info())
        assert.match(String(refused), /401|Unauthorized/)
      }).pipe(Effect.provide(FetchHttpClient.layer)))

    it.effect("GET /openapi.json documents every endpoint", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/openapi.json")
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(typeof field(reply.body, "openapi"), "string")
        const paths = field(reply.body, "paths")
        assert.hasAllKeys(paths, [
          "/v1/info",
          "/v1/peers",
          "/v1/peers/{nodeId}",
          "/v1/invoices/decode",
          "/v1/channels",
          "/v1/channels/events",
          "/v1/channels/{channelId}",
          "/v1/channels/{temporaryChannelId}/fund",
          "/v1/channels/{channelId}/close",
          "/v1/channels/{channelId}/force-close",
          "/v1/channels/{channelId}/chain",
          "/v1/invoices",
          "/v1/invoices/blinded",
          "/v1/invoices/{paymentHash}",
          "/v1/payments",
          "/v1/payments/{paymentId}",
          "/v1/balances",
          "/v1/wallet/balance",
          "/v1/wallet/address",
          "/v1/wallet/send",
          "/v1/wallet/abandon"
        ])
        assert.hasAllKeys(field(paths, "/v1/channels"), ["get", "post"])
        assert.hasAllKeys(field(paths, "/v1/invoices/decode"), ["post"])
        assert.hasAllKeys(field(paths, "/v1/invoices/blinded"), ["post"])
        assert.hasAllKeys(field(paths, "/v1/peers"), ["get", "post"])
        assert.hasAnyKeys(field(paths, "/v1/peers/{nodeId}"), ["delete"])
        // Issue 9's channel fields: the close's `force` option, the list's state, balances, short
        // channel id and confirmations.
        const jsonSchema = (content: unknown) => field(field(field(content, "content"), "application/json"), "schema")
        const closeBody = jsonSchema(field(field(field(paths, "/v1/channels/{channelId}/close"), "post"), "requestBody"))
        assert.includeMembers(Object.keys(Object(field(closeBody, "properties"))), ["force", "scriptPubKey", "feeratePerKw"])
        const listed = jsonSchema(field(field(field(field(paths, "/v1/channels"), "get"), "responses"), "200"))
        assert.includeMembers(Object.keys(Object(field(field(listed, "items"), "properties"))), ["phase", "balance", "shortChannelId", "confirmations"])
        // The router-wide bearer token is declared: a scheme and a requirement on every operation.
        assert.deepStrictEqual(field(field(field(reply.body, "components"), "securitySchemes"), "bearerAuth"), {
          type: "http",
          scheme: "bearer",
          description: "The token in the node's `<data-dir>/api_token` file."
        })
        assert.deepStrictEqual(field(reply.body, "security"), [{ bearerAuth: [] }])
      }))
  })

  it("featureBits reads BOLT 9 fields big-endian", () => {
    assert.deepStrictEqual(featureBits(new Uint8Array(0)), [])
    assert.deepStrictEqual(featureBits(Uint8Array.of(0x01)), [0])
    assert.deepStrictEqual(featureBits(Uint8Array.of(0x80, 0x00)), [15])
    assert.deepStrictEqual(featureBits(Uint8Array.of(0x02, 0x00, 0x01)), [0, 17])
  })
})

describe("ControlApi: the network setting", () => {
  it.layer(ServerLive.pipe(Layer.provide(NodeNetwork.layer(Networks.signet))))((it) => {
    it.effect("GET /v1/info shows the node's network and its chain hash", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/v1/info")
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(field(reply.body, "network"), "signet")
        assert.strictEqual(field(reply.body, "chainHash"), toHex(Networks.signet.chainHash))
      }))
  })
})
