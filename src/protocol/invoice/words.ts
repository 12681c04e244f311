/**
 * 5-bit word helpers for BOLT 11. bech32 itself (checksum, alphabet) comes from `@scure/base`;
 * what is here is the BOLT 11 packing: fields are big-endian bit strings cut into 5-bit words,
 * padded with zero bits at the end when written (`bech32.toWords`) and trimmed when read.
 */

/** Packs 5-bit words into bytes, dropping a trailing incomplete byte (BOLT 11 field padding). */
export const wordsToBytesTrim = (words: ArrayLike<number>): Uint8Array => {
  const out = new Uint8Array(Math.floor((words.length * 5) / 8))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < words.length; i++) {
    acc = ((acc << 5) | (words[i] ?? 0)) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  return out
}

/**
 * Packs 5-bit words into bytes, padding the last byte with zero bits (the BOLT 11 signing data):
 * `wordsToBytesTrim` and the last partial byte in one pass.
 */
export const wordsToBytesPad = (words: ArrayLike<number>): Uint8Array => {
  const n = words.length
  const out = new Uint8Array(Math.ceil((n * 5) / 8))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < n; i++) {
    acc = ((acc << 5) | (words[i] ?? 0)) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  // The low `bits` bits of the stream, shifted to the top of the last byte.
  if (bits > 0) out[o] = (acc << (8 - bits)) & 0xff
  return out
}

/** Big-endian unsigned integer from words. */
export const wordsToBigInt = (words: ArrayLike<number>): bigint => {
  let n = 0n
  for (let i = 0; i < words.length; i++) n = (n << 5n) | BigInt(words[i] ?? 0)
  return n
}

/** Minimal big-endian words for a non-negative integer (no leading zero word; 0 gives []). */
export const bigIntToWords = (value: bigint): Array<number> => {
  const out: Array<number> = []
  let n = value
  while (n > 0n) {
    out.unshift(Number(n & 31n))
    n >>= 5n
  }
  return out
}

/** Fixed-width big-endian words (for the 35-bit timestamp and the 10-bit lengths). */
export const bigIntToWordsFixed = (value: bigint, width: number): Array<number> => {
  const out = new Array<number>(width).fill(0)
  let n = value
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(n & 31n)
    n >>= 5n
  }
  return out
}
