/**
 * `MonitorChain`: BOLT 5 on-chain enforcement for every channel of the node, the imperative
 * shell around `src/protocol/monitor/onchain.ts` (one per node, one fiber).
 *
 * - It follows the `ChainSource` from the block it last processed (persisted), so a restart
 *   resumes where it stopped and sees what happened meanwhile, reorgs included.
 * - Per block: the transactions touching a channel (spending its funding output, or outputs of
 *   the transactions that did) go into that channel's `OnchainState` (`blockConnected`); a
 *   disconnected block drops its transactions (`blockDisconnected`), so claims depending on a
 *   commitment that left the chain are no longer made and are made again if it comes back.
 * - Per block, for each channel whose funding output is spent: `resolve` says what to claim;
 *   each claim due is built (`tx/claims.ts`), signed by the `ChannelSigner` (`signSpend`, or
 *   `signHolderHtlcTransaction` for our HTLC-success / HTLC-timeout transactions) and handed to
 *   the `Broadcaster`, again on every block until its spend confirms, with the fee for its
 *   deadline from the `FeeEstimator` (never lower than the last one used: a higher estimate
 *   replaces the previous version, BIP 125).
 * - A channel whose monitor is `ForceClosed` and whose funding output is still unspent gets our
 *   latest commitment (`signHolderCommitment`) broadcast on every block (the channel published
 *   it once; this survives restarts).
 * - Each block's changed channel states and the block reached are written in one atomic Store
 *   write (`<prefix>c/<channel id>`, `<prefix>tip`), after the block's claims were handed over.
 * - Preimages found in witnesses on chain are published as `PreimageLearned` events (and every
 *   preimage learned so far is replayed to each new subscriber first: at least once), so the
 *   payment layer can fulfil the incoming HTLC of a forward (BOLT 5: "MUST extract the payment
 *   preimage from the transaction input witness").
 *
 * - The zero-fee HTLC transactions of anchors channels get wallet inputs for their fee through
 *   `FeeInputs` when one is configured (BOLT 5 "Generation of HTLC Transactions").
 *
 * - Anchors channels, with `FeeInputs`: while our commitment waits in the mempool below the
 *   feerate its deadline needs, a child spending our anchor and a wallet input pays for both.
 *
 * - A channel found at start without a stored state (first start over old channels) whose
 *   funding output is already spent is searched for in the last `rescanDepth` blocks (`rescanNew`).
 * - A reorg that takes away the commitment spending the funding output: if no spend comes back
 *   within `reorgGraceBlocks`, our latest commitment is broadcast (the channel itself was closed
 *   by the spend and will not resume).
 *
 * Known limits (documented in ARCHITECTURE.md): without `FeeInputs`, zero-fee HTLC transactions go out unfunded (a mempool with a
 * relay minimum refuses them); channels are enumerated from the `ChannelManager` (a monitor
 * living elsewhere would feed its own states the same way).
 */
import { Context, Effect, PubSub, Result, Schedule, Schema, Scope, Semaphore, Stream } from "effect"
import { sha256 } from "@noble/hashes/sha2.js"
import { fromHex, toHex } from "../protocol/bytes.ts"
import { type Block, blockHash, type BlockRef, refOf } from "../protocol/chain/block.ts"
import { channelTypeByName } from "../protocol/channel/params.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import type { PublicKey } from "../protocol/keys/keys.ts"
import { claimableBalances, type ClaimableBalance } from "../protocol/monitor/balances.ts"
import {
  blockConnected,
  blockDisconnected,
  claimsDue,
  claimTarget,
  emptyOnchainState,
  type Claim,
  type FundingSpendKind,
  holderAnchorOutput,
  holderCommitmentDeadline,
  isResolved,
  offeredHtlcOutcomes,
  onchainFromJson,
  OnchainStateJsonSchema,
  type OnchainState,
  onchainToJson,
  resolve,
  type Resolution,
  type TrackedOutput,
  watchedOutpoints
} from "../protocol/monitor/onchain.ts"
import type { MonitorState, PreimageEntry } from "../protocol/monitor/state.ts"
import { encodeTxSignature } from "../protocol/tx/bitcoin/der.ts"
import { SIGHASH_ALL } from "../protocol/tx/bitcoin/sighash.ts"
import { makeInput, setWitness, txid as computeTxid, txidToHex, weight, type Transaction, type Txid } from "../protocol/tx/bitcoin/transaction.ts"
import { anchorWitness } from "../protocol/tx/witness.ts"
import { buildClaimTransaction, expectedClaimWeight, finalizeClaim } from "../protocol/tx/claims.ts"
import type { ChannelId } from "../protocol/units.ts"
import { Broadcaster } from "../services/Broadcaster.ts"
import { type ChainEvent, ChainSource } from "../services/ChainSource.ts"
import { ChannelSigner, channelKeyId, type ChannelKeyId } from "../services/ChannelSigner.ts"
import { FeeEstimator } from "../services/FeeEstimator.ts"
import { putOp, Store, type StoreOp } from "../services/Store.ts"
import { ChannelManager, type ChannelManagerShape } from "./ChannelManager.ts"

