/**
 * A `MonitorReplica` over a `Store`: the node's own disk (files store) or any other store.
 *
 * Keys, under `prefix` (default `monitor/`), per channel (id in hex):
 *   `<prefix><channel>/state`          the channel state (JSON), if the replica keeps states
 *   `<prefix><channel>/blob/<id>`      a long string of that state (an HTLC's onion), written once
 *   `<prefix><channel>/u/<updateId>`   one monitor update (Schema JSON), id zero-padded to 20 digits
 *   `<prefix><channel>/snap`           the monitor snapshot (`MonitorState` Schema JSON), if compacted
 *   `<prefix><channel>/rv/<index>`     revoked commitments of the snapshot, from `index` on (written once)
 * Compaction: once `compactEvery` updates follow the snapshot, a write folds them (and its own
 * new updates) into a new snapshot, puts it and deletes the folded update keys, in the same
 * atomic `Store.write`: a crash leaves the old log or the new snapshot, both loadable, and an
 * acknowledged update is always in one of them. A write carrying a snapshot (`ReplicaWrite.monitor`,
 * a lagging replica catching up) replaces an older log with it the same way.
 * Revoked commitments (BOLT 5 justice data: a revoked commitment can be broadcast at any time, so
 * every one that had HTLCs is kept) only grow, one or two per payment: the snapshot does not
 * carry them again at every compaction. A compaction writes the entries added since the last
 * one as a chunk `rv/<index of its first entry>` (compare-and-set "absent": never overwritten),
 * and the snapshot's text starts with a header (a 0x03 byte, the number of entries held in
 * chunks in decimal, a newline) and holds only the entries after them (none, when this replica
 * wrote the chunks). Chunks, snapshot and the deleted update keys are one atomic write. A snapshot
 * without the header holds every entry (the older form, still read). At load the chunks must
 * be contiguous from 0 and add up to the header's count.
 * The log as this replica last wrote it (snapshot, updates after it, entries in chunks) is kept
 * in memory for the channels written lately (bounded), so a compaction folds it without reading
 * and decoding the store; a failed write forgets the channels it held (the next compaction reads
 * the store).
 * Long strings: a state is written whole at every persist, and most of its bytes are the onions
 * of the HTLCs in flight (1,366 bytes, 2,732 in hex, each), which do not change while the HTLC
 * lives. So every string of at least `BLOB_MIN_LENGTH` characters is written once under its own
 * key and the state refers to it (`{"$blob": id}`, the state's text then starts with a 0x01
 * byte); a blob no longer referenced is deleted in the write that stops referring to it. The
 * state, its new blobs and the deletions are one atomic write, so a state never refers to a
 * missing blob. A state holding an object with a `$blob` key of its own is written whole.
 * A state written with a `stateVersion` starts with a header: a 0x02 byte, the version in
 * decimal, a newline; the state's bytes (either form) follow. `load` gives the version back (0
 * for a state without the header).
 * Archived channels move under `<archivePrefix>` (default `archive/`) with the same layout.
 * A replica write is ONE `Store.write` for every channel in it (the persister groups channels),
 * so a channel's state and its updates are never apart. Update keys are written with
 * compare-and-set "absent": a log entry is never overwritten.
 */
import { Effect, Result, Schema } from "effect"
import { ChannelIdSchema } from "../../protocol/codec/fields.ts"
import { toHex } from "../../protocol/bytes.ts"
import { foldAccepted } from "../../protocol/monitor/apply.ts"
import { secretStoreHex } from "../../protocol/keys/shachain.ts"
import {
  ChannelParamsSchema,
  type ChannelParams
} from "../../protocol/channel/params.ts"
import {
  type CounterpartyCommitment,
  type HolderCommitment,
  type MonitorHtlc,
  type MonitorState,
  MonitorStateSchema,
  type RevokedCommitment
} from "../../protocol/monitor/state.ts"
import { MonitorUpdateSchema, type MonitorUpdate } from "../../protocol/monitor/update.ts"
import type { ChannelId } from "../../protocol/units.ts"
import { deleteOp, givenPutOp, putOp, type StoreEntry, type StoreOp, type StoreShape } from "../../services/Store.ts"
import { channelKey, DEFAULT_COMPACT_EVERY, heldChannelKey, ReplicaError, type MonitorReplica, type ReplicaChannel, type ReplicaWrite } from "./replica.ts"

