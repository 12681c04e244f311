/**
 * Per-commitment secrets (BOLT 3 "Per-commitment Secret Requirements" and "Efficient
 * Per-commitment Secret Storage").
 *
 * The sender derives secret I from a 32-byte seed with `generate_from_seed`, starting at index
 * 2^48-1 and counting down. The receiver keeps at most 49 (index, secret) pairs: a secret whose
 * index ends in b zero bits derives every secret sharing its prefix, so one per trailing-zero
 * count suffices. Each insertion is checked against what is held; a secret from another seed
 * is rejected with a typed error and the storage left as it was (storage values are immutable).
 */
import { Data, Result } from "effect"
import { sha256, sha256Into } from "../tx/bitcoin/hash.ts"
import { equalBytes, equalBytesAt, toHex } from "../bytes.ts"
import { makeLru } from "../lru.ts"

/** The first per-commitment index used (2^48 - 1); indexes count down from here. */
export const FIRST_INDEX = (1n << 48n) - 1n
export const MAX_INDEX = FIRST_INDEX

/** BOLT 2 commitment numbers count up from 0; secret indexes count down from 2^48-1. */
export const indexOfCommitment = (commitmentNumber: bigint): bigint => FIRST_INDEX - commitmentNumber

/**
 * `generate_from_seed`'s loop over bits `bits-1..0` of an index given as its low and high 24 bits
 * (exact numbers, the index being below 2^48: bit tests without BigInt arithmetic), from `p` (a
 * copy of the base, flipped in place): each set bit flipped in `p`, then `p = hash(p)`.
 */
const flipAndHash = (p: Uint8Array, bits: number, low: number, high: number, hash: (p: Uint8Array) => Uint8Array): Uint8Array => {
  for (let b = bits - 1; b >= 0; b--) {
    const set = b >= 24 ? (high >>> (b - 24)) & 1 : (low >>> b) & 1
    if (set === 1) {
      const byte = b >> 3
      p[byte] = (p[byte] ?? 0) ^ (1 << (b & 7))
      p = hash(p)
    }
  }
  return p
}

/** A 32-byte value hashed in place (`sha256Into`): no array per hash. */
const hashInPlace = (p: Uint8Array): Uint8Array => {
  sha256Into(p, p, 0)
  return p
}

/** Where `deriveBitsInScratch` derives (a secret: overwritten by the next derivation, never handed out). */
const deriveScratch = new Uint8Array(32)

/**
 * The derivation of a 32-byte `base` in `deriveScratch`, each hash in place, so a derivation makes
 * no array however many bits it hashes. Returns `deriveScratch` itself, which the next derivation
 * overwrites: `insertSecret` compares it at once, `deriveBits` copies it.
 */
const deriveBitsInScratch = (base: Uint8Array, bits: number, low: number, high: number): Uint8Array => {
  deriveScratch.set(base)
  return flipAndHash(deriveScratch, bits, low, high, hashInPlace)
}

/**
 * The derivation as a fresh array. A `base` of another length than a secret's 32 bytes (no
 * caller passes one) is derived on copies, a fresh array per hash: the scratch holds 32 bytes.
 */
const deriveBits = (base: Uint8Array, bits: number, low: number, high: number): Uint8Array =>
  base.length === deriveScratch.length ? deriveBitsInScratch(base, bits, low, high).slice() : flipAndHash(base.slice(), bits, low, high, sha256)

const deriveSecret = (base: Uint8Array, bits: number, index: bigint): Uint8Array =>
  deriveBits(base, bits, Number(index & 0xffffffn), Number((index >> 24n) & 0xffffffn))

/** Bits of an index below a `SecretPrefix`: a prefix serves 2^16 consecutive commitments. */
export const PREFIX_LOW_BITS = 16

/**
 * The sender's derivation state after the high bits of an index (`generate_from_seed` run over
 * bits 47..16): the secret of `index` (its 16 low bits zero). Every secret whose index shares
 * those high bits is `perCommitmentSecretFromPrefix` of it, in at most 16 hashes instead of 48.
 * As secret as the seed it comes from.
 */
