/**
 * What the payment layer keeps in the `Store` (JSON through these Schemas), so that a restart
 * finishes every payment, claim and forward it had started:
 *
 * - `pay/in/<payment hash>`: an invoice we issued (or a keysend we accepted) with its preimage
 *   and secret, and whether it is being claimed or was paid;
 * - `pay/out/<payment id>`: a payment we make, written before its first HTLC leaves, with every
 *   attempt (its route, the onion's shared secrets, the channel and HTLC id once added). While
 *   it is pending, its attempts are kept apart, each under `pay/att/<payment id>/<attempt id>`
 *   (`attemptKey`), and the record's own `attempts` is empty: each change of an attempt (sent,
 *   its HTLC id, its outcome) writes that attempt alone, not the whole record again with every
 *   attempt so far. Its outcome puts them back: a finished payment is one record with every
 *   attempt, and its attempts' keys are deleted in that same write. A record written before
 *   attempts were kept apart (every attempt in it while pending) reads as before
 *   (`withAttemptsApart`);
 * - `pay/fwd/<incoming channel>/<incoming htlc id>`: a forward, written before the outgoing HTLC
 *   is added, with the incoming onion's shared secret to wrap a failure coming back.
 */
import { Schema } from "effect"
import { toHex } from "../bytes.ts"
import { ChannelIdSchema, formatShortChannelId, type ShortChannelId, ShortChannelIdSchema } from "../codec/fields.ts"

const Hex = Schema.Uint8ArrayFromHex
const Hex32 = Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(32, 32)))
const Amount = Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn })))
const HtlcId = Amount

export const RouteHopRecord = Schema.Struct({
  nodeId: Hex,
  shortChannelId: ShortChannelIdSchema,
  amountMsat: Amount,
  cltvExpiry: Schema.Int
})

export const InboundRecordSchema = Schema.Struct({
  paymentHash: Hex32,
  preimage: Hex32,
  paymentSecret: Schema.optional(Hex32),
  amountMsat: Schema.optional(Amount),
  expiresAtSeconds: Schema.optional(Schema.Int),
  minFinalCltvExpiryDelta: Schema.Int,
  invoice: Schema.optional(Schema.String),
  keysend: Schema.Boolean,
  /** "open": accepting parts; "claiming": the claim started (restart: claim every part again); "paid". */
  status: Schema.Literals(["open", "claiming", "paid"]),
  receivedMsat: Amount,
  /** For a payment over a blinded path of ours: the `path_id` its final hop must carry (BOLT 4). */
  pathId: Schema.optional(Hex32),
  /** The HTLCs (`<channel id hex>/<htlc id>`) the claim fulfils: only these are fulfilled again after a restart. */
  claimedParts: Schema.optional(Schema.Array(Schema.String)),
  createdAtSeconds: Schema.Int
})
export type InboundRecord = typeof InboundRecordSchema.Type

export const AttemptRecordSchema = Schema.Struct({
  /** Unique within the payment: the channel's request id is `<payment id>/<attempt id>`. */
  attemptId: Schema.Int,
  hops: Schema.Array(RouteHopRecord),
  sharedSecrets: Schema.Array(Hex32),
  channelId: ChannelIdSchema,
  htlcId: Schema.optional(HtlcId),
  status: Schema.Literals(["inflight", "failed", "fulfilled"]),
  /** Why it failed: "<failure name> at hop <i>", or "unknown" when it could not be read. */
  failure: Schema.optional(Schema.String),
  /** Hold times reported by the hops (BOLT 4 attribution data, units of 100 ms), first hop first, as far as their HMACs verified. */
  holdTimes: Schema.optional(Schema.Array(Schema.Int))
})
export type AttemptRecord = typeof AttemptRecordSchema.Type

