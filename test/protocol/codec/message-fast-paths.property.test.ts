/**
 * The message codec's fast paths against plain forms written out here (equal outputs): a TLV
 * record's value written in place with its length put in front (`Writer.lengthPrefixed`)
 * against a value written by a Writer of its own and copied in after its BigSize length; a
 * whole message written field by field and record by record that way; a decoded message
 * (its fields walked by index) against one grown over `Object.entries`, members in the same
 * order; and a TLV stream's decoder (records walked in place) against one over `readRawRecords`'
 * callback, on valid, disordered and mutated streams alike (the same value or the same error);
 * and the registry's decode (byte fields as views of the received bytes, `Reader.viewing`)
 * against a definition's copying decode.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { StructFields } from "../../../src/protocol/codec/fields.ts"
import type { MessageDef, MessageValue } from "../../../src/protocol/codec/message.ts"
import { decodeWith, Reader } from "../../../src/protocol/codec/reader.ts"
import { fail, TlvUnknownEvenType } from "../../../src/protocol/codec/errors.ts"
import {
  encodeRawTlvStream,
  readExactValue,
  readRawRecords,
  type TlvFields,
  type TlvRecord,
  type TlvStream
} from "../../../src/protocol/codec/tlv.ts"
import { Writer } from "../../../src/protocol/codec/writer.ts"
import {
  AcceptChannel,
  ChannelReestablish,
  CommitmentSigned,
  OpenChannel,
  RevokeAndAck,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFulfillHtlc
} from "../../../src/protocol/messages/channel.ts"
import { LightningMessages } from "../../../src/protocol/messages/index.ts"
import * as A from "../messages/arbitraries.ts"

const RUNS = 1_000

/** BigSize length, then the value: the plain form of a TLV record's length and value. */
const plainLengthPrefixed = (value: Uint8Array): Uint8Array => new Writer().bigsize(BigInt(value.length)).bytes(value).finish()

/** The plain encoding: fields in order, then every record (known and unknown) by type, each value from a Writer of its own. */
const plainEncode = <Tag extends string, F extends StructFields, T extends TlvFields>(def: MessageDef<Tag, F, T>, m: MessageValue<Tag, F, T>): Uint8Array => {
  const w = new Writer().u16(def.type)
  const values: { readonly [k: string]: unknown } = m
  for (const [k, c] of Object.entries(def.fields)) c.write(w, values[k])
  const tlvValues: { readonly [k: string]: unknown } = m.tlvs
  const records: Array<TlvRecord> = []
  for (const [name, field] of Object.entries(def.tlvs.fields)) {
    const x = tlvValues[name]
    if (x === undefined) continue
    const vw = new Writer()
    field.codec.write(vw, x)
    records.push({ type: field.type, value: vw.finish() })
  }
  for (const u of m.tlvs.unknown ?? []) records.push(u)
  return w.bytes(encodeRawTlvStream(records)).finish()
}

/** The plain decoding: the value grown member by member (`_tag`, the fields in order, `tlvs`). */
const plainDecode = <Tag extends string, F extends StructFields, T extends TlvFields>(def: MessageDef<Tag, F, T>, bytes: Uint8Array) =>
  decodeWith(bytes, (r) => {
    r.u16()
    const out: Record<string, unknown> = { _tag: def.tag }
    for (const [k, c] of Object.entries(def.fields)) out[k] = c.read(r)
    out["tlvs"] = def.tlvs.read(r)
    return out
  })

const checkMessage = <Tag extends string, F extends StructFields, T extends TlvFields>(
  def: MessageDef<Tag, F, T>,
  arbitrary: fc.Arbitrary<MessageValue<Tag, F, T>>
) =>
  fc.assert(
    fc.property(arbitrary, (m) => {
      const plain = plainEncode(def, m)
      const fast = Result.getOrThrow(def.encode(m))
      expect(fast).toEqual(plain)
      const decoded = Result.getOrThrow(def.decode(plain))
      const reference = Result.getOrThrow(plainDecode(def, plain))
      expect(decoded).toEqual(reference)
      expect(Object.keys(decoded)).toEqual(Object.keys(reference))
      expect(Object.keys(decoded)).toEqual(["_tag", ...Object.keys(def.fields), "tlvs"])
      const viaRegistry = Result.getOrThrow(LightningMessages.decode(plain))
      expect(viaRegistry).toEqual(reference)
      expect(Object.keys(viaRegistry)).toEqual(Object.keys(reference))
    }),
    { numRuns: RUNS }
  )