export interface StoreReplicaOptions {
  readonly name?: string
  readonly prefix?: string
  readonly archivePrefix?: string
  /** Default true; false for a replica that only keeps updates (a watchtower). */
  readonly keepsChannelState?: boolean
  /** Fold the log into a snapshot once this many updates follow it (default `DEFAULT_COMPACT_EVERY`; 0: never). */
  readonly compactEvery?: number
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
const holderCommitmentJson = (c: HolderCommitment): JsonObject => ({
  commitmentNumber: c.commitmentNumber.toString(),
  feeratePerKw: c.feeratePerKw,
  toLocal: c.toLocal.toString(),
  toRemote: c.toRemote.toString(),
  htlcs: htlcsJson(c.htlcs),
  counterpartySignature: toHex(c.counterpartySignature),
  counterpartyHtlcSignatures: c.counterpartyHtlcSignatures.map(toHex)
})
const counterpartyCommitmentJson = (c: CounterpartyCommitment): JsonObject => ({
  commitmentNumber: c.commitmentNumber.toString(),
  perCommitmentPoint: toHex(c.perCommitmentPoint),
  feeratePerKw: c.feeratePerKw,
  toLocal: c.toLocal.toString(),
  toRemote: c.toRemote.toString(),
  htlcs: htlcsJson(c.htlcs),
  txid: toHex(c.txid)
})
const revokedJson = (r: RevokedCommitment): JsonObject => ({ commitmentNumber: r.commitmentNumber.toString(), txid: toHex(r.txid), htlcs: htlcsJson(r.htlcs) })

/**
 * The JSON value of an update, as `Schema.encodeSync(MonitorUpdateSchema)` gives it (same keys,
 * same order, same strings; tested on whole channel lives), written out for the updates of every
 * commitment dance (commitments, secrets, preimages); undefined for the rarer ones, which go
 * through the Schema (`encodeUpdate`).
 */
export const encodeHotUpdate = (u: MonitorUpdate): Schema.Json | undefined => {
  switch (u._tag) {
    case "HolderCommitment":
      return { _tag: u._tag, updateId: u.updateId.toString(), commitment: holderCommitmentJson(u.commitment) }
    case "CounterpartyCommitment":
      return { _tag: u._tag, updateId: u.updateId.toString(), commitment: counterpartyCommitmentJson(u.commitment) }
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

/** Strings at least this long in a channel state are stored once as blobs (an onion in hex is 2,732). */
export const BLOB_MIN_LENGTH = 1024
/** The first byte of a state text that refers to blobs (no JSON text starts with it). */
const BLOB_FORMAT = 0x01

const isBlobRef = (v: unknown): v is { readonly $blob: string } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.hasOwn(v, "$blob")

/** Whether the quote at `at` is escaped (an odd number of backslashes before it). */
const escapedAt = (text: string, at: number): boolean => {
  let n = 0
  for (let i = at - 1; i >= 0 && text.charCodeAt(i) === 0x5c; i--) n++
  return n % 2 === 1
}

/**
 * Splits `text` (the JSON text of one value, from a plain `JSON.stringify`) at its string values
 * of at least `BLOB_MIN_LENGTH` characters: text, value, text, ..., text (an odd count; one piece
 * when there is none), each value as its literal without the quotes. A string followed by ':' is
 * a key and stays.
 */
const splitLongStrings = (text: string): ReadonlyArray<string> => {
  if (text.length < BLOB_MIN_LENGTH + 2) return [text]
  const pieces: Array<string> = []
  let from = 0
  let at = 0
  for (;;) {
    const open = text.indexOf('"', at)
    if (open < 0) break
    let close = text.indexOf('"', open + 1)
    while (close > 0 && escapedAt(text, close)) close = text.indexOf('"', close + 1)
    if (close < 0) break // unreachable: JSON.stringify closes every string
    if (close - open - 1 >= BLOB_MIN_LENGTH && text.charCodeAt(close + 1) !== 0x3a /* ':' : a key stays */) {
      pieces.push(text.slice(from, open), text.slice(open + 1, close))
      from = close + 1
    }
    at = close + 1
  }
  if (from === 0) return [text]
  pieces.push(text.slice(from))
  return pieces
}

/**
 * A state's bytes as they are built: the walk's text written in (UTF-8; ASCII, nearly all of
 * it, byte by byte) and the cached bytes of frozen parts copied in, in one buffer reused from
 * one state to the next (the result is an exact-size copy). Before, the texts were joined into
 * one string and the whole of it encoded again at every write, unchanged parts included.
 */
class StateBytes {
  private buf: Uint8Array
  private at = 0
  constructor(buf: Uint8Array) {
    this.buf = buf
  }
  /** Room for `n` more bytes. */
  private ensure(n: number): void {
    if (this.at + n <= this.buf.length) return
    const grown = new Uint8Array(Math.max(2 * this.buf.length, this.at + n))
    grown.set(this.buf.subarray(0, this.at))
    this.buf = grown
  }
  text(s: string): void {
    const n = s.length
    this.ensure(n)
    const buf = this.buf
    let at = this.at
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        // not ASCII: the rest through the encoder (JSON text has no lone surrogate: they are escaped)
        const rest = s.slice(i)
        this.at = at
        this.ensure(3 * rest.length)
        this.at += utf8.encodeInto(rest, this.buf.subarray(this.at)).written
        return
      }
      buf[at++] = c
    }
    this.at = at
  }
  /**
   * Writes the JSON literal of `s` (what `JSON.stringify` gives) when it needs no escape and is
   * ASCII (printable, neither `"` nor `\\`): true; else false, nothing written.
   */
  plainString(s: string): boolean {
    const n = s.length
    this.ensure(n + 2)
    const buf = this.buf
    let at = this.at
    buf[at++] = 0x22
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false
      buf[at++] = c
    }
    buf[at++] = 0x22
    this.at = at
    return true
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.at)
    this.at += b.length
  }
  /** The bytes written (a copy: the buffer is used again). */
  result(): Uint8Array {
    return this.buf.slice(0, this.at)
  }
  /** The buffer, to reuse (undefined when it grew past `SCRATCH_KEEP`: a rare large state does not stay in memory). */
  release(): Uint8Array | undefined {
    return this.buf.length <= SCRATCH_KEEP ? this.buf : undefined
  }
}
const SCRATCH_KEEP = 256 * 1024
/** The buffer states are built in (undefined while one is being built: a nested build takes its own). */
let scratch: Uint8Array | undefined = new Uint8Array(16 * 1024)

/** Writes a blob reference (`{"$blob":"<id>"}`) for the long string value `literal`. */
const writeBlobRef = (literal: string, refer: (literal: string) => string, out: StateBytes): void =>
  out.text(`{"$blob":${JSON.stringify(refer(literal))}}`)

/**
 * The text of a frozen part of a state as UTF-8 bytes, cut at its long string values
 * (`splitLongStrings`): `texts` around them (one more than `literals`), the values kept as
 * string objects (`literals`: the blob maps find them by their cached hash), so a part's text is
 * made, scanned and encoded once, not at every write; and whether it holds `"$blob"`.
 */
interface PartText {
  readonly texts: ReadonlyArray<Uint8Array>
  readonly literals: ReadonlyArray<string>
  readonly blobKey: boolean
}

/**
 * Texts of the frozen parts of states, by object. The channel record's encoder shares its parts
 * between consecutive states and freezes them (`state-json.ts`: params, commitments, update
 * messages, the signer's parameters), so most of a state's text was already made by the last
 * write of the same channel. Bounded: two generations of at most half `PART_TEXTS_CAPACITY`
 * each (a full young one becomes the old one, the old one is dropped; a part found in the old
 * one moves to the young one), so it holds the parts of the channels written lately, never
 * every channel's, and drops no entry one by one (a `Map` dropping its oldest key at every
 * insert scanned the holes the earlier drops left). A frozen part never changes, so a held
 * text is what `JSON.stringify` gives again.
 */
