/**
 * `balances` group of the control API (issue 9 "The runnable node"): `GET /v1/balances`, the
 * claimable balances of every channel as the on-chain monitor sees them (BOLT 5): what is ours,
 * in which state, from which block. Amounts are sat as decimal strings, txids in display hex.
 * A node that does not run the on-chain monitor (`MonitorChain`) answers 503.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"

export const ClaimableBalanceJson = Schema.Struct({
  /**
   * "ChannelOpen" (funding unspent: our balance on our latest commitment), "ClaimableNow",
   * "ClaimableAt" (behind a timelock, from `height`), "AwaitingPreimage" (an HTLC offered to us,
   * ours only with its preimage before `expiresAt`; not in the total), "AwaitingConfirmations"
   * (spent to us, `confirmations` of `required`), "LostToPenalty" (not in the total).
   */
  status: Schema.String,
  amountSat: Schema.String,
  /** The output's kind ("to_local", "to_remote", "offered_htlc", "revoked_to_local"...), when the status is about one output. */
  kind: Schema.NullOr(Schema.String),
  /** "txid:vout" of the output, or the txid of the spend for AwaitingConfirmations / LostToPenalty. */
  outpoint: Schema.NullOr(Schema.String),
  height: Schema.NullOr(Schema.Int),
  confirmations: Schema.NullOr(Schema.Int)
})

export const ChannelBalancesJson = Schema.Struct({
  channelId: Schema.String,
  totalSat: Schema.String,
  balances: Schema.Array(ClaimableBalanceJson)
})

export const BalancesJson = Schema.Struct({
  /** The block the monitor has processed. */
  height: Schema.Int,
  totalSat: Schema.String,
  channels: Schema.Array(ChannelBalancesJson)
})

/** The node runs without the on-chain monitor (503). */
export class BalancesUnavailable extends Schema.TaggedError<BalancesUnavailable>()(
  "BalancesUnavailable",
  { message: Schema.String },
  { httpApiStatus: 503 }
) {}

export class BalancesApi extends HttpApiGroup.make("balances")
  .add(
    HttpApiEndpoint.get("balances", "/v1/balances", { success: BalancesJson, error: [BalancesUnavailable] }).annotate(
      OpenApi.Description,
      "Claimable balances per channel and in total (BOLT 5): open channels, outputs claimable now or after a " +
        "block height, claims awaiting confirmations, HTLCs awaiting a preimage, and outputs lost to a penalty."
    )
  )
  .annotateMerge(OpenApi.annotations({ title: "Balances" }))
{}
