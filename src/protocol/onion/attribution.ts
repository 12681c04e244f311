/**
 * Attribution data (BOLT 4 "Returning Errors": initialization, transformation and update of
 * `attribution_data`; "Hold times for successful payments"): 20 big-endian u32 hold times
 * (units of 100 ms) followed by 210 HMACs truncated to 4 bytes, 920 bytes in all, carried in
 * `update_fail_htlc` and `update_fulfill_htlc`.
 *
 * HMAC layout: node x (counted from the node handling the data) has a block of 20 - x entries
 * for the distances y = 19 - x .. 0 to the erring (or final) node. hmac_x_y covers the return
 * packet as that node received it (nothing for a success), the first y + 1 hold times and the
 * y downstream HMACs hmac_j_{y-j}, j = 1..y.
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256Hash } from "../crypto/hash-node.ts"
import { constantTimeEqual, deriveKey, xorStreamInPlace } from "./keys.ts"

export const MAX_HOPS = 20
export const HOLD_TIMES_SIZE = MAX_HOPS * 4
export const TRUNCATED_HMAC_SIZE = 4
export const HMAC_COUNT = (MAX_HOPS * (MAX_HOPS + 1)) / 2
export const ATTRIBUTION_DATA_SIZE = HOLD_TIMES_SIZE + HMAC_COUNT * TRUNCATED_HMAC_SIZE

const blockStart = (x: number): number => MAX_HOPS * x - (x * (x - 1)) / 2
/** Index of hmac_x_y among the 210 HMACs. */
const hmacIndex = (x: number, y: number): number => blockStart(x) + (MAX_HOPS - 1 - x - y)
const hmacOffset = (x: number, y: number): number => HOLD_TIMES_SIZE + hmacIndex(x, y) * TRUNCATED_HMAC_SIZE

/** Writes a hold time (clamped to a u32) big-endian at the start of `data` (no array made for it). */
const writeHoldTime = (data: Uint8Array, holdTime: number): void => {
  const v = Math.max(0, Math.min(0xffffffff, Math.floor(holdTime)))
  data[0] = (v >>> 24) & 0xff
  data[1] = (v >>> 16) & 0xff
  data[2] = (v >>> 8) & 0xff
  data[3] = v & 0xff
}