export const OutboundRecordSchema = Schema.Struct({
  paymentId: Schema.String,
  paymentHash: Hex32,
  payee: Hex,
  amountMsat: Amount,
  paymentSecret: Schema.optional(Hex32),
  paymentMetadata: Schema.optional(Hex),
  /** Keysend: the preimage we chose (sent in the onion). */
  keysendPreimage: Schema.optional(Hex32),
  /** The BOLT 11 invoice paid (its route hints and features are read again after a restart). */
  invoice: Schema.optional(Schema.String),
  finalCltvDelta: Schema.Int,
  /** Paying to blinded paths (BOLT 4): each `blinded_path` (hex) with its payinfo; `payee` is then a stand-in. */
  blindedPaths: Schema.optional(Schema.Array(Schema.Struct({
    path: Hex,
    feeBaseMsat: Schema.Int,
    feeProportionalMillionths: Schema.Int,
    cltvExpiryDelta: Schema.Int,
    htlcMinimumMsat: Amount,
    htlcMaximumMsat: Amount
  }))),
  /** A blinded payment the recipient lets split (`basic_mpp`): each part carries `total_amount_msat`. */
  blindedMpp: Schema.optional(Schema.Boolean),
  maxFeeMsat: Amount,
  maxCltvExpiryDelta: Schema.Int,
  maxParts: Schema.Int,
  deadlineMillis: Schema.Number,
  status: Schema.Literals(["pending", "succeeded", "failed"]),
  preimage: Schema.optional(Hex32),
  failureReason: Schema.optional(Schema.String),
  attempts: Schema.Array(AttemptRecordSchema),
  nextAttemptId: Schema.Int,
  createdAtMillis: Schema.Number
})
export type OutboundRecord = typeof OutboundRecordSchema.Type

export const ForwardRecordSchema = Schema.Struct({
  inChannelId: ChannelIdSchema,
  inHtlcId: HtlcId,
  inAmountMsat: Amount,
  paymentHash: Hex32,
  sharedSecret: Hex32,
  outChannelId: ChannelIdSchema,
  outAmountMsat: Amount,
  outCltvExpiry: Schema.Int,
  outHtlcId: Schema.optional(HtlcId),
  /** The short channel id the incoming onion named (real or alias): a failure's `channel_update` carries it (BOLT 4). */
  outShortChannelId: Schema.optional(ShortChannelIdSchema),
  /**
   * Relayed inside a blinded route (BOLT 2 "Removing an HTLC"): every failure goes back as
   * `invalid_onion_blinding`, from the introduction node as `update_fail_htlc`, from a node
   * reached with a `path_key` as `update_fail_malformed_htlc` with the incoming onion's hash.
   */
  blinded: Schema.optional(Schema.Struct({ introduction: Schema.Boolean, sha256OfOnion: Hex32 })),
  /** When the incoming HTLC arrived (Clock millis): the hold time we report in attribution data (BOLT 4). */
  receivedAtMillis: Schema.optional(Schema.Number),
  status: Schema.Literals(["forwarding", "fulfilled", "failed"])
})
export type ForwardRecord = typeof ForwardRecordSchema.Type

export const inboundJson = Schema.fromJsonString(InboundRecordSchema)
export const outboundJson = Schema.fromJsonString(OutboundRecordSchema)
export const attemptJson = Schema.fromJsonString(AttemptRecordSchema)
export const forwardJson = Schema.fromJsonString(ForwardRecordSchema)

/** Where a pending payment's attempt is kept apart from its record (a payment id has no `/`). */
export const attemptKey = (paymentId: string, attemptId: number): string => `pay/att/${paymentId}/${attemptId}`
/** The prefix of every attempt kept apart of one payment (`paymentId` given), or of all. */
export const attemptsPrefix = (paymentId?: string): string => (paymentId === undefined ? "pay/att/" : `pay/att/${paymentId}/`)

/** The members of a payment's record but its attempts (kept apart while it is pending) and `nextAttemptId` (follows them). */
export const OUTBOUND_HEAD_MEMBERS: ReadonlyArray<Exclude<keyof OutboundRecord, "attempts" | "nextAttemptId">> = [
  "paymentId",
  "paymentHash",
  "payee",
  "amountMsat",
  "paymentSecret",
  "paymentMetadata",
  "keysendPreimage",
  "invoice",
  "finalCltvDelta",
  "blindedPaths",
  "blindedMpp",
  "maxFeeMsat",
  "maxCltvExpiryDelta",
  "maxParts",
  "deadlineMillis",
  "status",
  "preimage",
  "failureReason",
  "createdAtMillis"
]

/**
 * Whether two states of a payment's record have the same members but attempts (`===`: records are
 * values, a change makes a new one sharing the members it keeps): its record kept apart from its
 * attempts need not be written again.
 */
export const sameOutboundHead = (a: OutboundRecord, b: OutboundRecord): boolean => {
  for (const k of OUTBOUND_HEAD_MEMBERS) if (a[k] !== b[k]) return false
  return true
}

