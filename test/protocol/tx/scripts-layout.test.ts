/**
 * The BOLT 3 scripts written byte by byte (`fundingScript`, `toLocalScript`, `offeredHtlcScript`,
 * `receivedHtlcScript` in `tx/scripts.ts`) give exactly the bytes of their chunk forms (the
 * reference, compiled with `compileScript`), for any keys, payment hash, delay and expiry,
 * with and without anchors; inputs outside the byte layouts (keys of another length, numbers
 * out of range) go to the chunk forms.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { unsafePublicKey } from "../../../src/protocol/keys/keys.ts"
import {
  fundingScript,
  fundingScriptChunks,
  offeredHtlcScript,
  offeredHtlcScriptChunks,
  receivedHtlcScript,
  receivedHtlcScriptChunks,
  toLocalScript,
  toLocalScriptChunks
} from "../../../src/protocol/tx/scripts.ts"

const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).chain((x) => fc.constantFrom(2, 3).map((p) => unsafePublicKey(Uint8Array.of(p, ...x))))
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 })
/** Every size class of a script number: 0, 1..16, one to five bytes, each side of a top bit set. */
const number = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffff, 0x800000, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.integer({ min: 0, max: 0xffff }),
  fc.integer({ min: 0, max: 499_999_999 }),
  fc.integer({ min: 0, max: 0xffffffff })
)

describe("BOLT 3 scripts written byte by byte", () => {
  it("equal their chunk forms", () => {
    fc.assert(
      fc.property(key, key, key, hash, number, fc.boolean(), (revocationPubkey, localHtlcPubkey, remoteHtlcPubkey, paymentHash, n, anchors) => {
        const keys = { revocationPubkey, localHtlcPubkey, remoteHtlcPubkey }
        expect(toHex(toLocalScript(revocationPubkey, n, localHtlcPubkey))).toBe(toHex(toLocalScriptChunks(revocationPubkey, n, localHtlcPubkey)))
        expect(toHex(fundingScript(revocationPubkey, remoteHtlcPubkey))).toBe(toHex(fundingScriptChunks(revocationPubkey, remoteHtlcPubkey)))
        expect(toHex(fundingScript(remoteHtlcPubkey, revocationPubkey))).toBe(toHex(fundingScriptChunks(revocationPubkey, remoteHtlcPubkey)))
        expect(toHex(fundingScript(localHtlcPubkey, localHtlcPubkey))).toBe(toHex(fundingScriptChunks(localHtlcPubkey, localHtlcPubkey)))
        expect(toHex(offeredHtlcScript(keys, paymentHash, anchors))).toBe(toHex(offeredHtlcScriptChunks(keys, paymentHash, anchors)))
        expect(toHex(receivedHtlcScript(keys, paymentHash, n, anchors))).toBe(toHex(receivedHtlcScriptChunks(keys, paymentHash, n, anchors)))
      }),
      { numRuns: 500 }
    )
  })

  it("take the chunk forms for a number out of range (negative, fractional, beyond 32 bits)", () => {
    const k = unsafePublicKey(Uint8Array.of(2, ...new Uint8Array(32).fill(7)))
    const keys = { revocationPubkey: k, localHtlcPubkey: k, remoteHtlcPubkey: k }
    const h = new Uint8Array(32).fill(1)
    for (const n of [-1, -200, 2 ** 32, 2 ** 40]) {
      expect(toHex(toLocalScript(k, n, k))).toBe(toHex(toLocalScriptChunks(k, n, k)))
      expect(toHex(receivedHtlcScript(keys, h, n, true))).toBe(toHex(receivedHtlcScriptChunks(keys, h, n, true)))
    }
  })
})
