/**
 * Declarative wire messages (BOLT 1 "Lightning Message Format"). ONE `defineMessage` call —
 * type number, ordered fields, TLV extension stream — yields the message's TypeScript type,
 * its JSON Schema (for traces and persistence) and its binary codec. A registry dispatches on
 * the 2-byte type: known messages decode to a tagged union, unknown ODD types come back as
 * `UnknownMessage` for the caller to ignore, unknown EVEN types fail with
 * `UnknownEvenMessage` (the caller must close the connection).
 *
 * Every message is followed by its `extension` TLV stream: bytes after the known fields are
 * parsed as that stream (unknown odd records kept, so re-encoding round-trips; an invalid
 * extension is an error, BOLT 1 "upon receiving a message with an extension").
 */
import { Result, Schema } from "effect"
import { type DecodeError, EncodeError, fail, InvalidFieldValue, UnknownEvenMessage } from "./errors.ts"
import type { Codec, StructFields, StructType, WireField } from "./fields.ts"
import { decodeViewing, decodeWith, Reader } from "./reader.ts"
import { type TlvFields, type TlvStream, tlvStream, type TlvValues } from "./tlv.ts"
import { encodeMessage, type Writer } from "./writer.ts"

/** BOLT 1/8: a message (type included) fits a 2-byte length. */
export const MAX_MESSAGE_SIZE = 65535

const checkSize = (r: Result.Result<Uint8Array, EncodeError>, name: string): Result.Result<Uint8Array, EncodeError> =>
  Result.isSuccess(r) && r.success.length > MAX_MESSAGE_SIZE
    ? Result.fail(new EncodeError({ field: name, reason: `message of ${r.success.length} bytes exceeds ${MAX_MESSAGE_SIZE}` }))
    : r

type Simplify<A> = { [K in keyof A]: A[K] } & {}

/** The value of a message: its tag, its fields in declaration order, and its TLV extension. */
export type MessageValue<Tag extends string, F extends StructFields, T extends TlvFields> = Simplify<
  { readonly _tag: Tag } & StructType<F> & { readonly tlvs: TlvValues<T> }
>

export interface MessageDef<Tag extends string, F extends StructFields, T extends TlvFields> {
  /** The 2-byte wire type. */
  readonly type: number
  /** The spec's name (`init`, `ping`...). */
  readonly name: string
  readonly tag: Tag
  readonly fields: F
  readonly tlvs: TlvStream<T>
  readonly schema: Schema.Codec<MessageValue<Tag, F, T>, unknown>
  /** Builds a value; the TLV extension defaults to empty. */
  readonly make: (fields: StructType<F>, tlvs?: TlvValues<T>) => MessageValue<Tag, F, T>
  /** Reads the payload (after the type), including the extension. Throws the internal sentinel. */
  readonly readPayload: (r: Reader) => MessageValue<Tag, F, T>
  readonly writePayload: (w: Writer, m: MessageValue<Tag, F, T>) => void
  /** Decodes a whole message (type included); a different type is an `InvalidFieldValue`. */
  readonly decode: (bytes: Uint8Array) => Result.Result<MessageValue<Tag, F, T>, DecodeError>
  /** Encodes a whole message (type included); over 65535 bytes is an `EncodeError`. */
  readonly encode: (m: MessageValue<Tag, F, T>) => Result.Result<Uint8Array, EncodeError>
  /** The spec fields the declaration covers, for checks against the spec's message catalog. */
  readonly wire: ReadonlyArray<{ readonly name: string; readonly wire: ReadonlyArray<WireField> }>
}

// Any message definition, whatever its fields: the registry's element type.
// (`never`/`unknown` choices keep variance sound without `any`.)
export interface AnyMessageDef {
  readonly type: number
  readonly name: string
  readonly tag: string
  readonly schema: Schema.Top
  readonly readPayload: (r: Reader) => { readonly _tag: string }
  readonly writePayload: (w: Writer, m: never) => void
  readonly decode: (bytes: Uint8Array) => Result.Result<{ readonly _tag: string }, DecodeError>
  readonly encode: (m: never) => Result.Result<Uint8Array, EncodeError>
}

export type MessageType<D> = D extends MessageDef<infer Tag, infer F, infer T> ? MessageValue<Tag, F, T> : never

const RESERVED = new Set(["_tag", "tlvs"])

