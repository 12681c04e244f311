import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { type DecodeError, TlvValueTooLong, TlvValueTooShort } from "../../../src/protocol/codec/errors.ts"
import * as F from "../../../src/protocol/codec/fields.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import { decodeRawTlvStream, readExactValue, readRawRecords, tlvField, tlvStream } from "../../../src/protocol/codec/tlv.ts"
import { RevokeAndAck } from "../../../src/protocol/messages/channel.ts"
import { ChannelId } from "../../../src/protocol/units.ts"
import vectors from "../../vectors/bolt01-tlv.json" with { type: "json" }

// The two test namespaces of BOLT 1 Appendix B.
const n1 = tlvStream("n1", {
  tlv1: tlvField(1, F.struct({ amount_msat: F.tu64 })),
  tlv2: tlvField(2, F.struct({ scid: F.shortChannelId })),
  tlv3: tlvField(3, F.struct({ node_id: F.point, amount_msat_1: F.u64, amount_msat_2: F.u64 })),
  tlv4: tlvField(254, F.struct({ cltv_delta: F.u16 }))
})
const n2 = tlvStream("n2", {
  tlv1: tlvField(0, F.struct({ amount_msat: F.tu64 })),
  tlv2: tlvField(11, F.struct({ cltv_expiry: F.tu32 }))
})
/** Decode then re-encode in a namespace (the two streams have different value types). */
const inNamespace = (ns: string, hex: string): Result.Result<{ values: Record<string, unknown>; reencoded: string }, DecodeError> => {
  if (ns === "n1") return Result.map(n1.decode(fromHex(hex)), (v) => ({ values: v as Record<string, unknown>, reencoded: toHex(n1.encode(v)) }))
  return Result.map(n2.decode(fromHex(hex)), (v) => ({ values: v as Record<string, unknown>, reencoded: toHex(n2.encode(v)) }))
}

/** The decoded value in the vector file's JSON shape (hex, numbers/decimal strings, BxTxO). */
const toVectorShape = (decoded: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(decoded)) {
    if (name === "unknown") continue
    const fields: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === "scid") fields[k] = F.formatShortChannelId(v as F.ShortChannelId)
      else if (v instanceof Uint8Array) fields[k] = toHex(v)
      else if (typeof v === "bigint") fields[k] = v > BigInt(Number.MAX_SAFE_INTEGER) ? v.toString() : Number(v)
      else fields[k] = v
    }
    out[name] = fields
  }
  return out
}

/** Which typed error each of the spec's failure reasons must produce. */
const expectedTag = (reason: string): ReadonlyArray<string> => {
  if (reason.includes("truncated") || reason.includes("missing")) return ["UnexpectedEof", "TlvLengthExceedsStream"]
  if (reason.startsWith("not minimally encoded")) return ["NonCanonicalBigSize"]
  if (reason.startsWith("unknown even")) return ["TlvUnknownEvenType"]
  if (reason.startsWith("greater than encoding length")) return ["TlvValueTooLong", "NonMinimalTruncatedInt"]
  if (reason.startsWith("less than encoding length")) return ["TlvValueTooShort"]
  if (reason.includes("is not minimal")) return ["NonMinimalTruncatedInt"]
  if (reason.includes("not a valid point")) return ["InvalidPoint"]
  if (reason.includes("invalid ordering")) return ["TlvTypeNotIncreasing"]
  if (reason.includes("duplicate")) return ["TlvDuplicateType"]
  throw new Error(`unmapped reason ${reason}`)
}

