/**
 * A probabilistic model of channel liquidity, per channel direction (in the spirit of Pickhardt
 * and Richter's "Optimally Reliable & Cheap Payment Flows", as LDK's and CLN's routers do).
 *
 * The liquidity of a direction is taken as uniformly distributed between a lower and an upper
 * bound, at first `[0, capacity]`. Sending `a` succeeds with probability
 * `P(a) = (upper - a) / (upper - lower)` (1 at or below the lower bound, 0 at or above the upper
 * one). What a payment attempt shows moves the bounds: a channel that carried `a` had at least
 * `a` (lower bound), one that failed to had less (upper bound). Knowledge fades: every
 * `halfLifeMs` the bounds move halfway back towards `[0, capacity]`.
 *
 * The penalty of an edge, in msat, added to its fee in the route search:
 *   hopPenaltyMsat
 *   + min(-log2 P(a), maxLog2Penalty) * (liquidityPenaltyMsat + a * liquidityPenaltyPpm / 1e6)
 *   + a * cltvExpiryDelta * cltvPenaltyPpb / 1e9
 * where `a` counts what the route's other parts already put on the channel. An amount above the
 * capacity is impossible (Infinity); an amount above the learned upper bound is only very
 * expensive (the bounds may be stale). Our own channels, whose liquidity is known, cost nothing.
 *
 * `LiquidityModel` holds the learned bounds (a mutable store, owned by one scorer layer) and
 * makes a fast per-route `EdgeScorer`; the arithmetic is in pure functions below it.
 */
import type { GraphView, RoutingGraph } from "./graph.ts"
import { directionKey } from "./graph.ts"
import type { EdgeScorer, ScoredHop } from "./scorer.ts"

export interface ProbabilisticConfig {
  /** A flat cost per channel, to prefer shorter paths. */
  readonly hopPenaltyMsat: number
  /** Cost per halving of the success probability. */
  readonly liquidityPenaltyMsat: number
  /** Cost per halving of the success probability, in millionths of the amount. */
  readonly liquidityPenaltyPpm: number
  /** The cap on -log2 P: an amount the bounds say cannot pass still costs only this much. */
  readonly maxLog2Penalty: number
  /** Cost of locking the amount for one block of CLTV delta, in billionths of the amount. */
  readonly cltvPenaltyPpb: number
  /** How fast learned bounds fade back to [0, capacity]. */
  readonly halfLifeMs: number
  /** The most directions remembered; the least recently updated is forgotten first. */
  readonly maxLearned: number
}

export const defaultProbabilisticConfig: ProbabilisticConfig = {
  hopPenaltyMsat: 500,
  liquidityPenaltyMsat: 10_000,
  liquidityPenaltyPpm: 60,
  maxLog2Penalty: 10,
  cltvPenaltyPpb: 100,
  halfLifeMs: 6 * 3600 * 1000,
  maxLearned: 100_000
}

/** What was learned of one direction, as of `updatedMs`. */
export interface LiquidityBounds {
  readonly lowerMsat: number
  /** Infinity: no upper bound learned. */
  readonly upperMsat: number
  readonly updatedMs: number
}

/** The factor by which knowledge `ageMs` old still holds: 1/2 every half-life. */
export const decayFactor = (ageMs: number, halfLifeMs: number): number =>
  ageMs <= 0 ? 1 : Math.pow(0.5, ageMs / halfLifeMs)

/** The bounds at `nowMs` for a channel of `capacity`: both relax towards [0, capacity]. */
export const decayedBounds = (
  b: LiquidityBounds,
  nowMs: number,
  capacity: number,
  halfLifeMs: number
): { readonly lower: number; readonly upper: number } => {
  const f = decayFactor(nowMs - b.updatedMs, halfLifeMs)
  const lower = b.lowerMsat * f
  if (b.upperMsat === Infinity) return { lower, upper: capacity }
  const upper = capacity === Infinity ? (f === 0 ? Infinity : b.upperMsat / f) : capacity - (capacity - Math.min(b.upperMsat, capacity)) * f
  return { lower, upper: Math.max(upper, lower) }
}

/** P(liquidity >= amount) for liquidity uniform in [lower, upper]. */
export const successProbability = (amount: number, lower: number, upper: number): number => {
  if (amount <= lower) return 1
  if (amount >= upper) return 0
  return (upper - amount) / (upper - lower)
}

/** The bounds after an HTLC of `amount` went through the direction. */
export const afterCarried = (
  b: LiquidityBounds | undefined,
  amount: number,
  nowMs: number,
  capacity: number,
  halfLifeMs: number
): LiquidityBounds => {
  const now = b === undefined ? { lower: 0, upper: capacity } : decayedBounds(b, nowMs, capacity, halfLifeMs)
  const lower = Math.max(now.lower, amount)
  // Newer knowledge wins a contradiction.
  const upper = now.upper < lower ? capacity : now.upper
  return { lowerMsat: lower, upperMsat: upper === capacity ? Infinity : upper, updatedMs: nowMs }
}

/** The bounds after the direction failed to carry `amount` (`permanent`: it carries nothing). */
export const afterFailed = (
  b: LiquidityBounds | undefined,
  amount: number,
  permanent: boolean,
  nowMs: number,
  capacity: number,
  halfLifeMs: number
): LiquidityBounds => {
  const now = b === undefined ? { lower: 0, upper: capacity } : decayedBounds(b, nowMs, capacity, halfLifeMs)
  const upper = permanent ? 0 : Math.min(now.upper, amount)
  const lower = now.lower >= upper ? 0 : now.lower
  return { lowerMsat: lower, upperMsat: upper, updatedMs: nowMs }
}

