/**
 * Route search (BOLT 7 "Recommendations for Routing", BOLT 4 amounts and CLTVs): a Dijkstra
 * run BACKWARDS from the payee, so that the amount and CLTV each channel must carry are known
 * when the channel is considered. Starting from the payee with the amount and the final CLTV
 * delta, taking a channel `u -> v` makes `u` need `amount(v) + fee_u(amount(v))` and
 * `cltv(v) + delta_u`, with `u`'s fee and delta from the update `u` published for that
 * direction; the payer adds neither. A channel is usable when the amount it would carry lies in
 * `[htlc_minimum_msat, htlc_maximum_msat]`, fits its capacity (our own channels: their exact
 * outbound liquidity), and the totals stay within the request's fee, CLTV and hop limits. The
 * cost minimised is fees plus the scorer's penalties.
 *
 * When the scored search finds nothing, a second search ranks by fees alone (see `feesOnly`).
 * A split (BOLT 4 `basic_mpp`) is made only when no single path can carry the amount: parts
 * are found one after another, each over what the earlier ones left of every channel, and each
 * then grown to what its path can carry (up to a share of a channel's estimated capacity).
 */
import { Result } from "effect"
import { msat } from "../units.ts"
import { forwardingFee } from "./fees.ts"
import type { RequestGraph } from "./request.ts"
import { type EdgeScorer, zeroPenalty } from "./scorer.ts"
import { NoRoute, type Path, type Route, type RouteHop } from "./types.ts"

export interface SearchConfig {
  /**
   * When growing a part of a split, the most of a channel's estimated capacity one route may
   * use (our own channels: all of their known liquidity). Default 1/2.
   */
  readonly maxChannelSaturation: number
}

export const defaultSearchConfig: SearchConfig = { maxChannelSaturation: 0.5 }

/** A binary min-heap of (cost, node), with stale entries skipped by the caller. */
class Heap {
  private costs = new Float64Array(1024)
  private nodes = new Int32Array(1024)
  size = 0
  push(cost: number, node: number): void {
    if (this.size === this.costs.length) {
      const c = new Float64Array(this.size * 2)
      c.set(this.costs)
      this.costs = c
      const n = new Int32Array(this.size * 2)
      n.set(this.nodes)
      this.nodes = n
    }
    let i = this.size++
    const costs = this.costs
    const nodes = this.nodes
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pc = costs[parent] ?? 0
      if (pc <= cost) break
      costs[i] = pc
      nodes[i] = nodes[parent] ?? 0
      i = parent
    }
    costs[i] = cost
    nodes[i] = node
  }
  /** The cost of the cheapest entry; call only when `size > 0`. */
  topCost(): number {
    return this.costs[0] ?? 0
  }
  /** The cheapest node; call only when `size > 0`. `lastCost` holds its cost. */
  lastCost = 0
  pop(): number {
    const costs = this.costs
    const nodes = this.nodes
    const top = nodes[0] ?? 0
    this.lastCost = costs[0] ?? 0
    const n = --this.size
    const cost = costs[n] ?? 0
    const node = nodes[n] ?? 0
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      const right = child + 1
      if (right < n && (costs[right] ?? 0) < (costs[child] ?? 0)) child = right
      const cc = costs[child] ?? 0
      if (cc >= cost) break
      costs[i] = cc
      nodes[i] = nodes[child] ?? 0
      i = child
    }
    costs[i] = cost
    nodes[i] = node
    return top
  }
}

/**
 * One backwards Dijkstra for `amount`: the edges of the cheapest path from the payer to the
 * payee, or undefined. `used` holds what earlier parts of the route put on each edge.
 */
const searchPath = (
  rg: RequestGraph,
  scorer: EdgeScorer,
  amount: number,
  feeBudget: number,
  used: Float64Array | undefined
): ReadonlyArray<number> | undefined => {
  const scratch = takeScratch(rg.nodeCount)
  try {
    scratch.start(rg)
    return search(rg, scorer, amount, feeBudget, used, scratch)
  } finally {
    scratch.finish()
    scratchPool.push(scratch)
  }
}

/**
 * Per-node search state, reused across searches (a search is synchronous). The labels are
 * cleared for every search: a search labels about half of the simulation's networks, so a
 * memset beats undoing its writes (measured; so do separate arrays against one record per node,
 * and clearing against stamping each label with the search that wrote it). The request's marks
 * (our channels' targets, exclusions) are set from the request's short lists and cleared the
 * same way, so a request allocates nothing in proportion to the graph.
 */
