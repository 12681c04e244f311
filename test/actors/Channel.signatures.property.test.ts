/**
 * The peer's signatures of a `ValidateAndRevoke` as the `Channel` actor hands them to the signer
 * (`performSignerRequestNow`, `performSignerRequest`): with any lengths, the request is refused
 * (`SignerFailed`: "signature is not 64 bytes") exactly when one of them is not 64 bytes, and the
 * signer is not asked; otherwise it is asked once with copies (fresh arrays, not views of the
 * message's buffer) of the same bytes, in order. Both paths give the same.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import fc from "fast-check"
import { performSignerRequest, performSignerRequestNow } from "../../src/actors/Channel.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import type { SignerRequest } from "../../src/protocol/channel/io.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { msat } from "../../src/protocol/units.ts"
import { channelKeyId, type ChannelKeyId, type ChannelSignerNow, type ChannelSignerShape, InvalidSigningRequest } from "../../src/services/ChannelSigner.ts"

const keyIdOrUndefined = channelKeyId(new Uint8Array(32).fill(5))
if (keyIdOrUndefined === undefined) throw new Error("unreachable: 32 bytes")
const keyId: ChannelKeyId = keyIdOrUndefined
const seedSigner = makeSeedChannelSigner(new Uint8Array(32).fill(6), nobleSecp256k1)
const point = Effect.runSync(Effect.orDie(seedSigner.perCommitmentPoint(keyId, 0n)))

interface Seen {
  readonly signature: Uint8Array
  readonly htlcSignatures: ReadonlyArray<Uint8Array>
}

/** A signer that records what it is asked to validate, and accepts it, at once and through effects. */
const recording = (seen: Array<Seen>) => {
  const now: ChannelSignerNow = {
    perCommitmentPoint: () => Result.succeed(point),
    validateHolderCommitment: (_k, _c, signature, htlcSignatures) => Result.succeed(void seen.push({ signature, htlcSignatures })),
    releaseCommitmentSecret: () => Result.succeed(new Uint8Array(32)),
    signCounterpartyCommitment: () => Result.fail(new InvalidSigningRequest({ reason: "not used" }))
  }
  const effects: ChannelSignerShape = {
    ...seedSigner,
    perCommitmentPoint: () => Effect.succeed(point),
    validateHolderCommitment: (_k, _c, signature, htlcSignatures) => Effect.sync(() => void seen.push({ signature, htlcSignatures })),
    releaseCommitmentSecret: () => Effect.succeed(new Uint8Array(32))
  }
  return { now, effects }
}

/** Signature bytes as a view into a larger buffer (as a decoded message's are), of any length around 64. */
const viewArb = fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.nat({ max: 8 })).map(([bytes, pad]) => {
  const buffer = new Uint8Array(bytes.length + 2 * pad)
  buffer.set(bytes, pad)
  return buffer.subarray(pad, pad + bytes.length)
})
const sigArb = fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => {
  const buffer = new Uint8Array(100)
  buffer.set(b, 7)
  return buffer.subarray(7, 71)
}), viewArb)

describe("Channel: the peer's signatures handed to the signer", () => {
  it("refused exactly when one is not 64 bytes; otherwise copies of the same bytes, in order, on both paths", () => {
    fc.assert(
      fc.property(sigArb, fc.array(sigArb, { maxLength: 4 }), (signature, htlcSignatures) => {
        const request: SignerRequest = {
          _tag: "ValidateAndRevoke",
          holderCommitment: { commitmentNumber: 1n, feeratePerKw: 253, toLocal: msat(1_000_000n), toRemote: msat(0n), htlcs: [] },
          signature,
          htlcSignatures,
          nextCommitmentNumber: 2n
        }
        const bad = signature.length !== 64 || htlcSignatures.some((s) => s.length !== 64)
        for (const path of ["now", "effects"] as const) {
          const seen: Array<Seen> = []
          const signer = recording(seen)
          const result = path === "now" ? performSignerRequestNow(signer.now, keyId, request) : Effect.runSync(performSignerRequest(signer.effects, keyId, request))
          if (bad) {
            assert.deepStrictEqual(result, { _tag: "SignerFailed", reason: "signature is not 64 bytes" }, path)
            assert.strictEqual(seen.length, 0)
            continue
          }
          assert.strictEqual(result?._tag, "Revocation", path)
          assert.strictEqual(seen.length, 1)
          const got = seen[0]
          if (got === undefined) return assert.fail("not asked")
          assert.deepStrictEqual([...got.signature], [...signature])
          assert.deepStrictEqual(got.htlcSignatures.map((s) => [...s]), htlcSignatures.map((s) => [...s]))
          for (const [given, source] of [[got.signature, signature], ...got.htlcSignatures.map((s, i) => [s, htlcSignatures[i]] as const)] as const) {
            assert.notStrictEqual(given, source)
            assert.notStrictEqual(given.buffer, source?.buffer)
          }
        }
      }),
      { numRuns: 300, seed: 5 }
    )
  })
})
