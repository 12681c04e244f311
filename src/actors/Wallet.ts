/**
 * The on-chain wallet (issue 9): BIP 84 / BIP 86 keys from a seed, its outputs and balance
 * followed from the `ChainSource`, sends built and signed here and published through the
 * `Broadcaster`, PSBT export / import for signing elsewhere, and channel funding.
 *
 * Guarantees:
 * - One fiber follows the chain from the tip at start (or `config.from`) and applies every
 *   block and every reorg, in order, to the pure `WalletState` (`protocol/wallet/state.ts`).
 *   Every command runs under the same one-permit semaphore, so a command never sees a half
 *   applied block and two commands never pick the same coin.
 * - An output is spent by at most one of our transactions: sends use only confirmed outputs
 *   that are not locked and not spent by a published transaction.
 * - `fundChannel` returns a signed funding transaction WITHOUT publishing it (the channel
 *   manager broadcasts it after `funding_signed`, BOLT 2) and locks its inputs under the
 *   funding txid until `releaseFunding` (the open failed) or the transaction confirms (the
 *   block spends the inputs; the lock is moot then).
 * - `awaitHeight(h)` returns once the wallet applied the best chain up to height `h`, so a caller
 *   (a test, an API answer) sees a balance consistent with that block.
 *
 * Known limits: a rescan of history before `from` is not done (a wallet restored from a seed
 * that was used before needs `from` at its birth height); the state is in memory (restart =
 * follow again from `from`); unconfirmed payments from others show at their first block (the
 * ChainSource has no mempool stream).
 */
import { Context, Data, Deferred, Effect, Layer, Result, type Scope, Semaphore, Stream } from "effect"
import type { BlockRef } from "../protocol/chain/block.ts"
import { outpointKey } from "../protocol/chain/watch.ts"
import type { Network } from "../protocol/network.ts"
import { type Transaction, txid as txidOf, type Txid, txidToHex, weight as weightOf } from "../protocol/tx/bitcoin/transaction.ts"
import type { Sat } from "../protocol/units.ts"
import { type AddressKind, type InvalidAddress, scriptFromAddress, WalletKeys } from "../protocol/wallet/keys.ts"
import {
  type DustOutput,
  exportPsbt,
  finalizePsbt,
  type InsufficientFunds,
  type InvalidPsbt,
  type Selection,
  selectCoins,
  signSelection
} from "../protocol/wallet/spend.ts"
import { type Balance, type Utxo, type WalletChainMismatch, WalletState } from "../protocol/wallet/state.ts"
import { Broadcaster, type BroadcastRejected } from "../services/Broadcaster.ts"
import { ChainSource, type ChainSourceUnavailable } from "../services/ChainSource.ts"
import { Entropy } from "../services/Entropy.ts"
import { FeeEstimator } from "../services/FeeEstimator.ts"

export interface WalletConfig {
  /** The BIP 39 seed (64 bytes) or a BIP 32 seed. */
  readonly seed: Uint8Array
  readonly network: Network
  /** Follow the chain after this block (default: the tip when the wallet starts). */
  readonly from?: BlockRef
  /** The confirmation target for sends and funding (default 6 blocks). */
  readonly targetBlocks?: number
  /** The kind of change outputs (default P2TR: the smallest spend). */
  readonly changeKind?: AddressKind
}

/** Where a send goes: an address of the node's network or an output script. */
export type Destination = { readonly address: string } | { readonly scriptPubKey: Uint8Array }

export interface SendRequest {
  readonly to: Destination
  readonly amount: Sat
  /** A fixed feerate (sat/kw); default: the estimator's for `targetBlocks`. */
  readonly feeratePerKw?: number
  readonly targetBlocks?: number
}

export interface SignedSpend {
  readonly tx: Transaction
  readonly txid: Txid
  readonly fee: Sat
  readonly feeratePerKw: number
}

/** A PSBT whose inputs are ours (or its outpoints are not ours, or are not spendable any more). */
export class PsbtNotOurs extends Data.TaggedError("PsbtNotOurs")<{ readonly reason: string }> {}

export type SpendError = InsufficientFunds | DustOutput | InvalidAddress | InvalidPsbt