/**
 * Wallet inputs for the zero-fee HTLC transactions of anchors channels (BOLT 5 "Generation of
 * HTLC Transactions": "MUST combine it with inputs contributing sufficient fee"). `fund` gets
 * a transaction of one or more HTLC inputs, each paired with its output at the same index
 * (several when they are aggregated; witnesses present for the weight), and returns it with
 * wallet inputs appended after the last HTLC input and any change output appended after the
 * last paired output (the indices of the HTLC inputs and outputs must not move: SIGHASH_SINGLE
 * pairs them), paying `feeratePerKw` for the whole signed weight, plus `sign`, which signs
 * exactly the added inputs (called after our HTLC signatures are in place; SIGHASH_ALL on every
 * added input). The same HTLC inputs funded again (a later block, a higher feerate) should reuse
 * the same wallet coins, so the new version replaces the old (BIP 125) instead of spending other
 * coins. `undefined`: the wallet cannot fund it now (the HTLC transactions go out unfunded).
 * The same interface funds the CPFP child of our commitment: a transaction spending our anchor
 * (input 0, no output), with `extraFee` = what the commitment lacks for the feerate.
 */
export interface FeeInputs {
  readonly fund: (
    htlcTx: Transaction,
    feeratePerKw: number,
    /** Fee to add beyond the transaction's own (CPFP: what the parent lacks). */
    extraFee?: bigint
  ) => Effect.Effect<{ readonly tx: Transaction; readonly sign: (tx: Transaction) => Effect.Effect<Transaction> } | undefined>
}

export interface MonitorChainConfig {
  /** Fee inputs for anchors channels' HTLC transactions (absent: they are broadcast as signed, at zero fee). */
  readonly feeInputs?: FeeInputs
  /** Derives keys and points to recognise and build commitments. */
  readonly secp: Secp256k1
  /** Where every claim pays (a wallet script: BOLT 5 "spend ... to a convenient address"). */
  readonly sweepScript: Uint8Array
  /** Confirmations after which a resolved output is forgotten (default 6). */
  readonly finalityDepth?: number
  /** Store key prefix (default `onchain/`). */
  readonly keyPrefix?: string
  /** Fee target (blocks) of a claim without a deadline (default 12). */
  readonly relaxedTarget?: number
  /**
   * How many blocks back a channel new to this monitor (no stored state: a first start over old
   * channels) is searched for a spend of its funding output that happened before the monitor
   * followed the chain, when the `ChainSource` says the output is spent or unknown (default 144).
   */
  readonly rescanDepth?: number
  /**
   * Blocks the funding output may stay unspent after a reorg took away the commitment that spent
   * it before we broadcast our own latest commitment (default 3: the peer's may come back first).
   */
  readonly reorgGraceBlocks?: number
  /**
   * The fee budget of a claim: its fee never exceeds this share of the output it claims (default
   * 0.5), however high the estimate rises; at the cap, replacements stop rising (BOLT 5 leaves the
   * fee to the node: paying more than the output is worth only burns it).
   */
  readonly maxFeeShare?: number
  /**
   * The same for justice transactions (their revoked outputs): default 0.9, since whatever we do
   * not take the cheater takes once its delay runs out (BOLT 5: the penalty must confirm first).
   */
  readonly maxJusticeFeeShare?: number
  /** The fee budget of one CPFP child of our commitment (anchors), in sat (default 100,000). */
  readonly maxCpfpFeeSat?: bigint
}

export type MonitorChainEvent =
  /** A preimage seen in a witness on chain (their HTLC-success, or their claim of our HTLC). */
  | { readonly _tag: "PreimageLearned"; readonly channelId: ChannelId; readonly paymentHash: Uint8Array; readonly preimage: Uint8Array }
  /** The funding output was spent (or the spend was reorged away: `kind` undefined). */
  | { readonly _tag: "FundingSpendChanged"; readonly channelId: ChannelId; readonly kind: FundingSpendKind | undefined; readonly txid: Txid | undefined }
  /**
   * An HTLC WE offered on this channel was decided on chain: `Fulfilled` as soon as its preimage
   * is seen, `Failed` once it was timed out / is absent from the closing commitment, deep enough.
   */
  | {
      readonly _tag: "HtlcResolved"
      readonly channelId: ChannelId
      readonly htlcId: bigint
      readonly paymentHash: Uint8Array
      readonly result: { readonly _tag: "Fulfilled"; readonly preimage: Uint8Array } | { readonly _tag: "Failed" }
    }
  /** Our commitment was bumped by a CPFP child spending our anchor (anchors channels). */
  | { readonly _tag: "CommitmentBumped"; readonly channelId: ChannelId; readonly commitmentTxid: Txid; readonly childTxid: Txid; readonly feeratePerKw: number }
  /** A claim was handed to the broadcaster. */
  | { readonly _tag: "ClaimBroadcast"; readonly channelId: ChannelId; readonly txid: Txid; readonly output: TrackedOutput["kind"] }

export interface ChannelBalances {
  readonly channelId: ChannelId
  readonly balances: ReadonlyArray<ClaimableBalance>
}

export interface MonitorChainShape {
  /** The last block processed. */
  readonly tip: Effect.Effect<BlockRef>
  /** Every preimage learned so far (as events), then live events. */
  readonly subscribe: Effect.Effect<Stream.Stream<MonitorChainEvent>, never, Scope.Scope>
  /** The on-chain resolution of a channel (undefined if unknown). */
  readonly resolution: (channelId: ChannelId) => Effect.Effect<Resolution | undefined>
  /** Claimable balances of every channel, now. */
  readonly balances: Effect.Effect<ReadonlyArray<ChannelBalances>>
  /** Resolves once the block `hash` is the last block processed (and its claims were handed over). */
  readonly awaitBlock: (hash: Uint8Array) => Effect.Effect<void>
}

