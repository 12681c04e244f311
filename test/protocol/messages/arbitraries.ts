/** fast-check generators for every BOLT 1 and BOLT 2 message (shared by the property tests). */
import fc from "fast-check"
import { type ChainHash, shortChannelIdFromParts } from "../../../src/protocol/codec/fields.ts"
import type { TlvRecord } from "../../../src/protocol/codec/tlv.ts"
import {
  AcceptChannel,
  AcceptChannel2,
  type Address,
  ATTRIBUTION_DATA_LENGTH,
  type Bolt1Message,
  type ChannelMessage,
  ChannelReady,
  ChannelReestablish,
  ClosingComplete,
  ClosingSig,
  ClosingSigned,
  CommitmentSigned,
  ErrorMessage,
  FundingCreated,
  FundingSigned,
  Init,
  type LightningMessage,
  ONION_PACKET_SIZE,
  OpenChannel,
  OpenChannel2,
  RevokeAndAck,
  Shutdown,
  SpliceAck,
  SpliceInit,
  SpliceLocked,
  StartBatch,
  Stfu,
  TxAbort,
  TxAckRbf,
  TxAddInput,
  TxAddOutput,
  TxComplete,
  TxInitRbf,
  TxRemoveInput,
  TxRemoveOutput,
  TxSignatures,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc,
  PeerStorage,
  PeerStorageRetrieval,
  Ping,
  Pong,
  type RemoteAddress,
  Warning
} from "../../../src/protocol/messages/index.ts"
import { txidFromBytes } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, sat } from "../../../src/protocol/units.ts"

const U64_MAX = (1n << 64n) - 1n

export const bytes = (maxLength: number) => fc.uint8Array({ maxLength })
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })

/** Unknown odd TLV records whose types avoid `known`, sorted, non-empty (absent otherwise). */
export const unknownOdd = (known: ReadonlyArray<bigint>): fc.Arbitrary<ReadonlyArray<TlvRecord>> =>
  fc
    .uniqueArray(fc.oneof(fc.bigInt({ min: 0n, max: 200n }), fc.bigInt({ min: 0n, max: (U64_MAX - 1n) / 2n })), {
      minLength: 1,
      maxLength: 3
    })
    .map((xs) => xs.map((x) => 2n * x + 1n).filter((t) => !known.includes(t)).sort((a, b) => (a < b ? -1 : 1)))
    .filter((types) => types.length > 0)
    .chain((types) => fc.tuple(...types.map((type) => bytes(20).map((value) => ({ type, value })))))

const withUnknown = <A extends object>(arb: fc.Arbitrary<A>, known: ReadonlyArray<bigint>) =>
  fc.tuple(arb, fc.option(unknownOdd(known), { nil: undefined })).map(([v, u]) => (u === undefined ? v : { ...v, unknown: u }))

const port = fc.integer({ min: 0, max: 0xffff })
export const address: fc.Arbitrary<Address> = fc.oneof(
  fc.record({ _tag: fc.constant("Ipv4" as const), addr: fixed(4), port }),
  fc.record({ _tag: fc.constant("Ipv6" as const), addr: fixed(16), port }),
  fc.record({ _tag: fc.constant("TorV2" as const), data: fixed(12) }),
  fc.record({ _tag: fc.constant("TorV3" as const), onion: fixed(35), port }),
  fc.record({
    _tag: fc.constant("Dns" as const),
    hostname: fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
    port
  })
)
// Opaque bytes that are not themselves a valid descriptor: an unknown first byte.
const remoteAddress: fc.Arbitrary<RemoteAddress> = fc.oneof(
  address,
  fc
    .tuple(fc.oneof(fc.constant(0), fc.integer({ min: 6, max: 255 })), bytes(10))
    .map(([t, b]) => ({ _tag: "Opaque" as const, bytes: Uint8Array.of(t, ...b) }))
)

const channelId = fixed(32).map((b) => b as ChannelId)

export const init: fc.Arbitrary<Init> = fc
  .record({
    globalFeatures: bytes(8),
    features: bytes(16),
    tlvs: withUnknown(
      fc.record(
        { networks: fc.array(fixed(32).map((b) => b as ChainHash), { maxLength: 3 }), remoteAddr: remoteAddress },
        { requiredKeys: [] }
      ),
      [1n, 3n]
    )
  })
  .map(({ globalFeatures, features, tlvs }) => Init.make({ globalFeatures, features }, tlvs))

const extension = withUnknown(fc.constant({}), [])

export const error: fc.Arbitrary<ErrorMessage> = fc
  .tuple(channelId, bytes(100), extension)
  .map(([id, data, tlvs]) => ErrorMessage.make({ channelId: id, data }, tlvs))
