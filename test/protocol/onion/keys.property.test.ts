/**
 * BOLT 4 key generation and HMAC-SHA256 (src/protocol/onion/keys.ts) against noble's HMAC called
 * plainly: the same bytes for every key type, secret and message split, and each result an array
 * of its own (both are finished in one reused array and copied out of it).
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { concatBytes } from "../../../src/protocol/bytes.ts"
import { deriveKey, hmacSha256, type KeyType } from "../../../src/protocol/onion/keys.ts"

const types: ReadonlyArray<KeyType> = ["rho", "mu", "um", "pad", "ammag", "ammagext", "blinded_node_id"]
const plainKey = (type: KeyType, secret: Uint8Array) => hmac(sha256, new TextEncoder().encode(type), secret)

describe("onion keys", () => {
  it("deriveKey is HMAC-SHA256 keyed by the key type's ASCII name", () => {
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 80 }), (type, secret) => {
        expect([...deriveKey(type, secret)]).toEqual([...plainKey(type, secret)])
      }),
      { numRuns: 500, seed: 15 }
    )
  })

  it("hmacSha256 of several parts is the HMAC of their concatenation", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 3 }), (key, parts) => {
        expect([...hmacSha256(key, ...parts)]).toEqual([...hmac(sha256, key, concatBytes(...parts))])
      }),
      { numRuns: 300, seed: 15 }
    )
  })

  it("hands out arrays of their own: a later call changes no earlier result", () => {
    const secret = new Uint8Array(32).fill(1)
    const rho = deriveKey("rho", secret)
    const mac = hmacSha256(secret, rho)
    const rhoBytes = [...rho]
    const macBytes = [...mac]
    deriveKey("mu", new Uint8Array(32).fill(2))
    hmacSha256(new Uint8Array(32).fill(3), new Uint8Array(10))
    expect([...rho]).toEqual(rhoBytes)
    expect([...mac]).toEqual(macBytes)
    expect(rho.buffer).not.toBe(mac.buffer)
    expect(rho.length).toBe(32)
    expect(Object.getPrototypeOf(rho)).toBe(Uint8Array.prototype)
  })
})
