/**
 * Tests written against the mutants Stryker (`npm run mutate -- src/protocol/channel/open.ts`)
 * left alive in `open.ts`: the BOLT 2 "Channel Establishment v1" rules open.test.ts checks by
 * rule name only. Here each rule is checked at its boundary (the last accepted value and the
 * first refused one), the shutdown-script forms the negotiated features allow in
 * `upfront_shutdown_script`, the rejections no other test reaches, and the text each rejection
 * carries: it becomes the data of the `error` we send (BOLT 1 "The `error` and `warning`
 * Messages"; step.ts `errorText`), so it must say why, with the values when the rule compares
 * values.
 */
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { defaultChannelPolicy, defaultLocalChannelConfig, type ChannelPolicy } from "../../../src/protocol/channel/config.ts"
import {
  channelIdFromFunding,
  channelTypeToBytes,
  completeFundingCreated,
  firstCommitments,
  fundChannel,
  fundingDepthReached,
  initialBalances,
  makeAcceptChannel,
  makeChannelReady,
  makeOpenChannel,
  parseChannelType,
  receiveAcceptChannel,
  receiveChannelReady,
  receiveFundingCreated,
  receiveFundingSigned,
  receiveOpenChannel,
  signerChannelParameters,
  type OpenChannelCommand
} from "../../../src/protocol/channel/open.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import type { FeatureName } from "../../../src/protocol/features.ts"
import { ChannelReady, type AcceptChannel, type OpenChannel } from "../../../src/protocol/messages/channel.ts"
import { ChainHashes } from "../../../src/protocol/messages/init.ts"
import { p2wpkhScript } from "../../../src/protocol/tx/bitcoin/script.ts"
import { msat, sat } from "../../../src/protocol/units.ts"
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

interface Rejection {
  readonly rule: string
  readonly detail: string
}

/** The rule of a rejection, after checking its detail says why and names every value given. */
const rejected = <A>(r: Result.Result<A, Rejection>, ...values: ReadonlyArray<string | number | bigint>): string => {
  const e = failureOf(r)
  expect(e.detail.length).toBeGreaterThan(10)
  for (const v of values) expect(e.detail).toContain(String(v))
  return e.rule
}

// ---- open_channel: our command -------------------------------------------------------------------

