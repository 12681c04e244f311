import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { defaultChannelPolicy, defaultLocalChannelConfig, LocalChannelConfigSchema, ChannelPolicySchema } from "../../../src/protocol/channel/config.ts"
import {
  channelIdFromFunding,
  channelTypeToBytes,
  FundedChannelSchema,
  fundChannel,
  makeChannelReady,
  makeOpenChannel,
  parseChannelType,
  receiveAcceptChannel,
  receiveChannelReady,
  receiveFundingCreated,
  receiveFundingSigned,
  receiveOpenChannel,
  completeFundingCreated
} from "../../../src/protocol/channel/open.ts"
import { ChannelParamsSchema } from "../../../src/protocol/channel/params.ts"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { ChannelReady, type AcceptChannel, type OpenChannel } from "../../../src/protocol/messages/channel.ts"
import { ChainHashes } from "../../../src/protocol/messages/init.ts"
import { serializeTransaction, txid } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { verifyCommitmentSignature } from "../../../src/protocol/tx/signing.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
import type { FeatureName } from "../../../src/protocol/features.ts"
import {
  anchorsType,
  chainHash,
  context,
  failureOf,
  features,
  fundingTx,
  makeOpen,
  negotiate,
  openChannel,
  otherChannelId,
  secp,
  signFor,
  staticType,
  temporaryChannelId,
  unwrap
} from "./open-fixtures.ts"

const badPoint = Uint8Array.from([2, ...new Array<number>(32).fill(0xff)])

describe("v1 open between two parties", () => {
  for (const channelType of [staticType, anchorsType]) {
    it(`${channelType.name}: mirrored ChannelParams and verifying first commitments`, () => {
      const o = openChannel({ channelType })
      const A = o.funder.params
      const B = o.fundee.params
      expect(toHex(A.channelId)).toBe(toHex(B.channelId))
      expect(toHex(A.channelId)).toBe(toHex(channelIdFromFunding(txid(o.fundingTx), 1)))
      expect(A.fundingOutpoint.vout).toBe(1)
      expect(A.localIsFunder).toBe(true)
      expect(B.localIsFunder).toBe(false)
      expect(A.local).toEqual(B.remote)
      expect(A.remote).toEqual(B.local)
      expect({ ...A, local: undefined, remote: undefined, localIsFunder: undefined, keyId: undefined }).toEqual({
        ...B,
        local: undefined,
        remote: undefined,
        localIsFunder: undefined,
        keyId: undefined
      })
      // Each side's commitment 0 is the same transaction on both sides.
      expect(toHex(serializeTransaction(o.funderFirst.local.tx))).toBe(toHex(serializeTransaction(o.fundeeFirst.remote.tx)))
      expect(toHex(serializeTransaction(o.funderFirst.remote.tx))).toBe(toHex(serializeTransaction(o.fundeeFirst.local.tx)))
      // Balances: funder 1,000,000 sat - 100,000 sat push.
      expect(o.funderFirst.localBalances.toLocal).toBe(900_000_000n)
      expect(o.fundeeFirst.localBalances.toLocal).toBe(100_000_000n)
      // The params round-trip through their Schemas (persisted as JSON).
      const json = Schema.encodeSync(FundedChannelSchema)(o.funder)
      expect(Schema.decodeUnknownSync(FundedChannelSchema)(JSON.parse(JSON.stringify(json)))).toEqual(o.funder)
      expect(Schema.decodeUnknownSync(ChannelParamsSchema)(Schema.encodeSync(ChannelParamsSchema)(B))).toEqual(B)
    })
  }

  it("signatures on the first commitments verify under the funding keys", () => {
    const n = negotiate()
    const funded = unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded)))
    const sig = signFor(n.a, funded.signRequest)
    expect(verifyCommitmentSignature(secp, funded.first.remote, sig, n.a.basepoints.fundingPubkey)).toBe(true)
  })

  it("channel_ready both ways (scid alias, zero-conf)", () => {
    const o = openChannel({ channelType: { name: "anchors_zero_fee_htlc_tx", scidAlias: true, zeroConf: true } })
    expect(o.funder.minimumDepth).toBe(0)
    const alias = shortChannelIdFromParts(16_000_000, 1, 0)
    const ready = unwrap(
      makeChannelReady(o.funder.params, { minimumDepth: 0, depth: undefined, secondPerCommitmentPoint: o.a.point(1n), alias })
    )
    const decoded = unwrap(ChannelReady.decode(unwrap(ChannelReady.encode(ready))))
    const got = unwrap(receiveChannelReady(secp, o.fundee.params, undefined, decoded))
    expect(got.alias).toBe(alias)
    expect(toHex(got.secondPerCommitmentPoint)).toBe(toHex(o.a.point(1n)))
    // Repeated with another alias: fine; with another point: rejected.
    expect(Result.isSuccess(receiveChannelReady(secp, o.fundee.params, got.secondPerCommitmentPoint, { ...decoded, tlvs: { shortChannelId: shortChannelIdFromParts(16_000_001, 0, 0) } }))).toBe(true)
    expect(failureOf(receiveChannelReady(secp, o.fundee.params, o.a.point(5n), decoded)).rule).toBe("SecondPointChanged")
  })
})

