/**
 * A bounded memo with least-recently-used eviction, for the pure caches of the channel path
 * (commitment keys, verified signatures): memory stays bounded however many channels share one.
 * A `Map` iterates in insertion order, so re-inserting on a hit makes its first key the least
 * recently used. Counts hits and misses for benchmarks and tests.
 */
import { Result } from "effect"

export interface Lru<V> {
  /** The most entries kept. */
  readonly capacity: number
  /**
   * Sets the most entries kept (>= 1; RangeError otherwise), dropping the least recently used
   * beyond it: for a process that runs many nodes at once (a simulation) and needs more.
   */
  readonly resize: (capacity: number) => void
  /** The entry, marked most recently used; counts a hit, or a miss when absent. */
  readonly get: (key: string) => V | undefined
  /** Stores an entry (most recently used), evicting the least recently used beyond `capacity`. */
  readonly set: (key: string, value: V) => void
  /** Entries held now (at most `capacity`). */
  readonly size: () => number
  /** Lookups answered from the memo, and the others, since creation or `clear`. */
  readonly stats: () => { readonly hits: number; readonly misses: number }
  /** Drops every entry and resets the counts. */
  readonly clear: () => void
}

/** A memo of at most `capacity` (>= 1) entries; throws RangeError otherwise (a configuration bug, `what` names it). */
export const makeLru = <V>(capacity: number, what: string): Lru<V> => {
  const checked = (n: number): number => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} capacity must be a positive integer`)
    return n
  }
  let limit = checked(capacity)
  const entries = new Map<string, V>()
  let hits = 0
  let misses = 0
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
      entries.delete(key)
      entries.set(key, held)
      return held
    },
    set: (key, value) => {
      entries.delete(key)
      entries.set(key, value)
      if (entries.size > limit) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
    },
    size: () => entries.size,
    stats: () => ({ hits, misses }),
    clear: () => {
      entries.clear()
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

/** `compute()`'s success, memoized under `key`; a failure is not kept (it is computed again next time). */
export const memoizeResult = <V, E>(memo: Lru<V>, key: string, compute: () => Result.Result<V, E>): Result.Result<V, E> => {
  const held = memo.get(key)
  if (held !== undefined) return Result.succeed(held)
  const computed = compute()
  if (Result.isSuccess(computed)) memo.set(key, computed.success)
  return computed
}