describe("open_channel sender MUSTs (makeOpenChannel)", () => {
  const o = makeOpen()
  const cmd: OpenChannelCommand = {
    chainHash,
    temporaryChannelId,
    keyId: o.a.keyId,
    fundingAmount: sat(1_000_000n),
    pushAmount: msat(0n),
    feeratePerKw: 2500,
    channelType: staticType,
    announce: false,
    basepoints: o.a.basepoints,
    firstPerCommitmentPoint: o.a.point(0n)
  }
  const make = (over: Partial<OpenChannelCommand> = {}, f: ReadonlySet<FeatureName> = features, config = defaultLocalChannelConfig) =>
    makeOpenChannel(config, f, { ...cmd, ...over })

  it("the key id is 32 bytes (the temporary channel id is one by its type)", () => {
    expect(rejected(make({ keyId: new Uint8Array(31) }))).toBe("InvalidTemporaryChannelId")
  })

  it("funding_satoshis below 2^24 unless option_support_large_channel (MAY set it >= 2^24 then)", () => {
    expect(Result.isSuccess(make({ fundingAmount: sat((1n << 24n) - 1n) }))).toBe(true)
    expect(rejected(make({ fundingAmount: sat(1n << 24n) }))).toBe("FundingTooLarge")
    expect(Result.isSuccess(make({ fundingAmount: sat(1n << 24n) }, new Set<FeatureName>([...features, "option_support_large_channel"])))).toBe(true)
  })

  it("push_msat at most 1000 * funding_satoshis (equal is allowed), never negative", () => {
    // At feerate 0 a static_remote_key commitment costs nothing: the funder may push everything.
    expect(Result.isSuccess(make({ pushAmount: msat(1_000_000_000n), feeratePerKw: 0 }))).toBe(true)
    expect(rejected(make({ pushAmount: msat(1_000_000_001n), feeratePerKw: 0 }))).toBe("PushExceedsFunding")
    expect(rejected(make({ pushAmount: msat(-1n) }))).toBe("PushExceedsFunding")
  })

  it("option_scid_alias only on an unannounced channel (MUST NOT send channel_type with option_scid_alias when announce_channel)", () => {
    expect(rejected(make({ announce: true, channelType: { ...staticType, scidAlias: true } }))).toBe("ScidAliasOnAnnouncedChannel")
    expect(Result.isSuccess(make({ announce: false, channelType: { ...staticType, scidAlias: true } }))).toBe(true)
    const announced = unwrap(make({ announce: true }))
    expect(announced.message.channelFlags).toBe(1)
    expect(announced.state.announce).toBe(true)
  })

  it("our dust_limit_satoshis at least 354", () => {
    expect(rejected(make({}, features, { ...defaultLocalChannelConfig, dustLimit: sat(353n), channelReserveBasisPoints: 100 }))).toBe("DustLimitTooSmall")
    expect(unwrap(make({}, features, { ...defaultLocalChannelConfig, dustLimit: sat(354n) })).message.dustLimitSatoshis).toBe(354n)
  })

  it("the funder can pay the first commitment's fee (exactly is enough); the detail gives both amounts", () => {
    // static_remote_key, no HTLCs: 724 weight; at 1000 sat/kw the fee is 724 sat.
    expect(Result.isSuccess(make({ fundingAmount: sat(10_000n), pushAmount: msat(9_276_000n), feeratePerKw: 1000 }))).toBe(true)
    expect(rejected(make({ fundingAmount: sat(10_000n), pushAmount: msat(9_277_000n), feeratePerKw: 1000 }), "723", "724")).toBe("FunderCannotPayFee")
    // Anchors: the two anchors (2 x 330 sat) are charged too.
    expect(rejected(make({ channelType: anchorsType, fundingAmount: sat(10_000n), pushAmount: msat(9_100_000n), feeratePerKw: 253 }), "900", "944")).toBe("FunderCannotPayFee")
  })

  it("our upfront_shutdown_script is sent and kept; without one a zero-length one is sent and none kept", () => {
    const script = p2wpkhScript(o.a.basepoints.paymentBasepoint)
    const made = unwrap(make({}, features, { ...defaultLocalChannelConfig, upfrontShutdownScript: script }))
    expect(made.message.tlvs.upfrontShutdownScript).toEqual(script)
    expect(made.state.local.upfrontShutdownScript).toEqual(script)
    const none = unwrap(make({}, features, { ...defaultLocalChannelConfig, upfrontShutdownScript: new Uint8Array(0) }))
    expect(none.message.tlvs.upfrontShutdownScript).toEqual(new Uint8Array(0))
    expect(none.state.local.upfrontShutdownScript).toBeUndefined()
  })

  it("the message carries every field of the command and the config; the state keeps what the next steps need", () => {
    const made = unwrap(make({ pushAmount: msat(5_000n), feeratePerKw: 3000, channelType: anchorsType }))
    const m = made.message
    expect(m.chainHash).toEqual(chainHash)
    expect(m.temporaryChannelId).toEqual(temporaryChannelId)
    expect(m.fundingSatoshis).toBe(1_000_000n)
    expect(m.pushMsat).toBe(5_000n)
    expect(m.feeratePerKw).toBe(3000)
    expect(m.maxHtlcValueInFlightMsat).toBe(1_000_000_000n)
    expect(m.htlcMinimumMsat).toBe(defaultLocalChannelConfig.htlcMinimum)
    expect(m.toSelfDelay).toBe(defaultLocalChannelConfig.toSelfDelay)
    expect(m.maxAcceptedHtlcs).toBe(defaultLocalChannelConfig.maxAcceptedHtlcs)
    expect([m.fundingPubkey, m.revocationBasepoint, m.paymentBasepoint, m.delayedPaymentBasepoint, m.htlcBasepoint]).toEqual([
      o.a.basepoints.fundingPubkey,
      o.a.basepoints.revocationBasepoint,
      o.a.basepoints.paymentBasepoint,
      o.a.basepoints.delayedPaymentBasepoint,
      o.a.basepoints.htlcBasepoint
    ])
    expect(m.firstPerCommitmentPoint).toEqual(o.a.point(0n))
    expect(m.tlvs.channelType).toEqual(Uint8Array.of(0x40, 0x10, 0x00))
    expect(made.state).toMatchObject({ fundingAmount: 1_000_000n, pushAmount: 5_000n, feeratePerKw: 3000, channelType: anchorsType, announce: false })
    expect(made.state.keyId).toEqual(o.a.keyId)
    expect(made.state.local.channelReserve).toBe(10_000n)
    expect(made.state.localFirstPerCommitmentPoint).toEqual(o.a.point(0n))
  })
})


// ---- open_channel: the receiver ------------------------------------------------------------------

