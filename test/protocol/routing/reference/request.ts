/**
 * REFERENCE COPY for test/protocol/routing/search-reference.test.ts: `prepareRequest` as
 * it was at commit ad313e8, before the search reused its marks across requests and skipped the
 * work that cannot change a label. The search's answer depends on the exact order in which it
 * meets equally cheap paths, so the faster form is checked against this one, route for route.
 * Do not change it.
 */
/**
 * A route request laid over the shared graph: the public graph plus, for this request only, our
 * own channels (exact liquidity, no fee, no CLTV delta: the payer does not charge itself), the
 * invoice's route hints (BOLT 11 `r`: private channels towards the payee, with the fees and CLTV
 * delta their source charges) and the exclusions. Nodes the graph does not know (an
 * unannounced payer or payee, hint nodes) get indices after the graph's own.
 */
import { Result } from "effect"
import { toHex } from "../../../../src/protocol/bytes.ts"
import type { ShortChannelId } from "../../../../src/protocol/codec/index.ts"
import { directionKey, directionOf, type GraphView, type RoutingGraph } from "../../../../src/protocol/routing/graph.ts"
import { type FirstHop, NoRoute, RouteDefaults, type RouteRequest } from "../../../../src/protocol/routing/types.ts"

interface OverlayEdge {
  readonly source: number
  readonly target: number
  readonly scid: ShortChannelId
  readonly direction: 0 | 1
  readonly feeBase: number
  readonly feePpm: number
  readonly cltvDelta: number
  readonly htlcMin: number
  readonly htlcMax: number
  readonly capacity: number
  readonly firstHop: FirstHop | undefined
}

/** The request's limits as numbers. */
export interface Limits {
  readonly amount: number
  readonly maxFee: number
  readonly maxCltv: number
  readonly finalCltv: number
  readonly currentHeight: number
  readonly maxHops: number
  readonly maxParts: number
  readonly minShard: number
}

const MAX_ONION_HOPS = 27

export class RequestGraph implements GraphView {
  readonly base: RoutingGraph
  readonly baseGraph: RoutingGraph
  readonly nodeCount: number
  readonly edgeCount: number
  readonly payer: number
  readonly payee: number
  readonly limits: Limits
  /** When our channels are given, the payer's public channels are not used. */
  readonly skipPayerBaseEdges: boolean
  readonly blockedEdges: Uint8Array | undefined
  readonly blockedNodes: Uint8Array | undefined
  readonly overlay: ReadonlyArray<OverlayEdge>
  /** Overlay edges (global indices) into a node. */
  readonly overlayIn: ReadonlyMap<number, ReadonlyArray<number>>
  /** 1 for the nodes `overlayIn` has edges into (a cheap test for the search's inner loop). */
  readonly hasOverlayIn: Uint8Array
  private readonly extraIds: ReadonlyArray<Uint8Array>
  private readonly overlayByKey: ReadonlyMap<bigint, ReadonlyArray<number>>

  constructor(fields: {
    base: RoutingGraph
    payer: number
    payee: number
    limits: Limits
    skipPayerBaseEdges: boolean
    extraIds: ReadonlyArray<Uint8Array>
    overlay: ReadonlyArray<OverlayEdge>
    blockedEdges: Uint8Array | undefined
    blockedNodes: Uint8Array | undefined
  }) {
    this.base = fields.base
    this.baseGraph = fields.base
    this.payer = fields.payer
    this.payee = fields.payee
    this.limits = fields.limits
    this.skipPayerBaseEdges = fields.skipPayerBaseEdges
    this.extraIds = fields.extraIds
    this.overlay = fields.overlay
    this.blockedEdges = fields.blockedEdges
    this.blockedNodes = fields.blockedNodes
    this.nodeCount = fields.base.nodeCount + fields.extraIds.length
    this.edgeCount = fields.base.edgeCount + fields.overlay.length
    const into = new Map<number, Array<number>>()
    const byKey = new Map<bigint, Array<number>>()
    fields.overlay.forEach((o, k) => {
      const e = fields.base.edgeCount + k
      const list = into.get(o.target)
      if (list === undefined) into.set(o.target, [e])
      else list.push(e)
      const key = directionKey(o.scid, o.direction)
      const same = byKey.get(key)
      if (same === undefined) byKey.set(key, [e])
      else same.push(e)
    })
    this.overlayIn = into
    this.hasOverlayIn = new Uint8Array(this.nodeCount)
    for (const target of into.keys()) this.hasOverlayIn[target] = 1
    this.overlayByKey = byKey
  }