/**
 * A payment as stored: its record with the attempts kept apart (`apart`, any order) put in it.
 * An attempt apart replaces the record's own of the same id (a record written before attempts
 * were kept apart has them in it; after such a store is opened, a change of one is written
 * apart), in attempt id order. `nextAttemptId` is not written again for each attempt apart: it
 * is one past the highest attempt id, or the record's when that is higher.
 */
export const withAttemptsApart = (record: OutboundRecord, apart: ReadonlyArray<AttemptRecord>): OutboundRecord => {
  if (apart.length === 0) return record
  const byId = new Map<number, AttemptRecord>()
  for (const a of record.attempts) byId.set(a.attemptId, a)
  for (const a of apart) byId.set(a.attemptId, a)
  const attempts = [...byId.values()].sort((a, b) => a.attemptId - b.attemptId)
  const last = attempts[attempts.length - 1]
  const nextAttemptId = last === undefined ? record.nextAttemptId : Math.max(record.nextAttemptId, last.attemptId + 1)
  return { ...record, attempts, nextAttemptId }
}

// ---- the stored text, written directly ------------------------------------------------------------
//
// A payment's record is written up to a few times per payment (before its HTLC leaves, at its
// outcome), a claim's and a forward's three times: going through the Schema encoder each time costs
// ~100 us a record. The members a record's later writes repeat are written once (`headCache`).
// These write the same text (the Schemas' field order, optional fields left out when undefined,
// the same number and string forms; a property test compares them with the Schemas' output),
// checking what the types do not say (lengths, ranges, safe integers); a record that fails a
// check goes through the Schema encoder, which names the problem.

/** A value the direct writer does not take (wrong length, out of range): the Schema encoder decides. */
class Unfit {}
const UNFIT = new Unfit()
const U64_MAX = 0xffffffffffffffffn

const jsonString = (s: string): string => JSON.stringify(s)
const jsonHex = (b: Uint8Array): string => `"${toHex(b)}"`
const jsonHex32 = (b: Uint8Array): string => {
  if (b.length !== 32) throw UNFIT
  return jsonHex(b)
}
const jsonAmount = (v: bigint): string => {
  if (v < 0n || v > U64_MAX) throw UNFIT
  return `"${v}"`
}
/** A finite number's JSON text is its `String` (the same shortest round-trip form, -0 as "0"). */
const jsonInt = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw UNFIT
  return String(n)
}
const jsonNumber = (n: number): string => {
  if (!Number.isFinite(n)) throw UNFIT
  return String(n)
}
/** Every `ShortChannelId` formats to what the Schema's pattern takes (block and index are 24 bits, the output 16). */
const jsonScid = (scid: ShortChannelId): string => `"${formatShortChannelId(scid)}"`
const jsonArray = <A>(items: ReadonlyArray<A>, one: (a: A) => string): string => `[${items.map(one).join(",")}]`

/** An object of two runs of members (either may be empty). */
const jsonJoined = (head: string, tail: string): string => `{${head}${head.length > 0 && tail.length > 0 ? "," : ""}${tail}}`

/**
 * The members of a record that its later writes repeat unchanged (a payment's record is written
 * about 3 times with its invoice in it, a claim's 3 times), kept for the last `HEADS` records
 * written, by the record's payment hash array. A hit is checked member by member against the
 * record it was made from (`===` on each member `fields` writes, the record copies share their
 * values and byte arrays; records are values, never changed in place), so a changed field is
 * never written stale. `fields`: each member's name and its text (undefined: left out), in order.
 */
const HEADS = 64
const headCache = <R>(fields: ReadonlyArray<readonly [keyof R & string, (r: R) => string | undefined]>, keyOf: (r: R) => object) => {
  // Walked by index: no tuple destructured per member. The head is `"k":v,...` of the members
  // whose text is not undefined, in the order given.
  const names = fields.map(([k]) => k)
  const texts = fields.map(([, f]) => f)
  const heads = new Map<object, { readonly record: R; readonly text: string }>()
  const same = (a: R, b: R): boolean => {
    for (let i = 0; i < names.length; i++) {
      const k = names[i]
      if (k !== undefined && a[k] !== b[k]) return false
    }
    return true
  }
  return (r: R): string => {
    const key = keyOf(r)
    const known = heads.get(key)
    if (known !== undefined && same(known.record, r)) return known.text
    // Joined, not concatenated: the head is kept (and survives collections), as one flat string
    // rather than a rope of a node and a piece per member.
    const members: Array<string> = []
    for (let i = 0; i < names.length; i++) {
      const v = texts[i]?.(r)
      if (v !== undefined) members.push(`"${names[i]}":${v}`)
    }
    const text = members.join(",")
    heads.delete(key)
    heads.set(key, { record: r, text })
    if (heads.size > HEADS) {
      const oldest = heads.keys().next()
      if (oldest.done !== true) heads.delete(oldest.value)
    }
    return text
  }
}
const opt = <A>(a: A | undefined, f: (a: A) => string): string | undefined => (a === undefined ? undefined : f(a))

