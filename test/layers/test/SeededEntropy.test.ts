import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { Entropy } from "../../../src/services/Entropy.ts"
import { makeDrbg } from "../../../src/layers/test/SeededEntropy.ts"
import * as SeededEntropy from "../../../src/layers/test/SeededEntropy.ts"

const draw = Effect.gen(function*() {
  const entropy = yield* Entropy
  const a = yield* entropy.randomBytes(32)
  const b = yield* entropy.randomBytes(100)
  const c = yield* entropy.randomBytes(0)
  return [toHex(a), toHex(b), toHex(c)]
})

describe("seeded Entropy", () => {
  it.effect("the same seed gives the same bytes, another seed other bytes", () =>
    Effect.gen(function*() {
      const one = yield* draw.pipe(Effect.provide(SeededEntropy.layer("alice")))
      const two = yield* draw.pipe(Effect.provide(SeededEntropy.layer("alice")))
      const other = yield* draw.pipe(Effect.provide(SeededEntropy.layer("bob")))
      assert.deepStrictEqual(one, two)
      assert.notDeepEqual(one, other)
      assert.strictEqual(one[0]?.length, 64)
      assert.strictEqual(one[1]?.length, 200)
      assert.strictEqual(one[2], "")
    }))

  it("the stream does not depend on how requests are split", () => {
    const whole = makeDrbg(new Uint8Array([1, 2, 3])).next(3000)
    const drbg = makeDrbg(new Uint8Array([1, 2, 3]))
    const parts = [1, 63, 64, 1000, 7, 1865].map((n) => drbg.next(n))
    const joined = new Uint8Array(3000)
    let off = 0
    for (const p of parts) {
      joined.set(p, off)
      off += p.length
    }
    assert.strictEqual(toHex(joined), toHex(whole))
    // not trivially constant
    assert.notStrictEqual(toHex(whole.subarray(0, 32)), toHex(whole.subarray(32, 64)))
  })
})
