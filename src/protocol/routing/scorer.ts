/**
 * What a scorer is to the route search: a per-route, synchronous penalty per edge (it runs once
 * per edge the search relaxes, tens of thousands of times per route), and what it learns from.
 * The `Scorer` service (src/services/Scorer.ts) makes one `EdgeScorer` per route computation.
 */
import type { ShortChannelId } from "../codec/index.ts"
import type { Msat } from "../units.ts"

export interface EdgeScorer {
  /**
   * The cost in msat, beyond the fee itself, of sending `amountMsat` through `edge` (an index of
   * the request's `GraphView`); `amountMsat` includes what other parts of the same route already
   * put on that edge. `Infinity` forbids the edge. Never negative: the search is a Dijkstra, a
   * label it settles is final (a negative penalty it meets stops it from ending early).
   */
  readonly penaltyMsat: (edge: number, amountMsat: number) => number
  /**
   * A lower bound of `penaltyMsat` on every edge of the shared graph (the indices below its
   * `baseGraph.edgeCount`; the request's own edges are not bound by it), if the scorer has one:
   * the search then does not ask for the penalty of an edge whose fee plus this bound already
   * cannot improve on the label its source has (on large graphs, a third to two thirds of them).
   * Undefined: no bound, and the search does not end before it settles the payer. A bound of 0
   * or more lets it end once nothing cheaper than the payer's label is left (the penalties are
   * not negative, as promised above).
   */
  readonly minBasePenaltyMsat?: number
}

/** A channel direction of a path attempt with the amount its HTLC carried. */
export interface ScoredHop {
  readonly shortChannelId: ShortChannelId
  /** BOLT 7 direction: 0 when the source is `node_id_1` (the smaller key). */
  readonly direction: 0 | 1
  readonly amountMsat: Msat
  /** The channel's capacity estimate in msat (as `GraphView.edgeCapacityMsat`); Infinity if unknown. */
  readonly capacityMsat: number
  /** The node this hop reaches (the payee for the last hop), for what is learned per node (hold times). */
  readonly nodeId?: Uint8Array
}

/** Scores nothing: the search then minimises fees alone. */
export const zeroPenalty: EdgeScorer = { penaltyMsat: () => 0, minBasePenaltyMsat: 0 }
