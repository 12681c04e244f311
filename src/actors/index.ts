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
export * from "./Invoices.ts"
