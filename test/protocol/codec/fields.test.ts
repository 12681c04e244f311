import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import * as F from "../../../src/protocol/codec/fields.ts"
import { MAX_MESSAGE_SIZE } from "../../../src/protocol/codec/message.ts"
import { InvalidPoint } from "../../../src/protocol/codec/errors.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import { encodeWith } from "../../../src/protocol/codec/writer.ts"
import { Ping } from "../../../src/protocol/messages/index.ts"

const binary = <A>(codec: F.Codec<A>, value: A): string => {
  const r = encodeWith((w) => codec.write(w, value))
  if (Result.isFailure(r)) throw new Error(r.failure.reason)
  expect(decodeWith(r.success, (rd) => codec.read(rd))).toEqual(Result.succeed(value))
  return toHex(r.success)
}
const failureTag = <A>(r: Result.Result<A, { readonly _tag: string }>): string => (Result.isFailure(r) ? r.failure._tag : "ok")
const json = <A>(codec: F.Codec<A>, value: A): unknown => {
  const encoded = Schema.encodeSync(codec.schema)(value)
  expect(Schema.decodeUnknownSync(codec.schema)(JSON.parse(JSON.stringify(encoded)))).toEqual(value)
  return encoded
}

describe("field codecs: binary and JSON forms", () => {
  it("integers", () => {
    expect(binary(F.u16, 0x1234)).toBe("1234")
    expect(binary(F.u32, 0xdeadbeef)).toBe("deadbeef")
    expect(binary(F.u64, 0xffffffffffffffffn)).toBe("ffffffffffffffff")
    expect(json(F.u64, 0xffffffffffffffffn)).toBe("18446744073709551615")
    expect(binary(F.s64, -1n)).toBe("ffffffffffffffff")
    expect(json(F.s64, -5n)).toBe("-5")
    expect(binary(F.bigsize, 0x10000n)).toBe("fe00010000")
    expect(binary(F.tu32, 0)).toBe("")
    expect(() => Schema.decodeUnknownSync(F.u16.schema)(70000)).toThrow()
    expect(() => Schema.decodeUnknownSync(F.u64.schema)("-1")).toThrow()
  })
  it("fixed-size bytes as hex", () => {
    const id = fromHex("ab".repeat(32))
    expect(json(F.chainHash, id as F.ChainHash)).toBe("ab".repeat(32))
    expect(() => Schema.decodeUnknownSync(F.channelId.schema)("abcd")).toThrow()
    expect(binary(F.signature, new Uint8Array(64))).toBe("00".repeat(64))
    expect(() => Schema.decodeUnknownSync(F.point.schema)(`04${"00".repeat(32)}`)).toThrow()
    expect(failureTag(encodeWith((w) => F.point.write(w, new Uint8Array(32))))).toBe("EncodeError")
  })
  it("short_channel_id as BLOCKxTXxOUTPUT", () => {
    const scid = F.shortChannelIdFromParts(539268, 845, 1)
    expect(binary(F.shortChannelId, scid)).toBe("083a8400034d0001")
    expect(json(F.shortChannelId, scid)).toBe("539268x845x1")
    expect(() => Schema.decodeUnknownSync(F.shortChannelId.schema)("1x2")).toThrow()
    expect(F.parseShortChannelId("16777216x0x0")).toBeUndefined()
  })
  it("sciddir_or_pubkey", () => {
    const key = fromHex(`03${"11".repeat(32)}`)
    expect(binary(F.sciddirOrPubkey, { _tag: "Pubkey", nodeId: key })).toBe(toHex(key))
    expect(binary(F.sciddirOrPubkey, { _tag: "Sciddir", direction: 1, scid: F.shortChannelIdFromParts(1, 2, 3) })).toBe("01000001000002" + "0003")
    json(F.sciddirOrPubkey, { _tag: "Sciddir", direction: 0, scid: F.shortChannelIdFromParts(1, 2, 3) })
    expect(decodeWith(fromHex(`04${"11".repeat(32)}`), F.sciddirOrPubkey.read)).toEqual(Result.fail(new InvalidPoint({ at: 0, prefix: 4 })))
    expect(failureTag(decodeWith(fromHex("0100"), F.sciddirOrPubkey.read))).toBe("UnexpectedEof")
  })
  it("length-prefixed and rest-of-value shapes", () => {
    expect(binary(F.u16Bytes, fromHex("abcd"))).toBe("0002abcd")
    expect(binary(F.u16Array(F.u16), [1, 2])).toBe("000200010002")
    expect(binary(F.restArray(F.u32), [1, 2])).toBe("0000000100000002")
    expect(json(F.u16Bytes, fromHex("abcd"))).toBe("abcd")
    expect(failureTag(encodeWith((w) => F.u16Bytes.write(w, new Uint8Array(0x10000))))).toBe("EncodeError")
    // A partial trailing item is an error, not silently dropped.
    expect(failureTag(decodeWith(fromHex("000000010000"), F.restArray(F.u32).read))).toBe("UnexpectedEof")
    // A u16 count larger than the items present.
    expect(failureTag(decodeWith(fromHex("00030001"), F.u16Array(F.u16).read))).toBe("UnexpectedEof")
    // A zero-width item cannot fill the rest of a value: refused, not looped on.
    expect(decodeWith(new Uint8Array(0), F.restArray(F.empty).read)).toEqual(Result.succeed([]))
    expect(failureTag(decodeWith(fromHex("00"), F.restArray(F.empty).read))).toBe("InvalidFieldValue")
  })
  it("a message over 65535 bytes cannot be encoded", () => {
    // type (2) + num_pong_bytes (2) + byteslen (2) + ignored.
    expect(Ping.encode(Ping.make({ numPongBytes: 0, ignored: new Uint8Array(MAX_MESSAGE_SIZE - 5) }))).toMatchObject(
      Result.fail({ _tag: "EncodeError", field: "ping" })
    )
    const fits = Ping.encode(Ping.make({ numPongBytes: 0, ignored: new Uint8Array(MAX_MESSAGE_SIZE - 6) }))
    expect(Result.isSuccess(fits) && fits.success.length).toBe(MAX_MESSAGE_SIZE)
  })
})
