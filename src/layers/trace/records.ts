/**
 * The data of the records the recording wrappers and the replay layers write, in one place so
 * both write exactly the same JSON (replay compares the lines).
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { Result, type Schema } from "effect"
import { toHex } from "../../protocol/bytes.ts"
import { serializeBlock } from "../../protocol/chain/block.ts"
import type { ChainEvent } from "../../services/ChainSource.ts"
import { MonitorUpdateSchema, type MonitorUpdate } from "../../protocol/monitor/update.ts"
import { MonitorStateSchema, type MonitorState } from "../../protocol/monitor/state.ts"
import { channelStateJson, encodeJsonWith, type ChannelStateValue, type PersistedChannel } from "../../services/MonitorPersister.ts"
import { describeValue } from "../../services/Trace.ts"

/** Actor names of the boundary records. */
export const Actors = {
  entropy: "entropy",
  clock: "clock",
  transport: "transport",
  persister: "persister",
  node: "node"
} as const

export type ClockOp = "millis" | "nanos" | "mono"

export const entropyData = (bytes: Uint8Array): Schema.Json => ({ hex: toHex(bytes) })
export const clockData = (op: ClockOp, value: number | bigint): Schema.Json => ({ op, v: String(value) })
export const timerData = (id: number, ms: number): Schema.Json => ({ id, ms: Number.isFinite(ms) ? ms : String(ms) })
export const bytesData = (conn: number, bytes: Uint8Array): Schema.Json => ({ conn, hex: toHex(bytes) })

const encodeUpdate = encodeJsonWith(MonitorUpdateSchema)
const encodeMonitorState = encodeJsonWith(MonitorStateSchema)
/** A compacted log's monitor snapshot (its Schema's JSON). */
const monitorStateData = (m: MonitorState): Schema.Json => {
  const r = encodeMonitorState(m)
  return Result.isSuccess(r) ? r.success : describeValue(m)
}

/** A persisted write: the updates (their Schema's JSON) and the channel state's SHA-256 and length. */
export const persistData = (id: number, channelId: Uint8Array, updates: ReadonlyArray<MonitorUpdate>, state: ChannelStateValue): Schema.Json => {
  const text = JSON.stringify(channelStateJson(state))
  return {
    id,
    channel: toHex(channelId),
    updates: updates.map((u) => {
      const r = encodeUpdate(u)
      return Result.isSuccess(r) ? r.success : describeValue(u)
    }),
    state: toHex(sha256(new TextEncoder().encode(text))),
    stateLength: text.length
  }
}

const isJsonArray = (data: Schema.JsonArray | Schema.JsonObject): data is Schema.JsonArray => Array.isArray(data)

/** What the persister's `load` gave (the node's start state): each channel's state and update log. */
export const loadData = (channels: ReadonlyArray<PersistedChannel>): Schema.Json => ({
  load: channels.map((c) => ({
    channel: toHex(c.channelId),
    state: c.channelState,
    updates: c.updates.map((u) => {
      const r = encodeUpdate(u)
      return Result.isSuccess(r) ? r.success : describeValue(u)
    }),
    ...(c.monitor === undefined ? {} : { monitor: monitorStateData(c.monitor) }),
    latestUpdateId: c.latestUpdateId.toString()
  }))
})

/** A completion of an `InProgress` write (on the persister's `subscribe`). */
export const completionData = (c: { readonly channelId: Uint8Array; readonly updateId: bigint }): Schema.Json => ({
  channel: toHex(c.channelId),
  updateId: c.updateId.toString()
})

/** Field `name` of a record's data, if the data is an object. */
export const field = (data: Schema.Json, name: string): Schema.Json | undefined => {
  if (data === null || typeof data !== "object" || isJsonArray(data)) return undefined
  return Object.hasOwn(data, name) ? data[name] : undefined
}

export const numberField = (data: Schema.Json, name: string): number | undefined => {
  const v = field(data, name)
  return typeof v === "number" ? v : undefined
}

export const stringField = (data: Schema.Json, name: string): string | undefined => {
  const v = field(data, name)
  return typeof v === "string" ? v : undefined
}

/** A chain event as the node got it (`chain`): whole blocks in their serialized form. */
export const chainEventData = (event: ChainEvent): Schema.Json =>
  event._tag === "BlockConnected"
    ? { op: "connected", height: event.block.header.height, block: toHex(serializeBlock(event.block)) }
    : { op: "disconnected", height: event.header.height, header: toHex(event.header.raw) }