export interface SecretPrefix {
  readonly index: bigint
  readonly secret: Uint8Array
}

const PREFIX_MASK = ~((1n << BigInt(PREFIX_LOW_BITS)) - 1n)

/** The prefix serving `index` (same RangeErrors as `perCommitmentSecret`). */
export const secretPrefix = (seed: Uint8Array, index: bigint): SecretPrefix => {
  const prefixIndex = index & PREFIX_MASK
  return { index: prefixIndex, secret: perCommitmentSecret(seed, prefixIndex) }
}

/** Whether `prefix` serves `index` (their high 32 bits agree). */
export const prefixServes = (prefix: SecretPrefix, index: bigint): boolean => (index & PREFIX_MASK) === prefix.index

/**
 * `generate_from_seed(seed, index)` from the `secretPrefix` of the same seed that serves `index`
 * (`prefixServes`); throws RangeError otherwise (a caller bug).
 */
export const perCommitmentSecretFromPrefix = (prefix: SecretPrefix, index: bigint): Uint8Array => {
  if (index < 0n || index > MAX_INDEX || !prefixServes(prefix, index)) throw new RangeError("per-commitment index not served by this prefix")
  return deriveSecret(prefix.secret, PREFIX_LOW_BITS, index)
}

/**
 * `perCommitmentSecretFromPrefix` with memory, for a sender deriving its secrets one after the
 * other: the value `generate_from_seed` holds after each of the 16 low bits of the last index
 * derived. The next index shares every bit above the highest bit where the two differ, so only
 * the bits below it are hashed again: for consecutive indexes (counting down), about two hashes
 * instead of up to 16. As secret as its prefix (it derives the same secrets); mutable, owned by
 * one signer.
 */
export interface SecretCursor {
  readonly prefix: SecretPrefix
  /** The low 16 bits of the index last derived (-1 before the first). */
  lastLow: number
  /**
   * `states[32k, 32k + 32)`: the value after bits 15..k of the last index (the last 32 bytes:
   * the prefix's secret). One array for all 17, not one per value: a cursor lives as long as its
   * channel in the signer.
   */
  readonly states: Uint8Array
}

/** A cursor over `prefix` (nothing derived yet). */
export const secretCursor = (prefix: SecretPrefix): SecretCursor => {
  const states = new Uint8Array(32 * (PREFIX_LOW_BITS + 1))
  states.set(prefix.secret, 32 * PREFIX_LOW_BITS)
  return { prefix, lastLow: -1, states }
}

/**
 * `generate_from_seed(seed, index)` through `cursor` (a fresh copy); the same RangeError as
 * `perCommitmentSecretFromPrefix` for an index its prefix does not serve.
 */
export const secretAtCursor = (cursor: SecretCursor, index: bigint): Uint8Array => {
  if (index < 0n || index > MAX_INDEX || !prefixServes(cursor.prefix, index)) throw new RangeError("per-commitment index not served by this prefix")
  const low = Number(index & 0xffffn)
  const states = cursor.states
  // Bits from-1..0 are derived again: all 16 the first time, else those up to the highest one that differs.
  const from = cursor.lastLow < 0 ? PREFIX_LOW_BITS : 32 - Math.clz32(low ^ cursor.lastLow)
  // The value after bit b is the one after bit b + 1, with bit b flipped and hashed when set.
  // (Copied byte by byte: `copyWithin` and `subarray` cost more than the copy of 32 bytes.)
  for (let b = from - 1; b >= 0; b--) {
    const at = 32 * b
    if (((low >>> b) & 1) === 1) {
      for (let i = 0; i < 32; i++) cursorScratch[i] = states[at + 32 + i] ?? 0
      const byte = b >> 3
      cursorScratch[byte] = (cursorScratch[byte] ?? 0) ^ (1 << (b & 7))
      sha256Into(cursorScratch, states, at)
    } else for (let i = 0; i < 32; i++) states[at + i] = states[at + 32 + i] ?? 0
  }
  cursor.lastLow = low
  return states.slice(0, 32)
}
/** Where `secretAtCursor` flips a bit before hashing (hashed at once, never kept). */
const cursorScratch = new Uint8Array(32)

