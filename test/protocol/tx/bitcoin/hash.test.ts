/**
 * The hash functions of `tx/bitcoin/hash.ts` run on reused noble hashers below 512 bytes and on
 * Node's OpenSSL beyond (`crypto/hash-node.ts`): each must give what @noble/hashes gives by
 * itself, for every input length (within one block, across blocks), call after call, and hand
 * out arrays of its own.
 */
import fc from "fast-check"
import { ripemd160 } from "@noble/hashes/legacy.js"
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../../src/protocol/bytes.ts"
import { hash160, hash256, hash256Into, ripemd, sha256, sha256Concat, sha256Into } from "../../../../src/protocol/tx/bitcoin/hash.ts"

describe("tx/bitcoin hash functions", () => {
  it("equal @noble/hashes on random inputs, interleaved", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }), (inputs) => {
        for (const [i, data] of inputs.entries()) {
          const next = inputs[(i + 1) % inputs.length] ?? data
          const joined = new Uint8Array(data.length + next.length)
          joined.set(data)
          joined.set(next, data.length)
          expect(toHex(sha256Concat(data, next))).toBe(toHex(nobleSha256(joined)))
          expect(toHex(sha256(data))).toBe(toHex(nobleSha256(data)))
          expect(toHex(hash256(data))).toBe(toHex(nobleSha256(nobleSha256(data))))
          // Written into a larger array at an offset (as BIP 143 preimages are), the rest left as it was.
          const out = new Uint8Array(80).fill(0xee)
          const at = data.length % 48
          hash256Into(data, out, at)
          expect(toHex(out.subarray(at, at + 32))).toBe(toHex(nobleSha256(nobleSha256(data))))
          expect(out.subarray(0, at).every((b) => b === 0xee) && out.subarray(at + 32).every((b) => b === 0xee)).toBe(true)
          sha256Into(data, out, at)
          expect(toHex(out.subarray(at, at + 32))).toBe(toHex(nobleSha256(data)))
          expect(toHex(hash160(data))).toBe(toHex(ripemd160(nobleSha256(data))))
          expect(toHex(ripemd(data))).toBe(toHex(ripemd160(data)))
        }
      }),
      { numRuns: 300, seed: 20261207 }
    )
  })

  it("the FIPS 180-2 vector of 'abc', and the empty input", () => {
    expect(toHex(sha256(new TextEncoder().encode("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(toHex(sha256(new Uint8Array(0)))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    // RIPEMD-160's reference vectors ("abc" and the empty string).
    expect(toHex(ripemd(new TextEncoder().encode("abc")))).toBe("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc")
    expect(toHex(ripemd(new Uint8Array(0)))).toBe("9c1185a5c5e9fc54612808977ee8f548b2258d31")
  })

  it("returns a fresh array each call: a later hash or a change to one result does not touch another", () => {
    const a = sha256(Uint8Array.of(1))
    const before = toHex(a)
    const b = hash256(Uint8Array.of(2))
    const c = sha256(Uint8Array.of(1))
    expect(a).not.toBe(c)
    b.fill(0)
    c.fill(0)
    expect(toHex(a)).toBe(before)
    expect(toHex(sha256(Uint8Array.of(1)))).toBe(before)
    const r = ripemd(Uint8Array.of(1))
    const rBefore = toHex(r)
    const s = hash160(Uint8Array.of(1))
    expect(r).not.toBe(s)
    s.fill(0)
    expect(toHex(r)).toBe(rBefore)
    expect(toHex(ripemd(Uint8Array.of(1)))).toBe(rBefore)
  })
})
