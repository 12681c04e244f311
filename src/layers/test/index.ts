/** Deterministic layers for tests and simulation: seeded entropy and keys, in-memory network. */
export * from "./MemoryTransport.ts"
export * as SeededEntropy from "./SeededEntropy.ts"
export { makeDrbg, makeSeededEntropy } from "./SeededEntropy.ts"
export * as SeededNodeSigner from "./SeededNodeSigner.ts"
export { InvalidNodeSecret, makeNodeSigner, secretFromSeed } from "./SeededNodeSigner.ts"
