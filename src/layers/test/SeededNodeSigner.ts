/**
 * A deterministic `NodeSigner` for tests and simulation: the node secret is derived from a seed
 * (so a name such as "alice" stands for one fixed node id), held by `makeNodeSigner`.
 */
import { Effect, Layer } from "effect"
import { deriveSecret } from "../../protocol/keys/seed.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { Crypto } from "../../services/Crypto.ts"
import { NodeSigner } from "../../services/NodeSigner.ts"
import { InvalidNodeSecret, makeNodeSigner } from "../InMemoryNodeSigner.ts"

// Kept here too: tests and `TestLayers` users build signers over chosen secrets.
export { InvalidNodeSecret, makeNodeSigner }

/**
 * The node secret a test seed stands for: `deriveSecret(UTF-8(seed), "test-node")`, the one seed
 * derivation of the project (`protocol/keys/seed.ts`, HKDF-SHA256 under a label).
 */
export const secretFromSeed = (seed: string | Uint8Array, secp: Secp256k1 = nobleSecp256k1): Uint8Array =>
  deriveSecret(typeof seed === "string" ? new TextEncoder().encode(seed) : seed, TEST_NODE_KEY_LABEL, secp)

/** The label of test node keys (never a production label). */
export const TEST_NODE_KEY_LABEL = "test-node"

/**
 * Layer: a signer whose key is decided by `seed`, over `secp` if given, else the `Crypto`
 * reference's (the fastest that loads; every backend gives the same keys and signatures).
 */
export const layer = (seed: string | Uint8Array, secp?: Secp256k1): Layer.Layer<NodeSigner> =>
  Layer.effect(
    NodeSigner,
    Effect.gen(function*() {
      const curve = secp ?? (yield* Crypto).secp
      return makeNodeSigner(secretFromSeed(seed, curve), curve)
    })
  )
