/**
 * The hash functions Bitcoin scripts and transactions use, delegated to `@noble/hashes`.
 */
import { ripemd160 } from "@noble/hashes/legacy.js"
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"

export const sha256 = (data: Uint8Array): Uint8Array => nobleSha256(data)
/** SHA256(SHA256(x)): txids, BIP 143 intermediate hashes, legacy sighash. */
export const hash256 = (data: Uint8Array): Uint8Array => nobleSha256(nobleSha256(data))
/** RIPEMD160(SHA256(x)): P2WPKH / P2PKH key hashes, BOLT 3 revocation key hash. */
export const hash160 = (data: Uint8Array): Uint8Array => ripemd160(nobleSha256(data))
export const ripemd = (data: Uint8Array): Uint8Array => ripemd160(data)
