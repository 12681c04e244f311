/**
 * The portable `nobleSecp256k1` keeps the `Secp256k1` contract on untrusted input: a digest
 * that is not 32 bytes or a recovery id outside 0..3 is refused (false / undefined), exactly
 * as the WASM and native implementations do, instead of being silently accepted.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { secp256k1Backends } from "../../layers/crypto/backends.ts"

const secret = new Uint8Array(32).fill(7)
const digest = sha256(new TextEncoder().encode("effect-lightning"))

describe.each(secp256k1Backends.map((s) => [s.name, s] as const))("%s on malformed input", (_name, secp: Secp256k1) => {
  const pub = secp.publicKey(secret)
  if (pub === undefined) throw new Error("valid secret has no key")
  const sig = secp.sign(digest, secret)
  const rec = secp.signRecoverable(digest, secret)

  it("verifies and recovers the genuine signature", () => {
    expect(secp.verify(sig, digest, pub)).toBe(true)
    expect(toHex(secp.recover(rec.signature, rec.recovery, digest) ?? new Uint8Array(0))).toBe(toHex(pub))
  })
  it("a digest of another length does not verify or recover", () => {
    for (const d of [digest.subarray(0, 31), new Uint8Array([...digest, 0]), new Uint8Array(0)]) {
      expect(secp.verify(sig, d, pub)).toBe(false)
      expect(secp.recover(rec.signature, rec.recovery, d)).toBeUndefined()
    }
  })
  it("a recovery id outside 0..3 recovers nothing", () => {
    for (const r of [-1, 4, 0.5, 1.5, Number.NaN]) expect(secp.recover(rec.signature, r, digest)).toBeUndefined()
  })
  it("signing a digest of another length is a caller bug and throws", () => {
    expect(() => secp.sign(digest.subarray(0, 31), secret)).toThrow()
    expect(() => secp.signRecoverable(new Uint8Array(33), secret)).toThrow()
  })
})
