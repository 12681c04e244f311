/**
 * The memo of successful verifications answers exactly as `secp.verify`: a remembered triple is
 * not verified again, a failure is never remembered, another signature or key under a remembered
 * digest is verified, and the memo stays within its capacity.
 */
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
