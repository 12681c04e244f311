/**
 * A deterministic `NodeSigner` for tests and simulation: the node secret is derived from a seed
 * (so a name such as "alice" stands for one fixed node id), held by `makeNodeSigner`.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer } from "effect"
import { concatBytes } from "../../protocol/bytes.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { Crypto } from "../../services/Crypto.ts"
import { NodeSigner } from "../../services/NodeSigner.ts"
import { InvalidNodeSecret, makeNodeSigner } from "../InMemoryNodeSigner.ts"

// Kept here too: tests and `TestLayers` users build signers over chosen secrets.
export { InvalidNodeSecret, makeNodeSigner }

/** The node secret a test seed stands for: SHA-256("effect-lightning/test-node-key" || seed || counter), first valid one. */
export const secretFromSeed = (seed: string | Uint8Array, secp: Secp256k1 = nobleSecp256k1): Uint8Array => {
  const bytes = typeof seed === "string" ? new TextEncoder().encode(seed) : seed
  const label = new TextEncoder().encode("effect-lightning/test-node-key")
  for (let counter = 0; counter < 256; counter++) {
    const candidate = sha256(concatBytes(label, bytes, Uint8Array.of(counter)))
    if (secp.isValidSecret(candidate)) return candidate
  }
  throw new InvalidNodeSecret()
}

/**
 * Layer: a signer whose key is decided by `seed`, over `secp` if given, else the `Crypto`
 * reference's (the fastest that loads; every backend gives the same keys and signatures).
 */
export const seededNodeSigner = (seed: string | Uint8Array, secp?: Secp256k1): Layer.Layer<NodeSigner> =>
  Layer.effect(
    NodeSigner,
    Effect.gen(function*() {
      const curve = secp ?? (yield* Crypto).secp
      return makeNodeSigner(secretFromSeed(seed, curve), curve)
    })
  )
