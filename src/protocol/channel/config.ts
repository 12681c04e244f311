/**
 * What this node announces when it opens or accepts a channel (`LocalChannelConfig`), and the
 * bounds it accepts from a peer (`ChannelPolicy`): the knobs behind the BOLT 2 "MAY fail the
 * channel if it considers X too large/small" rules of `open_channel` / `accept_channel` and
 * behind the "unreasonably large" MUST rules (`to_self_delay`, `feerate_per_kw`). Plain data
 * with Schemas, so a node's configuration is persisted and traced as JSON.
 *
 * Ratios are integer basis points (1/10,000) so every computation stays in bigint arithmetic
 * and is exact and reproducible.
 */
import { Schema } from "effect"
import { msat, sat, type Msat, type Sat } from "../units.ts"
import { MsatSchema, SatSchema } from "./params.ts"

const Int = (minimum: number, maximum: number) => Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum, maximum })))
/** Basis points: 10,000 = 100%. */
const BasisPoints = Int(0, 10_000)
/** A percentage that may exceed 100 (e.g. a feerate ceiling of 1000% of the estimate). */
const Percent = Int(0, 1_000_000)

/** BOLT 2: `max_accepted_htlcs` MUST NOT exceed 483. */
export const MAX_ACCEPTED_HTLCS_LIMIT = 483
/** BOLT 2: `dust_limit_satoshis` MUST NOT be below 354 (the largest segwit dust threshold, BOLT 3). */
export const MIN_DUST_LIMIT: Sat = sat(354n)
/** BOLT 2: `funding_satoshis` below 2^24 unless both sides support `option_support_large_channel`. */
export const LARGE_CHANNEL_THRESHOLD: Sat = sat(1n << 24n)
/** The minimum relay feerate, in sat per 1000 weight (Bitcoin Core's 1 sat/vbyte, rounded up). */
export const FEERATE_FLOOR_PER_KW = 253

/** Our side of a channel: what we put in `open_channel` / `accept_channel`. */
export const LocalChannelConfigSchema = Schema.Struct({
  /** `dust_limit_satoshis` (>= 354, BOLT 2). */
  dustLimit: SatSchema,
  /** `max_htlc_value_in_flight_msat` as a share of the channel capacity. */
  maxHtlcValueInFlightBasisPoints: BasisPoints,
  /** `channel_reserve_satoshis` we ask of the peer, as a share of the capacity (1% suggested by BOLT 2). */
  channelReserveBasisPoints: BasisPoints,
  /** A fixed `channel_reserve_satoshis` instead of the share (test suites pin it); still at least both dust limits. */
  channelReserve: Schema.optional(SatSchema),
  /** `htlc_minimum_msat`. */
  htlcMinimum: MsatSchema,
  /** `to_self_delay` we impose on the peer's outputs. */
  toSelfDelay: Int(0, 0xffff),
  /** `max_accepted_htlcs` (<= 483). */
  maxAcceptedHtlcs: Int(1, MAX_ACCEPTED_HTLCS_LIMIT),
  /** `minimum_depth` we ask when we are the fundee (0 only for zero-conf). */
  minimumDepth: Int(0, 0xffffffff),
  /** `upfront_shutdown_script` we commit to (absent: we send a zero-length one). */
  upfrontShutdownScript: Schema.optional(Schema.Uint8ArrayFromHex),
  /**
   * Legacy close (`closing_signed`): our `fee_range` around the fee at the estimated feerate,
   * in percent of that fee. The funder pays: its range is tight; the non-funder's minimum is
   * low and its maximum at least the funder's (BOLT 2 sender SHOULDs).
   */
  closingFeeMinPercent: Percent,
  closingFeeMaxPercent: Percent
})
export type LocalChannelConfig = typeof LocalChannelConfigSchema.Type

