/**
 * BOLT 7 (P2P node and channel discovery) messages, declared with `defineMessage`:
 * the announcements (`channel_announcement`, `node_announcement`, `channel_update`),
 * `announcement_signatures`, and the `gossip_queries` messages (`query_short_channel_ids`,
 * `reply_short_channel_ids_end`, `query_channel_range`, `reply_channel_range`,
 * `gossip_timestamp_filter`) with their TLV streams.
 *
 * The encoded lists (`encoded_short_ids`, `encoded_query_flags`, `encoded_timestamps`) are kept
 * as their bytes here, as the spec types them; `protocol/gossip/encoding.ts` turns them into
 * values (encoding type 0 only: zlib, type 1, MUST NOT be used).
 *
 * Field names are the spec's in camelCase; a length prefix is folded into the field it counts
 * (`len`+`features` -> `features`, `addrlen`+`addresses` -> `addresses`).
 */
import * as Field from "../codec/fields.ts"
import type { Codec } from "../codec/fields.ts"
import { defineMessage, type MessageType } from "../codec/message.ts"
import { tlvField, tlvStream } from "../codec/tlv.ts"
import { Writer } from "../codec/writer.ts"
import { type AddressList, addressList } from "./address.ts"

// ---- field codecs specific to BOLT 7 --------------------------------------------------------------

/** `[u16:addrlen][addrlen*byte:addresses]`: the address descriptors of a `node_announcement`. */
export const addresses: Codec<AddressList> = {
  read: (r) => addressList.read(r.sub(r.u16())),
  write: (w, a) => {
    const inner = new Writer(64)
    addressList.write(inner, a)
    const bytes = inner.finish()
    w.u16(bytes.length).bytes(bytes)
  },
  schema: addressList.schema,
  wire: [{ element: "u16" }, { element: "byte", count: "prev" }]
}

/** `32*byte alias` (BOLT 7): UTF-8, zero-padded; kept as the raw 32 bytes. */
export const alias: Codec<Uint8Array> = Field.fixedBytes(32)

/** `3*byte rgb_color`. */
export const rgbColor: Codec<Uint8Array> = Field.fixedBytes(3)

/** `channel_update_checksums` (BOLT 7 `reply_channel_range`): the CRC32C of each direction's update. */
export interface ChannelUpdateChecksums {
  readonly checksumNodeId1: number
  readonly checksumNodeId2: number
}

const checksumsStruct = Field.struct({ checksumNodeId1: Field.u32, checksumNodeId2: Field.u32 })

/** `...*channel_update_checksums`: one pair per short channel id of the reply. */
export const checksumsList: Codec<ReadonlyArray<ChannelUpdateChecksums>> = {
  ...Field.restArray(checksumsStruct),
  wire: [{ element: "channel_update_checksums", count: "..." }]
}

/** `query_flags`: `encoding_type` then the encoded list of bigsize flags (the rest of the value). */
export const queryFlags = Field.struct({ encodingType: Field.u8, encodedQueryFlags: Field.restBytes })

/** `timestamps_tlv`: `encoding_type` then the encoded list of `channel_update_timestamps`. */
export const timestamps = Field.struct({ encodingType: Field.u8, encodedTimestamps: Field.restBytes })

// ---- announcements ------------------------------------------------------------------------------

/**
 * `channel_announcement` (256): both nodes and both funding keys prove the channel. The four
 * signatures cover the double-SHA256 of the message from `features` on (offset 258 of the
 * message with its type).
 */
export const ChannelAnnouncement = defineMessage({
  type: 256,
  name: "channel_announcement",
  tag: "ChannelAnnouncement",
  fields: {
    nodeSignature1: Field.signature,
    nodeSignature2: Field.signature,
    bitcoinSignature1: Field.signature,
    bitcoinSignature2: Field.signature,
    features: Field.u16Bytes,
    chainHash: Field.chainHash,
    shortChannelId: Field.shortChannelId,
    nodeId1: Field.point,
    nodeId2: Field.point,
    bitcoinKey1: Field.point,
    bitcoinKey2: Field.point
  }
})
export type ChannelAnnouncement = MessageType<typeof ChannelAnnouncement>

/** `node_announcement` (257): a node's alias, color, addresses and features, signed by its node key. */
export const NodeAnnouncement = defineMessage({
  type: 257,
  name: "node_announcement",
  tag: "NodeAnnouncement",
  fields: {
    signature: Field.signature,
    features: Field.u16Bytes,
    timestamp: Field.u32,
    nodeId: Field.point,
    rgbColor,
    alias,
    addresses
  }
})
export type NodeAnnouncement = MessageType<typeof NodeAnnouncement>

/** `channel_update` (258): one direction's relay policy, signed by the node at its origin. */
export const ChannelUpdate = defineMessage({
  type: 258,
  name: "channel_update",
  tag: "ChannelUpdate",
  fields: {
    signature: Field.signature,
    chainHash: Field.chainHash,
    shortChannelId: Field.shortChannelId,
    timestamp: Field.u32,
    messageFlags: Field.u8,
    channelFlags: Field.u8,
    cltvExpiryDelta: Field.u16,
    htlcMinimumMsat: Field.u64,
    feeBaseMsat: Field.u32,
    feeProportionalMillionths: Field.u32,
    htlcMaximumMsat: Field.u64
  }
})
export type ChannelUpdate = MessageType<typeof ChannelUpdate>

