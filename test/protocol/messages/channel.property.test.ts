/**
 * BOLT 2 message properties: every message round-trips through its own codec, through the
 * `LightningMessages` registry and through JSON; decoders given arbitrary bytes return a value
 * or a typed error, never throw.
 */
import { Result, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { bolt2Messages, channelMessages, LightningMessages } from "../../../src/protocol/messages/index.ts"
import { type AnyMessageDef, makeRegistry } from "../../../src/protocol/codec/message.ts"
import * as A from "./arbitraries.ts"

const RUNS = 1000
const isTyped = (r: Result.Result<unknown, { readonly _tag: string }>): boolean =>
  Result.isSuccess(r) || typeof r.failure._tag === "string"

// A registry over every BOLT 2 message, so the declared-only v2/splice messages are exercised too.
const all = makeRegistry(bolt2Messages)

const arbOf = (def: AnyMessageDef): fc.Arbitrary<{ readonly _tag: string }> => {
  const arb = A.channelMessageArbs[def.name] ?? A.bolt2ExtraArbs[def.name]
  if (arb === undefined) throw new Error(`no generator for ${def.name}`)
  return arb
}

describe("BOLT 2 message properties", () => {
  for (const def of bolt2Messages) {
    it(`${def.name}: decode(encode(m)) = m, and through JSON`, () => {
      const toJson = Schema.encodeSync(def.schema as Schema.Codec<unknown, unknown>)
      const fromJson = Schema.decodeUnknownSync(def.schema as Schema.Codec<unknown, unknown>)
      fc.assert(
        fc.property(arbOf(def), (m) => {
          const bytes = Result.getOrThrow(all.encode(m as never))
          expect(all.decode(bytes)).toEqual(Result.succeed(m))
          expect(def.decode(bytes)).toEqual(Result.succeed(m))
          expect(fromJson(JSON.parse(JSON.stringify(toJson(m))))).toEqual(m)
        }),
        { numRuns: RUNS }
      )
    })

    it(`${def.name}: arbitrary payloads after its type give a value or a typed error`, () => {
      fc.assert(
        fc.property(A.bytes(1600), (payload) => {
          const bytes = Uint8Array.of(def.type >> 8, def.type & 0xff, ...payload)
          return isTyped(def.decode(bytes)) && isTyped(all.decode(bytes)) && isTyped(LightningMessages.decode(bytes))
        }),
        { numRuns: RUNS }
      )
    })
  }

  it("LightningMessages: every BOLT 1 and v1 channel message round-trips through bytes and JSON", () => {
    const toJson = Schema.encodeSync(LightningMessages.schema)
    const fromJson = Schema.decodeUnknownSync(LightningMessages.schema)
    fc.assert(
      fc.property(A.lightningMessage, (m) => {
        const bytes = Result.getOrThrow(LightningMessages.encode(m))
        expect(LightningMessages.decode(bytes)).toEqual(Result.succeed(m))
        expect(fromJson(JSON.parse(JSON.stringify(toJson(m))))).toEqual(m)
      }),
      { numRuns: RUNS }
    )
  })

  it("LightningMessages: mutated and truncated valid messages give a value or a typed error", () => {
    fc.assert(
      fc.property(A.channelMessage, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, pos, byte) => {
        const bytes = Result.getOrThrow(LightningMessages.encode(m))
        const mutated = bytes.slice()
        mutated[pos % bytes.length] = byte
        return isTyped(LightningMessages.decode(mutated)) && isTyped(LightningMessages.decode(bytes.subarray(0, pos % bytes.length)))
      }),
      { numRuns: RUNS }
    )
  })

  it("LightningMessages knows BOLT 1 and the v1 channel messages, not v2/splice (unknown even types)", () => {
    for (const def of channelMessages) expect(LightningMessages.byType(def.type)?.name).toBe(def.name)
    expect(LightningMessages.byType(64)).toBeUndefined()
    const openChannel2 = Uint8Array.of(0, 64, 1, 2, 3)
    const r = LightningMessages.decode(openChannel2)
    expect(Result.isFailure(r) && r.failure._tag).toBe("UnknownEvenMessage")
  })
})
