/**
 * The peer layer's contract with the layer above (issue 7, "the peer layer channels need"):
 * one lossless stream of session events, `send(session)` that never reaches a later
 * connection, replies from the consumer, a slow consumer that drops nobody, a bounded outbound
 * queue, and the policies of a node without channels (`open_channel` refused with an `error`,
 * gossip without `gossip_queries` ignored).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Queue, Result } from "effect"
import { TestClock } from "effect/testing"
import type { PeerManagerConfig, PeerManagerShape } from "../../src/actors/PeerManager.ts"
import type { PeerSessionEvent, SessionId } from "../../src/actors/PeerEvent.ts"
import { makeMemoryNetwork, type MemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { secretFromSeed } from "../../src/layers/test/SeededNodeSigner.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import {
  ChainHashes,
  LightningMessages,
  makeError,
  OpenChannel,
  Stfu,
  UpdateFee
} from "../../src/protocol/messages/index.ts"
import { msat, sat, type ChannelId } from "../../src/protocol/units.ts"
import { dialRaw, encode, initMessage, pingMessage, type RawPeer } from "./RawPeer.ts"
import { consumeSessions, encodeMessage, PORT, sessionInbox, startNode } from "./nodes.ts"

const alicePort = { host: "10.0.0.1", port: PORT }
const channelOf = (n: number) => new Uint8Array(32).fill(n) as ChannelId
const fee = (feeratePerKw: number) => UpdateFee.make({ channelId: channelOf(1), feeratePerKw })

const tagOf = (e: PeerSessionEvent): string => (e._tag === "Message" ? e.message._tag : e._tag)

/** Mallory (a raw peer, the node "mallory") connects to Alice and completes `init`. */
const malloryJoins = (net: MemoryNetwork, alice: PeerManagerShape, ephemeral: string) =>
  Effect.gen(function*() {
    const mallory = yield* dialRaw(net.transport("10.6.6.6"), alicePort, alice.nodeId, "mallory", secretFromSeed(ephemeral))
    yield* mallory.receiveTag("Init")
    yield* mallory.send(initMessage(ourInitFeatures))
    return mallory
  })

/** Mallory's ping with a marker length, answered only if everything she sent before was handled and she is still connected. */
const stillConnected = (mallory: RawPeer, marker = 4321) =>
  Effect.gen(function*() {
    yield* mallory.send(pingMessage(marker))
    while (true) {
      const m = yield* mallory.receiveTag("Pong")
      if (m._tag === "Pong" && m.ignored.length === marker) return true
    }
  }).pipe(Effect.catch(() => Effect.succeed(false)))

const point = (seed: string) => {
  const p = nobleSecp256k1.publicKey(secretFromSeed(seed))
  if (p === undefined) throw new Error("key")
  return p
}

const openChannel = OpenChannel.make({
  chainHash: ChainHashes.regtest,
  temporaryChannelId: channelOf(0x42),
  fundingSatoshis: sat(100_000n),
  pushMsat: msat(0n),
  dustLimitSatoshis: sat(546n),
  maxHtlcValueInFlightMsat: msat(100_000_000n),
  channelReserveSatoshis: sat(1_000n),
  htlcMinimumMsat: msat(1n),
  feeratePerKw: 253,
  toSelfDelay: 144,
  maxAcceptedHtlcs: 30,
  fundingPubkey: point("f"),
  revocationBasepoint: point("r"),
  paymentBasepoint: point("p"),
  delayedPaymentBasepoint: point("d"),
  htlcBasepoint: point("h"),
  firstPerCommitmentPoint: point("c"),
  channelFlags: 0
})

