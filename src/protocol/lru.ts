/**
 * A bounded memo with least-recently-used eviction, for the pure caches of the channel path
 * (commitment keys, verified signatures): memory stays bounded however many channels share one.
 * Each entry has a slot, found by key in a `Map`, and its place in a list from the least to the
 * most recently used, kept as slot numbers (`makeLru`): a hit moves it to the end by relinking,
 * leaving the `Map` alone (deleting and re-inserting a key, the plain way to reorder a `Map`, costs
 * V8 1-5 us on a map of a few hundred entries against ~20-60 ns for the relink; the memos are asked
 * ~100 times per HTLC round trip of two nodes in one process). About half of those asks are for
 * the entry used last (a commitment's keys or build asked by each of its users in turn: 70% of the
 * asks of those two memos in the channel bench), which `get` and `set` answer without the `Map`
 * (its hash lookup costs several cache misses once the memo is large). Counts hits and misses for
 * benchmarks and tests.
 */
import { concatBytes } from "./bytes.ts"

export interface Lru<V, K extends NonNullable<unknown> = string> {
  /** The most entries kept. */
  readonly capacity: number
  /**
   * Sets the most entries kept (>= 1; RangeError otherwise), dropping the least recently used
   * beyond it: for a process that runs many nodes at once (a simulation) and needs more.
   */
  readonly resize: (capacity: number) => void
  /** The entry, marked most recently used; counts a hit, or a miss when absent. */
  readonly get: (key: K) => V | undefined
  /**
   * The entry `get` just gave is for other inputs (a memo whose key is only part of its inputs,
   * a number, keeps them in the entry and compares them): counted as a miss, not a hit.
   */
  readonly mismatch: () => void
  /**
   * The entry, marked most recently used as `get` marks it, counting neither a hit nor a miss:
   * for a memo that tries another key first (counted once, by `hit` or by its `get` after).
   */
  readonly peek: (key: K) => V | undefined
  /** Counts a hit found through `peek`. */
  readonly hit: () => void
  /** Forgets the entry of `key`, if any (no count). */
  readonly delete: (key: K) => void
  /** Stores an entry (most recently used), evicting the least recently used beyond `capacity`. */
  readonly set: (key: K, value: V) => void
  /** Entries held now (at most `capacity`). */
  readonly size: () => number
  /** Lookups answered from the memo, and the others, since creation or `clear`. */
  readonly stats: () => { readonly hits: number; readonly misses: number }
  /** Drops every entry and resets the counts. */
  readonly clear: () => void
}

/** What a free slot holds in place of a key and a value (never a caller's key or value). */
const EMPTY: unique symbol = Symbol("free lru slot")

/** No slot (the end of the recency list). */
const NONE = -1

/**
 * A memo of at most `capacity` (>= 1) entries; throws RangeError otherwise (a configuration bug,
 * `what` names it). `dropped` is told of each value that leaves the memo: evicted for room,
 * replaced by `set` (by another value), or deleted; not those `clear` drops all at once, nor a
 * stored `undefined`. A memo whose entries hold a slot of its `ByteSlots` releases the slot there.
 * Keys are never `null` or `undefined` (numbers, strings, arrays by identity).
 *
 * Each entry is a slot: its key and value in two arrays, and its place in the recency list (least
 * to most recently used) as the slots of its older and newer neighbours in two `Int32Array`s; the
 * `Map` gives a key's slot. Not a linked object per entry: relinking an entry on a hit, and
 * unlinking the oldest to evict it, writes its neighbours' links, and objects allocated one per
 * entry lie scattered over the heap, so each of those writes was a cache miss once a memo held a
 * few hundred entries (the list's upkeep cost about as much as its `Map` operations, in the
 * channel bench and the simulation alike); 8 bytes of links per slot, side by side, stay in
 * cache. A slot freed (deleted, evicted) is taken again first, last freed first.
 */