/**
 * The learned bounds of every direction seen in a payment attempt, and a per-graph index of
 * them so that scoring an edge is an array read. Not shared between fibers without a lock
 * around updates (the scorer layer serialises them).
 */
export class LiquidityModel {
  readonly config: ProbabilisticConfig
  private readonly learned = new Map<bigint, LiquidityBounds>()
  /** The graph `byEdge` indexes, and the edges of it that hold learned bounds. */
  private indexed: RoutingGraph | undefined
  private byEdge: Array<LiquidityBounds | undefined> = []

  constructor(config: ProbabilisticConfig = defaultProbabilisticConfig) {
    this.config = config
  }

  /** How many directions hold learned bounds. */
  get size(): number {
    return this.learned.size
  }

  bounds(key: bigint): LiquidityBounds | undefined {
    return this.learned.get(key)
  }

  private set(key: bigint, b: LiquidityBounds): void {
    // Re-inserted, so the Map's order is the order of last update.
    this.learned.delete(key)
    this.learned.set(key, b)
    const g = this.indexed
    if (g !== undefined) for (const e of g.edgesOf(key)) this.byEdge[e] = b
    while (this.learned.size > this.config.maxLearned) {
      const oldest = this.learned.keys().next()
      if (oldest.done === true) break
      this.learned.delete(oldest.value)
      if (g !== undefined) for (const e of g.edgesOf(oldest.value)) this.byEdge[e] = undefined
    }
  }

  /** A path attempt: hops before `failedIndex` carried their HTLC; that hop did not. */
  pathFailed(hops: ReadonlyArray<ScoredHop>, failedIndex: number, permanent: boolean, nowMs: number): void {
    const h = this.config.halfLifeMs
    hops.forEach((hop, i) => {
      if (i > failedIndex) return
      const key = directionKey(hop.shortChannelId, hop.direction)
      const amount = Number(hop.amountMsat)
      const old = this.learned.get(key)
      this.set(
        key,
        i < failedIndex
          ? afterCarried(old, amount, nowMs, hop.capacityMsat, h)
          : afterFailed(old, amount, permanent, nowMs, hop.capacityMsat, h)
      )
    })
  }

  /** Every hop carried its HTLC. */
  pathSucceeded(hops: ReadonlyArray<ScoredHop>, nowMs: number): void {
    for (const hop of hops) {
      const key = directionKey(hop.shortChannelId, hop.direction)
      this.set(key, afterCarried(this.learned.get(key), Number(hop.amountMsat), nowMs, hop.capacityMsat, this.config.halfLifeMs))
    }
  }

  private indexFor(graph: RoutingGraph): ReadonlyArray<LiquidityBounds | undefined> {
    if (this.indexed !== graph) {
      this.indexed = graph
      this.byEdge = new Array<LiquidityBounds | undefined>(graph.edgeCount)
      for (const [key, b] of this.learned) for (const e of graph.edgesOf(key)) this.byEdge[e] = b
    }
    return this.byEdge
  }

  /** The scorer of one route computation at `nowMs`. */
  edgeScorer(view: GraphView, nowMs: number): EdgeScorer {
    const c = this.config
    const base = view.baseGraph
    const byEdge = this.indexFor(base)
    const baseEdges = base.edgeCount
    const capacity = base.capacity
    const cltvDelta = base.cltvDelta
    const learned = this.learned
    const penalty = (bounds: LiquidityBounds | undefined, cap: number, delta: number, a: number): number => {
      if (a > cap) return Infinity
      let p: number
      if (bounds === undefined) p = cap === Infinity ? 1 : (cap - a) / cap
      else {
        const d = decayedBounds(bounds, nowMs, cap, c.halfLifeMs)
        p = successProbability(a, d.lower, d.upper)
      }
      const log2 = p >= 1 ? 0 : p <= 0 ? c.maxLog2Penalty : Math.min(-Math.log2(p), c.maxLog2Penalty)
      return c.hopPenaltyMsat + log2 * (c.liquidityPenaltyMsat + (a * c.liquidityPenaltyPpm) / 1e6) +
        (a * delta * c.cltvPenaltyPpb) / 1e9
    }
    const maxLog2 = c.maxLog2Penalty
    return {
      // Every base edge's penalty is the hop penalty plus terms that are not negative when the
      // configuration's are not (in floating point too: adding a non-negative term never lowers a sum).
      ...(c.hopPenaltyMsat >= 0 && c.liquidityPenaltyMsat >= 0 && c.liquidityPenaltyPpm >= 0 && c.maxLog2Penalty >= 0 && c.cltvPenaltyPpb >= 0
        ? { minBasePenaltyMsat: c.hopPenaltyMsat }
        : {}),
      penaltyMsat: (e, a) => {
        if (e < baseEdges) {
          const bounds = byEdge[e]
          if (bounds !== undefined) return penalty(bounds, capacity[e] ?? 0, cltvDelta[e] ?? 0, a)
          // The common case, nothing learned: P = (capacity - a) / capacity.
          const cap = capacity[e] ?? 0
          if (a > cap) return Infinity
          const log2 = a <= 0 ? 0 : a >= cap ? maxLog2 : Math.min(-Math.log2((cap - a) / cap), maxLog2)
          return c.hopPenaltyMsat + log2 * (c.liquidityPenaltyMsat + (a * c.liquidityPenaltyPpm) / 1e6) +
            (a * (cltvDelta[e] ?? 0) * c.cltvPenaltyPpb) / 1e9
        }
        if (view.edgeLiquidityKnown(e)) return a > view.edgeCapacityMsat(e) ? Infinity : 0
        const key = directionKey(view.edgeScid(e), view.edgeDirection(e))
        return penalty(learned.get(key), view.edgeCapacityMsat(e), view.edgeCltvDelta(e), a)
      }
    }
  }
}
