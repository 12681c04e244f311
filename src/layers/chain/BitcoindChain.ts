/**
 * `ChainSource`, `Broadcaster` and `FeeEstimator` over a Bitcoin Core JSON-RPC node (or any
 * node speaking its RPC for these calls): `getblockcount`, `getblockhash`, `getblockheader <hash>
 * false` and `getblock <hash> 0` (raw hex, decoded here, so the answers do not depend on a
 * node's JSON verbosity), `getblockheader <hash> true` only for a height, `gettxout`,
 * `sendrawtransaction`, `estimatesmartfee`.
 *
 * Following: each `follow` polls the tip every `pollIntervalMs`. When the chain moved, it first
 * checks that its last block is still on the best chain (`getblockhash(height)`); if not, it
 * disconnects it and walks back parent by parent to the fork point (any depth up to
 * `maxReorgDepth`), then connects the best chain's blocks one by one, each checked to extend the
 * previous one (a reorg during the catch-up is found at the next step). A node that was away is
 * caught up the same way from the last block delivered. RPC failures are retried on
 * `reconnectIntervalMs` forever (logged); the stream never skips.
 *
 * Blocks and headers are kept in bounded LRU caches (`cacheBlocks`, `cacheHeaders`).
 */
import { Context, Data, Effect, Layer, Option, Schedule, Stream } from "effect"
import { fromHex, toHex } from "../../protocol/bytes.ts"
import {
  type Block,
  type BlockHash,
  blockHashFromHex,
  blockHashToHex,
  type BlockHeader,
  type BlockRef,
  decodeBlock,
  decodeHeader
} from "../../protocol/chain/block.ts"
import { makeLru } from "../../protocol/lru.ts"
import { decodeTransaction, serializeTransaction, txid as computeTxid, type Txid, txidFromBytes, txidToHex } from "../../protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../protocol/units.ts"
import { Broadcaster, BroadcastRejected, type RejectReason } from "../../services/Broadcaster.ts"
import { type BlockId, BlockNotFound, type ChainEvent, ChainSource, ChainSourceUnavailable, type OutputStatus } from "../../services/ChainSource.ts"
import { btcPerKvbToSatPerKw, defaultFallbackFeerates, type FallbackFeerates, fallbackFor, FeeEstimator } from "../../services/FeeEstimator.ts"
import { makeRpcClient, type RpcClient, RpcError } from "./rpc.ts"

export interface BitcoindConfig {
  /** `http://user:password@127.0.0.1:8332` (credentials may come from `cookieFile` instead). */
  readonly url: string
  readonly cookieFile?: string
  /** Tip polling (default 2000 ms). */
  readonly pollIntervalMs?: number
  /** Wait before retrying after a failed call (default 2000 ms). */
  readonly reconnectIntervalMs?: number
  /** Blocks kept in memory (default 64). */
  readonly cacheBlocks?: number
  /** Headers kept in memory (default 4096). */
  readonly cacheHeaders?: number
  /** A reorg deeper than this fails the stream (default 1000). */
  readonly maxReorgDepth?: number
  /** Blocks connected per poll step before checking the tip again (default 16). */
  readonly connectBatch?: number
  readonly fallbackFeerates?: FallbackFeerates
  readonly timeoutMs?: number
  /** The largest RPC answer read (default 64 MiB). */
  readonly maxResponseBytes?: number
}

/** The node's rejection of a transaction, classified (Bitcoin Core's reject strings and RPC codes). */
export const classifyRejection = (code: number, message: string): RejectReason | "AlreadyKnown" => {
  const m = message.toLowerCase()
  if (code === -27 || m.includes("already in block chain") || m.includes("already in utxo set") || m.includes("txn-already-in-mempool") || m.includes("txn-already-known") || m.includes("already have transaction")) {
    return "AlreadyKnown"
  }
  if (m.includes("max-fee-exceeded") || m.includes("fee exceeds maximum") || m.includes("absurdly-high-fee")) return "FeeTooHigh"
  if (m.includes("premature-spend-of-coinbase")) return "ImmatureCoinbase"
  if (m.includes("non-bip68-final")) return "NonBip68Final"
  if (m.includes("non-final")) return "NonFinal"
  if (m.includes("txn-mempool-conflict") || m.includes("rejecting replacement") || m.includes("replacement")) return "InputsSpent"
  if (m.includes("missingorspent") || m.includes("missing inputs") || m.includes("missing-inputs") || code === -25) return "MissingInputs"
  if (m.includes("fee not met") || m.includes("insufficient fee") || m.includes("min relay fee") || m.includes("mempool min fee")) return "FeeTooLow"
  if (code === -22 || code === -26 || m.includes("decode") || m.includes("script") || m.includes("bad-")) return "Invalid"
  return "Other"
}

