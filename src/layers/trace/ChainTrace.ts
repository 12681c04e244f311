/**
 * The chain as a traced input: recording wrappers and replay services for `ChainSource` and
 * `Broadcaster` (records of kind `chain`, and `broadcast` for what the node publishes).
 *
 * Recorded (each answer held at the gate, written as it reaches the node): every event of
 * `follow` (`{ op: "connected", height, block }` with the whole serialized block, or
 * `{ op: "disconnected", height, header }`), the answers of `tip`, `header`, `block`,
 * `outputStatus`, and of `broadcast` (`{ op: "broadcast", txid }` or the rejection). Replay serves
 * them in the recorded order: a call of the node stays pending until the driver delivers the
 * record answering it.
 */
import { Clock, Deferred, Effect, Exit, Stream } from "effect"
import { fromHex, toHex } from "../../protocol/bytes.ts"
import { blockHash, type BlockHeader, type BlockRef, decodeBlock, decodeHeader, serializeBlock } from "../../protocol/chain/block.ts"
import { serializeTransaction, type Transaction, type Txid, txidFromBytes } from "../../protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../protocol/units.ts"
import { BroadcastRejected, type BroadcasterShape } from "../../services/Broadcaster.ts"
import {
  BlockNotFound,
  type ChainEvent,
  type ChainSourceShape,
  ChainSourceUnavailable,
  type OutputStatus
} from "../../services/ChainSource.ts"
import type { TraceRecord, TraceShape } from "../../services/Trace.ts"
import type { Gate } from "../../trace/Quiescence.ts"
import { chainEventData, field, numberField, stringField } from "./records.ts"

const ACTOR = "chain"

type Json = TraceRecord["data"]

const errorData = (op: string, e: { readonly _tag: string }): Json => ({ op, error: e._tag, reason: "reason" in e && typeof e.reason === "string" ? e.reason : "" })

const headerData = (h: BlockHeader): Json => ({ op: "header", height: h.height, header: toHex(h.raw) })

const statusData = (s: OutputStatus): Json =>
  s._tag === "Unspent"
    ? { op: "outputStatus", status: "Unspent", value: s.value.toString(), script: toHex(s.scriptPubKey), ...(s.confirmedAt === undefined ? {} : { confirmedAt: s.confirmedAt }) }
    : { op: "outputStatus", status: "SpentOrUnknown" }

const txBytes = (tx: Transaction | Uint8Array): Uint8Array => (tx instanceof Uint8Array ? tx : serializeTransaction(tx))

/**
 * Records what `inner` answers, each answer held at `gate`. `clock`: the one the real chain runs
 * with (default the caller's; the node's recording clock must not see the backend's readings).
 */
export const tracingChainSource = (inner: ChainSourceShape, trace: TraceShape, gate: Gate, clock?: Clock.Clock): ChainSourceShape => {
  const real = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    clock === undefined ? effect : Effect.provideService(effect, Clock.Clock, clock)
  const answer = <A, E extends { readonly _tag: string }>(op: string, effect: Effect.Effect<A, E>, data: (a: A) => Json) =>
    gate.deliver(real(effect), (exit) => {
      if (Exit.isSuccess(exit)) trace.emit(ACTOR, "chain", data(exit.value))
      else {
        const e = exit.cause.reasons.find((r) => r._tag === "Fail")
        if (e !== undefined && e._tag === "Fail") trace.emit(ACTOR, "chain", errorData(op, e.error))
      }
    })
  return {
    tip: answer("tip", inner.tip, (t) => ({ op: "tip", height: t.height, hash: toHex(t.hash) })),
    header: (id) => answer("header", inner.header(id), headerData),
    block: (id) => answer("block", inner.block(id), (b) => ({ op: "block", height: b.header.height, block: toHex(serializeBlock(b)) })),
    outputStatus: (outpoint) => answer("outputStatus", inner.outputStatus(outpoint), statusData),
    follow: (from) =>
      Stream.mapEffect(clock === undefined ? inner.follow(from) : Stream.provideService(inner.follow(from), Clock.Clock, clock), (event) => gate.deliver(Effect.succeed(event), () => trace.emit(ACTOR, "chain", chainEventData(event))))
  }
}

/** Records each transaction given (`broadcast`) and the answer (`chain`, held at `gate`). */
export const tracingBroadcaster = (inner: BroadcasterShape, trace: TraceShape, gate: Gate, clock?: Clock.Clock): BroadcasterShape => ({
  broadcast: (tx) =>
    Effect.suspend(() => {
      trace.emit(ACTOR, "broadcast", { tx: toHex(txBytes(tx)) })
      const sent = inner.broadcast(tx)
      return gate.deliver(clock === undefined ? sent : Effect.provideService(sent, Clock.Clock, clock), (exit) => {
        if (Exit.isSuccess(exit)) trace.emit(ACTOR, "chain", { op: "broadcast", txid: toHex(exit.value) })
        else {
          const e = exit.cause.reasons.find((r) => r._tag === "Fail")
          if (e !== undefined && e._tag === "Fail") {
            trace.emit(ACTOR, "chain", e.error._tag === "BroadcastRejected"
              ? { op: "broadcast", error: "BroadcastRejected", reason: e.error.reason, message: e.error.message, txid: e.error.txid }
              : errorData("broadcast", e.error))
          }
        }
      })
    })
})

