/**
 * Field codecs: one value per BOLT 1 fundamental/convenience type (and the length-prefixed
 * shapes the messages use). Each gives its binary form (`read`/`write` on Reader/Writer) and
 * its JSON form as an Effect `Schema` (bytes as hex, u64 as decimal string) for traces and
 * persistence. `wire` describes the spec fields it covers, so declarations can be checked
 * against the spec's message catalog.
 */
import { Brand, Schema, SchemaTransformation } from "effect"
import { type ChannelId, checkedBrand } from "../units.ts"
import { fail, InvalidFieldValue, InvalidPoint } from "./errors.ts"
import type { Reader } from "./reader.ts"
import type { Writer } from "./writer.ts"

/**
 * One spec field a codec covers: `element` is the spec element type (`u16`, `byte`,
 * `chain_hash`...); `count` is absent for a single value, `"prev"` when it is counted by the
 * preceding length field, `"..."` for the rest of the value, or a fixed number.
 */
export interface WireField {
  readonly element: string
  readonly count?: "prev" | "..." | number
}

export interface Codec<A> {
  /** Reads one value (throws the internal decode sentinel; see `decodeWith`). */
  read(r: Reader): A
  /** Writes one value (throws `EncodeError` for a value its type cannot carry). */
  write(w: Writer, a: A): void
  /** JSON form (Type = A). */
  readonly schema: Schema.Codec<A, unknown>
  readonly wire: ReadonlyArray<WireField>
}

export type CodecType<C> = C extends Codec<infer A> ? A : never

const make = <A>(
  read: (r: Reader) => A,
  write: (w: Writer, a: A) => void,
  schema: Schema.Codec<A, unknown>,
  wire: ReadonlyArray<WireField>
): Codec<A> => ({ read, write, schema, wire })

const intSchema = (minimum: number, maximum: number): Schema.Codec<number, unknown> =>
  Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum, maximum })))

const bigintSchema = (minimum: bigint, maximum: bigint): Schema.Codec<bigint, unknown> =>
  Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum, maximum })))

const U64_MAX = 0xffffffffffffffffn

// ---- integers -------------------------------------------------------------------------------

export const u8: Codec<number> = make((r) => r.u8(), (w, a) => void w.u8(a), intSchema(0, 0xff), [{ element: "byte" }])
export const u16: Codec<number> = make((r) => r.u16(), (w, a) => void w.u16(a), intSchema(0, 0xffff), [{ element: "u16" }])
export const u32: Codec<number> = make(
  (r) => r.u32(),
  (w, a) => void w.u32(a),
  intSchema(0, 0xffffffff),
  [{ element: "u32" }]
)
export const u64: Codec<bigint> = make((r) => r.u64(), (w, a) => void w.u64(a), bigintSchema(0n, U64_MAX), [{ element: "u64" }])
export const s8: Codec<number> = make((r) => r.s8(), (w, a) => void w.s8(a), intSchema(-0x80, 0x7f), [{ element: "s8" }])
export const s16: Codec<number> = make((r) => r.s16(), (w, a) => void w.s16(a), intSchema(-0x8000, 0x7fff), [{ element: "s16" }])
export const s32: Codec<number> = make(
  (r) => r.s32(),
  (w, a) => void w.s32(a),
  intSchema(-0x80000000, 0x7fffffff),
  [{ element: "s32" }]
)
export const s64: Codec<bigint> = make(
  (r) => r.s64(),
  (w, a) => void w.s64(a),
  bigintSchema(-(1n << 63n), (1n << 63n) - 1n),
  [{ element: "s64" }]
)
/** Truncated integers: only valid as the final field of a TLV record (they take the rest). */
export const tu16: Codec<number> = make((r) => r.tu16(), (w, a) => void w.tu16(a), intSchema(0, 0xffff), [{ element: "tu16" }])
export const tu32: Codec<number> = make(
  (r) => r.tu32(),
  (w, a) => void w.tu32(a),
  intSchema(0, 0xffffffff),
  [{ element: "tu32" }]
)
export const tu64: Codec<bigint> = make((r) => r.tu64(), (w, a) => void w.tu64(a), bigintSchema(0n, U64_MAX), [{ element: "tu64" }])
export const bigsize: Codec<bigint> = make(
  (r) => r.bigsize(),
  (w, a) => void w.bigsize(a),
  bigintSchema(0n, U64_MAX),
  [{ element: "bigsize" }]
)

