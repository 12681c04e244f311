/**
 * Handlers of the `wallet` group (`WalletApi.ts`) over the node's `Wallet`. The service is
 * optional here: a node that runs without a wallet (no chain) answers 503.
 */
import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Wallet, type WalletShape } from "../actors/Wallet.ts"
import { toHex } from "../protocol/bytes.ts"
import { serializeTransaction, txid as txidOf, txidFromHex, txidToHex } from "../protocol/tx/bitcoin/transaction.ts"
import { sat } from "../protocol/units.ts"
import { ControlApi } from "./ControlApi.ts"
import { InvalidRequest } from "./errors.ts"
import { BroadcastFailed, WalletSendNotPending, WalletSendRefused, WalletUnavailable } from "./WalletApi.ts"

const unavailable = new WalletUnavailable({ message: "this node runs without an on-chain wallet (start it with --bitcoind-rpc)" })

export const WalletHandlers = HttpApiBuilder.group(
  ControlApi,
  "wallet",
  Effect.fn(function*(handlers) {
    const service = yield* Effect.serviceOption(Wallet)
    const withWallet = <A, E>(f: (wallet: WalletShape) => Effect.Effect<A, E>): Effect.Effect<A, E | WalletUnavailable> =>
      Option.isSome(service) ? f(service.value) : Effect.fail(unavailable)
    const persistFailed = (e: { readonly reason: string }) => new WalletUnavailable({ message: `the wallet could not store its state: ${e.reason}` })

    return handlers
      .handle("balance", () =>
        withWallet((wallet) =>
          Effect.gen(function*() {
            const b = yield* wallet.balance
            const tip = yield* wallet.tip
            return {
              confirmedSat: b.confirmed.toString(),
              unconfirmedSat: b.unconfirmed.toString(),
              lockedSat: b.locked.toString(),
              height: tip?.height ?? null
            }
          })
        ))
      .handle("address", ({ payload }) =>
        withWallet((wallet) => {
          const type = payload.type ?? "p2wpkh"
          return wallet.newAddress(type).pipe(
            Effect.map((address) => ({ address, type })),
            Effect.mapError(persistFailed)
          )
        }))
      .handle("send", ({ payload }) =>
        withWallet((wallet) =>
          Effect.gen(function*() {
            if ((payload.all === true) === (payload.amountSat !== undefined)) {
              return yield* new InvalidRequest({ message: "give either amountSat or all: true" })
            }
            const amount = payload.all === true ? "all" as const : sat(BigInt(payload.amountSat ?? 0))
            const spend = yield* wallet.send({
              to: { address: payload.address },
              amount,
              ...(payload.feeratePerKw === undefined ? {} : { feeratePerKw: payload.feeratePerKw })
            }).pipe(
              Effect.catchTags({
                InvalidAddress: (e) => Effect.fail(new InvalidRequest({ message: `address ${e.address}: ${e.reason}` })),
                InvalidPsbt: (e) => Effect.fail(new InvalidRequest({ message: e.reason })),
                InsufficientFunds: (e) =>
                  Effect.fail(new WalletSendRefused({
                    reason: "InsufficientFunds",
                    message: `not enough confirmed funds: ${e.needed} sat needed with the fee, ${e.available} sat available`
                  })),
                DustOutput: (e) =>
                  Effect.fail(new WalletSendRefused({ reason: "DustOutput", message: `${e.value} sat is below the output's dust limit of ${e.dustLimit} sat` })),
                BroadcastRejected: (e) => Effect.fail(new BroadcastFailed({ txid: e.txid, reason: e.reason, message: `the chain backend refused the transaction: ${e.message}` })),
                ChainSourceUnavailable: (e) => Effect.fail(new BroadcastFailed({ txid: null, reason: "ChainSourceUnavailable", message: `the chain backend is unavailable: ${e.reason}` })),
                WalletPersistFailed: (e) => Effect.fail(persistFailed(e))
              })
            )
            return {
              txid: txidToHex(spend.txid),
              feeSat: spend.fee.toString(),
              feeratePerKw: spend.feeratePerKw,
              tx: toHex(serializeTransaction(spend.tx))
            }
          })
        ))
      .handle("abandon", ({ payload }) =>
        withWallet((wallet) =>
          Effect.gen(function*() {
            const txid = payload.txid.toLowerCase()
            const gone = yield* wallet.abandon(txidFromHex(txid)).pipe(Effect.mapError(persistFailed))
            if (gone.length === 0) {
              return yield* new WalletSendNotPending({ txid, message: `${txid} is not an unconfirmed send of this wallet` })
            }
            return { abandoned: gone.map((tx) => txidToHex(txidOf(tx))) }
          })
        ))
  })
)
