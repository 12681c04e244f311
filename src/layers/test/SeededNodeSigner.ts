/**
 * `NodeSigner` holding the node secret in process memory, and a deterministic layer deriving
 * that secret from a seed. `makeNodeSigner` is also what a production layer can wrap around a
 * secret it loaded from its seed file: the secret stays inside the returned closure.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer } from "effect"
import { concatBytes } from "../../protocol/bytes.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import type { NodeId } from "../../protocol/units.ts"
import { InvalidDigest, InvalidPoint, NodeSigner, type NodeSignerShape } from "../../services/NodeSigner.ts"

/** Thrown only for an invalid secret: a configuration bug, never peer input. */
export class InvalidNodeSecret extends Error {
  constructor() {
    super("invalid node secret")
  }
}

/** A signer over `secret` (32 bytes, a valid secp256k1 scalar). Throws `InvalidNodeSecret` otherwise. */
export const makeNodeSigner = (secret: Uint8Array, secp: Secp256k1 = nobleSecp256k1): NodeSignerShape => {
  const key = secret.slice()
  const publicKey = secp.publicKey(key)
  if (publicKey === undefined || !secp.isValidSecret(key)) throw new InvalidNodeSecret()
  const checkDigest = (digest: Uint8Array): Effect.Effect<void, InvalidDigest> =>
    digest.length === 32 ? Effect.void : Effect.fail(new InvalidDigest({ length: digest.length }))
  return NodeSigner.of({
    nodeId: publicKey as NodeId,
    ecdh: (point) =>
      Effect.suspend(() => {
        const shared = secp.ecdh(key, point)
        return shared === undefined ? Effect.fail(new InvalidPoint({ point })) : Effect.succeed(shared)
      }),
    signDigest: (digest) => checkDigest(digest).pipe(Effect.map(() => secp.sign(digest, key))),
    signDigestRecoverable: (digest) => checkDigest(digest).pipe(Effect.map(() => secp.signRecoverable(digest, key)))
  })
}

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

/** Layer: a signer whose key is decided by `seed`. */
export const seededNodeSigner = (seed: string | Uint8Array, secp: Secp256k1 = nobleSecp256k1): Layer.Layer<NodeSigner> =>
  Layer.sync(NodeSigner, () => makeNodeSigner(secretFromSeed(seed, secp), secp))
