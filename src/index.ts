/**
 * effect-lightning: the engine (the root entry point).
 *
 * The pure BOLT code as namespaces (`Codec`, `Noise`, `Onion`, ...; also alone as
 * `effect-lightning/protocol`), the services the engine needs from the world, the actors, the
 * fast crypto backends behind the `Crypto` reference (the fastest that loads is the default
 * everywhere; nothing loads before first use), the in-process channel signer, and the store and
 * persister layers. Other entry points:
 *
 * - `effect-lightning/node`: production layers on Node (TCP, OS randomness, seed file, `NodeLive`).
 * - `effect-lightning/testing`: deterministic layers for tests (INSECURE keys; not exported here).
 * - `effect-lightning/api`: the HTTP control API, its server and its typed client.
 * - `effect-lightning/promise`: `createNode`, a Promise API for code that does not use Effect.
 */
// protocol/: pure BOLT code, no services, no I/O.
export * from "./protocol/index.ts"

// services/: what the engine needs from the world.
export * from "./services/index.ts"

// actors/: the imperative shell.
export * from "./actors/index.ts"

// layers/: implementations of the services that are not specific to a platform's I/O.
export { nodeChaChaPoly, opensslChaChaPoly } from "./layers/crypto/aead-node.ts"
export { isSodiumLoaded, loadSodium, sodiumChaChaPoly } from "./layers/crypto/aead-sodium.ts"
export { isWasmSecp256k1Loaded, loadWasmSecp256k1, wasmSecp256k1 } from "./layers/crypto/secp256k1-wasm.ts"
export { loadNativeSecp256k1 } from "./layers/crypto/secp256k1-native.ts"
export {
  bestSecp256k1,
  chooseSecp256k1,
  fastestSecp256k1,
  isSecp256k1Chosen,
  loadSecp256k1Best,
  Secp256k1Best,
  secp256k1Candidates,
  type Secp256k1Backend,
  type Secp256k1Candidate,
  type Secp256k1Choice
} from "./layers/crypto/secp256k1-best.ts"
export {
  makeSeedChannelSigner,
  type SeedChannelSignerOptions
} from "./layers/signer/SeedChannelSigner.ts"
export * as SeedChannelSigner from "./layers/signer/SeedChannelSigner.ts"
export * as StoreLayers from "./layers/store/index.ts"
export * as PersisterLayers from "./layers/persister/index.ts"
export * as RouterLayers from "./layers/router/index.ts"
export * as GraphLayers from "./layers/graph/index.ts"
// Creating this node's signed BOLT 11 invoices (over NodeSigner, Entropy, Clock).
export * from "./invoices/createInvoice.ts"
export * as Payments from "./actors/Payments.ts"
export * as GossipSync from "./actors/GossipSync.ts"
export * as GossipAnnouncer from "./actors/GossipAnnouncer.ts"
export * as ChainWatcher from "./actors/ChainWatcher.ts"
export * as MonitorChain from "./actors/MonitorChain.ts"
