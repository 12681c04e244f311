/**
 * The ChannelSigner service through its in-process seed implementation: deterministic keys,
 * per-commitment points and secrets, the revocation policy (a secret is released only once a
 * newer commitment is validated; a revoked commitment is never signed), counterparty signature
 * checks, and that no secret ever shows in what the signer returns, throws or prints.
 * Property tests: a signature made by one side verifies on the other for random channel states,
 * and the signer never releases an unrevoked secret under random sequences of operations.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import fc from "fast-check"
import { inspect } from "node:util"
import { sha256 } from "@noble/hashes/sha2.js"
import { nobleSecp256k1, type Secp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { deriveSecret } from "../../src/protocol/keys/seed.ts"
import { makeSeedChannelSigner } from "../../src/layers/signer/SeedChannelSigner.ts"
import * as SeedChannelSigner from "../../src/layers/signer/SeedChannelSigner.ts"
import { anchorsZeroFeeHtlcTx, staticRemoteKey, type ChannelType } from "../../src/protocol/channel-type.ts"
import { derivePrivateKey } from "../../src/protocol/keys/derivation.ts"
import { emptySecretStore, indexOfCommitment, insertSecret, perCommitmentSecret, type SecretStore } from "../../src/protocol/keys/shachain.ts"
import { makeInput, txidFromBytes, type Transaction } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { p2wpkhScript } from "../../src/protocol/tx/bitcoin/script.ts"
import { msat, sat } from "../../src/protocol/units.ts"
import { ChannelSigner, channelKeyId, type CommitmentState, type CompactSignature } from "../../src/services/ChannelSigner.ts"
import {
  attempt,
  exchangeCommitment,
  failureTag,
  hex,
  htlc,
  must,
  openChannel,
  stateFor,
  type Channel,
  type ChannelHtlc,
  type Party
} from "../layers/signer/fixture.ts"

const FEERATE = 1000
const balances = { alice: msat(7_000_000_000n), bob: msat(3_000_000_000n) }
const simpleState = (owner: "alice" | "bob", n: bigint): CommitmentState => stateFor(owner, n, FEERATE, balances, [])

const secretHexes = (p: Party): ReadonlyArray<string> => {
  const labels = ["funding", "revocation", "payment", "delayed_payment", "htlc", "commitment_seed"]
  return [hex(p.seed), ...labels.map((l) => hex(deriveSecret(p.seed, `channel/${hex(p.keyId)}/${l}`, nobleSecp256k1)))]
}

/** JSON with byte arrays as hex, so that a leaked secret would show as its hex. */
const dump = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : typeof v === "bigint" ? v.toString() : v)) ?? "undefined"

