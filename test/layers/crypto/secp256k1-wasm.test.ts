/**
 * The fast secp256k1 backends, libsecp256k1 in WASM (tiny-secp256k1) and native (the `secp256k1`
 * package's addon), must be drop-ins for the portable noble one: same bytes out for the same
 * bytes in (RFC 6979 makes signatures deterministic), and the same `undefined`/`false` on every
 * invalid input. Spec vectors (BOLT 3 Appendix E, BOLT 8 ECDH, BOLT 11 recoverable signatures)
 * run against all three (`backends.ts`).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { fastBackends, secp256k1Backends } from "./backends.ts"
import { concatBytes, fromHex, toHex } from "../../../src/protocol/bytes.ts"
import keyDerivation from "../../vectors/bolt03-key-derivation.json" with { type: "json" }
import transport from "../../vectors/bolt08-transport.json" with { type: "json" }
import invoices from "../../vectors/bolt11-invoices.json" with { type: "json" }

const impls: ReadonlyArray<Secp256k1> = secp256k1Backends

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const scalarBytes = (n: bigint): Uint8Array => fromHex(n.toString(16).padStart(64, "0"))

/** Either result rendered comparably: hex for bytes, "undefined" for undefined. */
const show = (v: Uint8Array | undefined): string => (v === undefined ? "undefined" : toHex(v))

const mustHex = (v: Uint8Array | undefined): string => {
  if (v === undefined) throw new Error("unexpected undefined")
  return toHex(v)
}

// --- generators ---------------------------------------------------------------------------

/** A valid secret key: 32 random bytes reduced into [1, n-1]. */
const secretArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => {
  let n = 0n
  for (const x of b) n = (n << 8n) | BigInt(x)
  return scalarBytes((n % (N - 1n)) + 1n)
})
const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const pointArb = secretArb.map((s) => {
  const p = nobleSecp256k1.publicKey(s)
  if (p === undefined) throw new Error("unreachable")
  return p
})
/** Bytes that are sometimes a valid point: 33 bytes with a 02/03/04/other prefix, or a wrong length. */
const maybePointArb = fc.oneof(
  pointArb,
  fc.tuple(fc.constantFrom(2, 3), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([p, x]) => concatBytes(Uint8Array.of(p), x)),
  fc.uint8Array({ minLength: 33, maxLength: 33 }),
  fc.uint8Array({ minLength: 0, maxLength: 70 })
)
const edgeScalars = [0n, 1n, 2n, N - 2n, N - 1n, N, N + 1n, 2n ** 256n - 1n].map(scalarBytes)
/** Bytes that are sometimes a valid secret: edges of the range, random 32 bytes, wrong lengths. */
const maybeSecretArb = fc.oneof(
  secretArb,
  fc.constantFrom(...edgeScalars),
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.uint8Array({ minLength: 0, maxLength: 40 })
)

