/** Deterministic layers for tests and simulation: seeded entropy and keys, in-memory network. */
export * from "./MemoryTransport.ts"
export * from "./SeededEntropy.ts"
export * from "./SeededNodeSigner.ts"
