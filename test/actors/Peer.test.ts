import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Queue } from "effect"
import { TestClock } from "effect/testing"
import { toHex } from "../../src/protocol/bytes.ts"
import { defaultPeerConfig, makePeer, PeerClosed, type PeerConfig, type PeerHooks } from "../../src/actors/Peer.ts"
import { DisconnectReason, type PeerInfo, SessionId } from "../../src/actors/PeerEvent.ts"
import { type LightningMessage, LightningMessages, Stfu } from "../../src/protocol/messages/index.ts"
import type { ChannelId } from "../../src/protocol/units.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { makeNodeSigner, secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import type { NodeId } from "../../src/protocol/units.ts"
import type { Connection } from "../../src/services/Transport.ts"

const bobId = makeNodeSigner(secretFromSeed("bob")).nodeId

/** A connected pair of raw connections. */
const pair = Effect.gen(function*() {
  const net = yield* makeMemoryNetwork()
  const t = net.transport("h")
  const listener = yield* t.listen({ host: "h", port: 1 })
  const client = yield* t.connect(listener.address)
  const server = yield* listener.accept
  return { client, server }
})

const hooks = (inbox?: Queue.Queue<LightningMessage>, ready?: Deferred.Deferred<PeerInfo>): PeerHooks => ({
  onAuthenticated: () => Effect.void,
  onReady: (info) => (ready === undefined ? Effect.void : Deferred.succeed(ready, info).pipe(Effect.asVoid)),
  onConnected: () => Effect.void,
  onMessage: (m) => (inbox === undefined ? Effect.void : Queue.offer(inbox, m).pipe(Effect.asVoid))
})

/** `stfu` (BOLT 2, type 2) for channel 7...7: a small message the Peer hands up. */
const stfu = (() => {
  const r = LightningMessages.encode(Stfu.make({ channelId: new Uint8Array(32).fill(7) as ChannelId, initiator: 1 }))
  if (r._tag !== "Success") throw new Error("encode")
  return r.success
})()

let sessions = 0

const start = (
  connection: Connection,
  seed: string,
  initiatorTo: NodeId | undefined,
  config: PeerConfig,
  h: PeerHooks
) =>
  Effect.gen(function*() {
    const role = initiatorTo === undefined ? { _tag: "Responder" as const } : { _tag: "Initiator" as const, remoteNodeId: initiatorTo }
    const { handle, run } = yield* makePeer(connection, role, SessionId(++sessions), config, h)
    const fiber = yield* Effect.forkChild(run.pipe(Effect.provide(Layer.mergeAll(SeededEntropy.layer(seed), SeededNodeSigner.layer(seed)))))
    return { handle, fiber }
  })

