/**
 * Browser `Entropy`: the Web Crypto CSPRNG, `crypto.getRandomValues` (the browser's equivalent
 * of getrandom(2); also present in Node, Deno and workers). Every ephemeral BOLT 8 key and nonce
 * of a node in a tab comes from here. `getRandomValues` fills at most 65,536 bytes per call, so
 * longer requests are filled in pieces.
 */
import { Effect, Layer } from "effect"
import { Entropy } from "../../services/Entropy.ts"

/** The Web Crypto API's per-call limit of `getRandomValues`. */
const MAX_PER_CALL = 65_536

/** `length` bytes from `crypto.getRandomValues`. */
export const randomBytes = (length: number): Uint8Array => {
  const out = new Uint8Array(length)
  for (let offset = 0; offset < length; offset += MAX_PER_CALL) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + MAX_PER_CALL)))
  }
  return out
}

/** `Entropy` backed by `crypto.getRandomValues`. */
export const layer: Layer.Layer<Entropy> = Layer.succeed(
  Entropy,
  Entropy.of({ randomBytes: (length) => Effect.sync(() => randomBytes(length)) })
)