describe("keys", () => {
  it("are deterministic in (seed, key id), the same with noble and WASM, and distinct per channel", () => {
    const a = openChannel(staticRemoteKey, nobleSecp256k1, { label: "keys" })
    const b = openChannel(staticRemoteKey, wasmSecp256k1, { label: "keys" })
    expect(dump(a.alice.basepoints)).toBe(dump(b.alice.basepoints))
    expect(dump(a.bob.basepoints)).toBe(dump(b.bob.basepoints))
    const other = openChannel(staticRemoteKey, wasmSecp256k1, { label: "keys/other" })
    const all = [a.alice, a.bob, other.alice].flatMap((p) => Object.values(p.basepoints).map(hex))
    expect(new Set(all).size).toBe(all.length)
    for (const k of all) expect(wasmSecp256k1.isValidPoint(Buffer.from(k, "hex"))).toBe(true)
    // The documented derivation: basepoint = G * deriveSecret(seed, "channel/<key id>/<purpose>").
    const funding = deriveSecret(a.alice.seed, `channel/${hex(a.alice.keyId)}/funding`, nobleSecp256k1)
    expect(hex(nobleSecp256k1.publicKey(funding) ?? new Uint8Array())).toBe(hex(a.alice.basepoints.fundingPubkey))
  })

  it("per-commitment points and released secrets follow BOLT 3 generate_from_seed, and the receiver's shachain storage accepts them", () => {
    const ch = openChannel(staticRemoteKey, wasmSecp256k1, { label: "secrets" })
    const { alice } = ch
    const seed = deriveSecret(alice.seed, `channel/${hex(alice.keyId)}/commitment_seed`, nobleSecp256k1)
    let store: SecretStore = emptySecretStore
    exchangeCommitment(ch, "alice", simpleState("alice", 0n))
    for (let n = 0n; n < 20n; n++) {
      exchangeCommitment(ch, "alice", simpleState("alice", n + 1n))
      const secret = must(alice.signer.releaseCommitmentSecret(alice.keyId, n))
      expect(hex(secret)).toBe(hex(perCommitmentSecret(seed, indexOfCommitment(n))))
      expect(hex(wasmSecp256k1.publicKey(secret) ?? new Uint8Array())).toBe(hex(must(alice.signer.perCommitmentPoint(alice.keyId, n))))
      const next = insertSecret(store, secret, indexOfCommitment(n))
      assert.isTrue(Result.isSuccess(next))
      if (Result.isSuccess(next)) store = next.success
    }
    // Releasing an already revoked commitment again (retransmission after reconnection) is allowed.
    expect(hex(must(alice.signer.releaseCommitmentSecret(alice.keyId, 3n)))).toBe(hex(perCommitmentSecret(seed, indexOfCommitment(3n))))
  })

  it("the layer provides the service", () =>
    Effect.gen(function* () {
      const signer = yield* ChannelSigner
      const id = channelKeyId(new Uint8Array(32).fill(9))
      if (id === undefined) throw new Error("unreachable")
      const keys = yield* signer.channelPublicKeys(id)
      expect(keys.fundingPubkey.length).toBe(33)
      const tag = yield* signer.releaseCommitmentSecret(id, 0n).pipe(Effect.flip, Effect.map((e) => e._tag))
      expect(tag).toBe("SignerPolicyViolation")
    }).pipe(Effect.provide(SeedChannelSigner.layerWith(new Uint8Array(32).fill(1), wasmSecp256k1)), Effect.runPromise))
})