describe("BOLT 3 Appendix E key derivation, from the raw operations, on every implementation", () => {
  const { inputs, vectors } = keyDerivation
  const vector = (name: string) => {
    const v = vectors.find((x) => x.output_name === name)
    if (v === undefined) throw new Error(`missing vector ${name}`)
    return v
  }
  const baseSecret = fromHex(inputs.base_secret)
  const perCommitmentSecret = fromHex(inputs.per_commitment_secret)
  const basePoint = fromHex(inputs.base_point)
  const perCommitmentPoint = fromHex(inputs.per_commitment_point)

  for (const ec of impls) {
    it(`${ec.name}: points of the inputs`, () => {
      expect(show(ec.publicKey(baseSecret))).toBe(inputs.base_point)
      expect(show(ec.publicKey(perCommitmentSecret))).toBe(inputs.per_commitment_point)
    })

    it(`${ec.name}: localpubkey = basepoint + SHA256(per_commitment_point || basepoint)*G`, () => {
      const tweak = sha256(concatBytes(perCommitmentPoint, basePoint))
      expect(toHex(tweak)).toBe(vector("localpubkey").intermediate.sha256_per_commitment_point_basepoint)
      const tweakPoint = ec.publicKey(tweak)
      if (tweakPoint === undefined) throw new Error("tweak out of range")
      expect(show(ec.pointAdd(basePoint, tweakPoint))).toBe(vector("localpubkey").output)
      expect(show(ec.pointTweakAdd(basePoint, tweak))).toBe(vector("localpubkey").output)
    })

    it(`${ec.name}: localprivkey = basepoint_secret + SHA256(per_commitment_point || basepoint)`, () => {
      const tweak = sha256(concatBytes(perCommitmentPoint, basePoint))
      const priv = ec.secretAdd(baseSecret, tweak)
      expect(show(priv)).toBe(vector("localprivkey").output)
      expect(show(ec.publicKey(priv ?? new Uint8Array(32)))).toBe(vector("localpubkey").output)
    })

    it(`${ec.name}: revocationpubkey`, () => {
      const v = vector("revocationpubkey")
      const h1 = sha256(concatBytes(basePoint, perCommitmentPoint))
      const h2 = sha256(concatBytes(perCommitmentPoint, basePoint))
      expect(toHex(h1)).toBe(v.intermediate.sha256_revocation_basepoint_per_commitment_point)
      expect(toHex(h2)).toBe(v.intermediate.sha256_per_commitment_point_revocation_basepoint)
      const a = ec.pointMultiply(basePoint, h1)
      const b = ec.pointMultiply(perCommitmentPoint, h2)
      expect(show(a)).toBe(v.intermediate.revocation_basepoint_times_h1)
      expect(show(b)).toBe(v.intermediate.per_commitment_point_times_h2)
      expect(show(ec.pointAdd(fromHex(mustHex(a)), fromHex(mustHex(b))))).toBe(v.output)
    })

    it(`${ec.name}: revocationprivkey`, () => {
      const v = vector("revocationprivkey")
      const h1 = sha256(concatBytes(basePoint, perCommitmentPoint))
      const h2 = sha256(concatBytes(perCommitmentPoint, basePoint))
      const a = ec.secretMultiply(baseSecret, h1)
      const b = ec.secretMultiply(perCommitmentSecret, h2)
      expect(show(a)).toBe(v.intermediate.revocation_basepoint_secret_times_h1)
      expect(show(b)).toBe(v.intermediate.per_commitment_secret_times_h2)
      const priv = ec.secretAdd(fromHex(mustHex(a)), fromHex(mustHex(b)))
      expect(show(priv)).toBe(v.output)
      expect(show(ec.publicKey(fromHex(mustHex(priv))))).toBe(vector("revocationpubkey").output)
    })
  }
})

describe("BOLT 8 ECDH and BOLT 11 recoverable signatures on every implementation", () => {
  for (const ec of impls) {
    it(`${ec.name}: the three ECDHs of the successful initiator handshake`, () => {
      const t = transport.initiator_tests[0]
      if (t === undefined) throw new Error("missing vector")
      const traceValue = (trace: ReadonlyArray<object> | undefined, key: string): string => {
        for (const step of trace ?? []) {
          const v: unknown = (step as Record<string, unknown>)[key]
          if (typeof v === "string") return v
        }
        throw new Error(`no ${key} in trace`)
      }
      const re = fromHex(traceValue(t.act_two.trace, "re"))
      expect(show(ec.ecdh(fromHex(t.e_priv), fromHex(t.rs_pub)))).toBe(traceValue(t.act_one.trace, "ss"))
      expect(show(ec.ecdh(fromHex(t.e_priv), re))).toBe(traceValue(t.act_two.trace, "ss"))
      expect(show(ec.ecdh(fromHex(t.ls_priv), re))).toBe(traceValue(t.act_three?.trace, "ss"))
      expect(show(ec.publicKey(fromHex(t.e_priv)))).toBe(t.e_pub)
      expect(show(ec.publicKey(fromHex(t.ls_priv)))).toBe(t.ls_pub)
    })

    it(`${ec.name}: every valid invoice's signature is RFC 6979 from the spec key and recovers the signer`, () => {
      const key = fromHex(invoices.signing_privkey)
      for (const v of invoices.valid) {
        const digest = fromHex(v.expected.signing_hash)
        const sig = fromHex(v.expected.signature)
        const recovered = ec.recover(sig, v.expected.recovery_flag, digest)
        expect(show(recovered)).toBe(v.expected.recovered_pubkey)
        if (v.expected.high_s) {
          // The spec's high-S example: recovery works on it, verification (low-S only) must not.
          expect(ec.verify(sig, digest, fromHex(invoices.signing_pubkey))).toBe(false)
        } else {
          expect(v.expected.recovered_pubkey).toBe(invoices.signing_pubkey)
          expect(ec.verify(sig, digest, fromHex(invoices.signing_pubkey))).toBe(true)
          const mine = ec.signRecoverable(digest, key)
          expect(toHex(mine.signature)).toBe(v.expected.signature)
          expect(mine.recovery).toBe(v.expected.recovery_flag)
        }
      }
    })
  }
})

