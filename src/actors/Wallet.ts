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
 * - Persistence (`makePersistent`, `layerPersistent`: a `Store`, key `wallet/state`): the whole
 *   state is one snapshot (`protocol/wallet/snapshot.ts`) written in one atomic put. Every
 *   command that changes what must survive a restart writes it BEFORE it answers: an address
 *   index before the address is handed out (so none is ever handed out twice), a lock before the
 *   funding transaction is returned, a send before it is broadcast (at start, our unconfirmed
 *   sends are broadcast again). Blocks are written when they touched the wallet; a crash
 *   between writes leaves an older snapshot, which is self-consistent, and at start the wallet
 *   follows the `ChainSource` from the snapshot's tip: the blocks it missed, including the
 *   disconnection of blocks a reorg took away meanwhile (undone from the stored undo log).
 *
 * - A send that never confirms: `abandon(txid)` forgets it (and its unconfirmed children), its
 *   inputs spendable again. Coins locked for a fee bump (`fundFees`) are released by themselves
 *   `FEE_LOCK_BLOCKS` blocks after the last bump that used them.
 * - Restoring a used seed: `from` (the daemon's `--wallet-birthday HEIGHT`) makes a wallet's
 *   FIRST start follow the chain from that block, so coins paid since then are found (the scan
 *   is the ordinary block stream, bounded by the chain's length; keys within the gap limit).
 *
 * Known limits: `from` is ignored once a state is stored (no rescan of an existing wallet);
 * `make` keeps the state in memory only (restart = follow again from `from`); unconfirmed
 * payments from others show at their first block (the ChainSource has no mempool stream).
 */
import { Context, Data, Deferred, Effect, Layer, Result, type Scope, Semaphore, Stream } from "effect"
import type { BlockRef } from "../protocol/chain/block.ts"
import { nobleSecp256k1, type Secp256k1 } from "../protocol/crypto/secp256k1.ts"
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
  selectAll,
  selectCoins,
  signSelection
} from "../protocol/wallet/spend.ts"
import { addFeeInputs, signFeeInputs } from "../protocol/wallet/feeInputs.ts"
import { decodeSnapshot, encodeSnapshot, type WalletSnapshotInvalid } from "../protocol/wallet/snapshot.ts"
import { type Balance, type Utxo, type WalletChainMismatch, WalletState } from "../protocol/wallet/state.ts"
import { Broadcaster, type BroadcastRejected } from "../services/Broadcaster.ts"
import { Store, type StoreShape } from "../services/Store.ts"
import { ChainSource, ChainSourceUnavailable } from "../services/ChainSource.ts"
import { Entropy } from "../services/Entropy.ts"
import { FeeEstimator } from "../services/FeeEstimator.ts"

export interface WalletConfig {
  /** The BIP 39 seed (64 bytes) or a BIP 32 seed. */
  readonly seed: Uint8Array
  readonly network: Network
  /** Follow the chain after this block (default: the tip when the wallet starts). */
  readonly from?: BlockRef
  /**
   * The wallet's birth height (a seed used before, restored): on the FIRST start (nothing
   * stored), follow the chain from this block on (its coins since then are found). Over `from`;
   * a height above the tip is the tip. Ignored once a state is stored.
   */
  readonly birthHeight?: number
  /** The confirmation target for sends and funding (default 6 blocks). */
  readonly targetBlocks?: number
  /** The kind of change outputs (default P2TR: the smallest spend). */
  readonly changeKind?: AddressKind
  /** Signs fee inputs (`fundFees`; default noble). */
  readonly secp?: Secp256k1
}

/** Where a send goes: an address of the node's network or an output script. */
export type Destination = { readonly address: string } | { readonly scriptPubKey: Uint8Array }

export interface SendRequest {
  readonly to: Destination
  /** The amount paid, or "all": every spendable coin to `to`, the fee taken from it (no change). */
  readonly amount: Sat | "all"
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

/** The wallet's state could not be written to its store: the command did not happen (retry). */
export class WalletPersistFailed extends Data.TaggedError("WalletPersistFailed")<{ readonly reason: string }> {}

/** The store key of the wallet's snapshot. */
export const WALLET_STORE_KEY = "wallet/state"

export interface WalletShape {
  /** A fresh receive address (never handed out before). */
  readonly newAddress: (kind?: AddressKind) => Effect.Effect<string, WalletPersistFailed>
  /**
   * A fresh script of the wallet's change chain (never handed out before, always watched): where
   * the monitor's sweeps and our closing outputs go, so the wallet counts them once confirmed.
   */
  readonly sweepScript: (kind?: AddressKind) => Effect.Effect<Uint8Array, WalletPersistFailed>
  readonly balance: Effect.Effect<Balance>
  readonly utxos: Effect.Effect<ReadonlyArray<Utxo>>
  /** The last block applied. */
  readonly tip: Effect.Effect<BlockRef | undefined>
  /** Waits until the wallet applied the best chain up to `height` (fails if it stopped following). */
  readonly awaitHeight: (height: number) => Effect.Effect<void, WalletStopped>
  /** Builds, signs and publishes a payment (change back to the wallet). */
  readonly send: (request: SendRequest) => Effect.Effect<SignedSpend, SpendError | BroadcastRejected | ChainSourceUnavailable | WalletPersistFailed>
  /** An unsigned PSBT paying `request` (inputs locked under the returned `lockId` until published or released). */
  readonly createPsbt: (request: SendRequest) => Effect.Effect<{ readonly psbt: Uint8Array; readonly lockId: string; readonly fee: Sat }, SpendError | WalletPersistFailed>
  /** Finalizes a signed PSBT (from `createPsbt`), publishes it, frees its lock. */
  readonly publishPsbt: (psbt: Uint8Array) => Effect.Effect<SignedSpend, InvalidPsbt | PsbtNotOurs | BroadcastRejected | ChainSourceUnavailable | WalletPersistFailed>
  /**
   * A signed funding transaction paying `amount` to `scriptPubKey` (a channel's P2WSH), not
   * published; its inputs stay locked (`lockId` = the txid's display hex) until `releaseFunding`
   * or confirmation.
   */
  readonly fundChannel: (params: { readonly scriptPubKey: Uint8Array; readonly amount: Sat; readonly feeratePerKw?: number }) => Effect.Effect<SignedSpend & { readonly lockId: string }, SpendError | WalletPersistFailed>
  /** Frees the inputs locked by `fundChannel` or `createPsbt` (the open failed, the PSBT was abandoned). */
  readonly releaseFunding: (lockId: string) => Effect.Effect<number, WalletPersistFailed>
  readonly lockIds: Effect.Effect<ReadonlyArray<string>>
  /**
   * Forgets one of our sends that has not confirmed (and its unconfirmed children): its inputs
   * are spendable again. For a send that will not confirm (left the mempools); if it confirms
   * anyway, its block applies it. The transactions forgotten (none: not an unconfirmed send).
   */
  readonly abandon: (txid: Txid) => Effect.Effect<ReadonlyArray<Transaction>, WalletPersistFailed>
  /**
   * Wallet inputs (P2WPKH) and a change output added to `tx`, a zero-fee transaction of ours
   * (an HTLC transaction, an anchor's CPFP child), paying `feeratePerKw` on the result plus
   * `extraFee`; `sign` signs the wallet's inputs once the caller signed its own. The coins are
   * locked under `fee:<tx's first outpoint>` and reused by a replacement of the same
   * transaction, for `FEE_LOCK_BLOCKS` blocks from this call (each bump renews it; a bump that
   * never confirms releases them then). Undefined when the wallet cannot pay (or cannot store the lock).
   */
  readonly fundFees: (tx: Transaction, feeratePerKw: number, extraFee?: bigint) => Effect.Effect<
    { readonly tx: Transaction; readonly sign: (tx: Transaction) => Effect.Effect<Transaction> } | undefined
  >
}

export class Wallet extends Context.Service<Wallet, WalletShape>()("effect-lightning/Wallet") {}

/** Blocks a fee-bump lock lasts after the last `fundFees` call that renewed it (one day). */
export const FEE_LOCK_BLOCKS = 144

/** The wallet could not apply the chain's events (a reorg deeper than its undo log): it stops following. */
export class WalletStopped extends Data.TaggedError("WalletStopped")<{ readonly cause: WalletChainMismatch | ChainSourceUnavailable }> {}

type WalletEnv = ChainSource | Broadcaster | FeeEstimator | Entropy | Scope.Scope

/** Starts the wallet in the current scope, its state in memory only: it follows the chain until the scope closes. */
export const make = (config: WalletConfig): Effect.Effect<WalletShape, ChainSourceUnavailable, WalletEnv> =>
  start(config, undefined).pipe(
    // Without a store nothing is read or written: these failures cannot happen.
    Effect.catchTags({ WalletPersistFailed: Effect.die, WalletSnapshotInvalid: Effect.die })
  )

/**
 * Starts the wallet over the `Store`: its state is read from `WALLET_STORE_KEY` (or created
 * from `config.from` / the tip on first start) and written as it changes (see the module doc).
 * `config.from` is ignored once a state is stored.
 */
export const makePersistent = (
  config: WalletConfig
): Effect.Effect<WalletShape, ChainSourceUnavailable | WalletPersistFailed | WalletSnapshotInvalid, WalletEnv | Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    return yield* start(config, store)
  })

