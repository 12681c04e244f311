/** Actors: the imperative shell (generic actor, Peer, the node-level peer registry). */
export * as Actor from "./Actor.ts"
export { ActorCrashed, ActorStopped, MailboxFull, type Reply } from "./Actor.ts"
export {
  defaultPeerConfig,
  type InboundDecoder,
  makePeer,
  PeerClosed,
  type PeerConfig,
  type PeerHandle,
  type PeerHooks,
  type PeerRole,
  REGTEST_CHAIN_HASH
} from "./Peer.ts"
export * from "./PeerEvent.ts"
export { make as makePeerManager, PeerManager, type PeerManagerConfig, type PeerManagerShape } from "./PeerManager.ts"
export {
  type ChainRequest,
  type ChannelCore,
  ChannelCommandRejected,
  type ChannelEnvelope,
  type ChannelHandle,
  type ChannelOptions,
  type ChannelPorts,
  type ChannelSnapshot,
  type ChannelStep,
  makeChannel,
  performSignerRequest,
  type StepReport
} from "./Channel.ts"
export { applyUpdate as applyMonitorUpdate, makeMonitor, makeMonitorSync, type MonitorHandle, type MonitorOptions } from "./Monitor.ts"
export {
  AddHtlcRejected,
  type AddHtlcRequest,
  type ChainFact,
  type ChannelCommandError,
  type ChannelInfo,
  ChannelManager,
  type ChannelManagerConfig,
  type ChannelManagerShape,
  ChannelNotFound,
  channelPeerConfig,
  type ChannelRecord,
  ChannelRecordSchema,
  ChannelStoreUnavailable,
  decodeChannelRecord,
  encodeChannelRecord,
  make as makeChannelManager,
  messageChannelId,
  type NodeChannelEvent,
  OpenChannelFailed,
  type OpenChannelOptions
} from "./ChannelManager.ts"
