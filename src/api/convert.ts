/** Conversions from the node's values (bytes, branded ids) to the API's JSON shapes. */
import { fromHex, toHex } from "../protocol/bytes.ts"
import type { NodeId } from "../protocol/units.ts"
import type { DisconnectReason, PeerInfo } from "../actors/PeerEvent.ts"
import { formatAddress } from "../services/Transport.ts"
import type { Peer } from "./schemas.ts"

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
export const nodeIdFromHex = (hex: string): NodeId => fromHex(hex.toLowerCase()) as NodeId

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
