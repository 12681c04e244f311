/** Conversions from the node's values (bytes, branded ids) to the API's JSON shapes. */
import { fromHex, toHex } from "../protocol/bytes.ts"
import { NodeId } from "../protocol/units.ts"
import type { DisconnectReason, PeerInfo } from "../actors/PeerEvent.ts"
import type { ChannelInfo } from "../actors/ChannelManager.ts"
import { fundingNeededFor } from "../protocol/channel/open.ts"
import { type ClosedReason, paramsOf } from "../protocol/channel/state.ts"
import { formatShortChannelId, type ShortChannelId, shortChannelIdParts } from "../protocol/codec/fields.ts"
import { txidFromBytes, txidToHex } from "../protocol/tx/bitcoin/transaction.ts"
import { formatAddress } from "../services/Transport.ts"
import type { Channel, Peer } from "./schemas.ts"

/** The set bits of a BOLT 9 feature field (big-endian: bit 0 is the last byte's least significant bit). */
export const featureBits = (field: Uint8Array): ReadonlyArray<number> => {
  const bits: Array<number> = []
  for (let i = field.length - 1; i >= 0; i--) {
    const byte = field[i] ?? 0
    for (let b = 0; b < 8; b++) if ((byte >> b) & 1) bits.push((field.length - 1 - i) * 8 + b)
  }
  return bits
}

export const features = (field: Uint8Array) => ({ hex: toHex(field), bits: featureBits(field) })

/** Only for strings already validated by `NodeIdHex`. */
export const nodeIdFromHex = (hex: string): NodeId => NodeId(fromHex(hex.toLowerCase()))

export const peerToJson = (peer: PeerInfo): Peer => ({
  nodeId: toHex(peer.nodeId),
  address: formatAddress(peer.address),
  direction: peer.direction,
  localFeatures: features(peer.localFeatures),
  remoteFeatures: features(peer.remoteFeatures),
  negotiatedFeatures: peer.negotiatedFeatures,
  remoteNetworks: peer.remoteNetworks === undefined ? null : peer.remoteNetworks.map(toHex)
})

/** A one-line human description of a disconnect reason, e.g. `TransportFailed: connect ECONNREFUSED 127.0.0.1:1`. */
export const describeReason = (reason: DisconnectReason): string => {
  const details = Object.entries(reason)
    .filter(([key]) => key !== "_tag")
    .map(([key, value]) => (key === "message" ? String(value) : `${key}=${JSON.stringify(value)}`))
  return details.length === 0 ? reason._tag : `${reason._tag}: ${details.join(", ")}`
}


const closedOf = (reason: ClosedReason): { readonly reason: string; readonly detail: string } => {
  switch (reason._tag) {
    case "Cooperative":
      return { reason: reason._tag, detail: `closing txid ${txidToHex(txidFromBytes(reason.closingTxid))}` }
    case "RemoteForceClose":
      return { reason: reason._tag, detail: `commitment txid ${txidToHex(txidFromBytes(reason.txid))}` }
    case "ProtocolError":
      return { reason: reason._tag, detail: `${reason.sentByPeer ? "peer" : "we"} sent: ${reason.reason}` }
    default:
      return { reason: reason._tag, detail: reason.reason }
  }
}

/**
 * Confirmations of the funding transaction: from the chain tip and the short channel id's block
 * (BOLT 7: its first 3 bytes are the funding block's height) when both are known, else the depth
 * the channel was last told in `WaitChannelReady`.
 */
const confirmationsOf = (s: ChannelInfo["state"], scid: ShortChannelId | undefined, tipHeight: number | undefined): number | null => {
  if (scid !== undefined && tipHeight !== undefined) return Math.max(0, tipHeight - shortChannelIdParts(scid).block + 1)
  return s._tag === "WaitChannelReady" ? (s.depth ?? 0) : null
}

/**
 * A channel of `ChannelManager.listChannels` as the API's JSON. `peerConnected`: whether its
 * peer is connected now (when false, `connection` says `Disconnected` whatever the state says:
 * a channel restored at start keeps the connection state it was stored with until its peer
 * connects). `tipHeight`: the chain's tip when the node follows a chain (for `confirmations`).
 */
export const channelToJson = (info: ChannelInfo, peerConnected = true, tipHeight?: number): Channel => {
  const s = info.state
  const params = paramsOf(s)
  const negotiated = s._tag === "WaitFundingTx" || s._tag === "WaitFundingCreated" ? s.negotiated : undefined
  const commitments = s._tag === "Normal" || s._tag === "Negotiating" || s._tag === "Closing" ? s.commitments : undefined
  const spec = commitments?.localCommit.spec ?? (s._tag === "WaitChannelReady" ? s.localCommit.spec : undefined)
  const funding = s._tag === "WaitFundingTx" && s.negotiated.localIsFunder ? fundingNeededFor(s.negotiated) : undefined
  const channelType = params?.channelType ?? negotiated?.channelType.name ?? (s._tag === "WaitAcceptChannel" ? s.open.channelType.name : undefined)
  const capacity = params?.fundingAmount ?? negotiated?.fundingAmount ?? (s._tag === "WaitAcceptChannel" ? s.open.fundingAmount : undefined)
  const funder = params?.localIsFunder ?? negotiated?.localIsFunder ?? (s._tag === "WaitAcceptChannel" ? true : undefined)
  const scid = s._tag === "WaitChannelReady" || s._tag === "Normal" ? s.shortChannelId : undefined
  return {
    nodeId: toHex(info.nodeId),
    channelId: toHex(info.channelId),
    phase: info.phase,
    connection: "connection" in s ? (peerConnected ? s.connection : "Disconnected") : null,
    channelType: channelType ?? null,
    funder: funder ?? null,
    capacitySat: capacity === undefined ? null : Number(capacity),
    balance: spec === undefined ? null : { localMsat: Number(spec.toLocal), remoteMsat: Number(spec.toRemote), htlcs: spec.htlcs.length },
    fundingOutput: funding === undefined ? null : { scriptPubKey: toHex(funding.scriptPubKey), amountSat: Number(funding.amount) },
    fundingOutpoint: params === undefined ? null : `${txidToHex(params.fundingOutpoint.txid)}:${params.fundingOutpoint.vout}`,
    minimumDepth: s._tag === "WaitChannelReady" ? s.minimumDepth : null,
    depth: s._tag === "WaitChannelReady" ? (s.depth ?? 0) : null,
    shortChannelId: scid === undefined ? null : formatShortChannelId(scid),
    confirmations: confirmationsOf(s, scid, tipHeight),
    closed: s._tag === "Closed" || s._tag === "Failed" ? closedOf(s.reason) : null,
    paused: info.paused
  }
}

/** A one-line description of a tagged error from the channel layer: its tag and its detail fields. */
export const describeTagged = (error: { readonly _tag: string }): string => {
  const details = Object.entries(error)
    .filter(([key, value]) => key !== "_tag" && (typeof value === "string" || typeof value === "number" || typeof value === "boolean"))
    .map(([, value]) => String(value))
  return details.length === 0 ? error._tag : `${error._tag}: ${details.join(", ")}`
}
