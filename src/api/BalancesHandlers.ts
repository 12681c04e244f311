/**
 * Handlers of the `balances` group (`BalancesApi.ts`) over the node's `MonitorChain`. The service
 * is optional here: a node started without an on-chain monitor answers 503.
 */
import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { type ChannelBalances, MonitorChain } from "../actors/MonitorChain.ts"
import { toHex } from "../protocol/bytes.ts"
import { type ClaimableBalance, outpointLabel, totalClaimable } from "../protocol/monitor/balances.ts"
import { txidToHex, txidFromBytes } from "../protocol/tx/bitcoin/transaction.ts"
import type { BalancesJson, ClaimableBalanceJson } from "./BalancesApi.ts"
import { BalancesUnavailable } from "./BalancesApi.ts"
import { ControlApi } from "./ControlApi.ts"

const none = { kind: null, outpoint: null, height: null, confirmations: null }

export const balanceToJson = (b: ClaimableBalance): typeof ClaimableBalanceJson.Type => {
  const amountSat = b.amount.toString()
  switch (b._tag) {
    case "ChannelOpen":
      return { status: b._tag, amountSat, ...none }
    case "ClaimableNow":
      return { status: b._tag, amountSat, ...none, kind: b.kind, outpoint: outpointLabel(b.outpoint) }
    case "ClaimableAt":
      return { status: b._tag, amountSat, ...none, kind: b.kind, outpoint: outpointLabel(b.outpoint), height: b.height }
    case "AwaitingPreimage":
      return { status: b._tag, amountSat, ...none, outpoint: outpointLabel(b.outpoint), height: b.expiresAt }
    case "AwaitingConfirmations":
      return { status: b._tag, amountSat, ...none, outpoint: txidToHex(txidFromBytes(b.txid)), confirmations: b.confirmations }
    case "LostToPenalty":
      return { status: b._tag, amountSat, ...none, outpoint: txidToHex(txidFromBytes(b.txid)) }
  }
}

export const balancesToJson = (height: number, channels: ReadonlyArray<ChannelBalances>): typeof BalancesJson.Type => ({
  height,
  totalSat: channels.reduce((a, c) => a + totalClaimable(c.balances), 0n).toString(),
  channels: channels.map((c) => ({ channelId: toHex(c.channelId), totalSat: totalClaimable(c.balances).toString(), balances: c.balances.map(balanceToJson) }))
})

export const BalancesHandlers = HttpApiBuilder.group(
  ControlApi,
  "balances",
  Effect.fn(function*(handlers) {
    const service = yield* Effect.serviceOption(MonitorChain)
    return handlers.handle("balances", () =>
      Option.isSome(service)
        ? Effect.gen(function*() {
            const channels = yield* service.value.balances
            const tip = yield* service.value.tip
            return balancesToJson(tip.height, channels)
          })
        : Effect.fail(new BalancesUnavailable({ message: "this node runs without an on-chain monitor" })))
  })
)
