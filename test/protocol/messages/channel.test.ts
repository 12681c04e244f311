/** BOLT 2 message declarations: exact encodings built by hand from the spec layouts, TLV rules. */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import {
  ChainHashes,
  ChannelReady,
  ChannelReestablish,
  ClosingSigned,
  CommitmentSigned,
  LightningMessages,
  OpenChannel,
  Shutdown,
  Stfu,
  UpdateAddHtlc,
  UpdateFailHtlc
} from "../../../src/protocol/messages/index.ts"
import { txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, sat } from "../../../src/protocol/units.ts"

const cid = new Uint8Array(32).fill(0xab) as ChannelId
const pt = (b: number) => fromHex(`02${b.toString(16).padStart(2, "0").repeat(32)}`)
const hex = (r: Result.Result<Uint8Array, unknown>) => toHex(Result.getOrThrow(r))
const u64 = (n: number) => n.toString(16).padStart(16, "0")
const sig = new Uint8Array(64).fill(0x11)

const openChannel = (tlvs: Parameters<typeof OpenChannel.make>[1] = {}) =>
  OpenChannel.make(
    {
      chainHash: ChainHashes.regtest,
      temporaryChannelId: cid,
      fundingSatoshis: sat(1_000_000n),
      pushMsat: msat(0n),
      dustLimitSatoshis: sat(546n),
      maxHtlcValueInFlightMsat: msat(5_000_000n),
      channelReserveSatoshis: sat(10_000n),
      htlcMinimumMsat: msat(1n),
      feeratePerKw: 253,
      toSelfDelay: 144,
      maxAcceptedHtlcs: 483,
      fundingPubkey: pt(1),
      revocationBasepoint: pt(2),
      paymentBasepoint: pt(3),
      delayedPaymentBasepoint: pt(4),
      htlcBasepoint: pt(5),
      firstPerCommitmentPoint: pt(6),
      channelFlags: 1
    },
    tlvs
  )

