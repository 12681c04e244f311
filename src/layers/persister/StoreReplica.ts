/**
 * A `MonitorReplica` over a `Store`: the node's own disk (files store) or any other store.
 *
 * Keys, under `prefix` (default `monitor/`), per channel (id in hex):
 *   `<prefix><channel>/state`          the channel state (JSON), if the replica keeps states
 *   `<prefix><channel>/u/<updateId>`   one monitor update (Schema JSON), id zero-padded to 20 digits
 * Archived channels move under `<archivePrefix>` (default `archive/`) with the same layout.
 * A replica write is ONE `Store.write` for every channel in it (the persister groups channels),
 * so a channel's state and its updates are never apart. Update keys are written with
 * compare-and-set "absent": a log entry is never overwritten.
 */
import { Effect, Result, Schema } from "effect"
import { ChannelIdSchema } from "../../protocol/codec/fields.ts"
import { toHex } from "../../protocol/bytes.ts"
import type { MonitorHtlc } from "../../protocol/monitor/state.ts"
import { MonitorUpdateSchema, type MonitorUpdate } from "../../protocol/monitor/update.ts"
import type { ChannelId } from "../../protocol/units.ts"
import { deleteOp, putOp, type StoreOp, type StoreShape } from "../../services/Store.ts"
import { channelKey, ReplicaError, type MonitorReplica, type ReplicaChannel, type ReplicaWrite } from "./replica.ts"

export interface StoreReplicaOptions {
  readonly name?: string
  readonly prefix?: string
  readonly archivePrefix?: string
  /** Default true; false for a replica that only keeps updates (a watchtower). */
  readonly keepsChannelState?: boolean
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })
const encodeUpdateJson = Schema.encodeSync(MonitorUpdateSchema)
const decodeUpdateJson = Schema.decodeUnknownResult(MonitorUpdateSchema)
const decodeJson = Schema.decodeUnknownResult(Schema.Json)
const decodeChannelId = Schema.decodeUnknownResult(ChannelIdSchema)

type JsonObject = { [key: string]: Schema.Json }

const htlcJson = (h: MonitorHtlc): JsonObject => ({
  direction: h.direction,
  id: h.id.toString(),
  amount: h.amount.toString(),
  paymentHash: toHex(h.paymentHash),
  cltvExpiry: h.cltvExpiry
})
const htlcsJson = (hs: ReadonlyArray<MonitorHtlc>): Array<Schema.Json> => hs.map(htlcJson)

/**
 * The JSON value of an update, as `Schema.encodeSync(MonitorUpdateSchema)` gives it (same keys,
 * same order, same strings; tested on whole channel lives), written out for the updates of every
 * commitment dance (commitments, secrets, preimages); undefined for the rarer ones, which go
 * through the Schema (`encodeUpdate`).
 */
export const encodeHotUpdate = (u: MonitorUpdate): Schema.Json | undefined => {
  switch (u._tag) {
    case "HolderCommitment": {
      const c = u.commitment
      return {
        _tag: u._tag,
        updateId: u.updateId.toString(),
        commitment: {
          commitmentNumber: c.commitmentNumber.toString(),
          feeratePerKw: c.feeratePerKw,
          toLocal: c.toLocal.toString(),
          toRemote: c.toRemote.toString(),
          htlcs: htlcsJson(c.htlcs),
          counterpartySignature: toHex(c.counterpartySignature),
          counterpartyHtlcSignatures: c.counterpartyHtlcSignatures.map(toHex)
        }
      }
    }
    case "CounterpartyCommitment": {
      const c = u.commitment
      return {
        _tag: u._tag,
        updateId: u.updateId.toString(),
        commitment: {
          commitmentNumber: c.commitmentNumber.toString(),
          perCommitmentPoint: toHex(c.perCommitmentPoint),
          feeratePerKw: c.feeratePerKw,
          toLocal: c.toLocal.toString(),
          toRemote: c.toRemote.toString(),
          htlcs: htlcsJson(c.htlcs),
          txid: toHex(c.txid)
        }
      }
    }
    case "CommitmentSecret":
      return { _tag: u._tag, updateId: u.updateId.toString(), commitmentNumber: u.commitmentNumber.toString(), secret: toHex(u.secret) }
    case "PaymentPreimage":
      return { _tag: u._tag, updateId: u.updateId.toString(), preimage: toHex(u.preimage) }
    default:
      return undefined
  }
}

/** An update's stored bytes: the JSON text of its Schema encoding. */
export const encodeUpdate = (u: MonitorUpdate): Uint8Array => utf8.encode(JSON.stringify(encodeHotUpdate(u) ?? encodeUpdateJson(u)))
export const decodeUpdate = (bytes: Uint8Array): Result.Result<MonitorUpdate, string> => {
  try {
    const r = decodeUpdateJson(JSON.parse(fromUtf8.decode(bytes)))
    return Result.isSuccess(r) ? Result.succeed(r.success) : Result.fail(r.failure.message)
  } catch (e) {
    return Result.fail(String(e))
  }
}
export const encodeState = (s: Schema.Json): Uint8Array => utf8.encode(JSON.stringify(s))
export const decodeState = (bytes: Uint8Array): Result.Result<Schema.Json, string> => {
  try {
    const r = decodeJson(JSON.parse(fromUtf8.decode(bytes)))
    return Result.isSuccess(r) ? Result.succeed(r.success) : Result.fail(r.failure.message)
  } catch (e) {
    return Result.fail(String(e))
  }
}

