/**
 * The public network graph in compact form (BOLT 7), the in-memory engine behind
 * `MemoryNetworkGraph`. Sized for the whole public network (some 17k nodes, 50k channels,
 * 100k updates) in a few tens of MB:
 * - fixed-size facts live in typed arrays, one slot per node / channel / direction (no object
 *   per field or per record);
 * - every accepted message is kept as its raw bytes (what peers get when they query us, and what
 *   is persisted) in one growing byte arena, compacted when half of it is garbage;
 * - lookups go through one `Map` per table (node id as a 33-char latin1 string, scid as bigint).
 *
 * Guarantees: a message is applied whole or not at all (a typed error leaves the graph as it
 * was); every signature is checked before anything is stored, except on `restore` of bytes we
 * stored ourselves. Time is passed in (`now`, seconds), never read.
 *
 * Not thread-safe and not an Effect: the layer owns one instance and calls it synchronously.
 */
import { Result } from "effect"
import { compareBytes, toHex } from "../../protocol/bytes.ts"
import { shortChannelIdFromParts, type ShortChannelId } from "../../protocol/codec/fields.ts"
import { channelUpdateChecksum } from "../../protocol/gossip/digest.ts"
import {
  DuplicateChannel,
  type GossipError,
  MalformedGossip,
  UnknownChannel,
  UnknownNode
} from "../../protocol/gossip/errors.ts"
import { checkNodeAnnouncementIsNewer, checkUpdateIsNewer, isStaleChannel } from "../../protocol/gossip/rules.ts"
import {
  checkChannelAnnouncement,
  checkNodeAnnouncement,
  decodeAlias,
  decodeChannelAnnouncement,
  decodeChannelUpdate,
  decodeNodeAnnouncement,
  DEFAULT_MAX_FUTURE_SECONDS,
  type GossipContext,
  unknownEvenFeatures,
  unroutableReason,
  updateDirection,
  usableAddresses,
  verifyChannelUpdate
} from "../../protocol/gossip/validate.ts"
import type {
  ChannelView,
  DirectionView,
  GossipApplied,
  NodeAnnouncementView,
  NodeView,
  RangeEntry
} from "../../protocol/gossip/views.ts"
import { ChannelAnnouncement, ChannelUpdate, CHANNEL_FLAG_DISABLE, NodeAnnouncement } from "../../protocol/messages/gossip.ts"

export interface CompactGraphOptions {
  readonly context: GossipContext
  readonly maxFutureSeconds?: number
  /** Initial slot counts (grown by doubling). */
  readonly nodeCapacity?: number
  readonly channelCapacity?: number
}

// ---- internals ------------------------------------------------------------------------------------

const NO_OFFSET = 0xffffffff
const FLAG_UNKNOWN_EVEN = 1
const FLAG_NO_FORWARD = 2
const FLAG_ALIAS_INVALID = 4
const FLAG_LIVE = 8

// channel_announcement fixed tail after features: chain_hash 32, scid 8, 4 points of 33.
const ANN_FEATURES_LEN_AT = 2 + 256

const keyOf = (bytes: Uint8Array, at = 0): string => {
  let s = ""
  for (let i = at; i < at + 33; i++) s += String.fromCharCode(bytes[i] ?? 0)
  return s
}

/** A typed array of at least `n` elements holding `a`'s (`a` itself when it is long enough). */
const grow = <T extends { readonly length: number; set(source: T): void }>(a: T, n: number, make: (n: number) => T): T => {
  if (a.length >= n) return a
  const b = make(Math.max(n, Math.ceil(a.length * 1.5) + 16))
  b.set(a)
  return b
}

/** A u64 as a short channel id (every u64 is one: block, tx index, output). */
const toScid = (v: bigint): ShortChannelId => shortChannelIdFromParts(Number(v >> 40n), Number((v >> 16n) & 0xffffffn), Number(v & 0xffffn))

const PAGE_SIZE = 1 << 20 // 1 MiB: larger than any message (65,535 bytes at most)

/**
 * The raw messages: 1 MiB pages filled in order (a record never spans two pages), so growing
 * never copies and wastes less than a page. A record is found by its offset
 * (`page * PAGE_SIZE + position`) and length, kept by the tables.
 */
class Arena {
  pages: Array<Uint8Array> = []
  /** Bytes of records written (live and garbage). */
  used = 0
  garbage = 0
  private at = PAGE_SIZE // position in the last page
  add(bytes: Uint8Array): number {
    if (this.at + bytes.length > PAGE_SIZE) {
      this.pages.push(new Uint8Array(PAGE_SIZE))
      this.at = 0
    }
    const page = this.pages[this.pages.length - 1]
    if (page === undefined) throw new Error("unreachable: no page")
    page.set(bytes, this.at)
    const offset = (this.pages.length - 1) * PAGE_SIZE + this.at
    this.at += bytes.length
    this.used += bytes.length
    return offset
  }
  get(offset: number, length: number): Uint8Array {
    const page = this.pages[Math.floor(offset / PAGE_SIZE)]
    const at = offset % PAGE_SIZE
    return page === undefined ? new Uint8Array(0) : page.subarray(at, at + length)
  }
  get allocated(): number {
    return this.pages.length * PAGE_SIZE
  }
}

export class CompactGraph {
  private readonly ctx: GossipContext
  private readonly maxFuture: number
  private arena = new Arena()

