/**
 * `effect-lightning/testing`: deterministic layers for tests and simulation. Seeded entropy
 * (`seededEntropy`), node keys derived from a name (`seededNodeSigner("alice")`), an in-memory
 * network (`MemoryTransport`), in-memory stores and persisters with test controls, a simulated
 * disk.
 *
 * INSECURE BY DESIGN: every key and random byte here is decided by a seed anyone can guess.
 * Never use these layers for a node that holds real funds; production layers are in
 * `effect-lightning/node`. (They are not exported from the root entry point for that reason.)
 */
export * from "../layers/test/index.ts"
export * as MemoryStore from "../layers/store/MemoryStore.ts"
export { makeMemoryStore, makeMemoryStoreData, type MemoryStoreControl, MemoryStoreControls, type MemoryStoreData } from "../layers/store/MemoryStore.ts"
export * from "../layers/store/SimulatedDisk.ts"
export * as MemoryPersister from "../layers/persister/MemoryPersister.ts"
export {
  type HeldWrite,
  makeMemoryPersister,
  makeMemoryPersisterData,
  type MemoryPersisterControl,
  MemoryPersisterControls,
  type MemoryPersisterData,
  type MemoryPersisterOptions,
  type ReleaseOptions
} from "../layers/persister/MemoryPersister.ts"
export * as SimulatedChain from "../layers/chain/SimulatedChain.ts"
/** Test-only crypto for large simulations: signatures always verify, keys are readable (see the module). */
export * from "./InsecureCrypto.ts"
