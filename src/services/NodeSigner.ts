/**
 * NodeSigner: the node's static identity key (BOLT 1 node id, BOLT 8 static key `ls`,
 * BOLT 7 announcement and BOLT 11 invoice signatures). The secret NEVER leaves it: callers get
 * the public node id, the ECDH result the Noise handshake needs (BOLT 8 acts 2 and 3:
 * `ECDH(ls, re)` and `ECDH(ls, rs)`), and signatures over digests they computed themselves.
 * This keeps room for hardware or remote signers: every operation is an Effect (a signer whose
 * key is in memory may also declare its ECDH at once, `declareEcdhNow`).
 */
import { Context, Data, type Effect } from "effect"
import type { CompactSignature } from "../protocol/crypto/secp256k1.ts"
import type { NodeId } from "../protocol/units.ts"

/** The point handed to `ecdh` is not a valid compressed secp256k1 point (bad peer input). */
export class InvalidPoint extends Data.TaggedError("InvalidPoint")<{ readonly point: Uint8Array }> {}

/** A digest to sign must be exactly 32 bytes (a caller bug, but still a typed failure). */
export class InvalidDigest extends Data.TaggedError("InvalidDigest")<{ readonly length: number }> {}

export interface NodeSignerShape {
  /** 33-byte compressed public key of the node secret. */
  readonly nodeId: NodeId
  /**
   * BOLT 8 ECDH with the node secret: SHA256 of the compressed point `secret * point`.
   * Fails with `InvalidPoint` when `point` is not a valid 33-byte compressed point.
   */
  readonly ecdh: (point: Uint8Array) => Effect.Effect<Uint8Array, InvalidPoint>
  /** ECDSA over a 32-byte digest: 64-byte compact (r || s), low-S, RFC 6979 (BOLT 7 signatures). */
  readonly signDigest: (digest: Uint8Array) => Effect.Effect<CompactSignature, InvalidDigest>
  /** Recoverable ECDSA over a 32-byte digest (BOLT 11 invoice signature): compact sig + recovery id 0..3. */
  readonly signDigestRecoverable: (
    digest: Uint8Array
  ) => Effect.Effect<{ readonly signature: CompactSignature; readonly recovery: number }, InvalidDigest>
}

/**
 * `NodeSignerShape.ecdh` done at once: the shared secret, or undefined where `ecdh` fails with
 * `InvalidPoint` (the onion code's `NodeEcdh`).
 */
export type NodeEcdhNow = (point: Uint8Array) => Uint8Array | undefined

const ecdhsNow = new WeakMap<NodeSignerShape, NodeEcdhNow>()

/**
 * Declares that `signer` computes its ECDH at once (a key in memory), so a caller that is
 * synchronous already (the payment layer peeling an incoming onion, per HTLC) asks it with no
 * effect. Declared by object, as `declareStoreWriteNow`: a wrapper that spreads the fields and
 * replaces `ecdh` does not inherit it (its `ecdh` is never bypassed). A hardware or remote signer
 * declares none.
 */
export const declareEcdhNow = <S extends NodeSignerShape>(signer: S, ecdhNow: NodeEcdhNow): S => {
  ecdhsNow.set(signer, ecdhNow)
  return signer
}

/** The ECDH at once `signer` itself declared (`declareEcdhNow`); undefined when it declared none. */
export const ecdhNowOf = (signer: NodeSignerShape): NodeEcdhNow | undefined => ecdhsNow.get(signer)
export class NodeSigner extends Context.Service<NodeSigner, NodeSignerShape>()("effect-lightning/NodeSigner") {}