describe("open_channel receiver rules (receiveOpenChannel), at their boundaries", () => {
  const o = makeOpen()
  const policy = defaultChannelPolicy
  const receive = (over: Partial<OpenChannel> = {}, p: Partial<ChannelPolicy> = {}, ctx = context()) =>
    receiveOpenChannel(secp, { ...policy, ...p }, ctx, { ...o.open, ...over })
  const ok = (r: Result.Result<unknown, unknown>) => expect(Result.isSuccess(r)).toBe(true)

  it("every rejection says why, naming the values it compared", () => {
    expect(rejected(receive({ chainHash: ChainHashes.bitcoin }))).toBe("UnknownChainHash")
    expect(rejected(receive({}, {}, context({ features: new Set<FeatureName>([...features, "option_dual_fund"]) })))).toBe("DualFundNegotiated")
    expect(rejected(receive({ tlvs: { upfrontShutdownScript: new Uint8Array(0) } }))).toBe("ChannelTypeMissing")
    expect(rejected(receive({ tlvs: { ...o.open.tlvs, channelType: Uint8Array.of(0, 0x10, 0) } }))).toBe("ChannelTypeNotMinimal")
    expect(rejected(receive({ tlvs: { ...o.open.tlvs, channelType: Uint8Array.of(1, 0, 0) } }))).toBe("ChannelTypeUnsupported")
    expect(rejected(receive({ tlvs: { ...o.open.tlvs, channelType: channelTypeToBytes(anchorsType) } }, { acceptAnchors: false }))).toBe("ChannelTypeUnsupported")
    expect(rejected(receive({ channelFlags: 1, tlvs: { ...o.open.tlvs, channelType: channelTypeToBytes({ ...staticType, scidAlias: true }) } }))).toBe(
      "ScidAliasOnAnnouncedChannel"
    )
    expect(rejected(receive({ fundingSatoshis: sat(1n << 24n) }, { maxFunding: sat(1n << 30n) }), 1n << 24n)).toBe("FundingTooLarge")
    expect(rejected(receive({ fundingSatoshis: sat(9_999n), pushMsat: msat(0n) }), "9999", "10000")).toBe("FundingTooSmall")
    expect(rejected(receive({}, { maxFunding: sat(999_999n) }), "1000000", "999999")).toBe("FundingAbovePolicy")
    expect(rejected(receive({ pushMsat: msat(1_000_000_001n) }))).toBe("PushExceedsFunding")
    expect(rejected(receive({ feeratePerKw: 1249 }), "1249", "1250")).toBe("FeerateTooLow")
    expect(rejected(receive({ feeratePerKw: 25_001 }), "25001", "25000")).toBe("FeerateTooHigh")
    expect(rejected(receive({ toSelfDelay: 2017 }), "2017", "2016")).toBe("ToSelfDelayTooLarge")
    expect(rejected(receive({ maxAcceptedHtlcs: 484 }), "484", "483")).toBe("MaxAcceptedHtlcsTooLarge")
    const bad = Uint8Array.of(2, ...new Array<number>(32).fill(0xff))
    expect(rejected(receive({ htlcBasepoint: bad }), "htlc_basepoint")).toBe("InvalidPoint")
    expect(rejected(receive({ fundingPubkey: bad }), "funding_pubkey")).toBe("InvalidPoint")
    expect(rejected(receive({ revocationBasepoint: bad }), "revocation_basepoint")).toBe("InvalidPoint")
    expect(rejected(receive({ paymentBasepoint: bad }), "payment_basepoint")).toBe("InvalidPoint")
    expect(rejected(receive({ delayedPaymentBasepoint: bad }), "delayed_payment_basepoint")).toBe("InvalidPoint")
    expect(rejected(receive({ firstPerCommitmentPoint: bad }), "first_per_commitment_point")).toBe("InvalidPoint")
    expect(rejected(receive({ dustLimitSatoshis: sat(353n) }), "353", "354")).toBe("DustLimitTooSmall")
    expect(rejected(receive({ dustLimitSatoshis: sat(1001n) }), "1001", "1000")).toBe("DustLimitTooLarge")
    expect(rejected(receive({ channelReserveSatoshis: sat(200_001n) }), "200001", "200000")).toBe("ReserveTooLarge")
    expect(rejected(receive({ htlcMinimumMsat: msat(1_000_001n) }), "1000001", "1000000")).toBe("HtlcMinimumTooLarge")
    expect(rejected(receive({ maxHtlcValueInFlightMsat: msat(9_999_999n) }), "9999999", "10000000")).toBe("MaxHtlcValueInFlightTooSmall")
    expect(rejected(receive({ maxAcceptedHtlcs: 4 }), "4", "5")).toBe("MaxAcceptedHtlcsTooSmall")
    expect(rejected(receive({ tlvs: { ...o.open.tlvs, upfrontShutdownScript: Uint8Array.of(0x51) } }))).toBe("InvalidUpfrontShutdownScript")
    expect(rejected(receive({ dustLimitSatoshis: sat(600n), channelReserveSatoshis: sat(599n) }), "600", "599")).toBe("DustLimitAboveReserve")
    expect(rejected(receive({ pushMsat: msat(999_000_000n) }), "1000", "1810")).toBe("FunderCannotPayFee")
    // The whole funding pushed is not more than the funding: the funder then cannot pay the fee.
    expect(rejected(receive({ pushMsat: msat(1_000_000_000n) }), "0", "1810")).toBe("FunderCannotPayFee")
  })

  it("a funder left with exactly the first commitment's fee can pay it (the fundee holds the rest, above its reserve)", () => {
    ok(receive({ pushMsat: msat(998_190_000n) }))
  })

  it("the last accepted value of each bound is accepted", () => {
    ok(receive({ fundingSatoshis: sat(10_000n), pushMsat: msat(0n), channelReserveSatoshis: sat(2_000n), maxHtlcValueInFlightMsat: msat(100_000n) }))
    ok(receive({}, { maxFunding: sat(1_000_000n) }))
    ok(receive({ feeratePerKw: 1250 }))
    ok(receive({ feeratePerKw: 25_000 }))
    ok(receive({ toSelfDelay: 2016 }))
    ok(receive({ maxAcceptedHtlcs: 483 }))
    ok(receive({ maxAcceptedHtlcs: 5 }))
    ok(receive({ dustLimitSatoshis: sat(354n) }))
    ok(receive({ dustLimitSatoshis: sat(1000n) }))
    ok(receive({ channelReserveSatoshis: sat(200_000n) }))
    ok(receive({ htlcMinimumMsat: msat(1_000_000n) }))
    ok(receive({ maxHtlcValueInFlightMsat: msat(10_000_000n) }))
    ok(receive({ dustLimitSatoshis: sat(600n), channelReserveSatoshis: sat(600n) }))
  })

  it("option_scid_alias: refused when our policy refuses it, accepted otherwise", () => {
    const alias = { tlvs: { ...o.open.tlvs, channelType: Uint8Array.of(0x40, 0, 0, 0, 0x10, 0) } }
    expect(parseChannelType(Uint8Array.of(0x40, 0, 0, 0, 0x10, 0))).toEqual({ name: "static_remote_key", scidAlias: true, zeroConf: false })
    expect(rejected(receive(alias, { acceptScidAlias: false }))).toBe("ChannelTypeUnsupported")
    expect(unwrap(receive(alias)).channelType.scidAlias).toBe(true)
  })

  it("option_zeroconf: only when our policy accepts it AND we trust the peer", () => {
    const zc = { tlvs: { ...o.open.tlvs, channelType: Uint8Array.of(0x04, 0, 0, 0, 0, 0x10, 0) } }
    expect(parseChannelType(Uint8Array.of(0x04, 0, 0, 0, 0, 0x10, 0))).toEqual({ name: "static_remote_key", scidAlias: false, zeroConf: true })
    expect(rejected(receive(zc, { acceptZeroConf: true }, context({ peerTrustedForZeroConf: false })))).toBe("ZeroConfNotTrusted")
    expect(rejected(receive(zc, { acceptZeroConf: false }, context({ peerTrustedForZeroConf: true })))).toBe("ZeroConfNotTrusted")
    expect(unwrap(receive(zc, { acceptZeroConf: true }, context({ peerTrustedForZeroConf: true }))).channelType.zeroConf).toBe(true)
  })

  it("funding >= 2^24 needs both the negotiated feature and our policy", () => {
    const large = { fundingSatoshis: sat(1n << 24n), pushMsat: msat(0n), channelReserveSatoshis: sat(100_000n), maxHtlcValueInFlightMsat: msat(1n << 40n) }
    const f = new Set<FeatureName>([...features, "option_support_large_channel"])
    const p = { maxFunding: sat(1n << 30n), acceptLargeChannels: true }
    ok(receive(large, p, context({ features: f })))
    expect(rejected(receive(large, p))).toBe("FundingTooLarge")
    expect(rejected(receive(large, { ...p, acceptLargeChannels: false }, context({ features: f })))).toBe("FundingTooLarge")
    ok(receive({ ...large, fundingSatoshis: sat((1n << 24n) - 1n) }, { maxFunding: sat(1n << 30n) }))
  })

  it("upfront_shutdown_script: a zero-length one opts out; witness v1+ only with option_shutdown_anysegwit; OP_RETURN only with option_simple_close", () => {
    const withScript = (script: Uint8Array) => ({ tlvs: { ...o.open.tlvs, upfrontShutdownScript: script } })
    expect(unwrap(receive(withScript(new Uint8Array(0)))).remote.upfrontShutdownScript).toBeUndefined()
    const taproot = Uint8Array.of(0x51, 0x20, ...new Uint8Array(32).fill(3))
    expect(unwrap(receive(withScript(taproot))).remote.upfrontShutdownScript).toEqual(taproot)
    const noAnySegwit = new Set<FeatureName>([...features].filter((f) => f !== "option_shutdown_anysegwit"))
    expect(rejected(receive(withScript(taproot), {}, context({ features: noAnySegwit })))).toBe("InvalidUpfrontShutdownScript")
    const opReturn = Uint8Array.of(0x6a, 6, 1, 2, 3, 4, 5, 6)
    expect(rejected(receive(withScript(opReturn)))).toBe("InvalidUpfrontShutdownScript")
    ok(receive(withScript(opReturn), {}, context({ features: new Set<FeatureName>([...features, "option_simple_close"]) })))
  })

  it("both initial balances <= channel_reserve_satoshis: refused; one above it (by 1 sat) is enough", () => {
    const p = { maxReserveBasisPoints: 10_000 }
    // static_remote_key at 2500 sat/kw: the fee is 1810 sat. Funder 40,000 - 19,000 - 1,810 = 19,190 sat after the fee; push 19,000 sat.
    const m = { fundingSatoshis: sat(40_000n), pushMsat: msat(19_000_000n), maxHtlcValueInFlightMsat: msat(40_000_000n) }
    expect(rejected(receive({ ...m, channelReserveSatoshis: sat(19_190n) }, p))).toBe("BothBalancesBelowReserve")
    ok(receive({ ...m, channelReserveSatoshis: sat(19_189n) }, p))
    // The pushed side above the reserve is enough too; at the reserve it is not.
    ok(receive({ ...m, pushMsat: msat(20_000_000n), channelReserveSatoshis: sat(19_999n) }, p))
    expect(rejected(receive({ ...m, pushMsat: msat(20_000_000n), channelReserveSatoshis: sat(20_000n) }, p))).toBe("BothBalancesBelowReserve")
  })

  it("the validated channel: the funder's parameters and points, announce from channel_flags bit 0 only", () => {
    const v = unwrap(receive({ channelFlags: 0xfe }))
    expect(v.announce).toBe(false)
    expect(unwrap(receive({ channelFlags: 1 })).announce).toBe(true)
    expect(v).toMatchObject({ fundingAmount: 1_000_000n, pushAmount: o.open.pushMsat, feeratePerKw: 2500, channelType: staticType })
    expect(v.chainHash).toEqual(chainHash)
    expect(v.temporaryChannelId).toEqual(temporaryChannelId)
    expect(v.remote).toMatchObject({ dustLimit: 546n, channelReserve: 10_000n, htlcMinimum: 1n, toSelfDelay: 144, maxAcceptedHtlcs: 30, maxHtlcValueInFlight: 1_000_000_000n })
    expect(v.remote.basepoints).toEqual(o.a.basepoints)
    expect(v.remoteFirstPerCommitmentPoint).toEqual(o.a.point(0n))
  })
})