/** What `start` / `startWith` return: the service's shape plus the commands of the monitor's owner. */
export interface MonitorChainHandle extends MonitorChainShape {
  /**
   * Gives the monitor a preimage for one of the channel's HTLCs, for a channel that no longer
   * takes commands (failed / force closed: the preimage learned from the next hop after the
   * close). Applied at once: persisted, and the claim it opens (an HTLC-success, or their
   * offered HTLC on their commitment) handed to the broadcaster before it returns.
   * Fails with nothing; answers whether the preimage opens an HTLC of the channel.
   */
  readonly addPreimage: (channelId: ChannelId, preimage: Uint8Array) => Effect.Effect<boolean>
}

export class MonitorChain extends Context.Service<MonitorChain, MonitorChainShape>()("effect-lightning/MonitorChain") {}

interface Entry {
  readonly channelId: ChannelId
  readonly keyId: ChannelKeyId
  monitor: MonitorState
  onchain: OnchainState
  dirty: boolean
  /** Our per-commitment point for the holder commitment number it was fetched for. */
  holderPoint: { readonly n: bigint; readonly point: PublicKey } | undefined
  /** The highest feerate used per claimed outpoint (a replacement never pays less). */
  readonly feerates: Map<string, number>
  lastSpend: string | undefined
  /**
   * The `lastSpend` stored before a restart, until the first evaluation after it: a commitment
   * spend stored but no longer on the chain (a reorg while we were down, or just before) starts
   * the grace count as it would have without the restart.
   */
  restoredSpend: string | undefined
  /** HTLC outcomes already published by this instance (a restart publishes them again: at least once). */
  readonly reported: Set<string>
  /**
   * Known at start without a stored state (a first start over old channels, or a channel that
   * appeared while the monitor was down): its funding output may have been spent before we
   * followed (searched once). Channels appearing later are new: nothing to search.
   */
  rescan: boolean
  /**
   * Set when a reorg took away the commitment that spent the funding output (the tip height then); cleared by a new spend.
   * Stored with `lastSpend` (`<prefix>r/<channel>`), so a restart within the grace blocks still publishes ours.
   */
  reorgedAt: number | undefined
  /** The last resolution and what it was computed from. */
  cached: { readonly monitor: MonitorState; readonly onchain: OnchainState; readonly holderPoint: PublicKey | undefined; readonly resolution: Resolution } | undefined
}

const TipJsonSchema = Schema.Struct({ height: Schema.Int, hash: Schema.String })
/** `<prefix>r/<channel>`: the last funding spend seen (`kind:txid`) and the reorg marker, for restarts. */
const SpendMarkerJsonSchema = Schema.Struct({ spend: Schema.NullOr(Schema.String), reorgedAt: Schema.NullOr(Schema.Int) })
type SpendMarkerJson = typeof SpendMarkerJsonSchema.Type
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))


/** Starts the enforcer in the current scope; returns its handle once it follows the chain. */
/**
 * Where the monitor states come from: the node's `ChannelManager` (`fromChannelManager`), or
 * anything else holding them (a watchtower fed the updates, a benchmark).
 */
export interface MonitorSource {
  /** Every channel's current monitor state (channels without one yet are left out). */
  readonly monitors: Effect.Effect<ReadonlyArray<{ readonly channelId: ChannelId; readonly monitor: MonitorState }>>
}

/** The monitors of the node's channels, read through the `ChannelManager`. */
export const fromChannelManager = (channels: ChannelManagerShape): MonitorSource => ({
  monitors: Effect.gen(function*() {
    const out: Array<{ readonly channelId: ChannelId; readonly monitor: MonitorState }> = []
    for (const info of yield* channels.listChannels) {
      const monitor = yield* Effect.result(channels.monitorState(info.channelId))
      if (Result.isSuccess(monitor) && monitor.success !== undefined) out.push({ channelId: info.channelId, monitor: monitor.success })
    }
    return out
  })
})

/** Starts the enforcer over the node's `ChannelManager` (see `startWith`). */
export const start = (config: MonitorChainConfig) =>
  Effect.gen(function*() {
    const channels = yield* ChannelManager
    return yield* startWith(config, fromChannelManager(channels))
  })