/**
 * `generate_from_seed(seed, I)`. The seed is the sender's secret; the caller holds it (e.g. the
 * channel signer). Throws RangeError for an index outside 0..2^48-1 or a seed not 32 bytes
 * (programming errors: indexes come from our own counter).
 */
export const perCommitmentSecret = (seed: Uint8Array, index: bigint): Uint8Array => {
  if (seed.length !== 32) throw new RangeError("seed must be 32 bytes")
  if (index < 0n || index > MAX_INDEX) throw new RangeError("per-commitment index out of range")
  return deriveSecret(seed, 48, index)
}

export class ShachainError extends Data.TaggedError("ShachainError")<{
  readonly reason: "InconsistentSecret" | "IndexOutOfRange" | "UnexpectedIndex" | "BadSecretLength" | "UnknownIndex"
  readonly index: bigint
}> {
  override get message(): string {
    return `${this.reason} at per-commitment index ${this.index}`
  }
}

export interface KnownSecret {
  readonly index: bigint
  readonly secret: Uint8Array
}

/**
 * Receiver-side compact storage: bucket b holds the secret whose index has b trailing zeros.
 * Every storage this module makes is a `PackedSecretStore`; its functions take any value of this
 * shape (packed first).
 */
export interface SecretStore {
  readonly buckets: ReadonlyArray<KnownSecret | undefined>
  /** Index of the last inserted secret (undefined when empty). */
  readonly lastIndex: bigint | undefined
}

/** Bytes of one entry in `encodeSecretStore`'s layout: the 6-byte index, then the secret. */
export const SECRET_ENTRY_SIZE = 38

/**
 * A storage held as its own encoding (`encodeSecretStore`'s bytes), one byte array: as objects,
 * each held secret cost an object, a bigint and a 32-byte array (~250 bytes of heap for 38 bytes
 * of content), and a channel end keeps up to 49 of them, once in the channel's state and again
 * in its monitor's, for the channel's whole life.
 */
export class PackedSecretStore implements SecretStore {
  /** The entry count, then per held secret its 6-byte big-endian index and the secret, in bucket order. Never changed. */
  readonly encoded: Uint8Array

  constructor(encoded: Uint8Array) {
    this.encoded = encoded
  }

  /** The smallest index held: secrets arrive in descending order, so the last one inserted (not a field: one bigint less per storage). */
  get lastIndex(): bigint | undefined {
    const last = smallestIndex(this.encoded)
    return last < 0 ? undefined : BigInt(last)
  }

  /** The held entries by bucket (made on each read, for inspection: this module reads `encoded`). */
  get buckets(): ReadonlyArray<KnownSecret | undefined> {
    const buckets: Array<KnownSecret | undefined> = []
    const e = this.encoded
    for (let at = 1; at < e.length; at += SECRET_ENTRY_SIZE) {
      const index = indexAt(e, at)
      while (buckets.length < trailingZeros(index)) buckets.push(undefined)
      buckets.push({ index: BigInt(index), secret: e.slice(at + 6, at + SECRET_ENTRY_SIZE) })
    }
    return buckets
  }
}

export const emptySecretStore: SecretStore = new PackedSecretStore(Uint8Array.of(0))

const TWO_24 = 0x1000000

/** The 6-byte big-endian index at `at`, as an exact number (below 2^48). */
const indexAt = (bytes: Uint8Array, at: number): number =>
  (((bytes[at] ?? 0) << 16) | ((bytes[at + 1] ?? 0) << 8) | (bytes[at + 2] ?? 0)) * TWO_24 +
  (((bytes[at + 3] ?? 0) << 16) | ((bytes[at + 4] ?? 0) << 8) | (bytes[at + 5] ?? 0))

/** The smallest index held in an encoding (the last one inserted), -1 when it holds none. */
const smallestIndex = (encoded: Uint8Array): number => {
  let last = -1
  for (let at = 1; at < encoded.length; at += SECRET_ENTRY_SIZE) {
    const index = indexAt(encoded, at)
    if (last < 0 || index < last) last = index
  }
  return last
}

