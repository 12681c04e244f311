/**
 * SHA-256 on `@noble/hashes` (pure JavaScript): what every platform can run, the browser's
 * whole implementation (`src/layers/browser/substitutes/hash-node.ts`) and Node's for the short
 * inputs where JavaScript is the faster (`hash-node.ts`). Both modules have these exports and
 * give the same bytes; protocol code reaches them through `tx/bitcoin/hash.ts`.
 *
 * SHA-256 runs on one reused noble hasher: `sha256(x)` would construct a hasher (a 64-byte block
 * buffer, a DataView, the state) and view a fresh output array through a DataView (which moves a
 * small array's bytes off the JS heap), together about twice the cost of hashing the 32-100
 * bytes most calls hash (keys, scripts, secrets). Before each hash the initial state is copied
 * in (`_cloneInto`, see `Sha256Hasher`); the hashing is noble's, and so is the digest: `digest()`
 * writes it into the hasher's own block buffer through the DataView the hasher keeps and returns
 * a copy, the fresh array each call returns. Synchronous and never re-entered (no callback runs
 * in between), so one hasher serves every call.
 */
import { _SHA256 } from "@noble/hashes/sha2.js"
import { aoutput, type CHash, createHasher } from "@noble/hashes/utils.js"

/** A SHA-256 fed in parts: `update` as many times as needed, then `digest` once. */
export interface Sha256Stream {
  update(data: Uint8Array): void
  /** SHA-256 of everything given to `update`, a fresh array; the stream is finished. */
  digest(): Uint8Array
}

/**
 * noble's SHA-256 hasher (its state, block buffer, compression and padding), with the methods a
 * reused hasher calls on every hash made to allocate nothing (in a running node they are not
 * always optimized enough for V8 to drop noble's temporary arrays):
 * - `_cloneInto` copies the eight state words one by one. noble's builds an array of them and
 *   spreads it into `set` on every copy: ~2,000 of the ~20,000 instructions of a one-block hash
 *   (cachegrind), and every hash here, and every HMAC computed from a keyed copy, starts with one.
 * - `get` (the state words, which noble's `digestInto` writes out) refills one array per hasher
 *   instead of making one per digest; `_cloneInto` above no longer calls it.
 * - `destroy` (what `digest()` ends with: the state and the block buffer zeroed, the hasher
 *   marked destroyed) does what noble's does without its `clean(...arrays)` rest array.
 * - `digestInto(out)` finishes in the hasher's own block buffer, through the DataView noble made
 *   with it, then copies the 32 bytes to `out`. noble's views `out` through a new DataView per
 *   call (and gives `out` an off-heap backing store when it is a small array on the JS heap),
 *   which its HMAC does twice per digest (inner and outer hash).
 * Same bytes as noble's (property-tested, test/protocol/crypto/hash.test.ts).
 */
class Sha256Hasher extends _SHA256 {
  override _cloneInto(to?: Sha256Hasher): Sha256Hasher {
    const out = to ?? new Sha256Hasher()
    out.set(this.A, this.B, this.C, this.D, this.E, this.F, this.G, this.H)
    this._cloneIntoMeta(out)
    return out
  }

  override clone(): Sha256Hasher {
    return this._cloneInto()
  }

  /** What `get` refills and returns (noble's `digestInto` reads it at once and keeps nothing). */
  private readonly words: [number, number, number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0, 0, 0]

  protected override get(): [number, number, number, number, number, number, number, number] {
    const w = this.words
    w[0] = this.A
    w[1] = this.B
    w[2] = this.C
    w[3] = this.D
    w[4] = this.E
    w[5] = this.F
    w[6] = this.G
    w[7] = this.H
    return w
  }

  override destroy(): void {
    this.destroyed = true
    this.set(0, 0, 0, 0, 0, 0, 0, 0)
    this.buffer.fill(0)
  }

  override digestInto(out: Uint8Array): void {
    const own = this.buffer
    if (out === own) return super.digestInto(own)
    aoutput(out, this)
    super.digestInto(own)
    for (let i = 0; i < 32; i++) out[i] = own[i] ?? 0
  }

  /**
   * The digest written at `out[at, at + 32)` (`sha256Into`), then the hasher wiped as noble's
   * `digest()` leaves it (`destroy`: the inputs are often secrets). Finished in the block buffer as
   * `digestInto` is, so `out` gets no DataView and no subarray is cut of it.
   */
  digestAt(out: Uint8Array, at: number): void {
    const own = this.buffer
    super.digestInto(own)
    for (let i = 0; i < 32; i++) out[at + i] = own[i] ?? 0
    this.destroy()
  }
}