export const makeLru = <V, K extends NonNullable<unknown> = string>(capacity: number, what: string, dropped?: (value: V) => void): Lru<V, K> => {
  const checked = (n: number): number => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} capacity must be a positive integer`)
    return n
  }
  let limit = checked(capacity)
  /** Each entry's slot. */
  const slots = new Map<K, number>()
  /** By slot: the entry's key and value (`EMPTY` in a free slot). */
  const keys: Array<K | typeof EMPTY> = []
  const values: Array<V | typeof EMPTY> = []
  /** By slot: the slot of the next older and of the next newer entry (`NONE` at the ends). */
  let older = new Int32Array(0)
  let newer = new Int32Array(0)
  /** Slots freed, taken again last freed first. */
  const free: Array<number> = []
  let hits = 0
  let misses = 0
  /** The ends of the list: the least and the most recently used entries' slots. */
  let oldest = NONE
  let newest = NONE
  const unlink = (i: number): void => {
    const o = older[i] ?? NONE
    const n = newer[i] ?? NONE
    if (o === NONE) oldest = n
    else newer[o] = n
    if (n === NONE) newest = o
    else older[n] = o
  }
  const append = (i: number): void => {
    older[i] = newest
    newer[i] = NONE
    if (newest === NONE) oldest = i
    else newer[newest] = i
    newest = i
  }
  /** Makes slot `i` the most recently used (already it: nothing to do, as a commitment asked by each of its builders in turn). */
  const touch = (i: number): void => {
    if (i === newest) return
    unlink(i)
    append(i)
  }
  /** A free slot: one freed, else a new one (the link arrays grown by doubling). */
  const take = (): number => {
    const reused = free.pop()
    if (reused !== undefined) return reused
    const i = keys.length
    if (i >= older.length) {
      const grown = Math.max(8, 2 * older.length)
      const o = new Int32Array(grown)
      const n = new Int32Array(grown)
      o.set(older)
      n.set(newer)
      older = o
      newer = n
    }
    keys.push(EMPTY)
    values.push(EMPTY)
    return i
  }
  /** Takes the entry at slot `i` out (its slot freed); its value, for `dropped`. */
  const remove = (i: number, key: K): V | typeof EMPTY | undefined => {
    const value = values[i]
    unlink(i)
    slots.delete(key)
    keys[i] = EMPTY
    values[i] = EMPTY
    free.push(i)
    return value
  }
  /** Evicts the least recently used entry (the memo is not empty). */
  const evictOldest = (): void => {
    const i = oldest
    const key = keys[i]
    // (Unreachable: the oldest slot holds an entry, and keys are never undefined.)
    if (key === undefined || key === EMPTY) throw new Error(`${what}: the oldest entry's slot is free`)
    const value = remove(i, key)
    report(value)
  }
  /** Tells `dropped` of a value that left (a stored `undefined` holds nothing to release: not told). */
  const report = (value: V | typeof EMPTY | undefined): void => {
    if (dropped !== undefined && value !== undefined && value !== EMPTY) dropped(value)
  }
  const trim = (): void => {
    while (slots.size > limit && oldest !== NONE) evictOldest()
  }
  /** The slot of `key`: the newest entry's when it is asked again (found without the map; `===` is the map's SameValueZero on every key but NaN, which goes the map's way). */
  const slotOf = (key: K): number | undefined => (newest !== NONE && keys[newest] === key ? newest : slots.get(key))
  // `capacity` a data property kept in step with `resize`, not a getter: an object literal with
  // an accessor is a dictionary-mode object in V8 (each method lookup a hash-table probe).
  const self: Omit<Lru<V, K>, "capacity"> & { capacity: number } = {
    capacity: limit,
    resize: (n) => {
      limit = checked(n)
      self.capacity = limit
      trim()
    },
    get: (key) => {
      // The most recently used entry asked again (on the channel path most lookups are: a
      // commitment's keys or build asked by each of its users in turn): answered without the
      // map's hash lookup, and already in place.
      const i = slotOf(key)
      const value = i === undefined ? undefined : values[i]
      // A stored `undefined` answers as absent (a miss, not moved), as a `Map` of values would.
      if (i === undefined || value === undefined || value === EMPTY) {
        misses++
        return undefined
      }
      hits++
      touch(i)
      return value
    },
    mismatch: () => {
      hits--
      misses++
    },
    peek: (key) => {
      const i = slotOf(key)
      const value = i === undefined ? undefined : values[i]
      if (i === undefined || value === undefined || value === EMPTY) return undefined
      touch(i)
      return value
    },
    hit: () => {
      hits++
    },
    delete: (key) => {
      const i = slots.get(key)
      if (i === undefined) return
      report(remove(i, key))
    },
    set: (key, value) => {
      const held = slotOf(key)
      if (held !== undefined) {
        const old = values[held]
        values[held] = value
        touch(held)
        if (old !== value) report(old)
        return
      }
      // Room made first, so that the slot just freed (recently written memory) is taken again.
      if (slots.size >= limit && oldest !== NONE) evictOldest()
      const i = take()
      keys[i] = key
      values[i] = value
      slots.set(key, i)
      append(i)
    },
    size: () => slots.size,
    stats: () => ({ hits, misses }),
    clear: () => {
      slots.clear()
      keys.length = 0
      values.length = 0
      free.length = 0
      older = new Int32Array(0)
      newer = new Int32Array(0)
      oldest = NONE
      newest = NONE
      hits = 0
      misses = 0
    }
  }
  return self
}

