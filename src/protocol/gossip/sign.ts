/**
 * Making our own announcements (BOLT 7 "The origin node"): build the message with its
 * signature fields zeroed, hash what the signatures cover (`digest.ts`), sign, fill the
 * signatures in. The secrets are the caller's (a node key from `NodeSigner`, a funding key from
 * the channel signer, or the generator's seeded keys); for a remote signer use the `*Unsigned`
 * forms and the digests.
 */
import { Result } from "effect"
import { compareBytes } from "../bytes.ts"
import type { EncodeError } from "../codec/errors.ts"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import {
  ChannelAnnouncement,
  ChannelUpdate,
  NodeAnnouncement,
  CHANNEL_FLAG_DIRECTION,
  MESSAGE_FLAG_MUST_BE_ONE
} from "../messages/gossip.ts"
import { CHANNEL_ANNOUNCEMENT_SIGNED_FROM, channelAnnouncementDigest, channelUpdateDigest, nodeAnnouncementDigest, SIGNED_AFTER_ONE_SIGNATURE } from "./digest.ts"

const ZERO_SIG = new Uint8Array(64)

type Fields<M> = Omit<M, "_tag" | "tlvs">

export type ChannelAnnouncementFields = Omit<Fields<ChannelAnnouncement>, "nodeSignature1" | "nodeSignature2" | "bitcoinSignature1" | "bitcoinSignature2">
export type NodeAnnouncementFields = Omit<Fields<NodeAnnouncement>, "signature">
export type ChannelUpdateFields = Omit<Fields<ChannelUpdate>, "signature">

/** BOLT 7: `node_id_1` is the lexicographically-lesser key; our direction bit is 0 when we are `node_id_1`. */
export const directionOf = (ourNodeId: Uint8Array, theirNodeId: Uint8Array): 0 | 1 => (compareBytes(ourNodeId, theirNodeId) < 0 ? 0 : 1)

/** The `channel_announcement` with zeroed signatures (whole message, type included). */
export const unsignedChannelAnnouncement = (f: ChannelAnnouncementFields): Result.Result<Uint8Array, EncodeError> =>
  ChannelAnnouncement.encode(
    ChannelAnnouncement.make({ ...f, nodeSignature1: ZERO_SIG, nodeSignature2: ZERO_SIG, bitcoinSignature1: ZERO_SIG, bitcoinSignature2: ZERO_SIG })
  )

/** The bytes the four signatures cover (BOLT 7: from `len` of `features` to the end). */
export const channelAnnouncementSignedPart = (unsigned: Uint8Array): Uint8Array => unsigned.subarray(CHANNEL_ANNOUNCEMENT_SIGNED_FROM)

export interface ChannelAnnouncementSecrets {
  readonly node1: Uint8Array
  readonly node2: Uint8Array
  readonly bitcoin1: Uint8Array
  readonly bitcoin2: Uint8Array
}

/** A complete `channel_announcement` (raw bytes) signed with the four secrets. */
export const signChannelAnnouncement = (
  secp: Secp256k1,
  f: ChannelAnnouncementFields,
  secrets: ChannelAnnouncementSecrets
): Result.Result<Uint8Array, EncodeError> =>
  Result.map(unsignedChannelAnnouncement(f), (raw) => {
    const h = channelAnnouncementDigest(raw)
    raw.set(secp.sign(h, secrets.node1), 2)
    raw.set(secp.sign(h, secrets.node2), 2 + 64)
    raw.set(secp.sign(h, secrets.bitcoin1), 2 + 128)
    raw.set(secp.sign(h, secrets.bitcoin2), 2 + 192)
    return raw
  })

/** Fills the four signatures into an unsigned `channel_announcement` (a copy). */
export const withChannelAnnouncementSignatures = (
  unsigned: Uint8Array,
  sigs: { readonly node1: Uint8Array; readonly node2: Uint8Array; readonly bitcoin1: Uint8Array; readonly bitcoin2: Uint8Array }
): Uint8Array => {
  const raw = unsigned.slice()
  raw.set(sigs.node1, 2)
  raw.set(sigs.node2, 2 + 64)
  raw.set(sigs.bitcoin1, 2 + 128)
  raw.set(sigs.bitcoin2, 2 + 192)
  return raw
}

const signOne = (
  secp: Secp256k1,
  encoded: Result.Result<Uint8Array, EncodeError>,
  digest: (raw: Uint8Array) => Uint8Array,
  secret: Uint8Array
): Result.Result<Uint8Array, EncodeError> =>
  Result.map(encoded, (raw) => {
    raw.set(secp.sign(digest(raw), secret), SIGNED_AFTER_ONE_SIGNATURE - 64)
    return raw
  })

/** A `node_announcement` (raw bytes) signed with the node's secret. */
export const signNodeAnnouncement = (secp: Secp256k1, f: NodeAnnouncementFields, nodeSecret: Uint8Array): Result.Result<Uint8Array, EncodeError> =>
  signOne(secp, NodeAnnouncement.encode(NodeAnnouncement.make({ ...f, signature: ZERO_SIG })), nodeAnnouncementDigest, nodeSecret)

/**
 * A `channel_update` (raw bytes) signed with the node's secret. `must_be_one` is set for the
 * caller (BOLT 7: MUST set it); the direction bit is the caller's (`directionOf`).
 */
export const signChannelUpdate = (secp: Secp256k1, f: ChannelUpdateFields, nodeSecret: Uint8Array): Result.Result<Uint8Array, EncodeError> =>
  signOne(
    secp,
    ChannelUpdate.encode(ChannelUpdate.make({ ...f, messageFlags: f.messageFlags | MESSAGE_FLAG_MUST_BE_ONE, signature: ZERO_SIG })),
    channelUpdateDigest,
    nodeSecret
  )

/** `channel_flags` for an update: the direction bit and the disable bit. */
export const channelFlags = (direction: 0 | 1, disabled: boolean): number => (direction === 1 ? CHANNEL_FLAG_DIRECTION : 0) | (disabled ? 2 : 0)
