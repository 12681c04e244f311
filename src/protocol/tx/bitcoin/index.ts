/**
 * Generic Bitcoin pieces (nothing Lightning-specific): transaction model and serialization,
 * txid/wtxid/weight, script encoding, BIP 143 and legacy sighash, DER signatures. Bytes are
 * read and written with the codec's `Reader` / `Writer` (`protocol/codec`), little-endian methods.
 */
export * from "./der.ts"
export * from "./hash.ts"
export * from "./script.ts"
export * from "./sighash.ts"
export * from "./transaction.ts"
