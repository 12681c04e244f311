/**
 * TLV streams (BOLT 1, "Type-Length-Value Format"). A stream definition maps field names to
 * record types and value codecs; decoding enforces every receiver requirement: canonical
 * BigSize type/length, strictly increasing types (duplicates rejected), length within the
 * stream, exact value length for known types, unknown even types rejected. Unknown ODD
 * records are skipped by the reader but KEPT in `unknown`, so re-encoding round-trips and
 * signatures over the stream can be recomputed.
 */
import { Result, Schema } from "effect"
import {
  type DecodeError,
  DecodeFailure,
  fail,
  TlvDuplicateType,
  TlvLengthExceedsStream,
  TlvTypeNotIncreasing,
  TlvUnknownEvenType,
  TlvValueTooLong,
  TlvValueTooShort
} from "./errors.ts"
import type { Codec, WireField } from "./fields.ts"
import { decodeWith, Reader } from "./reader.ts"
import { Writer } from "./writer.ts"

/** A raw record: what an unknown odd type is kept as. */
export interface TlvRecord {
  readonly type: bigint
  readonly value: Uint8Array
}

export const TlvRecordSchema: Schema.Codec<TlvRecord, unknown> = Schema.Struct({
  type: Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn }))),
  value: Schema.Uint8ArrayFromHex
})

/** One known record: its type number and the codec for its whole value. */
export interface TlvField<A> {
  readonly type: bigint
  readonly codec: Codec<A>
}

export const tlvField = <A>(type: number | bigint, codec: Codec<A>): TlvField<A> => ({ type: BigInt(type), codec })

export type TlvFields = { readonly [name: string]: TlvField<unknown> }

/** The decoded stream: each known record under its name (absent when not sent), plus unknown odd records. */
export type TlvValues<F extends TlvFields> = {
  readonly [K in keyof F]?: F[K] extends TlvField<infer A> ? A : never
} & { readonly unknown?: ReadonlyArray<TlvRecord> }

export interface TlvStream<F extends TlvFields> {
  readonly name: string
  readonly fields: F
  /** Decodes every remaining byte of `r` as this stream. Throws the internal sentinel. */
  readonly read: (r: Reader) => TlvValues<F>
  readonly write: (w: Writer, v: TlvValues<F>) => void
  readonly schema: Schema.Codec<TlvValues<F>, unknown>
  /** Known record types, ascending, with their names. */
  readonly records: ReadonlyArray<{ readonly name: string; readonly type: bigint; readonly wire: ReadonlyArray<WireField> }>
  /** Public, non-throwing decoder for a standalone stream. */
  readonly decode: (bytes: Uint8Array) => Result.Result<TlvValues<F>, DecodeError>
  /**
   * Encodes our own value. A field its type cannot carry (e.g. a u16 over 65535) throws
   * `EncodeError`: a caller bug, not peer input; `encodeWith` turns it into a `Result`.
   */
  readonly encode: (v: TlvValues<F>) => Uint8Array
}

/** A record's type, which must be above the previous record's (BOLT 1: strictly increasing, no duplicates). */
const readRecordType = (r: Reader, at: number, previous: bigint): bigint => {
  const type = r.bigsize()
  if (type === previous) fail(new TlvDuplicateType({ at, type }))
  if (type < previous) fail(new TlvTypeNotIncreasing({ at, type, previous }))
  return type
}

/** A record's length, then a Reader over its value (`r` moves past it); the length must fit in the stream. */
const readRecordValue = (r: Reader, at: number, type: bigint): Reader => {
  const length = r.bigsize()
  if (length > BigInt(r.remaining)) {
    fail(new TlvLengthExceedsStream({ at, type, length, remaining: r.remaining }))
  }
  return r.sub(Number(length))
}

/**
 * Reads the raw records of a stream, checking the structural rules of BOLT 1 (canonical
 * BigSize, strictly increasing types, lengths within the stream) and handing each record's
 * value to `onRecord` as a bounded Reader. Throws the internal sentinel.
 */
export const readRawRecords = (
  r: Reader,
  onRecord: (type: bigint, value: Reader, at: number) => void
): void => {
  let previous = -1n
  while (!r.atEnd) {
    const at = r.offset
    const type = readRecordType(r, at, previous)
    previous = type
    onRecord(type, readRecordValue(r, at, type), at)
  }
}

/**
 * Runs `read` over exactly one record's value (the Reader `readRawRecords` hands out): a value
 * too short for its encoding is `TlvValueTooShort`, bytes left over are `TlvValueTooLong`
 * (BOLT 1: "if `length` is not exactly equal to that required for the known encoding for
 * `type`: MUST fail to parse the `tlv_stream`"). Exported for streams with their own rules
 * on unknown types (e.g. the onion's custom records) that drive `readRawRecords` themselves.
 * Throws the internal sentinel.
 */
export const readExactValue = <A>(read: (r: Reader) => A, type: bigint, value: Reader, at: number): A => {
  const length = value.remaining
  let decoded: A
  try {
    decoded = read(value)
  } catch (e) {
    if (e instanceof DecodeFailure && e.error._tag === "UnexpectedEof") fail(new TlvValueTooShort({ at, type, length }))
    throw e
  }
  if (!value.atEnd) fail(new TlvValueTooLong({ at, type, length, unread: value.remaining }))
  return decoded
}

