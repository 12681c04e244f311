/**
 * What the hold times of attribution data teach the router (BOLT 4 "Returning Errors", origin
 * node: "Record the reported htlc hold time for this hop. The origin node can use this
 * information to score nodes on latency. When a zero hold time is reported, the origin node
 * should distribute any potential latency penalty across multiple nodes"; "Hold times for
 * successful payments").
 *
 * Each hop reports how long it held the HTLC (units of 100 ms), and that includes the time of
 * every node after it. A node's own delay is what it reported minus what the next node that
 * reported a (trusted: non-zero, not below a later one) time reported; that delay is split
 * evenly between the node and the nodes between them that reported zero, too little, or nothing
 * (past the last verified HMAC): a node that reports no time is blamed for part of the delay
 * above it, so a fast node has a reason to report (BOLT 4's intent). The payee's share is
 * dropped: it does not forward, and its hold time (waiting for the other parts of a multi-part
 * payment) says nothing of its forwarding.
 *
 * Per node, the model keeps an estimate of its delay (the mean of what it was last seen
 * doing and the estimate before, faded towards 0 with the half-life of the liquidity bounds).
 * The penalty of an edge is its SOURCE node's estimate beyond `freeMs` (ordinary forwarding
 * takes some hundreds of milliseconds), per second, flat plus in millionths of the amount
 * (locking more money longer costs more):
 *   max(0, estimateMs - freeMs) / 1000 * (penaltyMsatPerSecond + a * penaltyPpmPerSecond / 1e6)
 */
import { toHex } from "../bytes.ts"
import { decayFactor } from "./probabilistic.ts"
import type { GraphView } from "./graph.ts"

export interface HoldTimeConfig {
  /** Delay a forwarding node may add without a penalty. */
  readonly freeMs: number
  /** Cost per second of delay beyond `freeMs`. */
  readonly penaltyMsatPerSecond: number
  /** Cost per second of delay beyond `freeMs`, in millionths of the amount. */
  readonly penaltyPpmPerSecond: number
  /** How fast a learned delay fades back to 0. */
  readonly halfLifeMs: number
  /** The most nodes remembered; the least recently updated is forgotten first. */
  readonly maxLearned: number
}

export const defaultHoldTimeConfig: HoldTimeConfig = {
  freeMs: 1000,
  penaltyMsatPerSecond: 1000,
  penaltyPpmPerSecond: 10,
  halfLifeMs: 6 * 3600 * 1000,
  maxLearned: 10_000
}

/** BOLT 4 `htlc_hold_times` unit. */
export const HOLD_TIME_UNIT_MS = 100

/**
 * Each node's share of the delay the hold times show, in ms, in path order (index k: the node
 * `hops[k]` reaches; hold time k is that node's). `pathLength` counts every hop of the path;
 * hold times may stop before its end (a node without attribution support, or a bad HMAC). The
 * last node (the payee) never gets a share: `undefined` there, as for nodes no report covers.
 */
export const delayShares = (holdTimes: ReadonlyArray<number>, pathLength: number): ReadonlyArray<number | undefined> => {
  const shares: Array<number | undefined> = new Array<number | undefined>(pathLength).fill(undefined)
  const n = Math.min(holdTimes.length, pathLength)
  // A report is trusted when it is non-zero and not below a later one (hold times only shrink
  // along the path); an untrusted one counts as zero: its node shares the delay above it.
  const trusted: Array<boolean> = new Array<boolean>(n).fill(false)
  let laterMax = 0
  for (let k = n - 1; k >= 0; k--) {
    const h = holdTimes[k] ?? 0
    trusted[k] = h > 0 && h >= laterMax
    if (h > laterMax) laterMax = h
  }
  for (let k = 0; k < n; k++) {
    if (trusted[k] !== true) continue
    // The next trusted report; the nodes between are blamed with this one.
    let j = k + 1
    while (j < n && trusted[j] !== true) j++
    const below = j < n ? (holdTimes[j] ?? 0) : 0
    const delay = ((holdTimes[k] ?? 0) - below) * HOLD_TIME_UNIT_MS
    // Past the last report, every remaining node of the path shares the delay.
    const end = j < n ? j : pathLength
    for (let i = k; i < end; i++) shares[i] = delay / (end - k)
  }
  // The payee is not a forwarder.
  if (pathLength > 0) shares[pathLength - 1] = undefined
  return shares
}

