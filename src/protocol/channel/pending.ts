/**
 * What the payment layer may not have received before a crash, read from a stored state
 * (at-least-once delivery: the `ChannelManager` emits these at restore; consumers dedupe by
 * (channel id, HTLC id)).
 *
 * - `HtlcReceived` is emitted once, when the peer's add becomes irrevocably committed (BOLT 2:
 *   only then may it be forwarded or settled), in the same step as the `CommitmentSecret`
 *   persist; after it, the add's onion is in no update log. `Normal.receivedHtlcs` keeps what
 *   was reported until the HTLC's removal is irrevocably committed.
 * - `HtlcResolved { Fulfilled }` is emitted when the peer's `update_fulfill_htlc` arrives
 *   (BOLT 2: the preimage may be used at once); `fulfilledByPeer` keeps the id, and the fulfill
 *   itself stays in the peer's update log, until it is irrevocably committed.
 */
import type { Types } from "effect"
import type { HtlcDirection } from "../tx/fees.ts"
import { fundingOutput } from "../tx/funding.ts"
import type { ChannelId } from "../units.ts"
import type { ChannelEvent, ChannelOutput } from "./io.ts"
import { type Commitments, type SpecHtlc, idKey } from "./commitments.ts"
import { type ChannelState, paramsOf, type ReceivedHtlc } from "./state.ts"

/**
 * The entries of `received` whose HTLC is still in our current commitment or the peer's (a
 * received HTLC leaves `receivedHtlcs` once its removal is irrevocably committed). `received`
 * itself when every entry stays: a state keeps the same array over the steps that settle none
 * (its JSON encoding is memoized by array, state-json.ts).
 */
export const stillReceived = (c: Commitments, received: ReadonlyArray<ReceivedHtlc>): ReadonlyArray<ReceivedHtlc> => {
  if (received.length === 0) return received
  const local = c.localCommit.spec.htlcs
  const remote = c.remoteCommit.spec.htlcs
  // Few HTLCs (the usual case): each id looked up where it stands. Many, in the order adds make
  // (ids ascending): one merge of the three lists, nothing made. Many otherwise (never in a state
  // this module made): one set of the ids (as `idKey`s: small numbers cost less than bigints).
  const many = received.length * (local.length + remote.length) > DIRECT_LOOKUPS
  if (many && entriesAscending(received) && idsAscending(local, "received") && idsAscending(remote, "offered")) return keptMerging(received, local, remote)
  let ids: Set<number | bigint> | undefined
  if (many) {
    ids = new Set<number | bigint>()
    for (let i = 0; i < local.length; i++) {
      const h = local[i]
      if (h !== undefined && h.direction === "received") ids.add(idKey(h.id))
    }
    for (let i = 0; i < remote.length; i++) {
      const h = remote[i]
      if (h !== undefined && h.direction === "offered") ids.add(idKey(h.id))
    }
  }
  // Nothing copied while every entry stays; then the entries kept, in an array cut to their
  // number (kept in the state: no spare slots, as `push` would leave). (Indexed loops: where V8
  // does not optimize a `for...of` away, it allocates an iterator and a result per element.)
  let kept: Array<ReceivedHtlc> | undefined
  let count = 0
  for (let i = 0; i < received.length; i++) {
    const e = received[i]
    if (e === undefined) continue
    if (ids !== undefined ? ids.has(idKey(e.htlcId)) : inCommitments(c, e.htlcId)) {
      if (kept !== undefined) kept[count] = e
      count++
    } else kept ??= received.slice()
  }
  if (kept === undefined) return received
  kept.length = count
  return kept
}
/** Up to this many (entry, HTLC) pairs the ids are compared directly, without a merge or a set. */
const DIRECT_LOOKUPS = 64

/**
 * `stillReceived`'s answer for three lists whose ids ascend (`entriesAscending`, `idsAscending`):
 * one pass, each commitment's position moving forward only (no set). (The ids are those of adds:
 * BOLT 2 numbers them in order, `reduceSpec` keeps the HTLCs' order and appends, and
 * `receivedHtlcs` is appended to in order.)
 */
const keptMerging = (
  received: ReadonlyArray<ReceivedHtlc>,
  local: ReadonlyArray<SpecHtlc>,
  remote: ReadonlyArray<SpecHtlc>
): ReadonlyArray<ReceivedHtlc> => {
  let kept: Array<ReceivedHtlc> | undefined
  let count = 0
  let l = 0
  let r = 0
  for (let k = 0; k < received.length; k++) {
    const e = received[k]
    if (e === undefined) continue
    const id = e.htlcId
    l = seek(local, l, "received", id)
    r = seek(remote, r, "offered", id)
    if (local[l]?.id === id || remote[r]?.id === id) {
      if (kept !== undefined) kept[count] = e
      count++
    } else kept ??= received.slice()
  }
  if (kept === undefined) return received
  kept.length = count
  return kept
}

/** The position of the first HTLC of `direction` at or after `from` whose id is `id` or above (`htlcs.length`: none). */
const seek = (htlcs: ReadonlyArray<SpecHtlc>, from: number, direction: HtlcDirection, id: bigint): number => {
  let i = from
  for (; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h !== undefined && h.direction === direction && h.id >= id) break
  }
  return i
}

/** Whether the ids of the HTLCs of `direction` strictly ascend. */
const idsAscending = (htlcs: ReadonlyArray<SpecHtlc>, direction: HtlcDirection): boolean => {
  let last = -1n
  for (let i = 0; i < htlcs.length; i++) {
    const h = htlcs[i]
    if (h === undefined || h.direction !== direction) continue
    if (h.id <= last) return false
    last = h.id
  }
  return true
}

