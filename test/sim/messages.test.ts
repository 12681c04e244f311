import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import { toHex } from "../../src/protocol/bytes.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { makeError } from "../../src/protocol/messages/index.ts"
import type { ChannelId } from "../../src/protocol/units.ts"
import type { InboundMessage } from "../../src/actors/Peer.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { dialRaw, encode, initMessage } from "./RawPeer.ts"
import { nextEvents, PORT, startNode } from "./nodes.ts"

describe("hand-off to the layer above", () => {
  it.effect("accepted types reach onMessage in order; send reaches the peer; other even types disconnect", () =>
    Effect.gen(function*() {
      const net = yield* makeMemoryNetwork()
      const inbox = yield* Queue.bounded<InboundMessage>(16)
      const alice = yield* startNode(net, "alice", "10.0.0.1", {
        peer: { acceptsMessage: (type) => type >= 32 && type <= 255 },
        onMessage: (m) => Queue.offer(inbox, m)
      })
      const connected = yield* nextEvents(alice, 1)
      const events = yield* nextEvents(alice, 2)
      const mallory = yield* dialRaw(net.transport("10.6.6.6"), { host: "10.0.0.1", port: PORT }, alice.nodeId, "mallory")
      yield* mallory.receiveTag("Init")
      yield* mallory.send(initMessage(ourInitFeatures))
      yield* Fiber.join(connected)

      yield* mallory.send(Uint8Array.of(0, 32, 0xaa)) // open_channel's type, payload aa
      yield* mallory.send(Uint8Array.of(0, 33, 0xbb, 0xcc))
      const channelError = encode(makeError("bad channel", new Uint8Array(32).fill(7) as ChannelId))
      yield* mallory.send(channelError) // an error about one channel: for the channel layer, connection stays
      const got = [yield* Queue.take(inbox), yield* Queue.take(inbox), yield* Queue.take(inbox)]
      assert.deepStrictEqual(got.map((m) => [m.type, toHex(m.payload)]), [
        [32, "aa"],
        [33, "bbcc"],
        [17, toHex(channelError.subarray(2))]
      ])
      assert.isTrue(got.every((m) => toHex(m.nodeId) === toHex(mallory.nodeId)))

      yield* alice.send(mallory.nodeId, Uint8Array.of(0, 35, 1, 2, 3))
      assert.strictEqual(toHex(yield* mallory.receive), "0023010203")
      const notConnected = yield* Effect.flip(alice.send(alice.nodeId, Uint8Array.of(0, 35)))
      assert.strictEqual(notConnected._tag, "PeerNotConnected")
      // not Lightning messages: typed errors, the connection is unaffected
      assert.strictEqual((yield* Effect.flip(alice.send(mallory.nodeId, Uint8Array.of(0))))._tag, "InvalidOutgoingMessage")
      assert.strictEqual((yield* Effect.flip(alice.send(mallory.nodeId, new Uint8Array(65536))))._tag, "InvalidOutgoingMessage")
      // Above 2 KiB the Peer sends the packet in parts: the bytes must arrive intact.
      for (const size of [2048, 2049, 65535]) {
        const large = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff)
        large[0] = 0
        large[1] = 35
        yield* alice.send(mallory.nodeId, large)
        assert.deepStrictEqual(yield* mallory.receive, large)
      }
      const self = yield* Effect.flip(alice.connect(alice.nodeId, { host: "10.0.0.1", port: PORT }))
      assert.strictEqual(self.reason._tag, "HandshakeFailed")

      yield* mallory.send(Uint8Array.of(1, 0, 0)) // type 256: even, not accepted
      const [, disconnected] = yield* Fiber.join(events)
      assert.strictEqual(disconnected?._tag === "PeerDisconnected" ? disconnected.reason._tag : "", "UnknownEvenMessage")
      assert.strictEqual((yield* Effect.flip(alice.disconnect(mallory.nodeId)))._tag, "PeerNotConnected")
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
