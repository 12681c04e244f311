/**
 * Byte helpers shared by every codec. Parsing hex is delegated to `@noble/hashes/utils` (a
 * maintained library); what is here is only what the Lightning code keeps needing.
 */
import { hexToBytes } from "@noble/hashes/utils.js"

/** The two ASCII hex digits of every byte value, at 2*v and 2*v+1. */
const HEX_DIGITS = (() => {
  const table = new Uint8Array(512)
  const digits = "0123456789abcdef"
  for (let v = 0; v < 256; v++) {
    table[2 * v] = digits.charCodeAt(v >> 4)
    table[2 * v + 1] = digits.charCodeAt(v & 15)
  }
  return table
})()
const ascii = new TextDecoder()

/**
 * Lowercase hex. Written here rather than taken from noble's `bytesToHex` because hex strings
 * live long in this engine (ids, keys and onions in channel and monitor states): noble builds
 * its result by concatenation, a rope of small pieces that costs about 900 bytes of heap per
 * 32-byte id for as long as the string lives; a decoded buffer is one flat string, and faster.
 */
export const toHex = (bytes: Uint8Array): string => {
  const out = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    const at = 2 * (bytes[i] ?? 0)
    out[2 * i] = HEX_DIGITS[at] ?? 0
    out[2 * i + 1] = HEX_DIGITS[at + 1] ?? 0
  }
  return ascii.decode(out)
}

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
