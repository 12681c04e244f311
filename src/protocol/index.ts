/**
 * `effect-lightning/protocol`: the pure BOLT code. Functions over plain data, no services, no
 * I/O, no clock; importing it loads no WebAssembly, no native addon and no HTTP stack. Its
 * secp256k1 and ChaCha20-Poly1305 are the portable noble ones; the fast backends are in the
 * root entry point (`Crypto`).
 */
export * as Bytes from "./bytes.ts"
export * as Units from "./units.ts"
export * as Secp256k1 from "./crypto/secp256k1.ts"
export * as Aead from "./crypto/aead.ts"
export * as Codec from "./codec/index.ts"
export * as Messages from "./messages/index.ts"
export * as Features from "./features.ts"
export * as ConnectionRules from "./connection-rules.ts"
export * as Noise from "./noise/index.ts"
export * as Keys from "./keys/index.ts"
export * as Tx from "./tx/index.ts"
export * as Onion from "./onion/index.ts"
export * as Invoice from "./invoice/index.ts"
export * as Network from "./network.ts"
export * as ChannelType from "./channel-type.ts"
export * as Channel from "./channel/index.ts"
export * as Monitor from "./monitor/index.ts"
export * as Routing from "./routing/index.ts"
export * as Gossip from "./gossip/index.ts"
export * as Payment from "./payment/index.ts"
export * as ChainBlock from "./chain/block.ts"
export * as Timelocks from "./chain/timelocks.ts"
export * as ChainWatch from "./chain/watch.ts"
