/**
 * The `ChainWatcher`: the glue between the chain and the channels (until the monitors enforce
 * channels on chain themselves, BOLT 5). One per node, one fiber.
 *
 * - It follows the `ChainSource` and the `ChannelManager`'s chain requests (`chainRequestsOf`) as
 *   ONE ordered input (so a watch and a block are never handled at the same time).
 * - `WatchFunding { outpoint }`: it watches the funding transaction and output (a `WatchSet`).
 *   When it confirms, and on every block after until the depth reaches
 *   `max(minimumDepth, announceDepth)`, the channel gets `FundingDepth { depth, shortChannelId }`
 *   (BOLT 2 `channel_ready` waits for `minimum_depth`; BOLT 7 announces after 6). A reorg that
 *   takes the funding block away sends `FundingDepth { depth: 0 }` and the count starts again.
 *   When the output is spent in a block, the channel gets `FundingSpent { txid }`.
 *   A watch that arrives after its transaction confirmed (a restart) is answered from
 *   `outputStatus` and a scan of the last `rescanBlocks` blocks.
 * - `Broadcast { tx }`: published through the `Broadcaster`; refused or unreachable, it is
 *   retried on each new block (at most `maxRebroadcasts` times) until it confirms, and again
 *   if a reorg unconfirms it before `announceDepth` confirmations.
 *
 * - If the source cannot continue from our last block (it forgot it), the watcher follows again
 *   from the tip and checks every watch against the chain as it is (`Resync`).
 *
 * `FundingSpent` is sent at the spend's first confirmation (the channel closes: it never resumes
 * normal operation once a commitment or closing transaction was seen on chain). The watch is kept
 * until the spend is `announceDepth` deep (nothing forgotten earlier): a reorg that takes the
 * spend away re-arms it, and a DIFFERENT spend confirming afterwards is reported as a new
 * `FundingSpent`. The on-chain enforcement itself (`MonitorChain`) follows reorgs and re-derives
 * every claim (and publishes our commitment if the funding output stays unspent after a reorg).
 */
import { Effect, Queue, Result, Schedule, type Scope, Stream } from "effect"
import { equalBytes, toHex } from "../protocol/bytes.ts"
import { type Block, type BlockRef, refOf } from "../protocol/chain/block.ts"
import { WatchSet } from "../protocol/chain/watch.ts"
import { shortChannelIdFromParts } from "../protocol/codec/fields.ts"
import { decodeTransaction, type OutPoint, type Transaction, type Txid, txid as computeTxid, txidToHex } from "../protocol/tx/bitcoin/transaction.ts"
import type { ChannelId } from "../protocol/units.ts"
import { Broadcaster } from "../services/Broadcaster.ts"
import { type ChainEvent, ChainSource } from "../services/ChainSource.ts"
import { type ChainFact, ChannelManager, type ChannelManagerShape, listenerOf, type NodeChannelEvent } from "./ChannelManager.ts"

export interface ChainWatcherConfig {
  /** Depth updates continue until this depth at least (BOLT 7: 6 for announcements). Default 6. */
  readonly announceDepth?: number
  /** How far back a late watch looks for its transaction when the output is spent or unknown (blocks). Default 12. */
  readonly rescanBlocks?: number
  /** How many times a refused broadcast is retried (once per block). Default 144. */
  readonly maxRebroadcasts?: number
  /** Wait before following again from the tip when the source lost our block (ms). Default 5000. */
  readonly resyncDelayMs?: number
}

interface FundingWatch {
  readonly channelId: ChannelId
  readonly outpoint: OutPoint
  readonly minimumDepth: number
  confirmed: { readonly height: number; readonly txIndex: number } | undefined
  lastDepthSent: number
  /** The confirmed spend (cleared by a reorg that takes its block away). */
  spent: { readonly height: number; readonly txid: Txid } | undefined
  /** The last spend reported to the channel (a different one after a reorg is reported again). */
  reported: Uint8Array | undefined
}

interface PendingBroadcast {
  readonly tx: Transaction
  attempts: number
  /** The height it confirmed at (forgotten at `announceDepth` confirmations; cleared by a reorg). */
  confirmedAt: number | undefined
}

type Input =
  | { readonly _tag: "Chain"; readonly event: ChainEvent }
  | { readonly _tag: "Manager"; readonly event: NodeChannelEvent }
  /** The chain source could not continue from our block: we follow again from `tip`. */
  | { readonly _tag: "Resync"; readonly tip: BlockRef }

