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
  chainHash: Schema.String
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