const readU32 = (b: Uint8Array, at: number): number =>
  (b[at] ?? 0) * 0x1000000 + (((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0))

/** HMAC-SHA256 keyed with `um`, its key already absorbed: each of a node's 20 HMACs starts from a copy of it. */
const keyedUm = (um: Uint8Array) => hmac.create(sha256Hash, um)
type KeyedUm = ReturnType<typeof keyedUm>
/** A copy of a keyed HMAC to compute in. */
const workHmac = (um: KeyedUm) => um.clone()
type WorkHmac = ReturnType<typeof workHmac>
/**
 * The one working copy every node's HMACs are computed in (`_cloneInto` overwrites it from that
 * node's keyed HMAC): no two hash objects and their buffers made per `addAttribution`.
 * Synchronous, never re-entered.
 */
let sharedWork: WorkHmac | undefined

/**
 * Buffers reused by every HMAC (computed synchronously, one at a time): its digest, and the
 * covered hold times and downstream HMACs side by side (one `update`).
 */
const covered = new Uint8Array(HOLD_TIMES_SIZE + (MAX_HOPS - 1) * TRUNCATED_HMAC_SIZE)
const scratch = {
  digest: new Uint8Array(32),
  covered,
  /** What hmac_x_y covers at each distance y: the first y + 1 hold times and y HMACs (views made once). */
  coveredAt: Array.from({ length: MAX_HOPS }, (_, y) => covered.subarray(0, (y + 1) * 4 + y * TRUNCATED_HMAC_SIZE))
}

/**
 * hmac_0_y of `data` (the node's own layout) from the keyed `um` HMAC (not consumed) that has
 * already absorbed the return packet (every HMAC of a node covers it first: absorbed once, not
 * 20 times), computed in `work` (a clone of it, overwritten: `_cloneInto` makes no new hash
 * objects per HMAC). The result (its first 4 bytes are the truncated HMAC) is valid until the
 * next call.
 */
const computeHmac = (um: KeyedUm, work: WorkHmac, data: Uint8Array, y: number): Uint8Array => {
  um._cloneInto(work)
  work.update(coveredBytes(data, y)).digestInto(scratch.digest)
  return scratch.digest
}

/** What hmac_0_y of `data` covers after the return packet, in `scratch.covered` (valid until the next call). */
const coveredBytes = (data: Uint8Array, y: number): Uint8Array => {
  const covered = scratch.covered
  const holdTimes = (y + 1) * 4
  // Copied byte by byte: no subarray view made per field (~200 per hop otherwise).
  for (let k = 0; k < holdTimes; k++) covered[k] = data[k] ?? 0
  for (let j = 1; j <= y; j++) copyTruncatedHmac(data, hmacOffset(j, y - j), covered, holdTimes + (j - 1) * TRUNCATED_HMAC_SIZE)
  return scratch.coveredAt[y] ?? covered.subarray(0, holdTimes + y * TRUNCATED_HMAC_SIZE)
}

/** What the zero hold times and zero HMACs of one more distance add to the covered bytes. */
const ZERO_STEP = new Uint8Array(4 + TRUNCATED_HMAC_SIZE)

/**
 * Every hmac_0_y of fresh data (no downstream data: only this node's hold time is set), written
 * into `data`. hmac_0_y then covers the hold time and 8y zero bytes, each a prefix of the next:
 * `um` (consumed) absorbs them once, a clone of it finished at each length, instead of 20 HMACs
 * hashing the same bytes again. The same values as `computeHmac` at each y (property-tested
 * against BOLT 4's definition).
 */
const writeFreshHmacs = (um: KeyedUm, work: WorkHmac, data: Uint8Array): void => {
  um.update(data.subarray(0, 4))
  for (let y = 0; y < MAX_HOPS; y++) {
    if (y > 0) um.update(ZERO_STEP)
    um._cloneInto(work)
    work.digestInto(scratch.digest)
    copyTruncatedHmac(scratch.digest, 0, data, hmacOffset(0, y))
  }
}

/** Copies the 4 bytes of a truncated HMAC. */
const copyTruncatedHmac = (from: Uint8Array, at: number, to: Uint8Array, toAt: number): void => {
  to[toAt] = from[at] ?? 0
  to[toAt + 1] = from[at + 1] ?? 0
  to[toAt + 2] = from[at + 2] ?? 0
  to[toAt + 3] = from[at + 3] ?? 0
}

/** Shift hold times right by one slot and move every HMAC block one node down, pruning. */
const shift = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ATTRIBUTION_DATA_SIZE)
  out.set(data.subarray(0, HOLD_TIMES_SIZE - 4), 4)
  for (let x = 0; x < MAX_HOPS - 1; x++) {
    for (let y = 0; y <= MAX_HOPS - 2 - x; y++) copyTruncatedHmac(data, hmacOffset(x, y), out, hmacOffset(x + 1, y))
  }
  return out
}

/**
 * The inverse of `shift` on the positions that survive it (the rest are zero). Node x + 1's block
 * is node x's without its first entry (y = 19 - x), in the same order: each block moves back as
 * one run (`copyWithin` in a copy, the first block first: each lands where the one before was),
 * then the entries `shift` pruned (each block's first) are zeroed.
 */
const unshift = (data: Uint8Array): Uint8Array => {
  const out = data.slice(0, ATTRIBUTION_DATA_SIZE)
  out.copyWithin(0, 4, HOLD_TIMES_SIZE)
  out.fill(0, HOLD_TIMES_SIZE - 4, HOLD_TIMES_SIZE)
  for (let x = 0; x < MAX_HOPS - 1; x++) {
    const from = hmacOffset(x + 1, MAX_HOPS - 2 - x)
    out.copyWithin(hmacOffset(x, MAX_HOPS - 2 - x), from, from + (MAX_HOPS - 1 - x) * TRUNCATED_HMAC_SIZE)
  }
  for (let x = 0; x < MAX_HOPS; x++) {
    const at = hmacOffset(x, MAX_HOPS - 1 - x)
    out.fill(0, at, at + TRUNCATED_HMAC_SIZE)
  }
  return out
}