/** `follow` cannot go on: a reorg deeper than it walks back (not retried). */
class ReorgTooDeep extends Data.TaggedError("ReorgTooDeep")<{ readonly maxDepth: number }> {}
/** `follow` was asked to start at a block the node does not know (not retried). */
class FollowStartUnknown extends Data.TaggedError("FollowStartUnknown")<{ readonly block: string }> {}
/** The reason a lost follower reports (as `ChainSourceUnavailable`, the service's error). */
const describeLost = (e: ReorgTooDeep | FollowStartUnknown): string =>
  e._tag === "ReorgTooDeep" ? `reorg deeper than ${e.maxDepth} blocks` : `follow: block ${e.block} is unknown to the node`

const asString = (method: string, v: unknown): Effect.Effect<string, ChainSourceUnavailable> =>
  typeof v === "string" ? Effect.succeed(v) : Effect.fail(new ChainSourceUnavailable({ reason: `${method}: expected a string` }))
const asNumber = (method: string, v: unknown): Effect.Effect<number, ChainSourceUnavailable> =>
  typeof v === "number" && Number.isFinite(v) ? Effect.succeed(v) : Effect.fail(new ChainSourceUnavailable({ reason: `${method}: expected a number` }))
const hexBytes = (method: string, hex: string): Effect.Effect<Uint8Array, ChainSourceUnavailable> =>
  /^([0-9a-fA-F]{2})*$/.test(hex) ? Effect.succeed(fromHex(hex)) : Effect.fail(new ChainSourceUnavailable({ reason: `${method}: not hex` }))
/** A JSON object's own field (unknown until checked). */
const field = (v: unknown, name: string): unknown => {
  if (typeof v !== "object" || v === null) return undefined
  const value: unknown = Object.getOwnPropertyDescriptor(v, name)?.value
  return value
}