// ---- fixed-size byte strings -----------------------------------------------------------------

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))

/** `n` raw bytes (JSON: hex). `element` names the spec type for catalog checks. */
export const fixedBytes = (n: number, element = "byte"): Codec<Uint8Array> =>
  make(
    (r) => r.bytes(n),
    (w, a) => void w.fixed(element, a, n),
    hexOfLength(n),
    [element === "byte" ? { element, count: n } : { element }]
  )

/** The genesis block hash of a chain, in wire order (BOLT 0). */
export const ChainHashSchema = hexOfLength(32).pipe(Schema.brand("ChainHash"))
export type ChainHash = typeof ChainHashSchema.Type
/** A chain hash from 32 bytes (a `BrandError` for another length). */
export const ChainHash = checkedBrand<ChainHash>((b) => b.length === 32 || `a chain hash is 32 bytes, got ${b.length}`)
/** A chain hash read as 32 bytes: its length is the reader's, so the brand's check is not run again. */
const chainHashOfRead: (bytes: Uint8Array) => ChainHash = Brand.nominal<ChainHash>()
export const chainHash: Codec<ChainHash> = make(
  (r) => chainHashOfRead(r.bytes(32)),
  (w, a) => void w.fixed("chain_hash", a, 32),
  ChainHashSchema,
  [{ element: "chain_hash" }]
)

export const ChannelIdSchema: Schema.Codec<ChannelId, unknown> = hexOfLength(32).pipe(Schema.brand("ChannelId"))
/**
 * A channel id read as 32 bytes: its length is the reader's, so `ChannelId`'s check (Effect's
 * schema checks, several objects per call, on every channel message) is not run again.
 */
const channelIdOfRead: (bytes: Uint8Array) => ChannelId = Brand.nominal<ChannelId>()
export const channelId: Codec<ChannelId> = make(
  (r) => channelIdOfRead(r.bytes(32)),
  (w, a) => void w.fixed("channel_id", a, 32),
  ChannelIdSchema,
  [{ element: "channel_id" }]
)

export const sha256: Codec<Uint8Array> = fixedBytes(32, "sha256")
/** 64-byte compact ECDSA signature (r || s). */
export const signature: Codec<Uint8Array> = fixedBytes(64, "signature")
export const bip340sig: Codec<Uint8Array> = fixedBytes(64, "bip340sig")

/** 33-byte compressed point; the prefix is checked (0x02/0x03), the curve is not (see Reader.point). */
export const point: Codec<Uint8Array> = make(
  (r) => r.point(),
  (w, a) => void w.fixed("point", a, 33),
  hexOfLength(33).pipe(
    Schema.check(Schema.makeFilter((b: Uint8Array) => b[0] === 2 || b[0] === 3 || "expected a compressed point"))
  ),
  [{ element: "point" }]
)

// ---- short_channel_id (BOLT 7) ----------------------------------------------------------------

/** block height (3 bytes) || tx index (3 bytes) || output index (2 bytes), as one u64. */
export type ShortChannelId = bigint & Brand.Brand<"ShortChannelId">
/** A short channel id from a u64 (a `BrandError` outside 0 .. 2^64-1). */
export const ShortChannelId = checkedBrand<ShortChannelId>((v) => (v >= 0n && v <= U64_MAX) || `a short_channel_id is a u64, got ${v}`)

export const shortChannelIdFromParts = (block: number, txIndex: number, outputIndex: number): ShortChannelId =>
  ShortChannelId((BigInt(block) << 40n) | (BigInt(txIndex) << 16n) | BigInt(outputIndex))

export const shortChannelIdParts = (scid: ShortChannelId): { block: number; txIndex: number; outputIndex: number } => ({
  block: Number(scid >> 40n),
  txIndex: Number((scid >> 16n) & 0xffffffn),
  outputIndex: Number(scid & 0xffffn)
})

