/**
 * `secretDeriver` (src/protocol/keys/seed.ts): the same secret as `deriveSecret` for any seed and
 * label, whichever labels it derived before, and past an invalid first candidate (the counter
 * loop, forced here by a curve that refuses a candidate).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { deriveSecret, secretDeriver } from "../../../src/protocol/keys/seed.ts"

describe("secretDeriver", () => {
  it("gives deriveSecret's secret for every label of a seed, in any order", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.array(fc.string({ maxLength: 150 }), { minLength: 1, maxLength: 12 }), (seed, labels) => {
        const derive = secretDeriver(seed, nobleSecp256k1)
        for (const label of labels) expect(toHex(derive(label))).toBe(toHex(deriveSecret(seed, label, nobleSecp256k1)))
      }),
      { numRuns: 300, seed: 5 }
    )
  })

  it("goes on with the counter when a candidate is not a valid secret, as deriveSecret does", () => {
    // A curve that refuses every candidate whose first byte is even: about half the labels need counter 1 or more.
    const picky: Secp256k1 = { ...nobleSecp256k1, isValidSecret: (s) => nobleSecp256k1.isValidSecret(s) && ((s[0] ?? 0) & 1) === 1 }
    const seed = new Uint8Array(32).fill(9)
    const derive = secretDeriver(seed, picky)
    for (let i = 0; i < 64; i++) expect(toHex(derive(`channel/${i}/funding`))).toBe(toHex(deriveSecret(seed, `channel/${i}/funding`, picky)))
  })
})
