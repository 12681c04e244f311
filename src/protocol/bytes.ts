/**
 * Byte helpers shared by every codec. Hex conversion is delegated to `@noble/hashes/utils`
 * (a maintained library); what is here is only what the Lightning code keeps needing.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js"

export const toHex = (bytes: Uint8Array): string => bytesToHex(bytes)

/** Throws on malformed hex: use only on trusted constants and test vectors. */
export const fromHex = (hex: string): Uint8Array => hexToBytes(hex)

export const concatBytes = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lexicographic comparison, as BIP 69 and key sorting need. */
export const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return a.length - b.length
}
