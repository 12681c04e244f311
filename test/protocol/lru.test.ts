import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { bytesKey, type Lru, makeByteSlots, makeLru, numberKeyOf, packBytes, packedHas } from "../../src/protocol/lru.ts"
import { makeCommitmentKeysCache } from "../../src/protocol/keys/commitment-keys-cache.ts"
import { makePerCommitmentPoints } from "../../src/protocol/keys/per-commitment-points.ts"
import { makeCommitmentBuilds } from "../../src/protocol/tx/commitment-builds.ts"

/**
 * A get of `key` from the memo equals one from the model (a Map whose insertion order is the
 * recency, least recent first: a hit becomes the most recent), counted as a hit or a miss.
 */
const expectGet = <V>(lru: Lru<V, number>, model: Map<number, V>, key: number, counts: { hits: number; misses: number }): void => {
  const expected = model.get(key)
  if (expected === undefined) counts.misses++
  else {
    counts.hits++
    model.delete(key)
    model.set(key, expected)
  }
  expect(lru.get(key)).toBe(expected)
}

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
  it("reports its capacity as resized (the Lru and the memos built on it)", () => {
    const lru = makeLru<number>(3, "test")
    expect(lru.capacity).toBe(3)
    lru.resize(5)
    expect(lru.capacity).toBe(5)
    expect(() => lru.resize(0)).toThrow(RangeError)
    expect(lru.capacity).toBe(5)
    for (const memo of [makeCommitmentKeysCache(2), makePerCommitmentPoints(2), makeCommitmentBuilds(2)]) {
      expect(memo.capacity).toBe(2)
      memo.resize(7)
      expect(memo.capacity).toBe(7)
    }
  })
  it("counts an entry its caller found to be for other inputs (mismatch) as a miss, not a hit", () => {
    const lru = makeLru<string, number>(2, "test")
    lru.set(7, "made of x")
    expect(lru.get(7)).toBe("made of x") // asked for y under the same number
    lru.mismatch()
    expect(lru.stats()).toEqual({ hits: 0, misses: 1 })
    expect(lru.get(7)).toBe("made of x")
    expect(lru.stats()).toEqual({ hits: 1, misses: 1 })
  })
  it("peek answers as get and refreshes the entry as get does, counting nothing; hit counts a hit", () => {
    const lru = makeLru<number>(2, "test")
    lru.set("a", 1)
    lru.set("b", 2)
    expect(lru.peek("a")).toBe(1)
    expect(lru.peek("z")).toBeUndefined()
    expect(lru.stats()).toEqual({ hits: 0, misses: 0 })
    lru.set("c", 3) // "a" was refreshed by the peek: "b" goes
    expect(lru.peek("b")).toBeUndefined()
    expect(lru.peek("a")).toBe(1)
    lru.hit()
    expect(lru.stats()).toEqual({ hits: 1, misses: 0 })
  })

  it("property: any sequence of gets, sets, deletes, resizes and clears answers as a plain least-recently-used model, each value that leaves reported once", () => {
    // The model: an array of keys, least recently used first; a hit moves its key to the end.
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("get" as const), key: fc.constantFrom("a", "b", "c", "d", "e") }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant("set" as const), key: fc.constantFrom("a", "b", "c", "d", "e"), value: fc.nat() }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom("a", "b", "c", "d", "e") }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant("resize" as const), capacity: fc.integer({ min: 1, max: 4 }) }), weight: 1 },
      { arbitrary: fc.constant({ kind: "clear" as const }), weight: 1 }
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        // `dropped` hears every value that leaves (evicted, replaced by another, deleted), not those `clear` drops.
        const heard: Array<number> = []
        const lru = makeLru<number>(capacity, "model", (v) => heard.push(v))
        let limit = capacity
        let order: Array<string> = []
        const values = new Map<string, number>()
        const expectedDrops: Array<number> = []
        let hits = 0
        let misses = 0
        const drop = (key: string) => {
          const v = values.get(key)
          if (v !== undefined) expectedDrops.push(v)
          values.delete(key)
        }
        const trim = () => {
          while (order.length > limit) drop(order.shift() ?? "")
        }
        for (const o of ops) {
          if (o.kind === "get") {
            const expected = values.get(o.key)
            if (expected === undefined) misses++
            else {
              hits++
              order = [...order.filter((k) => k !== o.key), o.key]
            }
            expect(lru.get(o.key)).toBe(expected)
          } else if (o.kind === "set") {
            lru.set(o.key, o.value)
            order = [...order.filter((k) => k !== o.key), o.key]
            const old = values.get(o.key)
            if (old !== undefined && old !== o.value) expectedDrops.push(old)
            values.set(o.key, o.value)
            trim()
          } else if (o.kind === "delete") {
            lru.delete(o.key)
            order = order.filter((k) => k !== o.key)
            drop(o.key)
          } else if (o.kind === "resize") {
            lru.resize(o.capacity)
            limit = o.capacity
            trim()
          } else {
            lru.clear()
            order = []
            values.clear()
            hits = 0
            misses = 0
          }
          expect(lru.size()).toBe(order.length)
          expect(lru.stats()).toEqual({ hits, misses })
          expect(heard).toEqual(expectedDrops)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("property: number keys (0 and -0 one key, NaN a key, as in a Map) and stored undefined values answer as a Map-based model", () => {
    // The most recently used entry is answered without the map (`===`): -0 and NaN must still be
    // the map's keys (SameValueZero), and a stored undefined still absent (a miss, not moved).
    const keys = [0, -0, Number.NaN, 1, 2 ** 40 + 0.5]
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("get" as const), key: fc.constantFrom(...keys) }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant("set" as const), key: fc.constantFrom(...keys), value: fc.option(fc.nat(), { nil: undefined }) }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom(...keys) }), weight: 1 }
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const lru = makeLru<number | undefined, number>(capacity, "model")
        // The model: a Map (SameValueZero keys) whose insertion order is the recency, least recent first.
        const model = new Map<number, number | undefined>()
        const counts = { hits: 0, misses: 0 }
        for (const o of ops) {
          if (o.kind === "get") {
            expectGet(lru, model, o.key, counts)
          } else if (o.kind === "set") {
            lru.set(o.key, o.value)
            model.delete(o.key)
            model.set(o.key, o.value)
            while (model.size > capacity) model.delete(model.keys().next().value ?? 0)
          } else {
            lru.delete(o.key)
            model.delete(o.key)
          }
          expect(lru.size()).toBe(model.size)
          expect(lru.stats()).toEqual(counts)
        }
      }),
      { numRuns: 500, seed: 11 }
    )
  })

  it("property: many keys through a larger memo (its slots reused and its link arrays grown) answer as a Map-based model, each value that leaves reported once", () => {
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("get" as const), key: fc.integer({ min: 0, max: 59 }) }), weight: 5 },
      { arbitrary: fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 59 }), value: fc.nat() }), weight: 5 },
      { arbitrary: fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 59 }) }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant("resize" as const), capacity: fc.integer({ min: 1, max: 40 }) }), weight: 1 },
      { arbitrary: fc.constant({ kind: "clear" as const }), weight: 1 }
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const heard: Array<number> = []
        const lru = makeLru<number, number>(capacity, "model", (v) => heard.push(v))
        // The model: a Map whose insertion order is the recency, least recent first.
        const model = new Map<number, number>()
        const expectedDrops: Array<number> = []
        let limit = capacity
        const counts = { hits: 0, misses: 0 }
        const trim = () => {
          for (const [k, v] of model) {
            if (model.size <= limit) break
            model.delete(k)
            expectedDrops.push(v)
          }
        }
        for (const o of ops) {
          if (o.kind === "get") {
            expectGet(lru, model, o.key, counts)
          } else if (o.kind === "set") {
            lru.set(o.key, o.value)
            const old = model.get(o.key)
            if (old !== undefined && old !== o.value) expectedDrops.push(old)
            model.delete(o.key)
            model.set(o.key, o.value)
            trim()
          } else if (o.kind === "delete") {
            lru.delete(o.key)
            const old = model.get(o.key)
            if (old !== undefined) expectedDrops.push(old)
            model.delete(o.key)
          } else if (o.kind === "resize") {
            lru.resize(o.capacity)
            limit = o.capacity
            trim()
          } else {
            lru.clear()
            model.clear()
            counts.hits = 0
            counts.misses = 0
          }
          expect(lru.size()).toBe(model.size)
          expect(lru.stats()).toEqual(counts)
          expect(heard).toEqual(expectedDrops)
        }
        // Every entry held, in recency order: the least recent go first when the memo is shrunk to one.
        const held = [...model]
        lru.resize(1)
        expect(heard.slice(expectedDrops.length)).toEqual(held.slice(0, -1).map(([, v]) => v))
      }),
      { numRuns: 300, seed: 18 }
    )
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