/** What was learned of one node's delay, as of `updatedMs`. */
export interface LearnedDelay {
  readonly nodeId: Uint8Array
  readonly delayMs: number
  readonly updatedMs: number
}

/** Learned per-node delays (a mutable store owned by one scorer layer) and their penalty. */
export class HoldTimeModel {
  readonly config: HoldTimeConfig
  private readonly learned = new Map<string, LearnedDelay>()

  constructor(config: HoldTimeConfig = defaultHoldTimeConfig) {
    this.config = config
  }

  get size(): number {
    return this.learned.size
  }

  /** A node's estimated delay at `nowMs` (0: nothing learned). */
  delayMs(nodeId: Uint8Array, nowMs: number): number {
    const d = this.learned.get(toHex(nodeId))
    return d === undefined ? 0 : d.delayMs * decayFactor(nowMs - d.updatedMs, this.config.halfLifeMs)
  }

  /**
   * The hold times of a path's hops (`nodeIds[k]`: the node hop k reaches, payee last) as the
   * sender verified them: every node a report covers gets its share of the delay folded into its
   * estimate (a node covered with a share of 0 was fast: its estimate halves).
   */
  reported(nodeIds: ReadonlyArray<Uint8Array>, holdTimes: ReadonlyArray<number>, nowMs: number): void {
    const shares = delayShares(holdTimes, nodeIds.length)
    shares.forEach((share, k) => {
      const node = nodeIds[k]
      if (share === undefined || node === undefined) return
      const key = toHex(node)
      const old = this.learned.get(key)
      const before = old === undefined ? share : old.delayMs * decayFactor(nowMs - old.updatedMs, this.config.halfLifeMs)
      this.learned.delete(key)
      this.learned.set(key, { nodeId: node, delayMs: (before + share) / 2, updatedMs: nowMs })
      while (this.learned.size > this.config.maxLearned) {
        const oldest = this.learned.keys().next()
        if (oldest.done === true) break
        this.learned.delete(oldest.value)
      }
    })
  }

  /**
   * The per-edge penalty of one route computation at `nowMs` over `view`, or undefined when no
   * node of the view has a delay beyond `freeMs` (the scorer then adds nothing at all).
   */
  edgePenalty(view: GraphView, nowMs: number): ((edge: number, amountMsat: number) => number) | undefined {
    const c = this.config
    const excessSeconds = new Map<number, number>()
    const base = view.baseGraph
    // Only nodes over the allowance are looked up in the graph (usually few of what is learned).
    for (const d of this.learned.values()) {
      const excess = d.delayMs * decayFactor(nowMs - d.updatedMs, c.halfLifeMs) - c.freeMs
      if (excess <= 0) continue
      const node = base.nodeIndex(d.nodeId)
      if (node !== undefined) excessSeconds.set(node, excess / 1000)
    }
    // Nodes only the request knows (route hints, blinded paths), after the graph's.
    for (let n = base.nodeCount; n < view.nodeCount; n++) {
      const d = this.learned.get(toHex(view.nodeId(n)))
      if (d === undefined) continue
      const excess = d.delayMs * decayFactor(nowMs - d.updatedMs, c.halfLifeMs) - c.freeMs
      if (excess > 0) excessSeconds.set(n, excess / 1000)
    }
    if (excessSeconds.size === 0) return undefined
    const perNode = new Float64Array(view.nodeCount)
    for (const [n, s] of excessSeconds) perNode[n] = s
    return (edge, amountMsat) => {
      const s = perNode[view.edgeSource(edge)] ?? 0
      return s === 0 ? 0 : s * (c.penaltyMsatPerSecond + (amountMsat * c.penaltyPpmPerSecond) / 1e6)
    }
  }
}
