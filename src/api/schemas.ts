/**
 * JSON shapes of the control API. Wire values are plain JSON: node ids and feature bit fields
 * as lowercase hex, addresses as `host:port` strings. Validation messages are written for the
 * person typing the request; they are what a 400 response carries.
 */
import { Schema } from "effect"
import { fromHex } from "../protocol/bytes.ts"
import { nobleSecp256k1 } from "../protocol/crypto/secp256k1.ts"
import { NetworkNameSchema } from "../protocol/network.ts"

/** A node id: 33-byte compressed secp256k1 public key, 66 hex characters (BOLT 1). */
export const NodeIdHex = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^0[23][0-9a-fA-F]{64}$/, {
      message: "expected a node id: 66 hex characters starting with 02 or 03"
    }),
    Schema.makeFilter(
      // Only reached for well-formed hex (checks stop at the first failure), guarded anyway.
      (s: string) =>
        !/^[0-9a-fA-F]{66}$/.test(s) || nobleSecp256k1.isValidPoint(fromHex(s.toLowerCase())) ||
        "not a point on secp256k1",
      { description: "a valid secp256k1 point" }
    )
  )
).annotate({ title: "NodeId", description: "33-byte compressed secp256k1 public key, hex" })

export const Hostname = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[^\s/@?#]{1,253}$/, { message: "expected a host name or IP address" })
  )
).annotate({ description: "DNS name, IPv4 address or IPv6 literal (without brackets)" })

export const Port = Schema.Number.pipe(
  Schema.check(
    Schema.isInt({ message: "expected a TCP port, an integer from 1 to 65535" }),
    Schema.isBetween({ minimum: 1, maximum: 65535 }, { message: "expected a TCP port, an integer from 1 to 65535" })
  )
).annotate({ description: "TCP port" })

/** Body of `POST /v1/peers`. */
export const ConnectRequest = Schema.Struct({
  nodeId: NodeIdHex,
  host: Hostname,
  port: Port
}).annotate({ title: "ConnectRequest" })
export type ConnectRequest = typeof ConnectRequest.Type

/** A feature bit field (BOLT 9) as hex, with the set bits listed for readability. */
export const Features = Schema.Struct({
  hex: Schema.String,
  bits: Schema.Array(Schema.Number)
}).annotate({ title: "Features" })

export const NodeInfo = Schema.Struct({
  nodeId: Schema.String,
  features: Features,
  /** `host:port` peers connect to, or null when the node does not listen. */
  listenAddress: Schema.NullOr(Schema.String),
  /** The Bitcoin network (`--network`). */
  network: NetworkNameSchema,
  /** Its genesis block hash as sent in `init` and `open_channel` (wire order, hex). */
  chainHash: Schema.String,
  /** Height of the chain tip the node follows (`--bitcoind-rpc`); absent without a chain source. */
  blockHeight: Schema.optionalKey(Schema.Int)
}).annotate({ title: "NodeInfo" })
export type NodeInfo = typeof NodeInfo.Type

export const Peer = Schema.Struct({
  nodeId: Schema.String,
  address: Schema.String,
  direction: Schema.Literals(["inbound", "outbound"]),
  localFeatures: Features,
  remoteFeatures: Features,
  /** Feature bits both sides support (BOLT 9 negotiation). */
  negotiatedFeatures: Schema.Array(Schema.Number),
  /** Chain hashes from the remote's `networks` TLV, or null if it sent none. */
  remoteNetworks: Schema.NullOr(Schema.Array(Schema.String))
}).annotate({ title: "Peer" })
export type Peer = typeof Peer.Type

/** Body of `POST /v1/invoices/decode`. */
export const DecodeInvoiceRequest = Schema.Struct({
  invoice: Schema.String.pipe(
    Schema.check(Schema.isMaxLength(8192, { message: "an invoice is at most 8192 characters" }))
  )
}).annotate({ title: "DecodeInvoiceRequest" })

