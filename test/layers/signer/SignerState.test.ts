/**
 * The signer's policy state persisted and restored (`channelState` / `restoreChannel`): a signer
 * restarted from its seed and the exported `SignerChannelState` refuses exactly what the
 * original refuses (the secret of a commitment not yet superseded, a different counterparty
 * commitment under a number already signed, a revoked holder commitment), the state round-trips
 * through JSON with no secret in it, and a state behind what the signer holds is refused with
 * `StaleSignerState`, leaving the signer as it was.
 */
import { describe, expect, it } from "vitest"
import { Result, Schema } from "effect"
import fc from "fast-check"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { encodeSignerChannelStateJson } from "../../../src/layers/signer/signer-state-json.ts"
import { deriveSecret } from "../../../src/protocol/keys/seed.ts"
import { anchorsZeroFeeHtlcTx, staticRemoteKey } from "../../../src/protocol/channel-type.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { indexOfCommitment, perCommitmentSecret } from "../../../src/protocol/keys/shachain.ts"
import { serializeTransaction } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { msat } from "../../../src/protocol/units.ts"
import {
  SignerChannelStateSchema,
  type ChannelSignerShape,
  type CommitmentState,
  type CounterpartyCommitmentSignatures,
  type SignerChannelState
} from "../../../src/services/ChannelSigner.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { secp256k1Backends } from "../crypto/backends.ts"
import { attempt, exchangeCommitment, failureTag, hex, htlc, must, openChannel, stateFor, type Channel, type ChannelHtlc } from "./fixture.ts"

/** The fastest backend here (native where it loads): the property below signs a lot. */
const secp: Secp256k1 = secp256k1Backends[secp256k1Backends.length - 1] ?? wasmSecp256k1

const FEERATE = 1000
const balances = { alice: msat(6_000_000_000n), bob: msat(3_830_000_000n) }
const htlcs: ReadonlyArray<ChannelHtlc> = [htlc("alice", 70_000n, 500, "s1"), htlc("bob", 100_000n, 600, "s2")]
const aliceState = (n: bigint, feerate: number = FEERATE): CommitmentState => stateFor("alice", n, feerate, balances, htlcs)
const bobState = (n: bigint, feerate: number = FEERATE): CommitmentState => stateFor("bob", n, feerate, balances, htlcs)

const encodeSchema = Schema.encodeSync(SignerChannelStateSchema)
/** The Schema encoding, checked equal (as JSON text) to the hand-written one the persistence path uses. */
const encode = (state: SignerChannelState) => {
  const encoded = encodeSchema(state)
  expect(JSON.stringify(encodeSignerChannelStateJson(state))).toBe(JSON.stringify(encoded))
  return encoded
}
const decode = Schema.decodeUnknownSync(SignerChannelStateSchema)
/** The state as the channel layer would write it, and read back. */
const throughJson = (state: SignerChannelState): SignerChannelState => decode(JSON.parse(JSON.stringify(encode(state))))
const json = (state: SignerChannelState): string => JSON.stringify(encode(state))

/** A second signer over Alice's seed that never saw the channel: a restart. */
const restarted = (ch: Channel): ChannelSignerShape => makeSeedChannelSigner(ch.alice.seed, secp)

/** Bob signs Alice's commitment `n` and Alice validates it (Bob's signer must be at n - 1 or n). */
const aliceValidates = (ch: Channel, n: bigint): void => exchangeCommitment(ch, "alice", aliceState(n))

/** Alice signs Bob's commitment `n` (state variant by feerate) at Bob's point. */
const aliceSignsBob = (ch: Channel, signer: ChannelSignerShape, n: bigint, feerate: number = FEERATE) =>
  attempt(signer.signCounterpartyCommitment(ch.alice.keyId, bobState(n, feerate), must(ch.bob.signer.perCommitmentPoint(ch.bob.keyId, n))))

