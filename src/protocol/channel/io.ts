/**
 * What goes into and comes out of the channel state machine (`step`), as plain data with a
 * Schema: every input a `Channel` actor feeds the pure core is recorded and replayed as JSON
 * (the trace/replay issue), and every output is an instruction the actor performs in order.
 *
 * Nothing in an input is read implicitly: random bytes, the time, chain facts and the signer's
 * answers all arrive here. The pure core never signs: it asks (`Sign`), and the actor feeds the
 * signer's answer back as the very next input (`Signed`), before any other input.
 *
 * Output order is meaning (ARCHITECTURE.md): a `Send` after a `Persist` must not leave
 * before that update is stored; the actor pauses sends while a persist is `InProgress`.
 */
import { Schema } from "effect"
import { ChannelIdSchema, ShortChannelIdSchema } from "../codec/fields.ts"
import { channelMessages } from "../messages/channel.ts"
import { TxidSchema } from "../monitor/state.ts"
import { MonitorUpdateSchema } from "../monitor/update.ts"
import { ChannelParamsSchema, MsatSchema, OutPointSchema, PublicKeySchema, SatSchema } from "./params.ts"

const hexOfLength = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))
const Bytes = Schema.Uint8ArrayFromHex
const Bytes32 = hexOfLength(32)
const Signature = hexOfLength(64)
const U64 = Schema.BigIntFromString.pipe(Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn })))
const U32 = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff })))

/** Any BOLT 2 channel message (JSON: the message's own Schema, tagged). */
export const ChannelMessageSchema = Schema.Union(channelMessages.map((d) => d.schema))

// ---- the signer, reached through values --------------------------------------------------------

/** BOLT 3: commitment numbers are 48 bits. */
export const MAX_COMMITMENT_NUMBER = (1n << 48n) - 1n
export const CommitmentNumberSchema = Schema.BigIntFromString.pipe(
  Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: MAX_COMMITMENT_NUMBER }))
)

/** An HTLC as the commitment builder takes it (`CommitmentHtlc`): `direction` from the owner's view. */
export const CommitmentHtlcSchema = Schema.Struct({
  direction: Schema.Literals(["offered", "received"]),
  amount: MsatSchema,
  paymentHash: Bytes32,
  cltvExpiry: U32
})

/** A commitment as the `ChannelSigner` takes it (its `CommitmentState`): from the OWNER's view. */
export const CommitmentStateSchema = Schema.Struct({
  commitmentNumber: CommitmentNumberSchema,
  feeratePerKw: U32,
  toLocal: MsatSchema,
  toRemote: MsatSchema,
  htlcs: Schema.Array(CommitmentHtlcSchema)
})

/** What the core asks of the `ChannelSigner`; the actor answers with exactly one `SignerResult`. */
export const SignerRequestSchema = Schema.Union([
  /** `signCounterpartyCommitment(keyId, commitment, theirPerCommitmentPoint)`: for `commitment_signed` / `funding_created` / `funding_signed`. */
  Schema.TaggedStruct("SignCounterpartyCommitment", {
    commitment: CommitmentStateSchema,
    theirPerCommitmentPoint: PublicKeySchema,
    /**
     * At funding (the first commitment): register the channel with the signer first,
     * `readyChannel(keyId, signerChannelParameters(channel))` (open.ts). (Added by helper G.)
     */
    channel: Schema.optional(ChannelParamsSchema)
  }),
  /**
   * After a valid `commitment_signed` (or the first commitment at funding): `validateHolderCommitment`
   * with the peer's signatures, then `releaseCommitmentSecret(revokeNumber)` (absent at funding) and
   * `perCommitmentPoint(nextNumber)`.
   */
  Schema.TaggedStruct("ValidateAndRevoke", {
    holderCommitment: CommitmentStateSchema,
    signature: Signature,
    htlcSignatures: Schema.Array(Signature),
    revokeCommitmentNumber: Schema.optional(U64),
    nextCommitmentNumber: U64
  }),
  /** Re-release an already revoked secret and a point (retransmitting `revoke_and_ack` on reestablish). */
  Schema.TaggedStruct("ReleaseRevoked", { revokeCommitmentNumber: U64, nextCommitmentNumber: U64 }),
  /** `perCommitmentPoint(n)` (e.g. `channel_ready`'s second point, `channel_reestablish`). */
  Schema.TaggedStruct("PerCommitmentPoint", { commitmentNumber: U64 }),
  /** `signClosing(keyId, tx)`: a mutual close transaction (serialized, unsigned). */
  Schema.TaggedStruct("SignClosing", { tx: Bytes })
])
export type SignerRequest = typeof SignerRequestSchema.Type

