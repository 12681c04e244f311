/**
 * The in-process seed signer's own contract: its documented key derivation (so keys can be
 * recovered from the seed and the channel key ids alone), its configuration checks, and that the
 * same seed gives the same signer whichever secp256k1 implementation does the arithmetic.
 * Behaviour through the service interface is in `test/services/ChannelSigner.test.ts`.
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { deriveSecret } from "../../../src/protocol/keys/seed.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import * as SeedChannelSigner from "../../../src/layers/signer/SeedChannelSigner.ts"
import { indexOfCommitment, perCommitmentSecret } from "../../../src/protocol/keys/shachain.ts"
import { ChannelSigner, channelKeyId } from "../../../src/services/ChannelSigner.ts"
import { hex, must } from "./fixture.ts"

const seed = sha256(new TextEncoder().encode("seed-signer"))
const keyId = channelKeyId(sha256(new TextEncoder().encode("seed-signer/key-id")))
if (keyId === undefined) throw new Error("unreachable")

describe("SeedChannelSigner", () => {
  it("derives each basepoint as G * deriveSecret(seed, \"channel/<key id>/<purpose>\")", () => {
    const keys = must(makeSeedChannelSigner(seed, wasmSecp256k1).channelPublicKeys(keyId))
    const expected = (purpose: string) => hex(nobleSecp256k1.publicKey(deriveSecret(seed, `channel/${hex(keyId)}/${purpose}`, nobleSecp256k1)) ?? new Uint8Array())
    expect(hex(keys.fundingPubkey)).toBe(expected("funding"))
    expect(hex(keys.revocationBasepoint)).toBe(expected("revocation"))
    expect(hex(keys.paymentBasepoint)).toBe(expected("payment"))
    expect(hex(keys.delayedPaymentBasepoint)).toBe(expected("delayed_payment"))
    expect(hex(keys.htlcBasepoint)).toBe(expected("htlc"))
  })

  it("per-commitment points come from the commitment seed (BOLT 3 generate_from_seed at index 2^48-1-n)", () => {
    const signer = makeSeedChannelSigner(seed, nobleSecp256k1)
    const commitmentSeed = deriveSecret(seed, `channel/${hex(keyId)}/commitment_seed`, nobleSecp256k1)
    for (const n of [0n, 1n, 2n, 1000n, (1n << 48n) - 1n]) {
      const secret = perCommitmentSecret(commitmentSeed, indexOfCommitment(n))
      expect(hex(must(signer.perCommitmentPoint(keyId, n)))).toBe(hex(nobleSecp256k1.publicKey(secret) ?? new Uint8Array()))
    }
  })

  it("is the same signer with noble or WASM arithmetic, and another seed gives other keys", () => {
    const a = must(makeSeedChannelSigner(seed, nobleSecp256k1).channelPublicKeys(keyId))
    const b = must(makeSeedChannelSigner(seed, wasmSecp256k1).channelPublicKeys(keyId))
    const c = must(makeSeedChannelSigner(sha256(seed), wasmSecp256k1).channelPublicKeys(keyId))
    expect(Object.values(a).map(hex)).toEqual(Object.values(b).map(hex))
    for (const [k, v] of Object.entries(c)) expect(hex(v)).not.toBe(hex(a[k as keyof typeof a]))
  })

  it("finds a channel by its key id's bytes, also when the caller changes its key id array in place", () => {
    const signer = makeSeedChannelSigner(seed, wasmSecp256k1)
    const idA = channelKeyId(new Uint8Array(32).fill(1))
    const idB = channelKeyId(new Uint8Array(32).fill(2))
    if (idA === undefined || idB === undefined) throw new Error("unreachable")
    const a = hex(must(signer.channelPublicKeys(idA)).fundingPubkey)
    const b = hex(must(signer.channelPublicKeys(idB)).fundingPubkey)
    expect(a).not.toBe(b)
    // One array asked again and again (as the channel does), then refilled with the other id.
    const held = channelKeyId(Uint8Array.from(idA))
    if (held === undefined) throw new Error("unreachable")
    expect(hex(must(signer.channelPublicKeys(held)).fundingPubkey)).toBe(a)
    expect(hex(must(signer.channelPublicKeys(held)).fundingPubkey)).toBe(a)
    held.set(idB)
    expect(hex(must(signer.channelPublicKeys(held)).fundingPubkey)).toBe(b)
    held.set(idA)
    expect(hex(must(signer.channelPublicKeys(held)).fundingPubkey)).toBe(a)
  })

  it("rejects a seed that is not 32 bytes; copies the seed it is given", () => {
    expect(() => makeSeedChannelSigner(new Uint8Array(31), wasmSecp256k1)).toThrow(RangeError)
    expect(() => makeSeedChannelSigner(new Uint8Array(33), wasmSecp256k1)).toThrow(RangeError)
    const mutable = seed.slice()
    const signer = makeSeedChannelSigner(mutable, wasmSecp256k1)
    const before = hex(must(signer.channelPublicKeys(keyId)).fundingPubkey)
    mutable.fill(0)
    const otherId = channelKeyId(new Uint8Array(32).fill(5))
    if (otherId === undefined) throw new Error("unreachable")
    // A channel first derived after the caller wiped its buffer still uses the original seed.
    const later = hex(must(signer.channelPublicKeys(otherId)).fundingPubkey)
    const reference = hex(must(makeSeedChannelSigner(seed, wasmSecp256k1).channelPublicKeys(otherId)).fundingPubkey)
    expect(later).toBe(reference)
    expect(before).toBe(hex(must(makeSeedChannelSigner(seed, wasmSecp256k1).channelPublicKeys(keyId)).fundingPubkey))
  })

  it("its layer provides ChannelSigner", async () => {
    const keys = await Effect.gen(function* () {
      const signer = yield* ChannelSigner
      return yield* signer.channelPublicKeys(keyId)
    }).pipe(Effect.provide(SeedChannelSigner.layerWith(seed, wasmSecp256k1)), Effect.runPromise)
    expect(hex(keys.fundingPubkey)).toBe(hex(must(makeSeedChannelSigner(seed, nobleSecp256k1).channelPublicKeys(keyId)).fundingPubkey))
  })

  it("its production layer (the fastest secp256k1 that loads) provides the same signer", async () => {
    const keys = await Effect.gen(function* () {
      const signer = yield* ChannelSigner
      return yield* signer.channelPublicKeys(keyId)
    }).pipe(Effect.provide(SeedChannelSigner.layer(seed)), Effect.runPromise)
    expect(hex(keys.htlcBasepoint)).toBe(hex(must(makeSeedChannelSigner(seed, nobleSecp256k1).channelPublicKeys(keyId)).htlcBasepoint))
  })
})