describe("TLV streams (BOLT 1 Appendix B)", () => {
  for (const v of vectors.decoding_failures) {
    for (const ns of v.namespaces) {
      it(`rejects in ${ns}: ${v.records_spaced} (${v.reason})`, () => {
        const r = inNamespace(ns, v.stream)
        expect(Result.isFailure(r)).toBe(true)
        if (Result.isFailure(r)) expect(expectedTag(v.reason)).toContain(r.failure._tag)
      })
    }
  }
  for (const v of vectors.decoding_successes) {
    for (const ns of v.namespaces) {
      it(`accepts in ${ns}: ${v.records_spaced || "(empty)"}`, () => {
        const r = inNamespace(ns, v.stream)
        if (Result.isFailure(r)) throw new Error(`unexpected ${r.failure._tag}`)
        expect(toVectorShape(r.success.values)).toEqual(v.values)
        // Unknown odd records are kept, so re-encoding gives the same bytes.
        expect(r.success.reencoded).toBe(v.stream)
      })
    }
  }
  for (const v of vectors.stream_decoding_failures) {
    for (const ns of v.namespaces) {
      it(`rejects stream in ${ns}: ${v.records_spaced} (${v.reason})`, () => {
        const r = inNamespace(ns, v.stream)
        expect(Result.isFailure(r)).toBe(true)
        if (Result.isFailure(r)) expect(expectedTag(v.reason)).toContain(r.failure._tag)
      })
    }
  }
  it("follows the stream rules: a valid stream with an invalid record appended fails, a higher valid one appended is ok", () => {
    expect(vectors.stream_rules).toEqual({
      invalid_appended_to_valid: "fail",
      higher_numbered_valid_appended_to_lower_numbered_valid: "ok"
    })
    const lower = vectors.decoding_successes.filter((v) => v.namespaces.includes("n1") && v.stream !== "")
    const types = (hex: string): ReadonlyArray<bigint> => {
      const r = decodeRawTlvStream(fromHex(hex))
      if (Result.isFailure(r)) throw new Error("vector is not a raw stream")
      return r.success.map((rec) => rec.type)
    }
    for (const a of lower) {
      for (const b of lower) {
        const joined = n1.decode(fromHex(a.stream + b.stream))
        const last = types(a.stream).at(-1) ?? -1n
        const first = types(b.stream)[0] ?? -1n
        // Strictly increasing types across the join => ok; otherwise the join must fail.
        expect(Result.isSuccess(joined)).toBe(last < first)
      }
    }
    for (const a of lower) {
      for (const bad of vectors.decoding_failures.filter((v) => v.namespaces.includes("n1"))) {
        expect(Result.isFailure(n1.decode(fromHex(a.stream + bad.stream)))).toBe(true)
      }
    }
  })
})

describe("a stream with no records", () => {
  it("decodes to its stream's one frozen empty value, which a message made without an extension holds too", () => {
    const a = Result.getOrThrow(n1.decode(new Uint8Array(0)))
    expect(a).toEqual({})
    expect(Object.isFrozen(a)).toBe(true)
    expect(Result.getOrThrow(n1.decode(new Uint8Array(0)))).toBe(a)
    expect(Result.getOrThrow(n2.decode(new Uint8Array(0)))).not.toBe(a)
    expect(toHex(n1.encode(a))).toBe("")
    const made = RevokeAndAck.make({ channelId: ChannelId(new Uint8Array(32)), perCommitmentSecret: new Uint8Array(32), nextPerCommitmentPoint: new Uint8Array(33).fill(2) })
    const decoded = Result.getOrThrow(RevokeAndAck.decode(Result.getOrThrow(RevokeAndAck.encode(made))))
    expect(decoded.tlvs).toBe(made.tlvs)
    expect(decoded).toEqual(made)
  })
})

describe("readExactValue: a known record's value, exactly", () => {
  // A stream driven by hand, as a caller with its own unknown-type rules does: every record is a u16.
  const u16s = (hex: string) =>
    decodeWith(fromHex(hex), (r) => {
      const out: Array<[bigint, number]> = []
      readRawRecords(r, (type, value, at) => out.push([type, readExactValue((v) => v.u16(), type, value, at)]))
      return out
    })
  it("decodes values of exactly the right length", () => {
    expect(u16s("01020102" + "fd01000201ff")).toEqual(Result.succeed([[1n, 0x0102], [256n, 0x01ff]]))
  })
  it("a short value is TlvValueTooShort, a long one TlvValueTooLong, with the record's offset", () => {
    expect(u16s("0101ff")).toEqual(Result.fail(new TlvValueTooShort({ at: 0, type: 1n, length: 1 })))
    const long = u16s("01020102" + "0303aabbcc")
    expect(long).toEqual(Result.fail(new TlvValueTooLong({ at: 4, type: 3n, length: 3, unread: 1 })))
  })
  it("other decode errors pass through unchanged", () => {
    const r = decodeWith(fromHex("0101" + "00"), (r) =>
      readRawRecords(r, (type, value, at) => readExactValue((v) => v.tu16(), type, value, at))
    )
    expect(Result.isFailure(r) && r.failure._tag).toBe("NonMinimalTruncatedInt")
  })
})