describe("revocation policy", () => {
  it("never releases the secret of the current commitment; never signs a revoked one", () => {
    const ch = openChannel(anchorsZeroFeeHtlcTx, wasmSecp256k1, { label: "policy" })
    const { alice } = ch
    const s = alice.signer
    expect(failureTag(s.releaseCommitmentSecret(alice.keyId, 0n))).toBe("SignerPolicyViolation")
    const point0 = must(s.perCommitmentPoint(alice.keyId, 0n))
    const sigs0 = must(ch.bob.signer.signCounterpartyCommitment(ch.bob.keyId, simpleState("alice", 0n), point0))
    must(s.validateHolderCommitment(alice.keyId, simpleState("alice", 0n), sigs0.signature, sigs0.htlcSignatures))
    expect(failureTag(s.releaseCommitmentSecret(alice.keyId, 0n))).toBe("SignerPolicyViolation")
    expect(failureTag(s.releaseCommitmentSecret(alice.keyId, 1n))).toBe("SignerPolicyViolation")
    must(s.signHolderCommitment(alice.keyId, 0n))
    exchangeCommitment(ch, "alice", simpleState("alice", 1n))
    // #0 still unrevoked: it may be broadcast...
    must(s.signHolderCommitment(alice.keyId, 0n))
    must(s.releaseCommitmentSecret(alice.keyId, 0n))
    // ...but not once revoked, nor re-validated.
    expect(failureTag(s.signHolderCommitment(alice.keyId, 0n))).toBe("SignerPolicyViolation")
    expect(failureTag(s.signHolderHtlcTransaction(alice.keyId, 0n, 0, undefined))).toBe("SignerPolicyViolation")
    expect(failureTag(s.validateHolderCommitment(alice.keyId, simpleState("alice", 0n), sigs0.signature, sigs0.htlcSignatures))).toBe("SignerPolicyViolation")
    expect(failureTag(s.releaseCommitmentSecret(alice.keyId, 1n))).toBe("SignerPolicyViolation")
    must(s.signHolderCommitment(alice.keyId, 1n))
    // #1 and #2 may be held unrevoked together, not a third; and #2 stays the transaction first validated.
    exchangeCommitment(ch, "alice", simpleState("alice", 2n))
    const point3 = must(s.perCommitmentPoint(alice.keyId, 3n))
    const sigs3 = must(ch.bob.signer.signCounterpartyCommitment(ch.bob.keyId, simpleState("alice", 3n), point3))
    expect(failureTag(s.validateHolderCommitment(alice.keyId, simpleState("alice", 3n), sigs3.signature, sigs3.htlcSignatures))).toBe("SignerPolicyViolation")
    must(s.releaseCommitmentSecret(alice.keyId, 1n))
    must(s.validateHolderCommitment(alice.keyId, simpleState("alice", 3n), sigs3.signature, sigs3.htlcSignatures))
    const other = makeOtherBob(ch)
    const point2 = must(s.perCommitmentPoint(alice.keyId, 2n))
    const richer = { ...simpleState("alice", 2n), toLocal: msat(7_500_000_000n), toRemote: msat(2_500_000_000n) }
    const sigsOther = must(other.signer.signCounterpartyCommitment(other.keyId, richer, point2))
    expect(failureTag(s.validateHolderCommitment(alice.keyId, richer, sigsOther.signature, sigsOther.htlcSignatures))).toBe("SignerPolicyViolation")
    // A commitment never validated cannot be signed.
    expect(failureTag(s.signHolderCommitment(alice.keyId, 7n))).toBe("InvalidSigningRequest")
    expect(failureTag(s.perCommitmentPoint(alice.keyId, -1n))).toBe("InvalidSigningRequest")
    expect(failureTag(s.perCommitmentPoint(alice.keyId, 1n << 48n))).toBe("InvalidSigningRequest")
  })

  it("counterparty commitments advance one number at a time, one transaction per number", () => {
    const ch = openChannel(staticRemoteKey, wasmSecp256k1, { label: "policy-counterparty" })
    const { alice, bob } = ch
    const sign = (n: bigint, state: CommitmentState = simpleState("alice", n)) =>
      bob.signer.signCounterpartyCommitment(bob.keyId, state, must(alice.signer.perCommitmentPoint(alice.keyId, n)))
    must(sign(5n)) // the first one may start anywhere (e.g. after a restore)
    must(sign(5n)) // the identical transaction again: a retransmission
    const other = { ...simpleState("alice", 5n), feeratePerKw: FEERATE * 2 }
    expect(failureTag(sign(5n, other))).toBe("SignerPolicyViolation")
    expect(failureTag(sign(7n))).toBe("SignerPolicyViolation")
    must(sign(6n))
    expect(failureTag(sign(5n))).toBe("SignerPolicyViolation")
    must(sign(7n))
  })

  it("property: under random operation sequences, a secret is released iff a newer commitment was validated", () => {
    const ch = openChannel(staticRemoteKey, wasmSecp256k1, { label: "policy-prop" })
    // Fresh key ids per run, same counterparty: each run starts with an empty policy state.
    let run = 0
    const op = fc.oneof(
      fc.constant({ _tag: "validateNext" as const }),
      fc.record({ _tag: fc.constant("release" as const), n: fc.bigInt({ min: 0n, max: 8n }) }),
      fc.record({ _tag: fc.constant("broadcast" as const), n: fc.bigInt({ min: 0n, max: 8n }) })
    )
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 14 }), (ops) => {
        run++
        const a0 = withFreshRecord(ch.alice, `alice/${run}`)
        const b0 = withFreshRecord(ch.bob, `bob/${run}`)
        const me: Party = { ...a0, params: { ...ch.alice.params, counterpartyBasepoints: b0.basepoints } }
        const them: Party = { ...b0, params: { ...ch.bob.params, counterpartyBasepoints: a0.basepoints } }
        must(me.signer.readyChannel(me.keyId, me.params))
        must(them.signer.readyChannel(them.keyId, them.params))
        const local: Channel = { ...ch, alice: me, bob: them }
        let nextToValidate = 0n
        let highest = -1n
        let revokedBelow = 0n
        for (const o of ops) {
          if (o._tag === "validateNext") {
            // Held unrevoked: the validated numbers from max(revokedBelow, 0) to highest.
            const unrevoked = highest < revokedBelow ? 0n : highest - revokedBelow + 1n
            const point = must(me.signer.perCommitmentPoint(me.keyId, nextToValidate))
            const state = simpleState("alice", nextToValidate)
            const sigs = must(local.bob.signer.signCounterpartyCommitment(local.bob.keyId, state, point))
            const r = attempt(me.signer.validateHolderCommitment(me.keyId, state, sigs.signature, sigs.htlcSignatures))
            expect(Result.isSuccess(r)).toBe(unrevoked < 2n)
            if (Result.isSuccess(r)) {
              highest = nextToValidate
              nextToValidate++
            }
          } else if (o._tag === "release") {
            const r = attempt(me.signer.releaseCommitmentSecret(me.keyId, o.n))
            expect(Result.isSuccess(r)).toBe(o.n < highest)
            if (Result.isSuccess(r) && o.n + 1n > revokedBelow) revokedBelow = o.n + 1n
          } else {
            const r = attempt(me.signer.signHolderCommitment(me.keyId, o.n))
            expect(Result.isSuccess(r)).toBe(o.n >= revokedBelow && o.n <= highest)
          }
        }
      }),
      { numRuns: 40 }
    )
  })
})