/** A decoded BOLT 11 invoice; bytes are hex, msat amounts decimal strings (they exceed 2^53). */
export const DecodedInvoice = Schema.Struct({
  network: Schema.String,
  amountMsat: Schema.NullOr(Schema.String),
  timestamp: Schema.Number,
  expirySeconds: Schema.Number,
  /** timestamp + expirySeconds, seconds since 1970. */
  expiresAt: Schema.Number,
  /** The `n` field when present, else the key recovered from the signature. */
  payee: Schema.String,
  payeeFromField: Schema.Boolean,
  paymentHash: Schema.String,
  paymentSecret: Schema.String,
  description: Schema.NullOr(Schema.String),
  descriptionHash: Schema.NullOr(Schema.String),
  metadata: Schema.NullOr(Schema.String),
  minFinalCltvExpiryDelta: Schema.Number,
  features: Schema.Array(Schema.Struct({ bit: Schema.Number, name: Schema.NullOr(Schema.String), required: Schema.Boolean })),
  routeHints: Schema.Array(Schema.Array(Schema.Struct({
    pubkey: Schema.String,
    shortChannelId: Schema.String,
    feeBaseMsat: Schema.Number,
    feeProportionalMillionths: Schema.Number,
    cltvExpiryDelta: Schema.Number
  }))),
  fallbacks: Schema.Array(Schema.Struct({
    version: Schema.Number,
    type: Schema.String,
    program: Schema.String,
    address: Schema.NullOr(Schema.String)
  })),
  signature: Schema.String,
  recoveryId: Schema.Number
}).annotate({ title: "DecodedInvoice" })
export type DecodedInvoice = typeof DecodedInvoice.Type

// ---- channels -------------------------------------------------------------------------------------------

/** A channel id (temporary or final, BOLT 2): 32 bytes, 64 hex characters. */
export const ChannelIdHex = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[0-9a-fA-F]{64}$/, { message: "expected a channel id: 64 hex characters" }))
).annotate({ title: "ChannelId", description: "32-byte channel id (temporary during the open), hex" })

/** Hex bytes of even length (a transaction, a script). */
export const HexBytes = (what: string, maxChars: number) =>
  Schema.String.pipe(
    Schema.check(
      Schema.isPattern(/^(?:[0-9a-fA-F]{2})*$/, { message: `expected ${what} as hex (an even number of hex characters)` }),
      Schema.isMaxLength(maxChars, { message: `${what} is at most ${maxChars / 2} bytes` })
    )
  ).annotate({ description: `${what}, hex` })

/** A whole amount from `minimum` up to 2^53 - 1 (JSON numbers are exact up to there). */
export const WholeAmount = (unit: string, minimum: number) =>
  Schema.Number.pipe(
    Schema.check(
      Schema.isInt({ message: `expected a whole number of ${unit}` }),
      Schema.isBetween({ minimum, maximum: Number.MAX_SAFE_INTEGER }, { message: `expected ${unit} from ${minimum} to 2^53 - 1` })
    )
  )

export const FeeratePerKw = Schema.Number.pipe(
  Schema.check(
    Schema.isInt({ message: "expected a feerate in sat per 1000 weight units (an integer)" }),
    Schema.isBetween({ minimum: 253, maximum: 0xffffffff }, { message: "expected a feerate from 253 to 4294967295 sat/kw" })
  )
).annotate({ description: "sat per 1000 weight units" })

export const ChannelTypeName = Schema.Literals(["static_remote_key", "anchors_zero_fee_htlc_tx"]).annotate({
  description: "BOLT 2 channel type (default static_remote_key)"
})

/** Body of `POST /v1/channels`. */
export const OpenChannelRequest = Schema.Struct({
  nodeId: NodeIdHex,
  amountSat: WholeAmount("satoshis", 1).annotate({ description: "funding amount (funding_satoshis)" }),
  pushMsat: Schema.optional(WholeAmount("millisatoshis", 0).annotate({ description: "push_msat (default 0)" })),
  channelType: Schema.optional(ChannelTypeName),
  announce: Schema.optional(Schema.Boolean.annotate({ description: "announce_channel (default false)" })),
  feeratePerKw: Schema.optional(FeeratePerKw)
}).annotate({ title: "OpenChannelRequest" })
export type OpenChannelRequest = typeof OpenChannelRequest.Type

/** Body of `POST /v1/channels/{temporaryChannelId}/fund`. */
export const FundChannelRequest = Schema.Struct({
  tx: HexBytes("a signed funding transaction", 200_000)
}).annotate({ title: "FundChannelRequest" })

/** Body of `POST /v1/channels/{channelId}/close`. */
export const CloseChannelRequest = Schema.Struct({
  scriptPubKey: Schema.optional(HexBytes("a payout scriptPubKey", 84)),
  feeratePerKw: Schema.optional(FeeratePerKw),
  force: Schema.optional(Schema.Boolean.annotate({
    description: "true: close unilaterally (send an error to the peer, publish our latest commitment), as " +
      "POST /v1/channels/{channelId}/force-close; `scriptPubKey` and `feeratePerKw` are then refused"
  }))
}).annotate({ title: "CloseChannelRequest" })

