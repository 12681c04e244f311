/**
 * Deterministic generator: the public network snapshot (`ln-graph-2026-02-03.json`, see
 * `test/data/README.md`) as real, signed BOLT 7 gossip. The snapshot keeps no signatures
 * and no real short channel ids, so:
 * - every node gets a node key, and every channel end a bitcoin (funding) key, derived from a seed
 *   (`SHA256(seed || label || index)`); the node ids are therefore NOT the real ones;
 * - channel `chan_index` gets the made-up short channel id `(600000 + chan_index / 1000) x
 *   (chan_index % 1000) x 0`, ascending with the index;
 * - one `channel_announcement` per channel (four valid signatures), one `channel_update` per
 *   enabled direction with its policy, one `node_announcement` per node with its alias
 *   (UTF-8, cut at 32 bytes on a character boundary) and a made-up color and address.
 * Signature checks on it cost what they cost on the real network. Shared by the ingest test
 * (`graph-ingest.test.ts`) and the benchmark (`bench/gossip.bench.ts`).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result } from "effect"
import { compareBytes } from "../../../src/protocol/bytes.ts"
import { type ChainHash, shortChannelIdFromParts, type ShortChannelId } from "../../../src/protocol/codec/fields.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { featuresToBytes, ourNodeFeatures } from "../../../src/protocol/features.ts"
import { channelFlags, signChannelAnnouncement, signChannelUpdate, signNodeAnnouncement } from "../../../src/protocol/gossip/sign.ts"
import type { Address } from "../../../src/protocol/messages/address.ts"
import type { ChannelView, NodeView } from "../../../src/protocol/gossip/views.ts"

/** `[fee_base_msat, fee_proportional_millionths, cltv_expiry_delta, htlc_minimum_msat, htlc_maximum_msat, enabled]`. */
export type SnapshotDirection = readonly [number, number, number, number, number, number]
/** `[chan_index, node_a, node_b, capacity_sat, dir_a_to_b, dir_b_to_a]`. */
export type SnapshotChannel = readonly [number, number, number, number, SnapshotDirection, SnapshotDirection]

export interface Snapshot {
  /** Number of nodes (node indexes are 0 .. nodes - 1). */
  readonly nodes: number
  readonly node_aliases: ReadonlyArray<string>
  readonly channels: ReadonlyArray<SnapshotChannel>
}

/** 2026-02-03T00:00:00Z: the snapshot's day; generated timestamps are at most an hour before it. */
export const SNAPSHOT_TIME = 1_770_076_800

export const scidOf = (chanIndex: number): ShortChannelId => shortChannelIdFromParts(600_000 + Math.floor(chanIndex / 1000), chanIndex % 1000, 0)

const u32be = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
const text = new TextEncoder()

/** A valid secret from `SHA256(seed || label || index || counter)`. */
const deriveSecret = (secp: Secp256k1, seed: Uint8Array, label: string, index: number): Uint8Array => {
  for (let counter = 0; ; counter++) {
    const s = sha256(new Uint8Array([...seed, ...text.encode(label), ...u32be(index), counter]))
    if (secp.isValidSecret(s)) return s
  }
}

/** The alias as BOLT 7 wants it: UTF-8, at most 32 bytes (cut on a character boundary), zero-padded. */
export const aliasBytes = (alias: string): Uint8Array => {
  const out = new Uint8Array(32)
  let used = 0
  for (const ch of alias) {
    const b = text.encode(ch)
    if (used + b.length > 32) break
    out.set(b, used)
    used += b.length
  }
  return out
}

/** The alias text a reader gets back (the same cut). */
export const aliasText = (alias: string): string => {
  const b = aliasBytes(alias)
  const end = b.indexOf(0)
  return new TextDecoder().decode(b.subarray(0, end < 0 ? 32 : end))
}

