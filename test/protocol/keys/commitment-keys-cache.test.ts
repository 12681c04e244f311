/**
 * The commitment keys cache: the same keys as `deriveCommitmentKeys` (BOLT 3 Appendix C, and
 * random basepoints and points), derived once per distinct input, least-recently-used eviction
 * at its capacity, no failure kept, and one derivation shared by the builder
 * (`buildCommitmentForSide`) and the in-process signer signing the same commitment.
 */
import { describe, expect, it } from "vitest"
import { Effect, Redacted, Result } from "effect"
import fc from "fast-check"
import { sha256 } from "@noble/hashes/sha2.js"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { deriveCommitmentKeys, deriveCounterpartyCommitmentKeys, deriveHolderCommitmentKeys, type ChannelBasepoints, type CommitmentKeys } from "../../../src/protocol/keys/commitment-keys.ts"
import { makeCommitmentKeysCache, sharedCommitmentKeysCache, SHARED_COMMITMENT_KEYS_CAPACITY } from "../../../src/protocol/keys/commitment-keys-cache.ts"
import { perCommitmentPoint } from "../../../src/protocol/keys/derivation.ts"
import { unsafePublicKey, type PublicKey } from "../../../src/protocol/keys/keys.ts"
import { wasmSecp256k1 as secp } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { deriveSecret } from "../../../src/protocol/keys/seed.ts"
import { anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import { txidFromBytes, type OutPoint } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { signCommitment } from "../../../src/protocol/tx/signing.ts"
import { buildCommitmentForSide, type ChannelView } from "../../../src/protocol/tx/view.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import { channelKeyId } from "../../../src/services/ChannelSigner.ts"
import { basepointsOf, legacy, ok } from "../tx/fixtures.ts"

const showKeys = (k: CommitmentKeys): string =>
  [k.perCommitmentPoint, k.revocationPubkey, k.localDelayedPubkey, k.localHtlcPubkey, k.remoteHtlcPubkey, k.remotePaymentPubkey].map(toHex).join(":")

const point = (label: string): PublicKey => ok(perCommitmentPoint(secp, sha256(new TextEncoder().encode(label))))
const basepoints = (label: string): ChannelBasepoints => ({
  fundingPubkey: point(`${label}/funding`),
  revocationBasepoint: point(`${label}/revocation`),
  paymentBasepoint: point(`${label}/payment`),
  delayedPaymentBasepoint: point(`${label}/delayed`),
  htlcBasepoint: point(`${label}/htlc`)
})

const enc = (s: string) => new TextEncoder().encode(s)
/** A signer's channel key id from a label. */
const id = (s: string) => {
  const k = channelKeyId(sha256(enc(s)))
  if (k === undefined) throw new Error("unreachable")
  return k
}
/** Alice's channel as her signer is told of it: she funds 1,000,000 sat (anchors), Bob's basepoints given. */
const aliceFunding = (fundingOutpoint: OutPoint, counterpartyBasepoints: ChannelBasepoints) => ({
  channelType: anchorsZeroFeeHtlcTx,
  fundingOutpoint,
  fundingAmount: sat(1_000_000n),
  holderIsFunder: true,
  counterpartyBasepoints,
  holderSelfDelay: 144,
  counterpartySelfDelay: 144,
  holderDustLimit: sat(354n),
  counterpartyDustLimit: sat(354n)
})

/** A secret key from a label (for the derivations with secrets). */
const secretOf = (label: string) => sha256(new TextEncoder().encode(`secret/${label}`))

describe("commitment keys cache", () => {
  it("gives BOLT 3 Appendix C's keys, derived once", () => {
    const c = legacy.common
    const { owner, counterparty } = basepointsOf(c)
    const p = unsafePublicKey(fromHex(c.internal_derivation_values.local_per_commitment_point))
    const cache = makeCommitmentKeysCache(4)
    const first = ok(cache.derive(secp, owner, counterparty, p))
    expect(toHex(first.revocationPubkey)).toBe(c.local_revocation_pubkey)
    expect(toHex(first.localDelayedPubkey)).toBe(c.local_delayedpubkey)
    expect(toHex(first.localHtlcPubkey)).toBe(c.local_htlcpubkey)
    expect(toHex(first.remoteHtlcPubkey)).toBe(c.remote_htlcpubkey)
    // Equal inputs in other arrays: a hit, the same keys.
    const again = ok(cache.derive(secp, { ...owner, htlcBasepoint: unsafePublicKey(Uint8Array.from(owner.htlcBasepoint)) }, counterparty, unsafePublicKey(Uint8Array.from(p))))
    expect(again).toBe(first)
    expect(cache.stats()).toEqual({ hits: 1, misses: 1 })
    expect(cache.size()).toBe(1)
  })

  it("property: equals deriveCommitmentKeys for any inputs, and never answers one input with another's keys", () => {
    const cache = makeCommitmentKeysCache(3)
    const labels = fc.constantFrom("a", "b", "c", "d")
    fc.assert(
      fc.property(labels, labels, labels, fc.boolean(), (o, cp, pt, swap) => {
        // Basepoints and points from a small pool, so that hits, misses and near-collisions
        // (same point, other basepoints; same basepoints, roles swapped) all occur.
        const owner = basepoints(o)
        const counterparty = basepoints(cp)
        const [x, y] = swap ? [counterparty, owner] : [owner, counterparty]
        const cached = cache.derive(secp, x, y, point(pt))
        const direct = deriveCommitmentKeys(secp, x, y, point(pt))
        expect(Result.isSuccess(cached)).toBe(true)
        expect(showKeys(ok(cached))).toBe(showKeys(ok(direct)))
        expect(cache.size()).toBeLessThanOrEqual(3)
      }),
      { numRuns: 150 }
    )
    expect(cache.stats().hits).toBeGreaterThan(0)
  })

  it("evicts the least recently used entry beyond its capacity", () => {
    const cache = makeCommitmentKeysCache(2)
    const [o, cp] = [basepoints("lru/owner"), basepoints("lru/counterparty")]
    const derive = (label: string) => ok(cache.derive(secp, o, cp, point(label)))
    derive("A")
    derive("B")
    derive("A") // A is now the most recently used
    derive("C") // evicts B
    expect(cache.stats()).toEqual({ hits: 1, misses: 3 })
    derive("A")
    expect(cache.stats()).toEqual({ hits: 2, misses: 3 })
    derive("B") // evicted: derived again (and evicts C)
    expect(cache.stats()).toEqual({ hits: 2, misses: 4 })
    expect(cache.size()).toBe(2)
    cache.clear()
    expect(cache.size()).toBe(0)
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 })
  })

  it("finds inputs again in other arrays, and never confuses points sharing the bytes of its key", () => {
    const cache = makeCommitmentKeysCache(3)
    const owner = basepoints("index/owner")
    const counterparty = basepoints("index/counterparty")
    // deriveWith with a marker per point (the memo only passes on what compute gave).
    const marked = (p: Uint8Array): CommitmentKeys => ({ ...ok(deriveCommitmentKeys(secp, owner, counterparty, point("index/p"))), perCommitmentPoint: unsafePublicKey(Uint8Array.from(p)) })
    let computed = 0
    const ask = (p: Uint8Array): string => {
      const keys = ok(cache.deriveWith(owner, counterparty, unsafePublicKey(Uint8Array.from(p)), () => {
        computed++
        return Result.succeed(marked(p))
      }))
      return toHex(keys.perCommitmentPoint)
    }
    // 33-byte values sharing their first seven bytes (one memo key: the basepoints are the same), differing after.
    const a = Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : 7))
    const b = Uint8Array.from(a)
    b[20] = 8
    expect(ask(a)).toBe(toHex(a))
    expect(ask(a)).toBe(toHex(a)) // a hit, asked with another array of a's bytes
    expect(computed).toBe(1)
    expect(ask(b)).toBe(toHex(b)) // under a's key, not a's inputs: derived, and replaces a's entry
    expect(ask(a)).toBe(toHex(a))
    expect(ask(b)).toBe(toHex(b))
    expect(computed).toBe(4)
    expect(cache.stats()).toEqual({ hits: 1, misses: 4 })
    // Many distinct points, beyond the capacity: answers stay each point's own.
    const many = Array.from({ length: 20 }, (_, k) => Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 3 : (k * 31 + i) & 0xff)))
    for (const p of many) expect(ask(p)).toBe(toHex(p))
    for (const p of many.slice(-3)) expect(ask(p)).toBe(toHex(p))
    expect(computed).toBe(24)
    expect(cache.stats()).toEqual({ hits: 4, misses: 24 })
  })

  it("never answers arrays changed in place with the keys of their old bytes", () => {
    const cache = makeCommitmentKeysCache(4)
    const owner = basepoints("inplace/owner")
    const counterparty = basepoints("inplace/counterparty")
    const p = unsafePublicKey(Uint8Array.from(point("inplace/point")))
    const expectKeys = (hits: number, misses: number) => {
      expect(showKeys(ok(cache.derive(secp, owner, counterparty, p)))).toBe(showKeys(ok(deriveCommitmentKeys(secp, owner, counterparty, p))))
      expect(cache.stats()).toEqual({ hits, misses })
    }
    expectKeys(0, 1)
    expectKeys(1, 1)
    // The same arrays, other bytes (valid points): other inputs.
    owner.htlcBasepoint.set(point("inplace/other-htlc"))
    expectKeys(1, 2)
    counterparty.revocationBasepoint.set(point("inplace/other-revocation"))
    expectKeys(1, 3)
    p.set(point("inplace/other-point"))
    expectKeys(1, 4)
    expectKeys(2, 4)
  })

  it("held then keep answer, keep and count as deriveWith does (random asks over a few inputs sharing memo keys, capacities 1-4)", () => {
    const owner = basepoints("split/owner")
    const counterparty = basepoints("split/counterparty")
    const base = ok(deriveCommitmentKeys(secp, owner, counterparty, point("split/p")))
    // Points sharing their first bytes (so memo keys collide) and differing after; a marker per point as in the test above.
    const points = Array.from({ length: 6 }, (_, k) => unsafePublicKey(Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : i === 30 ? k : 5))))
    const marked = (p: PublicKey): CommitmentKeys => ({ ...base, perCommitmentPoint: unsafePublicKey(Uint8Array.from(p)) })
    // A derivation's failure (not a point): neither form keeps it.
    const notAPoint = unsafePublicKey(Uint8Array.from({ length: 33 }, (_, i) => (i === 0 ? 2 : 0xff)))
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.boolean()), { maxLength: 40 }), (capacity, asks) => {
        const plain = makeCommitmentKeysCache(capacity)
        const split = makeCommitmentKeysCache(capacity)
        for (const [k, fails] of asks) {
          const p = unsafePublicKey(Uint8Array.from(points[k] ?? points[0]!))
          const computed = fails ? deriveCommitmentKeys(secp, owner, counterparty, notAPoint) : Result.succeed(marked(p))
          const a = plain.deriveWith(owner, counterparty, p, () => computed)
          const held = split.held(owner, counterparty, p)
          const b = held !== undefined ? Result.succeed(held) : split.keep(owner, counterparty, p, computed)
          expect(Result.isSuccess(b)).toBe(Result.isSuccess(a))
          if (Result.isSuccess(a) && Result.isSuccess(b)) expect(showKeys(b.success)).toBe(showKeys(a.success))
          expect(split.stats()).toEqual(plain.stats())
          expect(split.size()).toBe(plain.size())
        }
      }),
      { numRuns: 200, seed: 19 }
    )
  })

  it("deriveCounterpartyCommitmentKeys (with our revocation basepoint secret) gives deriveCommitmentKeys' keys, and its refusal", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (o, c, pt) => {
        const revocationSecret = secretOf(`${c}/revocation`)
        const htlcSecret = secretOf(`${c}/htlc`)
        const ours: ChannelBasepoints = {
          ...basepoints(c),
          revocationBasepoint: ok(perCommitmentPoint(secp, revocationSecret)),
          htlcBasepoint: ok(perCommitmentPoint(secp, htlcSecret))
        }
        const theirs = basepoints(o)
        const p = point(pt)
        const secrets = { revocationBasepointSecret: revocationSecret }
        expect(showKeys(ok(deriveCounterpartyCommitmentKeys(secp, theirs, ours, p, secrets)))).toBe(showKeys(ok(deriveCommitmentKeys(secp, theirs, ours, p))))
      }),
      { numRuns: 40 }
    )
    // Not a point: refused as the public derivation refuses it.
    const bytes = new Uint8Array(33).fill(0xff)
    bytes[0] = 2
    const bad = unsafePublicKey(bytes)
    const secrets = { revocationBasepointSecret: secretOf("r") }
    const withSecrets = deriveCounterpartyCommitmentKeys(secp, basepoints("x"), basepoints("y"), bad, secrets)
    const direct = deriveCommitmentKeys(secp, basepoints("x"), basepoints("y"), bad)
    expect(Result.isFailure(withSecrets) && Result.isFailure(direct) && withSecrets.failure.reason === direct.failure.reason).toBe(true)
  })

  it("deriveHolderCommitmentKeys (with the per-commitment secret and our delayed basepoint secret) gives deriveCommitmentKeys' keys", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (o, c, pt) => {
        const delayedSecret = secretOf(`${o}/delayed`)
        const htlcSecret = secretOf(`${o}/htlc`)
        const perCommitmentSecret = secretOf(`${pt}/point`)
        const ours: ChannelBasepoints = {
          ...basepoints(o),
          delayedPaymentBasepoint: ok(perCommitmentPoint(secp, delayedSecret)),
          htlcBasepoint: ok(perCommitmentPoint(secp, htlcSecret))
        }
        const theirs = basepoints(c)
        const p = ok(perCommitmentPoint(secp, perCommitmentSecret))
        const secrets = { perCommitmentSecret, delayedPaymentBasepointSecret: delayedSecret }
        expect(showKeys(ok(deriveHolderCommitmentKeys(secp, ours, theirs, p, secrets)))).toBe(showKeys(ok(deriveCommitmentKeys(secp, ours, theirs, p))))
      }),
      { numRuns: 40 }
    )
  })

  it("the secret-assisted derivations compute the two HTLC keys only when read, once, from the basepoints as they were; a bad HTLC basepoint is refused at once as the public derivation refuses it", () => {
    const calls = { pointTweakAdd: 0, publicKey: 0 }
    const counting: typeof secp = {
      ...secp,
      pointTweakAdd: (pt, t) => {
        calls.pointTweakAdd++
        return secp.pointTweakAdd(pt, t)
      },
      publicKey: (k) => {
        calls.publicKey++
        return secp.publicKey(k)
      }
    }
    const delayedSecret = secretOf("lazy/delayed")
    const perCommitmentSecret = secretOf("lazy/point")
    const ours: ChannelBasepoints = { ...basepoints("lazy/ours"), delayedPaymentBasepoint: ok(perCommitmentPoint(secp, delayedSecret)) }
    const theirs = basepoints("lazy/theirs")
    const p = ok(perCommitmentPoint(secp, perCommitmentSecret))
    const expected = ok(deriveCommitmentKeys(secp, ours, theirs, p))
    const secrets = { perCommitmentSecret, delayedPaymentBasepointSecret: delayedSecret }
    const keys = ok(deriveHolderCommitmentKeys(counting, ours, theirs, p, secrets))
    const eager = { ...calls }
    // The caller's arrays changed afterwards: the lazy keys are still those of the inputs as given.
    const theirHtlc = theirs.htlcBasepoint
    theirHtlc.fill(0, 1, 33)
    expect(toHex(keys.remoteHtlcPubkey)).toBe(toHex(expected.remoteHtlcPubkey))
    expect(toHex(keys.localHtlcPubkey)).toBe(toHex(expected.localHtlcPubkey))
    expect(calls.pointTweakAdd - eager.pointTweakAdd).toBe(2)
    expect(showKeys(keys)).toBe(showKeys(expected))
    expect(calls.pointTweakAdd - eager.pointTweakAdd).toBe(2) // kept after the first read
    expect(JSON.stringify(Object.keys(keys))).toBe(JSON.stringify(Object.keys(expected)))
    // Own enumerable properties, the lazy two included: a spread copies all six.
    expect(showKeys({ ...keys })).toBe(showKeys(expected))
    expect(Object.keys({ ...keys })).toEqual(Object.keys(expected))
    // Deep equality and JSON see the six keys and nothing else (what the getters keep is not enumerable).
    expect(keys).toEqual(expected)
    expect(JSON.stringify(keys)).toBe(JSON.stringify(expected))
    expect(Object.getOwnPropertySymbols(keys).every((k) => !Object.prototype.propertyIsEnumerable.call(keys, k))).toBe(true)
    // Each key set its own: a second one (another point) derives its own HTLC keys, the first keeps its.
    const p2 = ok(perCommitmentPoint(secp, secretOf("lazy/point2")))
    const other = ok(deriveHolderCommitmentKeys(counting, ours, basepoints("lazy/theirs"), p2, { ...secrets, perCommitmentSecret: secretOf("lazy/point2") }))
    expect(toHex(other.localHtlcPubkey)).toBe(toHex(ok(deriveCommitmentKeys(secp, ours, basepoints("lazy/theirs"), p2)).localHtlcPubkey))
    expect(toHex(keys.localHtlcPubkey)).toBe(toHex(expected.localHtlcPubkey))
    // A bad HTLC basepoint (either side): the public derivation's own refusal, at once.
    const bytes = new Uint8Array(33).fill(0xff)
    bytes[0] = 2
    const bad = unsafePublicKey(bytes)
    for (const [o, c] of [[{ ...ours, htlcBasepoint: bad }, basepoints("lazy/theirs")], [ours, { ...basepoints("lazy/theirs"), htlcBasepoint: bad }]] as const) {
      const lazy = deriveHolderCommitmentKeys(secp, o, c, p, secrets)
      const direct = deriveCommitmentKeys(secp, o, c, p)
      expect(Result.isFailure(lazy) && Result.isFailure(direct) && lazy.failure.reason === direct.failure.reason).toBe(true)
      const counterparty = deriveCounterpartyCommitmentKeys(secp, c, o, p, { revocationBasepointSecret: secretOf("lazy/r") })
      const counterpartyDirect = deriveCommitmentKeys(secp, c, o, p)
      expect(Result.isFailure(counterparty) && Result.isFailure(counterpartyDirect) && counterparty.failure.reason === counterpartyDirect.failure.reason).toBe(true)
    }
  })

  it("a signer with its channel registered puts the keys of our commitment in the memo when it gives the point out", () => {
    const cache = makeCommitmentKeysCache(8)
    const alice = makeSeedChannelSigner(sha256(enc("warm/alice")), secp, { commitmentKeys: cache })
    const aliceId = id("warm/alice/id")
    const aliceKeys = Effect.runSync(alice.channelPublicKeys(aliceId))
    const bobKeys = basepoints("warm/bob")
    Effect.runSync(alice.readyChannel(aliceId, aliceFunding({ txid: txidFromBytes(sha256(enc("warm/funding"))), vout: 0 }, bobKeys)))
    const p = Effect.runSync(alice.perCommitmentPoint(aliceId, 5n))
    expect(cache.stats()).toEqual({ hits: 0, misses: 1 })
    // The channel deriving our commitment 5's keys (from equal arrays of its own) finds them, and they are deriveCommitmentKeys' own.
    const copy = (b: ChannelBasepoints): ChannelBasepoints => ({
      fundingPubkey: unsafePublicKey(Uint8Array.from(b.fundingPubkey)),
      revocationBasepoint: unsafePublicKey(Uint8Array.from(b.revocationBasepoint)),
      paymentBasepoint: unsafePublicKey(Uint8Array.from(b.paymentBasepoint)),
      delayedPaymentBasepoint: unsafePublicKey(Uint8Array.from(b.delayedPaymentBasepoint)),
      htlcBasepoint: unsafePublicKey(Uint8Array.from(b.htlcBasepoint))
    })
    const found = ok(cache.derive(secp, copy(aliceKeys), copy(bobKeys), unsafePublicKey(Uint8Array.from(p))))
    expect(cache.stats()).toEqual({ hits: 1, misses: 1 })
    expect(showKeys(found)).toBe(showKeys(ok(deriveCommitmentKeys(secp, aliceKeys, bobKeys, p))))
  })

  it("keeps no failure, and refuses a capacity below one", () => {
    const cache = makeCommitmentKeysCache(2)
    // x = 2^256 - 1 is beyond the field: not a point.
    const bytes = new Uint8Array(33).fill(0xff)
    bytes[0] = 2
    const bad = unsafePublicKey(bytes)
    expect(Result.isFailure(cache.derive(secp, basepoints("f/o"), basepoints("f/c"), bad))).toBe(true)
    expect(Result.isFailure(cache.derive(secp, basepoints("f/o"), basepoints("f/c"), bad))).toBe(true)
    expect(cache.size()).toBe(0)
    expect(cache.stats()).toEqual({ hits: 0, misses: 2 })
    expect(() => makeCommitmentKeysCache(0)).toThrow(RangeError)
    expect(() => makeCommitmentKeysCache(1.5)).toThrow(RangeError)
    expect(sharedCommitmentKeysCache.capacity).toBe(SHARED_COMMITMENT_KEYS_CAPACITY)
  })

  it("derives a commitment's keys once for the channel's builder and the signer signing it", () => {
    const cache = makeCommitmentKeysCache(8)
    const alice = makeSeedChannelSigner(sha256(enc("cache/alice")), secp, { commitmentKeys: cache })
    const bob = makeSeedChannelSigner(sha256(enc("cache/bob")), secp)
    const [aliceId, bobId] = [id("cache/alice/id"), id("cache/bob/id")]
    const aliceKeys = Effect.runSync(alice.channelPublicKeys(aliceId))
    const bobKeys = Effect.runSync(bob.channelPublicKeys(bobId))
    const fundingOutpoint = { txid: txidFromBytes(sha256(enc("cache/funding"))), vout: 0 }
    const parameters = aliceFunding(fundingOutpoint, bobKeys)
    Effect.runSync(alice.readyChannel(aliceId, parameters))
    // Alice's channel view; she builds Bob's commitment ("remote") to send commitment_signed.
    const view: ChannelView = {
      channelType: anchorsZeroFeeHtlcTx,
      fundingOutpoint,
      fundingAmount: sat(1_000_000n),
      local: { basepoints: aliceKeys, dustLimit: sat(354n), toSelfDelay: 144 },
      remote: { basepoints: bobKeys, dustLimit: sat(354n), toSelfDelay: 144 },
      localIsOpener: true,
      toLocal: msat(600_000_000n),
      toRemote: msat(400_000_000n),
      htlcs: [],
      feeratePerKw: 253
    }
    const bobPoint = Effect.runSync(bob.perCommitmentPoint(bobId, 0n))
    const built = ok(buildCommitmentForSide(secp, view, "remote", 0n, bobPoint, cache))
    expect(cache.stats()).toEqual({ hits: 0, misses: 1 })
    const sigs = Effect.runSync(
      alice.signCounterpartyCommitment(aliceId, { commitmentNumber: 0n, feeratePerKw: 253, toLocal: msat(400_000_000n), toRemote: msat(600_000_000n), htlcs: [] }, bobPoint)
    )
    // The signer rebuilt the same transaction from the cached keys: no second derivation.
    expect(cache.stats()).toEqual({ hits: 1, misses: 1 })
    const funding = Redacted.make(deriveSecret(sha256(enc("cache/alice")), `channel/${toHex(aliceId)}/funding`, secp))
    expect(toHex(sigs.signature)).toBe(toHex(signCommitment(secp, built, funding)))
    // A signer asked first (its own empty cache) derives Bob's keys with its secrets: the same
    // commitment, the same signature as over the one built with the public derivation.
    const own = makeCommitmentKeysCache(8)
    const alone = makeSeedChannelSigner(sha256(enc("cache/alice")), secp, { commitmentKeys: own })
    Effect.runSync(alone.readyChannel(aliceId, parameters))
    const first = Effect.runSync(
      alone.signCounterpartyCommitment(aliceId, { commitmentNumber: 0n, feeratePerKw: 253, toLocal: msat(400_000_000n), toRemote: msat(600_000_000n), htlcs: [] }, bobPoint)
    )
    expect(own.stats()).toEqual({ hits: 0, misses: 1 })
    expect(toHex(first.signature)).toBe(toHex(sigs.signature))
  })
})
