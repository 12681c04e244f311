/**
 * Two complete production nodes (`NodeLive`: TCP transport, seed-file signer, OS entropy, the
 * peer registry) in one process, talking BOLT 8 + BOLT 1 over real TCP on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, FileSystem, Layer, Stream } from "effect"
import { NodeServices } from "@effect/platform-node"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { join } from "node:path"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { GossipAnnouncer } from "../../src/actors/GossipAnnouncer.ts"
import { GossipSync } from "../../src/actors/GossipSync.ts"
import { Payments } from "../../src/actors/Payments.ts"
import { CHANNEL_SIGNER_SEED_LABEL, CHANNELS_DIRECTORY, GRAPH_DIRECTORY, PAYMENTS_DIRECTORY, nodeShutdownScript, SHUTDOWN_KEY_LABEL } from "../../src/node/NodeLive.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import * as OsEntropy from "../../src/layers/node/OsEntropy.ts"
import { loadOrCreateSeed } from "../../src/layers/node/SeedFile.ts"
import { deriveNodeSecret, deriveSecret } from "../../src/protocol/keys/seed.ts"
import { p2wpkhScript } from "../../src/protocol/tx/bitcoin/script.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { channelIdFromFunding } from "../../src/protocol/channel/open.ts"
import { defaultForwardingPolicy } from "../../src/protocol/payment/forward.ts"
import { msat, type NodeId } from "../../src/protocol/units.ts"

/** Builds a node in the current scope (each call is a separate node with its own data dir). */
const startNode = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-" })
  const context = yield* Layer.build(NodeLive.layer({ dataDir, listen: { host: "127.0.0.1", port: 0 } }))
  return Context.get(context, PeerManager)
})

/** Hang guard: a step that never completes fails with its name instead of hitting the test timeout. */
const within = (label: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error(`${label}: no result in 20 s`)) }))

/** Polls (bounded) until `node` lists `count` peers: the REMOTE side of a connection changes on its own time. */
const waitForPeerCount = (node: PeerManager["Service"], count: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const listed = yield* node.peers
      if (listed.length === count) return listed
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`never listed ${count} peers`))
  })