const PART_TEXTS_CAPACITY = 2048
/** The UTF-8 bytes of each of `strings`: views of one buffer when they are ASCII (one allocation, not one per piece). */
const encodePieces = (strings: ReadonlyArray<string>): ReadonlyArray<Uint8Array> => {
  if (strings.length === 1) return [utf8.encode(strings[0] ?? "")]
  const joined = strings.join("")
  const bytes = utf8.encode(joined)
  if (bytes.length !== joined.length) return strings.map((p) => utf8.encode(p))
  const views: Array<Uint8Array> = []
  let at = 0
  for (const p of strings) {
    views.push(bytes.subarray(at, at + p.length))
    at += p.length
  }
  return views
}
let partTextsYoung = new Map<object, PartText>()
let partTextsOld = new Map<object, PartText>()
const partText = (part: object): PartText => {
  const held = partTextsYoung.get(part)
  if (held !== undefined) return held
  let entry = partTextsOld.get(part)
  if (entry === undefined) {
    const text = JSON.stringify(part)
    const pieces = splitLongStrings(text)
    const strings: Array<string> = []
    const literals: Array<string> = []
    for (let i = 0; i < pieces.length; i++) (i % 2 === 0 ? strings : literals).push(pieces[i] ?? "")
    entry = { texts: encodePieces(strings), literals, blobKey: text.includes('"$blob"') }
  }
  if (partTextsYoung.size >= PART_TEXTS_CAPACITY / 2) {
    partTextsOld = partTextsYoung
    partTextsYoung = new Map()
  }
  partTextsYoung.set(part, entry)
  return entry
}

/**
 * Key literals (`"key":`), by key: a state's keys are a few names written at every persist.
 * Undefined for a key whose literal holds `"$blob"`. Bounded: keys beyond the bound are written
 * out each time.
 */
const KEY_TEXTS_CAPACITY = 1024
const keyTexts = new Map<string, string | undefined>()
const keyText = (k: string): string | undefined => {
  const held = keyTexts.get(k)
  if (held !== undefined || keyTexts.has(k)) return held
  const key = JSON.stringify(k)
  const text = key.includes('"$blob"') ? undefined : `${key}:`
  if (keyTexts.size < KEY_TEXTS_CAPACITY) keyTexts.set(k, text)
  return text
}

/**
 * Writes the text of `v` to `out`, its long string values as blob references: frozen parts from
 * `partTexts`, the rest walked (the walk writes what `JSON.stringify` writes: keys in its order,
 * keys holding `undefined` left out, `null` for `undefined` in an array). False when the text
 * holds `"$blob"` (then nothing is usable).
 */
const pushStateText = (v: unknown, refer: (literal: string) => string, out: StateBytes): boolean => {
  if (typeof v === "string") {
    // a short plain string is its own literal, written as it is (`"$blob"` is the only one holding `"$blob"`)
    if (v.length < BLOB_MIN_LENGTH && v !== "$blob" && out.plainString(v)) return true
    const literal = JSON.stringify(v)
    if (literal.length - 2 < BLOB_MIN_LENGTH) {
      if (literal.includes('"$blob"')) return false
      out.text(literal)
      return true
    }
    if (literal.includes('"$blob"')) return false
    // a string that needs no escaping is its own literal (and keeps its cached hash in `refer`'s maps)
    writeBlobRef(literal.length === v.length + 2 ? v : literal.slice(1, -1), refer, out)
    return true
  }
  if (typeof v === "number") {
    // what JSON.stringify writes for a number (-0 as 0, a non-finite one as null)
    out.text(Number.isFinite(v) ? String(v) : "null")
    return true
  }
  if (typeof v !== "object" || v === null) {
    out.text(JSON.stringify(v) ?? "null")
    return true
  }
  if (Object.isFrozen(v)) {
    const part = partText(v)
    if (part.blobKey) return false
    const { texts, literals } = part
    out.bytes(texts[0] ?? empty)
    for (let i = 0; i < literals.length; i++) {
      writeBlobRef(literals[i] ?? "", refer, out)
      out.bytes(texts[i + 1] ?? empty)
    }
    return true
  }
  if (Array.isArray(v)) {
    out.text("[")
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.text(",")
      const x: unknown = v[i]
      if (!pushStateText(x === undefined || typeof x === "function" ? null : x, refer, out)) return false
    }
    out.text("]")
    return true
  }
  out.text("{")
  let first = true
  for (const k of Object.keys(v)) {
    const x: unknown = Reflect.get(v, k)
    if (x === undefined || typeof x === "function") continue
    const key = keyText(k)
    if (key === undefined) return false
    if (first) first = false
    else out.text(",")
    out.text(key)
    if (!pushStateText(x, refer, out)) return false
  }
  out.text("}")
  return true
}
const empty = new Uint8Array(0)

/**
 * A state's stored bytes with its long strings as blob references: `refer(literal)` gives the id
 * of each (an existing one, or a new one it records), `literal` being the string's JSON text
 * without its quotes (what the blob holds). Undefined when the state's text has a `"$blob"` key
 * of its own (then it is stored whole, with `encodeState`). Each string value of at least
 * `BLOB_MIN_LENGTH` characters (in JSON text) is replaced; the bytes are what one plain
 * `JSON.stringify` gives with those cut out, UTF-8 encoded (tested against that), made from the
 * cached bytes of the state's frozen parts and a walk of the rest. `header` is put before the
 * format byte.
 */
export const encodeStateWithBlobs = (s: Schema.Json, refer: (literal: string) => string, header = ""): Uint8Array | undefined => {
  const out = new StateBytes(scratch ?? new Uint8Array(16 * 1024))
  scratch = undefined
  try {
    out.text(header)
    out.text("\u0001")
    return pushStateText(s, refer, out) ? out.result() : undefined
  } finally {
    scratch = out.release()
  }
}

/** The first byte of a state with a version header (`0x02`, the version in decimal, `\n`). */
const VERSION_FORMAT = 0x02

