/**
 * Channels funded from the wallet: the glue between the `ChannelManager`'s event stream and the
 * `Wallet` (issue 9, "openChannel funded from the wallet"). One fiber, in the current scope.
 *
 * - `FundingNeeded { temporaryChannelId, scriptPubKey, amount }` of a channel to fund from the
 *   wallet (every channel with `start`; with `make({ fundAll: false })`, the ones `request`ed,
 *   so that others can still be funded by a transaction the caller brings): the wallet builds and
 *   signs a transaction paying `amount` to the channel's P2WSH script (inputs locked under its
 *   txid) and hands it to `fundChannel` (BOLT 2: the funder sends `funding_created`; the manager
 *   publishes the transaction after `funding_signed`). If the wallet cannot pay, or the manager
 *   refuses the transaction, the inputs are released and the request fails with the reason (the
 *   channel then times out or is closed by the caller).
 * - `ChannelClosed { FundingAborted }` for a channel we funded: the inputs are released (the
 *   funding transaction was never published).
 * - Confirmation needs nothing: the block spends the locked inputs and the wallet sees its change.
 *
 * Events are delivered at least once (the manager replays pending ones to a new subscriber);
 * a `FundingNeeded` for a temporary channel id already funded is ignored. Waiting requests and
 * unrequested `FundingNeeded`s are bounded (`MAX_WAITING`, oldest dropped).
 */
import { Context, Data, Deferred, Effect, Layer, Result, Scope, Semaphore, Stream } from "effect"
import { equalBytes, toHex } from "../protocol/bytes.ts"
import { channelIdFromFunding } from "../protocol/channel/open.ts"
import { txid as txidOf, txidFromBytes, txidToHex } from "../protocol/tx/bitcoin/transaction.ts"
import type { ChannelId, Sat } from "../protocol/units.ts"
import { ChannelManager } from "./ChannelManager.ts"
import type { FeeInputs } from "./MonitorChain.ts"
import { Wallet, type WalletShape } from "./Wallet.ts"

/**
 * The monitor's `FeeInputs` from the wallet (issue 9, "anchors: HTLC transactions aggregated with
 * wallet inputs for fees", "a CPFP child spending our anchor plus wallet inputs"): `fundFees`.
 */
export const feeInputs = (wallet: WalletShape): FeeInputs => ({
  fund: (tx, feeratePerKw, extraFee) => wallet.fundFees(tx, feeratePerKw, extraFee)
})

/** The wallet did not fund the channel: why (no money, the channel refused the transaction, it closed). */
export class WalletFundingFailed extends Data.TaggedError("WalletFundingFailed")<{
  readonly reason: string
  /** Set when the channel closed before it was funded (the peer refused it...): the close's detail. */
  readonly closed?: string
}> {}

export interface WalletFundingShape {
  /**
   * Funds the channel `temporaryChannelId` from the wallet when it needs funding (at once if it
   * already does). The answer completes with the channel's final id once the funding
   * transaction was handed to the channel, or fails with the reason.
   */
  readonly request: (temporaryChannelId: ChannelId) => Effect.Effect<Deferred.Deferred<ChannelId, WalletFundingFailed>>
}

export class WalletFunding extends Context.Service<WalletFunding, WalletFundingShape>()("effect-lightning/WalletFunding") {}

/** Bound on waiting requests and on unrequested `FundingNeeded`s kept. */
export const MAX_WAITING = 256

interface Needed {
  readonly temporaryChannelId: ChannelId
  readonly scriptPubKey: Uint8Array
  readonly amount: Sat
}

const setBounded = <V>(map: Map<string, V>, key: string, value: V, onDrop: (v: V) => void): void => {
  map.delete(key)
  map.set(key, value)
  while (map.size > MAX_WAITING) {
    const oldest = map.keys().next()
    if (oldest.done === true) break
    const dropped = map.get(oldest.value)
    map.delete(oldest.value)
    if (dropped !== undefined) onDrop(dropped)
  }
}