describe("peer sessions", () => {
  it.effect("(a) a layer above taking 2 s per message, with 300 ms ping timers on both ends, drops nobody", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ delay: "5 millis" })
      const timers: PeerManagerConfig = { peer: { pingInterval: "300 millis", pingTimeout: "300 millis" } }
      const alice = yield* startNode(net, "alice", "10.0.0.1", timers)
      const bob = yield* startNode(net, "bob", "10.0.0.2", timers)
      const seen: Array<string> = []
      yield* consumeSessions(alice, (e) =>
        Effect.sync(() => void seen.push(tagOf(e))).pipe(Effect.andThen(e._tag === "Message" ? Effect.sleep("2 seconds") : Effect.void)))
      const dial = yield* Effect.forkChild(bob.connect(alice.nodeId, alicePort))
      yield* TestClock.adjust("100 millis")
      const info = yield* Fiber.join(dial)
      for (let i = 0; i < 5; i++) yield* bob.send(info.session, fee(1000 + i))
      for (let i = 0; i < 150; i++) yield* TestClock.adjust("100 millis") // 15 s: 5 x 2 s handled, 25+ ping rounds
      assert.deepStrictEqual(seen, ["Connected", "UpdateFee", "UpdateFee", "UpdateFee", "UpdateFee", "UpdateFee"])
      assert.strictEqual((yield* alice.peers).length, 1)
      assert.strictEqual((yield* bob.peers).length, 1)
      assert.strictEqual((yield* bob.peer(alice.nodeId)).session, info.session) // the same connection all along
    }))

  it.effect("(b) the consumer replies with send while handling a message, with a tiny buffer, in order", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1", { sessionBuffer: 2 })
      const bob = yield* startNode(net, "bob", "10.0.0.2")
      yield* consumeSessions(alice, (e) =>
        e._tag === "Message" && e.message._tag === "UpdateFee"
          ? alice.send(e.session, fee(e.message.feeratePerKw + 1)) // the reply goes out on the session it answers
          : Effect.void)
      const bobInbox = yield* sessionInbox(bob, 8)
      const info = yield* bob.connect(alice.nodeId, alicePort)
      assert.strictEqual((yield* Queue.take(bobInbox))._tag, "Connected")
      for (let i = 0; i < 300; i++) yield* bob.send(info.session, fee(i * 10))
      const replies: Array<number> = []
      while (replies.length < 300) {
        const e = yield* Queue.take(bobInbox)
        if (e._tag === "Message" && e.message._tag === "UpdateFee") replies.push(e.message.feeratePerKw)
      }
      assert.deepStrictEqual(replies, Array.from({ length: 300 }, (_, i) => i * 10 + 1))
    }))

  it.effect("(c) a full outbound queue disconnects that peer with OutboundQueueFull; the sender gets StaleSession", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork({ chunkCapacity: 2 })
      const alice = yield* startNode(net, "alice", "10.0.0.1", { peer: { outboundCapacity: 4 } })
      const inbox = yield* sessionInbox(alice)
      yield* malloryJoins(net, alice, "e1") // and never reads again
      const connected = yield* Queue.take(inbox)
      if (connected._tag !== "Connected") return assert.fail("expected Connected")
      const big = new Uint8Array(1000)
      big[1] = 35
      let sent = 0
      let failure: string | undefined
      while (failure === undefined && sent < 100) {
        const r = yield* Effect.exit(alice.sendBytes(connected.session, big))
        if (Exit.isSuccess(r)) sent++
        else failure = Exit.isFailure(r) ? String(r.cause) : ""
        yield* Effect.yieldNow
      }
      assert.include(failure ?? "", "StaleSession")
      assert.isAtMost(sent, 4 + 4 + 2) // the queue, the pipes, one write in progress
      const gone = yield* Queue.take(inbox)
      assert.deepStrictEqual(gone._tag === "Disconnected" ? [gone.session, gone.reason] : [], [
        connected.session,
        { _tag: "OutboundQueueFull", capacity: 4 }
      ])
      assert.deepStrictEqual(yield* alice.peers, [])
    }))

  it.effect("(d) 10,000 messages arrive in order; a reconnection is a new session; a stale session's send fails and never reaches it", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1", { sessionBuffer: 16 })
      const events: Array<PeerSessionEvent> = []
      const disconnects = yield* Queue.bounded<void>(4)
      yield* consumeSessions(alice, (e) =>
        Effect.sync(() => void events.push(e)).pipe(
          Effect.andThen(e._tag === "Disconnected" ? Queue.offer(disconnects, undefined) : Effect.yieldNow)
        ))
      const N = 10_000
      const first = yield* malloryJoins(net, alice, "e1")
      for (let i = 0; i < N; i++) yield* first.send(encodeMessage(fee(i)))
      yield* first.connection.close
      yield* Queue.take(disconnects)
      const second = yield* malloryJoins(net, alice, "e2")
      while (events.length < N + 3) yield* Effect.yieldNow
      const [c1, c2] = [events[0], events[N + 2]]
      const s1 = c1?._tag === "Connected" ? c1.session : undefined
      const s2 = c2?._tag === "Connected" ? c2.session : undefined
      if (s1 === undefined || s2 === undefined) return assert.fail("expected Connected events")
      assert.notStrictEqual(s1, s2)
      // The old session is stale: nothing goes out, even though Mallory is connected again.
      const stale = yield* Effect.flip(alice.send(s1, Stfu.make({ channelId: channelOf(9), initiator: 1 })))
      assert.deepStrictEqual([stale._tag, stale._tag === "StaleSession" ? stale.session : 0], ["StaleSession", s1])
      yield* alice.send(s2, Stfu.make({ channelId: channelOf(2), initiator: 0 }))
      const received = LightningMessages.decode(yield* second.receive)
      assert.isTrue(Result.isSuccess(received) && received.success._tag === "Stfu" && received.success.channelId[0] === 2)
      yield* second.send(encodeMessage(fee(7)))
      yield* second.send(Uint8Array.of(1, 0x24)) // unknown even: the end of session 2
      yield* Queue.take(disconnects)

      const s1Events = events.slice(0, N + 2)
      assert.isTrue(s1Events.every((e) => e.session === s1))
      const s1End = s1Events[N + 1]
      assert.strictEqual(s1End?._tag === "Disconnected" ? s1End.reason._tag : "", "ConnectionClosed")
      const fees = s1Events.flatMap((e) => (e._tag === "Message" && e.message._tag === "UpdateFee" ? [e.message.feeratePerKw] : []))
      assert.strictEqual(fees.length, N)
      assert.isTrue(fees.every((f, i) => f === i), "in order, none lost")
      assert.deepStrictEqual(events.slice(N + 2).map((e) => [e.session, tagOf(e)]), [
        [s2, "Connected"],
        [s2, "UpdateFee"],
        [s2, "Disconnected"]
      ])
    }))

  it.effect("(d) a replaced connection's events all come before its successor's, even when the buffer is full", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1", { sessionBuffer: 4 })
      // Nobody consumes yet: Mallory's first connection fills the buffer and its reader waits.
      const first = yield* malloryJoins(net, alice, "e1")
      for (let i = 0; i < 10; i++) yield* first.send(encodeMessage(fee(i)))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      // Her second connection replaces the first (same node id, same direction: the newer wins).
      const second = yield* malloryJoins(net, alice, "e2")
      for (let i = 0; i < 3; i++) yield* second.send(encodeMessage(fee(100 + i)))
      const inbox = yield* sessionInbox(alice)
      const events: Array<PeerSessionEvent> = []
      while (!events.some((e) => e._tag === "Message" && e.message._tag === "UpdateFee" && e.message.feeratePerKw === 102)) {
        events.push(yield* Queue.take(inbox))
      }
      const sessions = [...new Set(events.map((e) => e.session))]
      assert.strictEqual(sessions.length, 2)
      const [s1, s2] = sessions as [SessionId, SessionId]
      const ofS1 = events.filter((e) => e.session === s1)
      const k = ofS1.length - 2
      assert.isAtLeast(k, 1)
      assert.deepStrictEqual(events.map((e) => [e.session, tagOf(e)]), [
        [s1, "Connected"],
        ...Array.from({ length: k }, () => [s1, "UpdateFee"]),
        [s1, "Disconnected"],
        [s2, "Connected"],
        [s2, "UpdateFee"],
        [s2, "UpdateFee"],
        [s2, "UpdateFee"]
      ])
      const end = events[k + 1]
      assert.strictEqual(end?._tag === "Disconnected" ? end.reason._tag : "", "DuplicateConnection")
    }))

  it.effect("(e) an error for all channels reaches the stream before Disconnected(ReceivedError)", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const inbox = yield* sessionInbox(alice)
      const mallory = yield* malloryJoins(net, alice, "e1")
      yield* mallory.send(encode(makeError("go away")))
      const events = [yield* Queue.take(inbox), yield* Queue.take(inbox), yield* Queue.take(inbox)]
      assert.deepStrictEqual(events.map(tagOf), ["Connected", "Error", "Disconnected"])
      const error = events[1]
      assert.isTrue(
        error?._tag === "Message" && error.message._tag === "Error" && error.message.channelId.every((b) => b === 0) &&
          new TextDecoder().decode(error.message.data) === "go away"
      )
      const end = events[2]
      assert.deepStrictEqual(end?._tag === "Disconnected" ? end.reason : undefined, { _tag: "ReceivedError", message: "go away" })
    }))

  it.effect("(f) open_channel gets an error for its temporary id, no disconnect; gossip without gossip_queries is ignored", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const inbox = yield* sessionInbox(alice)
      const mallory = yield* malloryJoins(net, alice, "e1")
      assert.strictEqual((yield* Queue.take(inbox))._tag, "Connected")
      yield* mallory.send(encodeMessage(openChannel))
      const error = yield* mallory.receiveTag("Error")
      assert.strictEqual(error._tag === "Error" ? toHex(error.channelId) : "", "42".repeat(32))
      // channel_announcement, channel_update, query_short_channel_ids, gossip_timestamp_filter: junk bodies, ignored
      for (const type of [256, 258, 261, 265]) yield* mallory.send(Uint8Array.of(type >> 8, type & 0xff, 1, 2, 3))
      assert.isTrue(yield* stillConnected(mallory))
      assert.isUndefined(yield* Queue.poll(inbox).pipe(Effect.map((o) => (o._tag === "Some" ? o.value : undefined))))
      assert.strictEqual((yield* alice.peers).length, 1)
    }))

  it.effect("(f) with rejectChannels off, open_channel goes up to the layer above", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1", { peer: { rejectChannels: false } })
      const inbox = yield* sessionInbox(alice)
      const mallory = yield* malloryJoins(net, alice, "e1")
      yield* mallory.send(encodeMessage(openChannel))
      assert.strictEqual((yield* Queue.take(inbox))._tag, "Connected")
      const open = yield* Queue.take(inbox)
      assert.strictEqual(
        open._tag === "Message" && open.message._tag === "OpenChannel" ? toHex(open.message.temporaryChannelId) : "",
        "42".repeat(32)
      )
    }))

  it.effect("one consumer at a time: a second fails with SessionEventsBusy; the next one continues without a loss", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const firstTook = yield* Deferred.make<void>()
      const seen: Array<string> = []
      const consumer = yield* consumeSessions(alice, (e) =>
        Effect.sync(() => void seen.push(tagOf(e))).pipe(Effect.andThen(Deferred.succeed(firstTook, undefined))))
      const mallory = yield* malloryJoins(net, alice, "e1")
      yield* Deferred.await(firstTook)
      const busy = yield* Effect.flip(Effect.scoped(Effect.flatMap(consumeSessions(alice, () => Effect.void), Fiber.join)))
      assert.strictEqual(busy._tag, "SessionEventsBusy")
      yield* Fiber.interrupt(consumer)
      yield* mallory.send(encodeMessage(fee(5)))
      assert.isTrue(yield* stillConnected(mallory))
      const inbox = yield* sessionInbox(alice)
      const next = yield* Queue.take(inbox)
      assert.deepStrictEqual([...seen, tagOf(next)], ["Connected", "UpdateFee"])
    }))
})