// ---- accept_channel --------------------------------------------------------------------------------

describe("accept_channel: the fundee's message (makeAcceptChannel, sender MUSTs)", () => {
  const o = makeOpen()
  const validated = unwrap(receiveOpenChannel(secp, defaultChannelPolicy, context(), o.open))
  const cmd = { keyId: o.b.keyId, basepoints: o.b.basepoints, firstPerCommitmentPoint: o.b.point(0n) }

  it("same temporary id and channel type; our keys, point and config; minimum_depth from the config", () => {
    const { message: m, state } = makeAcceptChannel(defaultLocalChannelConfig, validated, cmd)
    expect(m.temporaryChannelId).toEqual(temporaryChannelId)
    expect(m.tlvs.channelType).toEqual(o.open.tlvs.channelType)
    expect(m.minimumDepth).toBe(3)
    expect(m.dustLimitSatoshis).toBe(546n)
    expect(m.channelReserveSatoshis).toBe(10_000n)
    expect(m.maxHtlcValueInFlightMsat).toBe(1_000_000_000n)
    expect([m.fundingPubkey, m.revocationBasepoint, m.paymentBasepoint, m.delayedPaymentBasepoint, m.htlcBasepoint, m.firstPerCommitmentPoint]).toEqual([
      o.b.basepoints.fundingPubkey,
      o.b.basepoints.revocationBasepoint,
      o.b.basepoints.paymentBasepoint,
      o.b.basepoints.delayedPaymentBasepoint,
      o.b.basepoints.htlcBasepoint,
      o.b.point(0n)
    ])
    expect(m.tlvs.upfrontShutdownScript).toEqual(new Uint8Array(0))
    expect(state).toMatchObject({ localIsFunder: false, minimumDepth: 3, fundingAmount: 1_000_000n, feeratePerKw: 2500, announce: false })
    expect(state.keyId).toEqual(o.b.keyId)
    expect(state.remote).toEqual(validated.remote)
    expect(state.localFirstPerCommitmentPoint).toEqual(o.b.point(0n))
    expect(state.remoteFirstPerCommitmentPoint).toEqual(o.a.point(0n))
  })

  it("zero-conf: minimum_depth 0 (MUST set minimum_depth to zero)", () => {
    const zc = { ...validated, channelType: { ...staticType, zeroConf: true } }
    const { message, state } = makeAcceptChannel(defaultLocalChannelConfig, zc, cmd)
    expect(message.minimumDepth).toBe(0)
    expect(state.minimumDepth).toBe(0)
  })

  it("our dust_limit_satoshis <= the funder's reserve (equal kept); our reserve >= the funder's dust limit", () => {
    const equal = makeAcceptChannel(defaultLocalChannelConfig, { ...validated, remote: { ...validated.remote, channelReserve: sat(546n) } }, cmd)
    expect(equal.message.dustLimitSatoshis).toBe(546n)
    const lower = makeAcceptChannel(defaultLocalChannelConfig, { ...validated, remote: { ...validated.remote, channelReserve: sat(545n) } }, cmd)
    expect(lower.message.dustLimitSatoshis).toBe(545n)
    const bigDust = makeAcceptChannel(defaultLocalChannelConfig, { ...validated, remote: { ...validated.remote, dustLimit: sat(20_000n) } }, cmd)
    expect(bigDust.message.channelReserveSatoshis).toBe(20_000n)
  })

  it("our upfront_shutdown_script, when the config has one", () => {
    const script = p2wpkhScript(o.b.basepoints.paymentBasepoint)
    const { message, state } = makeAcceptChannel({ ...defaultLocalChannelConfig, upfrontShutdownScript: script }, validated, cmd)
    expect(message.tlvs.upfrontShutdownScript).toEqual(script)
    expect(state.local.upfrontShutdownScript).toEqual(script)
  })
})