describe("numberKeyOf", () => {
  it("is the low 30 bits of the first four bytes read big-endian (missing bytes zeros), a small integer, equal for equal such bits only", () => {
    expect(numberKeyOf(Uint8Array.of(1, 2, 3, 4, 5, 6, 7))).toBe(0x01020304)
    expect(numberKeyOf(new Uint8Array(32).fill(0xff))).toBe(2 ** 30 - 1)
    expect(numberKeyOf(Uint8Array.of(0xab))).toBe(0x2b000000)
    expect(numberKeyOf(Uint8Array.of(0xc0, 0, 0, 1))).toBe(1)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 40 }), fc.uint8Array({ minLength: 4, maxLength: 40 }), (a, b) => {
        const k = numberKeyOf(a)
        expect(Number.isInteger(k) && k >= 0 && k < 2 ** 30).toBe(true)
        const sameBits = ((a[0] ?? 0) & 0x3f) === ((b[0] ?? 0) & 0x3f) && a.subarray(1, 4).every((x, i) => x === b[i + 1])
        expect(k === numberKeyOf(b)).toBe(sameBits)
        // The top two bits of the first byte and the bytes after the fourth are not in the key.
        const c = a.slice()
        c[0] = (c[0] ?? 0) ^ 0xc0
        for (let i = 4; i < c.length; i++) c[i] = (c[i] ?? 0) ^ 0x5a
        expect(numberKeyOf(c)).toBe(k)
      }),
      { seed: 30 }
    )
  })
})