/** Bounds we accept from a peer's `open_channel` / `accept_channel`. */
export const ChannelPolicySchema = Schema.Struct({
  /** Largest `to_self_delay` a peer may impose on us (BOLT 2 MUST fail if "unreasonably large"). */
  maxToSelfDelay: Int(0, 0xffff),
  /** Largest `dust_limit_satoshis` we accept (BOLT 2 MAY fail; BOLT 3 griefing rationale). */
  maxDustLimit: SatSchema,
  /** Smallest and largest `funding_satoshis` we accept as fundee. */
  minFunding: SatSchema,
  maxFunding: SatSchema,
  /** Largest `channel_reserve_satoshis` the peer may ask of us, as a share of the capacity. */
  maxReserveBasisPoints: BasisPoints,
  /** Largest `htlc_minimum_msat` we accept. */
  maxHtlcMinimum: MsatSchema,
  /** Smallest `max_htlc_value_in_flight_msat` we accept, as a share of the capacity. */
  minMaxHtlcValueInFlightBasisPoints: BasisPoints,
  /** Smallest `max_accepted_htlcs` we accept. */
  minMaxAcceptedHtlcs: Int(0, MAX_ACCEPTED_HTLCS_LIMIT),
  /** Largest `minimum_depth` a fundee may ask of us as funder (BOLT 2 MAY fail). */
  maxMinimumDepth: Int(0, 0xffffffff),
  /**
   * Feerate sanity (BOLT 2 MUST fail if "too small for timely processing or unreasonably
   * large"), relative to our estimate: at least `feerateMinPercent`% of it (anchors channels
   * only need the relay floor, they can be bumped by CPFP), at most `feerateMaxPercent`%.
   */
  feerateMinPercent: Percent,
  feerateMaxPercent: Percent,
  /** Whether we accept `funding_satoshis` >= 2^24 (we must also have negotiated `option_support_large_channel`). */
  acceptLargeChannels: Schema.Boolean,
  /** Whether we accept `option_zeroconf` channel types (and then only from peers the caller trusts). */
  acceptZeroConf: Schema.Boolean,
  /** Whether we accept `option_anchors` channel types. */
  acceptAnchors: Schema.Boolean,
  /** Whether we accept `option_scid_alias` channel types. */
  acceptScidAlias: Schema.Boolean
})
export type ChannelPolicy = typeof ChannelPolicySchema.Type

export const defaultLocalChannelConfig: LocalChannelConfig = {
  dustLimit: sat(546n),
  maxHtlcValueInFlightBasisPoints: 10_000,
  channelReserveBasisPoints: 100,
  htlcMinimum: msat(1n),
  toSelfDelay: 144,
  maxAcceptedHtlcs: 30,
  minimumDepth: 3,
  closingFeeMinPercent: 50,
  closingFeeMaxPercent: 200
}

export const defaultChannelPolicy: ChannelPolicy = {
  maxToSelfDelay: 2016,
  maxDustLimit: sat(1000n),
  minFunding: sat(10_000n),
  maxFunding: sat(LARGE_CHANNEL_THRESHOLD - 1n),
  maxReserveBasisPoints: 2_000,
  maxHtlcMinimum: msat(1_000_000n),
  minMaxHtlcValueInFlightBasisPoints: 100,
  minMaxAcceptedHtlcs: 5,
  maxMinimumDepth: 144,
  feerateMinPercent: 50,
  feerateMaxPercent: 1_000,
  acceptLargeChannels: false,
  acceptZeroConf: false,
  acceptAnchors: true,
  acceptScidAlias: true
}

/** `amount * basisPoints / 10,000`, rounded down. */
export const shareOf = (amount: bigint, basisPoints: number): bigint => (amount * BigInt(basisPoints)) / 10_000n

/**
 * The `channel_reserve_satoshis` we ask for a channel of `funding` sat: our share of the
 * capacity (or the fixed `channelReserve`), never below either side's dust limit (BOLT 2: the reserve we announce must be >=
 * our own `dust_limit_satoshis` (open) and >= the funder's (accept)).
 */
export const channelReserveFor = (config: LocalChannelConfig, funding: Sat, peerDustLimit: Sat = sat(0n)): Sat => {
  const share = config.channelReserve ?? shareOf(funding, config.channelReserveBasisPoints)
  // Stryker disable next-line EqualityOperator: equivalent, `>=` picks the same value when the two are equal.
  const floor = config.dustLimit > peerDustLimit ? config.dustLimit : peerDustLimit
  // Stryker disable next-line EqualityOperator: equivalent, as above.
  return sat(share > floor ? share : floor)
}

/** The `max_htlc_value_in_flight_msat` we announce for a channel of `funding` sat. */
export const maxHtlcValueInFlightFor = (config: LocalChannelConfig, funding: Sat): Msat =>
  msat(shareOf(funding * 1000n, config.maxHtlcValueInFlightBasisPoints))

/**
 * The feerates we accept for a commitment (`feerate_per_kw` of `open_channel`, later
 * `update_fee`) given our estimate: `[min, max]`. With anchors the floor is the relay floor.
 */
export const acceptableFeerateRange = (
  policy: ChannelPolicy,
  estimatePerKw: number,
  anchors: boolean
): { readonly min: number; readonly max: number } => {
  const relative = Math.floor((estimatePerKw * policy.feerateMinPercent) / 100)
  const min = anchors ? FEERATE_FLOOR_PER_KW : Math.max(FEERATE_FLOOR_PER_KW, relative)
  const max = Math.max(min, Math.floor((estimatePerKw * policy.feerateMaxPercent) / 100))
  return { min, max }
}