for (const fast of fastBackends) describe(`noble and ${fast.name} agree on valid inputs`, () => {
  const runs = { numRuns: 100 }

  it("public keys", () => {
    fc.assert(fc.property(secretArb, (s) => {
        expect(show(fast.publicKey(s))).toBe(show(nobleSecp256k1.publicKey(s)))
      }),
      runs
    )
  })

  it("signatures are identical, low-S, and each verifies under both", () => {
    fc.assert(
      fc.property(secretArb, digestArb, (s, d) => {
        const a = nobleSecp256k1.sign(d, s)
        const b = fast.sign(d, s)
        expect(toHex(b)).toBe(toHex(a))
        expect(BigInt(`0x${toHex(a.subarray(32))}`) <= N / 2n).toBe(true)
        const pub = nobleSecp256k1.publicKey(s)
        if (pub === undefined) throw new Error("unreachable")
        expect(fast.verify(a, d, pub)).toBe(true)
        expect(nobleSecp256k1.verify(b, d, pub)).toBe(true)
      }),
      runs
    )
  })

  it("recoverable signatures and recovery", () => {
    fc.assert(
      fc.property(secretArb, digestArb, (s, d) => {
        const a = nobleSecp256k1.signRecoverable(d, s)
        const b = fast.signRecoverable(d, s)
        expect(toHex(b.signature)).toBe(toHex(a.signature))
        expect(b.recovery).toBe(a.recovery)
        const pub = show(nobleSecp256k1.publicKey(s))
        expect(show(fast.recover(a.signature, a.recovery, d))).toBe(pub)
        expect(show(nobleSecp256k1.recover(b.signature, b.recovery, d))).toBe(pub)
      }),
      runs
    )
  })

  it("ECDH is symmetric and identical", () => {
    fc.assert(
      fc.property(secretArb, secretArb, (x, y) => {
        const X = nobleSecp256k1.publicKey(x)
        const Y = nobleSecp256k1.publicKey(y)
        if (X === undefined || Y === undefined) throw new Error("unreachable")
        const ss = show(nobleSecp256k1.ecdh(x, Y))
        expect(show(fast.ecdh(x, Y))).toBe(ss)
        expect(show(fast.ecdh(y, X))).toBe(ss)
      }),
      runs
    )
  })

  it("tweaks: pointAdd, pointMultiply, secretAdd, secretMultiply, and their consistency", () => {
    fc.assert(
      fc.property(secretArb, secretArb, (a, b) => {
        const A = nobleSecp256k1.publicKey(a)
        const B = nobleSecp256k1.publicKey(b)
        if (A === undefined || B === undefined) throw new Error("unreachable")
        const sum = show(nobleSecp256k1.pointAdd(A, B))
        expect(show(fast.pointAdd(A, B))).toBe(sum)
        const prod = show(nobleSecp256k1.pointMultiply(A, b))
        expect(show(fast.pointMultiply(A, b))).toBe(prod)
        // A + b*G = A + B, in one call.
        expect(show(fast.pointTweakAdd(A, b))).toBe(sum)
        expect(show(nobleSecp256k1.pointTweakAdd(A, b))).toBe(sum)
        const sAdd = nobleSecp256k1.secretAdd(a, b)
        expect(show(fast.secretAdd(a, b))).toBe(show(sAdd))
        const sMul = nobleSecp256k1.secretMultiply(a, b)
        expect(show(fast.secretMultiply(a, b))).toBe(show(sMul))
        // (a+b)G = A+B and (ab)G = b*A, under the fast implementation.
        if (sAdd !== undefined) expect(show(fast.publicKey(sAdd))).toBe(sum)
        if (sMul !== undefined) expect(show(fast.publicKey(sMul))).toBe(prod)
      }),
      runs
    )
  })
})

