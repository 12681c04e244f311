/**
 * ChaCha20-Poly1305 (RFC 8439, the AEAD that BOLT 8 mandates) behind one small interface, so
 * the portable implementation here (noble, pure JavaScript) and a fast one
 * (`src/layers/crypto/aead-node.ts`, on Node's own OpenSSL) are interchangeable and pass the
 * same vectors. Protocol code that encrypts takes a `ChaChaPoly` value as a parameter.
 *
 * Conventions: 32-byte key, 12-byte nonce, any associated data; a sealed box is
 * `ciphertext || 16-byte tag`. Implementations must neither modify their inputs (key, nonce,
 * associated data, plaintext) nor keep references to them after returning: callers share
 * nonce tables and reuse scratch buffers.
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js"

/** Length of the Poly1305 authentication tag appended to every ciphertext. */
export const TAG_LENGTH = 16
export const KEY_LENGTH = 32
export const NONCE_LENGTH = 12

export interface ChaChaPoly {
  readonly name: string
  /**
   * A buffer of `length` bytes that the caller will overwrite entirely before use, so an
   * implementation may skip zeroing it (Node can; a 64 KiB zero-fill is a measurable share of
   * a BOLT 8 packet's cost). Used with `encryptInto` to build packets.
   */
  readonly allocate: (length: number) => Uint8Array
  /** Seals `plaintext`: returns a fresh `ciphertext || tag` (plaintext.length + 16 bytes). */
  readonly encrypt: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array) => Uint8Array
  /**
   * Seals `plaintext` into `out` at `offset` (writes plaintext.length + 16 bytes). Lets a
   * caller that frames several boxes into one packet (BOLT 8) avoid an extra copy.
   * `out` must be large enough; that is a caller invariant, not peer input.
   */
  readonly encryptInto: (
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number
  ) => void
  /**
   * Seals `plaintext` into a ciphertext and a separate 16-byte tag. Node's OpenSSL binding
   * returns both as fresh buffers, so this is the zero-copy way to seal there; a caller that
   * can write several chunks to its transport (writev) avoids copying into one packet.
   */
  readonly encryptDetached: (
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array
  ) => { readonly ciphertext: Uint8Array; readonly tag: Uint8Array }
  /**
   * Opens `sealed` (`ciphertext || tag`): the plaintext, or `undefined` when the tag does not
   * authenticate or `sealed` is shorter than a tag. Never throws on any `sealed` bytes.
   */
  readonly decrypt: (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array) => Uint8Array | undefined
}

const SLAB_SIZE = 16384
const SLAB_MAX_REQUEST = 2048
let slab = new ArrayBuffer(SLAB_SIZE)
let slabUsed = 0

/**
 * Fresh zeroed bytes for short-lived outputs such as packets about to be written. Requests up to
 * 2 KiB are views carved from a shared 16 KiB `ArrayBuffer`, never handed out twice: creating an
 * off-heap typed array costs about ten times more than a view (measured: ~320 ns vs ~25 ns for
 * 134 bytes), which is a visible share of a small BOLT 8 message. A view keeps its slab alive,
 * so do not use this for data that may be retained for long (decrypted messages are not).
 */
export const allocateShortLived = (length: number): Uint8Array => {
  if (length > SLAB_MAX_REQUEST) return new Uint8Array(length)
  if (slabUsed + length > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, length)
  slabUsed += (length + 7) & ~7
  return out
}

/** Splits a sealed box into views of its ciphertext and tag (no copy). */
export const detach = (sealed: Uint8Array): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array } => ({
  ciphertext: sealed.subarray(0, sealed.length - TAG_LENGTH),
  tag: sealed.subarray(sealed.length - TAG_LENGTH)
})

