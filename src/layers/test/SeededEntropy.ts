/**
 * Deterministic `Entropy` for tests and simulation: one seed decides every byte.
 *
 * The generator is a ChaCha20 keystream (from `@noble/ciphers`) keyed with SHA-256 of the
 * seed: bytes are handed out in order, so the same seed and the same sequence of requests give
 * the same bytes on every run and every machine. Not for production (no reseeding, and a seed
 * known to the test is known to everybody).
 */
import { chacha20 } from "@noble/ciphers/chacha.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer } from "effect"
import { Entropy, type EntropyShape } from "../../services/Entropy.ts"

const BLOCK = 64
/** Keystream produced per refill (a whole number of ChaCha20 blocks). */
const REFILL = BLOCK * 16

const seedBytes = (seed: string | Uint8Array): Uint8Array =>
  typeof seed === "string" ? new TextEncoder().encode(seed) : seed

/** A synchronous ChaCha20 DRBG: `next(n)` returns the next `n` keystream bytes. */
export const makeDrbg = (seed: string | Uint8Array): { readonly next: (length: number) => Uint8Array } => {
  const key = sha256(seedBytes(seed))
  const nonce = new Uint8Array(12)
  let counter = 0
  let buffer = new Uint8Array(0)
  let offset = 0
  const refill = () => {
    buffer = chacha20(key, nonce, new Uint8Array(REFILL), undefined, counter)
    counter += REFILL / BLOCK
    offset = 0
  }
  return {
    next: (length) => {
      const out = new Uint8Array(length)
      let filled = 0
      while (filled < length) {
        if (offset === buffer.length) refill()
        const n = Math.min(length - filled, buffer.length - offset)
        out.set(buffer.subarray(offset, offset + n), filled)
        offset += n
        filled += n
      }
      return out
    }
  }
}

/** An `Entropy` value drawing from a fresh DRBG seeded with `seed`. */
export const makeSeededEntropy = (seed: string | Uint8Array): EntropyShape => {
  const drbg = makeDrbg(seed)
  return Entropy.of({ randomBytes: (length) => Effect.sync(() => drbg.next(length)) })
}

/** Layer: a seeded `Entropy`. Each build of the layer starts the stream from the seed again. */
export const layer = (seed: string | Uint8Array): Layer.Layer<Entropy> =>
  Layer.sync(Entropy, () => makeSeededEntropy(seed))