// What changes between a record's writes (its tail, its attempts) is written member by member
// in the Schema's order, an optional member only when defined: no list of members built per write.

const hopText = (h: typeof RouteHopRecord.Type): string =>
  `{"nodeId":${jsonHex(h.nodeId)},"shortChannelId":${jsonScid(h.shortChannelId)},"amountMsat":${jsonAmount(h.amountMsat)},"cltvExpiry":${jsonInt(h.cltvExpiry)}}`

/**
 * The members every write of an attempt repeats (its id, route, secrets and channel: all before
 * `htlcId`), by its hops array: an attempt is written about three times (sent, its HTLC id, its
 * outcome), each a copy sharing the route's arrays, and its hops are most of its text.
 */
const attemptHead = headCache<AttemptRecord>([
  ["attemptId", (a) => jsonInt(a.attemptId)],
  ["hops", (a) => jsonArray(a.hops, hopText)],
  ["sharedSecrets", (a) => jsonArray(a.sharedSecrets, jsonHex32)],
  ["channelId", (a) => jsonHex32(a.channelId)]
], (a) => a.hops)

const attemptText = (a: AttemptRecord): string => {
  let s = `{${attemptHead(a)}`
  if (a.htlcId !== undefined) s += `,"htlcId":${jsonAmount(a.htlcId)}`
  s += `,"status":${jsonString(a.status)}`
  if (a.failure !== undefined) s += `,"failure":${jsonString(a.failure)}`
  if (a.holdTimes !== undefined) s += `,"holdTimes":${jsonArray(a.holdTimes, jsonInt)}`
  return `${s}}`
}

type BlindedPathRecord = NonNullable<OutboundRecord["blindedPaths"]>[number]
const blindedPathText = (b: BlindedPathRecord): string =>
  `{"path":${jsonHex(b.path)},"feeBaseMsat":${jsonInt(b.feeBaseMsat)},"feeProportionalMillionths":${jsonInt(b.feeProportionalMillionths)},"cltvExpiryDelta":${jsonInt(b.cltvExpiryDelta)},"htlcMinimumMsat":${jsonAmount(b.htlcMinimumMsat)},"htlcMaximumMsat":${jsonAmount(b.htlcMaximumMsat)}}`

/** The members every write of a payment repeats (all before `status`). */
const outboundHead = headCache<OutboundRecord>([
  ["paymentId", (r) => jsonString(r.paymentId)],
  ["paymentHash", (r) => jsonHex32(r.paymentHash)],
  ["payee", (r) => jsonHex(r.payee)],
  ["amountMsat", (r) => jsonAmount(r.amountMsat)],
  ["paymentSecret", (r) => opt(r.paymentSecret, jsonHex32)],
  ["paymentMetadata", (r) => opt(r.paymentMetadata, jsonHex)],
  ["keysendPreimage", (r) => opt(r.keysendPreimage, jsonHex32)],
  ["invoice", (r) => opt(r.invoice, jsonString)],
  ["finalCltvDelta", (r) => jsonInt(r.finalCltvDelta)],
  ["blindedPaths", (r) => opt(r.blindedPaths, (ps) => jsonArray(ps, blindedPathText))],
  ["blindedMpp", (r) => opt(r.blindedMpp, (b) => (b ? "true" : "false"))],
  ["maxFeeMsat", (r) => jsonAmount(r.maxFeeMsat)],
  ["maxCltvExpiryDelta", (r) => jsonInt(r.maxCltvExpiryDelta)],
  ["maxParts", (r) => jsonInt(r.maxParts)],
  ["deadlineMillis", (r) => jsonNumber(r.deadlineMillis)]
], (r) => r.paymentHash)

const outboundText = (r: OutboundRecord): string => {
  const head = outboundHead(r)
  let tail = `"status":${jsonString(r.status)}`
  if (r.preimage !== undefined) tail += `,"preimage":${jsonHex32(r.preimage)}`
  if (r.failureReason !== undefined) tail += `,"failureReason":${jsonString(r.failureReason)}`
  tail += `,"attempts":${jsonArray(r.attempts, attemptText)},"nextAttemptId":${jsonInt(r.nextAttemptId)},"createdAtMillis":${jsonNumber(r.createdAtMillis)}`
  return jsonJoined(head, tail)
}