describe("Peer", () => {
  it.effect("initiator and responder reach ready; send hands off; disconnect gives the reason on both ends", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      const inbox = yield* Queue.bounded<LightningMessage>(4)
      const bobReady = yield* Deferred.make<PeerInfo>()
      const config = defaultPeerConfig
      const alice = yield* start(client, "alice", bobId, config, hooks())
      const bob = yield* start(server, "bob", undefined, config, hooks(inbox, bobReady))
      const infoA = yield* alice.handle.ready
      const infoB = yield* Deferred.await(bobReady)
      assert.strictEqual(toHex(infoA.nodeId), toHex(bobId))
      assert.strictEqual(infoA.direction, "outbound")
      assert.strictEqual(infoB.direction, "inbound")
      assert.notStrictEqual(infoA.session, infoB.session)
      assert.strictEqual(infoA.session, alice.handle.session)
      yield* alice.handle.send(stfu)
      const m = yield* Queue.take(inbox)
      assert.deepStrictEqual(m._tag === "Stfu" ? [toHex(m.channelId), m.initiator] : [], ["07".repeat(32), 1])
      yield* alice.handle.disconnect(DisconnectReason.LocalRequest())
      assert.strictEqual((yield* alice.handle.closed)._tag, "LocalRequest")
      assert.strictEqual((yield* Fiber.join(bob.fiber))._tag, "ConnectionClosed")
      assert.strictEqual((yield* Effect.flip(alice.handle.send(stfu)))._tag, "PeerClosed")
    }))

  it.effect("the wrong remote key fails the handshake on both ends", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      const carolId = makeNodeSigner(secretFromSeed("carol")).nodeId
      const alice = yield* start(client, "alice", carolId, defaultPeerConfig, hooks())
      const bob = yield* start(server, "bob", undefined, defaultPeerConfig, hooks())
      const a = yield* alice.handle.closed
      const b = yield* Fiber.join(bob.fiber)
      assert.strictEqual(a._tag, "HandshakeFailed")
      assert.strictEqual(b._tag, "HandshakeFailed")
      assert.include(b._tag === "HandshakeFailed" ? b.message : "", "NoiseActMacInvalid")
      assert.strictEqual((yield* Effect.flip(alice.handle.ready)).reason._tag, "HandshakeFailed")
    }))

  it.effect("a bug in the layer above (defect in onMessage) ends the connection as InternalError", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      const config = defaultPeerConfig
      const crashing: PeerHooks = { ...hooks(), onMessage: () => Effect.die("boom") }
      const alice = yield* start(client, "alice", bobId, config, hooks())
      const bob = yield* start(server, "bob", undefined, config, crashing)
      yield* alice.handle.ready
      yield* alice.handle.send(stfu)
      const reason = yield* Fiber.join(bob.fiber)
      assert.strictEqual(reason._tag === "InternalError" ? reason.message : "", "boom")
      assert.strictEqual((yield* alice.handle.closed)._tag, "ConnectionClosed")
    }))

  it.effect("disconnect during the handshake returns, closes the connection and fails ready and send", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      const bob = yield* start(server, "bob", undefined, defaultPeerConfig, hooks())
      yield* Effect.yieldNow // bob now waits for act one, which never comes
      yield* bob.handle.disconnect(DisconnectReason.LocalRequest())
      assert.strictEqual((yield* bob.handle.closed)._tag, "LocalRequest")
      assert.strictEqual((yield* Fiber.join(bob.fiber))._tag, "LocalRequest")
      assert.strictEqual((yield* Effect.flip(bob.handle.ready)).reason._tag, "LocalRequest")
      assert.strictEqual((yield* Effect.flip(bob.handle.send(Uint8Array.of(0, 33))))._tag, "PeerClosed")
      assert.strictEqual((yield* Effect.flip(client.read))._tag, "TransportClosed")
      yield* bob.handle.disconnect(DisconnectReason.PingTimeout()) // no-op once closed: the first reason stands
      assert.strictEqual((yield* bob.handle.closed)._tag, "LocalRequest")
    }))

  it.effect("interrupting a live peer (its scope closing) ends it: closed yields LocalRequest, pending sends fail", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      const alice = yield* start(client, "alice", bobId, defaultPeerConfig, hooks())
      const bob = yield* start(server, "bob", undefined, defaultPeerConfig, hooks())
      yield* alice.handle.ready
      yield* bob.handle.ready
      yield* Fiber.interrupt(alice.fiber)
      assert.strictEqual((yield* alice.handle.closed)._tag, "LocalRequest")
      assert.strictEqual((yield* Effect.flip(alice.handle.send(Uint8Array.of(0, 33))))._tag, "PeerClosed")
      assert.strictEqual((yield* bob.handle.closed)._tag, "ConnectionClosed")
    }))

  it.effect("a slow layer above pauses the reader without a PingTimeout: the pong behind it is read afterwards", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      // Bob pings every 300 ms and waits 300 ms for the pong; his layer above takes 2 s per message.
      const fast: PeerConfig = { ...defaultPeerConfig, pingInterval: "300 millis", pingTimeout: "300 millis" }
      const quiet: PeerConfig = { ...defaultPeerConfig, pingInterval: "1 hour", pingTimeout: "1 hour" }
      let handled = 0
      const slow: PeerHooks = { ...hooks(), onMessage: () => Effect.sleep("2 seconds").pipe(Effect.andThen(Effect.sync(() => void handled++))) }
      const alice = yield* start(client, "alice", bobId, quiet, hooks())
      const bob = yield* start(server, "bob", undefined, fast, slow)
      yield* alice.handle.ready
      yield* bob.handle.ready
      for (let i = 0; i < 3; i++) yield* alice.handle.send(stfu)
      // 3 x 2 s in the layer above, pings every ~600 ms: several pongs wait behind a paused read.
      for (let i = 0; i < 80; i++) yield* TestClock.adjust("100 millis")
      assert.strictEqual(handled, 3)
      assert.isUndefined(bob.fiber.pollUnsafe())
      // Bob never gave up on Alice: his connection ends only when she closes it.
      yield* alice.handle.disconnect(DisconnectReason.LocalRequest())
      assert.strictEqual((yield* Fiber.join(bob.fiber))._tag, "ConnectionClosed")
    }))

  it.effect("onAuthenticated can refuse the connection", () =>
    Effect.gen(function*() {
      const { client, server } = yield* pair
      const refusing: PeerHooks = { ...hooks(), onAuthenticated: () => Effect.fail(new PeerClosed({ reason: DisconnectReason.DuplicateConnection() })) }
      const alice = yield* start(client, "alice", bobId, defaultPeerConfig, hooks())
      const bob = yield* start(server, "bob", undefined, defaultPeerConfig, refusing)
      assert.strictEqual((yield* Fiber.join(bob.fiber))._tag, "DuplicateConnection")
      assert.strictEqual((yield* alice.handle.closed)._tag, "ConnectionClosed")
      yield* TestClock.adjust("1 minute")
    }))
})
