/**
 * The simulated chain as services: `ChainSource`, `Broadcaster` and `FeeEstimator` over one
 * in-memory chain (`sim/core.ts`: deterministic from a seed, blocks mined on demand, reorgs of
 * any depth, a mempool checking inputs, maturity and timelocks, NOT scripts), plus `SimChain`,
 * the handle a test or a simulation drives it with (mine, reorg, fund, set the feerate).
 *
 * `follow` reads the chain's event log by position, so any number of followers see every event
 * in order at their own pace (lossless; the log lives as long as the chain, like its blocks).
 */
import { Context, Data, Deferred, Effect, Layer, Option, Stream } from "effect"
import { txidToHex, type OutPoint, type Transaction, type Txid } from "../../protocol/tx/bitcoin/transaction.ts"
import type { Sat } from "../../protocol/units.ts"
import { type Block, blockHashToHex, type BlockRef } from "../../protocol/chain/block.ts"
import { Broadcaster, BroadcastRejected, type RejectReason } from "../../services/Broadcaster.ts"
import { BlockNotFound, type ChainEvent, ChainSource, ChainSourceUnavailable, type OutputStatus } from "../../services/ChainSource.ts"
import { clampFeerate, defaultFallbackFeerates, type FallbackFeerates, fallbackFor, FeeEstimator } from "../../services/FeeEstimator.ts"
import { type MineOptions, SimChainCore, type SimChainConfig, SimChainRejected } from "./sim/core.ts"

export { FAUCET_SCRIPT, type MineOptions, type SimChainConfig } from "./sim/core.ts"

/** A transaction the simulated chain refused in `mine({ txs })`, `fund` or `reorg`. */
export class SimChainRefused extends Data.TaggedError("SimChainRefused")<{ readonly reason: RejectReason; readonly message: string }> {}

export interface SimChainShape {
  /** Mines `count` blocks (default 1) on the tip. */
  readonly mine: (count?: number, options?: MineOptions) => Effect.Effect<ReadonlyArray<Block>, SimChainRefused>
  /** Replaces the top `depth` blocks by `blocks` (default depth + 1) new ones; `exclude` keeps transactions out. */
  readonly reorg: (
    depth: number,
    params?: { readonly blocks?: number; readonly exclude?: ReadonlyArray<Txid> } & MineOptions
  ) => Effect.Effect<ReadonlyArray<Block>, SimChainRefused>
  /** Pays `amount` to `scriptPubKey` from the faucet (in the mempool: mine to confirm). */
  readonly fund: (scriptPubKey: Uint8Array, amount: Sat) => Effect.Effect<{ readonly tx: Transaction; readonly outpoint: OutPoint }, SimChainRefused>
  /** Package relay: parents first; a zero-fee parent passes with a child paying for both (CPFP). */
  readonly broadcastPackage: (txs: ReadonlyArray<Transaction>) => Effect.Effect<Txid, BroadcastRejected>
  /** The estimate for every target (sat/kw), or `undefined` for "no estimate" (the fallback answers). */
  readonly setFeerate: (feeratePerKw: number | undefined) => Effect.Effect<void>
  /** Seconds to add before the next block's time (time-based locks). */
  readonly advanceTime: (seconds: number) => Effect.Effect<void>
  readonly height: Effect.Effect<number>
  /** The height `txid` confirmed at on the best chain. */
  readonly confirmationHeight: (txid: Txid) => Effect.Effect<number | undefined>
  readonly inMempool: (txid: Txid) => Effect.Effect<boolean>
  /** The engine, for reads in tests (synchronous). */
  readonly core: SimChainCore
}

export class SimChain extends Context.Service<SimChain, SimChainShape>()("effect-lightning/SimChain") {}

export interface SimulatedChainOptions extends SimChainConfig {
  /** The starting estimate (default: none, so the fallback answers). */
  readonly feeratePerKw?: number
  readonly fallbackFeerates?: FallbackFeerates
}

const refused = (e: unknown): Effect.Effect<never, SimChainRefused> =>
  e instanceof SimChainRejected ? Effect.fail(new SimChainRefused({ reason: e.rejection.reason, message: e.message })) : Effect.die(e)

