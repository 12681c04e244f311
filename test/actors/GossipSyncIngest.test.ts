/**
 * The generated network (a 1-in-25 subset of the 2026-02-03 public graph, signed by
 * test/protocol/gossip/generate.ts) sent by a peer over BOLT 8 and taken in by `GossipSync`,
 * the path every peer's gossip takes (tap, per-peer bounds, check queue, signatures, the funding
 * output looked up through a `ChainSource`, graph), with every signature checked: the graph must
 * equal the snapshot, every node, channel (capacity from the chain) and policy. (The benchmark
 * does the same comparison on the whole network through `NetworkGraph.apply`.)
 */
import { gunzipSync } from "node:zlib"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as GossipSync from "../../src/actors/GossipSync.ts"
import { withGossipQueries } from "../../src/actors/GossipSync.ts"
import * as PeerManager from "../../src/actors/PeerManager.ts"
import { loadNativeSecp256k1 } from "../../src/layers/crypto/secp256k1-native.ts"
import { makeNetworkGraph } from "../../src/layers/graph/MemoryNetworkGraph.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import * as SeededNodeSigner from "../../src/layers/test/SeededNodeSigner.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { ourInitFeatures } from "../../src/protocol/features.ts"
import { Networks } from "../../src/protocol/network.ts"
import { NetworkGraph } from "../../src/services/NetworkGraph.ts"
import { sha256 } from "@noble/hashes/sha2.js"
import { blockHash, type Block } from "../../src/protocol/chain/block.ts"
import { shortChannelIdParts } from "../../src/protocol/codec/fields.ts"
import { expectedFundingScriptPubKey } from "../../src/protocol/gossip/funding.ts"
import { ChannelAnnouncement } from "../../src/protocol/messages/gossip.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { txidFromBytes, type Transaction } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../src/protocol/units.ts"
import { BlockNotFound, ChainSource, type ChainSourceShape } from "../../src/services/ChainSource.ts"
import type { GeneratedGossip } from "../protocol/gossip/generate.ts"
import { generateGossip, type Snapshot, SNAPSHOT_TIME, snapshotDifferences } from "../protocol/gossip/generate.ts"
import { dialRaw, initMessage } from "../sim/RawPeer.ts"

const snapshot: Snapshot = JSON.parse(
  gunzipSync(readFileSync(new URL("../protocol/gossip/data/ln-graph-subset.json.gz", import.meta.url))).toString("utf8")
)
const native = loadNativeSecp256k1()
const secp: Secp256k1 = Result.isSuccess(native) ? native.success : nobleSecp256k1
const network = Networks.regtest
const gossip = generateGossip(secp, snapshot, { seed: new TextEncoder().encode("gossip-peer-path"), chainHash: network.chainHash })

/**
 * A chain that has exactly the generated channels' funding outputs, unspent, at their short
 * channel ids (block, transaction index, output 0), worth their capacity.
 */
