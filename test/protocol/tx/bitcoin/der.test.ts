import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../../src/protocol/bytes.ts"
import { compactToDer, decodeTxSignature, derToCompact, encodeTxSignature, isLowS } from "../../../../src/protocol/tx/bitcoin/der.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const be32 = (n: bigint): Uint8Array => fromHex(n.toString(16).padStart(64, "0"))
const scalar = fc.bigInt({ min: 1n, max: N - 1n })
const compactArb = fc.tuple(scalar, scalar).map(([r, s]) => Uint8Array.from([...be32(r), ...be32(s)]))

describe("DER signatures", () => {
  it("known BOLT 3 signature", () => {
    const der = "3045022100c3127b33dcc741dd6b05b1e63cbd1a9a7d816f37af9b6756fa2376b056f032370220408b96279808fe57eb7e463710804cdf4f108388bc5cf722d8c848d2c7f9f3b0"
    const c = Result.getOrThrow(derToCompact(fromHex(der)))
    expect(toHex(c)).toBe("c3127b33dcc741dd6b05b1e63cbd1a9a7d816f37af9b6756fa2376b056f03237408b96279808fe57eb7e463710804cdf4f108388bc5cf722d8c848d2c7f9f3b0")
    expect(toHex(compactToDer(c))).toBe(der)
    expect(isLowS(c)).toBe(true)
  })

  it("round-trips compact -> DER -> compact, and DER is at most 72 bytes", () => {
    fc.assert(
      fc.property(compactArb, fc.integer({ min: 0, max: 255 }), (c, sighash) => {
        const der = compactToDer(c)
        expect(der.length).toBeLessThanOrEqual(72)
        expect(toHex(Result.getOrThrow(derToCompact(der)))).toBe(toHex(c))
        const tx = Result.getOrThrow(decodeTxSignature(encodeTxSignature(c, sighash)))
        expect(tx.sighashType).toBe(sighash)
        expect(toHex(tx.compact)).toBe(toHex(c))
      }),
      { numRuns: 10_000 }
    )
  })

  it("isLowS splits at n/2", () => {
    const half = N >> 1n
    expect(isLowS(Uint8Array.from([...be32(1n), ...be32(half)]))).toBe(true)
    expect(isLowS(Uint8Array.from([...be32(1n), ...be32(half + 1n)]))).toBe(false)
  })

  it("rejects non-strict DER with typed errors", () => {
    const good = compactToDer(Uint8Array.from([...be32(5n), ...be32(7n)]))
    expect(Result.isSuccess(derToCompact(good))).toBe(true)
    // non-minimal R padding
    const padded = fromHex("3007020200050201" + "07")
    expect(Result.isFailure(derToCompact(padded))).toBe(true)
    // negative R
    expect(Result.isFailure(derToCompact(fromHex("300602018502010" + "7")))).toBe(true)
    // zero S
    expect(Result.isFailure(derToCompact(fromHex("3006020105020100")))).toBe(true)
    // R >= n
    const r = derToCompact(Uint8Array.from([...fromHex("3026022100"), ...be32(N), ...fromHex("020101")]))
    expect(Result.isFailure(r)).toBe(true)
  })

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const a = derToCompact(bytes)
        const b = decodeTxSignature(bytes)
        if (Result.isSuccess(a)) expect(toHex(compactToDer(a.success))).toBe(toHex(bytes))
        return (Result.isSuccess(a) || a.failure._tag === "SignatureEncodingError") && (Result.isSuccess(b) || b.failure._tag === "SignatureEncodingError")
      }),
      { numRuns: 10_000 }
    )
  })
})