export const SignerResultSchema = Schema.Union([
  Schema.TaggedStruct("CounterpartySignatures", {
    signature: Signature,
    htlcSignatures: Schema.Array(Signature),
    /**
     * The txid of the commitment signed, when the signer gives it (it built that commitment to
     * sign it): the `CounterpartyCommitment` monitor update's, which the channel otherwise
     * builds the commitment again to learn (a lookup of every input in the builds memo).
     */
    txid: Schema.optional(TxidSchema)
  }),
  Schema.TaggedStruct("Revocation", { perCommitmentSecret: Schema.optional(Bytes32), nextPerCommitmentPoint: PublicKeySchema }),
  Schema.TaggedStruct("Point", { commitmentNumber: U64, point: PublicKeySchema }),
  Schema.TaggedStruct("ClosingSignature", { signature: Signature }),
  /** The signer refused or failed: its reason (no key material). The core fails the operation. */
  Schema.TaggedStruct("SignerFailed", { reason: Schema.String })
])
export type SignerResult = typeof SignerResultSchema.Type

// ---- inputs --------------------------------------------------------------------------------------

export const ChannelInputSchema = Schema.Union([
  /** A BOLT 2 message from the peer, for this channel (or its temporary id). */
  Schema.TaggedStruct("PeerMessage", { message: ChannelMessageSchema }),
  /** The peer (re)connected: send `channel_reestablish` (BOLT 2 "Message Retransmission"). */
  Schema.TaggedStruct("PeerConnected", { remoteFeatures: Bytes }),
  /** The connection ended: drop uncommitted updates per BOLT 2 and wait for reestablish. */
  Schema.TaggedStruct("PeerDisconnected", {}),
  /** An `error` from the peer for this channel (or all channels): fail the channel (BOLT 1). */
  Schema.TaggedStruct("PeerError", { message: Schema.String }),
  /** A `warning` from the peer: logged, no state change. */
  Schema.TaggedStruct("PeerWarning", { message: Schema.String }),
  // commands (the library API)
  Schema.TaggedStruct("AddHtlc", {
    /** Chosen by the caller; echoed in the events about this HTLC. */
    requestId: Schema.String,
    amount: MsatSchema,
    paymentHash: Bytes32,
    cltvExpiry: U32,
    onion: hexOfLength(1366),
    pathKey: Schema.optional(PublicKeySchema)
  }),
  /** `attributionData`: the `update_fulfill_htlc` TLV (BOLT 4 hold times), when the payment layer adds one. */
  Schema.TaggedStruct("FulfillHtlc", { htlcId: U64, preimage: Bytes32, attributionData: Schema.optional(Bytes) }),
  /**
   * Stores the preimage of a received HTLC in the monitor (`Persist(PaymentPreimage)`) without
   * fulfilling it yet: for a multi-part claim, every part's preimage is persisted in its channel's
   * monitor before any `update_fulfill_htlc` leaves. Checked as `FulfillHtlc` is (a received,
   * committed HTLC whose payment hash the preimage opens); changes nothing else.
   */
  Schema.TaggedStruct("ClaimPreimage", { htlcId: U64, preimage: Bytes32 }),
  /** `attributionData`: the `update_fail_htlc` TLV (BOLT 4 attributable failures), when the payment layer adds one. */
  Schema.TaggedStruct("FailHtlc", { htlcId: U64, reason: Bytes, attributionData: Schema.optional(Bytes) }),
  Schema.TaggedStruct("FailMalformedHtlc", { htlcId: U64, sha256OfOnion: Bytes32, failureCode: Schema.Int }),
  /** Sign what is pending now (the actor sends this after draining its mailbox, so updates batch). */
  Schema.TaggedStruct("SignNow", {}),
  Schema.TaggedStruct("UpdateFee", { feeratePerKw: U32 }),
  /** Cooperative close: our script (default: the node's), and a feerate for the closing tx. */
  Schema.TaggedStruct("Close", { scriptPubKey: Bytes, feeratePerKw: U32 }),
  Schema.TaggedStruct("ForceClose", { reason: Schema.String }),
  /** `fundChannel(temporaryId, tx)`: the signed funding transaction, serialized. */
  Schema.TaggedStruct("FundingTransaction", { tx: Bytes }),
  // chain facts
  Schema.TaggedStruct("FundingDepth", {
    depth: U32,
    shortChannelId: Schema.optional(ShortChannelIdSchema),
    /** The chain's height when this was seen (sent per block while unconfirmed): the fundee's funding timeout (BOLT 2). */
    tipHeight: Schema.optional(U32)
  }),
  Schema.TaggedStruct("FundingSpent", { txid: Bytes32 }),
  /** The current feerate estimate (for `update_fee` sanity and closing). */
  Schema.TaggedStruct("FeerateEstimate", { feeratePerKw: U32 }),
  // answers
  Schema.TaggedStruct("Signed", { result: SignerResultSchema }),
  Schema.TaggedStruct("PersistCompleted", { updateId: U64 }),
  Schema.TaggedStruct("Tick", { nowMillis: Schema.Number })
])
export type ChannelInput = typeof ChannelInputSchema.Type

// ---- outputs -------------------------------------------------------------------------------------