/** Body of `POST /v1/channels/{channelId}/chain`. */
export const ChainFactRequest = Schema.Struct({
  depth: Schema.Number.pipe(
    Schema.check(
      Schema.isInt({ message: "expected a depth: confirmations, an integer" }),
      Schema.isBetween({ minimum: 0, maximum: 0xffffffff }, { message: "expected a depth from 0 to 4294967295" })
    )
  ).annotate({ description: "confirmations of the funding transaction" }),
  shortChannelId: Schema.optional(
    Schema.String.pipe(
      Schema.check(Schema.isPattern(/^\d{1,8}x\d{1,8}x\d{1,5}$/, { message: "expected a short channel id BLOCKxTXxOUTPUT" }))
    ).annotate({ description: "BLOCKxTXxOUTPUT of the funding output once confirmed" })
  )
}).annotate({ title: "ChainFactRequest" })

/** A channel as listed. Amounts are JSON numbers (exact: every channel amount is below 2^53 msat). */
export const Channel = Schema.Struct({
  nodeId: Schema.String,
  /** The current id: temporary until the funding transaction is known, then the final one. */
  channelId: Schema.String,
  /** The channel state machine's phase (`WaitAcceptChannel` ... `Normal` ... `Closed`). */
  phase: Schema.String,
  /** `Connected`, `Reestablishing` or `Disconnected` when the phase tracks it, else null. */
  connection: Schema.NullOr(Schema.String),
  channelType: Schema.NullOr(Schema.String),
  /** Whether we are the funder (null once closed). */
  funder: Schema.NullOr(Schema.Boolean),
  capacitySat: Schema.NullOr(Schema.Number),
  /** Balances of our current commitment outside HTLCs, and its HTLC count (from `WaitChannelReady` until closed). */
  balance: Schema.NullOr(Schema.Struct({
    localMsat: Schema.Number,
    remoteMsat: Schema.Number,
    htlcs: Schema.Number
  })),
  /** The output the funder's transaction must create (phase `WaitFundingTx`, funder only). */
  fundingOutput: Schema.NullOr(Schema.Struct({ scriptPubKey: Schema.String, amountSat: Schema.Number })),
  /** `txid:vout` (txid in the usual display order) once known. */
  fundingOutpoint: Schema.NullOr(Schema.String),
  /** Confirmations required and seen so far (phase `WaitChannelReady`). */
  minimumDepth: Schema.NullOr(Schema.Number),
  depth: Schema.NullOr(Schema.Number),
  shortChannelId: Schema.NullOr(Schema.String),
  /**
   * Confirmations of the funding transaction: with a chain source, tip height - the short channel
   * id's block height + 1 (once the short channel id is known); else the depth last seen in
   * `WaitChannelReady`; null when unknown.
   */
  confirmations: Schema.NullOr(Schema.Number),
  /** Why it closed or failed (`Cooperative`, `LocalForceClose`, `FundingAborted`...), with details. */
  closed: Schema.NullOr(Schema.Struct({ reason: Schema.String, detail: Schema.String })),
  /** Whether sends wait for the store to acknowledge an update. */
  paused: Schema.Boolean
}).annotate({ title: "Channel" })
export type Channel = typeof Channel.Type

/**
 * One event of `GET /v1/channels/events` (Server-Sent Events, `data:` lines): a channel's event
 * (`FundingNeeded`, `ChannelPending`, `ChannelReady`, `HtlcReceived`, `ShutdownStarted`,
 * `ChannelClosed`...) or chain request (`Broadcast` with the transaction to publish,
 * `WatchFunding`), with its peer and the channel's id at that moment. `event` is the event's
 * JSON encoding (bytes as hex, 64-bit numbers as strings). The first event is `Subscribed`
 * (our node id, `channelId` and `event` null): nothing after it is missed.
 */
export const ChannelEventJson = Schema.Struct({
  nodeId: Schema.String,
  channelId: Schema.NullOr(Schema.String),
  type: Schema.String,
  event: Schema.Json
}).annotate({ title: "ChannelEvent" })
export type ChannelEventJson = typeof ChannelEventJson.Type
