/**
 * `paymentHashOf` (SHA-256 with the last preimage's hash kept) against plain SHA-256: any
 * sequence of calls on a few preimage objects, some changed in place between calls, of 32 bytes
 * or not, gives each time the hash of the bytes as they are then; the same preimage asked again
 * unchanged gets the very array it got (nothing hashed), and a monitor applying the fulfill a
 * channel just checked stores that hash.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { paymentHashOf } from "../../../src/protocol/channel/payment-hash.ts"
import { newPair, preimageFor } from "./step-harness.ts"

type Op = { readonly _tag: "Hash"; readonly which: number } | { readonly _tag: "Change"; readonly which: number; readonly at: number; readonly byte: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("Hash" as const), which: fc.nat({ max: 3 }) }),
  fc.record({ _tag: fc.constant("Change" as const), which: fc.nat({ max: 3 }), at: fc.nat({ max: 31 }), byte: fc.nat({ max: 255 }) })
)

describe("paymentHashOf", () => {
  it("is SHA-256 of the bytes as they are at each call", () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
        fc.array(op, { maxLength: 40 }),
        ([x, y, other], ops) => {
          // Two arrays with the same bytes (a decoded copy), two others.
          const preimages = [x, x.slice(), y, other]
          let previous: { readonly which: number; readonly hash: Uint8Array; readonly changed: boolean } | undefined
          for (const o of ops) {
            const p = preimages[o.which]
            if (p === undefined) continue
            if (o._tag === "Change") {
              if (o.at < p.length) p[o.at] = o.byte
              if (previous !== undefined && previous.which === o.which) previous = { ...previous, changed: true }
              continue
            }
            const hash = paymentHashOf(p)
            expect(hash).toEqual(sha256(p))
            // Asked again, unchanged, nothing hashed in between: the same array.
            if (previous !== undefined && previous.which === o.which && !previous.changed && p.length === 32) expect(hash).toBe(previous.hash)
            previous = { which: o.which, hash, changed: false }
          }
        }
      ),
      { numRuns: 300, seed: 2615 }
    )
  })

  it("the monitor stores the hash kept for the preimage its channel just checked (not hashed again)", () => {
    const p = newPair("hash-a", "hash-b")
    p.open()
    p.add(p.a, 5_000_000n, "h1")
    p.settle()
    const preimage = preimageFor("h1")
    expect(p.input(p.b, { _tag: "FulfillHtlc", htlcId: 0n, preimage })).toBeUndefined()
    // b checked the preimage (sendFulfill), then its monitor applied PaymentPreimage with it.
    const stored = p.b.monitor?.preimages.find((e) => e.preimage === preimage)
    expect(stored?.paymentHash).toEqual(sha256(preimage))
    expect(stored?.paymentHash).toBe(paymentHashOf(preimage))
  })
})