  // nodes
  private nodeCount = 0
  private nodeFree: Array<number> = []
  private readonly nodeIndex = new Map<string, number>()
  private nodeKeys: Uint8Array
  private nodeChannels: Uint32Array
  private nodeAnnTs: Uint32Array
  private nodeAnnOff: Uint32Array
  private nodeAnnLen: Uint16Array
  private nodeFlags: Uint8Array

  // channels
  private chanCount = 0
  private chanFree: Array<number> = []
  private readonly chanIndex = new Map<ShortChannelId, number>()
  private scids: BigUint64Array
  private node1: Uint32Array
  private node2: Uint32Array
  private capacity: Float64Array
  private annOff: Uint32Array
  private annLen: Uint16Array
  private chanFlags: Uint8Array
  private announcedAt: Uint32Array
  // directions: slot 2 * channel + direction
  private updTs: Uint32Array
  private updOff: Uint32Array
  private updLen: Uint16Array
  private msgFlags: Uint8Array
  private chFlags: Uint8Array
  private cltv: Uint16Array
  private htlcMin: BigUint64Array
  private htlcMax: BigUint64Array
  private feeBase: Uint32Array
  private feePpm: Uint32Array

  private sorted: Array<ShortChannelId> | undefined
  /** Bumped on every change: readers cache on it. */
  version = 0

  constructor(options: CompactGraphOptions) {
    this.ctx = options.context
    this.maxFuture = options.maxFutureSeconds ?? DEFAULT_MAX_FUTURE_SECONDS
    const n = options.nodeCapacity ?? 1024
    const c = options.channelCapacity ?? 2048
    this.nodeKeys = new Uint8Array(n * 33)
    this.nodeChannels = new Uint32Array(n)
    this.nodeAnnTs = new Uint32Array(n)
    this.nodeAnnOff = new Uint32Array(n).fill(NO_OFFSET)
    this.nodeAnnLen = new Uint16Array(n)
    this.nodeFlags = new Uint8Array(n)
    this.scids = new BigUint64Array(c)
    this.node1 = new Uint32Array(c)
    this.node2 = new Uint32Array(c)
    this.capacity = new Float64Array(c)
    this.annOff = new Uint32Array(c)
    this.annLen = new Uint16Array(c)
    this.chanFlags = new Uint8Array(c)
    this.announcedAt = new Uint32Array(c)
    this.updTs = new Uint32Array(2 * c)
    this.updOff = new Uint32Array(2 * c).fill(NO_OFFSET)
    this.updLen = new Uint16Array(2 * c)
    this.msgFlags = new Uint8Array(2 * c)
    this.chFlags = new Uint8Array(2 * c)
    this.cltv = new Uint16Array(2 * c)
    this.htlcMin = new BigUint64Array(2 * c)
    this.htlcMax = new BigUint64Array(2 * c)
    this.feeBase = new Uint32Array(2 * c)
    this.feePpm = new Uint32Array(2 * c)
  }

  get nodes(): number {
    return this.nodeIndex.size
  }
  get channels(): number {
    return this.chanIndex.size
  }
  /** Bytes of raw messages held (live and garbage) in the arena. */
  get arenaBytes(): { readonly used: number; readonly garbage: number; readonly allocated: number } {
    return { used: this.arena.used, garbage: this.arena.garbage, allocated: this.arena.allocated }
  }

  /** Bytes held in typed arrays and message pages (the Maps' keys and entries are extra, a few MB). */
  get memoryBytes(): number {
    const arrays = [
      this.nodeKeys, this.nodeChannels, this.nodeAnnTs, this.nodeAnnOff, this.nodeAnnLen, this.nodeFlags,
      this.scids, this.node1, this.node2, this.capacity, this.annOff, this.annLen, this.chanFlags, this.announcedAt,
      this.updTs, this.updOff, this.updLen, this.msgFlags, this.chFlags, this.cltv, this.htlcMin, this.htlcMax, this.feeBase, this.feePpm
    ]
    return arrays.reduce((n, a) => n + a.byteLength, 0) + this.arena.allocated
  }

  // ---- slots --------------------------------------------------------------------------------------

  private ensureNodes(n: number): void {
    if (this.nodeChannels.length >= n) return
    const cap = Math.max(n, Math.ceil(this.nodeChannels.length * 1.5) + 16)
    this.nodeKeys = grow(this.nodeKeys, cap * 33, (k) => new Uint8Array(k))
    this.nodeChannels = grow(this.nodeChannels, cap, (k) => new Uint32Array(k))
    this.nodeAnnTs = grow(this.nodeAnnTs, cap, (k) => new Uint32Array(k))
    const old = this.nodeAnnOff.length
    this.nodeAnnOff = grow(this.nodeAnnOff, cap, (k) => new Uint32Array(k))
    this.nodeAnnOff.fill(NO_OFFSET, old)
    this.nodeAnnLen = grow(this.nodeAnnLen, cap, (k) => new Uint16Array(k))
    this.nodeFlags = grow(this.nodeFlags, cap, (k) => new Uint8Array(k))
  }

