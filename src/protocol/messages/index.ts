/**
 * BOLT 1 and BOLT 2 messages and their dispatchers. `Bolt1` is a registry over `init`, `error`,
 * `warning`, `ping`, `pong`, `peer_storage`, `peer_storage_retrieval`; layers that know more messages (BOLT 2, 7) build a bigger
 * registry with `makeRegistry([...bolt1Messages, ...theirs])`.
 */
import { makeRegistry, type UnknownMessage } from "../codec/message.ts"
import { type ChannelMessage, channelMessages } from "./channel.ts"
import { ErrorMessage, Warning } from "./error.ts"
import { type GossipMessage, gossipMessages } from "./gossip.ts"
import { Init } from "./init.ts"
import { PeerStorage, PeerStorageRetrieval } from "./peer-storage.ts"
import { Ping, Pong } from "./ping.ts"

export * from "./address.ts"
export * from "./channel.ts"
export * from "./error.ts"
export * from "./gossip.ts"
export * from "./init.ts"
export * from "./peer-storage.ts"
export * from "./ping.ts"
export type { UnknownMessage }

export const bolt1Messages = [Init, ErrorMessage, Warning, Ping, Pong, PeerStorage, PeerStorageRetrieval] as const

export const Bolt1 = makeRegistry(bolt1Messages)
export type Bolt1Message = Init | ErrorMessage | Warning | Ping | Pong | PeerStorage | PeerStorageRetrieval

/** Decodes one BOLT 1 message: known, `UnknownMessage` (odd, ignore it) or a typed error. */
export const decodeMessage = Bolt1.decode
export const encodeMessage = Bolt1.encode

/**
 * Every message the node speaks: BOLT 1, the BOLT 2 messages of v1 channels and BOLT 7 gossip. The v2 and
 * splice messages (`dualFundingMessages`, `spliceMessages`) are left out: we do not negotiate
 * those features, so a peer sending one (even type) sends an unknown even message.
 */
export const LightningMessages = makeRegistry([...bolt1Messages, ...channelMessages, ...gossipMessages])
export type LightningMessage = Bolt1Message | ChannelMessage | GossipMessage
