/**
 * A complete production node as one layer: the peer registry (`PeerManager`) listening for
 * Lightning peers over TCP, with OS randomness and the node key from the seed file in the data
 * directory. `src/main.ts` serves the control API on top of it; an application embedding the
 * library can use it the same way, or compose the parts itself (see the README). The chain the
 * peers advertise in `init` (`networks`) is the node's network setting (`NodeNetwork`).
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as PeerManager from "../../actors/PeerManager.ts"
import type { Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { NodeNetwork } from "../../services/NodeNetwork.ts"
import { nodeChaChaPoly } from "../crypto/aead-node.ts"
import { Secp256k1Best } from "../crypto/secp256k1-best.ts"
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

/**
 * Entropy, node signer and transport of a production node. `secp` derives and uses the node key
 * (noble unless given; `NodeLive` passes the fastest that loads).
 */
export const NodeServicesLive = (options: Pick<NodeLiveOptions, "dataDir" | "tcp"> & { readonly secp?: Secp256k1 }) =>
  Layer.mergeAll(
    OsEntropy,
    TcpTransport(options.tcp),
    SeedFileSigner(options.dataDir, options.secp).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, OsEntropy)))
  )

/**
 * The node's `PeerManager` over TCP, OS entropy and the seed-file signer, with the fast crypto
 * of this platform: Node's ChaCha20-Poly1305, and for BOLT 8 and the node key the first of
 * native libsecp256k1, WASM libsecp256k1 and noble that loads (`Secp256k1Best`), unless
 * `options.peers.peer.crypto` says otherwise. The `networks` TLV of `init` carries the chain
 * hash of `NodeNetwork` (regtest unless provided), unless `options.peers.peer.chains` is given.
 */
export const NodeLive = (options: NodeLiveOptions) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const { secp } = yield* Secp256k1Best
      const network = yield* NodeNetwork
      return PeerManager.layer({
        // Nothing consumes the session events yet (no channel manager): drop them rather than
        // let the peers stall once the buffer is full. A node with a consumer passes "deliver".
        sessionEvents: "discard",
        ...options.peers,
        peer: { crypto: { secp, aead: nodeChaChaPoly }, chains: [network.chainHash], ...options.peers?.peer },
        ...(options.listen === undefined ? {} : { listen: options.listen })
      }).pipe(Layer.provide(NodeServicesLive({ ...options, secp })))
    })
  )
