/**
 * `wallet` group of the control API (issue 9 "The runnable node"): the node's on-chain wallet
 * (`actors/Wallet.ts`; it runs when the node follows a chain, `--bitcoind-rpc`). Balance, a
 * fresh address, a send, and abandoning a send that does not confirm. Amounts are sat as decimal strings in answers; txids display hex.
 * A node without a wallet answers 503.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { InvalidRequest } from "./errors.ts"
import { FeeratePerKw, WholeAmount } from "./schemas.ts"

export const WalletBalanceJson = Schema.Struct({
  /** Confirmed outputs a send can use (not locked, not spent by one of our unconfirmed sends). */
  confirmedSat: Schema.String,
  /** Our outputs of our own unconfirmed sends (change). */
  unconfirmedSat: Schema.String,
  /** Confirmed outputs reserved for a channel's funding transaction or a fee bump until it confirms or fails. */
  lockedSat: Schema.String,
  /** The block the wallet has applied (null before the first). */
  height: Schema.NullOr(Schema.Int)
}).annotate({ title: "WalletBalance" })

export const AddressType = Schema.Literals(["p2wpkh", "p2tr"]).annotate({ description: "BIP 84 P2WPKH (default) or BIP 86 P2TR" })

export const NewAddressRequest = Schema.Struct({ type: Schema.optional(AddressType) }).annotate({ title: "NewAddressRequest" })

export const NewAddressJson = Schema.Struct({ address: Schema.String, type: AddressType }).annotate({ title: "NewAddress" })

export const SendRequestJson = Schema.Struct({
  address: Schema.String.pipe(Schema.check(Schema.isMaxLength(100, { message: "address is at most 100 characters" }))).annotate({
    description: "a segwit address of the node's network"
  }),
  amountSat: Schema.optional(WholeAmount("satoshis", 1).annotate({ description: "the amount paid (or `all`)" })),
  all: Schema.optional(Schema.Boolean.annotate({ description: "send every spendable coin, the fee taken from it" })),
  feeratePerKw: Schema.optional(FeeratePerKw)
}).annotate({ title: "WalletSendRequest" })

export const SendJson = Schema.Struct({
  txid: Schema.String,
  feeSat: Schema.String,
  feeratePerKw: Schema.Int,
  /** The signed transaction (hex), as broadcast. */
  tx: Schema.String
}).annotate({ title: "WalletSend" })

/** Body of `POST /v1/wallet/abandon`. */
export const AbandonRequest = Schema.Struct({
  txid: Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9a-fA-F]{64}$/, { message: "expected a txid: 64 hex characters" }))).annotate({
    description: "the unconfirmed send's txid (display order, as `POST /v1/wallet/send` answers it)"
  })
}).annotate({ title: "WalletAbandonRequest" })

export const AbandonJson = Schema.Struct({
  /** The sends forgotten: the one asked for, then its unconfirmed children (display txids). */
  abandoned: Schema.Array(Schema.String)
}).annotate({ title: "WalletAbandon" })

/** The txid is not one of the wallet's unconfirmed sends (unknown, or confirmed already) (404). */
export class WalletSendNotPending extends Schema.TaggedError<WalletSendNotPending>()(
  "WalletSendNotPending",
  { txid: Schema.String, message: Schema.String },
  { httpApiStatus: 404 }
) {}

/** The node runs without a wallet (no chain: start it with `--bitcoind-rpc`) (503). */
export class WalletUnavailable extends Schema.TaggedError<WalletUnavailable>()(
  "WalletUnavailable",
  { message: Schema.String },
  { httpApiStatus: 503 }
) {}

/** The wallet cannot make this payment: not enough funds, or an amount below the dust limit (422). */
export class WalletSendRefused extends Schema.TaggedError<WalletSendRefused>()(
  "WalletSendRefused",
  { reason: Schema.String, message: Schema.String },
  { httpApiStatus: 422 }
) {}

/** The chain backend refused or could not take the transaction (502). */
export class BroadcastFailed extends Schema.TaggedError<BroadcastFailed>()(
  "BroadcastFailed",
  { txid: Schema.NullOr(Schema.String), reason: Schema.String, message: Schema.String },
  { httpApiStatus: 502 }
) {}

export class WalletApi extends HttpApiGroup.make("wallet")
  .add(
    HttpApiEndpoint.get("balance", "/v1/wallet/balance", { success: WalletBalanceJson, error: [WalletUnavailable] }).annotate(
      OpenApi.Description,
      "The on-chain wallet's balance: confirmed (spendable), unconfirmed (change of our own sends) and locked " +
        "(inputs of a channel funding or a fee bump in progress), in sat, and the block the wallet has applied."
    ),
    HttpApiEndpoint.post("address", "/v1/wallet/address", {
      payload: NewAddressRequest,
      success: NewAddressJson,
      error: [InvalidRequest, WalletUnavailable]
    }).annotate(
      OpenApi.Description,
      "A fresh receive address (never handed out before, also across restarts): `type` p2wpkh (BIP 84, default) or p2tr (BIP 86). Send `{}` for the default."
    ),
    HttpApiEndpoint.post("send", "/v1/wallet/send", {
      payload: SendRequestJson,
      success: SendJson,
      error: [InvalidRequest, WalletUnavailable, WalletSendRefused, BroadcastFailed]
    }).annotate(
      OpenApi.Description,
      "Pays `amountSat` (or, with `all: true`, every spendable coin) to `address` from confirmed coins, change back to " +
        "the wallet, and broadcasts it. `feeratePerKw` defaults to the node's estimate for 6 blocks. A bad address is a " +
        "400, too little money or a dust amount a 422, a refusal by the chain backend a 502."
    ),
    HttpApiEndpoint.post("abandon", "/v1/wallet/abandon", {
      payload: AbandonRequest,
      success: AbandonJson,
      error: [InvalidRequest, WalletUnavailable, WalletSendNotPending]
    }).annotate(
      OpenApi.Description,
      "Forgets one of the wallet's sends that has not confirmed (and its unconfirmed children): its inputs are " +
        "spendable again. For a send that will not confirm (its feerate too low, it left the mempools); a new send may " +
        "then spend the same coins (and replace it where the mempool allows). If it confirms anyway, the wallet applies " +
        "it from its block. 404 when the txid is not an unconfirmed send of the wallet."
    )
  )
  .annotateMerge(OpenApi.annotations({ title: "Wallet" }))
{}
