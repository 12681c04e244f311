/**
 * `makeNormal` (the one constructor and copy of a `Normal`: every field present, in the Schema's
 * order) against the state it copies: on states with each optional field absent, present, or
 * present holding `undefined`, the copy is a new object with exactly the Schema's keys in the
 * Schema's order, the same value under each (`undefined` for an absent field), and the same
 * persisted JSON through both encoders (the hand-written one and the Schema's).
 */
import fc from "fast-check"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { ChannelStateSchema, makeNormal, NormalSchema, type Normal } from "../../../src/protocol/channel/state.ts"
import { encodeChannelStateJson } from "../../../src/protocol/channel/state-json.ts"
import { msat } from "../../../src/protocol/units.ts"
import { newPair } from "./step-harness.ts"

const opened = ((): Normal => {
  const p = newPair("make-a", "make-b")
  p.open()
  const s = p.a.state
  if (s?._tag !== "Normal") throw new Error("not Normal")
  return s
})()

type Presence = "absent" | "value" | "undefined"
const presence = fc.constantFrom<Presence>("absent", "value", "undefined")
/** The value, or `undefined` for a field present holding `undefined`. */
const valueOf = <V>(kind: Presence, value: V): V | undefined => (kind === "value" ? value : undefined)

/** Required fields first, then the optional ones (not the Schema's order: the copy must restore it). */
const state: fc.Arbitrary<Normal> = fc.array(presence, { minLength: 9, maxLength: 9 }).map(([a = "absent", b = "absent", c = "absent", d = "absent", e = "absent", f = "absent", g = "absent", h = "absent", i = "absent"]): Normal => ({
  _tag: "Normal",
  nextUpdateId: opened.nextUpdateId,
  connection: opened.connection,
  commitments: opened.commitments,
  shutdown: opened.shutdown,
  revealedSecrets: opened.revealedSecrets,
  fulfilledByPeer: opened.fulfilledByPeer,
  ...(i === "absent"
    ? {}
    : {
        awaiting: valueOf(i, {
          _tag: "DataLossCheck" as const,
          request: { _tag: "PerCommitmentPoint" as const, commitmentNumber: 5n },
          commitmentNumber: 5n,
          secret: new Uint8Array(32)
        })
      }),
  ...(a === "absent" ? {} : { closingFeeratePerKw: valueOf(a, 2_500) }),
  ...(b === "absent" ? {} : { pendingClose: valueOf(b, { scriptPubKey: new Uint8Array(22) }) }),
  ...(c === "absent" ? {} : { shortChannelId: valueOf(c, shortChannelIdFromParts(700_000, 1, 0)) }),
  ...(d === "absent" ? {} : { localAlias: valueOf(d, shortChannelIdFromParts(1, 2, 3)) }),
  ...(e === "absent" ? {} : { remoteAlias: valueOf(e, shortChannelIdFromParts(4, 5, 6)) }),
  ...(f === "absent" ? {} : { commitSentAtLocalNumber: valueOf(f, 3n) }),
  ...(g === "absent" ? {} : { dustExposed: valueOf(g, [1n, 2n]) }),
  ...(h === "absent" ? {} : { receivedHtlcs: valueOf(h, [{ htlcId: 4n, amount: msat(1_000n), paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: new Uint8Array(1366) }]) })
}))

const schemaKeys = Object.keys(NormalSchema.fields)
const schemaJson = (s: Normal): string => JSON.stringify(Schema.encodeSync(ChannelStateSchema)(s))

describe("makeNormal", () => {
  it("copies any state with every field, in the Schema's order, to the same values and the same persisted JSON", () => {
    fc.assert(
      fc.property(state, (s) => {
        const copy = makeNormal(s)
        expect(copy).not.toBe(s)
        expect(Object.keys(copy)).toStrictEqual(schemaKeys)
        const fields: Record<string, unknown> = s
        const copied: Record<string, unknown> = copy
        for (const k of schemaKeys) expect(copied[k]).toBe(fields[k])
        expect(JSON.stringify(encodeChannelStateJson(copy))).toBe(JSON.stringify(encodeChannelStateJson(s)))
        expect(schemaJson(copy)).toBe(schemaJson(s))
      }),
      { numRuns: 300, seed: 16 }
    )
  })

  it("is the state the reducer hands out (every field present)", () => {
    expect(Object.keys(makeNormal(opened))).toStrictEqual(schemaKeys)
    expect(makeNormal(opened)).toEqual(opened)
  })
})
