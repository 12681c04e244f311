/**
 * A place the persister writes monitor updates to: the local `Store`, another store, or a
 * remote monitor (watchtower) endpoint. The replicated persister writes to n of them and
 * completes a channel's write when k acknowledged; each replica catches up on its own from
 * the last update it acknowledged.
 */
import { Data, type Effect, type Schema } from "effect"
import { toHex } from "../../protocol/bytes.ts"
import { PersistOutOfOrder } from "../../services/MonitorPersister.ts"
import type { MonitorState } from "../../protocol/monitor/state.ts"
import type { MonitorUpdate } from "../../protocol/monitor/update.ts"
import type { ChannelId } from "../../protocol/units.ts"

/** One channel's part of a replica write. */
export interface ReplicaWrite {
  readonly channelId: ChannelId
  /**
   * Contiguous updates, oldest first. They may start at or before what the replica already
   * holds (a retry after an ambiguous failure): it skips the ones it has, and refuses a gap.
   */
  readonly updates: ReadonlyArray<MonitorUpdate>
  /** The channel state after these updates (kept only by replicas with `keepsChannelState`). */
  readonly channelState: Schema.Json
  /**
   * The state's version: grows with every state the persister records for the channel (also a
   * state written alone, with no update). Stored with the state and given back by `load`, so the
   * newest state is known among replicas whose logs are equally long. Absent: not recorded.
   */
  readonly stateVersion?: bigint
  /**
   * A monitor snapshot (a compacted log) for a replica that lags behind it: a replica whose
   * last update is before `monitor.latestUpdateId` takes it in place of its log and continues
   * with `updates` after it. Absent when the replica needs none.
   */
  readonly monitor?: MonitorState
}

/**
 * Default compaction period: a channel's log is folded into a monitor snapshot once this many
 * updates follow the snapshot (the older updates are dropped in the same atomic write).
 */
export const DEFAULT_COMPACT_EVERY = 16

/**
 * Default bound on the updates the replicated persister keeps in memory per channel for a
 * replica that lags (one down): past it they are replaced by a monitor snapshot the replica
 * catches up from.
 */
export const DEFAULT_MAX_RETAINED = 64

/** The last update id a replica's channel holds (-1: none): its log's last, else its snapshot's. */
export const lastUpdateIdOf = (c: { readonly updates: ReadonlyArray<MonitorUpdate>; readonly monitor?: MonitorState | undefined }): bigint =>
  c.updates.at(-1)?.updateId ?? c.monitor?.latestUpdateId ?? -1n

/** What a replica holds for one channel. */
export interface ReplicaChannel {
  readonly channelId: ChannelId
  /** Undefined on a replica that does not keep channel states. */
  readonly channelState: Schema.Json | undefined
  /** The log after `monitor` (the whole log, `Opened` first, when there is no snapshot). */
  readonly updates: ReadonlyArray<MonitorUpdate>
  /** The monitor snapshot the log was compacted into (at its `latestUpdateId`); undefined before the first compaction. */
  readonly monitor?: MonitorState
  /** The `stateVersion` written with the state (0 when none was). */
  readonly stateVersion?: bigint
}

/** The replica failed or refused a request; the persister retries with backoff. */
export class ReplicaError extends Data.TaggedError("ReplicaError")<{
  readonly replica: string
  readonly reason: string
}> {
  override get message(): string {
    return `replica ${this.replica}: ${this.reason}`
  }
}

export interface MonitorReplica {
  readonly name: string
  /** Whether it stores channel states (a node's own store) or only updates (a watchtower). */
  readonly keepsChannelState: boolean
  /** Applies every channel's write atomically: all of them, or none. */
  readonly write: (writes: ReadonlyArray<ReplicaWrite>) => Effect.Effect<void, ReplicaError>
  /** Every live channel it holds. */
  readonly load: Effect.Effect<ReadonlyArray<ReplicaChannel>, ReplicaError>
  readonly archive: (channelId: ChannelId) => Effect.Effect<void, ReplicaError>
  readonly remove: (channelId: ChannelId) => Effect.Effect<void, ReplicaError>
  /**
   * The monitor state of a channel as this replica holds it (its log folded), at its last update;
   * undefined when it holds none. Optional: the persister asks a state-keeping replica for it
   * to bound what it keeps in memory for a replica that lags (see `maxRetained`).
   */
  readonly monitorOf?: (channelId: ChannelId) => Effect.Effect<MonitorState | undefined, ReplicaError>
  /** True when its writes complete without suspending (over a store in memory: `StoreShape.synchronous`). */
  readonly synchronous?: boolean
}

/**
 * The channel's key: its id in hex, as a FLAT string (kept in maps for the channel's life):
 * `toHex`, which decodes its characters natively into one flat string (no array of char codes
 * spread into `String.fromCharCode`, as this made before).
 */
export const channelKey = (channelId: ChannelId): string => toHex(channelId)

/**
 * Whether update id `id` is the one after `previous`: compared as numbers while `previous + 1` is
 * a safe integer (a channel's ids count up from 0: always), where `previous + 1n` makes a BigInt
 * per update written. Exact: an id that is not `previous + 1` differs from it as a number too
 * (below 2^53 numbers are exact; an id at or above it is a number at or above 2^53).
 */
const follows = (id: bigint, previous: bigint): boolean => {
  const p = Number(previous)
  return p >= -1 && p < Number.MAX_SAFE_INTEGER ? Number(id) === p + 1 : id === previous + 1n
}

/**
 * `PersistOutOfOrder` unless `updates` continue a channel's log whose last update id is `latest`
 * (-1: none), one id after the other; undefined when they do (every persister's order check).
 */
export const checkOrder = (key: string, latest: bigint, updates: ReadonlyArray<MonitorUpdate>): PersistOutOfOrder | undefined => {
  let previous = latest
  for (const u of updates) {
    if (!follows(u.updateId, previous)) return new PersistOutOfOrder({ channel: key, expected: previous + 1n, received: u.updateId })
    previous = u.updateId
  }
  return undefined
}

const HEX_CODES = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0))
/** Whether `hex` is `channelKey(bytes)` (lowercase hex, `toHex`), compared in place: no string made. */
export const isHexOf = (hex: string, bytes: Uint8Array): boolean => {
  const n = bytes.length
  if (hex.length !== 2 * n) return false
  for (let i = 0; i < n; i++) {
    const b = bytes[i] ?? 0
    if (hex.charCodeAt(2 * i) !== HEX_CODES[b >> 4] || hex.charCodeAt(2 * i + 1) !== HEX_CODES[b & 15]) return false
  }
  return true
}
const heldKeys = new WeakMap<Uint8Array, string>()
/**
 * `channelKey`, made once per id array (held weakly) and checked against the array's bytes at
 * each use, so a refilled array is keyed again. A node writes each channel with that channel's
 * own id array, and its writes alternate between its channels: every persister on the write path
 * (the memory persister, the replicated persister's record, the store replica's plan) made the
 * hex again per write (~0.1-0.25 us each), and a fresh key string to hash in each map.
 */
export const heldChannelKey = (channelId: ChannelId): string => {
  const known = heldKeys.get(channelId)
  if (known !== undefined && isHexOf(known, channelId)) return known
  const key = channelKey(channelId)
  heldKeys.set(channelId, key)
  return key
}