const pad = (id: bigint): string => id.toString().padStart(20, "0")

export const makeStoreReplica = (store: StoreShape, options: StoreReplicaOptions = {}): MonitorReplica => {
  const name = options.name ?? "store"
  const prefix = options.prefix ?? "monitor/"
  const archivePrefix = options.archivePrefix ?? "archive/"
  const keepsChannelState = options.keepsChannelState ?? true
  const fail = (reason: string) => new ReplicaError({ replica: name, reason })
  /** Last update id held per channel, learned from the store (-1: none). */
  const heads = new Map<string, bigint>()

  const headOf = (key: string) =>
    Effect.gen(function*() {
      const known = heads.get(key)
      if (known !== undefined) return known
      const entries = yield* store.list(`${prefix}${key}/u/`).pipe(Effect.mapError((e) => fail(e.message)))
      const last = entries.at(-1)
      const head = last === undefined ? -1n : BigInt(last.key.slice(last.key.lastIndexOf("/") + 1))
      heads.set(key, head)
      return head
    })

  const write = (writes: ReadonlyArray<ReplicaWrite>) =>
    Effect.gen(function*() {
      const ops: Array<StoreOp> = []
      const newHeads = new Map<string, bigint>()
      for (const w of writes) {
        const key = channelKey(w.channelId)
        let head = yield* headOf(key)
        for (const u of w.updates) {
          if (u.updateId <= head) continue
          if (u.updateId !== head + 1n) return yield* fail(`update ${u.updateId} after ${head} for channel ${key}`)
          ops.push(putOp(`${prefix}${key}/u/${pad(u.updateId)}`, encodeUpdate(u), 0))
          head = u.updateId
        }
        if (keepsChannelState) ops.push(putOp(`${prefix}${key}/state`, encodeState(w.channelState)))
        newHeads.set(key, head)
      }
      if (ops.length === 0) return
      const written = yield* Effect.result(store.write(ops))
      if (Result.isFailure(written)) {
        // A conflict on an update key: an earlier write reported as failed landed after all
        // (an ambiguous failure). Learn those heads again; the retry skips what is there.
        if (written.failure._tag === "StoreConflict") for (const w of writes) heads.delete(channelKey(w.channelId))
        return yield* fail(written.failure.message)
      }
      for (const [k, h] of newHeads) heads.set(k, h)
    })

  const readChannels = (from: string) =>
    Effect.gen(function*() {
      const entries = yield* store.list(from).pipe(Effect.mapError((e) => fail(e.message)))
      const byChannel = new Map<string, { state: Schema.Json | undefined; updates: Array<MonitorUpdate> }>()
      for (const e of entries) {
        const rest = e.key.slice(from.length)
        const slash = rest.indexOf("/")
        if (slash < 0) continue
        const key = rest.slice(0, slash)
        const kind = rest.slice(slash + 1)
        const ch = byChannel.get(key) ?? { state: undefined, updates: [] }
        byChannel.set(key, ch)
        if (kind === "state") {
          const s = decodeState(e.value)
          if (Result.isFailure(s)) return yield* fail(`bad state for channel ${key}: ${s.failure}`)
          ch.state = s.success
        } else if (kind.startsWith("u/")) {
          const u = decodeUpdate(e.value)
          if (Result.isFailure(u)) return yield* fail(`bad update ${e.key}: ${u.failure}`)
          ch.updates.push(u.success) // keys sort by zero-padded id: in order
        }
      }
      const out: Array<ReplicaChannel> = []
      for (const [key, ch] of byChannel) {
        const channelId = decodeChannelId(key)
        if (Result.isFailure(channelId)) return yield* fail(`bad channel id ${key}`)
        out.push({ channelId: channelId.success, channelState: ch.state, updates: ch.updates })
      }
      return out
    })

  const load = Effect.gen(function*() {
    const channels = yield* readChannels(prefix)
    for (const c of channels) {
      const key = channelKey(c.channelId)
      for (let i = 0; i < c.updates.length; i++)
        if (c.updates[i]?.updateId !== BigInt(i)) return yield* fail(`update log of channel ${key} has a gap at ${i}`)
      heads.set(key, BigInt(c.updates.length) - 1n)
    }
    return channels
  })

  const channelOps = (channelId: ChannelId, archive: boolean) =>
    Effect.gen(function*() {
      const key = channelKey(channelId)
      const entries = yield* store.list(`${prefix}${key}/`).pipe(Effect.mapError((e) => fail(e.message)))
      const ops: Array<StoreOp> = []
      for (const e of entries) {
        ops.push(deleteOp(e.key, e.version))
        if (archive) ops.push(putOp(`${archivePrefix}${e.key.slice(prefix.length)}`, e.value))
      }
      if (ops.length > 0) yield* store.write(ops).pipe(Effect.mapError((e) => fail(e.message)))
      heads.delete(key)
    })

  return {
    name,
    keepsChannelState,
    write,
    load,
    archive: (channelId) => channelOps(channelId, true),
    remove: (channelId) => channelOps(channelId, false)
  }
}
