/**
 * Route hints from gossip: with no `PaymentsConfig.routeHints`, `Payments.createInvoice` takes
 * the node's `GossipSync.routeHints` (the peers' private `channel_update`s), as NodeLive wires it.
 * Alice opens a private channel to Bob and sets her policy on it; Bob's invoice carries Alice's
 * policy towards him and the short channel id she put in her update (her alias for the channel).
 * The nodes are those of test/sim/gossip/announcing.ts (live clock, in-memory network).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { make as makePayments } from "../../../src/actors/Payments.ts"
import { ChannelManager } from "../../../src/actors/ChannelManager.ts"
import * as GossipSync from "../../../src/actors/GossipSync.ts"
import { equalBytes } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { decodeInvoice } from "../../../src/protocol/invoice/index.ts"
import { defaultForwardingPolicy } from "../../../src/protocol/payment/forward.ts"
import { msat } from "../../../src/protocol/units.ts"
import { makeMemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import { makeMemoryStore, makeMemoryStoreData } from "../../../src/layers/store/MemoryStore.ts"
import * as SeededEntropy from "../../../src/layers/test/SeededEntropy.ts"
import * as SeededNodeSigner from "../../../src/layers/test/SeededNodeSigner.ts"
import { NoRoute, Router } from "../../../src/services/Router.ts"
import { Store } from "../../../src/services/Store.ts"
import { chain, connect, openReadyChannel, sleep, startNode } from "../gossip/announcing.ts"

/** A router that never finds a route: Bob only issues an invoice here. */
const noRouter = Layer.succeed(Router, Router.of({
  findRoute: () => Effect.fail(new NoRoute({ reason: "NoPath", detail: "not used" })),
  reportPath: () => Effect.void
}))

describe("route hints from gossip", () => {
  it.live("an invoice carries the private channel's hint from the peer's channel_update", () =>
    Effect.gen(function*() {
      chain.height = 300
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      yield* connect(alice, bob)
      const { channelId } = yield* openReadyChannel(alice, bob, false, 5)
      yield* alice.announcer.setPolicy(channelId, { ...defaultForwardingPolicy, feeBaseMsat: 4242, feeProportionalMillionths: 21, cltvExpiryDelta: 77 })
      yield* alice.announcer.check
      for (let i = 0; i < 500; i++) {
        const us = yield* bob.sync.peerChannelUpdates(alice.peers.nodeId)
        if (us.some((u) => u.feeBaseMsat === 4242)) break
        yield* sleep(10)
      }
      const { store } = makeMemoryStore(makeMemoryStoreData())
      const payments = yield* makePayments({ secp: nobleSecp256k1, blockHeight: Effect.succeed(chain.height) }).pipe(
        Effect.provide(Layer.mergeAll(
          Layer.succeed(ChannelManager, bob.channels),
          Layer.succeed(GossipSync.GossipSync, bob.sync),
          Layer.succeed(Store, store),
          SeededNodeSigner.layer("bob", nobleSecp256k1),
          SeededEntropy.layer("bob/payments"),
          noRouter
        ))
      )
      const created = yield* payments.createInvoice({ amountMsat: msat(5_000_000n), description: { text: "hinted by gossip" } })
      const decoded = decodeInvoice(created.invoice, nobleSecp256k1)
      if (Result.isFailure(decoded)) return assert.fail(decoded.failure.message)
      const state = (yield* alice.channels.channel(channelId)).state
      const aliceScid = state._tag === "Normal" ? state.localAlias ?? state.shortChannelId : undefined
      assert.strictEqual(decoded.success.routeHints.length, 1)
      const hop = decoded.success.routeHints[0]![0]!
      assert.isTrue(equalBytes(hop.pubkey, alice.peers.nodeId))
      assert.deepStrictEqual(
        [hop.shortChannelId, hop.feeBaseMsat, hop.feeProportionalMillionths, hop.cltvExpiryDelta],
        [aliceScid, 4242, 21, 77]
      )
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