  private ensureChannels(c: number): void {
    if (this.scids.length >= c) return
    const cap = Math.max(c, Math.ceil(this.scids.length * 1.5) + 16)
    this.scids = grow(this.scids, cap, (k) => new BigUint64Array(k))
    this.node1 = grow(this.node1, cap, (k) => new Uint32Array(k))
    this.node2 = grow(this.node2, cap, (k) => new Uint32Array(k))
    this.capacity = grow(this.capacity, cap, (k) => new Float64Array(k))
    this.annOff = grow(this.annOff, cap, (k) => new Uint32Array(k))
    this.annLen = grow(this.annLen, cap, (k) => new Uint16Array(k))
    this.chanFlags = grow(this.chanFlags, cap, (k) => new Uint8Array(k))
    this.announcedAt = grow(this.announcedAt, cap, (k) => new Uint32Array(k))
    const old = this.updOff.length
    this.updTs = grow(this.updTs, 2 * cap, (k) => new Uint32Array(k))
    this.updOff = grow(this.updOff, 2 * cap, (k) => new Uint32Array(k))
    this.updOff.fill(NO_OFFSET, old)
    this.updLen = grow(this.updLen, 2 * cap, (k) => new Uint16Array(k))
    this.msgFlags = grow(this.msgFlags, 2 * cap, (k) => new Uint8Array(k))
    this.chFlags = grow(this.chFlags, 2 * cap, (k) => new Uint8Array(k))
    this.cltv = grow(this.cltv, 2 * cap, (k) => new Uint16Array(k))
    this.htlcMin = grow(this.htlcMin, 2 * cap, (k) => new BigUint64Array(k))
    this.htlcMax = grow(this.htlcMax, 2 * cap, (k) => new BigUint64Array(k))
    this.feeBase = grow(this.feeBase, 2 * cap, (k) => new Uint32Array(k))
    this.feePpm = grow(this.feePpm, 2 * cap, (k) => new Uint32Array(k))
  }

  private nodeSlot(key: string, id: Uint8Array): number {
    const known = this.nodeIndex.get(key)
    if (known !== undefined) return known
    const slot = this.nodeFree.pop() ?? this.nodeCount++
    this.ensureNodes(slot + 1)
    this.nodeKeys.set(id, slot * 33)
    this.nodeChannels[slot] = 0
    this.nodeAnnTs[slot] = 0
    this.nodeAnnOff[slot] = NO_OFFSET
    this.nodeAnnLen[slot] = 0
    this.nodeFlags[slot] = 0
    this.nodeIndex.set(key, slot)
    return slot
  }

  private dropNodeRef(slot: number): void {
    const n = (this.nodeChannels[slot] ?? 1) - 1
    this.nodeChannels[slot] = n
    if (n > 0) return
    // BOLT 7: a node without channels MAY be purged; we do (its announcement goes too).
    this.freeRecord(this.nodeAnnOff[slot] ?? NO_OFFSET, this.nodeAnnLen[slot] ?? 0)
    this.nodeAnnOff[slot] = NO_OFFSET
    this.nodeAnnLen[slot] = 0
    this.nodeIndex.delete(keyOf(this.nodeKeys, slot * 33))
    this.nodeFree.push(slot)
  }

  private freeRecord(offset: number, length: number): void {
    if (offset !== NO_OFFSET) this.arena.garbage += length
  }

  private store(bytes: Uint8Array): number {
    return this.arena.add(bytes)
  }

  // ---- apply ----------------------------------------------------------------------------------------

  /** Applies one gossip message (raw, type included): `channel_announcement`, `node_announcement` or `channel_update`. */
  apply(
    raw: Uint8Array,
    now: number,
    options?: { readonly capacitySat?: bigint | undefined; readonly signaturesVerified?: boolean | undefined }
  ): Result.Result<GossipApplied, GossipError> {
    const type = raw.length >= 2 ? ((raw[0] ?? 0) << 8) | (raw[1] ?? 0) : -1
    switch (type) {
      case ChannelAnnouncement.type:
        return this.applyChannelAnnouncement(raw, now, options?.capacitySat, options?.signaturesVerified === true)
      case NodeAnnouncement.type:
        return this.applyNodeAnnouncement(raw, now)
      case ChannelUpdate.type:
        return this.applyChannelUpdate(raw, now)
      default:
        return Result.fail(new MalformedGossip({ message: "unknown", error: `not an announcement (type ${type})` }))
    }
  }

  /**
   * BOLT 7 `channel_announcement`: checked (`checkChannelAnnouncement`), then stored with both
   * nodes. `signaturesVerified`: the caller verified these exact bytes' four signatures
   * (`verifyChannelAnnouncement`, e.g. before looking up the funding output), so every other
   * check runs but the signatures are not verified twice.
   */
  applyChannelAnnouncement(raw: Uint8Array, now: number, capacitySat?: bigint, signaturesVerified = false): Result.Result<GossipApplied, GossipError> {
    const checked = signaturesVerified ? this.decodeUnverified(raw) : checkChannelAnnouncement(this.ctx, raw, (m) => this.knownChannel(m))
    if (Result.isFailure(checked)) return Result.fail(checked.failure)
    const m = checked.success.message
    this.insertChannel(raw, m, now, capacitySat, checked.success.unknownEvenFeatures.length > 0)
    return Result.succeed({ _tag: "ChannelAdded", shortChannelId: m.shortChannelId, forward: true })
  }

  /** `checkChannelAnnouncement` without the signatures (verified by the caller). */
  private decodeUnverified(raw: Uint8Array): Result.Result<{ readonly message: ChannelAnnouncement; readonly unknownEvenFeatures: ReadonlyArray<number> }, GossipError> {
    const decoded = decodeChannelAnnouncement(this.ctx, raw)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    const known = this.knownChannel(decoded.success)
    if (known !== undefined) return Result.fail(known)
    return Result.succeed({ message: decoded.success, unknownEvenFeatures: unknownEvenFeatures(decoded.success.features) })
  }