/**
 * SHA-256 as a noble hash function whose hashers are `Sha256Hasher`s: what noble's `hmac` takes
 * (`hmac.create(sha256Hash, key)`). The same HMAC bytes as with noble's `sha256`; each keyed
 * copy (`_cloneInto`) and each digest then makes no array, spread or DataView. Typed as noble's
 * hasher class: `Sha256Hasher` stays private to this module.
 */
export const sha256Hash: CHash<_SHA256> = createHasher(() => new Sha256Hasher())

/** Never fed: its state is SHA-256's initial hash value (FIPS 180-4, 5.3.3), copied into `hasher` before each hash. */
const initial = new Sha256Hasher()
const hasher = new Sha256Hasher()

/** SHA256(x), a fresh array (noble's `digest()`: the hasher is reset before its next use). */
export const sha256 = (data: Uint8Array): Uint8Array => {
  initial._cloneInto(hasher)
  hasher.update(data)
  return hasher.digest()
}

/**
 * SHA256(x) written at `out[at, at + 32)` (32 bytes from `at` must fit, else a RangeError and
 * nothing written): for callers that place the hash (BIP 143 preimages, double hashes, shachain
 * states), so those hashes make no array. `out` may be `data` itself, or overlap it: `data` is
 * read in full before anything is written.
 */
export const sha256Into = (data: Uint8Array, out: Uint8Array, at: number): void => {
  if (!(at >= 0 && at + 32 <= out.length)) throw new RangeError(`no room for a SHA-256 hash at ${at} in ${out.length} bytes`)
  initial._cloneInto(hasher)
  hasher.update(data)
  hasher.digestAt(out, at)
}

/**
 * Where `sha256Concat` joins two parts that together fill more than one block (65-128 bytes:
 * two 33-byte points of a BOLT 3 key tweak). Fed one after the other, the second part would
 * straddle the block boundary and noble would take subarrays of it, which moves a short
 * array's bytes off the JS heap (an allocation per point); copied into this buffer (off the
 * heap already, being longer than 64 bytes) they cost nothing of the kind: ~10% less per such
 * hash, timed over the 300-node simulation. They are fed as the first block (`joinedHead`) and
 * the rest (a view made once per length): fed whole, noble's `update` would cut a subarray for
 * the bytes after the first block on every call (-4.5 KiB allocated per payment, 30-node
 * simulation).
 */
const joined = new Uint8Array(128)
const joinedHead = joined.subarray(0, 64)
const joinedTails: Array<Uint8Array | undefined> = []

/**
 * Feeds `a || b` to the reused hasher, from the initial state: parts that fit in one block go into
 * the hasher's block buffer as they are; 65-128 bytes in all are joined in the reused buffer above
 * (fed as its first block, then the rest); longer parts are fed as they are (one input of more than
 * a block is viewed through a DataView of its own).
 */
const feedConcat = (a: Uint8Array, b: Uint8Array): void => {
  const length = a.length + b.length
  initial._cloneInto(hasher)
  if (length > 64 && length <= joined.length) {
    joined.set(a)
    joined.set(b, a.length)
    hasher.update(joinedHead)
    hasher.update((joinedTails[length] ??= joined.subarray(64, length)))
  } else {
    hasher.update(a)
    hasher.update(b)
  }
}

/** SHA256(a || b) without a joined copy of its own (`feedConcat`), a fresh array. */
export const sha256Concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  feedConcat(a, b)
  return hasher.digest()
}

/**
 * SHA256(a || b) written at `out[at, at + 32)` (32 bytes from `at` must fit, else a RangeError and
 * nothing written), `out` overlapping neither part: for a hash used at once and dropped (a BOLT 3
 * tweak handed to the curve, a memo's key), no array made for it (the fresh array of
 * `sha256Concat` is ~250 of its ~340 heap bytes per call).
 */
export const sha256ConcatInto = (a: Uint8Array, b: Uint8Array, out: Uint8Array, at: number): void => {
  if (!(at >= 0 && at + 32 <= out.length)) throw new RangeError(`no room for a SHA-256 hash at ${at} in ${out.length} bytes`)
  feedConcat(a, b)
  hasher.digestAt(out, at)
}

/** A streaming SHA-256: a hasher of its own (it keeps one block and compresses as it fills). */
export const createSha256 = (): Sha256Stream => new Sha256Hasher()