const fundingChain = (g: GeneratedGossip): ChainSourceShape => {
  const byHeight = new Map<number, Array<{ readonly txIndex: number; readonly script: Uint8Array; readonly value: bigint }>>()
  for (const raw of g.channelAnnouncements) {
    const m = ChannelAnnouncement.decode(raw)
    if (Result.isFailure(m)) throw new Error("generated announcement does not decode")
    const at = shortChannelIdParts(m.success.shortChannelId)
    const value = g.capacities.get(m.success.shortChannelId) ?? 0n
    const list = byHeight.get(at.block) ?? []
    list.push({ txIndex: at.txIndex, script: expectedFundingScriptPubKey(m.success), value })
    byHeight.set(at.block, list)
  }
  const hashOf = (height: number) => {
    const h = blockHash(sha256(new TextEncoder().encode(`block ${height}`)))
    if (Result.isFailure(h)) throw new Error("unreachable: 32 bytes")
    return h.success
  }
  const txidOf = (height: number, index: number) => txidFromBytes(sha256(new TextEncoder().encode(`tx ${height}/${index}`)))
  const unspent = new Map<string, { readonly value: bigint; readonly script: Uint8Array }>()
  const blocks = new Map<number, Block>()
  for (const [height, list] of byHeight) {
    const size = Math.max(...list.map((x) => x.txIndex)) + 1
    const transactions: Array<Transaction> = Array.from({ length: size }, () => ({ version: 2, inputs: [], outputs: [], locktime: 0 }))
    for (const x of list) {
      transactions[x.txIndex] = { version: 2, inputs: [], outputs: [{ value: sat(x.value), scriptPubKey: x.script }], locktime: 0 }
      unspent.set(`${toHex(txidOf(height, x.txIndex))}:0`, { value: x.value, script: x.script })
    }
    const header = { hash: hashOf(height), height, version: 2, prevHash: hashOf(height - 1), merkleRoot: new Uint8Array(32), time: 0, bits: 0, nonce: 0, raw: new Uint8Array(80) }
    blocks.set(height, { header, transactions, txids: transactions.map((_, i) => txidOf(height, i)) })
  }
  const tip = Math.max(...byHeight.keys()) + 10
  return {
    tip: Effect.succeed({ height: tip, hash: hashOf(tip) }),
    header: (id) => Effect.fail(new BlockNotFound({ block: String(id) })),
    block: (id) => {
      const b = typeof id === "number" ? blocks.get(id) : undefined
      return b === undefined ? Effect.fail(new BlockNotFound({ block: String(id) })) : Effect.succeed(b)
    },
    follow: () => Stream.never,
    outputStatus: (o) =>
      Effect.sync(() => {
        const u = unspent.get(`${toHex(o.txid)}:${o.vout}`)
        return u === undefined ? { _tag: "SpentOrUnknown" as const } : { _tag: "Unspent" as const, value: sat(u.value), scriptPubKey: u.script }
      })
  }
}

describe("the generated network through a peer", () => {
  it.effect("every message a peer sends is checked and taken; the graph equals the snapshot", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(SNAPSHOT_TIME * 1000)
      const net = yield* makeMemoryNetwork()
      const alice = { host: "10.0.0.1", port: 9735 }
      const graph = yield* makeNetworkGraph({ secp, network, nodeCapacity: 4096, channelCapacity: 4096 }, undefined).pipe(Effect.orDie)
      // Bounds high enough not to throttle one honest peer on the test clock.
      const sync = yield* GossipSync.make({ ratePerSecond: 1_000_000, burst: 1_000_000, maxFundingQueue: 4096 }).pipe(
        Effect.provideService(NetworkGraph, graph),
        Effect.provideService(ChainSource, fundingChain(gossip))
      )
      const peers = yield* PeerManager.make(
        GossipSync.gossipPeerManagerConfig(sync, { listen: alice, sessionEvents: "discard" })
      ).pipe(Effect.provide(Layer.mergeAll(net.layer(alice.host), SeededEntropy.layer("alice"), SeededNodeSigner.layer("alice"))), Effect.orDie)
      const peer = yield* dialRaw(net.transport("10.0.0.2"), alice, peers.nodeId, "bob")
      yield* peer.receiveTag("Init")
      yield* peer.send(initMessage(withGossipQueries(ourInitFeatures)))
      const all = [...gossip.channelAnnouncements, ...gossip.channelUpdates, ...gossip.nodeAnnouncements]
      /** Waits until `n` messages were accepted (none refused). */
      const accepted = (n: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 20_000; i++) {
            const s = yield* sync.stats
            if (s.accepted === n) return
            if (s.invalid > 0 || s.stale > 0) return assert.fail(`refused: ${JSON.stringify(s)}`)
            yield* Effect.yieldNow
            if (i % 100 === 99) yield* TestClock.adjust("1 millis")
          }
        })
      // The channels first (each waits for its funding lookup), then their updates and nodes, as a
      // peer answering our queries sends them.
      for (const raw of gossip.channelAnnouncements) yield* peer.send(raw)
      yield* accepted(gossip.channelAnnouncements.length)
      for (const raw of [...gossip.channelUpdates, ...gossip.nodeAnnouncements]) yield* peer.send(raw)
      yield* accepted(all.length)
      const stats = yield* sync.stats
      assert.strictEqual(stats.accepted, all.length)
      assert.strictEqual(stats.received, all.length)
      const { differences, policies } = snapshotDifferences(snapshot, gossip, { channels: yield* graph.channels, nodes: yield* graph.nodes })
      assert.strictEqual(differences.join("\n"), "")
      assert.strictEqual(policies, gossip.channelUpdates.length)
    }), { timeout: 120_000 })
})