class Scratch {
  /** The node's label: cost so far (Infinity: none), amount and CLTV it must receive, hops to the payee, edge taken. */
  readonly cost: Float64Array
  readonly amt: Float64Array
  readonly cltv: Int32Array
  readonly hops: Int32Array
  readonly next: Int32Array
  /** 1 once the node's label is final. */
  readonly done: Uint8Array
  /** 1 for the nodes the request's own edges (our channels, route hints) lead to. */
  readonly overlayTarget: Uint8Array
  /** 1 for the nodes the request excludes. */
  readonly blockedNode: Uint8Array
  /** 1 for the edges the request excludes (sized on the first request that excludes one). */
  blockedEdge: Uint8Array = new Uint8Array(0)
  /** The request whose marks are set. */
  private marked: RequestGraph | undefined
  readonly heap = new Heap()

  constructor(size: number) {
    this.cost = new Float64Array(size)
    this.amt = new Float64Array(size)
    this.cltv = new Int32Array(size)
    this.hops = new Int32Array(size)
    this.next = new Int32Array(size)
    this.done = new Uint8Array(size)
    this.overlayTarget = new Uint8Array(size)
    this.blockedNode = new Uint8Array(size)
  }

  /** Ready for a search of `rg`: no label, the request's marks set. */
  start(rg: RequestGraph): void {
    const n = rg.nodeCount
    this.cost.fill(Infinity, 0, n)
    this.next.fill(-1, 0, n)
    this.done.fill(0, 0, n)
    this.heap.size = 0
    this.mark(rg, 1)
    this.marked = rg
  }

  /** Clears the marks of the last search. */
  finish(): void {
    if (this.marked !== undefined) this.mark(this.marked, 0)
    this.marked = undefined
  }

  private mark(rg: RequestGraph, value: 0 | 1): void {
    for (const target of rg.overlayIn.keys()) this.overlayTarget[target] = value
    for (const n of rg.blockedNodes) this.blockedNode[n] = value
    if (rg.blockedEdges.length > 0) {
      if (this.blockedEdge.length < rg.edgeCount) this.blockedEdge = new Uint8Array(rg.edgeCount)
      for (const e of rg.blockedEdges) this.blockedEdge[e] = value
    }
  }
}

const scratchPool: Array<Scratch> = []

const takeScratch = (n: number): Scratch => {
  const s = scratchPool.pop()
  return s !== undefined && s.cost.length >= n ? s : new Scratch(Math.max(n, 1024))
}