/** The plain stream decoder: `readRawRecords` with a callback, each known record found by a scan of the fields. */
const plainStreamRead =
  <F extends TlvFields>(stream: TlvStream<F>) =>
  (r: Reader): Record<string, unknown> => {
    const out: Record<string, unknown> = {}
    const unknown: Array<TlvRecord> = []
    readRawRecords(r, (type, value, at) => {
      const known = Object.entries(stream.fields).find(([, f]) => f.type === type)
      if (known !== undefined) out[known[0]] = readExactValue((v) => known[1].codec.read(v), type, value, at)
      else if (type % 2n === 0n) fail(new TlvUnknownEvenType({ at, type }))
      else unknown.push({ type, value: value.rest() })
    })
    if (unknown.length > 0) out["unknown"] = unknown
    return out
  }

/** Raw records over a stream's known types and others, in any order (duplicates too), sometimes mutated or cut. */
const rawStream = (stream: TlvStream<TlvFields>) => {
  const knownTypes = Object.values(stream.fields).map((f) => f.type)
  const type = fc.oneof(fc.constantFrom(...knownTypes, 0n, 1n, 2n, 3n, 0xfdn, 0x10001n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))
  const record = fc.record({ type, value: fc.uint8Array({ maxLength: 80 }) })
  const sorted = fc.array(record, { maxLength: 6 }).map((rs) => encodeRawTlvStream(rs))
  const unsorted = fc
    .array(record, { maxLength: 6 })
    .map((rs) => {
      const w = new Writer()
      for (const rec of rs) w.bigsize(rec.type).bigsize(BigInt(rec.value.length)).bytes(rec.value)
      return w.finish()
    })
  const mutated = fc.tuple(sorted, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, i, x]) => {
    const c = b.slice()
    if (c.length > 0) c[i % c.length] = x
    return c
  })
  const cut = fc.tuple(sorted, fc.nat()).map(([b, n]) => b.subarray(0, b.length === 0 ? 0 : n % b.length))
  return fc.oneof(sorted, unsorted, mutated, cut, fc.uint8Array({ maxLength: 60 }))
}

const checkStream = (stream: TlvStream<TlvFields>) =>
  fc.assert(
    fc.property(rawStream(stream), (bytes) => {
      const fast = decodeWith(bytes, stream.read)
      const plain = decodeWith(bytes, plainStreamRead(stream))
      expect(fast).toEqual(plain)
      if (Result.isSuccess(fast) && Result.isSuccess(plain)) expect(Object.keys(fast.success)).toEqual(Object.keys(plain.success))
    }),
    { numRuns: 2_000, seed: 11 }
  )

/** Every byte array in a decoded value (fields, TLV values, list items), depth first. */
const byteArraysOf = (v: unknown, out: Array<Uint8Array> = []): Array<Uint8Array> => {
  if (v instanceof Uint8Array) out.push(v)
  else if (Array.isArray(v)) for (const x of v) byteArraysOf(x, out)
  else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) byteArraysOf(x, out)
  return out
}

/** A message's bytes at `pad` in a larger buffer (as a received message may stand), and a copy of them. */
const placed = (encoded: Uint8Array, pad: number): Uint8Array => {
  const buffer = new Uint8Array(pad + encoded.length + 3)
  buffer.set(encoded, pad)
  return buffer.subarray(pad, pad + encoded.length)
}

/** Known messages, and unknown odd ones (their payload kept). */
const wireMessage = fc.oneof(
  A.lightningMessage.map((m) => Result.getOrThrow(LightningMessages.encode(m))),
  fc.tuple(fc.integer({ min: 0x8000, max: 0xfffe }).map((t) => t | 1), fc.uint8Array({ maxLength: 120 })).map(([type, payload]) =>
    new Writer().u16(type).bytes(payload).finish()
  )
)

