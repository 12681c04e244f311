/**
 * `GET /v1/balances` over real HTTP: node 0 of an on-chain net (test/sim/onchain/OnchainNet.ts)
 * serves the control API with its `MonitorChain`. Before the close the channel shows as
 * `ChannelOpen`; after the peer's force close (anchors) our `to_remote` is claimable and, once
 * claimed, awaits confirmations, and the HTLC we offered is claimable after its expiry. A server
 * without an on-chain monitor answers 503.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { MonitorChain } from "../../src/actors/MonitorChain.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { OnchainNet } from "../sim/onchain/OnchainNet.ts"
import { apiToken, field, request, ServerLive } from "./harness.ts"

const serve = (net: OnchainNet) => {
  const node = net.h.node(0)
  const manager = node.manager
  const monitor = net.monitors[0]
  if (manager === undefined || monitor === undefined) throw new Error("manager backend and a running monitor expected")
  return Layer.build(
    ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, logRequests: false }).pipe(
      Layer.provide([Layer.succeed(PeerManager, node.peers.shape), Layer.succeed(ChannelManager, manager), Layer.succeed(MonitorChain, monitor)])
    )
  )
}

const statuses = (body: unknown): ReadonlyArray<string> => {
  const channels = field(body, "channels")
  if (!Array.isArray(channels)) return []
  return channels.flatMap((c: unknown) => {
    const balances = field(c, "balances")
    return Array.isArray(balances) ? balances.map((b: unknown) => `${String(field(b, "status"))}/${String(field(b, "kind"))}`) : []
  })
}

describe("balances API", () => {
  it.live("GET /v1/balances follows a force close by the peer", () =>
    Effect.acquireUseRelease(OnchainNet.make({ seed: "api-balances" }), (net) =>
      Effect.gen(function*() {
        const { channelId: id } = yield* net.openFunded({ fundingSat: 1_000_000n, pushMsat: 300_000_000n })
        const a = yield* net.h.addHtlc(0, id, 20_000_000n, 1)
        assert.ok(a._tag === "Success")
        yield* net.h.quiesce({ completeWrites: true })
        const api = yield* serve(net)

        const open = yield* request("GET", "/v1/balances").pipe(Effect.provide(api))
        assert.strictEqual(open.status, 200, JSON.stringify(open.body))
        assert.deepStrictEqual(statuses(open.body), ["ChannelOpen/null"])
        const channels = field(open.body, "channels")
        assert.ok(Array.isArray(channels))
        assert.strictEqual(field(channels[0], "channelId"), toHex(id))
        // 1,000,000 sat - 300,000 pushed - 20,000 in the HTLC (before the commitment fee).
        assert.strictEqual(field(open.body, "totalSat"), "680000")

        yield* net.h.disconnect(0, 1)
        yield* net.h.node(1).manager!.forceClose(id).pipe(Effect.orDie)
        yield* net.h.quiesce({ completeWrites: true })
        yield* net.mine(2)
        // Their commitment confirmed: our to_remote claim is in the mempool, the HTLC we offered waits for its expiry.
        const closing = yield* request("GET", "/v1/balances").pipe(Effect.provide(api))
        assert.deepStrictEqual([...statuses(closing.body)].sort(), ["ClaimableAt/received_htlc", "ClaimableNow/to_remote"])
        yield* net.mine(1)
        const closed = yield* request("GET", "/v1/balances").pipe(Effect.provide(api))
        assert.deepStrictEqual([...statuses(closed.body)].sort(), ["AwaitingConfirmations/null", "ClaimableAt/received_htlc"])
        const htlc = (field(closed.body, "channels") as Array<unknown>).flatMap((c) => field(c, "balances") as Array<unknown>).find((b) => field(b, "kind") === "received_htlc")
        assert.strictEqual(field(htlc, "height"), 1002)
        assert.strictEqual(field(htlc, "amountSat"), "20000")
        assert.strictEqual(field(closed.body, "height"), yield* net.chain.sim.height)
      }).pipe(Effect.scoped), (net) => net.shutdown))

  it.layer(ServerLive)((it) => {
    it.effect("a server without an on-chain monitor answers 503", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/v1/balances")
        assert.strictEqual(reply.status, 503)
        assert.strictEqual(field(reply.body, "_tag"), "BalancesUnavailable")
      }))
  })
})