interface PendingCall {
  readonly op: string
  readonly done: Deferred.Deferred<Json>
}

export interface ChainReplay {
  readonly chain: ChainSourceShape
  readonly broadcaster: BroadcasterShape
  /** Answers the oldest pending call with a `chain` record; why not, if it cannot. */
  readonly deliver: (record: TraceRecord) => string | undefined
}

/** Chain and broadcaster answering from the trace (see the module doc). */
export const makeChainReplay = (trace: TraceShape): ChainReplay => {
  const calls: Array<PendingCall> = []
  const call = (op: string): Effect.Effect<Json> =>
    Effect.suspend(() => {
      const entry: PendingCall = { op, done: Deferred.makeUnsafe<Json>() }
      calls.push(entry)
      return Deferred.await(entry.done).pipe(Effect.ensuring(Effect.sync(() => {
        const i = calls.indexOf(entry)
        if (i >= 0) calls.splice(i, 1)
      })))
    })
  const unavailable = (data: Json) => new ChainSourceUnavailable({ reason: stringField(data, "reason") ?? "recorded failure" })
  const failed = (data: Json) => field(data, "error") !== undefined
  const headerOf = (data: Json): Effect.Effect<BlockHeader, ChainSourceUnavailable> => {
    const r = decodeHeader(fromHex(stringField(data, "header") ?? ""), numberField(data, "height") ?? 0)
    return r._tag === "Success" ? Effect.succeed(r.success) : Effect.fail(unavailable(data))
  }
  const blockOf = (data: Json) => {
    const r = decodeBlock(fromHex(stringField(data, "block") ?? ""), numberField(data, "height") ?? 0)
    return r._tag === "Success" ? Effect.succeed(r.success) : Effect.fail(unavailable(data))
  }
  const lookupFailure = (data: Json) =>
    stringField(data, "error") === "BlockNotFound" ? new BlockNotFound({ block: stringField(data, "reason") ?? "" }) : unavailable(data)

  const chain: ChainSourceShape = {
    tip: Effect.flatMap(call("tip"), (data): Effect.Effect<BlockRef, ChainSourceUnavailable> => {
      if (failed(data)) return Effect.fail(unavailable(data))
      const hash = blockHash(fromHex(stringField(data, "hash") ?? ""))
      return hash._tag === "Success" ? Effect.succeed({ height: numberField(data, "height") ?? 0, hash: hash.success }) : Effect.fail(unavailable(data))
    }),
    header: () => Effect.flatMap(call("header"), (data) => (failed(data) ? Effect.fail(lookupFailure(data)) : headerOf(data))),
    block: () => Effect.flatMap(call("block"), (data) => (failed(data) ? Effect.fail(lookupFailure(data)) : blockOf(data))),
    outputStatus: () =>
      Effect.flatMap(call("outputStatus"), (data): Effect.Effect<OutputStatus, ChainSourceUnavailable> => {
        if (failed(data)) return Effect.fail(unavailable(data))
        if (stringField(data, "status") !== "Unspent") return Effect.succeed({ _tag: "SpentOrUnknown" })
        const confirmedAt = numberField(data, "confirmedAt")
        return Effect.succeed({
          _tag: "Unspent",
          value: sat(BigInt(stringField(data, "value") ?? "0")),
          scriptPubKey: fromHex(stringField(data, "script") ?? ""),
          ...(confirmedAt === undefined ? {} : { confirmedAt })
        })
      }),
    follow: () =>
      Stream.fromEffectRepeat(
        Effect.flatMap(call("follow"), (data): Effect.Effect<ChainEvent, ChainSourceUnavailable> => {
          if (failed(data)) return Effect.fail(unavailable(data))
          if (stringField(data, "op") === "disconnected") return Effect.map(headerOf(data), (header) => ({ _tag: "BlockDisconnected", header }))
          return Effect.map(blockOf(data), (block) => ({ _tag: "BlockConnected", block }))
        })
      )
  }

  const broadcaster: BroadcasterShape = {
    broadcast: (tx) =>
      Effect.suspend(() => {
        trace.emit(ACTOR, "broadcast", { tx: toHex(txBytes(tx)) })
        return Effect.flatMap(call("broadcast"), (data): Effect.Effect<Txid, BroadcastRejected | ChainSourceUnavailable> => {
          if (stringField(data, "error") === "BroadcastRejected") {
            return Effect.fail(new BroadcastRejected({
              txid: stringField(data, "txid") ?? "",
              reason: "Other",
              message: stringField(data, "message") ?? ""
            }))
          }
          if (failed(data)) return Effect.fail(unavailable(data))
          return Effect.succeed(txidFromBytes(fromHex(stringField(data, "txid") ?? "")))
        })
      })
  }

  const opOf = (data: Json): string => {
    const op = stringField(data, "op") ?? ""
    return op === "connected" || op === "disconnected" ? "follow" : op
  }
  const deliver = (record: TraceRecord): string | undefined => {
    const op = opOf(record.data)
    const entry = calls.find((c) => c.op === op)
    if (entry === undefined) return `no ${op} call of the chain pending`
    calls.splice(calls.indexOf(entry), 1)
    trace.emit(ACTOR, "chain", record.data)
    Deferred.doneUnsafe(entry.done, Effect.succeed(record.data))
    return undefined
  }
  return { chain, broadcaster, deliver }
}