/** What the watcher acts on among the manager's events (the channels' other events are not its business). */
const isChainRequest = (e: NodeChannelEvent): boolean => e.event._tag === "WatchFunding" || e.event._tag === "Broadcast"

/**
 * The manager's chain requests (`WatchFunding`, `Broadcast`), what is pending first (as
 * `subscribe` gives it: a restarted node misses nothing), then the live ones in order. Heard
 * through the manager's listener (`listenerOf`, as `Payments` hears its events) when it has
 * one: the other events of every channel (each HTLC added, received, resolved) are dropped when
 * published, with no wake of the watcher's fiber for each. A manager without one (a wrapper) is
 * subscribed to, and the other events are skipped by `start`. Exported for tests.
 */
export const chainRequestsOf = (channels: ChannelManagerShape): Effect.Effect<Stream.Stream<NodeChannelEvent>, never, Scope.Scope> => {
  const listen = listenerOf(channels)
  if (listen === undefined) return channels.subscribe
  return Effect.gen(function*() {
    const requests = yield* Queue.unbounded<NodeChannelEvent>()
    // Live requests heard while the pending ones are gathered wait behind them.
    let early: Array<NodeChannelEvent> | undefined = []
    const pending = yield* listen((e) => {
      if (!isChainRequest(e)) return
      if (early !== undefined) early.push(e)
      else Queue.offerUnsafe(requests, e)
    })
    for (const e of pending) if (isChainRequest(e)) Queue.offerUnsafe(requests, e)
    for (const e of early) Queue.offerUnsafe(requests, e)
    early = undefined
    return Stream.fromQueue(requests)
  })
}