/** A channel in the middle of its life: Alice validated 0..2, revoked 0 and 1, signed Bob's 0..3. */
const midLife = (label: string): Channel => {
  const ch = openChannel(anchorsZeroFeeHtlcTx, secp, { label })
  aliceValidates(ch, 0n)
  aliceValidates(ch, 1n)
  must(ch.alice.signer.releaseCommitmentSecret(ch.alice.keyId, 0n))
  aliceValidates(ch, 2n)
  must(ch.alice.signer.releaseCommitmentSecret(ch.alice.keyId, 1n))
  for (const n of [0n, 1n, 2n, 3n]) expect(Result.isSuccess(aliceSignsBob(ch, ch.alice.signer, n))).toBe(true)
  return ch
}

/** What an operation gave: its failure tag, or its result as comparable text. */
const outcome = <A, E extends { readonly _tag: string }>(r: Result.Result<A, E>, show: (a: A) => string): string =>
  Result.isFailure(r) ? `fail:${r.failure._tag}` : `ok:${show(r.success)}`

describe("SignerChannelState", () => {
  it("lists the held commitments in commitment-number order, however they were validated or restored", () => {
    const ch = midLife("state-order")
    aliceValidates(ch, 3n)
    const state = must(ch.alice.signer.channelState(ch.alice.keyId))
    expect(state.holderCommitments.map((h) => h.state.commitmentNumber)).toEqual([2n, 3n])
    // Restored from a state listing them the other way round: exported in order again.
    const fresh = restarted(ch)
    must(fresh.restoreChannel(ch.alice.keyId, { ...state, holderCommitments: [...state.holderCommitments].reverse() }))
    const again = must(fresh.channelState(ch.alice.keyId))
    expect(again.holderCommitments.map((h) => h.state.commitmentNumber)).toEqual([2n, 3n])
    expect(json(again)).toBe(json(state))
  })

  it("round-trips through JSON, holds what the policy needs, and no secret", () => {
    const ch = midLife("state-json")
    const state = must(ch.alice.signer.channelState(ch.alice.keyId))
    expect(state.revokedBelow).toBe(2n)
    expect(state.highestValidated).toBe(2n)
    expect(state.lastCounterpartySigned?.commitmentNumber).toBe(3n)
    expect(state.holderCommitments.map((h) => h.state.commitmentNumber)).toEqual([2n])
    expect(state.holderCommitments[0]?.counterpartyHtlcSignatures).toHaveLength(2)
    expect(state.parameters?.channelType).toBe("anchors_zero_fee_htlc_tx")

    const text = JSON.stringify(encode(state))
    const back = throughJson(state)
    expect(json(back)).toBe(text)
    // Restored into a restarted signer, it exports the same state again.
    const fresh = restarted(ch)
    must(fresh.restoreChannel(ch.alice.keyId, back))
    expect(json(must(fresh.channelState(ch.alice.keyId)))).toBe(text)

    // No seed, base secret, or per-commitment secret (released or not) in the persisted text.
    const { alice } = ch
    const labels = ["funding", "revocation", "payment", "delayed_payment", "htlc", "commitment_seed"]
    const seedSecrets = labels.map((l) => hex(deriveSecret(alice.seed, `channel/${hex(alice.keyId)}/${l}`, nobleSecp256k1)))
    const commitmentSeed = deriveSecret(alice.seed, `channel/${hex(alice.keyId)}/commitment_seed`, nobleSecp256k1)
    const perCommitment = [0n, 1n, 2n, 3n].map((n) => hex(perCommitmentSecret(commitmentSeed, indexOfCommitment(n))))
    for (const secret of [hex(alice.seed), ...seedSecrets, ...perCommitment]) expect(text).not.toContain(secret)
  })

  it("of a channel the signer has not seen is the empty state, and restoring it changes nothing", () => {
    const ch = openChannel(staticRemoteKey, secp, { label: "state-empty" })
    const fresh = restarted(ch)
    const empty = must(fresh.channelState(ch.alice.keyId))
    expect(empty).toMatchObject({ version: 1, parameters: null, revokedBelow: 0n, highestValidated: null, lastCounterpartySigned: null, holderCommitments: [] })
    must(fresh.restoreChannel(ch.alice.keyId, throughJson(empty)))
    // Alice's live signer has parameters: the empty state is behind it.
    expect(failureTag(ch.alice.signer.restoreChannel(ch.alice.keyId, empty))).toBe("StaleSignerState")
  })

  it("is rejected by the Schema when malformed", () => {
    const ch = midLife("state-schema")
    const encoded = encode(must(ch.alice.signer.channelState(ch.alice.keyId)))
    const bad = (patch: Record<string, unknown>) => () => decode({ ...encoded, ...patch })
    expect(bad({ version: 2 })).toThrow()
    expect(bad({ keyId: "00" })).toThrow()
    expect(bad({ revokedBelow: "-1" })).toThrow()
    expect(bad({ highestValidated: String(1n << 48n) })).toThrow()
    expect(bad({ lastCounterpartySigned: { commitmentNumber: "1", txid: "zz" } })).toThrow()
  })
})