/** The node's typed event stream, per channel (the `ChannelManager` adds the peer's node id). */
export const ChannelEventSchema = Schema.Union([
  /** The funder must build and sign a transaction paying `amount` to `scriptPubKey`, then call `fundChannel`. */
  Schema.TaggedStruct("FundingNeeded", { temporaryChannelId: ChannelIdSchema, scriptPubKey: Bytes, amount: SatSchema }),
  /** Funding signed both ways and stored: the funding tx is broadcast / awaited. */
  Schema.TaggedStruct("ChannelPending", { channelId: ChannelIdSchema, fundingOutpoint: OutPointSchema }),
  Schema.TaggedStruct("ChannelReady", { channelId: ChannelIdSchema, shortChannelId: Schema.optional(ShortChannelIdSchema), alias: Schema.optional(ShortChannelIdSchema) }),
  /** An HTLC the peer added is irrevocably committed: decide (forward, fulfill, fail). */
  Schema.TaggedStruct("HtlcReceived", {
    channelId: ChannelIdSchema,
    htlcId: U64,
    amount: MsatSchema,
    paymentHash: Bytes32,
    cltvExpiry: U32,
    onion: hexOfLength(1366),
    pathKey: Schema.optional(PublicKeySchema),
    /**
     * BOLT 2 "Bounding exposure to trimmed in-flight HTLCs": accepting it put our dust exposure
     * over `max_dust_htlc_exposure_msat`: the receiver SHOULD fail it (and not reveal its
     * preimage). (Added by helper G.)
     */
    dustExposureExceeded: Schema.optional(Schema.Boolean)
  }),
  /** An HTLC we added got its id (it is in our update log). */
  Schema.TaggedStruct("HtlcAdded", { channelId: ChannelIdSchema, requestId: Schema.String, htlcId: U64 }),
  /** An `AddHtlc` command was refused before anything was sent. */
  Schema.TaggedStruct("HtlcRejected", { channelId: ChannelIdSchema, requestId: Schema.String, reason: Schema.String }),
  /** An HTLC we offered is settled: fulfilled (with the preimage) or failed (with the reason). */
  Schema.TaggedStruct("HtlcResolved", {
    channelId: ChannelIdSchema,
    htlcId: U64,
    result: Schema.Union([
      // `attributionData`: the peer's `attribution_data` TLV (BOLT 4), when it sent one.
      Schema.TaggedStruct("Fulfilled", { preimage: Bytes32, attributionData: Schema.optional(Bytes) }),
      Schema.TaggedStruct("Failed", { reason: Bytes, attributionData: Schema.optional(Bytes) }),
      Schema.TaggedStruct("Malformed", { sha256OfOnion: Bytes32, failureCode: Schema.Int })
    ])
  }),
  Schema.TaggedStruct("ShutdownStarted", { channelId: ChannelIdSchema, initiator: Schema.Literals(["local", "remote"]) }),
  Schema.TaggedStruct("ChannelClosed", {
    channelId: ChannelIdSchema,
    reason: Schema.Union([
      Schema.TaggedStruct("Cooperative", { closingTxid: Bytes32 }),
      Schema.TaggedStruct("LocalForceClose", { reason: Schema.String }),
      Schema.TaggedStruct("RemoteForceClose", { txid: Bytes32 }),
      Schema.TaggedStruct("ProtocolError", { reason: Schema.String, sentByPeer: Schema.Boolean }),
      Schema.TaggedStruct("FundingAborted", { reason: Schema.String })
    ])
  })
])
export type ChannelEvent = typeof ChannelEventSchema.Type

export const ChannelOutputSchema = Schema.Union([
  /** Persist this monitor update (with the channel state after this step) before any later `Send`. */
  Schema.TaggedStruct("Persist", { update: MonitorUpdateSchema }),
  Schema.TaggedStruct("Send", { message: ChannelMessageSchema }),
  /** An `error` (BOLT 1) for this channel: the actor sends it as an `error` message. */
  Schema.TaggedStruct("SendError", { channelId: ChannelIdSchema, message: Schema.String }),
  Schema.TaggedStruct("SendWarning", { channelId: ChannelIdSchema, message: Schema.String }),
  Schema.TaggedStruct("Sign", { request: SignerRequestSchema }),
  Schema.TaggedStruct("Emit", { event: ChannelEventSchema }),
  /** Publish a transaction (funding after `funding_signed` is stored, a closing tx). */
  Schema.TaggedStruct("Broadcast", { tx: Bytes, label: Schema.Literals(["funding", "mutual-close", "commitment"]) }),
  /** Tell the chain source to report this output's depth and spend. */
  Schema.TaggedStruct("WatchFunding", { outpoint: OutPointSchema, scriptPubKey: Bytes, minimumDepth: U32 }),
  /** The channel id changed from the temporary one (after `funding_created`): re-key routing. */
  Schema.TaggedStruct("Rekey", { from: ChannelIdSchema, to: ChannelIdSchema })
])
export type ChannelOutput = typeof ChannelOutputSchema.Type
