/**
 * A `NodeSigner` holding the node secret in process memory (BOLT 1 node id, BOLT 8 ECDH,
 * BOLT 7/11 signatures). Used by the production seed-file layer (`node/SeedFileSigner.ts`) and by
 * the deterministic test layer (`test/SeededNodeSigner.ts`); a hardware or remote signer
 * implements the same `NodeSignerShape` instead. The secret is copied into the returned closure,
 * so the caller may wipe its own copy at once.
 */
import { Effect } from "effect"
import { CompactSignature, nobleSecp256k1, type Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { NodeId } from "../protocol/units.ts"
import { declareEcdhNow, InvalidDigest, InvalidPoint, NodeSigner, type NodeEcdhNow, type NodeSignerShape } from "../services/NodeSigner.ts"

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
  const ecdhNow: NodeEcdhNow = (point) => secp.ecdh(key, point)
  return declareEcdhNow(NodeSigner.of({
    nodeId: NodeId(publicKey),
    ecdh: (point) =>
      Effect.suspend(() => {
        const shared = ecdhNow(point)
        return shared === undefined ? Effect.fail(new InvalidPoint({ point })) : Effect.succeed(shared)
      }),
    signDigest: (digest) => checkDigest(digest).pipe(Effect.map(() => CompactSignature(secp.sign(digest, key)))),
    signDigestRecoverable: (digest) =>
      checkDigest(digest).pipe(Effect.map(() => {
        const { recovery, signature } = secp.signRecoverable(digest, key)
        return { signature: CompactSignature(signature), recovery }
      }))
  }), ecdhNow)
}