  private knownChannel(m: ChannelAnnouncement): DuplicateChannel | undefined {
    const known = this.chanIndex.get(m.shortChannelId)
    if (known === undefined) return undefined
    const k1 = this.nodeKeys.subarray((this.node1[known] ?? 0) * 33, (this.node1[known] ?? 0) * 33 + 33)
    const k2 = this.nodeKeys.subarray((this.node2[known] ?? 0) * 33, (this.node2[known] ?? 0) * 33 + 33)
    const conflicting = compareBytes(k1, m.nodeId1) !== 0 || compareBytes(k2, m.nodeId2) !== 0
    return new DuplicateChannel({ shortChannelId: m.shortChannelId, conflicting })
  }

  /** The channel slot an update is for, if it is newer than the last one of its direction. */
  private updateTarget(u: ChannelUpdate, raw: Uint8Array): Result.Result<number, GossipError> {
    const c = this.chanIndex.get(u.shortChannelId)
    if (c === undefined) return Result.fail(new UnknownChannel({ shortChannelId: u.shortChannelId }))
    const slot = 2 * c + updateDirection(u)
    const prevOff = this.updOff[slot] ?? NO_OFFSET
    const newer = checkUpdateIsNewer(
      u.shortChannelId,
      u.timestamp,
      raw,
      prevOff === NO_OFFSET ? undefined : { timestamp: this.updTs[slot] ?? 0, raw: this.arena.get(prevOff, this.updLen[slot] ?? 0) }
    )
    return Result.isFailure(newer) ? Result.fail(newer.failure) : Result.succeed(c)
  }

  /** The node slot a node_announcement is for, if the node has a channel and the timestamp is newer. */
  private nodeTarget(m: NodeAnnouncement): Result.Result<number, GossipError> {
    const known = this.nodeIndex.get(keyOf(m.nodeId))
    if (known === undefined) return Result.fail(new UnknownNode({ nodeId: toHex(m.nodeId) }))
    const prev = (this.nodeAnnOff[known] ?? NO_OFFSET) === NO_OFFSET ? undefined : this.nodeAnnTs[known]
    const newer = checkNodeAnnouncementIsNewer(m.timestamp, prev)
    return Result.isFailure(newer) ? Result.fail(newer.failure) : Result.succeed(known)
  }

  /**
   * Every check of `apply` except the signatures, changing nothing: lets a caller drop stale,
   * duplicate, unknown and malformed gossip cheaply before queueing it for `apply` (which checks
   * again, the graph may have changed meanwhile, then verifies the signatures).
   */
  precheck(raw: Uint8Array, now: number): Result.Result<void, GossipError> {
    const type = raw.length >= 2 ? ((raw[0] ?? 0) << 8) | (raw[1] ?? 0) : -1
    switch (type) {
      case ChannelAnnouncement.type: {
        const m = decodeChannelAnnouncement(this.ctx, raw)
        if (Result.isFailure(m)) return Result.fail(m.failure)
        const dup = this.knownChannel(m.success)
        return dup === undefined ? Result.void : Result.fail(dup)
      }
      case NodeAnnouncement.type: {
        const m = decodeNodeAnnouncement(raw, now, this.maxFuture)
        if (Result.isFailure(m)) return Result.fail(m.failure)
        const target = this.nodeTarget(m.success)
        return Result.isFailure(target) ? Result.fail(target.failure) : Result.void
      }
      case ChannelUpdate.type: {
        const u = decodeChannelUpdate(this.ctx, raw, now, this.maxFuture)
        if (Result.isFailure(u)) return Result.fail(u.failure)
        const target = this.updateTarget(u.success, raw)
        return Result.isFailure(target) ? Result.fail(target.failure) : Result.void
      }
      default:
        return Result.fail(new MalformedGossip({ message: "unknown", error: `not an announcement (type ${type})` }))
    }
  }

  private insertChannel(raw: Uint8Array, m: ChannelAnnouncement, now: number, capacitySat: bigint | undefined, unknownEven: boolean): void {
    const n1 = this.nodeSlot(keyOf(m.nodeId1), m.nodeId1)
    const n2 = this.nodeSlot(keyOf(m.nodeId2), m.nodeId2)
    this.nodeChannels[n1] = (this.nodeChannels[n1] ?? 0) + 1
    this.nodeChannels[n2] = (this.nodeChannels[n2] ?? 0) + 1
    const c = this.chanFree.pop() ?? this.chanCount++
    this.ensureChannels(c + 1)
    this.scids[c] = m.shortChannelId
    this.node1[c] = n1
    this.node2[c] = n2
    this.capacity[c] = capacitySat === undefined ? Number.NaN : Number(capacitySat)
    this.annOff[c] = this.store(raw)
    this.annLen[c] = raw.length
    this.chanFlags[c] = FLAG_LIVE | (unknownEven ? FLAG_UNKNOWN_EVEN : 0)
    this.announcedAt[c] = now
    for (const d of [0, 1]) {
      this.updOff[2 * c + d] = NO_OFFSET
      this.updLen[2 * c + d] = 0
      this.updTs[2 * c + d] = 0
    }
    this.chanIndex.set(m.shortChannelId, c)
    this.sorted = undefined
    this.version++
  }

