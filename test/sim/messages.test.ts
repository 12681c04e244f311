import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import { type PeerSessionEvent, SessionId } from "../../src/actors/PeerEvent.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { makeError, makeWarning, Stfu, UpdateFee } from "../../src/protocol/messages/index.ts"
import type { ChannelId } from "../../src/protocol/units.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { dialRaw, encode, initMessage } from "./RawPeer.ts"
import { encodeMessage, PORT, sessionInbox, startNode } from "./nodes.ts"

const channel7 = new Uint8Array(32).fill(7) as ChannelId

describe("hand-off to the layer above", () => {
  it.effect("messages reach the session stream decoded and in order; send(session) reaches the peer; other even types disconnect", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const inbox = yield* sessionInbox(alice)
      const mallory = yield* dialRaw(net.transport("10.6.6.6"), { host: "10.0.0.1", port: PORT }, alice.nodeId, "mallory")
      yield* mallory.receiveTag("Init")
      yield* mallory.send(initMessage(ourInitFeatures))
      const connected = yield* Queue.take(inbox)
      assert.strictEqual(connected._tag, "Connected")
      if (connected._tag !== "Connected") return
      const session = connected.session
      assert.strictEqual(toHex(connected.peer.nodeId), toHex(mallory.nodeId))
      assert.strictEqual(connected.peer.session, session)
      assert.strictEqual((yield* alice.peer(mallory.nodeId)).session, session)

      yield* mallory.send(encodeMessage(Stfu.make({ channelId: channel7, initiator: 1 })))
      yield* mallory.send(encodeMessage(UpdateFee.make({ channelId: channel7, feeratePerKw: 2500 })))
      yield* mallory.send(encode(makeError("bad channel", channel7))) // about one channel: the connection stays
      yield* mallory.send(encode(makeWarning("careful")))
      const got: Array<PeerSessionEvent> = []
      for (let i = 0; i < 4; i++) got.push(yield* Queue.take(inbox))
      assert.deepStrictEqual(got.map((e) => (e._tag === "Message" ? e.message._tag : e._tag)), ["Stfu", "UpdateFee", "Error", "Warning"])
      assert.isTrue(got.every((e) => e._tag === "Message" && e.session === session && toHex(e.nodeId) === toHex(mallory.nodeId)))
      const fee = got[1]
      assert.strictEqual(fee?._tag === "Message" && fee.message._tag === "UpdateFee" ? fee.message.feeratePerKw : 0, 2500)

      // typed send, and raw bytes
      yield* alice.send(session, Stfu.make({ channelId: channel7, initiator: 0 }))
      assert.strictEqual(toHex(yield* mallory.receive), `0002${"07".repeat(32)}00`)
      yield* alice.sendBytes(session, Uint8Array.of(0, 35, 1, 2, 3))
      assert.strictEqual(toHex(yield* mallory.receive), "0023010203")
      // not Lightning messages: typed errors, the connection is unaffected
      assert.strictEqual((yield* Effect.flip(alice.sendBytes(session, Uint8Array.of(0))))._tag, "InvalidOutgoingMessage")
      assert.strictEqual((yield* Effect.flip(alice.sendBytes(session, new Uint8Array(65536))))._tag, "InvalidOutgoingMessage")
      const tooLong = makeWarning("x", channel7)
      const unencodable = yield* Effect.flip(alice.send(session, { ...tooLong, data: new Uint8Array(65535) }))
      assert.strictEqual(unencodable._tag, "UnencodableMessage")
      // a session that does not exist
      assert.strictEqual((yield* Effect.flip(alice.send(SessionId(999), tooLong)))._tag, "StaleSession")
      // Above 2 KiB the Peer sends the packet in parts: the bytes must arrive intact.
      for (const size of [2048, 2049, 65535]) {
        const large = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff)
        large[0] = 0
        large[1] = 35
        yield* alice.sendBytes(session, large)
        assert.deepStrictEqual(yield* mallory.receive, large)
      }
      const self = yield* Effect.flip(alice.connect(alice.nodeId, { host: "10.0.0.1", port: PORT }))
      assert.strictEqual(self.reason._tag, "HandshakeFailed")

      yield* mallory.send(Uint8Array.of(1, 0x24, 0, 0)) // type 292: even, unknown
      const disconnected = yield* Queue.take(inbox)
      assert.strictEqual(disconnected._tag === "Disconnected" ? disconnected.reason._tag : "", "UnknownEvenMessage")
      assert.strictEqual(disconnected._tag === "Disconnected" ? disconnected.session : 0, session)
      assert.strictEqual((yield* Effect.flip(alice.disconnect(mallory.nodeId)))._tag, "PeerNotConnected")
      assert.strictEqual((yield* Effect.flip(alice.sendBytes(session, Uint8Array.of(0, 35))))._tag, "StaleSession")
    }))

  it.effect("an inbound peer from a public IP is told its address in remote_addr; a private one is not", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const alice = yield* startNode(net, "alice", "10.0.0.1")
      const address = { host: "10.0.0.1", port: PORT }
      const remoteAddrFrom = (host: string) =>
        Effect.gen(function*() {
          const raw = yield* dialRaw(net.transport(host), address, alice.nodeId, `raw-${host}`)
          const init = yield* raw.receiveTag("Init")
          return init._tag === "Init" ? init.tlvs.remoteAddr : undefined
        })
      const ra = yield* remoteAddrFrom("203.0.113.9")
      assert.strictEqual(ra?._tag === "Ipv4" ? [...ra.addr].join(".") : "", "203.0.113.9")
      assert.isUndefined(yield* remoteAddrFrom("192.168.1.20"))
    }))
})
