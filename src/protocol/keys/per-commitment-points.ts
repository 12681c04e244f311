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
 * secret (30 of its bits as a number, the whole hash kept for the entry and compared on a hit),
 * never by the secret itself: the memo holds points (public) and hashes, so a secret of
 * a commitment not yet revoked is not kept anywhere but in its signer. Only successes are kept;
 * least recently used entries go beyond `capacity`.
 *
 * A secret once released (BOLT 2 `revoke_and_ack`: public from then on) is moved to an entry
 * keyed by its own bytes (`reveal`, told by the in-process signer as it releases it), which
 * `pointOf` tries first, with no hash: the releasing channel's check, and in one process (the
 * simulation, the channel bench) the peer's channel and monitor checks, then cost no SHA-256
 * (two compressions fewer per revocation there; one more `Map` lookup per lookup of an
 * unreleased secret or across processes). The same answers, entries and hit counts.
 */
import { sha256ConcatInto } from "../tx/bitcoin/hash.ts"
import { Result } from "effect"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { makeByteSlots, makeLru, numberKeyOf } from "../lru.ts"
import { perCommitmentPoint, type KeyDerivationError } from "./derivation.ts"
import type { PublicKey } from "./keys.ts"

export interface PerCommitmentPoints {
  readonly capacity: number
  /** `Lru.resize`: a simulation running many nodes in one process sizes the shared memo for its run. */
  readonly resize: (capacity: number) => void
  /** `perCommitmentPoint(secp, secret)`, from the memo when it holds the secret's point. */
  readonly pointOf: (secp: Secp256k1, secret: Uint8Array) => Result.Result<PublicKey, KeyDerivationError>
  /**
   * `secret` is public now (released to the peer): its entry, if the memo holds one, is kept
   * under the secret's own bytes from now on (see above). Counts nothing; changes no answer.
   */
  readonly reveal: (secp: Secp256k1, secret: Uint8Array) => void
  readonly size: () => number
  readonly stats: () => { readonly hits: number; readonly misses: number }
  readonly clear: () => void
}

/**
 * Domain separation of the memo's keys: SHA256(TAG || secret). Short, so that tag and secret fit
 * one SHA-256 block (at most 55 bytes): one compression per lookup.
 */
const TAG = new TextEncoder().encode("el/pcp-memo")

/** Where a lookup's tagged hash is made: read for the key, compared, and copied into a slot on a miss; never kept (synchronous). */
const hashScratch = new Uint8Array(32)

/**
 * An entry: the point, with the implementation's name it was computed for and the slot holding
 * the tagged hash of the secret, or the secret itself once it was revealed (`revealed`; all
 * compared on a hit: the memo's key is only a number, `keyOf`). The hash or secret in a slot of
 * the memo's `ByteSlots` (32 bytes, nothing allocated per entry), where a 32-byte array takes
 * ~245 heap bytes and a string of its bytes ~50 and a `String.fromCharCode` call per miss.
 */
interface Entry {
  readonly slot: number
  readonly implementation: string
  readonly point: PublicKey
  readonly revealed: boolean
}

const HASH_LENGTH = 32

/** A small number per implementation name seen (the last one shared by any beyond 255: entries compare the name). */
const implementations = new Map<string, number>()
const implementationOf = (name: string): number => {
  const known = implementations.get(name)
  if (known !== undefined) return known
  const n = Math.min(implementations.size, 255)
  if (implementations.size < 256) implementations.set(name, n)
  return n
}

/**
 * The memo key: 30 bits of the hash, or of a revealed secret (`numberKeyOf`, a small integer; a
 * secret is a hash output too), XORed with the implementation's number (bits 22-29).
 */
const keyOf = (implementation: string, hash: Uint8Array): number => numberKeyOf(hash) ^ (implementationOf(implementation) << 22)

/** A memo of at most `capacity` (>= 1) points. Throws RangeError otherwise (a configuration bug). */
export const makePerCommitmentPoints = (capacity: number): PerCommitmentPoints => {
  const hashes = makeByteSlots(HASH_LENGTH)
  const memo = makeLru<Entry, number>(capacity, "per-commitment points", (dropped) => hashes.release(dropped.slot))
  // `capacity` a data property kept in step with `resize` (an accessor would make this a dictionary-mode object).
  const self: Omit<PerCommitmentPoints, "capacity"> & { capacity: number } = {
    capacity: memo.capacity,
    resize: (n) => {
      memo.resize(n)
      self.capacity = memo.capacity
    },
    pointOf: (secp, secret) => {
      if (secret.length !== 32) return perCommitmentPoint(secp, secret)
      // A revealed secret first, under its own bytes: no hash (counted once, here or below).
      const open = memo.peek(keyOf(secp.name, secret))
      if (open !== undefined && open.revealed && open.implementation === secp.name && hashes.has(open.slot, 0, secret)) {
        memo.hit()
        return Result.succeed(open.point)
      }
      const hash = hashScratch
      sha256ConcatInto(TAG, secret, hash, 0)
      const key = keyOf(secp.name, hash)
      // Of the implementation too: every real curve agrees, but a test-only curve
      // (src/testing/InsecureCrypto.ts) in the same process must not read their points.
      const held = memo.get(key)
      if (held !== undefined && !held.revealed && held.implementation === secp.name && hashes.has(held.slot, 0, hash)) {
        return Result.succeed(held.point)
      }
      // Found under a number shared with other inputs: counted as a miss.
      if (held !== undefined) memo.mismatch()
      const computed = perCommitmentPoint(secp, secret)
      if (Result.isSuccess(computed)) {
        const slot = hashes.take()
        hashes.write(slot, 0, hash)
        memo.set(key, { slot, implementation: secp.name, point: computed.success, revealed: false })
      }
      return computed
    },
    reveal: (secp, secret) => {
      if (secret.length !== 32) return
      const hash = hashScratch
      sha256ConcatInto(TAG, secret, hash, 0)
      const key = keyOf(secp.name, hash)
      const held = memo.peek(key)
      if (held === undefined || held.revealed || held.implementation !== secp.name || !hashes.has(held.slot, 0, hash)) return
      // The same point, moved: the hashed entry's slot is released and taken again for the secret.
      memo.delete(key)
      const slot = hashes.take()
      hashes.write(slot, 0, secret)
      memo.set(keyOf(secp.name, secret), { slot, implementation: secp.name, point: held.point, revealed: true })
    },
    size: memo.size,
    stats: memo.stats,
    clear: () => {
      memo.clear()
      hashes.clear()
    }
  }
  return self
}

/** Entries of the shared memo (about 450 bytes each, the point included): a few per channel updating at once. */
export const SHARED_PER_COMMITMENT_POINTS_CAPACITY = 1024

/**
 * The process-wide memo the channel (`revoke_and_ack` checks), the in-process signer and the
 * monitor use. Its only observable effect is speed.
 */
export const sharedPerCommitmentPoints: PerCommitmentPoints = makePerCommitmentPoints(SHARED_PER_COMMITMENT_POINTS_CAPACITY)
