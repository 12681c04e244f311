import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { toHex } from "../../src/protocol/bytes.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { nextEvents, PORT, startNode } from "./nodes.ts"

describe("two nodes in memory", () => {
  it.effect("handshake and init complete, both list each other, events are emitted", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      const aliceEvents = yield* nextEvents(alice, 2)
      const bobEvents = yield* nextEvents(bob, 2)
      const bobConnected = yield* nextEvents(bob, 1)
      const info = yield* alice.connect(bob.nodeId, { host: "10.0.0.2", port: PORT })
      assert.strictEqual(toHex(info.nodeId), toHex(bob.nodeId))
      assert.strictEqual(info.direction, "outbound")
      assert.deepStrictEqual(info.negotiatedFeatures, [1, 5, 9, 13, 15, 23, 27, 37, 45, 47, 51, 61])
      yield* Fiber.join(bobConnected)
      const connected = yield* bob.peer(alice.nodeId)
      assert.strictEqual(connected?.direction, "inbound")
      assert.strictEqual(connected?.address.host, "10.0.0.1")
      assert.deepStrictEqual((yield* alice.peers).map((p) => toHex(p.nodeId)), [toHex(bob.nodeId)])
      assert.deepStrictEqual((yield* bob.peers).map((p) => toHex(p.nodeId)), [toHex(alice.nodeId)])
      // a second connect returns the existing peer
      const again = yield* alice.connect(bob.nodeId, { host: "10.0.0.2", port: PORT })
      assert.strictEqual(again.direction, "outbound")
      // pings keep it alive for a long time
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* alice.peers).length, 1)
      assert.strictEqual((yield* bob.peers).length, 1)
      yield* alice.disconnect(bob.nodeId)
      assert.deepStrictEqual(yield* alice.peers, []) // forgotten as soon as disconnect returns
      const a = yield* Fiber.join(aliceEvents)
      const b = yield* Fiber.join(bobEvents)
      assert.deepStrictEqual(a.map((e) => e._tag), ["PeerConnected", "PeerDisconnected"])
      assert.deepStrictEqual(b.map((e) => e._tag), ["PeerConnected", "PeerDisconnected"])
      const last = a[1]
      assert.strictEqual(last?._tag === "PeerDisconnected" ? last.reason._tag : "", "LocalRequest")
      const lastB = b[1]
      assert.strictEqual(lastB?._tag === "PeerDisconnected" ? lastB.reason._tag : "", "ConnectionClosed")
      assert.deepStrictEqual(yield* alice.peers, [])
      assert.deepStrictEqual(yield* bob.peers, [])
    }))
})