const search = (
  rg: RequestGraph,
  scorer: EdgeScorer,
  amount: number,
  feeBudget: number,
  used: Float64Array | undefined,
  scratch: Scratch
): ReadonlyArray<number> | undefined => {
  const base = rg.base
  const { maxCltv, maxHops, finalCltv } = rg.limits
  const { cost, amt, cltv, hops, next, done, overlayTarget, heap } = scratch
  const { inStart, source, htlcMin, htlcMax, capacity, feeBase, feePpm, cltvDelta } = base
  const baseEdges = base.edgeCount
  const baseNodes = base.nodeCount
  const payer = rg.payer
  const payee = rg.payee
  const skipPayer = rg.skipPayerBaseEdges
  // Undefined when the request excludes nothing of the kind: one test per edge fewer.
  const blockedEdges = rg.blockedEdges.length > 0 ? scratch.blockedEdge : undefined
  const blockedNodes = rg.blockedNodes.length > 0 ? scratch.blockedNode : undefined
  const overlay = rg.overlay
  const overlayIn = rg.overlayIn
  // Amounts stay exact: nothing above 2^53 msat is ever carried.
  const maxAmount = Math.min(amount + feeBudget, Number.MAX_SAFE_INTEGER)

  cost[payee] = 0
  amt[payee] = amount
  cltv[payee] = finalCltv
  hops[payee] = 0
  heap.push(0, payee)

  // The last fee computed on the settled node's amount, with its policy (reset per settled node):
  // its in-edges often share a policy (one everywhere in the simulation), and the exact fee costs
  // two divisions.
  let lastFeeBase = NaN
  let lastFeePpm = NaN
  let lastFee = 0
  // Whether every fee and penalty met so far was >= 0 (the base edges' bound, when >= 0, vouches
  // for the penalties not asked): then a label no entry left in the heap undercuts is final.
  let nonNegative = (scorer.minBasePenaltyMsat ?? -1) >= 0
  // No penalty anywhere (the fees-only scorer, the simulation's): the scorer is not asked.
  const noPenalty = scorer === zeroPenalty
  // Relaxes `u -> v` (edge e) for the settled node v, whose cost, amount, CLTV and hop count
  // are read once per settled node (`costV` ... `hopsU`). `floor` is a lower bound of the edge's
  // penalty (-Infinity: none): when the fee plus it cannot beat `u`'s label, the scorer is not
  // asked (the label would not change: a penalty at or above the bound gives a cost at or above it).
  // That test comes first when the fee is not negative (about a third of the edges a search meets
  // end there, mostly at an equally cheap label): the tests it skips have no effect when they
  // fail, so only a negative fee, which must clear `nonNegative` if the edge is usable, waits
  // for them.
  const relax = (
    e: number,
    u: number,
    costV: number,
    a: number,
    cltvV: number,
    hopsU: number,
    min: number,
    max: number,
    cap: number,
    fb: number,
    fp: number,
    cd: number,
    floor: number
  ): void => {
    let fee = 0
    if (u !== payer) {
      if (fb === lastFeeBase && fp === lastFeePpm) fee = lastFee
      else {
        fee = forwardingFee(fb, fp, a)
        lastFeeBase = fb
        lastFeePpm = fp
        lastFee = fee
      }
    }
    const known = cost[u] ?? Infinity
    const withFee = costV + fee
    if (withFee + floor >= known && fee >= 0) return
    if (blockedEdges !== undefined && blockedEdges[e] === 1) return
    if (blockedNodes !== undefined && blockedNodes[u] === 1) return
    if (a < min || a > max) return
    const onEdge = used === undefined ? a : a + (used[e] ?? 0)
    if (onEdge > cap) return
    let newAmt = a
    let newCltv = cltvV
    if (u !== payer) {
      if (fee < 0) nonNegative = false
      newAmt = a + fee
      if (newAmt > maxAmount) return
      newCltv += cd
      if (newCltv > maxCltv) return
    }
    if (withFee + floor >= known) return
    const penalty = noPenalty ? 0 : scorer.penaltyMsat(e, onEdge)
    if (!(penalty < Infinity)) return
    if (!(penalty >= 0)) nonNegative = false
    const c = withFee + penalty
    if (c < known) {
      cost[u] = c
      amt[u] = newAmt
      cltv[u] = newCltv
      hops[u] = hopsU
      next[u] = e
      heap.push(c, u)
    }
  }
  const baseFloor = scorer.minBasePenaltyMsat ?? -Infinity

  while (heap.size > 0) {
    // With no negative fee or penalty, a path only gets dearer: once nothing cheaper than the
    // payer's label is left, that label is final and so is every label on its path (settled),
    // so the search ends here instead of popping the entries that cost exactly as much first
    // (with one policy everywhere and fees alone, as in the simulation, a whole level of ties).
    if (nonNegative && heap.topCost() >= (cost[payer] ?? Infinity)) {
      done[payer] = 1
      break
    }
    const v = heap.pop()
    const costV = cost[v] ?? Infinity
    if (done[v] === 1 || heap.lastCost > costV) continue
    done[v] = 1
    if (v === payer) break
    const hopsV = hops[v] ?? 0
    if (hopsV >= maxHops) continue
    const a = amt[v] ?? 0
    const cltvV = cltv[v] ?? 0
    lastFeeBase = NaN
    if (v < baseNodes) {
      const end = inStart[v + 1] ?? 0
      for (let e = inStart[v] ?? 0; e < end; e++) {
        const u = source[e] ?? 0
        // A settled source (about half of them) is passed over before the edge's policy is read.
        if (done[u] === 1 || (skipPayer && u === payer)) continue
        relax(e, u, costV, a, cltvV, hopsV + 1, htlcMin[e] ?? 0, htlcMax[e] ?? 0, capacity[e] ?? 0, feeBase[e] ?? 0, feePpm[e] ?? 0, cltvDelta[e] ?? 0, baseFloor)
      }
    }
    const extra = overlayTarget[v] === 1 ? overlayIn.get(v) : undefined
    if (extra !== undefined) {
      for (const e of extra) {
        const o = overlay[e - baseEdges]
        if (o === undefined || done[o.source] === 1) continue
        relax(e, o.source, costV, a, cltvV, hopsV + 1, o.htlcMin, o.htlcMax, o.capacity, o.feeBase, o.feePpm, o.cltvDelta, -Infinity)
      }
    }
  }
  if (done[payer] !== 1) return undefined
  const path: Array<number> = []
  for (let at = payer; at !== payee;) {
    const e = next[at] ?? -1
    if (e < 0 || path.length > maxHops) return undefined
    path.push(e)
    at = rg.edgeTarget(e)
  }
  return path
}