describe("accept_channel receiver rules (receiveAcceptChannel), at their boundaries", () => {
  const n = negotiate()
  const receive = (over: Partial<AcceptChannel> = {}, p: Partial<ChannelPolicy> = {}) =>
    receiveAcceptChannel(secp, { ...n.policy, ...p }, features, n.funderState, { ...n.accept, ...over })
  const ok = (r: Result.Result<unknown, unknown>) => expect(Result.isSuccess(r)).toBe(true)

  it("every rejection says why, naming the values it compared", () => {
    expect(rejected(receive({ temporaryChannelId: otherChannelId }))).toBe("TemporaryChannelIdMismatch")
    expect(rejected(receive({ tlvs: { upfrontShutdownScript: new Uint8Array(0) } }))).toBe("ChannelTypeMissing")
    expect(rejected(receive({ tlvs: { ...n.accept.tlvs, channelType: channelTypeToBytes(anchorsType) } }))).toBe("ChannelTypeMismatch")
    expect(rejected(receive({ minimumDepth: 145 }), "145", "144")).toBe("MinimumDepthTooLarge")
    expect(rejected(receive({ channelReserveSatoshis: sat(545n), dustLimitSatoshis: sat(400n) }), "545", "546")).toBe("ReserveBelowFunderDustLimit")
    expect(rejected(receive({ dustLimitSatoshis: sat(10_001n) }), "10000", "10001")).toBe("FunderReserveBelowDustLimit")
    expect(rejected(receive({ toSelfDelay: 2017 }), "2017")).toBe("ToSelfDelayTooLarge")
  })

  it("the last accepted value of each bound is accepted", () => {
    ok(receive({ minimumDepth: 144 }))
    ok(receive({ channelReserveSatoshis: sat(546n), dustLimitSatoshis: sat(400n) }))
    ok(receive({ dustLimitSatoshis: sat(1000n) }, { maxDustLimit: sat(10_000n) }))
    ok(receive({ dustLimitSatoshis: sat(10_000n) }, { maxDustLimit: sat(10_000n) }))
  })

  it("zero-conf: minimum_depth 0 is accepted", () => {
    const z = negotiate({ channelType: { ...staticType, zeroConf: true } })
    const r = unwrap(receiveAcceptChannel(secp, n.policy, features, z.funderState, z.accept))
    expect(r.state.minimumDepth).toBe(0)
    expect(r.state.channelType.zeroConf).toBe(true)
    expect(rejected(receiveAcceptChannel(secp, n.policy, features, z.funderState, { ...z.accept, minimumDepth: 1 }))).toBe("ZeroConfNonZeroDepth")
  })

  it("both initial balances <= channel_reserve_satoshis (the funder's commitment): refused; one above by 1 sat: accepted", () => {
    // Funding 40,000 sat, push 30,000 sat at 2500 sat/kw (fee 1810 sat): funder 8,190 sat after the fee, fundee 30,000.
    const s = negotiate({ fundingAmount: sat(40_000n), pushAmount: msat(30_000_000n) })
    const p = { ...n.policy, maxReserveBasisPoints: 10_000 }
    const at = (reserve: bigint) => receiveAcceptChannel(secp, p, features, s.funderState, { ...s.accept, channelReserveSatoshis: sat(reserve) })
    expect(rejected(at(30_000n))).toBe("BothBalancesBelowReserve")
    ok(at(29_999n))
    const f = negotiate({ fundingAmount: sat(40_000n), pushAmount: msat(10_000_000n) })
    // Funder 40,000 - 10,000 - 1,810 = 28,190 sat: a reserve of 28,189 leaves it above.
    const atF = (reserve: bigint) => receiveAcceptChannel(secp, p, features, f.funderState, { ...f.accept, channelReserveSatoshis: sat(reserve) })
    ok(atF(28_189n))
    expect(rejected(atF(28_190n))).toBe("BothBalancesBelowReserve")
  })

  it("the negotiated channel: the fundee's parameters, its first point and minimum_depth; the funding output for the wallet", () => {
    const r = unwrap(receive())
    expect(r.state).toMatchObject({ localIsFunder: true, minimumDepth: 3, fundingAmount: 1_000_000n, pushAmount: 100_000_000n, feeratePerKw: 2500, announce: false })
    expect(r.state.remote.basepoints).toEqual(n.b.basepoints)
    expect(r.state.remote).toMatchObject({ dustLimit: 546n, channelReserve: 10_000n, toSelfDelay: 144, maxAcceptedHtlcs: 30 })
    expect(r.state.remoteFirstPerCommitmentPoint).toEqual(n.b.point(0n))
    expect(r.state.localFirstPerCommitmentPoint).toEqual(n.a.point(0n))
    expect(r.state.keyId).toEqual(n.a.keyId)
    expect(r.state.chainHash).toEqual(chainHash)
    expect(r.fundingNeeded.amount).toBe(1_000_000n)
    expect(r.fundingNeeded.temporaryChannelId).toEqual(temporaryChannelId)
    expect(r.fundingNeeded.scriptPubKey.length).toBe(34)
    const script = p2wpkhScript(n.b.basepoints.paymentBasepoint)
    expect(unwrap(receive({ tlvs: { ...n.accept.tlvs, upfrontShutdownScript: script } })).state.remote.upfrontShutdownScript).toEqual(script)
    expect(unwrap(receive()).state.remote.upfrontShutdownScript).toBeUndefined()
  })
})

