/**
 * `MonitorPersister` layers: in memory with test controls (hold, release out of order, fail,
 * crash), the local persister over a `Store`, and the replicated one (k of n replicas, a replica
 * that was away catches up from its last acknowledged update).
 */
export * as MemoryPersister from "./MemoryPersister.ts"
export {
  type HeldWrite,
  makeMemoryPersister,
  makeMemoryPersisterData,
  type MemoryPersisterControl,
  MemoryPersisterControls,
  type MemoryPersisterData,
  type MemoryPersisterOptions,
  type ReleaseOptions
} from "./MemoryPersister.ts"
export * as ReplicatedPersister from "./ReplicatedPersister.ts"
export { defaultRetrySchedule, makeReplicatedPersister, type ReplicatedPersisterOptions } from "./ReplicatedPersister.ts"
export * from "./StoreReplica.ts"
export * from "./replica.ts"