/** The amounts (msat) each edge of `path` carries to deliver `amount`, payer side first. */
const pathAmounts = (rg: RequestGraph, path: ReadonlyArray<number>, amount: number): Array<number> => {
  const out = new Array<number>(path.length)
  let a = amount
  for (let i = path.length - 1; i >= 0; i--) {
    out[i] = a
    const e = path[i] ?? 0
    if (i > 0) a += forwardingFee(rg.edgeFeeBaseMsat(e), rg.edgeFeePpm(e), a)
  }
  return out
}

/** Turns edges and the delivered amount into the hops the onion needs (BOLT 4). */
const materialize = (rg: RequestGraph, path: ReadonlyArray<number>, amount: number): Path | undefined => {
  const amounts = pathAmounts(rg, path, amount)
  const k = path.length
  const hops: Array<RouteHop> = []
  let cltv = rg.limits.currentHeight + rg.limits.finalCltv
  const cltvs = new Array<number>(k)
  for (let i = k - 1; i >= 0; i--) {
    cltvs[i] = cltv
    if (i > 0) cltv += rg.edgeCltvDelta(path[i] ?? 0)
  }
  for (let i = 0; i < k; i++) {
    const e = path[i] ?? 0
    const nextEdge = path[i + 1]
    const a = amounts[i] ?? 0
    hops.push({
      shortChannelId: rg.edgeScid(e),
      direction: rg.edgeDirection(e),
      nodeId: rg.nodeId(rg.edgeTarget(e)),
      amountMsat: msat(BigInt(a)),
      cltvExpiry: cltvs[i] ?? 0,
      feeMsat: msat(BigInt(a - (amounts[i + 1] ?? a))),
      cltvExpiryDelta: nextEdge === undefined ? 0 : rg.edgeCltvDelta(nextEdge)
    })
  }
  const [first, ...rest] = hops
  if (first === undefined) return undefined
  return {
    hops: [first, ...rest],
    firstHop: rg.edgeFirstHop(path[0] ?? 0),
    amountMsat: msat(BigInt(amount)),
    feeMsat: msat(BigInt((amounts[0] ?? 0) - amount))
  }
}

/**
 * The most a path can deliver, between `lo` (known to fit) and `hi`, within the fee budget,
 * every `htlc_maximum_msat`, and a saturation share of each channel's remaining capacity.
 */
const pathCapacity = (
  rg: RequestGraph,
  path: ReadonlyArray<number>,
  lo: number,
  hi: number,
  feeBudget: number,
  used: Float64Array,
  saturation: number
): number => {
  const fits = (x: number): boolean => {
    const amounts = pathAmounts(rg, path, x)
    if ((amounts[0] ?? 0) - x > feeBudget) return false
    for (let i = 0; i < path.length; i++) {
      const e = path[i] ?? 0
      const a = amounts[i] ?? 0
      if (a > rg.edgeHtlcMaximumMsat(e)) return false
      const limit = rg.edgeLiquidityKnown(e) ? rg.edgeCapacityMsat(e) : rg.edgeCapacityMsat(e) * saturation
      if (a + (used[e] ?? 0) > limit) return false
    }
    return true
  }
  if (fits(hi)) return hi
  let good = lo
  let bad = hi
  while (bad - good > 1) {
    const mid = Math.floor((good + bad) / 2)
    if (fits(mid)) good = mid
    else bad = mid
  }
  return good
}

const sumFees = (paths: ReadonlyArray<Path>): bigint => paths.reduce((s, p) => s + p.feeMsat, 0n)

const routeOf = (rg: RequestGraph, paths: ReadonlyArray<Path>): Result.Result<Route, NoRoute> => {
  const [first, ...rest] = paths
  if (first === undefined) return Result.fail(new NoRoute({ reason: "NoPath", detail: "no path" }))
  return Result.succeed({ paths: [first, ...rest], amountMsat: msat(BigInt(rg.limits.amount)), feeMsat: msat(sumFees(paths)) })
}

/**
 * The scorer's vetoes without its penalties. The search keeps one label per node (its cheapest
 * way to the payee); with penalties, that label may carry more fees than another, and an
 * upstream `htlc_maximum_msat`, our channel's liquidity or the fee limit may then refuse it
 * while the cheaper-in-fees label would pass. Ranking by fees alone makes each node's label
 * the smallest amount, so a single path is missed only for `htlc_minimum_msat` or CLTV reasons.
 */