// ---- funding ----------------------------------------------------------------------------------------

describe("funding (BOLT 2 funding_created / funding_signed; BOLT 3 Funding Transaction Output)", () => {
  const n = negotiate()

  it("each refusal of the funding transaction says why", () => {
    expect(rejected(fundChannel(secp, n.funderNegotiated, otherChannelId, fundingTx(n.fundingNeeded)))).toBe("TemporaryChannelIdMismatch")
    expect(rejected(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded, { value: sat(999_999n) })), "999999", "1000000")).toBe(
      "FundingAmountMismatch"
    )
    expect(rejected(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded, { witness: false })))).toBe("FundingInputNotSegwit")
    const tx = fundingTx(n.fundingNeeded)
    expect(rejected(fundChannel(secp, n.funderNegotiated, temporaryChannelId, { ...tx, inputs: [] }))).toBe("FundingInputNotSegwit")
    expect(rejected(fundChannel(secp, n.funderNegotiated, temporaryChannelId, { ...tx, outputs: tx.outputs.slice(0, 1) }))).toBe("FundingOutputMissing")
  })

  it("funding_output_index is a u16: the funding output at index 65535 is accepted, at 65536 refused", () => {
    const tx = fundingTx(n.fundingNeeded)
    const change = tx.outputs[0]
    const funding = tx.outputs[1]
    if (change === undefined || funding === undefined) throw new Error("fixture")
    const at = (index: number) => ({ ...tx, outputs: [...new Array<typeof change>(index).fill(change), funding] })
    expect(rejected(fundChannel(secp, n.funderNegotiated, temporaryChannelId, at(0x10000)))).toBe("FundingOutputIndexTooLarge")
    expect(unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, at(0xffff))).state.params.fundingOutpoint.vout).toBe(0xffff)
    // The first output is an output too.
    expect(unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, { ...tx, outputs: [funding, change] })).state.params.fundingOutpoint.vout).toBe(0)
  })

  it("the funded channel: the outpoint, the final channel id, the first commitments and the request to sign the fundee's", () => {
    const tx = fundingTx(n.fundingNeeded)
    const f = unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, tx))
    expect(f.state.params.fundingOutpoint.vout).toBe(1)
    expect(f.state.params.channelId).toEqual(channelIdFromFunding(f.state.params.fundingOutpoint.txid, 1))
    expect(f.state.params).toMatchObject({ localIsFunder: true, channelType: "static_remote_key", scidAlias: false, zeroConf: false, fundingAmount: 1_000_000n, announce: false })
    expect(f.state.fundingTx).toBeDefined()
    expect(f.signRequest._tag).toBe("SignCounterpartyCommitment")
    expect(f.signRequest.keyId).toEqual(n.a.keyId)
    expect(f.signRequest.counterpartyPerCommitmentPoint).toEqual(n.b.point(0n))
    // The fundee's commitment, from the fundee: it holds the push, we the rest.
    expect(f.signRequest.commitment).toEqual({ commitmentNumber: 0n, feeratePerKw: 2500, toLocal: 100_000_000n, toRemote: 900_000_000n, htlcs: [] })
    expect(f.first.localBalances).toEqual({ commitmentNumber: 0n, feeratePerKw: 2500, toLocal: 900_000_000n, toRemote: 100_000_000n, htlcs: [] })
  })

  it("funding_created and funding_signed refusals say why", () => {
    const funded = unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded)))
    const msg = completeFundingCreated(funded.state, signFor(n.a, funded.signRequest))
    expect(rejected(receiveFundingCreated(secp, n.fundeeState, { ...msg, temporaryChannelId: otherChannelId }))).toBe("TemporaryChannelIdMismatch")
    expect(rejected(receiveFundingCreated(secp, n.fundeeState, { ...msg, signature: new Uint8Array(64).fill(1) }))).toBe("InvalidSignature")
    const o = openChannel()
    const sig = { _tag: "FundingSigned" as const, channelId: o.funder.params.channelId, signature: new Uint8Array(64).fill(1), tlvs: {} }
    expect(rejected(receiveFundingSigned(secp, o.funder, { ...sig, channelId: otherChannelId }))).toBe("ChannelIdMismatch")
    expect(rejected(receiveFundingSigned(secp, o.funder, sig))).toBe("InvalidSignature")
  })

  it("the fundee learns the funder's outpoint and keeps no funding transaction", () => {
    const funded = unwrap(fundChannel(secp, n.funderNegotiated, temporaryChannelId, fundingTx(n.fundingNeeded)))
    const msg = completeFundingCreated(funded.state, signFor(n.a, funded.signRequest))
    expect(msg.fundingOutputIndex).toBe(1)
    const r = unwrap(receiveFundingCreated(secp, n.fundeeState, msg))
    expect(r.state.fundingTx).toBeUndefined()
    // Not even as a key holding undefined (the record is compared as JSON, where it would not round-trip).
    expect(Object.keys(r.state)).not.toContain("fundingTx")
    expect(r.state.params.fundingOutpoint).toEqual(funded.state.params.fundingOutpoint)
    expect(r.state.params.localIsFunder).toBe(false)
    expect(r.remoteSignature).toEqual(msg.signature)
    expect(r.signRequest.commitment).toEqual({ commitmentNumber: 0n, feeratePerKw: 2500, toLocal: 900_000_000n, toRemote: 100_000_000n, htlcs: [] })
  })

  it("the fundee's funding_signed: no funding transaction to release", () => {
    const o = openChannel()
    const good = Effect.runSync(o.b.signer.signCounterpartyCommitment(o.b.keyId, o.funderFirst.localBalances, o.funder.localFirstPerCommitmentPoint))
    const msg = { _tag: "FundingSigned" as const, channelId: o.funder.params.channelId, signature: good.signature, tlvs: {} }
    const { fundingTx: _dropped, ...withoutTx } = o.funder
    expect(unwrap(receiveFundingSigned(secp, withoutTx, msg)).fundingTx).toBeUndefined()
    expect(unwrap(receiveFundingSigned(secp, { ...o.funder, fundingTx: Uint8Array.of(1, 2) }, msg)).fundingTx).toBeUndefined()
  })

  it("a first commitment that cannot be built (feerate beyond u32) is refused with the builder's reason", () => {
    const o = openChannel()
    const e = failureOf(firstCommitments(secp, { ...o.funder, feeratePerKw: 2 ** 32 }))
    expect(e.rule).toBe("CommitmentBuildFailed")
    expect(e.detail.length).toBeGreaterThan(0)
  })
})