/** A made-up address per node: IPv4, a DNS hostname, or none. */
export const addressesOf = (node: number): ReadonlyArray<Address> => {
  switch (node % 3) {
    case 0:
      return [{ _tag: "Ipv4", addr: Uint8Array.of(10, (node >> 16) & 0xff, (node >> 8) & 0xff, node & 0xff), port: 9735 }]
    case 1:
      return [{ _tag: "Dns", hostname: `node${node}.example.com`, port: 9735 }]
    default:
      return []
  }
}

export const colorOf = (node: number): Uint8Array => Uint8Array.of(node & 0xff, (node >> 8) & 0xff, 0x42)

export interface GeneratedGossip {
  /** Node id of each snapshot node index (generated, not the real one). */
  readonly nodeIds: ReadonlyArray<Uint8Array>
  readonly channelAnnouncements: ReadonlyArray<Uint8Array>
  readonly channelUpdates: ReadonlyArray<Uint8Array>
  readonly nodeAnnouncements: ReadonlyArray<Uint8Array>
  /** Funding output value of each short channel id (what a chain lookup would answer). */
  readonly capacities: ReadonlyMap<ShortChannelId, bigint>
}

export interface GenerateOptions {
  readonly seed: Uint8Array
  readonly chainHash: ChainHash
  /** Only these channels (and their nodes); default all. */
  readonly channelFilter?: (chanIndex: number) => boolean
}

const orThrow = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`generator: ${String(r.failure)}`)
  return r.success
}

/** Turns the snapshot into signed gossip (see the module comment). Deterministic in `seed`. */
export const generateGossip = (secp: Secp256k1, snapshot: Snapshot, options: GenerateOptions): GeneratedGossip => {
  const channels = snapshot.channels.filter((c) => options.channelFilter?.(c[0]) ?? true)
  const used = new Set<number>()
  for (const c of channels) {
    used.add(c[1])
    used.add(c[2])
  }
  const nodeSecrets = new Map<number, Uint8Array>()
  const nodeIds: Array<Uint8Array> = []
  for (let i = 0; i < snapshot.nodes; i++) {
    if (!used.has(i)) {
      nodeIds.push(new Uint8Array(0))
      continue
    }
    const secret = deriveSecret(secp, options.seed, "node", i)
    nodeSecrets.set(i, secret)
    const id = secp.publicKey(secret)
    if (id === undefined) throw new Error("generator: invalid node secret")
    nodeIds.push(id)
  }
  const secretOf = (i: number): Uint8Array => {
    const s = nodeSecrets.get(i)
    if (s === undefined) throw new Error(`generator: node ${i} has no key`)
    return s
  }
  const idOf = (i: number): Uint8Array => nodeIds[i] ?? new Uint8Array(0)
  const features = featuresToBytes(ourNodeFeatures)
  const channelAnnouncements: Array<Uint8Array> = []
  const channelUpdates: Array<Uint8Array> = []
  const capacities = new Map<ShortChannelId, bigint>()
  for (const [chanIndex, a, b, capacitySat, aToB, bToA] of channels) {
    const scid = scidOf(chanIndex)
    const aFirst = compareBytes(idOf(a), idOf(b)) < 0
    const [n1, n2] = aFirst ? [a, b] : [b, a]
    const btc1 = deriveSecret(secp, options.seed, "bitcoin", 2 * chanIndex)
    const btc2 = deriveSecret(secp, options.seed, "bitcoin", 2 * chanIndex + 1)
    const key = (s: Uint8Array): Uint8Array => secp.publicKey(s) ?? new Uint8Array(0)
    channelAnnouncements.push(
      orThrow(
        signChannelAnnouncement(
          secp,
          {
            features: new Uint8Array(0),
            chainHash: options.chainHash,
            shortChannelId: scid,
            nodeId1: idOf(n1),
            nodeId2: idOf(n2),
            bitcoinKey1: key(btc1),
            bitcoinKey2: key(btc2)
          },
          { node1: secretOf(n1), node2: secretOf(n2), bitcoin1: btc1, bitcoin2: btc2 }
        )
      )
    )
    capacities.set(scid, BigInt(capacitySat))
    const update = (from: number, dir: SnapshotDirection, direction: 0 | 1): void => {
      if (dir[5] !== 1) return
      channelUpdates.push(
        orThrow(
          signChannelUpdate(
            secp,
            {
              chainHash: options.chainHash,
              shortChannelId: scid,
              timestamp: SNAPSHOT_TIME - (chanIndex % 3600),
              messageFlags: 1,
              channelFlags: channelFlags(direction, false),
              cltvExpiryDelta: dir[2],
              htlcMinimumMsat: BigInt(dir[3]),
              feeBaseMsat: dir[0],
              feeProportionalMillionths: dir[1],
              htlcMaximumMsat: BigInt(dir[4])
            },
            secretOf(from)
          )
        )
      )
    }
    update(a, aToB, aFirst ? 0 : 1)
    update(b, bToA, aFirst ? 1 : 0)
  }
  const nodeAnnouncements: Array<Uint8Array> = []
  for (const i of [...used].sort((x, y) => x - y)) {
    nodeAnnouncements.push(
      orThrow(
        signNodeAnnouncement(
          secp,
          {
            features,
            timestamp: SNAPSHOT_TIME - (i % 3600),
            nodeId: idOf(i),
            rgbColor: colorOf(i),
            alias: aliasBytes(snapshot.node_aliases[i] ?? ""),
            addresses: { addresses: addressesOf(i), unparsed: new Uint8Array(0) }
          },
          secretOf(i)
        )
      )
    )
  }
  return { nodeIds, channelAnnouncements, channelUpdates, nodeAnnouncements, capacities }
}

