/**
 * `RouterGraphAdapter.layer`: the router reads the gossip graph through `RouterGraph`; the routing graph
 * is rebuilt only when the gossip graph changed (and not more often than `minRebuildMillis`).
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Result } from "effect"
import { TestClock } from "effect/testing"
import { MemoryNetworkGraph, RouterGraphAdapter } from "../../../src/layers/graph/index.ts"
import { compareBytes } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 as secp } from "../../../src/protocol/crypto/secp256k1.ts"
import { channelFlags, signChannelAnnouncement, signChannelUpdate } from "../../../src/protocol/gossip/sign.ts"
import { Networks } from "../../../src/protocol/network.ts"
import { NetworkGraph } from "../../../src/services/NetworkGraph.ts"
import { RouterGraph } from "../../../src/services/Router.ts"

const NOW = 1_770_000_000
const chainHash = Networks.regtest.chainHash
const sec = (s: string) => sha256(new TextEncoder().encode(s))
const pub = (s: Uint8Array) => secp.publicKey(s) ?? new Uint8Array(0)
const [a, b] = [sec("a"), sec("b")]
const [s1, s2] = compareBytes(pub(a), pub(b)) < 0 ? [a, b] : [b, a]
const scid = shortChannelIdFromParts(800_000, 1, 0)
const get = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(String(r.failure))
  return r.success
}
const ann = get(signChannelAnnouncement(secp, {
  features: new Uint8Array(0), chainHash, shortChannelId: scid, nodeId1: pub(s1), nodeId2: pub(s2), bitcoinKey1: pub(sec("x")), bitcoinKey2: pub(sec("y"))
}, { node1: s1, node2: s2, bitcoin1: sec("x"), bitcoin2: sec("y") }))
const upd = (direction: 0 | 1, timestamp: number) =>
  get(signChannelUpdate(secp, {
    chainHash, shortChannelId: scid, timestamp, messageFlags: 1, channelFlags: channelFlags(direction, false), cltvExpiryDelta: 40,
    htlcMinimumMsat: 1n, feeBaseMsat: 1, feeProportionalMillionths: 1, htlcMaximumMsat: 1_000_000n
  }, direction === 0 ? s1 : s2))

const layer = RouterGraphAdapter.layer({ minRebuildMillis: 1_000 }).pipe(Layer.provideMerge(MemoryNetworkGraph.layerEphemeral({ secp, network: Networks.regtest })))

describe("RouterGraphAdapter.layer", () => {
  it.effect("follows the gossip graph, rebuilding only on change and at most once per interval", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const graph = yield* NetworkGraph
      const router = yield* RouterGraph
      assert.strictEqual((yield* router.current).edgeCount, 0)
      yield* graph.apply(ann, { capacitySat: 10_000n })
      yield* graph.apply(upd(0, NOW - 10))
      yield* TestClock.adjust("2 seconds")
      const first = yield* router.current
      assert.strictEqual(first.edgeCount, 1)
      assert.strictEqual(yield* router.current, first) // unchanged graph: the same snapshot
      yield* graph.apply(upd(1, NOW - 10))
      assert.strictEqual(yield* router.current, first) // changed, but within the interval
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* router.current).edgeCount, 2)
    }).pipe(Effect.provide(layer)))
})