/** Number of trailing zero bits of an index below 2^48 (48 for 0): `where_to_put_secret`. */
const trailingZeros = (index: number): number => {
  const low = index % TWO_24
  if (low !== 0) return 31 - Math.clz32(low & -low)
  const high = (index - low) / TWO_24
  return high === 0 ? 48 : 55 - Math.clz32(high & -high)
}

/** Number of trailing zero bits of I (48 for I = 0): `where_to_put_secret`. */
const bucketOf = (index: bigint): number => trailingZeros(Number(index))

/** `index` (below 2^48) as 6 big-endian bytes then `secret`, at `at`. */
const writeEntryAt = (out: Uint8Array, at: number, index: number, secret: Uint8Array): void => {
  // The index as two exact numbers of 24 bits: byte arithmetic without BigInt.
  const low = index % TWO_24
  const high = (index - low) / TWO_24
  out[at] = (high >>> 16) & 0xff
  out[at + 1] = (high >>> 8) & 0xff
  out[at + 2] = high & 0xff
  out[at + 3] = (low >>> 16) & 0xff
  out[at + 4] = (low >>> 8) & 0xff
  out[at + 5] = low & 0xff
  out.set(secret, at + 6)
}

/** `store` packed (itself when it is). */
const packed = (store: SecretStore): PackedSecretStore => {
  if (store instanceof PackedSecretStore) return store
  const entries = store.buckets.filter((k): k is KnownSecret => k !== undefined)
  const out = new Uint8Array(1 + entries.length * SECRET_ENTRY_SIZE)
  out[0] = entries.length
  entries.forEach((e, i) => writeEntryAt(out, 1 + i * SECRET_ENTRY_SIZE, Number(e.index), e.secret))
  return new PackedSecretStore(out)
}

/**
 * The last insertion this process made, until an insertion of the same secret object into an
 * equal storage takes it: a channel (`receiveRevoke`) and then, at once, its monitor (the
 * `CommitmentSecret` update holds the message's own secret) insert one secret into storages of
 * equal bytes, so the monitor gets the channel's result: no hash and no new array, and one
 * storage held for both instead of two (from then on the monitor inserts into the very storage
 * the channel did, compared by identity). One slot, emptied when taken: it holds at most one
 * secret and two storages, whatever the number of channels (a `WeakMap` by secret cost more to
 * fill on every insertion than the hits saved).
 */
let lastSecret: Uint8Array | undefined
let lastFrom: Uint8Array | undefined
let lastInto: PackedSecretStore | undefined

/**
 * `insert_secret`: accepts the secret for `index` if it derives every secret held in the lower
 * buckets. Secrets arrive in descending index order, each one below the previous.
 */
export const insertSecret = (store: SecretStore, secret: Uint8Array, index: bigint): Result.Result<SecretStore, ShachainError> => {
  if (index < 0n || index > MAX_INDEX) return Result.fail(new ShachainError({ reason: "IndexOutOfRange", index }))
  if (secret.length !== 32) return Result.fail(new ShachainError({ reason: "BadSecretLength", index }))
  const at = Number(index)
  // A packed storage's last index is read off its bytes as a number (no bigint made per insertion).
  if (store instanceof PackedSecretStore) {
    const last = smallestIndex(store.encoded)
    if (last >= 0 && at !== last - 1) return Result.fail(new ShachainError({ reason: "UnexpectedIndex", index }))
  } else if (store.lastIndex !== undefined && index !== store.lastIndex - 1n)
    return Result.fail(new ShachainError({ reason: "UnexpectedIndex", index }))
  const held = packed(store).encoded
  const bucket = trailingZeros(at)
  // The lower buckets' entries come first (bucket order), then the bucket's own (if it holds
  // one, replaced by the new entry), then the higher ones (kept after it).
  let split = 1
  while (split < held.length && trailingZeros(indexAt(held, split)) < bucket) split += SECRET_ENTRY_SIZE
  const rest = split < held.length && trailingZeros(indexAt(held, split)) === bucket ? split + SECRET_ENTRY_SIZE : split
  if (lastSecret === secret && lastInto !== undefined && sameInsertion(lastInto.encoded, lastFrom === held, held, split, rest, at, secret)) {
    const shared = lastInto
    lastSecret = lastFrom = lastInto = undefined
    return Result.succeed(shared)
  }
  // The new secret must derive each lower bucket's secret.
  for (let e = 1; e < split; e += SECRET_ENTRY_SIZE) {
    const known = indexAt(held, e)
    const knownLow = known % TWO_24
    if (!equalBytesAt(held, e + 6, deriveBitsInScratch(secret, bucket, knownLow, (known - knownLow) / TWO_24)))
      return Result.fail(new ShachainError({ reason: "InconsistentSecret", index }))
  }
  const out = new Uint8Array(held.length - (rest - split) + SECRET_ENTRY_SIZE)
  out.set(held.subarray(0, split))
  writeEntryAt(out, split, at, secret)
  out.set(held.subarray(rest), split + SECRET_ENTRY_SIZE)
  out[0] = (out.length - 1) / SECRET_ENTRY_SIZE
  const inserted = new PackedSecretStore(out)
  lastSecret = secret
  lastFrom = held
  lastInto = inserted
  return Result.succeed(inserted)
}

