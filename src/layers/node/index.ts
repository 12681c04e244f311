/** Production layers: OS randomness, TCP, the seed-file node key, and a whole node (`NodeLive`). */
export { InvalidNodeSecret, makeNodeSigner } from "../InMemoryNodeSigner.ts"
export * from "./NodeFlags.ts"
export * from "./NodeLive.ts"
export * from "./OsEntropy.ts"
export * from "./SeedFile.ts"
export * from "./SeedFileSigner.ts"
export * from "../../protocol/keys/seed.ts"
export * from "./TcpTransport.ts"