for (const fast of fastBackends) describe(`noble and ${fast.name} agree on invalid and edge inputs`, () => {
  const runs = { numRuns: 1000 }

  it("secret validation and public keys on arbitrary bytes", () => {
    fc.assert(
      fc.property(maybeSecretArb, (s) => {
        expect(fast.isValidSecret(s)).toBe(nobleSecp256k1.isValidSecret(s))
        expect(show(fast.publicKey(s))).toBe(show(nobleSecp256k1.publicKey(s)))
      }),
      runs
    )
  })

  it("point validation on arbitrary bytes", () => {
    fc.assert(
      fc.property(maybePointArb, (p) => {
        expect(fast.isValidPoint(p)).toBe(nobleSecp256k1.isValidPoint(p))
      }),
      runs
    )
  })

  it("ECDH, pointMultiply and pointAdd on arbitrary points and scalars", () => {
    fc.assert(
      fc.property(maybeSecretArb, maybePointArb, maybePointArb, (s, p, q) => {
        expect(show(fast.ecdh(s, p))).toBe(show(nobleSecp256k1.ecdh(s, p)))
        expect(show(fast.pointMultiply(p, s))).toBe(show(nobleSecp256k1.pointMultiply(p, s)))
        expect(show(fast.pointAdd(p, q))).toBe(show(nobleSecp256k1.pointAdd(p, q)))
        expect(show(fast.pointTweakAdd(p, s))).toBe(show(nobleSecp256k1.pointTweakAdd(p, s)))
      }),
      { numRuns: 300 }
    )
  })

  it("secretAdd and secretMultiply on arbitrary scalars", () => {
    fc.assert(
      fc.property(maybeSecretArb, maybeSecretArb, (a, b) => {
        expect(show(fast.secretAdd(a, b))).toBe(show(nobleSecp256k1.secretAdd(a, b)))
        expect(show(fast.secretMultiply(a, b))).toBe(show(nobleSecp256k1.secretMultiply(a, b)))
      }),
      runs
    )
  })

  it("verify and recover on arbitrary signatures", () => {
    const sigArb = fc.oneof(
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc.uint8Array({ minLength: 0, maxLength: 72 }),
      fc.constantFrom(...edgeScalars).chain((r) => fc.constantFrom(...edgeScalars).map((s) => concatBytes(r, s)))
    )
    fc.assert(
      fc.property(sigArb, digestArb, maybePointArb, fc.integer({ min: -1, max: 4 }), (sig, d, p, rec) => {
        expect(fast.verify(sig, d, p)).toBe(nobleSecp256k1.verify(sig, d, p))
        expect(show(fast.recover(sig, rec, d))).toBe(show(nobleSecp256k1.recover(sig, rec, d)))
      }),
      { numRuns: 500 }
    )
  })

  it("explicit edges: zero results, infinity, high-S, tampering", () => {
    for (const ec of impls) {
      const one = scalarBytes(1n)
      const nMinusOne = scalarBytes(N - 1n)
      // a + (n - a) = 0 is not a secret.
      expect(ec.secretAdd(one, nMinusOne)).toBeUndefined()
      expect(show(ec.secretAdd(scalarBytes(0n), one))).toBe(toHex(one))
      expect(ec.secretAdd(scalarBytes(0n), scalarBytes(0n))).toBeUndefined()
      expect(ec.secretAdd(scalarBytes(N), one)).toBeUndefined()
      // G + (-G) is the point at infinity.
      const G = ec.publicKey(one)
      const minusG = ec.publicKey(nMinusOne)
      if (G === undefined || minusG === undefined) throw new Error("unreachable")
      expect(ec.pointAdd(G, minusG)).toBeUndefined()
      expect(ec.pointMultiply(G, scalarBytes(0n))).toBeUndefined()
      // G + (n-1)G is infinity; a zero tweak leaves the point; a tweak >= n is out of range.
      expect(ec.pointTweakAdd(G, nMinusOne)).toBeUndefined()
      expect(show(ec.pointTweakAdd(G, scalarBytes(0n)))).toBe(toHex(G))
      expect(ec.pointTweakAdd(G, scalarBytes(N))).toBeUndefined()
      expect(show(ec.pointTweakAdd(G, one))).toBe(show(ec.publicKey(scalarBytes(2n))))
      expect(ec.pointMultiply(G, scalarBytes(N))).toBeUndefined()
      expect(ec.ecdh(scalarBytes(0n), G)).toBeUndefined()
      // Uncompressed points are not accepted anywhere.
      expect(ec.isValidPoint(concatBytes(Uint8Array.of(4), new Uint8Array(64)))).toBe(false)
      // High-S: (r, n - s) is the same signature mathematically, but must not verify.
      const digest = sha256(Uint8Array.of(1, 2, 3))
      const sig = ec.sign(digest, one)
      expect(ec.verify(sig, digest, G)).toBe(true)
      const s = BigInt(`0x${toHex(sig.subarray(32))}`)
      const highS = concatBytes(sig.subarray(0, 32), scalarBytes(N - s))
      expect(ec.verify(highS, digest, G)).toBe(false)
      // A flipped bit in the signature or digest, or another key: rejected.
      const tampered = sig.slice()
      tampered[10] = (tampered[10] ?? 0) ^ 1
      expect(ec.verify(tampered, digest, G)).toBe(false)
      const otherDigest = digest.slice()
      otherDigest[0] = (otherDigest[0] ?? 0) ^ 0x80
      expect(ec.verify(sig, otherDigest, G)).toBe(false)
      expect(ec.verify(sig, digest, minusG)).toBe(false)
      // Invalid secrets make signing throw (a caller bug), in both.
      expect(() => ec.sign(digest, scalarBytes(0n))).toThrow()
      expect(() => ec.sign(digest, scalarBytes(N))).toThrow()
    }
  })
})