/** The human form `BLOCKxTXxOUTPUT` used by the spec and most implementations. */
export const formatShortChannelId = (scid: ShortChannelId): string => {
  const p = shortChannelIdParts(scid)
  return `${p.block}x${p.txIndex}x${p.outputIndex}`
}

const SCID_PATTERN = /^(\d{1,8})x(\d{1,8})x(\d{1,5})$/

export const parseShortChannelId = (text: string): ShortChannelId | undefined => {
  const m = SCID_PATTERN.exec(text)
  if (m === null) return undefined
  const block = Number(m[1])
  const tx = Number(m[2])
  const out = Number(m[3])
  if (block > 0xffffff || tx > 0xffffff || out > 0xffff) return undefined
  return shortChannelIdFromParts(block, tx, out)
}

const isShortChannelId = (u: unknown): u is ShortChannelId => typeof u === "bigint" && u >= 0n && u <= U64_MAX

export const ShortChannelIdSchema: Schema.Codec<ShortChannelId, string> = Schema.String.pipe(
  Schema.check(Schema.makeFilter((s: string) => parseShortChannelId(s) !== undefined || "expected BLOCKxTXxOUTPUT")),
  Schema.decodeTo(
    Schema.declare(isShortChannelId),
    SchemaTransformation.transform({
      // The filter above guarantees the parse succeeds; 0 is unreachable.
      decode: (s: string) => parseShortChannelId(s) ?? shortChannelIdFromParts(0, 0, 0),
      encode: formatShortChannelId
    })
  )
)

/** A short channel id read as a u64: in range by construction (no check run again). */
const shortChannelIdOfRead: (value: bigint) => ShortChannelId = Brand.nominal<ShortChannelId>()
export const shortChannelId: Codec<ShortChannelId> = make(
  (r) => shortChannelIdOfRead(r.u64()),
  (w, a) => void w.u64(a),
  ShortChannelIdSchema,
  [{ element: "short_channel_id" }]
)

// ---- sciddir_or_pubkey (BOLT 1) ------------------------------------------------------------------

/**
 * Either a node id (33-byte point) or a channel end: first byte 0/1 selects `node_id_1`/
 * `node_id_2` of the `channel_announcement` for the following short_channel_id (9 bytes).
 */
export type SciddirOrPubkey =
  | { readonly _tag: "Pubkey"; readonly nodeId: Uint8Array }
  | { readonly _tag: "Sciddir"; readonly direction: 0 | 1; readonly scid: ShortChannelId }

export const SciddirOrPubkeySchema: Schema.Codec<SciddirOrPubkey, unknown> = Schema.Union([
  Schema.TaggedStruct("Pubkey", { nodeId: hexOfLength(33) }),
  Schema.TaggedStruct("Sciddir", { direction: Schema.Literals([0, 1]), scid: ShortChannelIdSchema })
])

export const sciddirOrPubkey: Codec<SciddirOrPubkey> = make(
  (r) => {
    const at = r.offset
    const first = r.u8()
    if (first === 0 || first === 1) return { _tag: "Sciddir", direction: first, scid: ShortChannelId(r.u64()) }
    if (first !== 2 && first !== 3) return fail(new InvalidPoint({ at, prefix: first }))
    return { _tag: "Pubkey", nodeId: Uint8Array.of(first, ...r.bytes(32)) }
  },
  (w, a) => {
    if (a._tag === "Pubkey") w.fixed("sciddir_or_pubkey", a.nodeId, 33)
    else w.u8(a.direction).u64(a.scid)
  },
  SciddirOrPubkeySchema,
  [{ element: "sciddir_or_pubkey" }]
)

// ---- variable-length shapes -------------------------------------------------------------------

const HexBytes: Schema.Codec<Uint8Array, unknown> = Schema.Uint8ArrayFromHex