describe("message codec fast paths", () => {
  it("the registry's decode (views of the bytes handed over) equals the copying decode; views only of an input over 64 bytes", () => {
    fc.assert(
      fc.property(wireMessage, fc.nat(16), (encoded, pad) => {
        const input = placed(encoded, pad)
        const viewed = Result.getOrThrow(LightningMessages.decode(input))
        const def = LightningMessages.byType((encoded[0] ?? 0) * 256 + (encoded[1] ?? 0))
        const copied = Result.getOrThrow(
          def === undefined
            ? decodeWith(input, (r) => ({ _tag: "UnknownMessage", type: r.u16(), payload: r.rest() }))
            : def.decode(input)
        )
        expect(viewed).toEqual(copied)
        expect(Object.keys(viewed)).toEqual(Object.keys(copied))
        // Over 64 bytes the byte fields view the input, within its bytes (a value a codec builds,
        // e.g. an address parsed from `remote_addr`, may be its own); at most 64 none does.
        const from = input.byteOffset
        const arrays = byteArraysOf(viewed)
        const views = arrays.filter((b) => b.buffer === input.buffer)
        for (const b of views) {
          expect(b.byteOffset).toBeGreaterThanOrEqual(from)
          expect(b.byteOffset + b.length).toBeLessThanOrEqual(from + input.length)
        }
        if (input.length <= 64) expect(views).toEqual([])
        else if (arrays.length > 0) expect(views.length).toBeGreaterThan(0)
        // The copying decode's fields are the caller's own: a later change of the input leaves them as they were.
        const before = structuredClone(byteArraysOf(copied))
        input.fill(0xa5)
        expect(byteArraysOf(copied)).toEqual(before)
      }),
      { numRuns: RUNS, seed: 17 }
    )
  })


  it("TLV stream decoding in place: update_add_htlc's", () => checkStream(UpdateAddHtlc.tlvs))
  it("TLV stream decoding in place: commitment_signed's", () => checkStream(CommitmentSigned.tlvs))
  it("TLV stream decoding in place: accept_channel's", () => checkStream(AcceptChannel.tlvs))
  it("TLV stream decoding in place: channel_reestablish's (struct records)", () => checkStream(ChannelReestablish.tlvs))

  it("Writer.lengthPrefixed writes the BigSize length then the value, at any offset, across the 1-, 3- and 5-byte lengths", () => {
    const value = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0xf0, max: 0x110 }).map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff)),
      fc.integer({ min: 0xfff0, max: 0x10010 }).map((n) => new Uint8Array(n).map((_, i) => (i * 13 + n) & 0xff))
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), value, fc.integer({ min: 16, max: 2048 }), (prefix, v, capacity) => {
        const raw = { write: (w: Writer, a: Uint8Array) => void w.bytes(a) }
        const fast = new Writer(capacity).bytes(prefix).lengthPrefixed(raw, v).u8(0xaa).finish()
        const plain = new Writer().bytes(prefix).bytes(plainLengthPrefixed(v)).u8(0xaa).finish()
        expect(fast).toEqual(plain)
        // And read back as a TLV value would be.
        const r = new Reader(fast, prefix.length)
        expect(r.bigsize()).toBe(BigInt(v.length))
        expect(r.bytes(v.length)).toEqual(v)
      }),
      { numRuns: 300 }
    )
  })

  it("update_add_htlc", () => checkMessage(UpdateAddHtlc, A.updateAddHtlc))
  it("update_fulfill_htlc (attribution data: a 3-byte TLV length)", () => checkMessage(UpdateFulfillHtlc, A.updateFulfillHtlc))
  it("update_fail_htlc", () => checkMessage(UpdateFailHtlc, A.updateFailHtlc))
  it("commitment_signed", () => checkMessage(CommitmentSigned, A.commitmentSigned))
  it("revoke_and_ack", () => checkMessage(RevokeAndAck, A.revokeAndAck))
  it("open_channel", () => checkMessage(OpenChannel, A.openChannel))
  it("channel_reestablish (struct records)", () => checkMessage(ChannelReestablish, A.channelReestablish))
})