describe("NodeLive over TCP", () => {
  it.live("two nodes: connect, both list each other, events, disconnect", () =>
    Effect.gen(function*() {
      const a = yield* startNode
      const b = yield* startNode
      assert.notStrictEqual(toHex(a.nodeId), toHex(b.nodeId))
      const bAddress = b.listenAddress
      assert.isDefined(bAddress)
      if (bAddress === undefined) return
      assert.isAbove(bAddress.port, 0)

      const bEvents = yield* b.subscribe
      const bFirstTwo = yield* Effect.forkChild(Stream.runCollect(Stream.take(bEvents, 2)))

      const info = yield* a.connect(b.nodeId, bAddress).pipe(within("connect"))
      assert.strictEqual(toHex(info.nodeId), toHex(b.nodeId))
      assert.strictEqual(info.direction, "outbound")
      assert.deepStrictEqual(info.address, bAddress)

      const listedByA = yield* a.peers
      assert.deepStrictEqual(listedByA.map((p) => toHex(p.nodeId)), [toHex(b.nodeId)])
      // B learns of A when its side of init completes.
      const listedByB = yield* waitForPeerCount(b, 1)
      assert.deepStrictEqual(listedByB.map((p) => toHex(p.nodeId)), [toHex(a.nodeId)])
      assert.strictEqual(listedByB[0]?.direction, "inbound")
      assert.strictEqual(listedByB[0]?.address.host, "127.0.0.1")

      // Connecting again reuses the connection.
      const again = yield* a.connect(b.nodeId, bAddress)
      assert.strictEqual(toHex(again.nodeId), toHex(b.nodeId))
      assert.strictEqual((yield* a.peers).length, 1)

      yield* a.disconnect(b.nodeId).pipe(within("disconnect"))
      // disconnect returns once the connection is closed AND unlisted: no polling on this side.
      assert.deepStrictEqual(yield* a.peers, [])
      const events = [...(yield* Fiber.join(bFirstTwo).pipe(within("B's PeerConnected + PeerDisconnected events")))]
      assert.deepStrictEqual(events.map((e) => e._tag), ["PeerConnected", "PeerDisconnected"])
      yield* waitForPeerCount(b, 0)
      const notConnected = yield* Effect.flip(a.disconnect(b.nodeId))
      assert.strictEqual(notConnected._tag, "PeerNotConnected")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("connect to a closed port or a wrong node id fails with a typed reason", () =>
    Effect.gen(function*() {
      const a = yield* startNode
      const b = yield* startNode
      const bAddress = b.listenAddress
      if (bAddress === undefined) return assert.fail("b does not listen")

      // Another node id at B's address: B cannot decrypt act one (it is keyed to the id we
      // expect), so the handshake fails and nothing is listed.
      const other = nobleSecp256k1.publicKey(new Uint8Array(32).fill(5)) as NodeId
      const wrong = yield* Effect.flip(a.connect(other, bAddress)).pipe(within("connect with a wrong node id"))
      assert.strictEqual(wrong._tag, "PeerConnectFailed")
      assert.oneOf(wrong.reason._tag, ["HandshakeFailed", "ConnectionClosed", "HandshakeTimeout"])

      const refused = yield* Effect.flip(a.connect(b.nodeId, { host: "127.0.0.1", port: 1 }))
      assert.strictEqual(refused._tag, "PeerConnectFailed")
      assert.strictEqual(refused.reason._tag, "TransportFailed")
      assert.deepStrictEqual(yield* a.peers, [])
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("NodeLive channels", () => {
  it.live("runs a ChannelManager over <dataDir>/channels; keys derived under separate labels", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-" })
      const context = yield* Layer.build(NodeLive.layer({ dataDir }))
      assert.deepStrictEqual(yield* Context.get(context, ChannelManager).listChannels, [])
      assert.isTrue(yield* fs.exists(join(dataDir, CHANNELS_DIRECTORY)))
      assert.strictEqual(Context.get(context, PeerManager).listenAddress, undefined)

      const { seed } = yield* loadOrCreateSeed(dataDir).pipe(Effect.provide(OsEntropy.layer))
      const script = nodeShutdownScript(seed, nobleSecp256k1)
      // P2WPKH: OP_0 PUSH20 HASH160(pubkey of the "shutdown/0" secret).
      assert.strictEqual(script.length, 22)
      assert.deepStrictEqual([...script.subarray(0, 2)], [0x00, 0x14])
      const shutdownKey = nobleSecp256k1.publicKey(deriveSecret(seed, SHUTDOWN_KEY_LABEL))
      assert.isDefined(shutdownKey)
      if (shutdownKey !== undefined) assert.strictEqual(toHex(script), toHex(p2wpkhScript(shutdownKey)))
      // Every use has its own secret: none is the node key.
      const secrets = [deriveNodeSecret(seed), deriveSecret(seed, CHANNEL_SIGNER_SEED_LABEL), deriveSecret(seed, SHUTDOWN_KEY_LABEL)]
      assert.strictEqual(new Set(secrets.map(toHex)).size, 3)
      assert.deepStrictEqual(nodeShutdownScript(seed, nobleSecp256k1), script)
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("NodeLive payments and gossip", () => {
  it.live("carries Payments (invoices stored under <dataDir>/payments, kept across a restart) and the gossip layer", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-" })
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const context = yield* Layer.build(NodeLive.layer({ dataDir }))
          const payments = Context.get(context, Payments)
          const created = yield* payments.createInvoice({ amountMsat: msat(25_000n), description: { text: "coffee" } })
          assert.isTrue(created.invoice.startsWith("lnbcrt250n"))
          // The gossip layer is there, empty, and the graph lives in the data directory.
          const stats = yield* Context.get(context, GossipSync).stats
          assert.isDefined(stats)
          return created
        })
      )
      assert.isTrue(yield* fs.exists(join(dataDir, PAYMENTS_DIRECTORY)))
      assert.isTrue(yield* fs.exists(join(dataDir, GRAPH_DIRECTORY)))
      // A new run of the node over the same data directory still knows the invoice.
      const context = yield* Layer.build(NodeLive.layer({ dataDir }))
      const status = yield* Context.get(context, Payments).invoice(first.paymentHash)
      assert.isDefined(status)
      if (status !== undefined) assert.strictEqual(status.amountMsat, 25_000n)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("one forwarding policy for the forwarder and our channel_updates", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-" })
      const policy = { ...defaultForwardingPolicy, feeBaseMsat: 0, feeProportionalMillionths: 2500, cltvExpiryDelta: 144 }
      const context = yield* Layer.build(NodeLive.layer({ dataDir, forwardingPolicy: policy }))
      // Any channel without a policy of its own gets the node's.
      assert.deepStrictEqual(yield* Context.get(context, GossipAnnouncer).policy(channelIdFromFunding(new Uint8Array(32).fill(7), 0)), policy)
    }).pipe(Effect.provide(NodeServices.layer)))
})
