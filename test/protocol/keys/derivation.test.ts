import { Redacted, Result } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { concatBytes } from "../../../src/protocol/bytes.ts"
import {
  derivePrivateKey,
  derivePrivateKeyAtBasepoint,
  derivePrivateKeyTweakAt,
  derivePublicKey,
  deriveRevocationPrivateKey,
  deriveRevocationPublicKey,
  perCommitmentPoint
} from "../../../src/protocol/keys/derivation.ts"
import { makePrivateKey, parsePublicKey, publicKeyOf } from "../../../src/protocol/keys/keys.ts"
import { VECTORS_DIR } from "../../vectors.ts"

const v = JSON.parse(readFileSync(`${VECTORS_DIR}/bolt03-key-derivation.json`, "utf8")) as {
  inputs: { base_secret: string; per_commitment_secret: string; base_point: string; per_commitment_point: string }
  vectors: ReadonlyArray<{ output_name: string; output: string }>
}
const secp = nobleSecp256k1
const out = (name: string): string => v.vectors.find((x) => x.output_name === name)?.output ?? "missing"
const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error("unexpected failure")
  return r.success
}

describe("BOLT 3 Appendix E: key derivation", () => {
  const baseSecret = ok(makePrivateKey(secp, fromHex(v.inputs.base_secret)))
  const pcSecret = fromHex(v.inputs.per_commitment_secret)
  const basepoint = fromHex(v.inputs.base_point)
  const point = fromHex(v.inputs.per_commitment_point)

  it("inputs are consistent", () => {
    expect(toHex(publicKeyOf(secp, baseSecret))).toBe(v.inputs.base_point)
    expect(toHex(ok(perCommitmentPoint(secp, pcSecret)))).toBe(v.inputs.per_commitment_point)
  })
  it("localpubkey", () => expect(toHex(ok(derivePublicKey(secp, basepoint, point)))).toBe(out("localpubkey")))
  it("localprivkey", () => {
    const k = ok(derivePrivateKey(secp, baseSecret, point))
    expect(toHex(Redacted.value(k))).toBe(out("localprivkey"))
    expect(toHex(publicKeyOf(secp, k))).toBe(out("localpubkey"))
  })
  it("revocationpubkey", () => expect(toHex(ok(deriveRevocationPublicKey(secp, basepoint, point)))).toBe(out("revocationpubkey")))
  it("revocationprivkey", () => {
    const k = ok(deriveRevocationPrivateKey(secp, baseSecret, pcSecret))
    expect(toHex(Redacted.value(k))).toBe(out("revocationprivkey"))
    expect(toHex(publicKeyOf(secp, k))).toBe(out("revocationpubkey"))
  })
  it("invalid points yield typed errors, never key material", () => {
    const bad = new Uint8Array(33).fill(7)
    const r = derivePublicKey(secp, bad, point)
    expect(Result.isFailure(r) && r.failure._tag).toBe("KeyDerivationError")
    expect(Result.isFailure(deriveRevocationPublicKey(secp, basepoint, bad))).toBe(true)
    expect(Result.isFailure(parsePublicKey(secp, bad))).toBe(true)
    const badKey = makePrivateKey(secp, new Uint8Array(32))
    expect(Result.isFailure(badKey)).toBe(true)
    // an out-of-range secret is refused without being echoed anywhere in the error
    const secret = new Uint8Array(32).fill(0xff) // >= n
    const refused = makePrivateKey(secp, secret)
    expect(Result.isFailure(refused)).toBe(true)
    if (Result.isFailure(refused)) {
      const shown = `${String(refused.failure)} ${JSON.stringify(refused.failure)} ${refused.failure.message}`
      expect(shown).not.toContain("ffffff")
      expect(shown).not.toContain("255,255")
    }
  })
  it("private keys never print or serialise", () => {
    const k = ok(derivePrivateKey(secp, baseSecret, point))
    const hex = out("localprivkey")
    expect(String(k)).not.toContain(hex)
    expect(JSON.stringify({ k })).not.toContain(hex)
    expect(JSON.stringify({ k })).not.toContain(String(Redacted.value(k)[0]) + ",")
  })
})

describe("the last tweak kept (derivePublicKey, then derivePrivateKeyTweakAt / derivePrivateKeyAtBasepoint at the same points)", () => {
  it("property: any interleaving of the derivations, over a few points and basepoints given in fresh or reused arrays (changed in place too), gives the plain formulas' keys", () => {
    const secretOf = (i: number) => sha256(Uint8Array.of(7, i))
    const secrets = [0, 1, 2].map(secretOf)
    const basepoints = secrets.map((k) => ok(perCommitmentPoint(secp, k)))
    const points = [10, 11, 12].map((i) => ok(perCommitmentPoint(secp, secretOf(i))))
    /** basepoint_secret + SHA256(point || basepoint) mod n, and its point. */
    const plainSecret = (k: Uint8Array, base: Uint8Array, p: Uint8Array) => secp.secretAdd(k, sha256(concatBytes(p, base)))
    const reused = Uint8Array.from(points[0] ?? [])
    const op = fc.tuple(fc.constantFrom("public", "private", "redacted", "mutate"), fc.nat({ max: 2 }), fc.nat({ max: 2 }), fc.boolean())
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        reused.set(points[0] ?? [])
        for (const [what, b, p, useReused] of ops) {
          const base = Uint8Array.from(basepoints[b] ?? [])
          const point = useReused ? reused : Uint8Array.from(points[p] ?? [])
          const k = secrets[b] ?? new Uint8Array(32)
          const expected = plainSecret(k, base, point)
          if (expected === undefined) throw new Error("unreachable")
          if (what === "mutate") reused.set(points[p] ?? [])
          else if (what === "public") expect(toHex(ok(derivePublicKey(secp, base, point)))).toBe(toHex(secp.publicKey(expected) ?? new Uint8Array(0)))
          else if (what === "private") expect(toHex(derivePrivateKeyTweakAt(secp, k, base, point) ?? new Uint8Array(0))).toBe(toHex(expected))
          else expect(toHex(Redacted.value(ok(derivePrivateKeyAtBasepoint(secp, Redacted.make(k), base, point))))).toBe(toHex(expected))
        }
      }),
      { numRuns: 150, seed: 19 }
    )
  })
})