const feesOnly = (scorer: EdgeScorer): EdgeScorer =>
  scorer === zeroPenalty ? zeroPenalty : {
    minBasePenaltyMsat: 0,
    penaltyMsat: (edge, amount) => (scorer.penaltyMsat(edge, amount) < Infinity ? 0 : Infinity)
  }

/**
 * Finds a route for the request laid out in `rg`: one path when one can carry the amount,
 * else (when the payee takes `basic_mpp` and `maxParts > 1`) a split.
 */
export const findRoute = (
  rg: RequestGraph,
  scorer: EdgeScorer,
  config: SearchConfig = defaultSearchConfig
): Result.Result<Route, NoRoute> => {
  const { amount, maxFee, maxParts, minShard } = rg.limits
  const single = searchPath(rg, scorer, amount, maxFee, undefined) ?? searchPath(rg, feesOnly(scorer), amount, maxFee, undefined)
  if (single !== undefined) {
    const path = materialize(rg, single, amount)
    if (path !== undefined) return routeOf(rg, [path])
  }
  if (maxParts <= 1 || amount < 2 * minShard) {
    return Result.fail(new NoRoute({ reason: "NoPath", detail: "no single path can carry the amount and it cannot be split" }))
  }
  const used = takeUsed(rg.edgeCount)
  const loaded: Array<number> = []
  try {
    return split(rg, scorer, config, used, loaded)
  } finally {
    for (const e of loaded) used[e] = 0
    usedPool.push(used)
  }
}

/**
 * What the parts of a split put on each edge, by edge index: one array the size of the graph,
 * reused by the next split (a split loads the edges of a few paths, `loaded`, and clears them
 * after) rather than allocated per split.
 */
const usedPool: Array<Float64Array> = []

const takeUsed = (edges: number): Float64Array => {
  const u = usedPool.pop()
  return u !== undefined && u.length >= edges ? u : new Float64Array(edges)
}

/** The parts of a split, one after another, each over what the earlier ones left (see `findRoute`). */
const split = (
  rg: RequestGraph,
  scorer: EdgeScorer,
  config: SearchConfig,
  used: Float64Array,
  loaded: Array<number>
): Result.Result<Route, NoRoute> => {
  const { amount, maxFee, maxParts, minShard } = rg.limits
  const paths: Array<Path> = []
  let remaining = amount
  let budget = maxFee
  while (remaining > 0) {
    const partsLeft = maxParts - paths.length
    if (partsLeft <= 0) {
      return Result.fail(
        new NoRoute({ reason: "InsufficientLiquidity", detail: `${remaining} msat left after ${maxParts} parts` })
      )
    }
    const floor = Math.min(remaining, Math.max(minShard, Math.ceil(remaining / partsLeft)))
    let target = paths.length === 0 ? Math.max(floor, Math.ceil(remaining / 2)) : remaining
    let found: ReadonlyArray<number> | undefined
    for (;;) {
      // A part never leaves a rest smaller than the minimum shard.
      if (remaining - target > 0 && remaining - target < minShard) target = remaining - minShard
      if (target < floor) target = floor
      found = searchPath(rg, scorer, target, budget, used)
      if (found === undefined && target <= floor) found = searchPath(rg, feesOnly(scorer), target, budget, used)
      if (found !== undefined || target <= floor) break
      target = Math.max(floor, Math.floor(target / 2))
    }
    if (found === undefined) {
      return Result.fail(
        new NoRoute({
          reason: paths.length === 0 ? "NoPath" : "InsufficientLiquidity",
          detail: `no path for a part of ${target} msat (${remaining} msat left, ${paths.length} parts found)`
        })
      )
    }
    let x = pathCapacity(rg, found, target, remaining, budget, used, config.maxChannelSaturation)
    if (remaining - x > 0 && remaining - x < minShard) x = Math.max(target, remaining - minShard)
    const path = materialize(rg, found, x)
    if (path === undefined) return Result.fail(new NoRoute({ reason: "NoPath", detail: "empty path" }))
    const amounts = pathAmounts(rg, found, x)
    found.forEach((e, i) => {
      used[e] = (used[e] ?? 0) + (amounts[i] ?? 0)
      loaded.push(e)
    })
    paths.push(path)
    remaining -= x
    budget -= Number(path.feeMsat)
  }
  return routeOf(rg, paths)
}
