/**
 * What the network graph gives its readers (BOLT 7): plain read-only views of channels,
 * directions and nodes, what an applied message changed, and the per-channel facts of a
 * `reply_channel_range`. Shared by the `NetworkGraph` service and its layers.
 */
import type { ShortChannelId } from "../codec/fields.ts"
import type { Address } from "../messages/address.ts"
import type { UnroutableReason } from "./validate.ts"

/** One direction's latest `channel_update`, as stored. */
export interface DirectionView {
  readonly timestamp: number
  readonly messageFlags: number
  readonly channelFlags: number
  readonly cltvExpiryDelta: number
  readonly htlcMinimumMsat: bigint
  readonly htlcMaximumMsat: bigint
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  /** The `disable` bit is clear. */
  readonly enabled: boolean
  /** Set when BOLT 7 says to ignore this direction for routing. */
  readonly unroutable: UnroutableReason | undefined
}

export interface ChannelView {
  readonly shortChannelId: ShortChannelId
  readonly nodeId1: Uint8Array
  readonly nodeId2: Uint8Array
  readonly bitcoinKey1: Uint8Array
  readonly bitcoinKey2: Uint8Array
  /** The funding output's value, when the caller looked it up. */
  readonly capacitySat: bigint | undefined
  /** Unknown even bits in the announcement's features: MUST NOT route through it. */
  readonly unknownEvenFeatures: boolean
  /** When we accepted the announcement (seconds). */
  readonly announcedAt: number
  /** [by node_id_1 (direction 0), by node_id_2 (direction 1)]. */
  readonly directions: readonly [DirectionView | undefined, DirectionView | undefined]
}

export interface NodeAnnouncementView {
  readonly timestamp: number
  readonly features: Uint8Array
  readonly rgbColor: Uint8Array
  readonly alias: string
  readonly aliasValid: boolean
  readonly addresses: ReadonlyArray<Address>
  readonly forward: boolean
  readonly unknownEvenFeatures: boolean
}

export interface NodeView {
  readonly nodeId: Uint8Array
  /** Number of known channels (a node without any is forgotten). */
  readonly channels: number
  readonly announcement: NodeAnnouncementView | undefined
}

/** What an accepted message changed (for relaying: `forward` says whether it may be rebroadcast). */
export type GossipApplied =
  | { readonly _tag: "ChannelAdded"; readonly shortChannelId: ShortChannelId; readonly forward: boolean }
  | { readonly _tag: "ChannelUpdated"; readonly shortChannelId: ShortChannelId; readonly direction: 0 | 1; readonly forward: boolean }
  | { readonly _tag: "NodeUpdated"; readonly nodeId: Uint8Array; readonly forward: boolean }

/** For `reply_channel_range`: each channel's update timestamps and checksums (0 when no update). */
export interface RangeEntry {
  readonly shortChannelId: ShortChannelId
  readonly timestamps: readonly [number, number]
  readonly checksums: readonly [number, number]
}
