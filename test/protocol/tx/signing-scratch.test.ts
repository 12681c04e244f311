/**
 * The commitment digest writes its funding script (BIP 143 scriptCode) into a reused buffer, and
 * the obscuring factor hashes its two basepoints in parts: both give the bytes of their plain
 * forms (a fresh `fundingScriptChunks` scriptCode; SHA-256 of the joined keys), for any keys
 * (sorted either way, equal, sharing a prefix), digests made one after another on the shared buffer;
 * and the HTLC scripts' remembered HASH160 of the revocation key is always the hash of the key given.
 */
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { ripemd160 } from "@noble/hashes/legacy.js"
import { describe, expect, it } from "vitest"
import { concatBytes, toHex } from "../../../src/protocol/bytes.ts"
import { unsafePublicKey, type PublicKey } from "../../../src/protocol/keys/keys.ts"
import { SIGHASH_ALL, segwitV0Sighash } from "../../../src/protocol/tx/bitcoin/sighash.ts"
import { buildCommitmentTransaction, commitmentNumberObscuringFactor } from "../../../src/protocol/tx/commitment.ts"
import { FUNDING_SCRIPT_SIZE, fundingScript, fundingScriptChunks, offeredHtlcScript, receivedHtlcScript, writeFundingScript } from "../../../src/protocol/tx/scripts.ts"
import { commitmentInput, commitmentSighash, inputSighash } from "../../../src/protocol/tx/signing.ts"
import { anchors, anchorsType, legacy, legacyType, ok, paramsOf } from "./fixtures.ts"

const body = fc.uint8Array({ minLength: 32, maxLength: 32 })
const key: fc.Arbitrary<PublicKey> = fc.tuple(fc.constantFrom(2, 3), body).map(([p, x]) => unsafePublicKey(Uint8Array.of(p, ...x)))
/** Two keys, sometimes equal or differing only in their last byte (the sort's edge cases). */
const keyPair = fc.oneof(
  fc.tuple(key, key),
  key.map((k) => [k, k] as const),
  fc.tuple(key, fc.integer({ min: 0, max: 255 })).map(([k, last]) => [k, unsafePublicKey(Uint8Array.from([...k.subarray(0, 32), last]))] as const)
)

const vectorCases = [
  ...legacy.tests.map((t) => paramsOf(legacy.common, t, legacyType)),
  ...anchors.tests.map((t) => paramsOf(anchors.common, t, anchorsType))
]

describe("commitment digest on the reused funding script", () => {
  it("writeFundingScript writes fundingScript's bytes, over whatever the buffer held", () => {
    const out = new Uint8Array(FUNDING_SCRIPT_SIZE).fill(0xee)
    fc.assert(
      fc.property(keyPair, ([a, b]) => {
        writeFundingScript(out, a, b)
        expect(toHex(out)).toBe(toHex(fundingScriptChunks(a, b)))
        expect(toHex(out)).toBe(toHex(fundingScript(b, a)))
      }),
      { seed: 13, numRuns: 300 }
    )
  })

  it("commitmentSighash equals the BIP 143 digest with a fresh funding script, for any funding keys, digests interleaved", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: vectorCases.length - 1 }), fc.integer({ min: 0, max: vectorCases.length - 1 }), keyPair, keyPair, (i, j, [a, b], [c, d]) => {
        const first = vectorCases[i]
        const second = vectorCases[j]
        if (first === undefined || second === undefined) throw new Error("no vector")
        // Built afresh (not through the shared memo): each digest is computed, on the one buffer.
        const x = ok(buildCommitmentTransaction({ ...first, localFundingPubkey: a, remoteFundingPubkey: b }))
        const y = ok(buildCommitmentTransaction({ ...second, localFundingPubkey: c, remoteFundingPubkey: d }))
        const dx = commitmentSighash(x)
        const dy = commitmentSighash(y)
        expect(toHex(dx)).toBe(toHex(segwitV0Sighash(x.tx, 0, fundingScriptChunks(a, b), first.fundingAmount, SIGHASH_ALL)))
        expect(toHex(dx)).toBe(toHex(inputSighash(commitmentInput(x), SIGHASH_ALL)))
        expect(toHex(dy)).toBe(toHex(segwitV0Sighash(y.tx, 0, fundingScriptChunks(c, d), second.fundingAmount, SIGHASH_ALL)))
      }),
      { seed: 13, numRuns: 150 }
    )
  })

  it("keeps the BOLT 3 vectors' funding script (Appendix C's funding keys)", () => {
    for (const params of vectorCases) {
      const c = ok(buildCommitmentTransaction(params))
      expect(toHex(commitmentSighash(c))).toBe(toHex(inputSighash(commitmentInput(c), SIGHASH_ALL)))
    }
  })
})

describe("commitmentNumberObscuringFactor hashed in parts", () => {
  it("is the lower 48 bits of SHA256(opener || accepter)", () => {
    fc.assert(
      fc.property(keyPair, ([opener, accepter]) => {
        const h = sha256(concatBytes(opener, accepter))
        let v = 0n
        for (let i = 26; i < 32; i++) v = (v << 8n) | BigInt(h[i] ?? 0)
        expect(commitmentNumberObscuringFactor(opener, accepter)).toBe(v)
      }),
      { seed: 13, numRuns: 300 }
    )
  })
})

describe("HTLC scripts' revocation key hash, remembered in a reused buffer", () => {
  it("every offered and received script carries HASH160 of its own revocation key, keys repeated or changed in place", () => {
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 10 }), key, (pool, steps, other) => {
        for (const [pick, mutate, offered] of steps) {
          const k = pool[pick % pool.length]
          if (k === undefined) return
          if (mutate) k[pick % 33] = ((k[pick % 33] ?? 0) + 1) & 0xff
          const keys = { revocationPubkey: k, localHtlcPubkey: other, remoteHtlcPubkey: other }
          const script = offered ? offeredHtlcScript(keys, new Uint8Array(32), false) : receivedHtlcScript(keys, new Uint8Array(32), 500, true)
          // OP_DUP OP_HASH160 <20 bytes> ...: the hash at 3..23.
          expect(toHex(script.subarray(3, 23))).toBe(toHex(ripemd160(sha256(k))))
        }
      }),
      { seed: 13, numRuns: 300 }
    )
  })
})