/**
 * Bob's keys in a signer with fresh policy state (so it will sign a commitment number Bob's own
 * signer already signed differently): what a counterparty offering two states would produce.
 */
const makeOtherBob = (ch: Channel): Party => {
  const signer = makeSeedChannelSigner(ch.bob.seed, wasmSecp256k1)
  must(signer.readyChannel(ch.bob.keyId, ch.bob.params))
  return { ...ch.bob, signer }
}

/** The party under a fresh key id (so each property run starts with empty signer state). */
const withFreshRecord = (p: Party, tag: string): Party => {
  const id = channelKeyId(sha256(new TextEncoder().encode(`policy-prop/${tag}`)))
  if (id === undefined) throw new Error("unreachable")
  return { ...p, keyId: id, basepoints: must(p.signer.channelPublicKeys(id)) }
}

describe("signatures across the two sides", () => {
  const htlcArb = fc.record({
    offeredBy: fc.constantFrom("alice" as const, "bob" as const),
    amountSat: fc.bigInt({ min: 1n, max: 300_000n }),
    cltv: fc.integer({ min: 1, max: 1_000_000 }),
    label: fc.string({ maxLength: 8 })
  })
  const stateArb = fc.record({
    type: fc.constantFrom(staticRemoteKey, anchorsZeroFeeHtlcTx),
    htlcs: fc.array(htlcArb, { maxLength: 5 }),
    aliceShare: fc.integer({ min: 0, max: 100 }),
    feerate: fc.integer({ min: 253, max: 20_000 }),
    n: fc.bigInt({ min: 0n, max: (1n << 48n) - 1n })
  })
  // A fresh channel per run (same keys for both implementations): the signer only signs
  // counterparty commitments in order, and each run picks a random commitment number.
  let runs = 0
  const channelFor = (type: ChannelType, secp: Secp256k1): Channel => openChannel(type, secp, { label: `cross/${runs}` })

  it("property: each side's signatures on the other's commitment (and HTLC txs) verify there; noble and WASM sign identically", () => {
    fc.assert(
      fc.property(stateArb, ({ type, htlcs, aliceShare, feerate, n }) => {
        runs++
        const chans = [channelFor(type, wasmSecp256k1), channelFor(type, nobleSecp256k1)]
        const list: Array<ChannelHtlc> = htlcs.map((h, i) => htlc(h.offeredBy, h.amountSat, h.cltv, `${h.label}/${i}`))
        const inFlight = list.reduce((a, h) => a + h.amount, 0n)
        const rest = 10_000_000_000n - inFlight
        const aliceBal = (rest * BigInt(aliceShare)) / 100n
        const bal = { alice: msat(aliceBal), bob: msat(rest - aliceBal) }
        const results = chans.map((ch) =>
          (["alice", "bob"] as const).map((owner) => {
            const state = stateFor(owner, n, feerate, bal, list)
            const me = owner === "alice" ? ch.alice : ch.bob
            const them = owner === "alice" ? ch.bob : ch.alice
            const point = must(me.signer.perCommitmentPoint(me.keyId, n))
            const sigs = must(them.signer.signCounterpartyCommitment(them.keyId, state, point))
            must(me.signer.validateHolderCommitment(me.keyId, state, sigs.signature, sigs.htlcSignatures))
            return dump(sigs)
          })
        )
        expect(results[0]).toEqual(results[1])
      }),
      { numRuns: 15 }
    )
  })

  it("a tampered, missing, extra or stale counterparty signature is refused", () => {
    const ch = openChannel(staticRemoteKey, wasmSecp256k1, { label: "tamper" })
    const { alice, bob } = ch
    const list = [htlc("alice", 50_000n, 700, "t1"), htlc("bob", 60_000n, 800, "t2")]
    const state = stateFor("alice", 4n, FEERATE, { alice: msat(6_000_000_000n), bob: msat(3_890_000_000n) }, list)
    const point = must(alice.signer.perCommitmentPoint(alice.keyId, 4n))
    const sigs = must(bob.signer.signCounterpartyCommitment(bob.keyId, state, point))
    expect(sigs.htlcSignatures.length).toBe(2)
    const flip = (s: CompactSignature): CompactSignature => {
      const t = s.slice()
      t[5] = (t[5] ?? 0) ^ 1
      return t as CompactSignature
    }
    const failure = (commitmentSig: CompactSignature, htlcSigs: ReadonlyArray<CompactSignature>, st: CommitmentState = state) => {
      const r = attempt(alice.signer.validateHolderCommitment(alice.keyId, st, commitmentSig, htlcSigs))
      return Result.isFailure(r) ? r.failure : undefined
    }
    const [h0, h1] = sigs.htlcSignatures
    if (h0 === undefined || h1 === undefined) throw new Error("unreachable")
    expect(failure(flip(sigs.signature), sigs.htlcSignatures)).toMatchObject({ _tag: "InvalidCounterpartySignature", htlcIndex: undefined })
    expect(failure(sigs.signature, [h0, flip(h1)])).toMatchObject({ _tag: "InvalidCounterpartySignature", htlcIndex: 1 })
    expect(failure(sigs.signature, [h1, h0])).toMatchObject({ _tag: "InvalidCounterpartySignature", htlcIndex: 0 })
    expect(failure(sigs.signature, [h0])).toMatchObject({ _tag: "InvalidCounterpartySignature" })
    expect(failure(sigs.signature, [h0, h1, h1])).toMatchObject({ _tag: "InvalidCounterpartySignature" })
    // Signatures for another feerate do not validate this state.
    expect(failure(sigs.signature, sigs.htlcSignatures, { ...state, feeratePerKw: FEERATE + 1 })).toMatchObject({ _tag: "InvalidCounterpartySignature" })
    expect(failure(sigs.signature, sigs.htlcSignatures)).toBeUndefined()
    // Nothing was recorded by the failed attempts before the good one.
    must(alice.signer.signHolderCommitment(alice.keyId, 4n))
  })
})