describe("balances and signer parameters", () => {
  it("the funder holds funding - push, the fundee the push", () => {
    const c = { fundingAmount: sat(1_000n), pushAmount: msat(300_000n) }
    expect(initialBalances({ ...c, localIsFunder: true })).toEqual({ toLocal: 700_000n, toRemote: 300_000n })
    expect(initialBalances({ ...c, localIsFunder: false })).toEqual({ toLocal: 300_000n, toRemote: 700_000n })
  })

  it("the delay on our outputs is the one the peer asked of us, and vice versa; dust limits per side", () => {
    const o = openChannel()
    const p = { ...o.funder.params, local: { ...o.funder.params.local, toSelfDelay: 100, dustLimit: sat(400n) }, remote: { ...o.funder.params.remote, toSelfDelay: 200, dustLimit: sat(500n) } }
    const s = signerChannelParameters(p)
    expect(s).toMatchObject({ holderSelfDelay: 200, counterpartySelfDelay: 100, holderDustLimit: 400n, counterpartyDustLimit: 500n, holderIsFunder: true, fundingAmount: 1_000_000n })
    expect(s.counterpartyBasepoints).toEqual(p.remote.basepoints)
    expect(s.fundingOutpoint).toEqual(p.fundingOutpoint)
    expect(s.channelType.name).toBe("static_remote_key")
  })
})

