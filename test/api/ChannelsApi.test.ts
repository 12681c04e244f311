/**
 * The `channels` endpoints over real HTTP on 127.0.0.1 against the ChannelManager double
 * (`harness.ts`): validation, status codes and typed JSON errors. The channel flow between two
 * real nodes is `ChannelsApi.e2e.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { toHex } from "../../src/protocol/bytes.ts"
import { serializeTransaction, txidFromBytes } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../src/protocol/units.ts"
import { auth, baseUrl, field, knownChannelId, ourId, reachable, request, ServerLive, unreachable } from "./harness.ts"

const known = toHex(knownChannelId)
const unknown = "22".repeat(32)
const post = (path: string, body: unknown) => request("POST", path, typeof body === "string" ? body : JSON.stringify(body))

/** A well-formed (segwit) transaction paying 1000 sat to OP_TRUE. */
const someTx = toHex(serializeTransaction({
  version: 2,
  locktime: 0,
  inputs: [{
    prevout: { txid: txidFromBytes(new Uint8Array(32).fill(7)), vout: 0 },
    scriptSig: new Uint8Array(0),
    sequence: 0xfffffffd,
    witness: [new Uint8Array(71).fill(1)]
  }],
  outputs: [{ value: sat(1000n), scriptPubKey: Uint8Array.of(0x51) }]
}))

