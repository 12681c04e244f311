/**
 * The seed signer's answers at once (`ChannelSignerNow`, what it declares with
 * `declareChannelSignerNow`) against its effects: two copies of the same channel (same seeds, key
 * ids and parameters), one driven through the shape's effects, the other through the answers at
 * once, over random sequences of the commitment path's requests (valid, refused by policy,
 * malformed, with bad counterparty signatures). Every answer must be the same value or the same
 * typed failure (tag, reason, HTLC index), and the exported states the same after each request.
 */
import { describe, expect, it } from "vitest"
import { Cause, Effect, Exit, Result } from "effect"
import fc from "fast-check"
import { makeSeedChannelSigner } from "../../../src/layers/signer/SeedChannelSigner.ts"
import { encodeSignerChannelStateJson } from "../../../src/layers/signer/signer-state-json.ts"
import { staticRemoteKey, anchorsZeroFeeHtlcTx } from "../../../src/protocol/channel-type.ts"
import type { Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { unsafePublicKey, type PublicKey } from "../../../src/protocol/keys/keys.ts"
import { type Msat, msat } from "../../../src/protocol/units.ts"
import {
  channelKeyId,
  type ChannelKeyId,
  channelSignerNowOf,
  type ChannelSignerNow,
  type ChannelSignerShape,
  CompactSignature,
  type CommitmentState,
  MAX_COMMITMENT_NUMBER
} from "../../../src/services/ChannelSigner.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { secp256k1Backends } from "../crypto/backends.ts"
import { attempt, hex, htlc, must, openChannel, stateFor, type Channel, type ChannelHtlc, type Party } from "./fixture.ts"

/** The fastest backend here: the property signs and verifies a lot. */
const secp: Secp256k1 = secp256k1Backends[secp256k1Backends.length - 1] ?? wasmSecp256k1

type Who = "alice" | "bob"
/** A commitment number, or the next one the channel's life calls for (so that sequences get far). */
type Number = bigint | "next"
type Op =
  | { readonly _tag: "point"; readonly who: Who; readonly n: Number; readonly otherKey: boolean }
  | { readonly _tag: "validate"; readonly who: Who; readonly n: Number; readonly variant: number; readonly tamper: number; readonly otherKey: boolean }
  | { readonly _tag: "release"; readonly who: Who; readonly n: Number; readonly otherKey: boolean }
  | { readonly _tag: "sign"; readonly who: Who; readonly n: Number; readonly variant: number; readonly badPoint: boolean; readonly otherKey: boolean }

const balances = { alice: msat(6_000_000_000n), bob: msat(3_830_000_000n) }
const htlcs: ReadonlyArray<ChannelHtlc> = [htlc("alice", 70_000n, 500, "n1"), htlc("bob", 100_000n, 600, "n2")]
/** Variant 0: no HTLC (their amounts back in the balances); 1, 2: both HTLCs at two feerates (a different state under one number). */
const stateOf = (owner: Who, n: bigint, variant: number): CommitmentState =>
  variant === 0 ? stateFor(owner, n, 1000, { alice: msat(6_070_000_000n), bob: msat(3_930_000_000n) }, []) : stateFor(owner, n, 1000 + variant, balances, htlcs)

/** A key id never registered (`readyChannel`): refused where parameters are needed, a fresh record elsewhere. */
const otherKeyId: ChannelKeyId = channelKeyId(new Uint8Array(32).fill(7)) ?? (() => { throw new Error("unreachable") })()
/** 33 bytes that are no point (x beyond the field). */
const notAPoint: PublicKey = unsafePublicKey(Uint8Array.from([2, ...new Array<number>(32).fill(0xff)]))

const numbers: fc.Arbitrary<Number> = fc.oneof(
  { arbitrary: fc.constant("next" as const), weight: 16 },
  { arbitrary: fc.bigInt({ min: 0n, max: 5n }), weight: 6 },
  { arbitrary: fc.constantFrom(-1n, MAX_COMMITMENT_NUMBER, MAX_COMMITMENT_NUMBER + 1n), weight: 1 }
)
const who = fc.constantFrom<Who>("alice", "bob")
const otherKey = fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 })
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ _tag: fc.constant("point" as const), who, n: numbers, otherKey }), weight: 2 },
  {
    arbitrary: fc.record({
      _tag: fc.constant("validate" as const),
      who,
      n: numbers,
      variant: fc.integer({ min: 0, max: 2 }),
      tamper: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 }),
      otherKey
    }),
    weight: 4
  },
  { arbitrary: fc.record({ _tag: fc.constant("release" as const), who, n: numbers, otherKey }), weight: 3 },
  {
    arbitrary: fc.record({
      _tag: fc.constant("sign" as const),
      who,
      n: numbers,
      variant: fc.integer({ min: 0, max: 2 }),
      badPoint: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
      otherKey
    }),
    weight: 3
  }
)