/**
 * A memo key for bytes: one character per byte, the character of that code (U+0000..U+00FF),
 * so distinct byte strings give distinct keys. Cheaper to build and to hash than hex (half the
 * length, no digit lookup), and than a `TextDecoder` (~20-30% less per key: no trip through the
 * decoder's options and C++). Built with `String.fromCharCode` over at most `KEY_CHUNK` bytes at
 * a time (each byte is one argument). For in-memory map keys only (not text to store or show).
 */
const KEY_CHUNK = 1024
const charsOf = (bytes: Uint8Array): string => {
  const chars: unknown = Reflect.apply(String.fromCharCode, undefined, bytes)
  if (typeof chars !== "string") throw new TypeError("String.fromCharCode gave no string") // unreachable
  return chars
}
export const bytesKey = (bytes: Uint8Array): string => {
  if (bytes.length <= KEY_CHUNK) return charsOf(bytes)
  let key = ""
  for (let at = 0; at < bytes.length; at += KEY_CHUNK) key += charsOf(bytes.subarray(at, at + KEY_CHUNK))
  return key
}

/**
 * Copies of byte fields for a memo entry to keep, as ONE array, the fields one after the other:
 * V8 spends ~245 heap bytes on each small `Uint8Array` (its object, its buffer's object and the
 * bytes), so one array for all the fields costs a few hundred bytes where one per field cost ~1.5
 * KB for a key set's six input keys (retained per keys-memo entry: 1,774 B as six arrays, 342 heap
 * bytes plus 198 outside the heap as one: beyond 64 bytes V8 keeps a typed array's bytes outside
 * its heap, where the GC does not mark them). One allocation and a copy per field also cost fewer
 * instructions than making each copy, or a string of the bytes (`String.fromCharCode` over 200-300
 * arguments, tried: signer harness under cachegrind, -43M instructions in 600 round trips for
 * this form against the string, -15M to -21M against the arrays). Made on a memo's miss; compared
 * with `packedHas`, each field at the offset its (checked) length gives: the caller must make every
 * field's length fixed or known, else two different field lists could join to the same bytes.
 */
export const packBytes = (fields: ReadonlyArray<Uint8Array>): Uint8Array => concatBytes(...fields)

/**
 * Whether `field` equals `held[base .. base + field.length)` (the caller checks that the range lies
 * in `held`): four bytes per step, their differences ORed (one branch per four bytes, not one per
 * byte). For `packedHas`, and the fields `ByteSlots.has` does not read through its scratch.
 */
const equalAt = (held: Uint8Array, base: number, field: Uint8Array): boolean => {
  const n = field.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const b = base + i
    if (((held[b] ?? 0) ^ (field[i] ?? 0)) | ((held[b + 1] ?? 0) ^ (field[i + 1] ?? 0)) | ((held[b + 2] ?? 0) ^ (field[i + 2] ?? 0)) | ((held[b + 3] ?? 0) ^ (field[i + 3] ?? 0)))
      return false
  }
  for (; i < n; i++) if (held[base + i] !== field[i]) return false
  return true
}

/**
 * Where `ByteSlots.has` copies a field of 8-64 bytes (every key, hash and signature the memos keep)
 * to read it four bytes at a time, as it reads its own buffer (synchronous, never re-entered). A
 * memo hit compares every byte of its inputs (~430 for a builds-memo hit with its keys lookup):
 * one `set` and a `DataView` read per four bytes on each side cost a hit ~20% less CPU than a read
 * and a branch per byte, and fewer instructions.
 */
const SCRATCH_LENGTH = 64
const scratch = new Uint8Array(SCRATCH_LENGTH)
const scratchWords = new DataView(scratch.buffer)

/** Whether `bytes` are those of `packed` (`packBytes`) from `at`, compared where they stand. */
export const packedHas = (packed: Uint8Array, at: number, bytes: Uint8Array): boolean =>
  at + bytes.length <= packed.length && equalAt(packed, at, bytes)

