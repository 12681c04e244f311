import { Result, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Reader } from "../../../src/protocol/codec/reader.ts"
import { Writer } from "../../../src/protocol/codec/writer.ts"
import { addressList, Bolt1, bolt1Messages, decodeMessage, encodeMessage } from "../../../src/protocol/messages/index.ts"
import { featuresFromBytes, featuresToBytes } from "../../../src/protocol/features.ts"
import { decodeWith } from "../../../src/protocol/codec/reader.ts"
import * as A from "./arbitraries.ts"

const RUNS = 10_000
const isTyped = (r: Result.Result<unknown, { readonly _tag: string }>): boolean =>
  Result.isSuccess(r) || typeof r.failure._tag === "string"

const roundTrip = <M extends { readonly _tag: string }>(arb: fc.Arbitrary<M>) => () =>
  fc.assert(
    fc.property(arb, (m) => {
      const bytes = Result.getOrThrow(Bolt1.encode(m as never))
      expect(decodeMessage(bytes)).toEqual(Result.succeed(m))
    }),
    { numRuns: RUNS }
  )

describe("BOLT 1 message properties", () => {
  it("init: decode(encode(m)) = m", roundTrip(A.init))
  it("error: decode(encode(m)) = m", roundTrip(A.error))
  it("warning: decode(encode(m)) = m", roundTrip(A.warning))
  it("ping: decode(encode(m)) = m", roundTrip(A.ping))
  it("pong: decode(encode(m)) = m", roundTrip(A.pong))
  it("peer_storage(_retrieval): decode(encode(m)) = m", roundTrip(fc.oneof(A.peerStorage, A.peerStorageRetrieval)))

  it("JSON schema: decode(encode(m)) = m through JSON text", () => {
    const toJson = Schema.encodeSync(Bolt1.schema)
    const fromJson = Schema.decodeUnknownSync(Bolt1.schema)
    fc.assert(
      fc.property(A.bolt1Message, (m) => {
        expect(fromJson(JSON.parse(JSON.stringify(toJson(m))))).toEqual(m)
      }),
      { numRuns: 2000 }
    )
  })

  it("dispatcher: arbitrary bytes give a message, an unknown odd message or a typed error", () => {
    fc.assert(fc.property(A.bytes(300), (b) => isTyped(decodeMessage(b))), { numRuns: RUNS })
  })

  for (const def of bolt1Messages) {
    it(`${def.name}: arbitrary payloads after its type give a value or a typed error`, () => {
      fc.assert(
        fc.property(A.bytes(300), (payload) => {
          const bytes = Uint8Array.of(def.type >> 8, def.type & 0xff, ...payload)
          return isTyped(def.decode(bytes)) && isTyped(decodeMessage(bytes))
        }),
        { numRuns: RUNS }
      )
    })
  }

  it("dispatcher: mutated and truncated valid messages give a value or a typed error", () => {
    fc.assert(
      fc.property(A.bolt1Message, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, pos, byte) => {
        const bytes = Result.getOrThrow(encodeMessage(m))
        const mutated = bytes.slice()
        mutated[pos % bytes.length] = byte
        return isTyped(decodeMessage(mutated)) && isTyped(decodeMessage(bytes.subarray(0, pos % bytes.length)))
      }),
      { numRuns: RUNS }
    )
  })

  it("address lists: round-trip and arbitrary bytes never throw", () => {
    fc.assert(
      fc.property(fc.array(A.address, { maxLength: 4 }), (addresses) => {
        const w = new Writer()
        addressList.write(w, { addresses, unparsed: new Uint8Array(0) })
        expect(Result.getOrThrow(decodeWith(w.finish(), addressList.read))).toEqual({ addresses, unparsed: new Uint8Array(0) })
      }),
      { numRuns: 2000 }
    )
    fc.assert(fc.property(A.bytes(100), (b) => isTyped(decodeWith(b, (r: Reader) => addressList.read(r)))), { numRuns: RUNS })
  })

  it("feature vectors: bytes -> bits -> bytes is the minimal form", () => {
    fc.assert(
      fc.property(A.bytes(40), (b) => {
        let start = 0
        while (start < b.length && b[start] === 0) start++
        expect(featuresToBytes(featuresFromBytes(b))).toEqual(b.subarray(start))
      }),
      { numRuns: RUNS }
    )
  })
})
