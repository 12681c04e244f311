/** Service keys: what the engine needs from the world. Layers live in `src/layers/`. */
export * from "./Entropy.ts"
export * from "./NodeSigner.ts"
export * from "./Transport.ts"
export * from "./ChannelSigner.ts"
export * from "./NodeNetwork.ts"
export * from "./Store.ts"
export * from "./MonitorPersister.ts"
