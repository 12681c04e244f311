/**
 * The validating brand constructors (`checkedBrand`: the filter run directly) against Effect's
 * `Brand.make` over the same filter, kept here as the reference: the same values accepted (the
 * same value returned), the same refused, each refusal the same `BrandError` (tag, message,
 * text), through every entry point (the call, `result`, `option`, `is`).
 */
import { Brand, Option, Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ChainHash, ShortChannelId } from "../../src/protocol/codec/fields.ts"
import { CompactSignature } from "../../src/protocol/crypto/secp256k1.ts"
import { ChannelId, checkedBrand, PublicKey } from "../../src/protocol/units.ts"

const RUNS = 2_000

/** What a constructor call gives: the value, or the thrown error's shape. */
const outcome = <A, B>(make: (a: A) => B, a: A): { readonly ok: B } | { readonly tag: unknown; readonly message: unknown; readonly text: string } => {
  try {
    return { ok: make(a) }
  } catch (e) {
    return e instanceof Brand.BrandError ? { tag: e._tag, message: e.message, text: e.toString() } : { tag: "other", message: String(e), text: "" }
  }
}

/** Every entry point of `fast` agrees with `reference` on `a`. */
const agree = <B extends Brand.Brand<Extract<Brand.Brand.Keys<B>, string>>>(
  fast: Brand.Constructor<B>,
  reference: Brand.Constructor<B>,
  a: Brand.Brand.Unbranded<B>
): void => {
  expect(outcome(fast, a)).toEqual(outcome(reference, a))
  const r = fast.result(a)
  const ref = reference.result(a)
  expect(Result.isSuccess(r)).toBe(Result.isSuccess(ref))
  if (Result.isSuccess(r) && Result.isSuccess(ref)) expect(r.success).toBe(ref.success)
  if (Result.isFailure(r) && Result.isFailure(ref)) {
    expect(r.failure).toBeInstanceOf(Brand.BrandError)
    expect(r.failure.message).toBe(ref.failure.message)
    expect(r.failure.issue._tag).toBe(ref.failure.issue._tag)
    expect(r.failure.toString()).toBe(ref.failure.toString())
  }
  const o = fast.option(a)
  expect(Option.isSome(o)).toBe(Option.isSome(reference.option(a)))
  if (Option.isSome(o)) expect(o.value).toBe(a)
  expect(fast.is(a)).toBe(reference.is(a))
}

/** Byte strings around a brand's length, the first byte often a point prefix. */
const bytesNear = (n: number) =>
  fc.oneof(
    fc.uint8Array({ minLength: Math.max(0, n - 2), maxLength: n + 2 }),
    fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 255), fc.uint8Array({ minLength: n - 1, maxLength: n - 1 })).map(([p, rest]) => Uint8Array.of(p, ...rest)),
    fc.uint8Array({ maxLength: 100 })
  )

describe("checkedBrand against Brand.make (the reference)", () => {
  it("PublicKey: 33 bytes, prefix 2 or 3", () => {
    const reference = Brand.make<PublicKey>(
      (b) => (b.length === 33 && (b[0] === 2 || b[0] === 3)) || `expected a 33-byte compressed point, got ${b.length} bytes`
    )
    fc.assert(fc.property(bytesNear(33), (b) => agree(PublicKey, reference, b)), { numRuns: RUNS, seed: 33 })
  })

  it("ChannelId and ChainHash: 32 bytes", () => {
    const channelId = Brand.make<ChannelId>((b) => b.length === 32 || `a channel id is 32 bytes, got ${b.length}`)
    const chainHash = Brand.make<ChainHash>((b) => b.length === 32 || `a chain hash is 32 bytes, got ${b.length}`)
    fc.assert(
      fc.property(bytesNear(32), (b) => {
        agree(ChannelId, channelId, b)
        agree(ChainHash, chainHash, b)
      }),
      { numRuns: RUNS, seed: 32 }
    )
  })

  it("CompactSignature: 64 bytes", () => {
    const reference = Brand.make<CompactSignature>((b) => b.length === 64 || `a compact signature is 64 bytes, got ${b.length}`)
    fc.assert(fc.property(bytesNear(64), (b) => agree(CompactSignature, reference, b)), { numRuns: RUNS, seed: 64 })
  })

  it("ShortChannelId: a u64", () => {
    const reference = Brand.make<ShortChannelId>((v) => (v >= 0n && v <= 0xffffffffffffffffn) || `a short_channel_id is a u64, got ${v}`)
    const values = fc.oneof(fc.bigInt({ min: -(1n << 65n), max: 1n << 65n }), fc.constantFrom(-1n, 0n, 0xffffffffffffffffn, 1n << 64n))
    fc.assert(fc.property(values, (v) => agree(ShortChannelId, reference, v)), { numRuns: RUNS, seed: 8 })
  })

  it("a filter that throws throws the same from both (no input is turned into a BrandError by one only)", () => {
    type Even = number & Brand.Brand<"Even">
    const filter = (n: number): true | string => {
      if (Number.isNaN(n)) throw new RangeError("NaN")
      return n % 2 === 0 || `odd: ${n}`
    }
    const fast = checkedBrand<Even>(filter)
    const reference = Brand.make<Even>(filter)
    expect(() => fast(Number.NaN)).toThrow(RangeError)
    expect(() => reference(Number.NaN)).toThrow(RangeError)
    fc.assert(fc.property(fc.integer(), (n) => agree(fast, reference, n)), { numRuns: 200, seed: 2 })
  })
})