  /**
   * BOLT 7 `channel_update`: `decodeChannelUpdate`'s checks, a known channel (else
   * `UnknownChannel`), newer than the last one of that direction (`checkUpdateIsNewer`), then the
   * signature by the direction's node.
   */
  applyChannelUpdate(raw: Uint8Array, now: number): Result.Result<GossipApplied, GossipError> {
    const decoded = decodeChannelUpdate(this.ctx, raw, now, this.maxFuture)
    if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
    const u = decoded.success
    const target = this.updateTarget(u, raw)
    if (Result.isFailure(target)) return Result.fail(target.failure)
    const c = target.success
    const d = updateDirection(u)
    const slot = 2 * c + d
    const prevOff = this.updOff[slot] ?? NO_OFFSET
    const prevLen = this.updLen[slot] ?? 0
    const n1 = (this.node1[c] ?? 0) * 33
    const n2 = (this.node2[c] ?? 0) * 33
    const verified = verifyChannelUpdate(this.ctx, raw, u, this.nodeKeys.subarray(n1, n1 + 33), this.nodeKeys.subarray(n2, n2 + 33))
    if (Result.isFailure(verified)) return Result.fail(verified.failure)
    this.freeRecord(prevOff, prevLen)
    this.updOff[slot] = this.store(raw)
    this.updLen[slot] = raw.length
    this.setPolicy(slot, u)
    this.version++
    this.maybeCompact()
    return Result.succeed({ _tag: "ChannelUpdated", shortChannelId: u.shortChannelId, direction: d, forward: true })
  }

  private setPolicy(slot: number, u: ChannelUpdate): void {
    this.updTs[slot] = u.timestamp
    this.msgFlags[slot] = u.messageFlags
    this.chFlags[slot] = u.channelFlags
    this.cltv[slot] = u.cltvExpiryDelta
    this.htlcMin[slot] = u.htlcMinimumMsat
    this.htlcMax[slot] = u.htlcMaximumMsat
    this.feeBase[slot] = u.feeBaseMsat
    this.feePpm[slot] = u.feeProportionalMillionths
  }

  /**
   * BOLT 7 `node_announcement`: only for a node with a known channel (else `UnknownNode`), with
   * a timestamp newer than the last one, then `checkNodeAnnouncement`'s checks (signature,
   * addresses, alias).
   */
  applyNodeAnnouncement(raw: Uint8Array, now: number): Result.Result<GossipApplied, GossipError> {
    let slot = -1
    const checked = checkNodeAnnouncement(this.ctx, raw, now, this.maxFuture, (m) => {
      const target = this.nodeTarget(m)
      if (Result.isFailure(target)) return target.failure
      slot = target.success
      return undefined
    })
    if (Result.isFailure(checked)) return Result.fail(checked.failure)
    const c = checked.success
    this.freeRecord(this.nodeAnnOff[slot] ?? NO_OFFSET, this.nodeAnnLen[slot] ?? 0)
    this.nodeAnnOff[slot] = this.store(raw)
    this.nodeAnnLen[slot] = raw.length
    this.nodeAnnTs[slot] = c.message.timestamp
    this.nodeFlags[slot] =
      (c.unknownEvenFeatures.length > 0 ? FLAG_UNKNOWN_EVEN : 0) | (c.forward ? 0 : FLAG_NO_FORWARD) | (c.aliasValid ? 0 : FLAG_ALIAS_INVALID)
    this.version++
    this.maybeCompact()
    return Result.succeed({ _tag: "NodeUpdated", nodeId: c.message.nodeId, forward: c.forward })
  }

  // ---- removal and pruning ----------------------------------------------------------------------------

  /** Forgets a channel (funding spent, BOLT 7 "Pruning the Network View"); nodes left without channels go too. */
  removeChannel(scid: ShortChannelId): boolean {
    const c = this.chanIndex.get(scid)
    if (c === undefined) return false
    this.chanIndex.delete(scid)
    this.freeRecord(this.annOff[c] ?? NO_OFFSET, this.annLen[c] ?? 0)
    for (const d of [0, 1]) {
      this.freeRecord(this.updOff[2 * c + d] ?? NO_OFFSET, this.updLen[2 * c + d] ?? 0)
      this.updOff[2 * c + d] = NO_OFFSET
      this.updLen[2 * c + d] = 0
    }
    this.chanFlags[c] = 0
    this.dropNodeRef(this.node1[c] ?? 0)
    this.dropNodeRef(this.node2[c] ?? 0)
    this.chanFree.push(c)
    this.sorted = undefined
    this.version++
    this.maybeCompact()
    return true
  }

  /** BOLT 7 "Pruning Stale Entries": removes every channel `isStaleChannel` at `now`; the removed ids. */
  prune(now: number, staleAfter?: number): ReadonlyArray<ShortChannelId> {
    const stale: Array<ShortChannelId> = []
    for (const [scid, c] of this.chanIndex) {
      const ts = (d: number): number | undefined => ((this.updOff[2 * c + d] ?? NO_OFFSET) === NO_OFFSET ? undefined : this.updTs[2 * c + d])
      if (isStaleChannel(now, this.announcedAt[c] ?? 0, [ts(0), ts(1)], staleAfter)) stale.push(scid)
    }
    for (const scid of stale) this.removeChannel(scid)
    return stale
  }

