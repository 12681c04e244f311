/**
 * Layers for a node in a browser tab: noble crypto (`BrowserCrypto`), Web Crypto entropy, an
 * IndexedDB store, a WebSocket transport (through `src/layers/node/WebSocketBridge.ts` to a TCP
 * node), and `makeBrowserNode`, a whole node from such parts. Nothing here imports a Node built-in; `browser/build.ts` bundles
 * it with the protocol, services, actors and test layers and checks that.
 */
export * as BrowserCrypto from "./BrowserCrypto.ts"
export { browserCrypto } from "./BrowserCrypto.ts"
export * as CryptoEntropy from "./CryptoEntropy.ts"
export { randomBytes } from "./CryptoEntropy.ts"
export * as IndexedDbStore from "./IndexedDbStore.ts"
export { deleteIndexedDbStore, type IndexedDbStoreOptions, makeIndexedDbStore } from "./IndexedDbStore.ts"
export * as WebSocketTransport from "./WebSocketTransport.ts"
export { defaultWebSocketUrl, makeWebSocketTransport, type WebSocketTransportOptions } from "./WebSocketTransport.ts"
export * from "./BrowserNode.ts"