/** `[u16:len][len*byte:data]` as one value. */
export const u16Bytes: Codec<Uint8Array> = make(
  (r) => r.bytes(r.u16()),
  // w.u16 rejects a length over 65535 with an EncodeError.
  (w, a) => void w.u16(a.length).bytes(a),
  HexBytes.pipe(Schema.check(Schema.isBetweenLength(0, 0xffff))),
  [{ element: "u16" }, { element: "byte", count: "prev" }]
)

/** `[...*byte]`: every byte left in the message or TLV value. */
export const restBytes: Codec<Uint8Array> = make(
  (r) => r.rest(),
  (w, a) => void w.bytes(a),
  HexBytes,
  [{ element: "byte", count: "..." }]
)

/**
 * `[...*T]`: fixed-size items up to the end of the value; a partial last item is an error. An
 * item that reads no bytes (a zero-width codec) is refused rather than looped on forever.
 */
export const restArray = <A>(item: Codec<A>): Codec<ReadonlyArray<A>> =>
  make(
    (r) => {
      const out: Array<A> = []
      while (!r.atEnd) {
        const at = r.offset
        out.push(item.read(r))
        if (r.offset === at) fail(new InvalidFieldValue({ at, field: "array item", reason: "item reads no bytes" }))
      }
      return out
    },
    (w, a) => {
      for (let i = 0; i < a.length; i++) {
        const x = a[i]
        if (x !== undefined) item.write(w, x)
      }
    },
    Schema.Array(item.schema),
    [{ element: item.wire[0]?.element ?? "byte", count: "..." }]
  )

/** `[u16:num][num*T]`: a counted list of items. */
export const u16Array = <A>(item: Codec<A>): Codec<ReadonlyArray<A>> =>
  make(
    (r) => {
      const n = r.u16()
      // Made at its length and filled (no holes left): not grown by `push`, whose first growth
      // already reserves 17 slots (a one-signature `commitment_signed` kept 128 B more), and
      // which copies a long list several times over (50 HTLC signatures: 770 B more per decode).
      const out: Array<A> = new Array<A>(n)
      for (let i = 0; i < n; i++) out[i] = item.read(r)
      return out
    },
    (w, a) => {
      w.u16(a.length)
      // Walked by index: no iterator made per list (this code mostly runs in Maglev, which does not remove it).
      for (let i = 0; i < a.length; i++) {
        const x = a[i]
        if (x !== undefined) item.write(w, x)
      }
    },
    Schema.Array(item.schema).pipe(Schema.check(Schema.isBetweenLength(0, 0xffff))),
    [{ element: "u16" }, { element: item.wire[0]?.element ?? "byte", count: "prev" }]
  )

/** A value with no bytes (TLV records whose presence is the information, e.g. flags). */
export const empty: Codec<true> = make(
  () => true as const,
  () => undefined,
  Schema.Literal(true),
  []
)

export type StructFields = { readonly [name: string]: Codec<unknown> }
export type StructType<F extends StructFields> = { readonly [K in keyof F]: CodecType<F[K]> }

/** Several fields in order as one value (a TLV record with more than one field, a subtype). */
export const struct = <const F extends StructFields>(fields: F): Codec<StructType<F>> => {
  const entries = Object.entries(fields)
  const schemaFields: Record<string, Schema.Top> = {}
  for (const [k, c] of entries) schemaFields[k] = c.schema
  // The fields as two parallel arrays walked by index (no iterator or entry destructured per field), as in `defineMessage`.
  const keys = entries.map(([k]) => k)
  const codecs = entries.map(([, c]) => c)
  return make(
    (r) => {
      const out: Record<string, unknown> = {}
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]
        const c = codecs[i]
        if (k !== undefined && c !== undefined) out[k] = c.read(r)
      }
      return out as StructType<F>
    },
    (w, a) => {
      const values: { readonly [k: string]: unknown } = a
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]
        const c = codecs[i]
        if (k !== undefined && c !== undefined) c.write(w, values[k])
      }
    },
    // Built from the same codecs as `read` over a record assembled at run time: TypeScript
    // cannot relate Effect's `Struct.Type` of a generic field record to `StructType<F>`.
    Schema.Struct(schemaFields) as unknown as Schema.Codec<StructType<F>, unknown>,
    entries.flatMap(([, c]) => c.wire)
  )
}