  /** Rewrites the arena without garbage once garbage is over half of it. */
  private maybeCompact(): void {
    if (this.arena.garbage < 1 << 20 || this.arena.garbage * 2 < this.arena.used) return
    this.compact()
  }

  compact(): void {
    const old = this.arena
    const next = new Arena()
    for (const c of this.chanIndex.values()) {
      this.annOff[c] = next.add(old.get(this.annOff[c] ?? 0, this.annLen[c] ?? 0))
      for (const d of [0, 1]) {
        const off = this.updOff[2 * c + d] ?? NO_OFFSET
        if (off !== NO_OFFSET) this.updOff[2 * c + d] = next.add(old.get(off, this.updLen[2 * c + d] ?? 0))
      }
    }
    for (const n of this.nodeIndex.values()) {
      const off = this.nodeAnnOff[n] ?? NO_OFFSET
      if (off !== NO_OFFSET) this.nodeAnnOff[n] = next.add(old.get(off, this.nodeAnnLen[n] ?? 0))
    }
    this.arena = next
  }

  // ---- reads ----------------------------------------------------------------------------------------

  private direction(slot: number, capacitySat: bigint | undefined): DirectionView | undefined {
    if ((this.updOff[slot] ?? NO_OFFSET) === NO_OFFSET) return undefined
    const htlcMinimumMsat = this.htlcMin[slot] ?? 0n
    const htlcMaximumMsat = this.htlcMax[slot] ?? 0n
    const channelFlags = this.chFlags[slot] ?? 0
    return {
      timestamp: this.updTs[slot] ?? 0,
      messageFlags: this.msgFlags[slot] ?? 0,
      channelFlags,
      cltvExpiryDelta: this.cltv[slot] ?? 0,
      htlcMinimumMsat,
      htlcMaximumMsat,
      feeBaseMsat: this.feeBase[slot] ?? 0,
      feeProportionalMillionths: this.feePpm[slot] ?? 0,
      enabled: (channelFlags & CHANNEL_FLAG_DISABLE) === 0,
      unroutable: unroutableReason({ htlcMinimumMsat, htlcMaximumMsat }, capacitySat)
    }
  }

  private nodeId(slot: number): Uint8Array {
    return this.nodeKeys.slice(slot * 33, slot * 33 + 33)
  }

  private channelAt(c: number): ChannelView {
    const cap = this.capacity[c] ?? Number.NaN
    const capacitySat = Number.isNaN(cap) ? undefined : BigInt(cap)
    const off = this.annOff[c] ?? 0
    const raw = this.arena.get(off, this.annLen[c] ?? 0)
    // bitcoin keys are the last 66 bytes of the announcement's known fields.
    const flen = ((raw[ANN_FEATURES_LEN_AT] ?? 0) << 8) | (raw[ANN_FEATURES_LEN_AT + 1] ?? 0)
    const keysAt = ANN_FEATURES_LEN_AT + 2 + flen + 32 + 8 + 66
    return {
      shortChannelId: toScid(this.scids[c] ?? 0n),
      nodeId1: this.nodeId(this.node1[c] ?? 0),
      nodeId2: this.nodeId(this.node2[c] ?? 0),
      bitcoinKey1: raw.slice(keysAt, keysAt + 33),
      bitcoinKey2: raw.slice(keysAt + 33, keysAt + 66),
      capacitySat,
      unknownEvenFeatures: ((this.chanFlags[c] ?? 0) & FLAG_UNKNOWN_EVEN) !== 0,
      announcedAt: this.announcedAt[c] ?? 0,
      directions: [this.direction(2 * c, capacitySat), this.direction(2 * c + 1, capacitySat)]
    }
  }

  hasChannel(scid: ShortChannelId): boolean {
    return this.chanIndex.has(scid)
  }

  /**
   * For a peer's `gossip_timestamp_filter` (BOLT 7): the stored messages with a timestamp in
   * `[first, first + range)`, a page at a time (at most `limit` channels from `cursor` on, in
   * slot order). Per channel: its `channel_announcement` (its timestamp is that of its newest
   * update; never sent without an update) before its updates, then the `node_announcement`s of
   * its nodes in range, each node once per page. `next` is the cursor of the next page.
   */
  timeRange(first: number, range: number, cursor = 0, limit = 1000): { readonly messages: ReadonlyArray<Uint8Array>; readonly next: number | undefined } {
    const end = first + range
    const inRange = (t: number): boolean => t >= first && t < end
    const messages: Array<Uint8Array> = []
    const nodesSent = new Set<number>()
    let c = cursor
    let channels = 0
    for (; c < this.chanCount && channels < limit; c++) {
      if (((this.chanFlags[c] ?? 0) & FLAG_LIVE) === 0) continue
      channels++
      const has = (d: number): boolean => (this.updOff[2 * c + d] ?? NO_OFFSET) !== NO_OFFSET
      const ts = (d: number): number => (has(d) ? (this.updTs[2 * c + d] ?? 0) : -1)
      const newest = Math.max(ts(0), ts(1))
      if (newest >= 0 && inRange(newest)) messages.push(this.arena.get(this.annOff[c] ?? 0, this.annLen[c] ?? 0).slice())
      for (const d of [0, 1]) if (has(d) && inRange(ts(d))) messages.push(this.arena.get(this.updOff[2 * c + d] ?? 0, this.updLen[2 * c + d] ?? 0).slice())
      for (const n of [this.node1[c] ?? 0, this.node2[c] ?? 0]) {
        const off = this.nodeAnnOff[n] ?? NO_OFFSET
        if (off === NO_OFFSET || nodesSent.has(n) || !inRange(this.nodeAnnTs[n] ?? 0)) continue
        nodesSent.add(n)
        messages.push(this.arena.get(off, this.nodeAnnLen[n] ?? 0).slice())
      }
    }
    return { messages, next: c < this.chanCount ? c : undefined }
  }