/** Runs the glue in the current scope (forked); returns once subscribed. */
export const make = (options: { readonly fundAll: boolean }): Effect.Effect<WalletFundingShape, never, ChannelManager | Wallet | Scope.Scope> =>
  Effect.gen(function*() {
    const channels = yield* ChannelManager
    const wallet = yield* Wallet
    const scope = yield* Scope.Scope
    const serial = (yield* Semaphore.make(1)).withPermits(1)
    /** Channel id (temporary, then final) → the wallet lock of its funding transaction. */
    const locks = new Map<string, string>()
    const requested = new Map<string, Deferred.Deferred<ChannelId, WalletFundingFailed>>()
    const waiting = new Map<string, Needed>()
    const failWith = (reason: string) => (d: Deferred.Deferred<ChannelId, WalletFundingFailed>) =>
      Deferred.doneUnsafe(d, Effect.fail(new WalletFundingFailed({ reason })))
    const stream = yield* channels.subscribe
    const release = (lockId: string) =>
      wallet.releaseFunding(lockId).pipe(Effect.catch((e) => Effect.logWarning(`wallet funding: lock ${lockId} not released: ${e.reason}`)))

    const fund = (needed: Needed): Effect.Effect<ChannelId, WalletFundingFailed> =>
      Effect.gen(function*() {
        const key = toHex(needed.temporaryChannelId)
        const funded = yield* Effect.result(wallet.fundChannel({ scriptPubKey: needed.scriptPubKey, amount: needed.amount }))
        if (Result.isFailure(funded)) {
          const f = funded.failure
          const reason = f._tag === "InsufficientFunds" ? `not enough confirmed funds: ${f.needed} sat needed with the fee, ${f.available} sat available` : f._tag
          yield* Effect.logWarning(`wallet funding: cannot fund channel ${key}: ${reason}`)
          return yield* new WalletFundingFailed({ reason })
        }
        locks.set(key, funded.success.lockId)
        const handed = yield* Effect.result(channels.fundChannel(needed.temporaryChannelId, funded.success.tx))
        if (Result.isFailure(handed)) {
          locks.delete(key)
          yield* release(funded.success.lockId)
          yield* Effect.logWarning(`wallet funding: channel ${key} refused its funding transaction: ${handed.failure._tag}`)
          return yield* new WalletFundingFailed({ reason: `the channel refused its funding transaction: ${handed.failure._tag}` })
        }
        const vout = funded.success.tx.outputs.findIndex((o) => equalBytes(o.scriptPubKey, needed.scriptPubKey))
        return channelIdFromFunding(txidOf(funded.success.tx), vout)
      })

    /** Funds and completes the request of `needed`'s channel, if any. */
    const fundAndAnswer = (needed: Needed) =>
      Effect.gen(function*() {
        const key = toHex(needed.temporaryChannelId)
        const answer = requested.get(key)
        requested.delete(key)
        const r = yield* Effect.result(fund(needed))
        if (answer !== undefined) Deferred.doneUnsafe(answer, Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure))
      })

    yield* stream.pipe(
      Stream.runForEach(({ channelId, event }) =>
        serial(Effect.gen(function*() {
          switch (event._tag) {
            case "FundingNeeded": {
              const key = toHex(event.temporaryChannelId)
              if (locks.has(key)) return
              const needed = { temporaryChannelId: event.temporaryChannelId, scriptPubKey: event.scriptPubKey, amount: event.amount }
              if (options.fundAll || requested.has(key)) return yield* fundAndAnswer(needed)
              setBounded(waiting, key, needed, () => undefined)
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
              const key = toHex(channelId)
              waiting.delete(key)
              const answer = requested.get(key)
              requested.delete(key)
              if (answer !== undefined) {
                const detail = "reason" in event.reason ? `${event.reason._tag}: ${event.reason.reason}` : event.reason._tag
                Deferred.doneUnsafe(answer, Effect.fail(new WalletFundingFailed({ reason: `the channel closed before it was funded: ${detail}`, closed: detail })))
              }
              if (event.reason._tag !== "FundingAborted") return
              const lockId = locks.get(key)
              if (lockId === undefined) return
              locks.delete(key)
              yield* release(lockId)
              return
            }
            default:
              return
          }
        }))
      ),
      Effect.forkScoped
    )

    return WalletFunding.of({
      request: (temporaryChannelId) =>
        Effect.gen(function*() {
          const key = toHex(temporaryChannelId)
          const answer = Deferred.makeUnsafe<ChannelId, WalletFundingFailed>()
          // Handled off the caller's fiber, in the glue's order: the caller waits on the answer.
          yield* serial(Effect.gen(function*() {
            setBounded(requested, key, answer, failWith("too many channels waiting for wallet funding"))
            const needed = waiting.get(key)
            if (needed === undefined) return
            waiting.delete(key)
            yield* fundAndAnswer(needed)
          })).pipe(Effect.forkIn(scope))
          return answer
        })
    })
  })

/** The glue for every channel (`FundingNeeded` answered from the wallet whoever opened it). */
export const start: Effect.Effect<void, never, ChannelManager | Wallet | Scope.Scope> = Effect.asVoid(make({ fundAll: true }))

/** The glue as a service: only channels `request`ed are funded from the wallet (the daemon's). */
export const layer: Layer.Layer<WalletFunding, never, ChannelManager | Wallet> = Layer.effect(WalletFunding, make({ fundAll: false }))
