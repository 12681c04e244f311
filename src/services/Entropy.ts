/**
 * Entropy: where every random byte of the engine comes from (ephemeral BOLT 8 keys, ping
 * padding, later channel keys and nonces). It is a service so that tests and simulations can
 * seed it (one seed decides every byte, see `src/layers/test/SeededEntropy.ts`) while production
 * uses the operating system's CSPRNG (`src/layers/node/`).
 */
import { Context, type Effect } from "effect"

export interface EntropyShape {
  /**
   * `length` fresh random bytes (a new array each call, owned by the caller).
   * Never fails: an RNG that cannot deliver is a defect, not a recoverable condition.
   */
  readonly randomBytes: (length: number) => Effect.Effect<Uint8Array>
}

export class Entropy extends Context.Service<Entropy, EntropyShape>()("effect-lightning/Entropy") {}
