/**
 * A bounded memo with least-recently-used eviction, for the pure caches of the channel path
 * (commitment keys, verified signatures): memory stays bounded however many channels share one.
 * Each entry is a node found by key in a `Map` and linked in a list from the least to the most
 * recently used: a hit moves its node to the end by relinking it, leaving the `Map` alone
 * (deleting and re-inserting a key, the plain way to reorder a `Map`, costs V8 1-5 us on a map
 * of a few hundred entries against ~20-60 ns for the relink; the memos are asked ~100 times per
 * HTLC round trip of two nodes in one process). About half of those asks are for the entry used
 * last (a commitment's keys or build asked by each of its users in turn: 70% of the asks of those
 * two memos in the channel bench), which `get` and `set` answer without the `Map` (its hash lookup
 * costs several cache misses once the memo's nodes are spread over a large heap). Counts hits and
 * misses for benchmarks and tests.
 */
import { concatBytes } from "./bytes.ts"

export interface Lru<V, K = string> {
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

/** An entry, linked from the least recently used (`older` ends at the oldest) to the most. */
interface Node<V, K> {
  readonly key: K
  value: V
  older: Node<V, K> | undefined
  newer: Node<V, K> | undefined
}

/**
 * A memo of at most `capacity` (>= 1) entries; throws RangeError otherwise (a configuration bug,
 * `what` names it). `dropped` is told of each value that leaves the memo: evicted for room,
 * replaced by `set` (by another value), or deleted; not those `clear` drops all at once. A memo
 * whose entries hold a slot of its `ByteSlots` releases the slot there.
 */
export const makeLru = <V, K = string>(capacity: number, what: string, dropped?: (value: V) => void): Lru<V, K> => {
  const checked = (n: number): number => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} capacity must be a positive integer`)
    return n
  }
  let limit = checked(capacity)
  const nodes = new Map<K, Node<V, K>>()
  let hits = 0
  let misses = 0
  /** The ends of the list: the least and the most recently used entries. */
  let oldest: Node<V, K> | undefined
  let newest: Node<V, K> | undefined
  const unlink = (n: Node<V, K>): void => {
    if (n.older === undefined) oldest = n.newer
    else n.older.newer = n.newer
    if (n.newer === undefined) newest = n.older
    else n.newer.older = n.older
    n.older = undefined
    n.newer = undefined
  }
  const append = (n: Node<V, K>): void => {
    n.older = newest
    n.newer = undefined
    if (newest === undefined) oldest = n
    else newest.newer = n
    newest = n
  }
  /** Makes `n` the most recently used (already it: nothing to do, as a commitment asked by each of its builders in turn). */
  const touch = (n: Node<V, K>): void => {
    if (n === newest) return
    unlink(n)
    append(n)
  }
  const trim = (): void => {
    while (nodes.size > limit && oldest !== undefined) {
      const o = oldest
      unlink(o)
      nodes.delete(o.key)
      if (dropped !== undefined) dropped(o.value)
    }
  }
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
      // map's hash lookup, and already in place. `===` is the map's SameValueZero on every key
      // but NaN, which goes the map's way.
      const last = newest
      if (last !== undefined && last.key === key && last.value !== undefined) {
        hits++
        return last.value
      }
      const held = nodes.get(key)
      // A stored `undefined` answers as absent (a miss, not moved), as a `Map` of values would.
      if (held === undefined || held.value === undefined) {
        misses++
        return undefined
      }
      hits++
      touch(held)
      return held.value
    },
    mismatch: () => {
      hits--
      misses++
    },
    delete: (key) => {
      const held = nodes.get(key)
      if (held !== undefined) {
        unlink(held)
        nodes.delete(key)
        if (dropped !== undefined) dropped(held.value)
      }
    },
    set: (key, value) => {
      // The most recently used entry set again: found without the map (and already in place).
      const last = newest
      const held = last !== undefined && last.key === key ? last : nodes.get(key)
      if (held !== undefined) {
        const old = held.value
        held.value = value
        touch(held)
        if (dropped !== undefined && old !== value) dropped(old)
        return
      }
      const n: Node<V, K> = { key, value, older: undefined, newer: undefined }
      nodes.set(key, n)
      append(n)
      trim()
    },
    size: () => nodes.size,
    stats: () => ({ hits, misses }),
    clear: () => {
      nodes.clear()
      oldest = undefined
      newest = undefined
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
