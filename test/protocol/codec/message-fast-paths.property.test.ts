/**
 * The message codec's fast paths against plain forms written out here (equal outputs): a TLV
 * record's value written in place with its length put in front (`Writer.lengthPrefixed`)
 * against a value written by a Writer of its own and copied in after its BigSize length; a
 * whole message written field by field and record by record that way; and a decoded message
 * (a copy of its definition's template, filled by index) against one grown member by member,
 * members in the same order.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { StructFields } from "../../../src/protocol/codec/fields.ts"
import type { MessageDef, MessageValue } from "../../../src/protocol/codec/message.ts"
import { decodeWith, Reader } from "../../../src/protocol/codec/reader.ts"
import { encodeRawTlvStream, type TlvFields, type TlvRecord } from "../../../src/protocol/codec/tlv.ts"
import { Writer } from "../../../src/protocol/codec/writer.ts"
import {
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

describe("message codec fast paths", () => {
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