// ---- a cache file for the benchmark ---------------------------------------------------------------

/** The generated gossip as one byte string: five sections of `[u32 count]` then `count * [u16 len][bytes]`. */
export const packGossip = (g: GeneratedGossip): Uint8Array => {
  const parts: Array<Uint8Array> = []
  const section = (items: ReadonlyArray<Uint8Array>): void => {
    parts.push(u32be(items.length))
    for (const m of items) parts.push(Uint8Array.of(m.length >> 8, m.length & 0xff), m)
  }
  section(g.nodeIds)
  section(g.channelAnnouncements)
  section(g.channelUpdates)
  section(g.nodeAnnouncements)
  const caps: Array<Uint8Array> = []
  for (const [scid, cap] of g.capacities) {
    const b = new Uint8Array(16)
    const v = new DataView(b.buffer)
    v.setBigUint64(0, scid)
    v.setBigUint64(8, cap)
    caps.push(b)
  }
  section(caps)
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export const unpackGossip = (bytes: Uint8Array): GeneratedGossip => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  const section = (): Array<Uint8Array> => {
    const n = view.getUint32(at)
    at += 4
    const out: Array<Uint8Array> = []
    for (let i = 0; i < n; i++) {
      const len = view.getUint16(at)
      out.push(bytes.subarray(at + 2, at + 2 + len))
      at += 2 + len
    }
    return out
  }
  const nodeIds = section()
  const channelAnnouncements = section()
  const channelUpdates = section()
  const nodeAnnouncements = section()
  const capacities = new Map<ShortChannelId, bigint>()
  for (const b of section()) {
    const v = new DataView(b.buffer, b.byteOffset, 16)
    const id = v.getBigUint64(0)
    capacities.set(shortChannelIdFromParts(Number(id >> 40n), Number((id >> 16n) & 0xffffffn), Number(id & 0xffffn)), v.getBigUint64(8))
  }
  return { nodeIds, channelAnnouncements, channelUpdates, nodeAnnouncements, capacities }
}

/** What a graph holds, as `snapshotDifferences` reads it (the `NetworkGraph` views). */
export interface GraphContents {
  readonly channels: ReadonlyArray<ChannelView>
  readonly nodes: ReadonlyArray<NodeView>
}

