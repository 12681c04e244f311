/**
 * The memo of successful verifications answers exactly as `secp.verify`: a remembered triple is
 * not verified again, a failure is never remembered, another signature or key under a remembered
 * digest is verified, and the memo stays within its capacity.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { makeVerifiedSignatures } from "../../../src/protocol/tx/verified-signatures.ts"

const enc = (s: string) => new TextEncoder().encode(s)

const counting = (inner: Secp256k1): { secp: Secp256k1; calls: () => number } => {
  let n = 0
  return {
    secp: { ...inner, verify: (sig, digest, pub) => (n++, inner.verify(sig, digest, pub)) },
    calls: () => n
  }
}

describe("makeVerifiedSignatures", () => {
  const secret = sha256(enc("key"))
  const other = sha256(enc("other key"))
  const pub = nobleSecp256k1.publicKey(secret)
  const otherPub = nobleSecp256k1.publicKey(other)
  if (pub === undefined || otherPub === undefined) throw new Error("unreachable")
  const digest = sha256(enc("message"))
  const sig = nobleSecp256k1.sign(digest, secret)

  it("answers as verify; a remembered triple is a lookup", () => {
    const memo = makeVerifiedSignatures(4)
    const { secp, calls } = counting(nobleSecp256k1)
    expect(memo.verify(secp, sig, digest, pub)).toBe(true)
    expect(memo.verify(secp, sig, digest, pub)).toBe(true)
    expect(calls()).toBe(1)
    expect(memo.stats()).toEqual({ hits: 1, misses: 1 })
  })

  it("answers a remembered triple once, then forgets it (a third check verifies again)", () => {
    const memo = makeVerifiedSignatures(4)
    const { secp, calls } = counting(nobleSecp256k1)
    expect(memo.verify(secp, sig, digest, pub)).toBe(true)
    expect(memo.size()).toBe(1)
    expect(memo.verify(secp, sig, digest, pub)).toBe(true)
    expect(memo.size()).toBe(0)
    expect(calls()).toBe(1)
    expect(memo.verify(secp, sig, digest, pub)).toBe(true)
    expect(calls()).toBe(2)
    expect(memo.stats()).toEqual({ hits: 1, misses: 2 })
  })

  it("never remembers a failure, and checks the signature and key of a remembered digest", () => {
    const memo = makeVerifiedSignatures(4)
    const { secp, calls } = counting(nobleSecp256k1)
    expect(memo.verify(secp, sig, digest, otherPub)).toBe(false)
    expect(memo.verify(secp, sig, digest, otherPub)).toBe(false)
    expect(calls()).toBe(2)
    expect(memo.verify(secp, sig, digest, pub)).toBe(true)
    expect(memo.verify(secp, sig, digest, otherPub)).toBe(false)
    const tampered = Uint8Array.from(sig)
    tampered[10] = (tampered[10] ?? 0) ^ 1
    expect(memo.verify(secp, tampered, digest, pub)).toBe(false)
    expect(memo.size()).toBe(1)
  })

  it("property: answers exactly as verify for any sequence of triples, a signature and key split elsewhere included", () => {
    // A lenient curve that accepts signatures by their length alone (64 and 61, 67... but not
    // 60, 62, 63...): lengths other than 64 then verify too, and a (signature, key) pair with the
    // same bytes end to end as a remembered one, split elsewhere, must be asked of the curve,
    // not answered from the memo.
    const lenient: Secp256k1 = { ...nobleSecp256k1, verify: (s) => s.length % 3 === 1 }
    const bytes = fc.constantFrom(new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(1, 2))
    const triple = fc.record({ digest: fc.constantFrom(digest, sha256(enc("other message"))), head: bytes, tail: bytes, split: fc.integer({ min: 60, max: 68 }) })
    fc.assert(
      fc.property(fc.array(triple, { minLength: 1, maxLength: 12 }), (triples) => {
        // One memo per curve (a memo answers for the curve that filled it).
        const memo = makeVerifiedSignatures(3)
        const nobleMemo = makeVerifiedSignatures(3)
        for (const t of triples) {
          // One byte run (a signature-like prefix, the key, some extra bytes) cut at `split`.
          const run = Uint8Array.from([...t.head, ...sig, ...pub, ...t.tail])
          const signature = run.slice(0, t.split)
          const key = run.slice(t.split)
          expect(memo.verify(lenient, signature, t.digest, key)).toBe(lenient.verify(signature, t.digest, key))
          expect(nobleMemo.verify(nobleSecp256k1, signature, t.digest, key)).toBe(nobleSecp256k1.verify(signature, t.digest, key))
        }
      }),
      { numRuns: 300 }
    )
  })

  it("never answers a digest with another's verification when they share their first bytes (the memo's number)", () => {
    // A lenient curve accepting every triple whose digest ends in 0: the digests differ after the bits of the memo's number.
    const lenient: Secp256k1 = { ...nobleSecp256k1, verify: (_s, d) => d[31] === 0 }
    const memo = makeVerifiedSignatures(4)
    const accepted = new Uint8Array(32)
    const refused = Uint8Array.from(accepted)
    refused[31] = 1
    expect(memo.verify(lenient, sig, accepted, pub)).toBe(true)
    expect(memo.verify(lenient, sig, refused, pub)).toBe(false)
    expect(memo.verify(lenient, sig, accepted, pub)).toBe(true)
    expect(memo.stats()).toEqual({ hits: 1, misses: 2 })
  })

  it("keeps only triples of the channel path's lengths (32-byte digest, 64-byte signature, 33-byte key): others are verified every time", () => {
    // A lenient curve accepting anything: a 65-byte signature and a 32-byte key would be remembered otherwise.
    const lenient = counting({ ...nobleSecp256k1, verify: () => true })
    const memo = makeVerifiedSignatures(4)
    const longSig = Uint8Array.from([...sig, 1])
    const shortKey = pub.subarray(1)
    for (let i = 0; i < 2; i++) {
      expect(memo.verify(lenient.secp, longSig, digest, pub)).toBe(true)
      expect(memo.verify(lenient.secp, sig, digest, shortKey)).toBe(true)
      expect(memo.verify(lenient.secp, sig, digest.subarray(1), pub)).toBe(true)
    }
    expect(lenient.calls()).toBe(6)
    expect(memo.size()).toBe(0)
    expect(memo.stats()).toEqual({ hits: 0, misses: 0 })
  })

  it("stays within its capacity (least recently used out)", () => {
    const memo = makeVerifiedSignatures(2)
    for (let i = 0; i < 5; i++) {
      const d = sha256(enc(`m${i}`))
      expect(memo.verify(nobleSecp256k1, nobleSecp256k1.sign(d, secret), d, pub)).toBe(true)
    }
    expect(memo.size()).toBe(2)
    expect(() => makeVerifiedSignatures(0)).toThrow(RangeError)
  })
})
