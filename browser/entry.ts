/**
 * The engine as a browser bundle (`npm run build:browser`): the protocol, the services, the
 * actors, the platform-neutral layers, the deterministic test layers and the browser layers.
 * `browser/build.ts` checks that nothing here pulls in a Node built-in and prints the size.
 */
export * from "../src/protocol/index.ts"
export * from "../src/services/index.ts"
export * from "../src/actors/index.ts"
export * as Payments from "../src/actors/Payments.ts"
export * as ChainWatcher from "../src/actors/ChainWatcher.ts"
export * as Wallet from "../src/actors/Wallet.ts"
export * as WalletFunding from "../src/actors/WalletFunding.ts"
export * as TestLayers from "../src/layers/test/index.ts"
export * as SimulatedChain from "../src/layers/chain/SimulatedChain.ts"
export * as BrowserLayers from "../src/layers/browser/index.ts"
export * as MemoryStore from "../src/layers/store/MemoryStore.ts"
export { makeMemoryStore, makeMemoryStoreData } from "../src/layers/store/MemoryStore.ts"
export * as PersisterLayers from "../src/layers/persister/index.ts"
export { DefaultRouter } from "../src/layers/router/DefaultRouter.ts"
export { ProbabilisticScorer } from "../src/layers/router/ProbabilisticScorer.ts"
export { makeNodeSigner } from "../src/layers/InMemoryNodeSigner.ts"
export { makeSeedChannelSigner } from "../src/layers/signer/SeedChannelSigner.ts"
export * as SeedChannelSigner from "../src/layers/signer/SeedChannelSigner.ts"
export { deriveNodeSecret, deriveSecret } from "../src/protocol/keys/seed.ts"