describe("channel_ready rules", () => {
  const o = openChannel()
  const p = o.fundee.params
  it("depth: waits for minimum_depth unless zero-conf", () => {
    expect(failureOf(makeChannelReady(p, { minimumDepth: 3, depth: 2, secondPerCommitmentPoint: o.b.point(1n), alias: undefined })).rule).toBe("DepthNotReached")
    expect(failureOf(makeChannelReady(p, { minimumDepth: 3, depth: undefined, secondPerCommitmentPoint: o.b.point(1n), alias: undefined })).rule).toBe("DepthNotReached")
    expect(Result.isSuccess(makeChannelReady(p, { minimumDepth: 3, depth: 3, secondPerCommitmentPoint: o.b.point(1n), alias: undefined }))).toBe(true)
  })
  it("scid_alias: an alias is required (sending and receiving)", () => {
    const q = { ...p, scidAlias: true }
    expect(failureOf(makeChannelReady(q, { minimumDepth: 1, depth: 1, secondPerCommitmentPoint: o.b.point(1n), alias: undefined })).rule).toBe("AliasMissing")
    const msg = ChannelReady.make({ channelId: p.channelId, secondPerCommitmentPoint: o.a.point(1n) })
    expect(failureOf(receiveChannelReady(secp, q, undefined, msg)).rule).toBe("AliasMissing")
  })
  it("wrong channel id, invalid point", () => {
    const msg = ChannelReady.make({ channelId: p.channelId, secondPerCommitmentPoint: o.a.point(1n) })
    expect(failureOf(receiveChannelReady(secp, p, undefined, { ...msg, channelId: o.funder.temporaryChannelId })).rule).toBe("ChannelIdMismatch")
    expect(failureOf(receiveChannelReady(secp, p, undefined, { ...msg, secondPerCommitmentPoint: badPoint })).rule).toBe("InvalidPoint")
  })
})

describe("channel_type", () => {
  it("encodes minimally and parses back", () => {
    for (const t of [staticType, anchorsType, { ...anchorsType, scidAlias: true, zeroConf: true }]) {
      expect(parseChannelType(channelTypeToBytes(t))).toEqual(t)
    }
    expect(toHex(channelTypeToBytes(staticType))).toBe("1000")
    expect(parseChannelType(Uint8Array.of(0, 0x10, 0x00))).toBe("not_minimal")
    expect(parseChannelType(Uint8Array.of(0x20, 0x00))).toBeUndefined() // bit 13 (odd)
    expect(parseChannelType(new Uint8Array(0))).toBeUndefined() // the legacy empty type
  })
})