export const warning: fc.Arbitrary<Warning> = fc
  .tuple(channelId, bytes(100), extension)
  .map(([id, data, tlvs]) => Warning.make({ channelId: id, data }, tlvs))
export const ping: fc.Arbitrary<Ping> = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), bytes(100), extension)
  .map(([n, ignored, tlvs]) => Ping.make({ numPongBytes: n, ignored }, tlvs))
export const pong: fc.Arbitrary<Pong> = fc.tuple(bytes(100), extension).map(([ignored, tlvs]) => Pong.make({ ignored }, tlvs))
export const peerStorage: fc.Arbitrary<PeerStorage> = fc.tuple(bytes(100), extension).map(([blob, tlvs]) => PeerStorage.make({ blob }, tlvs))
export const peerStorageRetrieval: fc.Arbitrary<PeerStorageRetrieval> = fc
  .tuple(bytes(100), extension)
  .map(([blob, tlvs]) => PeerStorageRetrieval.make({ blob }, tlvs))

export const bolt1Message: fc.Arbitrary<Bolt1Message> = fc.oneof(init, error, warning, ping, pong, peerStorage, peerStorageRetrieval)

// ---- BOLT 2 -------------------------------------------------------------------------------------

const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const u64 = fc.bigInt({ min: 0n, max: U64_MAX })
const s64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
const sats = u64.map(sat)
const msats = u64.map(msat)
const txid = fixed(32).map(txidFromBytes)
const sig = fixed(64)
export const point = fc.tuple(fc.constantFrom(2, 3), fixed(32)).map(([p, x]) => Uint8Array.of(p, ...x))
const scid = fc.tuple(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 0xffffff }), u16).map(([b, t, o]) => shortChannelIdFromParts(b, t, o))

/** A TLV extension: some of `fields` (each optional) plus unknown odd records avoiding `known`. */
const tlvs = <R extends Record<string, fc.Arbitrary<unknown>>>(fields: R, known: ReadonlyArray<bigint>) =>
  withUnknown(fc.record(fields, { requiredKeys: [] }), known)

const openTlvs = tlvs({ upfrontShutdownScript: bytes(40), channelType: bytes(8) }, [0n, 1n])
const basepoints = {
  fundingPubkey: point,
  revocationBasepoint: point,
  paymentBasepoint: point,
  delayedPaymentBasepoint: point,
  htlcBasepoint: point,
  firstPerCommitmentPoint: point
}

export const openChannel: fc.Arbitrary<OpenChannel> = fc
  .tuple(
    fc.record({
      chainHash: fixed(32).map((b) => b as ChainHash),
      temporaryChannelId: channelId,
      fundingSatoshis: sats,
      pushMsat: msats,
      dustLimitSatoshis: sats,
      maxHtlcValueInFlightMsat: msats,
      channelReserveSatoshis: sats,
      htlcMinimumMsat: msats,
      feeratePerKw: u32,
      toSelfDelay: u16,
      maxAcceptedHtlcs: u16,
      ...basepoints,
      channelFlags: u8
    }),
    openTlvs
  )
  .map(([f, t]) => OpenChannel.make(f, t))

export const acceptChannel: fc.Arbitrary<AcceptChannel> = fc
  .tuple(
    fc.record({
      temporaryChannelId: channelId,
      dustLimitSatoshis: sats,
      maxHtlcValueInFlightMsat: msats,
      channelReserveSatoshis: sats,
      htlcMinimumMsat: msats,
      minimumDepth: u32,
      toSelfDelay: u16,
      maxAcceptedHtlcs: u16,
      ...basepoints
    }),
    openTlvs
  )
  .map(([f, t]) => AcceptChannel.make(f, t))

export const fundingCreated: fc.Arbitrary<FundingCreated> = fc
  .tuple(fc.record({ temporaryChannelId: channelId, fundingTxid: txid, fundingOutputIndex: u16, signature: sig }), extension)
  .map(([f, t]) => FundingCreated.make(f, t))

export const fundingSigned: fc.Arbitrary<FundingSigned> = fc
  .tuple(fc.record({ channelId, signature: sig }), extension)
  .map(([f, t]) => FundingSigned.make(f, t))

export const channelReady: fc.Arbitrary<ChannelReady> = fc
  .tuple(fc.record({ channelId, secondPerCommitmentPoint: point }), tlvs({ shortChannelId: scid }, [1n]))
  .map(([f, t]) => ChannelReady.make(f, t))

export const stfu: fc.Arbitrary<Stfu> = fc.tuple(fc.record({ channelId, initiator: u8 }), extension).map(([f, t]) => Stfu.make(f, t))

export const shutdown: fc.Arbitrary<Shutdown> = fc
  .tuple(fc.record({ channelId, scriptpubkey: bytes(40) }), extension)
  .map(([f, t]) => Shutdown.make(f, t))

