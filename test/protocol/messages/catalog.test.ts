/**
 * Checks each declared message against the spec's message catalog (`bolt-messages.json`):
 * type number, field order, element types and counts, TLV stream record types and layouts.
 */
import { describe, expect, it } from "vitest"
import type { WireField } from "../../../src/protocol/codec/fields.ts"
import { bolt1Messages, bolt2Messages, channelMessages } from "../../../src/protocol/messages/index.ts"
import catalog from "../../vectors/bolt-messages.json" with { type: "json" }

interface SpecField {
  readonly name: string
  readonly element_type: string
  readonly count?: string | number
  readonly kind: string
}

const normalize = (name: string): string => name.replace(/_/g, "").toLowerCase()
/** Our field names that differ from the spec's (a counted list named in the plural). */
const renamed: Record<string, string> = { htlcSignatures: "htlc_signature" }
const specName = (ours: string): string => normalize(renamed[ours] ?? ours)
const element = (t: string): string => (t === "u8" ? "byte" : t)

/** Our wire description in the catalog's terms: "element" or "element[count]". */
const ours = (fields: ReadonlyArray<WireField>): ReadonlyArray<string> =>
  fields.map((f) => `${element(f.element)}${f.count === undefined ? "" : `[${f.count}]`}`)

/** The spec's fields in the same terms (a count naming the previous field becomes "prev"). */
const spec = (fields: ReadonlyArray<SpecField>): ReadonlyArray<string> =>
  fields.map((f, i) => {
    const count = f.count === undefined ? "" : typeof f.count === "number" ? `[${f.count}]` : f.count === "..." ? "[...]" : f.count === fields[i - 1]?.name ? "[prev]" : `[${f.count}]`
    return `${element(f.element_type)}${count}`
  })

const streams = catalog.tlv_streams as Record<string, { records: ReadonlyArray<{ type: number; name: string; fields: ReadonlyArray<SpecField> }> }>

describe("message declarations match the spec catalog", () => {
  for (const def of [...bolt1Messages, ...bolt2Messages]) {
    it(`${def.name} (${def.type})`, () => {
      const entry = catalog.messages.find((m) => m.name === def.name)
      if (entry === undefined) throw new Error(`${def.name} is not in the catalog`)
      expect(def.type).toBe(entry.type)
      const specFields = (entry.fields as ReadonlyArray<SpecField>).filter((f) => f.kind !== "tlv_stream")
      // Field layouts, in order.
      expect(def.wire.filter((w) => w.name !== "tlvs").flatMap((w) => ours(w.wire))).toEqual(spec(specFields))
      // Field names: each of our fields is the spec's data field (length prefixes are implicit).
      const dataNames = specFields.filter((f, i) => !specFields.some((g, j) => j > i && g.count === f.name)).map((f) => normalize(f.name))
      expect(def.wire.filter((w) => w.name !== "tlvs").map((w) => specName(w.name))).toEqual(dataNames)
      // TLV extension stream.
      const streamName = entry.tlv_stream
      if (streamName === null) {
        expect(def.tlvs.records).toEqual([])
      } else {
        expect(def.tlvs.name).toBe(streamName)
        const records = streams[streamName]?.records ?? []
        expect(def.tlvs.records.map((r) => [Number(r.type), normalize(r.name)])).toEqual(records.map((r) => [r.type, normalize(r.name)]))
        for (const r of def.tlvs.records) {
          const s = records.find((x) => x.type === Number(r.type))
          expect(ours(r.wire)).toEqual(spec(s?.fields ?? []))
        }
      }
    })
  }
  it("declares every BOLT 1 message of the catalog", () => {
    const declared = bolt1Messages.map((d) => d.name).sort()
    const bolt1 = catalog.messages.filter((m) => m.bolt === "01-messaging.md").map((m) => m.name)
    expect(declared).toEqual(bolt1.sort())
  })
  it("declares every BOLT 2 message of the catalog", () => {
    const declared = bolt2Messages.map((d) => d.name).sort()
    const bolt2 = catalog.messages.filter((m) => m.bolt === "02-peer-protocol.md").map((m) => m.name)
    expect(declared).toEqual(bolt2.sort())
  })
  it("the v1 channel messages are the ones the issue lists", () => {
    expect(channelMessages.map((d) => d.name).sort()).toEqual(
      [
        "open_channel", "accept_channel", "funding_created", "funding_signed", "channel_ready", "shutdown",
        "closing_signed", "closing_complete", "closing_sig", "update_add_htlc", "update_fulfill_htlc",
        "update_fail_htlc", "update_fail_malformed_htlc", "commitment_signed", "revoke_and_ack", "update_fee",
        "channel_reestablish", "stfu"
      ].sort()
    )
  })
})