describe("requests the signer refuses", () => {
  it("before readyChannel, with conflicting parameters, or with bad data", () => {
    const ch = openChannel(staticRemoteKey, wasmSecp256k1, { label: "refuse" })
    const { alice } = ch
    const freshId = channelKeyId(new Uint8Array(32).fill(3))
    if (freshId === undefined) throw new Error("unreachable")
    const point = must(ch.bob.signer.perCommitmentPoint(ch.bob.keyId, 0n))
    expect(failureTag(alice.signer.signCounterpartyCommitment(freshId, simpleState("bob", 0n), point))).toBe("InvalidSigningRequest")
    must(alice.signer.readyChannel(alice.keyId, alice.params))
    expect(failureTag(alice.signer.readyChannel(alice.keyId, { ...alice.params, holderSelfDelay: 7 }))).toBe("SignerPolicyViolation")
    // x = 2^256 - 1 is beyond the field: not a point.
    const badPoint = new Uint8Array(33).fill(0xff)
    badPoint[0] = 2
    expect(failureTag(alice.signer.readyChannel(freshId, { ...alice.params, counterpartyBasepoints: { ...alice.params.counterpartyBasepoints, htlcBasepoint: badPoint as never } }))).toBe(
      "InvalidSigningRequest"
    )
    expect(failureTag(alice.signer.signCounterpartyCommitment(alice.keyId, simpleState("bob", 0n), badPoint as never))).toBe("InvalidSigningRequest")
    expect(failureTag(alice.signer.readyChannel(freshId, { ...alice.params, counterpartyDustLimit: sat(-1n) }))).toBe("InvalidSigningRequest")
    // Balances that do not add up to the funding amount.
    expect(failureTag(alice.signer.signCounterpartyCommitment(alice.keyId, { ...simpleState("bob", 0n), toLocal: msat(1n) }, point))).toBe("InvalidSigningRequest")
    // Closing: must spend the funding output, without creating money.
    const closing = (vout: number, value: bigint): Transaction => ({
      version: 2,
      inputs: [makeInput({ txid: ch.fundingOutpoint.txid, vout }, 0xffffffff)],
      outputs: [{ value: sat(value), scriptPubKey: p2wpkhScript(alice.basepoints.paymentBasepoint) }],
      locktime: 0
    })
    must(alice.signer.signClosing(alice.keyId, closing(ch.fundingOutpoint.vout, 9_000_000n)))
    expect(failureTag(alice.signer.signClosing(alice.keyId, closing(ch.fundingOutpoint.vout + 1, 9_000_000n)))).toBe("InvalidSigningRequest")
    expect(failureTag(alice.signer.signClosing(alice.keyId, closing(ch.fundingOutpoint.vout, 10_000_001n)))).toBe("InvalidSigningRequest")
    expect(
      failureTag(alice.signer.signClosing(alice.keyId, { ...closing(ch.fundingOutpoint.vout, 1n), inputs: [makeInput({ txid: txidFromBytes(new Uint8Array(32)), vout: 1 }, 0)] }))
    ).toBe("InvalidSigningRequest")
    // HTLC-success without the right preimage.
    const list = [htlc("bob", 80_000n, 900, "p")]
    const bal = { alice: msat(6_000_000_000n), bob: msat(3_920_000_000n) }
    exchangeCommitment(ch, "alice", stateFor("alice", 0n, FEERATE, bal, list))
    expect(failureTag(alice.signer.signHolderHtlcTransaction(alice.keyId, 0n, 0, undefined))).toBe("InvalidSigningRequest")
    expect(failureTag(alice.signer.signHolderHtlcTransaction(alice.keyId, 0n, 0, sha256(Uint8Array.of(1))))).toBe("InvalidSigningRequest")
    expect(failureTag(alice.signer.signHolderHtlcTransaction(alice.keyId, 0n, 1, undefined))).toBe("InvalidSigningRequest")
    must(alice.signer.signHolderHtlcTransaction(alice.keyId, 0n, 0, list[0]?.preimage))
    // On Bob's commitment the same HTLC is offered: HTLC-timeout, which takes no preimage.
    exchangeCommitment(ch, "bob", stateFor("bob", 0n, FEERATE, bal, list))
    expect(failureTag(ch.bob.signer.signHolderHtlcTransaction(ch.bob.keyId, 0n, 0, list[0]?.preimage))).toBe("InvalidSigningRequest")
    expect(must(ch.bob.signer.signHolderHtlcTransaction(ch.bob.keyId, 0n, 0, undefined)).locktime).toBe(900)
  })
})