/**
 * Fixed-width byte records of a memo's entries (copies of the inputs an entry was made of), in
 * one buffer: an entry takes a slot (`take`), writes its fields at their offsets in it and
 * compares them there (`has`); a slot released (the entry deleted or evicted) is taken again
 * first. A miss then allocates nothing for its copies: a `Uint8Array` of more than 64 bytes (the
 * copies of one entry in one array, `packBytes`) is allocated outside V8's heap, ~0.5-0.8 us of
 * CPU each with its release (against ~40 ns for an array of at most 64 bytes, measured in a loop),
 * and its objects cost ~340 heap bytes; a slot costs its width only, in a buffer the GC does not
 * mark. The buffer grows by half when every slot is taken, so it holds at most about 1.5 times the
 * most entries the memo ever held at once (its capacity at most), and keeps that size until `clear`.
 */
export interface ByteSlots {
  /** A free slot (one released, else a new one): its bytes are stale until written. */
  readonly take: () => number
  /** Gives `slot` back (its entry is gone); never release a slot twice, or one still in use. */
  readonly release: (slot: number) => void
  /** Copies `bytes` into `slot` from `at` (`at + bytes.length` at most the width). */
  readonly write: (slot: number, at: number, bytes: Uint8Array) => void
  /** Whether `bytes` are those of `slot` from `at`, compared where they stand (false beyond the width). */
  readonly has: (slot: number, at: number, bytes: Uint8Array) => boolean
  /** Releases every slot and drops the buffer. */
  readonly clear: () => void
}

/** Slots of `width` bytes (a positive integer). */
export const makeByteSlots = (width: number): ByteSlots => {
  if (!Number.isInteger(width) || width < 1) throw new RangeError("byte slot width must be a positive integer")
  const INITIAL_SLOTS = 8
  let bytes = new Uint8Array(0)
  /** `bytes` read four at a time (`has`), made again with the buffer. */
  let words = new DataView(bytes.buffer)
  /** Slots handed out so far (live or in `free`), `0 .. used - 1`. */
  let used = 0
  /** Released slots, taken again last in first out (the most recently written memory first). */
  const free: Array<number> = []
  return {
    take: () => {
      const reused = free.pop()
      if (reused !== undefined) return reused
      if ((used + 1) * width > bytes.length) {
        const grown = new Uint8Array(Math.max(INITIAL_SLOTS, used + (used >> 1)) * width)
        grown.set(bytes)
        bytes = grown
        words = new DataView(grown.buffer)
      }
      return used++
    },
    release: (slot) => {
      free.push(slot)
    },
    write: (slot, at, field) => {
      if (at + field.length > width) throw new RangeError("a field beyond its byte slot")
      bytes.set(field, slot * width + at)
    },
    has: (slot, at, field) => {
      const base = slot * width + at
      // (A slot not taken yet lies beyond the buffer: never equal, as before.)
      const n = field.length
      if (at + n > width || base + n > bytes.length) return false
      if (n < 8 || n > SCRATCH_LENGTH) return equalAt(bytes, base, field)
      // The field copied into an aligned scratch (one `set`), then compared four bytes per read on both sides.
      scratch.set(field)
      const held = words
      let i = 0
      for (; i + 4 <= n; i += 4) if (held.getInt32(base + i) !== scratchWords.getInt32(i)) return false
      for (; i < n; i++) if (bytes[base + i] !== scratch[i]) return false
      return true
    },
    clear: () => {
      bytes = new Uint8Array(0)
      words = new DataView(bytes.buffer)
      used = 0
      free.length = 0
    }
  }
}

/**
 * A memo key for bytes that are (or start with) a hash: the low 30 bits of their first four bytes
 * read big-endian (missing bytes as zeros), so that a `Map` finds it without a string made or
 * hashed. Not unique: the memo's entry must keep what it was made of and compare it on a hit.
 *
 * Below 2^30, as every memo's number key here: a non-negative integer of at most 30 bits is a
 * small integer (Smi) in V8 on every platform, which a `Map` hashes and compares without reading
 * a heap object and which costs no allocation to make. A wider number (the 48-bit keys these memos
 * had) is a HeapNumber: one allocated per lookup, slower to hash and compare (~40% more per `Map`
 * operation in a loop). The entries compare their inputs anyway, so a narrower key only makes two
 * inputs that share one (rarely) replace each other.
 */
export const numberKeyOf = (bytes: Uint8Array): number =>
  (((bytes[0] ?? 0) & 0x3f) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)
