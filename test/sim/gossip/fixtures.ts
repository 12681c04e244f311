/**
 * Signed gossip for the gossip sync tests: small deterministic networks (keys from seeds), the
 * graph adapter GossipSync reads, and nodes with a GossipSync in front of their PeerManager.
 */
import { Effect, Layer, Result, type Scope } from "effect"
import { compareBytes } from "../../../src/protocol/bytes.ts"
import { type ShortChannelId, shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { signChannelAnnouncement, signChannelUpdate, signNodeAnnouncement, channelFlags } from "../../../src/protocol/gossip/sign.ts"
import { ChainHashes } from "../../../src/protocol/messages/index.ts"
import { NodeId } from "../../../src/protocol/units.ts"
import { makeNetworkGraph } from "../../../src/layers/graph/MemoryNetworkGraph.ts"
import { NetworkGraph, type NetworkGraphShape } from "../../../src/services/NetworkGraph.ts"
import { secretFromSeed } from "../../../src/layers/test/SeededNodeSigner.ts"
import * as SeededNodeSigner from "../../../src/layers/test/SeededNodeSigner.ts"
import * as SeededEntropy from "../../../src/layers/test/SeededEntropy.ts"
import type { MemoryNetwork } from "../../../src/layers/test/MemoryTransport.ts"
import * as PeerManager from "../../../src/actors/PeerManager.ts"
import * as GossipSync from "../../../src/actors/GossipSync.ts"

const secp = nobleSecp256k1
export const chainHash = ChainHashes.regtest

export const nodeIdOf = (seed: string): NodeId => {
  const key = secp.publicKey(secretFromSeed(seed))
  if (key === undefined) throw new Error(`seed ${seed} gives no valid secret`) // a fixture bug
  return NodeId(key)
}

const orDie = (r: Result.Result<Uint8Array, unknown>): Uint8Array => {
  if (Result.isFailure(r)) throw new Error(`cannot sign: ${String(r.failure)}`)
  return r.success
}

export interface SignedChannel {
  readonly scid: ShortChannelId
  readonly announcement: Uint8Array
  readonly updates: readonly [Uint8Array, Uint8Array]
}

/** A channel between the nodes `a` and `b` (seeds) at `block`, with both updates at `timestamp`. */
export const signedChannel = (a: string, b: string, block: number, timestamp: number, feeBase = 1000): SignedChannel => {
  const [s1, s2] = compareBytes(nodeIdOf(a), nodeIdOf(b)) < 0 ? [a, b] : [b, a]
  const scid = shortChannelIdFromParts(block, 1, 0)
  const fk1 = secretFromSeed(`${s1}/funding/${block}`)
  const fk2 = secretFromSeed(`${s2}/funding/${block}`)
  const announcement = orDie(signChannelAnnouncement(secp, {
    features: new Uint8Array(0),
    chainHash,
    shortChannelId: scid,
    nodeId1: nodeIdOf(s1),
    nodeId2: nodeIdOf(s2),
    bitcoinKey1: secp.publicKey(fk1) ?? new Uint8Array(33),
    bitcoinKey2: secp.publicKey(fk2) ?? new Uint8Array(33)
  }, { node1: secretFromSeed(s1), node2: secretFromSeed(s2), bitcoin1: fk1, bitcoin2: fk2 }))
  const update = (direction: 0 | 1) =>
    orDie(signChannelUpdate(secp, {
      chainHash,
      shortChannelId: scid,
      timestamp,
      messageFlags: 1,
      channelFlags: channelFlags(direction, false),
      cltvExpiryDelta: 40,
      htlcMinimumMsat: 1000n,
      feeBaseMsat: feeBase,
      feeProportionalMillionths: 100,
      htlcMaximumMsat: 100_000_000n
    }, secretFromSeed(direction === 0 ? s1 : s2)))
  return { scid, announcement, updates: [update(0), update(1)] }
}

/** A signed `channel_update` of one direction with another timestamp / fee. */
export const signedUpdate = (a: string, b: string, block: number, direction: 0 | 1, timestamp: number, feeBase: number): Uint8Array => {
  const [s1, s2] = compareBytes(nodeIdOf(a), nodeIdOf(b)) < 0 ? [a, b] : [b, a]
  return orDie(signChannelUpdate(secp, {
    chainHash,
    shortChannelId: shortChannelIdFromParts(block, 1, 0),
    timestamp,
    messageFlags: 1,
    channelFlags: channelFlags(direction, false),
    cltvExpiryDelta: 40,
    htlcMinimumMsat: 1000n,
    feeBaseMsat: feeBase,
    feeProportionalMillionths: 100,
    htlcMaximumMsat: 100_000_000n
  }, secretFromSeed(direction === 0 ? s1 : s2)))
}

/** A signed `node_announcement` of `seed` with `alias`. */
export const signedNode = (seed: string, alias: string, timestamp: number): Uint8Array => {
  const a = new Uint8Array(32)
  a.set(new TextEncoder().encode(alias).subarray(0, 32))
  return orDie(signNodeAnnouncement(secp, {
    features: new Uint8Array(0),
    timestamp,
    nodeId: nodeIdOf(seed),
    rgbColor: Uint8Array.of(1, 2, 3),
    alias: a,
    addresses: { addresses: [], unparsed: new Uint8Array(0) }
  }, secretFromSeed(seed)))
}

/** A ring of `n` remote nodes ("r0".."r{n-1}"), channel i between ri and r(i+1), blocks 100+i. */
export const ring = (n: number, timestamp = 1000) => {
  const channels: Array<SignedChannel> = []
  const nodes: Array<Uint8Array> = []
  for (let i = 0; i < n; i++) {
    channels.push(signedChannel(`r${i}`, `r${(i + 1) % n}`, 100 + i, timestamp))
    nodes.push(signedNode(`r${i}`, `remote ${i}`, timestamp))
  }
  return { channels, nodes, all: [...channels.flatMap((c) => [c.announcement, ...c.updates]), ...nodes] }
}

export interface GossipNode {
  readonly name: string
  readonly graph: NetworkGraphShape
  readonly sync: GossipSync.GossipSyncShape
  readonly peers: PeerManager.PeerManagerShape
}

/** A node listening at `host` with a GossipSync over its own in-memory graph (peer sessions discarded: no channel manager). */
export const startGossipNode = (
  net: MemoryNetwork,
  name: string,
  host: string,
  config: GossipSync.GossipSyncConfig = {},
  peerConfig: PeerManager.PeerManagerConfig = {}
): Effect.Effect<GossipNode, never, Scope.Scope> =>
  Effect.gen(function*() {
    const graph = yield* makeNetworkGraph({ secp }, undefined).pipe(Effect.orDie)
    const sync = yield* GossipSync.make(config).pipe(Effect.provideService(NetworkGraph, graph))
    const peers = yield* PeerManager.make(
      GossipSync.gossipPeerManagerConfig(sync, { listen: { host, port: 9735 }, sessionEvents: "discard", ...peerConfig })
    ).pipe(
      Effect.provide(Layer.mergeAll(net.layer(host), SeededEntropy.layer(name), SeededNodeSigner.layer(name))),
      Effect.orDie
    )
    return { name, graph, sync, peers }
  })

/** Loads raw gossip straight into a graph (a node that already knows the network). */
export const preload = (graph: NetworkGraphShape, raws: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    for (const raw of raws) yield* graph.apply(raw).pipe(Effect.mapError((e) => new Error(`preload: ${e._tag}`)), Effect.orDie)
  })

/** Counts of a graph: channels, directions with an update, nodes with an announcement. */
export const counts = (graph: NetworkGraphShape) =>
  Effect.gen(function*() {
    let updates = 0
    const channels = yield* graph.channels
    for (const c of channels) updates += c.directions.filter((d) => d !== undefined).length
    const announced = (yield* graph.nodes).filter((n) => n.announcement !== undefined).length
    return { channels: channels.length, updates, announced }
  })
