/**
 * Tests written for `params.ts` (`npm run mutate -- src/protocol/channel/params.ts`): what a
 * stored channel's parameters admit when they are loaded (a compressed public key, BOLT 2
 * "MUST set `funding_pubkey` ... to valid secp256k1 pubkeys in compressed format": prefix 0x02
 * or 0x03, 33 bytes), the channel type by its stored name, and the commitment builder's view
 * (BOLT 3: each side's `to_self_delay` is the one it requires of the other).
 */
import { Option, Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../../src/protocol/bytes.ts"
import { channelTypes } from "../../../src/protocol/channel-type.ts"
import { channelTypeByName, channelView, PublicKeySchema } from "../../../src/protocol/channel/params.ts"
import { msat } from "../../../src/protocol/units.ts"
import { openChannel } from "./open-fixtures.ts"

const decodes = (hex: string): boolean => Option.isSome(Schema.decodeUnknownOption(PublicKeySchema)(hex))

describe("PublicKeySchema (a stored key is a compressed point's encoding)", () => {
  it("prefix 0x02 or 0x03, 33 bytes; anything else is refused", () => {
    const x = "11".repeat(32)
    expect(decodes(`02${x}`)).toBe(true)
    expect(decodes(`03${x}`)).toBe(true)
    expect(decodes(`04${x}`)).toBe(false)
    expect(decodes(`00${x}`)).toBe(false)
    expect(decodes(`02${x}11`)).toBe(false)
  })

  it("a wrong prefix is reported as such (the message a corrupt record's load shows)", () => {
    const r = Schema.decodeUnknownResult(PublicKeySchema)(`04${"11".repeat(32)}`)
    expect(Result.isFailure(r) ? String(r.failure) : "decoded").toContain("expected a compressed point")
  })
})

describe("channel type by name; the builder's view", () => {
  it("the descriptor of each stored name", () => {
    expect(channelTypeByName("static_remote_key").anchors).toBe(false)
    expect(channelTypeByName("anchors_zero_fee_htlc_tx").anchors).toBe(true)
    // The lookup gives the very descriptor a search of the list finds (the first of its name).
    for (const t of channelTypes) expect(channelTypeByName(t.name)).toBe(channelTypes.find((c) => c.name === t.name))
  })

  it("the view: each side's basepoints, dust limit and the delay it requires of the other; the balances given", () => {
    const p = openChannel().funder.params
    const params = { ...p, local: { ...p.local, toSelfDelay: 100 }, remote: { ...p.remote, toSelfDelay: 200 } }
    const v = channelView(params, { toLocal: msat(1n), toRemote: msat(2n), htlcs: [], feeratePerKw: 253 })
    expect(v.local).toEqual({ basepoints: params.local.basepoints, dustLimit: params.local.dustLimit, toSelfDelay: 100 })
    expect(v.remote).toEqual({ basepoints: params.remote.basepoints, dustLimit: params.remote.dustLimit, toSelfDelay: 200 })
    expect(v).toMatchObject({ localIsOpener: true, fundingAmount: params.fundingAmount, toLocal: 1n, toRemote: 2n, feeratePerKw: 253, htlcs: [] })
    expect(toHex(v.fundingOutpoint.txid)).toBe(toHex(params.fundingOutpoint.txid))
    expect(v.channelType.name).toBe(params.channelType)
  })
})