describe("a signer restored from its exported state refuses exactly what the original refuses", () => {
  it("the secret of a commitment not superseded, a different counterparty commitment under a signed number, a revoked holder commitment", () => {
    const ch = midLife("state-refuse")
    const original = ch.alice.signer
    const restored = restarted(ch)
    must(restored.restoreChannel(ch.alice.keyId, throughJson(must(original.channelState(ch.alice.keyId)))))
    const id = ch.alice.keyId
    const forget = restarted(ch) // a restart WITHOUT the state, for contrast

    const probes: ReadonlyArray<readonly [string, (s: ChannelSignerShape) => string]> = [
      ["release the secret of the current commitment 2", (s) => outcome(attempt(s.releaseCommitmentSecret(id, 2n)), hex)],
      ["release the secret of a future commitment 5", (s) => outcome(attempt(s.releaseCommitmentSecret(id, 5n)), hex)],
      ["sign another counterparty commitment 3", (s) => outcome(aliceSignsBob(ch, s, 3n, FEERATE + 1), (x) => hex(x.signature))],
      ["sign an older counterparty commitment 2", (s) => outcome(aliceSignsBob(ch, s, 2n), (x) => hex(x.signature))],
      ["sign counterparty commitment 5, skipping 4", (s) => outcome(aliceSignsBob(ch, s, 5n), (x) => hex(x.signature))],
      ["sign revoked holder commitment 1", (s) => outcome(attempt(s.signHolderCommitment(id, 1n)), (x) => hex(serializeTransaction(x.tx)))],
      ["sign revoked holder commitment 0", (s) => outcome(attempt(s.signHolderCommitment(id, 0n)), (x) => hex(serializeTransaction(x.tx)))],
      ["an HTLC transaction of revoked commitment 1", (s) => outcome(attempt(s.signHolderHtlcTransaction(id, 1n, 0, undefined)), (x) => hex(serializeTransaction(x)))],
      ["sign current holder commitment 2", (s) => outcome(attempt(s.signHolderCommitment(id, 2n)), (x) => hex(serializeTransaction(x.tx)))],
      ["retransmit counterparty commitment 3", (s) => outcome(aliceSignsBob(ch, s, 3n), (x) => hex(x.signature) + x.htlcSignatures.map(hex).join(""))],
      ["sign counterparty commitment 4", (s) => outcome(aliceSignsBob(ch, s, 4n), (x) => hex(x.signature))],
      ["release the secret of commitment 1 again", (s) => outcome(attempt(s.releaseCommitmentSecret(id, 1n)), hex)]
    ]
    for (const [what, probe] of probes) {
      const expected = probe(original)
      expect(probe(restored), what).toBe(expected)
    }
    // The refusals above are the policy's, not a missing channel: the forgetful signer fails otherwise.
    expect(failureTag(original.signHolderCommitment(id, 1n))).toBe("SignerPolicyViolation")
    expect(failureTag(forget.signHolderCommitment(id, 1n))).toBe("InvalidSigningRequest")
    expect(failureTag(original.releaseCommitmentSecret(id, 2n))).toBe("SignerPolicyViolation")
    const different4 = aliceSignsBob(ch, original, 4n, FEERATE + 1)
    expect(Result.isFailure(different4) ? different4.failure._tag : "success").toBe("SignerPolicyViolation")
  })

  it("property: restored at any point of a random history, the restored signer answers every later request as the original", () => {
    type Op =
      | { readonly _tag: "validateNext" }
      | { readonly _tag: "release"; readonly n: bigint }
      | { readonly _tag: "broadcast"; readonly n: bigint }
      | { readonly _tag: "signBob"; readonly n: bigint; readonly variant: number }
    const small = fc.bigInt({ min: 0n, max: 4n })
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.constant<Op>({ _tag: "validateNext" }), weight: 3 },
      { arbitrary: small.map((n): Op => ({ _tag: "release", n })), weight: 2 },
      { arbitrary: small.map((n): Op => ({ _tag: "broadcast", n })), weight: 2 },
      { arbitrary: fc.tuple(small, fc.integer({ min: 0, max: 1 })).map(([n, variant]): Op => ({ _tag: "signBob", n, variant })), weight: 2 }
    )
    let run = 0
    fc.assert(
      fc.property(fc.array(op, { maxLength: 10 }), fc.array(op, { minLength: 1, maxLength: 10 }), (before, after) => {
        const ch = openChannel(staticRemoteKey, secp, { label: `state-prop/${run++}` })
        const id = ch.alice.keyId
        let next = 0n
        const signedByBob = new Map<bigint, CounterpartyCommitmentSignatures>()
        const apply = (s: ChannelSignerShape, o: Op): string => {
          switch (o._tag) {
            case "validateNext": {
              // Bob signs once (his own policy advances); both Alice signers get the same signatures.
              const state = aliceState(next)
              const sigs = signedByBob.get(next) ?? must(ch.bob.signer.signCounterpartyCommitment(ch.bob.keyId, state, must(s.perCommitmentPoint(id, next))))
              signedByBob.set(next, sigs)
              return outcome(attempt(s.validateHolderCommitment(id, state, sigs.signature, sigs.htlcSignatures)), () => "")
            }
            case "release":
              return outcome(attempt(s.releaseCommitmentSecret(id, o.n)), hex)
            case "broadcast":
              return outcome(attempt(s.signHolderCommitment(id, o.n)), (x) => hex(serializeTransaction(x.tx)))
            case "signBob":
              return outcome(aliceSignsBob(ch, s, o.n, FEERATE + o.variant), (x) => hex(x.signature))
          }
        }
        for (const o of before) {
          apply(ch.alice.signer, o)
          if (o._tag === "validateNext") next++
        }
        const restored = restarted(ch)
        must(restored.restoreChannel(id, throughJson(must(ch.alice.signer.channelState(id)))))
        for (const o of after) {
          const expected = apply(ch.alice.signer, o)
          expect(apply(restored, o)).toBe(expected)
          if (o._tag === "validateNext") next++
        }
        expect(json(must(restored.channelState(id)))).toBe(json(must(ch.alice.signer.channelState(id))))
      }),
      { numRuns: 40 }
    )
  })
})