/**
 * How the graph differs from the snapshot it was generated from (at most `limit` differences;
 * none when it is equal): every channel (ends, capacity), every policy (enabled directions only:
 * a disabled one has no update), every node (alias, color, addresses) and nothing else.
 * Returns the differences and the number of policies compared.
 */
export const snapshotDifferences = (
  snapshot: Snapshot,
  gossip: GeneratedGossip,
  graph: GraphContents,
  limit = 20
): { readonly differences: ReadonlyArray<string>; readonly policies: number } => {
  const out: Array<string> = []
  const differ = (what: string) => {
    if (out.length < limit) out.push(what)
  }
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
  const byScid = new Map(graph.channels.map((c) => [BigInt(c.shortChannelId), c]))
  const byNode = new Map(graph.nodes.map((n) => [hex(n.nodeId), n]))
  if (graph.channels.length !== snapshot.channels.length) differ(`${graph.channels.length} channels, the snapshot has ${snapshot.channels.length}`)
  let policies = 0
  const used = new Set<number>()
  for (const [chanIndex, a, b, capacitySat, aToB, bToA] of snapshot.channels) {
    used.add(a)
    used.add(b)
    const c = byScid.get(BigInt(scidOf(chanIndex)))
    if (c === undefined) {
      differ(`channel ${chanIndex} missing`)
      continue
    }
    const idA = hex(gossip.nodeIds[a] ?? new Uint8Array(0))
    const idB = hex(gossip.nodeIds[b] ?? new Uint8Array(0))
    const ends = [hex(c.nodeId1), hex(c.nodeId2)].sort().join()
    if (ends !== [idA, idB].sort().join()) differ(`channel ${chanIndex}: other ends`)
    if (c.capacitySat !== BigInt(capacitySat)) differ(`channel ${chanIndex}: capacity ${c.capacitySat} instead of ${capacitySat}`)
    const aIs1 = hex(c.nodeId1) === idA
    const check = (dir: SnapshotDirection, got: ChannelView["directions"][0], name: string) => {
      if (dir[5] === 0) {
        if (got !== undefined) differ(`channel ${chanIndex} ${name}: a policy for a disabled direction`)
        return
      }
      policies++
      const want = [dir[0], dir[1], dir[2], BigInt(dir[3]), BigInt(dir[4]), true].join()
      const have = got === undefined ? "none" : [got.feeBaseMsat, got.feeProportionalMillionths, got.cltvExpiryDelta, got.htlcMinimumMsat, got.htlcMaximumMsat, got.enabled].join()
      if (have !== want) differ(`channel ${chanIndex} ${name}: policy ${have} instead of ${want}`)
    }
    check(aToB, c.directions[aIs1 ? 0 : 1], "a->b")
    check(bToA, c.directions[aIs1 ? 1 : 0], "b->a")
  }
  if (graph.nodes.length !== used.size) differ(`${graph.nodes.length} nodes, the snapshot's channels have ${used.size}`)
  for (const i of used) {
    const n = byNode.get(hex(gossip.nodeIds[i] ?? new Uint8Array(0)))?.announcement
    if (n === undefined) {
      differ(`node ${i} missing or not announced`)
      continue
    }
    if (n.alias !== aliasText(snapshot.node_aliases[i] ?? "")) differ(`node ${i}: alias '${n.alias}'`)
    if (hex(n.rgbColor) !== hex(colorOf(i))) differ(`node ${i}: color ${hex(n.rgbColor)}`)
    const addresses = (as: ReadonlyArray<Address>) => as.map((x) => JSON.stringify(x, (_, v: unknown) => (v instanceof Uint8Array ? hex(v) : v))).join()
    if (addresses(n.addresses) !== addresses(addressesOf(i))) differ(`node ${i}: addresses ${addresses(n.addresses)}`)
  }
  return { differences: out, policies }
}