/**
 * Adds this node's hold time and HMACs and obfuscates with its `ammagext` stream.
 * `downstream` is the data received (undefined: none, e.g. this node created the failure or is
 * the final node of a payment, or the next node does not support attribution).
 * `message` is the return packet as received / created (before this node's `ammag` stream),
 * or empty for a successful payment.
 */
export const addAttribution = (
  sharedSecret: Uint8Array,
  holdTime: number,
  message: Uint8Array,
  downstream: Uint8Array | undefined
): Uint8Array => {
  const fresh = downstream === undefined || downstream.length !== ATTRIBUTION_DATA_SIZE
  const data = fresh ? new Uint8Array(ATTRIBUTION_DATA_SIZE) : shift(downstream)
  writeHoldTime(data, holdTime)
  const um = keyedUm(deriveKey("um", sharedSecret))
  // Every HMAC of this node covers the return packet first: absorbed once.
  if (message.length > 0) um.update(message)
  const work = sharedWork ?? (sharedWork = workHmac(um))
  if (fresh) writeFreshHmacs(um, work, data)
  else for (let y = 0; y < MAX_HOPS; y++) copyTruncatedHmac(computeHmac(um, work, data, y), 0, data, hmacOffset(0, y))
  return xorStreamInPlace(deriveKey("ammagext", sharedSecret), data)
}

/** The origin's view of attribution data, hop by hop from the first hop. */
export interface AttributionCheck {
  /** Hold times (units of 100 ms) of the hops whose HMAC verified, first hop first. */
  readonly holdTimes: ReadonlyArray<number>
  /** The first hop whose HMAC did not verify (blame lies with it or its predecessor). */
  readonly firstInvalidHop: number | undefined
}

/**
 * Verifies attribution data at the origin. `messages(i)` is the return packet as hop i
 * received it (empty for a success); `sharedSecrets` are the route's, first hop first.
 * Hop i's HMAC is checked at distance `lastHop - i`, where `lastHop` is the erring node when
 * known, else the route's last hop (HMACs beyond the erring node cover zeros, so both hold).
 * Only the first 20 hops can be covered. Data of the wrong size blames the first hop.
 */
export const verifyAttribution = (
  sharedSecrets: ReadonlyArray<Uint8Array>,
  attributionData: Uint8Array,
  messages: (hop: number) => Uint8Array,
  lastHop: number = sharedSecrets.length - 1
): AttributionCheck => {
  const holdTimes: Array<number> = []
  if (attributionData.length !== ATTRIBUTION_DATA_SIZE) return { holdTimes, firstInvalidHop: 0 }
  const last = Math.min(lastHop, MAX_HOPS - 1, sharedSecrets.length - 1)
  let data: Uint8Array = attributionData.slice()
  for (let i = 0; i <= last; i++) {
    const secret = sharedSecrets[i]
    if (secret === undefined) break
    if (i > 0) data = unshift(data)
    xorStreamInPlace(deriveKey("ammagext", secret), data)
    const y = last - i
    // One HMAC per hop here: computed in the keyed HMAC itself (no working copy).
    const um = keyedUm(deriveKey("um", secret))
    const message = messages(i)
    if (message.length > 0) um.update(message)
    um.update(coveredBytes(data, y)).digestInto(scratch.digest)
    const expected = scratch.digest.subarray(0, TRUNCATED_HMAC_SIZE)
    const at = hmacOffset(0, y)
    if (!constantTimeEqual(expected, data.subarray(at, at + TRUNCATED_HMAC_SIZE))) {
      return { holdTimes, firstInvalidHop: i }
    }
    holdTimes.push(readU32(data, 0))
  }
  return { holdTimes, firstInvalidHop: undefined }
}

/** Success path (`update_fulfill_htlc`): the final node or a forwarding node adds its data. */
export const addSuccessAttribution = (
  sharedSecret: Uint8Array,
  holdTime: number,
  downstream: Uint8Array | undefined
): Uint8Array => addAttribution(sharedSecret, holdTime, new Uint8Array(0), downstream)

/** Success path at the origin: hold times per hop, as far as the HMACs verify. */
export const verifySuccessAttribution = (
  sharedSecrets: ReadonlyArray<Uint8Array>,
  attributionData: Uint8Array
): AttributionCheck => verifyAttribution(sharedSecrets, attributionData, () => new Uint8Array(0))