describe("the exported state", () => {
  it("is the same frozen object while nothing changed, and a new one showing each change (each equal to a restarted signer's after restoring it)", () => {
    const ch = openChannel(anchorsZeroFeeHtlcTx, secp, { label: "state-export-memo" })
    const { alice } = ch
    const id = alice.keyId
    const snapshot = () => must(alice.signer.channelState(id))
    const seen: Array<SignerChannelState> = []
    /** `kept`: the parts the change leaves as they were, which the new export shares with the one before (the rest are new objects). */
    const step = (what: string, change: () => void, kept: { readonly last: boolean; readonly held: boolean } = { last: false, held: false }) => {
      const before = snapshot()
      expect(snapshot(), what).toBe(before)
      expect(Object.isFrozen(before), what).toBe(true)
      change()
      const after = snapshot()
      expect(after, what).not.toBe(before)
      // The synchronous form returns the very same export.
      expect(alice.signer.channelStateNow?.(id), what).toBe(after)
      // Unchanged parts are shared with the export before (no copy per export); changed ones are new.
      expect(after.keyId, what).toBe(before.keyId)
      expect(after.lastCounterpartySigned === before.lastCounterpartySigned, what).toBe(kept.last)
      expect(after.holderCommitments === before.holderCommitments, what).toBe(kept.held)
      const fresh = restarted(ch)
      must(fresh.restoreChannel(id, throughJson(after)))
      expect(json(must(fresh.channelState(id))), what).toBe(json(after))
      // The written-out encoding, made once per export object, equals the Schema's.
      expect(encodeSignerChannelStateJson(after), what).toBe(encodeSignerChannelStateJson(after))
      expect(JSON.stringify(encodeSignerChannelStateJson(after)), what).toBe(json(after))
      seen.push(after)
    }
    step("validate 0", () => aliceValidates(ch, 0n), { last: true, held: false })
    step("sign bob's 0", () => expect(Result.isSuccess(aliceSignsBob(ch, alice.signer, 0n))).toBe(true), { last: false, held: true })
    step("validate 1", () => aliceValidates(ch, 1n), { last: true, held: false })
    step("release 0", () => must(alice.signer.releaseCommitmentSecret(id, 0n)), { last: true, held: false })
    step("sign bob's 1", () => expect(Result.isSuccess(aliceSignsBob(ch, alice.signer, 1n))).toBe(true), { last: false, held: true })
    step("validate 2", () => aliceValidates(ch, 2n), { last: true, held: false })
    step("release 1", () => must(alice.signer.releaseCommitmentSecret(id, 1n)), { last: true, held: false })
    // Every export differs from the one before it (each change shows).
    for (let i = 1; i < seen.length; i++) expect(json(seen[i] ?? snapshot())).not.toBe(json(seen[i - 1] ?? snapshot()))
  })
})

