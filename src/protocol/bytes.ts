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

/** The two digits of every byte value as one 16-bit unit, in this platform's byte order (written through a Uint16Array). */
const HEX_PAIRS = (() => {
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
  const pairs = new Uint16Array(256)
  for (let v = 0; v < 256; v++) {
    const hi = HEX_DIGITS[2 * v] ?? 0
    const lo = HEX_DIGITS[2 * v + 1] ?? 0
    pairs[v] = littleEndian ? hi | (lo << 8) : (hi << 8) | lo
  }
  return pairs
})()
/** The digits are written here, then decoded into a new string: reused (a fresh array of more than 64 bytes costs ~10x a small one in V8). */
let hexScratch = new Uint16Array(1024)
let hexScratchBytes = new Uint8Array(hexScratch.buffer)
/**
 * Where the digits of up to 64 bytes (ids, keys, hashes, signatures) are written, never replaced,
 * and its first 2n bytes as one view per length n, made once: a view made per call was about a
 * third of a 32-byte id's `toHex` (150 -> 110 ns in a loop). Longer inputs, of lengths of every
 * kind, use `hexScratch` and a view each.
 */
const VIEWED_MAX = 64
const shortScratch = new Uint16Array(VIEWED_MAX)
const shortViews: ReadonlyArray<Uint8Array> = Array.from({ length: VIEWED_MAX + 1 }, (_, n) => new Uint8Array(shortScratch.buffer, 0, 2 * n))

/**
 * Lowercase hex. Written here rather than taken from noble's `bytesToHex` because hex strings
 * live long in this engine (ids, keys and onions in channel and monitor states): noble builds
 * its result by concatenation, a rope of small pieces that costs about 900 bytes of heap per
 * 32-byte id for as long as the string lives; a decoded buffer is one flat string, and faster.
 */
export const toHex = (bytes: Uint8Array): string => {
  const n = bytes.length
  if (n <= VIEWED_MAX) {
    for (let i = 0; i < n; i++) shortScratch[i] = HEX_PAIRS[bytes[i] ?? 0] ?? 0
    return ascii.decode(shortViews[n] ?? new Uint8Array(shortScratch.buffer, 0, 2 * n))
  }
  if (hexScratch.length < n) {
    hexScratch = new Uint16Array(Math.max(n, 2 * hexScratch.length))
    hexScratchBytes = new Uint8Array(hexScratch.buffer)
  }
  const out = hexScratch
  for (let i = 0; i < n; i++) out[i] = HEX_PAIRS[bytes[i] ?? 0] ?? 0
  return ascii.decode(hexScratchBytes.subarray(0, 2 * n))
}

/**
 * `toHex` of an array its holder never changes in place (a channel's ids in its records, a
 * per-commitment point kept over several records), made once per array: the same array is
 * written again and again. Held weakly. Not for a caller's buffer, which may be refilled.
 */
const heldHexes = new WeakMap<Uint8Array, string>()
export const hexOfHeld = (bytes: Uint8Array): string => {
  const known = heldHexes.get(bytes)
  if (known !== undefined) return known
  const hex = toHex(bytes)
  heldHexes.set(bytes, hex)
  return hex
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

/*
 * The length read once, before the loop: code V8 has optimized only with Maglev (most of the
 * channel path, which runs a few times per round trip) calls the typed array `length` getter on
 * every read, ~40 instructions each.
 */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && equalBytesAt(a, 0, b)

/**
 * `key(bytes)` for the bytes asked last, kept with a copy of them: a caller that asks about the
 * same id many times in a row (a channel's commands and writes) compares 32 bytes instead of
 * making the key again. A copy, not the array: unlike `hexOfHeld`'s, the caller may refill it.
 */
export const lastKeyOf = <B extends Uint8Array>(key: (bytes: B) => string): ((bytes: B) => string) => {
  let lastBytes: Uint8Array | undefined
  let lastKey = ""
  return (bytes) => {
    if (lastBytes !== undefined && equalBytes(lastBytes, bytes)) return lastKey
    lastKey = key(bytes)
    lastBytes = bytes.slice()
    return lastKey
  }
}

/** Whether `field` equals `bytes[at, at + field.length)` (compared where it stands: nothing copied). */
export const equalBytesAt = (bytes: Uint8Array, at: number, field: Uint8Array): boolean => {
  const n = field.length
  if (at + n > bytes.length) return false
  for (let i = 0; i < n; i++) if (bytes[at + i] !== field[i]) return false
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
