import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { compareBytes, toHex } from "../../src/protocol/bytes.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import { dialRaw, initMessage } from "./RawPeer.ts"
import { nextEvents, PORT, startNode } from "./nodes.ts"

describe("at most one connection per node id", () => {
  it.effect("both sides connect at once: both calls succeed and both keep the connection the lower node id initiated", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      const a = yield* Effect.forkChild(alice.connect(bob.nodeId, { host: "10.0.0.2", port: PORT }))
      const b = yield* Effect.forkChild(bob.connect(alice.nodeId, { host: "10.0.0.1", port: PORT }))
      const infoA = yield* Fiber.join(a)
      const infoB = yield* Fiber.join(b)
      assert.strictEqual(toHex(infoA.nodeId), toHex(bob.nodeId))
      assert.strictEqual(toHex(infoB.nodeId), toHex(alice.nodeId))
      yield* TestClock.adjust("2 minutes")
      const pa = yield* alice.peers
      const pb = yield* bob.peers
      assert.strictEqual(pa.length, 1)
      assert.strictEqual(pb.length, 1)
      const aliceIsLower = compareBytes(alice.nodeId, bob.nodeId) < 0
      // The surviving connection was initiated by the lower node id, seen from both ends.
      assert.strictEqual(pa[0]?.direction, aliceIsLower ? "outbound" : "inbound")
      assert.strictEqual(pb[0]?.direction, aliceIsLower ? "inbound" : "outbound")
      // and it works: after more ping rounds both are still there
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* alice.peers).length, 1)
      assert.strictEqual((yield* bob.peers).length, 1)
    }))

  it.effect("the same node connecting again: the newer connection replaces the older one", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const address = { host: "10.0.0.1", port: PORT }
      const t = net.transport("10.6.6.6")
      const events = yield* nextEvents(alice, 3)
      const first = yield* dialRaw(t, address, alice.nodeId, "mallory", secretFromSeed("e1"))
      yield* first.receiveTag("Init")
      yield* first.send(initMessage(ourInitFeatures))
      const second = yield* dialRaw(t, address, alice.nodeId, "mallory", secretFromSeed("e2"))
      yield* second.receiveTag("Init")
      yield* second.send(initMessage(ourInitFeatures))
      const [c1, d1, c2] = yield* Fiber.join(events)
      assert.strictEqual(c1?._tag, "PeerConnected")
      assert.strictEqual(d1?._tag === "PeerDisconnected" ? d1.reason._tag : "", "DuplicateConnection")
      assert.strictEqual(c2?._tag, "PeerConnected")
      // the first connection is closed, the second is the one listed
      assert.isTrue(Exit.isFailure(yield* Effect.exit(first.receive)))
      const peers = yield* alice.peers
      assert.strictEqual(peers.length, 1)
      const portOf = (e: typeof c1) => (e?._tag === "PeerConnected" ? e.peer.address.port : -1)
      assert.strictEqual(peers[0]?.address.port, portOf(c2))
      assert.notStrictEqual(portOf(c1), portOf(c2))
    }))
})