/** `message_flags` bit 0: `must_be_one` (was `option_channel_htlc_max`). */
export const MESSAGE_FLAG_MUST_BE_ONE = 1
/** `message_flags` bit 1: `dont_forward` (a private channel's update, for the peer only). */
export const MESSAGE_FLAG_DONT_FORWARD = 2
/** `channel_flags` bit 0: `direction` (0: sent by `node_id_1`). */
export const CHANNEL_FLAG_DIRECTION = 1
/** `channel_flags` bit 1: `disable`. */
export const CHANNEL_FLAG_DISABLE = 2

/** `announcement_signatures` (259): our half of a `channel_announcement`'s signatures, to the peer. */
export const AnnouncementSignatures = defineMessage({
  type: 259,
  name: "announcement_signatures",
  tag: "AnnouncementSignatures",
  fields: {
    channelId: Field.channelId,
    shortChannelId: Field.shortChannelId,
    nodeSignature: Field.signature,
    bitcoinSignature: Field.signature
  }
})
export type AnnouncementSignatures = MessageType<typeof AnnouncementSignatures>

// ---- gossip queries -------------------------------------------------------------------------------

/** `query_short_channel_ids_tlvs`: `query_flags`, one bigsize per id (encoded list). */
export const QueryShortChannelIdsTlvs = tlvStream("query_short_channel_ids_tlvs", {
  queryFlags: tlvField(1, queryFlags)
})

/** `query_short_channel_ids` (261): ask for the announcements and updates of these channels. */
export const QueryShortChannelIds = defineMessage({
  type: 261,
  name: "query_short_channel_ids",
  tag: "QueryShortChannelIds",
  fields: { chainHash: Field.chainHash, encodedShortIds: Field.u16Bytes },
  tlvs: QueryShortChannelIdsTlvs
})
export type QueryShortChannelIds = MessageType<typeof QueryShortChannelIds>

/** `reply_short_channel_ids_end` (262): the end of the answer to a `query_short_channel_ids`. */
export const ReplyShortChannelIdsEnd = defineMessage({
  type: 262,
  name: "reply_short_channel_ids_end",
  tag: "ReplyShortChannelIdsEnd",
  fields: { chainHash: Field.chainHash, fullInformation: Field.u8 }
})
export type ReplyShortChannelIdsEnd = MessageType<typeof ReplyShortChannelIdsEnd>

/** `query_option_flags` bit 0: also send the updates' timestamps. */
export const QUERY_OPTION_WANT_TIMESTAMPS = 1n
/** `query_option_flags` bit 1: also send the updates' checksums. */
export const QUERY_OPTION_WANT_CHECKSUMS = 2n

/** `query_channel_range_tlvs`: `query_option` (a bigsize of flags). */
export const QueryChannelRangeTlvs = tlvStream("query_channel_range_tlvs", {
  queryOption: tlvField(1, Field.bigsize)
})

/** `query_channel_range` (263): ask for the channels of the blocks `[first, first + number)`. */
export const QueryChannelRange = defineMessage({
  type: 263,
  name: "query_channel_range",
  tag: "QueryChannelRange",
  fields: { chainHash: Field.chainHash, firstBlocknum: Field.u32, numberOfBlocks: Field.u32 },
  tlvs: QueryChannelRangeTlvs
})
export type QueryChannelRange = MessageType<typeof QueryChannelRange>

/** `reply_channel_range_tlvs`: the updates' timestamps (encoded list) and checksums. */
export const ReplyChannelRangeTlvs = tlvStream("reply_channel_range_tlvs", {
  timestampsTlv: tlvField(1, timestamps),
  checksumsTlv: tlvField(3, checksumsList)
})

/** `reply_channel_range` (264): one part of the answer to a `query_channel_range`. */
export const ReplyChannelRange = defineMessage({
  type: 264,
  name: "reply_channel_range",
  tag: "ReplyChannelRange",
  fields: {
    chainHash: Field.chainHash,
    firstBlocknum: Field.u32,
    numberOfBlocks: Field.u32,
    syncComplete: Field.u8,
    encodedShortIds: Field.u16Bytes
  },
  tlvs: ReplyChannelRangeTlvs
})
export type ReplyChannelRange = MessageType<typeof ReplyChannelRange>

/** `gossip_timestamp_filter` (265): relay to me the gossip with timestamps in this window. */
export const GossipTimestampFilter = defineMessage({
  type: 265,
  name: "gossip_timestamp_filter",
  tag: "GossipTimestampFilter",
  fields: { chainHash: Field.chainHash, firstTimestamp: Field.u32, timestampRange: Field.u32 }
})
export type GossipTimestampFilter = MessageType<typeof GossipTimestampFilter>

/** Every BOLT 7 message, for a registry. */
export const gossipMessages = [
  ChannelAnnouncement,
  NodeAnnouncement,
  ChannelUpdate,
  AnnouncementSignatures,
  QueryShortChannelIds,
  ReplyShortChannelIdsEnd,
  QueryChannelRange,
  ReplyChannelRange,
  GossipTimestampFilter
] as const

export type GossipMessage =
  | ChannelAnnouncement
  | NodeAnnouncement
  | ChannelUpdate
  | AnnouncementSignatures
  | QueryShortChannelIds
  | ReplyShortChannelIdsEnd
  | QueryChannelRange
  | ReplyChannelRange
  | GossipTimestampFilter

const GOSSIP_TAGS: ReadonlySet<string> = new Set(gossipMessages.map((d) => d.tag))

/** True for a BOLT 7 message (the layers above route these to gossip, not to a channel). */
export const isGossipMessage = <M extends { readonly _tag: string }>(message: M): message is Extract<M, GossipMessage> =>
  GOSSIP_TAGS.has(message._tag)