/** The members every write of a claim repeats (all before `status`). */
const inboundHead = headCache<InboundRecord>([
  ["paymentHash", (r) => jsonHex32(r.paymentHash)],
  ["preimage", (r) => jsonHex32(r.preimage)],
  ["paymentSecret", (r) => opt(r.paymentSecret, jsonHex32)],
  ["amountMsat", (r) => opt(r.amountMsat, jsonAmount)],
  ["expiresAtSeconds", (r) => opt(r.expiresAtSeconds, jsonInt)],
  ["minFinalCltvExpiryDelta", (r) => jsonInt(r.minFinalCltvExpiryDelta)],
  ["invoice", (r) => opt(r.invoice, jsonString)],
  ["keysend", (r) => (r.keysend ? "true" : "false")]
], (r) => r.paymentHash)

const inboundText = (r: InboundRecord): string => {
  const head = inboundHead(r)
  let tail = `"status":${jsonString(r.status)},"receivedMsat":${jsonAmount(r.receivedMsat)}`
  if (r.pathId !== undefined) tail += `,"pathId":${jsonHex32(r.pathId)}`
  if (r.claimedParts !== undefined) tail += `,"claimedParts":${jsonArray(r.claimedParts, jsonString)}`
  tail += `,"createdAtSeconds":${jsonInt(r.createdAtSeconds)}`
  return jsonJoined(head, tail)
}

/** The members every write of a forward repeats (all before `outHtlcId`), by its incoming onion's shared secret. */
const forwardHead = headCache<ForwardRecord>([
  ["inChannelId", (r) => jsonHex32(r.inChannelId)],
  ["inHtlcId", (r) => jsonAmount(r.inHtlcId)],
  ["inAmountMsat", (r) => jsonAmount(r.inAmountMsat)],
  ["paymentHash", (r) => jsonHex32(r.paymentHash)],
  ["sharedSecret", (r) => jsonHex32(r.sharedSecret)],
  ["outChannelId", (r) => jsonHex32(r.outChannelId)],
  ["outAmountMsat", (r) => jsonAmount(r.outAmountMsat)],
  ["outCltvExpiry", (r) => jsonInt(r.outCltvExpiry)]
], (r) => r.sharedSecret)

const forwardText = (r: ForwardRecord): string => {
  const head = forwardHead(r)
  let tail = ""
  if (r.outHtlcId !== undefined) tail += `,"outHtlcId":${jsonAmount(r.outHtlcId)}`
  if (r.outShortChannelId !== undefined) tail += `,"outShortChannelId":${jsonScid(r.outShortChannelId)}`
  if (r.blinded !== undefined) tail += `,"blinded":{"introduction":${r.blinded.introduction ? "true" : "false"},"sha256OfOnion":${jsonHex32(r.blinded.sha256OfOnion)}}`
  if (r.receivedAtMillis !== undefined) tail += `,"receivedAtMillis":${jsonNumber(r.receivedAtMillis)}`
  tail += `,"status":${jsonString(r.status)}`
  // The tail's leading comma dropped: `jsonJoined` puts one between head and tail.
  return jsonJoined(head, tail.slice(1))
}

const direct = <R>(write: (r: R) => string, schema: (r: R) => string) => (r: R): string => {
  try {
    return write(r)
  } catch (e) {
    if (e === UNFIT) return schema(r)
    throw e
  }
}

/** The stored text of a payment we make: what `Schema.encodeSync(outboundJson)` gives, faster. */
export const encodeOutboundRecord: (r: OutboundRecord) => string = direct(outboundText, Schema.encodeSync(outboundJson))
/** The stored text of an attempt kept apart: what `Schema.encodeSync(attemptJson)` gives, faster. */
export const encodeAttemptRecord: (a: AttemptRecord) => string = direct(attemptText, Schema.encodeSync(attemptJson))
/** The stored text of an invoice of ours: what `Schema.encodeSync(inboundJson)` gives, faster. */
export const encodeInboundRecord: (r: InboundRecord) => string = direct(inboundText, Schema.encodeSync(inboundJson))
/** The stored text of a forward: what `Schema.encodeSync(forwardJson)` gives, faster. */
export const encodeForwardRecord: (r: ForwardRecord) => string = direct(forwardText, Schema.encodeSync(forwardJson))
