/**
 * Production `Entropy`: the operating system's CSPRNG through `node:crypto` `randomBytes`
 * (getrandom(2) on Linux). Every ephemeral BOLT 8 key and nonce in a real node comes from here.
 */
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { Entropy } from "../../services/Entropy.ts"

/** `Entropy` backed by `crypto.randomBytes`; copies into a plain Uint8Array owned by the caller. */
export const layer: Layer.Layer<Entropy> = Layer.succeed(
  Entropy,
  Entropy.of({
    randomBytes: (length) => Effect.sync(() => new Uint8Array(randomBytes(length)))
  })
)