/** Builds the chain and its four services. */
export const make = (options: SimulatedChainOptions) =>
  Effect.sync(() => {
    const core = new SimChainCore(options)
    let feerate = options.feeratePerKw
    const fallback = options.fallbackFeerates ?? defaultFallbackFeerates
    let waiters: Array<Deferred.Deferred<void>> = []
    // Followers are woken once a whole chain operation (mine(count), reorg, fund) has returned: a
    // woken fiber runs on the waker's stack, so waking them between a reorg's disconnections and its
    // new branch let a follower act (a monitor broadcasting again) inside the branch others mined.
    let busy = 0
    let woken = false
    const wake = () => {
      const ready = waiters
      waiters = []
      for (const d of ready) Deferred.doneUnsafe(d, Effect.void)
    }
    core.onAppend(() => {
      if (busy > 0) woken = true
      else wake()
    })
    const waitBeyond = (position: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (core.log.length > position) return Effect.void
        const d = Deferred.makeUnsafe<void>()
        waiters.push(d)
        return Deferred.await(d)
      })
    const attempt = <A>(f: () => A): Effect.Effect<A, SimChainRefused> =>
      Effect.suspend(() => {
        busy += 1
        try {
          return Effect.succeed(f())
        } catch (e) {
          return refused(e)
        } finally {
          busy -= 1
          if (busy === 0 && woken) {
            woken = false
            wake()
          }
        }
      })

    const chainSource = ChainSource.of({
      tip: Effect.sync(() => core.tip),
      header: (id) =>
        Effect.suspend(() => {
          const h = core.headerOf(id)
          return h === undefined ? Effect.fail(new BlockNotFound({ block: typeof id === "number" ? String(id) : blockHashToHex(id) })) : Effect.succeed(h)
        }),
      block: (id) =>
        Effect.suspend(() => {
          const b = core.blockAt(id)
          return b === undefined ? Effect.fail(new BlockNotFound({ block: typeof id === "number" ? String(id) : blockHashToHex(id) })) : Effect.succeed(b)
        }),
      follow: (from?: BlockRef) =>
        Stream.unwrap(Effect.suspend(() => {
          const start = from === undefined ? [] : core.catchUp(from)
          if (start === undefined) return Effect.fail(new ChainSourceUnavailable({ reason: "follow: the starting block is unknown to the simulated chain" }))
          const position = core.log.length
          const live = Stream.paginate(position, (pos: number) =>
            waitBeyond(pos).pipe(
              Effect.map((): readonly [ReadonlyArray<ChainEvent>, Option.Option<number>] => {
                const items = core.log.slice(pos)
                return [items, Option.some(pos + items.length)]
              })
            ))
          return Effect.succeed(Stream.concat(Stream.fromIterable(start), live))
        })),
      outputStatus: (outpoint) =>
        Effect.sync((): OutputStatus => {
          if (core.mempoolSpender(outpoint) !== undefined) return { _tag: "SpentOrUnknown" }
          const coin = core.coin(outpoint)
          if (coin !== undefined) return { _tag: "Unspent", confirmedAt: coin.height, value: coin.output.value, scriptPubKey: coin.output.scriptPubKey }
          const pending = core.mempoolOutput(outpoint)
          if (pending !== undefined) return { _tag: "Unspent", value: pending.value, scriptPubKey: pending.scriptPubKey }
          return { _tag: "SpentOrUnknown" }
        })
    })

    const broadcaster = Broadcaster.of({
      broadcast: (tx) =>
        Effect.suspend(() => {
          const r = core.accept(tx)
          if (r._tag === "Accepted") return Effect.succeed(r.txid)
          return Effect.fail(new BroadcastRejected({ txid: r.txid === undefined ? "" : txidToHex(r.txid), reason: r.rejection.reason, message: r.rejection.message }))
        })
    })

    const feeEstimator = FeeEstimator.of({
      estimate: (target) =>
        Effect.sync(() =>
          feerate === undefined
            ? { feeratePerKw: fallbackFor(fallback, target), source: "fallback" as const }
            : { feeratePerKw: clampFeerate(feerate), source: "estimate" as const }
        )
    })

    const sim = SimChain.of({
      mine: (count = 1, mineOptions = {}) =>
        attempt(() => {
          const blocks: Array<Block> = []
          for (let i = 0; i < count; i++) blocks.push(core.mine(mineOptions))
          return blocks
        }),
      reorg: (depth, params = {}) => attempt(() => core.reorg(depth, params)),
      fund: (scriptPubKey, amount) => attempt(() => core.fund(scriptPubKey, amount)),
      broadcastPackage: (txs) =>
        Effect.suspend(() => {
          const r = core.acceptPackage(txs)
          if (r._tag === "Accepted") return Effect.succeed(r.txid)
          return Effect.fail(new BroadcastRejected({ txid: r.txid === undefined ? "" : txidToHex(r.txid), reason: r.rejection.reason, message: r.rejection.message }))
        }),
      setFeerate: (perKw) => Effect.sync(() => { feerate = perKw }),
      advanceTime: (seconds) => Effect.sync(() => core.advanceTime(seconds)),
      height: Effect.sync(() => core.height),
      confirmationHeight: (id) => Effect.sync(() => core.confirmationHeight(id)),
      inMempool: (id) => Effect.sync(() => core.inMempool(id)),
      core
    })
    return { sim, chainSource, broadcaster, feeEstimator }
  })

/** One simulated chain providing `SimChain`, `ChainSource`, `Broadcaster` and `FeeEstimator`. */
export const layer = (options: SimulatedChainOptions): Layer.Layer<SimChain | ChainSource | Broadcaster | FeeEstimator> =>
  Layer.effectContext(
    make(options).pipe(
      Effect.map(({ sim, chainSource, broadcaster, feeEstimator }) =>
        Context.make(SimChain, sim).pipe(
          Context.add(ChainSource, chainSource),
          Context.add(Broadcaster, broadcaster),
          Context.add(FeeEstimator, feeEstimator)
        )
      )
    )
  )