/**
 * Whether inserting `secret` at `at` into `held` (split as `insertSecret` splits it) makes
 * `inserted`: it holds exactly this secret at `at` (compared as it is now: a secret changed in
 * between is no hit), and `held` is the storage it was made from (`fromHeld`) or has the same
 * entries outside the bucket. The derivation checks read only those entries and the secret, so
 * `inserted` passed the same checks; the bucket's old entry is neither checked nor kept.
 */
const sameInsertion = (inserted: Uint8Array, fromHeld: boolean, held: Uint8Array, split: number, rest: number, at: number, secret: Uint8Array): boolean => {
  const after = split + SECRET_ENTRY_SIZE
  if (inserted.length - after !== held.length - rest || indexAt(inserted, split) !== at || !equalBytesAt(inserted, split + 6, secret)) return false
  if (fromHeld) return true
  for (let i = 1; i < split; i++) if (inserted[i] !== held[i]) return false
  for (let i = 0; i < held.length - rest; i++) if (inserted[after + i] !== held[rest + i]) return false
  return true
}

/** `derive_old_secret`: the secret for any index at or above the last one inserted. */
export const deriveOldSecret = (store: SecretStore, index: bigint): Result.Result<Uint8Array, ShachainError> => {
  if (index < 0n || index > MAX_INDEX) return Result.fail(new ShachainError({ reason: "IndexOutOfRange", index }))
  const held = packed(store).encoded
  const wanted = Number(index)
  const low = wanted % TWO_24
  const high = (wanted - low) / TWO_24
  for (let at = 1; at < held.length; at += SECRET_ENTRY_SIZE) {
    const known = indexAt(held, at)
    const b = trailingZeros(known)
    // `wanted` with its b low bits cleared (exact: integers below 2^48, a power of two)
    if (wanted - (wanted % 2 ** b) === known) return Result.succeed(deriveBits(held.subarray(at + 6, at + SECRET_ENTRY_SIZE), b, low, high))
  }
  return Result.fail(new ShachainError({ reason: "UnknownIndex", index }))
}

/** How many (index, secret) pairs the storage holds (at most 49). */
export const storedSecretCount = (store: SecretStore): number => packed(store).encoded[0] ?? 0

export class SecretStoreDecodeError extends Data.TaggedError("SecretStoreDecodeError")<{ readonly reason: string }> {}

/**
 * Byte encoding of the receiver storage, for persistence: a count byte, then per entry the
 * 6-byte big-endian index and the 32-byte secret, in bucket order. The bucket is implied by the
 * index (its trailing zeros) and the last index is the smallest one held. (A copy: the caller
 * may change it.)
 */
export const encodeSecretStore = (store: SecretStore): Uint8Array => packed(store).encoded.slice()

/**
 * One entry as `encodeSecretStore` lays it out (`SECRET_ENTRY_SIZE` bytes): the storage's encoding
 * is its entry count (one byte) then these, in bucket order.
 */
