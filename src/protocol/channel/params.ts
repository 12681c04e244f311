/**
 * The negotiated, fixed parameters of one channel (BOLT 2 "Channel Establishment"): what each
 * side announced in `open_channel` / `accept_channel`, the channel type, the funding output,
 * and the signer's key id. Everything the commitment rules and the transaction builders read
 * that never changes after the open. Plain data with a Schema, so a channel state that holds it
 * is persisted, traced and compared as JSON.
 *
 * Naming follows `src/protocol/tx/view.ts`: "local" is this node, "remote" the peer. A party's
 * `channelReserve` and `toSelfDelay` are what THAT party requires OF THE OTHER (as on the wire:
 * `channel_reserve_satoshis` in `open_channel` is the reserve the funder asks the fundee to keep).
 */
import { Schema } from "effect"
import { type ChannelType, channelTypes, type ChannelTypeName } from "../channel-type.ts"
import { ChainHashSchema, ChannelIdSchema } from "../codec/fields.ts"
import type { ChannelBasepoints } from "../keys/commitment-keys.ts"
import type { PublicKey } from "../keys/keys.ts"
import type { OutPoint } from "../tx/bitcoin/transaction.ts"
import type { ChannelView } from "../tx/view.ts"
import type { Msat, Sat } from "../units.ts"

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))
const u64 = Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn })))

/**
 * A 33-byte compressed public key (JSON: hex). The prefix is checked here; whether the point is
 * on the curve is checked where keys arrive from a peer (`parsePublicKey`), not at every load.
 */
export const PublicKeySchema: Schema.Codec<PublicKey, unknown> = hexOfLength(33).pipe(
  Schema.check(Schema.makeFilter((b: Uint8Array) => b[0] === 2 || b[0] === 3 || "expected a compressed point")),
  Schema.brand("PublicKey")
)
export const MsatSchema: Schema.Codec<Msat, unknown> = u64.pipe(Schema.brand("Msat"))
export const SatSchema: Schema.Codec<Sat, unknown> = u64.pipe(Schema.brand("Sat"))

export const ChannelBasepointsSchema: Schema.Codec<ChannelBasepoints, unknown> = Schema.Struct({
  fundingPubkey: PublicKeySchema,
  revocationBasepoint: PublicKeySchema,
  paymentBasepoint: PublicKeySchema,
  delayedPaymentBasepoint: PublicKeySchema,
  htlcBasepoint: PublicKeySchema
})

/** A funding outpoint: txid in internal byte order (as `OutPoint` in tx/bitcoin) and output index. */
export const OutPointSchema: Schema.Codec<OutPoint, unknown> = Schema.Struct({
  txid: hexOfLength(32).pipe(Schema.brand("Txid")),
  vout: Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff })))
})

/** What one party announced (`open_channel` for the funder, `accept_channel` for the fundee). */
export const PartyParamsSchema = Schema.Struct({
  dustLimit: SatSchema,
  /** `max_htlc_value_in_flight_msat`: cap on the value of HTLCs this party accepts in flight. */
  maxHtlcValueInFlight: MsatSchema,
  /** `channel_reserve_satoshis`: what this party requires the OTHER to keep on its side. */
  channelReserve: SatSchema,
  /** `htlc_minimum_msat`: the smallest HTLC this party accepts. */
  htlcMinimum: MsatSchema,
  /** `to_selfdelay`: the CSV this party requires on the OTHER's to_local output. */
  toSelfDelay: Schema.Int,
  /** `max_accepted_htlcs`: how many HTLCs this party accepts from the other. */
  maxAcceptedHtlcs: Schema.Int,
  basepoints: ChannelBasepointsSchema,
  /** `upfront_shutdown_script`, if this party committed to one (empty = opted out). */
  upfrontShutdownScript: Schema.optional(Schema.Uint8ArrayFromHex)
})
export type PartyParams = typeof PartyParamsSchema.Type

export const ChannelTypeNameSchema = Schema.Literals(["static_remote_key", "anchors_zero_fee_htlc_tx"])

