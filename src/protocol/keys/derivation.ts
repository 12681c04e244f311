/**
 * BOLT 3 "Key Derivation": per-commitment public keys from basepoints, the blinded revocation
 * key, and the matching private keys (for our own spends and, once the peer has revealed a
 * per-commitment secret, for penalties). EC arithmetic goes through the `Secp256k1` value
 * passed in, so the noble and WASM implementations are interchangeable.
 *
 * Failures (an invalid point from a peer, or a sum at infinity, which no honest input
 * produces) are typed errors that carry no key material.
 */
import { Data, Redacted, Result } from "effect"
import { sha256Concat, sha256ConcatInto } from "../tx/bitcoin/hash.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { type PrivateKey, PublicKey } from "./keys.ts"
import { packedHas } from "../lru.ts"

export class KeyDerivationError extends Data.TaggedError("KeyDerivationError")<{ readonly reason: string }> {}

const fail = (reason: string) => Result.fail(new KeyDerivationError({ reason }))

const redact = (bytes: Uint8Array): PrivateKey => Redacted.make(bytes, { label: "PrivateKey" })

/**
 * Where the tweaks of the public derivations are hashed (`sha256ConcatInto`): each is handed to
 * the curve at once and never kept (synchronous calls), so no array is made per tweak (several
 * derivations per commitment). Hashes of public points.
 */
const tweakScratch = new Uint8Array(32)
const h1Scratch = new Uint8Array(32)
const h2Scratch = new Uint8Array(32)

/**
 * The inputs of the tweak `tweakScratch` holds (the point, then the basepoint, 33 bytes each),
 * copied, when `tweakHeld`: the signer's HTLC key on the counterparty's commitment
 * (`derivePrivateKeyTweakAt` at their point and our HTLC basepoint) is asked right after the
 * key set's remote_htlcpubkey was derived from the same two points (the build reads it), so
 * that tweak is not hashed twice (two SHA-256 compressions per commitment signed with HTLCs).
 * Public data (hashes of points); compared in full, so any other inputs hash afresh. The curve
 * only reads a tweak (every implementation here copies or parses its inputs and changes none).
 */
const tweakInputs = new Uint8Array(66)
let tweakHeld = false

/** SHA256(perCommitmentPoint || basepoint) in `tweakScratch` (read at once: the next derivation overwrites it). */
const tweakAt = (perCommitmentPoint: Uint8Array, basepoint: Uint8Array): Uint8Array => {
  const kept = perCommitmentPoint.length === 33 && basepoint.length === 33
  if (kept && tweakHeld && packedHas(tweakInputs, 0, perCommitmentPoint) && packedHas(tweakInputs, 33, basepoint)) return tweakScratch
  sha256ConcatInto(perCommitmentPoint, basepoint, tweakScratch, 0)
  tweakHeld = kept
  if (kept) {
    tweakInputs.set(perCommitmentPoint)
    tweakInputs.set(basepoint, 33)
  }
  return tweakScratch
}

/** per_commitment_point = per_commitment_secret * G. */
export const perCommitmentPoint = (secp: Secp256k1, perCommitmentSecret: Uint8Array): Result.Result<PublicKey, KeyDerivationError> => {
  const p = secp.publicKey(perCommitmentSecret)
  return p === undefined ? fail("invalid per-commitment secret") : Result.succeed(PublicKey(p))
}

/**
 * pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G.
 * Gives localpubkey (payment basepoint), local/remote_htlcpubkey and local/remote_delayedpubkey.
 */
export const derivePublicKey = (
  secp: Secp256k1,
  basepoint: Uint8Array,
  perCommitmentPoint: Uint8Array
): Result.Result<PublicKey, KeyDerivationError> => {
  // One tweak-add (basepoint + tweak*G) instead of publicKey(tweak) then pointAdd.
  const sum = secp.pointTweakAdd(basepoint, tweakAt(perCommitmentPoint, basepoint))
  return sum === undefined ? fail("invalid basepoint or per-commitment point, or tweak out of range") : Result.succeed(PublicKey(sum))
}