/** Runs the watcher in the current scope (forked); returns once it follows both streams. */
export const start = (config: ChainWatcherConfig = {}) =>
  Effect.gen(function*() {
    const channels = yield* ChannelManager
    const source = yield* ChainSource
    const broadcaster = yield* Broadcaster
    const announceDepth = config.announceDepth ?? 6
    const rescanBlocks = config.rescanBlocks ?? 12
    const maxRebroadcasts = config.maxRebroadcasts ?? 144
    const resyncDelayMs = config.resyncDelayMs ?? 5000

    const watches = new Map<string, FundingWatch>()
    const filter = new WatchSet<string>()
    const broadcasts = new Map<string, PendingBroadcast>()
    let tip: BlockRef = yield* source.tip.pipe(Effect.retry(Schedule.spaced("1 second")))

    const fact = (w: FundingWatch, f: ChainFact) =>
      channels.chainFact(w.channelId, f).pipe(
        Effect.catchTags({ ChannelNotFound: () => Effect.sync(() => forget(w)), ActorStopped: () => Effect.sync(() => forget(w)) })
      )
    const forget = (w: FundingWatch) => {
      watches.delete(toHex(w.channelId))
      filter.unwatchWhere((tag) => tag === toHex(w.channelId))
    }
    const depthOf = (w: FundingWatch) => (w.confirmed === undefined ? 0 : tip.height - w.confirmed.height + 1)
    /** Sends the depth if it changed and the channel still cares. */
    const report = (w: FundingWatch) =>
      Effect.suspend(() => {
        const depth = depthOf(w)
        if (w.reported !== undefined || depth === w.lastDepthSent) return Effect.void
        if (depth > Math.max(w.minimumDepth, announceDepth) && w.lastDepthSent >= Math.max(w.minimumDepth, announceDepth)) return Effect.void
        w.lastDepthSent = depth
        const c = w.confirmed
        return fact(w, {
          _tag: "FundingDepth",
          depth,
          ...(c === undefined || depth === 0 ? {} : { shortChannelId: shortChannelIdFromParts(c.height, c.txIndex, w.outpoint.vout) })
        })
      })

    /** The funding output was spent at `height` by `txid`: reported unless that very spend already was. */
    const spentBy = (w: FundingWatch, height: number, txid: Txid) =>
      Effect.gen(function*() {
        w.spent = { height, txid }
        if (w.reported !== undefined && equalBytes(w.reported, txid)) return
        if (w.reported !== undefined) yield* Effect.logWarning(`chain watcher: channel ${toHex(w.channelId)}: after a reorg the funding output is spent by another transaction ${txidToHex(txid)}`)
        w.reported = txid
        yield* fact(w, { _tag: "FundingSpent", txid })
      })

    /** Applies one block's matches to the watches (confirmations and spends). */
    const applyBlock = (block: Block) =>
      Effect.gen(function*() {
        const height = block.header.height
        for (const m of filter.match(block)) {
          for (const hit of m.hits) {
            const w = watches.get(hit.tag)
            if (w === undefined) continue
            if (hit.kind === "confirms") w.confirmed = { height, txIndex: m.index }
            if (hit.kind === "spends" && w.spent === undefined) yield* spentBy(w, height, m.txid)
          }
        }
        // A spend `announceDepth` deep is final: the watch is forgotten.
        for (const w of [...watches.values()]) if (w.spent !== undefined && height - w.spent.height + 1 >= announceDepth) forget(w)
        for (const id of block.txids) {
          const pending = broadcasts.get(toHex(id))
          if (pending !== undefined) pending.confirmedAt = height
        }
        for (const [id, pending] of broadcasts) {
          if (pending.confirmedAt !== undefined && height - pending.confirmedAt + 1 >= announceDepth) broadcasts.delete(id)
        }
      })

    const rebroadcast = Effect.gen(function*() {
      for (const [id, pending] of [...broadcasts]) {
        if (pending.confirmedAt !== undefined) continue
        if (pending.attempts >= maxRebroadcasts) {
          broadcasts.delete(id)
          yield* Effect.logWarning(`chain watcher: gave up broadcasting ${txidToHex(computeTxid(pending.tx))}`)
          continue
        }
        pending.attempts++
        const r = yield* Effect.result(broadcaster.broadcast(pending.tx))
        if (Result.isFailure(r)) yield* Effect.logDebug(`chain watcher: broadcast retry failed: ${r.failure._tag}`)
      }
    })

    /**
     * A watch that may have confirmed (or been spent) before it arrived: an unspent confirmed
     * output needs its block (for the tx index); an output spent or unknown needs a scan of the
     * last `rescanBlocks` blocks; one in the mempool needs nothing yet.
     */
    const catchUpWatch = (w: FundingWatch) =>
      Effect.gen(function*() {
        const status = yield* Effect.result(source.outputStatus(w.outpoint))
        let from = Math.max(0, tip.height - rescanBlocks + 1)
        let to = tip.height
        if (Result.isSuccess(status) && status.success._tag === "Unspent") {
          const at = status.success.confirmedAt
          if (at === undefined) return
          from = at
          to = at
        }
        const scan = new WatchSet<"tx" | "out">()
        scan.watchTx(w.outpoint.txid, "tx")
        scan.watchOutput(w.outpoint, "out")
        for (let h = from; h <= to && w.spent === undefined; h++) {
          const block = yield* Effect.result(source.block(h))
          if (Result.isFailure(block)) return
          for (const m of scan.match(block.success)) {
            for (const hit of m.hits) {
              if (hit.kind === "confirms") w.confirmed = { height: h, txIndex: m.index }
              if (hit.kind === "spends") yield* spentBy(w, h, m.txid)
            }
          }
        }
      })

    const onManager = (e: NodeChannelEvent) =>
      Effect.gen(function*() {
        const ev = e.event
        if (ev._tag === "WatchFunding") {
          const key = toHex(e.channelId)
          const known = watches.get(key)
          if (known !== undefined && equalBytes(known.outpoint.txid, ev.outpoint.txid) && known.outpoint.vout === ev.outpoint.vout) return
          const w: FundingWatch = { channelId: e.channelId, outpoint: ev.outpoint, minimumDepth: ev.minimumDepth, confirmed: undefined, lastDepthSent: -1, spent: undefined, reported: undefined }
          watches.set(key, w)
          filter.watchTx(ev.outpoint.txid, key)
          filter.watchOutput(ev.outpoint, key)
          yield* catchUpWatch(w)
          // Nothing to say before a confirmation: a fresh watch starts silent at depth 0.
          if (w.confirmed === undefined) w.lastDepthSent = 0
          yield* report(w)
        } else if (ev._tag === "Broadcast") {
          const decoded = decodeTransaction(ev.tx)
          if (Result.isFailure(decoded)) return yield* Effect.logWarning(`chain watcher: a ${ev.label} transaction does not parse`)
          const id = toHex(computeTxid(decoded.success))
          const r = yield* Effect.result(broadcaster.broadcast(decoded.success))
          if (Result.isFailure(r)) {
            yield* Effect.logInfo(`chain watcher: ${ev.label} broadcast refused for now: ${r.failure._tag === "BroadcastRejected" ? `${r.failure.reason}: ${r.failure.message}` : r.failure.reason}`)
          }
          // Kept until it confirms (a success may still be evicted or reorged out).
          if (!broadcasts.has(id)) broadcasts.set(id, { tx: decoded.success, attempts: 0, confirmedAt: undefined })
        }
      })

    const onChain = (e: ChainEvent) =>
      Effect.gen(function*() {
        if (e._tag === "BlockConnected") {
          tip = refOf(e.block.header)
          yield* applyBlock(e.block)
          // Still unconfirmed: the height, for the fundee's funding timeout (BOLT 2, 2016 blocks).
          for (const w of [...watches.values()]) {
            if (w.confirmed === undefined && w.spent === undefined) yield* fact(w, { _tag: "FundingDepth", depth: 0, tipHeight: tip.height })
          }
          yield* rebroadcast
        } else {
          const gone = e.header.height
          for (const w of watches.values()) {
            if (w.confirmed !== undefined && w.confirmed.height >= gone) w.confirmed = undefined
            if (w.spent !== undefined && w.spent.height >= gone) {
              w.spent = undefined
              yield* Effect.logWarning(`chain watcher: channel ${toHex(w.channelId)}: a reorg took away the spend of the funding output`)
            }
          }
          for (const b of broadcasts.values()) if (b.confirmedAt !== undefined && b.confirmedAt >= gone) b.confirmedAt = undefined
          tip = { height: gone - 1, hash: e.header.prevHash }
        }
        for (const w of [...watches.values()]) yield* report(w)
      })

    /** After a `Resync`: nothing we knew of confirmations holds; every watch is found again. */
    const onResync = (now: BlockRef) =>
      Effect.gen(function*() {
        tip = now
        for (const b of broadcasts.values()) b.confirmedAt = undefined
        for (const w of [...watches.values()]) {
          w.confirmed = undefined
          w.spent = undefined
          yield* catchUpWatch(w)
          yield* report(w)
        }
      })

    const managerEvents = yield* chainRequestsOf(channels)
    /**
     * The chain as inputs. The source retries what it can itself; a failure that reaches here
     * means it cannot continue from where we are (it forgot our last block: a reindexed node, a
     * reorg deeper than it walks back). Then we start again from its tip with a `Resync`, and
     * every watch is checked again against the chain as it is now.
     */
    let followFrom: BlockRef = tip
    const chainInputs = (): Stream.Stream<Input> =>
      Stream.suspend(() => source.follow(followFrom)).pipe(
        Stream.tap((e) =>
          Effect.sync(() => {
            followFrom = e._tag === "BlockConnected" ? refOf(e.block.header) : { height: e.header.height - 1, hash: e.header.prevHash }
          })
        ),
        Stream.map((event): Input => ({ _tag: "Chain", event })),
        Stream.catchTag("ChainSourceUnavailable", (e) =>
          Stream.unwrap(
            Effect.gen(function*() {
              yield* Effect.logWarning(`chain watcher: lost the chain (${e.reason}); starting again from the tip`)
              yield* Effect.sleep(resyncDelayMs)
              const now = yield* source.tip.pipe(Effect.retry(Schedule.spaced(resyncDelayMs)), Effect.orDie) // retried forever: never fails
              followFrom = now
              return Stream.concat(Stream.succeed<Input>({ _tag: "Resync", tip: now }), chainInputs())
            })
          )
        )
      )
    const inputs: Stream.Stream<Input> = Stream.merge(
      chainInputs(),
      managerEvents.pipe(Stream.map((event): Input => ({ _tag: "Manager", event })))
    ).pipe(Stream.catchCause((cause) => Stream.fromEffect(Effect.logError("chain watcher: input ended", cause)).pipe(Stream.drain)))
    yield* inputs.pipe(
      Stream.runForEach((input) => (input._tag === "Chain" ? onChain(input.event) : input._tag === "Manager" ? onManager(input.event) : onResync(input.tip))),
      Effect.forkScoped
    )
  })
