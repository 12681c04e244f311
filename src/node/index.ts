/**
 * `effect-lightning/node`: the production layers on Node.js. OS randomness (`OsEntropy`), TCP
 * (`TcpTransport`), the seed file and the keys derived from it (`SeedFileSigner`, `SeedKeys`),
 * the files store and local persister of a data directory (`ChannelStoreLive`), and a whole
 * node as one layer (`NodeLive`: the peer registry and the channel manager over all of these).
 */
export * from "../layers/node/index.ts"
export { layerFileStore } from "../layers/store/FileStore.ts"
export { layerLocalPersister } from "../layers/persister/ReplicatedPersister.ts"
export * as BitcoindChain from "../layers/chain/BitcoindChain.ts"
