/**
 * Channels funded from the wallet: the glue between the `ChannelManager`'s event stream and the
 * `Wallet` (issue 9, "openChannel funded from the wallet"). One fiber, in the current scope.
 *
 * - `FundingNeeded { temporaryChannelId, scriptPubKey, amount }`: the wallet builds and signs a
 *   transaction paying `amount` to the channel's P2WSH script (inputs locked under its txid) and
 *   hands it to `fundChannel` (BOLT 2: the funder sends `funding_created`; the manager publishes
 *   the transaction after `funding_signed`). If the wallet cannot pay, or the manager refuses the
 *   transaction, the inputs are released and the failure logged (the channel then times out or
 *   is closed by the caller).
 * - `ChannelClosed { FundingAborted }` for a channel we funded: the inputs are released (the
 *   funding transaction was never published).
 * - Confirmation needs nothing: the block spends the locked inputs and the wallet sees its change.
 *
 * Events are delivered at least once (the manager replays pending ones to a new subscriber);
 * a `FundingNeeded` for a temporary channel id already funded is ignored.
 */
import { Effect, Result, Stream } from "effect"
import { toHex } from "../protocol/bytes.ts"
import { txidFromBytes, txidToHex } from "../protocol/tx/bitcoin/transaction.ts"
import { ChannelManager } from "./ChannelManager.ts"
import { Wallet } from "./Wallet.ts"

/** Runs the glue in the current scope (forked); returns once subscribed. */
export const start = Effect.gen(function*() {
  const channels = yield* ChannelManager
  const wallet = yield* Wallet
  /** Channel id (temporary, then final) → the wallet lock of its funding transaction. */
  const locks = new Map<string, string>()
  const stream = yield* channels.subscribe
  yield* stream.pipe(
    Stream.runForEach(({ channelId, event }) =>
      Effect.gen(function*() {
        switch (event._tag) {
          case "FundingNeeded": {
            const key = toHex(event.temporaryChannelId)
            if (locks.has(key)) return
            const funded = yield* Effect.result(wallet.fundChannel({ scriptPubKey: event.scriptPubKey, amount: event.amount }))
            if (Result.isFailure(funded)) {
              yield* Effect.logWarning(`wallet funding: cannot fund channel ${key}: ${funded.failure._tag}`)
              return
            }
            locks.set(key, funded.success.lockId)
            const handed = yield* Effect.result(channels.fundChannel(event.temporaryChannelId, funded.success.tx))
            if (Result.isFailure(handed)) {
              locks.delete(key)
              yield* wallet.releaseFunding(funded.success.lockId)
              yield* Effect.logWarning(`wallet funding: channel ${key} refused its funding transaction: ${handed.failure._tag}`)
            }
            return
          }
          case "ChannelPending": {
            // The final channel id replaces the temporary one; the lock id is the funding txid.
            const lockId = txidToHex(txidFromBytes(event.fundingOutpoint.txid))
            for (const [k, id] of locks) if (id === lockId) locks.delete(k)
            locks.set(toHex(event.channelId), lockId)
            return
          }
          case "ChannelClosed": {
            if (event.reason._tag !== "FundingAborted") return
            const key = toHex(channelId)
            const lockId = locks.get(key)
            if (lockId === undefined) return
            locks.delete(key)
            yield* wallet.releaseFunding(lockId)
            return
          }
          default:
            return
        }
      })
    ),
    Effect.forkScoped
  )
})
