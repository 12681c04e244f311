/**
 * A bounded memo of `perCommitmentPoint(secret)` (BOLT 3 "Per-commitment Secret Requirements":
 * per_commitment_point = per_commitment_secret * G). One secret's point is computed several
 * times on the channel path: the signer derives it to give the point, the channel checks the
 * secret against that point when it sends `revoke_and_ack` (BOLT 2: the secret must generate
 * the previous point), the peer's channel checks it on receipt, and a monitor checks it again
 * when it stores the secret. Through one memo the point multiplication is done once.
 *
 * The memo is of a pure function: an entry is only ever made by computing `secret * G`, so a hit
 * answers exactly what computing again would. Entries are keyed by a tagged SHA256 of the
 * secret, never by the secret itself: the memo holds points (public) and hashes, so a secret of
 * a commitment not yet revoked is not kept anywhere but in its signer. Only successes are kept;
 * least recently used entries go beyond `capacity`.
 */
import { sha256Concat } from "../tx/bitcoin/hash.ts"
import { Result } from "effect"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { bytesKey, makeLru, memoizeResult } from "../lru.ts"
import { perCommitmentPoint, type KeyDerivationError } from "./derivation.ts"
import type { PublicKey } from "./keys.ts"

export interface PerCommitmentPoints {
  readonly capacity: number
  /** `Lru.resize`: a simulation running many nodes in one process sizes the shared memo for its run. */
  readonly resize: (capacity: number) => void
  /** `perCommitmentPoint(secp, secret)`, from the memo when it holds the secret's point. */
  readonly pointOf: (secp: Secp256k1, secret: Uint8Array) => Result.Result<PublicKey, KeyDerivationError>
  readonly size: () => number
  readonly stats: () => { readonly hits: number; readonly misses: number }
  readonly clear: () => void
}

/**
 * Domain separation of the memo's keys: SHA256(TAG || secret). Short, so that tag and secret fit
 * one SHA-256 block (at most 55 bytes): one compression per lookup.
 */
const TAG = new TextEncoder().encode("el/pcp-memo")

const keyOf = (secret: Uint8Array): string => bytesKey(sha256Concat(TAG, secret))

/** A memo of at most `capacity` (>= 1) points. Throws RangeError otherwise (a configuration bug). */
export const makePerCommitmentPoints = (capacity: number): PerCommitmentPoints => {
  const memo = makeLru<PublicKey>(capacity, "per-commitment points")
  return {
    get capacity() {
      return memo.capacity
    },
    resize: memo.resize,
    pointOf: (secp, secret) => {
      if (secret.length !== 32) return perCommitmentPoint(secp, secret)
      // Keyed by the implementation too: every real curve agrees, but a test-only curve
      // (src/testing/InsecureCrypto.ts) in the same process must not read their points.
      return memoizeResult(memo, `${secp.name}/${keyOf(secret)}`, () => perCommitmentPoint(secp, secret))
    },
    size: memo.size,
    stats: memo.stats,
    clear: memo.clear
  }
}

/** Entries of the shared memo (about 200 bytes each): a few per channel updating at once. */
export const SHARED_PER_COMMITMENT_POINTS_CAPACITY = 1024

/**
 * The process-wide memo the channel (`revoke_and_ack` checks), the in-process signer and the
 * monitor use. Its only observable effect is speed.
 */
export const sharedPerCommitmentPoints: PerCommitmentPoints = makePerCommitmentPoints(SHARED_PER_COMMITMENT_POINTS_CAPACITY)
