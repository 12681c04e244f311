/**
 * The channel graph as the router reads it (BOLT 7 "channel_update" directions): an immutable,
 * compact structure built once from a list of channels and shared by every route computation.
 *
 * Nodes are small integers; each usable direction of a channel is one directed edge, stored in
 * typed arrays and grouped by the node it leads TO (the router searches backwards from the
 * payee). Disabled or missing directions are left out. Amounts are JS numbers of msat: every
 * real amount is far below 2^53 msat (90,000 BTC); larger `htlc_maximum_msat` values are capped.
 */
import { compareBytes, toHex } from "../bytes.ts"
import { type ShortChannelId, shortChannelIdFromParts } from "../codec/fields.ts"

/** One direction's `channel_update` (BOLT 7), as the router needs it. */
export interface DirectionPolicy {
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
  /** The `disable` bit of `channel_flags` is clear. */
  readonly enabled: boolean
}

/** A public channel with its two directions (BOLT 7 `channel_announcement` + updates). */
export interface ChannelInfo {
  readonly shortChannelId: ShortChannelId
  /** `node_id_1`: the lexicographically smaller key (33 bytes). */
  readonly node1: Uint8Array
  readonly node2: Uint8Array
  /** The funding output's value, when known. */
  readonly capacityMsat: bigint | undefined
  /** The update with direction bit 0: published by `node1`, forwards from node1 to node2. */
  readonly oneToTwo: DirectionPolicy | undefined
  /** The update with direction bit 1: published by `node2`. */
  readonly twoToOne: DirectionPolicy | undefined
}

const toAmount = (v: bigint): number => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v))

/** The key of a channel direction: `scid * 2 + direction` (direction 0: from node_id_1). */
export const directionKey = (scid: ShortChannelId, direction: 0 | 1): bigint => (scid << 1n) | BigInt(direction)

/** BOLT 7: direction 0 is the update of `node_id_1`, the smaller key of the two. */
export const directionOf = (source: Uint8Array, target: Uint8Array): 0 | 1 => (compareBytes(source, target) < 0 ? 0 : 1)

/**
 * The read-only view of a graph that route search and scorers use. Edge indices run from 0 to
 * `edgeCount - 1`; a request's view adds edges for our own channels and route hints after the
 * public ones.
 */
export interface GraphView {
  readonly nodeCount: number
  readonly edgeCount: number
  /** The shared public graph under this view: its edges are this view's first edges, same indices. */
  readonly baseGraph: RoutingGraph
  readonly nodeId: (node: number) => Uint8Array
  readonly edgeSource: (edge: number) => number
  readonly edgeTarget: (edge: number) => number
  readonly edgeScid: (edge: number) => ShortChannelId
  readonly edgeDirection: (edge: number) => 0 | 1
  readonly edgeFeeBaseMsat: (edge: number) => number
  readonly edgeFeePpm: (edge: number) => number
  readonly edgeCltvDelta: (edge: number) => number
  readonly edgeHtlcMinimumMsat: (edge: number) => number
  readonly edgeHtlcMaximumMsat: (edge: number) => number
  /** The channel's capacity in msat when known, else its `htlc_maximum_msat` (Infinity for a hint). */
  readonly edgeCapacityMsat: (edge: number) => number
  /** Our own channel: its outbound liquidity is known exactly (no guessing needed). */
  readonly edgeLiquidityKnown: (edge: number) => boolean
  /** The edges of a channel direction, by `directionKey`. */
  readonly edgesOf: (key: bigint) => ReadonlyArray<number>
}

/** An immutable compact graph. Build it with `buildRoutingGraph`. */
export class RoutingGraph implements GraphView {
  readonly nodeCount: number
  readonly edgeCount: number
  readonly channelCount: number
  /** Node ids, by node index. */
  readonly nodeIds: ReadonlyArray<Uint8Array>
  /** Edges into node `n` are `inStart[n] .. inStart[n + 1] - 1`. */
  readonly inStart: Int32Array
  readonly source: Int32Array
  readonly target: Int32Array
  readonly scid: ReadonlyArray<ShortChannelId>
  readonly direction: Uint8Array
  readonly feeBase: Float64Array
  readonly feePpm: Float64Array
  readonly cltvDelta: Int32Array
  readonly htlcMin: Float64Array
  readonly htlcMax: Float64Array
  readonly capacity: Float64Array
  readonly baseGraph: RoutingGraph = this
  private readonly byHex: ReadonlyMap<string, number>
  private readonly byKey: ReadonlyMap<bigint, ReadonlyArray<number>>

  constructor(fields: {
    nodeIds: ReadonlyArray<Uint8Array>
    byHex: ReadonlyMap<string, number>
    channelCount: number
    edges: EdgeArrays
  }) {
    this.nodeIds = fields.nodeIds
    this.nodeCount = fields.nodeIds.length
    this.byHex = fields.byHex
    this.channelCount = fields.channelCount
    const e = fields.edges
    this.edgeCount = e.source.length
    this.inStart = e.inStart
    this.source = e.source
    this.target = e.target
    this.scid = e.scid
    this.direction = e.direction
    this.feeBase = e.feeBase
    this.feePpm = e.feePpm
    this.cltvDelta = e.cltvDelta
    this.htlcMin = e.htlcMin
    this.htlcMax = e.htlcMax
    this.capacity = e.capacity
    const byKey = new Map<bigint, Array<number>>()
    for (let i = 0; i < this.edgeCount; i++) {
      const key = ((this.scid[i] ?? 0n) << 1n) | BigInt(this.direction[i] ?? 0)
      const list = byKey.get(key)
      if (list === undefined) byKey.set(key, [i])
      else list.push(i)
    }
    this.byKey = byKey
  }