export const make = (config: BitcoindConfig) =>
  Effect.sync(() => {
    const rpc: RpcClient = makeRpcClient({ url: config.url, ...(config.cookieFile === undefined ? {} : { cookieFile: config.cookieFile }), ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
      ...(config.maxResponseBytes === undefined ? {} : { maxResponseBytes: config.maxResponseBytes })
    })
    const pollInterval = config.pollIntervalMs ?? 2000
    const reconnect = config.reconnectIntervalMs ?? 2000
    const maxReorgDepth = config.maxReorgDepth ?? 1000
    const batch = config.connectBatch ?? 16
    const fallback = config.fallbackFeerates ?? defaultFallbackFeerates
    const blocks = makeLru<Block>(config.cacheBlocks ?? 64, "bitcoind block cache")
    const headers = makeLru<BlockHeader>(config.cacheHeaders ?? 4096, "bitcoind header cache")

    const unavailable = (e: RpcError) => new ChainSourceUnavailable({ reason: `${e.method}: RPC error ${e.code}: ${e.message}` })
    const call = (method: string, params: ReadonlyArray<unknown>) => rpc.call(method, params).pipe(Effect.mapError((e) => (e._tag === "RpcError" ? unavailable(e) : e)))

    const blockCount = call("getblockcount", []).pipe(Effect.flatMap((v) => asNumber("getblockcount", v)))
    /** The best chain's hash at `height`, or undefined above the tip. */
    const hashAt = (height: number): Effect.Effect<BlockHash | undefined, ChainSourceUnavailable> =>
      rpc.call("getblockhash", [height]).pipe(
        Effect.flatMap((v) => asString("getblockhash", v)),
        Effect.flatMap((hex) => Effect.fromResult(blockHashFromHex(hex)).pipe(Effect.mapError((e) => new ChainSourceUnavailable({ reason: e.reason })))),
        Effect.catchTag("RpcError", (e) => (e.code === -8 ? Effect.succeed(undefined) : Effect.fail(unavailable(e))))
      )
    /** A header by hash, with its height (`height` when the caller knows it, else the node's verbose header). */
    const headerByHash = (hash: BlockHash, knownHeight?: number): Effect.Effect<BlockHeader, BlockNotFound | ChainSourceUnavailable> =>
      Effect.gen(function*() {
        const key = toHex(hash)
        const cached = headers.get(key)
        if (cached !== undefined) return cached
        const hex = blockHashToHex(hash)
        const notFound = (e: RpcError) => (e.code === -5 || e.code === -8 ? new BlockNotFound({ block: hex }) : unavailable(e))
        const raw = yield* rpc.call("getblockheader", [hex, false]).pipe(
          Effect.mapError((e) => (e._tag === "RpcError" ? notFound(e) : e)),
          Effect.flatMap((v) => asString("getblockheader", v)),
          Effect.flatMap((h) => hexBytes("getblockheader", h))
        )
        let height = knownHeight
        if (height === undefined) {
          const verbose = yield* rpc.call("getblockheader", [hex, true]).pipe(Effect.mapError((e) => (e._tag === "RpcError" ? notFound(e) : e)))
          height = yield* asNumber("getblockheader", field(verbose, "height"))
        }
        const header = yield* Effect.fromResult(decodeHeader(raw, height)).pipe(Effect.mapError((e) => new ChainSourceUnavailable({ reason: `getblockheader: ${e.reason}` })))
        if (toHex(header.hash) !== key) return yield* Effect.fail(new ChainSourceUnavailable({ reason: "getblockheader: the header does not hash to the requested hash" }))
        headers.set(key, header)
        return header
      })
    const blockByHash = (hash: BlockHash, height: number): Effect.Effect<Block, BlockNotFound | ChainSourceUnavailable> =>
      Effect.gen(function*() {
        const key = toHex(hash)
        const cached = blocks.get(key)
        if (cached !== undefined) return cached
        const hex = blockHashToHex(hash)
        const raw = yield* rpc.call("getblock", [hex, 0]).pipe(
          Effect.mapError((e) => (e._tag === "RpcError" ? (e.code === -5 ? new BlockNotFound({ block: hex }) : unavailable(e)) : e)),
          Effect.flatMap((v) => asString("getblock", v)),
          Effect.flatMap((h) => hexBytes("getblock", h))
        )
        const block = yield* Effect.fromResult(decodeBlock(raw, height)).pipe(Effect.mapError((e) => new ChainSourceUnavailable({ reason: `getblock: ${e.reason} at ${e.offset}` })))
        if (toHex(block.header.hash) !== key) return yield* Effect.fail(new ChainSourceUnavailable({ reason: "getblock: the block does not hash to the requested hash" }))
        blocks.set(key, block)
        headers.set(key, block.header)
        return block
      })
    const resolve = (id: BlockId): Effect.Effect<{ readonly hash: BlockHash; readonly height: number | undefined }, BlockNotFound | ChainSourceUnavailable> =>
      typeof id === "number"
        ? hashAt(id).pipe(Effect.flatMap((h) => (h === undefined ? Effect.fail(new BlockNotFound({ block: String(id) })) : Effect.succeed({ hash: h, height: id }))))
        : Effect.succeed({ hash: id, height: undefined })

    const tip = Effect.gen(function*() {
      for (;;) {
        const height = yield* blockCount
        const hash = yield* hashAt(height)
        if (hash !== undefined) return { height, hash } satisfies BlockRef
      }
    })

    /** One polling step of a follower at `cur`: the events it produced and where it is now. */
    const step = (cur: BlockHeader, depth: { walked: number }): Effect.Effect<readonly [ReadonlyArray<ChainEvent>, BlockHeader], ChainSourceUnavailable | ReorgTooDeep> =>
      Effect.gen(function*() {
        const count = yield* blockCount
        const atCur = cur.height <= count ? yield* hashAt(cur.height) : undefined
        if (atCur === undefined || toHex(atCur) !== toHex(cur.hash)) {
          // `cur` left the best chain: disconnect it, continue from its parent.
          if (++depth.walked > maxReorgDepth) return yield* Effect.fail(new ReorgTooDeep({ maxDepth: maxReorgDepth }))
          const parent = yield* headerByHash(cur.prevHash, cur.height - 1).pipe(
            Effect.catchTag("BlockNotFound", () => Effect.fail(new ChainSourceUnavailable({ reason: "the parent of a disconnected block is unknown to the node" })))
          )
          return [[{ _tag: "BlockDisconnected", header: cur }], parent] as const
        }
        depth.walked = 0
        if (count === cur.height) {
          yield* Effect.sleep(pollInterval)
          return [[], cur] as const
        }
        const events: Array<ChainEvent> = []
        let at = cur
        for (let h = cur.height + 1; h <= Math.min(count, cur.height + batch); h++) {
          const hash = yield* hashAt(h)
          if (hash === undefined) break
          const block = yield* blockByHash(hash, h).pipe(Effect.catchTag("BlockNotFound", () => Effect.succeed(undefined)))
          if (block === undefined || toHex(block.header.prevHash) !== toHex(at.hash)) break // a reorg under way: the next step sees it
          events.push({ _tag: "BlockConnected", block })
          at = block.header
        }
        return [events, at] as const
      })

    const follow = (from?: BlockRef): Stream.Stream<ChainEvent, ChainSourceUnavailable> =>
      Stream.unwrap(
        Effect.gen(function*() {
          const start = from ?? (yield* tip)
          const header = yield* headerByHash(start.hash, start.height).pipe(
            Effect.catchTag("BlockNotFound", () => Effect.fail(new FollowStartUnknown({ block: blockHashToHex(start.hash) })))
          )
          const depth = { walked: 0 }
          return Stream.paginate(header, (cur: BlockHeader) =>
            step(cur, depth).pipe(
              Effect.tapError((e) => e._tag === "ChainSourceUnavailable" ? Effect.logWarning(`bitcoind: ${e.reason}; retrying`) : Effect.void),
              Effect.retry({ schedule: Schedule.spaced(reconnect), while: (e) => e._tag === "ChainSourceUnavailable" }),
              Effect.map(([events, next]) => [events, Option.some(next)] as const)
            ))
        }).pipe(Effect.retry({ schedule: Schedule.spaced(reconnect), while: (e) => e._tag === "ChainSourceUnavailable" }))
      ).pipe(Stream.mapError((e) => e._tag === "ChainSourceUnavailable" ? e : new ChainSourceUnavailable({ reason: describeLost(e) })))

    const chainSource = ChainSource.of({
      tip,
      header: (id) => resolve(id).pipe(Effect.flatMap(({ hash, height }) => headerByHash(hash, height))),
      block: (id) =>
        resolve(id).pipe(
          Effect.flatMap(({ hash, height }) =>
            height !== undefined ? blockByHash(hash, height) : headerByHash(hash).pipe(Effect.flatMap((h) => blockByHash(hash, h.height)))
          )
        ),
      follow,
      outputStatus: (outpoint) =>
        Effect.gen(function*() {
          const v = yield* call("gettxout", [txidToHex(outpoint.txid), outpoint.vout, true])
          if (v === null || v === undefined) return { _tag: "SpentOrUnknown" } satisfies OutputStatus
          const confirmations = yield* asNumber("gettxout", field(v, "confirmations"))
          const value = yield* asNumber("gettxout", field(v, "value"))
          const scriptHex = yield* asString("gettxout", field(field(v, "scriptPubKey"), "hex"))
          const scriptPubKey = yield* hexBytes("gettxout", scriptHex)
          const amount = sat(BigInt(Math.round(value * 1e8)))
          if (confirmations <= 0) return { _tag: "Unspent", value: amount, scriptPubKey } satisfies OutputStatus
          const best = yield* asString("gettxout", field(v, "bestblock"))
          const bestHash = yield* Effect.fromResult(blockHashFromHex(best)).pipe(Effect.mapError((e) => new ChainSourceUnavailable({ reason: e.reason })))
          const bestHeader = yield* headerByHash(bestHash).pipe(Effect.catchTag("BlockNotFound", (e) => Effect.fail(new ChainSourceUnavailable({ reason: `gettxout: best block ${e.block} unknown` }))))
          return { _tag: "Unspent", confirmedAt: bestHeader.height - confirmations + 1, value: amount, scriptPubKey } satisfies OutputStatus
        })
    })

    const broadcaster = Broadcaster.of({
      broadcast: (tx) =>
        Effect.gen(function*() {
          const bytes = tx instanceof Uint8Array ? tx : serializeTransaction(tx)
          const decoded = decodeTransaction(bytes)
          const id: Txid = decoded._tag === "Success" ? computeTxid(decoded.success) : txidFromBytes(new Uint8Array(32))
          const answer = yield* rpc.call("sendrawtransaction", [toHex(bytes)]).pipe(
            Effect.as<{ readonly ok: true } | { readonly ok: false; readonly code: number; readonly message: string }>({ ok: true }),
            Effect.catchTag("RpcError", (e) => Effect.succeed({ ok: false as const, code: e.code, message: e.message }))
          )
          if (answer.ok) return id
          const reason = classifyRejection(answer.code, answer.message)
          if (reason === "AlreadyKnown") return id
          return yield* Effect.fail(new BroadcastRejected({ txid: txidToHex(id), reason, message: answer.message }))
        })
    })

    const feeEstimator = FeeEstimator.of({
      estimate: (target) =>
        call("estimatesmartfee", [Math.max(1, Math.floor(target))]).pipe(
          Effect.map((v) => {
            const rate = field(v, "feerate")
            return typeof rate === "number" && rate > 0
              ? { feeratePerKw: btcPerKvbToSatPerKw(rate), source: "estimate" as const }
              : { feeratePerKw: fallbackFor(fallback, target), source: "fallback" as const }
          }),
          Effect.catch(() => Effect.succeed({ feeratePerKw: fallbackFor(fallback, target), source: "fallback" as const }))
        )
    })

    return { chainSource, broadcaster, feeEstimator, rpc }
  })

/** `ChainSource`, `Broadcaster` and `FeeEstimator` over one bitcoind RPC endpoint. */
export const layer = (config: BitcoindConfig): Layer.Layer<ChainSource | Broadcaster | FeeEstimator> =>
  Layer.effectContext(
    make(config).pipe(
      Effect.map(({ chainSource, broadcaster, feeEstimator }) =>
        Context.make(ChainSource, chainSource).pipe(Context.add(Broadcaster, broadcaster), Context.add(FeeEstimator, feeEstimator))
      )
    )
  )
