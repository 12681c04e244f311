/**
 * Pathfinding (issue 8 "The router"): the compact channel graph (`graph.ts`), a request laid over
 * it with our channels and route hints (`request.ts`), the backwards Dijkstra and the MPP split
 * (`search.ts`), the BOLT 7 fee formula (`fees.ts`), the probabilistic liquidity model
 * (`probabilistic.ts`), the path-to-onion mapping (`onion.ts`) and the snapshot file reader.
 * The `Router` and `Scorer` services wrap these (src/services, src/layers/router).
 */
export * from "./types.ts"
export * from "./graph.ts"
export * from "./fees.ts"
export * from "./scorer.ts"
export * from "./request.ts"
export * from "./search.ts"
export * from "./probabilistic.ts"
export * from "./onion.ts"
export * from "./snapshot.ts"
