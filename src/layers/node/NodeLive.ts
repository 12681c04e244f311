/**
 * A complete production node as one layer: the peer registry (`PeerManager`) listening for
 * Lightning peers over TCP, with OS randomness and the node key from the seed file in the data
 * directory. `src/main.ts` serves the control API on top of it; an application embedding the
 * library can use it the same way, or compose the parts itself (see the README).
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Layer } from "effect"
import * as PeerManager from "../../actors/PeerManager.ts"
import { nodeChaChaPoly } from "../crypto/aead-node.ts"
import { wasmSecp256k1 } from "../crypto/secp256k1-wasm.ts"
import { OsEntropy } from "./OsEntropy.ts"
import type { NodeConfig } from "./NodeFlags.ts"
import { SeedFileSigner } from "./SeedFileSigner.ts"
import { TcpTransport, type TcpTransportOptions } from "./TcpTransport.ts"

export interface NodeLiveOptions {
  readonly dataDir: NodeConfig["dataDir"]
  /** Where to accept peers; omit to only dial out. */
  readonly listen?: NodeConfig["listen"]
  readonly tcp?: TcpTransportOptions
  /** Everything else the registry takes (bounds, peer timers, message hand-off). */
  readonly peers?: Omit<PeerManager.PeerManagerConfig, "listen">
}

/** Entropy, node signer and transport of a production node. */
export const NodeServicesLive = (options: Pick<NodeLiveOptions, "dataDir" | "tcp">) =>
  Layer.mergeAll(
    OsEntropy,
    TcpTransport(options.tcp),
    SeedFileSigner(options.dataDir).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, OsEntropy)))
  )

/**
 * The node's `PeerManager` over TCP, OS entropy and the seed-file signer, with the fast crypto
 * of this platform for BOLT 8 (Node's ChaCha20-Poly1305, libsecp256k1 in WASM) unless
 * `options.peers.peer.crypto` says otherwise.
 */
export const NodeLive = (options: NodeLiveOptions) =>
  PeerManager.layer({
    ...options.peers,
    peer: { crypto: { secp: wasmSecp256k1, aead: nodeChaChaPoly }, ...options.peers?.peer },
    ...(options.listen === undefined ? {} : { listen: options.listen })
  }).pipe(Layer.provide(NodeServicesLive(options)))