describe("BOLT 2 messages", () => {
  it("open_channel: field order and the channel_type / upfront_shutdown_script TLVs", () => {
    const m = openChannel({ upfrontShutdownScript: new Uint8Array(0), channelType: fromHex("0001001000") })
    const expected =
      "0020" +
      toHex(ChainHashes.regtest) +
      "ab".repeat(32) +
      u64(1_000_000) +
      u64(0) +
      u64(546) +
      u64(5_000_000) +
      u64(10_000) +
      u64(1) +
      "000000fd" +
      "0090" +
      "01e3" +
      [1, 2, 3, 4, 5, 6].map((b) => toHex(pt(b))).join("") +
      "01" +
      "0000" + // upfront_shutdown_script, empty (opted out)
      "01050001001000" // channel_type bytes kept as sent, leading zero byte included
    expect(hex(OpenChannel.encode(m))).toBe(expected)
    const back = Result.getOrThrow(LightningMessages.decode(fromHex(expected)))
    expect(back).toEqual(m)
    expect(back._tag === "OpenChannel" && toHex(back.tlvs.channelType ?? new Uint8Array(0))).toBe("0001001000")
  })

  it("open_channel: an unknown even TLV fails, an unknown odd one is kept", () => {
    const base = Result.getOrThrow(OpenChannel.encode(openChannel()))
    const even = new Uint8Array([...base, 0x02, 0x00])
    const r = OpenChannel.decode(even)
    expect(Result.isFailure(r) && r.failure._tag).toBe("TlvUnknownEvenType")
    const odd = Result.getOrThrow(OpenChannel.decode(new Uint8Array([...base, 0x03, 0x01, 0xff])))
    expect(odd.tlvs.unknown).toEqual([{ type: 3n, value: fromHex("ff") }])
  })

  it("stfu and shutdown", () => {
    expect(hex(Stfu.encode(Stfu.make({ channelId: cid, initiator: 1 })))).toBe(`0002${"ab".repeat(32)}01`)
    expect(hex(Shutdown.encode(Shutdown.make({ channelId: cid, scriptpubkey: fromHex("0014" + "cd".repeat(20)) })))).toBe(
      `0026${"ab".repeat(32)}0016` + "0014" + "cd".repeat(20)
    )
  })

  it("channel_ready carries an SCID alias", () => {
    const alias = shortChannelIdFromParts(1, 2, 3)
    const m = ChannelReady.make({ channelId: cid, secondPerCommitmentPoint: pt(7) }, { shortChannelId: alias })
    expect(hex(ChannelReady.encode(m))).toBe(`0024${"ab".repeat(32)}${toHex(pt(7))}0108000001000002${"0003"}`)
  })

  it("closing_signed with fee_range", () => {
    const m = ClosingSigned.make(
      { channelId: cid, feeSatoshis: sat(500n), signature: sig },
      { feeRange: { minFeeSatoshis: sat(100n), maxFeeSatoshis: sat(1000n) } }
    )
    expect(hex(ClosingSigned.encode(m))).toBe(`0027${"ab".repeat(32)}${u64(500)}${"11".repeat(64)}0110${u64(100)}${u64(1000)}`)
  })

  it("update_add_htlc: a 1366-byte onion and the blinded_path path_key", () => {
    const m = UpdateAddHtlc.make(
      {
        channelId: cid,
        id: 7n,
        amountMsat: msat(1000n),
        paymentHash: new Uint8Array(32).fill(0x22),
        cltvExpiry: 500_000,
        onionRoutingPacket: new Uint8Array(1366).fill(0x33)
      },
      { blindedPath: pt(9) }
    )
    const bytes = Result.getOrThrow(UpdateAddHtlc.encode(m))
    expect(bytes.length).toBe(2 + 32 + 8 + 8 + 32 + 4 + 1366 + 2 + 33)
    expect(toHex(bytes.subarray(-35))).toBe(`0021${toHex(pt(9))}`)
    // A truncated onion is a typed error.
    expect(Result.isFailure(UpdateAddHtlc.decode(bytes.subarray(0, 2 + 32 + 8 + 8 + 32 + 4 + 1000)))).toBe(true)
  })

  it("update_fail_htlc: attribution_data must be exactly 920 bytes", () => {
    const m = UpdateFailHtlc.make({ channelId: cid, id: 1n, reason: fromHex("abcd") }, { attributionData: new Uint8Array(920).fill(5) })
    const bytes = Result.getOrThrow(UpdateFailHtlc.encode(m))
    expect(toHex(bytes.subarray(2 + 32 + 8 + 4, 2 + 32 + 8 + 4 + 4))).toBe("01fd0398")
    expect(UpdateFailHtlc.decode(bytes)).toEqual(Result.succeed(m))
    const short = fromHex(toHex(bytes.subarray(0, 2 + 32 + 8 + 4)) + "0103000000")
    const r = UpdateFailHtlc.decode(short)
    expect(Result.isFailure(r) && r.failure._tag).toBe("TlvValueTooShort")
    expect(Result.isFailure(UpdateFailHtlc.encode({ ...m, tlvs: { attributionData: new Uint8Array(10) } }))).toBe(true)
  })

  it("commitment_signed: num_htlcs then the HTLC signatures", () => {
    const m = CommitmentSigned.make({ channelId: cid, signature: sig, htlcSignatures: [sig, sig] })
    expect(hex(CommitmentSigned.encode(m))).toBe(`0084${"ab".repeat(32)}${"11".repeat(64)}0002${"11".repeat(128)}`)
  })

  it("channel_reestablish with next_funding and my_current_funding_locked", () => {
    const txid = txidFromBytes(new Uint8Array(32).fill(0x44))
    const m = ChannelReestablish.make(
      {
        channelId: cid,
        nextCommitmentNumber: 5n,
        nextRevocationNumber: 4n,
        yourLastPerCommitmentSecret: new Uint8Array(32),
        myCurrentPerCommitmentPoint: pt(8)
      },
      { nextFunding: { nextFundingTxid: txid, retransmitFlags: 1 }, myCurrentFundingLocked: { myCurrentFundingLockedTxid: txid, retransmitFlags: 0 } }
    )
    expect(hex(ChannelReestablish.encode(m))).toBe(
      `0088${"ab".repeat(32)}${u64(5)}${u64(4)}${"00".repeat(32)}${toHex(pt(8))}0121${"44".repeat(32)}010521${"44".repeat(32)}00`
    )
  })
})