  channel(scid: ShortChannelId): ChannelView | undefined {
    const c = this.chanIndex.get(scid)
    return c === undefined ? undefined : this.channelAt(c)
  }

  /** Every channel, in no particular order. */
  *allChannels(): Generator<ChannelView> {
    for (const c of this.chanIndex.values()) yield this.channelAt(c)
  }

  private nodeAt(slot: number): NodeView {
    const off = this.nodeAnnOff[slot] ?? NO_OFFSET
    let announcement: NodeAnnouncementView | undefined
    if (off !== NO_OFFSET) {
      const decoded = NodeAnnouncement.decode(this.arena.get(off, this.nodeAnnLen[slot] ?? 0))
      if (Result.isSuccess(decoded)) {
        const m = decoded.success
        const alias = decodeAlias(m.alias)
        const flags = this.nodeFlags[slot] ?? 0
        const usable = usableAddresses(m.addresses.addresses)
        announcement = {
          timestamp: m.timestamp,
          features: m.features,
          rgbColor: m.rgbColor,
          alias: alias.text,
          aliasValid: alias.valid,
          addresses: usable.addresses,
          forward: (flags & FLAG_NO_FORWARD) === 0,
          unknownEvenFeatures: (flags & FLAG_UNKNOWN_EVEN) !== 0
        }
      }
    }
    return { nodeId: this.nodeId(slot), channels: this.nodeChannels[slot] ?? 0, announcement }
  }

  node(nodeId: Uint8Array): NodeView | undefined {
    if (nodeId.length !== 33) return undefined
    const slot = this.nodeIndex.get(keyOf(nodeId))
    return slot === undefined ? undefined : this.nodeAt(slot)
  }

  *allNodes(): Generator<NodeView> {
    for (const slot of this.nodeIndex.values()) yield this.nodeAt(slot)
  }

  /** True when a node announced unknown even features (BOLT 7: MUST NOT route through it). */
  nodeHasUnknownEvenFeatures(nodeId: Uint8Array): boolean {
    const slot = this.nodeIndex.get(keyOf(nodeId))
    return slot !== undefined && ((this.nodeFlags[slot] ?? 0) & FLAG_UNKNOWN_EVEN) !== 0
  }