describe("open_channel: our command (sender MUSTs)", () => {
  const a = makeOpen()
  const base = {
    chainHash,
    temporaryChannelId,
    keyId: a.a.keyId,
    fundingAmount: sat(1_000_000n),
    pushAmount: msat(0n),
    feeratePerKw: 2500,
    channelType: staticType,
    announce: false,
    basepoints: a.a.basepoints,
    firstPerCommitmentPoint: a.a.point(0n)
  }
  const cases: ReadonlyArray<readonly [string, Partial<typeof base>, string]> = [
    ["funding >= 2^24 without large channels", { fundingAmount: sat(1n << 24n) }, "FundingTooLarge"],
    ["push above funding", { pushAmount: msat(1_000_000_001n) }, "PushExceedsFunding"],
    ["scid alias on an announced channel", { announce: true, channelType: { ...staticType, scidAlias: true } }, "ScidAliasOnAnnouncedChannel"],
    ["funder cannot pay the fee", { fundingAmount: sat(20_000n), feeratePerKw: 100_000 }, "FunderCannotPayFee"]
  ]
  for (const [name, over, rule] of cases) {
    it(name, () => {
      expect(failureOf(makeOpenChannel(defaultLocalChannelConfig, features, { ...base, ...over })).rule).toBe(rule)
    })
  }
  it("announces what the config says", () => {
    const { message } = unwrap(makeOpenChannel(defaultLocalChannelConfig, features, base))
    expect(message.channelReserveSatoshis).toBe(10_000n)
    expect(message.dustLimitSatoshis).toBe(546n)
    expect(message.tlvs.upfrontShutdownScript?.length).toBe(0)
    expect(message.channelFlags).toBe(0)
  })
  it("a fixed reserve replaces the 1% share, never below the dust limit", () => {
    const fixed = unwrap(makeOpenChannel({ ...defaultLocalChannelConfig, channelReserve: sat(4_321n) }, features, base))
    expect(fixed.message.channelReserveSatoshis).toBe(4_321n)
    const belowDust = unwrap(makeOpenChannel({ ...defaultLocalChannelConfig, channelReserve: sat(100n) }, features, base))
    expect(belowDust.message.channelReserveSatoshis).toBe(546n)
    // The config with it still round-trips through its Schema (it is stored with the channel).
    const config = { ...defaultLocalChannelConfig, channelReserve: sat(4_321n) }
    expect(Schema.decodeUnknownSync(LocalChannelConfigSchema)(Schema.encodeSync(LocalChannelConfigSchema)(config))).toEqual(config)
  })
})