// ---- channel ids and types -------------------------------------------------------------------------

describe("channel_id and channel_type", () => {
  it("channel_id: txid XOR the big-endian output index in the last two bytes; the index must be a u16 and the txid 32 bytes", () => {
    const t = new Uint8Array(32).fill(0x0f)
    expect(toHex(channelIdFromFunding(t, 0xabcd))).toBe("0f".repeat(30) + "a4c2")
    expect(toHex(channelIdFromFunding(t, 0))).toBe("0f".repeat(32))
    expect(() => channelIdFromFunding(t, 0x10000)).toThrow(new RangeError("funding txid must be 32 bytes, index a u16"))
    expect(() => channelIdFromFunding(t, -1)).toThrow(RangeError)
    expect(() => channelIdFromFunding(new Uint8Array(31), 0)).toThrow(RangeError)
    expect(toHex(channelIdFromFunding(t, 0xffff))).toBe("0f".repeat(30) + "f0f0")
  })

  it("channel_type: the smallest bitmap, a leading zero byte is not minimal; an empty one is no known type", () => {
    expect(channelTypeToBytes(staticType)).toEqual(Uint8Array.of(0x10, 0x00))
    expect(parseChannelType(Uint8Array.of(0x10, 0x00))).toEqual(staticType)
    expect(parseChannelType(Uint8Array.of(0x00, 0x10, 0x00))).toBe("not_minimal")
    expect(parseChannelType(new Uint8Array(0))).toBeUndefined()
  })
})

// ---- channel_ready ----------------------------------------------------------------------------------

describe("channel_ready (BOLT 2: once the funding transaction reached minimum_depth; alias with option_scid_alias)", () => {
  const o = openChannel()
  const params = o.funder.params
  const point = o.a.point(1n)
  const alias = shortChannelIdFromParts(1, 2, 3)

  it("depth: reached at minimum_depth, not one below; at least one confirmation even when minimum_depth is 0; zero-conf at once", () => {
    expect(fundingDepthReached(params, 3, 3)).toBe(true)
    expect(fundingDepthReached(params, 3, 2)).toBe(false)
    expect(fundingDepthReached(params, 0, 1)).toBe(true)
    expect(fundingDepthReached(params, 0, 0)).toBe(false)
    expect(fundingDepthReached(params, 3, undefined)).toBe(false)
    expect(fundingDepthReached({ ...params, zeroConf: true }, 3, undefined)).toBe(true)
  })

  it("makeChannelReady: refusals say why; the message carries our next point and the alias when given", () => {
    expect(rejected(makeChannelReady(params, { minimumDepth: 3, depth: 2, secondPerCommitmentPoint: point, alias: undefined }), "2", "3")).toBe("DepthNotReached")
    expect(rejected(makeChannelReady(params, { minimumDepth: 3, depth: undefined, secondPerCommitmentPoint: point, alias: undefined }), "unseen")).toBe("DepthNotReached")
    expect(rejected(makeChannelReady({ ...params, scidAlias: true }, { minimumDepth: 3, depth: 3, secondPerCommitmentPoint: point, alias: undefined }))).toBe("AliasMissing")
    const plain = unwrap(makeChannelReady(params, { minimumDepth: 3, depth: 3, secondPerCommitmentPoint: point, alias: undefined }))
    expect(plain.channelId).toEqual(params.channelId)
    expect(plain.secondPerCommitmentPoint).toEqual(point)
    expect(plain.tlvs.shortChannelId).toBeUndefined()
    expect(Object.keys(plain.tlvs)).not.toContain("shortChannelId")
    expect(unwrap(makeChannelReady(params, { minimumDepth: 3, depth: 3, secondPerCommitmentPoint: point, alias })).tlvs.shortChannelId).toEqual(alias)
  })

  it("receiveChannelReady: refusals say why; a repeat with the same point is accepted, with a new alias too", () => {
    const msg = ChannelReady.make({ channelId: params.channelId, secondPerCommitmentPoint: point }, { shortChannelId: alias })
    expect(rejected(receiveChannelReady(secp, params, undefined, { ...msg, channelId: otherChannelId }))).toBe("ChannelIdMismatch")
    expect(rejected(receiveChannelReady(secp, params, undefined, { ...msg, secondPerCommitmentPoint: new Uint8Array(33) }))).toBe("InvalidPoint")
    expect(rejected(receiveChannelReady(secp, params, o.a.point(2n), msg))).toBe("SecondPointChanged")
    expect(rejected(receiveChannelReady(secp, { ...params, scidAlias: true }, undefined, { ...msg, tlvs: {} }))).toBe("AliasMissing")
    expect(unwrap(receiveChannelReady(secp, params, point, msg))).toEqual({ secondPerCommitmentPoint: point, alias })
    expect(unwrap(receiveChannelReady(secp, params, undefined, { ...msg, tlvs: {} })).alias).toBeUndefined()
  })
})