export interface WalletShape {
  /** A fresh receive address (never handed out before). */
  readonly newAddress: (kind?: AddressKind) => Effect.Effect<string>
  /**
   * A fresh script of the wallet's change chain (never handed out before, always watched): where
   * the monitor's sweeps and our closing outputs go, so the wallet counts them once confirmed.
   */
  readonly sweepScript: (kind?: AddressKind) => Effect.Effect<Uint8Array>
  readonly balance: Effect.Effect<Balance>
  readonly utxos: Effect.Effect<ReadonlyArray<Utxo>>
  /** The last block applied. */
  readonly tip: Effect.Effect<BlockRef | undefined>
  /** Waits until the wallet applied the best chain up to `height` (fails if it stopped following). */
  readonly awaitHeight: (height: number) => Effect.Effect<void, WalletStopped>
  /** Builds, signs and publishes a payment (change back to the wallet). */
  readonly send: (request: SendRequest) => Effect.Effect<SignedSpend, SpendError | BroadcastRejected | ChainSourceUnavailable>
  /** An unsigned PSBT paying `request` (inputs locked under the returned `lockId` until published or released). */
  readonly createPsbt: (request: SendRequest) => Effect.Effect<{ readonly psbt: Uint8Array; readonly lockId: string; readonly fee: Sat }, SpendError>
  /** Finalizes a signed PSBT (from `createPsbt`), publishes it, frees its lock. */
  readonly publishPsbt: (psbt: Uint8Array) => Effect.Effect<SignedSpend, InvalidPsbt | PsbtNotOurs | BroadcastRejected | ChainSourceUnavailable>
  /**
   * A signed funding transaction paying `amount` to `scriptPubKey` (a channel's P2WSH), not
   * published; its inputs stay locked (`lockId` = the txid's display hex) until `releaseFunding`
   * or confirmation.
   */
  readonly fundChannel: (params: { readonly scriptPubKey: Uint8Array; readonly amount: Sat; readonly feeratePerKw?: number }) => Effect.Effect<SignedSpend & { readonly lockId: string }, SpendError>
  /** Frees the inputs locked by `fundChannel` or `createPsbt` (the open failed, the PSBT was abandoned). */
  readonly releaseFunding: (lockId: string) => Effect.Effect<number>
  readonly lockIds: Effect.Effect<ReadonlyArray<string>>
}

export class Wallet extends Context.Service<Wallet, WalletShape>()("effect-lightning/Wallet") {}

/** The wallet could not apply the chain's events (a reorg deeper than its undo log): it stops following. */
export class WalletStopped extends Data.TaggedError("WalletStopped")<{ readonly cause: WalletChainMismatch | ChainSourceUnavailable }> {}