/** An answer as text: the value's bytes, or the failure's class, tag, reason and HTLC index. */
const outcome = (r: Result.Result<unknown, { readonly _tag: string; readonly reason: string }>): string => {
  if (Result.isFailure(r)) {
    const e = r.failure
    const index = "htlcIndex" in e ? String(e.htlcIndex) : "-"
    return `fail ${e.constructor.name} ${e._tag} ${index} ${e.reason}`
  }
  const v = r.success
  if (v === undefined) return "ok"
  if (v instanceof Uint8Array) return `ok ${hex(v)}`
  if (typeof v === "object" && v !== null && "signature" in v && "htlcSignatures" in v && v.signature instanceof Uint8Array && Array.isArray(v.htlcSignatures))
    return `ok ${hex(v.signature)} ${v.htlcSignatures.map((s) => (s instanceof Uint8Array ? hex(s) : "?")).join(",")}`
  return `unexpected ${String(v)}`
}

/** The exported state of both channel keys of a party, as the channel layer writes it. */
const exported = (signer: ChannelSignerShape, keyId: ChannelKeyId): string => {
  const state = attempt(signer.channelState(keyId))
  return Result.isSuccess(state) ? JSON.stringify(encodeSignerChannelStateJson(state.success)) : `fail ${state.failure._tag}`
}

