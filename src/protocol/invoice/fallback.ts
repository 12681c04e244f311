/**
 * BOLT 11 `f` field: an on-chain fallback, a 5-bit version then the program. Version 17 is a
 * P2PKH hash, 18 a P2SH hash, 0..16 a segwit witness program. Addresses are rendered with
 * `@scure/base` (base58check, bech32, bech32m) for the invoice's network.
 */
import { base58check, bech32, bech32m } from "@scure/base"
import { sha256 } from "@noble/hashes/sha2.js"
import type { Network } from "./hrp.ts"

export type FallbackType = "p2pkh" | "p2sh" | "p2wpkh" | "p2wsh" | "p2tr" | "segwit"

export interface Fallback {
  /** 17 = P2PKH, 18 = P2SH, 0..16 = segwit version. */
  readonly version: number
  readonly program: Uint8Array
}

const b58 = base58check(sha256)

/** Whether version and program length form an address we understand; others are skipped. */
export const fallbackType = (f: Fallback): FallbackType | undefined => {
  if (f.version === 17) return f.program.length === 20 ? "p2pkh" : undefined
  if (f.version === 18) return f.program.length === 20 ? "p2sh" : undefined
  if (f.version === 0) return f.program.length === 20 ? "p2wpkh" : f.program.length === 32 ? "p2wsh" : undefined
  if (f.version === 1 && f.program.length === 32) return "p2tr"
  if (f.version >= 1 && f.version <= 16 && f.program.length >= 2 && f.program.length <= 40) return "segwit"
  return undefined
}

const segwitHrp = (network: Network): string => (network === "tbs" ? "tb" : network)

/** The address text of a fallback on a network (BIP 173/350 for segwit, base58check otherwise). */
export const fallbackAddress = (f: Fallback, network: Network): string | undefined => {
  const type = fallbackType(f)
  if (type === undefined) return undefined
  const mainnet = network === "bc"
  if (type === "p2pkh" || type === "p2sh") {
    const prefix = type === "p2pkh" ? (mainnet ? 0x00 : 0x6f) : mainnet ? 0x05 : 0xc4
    const payload = new Uint8Array(21)
    payload[0] = prefix
    payload.set(f.program, 1)
    return b58.encode(payload)
  }
  const words = [f.version, ...bech32.toWords(f.program)]
  return f.version === 0 ? bech32.encode(segwitHrp(network), words) : bech32m.encode(segwitHrp(network), words)
}