/** Portable implementation: `@noble/ciphers`, pure JavaScript, runs anywhere. */
export const nobleChaChaPoly: ChaChaPoly = {
  name: "noble",
  allocate: allocateShortLived,
  encrypt: (key, nonce, ad, plaintext) => chacha20poly1305(key, nonce, ad).encrypt(plaintext),
  encryptInto: (key, nonce, ad, plaintext, out, offset) => {
    chacha20poly1305(key, nonce, ad).encrypt(plaintext, out.subarray(offset, offset + plaintext.length + TAG_LENGTH))
  },
  encryptDetached: (key, nonce, ad, plaintext) => detach(chacha20poly1305(key, nonce, ad).encrypt(plaintext)),
  decrypt: (key, nonce, ad, sealed) => {
    if (sealed.length < TAG_LENGTH) return undefined
    try {
      return chacha20poly1305(key, nonce, ad).decrypt(sealed)
    } catch {
      // noble throws on a tag mismatch: that is the "does not authenticate" answer.
      return undefined
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A compact RFC 8439 ChaCha20-Poly1305 for SHORT inputs.
//
// Why it exists: BOLT 8 seals every message twice (a 2-byte length prefix, then the body), and
// both noble and node:crypto spend a fixed few microseconds per call (argument checks,
// allocations, creating an OpenSSL context) that dwarf the work on 2 or 100 bytes. This
// implementation allocates only its output and does the arithmetic on plain numbers, which is
// several times faster below a few hundred bytes. Above that, OpenSSL wins (see
// `src/layers/crypto/aead-node.ts`, which picks between them by length, and
// `bench/noise.bench.ts`). It is checked against noble and node:crypto on random inputs of
// every length class and against the RFC 8439 §2.8.2 vector (test/layers/crypto/aead.test.ts).

const SIGMA0 = 0x61707865
const SIGMA1 = 0x3320646e
const SIGMA2 = 0x79622d32
const SIGMA3 = 0x6b206574

const readU32 = (b: Uint8Array, i: number): number =>
  ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0

/**
 * One ChaCha20 block (RFC 8439 §2.3) for key words `k`, block `counter` and nonce words
 * `n0..n2`, written as 16 little-endian words into `out`.
 */
const chachaBlock = (k: Uint32Array, counter: number, n0: number, n1: number, n2: number, out: Uint32Array): void => {
  const j0 = SIGMA0, j1 = SIGMA1, j2 = SIGMA2, j3 = SIGMA3
  const j4 = k[0] ?? 0, j5 = k[1] ?? 0, j6 = k[2] ?? 0, j7 = k[3] ?? 0
  const j8 = k[4] ?? 0, j9 = k[5] ?? 0, j10 = k[6] ?? 0, j11 = k[7] ?? 0
  const j12 = counter >>> 0, j13 = n0, j14 = n1, j15 = n2
  let x0 = j0, x1 = j1, x2 = j2, x3 = j3, x4 = j4, x5 = j5, x6 = j6, x7 = j7
  let x8 = j8, x9 = j9, x10 = j10, x11 = j11, x12 = j12, x13 = j13, x14 = j14, x15 = j15
  let t = 0
  for (let round = 0; round < 10; round++) {
    // column round
    x0 = (x0 + x4) | 0; t = x12 ^ x0; x12 = (t << 16) | (t >>> 16)
    x8 = (x8 + x12) | 0; t = x4 ^ x8; x4 = (t << 12) | (t >>> 20)
    x0 = (x0 + x4) | 0; t = x12 ^ x0; x12 = (t << 8) | (t >>> 24)
    x8 = (x8 + x12) | 0; t = x4 ^ x8; x4 = (t << 7) | (t >>> 25)
    x1 = (x1 + x5) | 0; t = x13 ^ x1; x13 = (t << 16) | (t >>> 16)
    x9 = (x9 + x13) | 0; t = x5 ^ x9; x5 = (t << 12) | (t >>> 20)
    x1 = (x1 + x5) | 0; t = x13 ^ x1; x13 = (t << 8) | (t >>> 24)
    x9 = (x9 + x13) | 0; t = x5 ^ x9; x5 = (t << 7) | (t >>> 25)
    x2 = (x2 + x6) | 0; t = x14 ^ x2; x14 = (t << 16) | (t >>> 16)
    x10 = (x10 + x14) | 0; t = x6 ^ x10; x6 = (t << 12) | (t >>> 20)
    x2 = (x2 + x6) | 0; t = x14 ^ x2; x14 = (t << 8) | (t >>> 24)
    x10 = (x10 + x14) | 0; t = x6 ^ x10; x6 = (t << 7) | (t >>> 25)
    x3 = (x3 + x7) | 0; t = x15 ^ x3; x15 = (t << 16) | (t >>> 16)
    x11 = (x11 + x15) | 0; t = x7 ^ x11; x7 = (t << 12) | (t >>> 20)
    x3 = (x3 + x7) | 0; t = x15 ^ x3; x15 = (t << 8) | (t >>> 24)
    x11 = (x11 + x15) | 0; t = x7 ^ x11; x7 = (t << 7) | (t >>> 25)
    // diagonal round
    x0 = (x0 + x5) | 0; t = x15 ^ x0; x15 = (t << 16) | (t >>> 16)
    x10 = (x10 + x15) | 0; t = x5 ^ x10; x5 = (t << 12) | (t >>> 20)
    x0 = (x0 + x5) | 0; t = x15 ^ x0; x15 = (t << 8) | (t >>> 24)
    x10 = (x10 + x15) | 0; t = x5 ^ x10; x5 = (t << 7) | (t >>> 25)
    x1 = (x1 + x6) | 0; t = x12 ^ x1; x12 = (t << 16) | (t >>> 16)
    x11 = (x11 + x12) | 0; t = x6 ^ x11; x6 = (t << 12) | (t >>> 20)
    x1 = (x1 + x6) | 0; t = x12 ^ x1; x12 = (t << 8) | (t >>> 24)
    x11 = (x11 + x12) | 0; t = x6 ^ x11; x6 = (t << 7) | (t >>> 25)
    x2 = (x2 + x7) | 0; t = x13 ^ x2; x13 = (t << 16) | (t >>> 16)
    x8 = (x8 + x13) | 0; t = x7 ^ x8; x7 = (t << 12) | (t >>> 20)
    x2 = (x2 + x7) | 0; t = x13 ^ x2; x13 = (t << 8) | (t >>> 24)
    x8 = (x8 + x13) | 0; t = x7 ^ x8; x7 = (t << 7) | (t >>> 25)
    x3 = (x3 + x4) | 0; t = x14 ^ x3; x14 = (t << 16) | (t >>> 16)
    x9 = (x9 + x14) | 0; t = x4 ^ x9; x4 = (t << 12) | (t >>> 20)
    x3 = (x3 + x4) | 0; t = x14 ^ x3; x14 = (t << 8) | (t >>> 24)
    x9 = (x9 + x14) | 0; t = x4 ^ x9; x4 = (t << 7) | (t >>> 25)
  }
  out[0] = x0 + j0; out[1] = x1 + j1; out[2] = x2 + j2; out[3] = x3 + j3
  out[4] = x4 + j4; out[5] = x5 + j5; out[6] = x6 + j6; out[7] = x7 + j7
  out[8] = x8 + j8; out[9] = x9 + j9; out[10] = x10 + j10; out[11] = x11 + j11
  out[12] = x12 + j12; out[13] = x13 + j13; out[14] = x14 + j14; out[15] = x15 + j15
}

/**
 * Poly1305 (RFC 8439 §2.5) in radix 2^13: ten limbs per 130-bit number, so every product and
 * sum stays an exact integer in a double (< 2^35). `h` is the accumulator, `r` the clamped key.
 */
interface Poly {
  readonly h: Float64Array
  readonly r: Float64Array
}

// Scratch state, reused by every call: all of this runs synchronously and never re-enters,
// and allocating typed arrays per call was the largest cost on short inputs (measured).
const POLY: Poly = { h: new Float64Array(10), r: new Float64Array(10) }
const R_BYTES = new Uint8Array(16)

/** Loads 16 little-endian bytes at `off` (plus 2^128 when `hibit`) into 13-bit limbs. */
const loadLimbs = (m: Uint8Array, off: number, hibit: number, out: Float64Array): void => {
  const t0 = (m[off] ?? 0) | ((m[off + 1] ?? 0) << 8)
  const t1 = (m[off + 2] ?? 0) | ((m[off + 3] ?? 0) << 8)
  const t2 = (m[off + 4] ?? 0) | ((m[off + 5] ?? 0) << 8)
  const t3 = (m[off + 6] ?? 0) | ((m[off + 7] ?? 0) << 8)
  const t4 = (m[off + 8] ?? 0) | ((m[off + 9] ?? 0) << 8)
  const t5 = (m[off + 10] ?? 0) | ((m[off + 11] ?? 0) << 8)
  const t6 = (m[off + 12] ?? 0) | ((m[off + 13] ?? 0) << 8)
  const t7 = (m[off + 14] ?? 0) | ((m[off + 15] ?? 0) << 8)
  out[0] = t0 & 0x1fff
  out[1] = ((t0 >>> 13) | (t1 << 3)) & 0x1fff
  out[2] = ((t1 >>> 10) | (t2 << 6)) & 0x1fff
  out[3] = ((t2 >>> 7) | (t3 << 9)) & 0x1fff
  out[4] = ((t3 >>> 4) | (t4 << 12)) & 0x1fff
  out[5] = (t4 >>> 1) & 0x1fff
  out[6] = ((t4 >>> 14) | (t5 << 2)) & 0x1fff
  out[7] = ((t5 >>> 11) | (t6 << 5)) & 0x1fff
  out[8] = ((t6 >>> 8) | (t7 << 8)) & 0x1fff
  out[9] = (t7 >>> 5) | hibit
}

const BLOCK = new Float64Array(10)
const PAD = new Uint8Array(16)

/** h = (h + m[off..off+16] + 2^128) * r mod 2^130 - 5. */
const polyBlock = (p: Poly, m: Uint8Array, off: number): void => {
  const h = p.h
  const r = p.r
  loadLimbs(m, off, 1 << 11, BLOCK)
  const h0 = (h[0] ?? 0) + (BLOCK[0] ?? 0), h1 = (h[1] ?? 0) + (BLOCK[1] ?? 0)
  const h2 = (h[2] ?? 0) + (BLOCK[2] ?? 0), h3 = (h[3] ?? 0) + (BLOCK[3] ?? 0)
  const h4 = (h[4] ?? 0) + (BLOCK[4] ?? 0), h5 = (h[5] ?? 0) + (BLOCK[5] ?? 0)
  const h6 = (h[6] ?? 0) + (BLOCK[6] ?? 0), h7 = (h[7] ?? 0) + (BLOCK[7] ?? 0)
  const h8 = (h[8] ?? 0) + (BLOCK[8] ?? 0), h9 = (h[9] ?? 0) + (BLOCK[9] ?? 0)
  const r0 = r[0] ?? 0, r1 = r[1] ?? 0, r2 = r[2] ?? 0, r3 = r[3] ?? 0, r4 = r[4] ?? 0
  const r5 = r[5] ?? 0, r6 = r[6] ?? 0, r7 = r[7] ?? 0, r8 = r[8] ?? 0, r9 = r[9] ?? 0
  // 2^130 = 5 (mod p): a product landing at limb i + 10 folds back to limb i times 5.
  const s1 = 5 * r1, s2 = 5 * r2, s3 = 5 * r3, s4 = 5 * r4, s5 = 5 * r5
  const s6 = 5 * r6, s7 = 5 * r7, s8 = 5 * r8, s9 = 5 * r9
  let d0 = h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6 + h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1
  let d1 = h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7 + h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2
  let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8 + h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3
  let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9 + h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4
  let d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5
  let d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6
  let d6 = h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2 + h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7
  let d7 = h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3 + h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8
  let d8 = h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4 + h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9
  let d9 = h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5 + h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0
  // Carry: `& 0x1fff` is exact on any integer below 2^53 (ToInt32 keeps the low bits).
  let c = Math.floor(d0 / 8192); d0 &= 0x1fff
  d1 += c; c = Math.floor(d1 / 8192); d1 &= 0x1fff
  d2 += c; c = Math.floor(d2 / 8192); d2 &= 0x1fff
  d3 += c; c = Math.floor(d3 / 8192); d3 &= 0x1fff
  d4 += c; c = Math.floor(d4 / 8192); d4 &= 0x1fff
  d5 += c; c = Math.floor(d5 / 8192); d5 &= 0x1fff
  d6 += c; c = Math.floor(d6 / 8192); d6 &= 0x1fff
  d7 += c; c = Math.floor(d7 / 8192); d7 &= 0x1fff
  d8 += c; c = Math.floor(d8 / 8192); d8 &= 0x1fff
  d9 += c; c = Math.floor(d9 / 8192); d9 &= 0x1fff
  d0 += c * 5; c = d0 >>> 13; d0 &= 0x1fff
  d1 += c
  h[0] = d0; h[1] = d1; h[2] = d2; h[3] = d3; h[4] = d4; h[5] = d5; h[6] = d6; h[7] = d7; h[8] = d8; h[9] = d9
}

/**
 * Absorbs data[start..start+length] as RFC 8439 AEAD input: whole 16-byte blocks, the last one
 * zero-padded. Offsets rather than subarrays: a view object per call was a measurable cost.
 */
const polyPadded = (p: Poly, data: Uint8Array, start: number, length: number): void => {
  const full = length & ~15
  for (let off = 0; off < full; off += 16) polyBlock(p, data, start + off)
  if (full < length) {
    PAD.fill(0)
    for (let i = full; i < length; i++) PAD[i - full] = data[start + i] ?? 0
    polyBlock(p, PAD, 0)
  }
}

const polyInit = (otk: Uint32Array): Poly => {
  const key = R_BYTES
  for (let i = 0; i < 4; i++) {
    const w = otk[i] ?? 0
    key[4 * i] = w & 0xff
    key[4 * i + 1] = (w >>> 8) & 0xff
    key[4 * i + 2] = (w >>> 16) & 0xff
    key[4 * i + 3] = (w >>> 24) & 0xff
  }
  // Clamp r (RFC 8439 §2.5).
  key[3] = (key[3] ?? 0) & 15; key[7] = (key[7] ?? 0) & 15; key[11] = (key[11] ?? 0) & 15; key[15] = (key[15] ?? 0) & 15
  key[4] = (key[4] ?? 0) & 252; key[8] = (key[8] ?? 0) & 252; key[12] = (key[12] ?? 0) & 252
  loadLimbs(key, 0, 0, POLY.r)
  POLY.h.fill(0)
  return POLY
}

/** Final reduction mod 2^130 - 5, plus `s` (words 4..7 of the one-time key) mod 2^128. */
const polyFinish = (p: Poly, otk: Uint32Array, out: Uint8Array, off: number): void => {
  const h = p.h
  let h0 = h[0] ?? 0, h1 = h[1] ?? 0, h2 = h[2] ?? 0, h3 = h[3] ?? 0, h4 = h[4] ?? 0
  let h5 = h[5] ?? 0, h6 = h[6] ?? 0, h7 = h[7] ?? 0, h8 = h[8] ?? 0, h9 = h[9] ?? 0
  // Full carry, twice around, so every limb is below 2^13 and h < 2^130.
  for (let pass = 0; pass < 2; pass++) {
    let c = h1 >>> 13; h1 &= 0x1fff
    h2 += c; c = h2 >>> 13; h2 &= 0x1fff
    h3 += c; c = h3 >>> 13; h3 &= 0x1fff
    h4 += c; c = h4 >>> 13; h4 &= 0x1fff
    h5 += c; c = h5 >>> 13; h5 &= 0x1fff
    h6 += c; c = h6 >>> 13; h6 &= 0x1fff
    h7 += c; c = h7 >>> 13; h7 &= 0x1fff
    h8 += c; c = h8 >>> 13; h8 &= 0x1fff
    h9 += c; c = h9 >>> 13; h9 &= 0x1fff
    h0 += c * 5; c = h0 >>> 13; h0 &= 0x1fff
    h1 += c
  }
  // g = h + 5 - 2^130; if it does not go negative (h >= p), h = g. Selected with a mask.
  let g0 = h0 + 5, c = g0 >>> 13; g0 &= 0x1fff
  let g1 = h1 + c; c = g1 >>> 13; g1 &= 0x1fff
  let g2 = h2 + c; c = g2 >>> 13; g2 &= 0x1fff
  let g3 = h3 + c; c = g3 >>> 13; g3 &= 0x1fff
  let g4 = h4 + c; c = g4 >>> 13; g4 &= 0x1fff
  let g5 = h5 + c; c = g5 >>> 13; g5 &= 0x1fff
  let g6 = h6 + c; c = g6 >>> 13; g6 &= 0x1fff
  let g7 = h7 + c; c = g7 >>> 13; g7 &= 0x1fff
  let g8 = h8 + c; c = g8 >>> 13; g8 &= 0x1fff
  let g9 = h9 + c - (1 << 13)
  const useG = ~(g9 >> 31) // all ones when g9 >= 0
  const useH = ~useG
  g9 &= 0x1fff
  h0 = (h0 & useH) | (g0 & useG); h1 = (h1 & useH) | (g1 & useG); h2 = (h2 & useH) | (g2 & useG)
  h3 = (h3 & useH) | (g3 & useG); h4 = (h4 & useH) | (g4 & useG); h5 = (h5 & useH) | (g5 & useG)
  h6 = (h6 & useH) | (g6 & useG); h7 = (h7 & useH) | (g7 & useG); h8 = (h8 & useH) | (g8 & useG)
  h9 = (h9 & useH) | (g9 & useG)
  // 13-bit limbs to 16-bit words (mod 2^128), plus s.
  const w = WORDS
  w[0] = (h0 | (h1 << 13)) & 0xffff
  w[1] = ((h1 >>> 3) | (h2 << 10)) & 0xffff
  w[2] = ((h2 >>> 6) | (h3 << 7)) & 0xffff
  w[3] = ((h3 >>> 9) | (h4 << 4)) & 0xffff
  w[4] = ((h4 >>> 12) | (h5 << 1) | (h6 << 14)) & 0xffff
  w[5] = ((h6 >>> 2) | (h7 << 11)) & 0xffff
  w[6] = ((h7 >>> 5) | (h8 << 8)) & 0xffff
  w[7] = ((h8 >>> 8) | (h9 << 5)) & 0xffff
  let carry = 0
  for (let i = 0; i < 8; i++) {
    const sw = ((otk[4 + (i >> 1)] ?? 0) >>> ((i & 1) * 16)) & 0xffff
    const f = (w[i] ?? 0) + sw + carry
    carry = f >>> 16
    out[off + 2 * i] = f & 0xff
    out[off + 2 * i + 1] = (f >>> 8) & 0xff
  }
}

const WORDS = new Uint32Array(8)

const LENGTHS = new Uint8Array(16)

/** Tag over `ad` and ct[ctStart..ctStart+ctLength] (RFC 8439 §2.8 mac_data), written at out[off..off+16]. */
const aeadTag = (
  otk: Uint32Array,
  ad: Uint8Array,
  ct: Uint8Array,
  ctStart: number,
  ctLength: number,
  out: Uint8Array,
  off: number
): void => {
  const p = polyInit(otk)
  polyPadded(p, ad, 0, ad.length)
  polyPadded(p, ct, ctStart, ctLength)
  LENGTHS.fill(0)
  let a = ad.length, c = ctLength
  for (let i = 0; i < 6; i++) {
    LENGTHS[i] = a & 0xff
    LENGTHS[8 + i] = c & 0xff
    a = Math.floor(a / 256)
    c = Math.floor(c / 256)
  }
  polyBlock(p, LENGTHS, 0)
  polyFinish(p, otk, out, off)
}

const KEY_WORDS = new Uint32Array(8)
const STREAM = new Uint32Array(16)
const OTK = new Uint32Array(16)

const NONCE_WORDS = new Uint32Array(3)

/** Loads key and nonce, computes the one-time Poly1305 key (block 0) into OTK. */
const setup = (key: Uint8Array, nonce: Uint8Array): void => {
  if (key.length !== KEY_LENGTH) throw new RangeError("ChaCha20-Poly1305 key must be 32 bytes")
  if (nonce.length !== NONCE_LENGTH) throw new RangeError("ChaCha20-Poly1305 nonce must be 12 bytes")
  for (let i = 0; i < 8; i++) KEY_WORDS[i] = readU32(key, 4 * i)
  const n0 = readU32(nonce, 0), n1 = readU32(nonce, 4), n2 = readU32(nonce, 8)
  NONCE_WORDS[0] = n0
  NONCE_WORDS[1] = n1
  NONCE_WORDS[2] = n2
  chachaBlock(KEY_WORDS, 0, n0, n1, n2, OTK)
}

/** XORs input[inStart..inStart+length] with the keystream from block 1 on, into out[off..]. */
const xorStream = (input: Uint8Array, inStart: number, length: number, out: Uint8Array, off: number): void => {
  const n0 = NONCE_WORDS[0] ?? 0, n1 = NONCE_WORDS[1] ?? 0, n2 = NONCE_WORDS[2] ?? 0
  for (let pos = 0, counter = 1; pos < length; pos += 64, counter++) {
    chachaBlock(KEY_WORDS, counter, n0, n1, n2, STREAM)
    const end = Math.min(64, length - pos)
    for (let j = 0; j < end; j++) {
      out[off + pos + j] = (input[inStart + pos + j] ?? 0) ^ (((STREAM[j >> 2] ?? 0) >>> ((j & 3) * 8)) & 0xff)
    }
  }
}

const TAG = new Uint8Array(TAG_LENGTH)

/**
 * A dependency-free ChaCha20-Poly1305 tuned for short inputs (see the note above). Correct for
 * any length, but slower than OpenSSL beyond a few hundred bytes. Not re-entrant across
 * threads (module scratch buffers); JavaScript runs it synchronously, so that is safe here.
 */
export const compactChaChaPoly: ChaChaPoly = {
  name: "compact-js",
  allocate: allocateShortLived,
  encrypt: (key, nonce, ad, plaintext) => {
    const out = new Uint8Array(plaintext.length + TAG_LENGTH)
    compactChaChaPoly.encryptInto(key, nonce, ad, plaintext, out, 0)
    return out
  },
  encryptInto: (key, nonce, ad, plaintext, out, offset) => {
    setup(key, nonce)
    xorStream(plaintext, 0, plaintext.length, out, offset)
    aeadTag(OTK, ad, out, offset, plaintext.length, out, offset + plaintext.length)
  },
  encryptDetached: (key, nonce, ad, plaintext) => detach(compactChaChaPoly.encrypt(key, nonce, ad, plaintext)),
  decrypt: (key, nonce, ad, sealed) => {
    if (sealed.length < TAG_LENGTH) return undefined
    const split = sealed.length - TAG_LENGTH
    setup(key, nonce)
    aeadTag(OTK, ad, sealed, 0, split, TAG, 0)
    let diff = 0
    for (let i = 0; i < TAG_LENGTH; i++) diff |= (TAG[i] ?? 0) ^ (sealed[split + i] ?? 0)
    if (diff !== 0) return undefined
    const out = new Uint8Array(split)
    xorStream(sealed, 0, split, out, 0)
    return out
  }
}

/**
 * Poly1305 of a message whose length is a multiple of 16, with a 32-byte key: the MAC core of
 * `compactChaChaPoly`, exported only so tests can compare it with noble on edge cases of the
 * final reduction (RFC 8439 Appendix A.3). Not for protocol use.
 */
export const _compactPoly1305Blocks = (message: Uint8Array, key: Uint8Array): Uint8Array => {
  if (message.length % 16 !== 0 || key.length !== 32) throw new RangeError("whole blocks and a 32-byte key only")
  const otk = new Uint32Array(16)
  for (let i = 0; i < 8; i++) otk[i] = readU32(key, 4 * i)
  const p = polyInit(otk)
  for (let off = 0; off < message.length; off += 16) polyBlock(p, message, off)
  const out = new Uint8Array(16)
  polyFinish(p, otk, out, 0)
  return out
}