interface MessageDecl<Tag extends string, F extends StructFields> {
  readonly type: number
  readonly name: string
  readonly tag: Tag
  readonly fields: F
}

/**
 * Declares a message: its type number, spec name, tag, fields in order and (optionally) its
 * extension TLV stream; without one, the extension is an empty stream (unknown odd records kept).
 */
export function defineMessage<const Tag extends string, const F extends StructFields>(
  decl: MessageDecl<Tag, F> & { readonly tlvs?: never }
): MessageDef<Tag, F, {}>
export function defineMessage<const Tag extends string, const F extends StructFields, const T extends TlvFields>(
  decl: MessageDecl<Tag, F> & { readonly tlvs: TlvStream<T> }
): MessageDef<Tag, F, T>
export function defineMessage<const Tag extends string, const F extends StructFields, const T extends TlvFields>(
  decl: MessageDecl<Tag, F> & { readonly tlvs?: TlvStream<T> }
): MessageDef<Tag, F, T> | MessageDef<Tag, F, {}> {
  return decl.tlvs === undefined
    ? buildMessage(decl, tlvStream(`${decl.name}_tlvs`, {}), false)
    : buildMessage(decl, decl.tlvs, true)
}

const buildMessage = <Tag extends string, F extends StructFields, T extends TlvFields>(
  decl: MessageDecl<Tag, F>,
  tlvs: TlvStream<T>,
  declaredTlvs: boolean
): MessageDef<Tag, F, T> => {
  if (!Number.isInteger(decl.type) || decl.type < 0 || decl.type > 0xffff) {
    throw new Error(`message ${decl.name}: type ${decl.type} is not a u16`)
  }
  const entries: ReadonlyArray<readonly [string, Codec<unknown>]> = Object.entries(decl.fields)
  for (const [k] of entries) if (RESERVED.has(k)) throw new Error(`message ${decl.name}: field name ${k} is reserved`)
  type M = MessageValue<Tag, F, T>
  // The extension `make` gives when none is passed: the stream decoded from no bytes (the stream's one frozen value).
  const noTlvs = tlvs.read(new Reader(new Uint8Array(0)))

  // The fields as two parallel arrays walked by index: no iterator or entry destructured per
  // field per message (which the optimizing tiers do not always remove).
  const keys = entries.map(([k]) => k)
  const codecs = entries.map(([, c]) => c)
  const count = entries.length
  // The decoded value is grown member by member (`_tag`, the fields in order, `tlvs`), not
  // copied from a template of its final shape (`{ ...template }`): this one site serves every
  // message type, so in a running node it sees a dozen shapes, and V8's clone of an object at
  // such a site (megamorphic) costs about twice the stores it saves (150 against 80 ns per
  // message, measured; the clone was most of `readPayload`'s own time in a profile).
  const readPayload = (r: Reader): M => {
    const out: Record<string, unknown> = { _tag: decl.tag }
    for (let i = 0; i < count; i++) {
      const k = keys[i]
      const c = codecs[i]
      if (k !== undefined && c !== undefined) out[k] = c.read(r)
    }
    out["tlvs"] = tlvs.read(r)
    return out as M
  }
  const writePayload = (w: Writer, m: M): void => {
    const values: { readonly [k: string]: unknown } = m
    for (let i = 0; i < count; i++) {
      const k = keys[i]
      const c = codecs[i]
      if (k !== undefined && c !== undefined) c.write(w, values[k])
    }
    tlvs.write(w, m.tlvs)
  }
  /** A whole message, type included (made once: no closure per message decoded). */
  const readMessage = (r: Reader): M => {
    const at = r.offset
    const type = r.u16()
    if (type !== decl.type) {
      fail(new InvalidFieldValue({ at, field: "type", reason: `expected ${decl.type} (${decl.name}), got ${type}` }))
    }
    return readPayload(r)
  }
  const schemaFields: Record<string, Schema.Top> = {}
  for (const [k, c] of entries) schemaFields[k] = c.schema
  schemaFields["tlvs"] = tlvs.schema
  // The one assertion left here: the schema is built from the same field codecs as `readPayload`,
  // over a record assembled at run time, so its static type is `{ [k: string]: unknown }`;
  // TypeScript cannot compute Effect's `Struct.Type` of a generic mapped field record back to
  // `MessageValue<Tag, F, T>` (the round-trip tests check every message's JSON form).
  const schema = Schema.TaggedStruct(decl.tag, schemaFields) as unknown as Schema.Codec<M, unknown>

  return {
    type: decl.type,
    name: decl.name,
    tag: decl.tag,
    fields: decl.fields,
    tlvs,
    schema,
    make: (fields, extension): M => ({ _tag: decl.tag, ...fields, tlvs: extension ?? noTlvs }),
    readPayload,
    writePayload,
    decode: (bytes) => decodeWith(bytes, readMessage),
    encode: (m) => checkSize(encodeMessage(decl.type, writePayload, m), decl.name),
    wire: [
      ...entries.map(([name, c]) => ({ name, wire: c.wire })),
      ...(declaredTlvs ? [{ name: "tlvs", wire: [{ element: tlvs.name }] }] : [])
    ]
  }
}

