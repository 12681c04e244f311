/** `compactByteArrays`: what a restored idle channel keeps: one buffer for its bytes, equal values shared, the value unchanged. */
import { assert, describe, it } from "@effect/vitest"
import { compactByteArrays } from "../../src/actors/ChannelManager.ts"

class Opaque {
  readonly bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }
}

describe("compactByteArrays", () => {
  it("copies plain data with every byte array a view of one buffer, equal ones shared", () => {
    const key = Uint8Array.from([2, 1, 2, 3])
    const opaque = new Opaque(Uint8Array.from([9]))
    const value = {
      a: Uint8Array.from([2, 1, 2, 3]),
      list: [{ key, amount: 1000n, n: 3 }, { key: Uint8Array.from([7, 7]), amount: 1000n, s: "x", none: undefined }],
      nested: { empty: new Uint8Array(0), flag: true, nothing: null },
      opaque
    }
    const compact = compactByteArrays(value)
    // Same content, same shape.
    assert.deepStrictEqual(compact, value)
    assert.isTrue("none" in (compact.list[1] ?? {}))
    // Copies, not the originals.
    assert.notStrictEqual(compact, value)
    assert.notStrictEqual(compact.a, value.a)
    // One buffer for every byte array; equal contents and equal bigints shared.
    const first = compact.list[0]
    const second = compact.list[1]
    if (first === undefined || second === undefined) return assert.fail("list lost an element")
    assert.strictEqual(compact.a.buffer, second.key.buffer)
    assert.strictEqual(compact.a.buffer, compact.nested.empty.buffer)
    assert.strictEqual(compact.a, first.key)
    assert.strictEqual(compact.a.buffer.byteLength, 6) // [2,1,2,3] once, [7,7], nothing for the empty one
    // Class instances are shared as they are.
    assert.strictEqual(compact.opaque, opaque)
  })
})