  /** The node index of a node id, if the graph knows the node. */
  nodeIndex(nodeId: Uint8Array): number | undefined {
    return this.byHex.get(toHex(nodeId))
  }
  nodeId = (node: number): Uint8Array => this.nodeIds[node] ?? new Uint8Array(33)
  edgeSource = (edge: number): number => this.source[edge] ?? -1
  edgeTarget = (edge: number): number => this.target[edge] ?? -1
  edgeScid = (edge: number): ShortChannelId => this.scid[edge] ?? noScid
  edgeDirection = (edge: number): 0 | 1 => (this.direction[edge] === 1 ? 1 : 0)
  edgeFeeBaseMsat = (edge: number): number => this.feeBase[edge] ?? 0
  edgeFeePpm = (edge: number): number => this.feePpm[edge] ?? 0
  edgeCltvDelta = (edge: number): number => this.cltvDelta[edge] ?? 0
  edgeHtlcMinimumMsat = (edge: number): number => this.htlcMin[edge] ?? 0
  edgeHtlcMaximumMsat = (edge: number): number => this.htlcMax[edge] ?? 0
  edgeCapacityMsat = (edge: number): number => this.capacity[edge] ?? 0
  edgeLiquidityKnown = (_edge: number): boolean => false
  edgesOf = (key: bigint): ReadonlyArray<number> => this.byKey.get(key) ?? []
}

const noScid: ShortChannelId = shortChannelIdFromParts(0, 0, 0)

interface EdgeArrays {
  readonly inStart: Int32Array
  readonly source: Int32Array
  readonly target: Int32Array
  readonly scid: Array<ShortChannelId>
  readonly direction: Uint8Array
  readonly feeBase: Float64Array
  readonly feePpm: Float64Array
  readonly cltvDelta: Int32Array
  readonly htlcMin: Float64Array
  readonly htlcMax: Float64Array
  readonly capacity: Float64Array
}

/**
 * Builds the compact graph. Only enabled directions become edges; a direction whose
 * `htlc_maximum_msat` is below its `htlc_minimum_msat` can carry nothing and is left out too.
 * Nodes are numbered in the order of `nodes` (when given), then as channels name them.
 */
export const buildRoutingGraph = (channels: Iterable<ChannelInfo>, nodes: Iterable<Uint8Array> = []): RoutingGraph => {
  const nodeIds: Array<Uint8Array> = []
  const byHex = new Map<string, number>()
  const indexOf = (id: Uint8Array): number => {
    const hex = toHex(id)
    const known = byHex.get(hex)
    if (known !== undefined) return known
    nodeIds.push(id)
    byHex.set(hex, nodeIds.length - 1)
    return nodeIds.length - 1
  }
  for (const id of nodes) indexOf(id)
  interface Pending {
    readonly from: number
    readonly to: number
    readonly scid: ShortChannelId
    readonly dir: 0 | 1
    readonly policy: DirectionPolicy
    readonly capacity: number
  }
  const pending: Array<Pending> = []
  let channelCount = 0
  for (const c of channels) {
    channelCount++
    const n1 = indexOf(c.node1)
    const n2 = indexOf(c.node2)
    const capacity = c.capacityMsat === undefined ? undefined : toAmount(c.capacityMsat)
    const add = (from: number, to: number, dir: 0 | 1, p: DirectionPolicy | undefined) => {
      if (p === undefined || !p.enabled || p.htlcMaximumMsat < p.htlcMinimumMsat) return
      pending.push({ from, to, scid: c.shortChannelId, dir, policy: p, capacity: capacity ?? toAmount(p.htlcMaximumMsat) })
    }
    add(n1, n2, 0, c.oneToTwo)
    add(n2, n1, 1, c.twoToOne)
  }
  const n = nodeIds.length
  const m = pending.length
  const inStart = new Int32Array(n + 1)
  for (const p of pending) inStart[p.to + 1] = (inStart[p.to + 1] ?? 0) + 1
  for (let i = 0; i < n; i++) inStart[i + 1] = (inStart[i + 1] ?? 0) + (inStart[i] ?? 0)
  const fill = inStart.slice(0, n)
  const e: EdgeArrays = {
    inStart,
    source: new Int32Array(m),
    target: new Int32Array(m),
    scid: new Array<ShortChannelId>(m),
    direction: new Uint8Array(m),
    feeBase: new Float64Array(m),
    feePpm: new Float64Array(m),
    cltvDelta: new Int32Array(m),
    htlcMin: new Float64Array(m),
    htlcMax: new Float64Array(m),
    capacity: new Float64Array(m)
  }
  for (const p of pending) {
    const i = fill[p.to] ?? 0
    fill[p.to] = i + 1
    e.source[i] = p.from
    e.target[i] = p.to
    e.scid[i] = p.scid
    e.direction[i] = p.dir
    e.feeBase[i] = p.policy.feeBaseMsat
    e.feePpm[i] = p.policy.feeProportionalMillionths
    e.cltvDelta[i] = p.policy.cltvExpiryDelta
    e.htlcMin[i] = toAmount(p.policy.htlcMinimumMsat)
    e.htlcMax[i] = Math.min(toAmount(p.policy.htlcMaximumMsat), p.capacity)
    e.capacity[i] = p.capacity
  }
  return new RoutingGraph({ nodeIds, byHex, channelCount, edges: e })
}

/** A graph with no channel: routes then use only our own channels and route hints. */
export const emptyRoutingGraph: RoutingGraph = buildRoutingGraph([])
