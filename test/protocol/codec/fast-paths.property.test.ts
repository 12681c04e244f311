/**
 * The codec's fast paths against the plain ones (equal outputs): a message's encoding cut from a
 * shared slab (`encodeMessageWith`) against a fresh copy (`encodeWith`), the u64 reader and writer
 * without BigInt arithmetic below 2^53 against the BigInt forms, and the unchecked brands of
 * decoded channel ids, chain hashes and short channel ids against the checked constructors.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ChainHash, chainHash, channelId, ShortChannelId, shortChannelId } from "../../../src/protocol/codec/fields.ts"
import { decodeWith, Reader } from "../../../src/protocol/codec/reader.ts"
import { copyToSlab, encodeMessageWith, encodeWith, Writer } from "../../../src/protocol/codec/writer.ts"
import { LightningMessages } from "../../../src/protocol/messages/index.ts"
import { ChannelId } from "../../../src/protocol/units.ts"
import * as A from "../messages/arbitraries.ts"

const RUNS = 5_000
const U64_MAX = (1n << 64n) - 1n

/** The u64 around the 2^53 boundary, small values and the whole range. */
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 0n, max: 1n << 20n }),
  fc.bigInt({ min: (1n << 53n) - 1000n, max: (1n << 53n) + 1000n }),
  fc.constantFrom(0n, (1n << 32n) - 1n, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, U64_MAX)
)

const plainU64Bytes = (v: bigint): Uint8Array => {
  const out = new Uint8Array(8)
  for (let i = 7, t = v; i >= 0; i--, t >>= 8n) out[i] = Number(t & 0xffn)
  return out
}

const plainU64 = (b: Uint8Array): bigint => {
  let v = 0n
  for (const x of b) v = (v << 8n) | BigInt(x)
  return v
}

describe("codec fast paths", () => {
  it("a message's slab encoding equals the fresh copy, and later encodings never overwrite it", () => {
    const kept: Array<readonly [Uint8Array, Uint8Array]> = []
    fc.assert(
      fc.property(A.lightningMessage, (m) => {
        const write = (w: Writer) => {
          const def = LightningMessages.byTag(m._tag)
          if (def === undefined) throw new Error(`unregistered ${m._tag}`)
          def.writePayload(w.u16(def.type), m as never)
        }
        const plain = Result.getOrThrow(encodeWith(write))
        const slab = Result.getOrThrow(encodeMessageWith(write))
        expect(slab).toEqual(plain)
        expect(Result.getOrThrow(LightningMessages.encode(m))).toEqual(plain)
        if (kept.length < 500) kept.push([slab, plain.slice()])
      }),
      { numRuns: RUNS }
    )
    // Every result is its own bytes: none was changed by the encodings that followed it.
    for (const [slab, copy] of kept) expect(slab).toEqual(copy)
  })

  it("copyToSlab: equal bytes, disjoint views (small and large)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 20 }), (inputs) => {
        const outs = inputs.map(copyToSlab)
        outs.forEach((o, i) => expect(o).toEqual(inputs[i]))
        for (const o of outs) o.fill(0xee)
        outs.forEach((o) => expect(o.every((x) => x === 0xee)).toBe(true))
        inputs.forEach((input, i) => expect(outs[i]?.length).toBe(input.length))
      }),
      { numRuns: 2_000 }
    )
  })

  it("Writer.u64 writes what the BigInt form writes; Reader.u64 reads it back", () => {
    fc.assert(
      fc.property(u64, (v) => {
        const written = new Writer().u64(v).finish()
        expect(written).toEqual(plainU64Bytes(v))
        expect(new Reader(written).u64()).toBe(v)
        expect(new Reader(plainU64Bytes(v)).u64()).toBe(plainU64(written))
      }),
      { numRuns: RUNS }
    )
  })

  it("Writer.u64le writes what the BigInt form writes (modulo 2^64: negative and wider values too)", () => {
    const anyBigInt = fc.oneof(u64, fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.constantFrom(-1n, -(1n << 53n), 1n << 64n))
    fc.assert(
      fc.property(anyBigInt, (v) => {
        expect(new Writer().u64le(v).finish()).toEqual(plainU64Bytes(BigInt.asUintN(64, v)).reverse())
      }),
      { numRuns: RUNS }
    )
  })

  it("decoded channel ids, chain hashes and short channel ids equal the checked constructors' values", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), u64, (b, v) => {
        expect(Result.getOrThrow(decodeWith(b, (r) => channelId.read(r)))).toEqual(ChannelId(b.slice()))
        expect(Result.getOrThrow(decodeWith(b, (r) => chainHash.read(r)))).toEqual(ChainHash(b.slice()))
        expect(Result.getOrThrow(decodeWith(plainU64Bytes(v), (r) => shortChannelId.read(r)))).toBe(ShortChannelId(v))
      }),
      { numRuns: RUNS }
    )
  })
})