  private o(edge: number): OverlayEdge | undefined {
    return this.overlay[edge - this.base.edgeCount]
  }
  nodeId = (node: number): Uint8Array =>
    node < this.base.nodeCount ? this.base.nodeId(node) : (this.extraIds[node - this.base.nodeCount] ?? new Uint8Array(33))
  edgeSource = (e: number): number => (e < this.base.edgeCount ? this.base.edgeSource(e) : (this.o(e)?.source ?? -1))
  edgeTarget = (e: number): number => (e < this.base.edgeCount ? this.base.edgeTarget(e) : (this.o(e)?.target ?? -1))
  edgeScid = (e: number): ShortChannelId => {
    const o = e < this.base.edgeCount ? undefined : this.o(e)
    return o === undefined ? this.base.edgeScid(e) : o.scid
  }
  edgeDirection = (e: number): 0 | 1 => (e < this.base.edgeCount ? this.base.edgeDirection(e) : (this.o(e)?.direction ?? 0))
  edgeFeeBaseMsat = (e: number): number => (e < this.base.edgeCount ? this.base.edgeFeeBaseMsat(e) : (this.o(e)?.feeBase ?? 0))
  edgeFeePpm = (e: number): number => (e < this.base.edgeCount ? this.base.edgeFeePpm(e) : (this.o(e)?.feePpm ?? 0))
  edgeCltvDelta = (e: number): number => (e < this.base.edgeCount ? this.base.edgeCltvDelta(e) : (this.o(e)?.cltvDelta ?? 0))
  edgeHtlcMinimumMsat = (e: number): number =>
    e < this.base.edgeCount ? this.base.edgeHtlcMinimumMsat(e) : (this.o(e)?.htlcMin ?? 0)
  edgeHtlcMaximumMsat = (e: number): number =>
    e < this.base.edgeCount ? this.base.edgeHtlcMaximumMsat(e) : (this.o(e)?.htlcMax ?? 0)
  edgeCapacityMsat = (e: number): number => (e < this.base.edgeCount ? this.base.edgeCapacityMsat(e) : (this.o(e)?.capacity ?? 0))
  edgeLiquidityKnown = (e: number): boolean => e >= this.base.edgeCount && this.o(e)?.firstHop !== undefined
  /** The first hop an overlay edge stands for. */
  edgeFirstHop = (e: number): FirstHop | undefined => (e < this.base.edgeCount ? undefined : this.o(e)?.firstHop)
  edgesOf = (key: bigint): ReadonlyArray<number> => {
    const extra = this.overlayByKey.get(key)
    const base = this.base.edgesOf(key)
    return extra === undefined ? base : [...base, ...extra]
  }
}

const bad = (detail: string) => Result.fail(new NoRoute({ reason: "InvalidRequest", detail }))

const isInt = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max

