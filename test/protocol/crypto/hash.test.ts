/**
 * The platform hash module (`src/protocol/crypto/hash-node.ts`: noble below 512 bytes, OpenSSL
 * beyond and for streams), its browser stand-in (`src/layers/browser/substitutes/hash-node.ts`,
 * noble throughout) and the portable module both build on (`hash-noble.ts`) give the bytes plain
 * `@noble/hashes` gives, for inputs of every length from 0 to 3,000 (either side of the
 * JavaScript limit and of the joined buffer's size) and streams fed in any split. Each also
 * passes the FIPS 180-2 vectors, and hands out plain arrays of its own; `sha256Into` writes the
 * same bytes at any offset of an output, or over its own input. `sha256Hash` (noble's
 * hasher with allocation-free copies and digests) gives noble's bytes as a hash and inside
 * noble's HMAC, keyed once and copied per message as the onion code uses it.
 */
import fc from "fast-check"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import * as browser from "../../../src/layers/browser/substitutes/hash-node.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import * as portable from "../../../src/protocol/crypto/hash-noble.ts"
import * as native from "../../../src/protocol/crypto/hash-node.ts"

const implementations = [
  ["node", native],
  ["browser stand-in", browser],
  ["noble", portable]
] as const

const join = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Inputs of 0..3,000 bytes, lengths near the limits drawn more often than the rest. */
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.uint8Array({ minLength: 240, maxLength: 280 }),
  fc.uint8Array({ minLength: 500, maxLength: 530 }),
  fc.integer({ min: 0, max: 3000 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
)

/** 0..70 bytes, every length equally likely (a plain `maxLength` favours short arrays, and two of those rarely fill a block). */
const shortPart = fc.integer({ min: 0, max: 70 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))

const SEED = 20261207

describe("hash-node, its browser stand-in and hash-noble", () => {
  it("sha256 and sha256Concat equal noble's SHA-256 at every length", () => {
    fc.assert(
      fc.property(bytes, bytes, (a, b) => {
        const one = toHex(nobleSha256(a))
        const both = toHex(nobleSha256(join([a, b])))
        for (const [name, impl] of implementations) {
          expect(toHex(impl.sha256(a)), name).toBe(one)
          expect(toHex(impl.sha256Concat(a, b)), name).toBe(both)
        }
      }),
      { numRuns: 400, seed: SEED }
    )
  })

  it("sha256Concat of two short parts (one block, or joined when they fill 65-128 bytes) equals noble's SHA-256", () => {
    fc.assert(
      fc.property(shortPart, shortPart, (a, b) => {
        const expected = toHex(nobleSha256(join([a, b])))
        for (const [name, impl] of implementations) {
          expect(toHex(impl.sha256Concat(a, b)), name).toBe(expected)
          // The joined buffer is reused: a second call with other parts is not disturbed by the first.
          expect(toHex(impl.sha256Concat(b, a)), name).toBe(toHex(nobleSha256(join([b, a]))))
        }
      }),
      { numRuns: 500, seed: SEED }
    )
  })

  it("sha256ConcatInto (noble's, every platform) writes sha256Concat's hash at any offset and leaves the rest; RangeError without room", () => {
    const longPart = fc.uint8Array({ minLength: 0, maxLength: 300 })
    fc.assert(
      fc.property(fc.oneof(shortPart, longPart), fc.oneof(shortPart, longPart), fc.integer({ min: 0, max: 40 }), (a, b, at) => {
        const out = new Uint8Array(at + 32 + 5).fill(0xa5)
        portable.sha256ConcatInto(a, b, out, at)
        expect(toHex(out.subarray(at, at + 32))).toBe(toHex(nobleSha256(join([a, b]))))
        expect(out.subarray(0, at).every((x) => x === 0xa5) && out.subarray(at + 32).every((x) => x === 0xa5)).toBe(true)
        // The hasher is reused: the fresh-array form right after gives the same hash.
        expect(toHex(portable.sha256Concat(a, b))).toBe(toHex(out.subarray(at, at + 32)))
      }),
      { numRuns: 400, seed: SEED }
    )
    const out = new Uint8Array(40)
    expect(() => portable.sha256ConcatInto(new Uint8Array(33), new Uint8Array(33), out, 9)).toThrow(RangeError)
    expect(() => portable.sha256ConcatInto(new Uint8Array(33), new Uint8Array(33), out, -1)).toThrow(RangeError)
  })

  it("every length from 0 to 3,000 (each once, the same bytes through all three)", () => {
    const data = Uint8Array.from({ length: 3001 }, (_, i) => (i * 7 + 3) & 0xff)
    for (let n = 0; n <= 3000; n++) {
      const input = data.subarray(0, n)
      const expected = toHex(nobleSha256(input))
      for (const [name, impl] of implementations) expect(toHex(impl.sha256(input)), `${name} ${n}`).toBe(expected)
      const split = n >> 1
      expect(toHex(native.sha256Concat(input.subarray(0, split), input.subarray(split))), `concat ${n}`).toBe(expected)
    }
  })

  it("sha256Into writes noble's SHA-256 at any offset, leaves the rest, and may hash in place (every length 0..600)", () => {
    const data = Uint8Array.from({ length: 700 }, (_, i) => (i * 11 + 1) & 0xff)
    for (let n = 0; n <= 600; n++) {
      const input = data.subarray(0, n)
      const expected = toHex(nobleSha256(input))
      for (const [name, impl] of implementations) {
        const at = n % 37
        const out = new Uint8Array(at + 32 + (n % 5)).fill(0xa5)
        impl.sha256Into(input, out, at)
        expect(toHex(out.subarray(at, at + 32)), `${name} ${n}`).toBe(expected)
        expect(out.subarray(0, at).every((b) => b === 0xa5) && out.subarray(at + 32).every((b) => b === 0xa5), `${name} ${n}`).toBe(true)
        // In place: the hash written over the start of its own input (shachain hashes a secret into itself).
        if (n >= 32) {
          const own = input.slice()
          impl.sha256Into(own, own, 0)
          expect(toHex(own.subarray(0, 32)), `${name} in place ${n}`).toBe(expected)
          expect(toHex(own.subarray(32)), `${name} in place ${n}`).toBe(toHex(input.subarray(32)))
        }
      }
    }
  })

  it("sha256Into and the two-part hashes equal noble's SHA-256 for parts that are views at any offset, fresh short arrays, or exactly a block", () => {
    // A part is a fresh array (short ones live on V8's heap), or a view into a larger buffer at an offset.
    const part = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(64, 63, 65, 128, 55, 56).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 70 })).map(([b, offset]) => {
        const backing = new Uint8Array(offset + b.length + 3).fill(0x5a)
        backing.set(b, offset)
        return backing.subarray(offset, offset + b.length)
      })
    )
    fc.assert(
      fc.property(part, part, (a, b) => {
        const expected = toHex(nobleSha256(join([a, b])))
        for (const [name, impl] of implementations) {
          expect(toHex(impl.sha256Concat(a, b)), name).toBe(expected)
          const out = new Uint8Array(40)
          impl.sha256Into(a, out, 8)
          expect(toHex(out.subarray(8)), name).toBe(toHex(nobleSha256(a)))
        }
      }),
      { numRuns: 1000, seed: SEED }
    )
  })

  it("sha256Into refuses an output without room for 32 bytes at the offset, writing nothing", () => {
    for (const [name, impl] of implementations) {
      const out = new Uint8Array(40).fill(1)
      expect(() => impl.sha256Into(new Uint8Array(10), out, 9), name).toThrow(RangeError)
      expect(() => impl.sha256Into(new Uint8Array(10), out, -1), name).toThrow(RangeError)
      expect(() => impl.sha256Into(new Uint8Array(600), out, 9), name).toThrow(RangeError)
      expect(out.every((b) => b === 1), name).toBe(true)
    }
  })

  it("createSha256 equals noble's SHA-256 of the parts joined, the caller reusing its buffer between updates", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 1400 }), { maxLength: 12 }), (chunks) => {
        const expected = toHex(nobleSha256(join(chunks)))
        for (const [name, impl] of implementations) {
          const stream = impl.createSha256()
          const reused = new Uint8Array(1400)
          for (const c of chunks) {
            reused.set(c)
            stream.update(reused.subarray(0, c.length))
            reused.fill(0xee)
          }
          expect(toHex(stream.digest()), name).toBe(expected)
        }
      }),
      { numRuns: 200, seed: SEED }
    )
  })

  it("createSha256 equals noble's SHA-256 for many short parts mixed with long ones (gathered, flushed, passed through)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 100 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 900, maxLength: 2500 }) }), {
          maxLength: 300
        }),
        (chunks) => {
          const expected = toHex(nobleSha256(join(chunks)))
          for (const [name, impl] of implementations) {
            const stream = impl.createSha256()
            for (const c of chunks) stream.update(c)
            expect(toHex(stream.digest()), name).toBe(expected)
          }
        }
      ),
      // A failure of 300 parts takes long to shrink: reported as found.
      { numRuns: 100, seed: SEED, endOnFailure: true }
    )
  })

  it("createSha256 equals noble's SHA-256 for hundreds of short parts (the gathering buffer filled and flushed)", () => {
    // 250-400 parts of 20-100 bytes: ~15 KB, so the 8 KiB buffer fills at least once.
    const part = fc.integer({ min: 20, max: 100 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
    fc.assert(
      fc.property(fc.array(part, { minLength: 250, maxLength: 400 }), (chunks) => {
        const expected = toHex(nobleSha256(join(chunks)))
        for (const [name, impl] of implementations) {
          const stream = impl.createSha256()
          for (const c of chunks) stream.update(c)
          expect(toHex(stream.digest()), name).toBe(expected)
        }
      }),
      { numRuns: 50, seed: SEED, endOnFailure: true }
    )
  })

  it("the FIPS 180-2 vectors", () => {
    const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
    const abc448 = ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
    for (const [name, impl] of implementations) {
      expect(toHex(impl.sha256(new Uint8Array(0))), name).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
      expect(toHex(impl.sha256(ascii("abc"))), name).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
      expect(toHex(impl.sha256(abc448)), name).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
      expect(toHex(impl.sha256Concat(abc448.subarray(0, 20), abc448.subarray(20))), name).toBe(
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
      )
      const stream = impl.createSha256()
      for (let i = 0; i < 1000; i++) stream.update(ascii("a".repeat(1000)))
      expect(toHex(stream.digest()), name).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
  })

  it("hands out plain Uint8Arrays of their own, whatever the size", () => {
    for (const [name, impl] of implementations) {
      for (const n of [1, 55, 56, 511, 512, 1100, 2100]) {
        const input = new Uint8Array(n).fill(1)
        const a = impl.sha256(input)
        const before = toHex(a)
        const outputs = [
          impl.sha256(input),
          impl.sha256Concat(input, input),
          (() => {
            const s = impl.createSha256()
            s.update(input)
            return s.digest()
          })()
        ]
        for (const out of outputs) {
          expect(Object.getPrototypeOf(out), name).toBe(Uint8Array.prototype)
          expect(out.byteOffset, name).toBe(0)
          expect(out.buffer.byteLength, name).toBe(32)
          out.fill(0)
        }
        expect(toHex(a), name).toBe(before)
      }
    }
  })

  it("sha256Hash equals noble's sha256 at every length 0..600, fed whole or split, copied mid-way", () => {
    const data = Uint8Array.from({ length: 601 }, (_, i) => (i * 13 + 5) & 0xff)
    for (let n = 0; n <= 600; n++) {
      const input = data.subarray(0, n)
      const expected = toHex(nobleSha256(input))
      expect(toHex(native.sha256Hash(input)), `one-shot ${n}`).toBe(expected)
      // Split at a third: the copy taken there carries the partial block on.
      const h = native.sha256Hash.create().update(input.subarray(0, Math.floor(n / 3)))
      const copy = h.clone()
      h.update(input.subarray(Math.floor(n / 3)))
      copy.update(input.subarray(Math.floor(n / 3)))
      expect(toHex(h.digest()), `split ${n}`).toBe(expected)
      expect(toHex(copy.digest()), `copy ${n}`).toBe(expected)
    }
  })

  it("sha256Hash's digestInto writes the 32 bytes at the start of any output array and leaves the rest", () => {
    fc.assert(
      fc.property(bytes, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 32, max: 100 }), (input, offset, size) => {
        const backing = new Uint8Array(offset + size).fill(0xa5)
        const out = backing.subarray(offset)
        const h = native.sha256Hash.create()
        h.update(input)
        h.digestInto(out)
        expect(toHex(out.subarray(0, 32))).toBe(toHex(nobleSha256(input)))
        expect(backing.subarray(0, offset).every((b) => b === 0xa5)).toBe(true)
        expect(out.subarray(32).every((b) => b === 0xa5)).toBe(true)
      }),
      { numRuns: 200, seed: SEED }
    )
    expect(() => native.sha256Hash.create().digestInto(new Uint8Array(31))).toThrow(RangeError)
  })

  it("noble's hmac over sha256Hash equals it over noble's sha256: per call, and keyed once then copied per message", () => {
    const key = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 32, maxLength: 32 }))
    const message = fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: 1300, maxLength: 1400 }))
    fc.assert(
      fc.property(key, fc.array(message, { minLength: 1, maxLength: 4 }), (k, messages) => {
        const keyed = hmac.create(native.sha256Hash, k)
        const work = keyed.clone()
        const scratch = new Uint8Array(32)
        for (const m of messages) {
          const expected = toHex(hmac(nobleSha256, k, m))
          expect(toHex(hmac(native.sha256Hash, k, m))).toBe(expected)
          // As onion/keys.ts and attribution.ts use it: one keyed HMAC copied into one working copy per message.
          keyed._cloneInto(work)
          work.update(m).digestInto(scratch)
          expect(toHex(scratch)).toBe(expected)
        }
      }),
      { numRuns: 200, seed: SEED }
    )
  })

  it("a sha256Hash hasher is finished by digest() as noble's is: zeroed, and refusing more input or a second digest", () => {
    const h = native.sha256Hash.create()
    h.update(new Uint8Array(40).fill(7))
    expect(toHex(h.digest())).toBe(toHex(nobleSha256(new Uint8Array(40).fill(7))))
    expect(() => h.update(new Uint8Array(1))).toThrow()
    expect(() => h.digest()).toThrow()
    // A copy of a finished hasher is finished too (noble's _cloneInto carries the flags).
    expect(() => h.clone().update(new Uint8Array(1))).toThrow()
  })

  it("sha256Hash is the same function in the browser stand-in", () => {
    expect(browser.sha256Hash).toBe(portable.sha256Hash)
    expect(native.sha256Hash).toBe(portable.sha256Hash)
  })
})