/** A message whose type no registered definition knows, and which is odd: to be ignored. */
export interface UnknownMessage {
  readonly _tag: "UnknownMessage"
  readonly type: number
  readonly payload: Uint8Array
}

export interface MessageRegistry<M extends { readonly _tag: string }> {
  readonly defs: ReadonlyArray<AnyMessageDef>
  /**
   * Known message, `UnknownMessage` for an unknown odd type, or a typed error. Never throws.
   * The inbound path (a received message, handed over): the byte fields of the result are views
   * of `bytes` (`Reader.viewing`), so the caller must not change `bytes` afterwards, nor reuse
   * its buffer. A definition's own `decode` copies them.
   */
  readonly decode: (bytes: Uint8Array) => Result.Result<M | UnknownMessage, DecodeError>
  readonly encode: (m: M) => Result.Result<Uint8Array, EncodeError>
  /** JSON form of any known message. */
  readonly schema: Schema.Codec<M, unknown>
  readonly byType: (type: number) => AnyMessageDef | undefined
  readonly byTag: (tag: string) => AnyMessageDef | undefined
}

type MessageOfDefs<Defs extends ReadonlyArray<AnyMessageDef>> = {
  [I in keyof Defs]: MessageType<Defs[I]>
}[number]

/**
 * Builds a dispatcher over a set of definitions (type numbers and tags must be unique).
 * Layers above combine their own definitions with the BOLT 1 ones into one registry.
 */
export const makeRegistry = <const Defs extends ReadonlyArray<AnyMessageDef>>(
  defs: Defs
): MessageRegistry<MessageOfDefs<Defs>> => {
  type M = MessageOfDefs<Defs>
  const types = new Map<number, AnyMessageDef>()
  const tags = new Map<string, AnyMessageDef>()
  for (const d of defs) {
    if (types.has(d.type)) throw new Error(`message type ${d.type} registered twice`)
    if (tags.has(d.tag)) throw new Error(`message tag ${d.tag} registered twice`)
    types.set(d.type, d)
    tags.set(d.tag, d)
  }
  // Made once: no closure per message decoded.
  const readMessage = (r: Reader): M | UnknownMessage => {
    const type = r.u16()
    const def = types.get(type)
    if (def !== undefined) return def.readPayload(r) as M
    if (type % 2 === 0) return fail(new UnknownEvenMessage({ type }))
    return { _tag: "UnknownMessage", type, payload: r.rest() }
  }
  const decode = (bytes: Uint8Array): Result.Result<M | UnknownMessage, DecodeError> => decodeViewing(bytes, readMessage)
  const encode = (m: M): Result.Result<Uint8Array, EncodeError> => {
    const def = tags.get(m._tag)
    if (def === undefined) return Result.fail(new EncodeError({ field: "_tag", reason: `unregistered message ${m._tag}` }))
    return checkSize(encodeMessage(def.type, def.writePayload, m as never), def.name)
  }
  // `AnyMessageDef.schema` is `Schema.Top` (a registry holds definitions of different types), so
  // the union's static type is `unknown`; each member is its definition's `Codec<MessageType<D>>`.
  const schema = (defs.length === 0 ? Schema.Never : Schema.Union(defs.map((d) => d.schema))) as unknown as Schema.Codec<M, unknown>
  return { defs, decode, encode, schema, byType: (t) => types.get(t), byTag: (t) => tags.get(t) }
}
