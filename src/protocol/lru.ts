/**
 * A bounded memo with least-recently-used eviction, for the pure caches of the channel path
 * (commitment keys, verified signatures): memory stays bounded however many channels share one.
 * A `Map` iterates in insertion order, so re-inserting on a hit makes its first key the least
 * recently used. Counts hits and misses for benchmarks and tests.
 */
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
  /** Stores an entry (most recently used), evicting the least recently used beyond `capacity`. */
  readonly set: (key: K, value: V) => void
  /** Entries held now (at most `capacity`). */
  readonly size: () => number
  /** Lookups answered from the memo, and the others, since creation or `clear`. */
  readonly stats: () => { readonly hits: number; readonly misses: number }
  /** Drops every entry and resets the counts. */
  readonly clear: () => void
}

/** A memo of at most `capacity` (>= 1) entries; throws RangeError otherwise (a configuration bug, `what` names it). */
export const makeLru = <V, K = string>(capacity: number, what: string): Lru<V, K> => {
  const checked = (n: number): number => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} capacity must be a positive integer`)
    return n
  }
  let limit = checked(capacity)
  const entries = new Map<K, V>()
  let hits = 0
  let misses = 0
  /** The last key stored or found: the end of `entries`' order while it is held. */
  let newest: K | undefined
  return {
    get capacity() {
      return limit
    },
    resize: (n) => {
      limit = checked(n)
      for (const oldest of entries.keys()) {
        if (entries.size <= limit) break
        entries.delete(oldest)
      }
    },
    get: (key) => {
      const held = entries.get(key)
      if (held === undefined) {
        misses++
        return undefined
      }
      hits++
      // Already the most recently used (asked again, as a commitment is by each of its
      // builders in turn): no need to move it to the end.
      if (key !== newest) {
        entries.delete(key)
        entries.set(key, held)
        newest = key
      }
      return held
    },
    mismatch: () => {
      hits--
      misses++
    },
    set: (key, value) => {
      entries.delete(key)
      entries.set(key, value)
      newest = key
      if (entries.size > limit) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
    },
    size: () => entries.size,
    stats: () => ({ hits, misses }),
    clear: () => {
      entries.clear()
      newest = undefined
      hits = 0
      misses = 0
    }
  }
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
 * A memo key for bytes that are (or start with) a hash: their first 48 bits as a number (fewer
 * bytes: all of them), an exact integer, so that a `Map` finds it without a string made or hashed.
 * Not unique: the memo's entry must keep what it was made of and compare it on a hit.
 */
export const numberKeyOf = (bytes: Uint8Array): number => {
  let high = 0
  let low = 0
  for (let i = 0; i < 3 && i < bytes.length; i++) high = (high << 8) | (bytes[i] ?? 0)
  for (let i = 3; i < 6 && i < bytes.length; i++) low = (low << 8) | (bytes[i] ?? 0)
  return high * 0x1000000 + low
}
