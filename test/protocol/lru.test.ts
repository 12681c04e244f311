import { describe, expect, it } from "vitest"
import { bytesKey, makeLru } from "../../src/protocol/lru.ts"
import { makeCommitmentKeysCache } from "../../src/protocol/keys/commitment-keys-cache.ts"
import { makePerCommitmentPoints } from "../../src/protocol/keys/per-commitment-points.ts"
import { makeCommitmentBuilds } from "../../src/protocol/tx/commitment-builds.ts"

describe("makeLru", () => {
  it("evicts the least recently used beyond its capacity, a hit refreshing an entry", () => {
    const lru = makeLru<number>(2, "test")
    lru.set("a", 1)
    lru.set("b", 2)
    expect(lru.get("a")).toBe(1) // "b" is now the least recently used
    lru.set("c", 3)
    expect(lru.get("b")).toBeUndefined()
    expect(lru.get("a")).toBe(1)
    expect(lru.get("c")).toBe(3)
    expect(lru.size()).toBe(2)
    expect(lru.stats()).toEqual({ hits: 3, misses: 1 })
    lru.clear()
    expect(lru.size()).toBe(0)
    expect(lru.stats()).toEqual({ hits: 0, misses: 0 })
  })
  it("refuses a capacity below 1", () => {
    expect(() => makeLru(0, "test")).toThrow(RangeError)
    expect(() => makeLru(1.5, "test")).toThrow(RangeError)
  })
  it("resizes: down drops the least recently used beyond the new capacity, up keeps every entry and admits more", () => {
    const lru = makeLru<number>(4, "test")
    for (const [k, v] of [["a", 1], ["b", 2], ["c", 3], ["d", 4]] as const) lru.set(k, v)
    expect(lru.get("a")).toBe(1) // "b" is now the least recently used, then "c"
    lru.resize(2)
    expect(lru.capacity).toBe(2)
    expect(lru.size()).toBe(2)
    expect(lru.get("b")).toBeUndefined()
    expect(lru.get("c")).toBeUndefined()
    expect(lru.get("d")).toBe(4)
    expect(lru.get("a")).toBe(1)
    lru.resize(3)
    expect(lru.capacity).toBe(3)
    lru.set("e", 5)
    expect(lru.size()).toBe(3)
    lru.set("f", 6) // beyond 3: "d" (least recently used) goes
    expect(lru.get("d")).toBeUndefined()
    expect([lru.get("a"), lru.get("e"), lru.get("f")]).toEqual([1, 5, 6])
    expect(() => lru.resize(0)).toThrow(RangeError)
    expect(() => lru.resize(2.5)).toThrow(RangeError)
    expect(lru.capacity).toBe(3)
  })
  it("the shared memos resize through their memo (capacity follows)", () => {
    for (const memo of [makeCommitmentKeysCache(8), makePerCommitmentPoints(8), makeCommitmentBuilds(8)]) {
      expect(memo.capacity).toBe(8)
      memo.resize(32)
      expect(memo.capacity).toBe(32)
      memo.resize(1)
      expect(memo.capacity).toBe(1)
      expect(() => memo.resize(0)).toThrow(RangeError)
    }
  })
})

describe("bytesKey", () => {
  it("gives one distinct character per byte value, so distinct byte strings give distinct keys", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const key = bytesKey(all)
    expect(key.length).toBe(256)
    expect(new Set(key).size).toBe(256)
    expect(new Set(Array.from(all, (b) => bytesKey(Uint8Array.of(b)))).size).toBe(256)
    expect(bytesKey(Uint8Array.of(1, 2))).not.toBe(bytesKey(Uint8Array.of(1, 2, 0)))
    expect(bytesKey(all.subarray(10, 20))).toBe(bytesKey(all.slice(10, 20)))
  })

  it("keys longer than one chunk of characters (1,024 bytes) the same way, character for byte", () => {
    const long = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) & 0xff)
    const key = bytesKey(long)
    expect(key.length).toBe(3000)
    expect(Array.from(key, (c) => c.charCodeAt(0))).toEqual(Array.from(long))
    const changed = long.slice()
    changed[2500] = (changed[2500] ?? 0) ^ 1
    expect(bytesKey(changed)).not.toBe(key)
  })
})
