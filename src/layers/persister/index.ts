/**
 * `MonitorPersister` layers: in memory with test controls (hold, release out of order, fail,
 * crash), the local persister over a `Store`, and the replicated one (k of n replicas, a replica
 * that was away catches up from its last acknowledged update).
 */
export * from "./MemoryPersister.ts"
export * from "./ReplicatedPersister.ts"
export * from "./StoreReplica.ts"
export * from "./replica.ts"