/** Starts the wallet in the current scope: it follows the chain until the scope closes. */
export const make = (config: WalletConfig): Effect.Effect<WalletShape, ChainSourceUnavailable, ChainSource | Broadcaster | FeeEstimator | Entropy | Scope.Scope> =>
  Effect.gen(function*() {
    const source = yield* ChainSource
    const broadcaster = yield* Broadcaster
    const fees = yield* FeeEstimator
    const entropy = yield* Entropy
    const keys = WalletKeys.fromSeed(config.seed, config.network)
    const start = config.from ?? (yield* source.tip)
    const state = new WalletState(keys, start)
    const lock = yield* Semaphore.make(1)
    const serial = lock.withPermits(1)
    const targetBlocks = config.targetBlocks ?? 6
    const changeKind = config.changeKind ?? "p2tr"
    let waiters: Array<{ readonly height: number; readonly done: Deferred.Deferred<void, WalletStopped> }> = []
    let stopped: WalletStopped | undefined

    const wake = () => {
      const height = state.tip?.height ?? -1
      const ready = waiters.filter((w) => w.height <= height)
      waiters = waiters.filter((w) => w.height > height)
      for (const w of ready) Deferred.doneUnsafe(w.done, Effect.void)
    }

    yield* source.follow(start).pipe(
      Stream.runForEach((event) =>
        serial(Effect.suspend(() => {
          const r = event._tag === "BlockConnected" ? state.connect(event.block) : state.disconnect(event.header)
          if (Result.isFailure(r)) return Effect.fail(r.failure)
          wake()
          return Effect.void
        }))
      ),
      Effect.catch((cause) =>
        Effect.suspend(() => {
          const failure = new WalletStopped({ cause })
          stopped = failure
          for (const w of waiters) Deferred.doneUnsafe(w.done, Effect.fail(failure))
          waiters = []
          return Effect.logError(failure)
        })
      ),
      Effect.forkScoped
    )

    const scriptOf = (to: Destination): Result.Result<Uint8Array, InvalidAddress> =>
      "address" in to ? scriptFromAddress(config.network, to.address) : Result.succeed(to.scriptPubKey)

    const feerateFor = (request: { readonly feeratePerKw?: number; readonly targetBlocks?: number }) =>
      request.feeratePerKw !== undefined
        ? Effect.succeed(request.feeratePerKw)
        : fees.estimate(request.targetBlocks ?? targetBlocks).pipe(Effect.map((e) => e.feeratePerKw))

    /** Chooses coins for one output; the change key is taken only when the selection has change. */
    const select = (scriptPubKey: Uint8Array, amount: Sat, feeratePerKw: number): Result.Result<Selection, InsufficientFunds | DustOutput> => {
      const change = state.keys.derive({ kind: changeKind, chain: 1, index: 0 })
      const probe = selectCoins({ available: state.spendable(), outputs: [{ value: amount, scriptPubKey }], feeratePerKw, changeScript: change.scriptPubKey })
      if (Result.isFailure(probe) || probe.success.changeIndex === undefined) return probe
      const fresh = state.nextKey(changeKind, 1)
      return selectCoins({ available: state.spendable(), outputs: [{ value: amount, scriptPubKey }], feeratePerKw, changeScript: fresh.scriptPubKey })
    }

    const locktime = () => state.tip?.height ?? 0

    const sign = (selection: Selection, feeratePerKw: number) =>
      Effect.gen(function*() {
        const aux = yield* entropy.randomBytes(32)
        const tx = yield* Effect.fromResult(signSelection(keys, selection, locktime(), aux))
        return { tx, txid: txidOf(tx), fee: selection.fee, feeratePerKw }
      })

    const publish = (spend: SignedSpend) =>
      broadcaster.broadcast(spend.tx).pipe(
        Effect.tap(() => Effect.sync(() => state.addPending(spend.tx))),
        Effect.as(spend)
      )

    const build = (request: SendRequest) =>
      Effect.gen(function*() {
        const script = yield* Effect.fromResult(scriptOf(request.to))
        const feeratePerKw = yield* feerateFor(request)
        const selection = yield* Effect.fromResult(select(script, request.amount, feeratePerKw))
        return { selection, feeratePerKw }
      })

    return Wallet.of({
      newAddress: (kind = "p2wpkh") => serial(Effect.sync(() => state.nextKey(kind, 0).address)),
      sweepScript: (kind = changeKind) => serial(Effect.sync(() => state.nextKey(kind, 1).scriptPubKey)),
      balance: serial(Effect.sync(() => state.balance())),
      utxos: serial(Effect.sync(() => state.allUtxos())),
      tip: Effect.sync(() => state.tip),
      awaitHeight: (height) =>
        Effect.suspend(() => {
          if ((state.tip?.height ?? -1) >= height) return Effect.void
          if (stopped !== undefined) return Effect.fail(stopped)
          const done = Deferred.makeUnsafe<void, WalletStopped>()
          waiters.push({ height, done })
          return Deferred.await(done)
        }),
      send: (request) =>
        serial(Effect.gen(function*() {
          const { selection, feeratePerKw } = yield* build(request)
          const spend = yield* sign(selection, feeratePerKw)
          return yield* publish(spend)
        })),
      createPsbt: (request) =>
        serial(Effect.gen(function*() {
          const { selection } = yield* build(request)
          const psbt = exportPsbt(keys, selection, locktime())
          const lockId = `psbt:${selection.inputs.map((u) => outpointKey(u.outpoint)).join(",")}`
          state.lock(lockId, selection.inputs.map((u) => u.outpoint))
          return { psbt, lockId, fee: selection.fee }
        })),
      publishPsbt: (psbt) =>
        serial(Effect.gen(function*() {
          const imported = yield* Effect.fromResult(finalizePsbt(psbt))
          const ours = new Map(state.allUtxos().map((u) => [outpointKey(u.outpoint), u]))
          const pendingSpent = new Set(state.pendingTransactions().flatMap((t) => t.inputs.map((i) => outpointKey(i.prevout))))
          for (const o of imported.inputs) {
            const k = outpointKey(o)
            if (!ours.has(k)) return yield* Effect.fail(new PsbtNotOurs({ reason: `input ${txidToHex(o.txid)}:${o.vout} is not a wallet output` }))
            if (pendingSpent.has(k)) return yield* Effect.fail(new PsbtNotOurs({ reason: `input ${txidToHex(o.txid)}:${o.vout} is already spent` }))
          }
          const tx = imported.transaction
          const feeratePerKw = Math.floor(Number(imported.fee) * 1000 / weightOf(tx))
          const spend = yield* publish({ tx, txid: txidOf(tx), fee: imported.fee, feeratePerKw })
          const spent = new Set(imported.inputs.map(outpointKey))
          for (const id of state.lockIds()) if (id.startsWith("psbt:") && id.slice(5).split(",").some((k) => spent.has(k))) state.unlock(id)
          return spend
        })),
      fundChannel: (params) =>
        serial(Effect.gen(function*() {
          const feeratePerKw = yield* feerateFor(params)
          const selection = yield* Effect.fromResult(select(params.scriptPubKey, params.amount, feeratePerKw))
          const spend = yield* sign(selection, feeratePerKw)
          const lockId = txidToHex(spend.txid)
          state.lock(lockId, selection.inputs.map((u) => u.outpoint))
          return { ...spend, lockId }
        })),
      releaseFunding: (lockId) => serial(Effect.sync(() => state.unlock(lockId))),
      lockIds: serial(Effect.sync(() => state.lockIds()))
    })
  })

/** The wallet as a layer: it follows the chain as long as the layer lives. */
export const layer = (config: WalletConfig): Layer.Layer<Wallet, ChainSourceUnavailable, ChainSource | Broadcaster | FeeEstimator | Entropy> =>
  Layer.effect(Wallet, make(config))
