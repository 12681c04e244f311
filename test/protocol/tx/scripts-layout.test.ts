/**
 * The BOLT 3 scripts written byte by byte (`fundingScript`, `toLocalScript`, `offeredHtlcScript`,
 * `receivedHtlcScript` in `tx/scripts.ts`) give exactly the bytes of their chunk forms (the
 * reference, compiled with `compileScript`), for any keys, payment hash, delay and expiry,
 * with and without anchors; inputs outside the byte layouts (keys of another length, numbers
 * out of range) go to the chunk forms. The same bytes when a payment hash's RIPEMD-160 comes from
 * the table of recent ones (again, after another hash took its entry, or a hash that differs only
 * after the bytes that pick the entry), and when the scripts are written into one `ScriptArena`
 * (full or not).
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
  ScriptArena,
  HTLC_SCRIPT_MAX,
  TO_LOCAL_SCRIPT_MAX,
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

  it("equal their chunk forms through the payment hash table: repeated hashes, hashes sharing an entry, a replaced entry", () => {
    const k = unsafePublicKey(Uint8Array.of(3, ...new Uint8Array(32).fill(9)))
    const keys = { revocationPubkey: k, localHtlcPubkey: k, remoteHtlcPubkey: k }
    fc.assert(
      fc.property(fc.array(fc.tuple(hash, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 31 })), { minLength: 1, maxLength: 12 }), (items) => {
        // Hashes that share their first two bytes (the same entry) and differ at one later byte, each written twice.
        for (const [h, variant, at] of items) {
          const clash = Uint8Array.from(h)
          clash[0] = 0xab
          clash[1] = 0xcd
          if (at >= 2) clash[at] = (clash[at] ?? 0) ^ variant
          for (const paymentHash of [h, clash, h, clash]) {
            expect(toHex(offeredHtlcScript(keys, paymentHash, true))).toBe(toHex(offeredHtlcScriptChunks(keys, paymentHash, true)))
            expect(toHex(receivedHtlcScript(keys, paymentHash, 600_000, false))).toBe(toHex(receivedHtlcScriptChunks(keys, paymentHash, 600_000, false)))
          }
        }
      }),
      { numRuns: 200, seed: 17 }
    )
    // The zero hash is not claimed by an empty entry; a payment hash of another length is hashed as given.
    for (const paymentHash of [new Uint8Array(32), new Uint8Array(31).fill(1), new Uint8Array(33).fill(2)]) {
      expect(toHex(offeredHtlcScript(keys, paymentHash, false))).toBe(toHex(offeredHtlcScriptChunks(keys, paymentHash, false)))
    }
  })

  it("equal their chunk forms when written into one arena, each its own part of it, and past its end", () => {
    fc.assert(
      fc.property(key, key, key, fc.array(fc.tuple(hash, number, fc.boolean()), { maxLength: 6 }), fc.integer({ min: 0, max: 0xffff }), fc.boolean(), fc.integer({ min: 0, max: 3 }), (revocationPubkey, localHtlcPubkey, remoteHtlcPubkey, htlcs, delay, anchors, missing) => {
        const keys = { revocationPubkey, localHtlcPubkey, remoteHtlcPubkey }
        // Sized as the builder sizes it, less `missing` HTLCs: the last scripts then get arrays of their own.
        const arena = new ScriptArena(TO_LOCAL_SCRIPT_MAX + HTLC_SCRIPT_MAX * Math.max(0, htlcs.length - missing))
        const written: Array<Uint8Array> = []
        for (const [paymentHash, n, offered] of htlcs) {
          const script = offered ? offeredHtlcScript(keys, paymentHash, anchors, arena) : receivedHtlcScript(keys, paymentHash, n, anchors, arena)
          expect(toHex(script)).toBe(toHex(offered ? offeredHtlcScriptChunks(keys, paymentHash, anchors) : receivedHtlcScriptChunks(keys, paymentHash, n, anchors)))
          expect(script.length).toBeLessThanOrEqual(HTLC_SCRIPT_MAX)
          written.push(script)
        }
        const toLocal = toLocalScript(revocationPubkey, delay, localHtlcPubkey, arena)
        expect(toHex(toLocal)).toBe(toHex(toLocalScriptChunks(revocationPubkey, delay, localHtlcPubkey)))
        expect(toLocal.length).toBeLessThanOrEqual(TO_LOCAL_SCRIPT_MAX)
        written.push(toLocal)
        // No two scripts overlap: each still holds its own bytes after all were written.
        const expected = written.map(toHex)
        written.forEach((script, i) => expect(toHex(script)).toBe(expected[i]))
        for (let i = 0; i < written.length; i++)
          for (let j = i + 1; j < written.length; j++) {
            const a = written[i], b = written[j]
            if (a !== undefined && b !== undefined && a.buffer === b.buffer)
              expect(a.byteOffset + a.length <= b.byteOffset || b.byteOffset + b.length <= a.byteOffset).toBe(true)
          }
      }),
      { numRuns: 300, seed: 17 }
    )
  })
})