describe("channelStateNow", () => {
  it("returns what channelState returns, the same export object, also for a channel the signer has not seen", () => {
    const ch = openChannel(anchorsZeroFeeHtlcTx, secp, { label: "state-export-now" })
    const { alice } = ch
    expect(alice.signer.channelStateNow).toBeDefined()
    expect(alice.signer.channelStateNow?.(alice.keyId)).toBe(must(alice.signer.channelState(alice.keyId)))
    const fresh = restarted(ch)
    const now = fresh.channelStateNow?.(alice.keyId)
    expect(now).toBe(must(fresh.channelState(alice.keyId)))
    expect(now === undefined ? "" : json(now)).toBe(json(must(fresh.channelState(alice.keyId))))
  })
})

describe("restoring a state behind the signer's is refused", () => {
  it("with StaleSignerState, leaving the signer as it was; the same or a newer state is accepted", () => {
    const ch = openChannel(anchorsZeroFeeHtlcTx, secp, { label: "state-stale" })
    const { alice } = ch
    const id = alice.keyId
    const snapshot = () => must(alice.signer.channelState(id))
    const s0 = snapshot() // parameters only
    aliceValidates(ch, 0n)
    expect(Result.isSuccess(aliceSignsBob(ch, alice.signer, 0n))).toBe(true)
    const s1 = snapshot()
    aliceValidates(ch, 1n)
    const s2 = snapshot() // validated 0 and 1, nothing revoked
    must(alice.signer.releaseCommitmentSecret(id, 0n))
    expect(Result.isSuccess(aliceSignsBob(ch, alice.signer, 1n))).toBe(true)
    const s3 = snapshot()

    for (const [label, old] of [["s0", s0], ["s1", s1], ["s2", s2]] as const) {
      const r = attempt(alice.signer.restoreChannel(id, throughJson(old)))
      expect(Result.isFailure(r) ? r.failure._tag : "success", label).toBe("StaleSignerState")
      expect(json(snapshot()), label).toBe(json(s3))
    }
    // The state it holds is accepted (idempotent), and a restarted signer moves forward state by state.
    must(alice.signer.restoreChannel(id, throughJson(s3)))
    const fresh = restarted(ch)
    for (const s of [s0, s1, s2, s3]) must(fresh.restoreChannel(id, throughJson(s)))
    expect(json(must(fresh.channelState(id)))).toBe(json(s3))
    expect(failureTag(fresh.restoreChannel(id, throughJson(s1)))).toBe("StaleSignerState")

    // A state that conflicts (another transaction under a number already signed) is stale too.
    const other = restarted(ch)
    must(other.restoreChannel(id, throughJson(s3)))
    expect(Result.isSuccess(aliceSignsBob(ch, other, 2n, FEERATE + 7))).toBe(true)
    expect(Result.isSuccess(aliceSignsBob(ch, alice.signer, 2n))).toBe(true)
    const s4 = snapshot()
    expect(failureTag(alice.signer.restoreChannel(id, must(other.channelState(id))))).toBe("StaleSignerState")
    expect(json(snapshot())).toBe(json(s4))
    // Other parameters than those registered.
    const params = s0.parameters
    if (params === null) throw new Error("parameters expected")
    const early = restarted(ch)
    must(early.restoreChannel(id, s0))
    expect(failureTag(early.restoreChannel(id, { ...s0, parameters: { ...params, holderSelfDelay: params.holderSelfDelay + 1 } }))).toBe("StaleSignerState")
    expect(json(must(early.channelState(id)))).toBe(json(s0))
  })

  it("an inconsistent or forged state is refused as an invalid request", () => {
    const ch = midLife("state-forged")
    const state = must(ch.alice.signer.channelState(ch.alice.keyId))
    const fresh = restarted(ch)
    const id = ch.alice.keyId
    const held = state.holderCommitments[0]
    if (held === undefined) throw new Error("a held commitment expected")
    const tampered = Uint8Array.from(held.counterpartySignature)
    tampered[5] = (tampered[5] ?? 0) ^ 1
    const cases: ReadonlyArray<readonly [string, SignerChannelState]> = [
      ["another channel's key id", { ...state, keyId: ch.bob.keyId }],
      ["a tampered counterparty signature", { ...state, holderCommitments: [{ ...held, counterpartySignature: tampered }] }],
      ["an HTLC signature missing", { ...state, holderCommitments: [{ ...held, counterpartyHtlcSignatures: held.counterpartyHtlcSignatures.slice(1) }] }],
      ["another state under the held number", { ...state, holderCommitments: [{ ...held, state: { ...held.state, feeratePerKw: FEERATE + 1 } }] }],
      ["revoked beyond the highest validated", { ...state, revokedBelow: 3n }],
      ["the highest validated commitment not held", { ...state, holderCommitments: [] }],
      ["a held commitment that is revoked", { ...state, revokedBelow: 3n, highestValidated: 3n }],
      ["commitments without parameters", { ...state, parameters: null }]
    ]
    for (const [what, forged] of cases) {
      expect(failureTag(fresh.restoreChannel(id, forged)), what).toBe("InvalidSigningRequest")
      expect(json(must(fresh.channelState(id))), what).toBe(json(must(restarted(ch).channelState(id))))
    }
    must(fresh.restoreChannel(id, state))
  })
})