const start = (config: WalletConfig, store: StoreShape | undefined): Effect.Effect<WalletShape, ChainSourceUnavailable | WalletPersistFailed | WalletSnapshotInvalid, WalletEnv> =>
  Effect.gen(function*() {
    const source = yield* ChainSource
    const broadcaster = yield* Broadcaster
    const fees = yield* FeeEstimator
    const entropy = yield* Entropy
    const keys = WalletKeys.fromSeed(config.seed, config.network)
    const persistError = (error: { readonly _tag: string; readonly message: string }) => new WalletPersistFailed({ reason: `${error._tag}: ${error.message}` })
    const stored = store === undefined ? undefined : yield* store.get(WALLET_STORE_KEY).pipe(Effect.mapError(persistError))
    /** Where a new wallet starts: the block before its birth height, `from`, or the tip. */
    const startRef = Effect.gen(function*() {
      if (config.birthHeight === undefined) return config.from ?? (yield* source.tip)
      const tip = yield* source.tip
      const height = Math.max(0, Math.min(config.birthHeight - 1, tip.height))
      const header = yield* source.header(height).pipe(
        Effect.catchTag("BlockNotFound", () => Effect.fail(new ChainSourceUnavailable({ reason: `no block at the wallet's birth height ${height}` })))
      )
      return { height: header.height, hash: header.hash }
    })
    const state = stored === undefined
      ? new WalletState(keys, yield* startRef)
      : yield* Effect.fromResult(Result.flatMap(decodeSnapshot(stored.value), (snapshot) => WalletState.fromSnapshot(keys, snapshot)))
    /** Writes the whole state (one atomic put); a no-op without a store. */
    const save: Effect.Effect<void, WalletPersistFailed> = store === undefined
      ? Effect.void
      : Effect.suspend(() => store.put(WALLET_STORE_KEY, encodeSnapshot(state.toSnapshot()))).pipe(Effect.asVoid, Effect.mapError(persistError))
    if (stored === undefined) yield* save
    const lock = yield* Semaphore.make(1)
    const serial = lock.withPermits(1)
    const targetBlocks = config.targetBlocks ?? 6
    const changeKind = config.changeKind ?? "p2tr"
    const secp = config.secp ?? nobleSecp256k1
    let waiters: Array<{ readonly height: number; readonly done: Deferred.Deferred<void, WalletStopped> }> = []
    let stopped: WalletStopped | undefined
    /** Blocks applied since the last write (written when they touched the wallet, or every 144). */
    let unsaved = 0

    const wake = () => {
      const height = state.tip?.height ?? -1
      const ready = waiters.filter((w) => w.height <= height)
      waiters = waiters.filter((w) => w.height > height)
      for (const w of ready) Deferred.doneUnsafe(w.done, Effect.void)
    }

    // Our unconfirmed sends again (a crash may have come between their write and their broadcast).
    for (const tx of state.pendingTransactions()) {
      yield* broadcaster.broadcast(tx).pipe(
        Effect.catch((error) => Effect.logDebug(`wallet: pending ${txidToHex(txidOf(tx))} not broadcast again: ${error._tag}`))
      )
    }

    yield* source.follow(state.tip).pipe(
      Stream.runForEach((event) =>
        serial(Effect.gen(function*() {
          const r = event._tag === "BlockConnected" ? state.connect(event.block) : state.disconnect(event.header)
          if (Result.isFailure(r)) return yield* Effect.fail(r.failure)
          unsaved++
          if (r.success || unsaved >= 144) {
            // A failed write is retried with the next one (the stored state stays an older, consistent one).
            const written = yield* Effect.result(save)
            if (Result.isSuccess(written)) unsaved = 0
            else yield* Effect.logWarning(`wallet: state not written: ${written.failure.reason}`)
          }
          wake()
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

    /** Written as pending first, then broadcast; a refused broadcast is forgotten again. */
    const publish = (spend: SignedSpend) =>
      Effect.gen(function*() {
        state.addPending(spend.tx)
        yield* save.pipe(Effect.tapError(() => Effect.sync(() => state.removePending(spend.tx))))
        const sent = yield* Effect.result(broadcaster.broadcast(spend.tx))
        if (Result.isFailure(sent)) {
          state.removePending(spend.tx)
          yield* Effect.ignore(save)
          return yield* Effect.fail(sent.failure)
        }
        return spend
      })

    const build = (request: SendRequest) =>
      Effect.gen(function*() {
        const script = yield* Effect.fromResult(scriptOf(request.to))
        const feeratePerKw = yield* feerateFor(request)
        const selection = yield* Effect.fromResult(
          request.amount === "all"
            ? selectAll({ available: state.spendable(), scriptPubKey: script, feeratePerKw })
            : select(script, request.amount, feeratePerKw)
        )
        return { selection, feeratePerKw }
      })

    return Wallet.of({
      newAddress: (kind = "p2wpkh") =>
        serial(Effect.gen(function*() {
          const key = state.nextKey(kind, 0)
          yield* save
          return key.address
        })),
      sweepScript: (kind = changeKind) =>
        serial(Effect.gen(function*() {
          const key = state.nextKey(kind, 1)
          yield* save
          return key.scriptPubKey
        })),
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
          yield* save.pipe(Effect.tapError(() => Effect.sync(() => state.unlock(lockId))))
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
          // Published: its PSBT lock is moot (the inputs are spent by a pending send now).
          const spent = new Set(imported.inputs.map(outpointKey))
          for (const id of state.lockIds()) if (id.startsWith("psbt:") && id.slice(5).split(",").some((k) => spent.has(k))) state.unlock(id)
          yield* Effect.ignore(save)
          return spend
        })),
      fundChannel: (params) =>
        serial(Effect.gen(function*() {
          const feeratePerKw = yield* feerateFor(params)
          const selection = yield* Effect.fromResult(select(params.scriptPubKey, params.amount, feeratePerKw))
          const spend = yield* sign(selection, feeratePerKw)
          const lockId = txidToHex(spend.txid)
          state.lock(lockId, selection.inputs.map((u) => u.outpoint))
          yield* save.pipe(Effect.tapError(() => Effect.sync(() => state.unlock(lockId))))
          return { ...spend, lockId }
        })),
      releaseFunding: (lockId) =>
        serial(Effect.gen(function*() {
          const n = state.unlock(lockId)
          if (n > 0) yield* save
          return n
        })),
      lockIds: serial(Effect.sync(() => state.lockIds())),
      abandon: (txid) =>
        serial(Effect.gen(function*() {
          const gone = state.abandon(txid)
          if (gone.length === 0) return gone
          yield* save.pipe(Effect.tapError(() => Effect.sync(() => gone.forEach((tx) => state.addPending(tx)))))
          return gone
        })),
      fundFees: (tx, feeratePerKw, extraFee = 0n) =>
        serial(Effect.gen(function*() {
          const first = tx.inputs[0]
          if (first === undefined) return undefined
          const lockId = `fee:${outpointKey(first.prevout)}`
          const fund = (changeScript: Uint8Array) =>
            addFeeInputs({ tx, feeratePerKw, extraFee, reuse: state.lockedBy(lockId), available: state.spendable(), changeScript })
          // A probe with a known script first, so a failure takes no fresh change key.
          const probe = fund(state.keys.derive({ kind: "p2wpkh", chain: 1, index: 0 }).scriptPubKey)
          if (Result.isFailure(probe)) return yield* Effect.as(Effect.logWarning(`wallet: cannot pay the fee of ${txidToHex(txidOf(tx))}: ${probe.failure._tag}`), undefined)
          const funded = fund(state.nextKey("p2wpkh", 1).scriptPubKey)
          if (Result.isFailure(funded)) return undefined
          state.unlock(lockId)
          state.lock(lockId, funded.success.coins.map((u) => u.outpoint), (state.tip?.height ?? 0) + FEE_LOCK_BLOCKS)
          const saved = yield* Effect.result(save)
          if (Result.isFailure(saved)) return yield* Effect.as(Effect.logWarning(`wallet: fee inputs not locked: ${saved.failure.reason}`), undefined)
          const coins = funded.success.coins
          return { tx: funded.success.tx, sign: (t: Transaction) => Effect.sync(() => signFeeInputs(secp, t, coins)) }
        }))
    })
  })

/** The wallet as a layer, in memory: it follows the chain as long as the layer lives. */
export const layer = (config: WalletConfig): Layer.Layer<Wallet, ChainSourceUnavailable, ChainSource | Broadcaster | FeeEstimator | Entropy> =>
  Layer.effect(Wallet, make(config))

/** The wallet as a layer over the `Store` (`makePersistent`). */
export const layerPersistent = (
  config: WalletConfig
): Layer.Layer<Wallet, ChainSourceUnavailable | WalletPersistFailed | WalletSnapshotInvalid, ChainSource | Broadcaster | FeeEstimator | Entropy | Store> =>
  Layer.effect(Wallet, makePersistent(config))