/** A state's stored bytes with its version header. */
const stateVersionHeader = (version: bigint): string => `\u0002${version.toString()}\n`
export const withStateVersion = (version: bigint, bytes: Uint8Array): Uint8Array => {
  const header = utf8.encode(stateVersionHeader(version))
  const out = new Uint8Array(header.length + bytes.length)
  out.set(header, 0)
  out.set(bytes, header.length)
  return out
}

/** A stored state's version (0 without a header) and its bytes after the header. */
export const splitStateVersion = (bytes: Uint8Array): { readonly version: bigint; readonly body: Uint8Array } | undefined => {
  if (bytes[0] !== VERSION_FORMAT) return { version: 0n, body: bytes }
  const end = bytes.indexOf(0x0a)
  if (end < 2 || end > 22) return undefined
  const digits = fromUtf8.decode(bytes.subarray(1, end))
  if (!/^[0-9]+$/.test(digits)) return undefined
  return { version: BigInt(digits), body: bytes.subarray(end + 1) }
}

/**
 * A stored state (either form, with or without its version header), its blob references
 * resolved by `blob` (a blob's text: a JSON string literal without its quotes).
 */
export const decodeState = (stored: Uint8Array, blob: (id: string) => string | undefined = () => undefined): Result.Result<Schema.Json, string> => {
  const split = splitStateVersion(stored)
  if (split === undefined) return Result.fail("bad state version header")
  const bytes = split.body
  try {
    let missing: string | undefined
    const parsed: unknown =
      bytes[0] === BLOB_FORMAT
        ? JSON.parse(fromUtf8.decode(bytes.subarray(1)), (_key, v: unknown) => {
            if (!isBlobRef(v)) return v
            const literal = blob(v.$blob)
            if (literal === undefined) missing ??= v.$blob
            return literal === undefined ? null : JSON.parse(`"${literal}"`)
          })
        : JSON.parse(fromUtf8.decode(bytes))
    if (missing !== undefined) return Result.fail(`blob ${missing} is missing`)
    const r = decodeJson(parsed)
    return Result.isSuccess(r) ? Result.succeed(r.success) : Result.fail(r.failure.message)
  } catch (e) {
    return Result.fail(String(e))
  }
}

const pad = (id: bigint): string => id.toString().padStart(20, "0")

const encodeMonitorJson = Schema.encodeSync(MonitorStateSchema)
const decodeMonitorJson = Schema.decodeUnknownResult(MonitorStateSchema)
const encodeParamsJson = Schema.encodeSync(ChannelParamsSchema)
/** The JSON text of a channel's parameters, by object (they never change: a monitor keeps one for its life). */
const paramsTexts = new WeakMap<ChannelParams, string>()

/**
 * The JSON text of a monitor state, as `JSON.stringify(Schema.encodeSync(MonitorStateSchema)(m))`
 * gives it (same keys, same order, same strings; tested on whole channel lives), written out for
 * an open channel (the parameters through their Schema once per object); undefined for a
 * closing one, which goes through the Schema.
 */
export const encodeHotSnapshot = (m: MonitorState): string | undefined => {
  if (m.closing._tag !== "Open") return undefined
  let params = paramsTexts.get(m.params)
  if (params === undefined) {
    params = JSON.stringify(encodeParamsJson(m.params))
    paramsTexts.set(m.params, params)
  }
  const out: JsonObject = {
    fundingScript: toHex(m.fundingScript),
    latestUpdateId: m.latestUpdateId.toString(),
    holderCommitment: holderCommitmentJson(m.holderCommitment),
    counterpartyCurrent: counterpartyCommitmentJson(m.counterpartyCurrent)
  }
  if (m.counterpartyNext !== undefined) out["counterpartyNext"] = counterpartyCommitmentJson(m.counterpartyNext)
  // memoized per storage object (it changes once per revocation): the same text as toHex(encodeSecretStore(...))
  out["counterpartySecrets"] = secretStoreHex(m.counterpartySecrets)
  out["revokedCommitments"] = Array.from(m.revokedCommitments, revokedJson)
  out["preimages"] = m.preimages.map((p) => ({ paymentHash: toHex(p.paymentHash), preimage: toHex(p.preimage) }))
  if (m.holderShutdownScript !== undefined) out["holderShutdownScript"] = toHex(m.holderShutdownScript)
  if (m.counterpartyShutdownScript !== undefined) out["counterpartyShutdownScript"] = toHex(m.counterpartyShutdownScript)
  out["closing"] = { _tag: "Open" }
  return `{"params":${params},${JSON.stringify(out).slice(1)}`
}
const snapshotText = (m: MonitorState): string => encodeHotSnapshot(m) ?? JSON.stringify(encodeMonitorJson(m))

/** The first byte of a snapshot whose first revoked commitments are in chunks (no JSON text starts with it). */
const CHUNKED_FORMAT = 0x03

/**
 * A monitor snapshot's bytes (its Schema's JSON). With `chunked`, the first `chunked` revoked
 * commitments are left out (they are in chunks) and the text starts with the header saying so.
 */
export const encodeSnapshot = (m: MonitorState, chunked?: number): Uint8Array => {
  if (chunked === undefined) return utf8.encode(snapshotText(m))
  const rest = chunked === 0 ? m : { ...m, revokedCommitments: m.revokedCommitments.slice(chunked) }
  return utf8.encode(`\u0003${chunked}\n${snapshotText(rest)}`)
}
/** A chunk's bytes: the JSON array of the Schema encodings of some revoked commitments. */
export const encodeRevokedChunk = (entries: MonitorState["revokedCommitments"]): Uint8Array => utf8.encode(JSON.stringify(Array.from(entries, revokedJson)))

/**
 * A stored snapshot, with the chunks of revoked commitments it counts on (`chunks`: start index
 * -> bytes); fails when they are not exactly the ones its header counts (contiguous from 0).
 */
