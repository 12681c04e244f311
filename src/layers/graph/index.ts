/** The network graph layers (BOLT 7): compact in-memory graph, persisted through `Store`, and its router view. */
export * from "./CompactGraph.ts"
export * as MemoryNetworkGraph from "./MemoryNetworkGraph.ts"
export * as RouterGraphAdapter from "./RouterGraphAdapter.ts"
export { routingGraphOf, toChannelInfo } from "./RouterGraphAdapter.ts"