describe("secrets never leak", () => {
  it("no private key, seed or unreleased per-commitment secret appears in results, errors or printed objects", () => {
    const ch = openChannel(anchorsZeroFeeHtlcTx, wasmSecp256k1, { label: "leak" })
    const { alice, bob } = ch
    const list = [htlc("alice", 70_000n, 500, "l1"), htlc("bob", 90_000n, 600, "l2")]
    const bal = { alice: msat(6_000_000_000n), bob: msat(3_840_000_000n) }
    exchangeCommitment(ch, "alice", stateFor("alice", 0n, FEERATE, bal, list))
    exchangeCommitment(ch, "bob", stateFor("bob", 0n, FEERATE, bal, list))

    const observed: Array<unknown> = []
    const collect = <A, E>(e: Effect.Effect<A, E>) => {
      const r = attempt(e)
      observed.push(Result.isSuccess(r) ? r.success : r.failure)
    }
    for (const p of [alice, bob]) {
      collect(p.signer.channelPublicKeys(p.keyId))
      collect(p.signer.perCommitmentPoint(p.keyId, 0n))
      collect(p.signer.perCommitmentPoint(p.keyId, 1n))
      collect(p.signer.signHolderCommitment(p.keyId, 0n))
      collect(p.signer.signHolderCommitment(p.keyId, 5n)) // fails
      collect(p.signer.releaseCommitmentSecret(p.keyId, 0n)) // fails: not superseded
      collect(p.signer.signHolderHtlcTransaction(p.keyId, 0n, 0, undefined))
      collect(p.signer.signHolderHtlcTransaction(p.keyId, 0n, 1, sha256(Uint8Array.of(9))))
      collect(p.signer.readyChannel(p.keyId, { ...p.params, holderSelfDelay: 1 })) // fails
      collect(p.signer.signClosing(p.keyId, { version: 2, inputs: [], outputs: [], locktime: 0 })) // fails
      collect(
        p.signer.signSpend(p.keyId, {
          tx: { version: 2, inputs: [makeInput(ch.fundingOutpoint, 5)], outputs: [], locktime: 0 },
          inputIndex: 0,
          amount: sat(1000n),
          spend: { _tag: "HolderDelayed", commitmentNumber: 0n }
        })
      ) // fails: CSV
      collect(
        p.signer.signSpend(p.keyId, {
          tx: { version: 2, inputs: [makeInput(ch.fundingOutpoint, 1)], outputs: [], locktime: 0 },
          inputIndex: 0,
          amount: sat(1000n),
          spend: { _tag: "Anchor" }
        })
      )
    }
    const secrets = [alice, bob].flatMap(secretHexes)
    // Unreleased per-commitment secrets (0 and 1 were never revoked) and the derived per-commitment keys.
    for (const p of [alice, bob]) {
      const seed = deriveSecret(p.seed, `channel/${hex(p.keyId)}/commitment_seed`, nobleSecp256k1)
      for (const n of [0n, 1n]) secrets.push(hex(perCommitmentSecret(seed, indexOfCommitment(n))))
      const point = must(p.signer.perCommitmentPoint(p.keyId, 0n))
      for (const l of ["delayed_payment", "htlc"]) {
        const base = Redacted.make(deriveSecret(p.seed, `channel/${hex(p.keyId)}/${l}`, nobleSecp256k1))
        const derived = derivePrivateKey(nobleSecp256k1, base, point)
        if (Result.isSuccess(derived)) secrets.push(hex(Redacted.value(derived.success)))
      }
    }
    expect(observed.length).toBe(24)
    const text = [
      dump(observed),
      observed.map((o) => String(o)).join("\n"),
      observed.map((o) => inspect(o, { depth: 8 })).join("\n"),
      dump(alice.signer),
      String(alice.signer),
      inspect(alice.signer, { depth: 8, showHidden: true }),
      inspect(SeedChannelSigner.layerWith(alice.seed, wasmSecp256k1), { depth: 8 })
    ].join("\n")
    for (const secret of secrets) expect(text.includes(secret)).toBe(false)
    // Sanity: the dump does show public bytes (so the check above is meaningful).
    expect(text.includes(hex(alice.basepoints.fundingPubkey))).toBe(true)
  })
})