describe("channels endpoints (HTTP, ChannelManager double)", () => {
  it.layer(ServerLive)((it) => {
    it.effect("GET /v1/channels lists every channel as JSON", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/v1/channels")
        assert.strictEqual(reply.status, 200)
        assert.deepStrictEqual(reply.body, [{
          nodeId: toHex(reachable),
          channelId: known,
          phase: "Closed",
          connection: null,
          channelType: null,
          funder: null,
          capacitySat: null,
          balance: null,
          fundingOutput: null,
          fundingOutpoint: null,
          minimumDepth: null,
          depth: null,
          shortChannelId: null,
          confirmations: null,
          closed: { reason: "FundingAborted", detail: "test channel" },
          paused: false
        }])
      }))

    it.effect("GET /v1/channels/events: Server-Sent Events, `Subscribed` first", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const reply = yield* Effect.promise(async () => {
          // The double's event stream is empty: the response ends after `Subscribed`.
          const response = await fetch(`${url}/v1/channels/events`, { headers: auth, signal: AbortSignal.timeout(10_000) })
          return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
        })
        assert.strictEqual(reply.status, 200)
        assert.match(String(reply.type), /^text\/event-stream/)
        const data = reply.text.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)))
        assert.deepStrictEqual(data, [{ nodeId: toHex(ourId), channelId: null, type: "Subscribed", event: null }])
      }))

    it.effect("GET /v1/channels/{id}: the channel, 404 when unknown, 400 for a bad id", () =>
      Effect.gen(function*() {
        const ok = yield* request("GET", `/v1/channels/${known.toUpperCase()}`)
        assert.strictEqual(ok.status, 200)
        assert.strictEqual(field(ok.body, "channelId"), known)
        const missing = yield* request("GET", `/v1/channels/${unknown}`)
        assert.strictEqual(missing.status, 404)
        assert.strictEqual(field(missing.body, "_tag"), "ChannelNotFound")
        assert.strictEqual(field(missing.body, "channelId"), unknown)
        const bad = yield* request("GET", "/v1/channels/abcd")
        assert.strictEqual(bad.status, 400)
        assert.strictEqual(field(bad.body, "_tag"), "InvalidRequest")
        assert.match(String(field(bad.body, "message")), /64 hex characters/)
      }))

    it.effect("POST /v1/channels: validation, peer not connected (404), open rules (400)", () =>
      Effect.gen(function*() {
        const notConnected = yield* post("/v1/channels", { nodeId: toHex(unreachable), amountSat: 100_000 })
        assert.strictEqual(notConnected.status, 404)
        assert.strictEqual(field(notConnected.body, "_tag"), "PeerNotFound")
        const refused = yield* post("/v1/channels", { nodeId: toHex(reachable), amountSat: 1_000 })
        assert.strictEqual(refused.status, 400)
        assert.strictEqual(field(refused.body, "_tag"), "OpenChannelFailed")
        assert.match(String(field(refused.body, "reason")), /FundingTooSmall/)
        for (
          const body of [
            { nodeId: toHex(reachable) },
            { nodeId: toHex(reachable), amountSat: 1.5 },
            { nodeId: toHex(reachable), amountSat: 0 },
            { nodeId: toHex(reachable), amountSat: 100_000, pushMsat: -1 },
            { nodeId: toHex(reachable), amountSat: 100_000, channelType: "legacy" },
            { nodeId: toHex(reachable), amountSat: 100_000, feeratePerKw: 10 },
            { nodeId: "02ab", amountSat: 100_000 }
          ]
        ) {
          const reply = yield* post("/v1/channels", body)
          assert.strictEqual(reply.status, 400, JSON.stringify(body))
          assert.strictEqual(field(reply.body, "_tag"), "InvalidRequest")
        }
      }))

    it.effect("POST fund: bad hex and non-transactions are 400, unknown 404, a refused tx 409", () =>
      Effect.gen(function*() {
        const badHex = yield* post(`/v1/channels/${known}/fund`, { tx: "abc" })
        assert.strictEqual(badHex.status, 400)
        assert.strictEqual(field(badHex.body, "_tag"), "InvalidRequest")
        const notTx = yield* post(`/v1/channels/${known}/fund`, { tx: "0102" })
        assert.strictEqual(notTx.status, 400)
        assert.match(String(field(notTx.body, "message")), /not a transaction/)
        const missing = yield* post(`/v1/channels/${unknown}/fund`, { tx: someTx })
        assert.strictEqual(missing.status, 404)
        const refused = yield* post(`/v1/channels/${known}/fund`, { tx: someTx })
        assert.strictEqual(refused.status, 409)
        assert.strictEqual(field(refused.body, "_tag"), "ChannelCommandRejected")
        assert.strictEqual(field(refused.body, "command"), "FundingTransaction")
        assert.match(String(field(refused.body, "reason")), /UnexpectedInput/)
      }))

    it.effect("POST close / force-close: 409 when the channel refuses, 404 unknown, 400 bad script", () =>
      Effect.gen(function*() {
        const close = yield* post(`/v1/channels/${known}/close`, {})
        assert.strictEqual(close.status, 409)
        assert.strictEqual(field(close.body, "command"), "Close")
        const withScript = yield* post(`/v1/channels/${known}/close`, { scriptPubKey: "0014" + "00".repeat(20), feeratePerKw: 1000 })
        assert.strictEqual(withScript.status, 409)
        const badScript = yield* post(`/v1/channels/${known}/close`, { scriptPubKey: "zz" })
        assert.strictEqual(badScript.status, 400)
        const missing = yield* post(`/v1/channels/${unknown}/close`, {})
        assert.strictEqual(missing.status, 404)
        const force = yield* request("POST", `/v1/channels/${known}/force-close`)
        assert.strictEqual(force.status, 409)
        assert.strictEqual(field(force.body, "command"), "ForceClose")
        const forceMissing = yield* request("POST", `/v1/channels/${unknown}/force-close`)
        assert.strictEqual(forceMissing.status, 404)
        // `{"force": true}` on .../close is the force close (the double refuses it as ForceClose).
        const forceOption = yield* post(`/v1/channels/${known}/close`, { force: true })
        assert.strictEqual(forceOption.status, 409)
        assert.strictEqual(field(forceOption.body, "command"), "ForceClose")
        const forceOptionMissing = yield* post(`/v1/channels/${unknown}/close`, { force: true })
        assert.strictEqual(forceOptionMissing.status, 404)
        const forceWithScript = yield* post(`/v1/channels/${known}/close`, { force: true, feeratePerKw: 1000 })
        assert.strictEqual(forceWithScript.status, 400)
        assert.match(String(field(forceWithScript.body, "message")), /force: true takes no/)
        const forceNotBoolean = yield* post(`/v1/channels/${known}/close`, { force: "yes" })
        assert.strictEqual(forceNotBoolean.status, 400)
        const notForced = yield* post(`/v1/channels/${known}/close`, { force: false })
        assert.strictEqual(field(notForced.body, "command"), "Close")
      }))

    it.effect("POST chain: 202, 404 unknown, 400 for a bad depth or short channel id", () =>
      Effect.gen(function*() {
        const ok = yield* post(`/v1/channels/${known}/chain`, { depth: 3, shortChannelId: "100x1x0" })
        assert.strictEqual(ok.status, 202)
        const missing = yield* post(`/v1/channels/${unknown}/chain`, { depth: 3 })
        assert.strictEqual(missing.status, 404)
        for (const body of [{ depth: -1 }, { depth: 1.5 }, { depth: 3, shortChannelId: "100:1:0" }, { depth: 3, shortChannelId: "99999999x1x0" }]) {
          const reply = yield* post(`/v1/channels/${known}/chain`, body)
          assert.strictEqual(reply.status, 400, JSON.stringify(body))
          assert.strictEqual(field(reply.body, "_tag"), "InvalidRequest")
        }
      }))
  })
})