export const decodeSnapshot = (bytes: Uint8Array, chunks: ReadonlyMap<number, Uint8Array> = new Map()): Result.Result<MonitorState, string> => {
  try {
    let text = fromUtf8.decode(bytes)
    const revoked: Array<unknown> = []
    if (bytes[0] === CHUNKED_FORMAT) {
      const end = text.indexOf("\n")
      const digits = text.slice(1, end)
      if (end < 2 || !/^[0-9]+$/.test(digits)) return Result.fail("bad snapshot header")
      const count = Number(digits)
      for (const [start, chunk] of [...chunks].sort((a, b) => a[0] - b[0])) {
        if (start !== revoked.length) return Result.fail(`revoked chunk at ${start}, expected ${revoked.length}`)
        const entries: unknown = JSON.parse(fromUtf8.decode(chunk))
        if (!Array.isArray(entries) || entries.length === 0) return Result.fail(`bad revoked chunk at ${start}`)
        for (const e of entries) revoked.push(e)
      }
      if (revoked.length !== count) return Result.fail(`the snapshot counts ${count} revoked commitments in chunks, ${revoked.length} found`)
      text = text.slice(end + 1)
    } else if (chunks.size > 0) return Result.fail("revoked chunks without a snapshot that counts them")
    const json: unknown = JSON.parse(text)
    if (revoked.length > 0) {
      if (typeof json !== "object" || json === null || !("revokedCommitments" in json) || !Array.isArray(json.revokedCommitments))
        return Result.fail("snapshot without revokedCommitments")
      json.revokedCommitments = [...revoked, ...json.revokedCommitments]
    }
    const r = decodeMonitorJson(json)
    if (Result.isFailure(r)) return Result.fail(r.failure.message)
    let previous = -1n
    for (const e of r.success.revokedCommitments) {
      if (e.commitmentNumber <= previous) return Result.fail("revoked commitments out of order")
      previous = e.commitmentNumber
    }
    return Result.succeed(r.success)
  } catch (e) {
    return Result.fail(String(e))
  }
}
/** How many revoked commitments a stored snapshot's chunks hold (its header's count; 0 without one). */
const chunkedCount = (bytes: Uint8Array): number => {
  if (bytes[0] !== CHUNKED_FORMAT) return 0
  const end = bytes.indexOf(0x0a)
  return end < 2 ? 0 : Number(fromUtf8.decode(bytes.subarray(1, end)))
}
/** The start index of a revoked-commitments chunk key's tail (`rv/<index>`), or undefined. */
const chunkStart = (kind: string): number | undefined => {
  if (!kind.startsWith("rv/")) return undefined
  const digits = kind.slice(3)
  return /^[0-9]{1,20}$/.test(digits) && Number.isSafeInteger(Number(digits)) ? Number(digits) : undefined
}

/**
 * The log as this replica last wrote it for one channel: the snapshot, the updates after it,
 * and how many of the snapshot's revoked commitments are in chunks.
 */
interface StoredLog {
  readonly snapshot: MonitorState | undefined
  readonly tail: ReadonlyArray<MonitorUpdate>
  readonly chunked: number
}
/** Channels whose stored log is kept in memory at most (the ones written lately). */
const STORED_LOGS_CAPACITY = 256