export const encodeSecretStoreEntry = (e: KnownSecret): Uint8Array => {
  const out = new Uint8Array(SECRET_ENTRY_SIZE)
  writeEntryAt(out, 0, Number(e.index), e.secret)
  return out
}

/**
 * `toHex(encodeSecretStore(store))`, for the records that persist a storage: a channel's state is
 * written several times between two revocations, with the same storage, so the hex of the
 * storages written lately is kept (a bounded memo: a storage's hex is twice its bytes, not worth
 * holding for every idle channel).
 */
export const secretStoreHex = (store: SecretStore): string => {
  const bytes = packed(store).encoded
  const held = recentHex.get(bytes)
  if (held !== undefined) return held
  const hex = toHex(bytes)
  recentHex.set(bytes, hex)
  return hex
}
const recentHex = makeLru<string, Uint8Array>(256, "secret storage hex memo")

/**
 * The index bucket `b` holds once every index from some start down to `last` was inserted: the
 * smallest index >= `last` with exactly `b` trailing zeros (index 0 alone has 48).
 */
const expectedIndexInBucket = (last: bigint, b: number): bigint | undefined => {
  if (b === 48) return last === 0n ? 0n : undefined
  const step = 1n << BigInt(b)
  let m = (last + step - 1n) / step
  if (m % 2n === 0n) m += 1n
  const index = m * step
  return index <= MAX_INDEX ? index : undefined
}

/**
 * Inverse of `encodeSecretStore`; malformed input is a typed error, never a throw. Beyond the
 * layout, a stored file must be a storage `insertSecret` could have produced: each bucket holds
 * the index the sequence ending at the smallest one implies (none missing below the largest),
 * and every secret still derives the older secrets in lower buckets, as it did when inserted.
 * A corrupted file is refused here rather than later, when the peer's next valid secret would
 * be rejected as inconsistent.
 */
export const decodeSecretStore = (bytes: Uint8Array): Result.Result<SecretStore, SecretStoreDecodeError> => {
  const fail = (reason: string) => Result.fail(new SecretStoreDecodeError({ reason }))
  const count = bytes[0]
  if (count === undefined) return fail("empty input")
  if (count > 49) return fail("more than 49 entries")
  if (bytes.length !== 1 + count * 38) return fail("length does not match the entry count")
  const buckets: Array<KnownSecret | undefined> = []
  let lastIndex: bigint | undefined = undefined
  for (let i = 0; i < count; i++) {
    const at = 1 + i * 38
    let index = 0n
    for (let b = 0; b < 6; b++) index = (index << 8n) | BigInt(bytes[at + b] ?? 0)
    const bucket = bucketOf(index)
    if (buckets[bucket] !== undefined) return fail("two entries in one bucket")
    if (buckets.length > bucket) return fail("entries out of bucket order")
    while (buckets.length < bucket) buckets.push(undefined)
    buckets.push({ index, secret: bytes.slice(at + 6, at + 38) })
    if (lastIndex === undefined || index < lastIndex) lastIndex = index
  }
  if (lastIndex !== undefined) {
    const last = lastIndex
    const held = buckets.filter((k): k is KnownSecret => k !== undefined)
    const highest = held.reduce((a, k) => (k.index > a ? k.index : a), 0n)
    for (let b = 0; b <= 48; b++) {
      const expected = expectedIndexInBucket(last, b)
      const known = buckets[b]
      if (known !== undefined ? known.index !== expected : expected !== undefined && expected <= highest)
        return fail("indexes are not those of one descending sequence")
    }
    for (let b = 1; b < buckets.length; b++) {
      const newer = buckets[b]
      if (newer === undefined) continue
      for (let lower = 0; lower < b; lower++) {
        const older = buckets[lower]
        if (older === undefined || older.index < newer.index) continue
        if (!equalBytes(deriveSecret(newer.secret, b, older.index), older.secret)) return fail("secrets are inconsistent")
      }
    }
  }
  return Result.succeed(new PackedSecretStore(bytes.slice()))
}