export const closingSigned: fc.Arbitrary<ClosingSigned> = fc
  .tuple(
    fc.record({ channelId, feeSatoshis: sats, signature: sig }),
    tlvs({ feeRange: fc.record({ minFeeSatoshis: sats, maxFeeSatoshis: sats }) }, [1n])
  )
  .map(([f, t]) => ClosingSigned.make(f, t))

const closingFields = fc.record({ channelId, closerScriptpubkey: bytes(40), closeeScriptpubkey: bytes(40), feeSatoshis: sats, locktime: u32 })
const closingTlvs = tlvs({ closerOutputOnly: sig, closeeOutputOnly: sig, closerAndCloseeOutputs: sig }, [1n, 2n, 3n])
export const closingComplete: fc.Arbitrary<ClosingComplete> = fc
  .tuple(closingFields, closingTlvs)
  .map(([f, t]) => ClosingComplete.make(f, t))
export const closingSig: fc.Arbitrary<ClosingSig> = fc.tuple(closingFields, closingTlvs).map(([f, t]) => ClosingSig.make(f, t))

export const updateAddHtlc: fc.Arbitrary<UpdateAddHtlc> = fc
  .tuple(
    fc.record({ channelId, id: u64, amountMsat: msats, paymentHash: fixed(32), cltvExpiry: u32, onionRoutingPacket: fixed(ONION_PACKET_SIZE) }),
    tlvs({ blindedPath: point }, [0n])
  )
  .map(([f, t]) => UpdateAddHtlc.make(f, t))

const attribution = tlvs({ attributionData: fixed(ATTRIBUTION_DATA_LENGTH) }, [1n])
export const updateFulfillHtlc: fc.Arbitrary<UpdateFulfillHtlc> = fc
  .tuple(fc.record({ channelId, id: u64, paymentPreimage: fixed(32) }), attribution)
  .map(([f, t]) => UpdateFulfillHtlc.make(f, t))
export const updateFailHtlc: fc.Arbitrary<UpdateFailHtlc> = fc
  .tuple(fc.record({ channelId, id: u64, reason: bytes(300) }), attribution)
  .map(([f, t]) => UpdateFailHtlc.make(f, t))
export const updateFailMalformedHtlc: fc.Arbitrary<UpdateFailMalformedHtlc> = fc
  .tuple(fc.record({ channelId, id: u64, sha256OfOnion: fixed(32), failureCode: u16 }), extension)
  .map(([f, t]) => UpdateFailMalformedHtlc.make(f, t))

export const commitmentSigned: fc.Arbitrary<CommitmentSigned> = fc
  .tuple(fc.record({ channelId, signature: sig, htlcSignatures: fc.array(sig, { maxLength: 30 }) }), tlvs({ fundingTxid: txid }, [1n]))
  .map(([f, t]) => CommitmentSigned.make(f, t))

export const revokeAndAck: fc.Arbitrary<RevokeAndAck> = fc
  .tuple(fc.record({ channelId, perCommitmentSecret: fixed(32), nextPerCommitmentPoint: point }), extension)
  .map(([f, t]) => RevokeAndAck.make(f, t))

export const updateFee: fc.Arbitrary<UpdateFee> = fc
  .tuple(fc.record({ channelId, feeratePerKw: u32 }), extension)
  .map(([f, t]) => UpdateFee.make(f, t))

export const channelReestablish: fc.Arbitrary<ChannelReestablish> = fc
  .tuple(
    fc.record({
      channelId,
      nextCommitmentNumber: u64,
      nextRevocationNumber: u64,
      yourLastPerCommitmentSecret: fixed(32),
      myCurrentPerCommitmentPoint: point
    }),
    tlvs(
      {
        nextFunding: fc.record({ nextFundingTxid: txid, retransmitFlags: u8 }),
        myCurrentFundingLocked: fc.record({ myCurrentFundingLockedTxid: txid, retransmitFlags: u8 })
      },
      [1n, 5n]
    )
  )
  .map(([f, t]) => ChannelReestablish.make(f, t))

/** One generator per v1 channel message, by spec name. */
export const channelMessageArbs: Record<string, fc.Arbitrary<ChannelMessage>> = {
  open_channel: openChannel,
  accept_channel: acceptChannel,
  funding_created: fundingCreated,
  funding_signed: fundingSigned,
  channel_ready: channelReady,
  stfu,
  shutdown,
  closing_signed: closingSigned,
  closing_complete: closingComplete,
  closing_sig: closingSig,
  update_add_htlc: updateAddHtlc,
  update_fulfill_htlc: updateFulfillHtlc,
  update_fail_htlc: updateFailHtlc,
  update_fail_malformed_htlc: updateFailMalformedHtlc,
  commitment_signed: commitmentSigned,
  revoke_and_ack: revokeAndAck,
  update_fee: updateFee,
  channel_reestablish: channelReestablish
}