/** privkey = basepoint_secret + SHA256(per_commitment_point || basepoint). */
export const derivePrivateKey = (
  secp: Secp256k1,
  basepointSecret: PrivateKey,
  perCommitmentPoint: Uint8Array
): Result.Result<PrivateKey, KeyDerivationError> => {
  const basepoint = secp.publicKey(Redacted.value(basepointSecret))
  if (basepoint === undefined) return fail("invalid basepoint secret")
  return derivePrivateKeyAtBasepoint(secp, basepointSecret, basepoint, perCommitmentPoint)
}

/**
 * `derivePrivateKey` for a caller that already holds the basepoint (`basepointSecret * G`, e.g.
 * a signer that computed its basepoints once): the same key without the point multiplication.
 * A `basepoint` that is not the secret's gives a key that does not match `derivePublicKey`.
 */
export const derivePrivateKeyAtBasepoint = (
  secp: Secp256k1,
  basepointSecret: PrivateKey,
  basepoint: Uint8Array,
  perCommitmentPoint: Uint8Array
): Result.Result<PrivateKey, KeyDerivationError> => {
  const sum = derivePrivateKeyTweakAt(secp, Redacted.value(basepointSecret), basepoint, perCommitmentPoint)
  return sum === undefined ? fail("derived key out of range") : Result.succeed(redact(sum))
}

/**
 * `derivePrivateKeyAtBasepoint` on the plain bytes of the basepoint secret, its key as plain bytes
 * (undefined where that one fails): for the in-process signer, which keeps the secrets it uses on
 * every commitment unwrapped and signs with this key at once.
 */
export const derivePrivateKeyTweakAt = (secp: Secp256k1, basepointSecret: Uint8Array, basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array | undefined =>
  secp.secretAdd(basepointSecret, tweakAt(perCommitmentPoint, basepoint))

/**
 * revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 *                  + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
 */
export const deriveRevocationPublicKey = (
  secp: Secp256k1,
  revocationBasepoint: Uint8Array,
  perCommitmentPoint: Uint8Array
): Result.Result<PublicKey, KeyDerivationError> => {
  sha256ConcatInto(revocationBasepoint, perCommitmentPoint, h1Scratch, 0)
  sha256ConcatInto(perCommitmentPoint, revocationBasepoint, h2Scratch, 0)
  const a = secp.pointMultiply(revocationBasepoint, h1Scratch)
  const b = secp.pointMultiply(perCommitmentPoint, h2Scratch)
  if (a === undefined || b === undefined) return fail("invalid revocation basepoint or per-commitment point")
  const sum = secp.pointAdd(a, b)
  return sum === undefined ? fail("revocation key at infinity") : Result.succeed(PublicKey(sum))
}

/**
 * revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 *                   + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)
 * Computable only once the peer has revealed `per_commitment_secret` (i.e. for a revoked state).
 */
export const deriveRevocationPrivateKey = (
  secp: Secp256k1,
  revocationBasepointSecret: PrivateKey,
  perCommitmentSecret: Uint8Array
): Result.Result<PrivateKey, KeyDerivationError> => {
  const baseSecret = Redacted.value(revocationBasepointSecret)
  const basepoint = secp.publicKey(baseSecret)
  const point = secp.publicKey(perCommitmentSecret)
  if (basepoint === undefined || point === undefined) return fail("invalid revocation basepoint secret or per-commitment secret")
  const h1 = sha256Concat(basepoint, point)
  const h2 = sha256Concat(point, basepoint)
  const a = secp.secretMultiply(baseSecret, h1)
  const b = secp.secretMultiply(perCommitmentSecret, h2)
  if (a === undefined || b === undefined) return fail("scalar out of range")
  const sum = secp.secretAdd(a, b)
  return sum === undefined ? fail("revocation key out of range") : Result.succeed(redact(sum))
}