/** Whether the entries' HTLC ids strictly ascend. */
const entriesAscending = (received: ReadonlyArray<ReceivedHtlc>): boolean => {
  let last = -1n
  for (let i = 0; i < received.length; i++) {
    const e = received[i]
    if (e === undefined || e.htlcId <= last) return false
    last = e.htlcId
  }
  return true
}

/** Whether the HTLC `id` the peer offered is in our current commitment or theirs. */
const inCommitments = (c: Commitments, id: bigint): boolean => {
  const local = c.localCommit.spec.htlcs
  for (let i = 0; i < local.length; i++) {
    const h = local[i]
    if (h !== undefined && h.direction === "received" && h.id === id) return true
  }
  const remote = c.remoteCommit.spec.htlcs
  for (let i = 0; i < remote.length; i++) {
    const h = remote[i]
    if (h !== undefined && h.direction === "offered" && h.id === id) return true
  }
  return false
}

/**
 * `{ _tag: "HtlcReceived", channelId, ...entry }` written out field by field (same fields, same
 * order; an optional field present with the value undefined is copied, as a spread copies it):
 * V8 copies a spread that follows other properties through a generic path, several times the
 * cost of these stores. One per HTLC received, and again per pending one at a restore.
 */
export const htlcReceivedEvent = (channelId: ChannelId, e: ReceivedHtlc): HtlcReceivedEvent => {
  const event: Types.Mutable<HtlcReceivedEvent> = {
    _tag: "HtlcReceived",
    channelId,
    htlcId: e.htlcId,
    amount: e.amount,
    paymentHash: e.paymentHash,
    cltvExpiry: e.cltvExpiry,
    onion: e.onion
  }
  if ("pathKey" in e) event.pathKey = e.pathKey
  if ("dustExposureExceeded" in e) event.dustExposureExceeded = e.dustExposureExceeded
  return event
}
type HtlcReceivedEvent = Extract<ChannelEvent, { readonly _tag: "HtlcReceived" }>

/**
 * The events a restored channel reports again: `HtlcReceived` for each received HTLC reported
 * and not being settled by us (no fulfill/fail of ours for it in our update log: a settlement
 * dropped at a disconnection makes it pending again), and `HtlcResolved { Fulfilled }` for each
 * of our HTLCs the peer fulfilled whose fulfill is not yet irrevocably committed.
 */
export const pendingEvents = (
  state: ChannelState,
  /** A preimage the monitor holds, for a fulfill the channel no longer has (dropped at a disconnection). */
  knownPreimage: (paymentHash: Uint8Array) => Uint8Array | undefined = () => undefined
): ReadonlyArray<ChannelEvent> => {
  if (state._tag !== "Normal") return []
  const c = state.commitments
  const channelId = c.params.channelId
  const ours = [...c.localChanges.proposed, ...c.localChanges.signed, ...c.localChanges.acked]
  const settling = new Set<bigint>()
  for (const u of ours) if (u._tag === "UpdateFulfillHtlc" || u._tag === "UpdateFailHtlc" || u._tag === "UpdateFailMalformedHtlc") settling.add(u.id)
  const events: Array<ChannelEvent> = []
  // Mutation testing: `?? []` → `?? ["Stryker was here"]` is equivalent (an entry without an
  // `htlcId` is in no commitment, so `stillReceived` drops it).
  for (const e of stillReceived(c, state.receivedHtlcs ?? [])) if (!settling.has(e.htlcId)) events.push(htlcReceivedEvent(channelId, e))
  const theirs = [...c.remoteChanges.proposed, ...c.remoteChanges.acked, ...c.remoteChanges.signed]
  for (const id of state.fulfilledByPeer) {
    const fulfill = theirs.find((u) => u._tag === "UpdateFulfillHtlc" && u.id === id)
    // Our HTLC: offered in our commitment, received in theirs (each spec is its owner's view).
    const offered = c.localCommit.spec.htlcs.find((h) => h.direction === "offered" && h.id === id) ??
      c.remoteCommit.spec.htlcs.find((h) => h.direction === "received" && h.id === id)
    const preimage = fulfill?._tag === "UpdateFulfillHtlc"
      ? fulfill.paymentPreimage
      : offered === undefined ? undefined : knownPreimage(offered.paymentHash)
    if (preimage !== undefined) events.push({ _tag: "HtlcResolved", channelId, htlcId: id, result: { _tag: "Fulfilled", preimage } })
  }
  return events
}

type WatchFundingOutput = Extract<ChannelOutput, { readonly _tag: "WatchFunding" }>

/**
 * The chain watch a restored channel needs again: its funding output, whose depth takes a
 * channel waiting for `channel_ready` to `Normal` and whose spend ends every funded channel. A
 * chain source keeps no memory of what a previous run asked it to watch.
 */
export const restoredWatches = (state: ChannelState): ReadonlyArray<WatchFundingOutput> => {
  if (state._tag !== "WaitChannelReady" && state._tag !== "Normal" && state._tag !== "Negotiating" && state._tag !== "Closing") return []
  const params = paramsOf(state)
  // Mutation testing: this guard and its `[]` are equivalent mutants: every phase let through
  // above has its params (the guard narrows the type for the compiler).
  if (params === undefined) return []
  return [{
    _tag: "WatchFunding",
    outpoint: params.fundingOutpoint,
    scriptPubKey: fundingOutput(params.fundingAmount, params.local.basepoints.fundingPubkey, params.remote.basepoints.fundingPubkey).scriptPubKey,
    minimumDepth: state._tag === "WaitChannelReady" ? state.minimumDepth : 0
  }]
}