export const channelMessage: fc.Arbitrary<ChannelMessage> = fc.oneof(...Object.values(channelMessageArbs))
export const lightningMessage: fc.Arbitrary<LightningMessage> = fc.oneof(bolt1Message, channelMessage)

// v2 / splice (declared only): generators for the round-trip property.
const withExt = <F>(fields: fc.Arbitrary<F>) => fc.tuple(fields, extension)
const v2Basepoints = { ...basepoints, secondPerCommitmentPoint: point }
const v2Tlvs = tlvs({ upfrontShutdownScript: bytes(40), channelType: bytes(8), requireConfirmedInputs: fc.constant(true as const) }, [0n, 1n, 2n])
const confirmedInputs = tlvs({ requireConfirmedInputs: fc.constant(true as const) }, [2n])
const rbfTlvs = tlvs({ fundingOutputContribution: s64, requireConfirmedInputs: fc.constant(true as const) }, [0n, 2n])

export const bolt2ExtraArbs: Record<string, fc.Arbitrary<{ readonly _tag: string }>> = {
  open_channel2: fc
    .tuple(
      fc.record({
        chainHash: fixed(32).map((b) => b as ChainHash),
        temporaryChannelId: channelId,
        fundingFeeratePerkw: u32,
        commitmentFeeratePerkw: u32,
        fundingSatoshis: sats,
        dustLimitSatoshis: sats,
        maxHtlcValueInFlightMsat: msats,
        htlcMinimumMsat: msats,
        toSelfDelay: u16,
        maxAcceptedHtlcs: u16,
        locktime: u32,
        ...v2Basepoints,
        channelFlags: u8
      }),
      v2Tlvs
    )
    .map(([f, t]) => OpenChannel2.make(f, t)),
  accept_channel2: fc
    .tuple(
      fc.record({
        temporaryChannelId: channelId,
        fundingSatoshis: sats,
        dustLimitSatoshis: sats,
        maxHtlcValueInFlightMsat: msats,
        htlcMinimumMsat: msats,
        minimumDepth: u32,
        toSelfDelay: u16,
        maxAcceptedHtlcs: u16,
        ...v2Basepoints
      }),
      v2Tlvs
    )
    .map(([f, t]) => AcceptChannel2.make(f, t)),
  tx_add_input: fc
    .tuple(
      fc.record({ channelId, serialId: u64, prevtx: bytes(200), prevtxVout: u32, sequence: u32 }),
      tlvs({ sharedInputTxid: txid }, [0n])
    )
    .map(([f, t]) => TxAddInput.make(f, t)),
  tx_add_output: withExt(fc.record({ channelId, serialId: u64, sats, script: bytes(40) })).map(([f, t]) => TxAddOutput.make(f, t)),
  tx_remove_input: withExt(fc.record({ channelId, serialId: u64 })).map(([f, t]) => TxRemoveInput.make(f, t)),
  tx_remove_output: withExt(fc.record({ channelId, serialId: u64 })).map(([f, t]) => TxRemoveOutput.make(f, t)),
  tx_complete: withExt(fc.record({ channelId })).map(([f, t]) => TxComplete.make(f, t)),
  tx_signatures: fc
    .tuple(fc.record({ channelId, txid, witnesses: fc.array(bytes(120), { maxLength: 5 }) }), tlvs({ sharedInputSignature: sig }, [0n]))
    .map(([f, t]) => TxSignatures.make(f, t)),
  tx_init_rbf: fc.tuple(fc.record({ channelId, locktime: u32, feerate: u32 }), rbfTlvs).map(([f, t]) => TxInitRbf.make(f, t)),
  tx_ack_rbf: fc.tuple(fc.record({ channelId }), rbfTlvs).map(([f, t]) => TxAckRbf.make(f, t)),
  tx_abort: withExt(fc.record({ channelId, data: bytes(100) })).map(([f, t]) => TxAbort.make(f, t)),
  splice_init: fc
    .tuple(
      fc.record({ channelId, fundingContributionSatoshis: s64, fundingFeeratePerkw: u32, locktime: u32, fundingPubkey: point }),
      confirmedInputs
    )
    .map(([f, t]) => SpliceInit.make(f, t)),
  splice_ack: fc
    .tuple(fc.record({ channelId, fundingContributionSatoshis: s64, fundingPubkey: point }), confirmedInputs)
    .map(([f, t]) => SpliceAck.make(f, t)),
  splice_locked: withExt(fc.record({ channelId, spliceTxid: txid })).map(([f, t]) => SpliceLocked.make(f, t)),
  start_batch: fc
    .tuple(fc.record({ channelId, batchSize: u16 }), tlvs({ messageType: u16 }, [1n]))
    .map(([f, t]) => StartBatch.make(f, t))
}