describe("SeedChannelSigner: answers at once", () => {
  it("declares them itself (a wrapper spreading its fields does not)", () => {
    const signer = makeSeedChannelSigner(new Uint8Array(32).fill(1), secp)
    expect(channelSignerNowOf(signer)).toBeDefined()
    expect(channelSignerNowOf({ ...signer })).toBeUndefined()
  })

  for (const type of [staticRemoteKey, anchorsZeroFeeHtlcTx]) {
    it(`property (${type.name}): the answers at once are the effects' answers (values, typed failures, exported states) over random request sequences`, () => {
      let run = 0
      const totals = { ok: 0, refused: 0 }
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => {
          const label = `now-prop/${type.name}/${run++}`
          const viaEffects = openChannel(type, secp, { label })
          const atOnce = openChannel(type, secp, { label })
          const nowOf = (p: Party): ChannelSignerNow => {
            const now = channelSignerNowOf(p.signer)
            if (now === undefined) throw new Error("the seed signer declares its answers at once")
            return now
          }
          const partyOf = (ch: Channel, w: Who): Party => (w === "alice" ? ch.alice : ch.bob)
          /** The counterparty's signatures on `owner`'s commitment, from fresh signers with the same seeds (no policy state shared); undefined if they refuse. */
          const signaturesFor = (owner: Who, state: CommitmentState) => {
            const me = partyOf(viaEffects, owner)
            const them = partyOf(viaEffects, owner === "alice" ? "bob" : "alice")
            const point = attempt(makeSeedChannelSigner(me.seed, secp).perCommitmentPoint(me.keyId, state.commitmentNumber))
            if (Result.isFailure(point)) return undefined
            const oracle = makeSeedChannelSigner(them.seed, secp)
            must(oracle.readyChannel(them.keyId, them.params))
            return Result.getOrUndefined(attempt(oracle.signCounterpartyCommitment(them.keyId, state, point.success)))
          }
          /** A 64-byte signature with one bit flipped (still 64 bytes: a bad signature, not a malformed one). */
          const flipped = (sig: Uint8Array): CompactSignature => {
            const copy = Uint8Array.from(sig)
            copy[10] = (copy[10] ?? 0) ^ 1
            return CompactSignature(copy)
          }
          const anyPoint = must(makeSeedChannelSigner(new Uint8Array(32).fill(9), secp).perCommitmentPoint(otherKeyId, 0n))
          // The next numbers of each party's life: to validate (and ask the point of), to revoke, to sign of the other's.
          const next = { alice: { validate: 0n, release: 0n, sign: 0n }, bob: { validate: 0n, release: 0n, sign: 0n } }
          const stats = { ok: 0, refused: 0 }
          for (const o of ops) {
            const effects = partyOf(viaEffects, o.who)
            const now = partyOf(atOnce, o.who)
            const keyId = o.otherKey ? otherKeyId : effects.keyId
            const mine = next[o.who]
            const n = o.n !== "next" ? o.n : o._tag === "point" || o._tag === "validate" ? mine.validate : o._tag === "release" ? mine.release : mine.sign
            let expected: string
            let got: string
            switch (o._tag) {
              case "point":
                expected = outcome(attempt(effects.signer.perCommitmentPoint(keyId, n)))
                got = outcome(nowOf(now).perCommitmentPoint(keyId, n))
                break
              case "release":
                expected = outcome(attempt(effects.signer.releaseCommitmentSecret(keyId, n)))
                got = outcome(nowOf(now).releaseCommitmentSecret(keyId, n))
                if (expected.startsWith("ok") && n >= mine.release) mine.release = n + 1n
                break
              case "validate": {
                const state = stateOf(o.who, n, o.variant)
                const sigs = signaturesFor(o.who, state) ?? { signature: CompactSignature(new Uint8Array(64).fill(1)), htlcSignatures: [] }
                const signature = o.tamper === 1 ? flipped(sigs.signature) : sigs.signature
                const htlcSignatures =
                  o.tamper === 2 ? sigs.htlcSignatures.slice(1) : o.tamper === 3 ? sigs.htlcSignatures.map((s, i) => (i === 0 ? flipped(s) : s)) : sigs.htlcSignatures
                expected = outcome(attempt(effects.signer.validateHolderCommitment(keyId, state, signature, htlcSignatures)))
                got = outcome(nowOf(now).validateHolderCommitment(keyId, state, signature, htlcSignatures))
                if (expected.startsWith("ok") && n >= mine.validate) mine.validate = n + 1n
                break
              }
              case "sign": {
                const owner = partyOf(viaEffects, o.who === "alice" ? "bob" : "alice")
                const theirPoint = attempt(makeSeedChannelSigner(owner.seed, secp).perCommitmentPoint(owner.keyId, n))
                const point = o.badPoint ? notAPoint : Result.isSuccess(theirPoint) ? theirPoint.success : anyPoint
                const state = stateOf(owner.name, n, o.variant)
                expected = outcome(attempt(effects.signer.signCounterpartyCommitment(keyId, state, point)))
                got = outcome(nowOf(now).signCounterpartyCommitment(keyId, state, point))
                if (expected.startsWith("ok") && n >= mine.sign) mine.sign = n + 1n
                break
              }
            }
            expect(got, `${o._tag} ${o.who} ${n}`).toBe(expected)
            if (expected.startsWith("ok")) stats.ok += 1
            else stats.refused += 1
            for (const w of ["alice", "bob"] as const) {
              for (const k of [partyOf(viaEffects, w).keyId, otherKeyId]) {
                const state = exported(partyOf(viaEffects, w).signer, k)
                expect(exported(partyOf(atOnce, w).signer, k)).toBe(state)
                const stateNow = partyOf(atOnce, w).signer.channelStateNow?.(k)
                expect(stateNow === undefined ? "none" : JSON.stringify(encodeSignerChannelStateJson(stateNow))).toBe(state.startsWith("fail") ? "none" : state)
              }
            }
          }
          totals.ok += stats.ok
          totals.refused += stats.refused
        }),
        { numRuns: 40 }
      )
      // Both kinds of answers were compared, many times (a generator that only made refusals would test little).
      expect(totals.ok).toBeGreaterThan(40)
      expect(totals.refused).toBeGreaterThan(40)
    })
  }

  it("a defect stays a defect: the effect dies, the answer at once throws (neither is a typed failure)", () => {
    const ch = openChannel(staticRemoteKey, secp, { label: "now-defect" })
    const point = must(ch.bob.signer.perCommitmentPoint(ch.bob.keyId, 0n))
    const base = stateOf("bob", 0n, 0)
    const broken: CommitmentState = {
      commitmentNumber: base.commitmentNumber,
      feeratePerKw: base.feeratePerKw,
      toRemote: base.toRemote,
      htlcs: base.htlcs,
      get toLocal(): Msat {
        throw new Error("boom")
      }
    }
    const exit = Effect.runSyncExit(ch.alice.signer.signCounterpartyCommitment(ch.alice.keyId, broken, point))
    expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause) && !Cause.hasFails(exit.cause)).toBe(true)
    const now = channelSignerNowOf(ch.alice.signer)
    expect(() => now?.signCounterpartyCommitment(ch.alice.keyId, broken, point)).toThrow("boom")
  })
})