describe("open_channel: receiver rules (each rejects with its rule, state untouched)", () => {
  const o = makeOpen()
  const policy = defaultChannelPolicy
  const withType = (m: OpenChannel, bytes: Uint8Array | undefined): OpenChannel => ({
    ...m,
    tlvs: bytes === undefined ? { upfrontShutdownScript: new Uint8Array(0) } : { ...m.tlvs, channelType: bytes }
  })
  type Case = readonly [string, (m: OpenChannel) => OpenChannel, string, { readonly ctx?: Parameters<typeof context>[0]; readonly policy?: Partial<typeof policy> }?]
  const cases: ReadonlyArray<Case> = [
    ["unknown chain_hash", (m) => ({ ...m, chainHash: ChainHashes.bitcoin }), "UnknownChainHash"],
    ["option_dual_fund negotiated", (m) => m, "DualFundNegotiated", { ctx: { features: new Set<FeatureName>([...features, "option_dual_fund"]) } }],
    ["no channel_type", (m) => withType(m, undefined), "ChannelTypeMissing"],
    ["unknown channel_type", (m) => withType(m, Uint8Array.of(0x01, 0x00, 0x00)), "ChannelTypeUnsupported"],
    ["channel_type not minimal", (m) => withType(m, Uint8Array.of(0x00, 0x10, 0x00)), "ChannelTypeNotMinimal"],
    ["anchors refused by policy", (m) => withType(m, channelTypeToBytes(anchorsType)), "ChannelTypeUnsupported", { policy: { acceptAnchors: false } }],
    ["scid_alias with announce_channel", (m) => ({ ...withType(m, channelTypeToBytes({ ...staticType, scidAlias: true })), channelFlags: 1 }), "ScidAliasOnAnnouncedChannel"],
    ["zero-conf from an untrusted peer", (m) => withType(m, channelTypeToBytes({ ...staticType, zeroConf: true })), "ZeroConfNotTrusted", { policy: { acceptZeroConf: true } }],
    ["funding >= 2^24 without option_support_large_channel", (m) => ({ ...m, fundingSatoshis: sat(1n << 24n) }), "FundingTooLarge", { policy: { maxFunding: sat(1n << 30n) } }],
    ["funding too small", (m) => ({ ...m, fundingSatoshis: sat(5_000n), pushMsat: msat(0n) }), "FundingTooSmall"],
    ["funding above policy", (m) => ({ ...m, fundingSatoshis: sat(2_000_000n) }), "FundingAbovePolicy", { policy: { maxFunding: sat(1_500_000n) } }],
    ["push_msat > 1000 * funding", (m) => ({ ...m, pushMsat: msat(1_000_000_001n) }), "PushExceedsFunding"],
    ["feerate too low", (m) => ({ ...m, feeratePerKw: 1000 }), "FeerateTooLow"],
    ["feerate unreasonably large", (m) => ({ ...m, feeratePerKw: 100_000 }), "FeerateTooHigh"],
    ["to_self_delay unreasonably large", (m) => ({ ...m, toSelfDelay: 5000 }), "ToSelfDelayTooLarge"],
    ["max_accepted_htlcs > 483", (m) => ({ ...m, maxAcceptedHtlcs: 484 }), "MaxAcceptedHtlcsTooLarge"],
    ["max_accepted_htlcs too small", (m) => ({ ...m, maxAcceptedHtlcs: 1 }), "MaxAcceptedHtlcsTooSmall"],
    ["invalid funding_pubkey", (m) => ({ ...m, fundingPubkey: badPoint }), "InvalidPoint"],
    ["invalid revocation_basepoint", (m) => ({ ...m, revocationBasepoint: badPoint }), "InvalidPoint"],
    ["invalid payment_basepoint", (m) => ({ ...m, paymentBasepoint: badPoint }), "InvalidPoint"],
    ["invalid delayed_payment_basepoint", (m) => ({ ...m, delayedPaymentBasepoint: badPoint }), "InvalidPoint"],
    ["invalid htlc_basepoint", (m) => ({ ...m, htlcBasepoint: badPoint }), "InvalidPoint"],
    ["invalid first_per_commitment_point", (m) => ({ ...m, firstPerCommitmentPoint: badPoint }), "InvalidPoint"],
    ["dust_limit < 354", (m) => ({ ...m, dustLimitSatoshis: sat(353n) }), "DustLimitTooSmall"],
    ["dust_limit too large", (m) => ({ ...m, dustLimitSatoshis: sat(5_000n), channelReserveSatoshis: sat(10_000n) }), "DustLimitTooLarge"],
    ["dust_limit > channel_reserve", (m) => ({ ...m, dustLimitSatoshis: sat(600n), channelReserveSatoshis: sat(599n) }), "DustLimitAboveReserve"],
    ["channel_reserve too large", (m) => ({ ...m, channelReserveSatoshis: sat(300_000n) }), "ReserveTooLarge"],
    ["htlc_minimum too large", (m) => ({ ...m, htlcMinimumMsat: msat(10_000_000n) }), "HtlcMinimumTooLarge"],
    ["max_htlc_value_in_flight too small", (m) => ({ ...m, maxHtlcValueInFlightMsat: msat(1000n) }), "MaxHtlcValueInFlightTooSmall"],
    ["invalid upfront_shutdown_script", (m) => ({ ...m, tlvs: { ...m.tlvs, upfrontShutdownScript: Uint8Array.of(0x51, 0x01, 0x00) } }), "InvalidUpfrontShutdownScript"],
    ["funder cannot pay the first commitment fee", (m) => ({ ...m, pushMsat: msat(999_000_000n) }), "FunderCannotPayFee"],
    [
      "both balances <= channel_reserve",
      (m) => ({ ...m, fundingSatoshis: sat(40_000n), pushMsat: msat(19_000_000n), channelReserveSatoshis: sat(20_000n), maxHtlcValueInFlightMsat: msat(40_000_000n) }),
      "BothBalancesBelowReserve",
      { policy: { maxReserveBasisPoints: 10_000 } }
    ]
  ]
  for (const [name, mutate, rule, over] of cases) {
    it(name, () => {
      const msg = mutate(o.open)
      const before = JSON.stringify(msg, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
      const err = failureOf(receiveOpenChannel(secp, { ...policy, ...over?.policy }, context(over?.ctx), msg))
      expect(err._tag).toBe("OpenChannelRejected")
      expect(err.rule).toBe(rule)
      expect(JSON.stringify(msg, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).toBe(before)
    })
  }
  it("accepts the valid message, and a large channel when both support it", () => {
    expect(Result.isSuccess(receiveOpenChannel(secp, policy, context(), o.open))).toBe(true)
    const f = new Set<FeatureName>([...features, "option_support_large_channel"])
    const large = makeOpen({ fundingAmount: sat(20_000_000n), features: f })
    const p = { ...policy, acceptLargeChannels: true, maxFunding: sat(1n << 30n), maxReserveBasisPoints: 2000 }
    expect(Result.isSuccess(receiveOpenChannel(secp, p, context({ features: f }), large.open))).toBe(true)
  })
  it("anchors: the feerate floor is the relay floor", () => {
    const a = makeOpen({ channelType: anchorsType, feeratePerKw: 253 })
    expect(Result.isSuccess(receiveOpenChannel(secp, policy, context(), a.open))).toBe(true)
    const s = makeOpen({ channelType: staticType, feeratePerKw: 253 })
    expect(failureOf(receiveOpenChannel(secp, policy, context(), s.open)).rule).toBe("FeerateTooLow")
  })
})

describe("accept_channel: receiver rules", () => {
  const n = negotiate()
  const policy = n.policy
  const cases: ReadonlyArray<readonly [string, (m: AcceptChannel) => AcceptChannel, string]> = [
    ["temporary_channel_id differs", (m) => ({ ...m, temporaryChannelId: otherChannelId }), "TemporaryChannelIdMismatch"],
    ["no channel_type", (m) => ({ ...m, tlvs: { upfrontShutdownScript: new Uint8Array(0) } }), "ChannelTypeMissing"],
    ["channel_type differs", (m) => ({ ...m, tlvs: { ...m.tlvs, channelType: channelTypeToBytes(anchorsType) } }), "ChannelTypeMismatch"],
    ["minimum_depth unreasonably large", (m) => ({ ...m, minimumDepth: 10_000 }), "MinimumDepthTooLarge"],
    ["channel_reserve < open's dust_limit", (m) => ({ ...m, channelReserveSatoshis: sat(545n), dustLimitSatoshis: sat(400n) }), "ReserveBelowFunderDustLimit"],
    ["open's channel_reserve < dust_limit", (m) => ({ ...m, dustLimitSatoshis: sat(10_001n) }), "FunderReserveBelowDustLimit"],
    ["to_self_delay unreasonably large", (m) => ({ ...m, toSelfDelay: 3000 }), "ToSelfDelayTooLarge"],
    ["max_accepted_htlcs > 483", (m) => ({ ...m, maxAcceptedHtlcs: 500 }), "MaxAcceptedHtlcsTooLarge"],
    ["max_accepted_htlcs too small", (m) => ({ ...m, maxAcceptedHtlcs: 2 }), "MaxAcceptedHtlcsTooSmall"],
    ["invalid funding_pubkey", (m) => ({ ...m, fundingPubkey: badPoint }), "InvalidPoint"],
    ["invalid first_per_commitment_point", (m) => ({ ...m, firstPerCommitmentPoint: badPoint }), "InvalidPoint"],
    ["dust_limit < 354", (m) => ({ ...m, dustLimitSatoshis: sat(300n) }), "DustLimitTooSmall"],
    ["dust_limit too large", (m) => ({ ...m, dustLimitSatoshis: sat(2000n) }), "DustLimitTooLarge"],
    ["channel_reserve too large", (m) => ({ ...m, channelReserveSatoshis: sat(500_000n) }), "ReserveTooLarge"],
    ["htlc_minimum too large", (m) => ({ ...m, htlcMinimumMsat: msat(5_000_000n) }), "HtlcMinimumTooLarge"],
    ["max_htlc_value_in_flight too small", (m) => ({ ...m, maxHtlcValueInFlightMsat: msat(10n) }), "MaxHtlcValueInFlightTooSmall"],
    ["invalid upfront_shutdown_script", (m) => ({ ...m, tlvs: { ...m.tlvs, upfrontShutdownScript: Uint8Array.of(0x6a) } }), "InvalidUpfrontShutdownScript"]
  ]
  for (const [name, mutate, rule] of cases) {
    it(name, () => {
      const err = failureOf(receiveAcceptChannel(secp, policy, features, n.funderState, mutate(n.accept)))
      expect(err._tag).toBe("AcceptChannelRejected")
      expect(err.rule).toBe(rule)
    })
  }
  it("zero-conf: minimum_depth must be 0", () => {
    const z = negotiate({ channelType: { ...staticType, zeroConf: true } })
    expect(z.accept.minimumDepth).toBe(0)
    expect(failureOf(receiveAcceptChannel(secp, policy, features, z.funderState, { ...z.accept, minimumDepth: 1 })).rule).toBe("ZeroConfNonZeroDepth")
  })
  it("both balances <= reserve (the funder's commitment)", () => {
    const s = negotiate({ fundingAmount: sat(40_000n), pushAmount: msat(30_000_000n) })
    const p = { ...policy, maxReserveBasisPoints: 10_000 }
    expect(failureOf(receiveAcceptChannel(secp, p, features, s.funderState, { ...s.accept, channelReserveSatoshis: sat(35_000n) })).rule).toBe("BothBalancesBelowReserve")
  })
  it("the fundee lowers its dust limit to the funder's reserve", () => {
    const o = makeOpen({ fundingAmount: sat(60_000n), pushAmount: msat(0n) })
    const v = unwrap(receiveOpenChannel(secp, defaultChannelPolicy, context(), { ...o.open, channelReserveSatoshis: sat(400n), dustLimitSatoshis: sat(354n) }))
    expect(v.remote.channelReserve).toBe(400n)
  })
})

describe("funding", () => {
  const n = negotiate()
  it("the funding transaction must pay the funding script the funding amount, from segwit inputs", () => {
    expect(failureOf(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded, { value: sat(999_999n) }))).rule).toBe("FundingAmountMismatch")
    expect(failureOf(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded, { witness: false }))).rule).toBe("FundingInputNotSegwit")
    const tx = fundingTx(n.fundingNeeded)
    expect(failureOf(fundChannel(secp, n.funderNegotiated, temporaryChannelId, { ...tx, outputs: tx.outputs.slice(0, 1) })).rule).toBe("FundingOutputMissing")
    expect(failureOf(fundChannel(secp, n.funderNegotiated, otherChannelId, tx)).rule).toBe("TemporaryChannelIdMismatch")
  })
  it("funding_created: wrong temporary id, bad signature", () => {
    const funded = unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded)))
    const msg = completeFundingCreated(funded.state, signFor(n.a, funded.signRequest))
    expect(unwrap(receiveFundingCreated(secp, n.fundeeState, msg)).state.params.channelId).toEqual(funded.state.params.channelId)
    expect(failureOf(receiveFundingCreated(secp, n.fundeeState, { ...msg, temporaryChannelId: funded.state.params.channelId })).rule).toBe("TemporaryChannelIdMismatch")
    const bad = Uint8Array.from(msg.signature)
    bad[10] = (bad[10] ?? 0) ^ 1
    expect(failureOf(receiveFundingCreated(secp, n.fundeeState, { ...msg, signature: bad })).rule).toBe("InvalidSignature")
    // A signature for another output index is another commitment: rejected.
    expect(failureOf(receiveFundingCreated(secp, n.fundeeState, { ...msg, fundingOutputIndex: 0 })).rule).toBe("InvalidSignature")
  })
  it("funding_signed: wrong channel id, bad signature; a good one releases the funding tx", () => {
    const o = openChannel()
    const funded = o.funder
    const good = Effect.runSync(o.b.signer.signCounterpartyCommitment(o.b.keyId, o.funderFirst.localBalances, o.funder.localFirstPerCommitmentPoint))
    const msg = { _tag: "FundingSigned" as const, channelId: funded.params.channelId, signature: good.signature, tlvs: {} }
    const ok = unwrap(receiveFundingSigned(secp, funded, msg))
    expect(ok.fundingTx !== undefined && equalBytes(serializeTransaction(ok.fundingTx), serializeTransaction(o.fundingTx))).toBe(true)
    expect(failureOf(receiveFundingSigned(secp, funded, { ...msg, channelId: funded.temporaryChannelId })).rule).toBe("ChannelIdMismatch")
    expect(failureOf(receiveFundingSigned(secp, funded, { ...msg, signature: new Uint8Array(64).fill(1) })).rule).toBe("InvalidSignature")
  })
  it("channel_id: txid XOR output index in the last two bytes", () => {
    const t = new Uint8Array(32).fill(0xff)
    expect(toHex(channelIdFromFunding(t, 0x0102)).slice(-4)).toBe("fefd")
  })
})

describe("config schemas", () => {
  it("defaults round-trip", () => {
    expect(Schema.decodeUnknownSync(LocalChannelConfigSchema)(Schema.encodeSync(LocalChannelConfigSchema)(defaultLocalChannelConfig))).toEqual(defaultLocalChannelConfig)
    expect(Schema.decodeUnknownSync(ChannelPolicySchema)(Schema.encodeSync(ChannelPolicySchema)(defaultChannelPolicy))).toEqual(defaultChannelPolicy)
  })
})