describe("makeByteSlots", () => {
  it("property: slots hold what was written until released, each live slot its own; `has` compares in place, false beyond the width", () => {
    const width = 5
    const op = fc.oneof(
      { arbitrary: fc.constant({ kind: "take" as const }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant("write" as const), pick: fc.nat(), at: fc.nat({ max: width }), bytes: fc.uint8Array({ maxLength: width }) }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant("has" as const), pick: fc.nat(), at: fc.nat({ max: width + 1 }), bytes: fc.uint8Array({ maxLength: width + 1 }) }), weight: 4 },
      { arbitrary: fc.constant({ kind: "clear" as const }), weight: 1 }
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const slots = makeByteSlots(width)
        // The model: each live slot's bytes (written ones; unwritten bytes are not compared).
        const live = new Map<number, Array<number | undefined>>()
        for (const o of ops) {
          const picked = [...live.keys()][("pick" in o ? o.pick : 0) % Math.max(1, live.size)]
          if (o.kind === "take") {
            const slot = slots.take()
            expect(live.has(slot)).toBe(false)
            expect(Number.isInteger(slot) && slot >= 0).toBe(true)
            live.set(slot, Array.from({ length: width }, () => undefined))
          } else if (o.kind === "release") {
            if (picked === undefined) continue
            slots.release(picked)
            live.delete(picked)
          } else if (o.kind === "write") {
            if (picked === undefined) continue
            const model = live.get(picked) ?? []
            if (o.at + o.bytes.length > width) {
              expect(() => slots.write(picked, o.at, o.bytes)).toThrow(RangeError)
              continue
            }
            slots.write(picked, o.at, o.bytes)
            o.bytes.forEach((b, i) => (model[o.at + i] = b))
          } else if (o.kind === "has") {
            if (picked === undefined) continue
            const model = live.get(picked) ?? []
            const beyond = o.at + o.bytes.length > width
            const known = !beyond && o.bytes.every((_, i) => model[o.at + i] !== undefined)
            if (beyond) expect(slots.has(picked, o.at, o.bytes)).toBe(false)
            else if (known) expect(slots.has(picked, o.at, o.bytes)).toBe(o.bytes.every((b, i) => model[o.at + i] === b))
          } else {
            slots.clear()
            live.clear()
          }
        }
        // Every live slot still holds its own bytes (writes to one never reached another).
        for (const [slot, model] of live) {
          model.forEach((b, i) => {
            if (b !== undefined) expect(slots.has(slot, i, Uint8Array.of(b))).toBe(true)
          })
        }
      }),
      { numRuns: 400, seed: 16 }
    )
  })
  it("property: `has` (four bytes per step) equals a byte-by-byte comparison, a difference at any place of a field of any length", () => {
    const width = 41
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: width, maxLength: width }),
        fc.nat({ max: width }),
        fc.nat({ max: width }),
        fc.option(fc.tuple(fc.nat({ max: width }), fc.integer({ min: 1, max: 255 }))),
        (content, a, b, flip) => {
          const at = Math.min(a, b)
          const field = content.slice(at, Math.max(a, b))
          if (flip !== null && field.length > 0) {
            const i = flip[0] % field.length
            field[i] = (field[i] ?? 0) ^ flip[1]
          }
          const slots = makeByteSlots(width)
          slots.take()
          const slot = slots.take()
          slots.write(slot, 0, content)
          expect(slots.has(slot, at, field)).toBe(field.every((x, i) => content[at + i] === x))
          expect(packedHas(content, at, field)).toBe(field.every((x, i) => content[at + i] === x))
        }
      ),
      { numRuns: 500, seed: 17 }
    )
  })
  it("takes a released slot again before a new one, and grows past its first buffer keeping every slot's bytes", () => {
    const slots = makeByteSlots(33)
    const taken = Array.from({ length: 100 }, (_, i) => {
      const slot = slots.take()
      slots.write(slot, 0, Uint8Array.from({ length: 33 }, (_, j) => (i * 7 + j) & 0xff))
      return slot
    })
    expect(new Set(taken).size).toBe(100)
    taken.forEach((slot, i) => expect(slots.has(slot, 0, Uint8Array.from({ length: 33 }, (_, j) => (i * 7 + j) & 0xff))).toBe(true))
    slots.release(taken[10] ?? 0)
    expect(slots.take()).toBe(taken[10])
    expect(() => makeByteSlots(0)).toThrow(RangeError)
  })
})