/** Validates a request and lays it over `graph`. */
export const prepareRequest = (graph: RoutingGraph, req: RouteRequest): Result.Result<RequestGraph, NoRoute> => {
  const amount = Number(req.amountMsat)
  if (!(req.amountMsat > 0n) || req.amountMsat > BigInt(Number.MAX_SAFE_INTEGER)) return bad("amount out of range")
  if (toHex(req.payer) === toHex(req.payee)) return bad("payer is the payee")
  if (!isInt(req.currentHeight, 0, 500_000_000)) return bad("bad current height")
  if (!isInt(req.finalCltvExpiryDelta, 0, 65535)) return bad("bad final CLTV delta")
  const maxCltv = req.maxTotalCltvExpiryDelta ?? RouteDefaults.maxTotalCltvExpiryDelta
  if (!isInt(maxCltv, 0, 1_000_000)) return bad("bad maximum CLTV")
  if (req.finalCltvExpiryDelta > maxCltv) return bad("final CLTV delta above the maximum CLTV")
  const maxHops = req.maxHops ?? RouteDefaults.maxHops
  if (!isInt(maxHops, 1, MAX_ONION_HOPS)) return bad(`maximum hops must be 1..${MAX_ONION_HOPS}`)
  const features = req.payeeFeatures ?? []
  const mpp = features.includes(16) || features.includes(17)
  const askedParts = req.maxParts ?? RouteDefaults.maxParts
  if (!isInt(askedParts, 1, 1000)) return bad("bad maximum parts")
  const maxFee = req.maxFeeMsat === undefined ? Infinity : Number(req.maxFeeMsat)
  if (maxFee < 0) return bad("negative maximum fee")
  const minShard = Math.min(amount, Number(req.minShardMsat ?? BigInt(RouteDefaults.minShardMsat)))
  if (!(minShard > 0)) return bad("bad minimum shard")

  const extraIds: Array<Uint8Array> = []
  const extraByHex = new Map<string, number>()
  const node = (id: Uint8Array): number => {
    const known = graph.nodeIndex(id)
    if (known !== undefined) return known
    const hex = toHex(id)
    const extra = extraByHex.get(hex)
    if (extra !== undefined) return extra
    extraIds.push(id)
    extraByHex.set(hex, graph.nodeCount + extraIds.length - 1)
    return graph.nodeCount + extraIds.length - 1
  }
  const payer = node(req.payer)
  const payee = node(req.payee)
  const overlay: Array<OverlayEdge> = []
  const firstHops = req.firstHops
  for (const fh of firstHops ?? []) {
    const outbound = Math.min(Number(fh.outboundMsat), Number.MAX_SAFE_INTEGER)
    if (outbound <= 0) continue
    overlay.push({
      source: payer,
      target: node(fh.counterpartyNodeId),
      scid: fh.shortChannelId,
      direction: directionOf(req.payer, fh.counterpartyNodeId),
      feeBase: 0,
      feePpm: 0,
      cltvDelta: 0,
      htlcMin: Number(fh.htlcMinimumMsat),
      htlcMax: outbound,
      capacity: outbound,
      firstHop: fh
    })
  }
  for (const hint of req.routeHints ?? []) {
    hint.forEach((h, j) => {
      const next = hint[j + 1]
      const targetId = next === undefined ? req.payee : next.pubkey
      const source = node(h.pubkey)
      if (firstHops !== undefined && source === payer) return
      overlay.push({
        source,
        target: node(targetId),
        scid: h.shortChannelId,
        direction: directionOf(h.pubkey, targetId),
        feeBase: h.feeBaseMsat,
        feePpm: h.feeProportionalMillionths,
        cltvDelta: h.cltvExpiryDelta,
        htlcMin: 0,
        htlcMax: Number.MAX_SAFE_INTEGER,
        capacity: Infinity,
        firstHop: undefined
      })
    })
  }
  // Policies from failure messages: each replaces the direction's edges (public or from a hint)
  // by one with the new policy between the same nodes; our own channels keep their exact values.
  const replaced: Array<number> = []
  for (const u of req.policyUpdates ?? []) {
    const key = directionKey(u.shortChannelId, u.direction)
    const source = graph.nodeIndex(u.sourceNodeId) ?? extraByHex.get(toHex(u.sourceNodeId))
    if (source === undefined || source === payer) continue
    const current: Array<{ readonly index: number; readonly target: number; readonly capacity: number }> = []
    for (const e of graph.edgesOf(key)) if (graph.edgeSource(e) === source) current.push({ index: e, target: graph.edgeTarget(e), capacity: graph.edgeCapacityMsat(e) })
    overlay.forEach((o, k) => {
      if (o.firstHop === undefined && o.source === source && directionKey(o.scid, o.direction) === key) {
        current.push({ index: graph.edgeCount + k, target: o.target, capacity: o.capacity })
      }
    })
    const first = current[0]
    if (first === undefined) continue
    for (const c of current) replaced.push(c.index)
    if (u.disabled) continue
    overlay.push({
      source,
      target: first.target,
      scid: u.shortChannelId,
      direction: u.direction,
      feeBase: u.feeBaseMsat,
      feePpm: u.feeProportionalMillionths,
      cltvDelta: u.cltvExpiryDelta,
      htlcMin: Math.min(Number(u.htlcMinimumMsat), Number.MAX_SAFE_INTEGER),
      htlcMax: Math.min(Number(u.htlcMaximumMsat), Number.MAX_SAFE_INTEGER),
      capacity: first.capacity,
      firstHop: undefined
    })
  }
  const totalNodes = graph.nodeCount + extraIds.length
  let blockedNodes: Uint8Array | undefined
  for (const id of req.excludedNodes ?? []) {
    const n = graph.nodeIndex(id) ?? extraByHex.get(toHex(id))
    if (n === undefined) continue
    if (n === payee || n === payer) return bad("the payer or the payee is excluded")
    blockedNodes ??= new Uint8Array(totalNodes)
    blockedNodes[n] = 1
  }
  const view = new RequestGraph({
    base: graph,
    payer,
    payee,
    limits: {
      amount,
      maxFee,
      maxCltv,
      finalCltv: req.finalCltvExpiryDelta,
      currentHeight: req.currentHeight,
      maxHops,
      maxParts: mpp ? askedParts : 1,
      minShard
    },
    skipPayerBaseEdges: firstHops !== undefined,
    extraIds,
    overlay,
    blockedEdges: undefined,
    blockedNodes
  })
  const excluded = req.excludedChannels ?? []
  if (excluded.length === 0 && replaced.length === 0) return Result.succeed(view)
  const blockedEdges = new Uint8Array(view.edgeCount)
  for (const e of replaced) blockedEdges[e] = 1
  for (const x of excluded) {
    const source = x.sourceNodeId === undefined ? undefined : (graph.nodeIndex(x.sourceNodeId) ?? extraByHex.get(toHex(x.sourceNodeId)))
    if (x.sourceNodeId !== undefined && source === undefined) continue
    for (const dir of [0, 1] as const) {
      for (const e of view.edgesOf(directionKey(x.shortChannelId, dir))) {
        if (source === undefined || view.edgeSource(e) === source) blockedEdges[e] = 1
      }
    }
  }
  return Result.succeed(
    new RequestGraph({
      base: graph,
      payer,
      payee,
      limits: view.limits,
      skipPayerBaseEdges: view.skipPayerBaseEdges,
      extraIds,
      overlay,
      blockedEdges,
      blockedNodes
    })
  )
}
