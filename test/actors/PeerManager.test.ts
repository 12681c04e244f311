import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import { toHex } from "../../src/protocol/bytes.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import { dialRaw, initMessage } from "../sim/RawPeer.ts"
import { nextEvents, PORT, startNode } from "../sim/nodes.ts"

/** A registry in `scope` (or the test's scope) for the node `name`, listening on `host`. */
const node = (net: MemoryNetwork, name: string, host: string, scope?: Scope.Scope) =>
  scope === undefined ? startNode(net, name, host) : startNode(net, name, host).pipe(Scope.provide(scope))

const connected = (net: MemoryNetwork) =>
  Effect.gen(function*() {
    const alice = yield* node(net, "alice", "10.0.0.1")
    const bob = yield* node(net, "bob", "10.0.0.2")
    const bobConnected = yield* nextEvents(bob, 1)
    // The network has a delay: the clock must move for the handshake to complete.
    const dial = yield* Effect.forkChild(alice.connect(bob.nodeId, { host: "10.0.0.2", port: PORT }))
    yield* TestClock.adjust("1 second")
    yield* Fiber.join(dial)
    yield* Fiber.join(bobConnected) // Bob lists Alice once his side of `init` is done too
    assert.strictEqual((yield* bob.peers).length, 1)
    return { alice, bob }
  })

describe("PeerManager concurrency", () => {
  it.effect("disconnect returns only once the peer is no longer listed, also when both ends disconnect at once", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ delay: "1 millis" })
      const { alice, bob } = yield* connected(net)
      const a = yield* Effect.forkChild(Effect.exit(alice.disconnect(bob.nodeId)).pipe(Effect.andThen(alice.peers)))
      const b = yield* Effect.forkChild(Effect.exit(bob.disconnect(alice.nodeId)).pipe(Effect.andThen(bob.peers)))
      const c = yield* Effect.forkChild(Effect.exit(alice.disconnect(bob.nodeId)).pipe(Effect.andThen(alice.peers)))
      yield* TestClock.adjust("1 second")
      // Whichever call did the work, each one saw an empty list right when it returned.
      assert.deepStrictEqual(yield* Fiber.join(a), [])
      assert.deepStrictEqual(yield* Fiber.join(b), [])
      assert.deepStrictEqual(yield* Fiber.join(c), [])
      assert.strictEqual((yield* Effect.flip(alice.peer(bob.nodeId)))._tag, "PeerNotConnected")
    }))

  it.effect("a connect in flight when the registry's scope closes fails with LocalRequest; later ones fail at once", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const scope = yield* Scope.make()
      const alice = yield* node(net, "alice", "10.0.0.1", scope)
      const bob = yield* node(net, "bob", "10.0.0.2")
      // Nobody answers the handshake at this address: the dial stays in progress.
      const silent = yield* net.transport("10.0.0.3").listen({ host: "10.0.0.3", port: PORT })
      const pending = yield* Effect.forkChild(Effect.flip(alice.connect(bob.nodeId, silent.address)))
      yield* Effect.yieldNow
      assert.isUndefined(pending.pollUnsafe())
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* Fiber.join(pending)).reason._tag, "LocalRequest")
      const late = yield* Effect.flip(alice.connect(bob.nodeId, { host: "10.0.0.2", port: PORT }))
      assert.strictEqual(late.reason._tag, "LocalRequest")
    }))

  it.effect("closing the registry's scope unlists and closes its connections; the remote sees them end", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const scope = yield* Scope.make()
      const alice = yield* node(net, "alice", "10.0.0.1", scope)
      const bob = yield* node(net, "bob", "10.0.0.2")
      const bobSees = yield* nextEvents(bob, 2)
      yield* alice.connect(bob.nodeId, { host: "10.0.0.2", port: PORT })
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* alice.peers, []) // nothing stale stays listed
      const [connectedEvent, gone] = yield* Fiber.join(bobSees)
      assert.strictEqual(connectedEvent?._tag, "PeerConnected")
      assert.strictEqual(gone?._tag === "PeerDisconnected" ? gone.reason._tag : "", "ConnectionClosed")
      assert.deepStrictEqual(yield* bob.peers, [])
    }))

  it.effect("a connect waiting on a connection that a newer one replaces gets the newer one", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* node(net, "alice", "10.0.0.1")
      const address = { host: "10.0.0.1", port: PORT }
      const t = net.transport("10.6.6.6")
      // Mallory's first connection is authenticated (Alice sent her init) but Mallory's init is pending.
      const first = yield* dialRaw(t, address, alice.nodeId, "mallory", secretFromSeed("e1"))
      yield* first.receiveTag("Init")
      const connecting = yield* Effect.forkChild(alice.connect(first.nodeId, { host: "10.6.6.6", port: PORT }))
      yield* Effect.yieldNow
      // A second connection from Mallory replaces the first one before it finished init.
      const second = yield* dialRaw(t, address, alice.nodeId, "mallory", secretFromSeed("e2"))
      yield* second.receiveTag("Init")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(first.receive)))
      yield* second.send(initMessage(ourInitFeatures))
      const info = yield* Fiber.join(connecting)
      assert.strictEqual(toHex(info.nodeId), toHex(first.nodeId))
      assert.strictEqual(info.direction, "inbound")
      const listed = yield* alice.peers
      assert.strictEqual(listed.length, 1)
      assert.strictEqual(listed[0]?.address.port, info.address.port)
    }))
})
