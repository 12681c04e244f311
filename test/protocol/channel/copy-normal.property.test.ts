/**
 * `copyNormal` (a `Normal` copied field by field, some optional fields left out) against the
 * object rest it replaced (`const { awaiting, ...rest } = s`): on states with each optional field
 * absent, present, or present holding `undefined`, and any set of fields dropped, the copy must be
 * strictly equal to the rest (same keys, `undefined` values included), and a new object.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import { copyNormal, type Normal } from "../../../src/protocol/channel/state.ts"
import { msat } from "../../../src/protocol/units.ts"
import { newPair } from "./step-harness.ts"

const opened = ((): Normal => {
  const p = newPair("copy-a", "copy-b")
  p.open()
  const s = p.a.state
  if (s?._tag !== "Normal") throw new Error("not Normal")
  return s
})()

type Presence = "absent" | "value" | "undefined"
const presence = fc.constantFrom<Presence>("absent", "value", "undefined")
/** The value, or `undefined` for a field present holding `undefined`. */
const valueOf = <V>(kind: Presence, value: V): V | undefined => (kind === "value" ? value : undefined)

const state: fc.Arbitrary<Normal> = fc.array(presence, { minLength: 9, maxLength: 9 }).map(([a = "absent", b = "absent", c = "absent", d = "absent", e = "absent", f = "absent", g = "absent", h = "absent", i = "absent"]): Normal => ({
  _tag: "Normal",
  nextUpdateId: opened.nextUpdateId,
  connection: opened.connection,
  commitments: opened.commitments,
  shutdown: opened.shutdown,
  revealedSecrets: opened.revealedSecrets,
  fulfilledByPeer: opened.fulfilledByPeer,
  ...(a === "absent" ? {} : { closingFeeratePerKw: valueOf(a, 2_500) }),
  ...(b === "absent" ? {} : { pendingClose: valueOf(b, { scriptPubKey: new Uint8Array(22) }) }),
  ...(c === "absent" ? {} : { shortChannelId: valueOf(c, shortChannelIdFromParts(700_000, 1, 0)) }),
  ...(d === "absent" ? {} : { localAlias: valueOf(d, shortChannelIdFromParts(1, 2, 3)) }),
  ...(e === "absent" ? {} : { remoteAlias: valueOf(e, shortChannelIdFromParts(4, 5, 6)) }),
  ...(f === "absent" ? {} : { commitSentAtLocalNumber: valueOf(f, 3n) }),
  ...(g === "absent" ? {} : { dustExposed: valueOf(g, [1n, 2n]) }),
  ...(h === "absent" ? {} : { receivedHtlcs: valueOf(h, [{ htlcId: 4n, amount: msat(1_000n), paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: new Uint8Array(1366) }]) }),
  ...(i === "absent"
    ? {}
    : {
        awaiting: valueOf(i, {
          _tag: "DataLossCheck" as const,
          request: { _tag: "PerCommitmentPoint" as const, commitmentNumber: 5n },
          commitmentNumber: 5n,
          secret: new Uint8Array(32)
        })
      })
}))

const droppable = [
  "closingFeeratePerKw",
  "pendingClose",
  "shortChannelId",
  "localAlias",
  "remoteAlias",
  "commitSentAtLocalNumber",
  "dustExposed",
  "receivedHtlcs",
  "awaiting"
] as const
type Droppable = (typeof droppable)[number]

/** The plain form: every own field but the dropped ones, as an object rest copies them. */
const plain = (s: Normal, drop: ReadonlyArray<string>): Record<string, unknown> => {
  const copy: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(s)) if (!drop.includes(k)) copy[k] = v
  return copy
}

describe("copyNormal", () => {
  it("is the object rest it replaced, for any state and any fields dropped", () => {
    fc.assert(
      fc.property(state, fc.subarray([...droppable]), (s, dropped) => {
        const flags: { [K in Droppable]?: true } = {}
        for (const k of dropped) flags[k] = true
        const copy = copyNormal(s, flags)
        expect(copy).toStrictEqual(plain(s, dropped))
        expect(Object.keys(copy).sort()).toEqual(Object.keys(plain(s, dropped)).sort())
        expect(copy).not.toBe(s)
      }),
      { numRuns: 300, seed: 14 }
    )
  })

  it("the state's own copy keeps everything (no field dropped)", () => {
    expect(copyNormal(opened, {})).toStrictEqual(plain(opened, []))
  })
})