/** Starts the enforcer over the monitors of `source` in the current scope; returns its handle once it follows the chain. */
export const startWith = (config: MonitorChainConfig, source: MonitorSource) =>
  Effect.gen(function*() {
    const chainSource = yield* ChainSource
    const broadcaster = yield* Broadcaster
    const fees = yield* FeeEstimator
    const signer = yield* ChannelSigner
    const store = yield* Store
    const secp = config.secp
    const finality = config.finalityDepth ?? 6
    const prefix = config.keyPrefix ?? "onchain/"
    const relaxed = config.relaxedTarget ?? 12
    const rescanDepth = config.rescanDepth ?? 144
    const reorgGrace = config.reorgGraceBlocks ?? 3
    const maxFeeShare = config.maxFeeShare ?? 0.5
    const maxJusticeFeeShare = config.maxJusticeFeeShare ?? 0.9
    const maxCpfpFee = config.maxCpfpFeeSat ?? 100_000n
    /** One block, one disconnection or one `addPreimage` at a time. */
    const lock = yield* Semaphore.make(1)
    const events = yield* PubSub.unbounded<MonitorChainEvent>()
    const entries = new Map<string, Entry>()

    // ---- restore ----
    const stored = new Map<string, OnchainState>()
    for (const e of yield* store.list(`${prefix}c/`).pipe(Effect.orDie)) {
      const json = Schema.decodeUnknownResult(OnchainStateJsonSchema)(JSON.parse(decoder.decode(e.value)))
      if (Result.isFailure(json)) {
        yield* Effect.logError(`monitor chain: stored state ${e.key} does not decode`)
        continue
      }
      const s = onchainFromJson(json.success)
      if (Result.isFailure(s)) yield* Effect.logError(`monitor chain: stored state ${e.key}: ${s.failure}`)
      else stored.set(e.key.slice(`${prefix}c/`.length), s.success)
    }
    /** The spend markers as stored (written again only when they change). */
    const storedMarkers = new Map<string, SpendMarkerJson>()
    for (const e of yield* store.list(`${prefix}r/`).pipe(Effect.orDie)) {
      const json = Schema.decodeUnknownResult(SpendMarkerJsonSchema)(JSON.parse(decoder.decode(e.value)))
      if (Result.isSuccess(json)) storedMarkers.set(e.key.slice(`${prefix}r/`.length), json.success)
      else yield* Effect.logError(`monitor chain: stored marker ${e.key} does not decode`)
    }
    const storedTip = yield* store.get(`${prefix}tip`).pipe(Effect.orDie)
    let tip: BlockRef = yield* chainSource.tip.pipe(Effect.retry(Schedule.spaced("1 second")), Effect.orDie) // retried forever: never fails
    if (storedTip !== undefined) {
      const j = Schema.decodeUnknownResult(TipJsonSchema)(JSON.parse(decoder.decode(storedTip.value)))
      const hash = Result.isSuccess(j) ? blockHash(fromHex(j.success.hash)) : undefined
      if (Result.isSuccess(j) && hash !== undefined && Result.isSuccess(hash)) tip = { height: j.success.height, hash: hash.success }
    }

    /** Set when an entry appears or its on-chain state changes: the watched outpoints are collected again. */
    let watchesChanged = true
    /** Watched outpoint ("txid hex:vout") -> its channel, and the first 4 bytes of every watched txid (a cheap pre-check). */
    let owner = new Map<string, Entry>()
    let prefixes = new Set<number>()
    const prefixOf = (id: Uint8Array): number => ((id[0] ?? 0) << 24) | ((id[1] ?? 0) << 16) | ((id[2] ?? 0) << 8) | (id[3] ?? 0)
    const watch = (key: string, txid: Uint8Array, e: Entry) => {
      owner.set(key, e)
      prefixes.add(prefixOf(txid))
    }
    const collectWatches = () => {
      if (!watchesChanged) return
      watchesChanged = false
      owner = new Map()
      prefixes = new Set()
      for (const e of entries.values()) {
        for (const o of watchedOutpoints(e.monitor, e.onchain)) watch(`${toHex(o.txid)}:${o.vout}`, o.txid, e)
      }
    }

    /** True during the start: channels found then may need a rescan (see `Entry.rescan`). */
    let starting = true
    /** Brings the channel list up to date with the source's monitors. */
    const refresh = Effect.gen(function*() {
      for (const { channelId, monitor } of yield* source.monitors) {
        const id = toHex(channelId)
        const known = entries.get(id)
        if (known !== undefined) {
          known.monitor = monitor
          continue
        }
        const keyId = channelKeyId(monitor.params.keyId)
        if (keyId === undefined) continue
        entries.set(id, {
          channelId,
          keyId,
          monitor,
          onchain: stored.get(id) ?? emptyOnchainState,
          dirty: false,
          rescan: starting && !stored.has(id),
          reorgedAt: storedMarkers.get(id)?.reorgedAt ?? undefined,
          holderPoint: undefined,
          feerates: new Map(),
          lastSpend: undefined,
          restoredSpend: storedMarkers.get(id)?.spend ?? undefined,
          reported: new Set(),
          cached: undefined
        })
        watchesChanged = true
      }
    })

    const holderPointOf = (e: Entry) =>
      Effect.gen(function*() {
        const n = e.monitor.holderCommitment.commitmentNumber
        if (e.holderPoint !== undefined && e.holderPoint.n === n) return e.holderPoint.point
        const p = yield* Effect.result(signer.perCommitmentPoint(e.keyId, n))
        if (Result.isFailure(p)) return undefined
        e.holderPoint = { n, point: p.success }
        return p.success
      })

    const noSpend: Resolution = { spend: undefined, outputs: [] }
    /** `resolve`, remembered per entry while its monitor state, on-chain state and point stay the same objects. */
    const resolutionOf = (e: Entry) =>
      Effect.gen(function*() {
        if (e.onchain.txs.length === 0) return noSpend
        const holderPoint = yield* holderPointOf(e)
        const c = e.cached
        if (c !== undefined && c.monitor === e.monitor && c.onchain === e.onchain && c.holderPoint === holderPoint) return c.resolution
        const resolution = resolve({ secp, holderPoint }, e.monitor, e.onchain)
        e.cached = { monitor: e.monitor, onchain: e.onchain, holderPoint, resolution }
        return resolution
      })

    const publishLearned = (e: Entry, learned: ReadonlyArray<PreimageEntry>) =>
      Effect.forEach(learned, (p) => PubSub.publish(events, { _tag: "PreimageLearned", channelId: e.channelId, paymentHash: p.paymentHash, preimage: p.preimage }), { discard: true })

    /**
     * The feerate for a claim: the estimate for its deadline, never below the last one used for
     * it, never above what keeps the fee of `claimWeight` within `maxFeeShare` of the output.
     */
    const feerateFor = (e: Entry, o: TrackedOutput, claimWeight: number) =>
      Effect.gen(function*() {
        const k = `${toHex(o.outpoint.txid)}:${o.outpoint.vout}`
        const estimate = yield* fees.estimate(claimTarget(o, tip.height, relaxed))
        const share = o.claim?._tag === "Sweep" && o.claim.key._tag === "Revoked" ? maxJusticeFeeShare : maxFeeShare
        const cap = Math.max(253, Math.floor((Number(o.amount) * share * 1000) / Math.max(1, claimWeight)))
        const feerate = Math.min(cap, Math.max(estimate.feeratePerKw, e.feerates.get(k) ?? 0))
        e.feerates.set(k, feerate)
        return feerate
      })

    /**
     * Our zero-fee HTLC transactions due together (anchors, with `FeeInputs`), aggregated: the
     * counterparty's SIGHASH_SINGLE|ANYONECANPAY signatures let several HTLC inputs (each with
     * its paired output at the same index) share one transaction with the wallet's inputs and
     * change (BOLT 3 "HTLC-Timeout and HTLC-Success Transactions", BOLT 5 "MUST combine it with
     * inputs contributing sufficient fee"). Their signatures commit to nLockTime, so one
     * transaction per locktime (HTLC-success: 0; HTLC-timeout: its `cltv_expiry`). Our own
     * signatures (SIGHASH_ALL) are made last, over the whole transaction. When the wallet cannot
     * fund a group, its HTLC transactions go out alone (unfunded), as without `FeeInputs`.
     */
    const claimHtlcs = (e: Entry, outputs: ReadonlyArray<TrackedOutput>, feeInputs: FeeInputs) =>
      Effect.gen(function*() {
        const groups = new Map<number, Array<{ readonly o: TrackedOutput; readonly c: Extract<Claim, { _tag: "HolderHtlcTx" }>; readonly single: Transaction }>>()
        for (const o of outputs) {
          const c = o.claim
          if (c?._tag !== "HolderHtlcTx") continue
          const signed = yield* Effect.result(signer.signHolderHtlcTransaction(e.keyId, c.commitmentNumber, c.htlcIndex, c.preimage))
          if (Result.isFailure(signed)) {
            yield* Effect.logWarning(`monitor chain: HTLC transaction not signed: ${signed.failure.reason}`)
            continue
          }
          const group = groups.get(signed.success.locktime) ?? []
          group.push({ o, c, single: signed.success })
          groups.set(signed.success.locktime, group)
        }
        for (const group of groups.values()) {
          const first = group[0]
          if (first === undefined) continue
          let feerate = 0
          for (const { o, single } of group) feerate = Math.max(feerate, yield* feerateFor(e, o, weight(single)))
          const combined: Transaction = {
            version: first.single.version,
            locktime: first.single.locktime,
            inputs: group.flatMap(({ single }) => single.inputs.slice(0, 1)),
            outputs: group.flatMap(({ single }) => single.outputs.slice(0, 1))
          }
          const funded = yield* feeInputs.fund(combined, feerate)
          if (funded === undefined) {
            yield* Effect.logWarning(`monitor chain: no wallet inputs for ${group.length} zero-fee HTLC transaction(s)`)
            for (const { o, single } of group) yield* send(e, o, single)
            continue
          }
          let tx = funded.tx
          let signedAll = true
          for (const [i, { c }] of group.entries()) {
            const bumped = yield* Effect.result(signer.signHolderHtlcTransaction(e.keyId, c.commitmentNumber, c.htlcIndex, c.preimage, { tx, inputIndex: i }))
            if (Result.isFailure(bumped)) {
              yield* Effect.logWarning(`monitor chain: fee-bumped HTLC transaction not signed: ${bumped.failure.reason}`)
              signedAll = false
              break
            }
            tx = bumped.success
          }
          if (!signedAll) continue
          const final = yield* funded.sign(tx)
          const sent = yield* Effect.result(broadcaster.broadcast(final))
          if (Result.isFailure(sent)) {
            const f = sent.failure
            yield* Effect.logDebug(`monitor chain: HTLC transaction refused for now: ${f._tag === "BroadcastRejected" ? `${f.reason}: ${f.message}` : f.reason}`)
            continue
          }
          const id = computeTxid(final)
          for (const { o } of group) yield* PubSub.publish(events, { _tag: "ClaimBroadcast", channelId: e.channelId, txid: id, output: o.kind })
        }
      })

    /** Hands a claim to the broadcaster (refusals are logged: the next block tries again). */
    const send = (e: Entry, o: TrackedOutput, tx: Transaction) =>
      Effect.gen(function*() {
        const sent = yield* Effect.result(broadcaster.broadcast(tx))
        if (Result.isFailure(sent)) {
          const f = sent.failure
          return yield* Effect.logDebug(`monitor chain: claim of ${o.kind} refused for now: ${f._tag === "BroadcastRejected" ? `${f.reason}: ${f.message}` : f.reason}`)
        }
        yield* PubSub.publish(events, { _tag: "ClaimBroadcast", channelId: e.channelId, txid: computeTxid(tx), output: o.kind })
      })

    /**
     * Signs and broadcasts one claim: a sweep, or our HTLC transaction as signed (its own fee;
     * zero with anchors when there is no `FeeInputs`: see `claimHtlcs`).
     */
    const claim = (e: Entry, o: TrackedOutput) =>
      Effect.gen(function*() {
        const c = o.claim
        if (c === undefined) return
        if (c._tag === "HolderHtlcTx") {
          const signed = yield* Effect.result(signer.signHolderHtlcTransaction(e.keyId, c.commitmentNumber, c.htlcIndex, c.preimage))
          if (Result.isFailure(signed)) return yield* Effect.logWarning(`monitor chain: HTLC transaction not signed: ${signed.failure.reason}`)
          return yield* send(e, o, signed.success)
        }
        const feerate = yield* feerateFor(e, o, expectedClaimWeight(c.input, config.sweepScript))
        const built = buildClaimTransaction(c.input, config.sweepScript, feerate)
        if (Result.isFailure(built)) return yield* Effect.logDebug(`monitor chain: ${o.kind} of ${o.amount} sat is not worth its fee at ${feerate} sat/kw`)
        const sig = yield* Effect.result(signer.signSpend(e.keyId, { tx: built.success.tx, inputIndex: 0, amount: c.input.amount, spend: c.key }))
        if (Result.isFailure(sig)) return yield* Effect.logWarning(`monitor chain: claim of ${o.kind} not signed: ${sig.failure.reason}`)
        yield* send(e, o, finalizeClaim(built.success.tx, c.input, sig.success.signature))
      })

    /**
     * CPFP of our commitment through our anchor (option_anchors), when its own feerate is below
     * the estimate for its deadline (the earliest HTLC expiry; relaxed without HTLCs): a child
     * spending the anchor and a wallet input pays for both. Again each block, the feerate never
     * lower than the last one used.
     */
    const cpfp = (e: Entry, commitment: Transaction, feeInputs: FeeInputs) =>
      Effect.gen(function*() {
        const point = yield* holderPointOf(e)
        if (point === undefined) return
        const anchor = holderAnchorOutput(secp, e.monitor, point)
        if (anchor === undefined) return
        const deadline = holderCommitmentDeadline(e.monitor)
        const target = deadline === undefined ? relaxed : Math.max(1, Math.min(relaxed, deadline - tip.height))
        const commitmentTxid = computeTxid(commitment)
        const k = `${toHex(commitmentTxid)}:${anchor.index}`
        const feerate = Math.max((yield* fees.estimate(target)).feeratePerKw, e.feerates.get(k) ?? 0)
        e.feerates.set(k, feerate)
        const paid = e.monitor.params.fundingAmount - commitment.outputs.reduce((a, o) => a + o.value, 0n)
        const needed = BigInt(Math.ceil((feerate * weight(commitment)) / 1000))
        if (paid >= needed) return
        const child: Transaction = {
          version: 2,
          inputs: [makeInput({ txid: commitmentTxid, vout: anchor.index }, 0xfffffffd)],
          outputs: [],
          locktime: 0
        }
        // Within the budget: a child that would pay more pays the budget (a lower package feerate).
        const extra = needed - paid > maxCpfpFee ? maxCpfpFee : needed - paid
        const funded = yield* feeInputs.fund(setWitness(child, 0, [new Uint8Array(73), anchor.witnessScript]), feerate, extra)
        if (funded === undefined) return yield* Effect.logWarning(`monitor chain: no wallet inputs to bump our commitment ${txidToHex(commitmentTxid)}`)
        const sig = yield* Effect.result(signer.signSpend(e.keyId, { tx: funded.tx, inputIndex: 0, amount: anchor.amount, spend: { _tag: "Anchor" } }))
        if (Result.isFailure(sig)) return yield* Effect.logWarning(`monitor chain: anchor spend not signed: ${sig.failure.reason}`)
        const withAnchor = setWitness(funded.tx, 0, anchorWitness(encodeTxSignature(sig.success.signature, SIGHASH_ALL), anchor.witnessScript))
        const tx = yield* funded.sign(withAnchor)
        const sent = yield* Effect.result(broadcaster.broadcast(tx))
        if (Result.isFailure(sent)) return yield* Effect.logDebug(`monitor chain: CPFP of our commitment refused for now: ${sent.failure._tag}`)
        yield* PubSub.publish(events, { _tag: "CommitmentBumped", channelId: e.channelId, commitmentTxid, childTxid: computeTxid(tx), feeratePerKw: feerate })
      })

    /** After a block: what each channel must do now. */
    const act = (e: Entry) =>
      // Nothing happened on chain and nothing to publish: the common case costs no fiber step.
      e.onchain.txs.length === 0 && e.lastSpend === undefined && e.reorgedAt === undefined && e.restoredSpend === undefined &&
        e.monitor.closing._tag !== "ForceClosed"
        ? Effect.void
        : actNow(e)
    const actNow = (e: Entry) =>
      Effect.gen(function*() {
        const r = yield* resolutionOf(e)
        const spendKey = r.spend === undefined ? undefined : `${r.spend.kind}:${toHex(r.spend.txid)}`
        if (e.restoredSpend !== undefined) {
          // The first evaluation after a restart: a commitment spend stored but gone from the chain.
          const before = e.restoredSpend
          e.restoredSpend = undefined
          if (r.spend === undefined && e.lastSpend === undefined && e.reorgedAt === undefined && !before.startsWith("MutualClose:")) e.reorgedAt = tip.height
        }
        if (spendKey !== e.lastSpend) {
          // A commitment (not a mutual close: its closing transaction is the `ChainWatcher`'s to
          // publish again) that left the chain: ours goes out if theirs does not come back.
          if (r.spend === undefined && e.lastSpend !== undefined && !e.lastSpend.startsWith("MutualClose:")) e.reorgedAt = tip.height
          if (r.spend !== undefined) e.reorgedAt = undefined
          e.lastSpend = spendKey
          if (r.spend?.kind === "Unknown") yield* Effect.logError(`monitor chain: channel ${toHex(e.channelId)}: funding spent by an unknown transaction ${txidToHex(r.spend.txid)}: funds may be lost`)
          yield* PubSub.publish(events, { _tag: "FundingSpendChanged", channelId: e.channelId, kind: r.spend?.kind, txid: r.spend?.txid })
        }
        if (r.spend === undefined) {
          const reorged = e.reorgedAt !== undefined && tip.height - e.reorgedAt >= reorgGrace
          if (e.monitor.closing._tag !== "ForceClosed" && !reorged) return
          const signed = yield* Effect.result(signer.signHolderCommitment(e.keyId, e.monitor.holderCommitment.commitmentNumber))
          if (Result.isFailure(signed)) return
          yield* Effect.ignore(broadcaster.broadcast(signed.success.tx))
          if (config.feeInputs !== undefined && channelTypeByName(e.monitor.params.channelType).anchors) yield* cpfp(e, signed.success.tx, config.feeInputs)
          return
        }
        for (const outcome of offeredHtlcOutcomes(e.monitor, e.onchain, r, tip.height, finality)) {
          const k = `${outcome.htlcId}:${outcome.result._tag}`
          if (e.reported.has(k)) continue
          e.reported.add(k)
          yield* PubSub.publish(events, { _tag: "HtlcResolved", channelId: e.channelId, htlcId: outcome.htlcId, paymentHash: outcome.paymentHash, result: outcome.result })
        }
        if (isResolved(r, tip.height, finality)) return
        const due = claimsDue(r, tip.height)
        if (config.feeInputs !== undefined && channelTypeByName(e.monitor.params.channelType).zeroFeeHtlcTx) {
          yield* claimHtlcs(e, due.filter((o) => o.claim?._tag === "HolderHtlcTx"), config.feeInputs)
          for (const o of due) if (o.claim?._tag !== "HolderHtlcTx") yield* claim(e, o)
        } else {
          for (const o of due) yield* claim(e, o)
        }
      })

    const persist = Effect.gen(function*() {
      const ops: Array<StoreOp> = []
      for (const [id, e] of entries) {
        if (!e.dirty) continue
        e.dirty = false
        ops.push(putOp(`${prefix}c/${id}`, encodeJson(Schema.encodeSync(OnchainStateJsonSchema)(onchainToJson(e.onchain)))))
      }
      for (const [id, e] of entries) {
        // Not evaluated since the restart yet: what is stored stays.
        if (e.restoredSpend !== undefined) continue
        const spend = e.lastSpend ?? null
        const reorgedAt = e.reorgedAt ?? null
        const before = storedMarkers.get(id)
        if (before === undefined ? spend === null && reorgedAt === null : before.spend === spend && before.reorgedAt === reorgedAt) continue
        const marker: SpendMarkerJson = { spend, reorgedAt }
        storedMarkers.set(id, marker)
        ops.push(putOp(`${prefix}r/${id}`, encodeJson(marker)))
      }
      ops.push(putOp(`${prefix}tip`, encodeJson({ height: tip.height, hash: toHex(tip.hash) })))
      // A failed write is retried: the block is not reported done before its state is durable.
      yield* store.write(ops).pipe(Effect.retry(Schedule.spaced("1 second")), Effect.orDie)
    })

    /**
     * A block's transactions into the states of the channels they touch (`only`: just these
     * channels, for a rescan). Which channel each watched outpoint belongs to; outputs of
     * matched transactions join as we go.
     */
    const applyBlock = (block: Block, only?: ReadonlySet<Entry>) =>
      Effect.gen(function*() {
        collectWatches()
        const matched = new Map<Entry, Array<{ readonly tx: Transaction; readonly txid: Txid }>>()
        block.transactions.forEach((tx, i) => {
          for (const input of tx.inputs) {
            if (!prefixes.has(prefixOf(input.prevout.txid))) continue
            const e = owner.get(`${toHex(input.prevout.txid)}:${input.prevout.vout}`)
            if (e === undefined || (only !== undefined && !only.has(e))) continue
            const id = block.txids[i] ?? computeTxid(tx)
            const list = matched.get(e) ?? []
            list.push({ tx, txid: id })
            matched.set(e, list)
            tx.outputs.forEach((_, vout) => watch(`${toHex(id)}:${vout}`, id, e))
            break
          }
        })
        for (const [e, txs] of matched) {
          const r = blockConnected(e.monitor, e.onchain, block.header.height, txs)
          if (r.state !== e.onchain) {
            e.onchain = r.state
            e.dirty = true
            watchesChanged = true
          }
          yield* publishLearned(e, r.learned)
        }
      })

    /**
     * Channels found at start without a stored state whose funding output the `ChainSource` says
     * is spent (or does not know): the last `rescanDepth` blocks up to the block we reached are
     * searched once, in one pass for all of them, for the spend and what followed it (BOLT 5: a
     * node that was not watching when the funding output was spent must still resolve it).
     */
    const rescanNew = Effect.gen(function*() {
      const fresh = [...entries.values()].filter((e) => e.rescan)
      if (fresh.length === 0) return
      const spent = new Set<Entry>()
      for (const e of fresh) {
        const status = yield* Effect.result(chainSource.outputStatus(e.monitor.params.fundingOutpoint))
        if (Result.isFailure(status)) return yield* Effect.logWarning(`monitor chain: rescan postponed: ${status.failure.reason}`)
        e.rescan = false
        if (status.success._tag === "SpentOrUnknown" && e.onchain.txs.length === 0) spent.add(e)
      }
      if (spent.size === 0) return
      const to = tip.height
      for (let h = Math.max(0, to - rescanDepth + 1); h <= to; h++) {
        const block = yield* Effect.result(chainSource.block(h))
        if (Result.isFailure(block)) {
          if (block.failure._tag === "BlockNotFound") continue // pruned, or before the source's first block
          return yield* Effect.logWarning(`monitor chain: rescan stopped at block ${h}: ${block.failure.reason}`)
        }
        yield* applyBlock(block.success, spent)
      }
      for (const e of spent) {
        if (e.onchain.txs.length > 0) yield* Effect.logInfo(`monitor chain: channel ${toHex(e.channelId)}: funding output found spent before the monitor followed the chain`)
      }
    })

    const onBlock = (block: Block) =>
      Effect.gen(function*() {
        yield* refresh
        yield* rescanNew
        tip = refOf(block.header)
        yield* applyBlock(block)
        for (const e of entries.values()) yield* act(e)
        yield* persist
      })

    const onDisconnect = (height: number, prev: BlockRef) =>
      Effect.gen(function*() {
        tip = prev
        for (const e of entries.values()) {
          const s = blockDisconnected(e.onchain, height)
          if (s !== e.onchain) {
            e.onchain = s
            e.dirty = true
            watchesChanged = true
          }
        }
        yield* persist
      })

    yield* refresh
    starting = false
    yield* rescanNew
    for (const e of entries.values()) yield* act(e)
    yield* persist

    /** Waiters for a block to be processed (bounded by the callers of `awaitBlock`). */
    let waiters: Array<{ readonly hash: string; readonly done: () => void }> = []
    /** The last block whose processing finished (claims handed over, state written). */
    let processed = toHex(tip.hash)
    const wake = () => {
      const now = toHex(tip.hash)
      processed = now
      const ready = waiters.filter((w) => w.hash === now)
      waiters = waiters.filter((w) => w.hash !== now)
      for (const w of ready) w.done()
    }
    let followFrom: BlockRef = tip
    const chainInputs = (): Stream.Stream<ChainEvent> =>
      Stream.suspend(() => chainSource.follow(followFrom)).pipe(
        Stream.tap((ev) =>
          Effect.sync(() => {
            followFrom = ev._tag === "BlockConnected" ? refOf(ev.block.header) : { height: ev.header.height - 1, hash: ev.header.prevHash }
          })
        ),
        Stream.catchTag("ChainSourceUnavailable", (err) =>
          Stream.unwrap(
            Effect.gen(function*() {
              yield* Effect.logWarning(`monitor chain: lost the chain (${err.reason}); following again from the tip`)
              yield* Effect.sleep("5 seconds")
              followFrom = yield* chainSource.tip.pipe(Effect.retry(Schedule.spaced("5 seconds")), Effect.orDie)
              return chainInputs()
            })
          )
        )
      )
    yield* chainInputs().pipe(
      Stream.runForEach((event) =>
        (event._tag === "BlockConnected"
          ? onBlock(event.block)
          : onDisconnect(event.header.height, { height: event.header.height - 1, hash: event.header.prevHash })).pipe(lock.withPermit, Effect.andThen(Effect.sync(wake)))
      ),
      Effect.catchCause((cause) => Effect.logError("monitor chain: stopped", cause)),
      Effect.forkScoped
    )

    const learnedSoFar = (): ReadonlyArray<MonitorChainEvent> =>
      [...entries.values()].flatMap((e) =>
        e.onchain.learned.map((p): MonitorChainEvent => ({ _tag: "PreimageLearned", channelId: e.channelId, paymentHash: p.paymentHash, preimage: p.preimage }))
      )

    const shape: MonitorChainHandle = {
      tip: Effect.sync(() => tip),
      subscribe: Effect.gen(function*() {
        const live = yield* PubSub.subscribe(events)
        return Stream.concat(Stream.fromIterable(learnedSoFar()), Stream.fromSubscription(live))
      }),
      resolution: (channelId) =>
        Effect.suspend(() => {
          const e = entries.get(toHex(channelId))
          return e === undefined ? Effect.succeed(undefined) : resolutionOf(e)
        }),
      balances: Effect.gen(function*() {
        yield* refresh
        const out: Array<ChannelBalances> = []
        for (const e of entries.values()) {
          const r = yield* resolutionOf(e)
          out.push({ channelId: e.channelId, balances: claimableBalances(e.monitor, r, tip.height, finality) })
        }
        return out
      }),
      addPreimage: (channelId, preimage) =>
        Effect.gen(function*() {
          const entry = entries.get(toHex(channelId))
          if (entry === undefined || preimage.length !== 32) return false
          const paymentHash = sha256(preimage)
          const m = entry.monitor
          const hashes = [...m.holderCommitment.htlcs, ...m.counterpartyCurrent.htlcs, ...(m.counterpartyNext?.htlcs ?? [])].map((h) => toHex(h.paymentHash))
          if (!hashes.includes(toHex(paymentHash))) return false
          if (entry.onchain.learned.some((p) => toHex(p.paymentHash) === toHex(paymentHash))) return true
          // Applied at once: the claim it opens goes out now (not at the next block), persisted first.
          entry.onchain = { ...entry.onchain, learned: [...entry.onchain.learned, { paymentHash, preimage: Uint8Array.from(preimage) }] }
          entry.dirty = true
          yield* persist
          if (entry.onchain.txs.length > 0) yield* actNow(entry)
          return true
        }).pipe(lock.withPermit),
      awaitBlock: (hash) =>
        Effect.callback<void>((resume) => {
          if (processed === toHex(hash)) return resume(Effect.void)
          waiters.push({ hash: toHex(hash), done: () => resume(Effect.void) })
        })
    }
    return shape
  })