/** Declares a TLV stream. Field names become the keys of the decoded value. */
export const tlvStream = <const F extends TlvFields>(name: string, fields: F): TlvStream<F> => {
  // Each known record's reader made once here, not a closure per record decoded.
  const byType = new Map<bigint, { name: string; field: TlvField<unknown>; read: (r: Reader) => unknown }>()
  for (const [key, field] of Object.entries(fields)) {
    if (key === "unknown") throw new Error(`tlvStream ${name}: "unknown" is reserved`)
    if (byType.has(field.type)) throw new Error(`tlvStream ${name}: type ${field.type} declared twice`)
    byType.set(field.type, { name: key, field, read: (v) => field.codec.read(v) })
  }
  const ordered = [...byType.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))

  /**
   * The value of a stream with no records (most messages' extension): one per stream, frozen,
   * shared by every value decoded from no bytes (and by `defineMessage`'s `make` without an
   * extension): a decoded message costs no empty object of its own.
   */
  const none: TlvValues<F> = Object.freeze({})

  /** `readRawRecords`' walk, each record handled in place (no callback made per stream decoded). */
  const read = (r: Reader): TlvValues<F> => {
    // No records (most messages): nothing to walk, nothing made.
    if (r.atEnd) return none
    const out: Record<string, unknown> = {}
    let unknown: Array<TlvRecord> | undefined
    let previous = -1n
    while (!r.atEnd) {
      const at = r.offset
      const type = readRecordType(r, at, previous)
      previous = type
      const value = readRecordValue(r, at, type)
      const known = byType.get(type)
      if (known !== undefined) {
        out[known.name] = readExactValue(known.read, type, value, at)
      } else if (type % 2n === 0n) {
        fail(new TlvUnknownEvenType({ at, type }))
      } else {
        ;(unknown ??= []).push({ type, value: value.rest() })
      }
    }
    if (unknown !== undefined) out["unknown"] = unknown
    return out as TlvValues<F>
  }

  // The known records in increasing type order, walked by index (no iterator per record).
  const known = ordered.map(([type, { name: key, field }]) => ({ type, key, codec: field.codec }))
  const write = (w: Writer, v: TlvValues<F>): void => {
    const values: { readonly [k: string]: unknown } = v
    if (v.unknown === undefined || v.unknown.length === 0) {
      // Known records only (every message we send): `known` is already in increasing type
      // order, and each value is written in place after its type, its length put in front of it.
      for (let i = 0; i < known.length; i++) {
        const rec = known[i]
        if (rec === undefined) continue
        const x = values[rec.key]
        if (x !== undefined) w.bigsize(rec.type).lengthPrefixed(rec.codec, x)
      }
      return
    }
    const records: Array<{ type: bigint; write: (w: Writer) => void }> = []
    for (const [type, { name: key, field }] of ordered) {
      const x = values[key]
      if (x !== undefined) records.push({ type, write: (vw) => field.codec.write(vw, x) })
    }
    for (const u of v.unknown ?? []) records.push({ type: u.type, write: (vw) => void vw.bytes(u.value) })
    records.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
    for (const rec of records) {
      const value = new Writer()
      rec.write(value)
      w.bigsize(rec.type).bigsize(BigInt(value.length)).bytes(value.finish())
    }
  }

  const schemaFields: Record<string, Schema.Top> = {}
  for (const [, { name: key, field }] of ordered) schemaFields[key] = Schema.optionalKey(field.codec.schema)
  schemaFields["unknown"] = Schema.optionalKey(Schema.Array(TlvRecordSchema))
  // Built from the same record codecs as `read` over a record assembled at run time: TypeScript
  // cannot relate Effect's `Struct.Type` of a generic field record to `TlvValues<F>`.
  const schema = Schema.Struct(schemaFields) as unknown as Schema.Codec<TlvValues<F>, unknown>

  return {
    name,
    fields,
    read,
    write,
    schema,
    records: ordered.map(([type, { name: key, field }]) => ({ name: key, type, wire: field.codec.wire })),
    decode: (bytes) => decodeWith(bytes, read),
    encode: (v) => {
      const w = new Writer()
      write(w, v)
      return w.finish()
    }
  }
}

/** Decodes a stream of raw records: ordering and framing are checked, types are not interpreted (even ones included); the caller decides what it knows. */
export const decodeRawTlvStream = (bytes: Uint8Array): Result.Result<ReadonlyArray<TlvRecord>, DecodeError> =>
  decodeWith(bytes, (r) => {
    const out: Array<TlvRecord> = []
    readRawRecords(r, (type, value) => out.push({ type, value: value.rest() }))
    return out
  })

/** Encodes raw records, sorted by type (the caller must not repeat a type; nothing here checks it). */
export const encodeRawTlvStream = (records: ReadonlyArray<TlvRecord>): Uint8Array => {
  const w = new Writer()
  for (const rec of [...records].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))) {
    w.bigsize(rec.type).bigsize(BigInt(rec.value.length)).bytes(rec.value)
  }
  return w.finish()
}