  private sortedScids(): Array<ShortChannelId> {
    if (this.sorted === undefined) this.sorted = [...this.chanIndex.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return this.sorted
  }

  /**
   * For `reply_channel_range`: the channels whose funding block is in
   * `[firstBlock, firstBlock + numberOfBlocks)`, ascending, with their updates' timestamps and checksums.
   */
  channelRange(firstBlock: number, numberOfBlocks: number): ReadonlyArray<RangeEntry> {
    const all = this.sortedScids()
    const lo = BigInt(firstBlock) << 40n
    const hi = (BigInt(firstBlock) + BigInt(numberOfBlocks)) << 40n
    // binary search the first id >= lo
    let a = 0
    let b = all.length
    while (a < b) {
      const mid = (a + b) >>> 1
      if ((all[mid] ?? 0n) < lo) a = mid + 1
      else b = mid
    }
    const out: Array<RangeEntry> = []
    for (let i = a; i < all.length; i++) {
      const scid = all[i]
      if (scid === undefined || scid >= hi) break
      const c = this.chanIndex.get(scid)
      if (c === undefined) continue
      const part = (d: number): [number, number] => {
        const off = this.updOff[2 * c + d] ?? NO_OFFSET
        return off === NO_OFFSET ? [0, 0] : [this.updTs[2 * c + d] ?? 0, channelUpdateChecksum(this.arena.get(off, this.updLen[2 * c + d] ?? 0))]
      }
      const p0 = part(0)
      const p1 = part(1)
      out.push({ shortChannelId: scid, timestamps: [p0[0], p1[0]], checksums: [p0[1], p1[1]] })
    }
    return out
  }

  /** The stored raw messages of a channel (copies), for answering `query_short_channel_ids`. */
  channelMessages(scid: ShortChannelId): {
    readonly announcement: Uint8Array
    readonly updates: readonly [Uint8Array | undefined, Uint8Array | undefined]
    readonly nodeAnnouncements: readonly [Uint8Array | undefined, Uint8Array | undefined]
  } | undefined {
    const c = this.chanIndex.get(scid)
    if (c === undefined) return undefined
    const upd = (d: number): Uint8Array | undefined => {
      const off = this.updOff[2 * c + d] ?? NO_OFFSET
      return off === NO_OFFSET ? undefined : this.arena.get(off, this.updLen[2 * c + d] ?? 0).slice()
    }
    const nann = (slot: number): Uint8Array | undefined => {
      const off = this.nodeAnnOff[slot] ?? NO_OFFSET
      return off === NO_OFFSET ? undefined : this.arena.get(off, this.nodeAnnLen[slot] ?? 0).slice()
    }
    return {
      announcement: this.arena.get(this.annOff[c] ?? 0, this.annLen[c] ?? 0).slice(),
      updates: [upd(0), upd(1)],
      nodeAnnouncements: [nann(this.node1[c] ?? 0), nann(this.node2[c] ?? 0)]
    }
  }

  // ---- persistence ----------------------------------------------------------------------------------

  /**
   * Every stored message as one byte string: records `[u8 kind][u32 extra][f64 capacity][u16 len][bytes]`
   * (kind 1: channel_announcement, extra = announcedAt; kind 2: channel_update; kind 3: node_announcement).
   */
  serialize(): Uint8Array {
    let size = 0
    for (const c of this.chanIndex.values()) {
      size += 15 + (this.annLen[c] ?? 0)
      for (const d of [0, 1]) if ((this.updOff[2 * c + d] ?? NO_OFFSET) !== NO_OFFSET) size += 15 + (this.updLen[2 * c + d] ?? 0)
    }
    for (const n of this.nodeIndex.values()) if ((this.nodeAnnOff[n] ?? NO_OFFSET) !== NO_OFFSET) size += 15 + (this.nodeAnnLen[n] ?? 0)
    const out = new Uint8Array(size)
    const view = new DataView(out.buffer)
    let at = 0
    const put = (kind: number, extra: number, cap: number, off: number, len: number): void => {
      view.setUint8(at, kind)
      view.setUint32(at + 1, extra)
      view.setFloat64(at + 5, cap)
      view.setUint16(at + 13, len)
      out.set(this.arena.get(off, len), at + 15)
      at += 15 + len
    }
    // announcements first, so a restore sees each channel before its updates and nodes.
    for (const c of this.chanIndex.values()) put(1, this.announcedAt[c] ?? 0, this.capacity[c] ?? Number.NaN, this.annOff[c] ?? 0, this.annLen[c] ?? 0)
    for (const c of this.chanIndex.values()) {
      for (const d of [0, 1]) {
        const off = this.updOff[2 * c + d] ?? NO_OFFSET
        if (off !== NO_OFFSET) put(2, 0, 0, off, this.updLen[2 * c + d] ?? 0)
      }
    }
    for (const n of this.nodeIndex.values()) {
      const off = this.nodeAnnOff[n] ?? NO_OFFSET
      if (off !== NO_OFFSET) put(3, 0, 0, off, this.nodeAnnLen[n] ?? 0)
    }
    return out
  }

  /**
   * Loads what `serialize` wrote (our own bytes: decoded but signatures not re-checked).
   * Records that do not decode are skipped and counted.
   */
  restore(bytes: Uint8Array): { readonly loaded: number; readonly skipped: number } {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let at = 0
    let loaded = 0
    let skipped = 0
    while (at + 15 <= bytes.length) {
      const kind = view.getUint8(at)
      const extra = view.getUint32(at + 1)
      const cap = view.getFloat64(at + 5)
      const len = view.getUint16(at + 13)
      const raw = bytes.subarray(at + 15, at + 15 + len)
      at += 15 + len
      if (raw.length !== len) {
        skipped++
        break
      }
      if (this.restoreOne(kind, extra, cap, raw)) loaded++
      else skipped++
    }
    return { loaded, skipped }
  }

  private restoreOne(kind: number, announcedAt: number, cap: number, raw: Uint8Array): boolean {
    if (kind === 1) {
      const m = ChannelAnnouncement.decode(raw)
      if (Result.isFailure(m) || this.chanIndex.has(m.success.shortChannelId)) return false
      const unknownEven = unknownEvenFeatures(m.success.features).length > 0
      // a damaged capacity (not a whole number of satoshi) is dropped, not trusted
      this.insertChannel(raw, m.success, announcedAt, Number.isSafeInteger(cap) && cap >= 0 ? BigInt(cap) : undefined, unknownEven)
      return true
    }
    if (kind === 2) {
      const u = ChannelUpdate.decode(raw)
      if (Result.isFailure(u)) return false
      const c = this.chanIndex.get(u.success.shortChannelId)
      if (c === undefined) return false
      const slot = 2 * c + updateDirection(u.success)
      this.freeRecord(this.updOff[slot] ?? NO_OFFSET, this.updLen[slot] ?? 0)
      this.updOff[slot] = this.store(raw)
      this.updLen[slot] = raw.length
      this.setPolicy(slot, u.success)
      this.version++
      return true
    }
    if (kind === 3) {
      const m = NodeAnnouncement.decode(raw)
      if (Result.isFailure(m)) return false
      const slot = this.nodeIndex.get(keyOf(m.success.nodeId))
      if (slot === undefined) return false
      const usable = usableAddresses(m.success.addresses.addresses)
      const alias = decodeAlias(m.success.alias)
      this.freeRecord(this.nodeAnnOff[slot] ?? NO_OFFSET, this.nodeAnnLen[slot] ?? 0)
      this.nodeAnnOff[slot] = this.store(raw)
      this.nodeAnnLen[slot] = raw.length
      this.nodeAnnTs[slot] = m.success.timestamp
      this.nodeFlags[slot] =
        (unknownEvenFeatures(m.success.features).length > 0 ? FLAG_UNKNOWN_EVEN : 0) | (usable.forward ? 0 : FLAG_NO_FORWARD) | (alias.valid ? 0 : FLAG_ALIAS_INVALID)
      this.version++
      return true
    }
    return false
  }
}
