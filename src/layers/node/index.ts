/** Production layers: OS randomness (`OsEntropy.layer`), TCP (`TcpTransport.layer`), the seed file and the seed-file node key (`SeedFileSigner.layer`). */
export { InvalidNodeSecret, makeNodeSigner } from "../InMemoryNodeSigner.ts"
export * as OsEntropy from "./OsEntropy.ts"
export * from "./SeedFile.ts"
export * as SeedFileSigner from "./SeedFileSigner.ts"
export * from "../../protocol/keys/seed.ts"
export * as TcpTransport from "./TcpTransport.ts"
export { makeTcpTransport, type TcpTransportOptions } from "./TcpTransport.ts"