export const makeStoreReplica = (store: StoreShape, options: StoreReplicaOptions = {}): MonitorReplica => {
  const name = options.name ?? "store"
  const prefix = options.prefix ?? "monitor/"
  const archivePrefix = options.archivePrefix ?? "archive/"
  const keepsChannelState = options.keepsChannelState ?? true
  const compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY
  const fail = (reason: string) => new ReplicaError({ replica: name, reason })
  /** Update keys held after the snapshot, per channel (learned with its head). */
  const counts = new Map<string, number>()
  const snapKey = (key: string) => `${prefix}${key}/snap`
  const chunkKey = (key: string, start: number) => `${prefix}${key}/rv/${pad(BigInt(start))}`
  const updateKey = (key: string, id: bigint) => `${prefix}${key}/u/${pad(id)}`
  const listUpdates = (key: string) => store.list(`${prefix}${key}/u/`).pipe(Effect.mapError((e) => fail(e.message)))
  const listChunks = (key: string) => store.list(`${prefix}${key}/rv/`).pipe(Effect.mapError((e) => fail(e.message)))
  /** The stored snapshot of a channel (its revoked chunks read with it), and how many entries its chunks hold. */
  const readSnapshot = (key: string) =>
    Effect.gen(function*() {
      const e = yield* store.get(snapKey(key)).pipe(Effect.mapError((err) => fail(err.message)))
      const chunkEntries = yield* listChunks(key)
      if (e === undefined) {
        if (chunkEntries.length > 0) return yield* fail(`revoked chunks without a snapshot for channel ${key}`)
        return undefined
      }
      const chunks = new Map<number, Uint8Array>()
      for (const c of chunkEntries) {
        const start = chunkStart(c.key.slice(`${prefix}${key}/`.length))
        if (start === undefined) return yield* fail(`bad revoked chunk key ${c.key}`)
        chunks.set(start, c.value)
      }
      const m = decodeSnapshot(e.value, chunks)
      if (Result.isFailure(m)) return yield* fail(`bad snapshot for channel ${key}: ${m.failure}`)
      return { monitor: m.success, chunked: chunkedCount(e.value) }
    })
  /** The channel's log as the store holds it, with its update entries (keys and versions). */
  const readStoredLog = (key: string) =>
    Effect.gen(function*() {
      const snapshot = yield* readSnapshot(key)
      const entries = yield* listUpdates(key)
      const tail: Array<MonitorUpdate> = []
      for (const e of entries) {
        const u = decodeUpdate(e.value)
        if (Result.isFailure(u)) return yield* fail(`bad update ${e.key}: ${u.failure}`)
        tail.push(u.success)
      }
      const log: StoredLog = { snapshot: snapshot?.monitor, tail, chunked: snapshot?.chunked ?? 0 }
      return { log, entries }
    })
  /** The stored logs of the channels written lately (least recently written first). */
  const logs = new Map<string, StoredLog>()
  const rememberLog = (key: string, log: StoredLog | undefined): void => {
    logs.delete(key)
    if (log === undefined) return
    if (logs.size >= STORED_LOGS_CAPACITY) {
      const oldest = logs.keys().next()
      if (oldest.done !== true) logs.delete(oldest.value)
    }
    logs.set(key, log)
  }
  /** Last update id held per channel, learned from the store (-1: none). */
  const heads = new Map<string, bigint>()
  /**
   * Per channel with blobs: the blobs the last written state refers to (text -> id), the ids
   * found in the store at load (their texts are not kept: the next write stores what it needs
   * again and deletes them), and the next id.
   */
  const blobs = new Map<string, { byText: Map<string, string>; readonly loaded: Set<string>; next: number }>()
  const blobKey = (key: string, id: string) => `${prefix}${key}/blob/${id}`

  /**
   * The state's ops (its blobs first), what to remember once the write succeeded, and what to
   * forget if it failed: a failed write may have landed (an ambiguous failure), so every blob id
   * it could have put or deleted becomes unknown (deleted by the next write, which puts what it
   * refers to again under new ids): a state never refers to a blob that may be gone.
   */
  const stateOps = (
    key: string,
    state: Schema.Json,
    version: bigint | undefined,
    ops: Array<StoreOp>
  ): { readonly succeeded: () => void; readonly failed: () => void } => {
    const known = blobs.get(key)
    let next = known?.next ?? 0
    const used = new Map<string, string>()
    const fresh: Array<readonly [string, string]> = []
    const refer = (text: string): string => {
      let id = used.get(text) ?? known?.byText.get(text)
      if (id === undefined) {
        id = String(next++)
        fresh.push([id, text])
      }
      used.set(text, id)
      return id
    }
    const header = version === undefined ? "" : stateVersionHeader(version)
    let bytes = encodeStateWithBlobs(state, refer, header)
    if (bytes === undefined) {
      used.clear()
      fresh.length = 0
      bytes = version === undefined ? encodeState(state) : withStateVersion(version, encodeState(state))
    }
    for (const [id, text] of fresh) ops.push(givenPutOp(blobKey(key, id), utf8.encode(text)))
    if (known !== undefined) {
      const live = new Set(used.values())
      for (const id of known.byText.values()) if (!live.has(id)) ops.push(deleteOp(blobKey(key, id)))
      for (const id of known.loaded) if (!live.has(id)) ops.push(deleteOp(blobKey(key, id)))
    }
    ops.push(givenPutOp(`${prefix}${key}/state`, bytes))
    return {
      succeeded: () => {
        if (used.size === 0) blobs.delete(key)
        else blobs.set(key, { byText: used, loaded: new Set(), next })
      },
      failed: () => {
        const unknown = new Set<string>([...(known?.loaded ?? []), ...(known?.byText.values() ?? []), ...fresh.map(([id]) => id)])
        if (unknown.size > 0) blobs.set(key, { byText: new Map(), loaded: unknown, next })
      }
    }
  }

  const headOf = (key: string) =>
    Effect.gen(function*() {
      const known = heads.get(key)
      if (known !== undefined) return known
      const { log, entries } = yield* readStoredLog(key)
      const head = log.tail.at(-1)?.updateId ?? log.snapshot?.latestUpdateId ?? -1n
      heads.set(key, head)
      counts.set(key, entries.length)
      rememberLog(key, log)
      return head
    })

  /** What a write needs read from the store, per channel (learned by `prepare`, only when this replica does not remember it). */
  interface Reads {
    /** Catching up from a snapshot: the channel's update and chunk entries, all deleted. */
    readonly listed: Map<string, { readonly updates: ReadonlyArray<StoreEntry>; readonly chunks: ReadonlyArray<StoreEntry> }>
    /** Compacting a log this replica does not remember: the log as the store holds it, with its update entries. */
    readonly logs: Map<string, { readonly log: StoredLog; readonly entries: ReadonlyArray<StoreEntry> }>
  }

  /** The updates of `w` after `head`, or why they do not follow it. */
  const freshUpdates = (w: ReplicaWrite, key: string, head: bigint): Array<MonitorUpdate> | string => {
    const fresh: Array<MonitorUpdate> = []
    let at = head
    for (const u of w.updates) {
      if (u.updateId <= at) continue
      if (u.updateId !== at + 1n) return `update ${u.updateId} after ${at} for channel ${key}`
      fresh.push(u)
      at = u.updateId
    }
    return fresh
  }

  /**
   * Reads what the write needs and this replica does not remember (heads, a lagging channel's
   * entries, a log to compact): nothing at all, no effect run, in the common case.
   */
  const prepare = (writes: ReadonlyArray<ReplicaWrite>): Effect.Effect<Reads, ReplicaError> | Reads => {
    let missing = false
    for (const w of writes) {
      const key = heldChannelKey(w.channelId)
      const head = heads.get(key)
      if (head === undefined || (w.monitor !== undefined && head < w.monitor.latestUpdateId) || (compactionDue(w, key, head) && !logs.has(key))) missing = true
    }
    const reads: Reads = { listed: new Map(), logs: new Map() }
    if (!missing) return reads
    return Effect.gen(function*() {
      for (const w of writes) {
        const key = channelKey(w.channelId)
        const head = yield* headOf(key)
        if (w.monitor !== undefined && head < w.monitor.latestUpdateId) reads.listed.set(key, { updates: yield* listUpdates(key), chunks: yield* listChunks(key) })
        else if (compactionDue(w, key, head) && !logs.has(key)) reads.logs.set(key, yield* readStoredLog(key))
      }
      return reads
    })
  }

  /** Whether `w` makes the channel's log due for compaction (its head known: `head`). */
  const compactionDue = (w: ReplicaWrite, key: string, head: bigint): boolean => {
    if (compactEvery <= 0 || (w.monitor !== undefined && head < w.monitor.latestUpdateId)) return false
    let fresh = 0
    for (const u of w.updates) if (u.updateId > head) fresh++
    return (counts.get(key) ?? 0) + fresh >= compactEvery
  }

  /** One write planned: its ops and what to remember once it is stored. */
  interface Plan {
    readonly ops: Array<StoreOp>
    readonly newHeads: Map<string, bigint>
    readonly newCounts: Map<string, number>
    readonly newLogs: Map<string, StoredLog | undefined>
    readonly outcomes: Array<{ readonly succeeded: () => void; readonly failed: () => void }>
  }

  /** The write's ops (synchronous: what the store holds is known or in `reads`); why not, as text. */
  const plan = (writes: ReadonlyArray<ReplicaWrite>, reads: Reads): Plan | string => {
    const p: Plan = { ops: [], newHeads: new Map(), newCounts: new Map(), newLogs: new Map(), outcomes: [] }
    const ops = p.ops
    for (const w of writes) {
      const key = heldChannelKey(w.channelId)
      let head = heads.get(key)
      if (head === undefined) return `channel ${key}: head unknown` // unreachable: `prepare` learned it
      let count = counts.get(key) ?? 0
      let log = logs.get(key)
      let caughtUp = false
      if (w.monitor !== undefined && head < w.monitor.latestUpdateId) {
        // Behind a snapshot (catching up): the snapshot (every revoked commitment in it) replaces
        // the log and the chunks this replica has.
        const listed = reads.listed.get(key)
        if (listed === undefined) return `channel ${key}: entries not read` // unreachable: `prepare` read them
        for (const e of listed.updates) ops.push(deleteOp(e.key, e.version))
        for (const e of listed.chunks) ops.push(deleteOp(e.key, e.version))
        ops.push(givenPutOp(snapKey(key), encodeSnapshot(w.monitor, 0)))
        head = w.monitor.latestUpdateId
        count = 0
        caughtUp = true
        log = { snapshot: w.monitor, tail: [], chunked: 0 }
      }
      const fresh = freshUpdates(w, key, head)
      if (typeof fresh === "string") return fresh
      if (fresh.length > 0) head = fresh[fresh.length - 1]?.updateId ?? head
      const compacted = !caughtUp && compactEvery > 0 && count + fresh.length >= compactEvery ? compactOps(key, fresh, ops, reads.logs.get(key)) : undefined
      if (typeof compacted === "string") return compacted
      if (compacted !== undefined) {
        count = 0
        log = compacted
      } else {
        for (const u of fresh) ops.push(givenPutOp(updateKey(key, u.updateId), encodeUpdate(u), 0))
        count += fresh.length
        if (log !== undefined && fresh.length > 0) log = { ...log, tail: [...log.tail, ...fresh] }
      }
      p.newLogs.set(key, log)
      if (keepsChannelState) p.outcomes.push(stateOps(key, w.channelState, w.stateVersion, ops))
      p.newHeads.set(key, head)
      p.newCounts.set(key, count)
    }
    return p
  }

  /** Stores a planned write; what it changes is remembered once it is stored. */
  const commit = (writes: ReadonlyArray<ReplicaWrite>, p: Plan): Effect.Effect<void, ReplicaError> => {
    if (p.ops.length === 0) return Effect.void
    return Effect.flatMap(Effect.result(store.write(p.ops)), (written) => {
      if (Result.isFailure(written)) {
        // A conflict on an update key: an earlier write reported as failed landed after all
        // (an ambiguous failure). Learn those heads again; the retry skips what is there.
        if (written.failure._tag === "StoreConflict") for (const w of writes) heads.delete(channelKey(w.channelId))
        // The write may have landed or not: the stored logs are read again when needed.
        for (const w of writes) logs.delete(channelKey(w.channelId))
        for (const o of p.outcomes) o.failed()
        return Effect.fail(fail(written.failure.message))
      }
      for (const [k, h] of p.newHeads) heads.set(k, h)
      for (const [k, c] of p.newCounts) counts.set(k, c)
      for (const [k, l] of p.newLogs) rememberLog(k, l)
      for (const o of p.outcomes) o.succeeded()
      return Effect.void
    })
  }

  /** One replica write: read what is not remembered (rarely), plan synchronously, store (no generator on the common path). */
  const write = (writes: ReadonlyArray<ReplicaWrite>): Effect.Effect<void, ReplicaError> =>
    Effect.suspend(() => {
      const planned = (reads: Reads): Effect.Effect<void, ReplicaError> => {
        const p = plan(writes, reads)
        return typeof p === "string" ? Effect.fail(fail(p)) : commit(writes, p)
      }
      const reads = prepare(writes)
      return Effect.isEffect(reads) ? Effect.flatMap(reads, planned) : planned(reads)
    })

  /**
   * Compaction ops for one channel (pushed to `ops`): the snapshot and the updates after it as
   * the store holds them (as this replica last wrote them, when it remembers; else `read`, as
   * read from the store), folded with `fresh` into a new snapshot that replaces them; the revoked
   * commitments added since the last snapshot go to a new chunk. The new stored log; undefined
   * (nothing pushed) when the log does not fold: the updates are then written as usual. A store
   * that disagrees with the head this replica remembered (an earlier write that failed
   * ambiguously landed) fails the write (the reason, as text): the retry learns the head again.
   */
  const compactOps = (
    key: string,
    fresh: ReadonlyArray<MonitorUpdate>,
    ops: Array<StoreOp>,
    read: { readonly log: StoredLog; readonly entries: ReadonlyArray<StoreEntry> } | undefined
  ): StoredLog | string | undefined => {
    const remembered = logs.get(key)
    const deletions: Array<StoreOp> = []
    let stored: StoredLog
    if (remembered !== undefined) {
      stored = remembered
      for (const u of remembered.tail) deletions.push(deleteOp(updateKey(key, u.updateId)))
    } else if (read !== undefined) {
      stored = read.log
      for (const e of read.entries) deletions.push(deleteOp(e.key, e.version))
    } else return `channel ${key}: log not read` // unreachable: `prepare` read it
    const storedHead = stored.tail.at(-1)?.updateId ?? stored.snapshot?.latestUpdateId ?? -1n
    const first = fresh[0]
    if (first !== undefined && first.updateId !== storedHead + 1n) {
      heads.delete(key)
      logs.delete(key)
      return `channel ${key}: the store holds update ${storedHead}, the write starts at ${first.updateId}`
    }
    const folded = foldAccepted(stored.snapshot, [...stored.tail, ...fresh])
    if (Result.isFailure(folded)) return undefined
    const revoked = folded.success.revokedCommitments
    if (revoked.length < stored.chunked) return undefined // unreachable: revoked commitments only grow
    for (const d of deletions) ops.push(d)
    // The entries not in chunks yet: past the snapshot's list when all of it is in chunks (the fold
    // appended to it), found without a walk over the channel's whole history.
    const base = stored.snapshot?.revokedCommitments
    const added = base !== undefined && base.length === stored.chunked ? revoked.after(base) : revoked.slice(stored.chunked)
    if (added.length > 0) ops.push(givenPutOp(chunkKey(key, stored.chunked), encodeRevokedChunk(added), 0))
    ops.push(givenPutOp(snapKey(key), encodeSnapshot(folded.success, revoked.length)))
    return { snapshot: folded.success, tail: [], chunked: revoked.length }
  }

  const readChannels = (from: string) =>
    Effect.gen(function*() {
      const entries = yield* store.list(from).pipe(Effect.mapError((e) => fail(e.message)))
      interface Read {
        state: Schema.Json | undefined
        version: bigint
        stateBytes: Uint8Array | undefined
        readonly blobs: Map<string, Uint8Array>
        readonly updates: Array<MonitorUpdate>
        snapBytes: Uint8Array | undefined
        readonly chunks: Map<number, Uint8Array>
        monitor: MonitorState | undefined
      }
      const byChannel = new Map<string, Read>()
      for (const e of entries) {
        const rest = e.key.slice(from.length)
        const slash = rest.indexOf("/")
        if (slash < 0) continue
        const key = rest.slice(0, slash)
        const kind = rest.slice(slash + 1)
        const ch: Read = byChannel.get(key) ?? {
          state: undefined,
          version: 0n,
          stateBytes: undefined,
          blobs: new Map<string, Uint8Array>(),
          updates: [],
          snapBytes: undefined,
          chunks: new Map<number, Uint8Array>(),
          monitor: undefined
        }
        byChannel.set(key, ch)
        if (kind === "state") {
          ch.stateBytes = e.value // decoded below, once its blobs are read
        } else if (kind.startsWith("blob/")) {
          ch.blobs.set(kind.slice("blob/".length), e.value)
        } else if (kind === "snap") {
          ch.snapBytes = e.value // decoded below, with its chunks
        } else if (kind.startsWith("rv/")) {
          const start = chunkStart(kind)
          if (start === undefined) return yield* fail(`bad revoked chunk key ${e.key}`)
          ch.chunks.set(start, e.value)
        } else if (kind.startsWith("u/")) {
          const u = decodeUpdate(e.value)
          if (Result.isFailure(u)) return yield* fail(`bad update ${e.key}: ${u.failure}`)
          ch.updates.push(u.success) // keys sort by zero-padded id: in order
        }
      }
      for (const [key, ch] of byChannel) {
        if (ch.snapBytes === undefined) {
          if (ch.chunks.size > 0) return yield* fail(`revoked chunks without a snapshot for channel ${key}`)
          continue
        }
        const m = decodeSnapshot(ch.snapBytes, ch.chunks)
        if (Result.isFailure(m)) return yield* fail(`bad snapshot for channel ${key}: ${m.failure}`)
        ch.monitor = m.success
      }
      for (const [key, ch] of byChannel) {
        if (ch.stateBytes === undefined) continue
        ch.version = splitStateVersion(ch.stateBytes)?.version ?? 0n
        const s = decodeState(ch.stateBytes, (id) => {
          const b = ch.blobs.get(id)
          return b === undefined ? undefined : fromUtf8.decode(b)
        })
        if (Result.isFailure(s)) return yield* fail(`bad state for channel ${key}: ${s.failure}`)
        ch.state = s.success
      }
      // The blobs found: deleted by the channel's next write (which stores again what it refers to).
      for (const [key, ch] of byChannel) {
        if (ch.blobs.size === 0) continue
        let next = 0
        for (const id of ch.blobs.keys()) next = Math.max(next, Number(id) + 1)
        blobs.set(key, { byText: new Map(), loaded: new Set(ch.blobs.keys()), next: Number.isSafeInteger(next) ? next : 0 })
      }
      const out: Array<ReplicaChannel> = []
      for (const [key, ch] of byChannel) {
        const channelId = decodeChannelId(key)
        if (Result.isFailure(channelId)) return yield* fail(`bad channel id ${key}`)
        out.push({ channelId: channelId.success, channelState: ch.state, updates: ch.updates, ...(ch.monitor === undefined ? {} : { monitor: ch.monitor }), stateVersion: ch.version })
      }
      return out
    })

  const load = Effect.gen(function*() {
    const channels = yield* readChannels(prefix)
    for (const c of channels) {
      const key = channelKey(c.channelId)
      const base = (c.monitor?.latestUpdateId ?? -1n) + 1n
      for (let i = 0; i < c.updates.length; i++)
        if (c.updates[i]?.updateId !== base + BigInt(i)) return yield* fail(`update log of channel ${key} has a gap at ${base + BigInt(i)}`)
      heads.set(key, base + BigInt(c.updates.length) - 1n)
      counts.set(key, c.updates.length)
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
      counts.delete(key)
      blobs.delete(key)
      logs.delete(key)
    })

  /** The channel's log folded (from what this replica remembers, else read from the store). */
  const monitorOf = (channelId: ChannelId) =>
    Effect.gen(function*() {
      const key = channelKey(channelId)
      const stored = logs.get(key) ?? (yield* readStoredLog(key)).log
      if (stored.snapshot === undefined && stored.tail.length === 0) return undefined
      const folded = foldAccepted(stored.snapshot, stored.tail)
      if (Result.isFailure(folded)) return yield* fail(`channel ${key}: the stored log does not fold (${folded.failure._tag})`)
      return folded.success
    })

  return {
    name,
    keepsChannelState,
    synchronous: store.synchronous === true,
    write,
    load,
    monitorOf,
    archive: (channelId) => channelOps(channelId, true),
    remove: (channelId) => channelOps(channelId, false)
  }
}