describe("packBytes / packedHas", () => {
  it("property: the fields joined in one array of their own; each field found at its offset, and no field with any byte changed", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 12 }), fc.nat(), (fields, pick) => {
        const packed = packBytes(fields)
        const joined = Uint8Array.from(fields.flatMap((f) => [...f]))
        expect(packed).toEqual(joined)
        // A copy: changing a field afterwards changes nothing kept.
        if (fields[0] !== undefined && fields[0].length > 0) {
          fields[0][0] = (fields[0][0] ?? 0) ^ 1
          expect(packed).toEqual(joined)
          fields[0][0] = (fields[0][0] ?? 0) ^ 1
        }
        let at = 0
        for (const f of fields) {
          expect(packedHas(packed, at, f)).toBe(true)
          // Another field where this one stands, or this one running past the end, is not found.
          if (f.length > 0) {
            const changed = Uint8Array.from(f)
            const i = pick % f.length
            changed[i] = (changed[i] ?? 0) ^ (1 + (pick % 255))
            expect(packedHas(packed, at, changed)).toBe(false)
            expect(packedHas(packed, packed.length - f.length + 1, f)).toBe(false)
          }
          at += f.length
        }
      }),
      { numRuns: 300, seed: 15 }
    )
  })
  it("joins many fields (those of a commitment with many HTLCs) the same way", () => {
    const fields = Array.from({ length: 40 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j * 7) & 0xff))
    const packed = packBytes(fields)
    expect(packed.length).toBe(1280)
    fields.forEach((f, i) => expect(packedHas(packed, 32 * i, f)).toBe(true))
    expect(packedHas(packed, 1, fields[0] ?? new Uint8Array(0))).toBe(false)
  })
})
