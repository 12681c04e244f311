/**
 * effect-lightning: the public entry point.
 *
 * The three rings of the architecture (pure `protocol`, `services`, `actors`) and the `layers`
 * that provide the services. Protocol modules are namespaces (`Codec`, `Noise`, `Onion`, ...);
 * services and actors are exported by name. Pick layers per service: `TestLayers` for
 * deterministic tests and simulation, `NodeLayers` for production on Node.
 */
// protocol/: pure BOLT code, no services, no I/O.
export * as Bytes from "./protocol/bytes.ts"
export * as Units from "./protocol/units.ts"
export * as Secp256k1 from "./protocol/crypto/secp256k1.ts"
export * as Aead from "./protocol/crypto/aead.ts"
export * as Codec from "./protocol/codec/index.ts"
export * as Messages from "./protocol/messages/index.ts"
export * as Features from "./protocol/features.ts"
export * as Noise from "./protocol/noise/index.ts"
export * as Keys from "./protocol/keys/index.ts"
export * as Tx from "./protocol/tx/index.ts"
export * as Onion from "./protocol/onion/index.ts"
export * as Invoice from "./protocol/invoice/index.ts"
export * as Network from "./protocol/network.ts"
export * as Channel from "./protocol/channel/index.ts"
export * as Monitor from "./protocol/monitor/index.ts"

// services/: what the engine needs from the world.
export * from "./services/index.ts"

// actors/: the imperative shell.
export * from "./actors/index.ts"

// layers/: implementations of the services.
export * as TestLayers from "./layers/test/index.ts"
export * as NodeLayers from "./layers/node/index.ts"
export { nodeChaChaPoly } from "./layers/crypto/aead-node.ts"
export { wasmSecp256k1 } from "./layers/crypto/secp256k1-wasm.ts"
export { loadNativeSecp256k1 } from "./layers/crypto/secp256k1-native.ts"
export {
  chooseSecp256k1,
  loadSecp256k1Best,
  Secp256k1Best,
  secp256k1Candidates,
  type Secp256k1Backend,
  type Secp256k1Candidate,
  type Secp256k1Choice
} from "./layers/crypto/secp256k1-best.ts"
export {
  makeSeedChannelSigner,
  seedChannelSignerLayer,
  SeedChannelSignerLive,
  type SeedChannelSignerOptions
} from "./layers/signer/SeedChannelSigner.ts"
export * as StoreLayers from "./layers/store/index.ts"
export * as PersisterLayers from "./layers/persister/index.ts"

// The node's HTTP control API (a runnable program's piece, served by `npm start`).
export * as ControlApi from "./api/index.ts"