/**
 * The descriptors by name (the first of each name, as a search of `channelTypes` finds it): the
 * reducer asks several times per step (fees, dust, views), a lookup without a closure per ask.
 */
const channelTypeOfName = new Map<string, ChannelType>()
for (const c of channelTypes) if (!channelTypeOfName.has(c.name)) channelTypeOfName.set(c.name, c)

/** The channel type descriptor for a persisted name. */
export const channelTypeByName = (name: ChannelTypeName): ChannelType => {
  const t = channelTypeOfName.get(name)
  // Stryker disable next-line ConditionalExpression,StringLiteral,CallExpression: unreachable, the Schema admits only known names.
  if (t === undefined) throw new Error(`unknown channel type ${name}`) // unreachable: the Schema admits only known names
  return t
}

export const ChannelParamsSchema = Schema.Struct({
  chainHash: ChainHashSchema,
  /** The final channel id (BOLT 2: funding txid XOR output index). */
  channelId: ChannelIdSchema,
  channelType: ChannelTypeNameSchema,
  /** `option_scid_alias` / `option_zeroconf` variations negotiated in `channel_type`. */
  scidAlias: Schema.Boolean,
  zeroConf: Schema.Boolean,
  /** Whether we sent `open_channel` (the funder pays the commitment fee). */
  localIsFunder: Schema.Boolean,
  fundingAmount: SatSchema,
  fundingOutpoint: OutPointSchema,
  /** The signer's id for this channel's keys (`ChannelSigner`), 32 bytes. */
  keyId: hexOfLength(32),
  /** `channel_flags` bit 0: announce the channel (BOLT 7). */
  announce: Schema.Boolean,
  local: PartyParamsSchema,
  remote: PartyParamsSchema
})
export type ChannelParams = typeof ChannelParamsSchema.Type

type Balances<H> = { readonly toLocal: Msat; readonly toRemote: Msat; readonly htlcs: ReadonlyArray<H>; readonly feeratePerKw: number }

/** One side's part of a view: its basepoints, dust limit and the delay it requires of the other. */
const sideOf = (p: ChannelParams["local"]) => ({ basepoints: p.basepoints, dustLimit: p.dustLimit, toSelfDelay: p.toSelfDelay })

/**
 * A view with `local` and `remote` given (ours or theirs first). The balances' four fields are
 * written out (in a spec's order), not spread: V8 copies a spread that follows other properties
 * through a generic path, ~10x these stores, and a view is made for every commitment signed or
 * received.
 */
const viewOf = <H extends ChannelView["htlcs"][number]>(
  params: ChannelParams,
  local: ChannelParams["local"],
  remote: ChannelParams["local"],
  localIsOpener: boolean,
  balances: Balances<H>
): ChannelView<H> => ({
  channelType: channelTypeByName(params.channelType),
  fundingOutpoint: params.fundingOutpoint,
  fundingAmount: params.fundingAmount,
  local: sideOf(local),
  remote: sideOf(remote),
  localIsOpener,
  feeratePerKw: balances.feeratePerKw,
  toLocal: balances.toLocal,
  toRemote: balances.toRemote,
  htlcs: balances.htlcs
})

/**
 * The commitment builder's view of the channel for given balances, HTLCs and feerate.
 * `local.toSelfDelay` in `ChannelView` is the delay the LOCAL side requires of the other, as here.
 */
export const channelView = <H extends ChannelView["htlcs"][number]>(params: ChannelParams, balances: Balances<H>): ChannelView<H> =>
  viewOf(params, params.local, params.remote, params.localIsFunder, balances)

/**
 * The view of the channel from the counterparty's side (theirs is "local"), for balances, HTLCs
 * and feerate stated from THEIR point of view (a spec of their commitment): what
 * `mirrorView(channelView(params, mirrorSpec(spec)))` is, without flipping each HTLC twice.
 * Their commitment is `buildCommitmentForSide(secp, counterpartyView(params, spec), "local", ...)`.
 */
export const counterpartyView = <H extends ChannelView["htlcs"][number]>(params: ChannelParams, balances: Balances<H>): ChannelView<H> =>
  viewOf(params, params.remote, params.local, !params.localIsFunder, balances)
