/**
 * A complete production node as one layer: the peer registry (`PeerManager`) listening for
 * Lightning peers over TCP and the channel manager (`ChannelManager`) over it, with OS
 * randomness and every key derived from the seed file in the data directory. `src/main.ts`
 * serves the control API on top of it; an application embedding the library can use it the same
 * way, or compose the parts itself (see the README). The chain the peers advertise in `init`
 * (`networks`) and the channels' chain is the node's network setting (`NodeNetwork`).
 *
 * Keys. The 32-byte seed of `<dataDir>/node_seed` (`SeedFile.ts`) is read once at start; every
 * key comes from it through `deriveSecret` (`protocol/keys/seed.ts`: HKDF-SHA256, one label per use), so no
 * key material is ever reused between uses:
 *
 * - `"node"`: the node key (BOLT 1 node id, BOLT 8 static key) — `deriveNodeSecret`
 *   (unless `options.nodeSecret` gives it, for conformance suites).
 * - `"channel-signer"` (`CHANNEL_SIGNER_SEED_LABEL`): the 32-byte seed of the channel signer
 *   (`SeedChannelSigner`), which derives each channel's keys from it and the channel's key id.
 * - `"shutdown/0"` (`SHUTDOWN_KEY_LABEL`): the key of the node's payout script, P2WPKH
 *   (`OP_0 <HASH160(pubkey)>`), the `scriptpubkey` of our `shutdown` when the peer starts a
 *   cooperative close, and the default of `closeChannel`, for a node without a chain (the same
 *   for every channel); `nodeShutdownScript(seed)` computes it. With `bitcoind`, closes and the
 *   monitor's claims pay fresh scripts of the wallet instead (taken at start).
 * - `"wallet"` (`WALLET_SEED_LABEL`): the on-chain wallet's BIP 32 seed (unless
 *   `options.walletSeed` gives it); the wallet runs with `bitcoind`, stored under
 *   `<dataDir>/wallet` (`actors/Wallet.ts`), and funds the opens `WalletFunding` is asked to.
 *
 * Channel state lives in a files store (`FileStore`, fsync'ed) under `<dataDir>/channels`
 * (or SQLite / Postgres with `options.store`, `--store`: `store/SqlStoreChoice.ts`),
 * behind the local `MonitorPersister` (`ReplicatedPersister.layerLocal`). At start the channel manager
 * restores every channel from it; they resume with `channel_reestablish` once their peer
 * reconnects.
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import * as ChannelManager from "../actors/ChannelManager.ts"
import { start as startChainWatcher } from "../actors/ChainWatcher.ts"
import * as MonitorChain from "../actors/MonitorChain.ts"
import * as Wallet from "../actors/Wallet.ts"
import * as WalletFunding from "../actors/WalletFunding.ts"
import * as BitcoindChain from "../layers/chain/BitcoindChain.ts"
import type { BitcoindConfig } from "../layers/chain/BitcoindChain.ts"
import * as PeerManager from "../actors/PeerManager.ts"
import { Payments, type PaymentsConfig } from "../actors/Payments.ts"
import { GossipSync, gossipPeerManagerConfig } from "../actors/GossipSync.ts"
import { GossipAnnouncer, type GossipAnnouncerConfig } from "../actors/GossipAnnouncer.ts"
import { ChainSource } from "../services/ChainSource.ts"
import * as MemoryNetworkGraph from "../layers/graph/MemoryNetworkGraph.ts"
import * as RouterGraphAdapter from "../layers/graph/RouterGraphAdapter.ts"
import { DefaultRouter } from "../layers/router/DefaultRouter.ts"
import type { Secp256k1 } from "../protocol/crypto/secp256k1.ts"
import { toHex } from "../protocol/bytes.ts"
import { defaultForwardingPolicy, type ForwardingPolicy } from "../protocol/payment/forward.ts"
import { p2wpkhScript } from "../protocol/tx/bitcoin/script.ts"
import { ChannelSigner } from "../services/ChannelSigner.ts"
import { Crypto } from "../services/Crypto.ts"
import { NodeNetwork } from "../services/NodeNetwork.ts"
import { NodeSigner } from "../services/NodeSigner.ts"
import { makeNodeSigner } from "../layers/InMemoryNodeSigner.ts"
import * as ReplicatedPersister from "../layers/persister/ReplicatedPersister.ts"
import { type FixedChannelSecrets, makeSeedChannelSigner } from "../layers/signer/SeedChannelSigner.ts"
import * as FileStore from "../layers/store/FileStore.ts"
import * as SqlStoreChoice from "../layers/store/SqlStoreChoice.ts"
import type { StoreSelection } from "../layers/store/SqlStoreChoice.ts"
import * as OtlpTracing from "../layers/observability/OtlpTracing.ts"
import * as OsEntropy from "../layers/node/OsEntropy.ts"
import type { SocketAddress } from "../services/Transport.ts"
import { loadOrCreateSeed } from "../layers/node/SeedFile.ts"
import * as SeedFileSigner from "../layers/node/SeedFileSigner.ts"
import { CHANNEL_SIGNER_SEED_LABEL, deriveNodeSecret, deriveSecret, SHUTDOWN_KEY_LABEL, WALLET_SEED_LABEL } from "../protocol/keys/seed.ts"
import type { TcpTransportOptions } from "../layers/node/TcpTransport.ts"
import * as TcpTransport from "../layers/node/TcpTransport.ts"

// The seed's labels (channel signer seed, payout key, wallet seed) are `protocol/keys/seed.ts`'s.
export { CHANNEL_SIGNER_SEED_LABEL, SHUTDOWN_KEY_LABEL, WALLET_SEED_LABEL } from "../protocol/keys/seed.ts"
/** Subdirectory of the data directory holding the channel store. */
export const CHANNELS_DIRECTORY = "channels"
/** Subdirectory of the data directory holding invoices, payments and forwards. */
export const PAYMENTS_DIRECTORY = "payments"
/** Subdirectory of the data directory holding the network graph. */
export const GRAPH_DIRECTORY = "graph"
/** Where the on-chain monitor (`MonitorChain`) keeps its state, under the data directory. */
export const ONCHAIN_DIRECTORY = "onchain"
/** Where the on-chain wallet (`Wallet.ts`, issue 9) keeps its state, under the data directory. */
export const WALLET_DIRECTORY = "wallet"

export interface NodeLiveOptions {
  readonly dataDir: string
  /** Where to accept peers; omit to only dial out. */
  readonly listen?: SocketAddress
  readonly tcp?: TcpTransportOptions
  /** Everything else the registry takes (bounds, peer timers). Session events are always delivered. */
  readonly peers?: Omit<PeerManager.PeerManagerConfig, "listen" | "sessionEvents">
  /** Channel manager settings (policy, feerate estimate...); secp and the shutdown script come from the node. */
  readonly channels?: Omit<ChannelManager.ChannelManagerConfig, "secp" | "shutdownScript">
  /**
   * Follow this bitcoind's chain: a `ChainWatcher` turns its blocks into the channels' chain
   * facts (funding depth, funding spent) and publishes their transactions through it.
   */
  readonly bitcoind?: BitcoindConfig
  /** Payments settings (MPP timeout...); secp, the chain height and the forwarding policy come from the node. */
  readonly payments?: Omit<PaymentsConfig, "secp" | "blockHeight" | "forwardingPolicy">
  /**
   * Our forwarding policy (default `defaultForwardingPolicy`): what the forwarder enforces and
   * what our `channel_update`s announce, one value for both.
   */
  readonly forwardingPolicy?: ForwardingPolicy
  /**
   * The node key (32 bytes) instead of the one derived from the seed: for external conformance
   * suites that script messages to a known node id (the daemon passes it only with `--dev` on
   * regtest, `--dev-node-secret`). Copied; every other key still comes from the seed.
   */
  readonly nodeSecret?: Uint8Array
  /**
   * Every channel's base secrets and per-commitment seed instead of the per-channel keys of the
   * seed: for conformance suites only (the daemon passes them only with `--dev` on regtest,
   * `--dev-channel-secrets`). Copied.
   */
  readonly channelSecrets?: FixedChannelSecrets
  /** Our `node_announcement` and relay policy (default alias: the first bytes of the node id in hex). */
  readonly announce?: Omit<GossipAnnouncerConfig, "secp" | "policy" | "alias"> & { readonly alias?: string }
  /**
   * Where the channels, payments and graph stores live (`--store`): files under the data
   * directory when absent; SQLite files or Postgres schemas (`SqlStoreChoice.ts`), which the
   * node holds with an owner lock (a second node on the same store is refused).
   */
  readonly store?: StoreSelection
  /**
   * Export the node's spans (payments, HTLCs, forwards) over OTLP/HTTP to this collector
   * (`--otlp-endpoint`, `observability/OtlpTracing.ts`): the tracer is provided to the node's
   * layers and is part of this layer's output, so what is built on it (the control API) exports too.
   */
  readonly otlpEndpoint?: string
  /**
   * The on-chain wallet's BIP 32 seed (16 to 64 bytes) instead of the one derived from the node
   * seed (`WALLET_SEED_LABEL`): for tests that fund a known wallet (the daemon passes it only with
   * `--dev` on regtest, `--dev-wallet-seed`). Copied. The wallet runs only with `bitcoind`.
   */
  readonly walletSeed?: Uint8Array
  /** The wallet's birth height (`--wallet-birthday`): its first start scans the chain from there (`WalletConfig.birthHeight`). */
  readonly walletBirthday?: number
}

/** The node's payout script for closes: P2WPKH to the key derived under `SHUTDOWN_KEY_LABEL`. */
export const nodeShutdownScript = (seed: Uint8Array, secp: Secp256k1): Uint8Array => {
  const secret = deriveSecret(seed, SHUTDOWN_KEY_LABEL, secp)
  const pubkey = secp.publicKey(secret)
  secret.fill(0)
  // A valid secret (deriveSecret guarantees it) always has a public key.
  if (pubkey === undefined) throw new Error("unreachable: derived shutdown secret is invalid")
  return p2wpkhScript(pubkey)
}

/**
 * Entropy, node signer and transport of a production node. `secp` derives and uses the node key
 * (noble unless given; `NodeLive` passes the fastest that loads).
 */
export const layerServices = (options: Pick<NodeLiveOptions, "dataDir" | "tcp"> & { readonly secp?: Secp256k1 }) =>
  Layer.mergeAll(
    OsEntropy.layer,
    TcpTransport.layer(options.tcp),
    SeedFileSigner.layer(options.dataDir, options.secp).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, OsEntropy.layer)))
  )

/** The channel store: the files store under `<dataDir>/channels` with the local persister over it. */
export const layerChannelStore = (dataDir: string) =>
  ReplicatedPersister.layerLocal().pipe(
    Layer.provide(FileStore.layer({ directory: join(dataDir, CHANNELS_DIRECTORY) })),
    Layer.provide(NodeFileSystem.layer)
  )

/**
 * The node's `PeerManager`, `ChannelManager`, `Payments` (send, receive, forward over the default
 * router and the network graph) and gossip (`GossipSync`, `GossipAnnouncer`, `NetworkGraph` stored
 * under `<dataDir>/graph`) over TCP, OS entropy, the seed file's keys and
 * the channel store of the data directory, with the crypto of the `Crypto` reference (by
 * default the fastest of this platform: libsodium/OpenSSL ChaCha20-Poly1305, and for BOLT 8, the
 * node key and the channels the first of native libsecp256k1, WASM libsecp256k1 and noble that
 * loads), unless `options.peers.peer.crypto` says otherwise for the peers. The `networks` TLV of `init` carries
 * the chain hash of `NodeNetwork` (regtest unless provided), unless `options.peers.peer.chains`
 * is given. The peers hand `open_channel` and every session event to the channel manager.
 */
export function layer(options: NodeLiveOptions & { readonly bitcoind: BitcoindConfig }): ReturnType<typeof layerWithChain>
export function layer(options: NodeLiveOptions): ReturnType<typeof layerWithoutChain>
export function layer(options: NodeLiveOptions): ReturnType<typeof layerWithChain> | ReturnType<typeof layerWithoutChain> {
  return options.bitcoind === undefined ? layerWithoutChain(options) : layerWithChain(options, options.bitcoind)
}

/*
 * The static type says what is provided: with `bitcoind` in the options' type, also the chain
 * (`ChainSource`, `Broadcaster`, `FeeEstimator`), `Wallet`, `WalletFunding` and `MonitorChain`;
 * with options whose `bitcoind` is optional (the daemon's), only what every node has: the
 * handlers look the chain services up with `Effect.serviceOption`, as they may be absent.
 */
const otlp = (options: NodeLiveOptions) =>
  options.otlpEndpoint === undefined ? Layer.empty : OtlpTracing.layer({ endpoint: options.otlpEndpoint })

const layerWithoutChain = (options: NodeLiveOptions) =>
  Layer.unwrap(Effect.map(nodeParts(options), (parts) => parts.withoutChain())).pipe(Layer.provideMerge(otlp(options)))

const layerWithChain = (options: NodeLiveOptions, bitcoind: BitcoindConfig) =>
  Layer.unwrap(Effect.map(nodeParts(options), (parts) => parts.withChain(bitcoind))).pipe(Layer.provideMerge(otlp(options)))

/** Reads the seed and derives the keys (once per build), then composes the node with or without a chain. */
const nodeParts = (options: NodeLiveOptions) =>
  Effect.gen(function*() {
    const crypto = yield* Crypto
    const secp = crypto.secp
    const network = yield* NodeNetwork
    const { seed } = yield* loadOrCreateSeed(options.dataDir).pipe(
      Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, OsEntropy.layer))
    )
    const nodeSecret = options.nodeSecret === undefined ? deriveNodeSecret(seed, secp) : options.nodeSecret.slice()
    const nodeSigner = makeNodeSigner(nodeSecret, secp)
    nodeSecret.fill(0)
    const channelSeed = deriveSecret(seed, CHANNEL_SIGNER_SEED_LABEL, secp)
    const shutdownScript = nodeShutdownScript(seed, secp)
    const walletSeed = options.walletSeed === undefined ? deriveSecret(seed, WALLET_SEED_LABEL, secp) : options.walletSeed.slice()
    seed.fill(0)
    // Keeps its own copy of the seed (and of the dev hook's fixed secrets).
    const channelSigner = makeSeedChannelSigner(channelSeed, secp, options.channelSecrets === undefined ? {} : { fixedSecrets: options.channelSecrets })
    channelSeed.fill(0)

    const nodeSignerLayer = Layer.succeed(NodeSigner, nodeSigner)
    const storeOwner = `node ${toHex(nodeSigner.nodeId)}`
    // Files (fsync'd, under the data directory) unless the options choose SQL; the owner names this node in locks.
    const storeAt = (name: string) => SqlStoreChoice.layer(options.store ?? { kind: "files" }, options.dataDir, name, storeOwner)
    const services = Layer.mergeAll(OsEntropy.layer, TcpTransport.layer(options.tcp), nodeSignerLayer)
    // Gossip: the graph (stored), and the sync actor the peers hand BOLT 7 messages to.
    // One store for both (the same layer value, built once): the graph, and the funding outpoints gossip watches.
    const graphStore = storeAt(GRAPH_DIRECTORY)
    const graph = MemoryNetworkGraph.layer({ secp }).pipe(Layer.provide(graphStore))
    const gossip = GossipSync.layerStored().pipe(Layer.provideMerge(graph), Layer.provide(graphStore))
    const peerConfig: PeerManager.PeerManagerConfig = {
      ...options.peers,
      sessionEvents: "deliver",
      peer: {
        crypto,
        chains: [network.chainHash],
        ...options.peers?.peer,
        rejectChannels: false
      },
      ...(options.listen === undefined ? {} : { listen: options.listen })
    }
    const peers = Layer.effect(
      PeerManager.PeerManager,
      Effect.gen(function*() {
        const sync = yield* GossipSync
        return yield* PeerManager.make(gossipPeerManagerConfig(sync, peerConfig))
      })
    ).pipe(Layer.provideMerge(gossip), Layer.provide(services))
    const channelSignerLayer = Layer.succeed(ChannelSigner, channelSigner)
    const managerPaying = (shutdownScript: Uint8Array) => ChannelManager.layer({ ...options.channels, secp, shutdownScript }).pipe(
      Layer.provideMerge(peers),
      Layer.provide(Layer.mergeAll(
        channelSignerLayer,
        ReplicatedPersister.layerLocal().pipe(Layer.provide(storeAt(CHANNELS_DIRECTORY))),
        OsEntropy.layer
      ))
    )
    // The chain, when there is one: its tip is the payments' height and the announcer's depth.
    const blockHeight: Effect.Effect<number> = Effect.serviceOption(ChainSource).pipe(
      Effect.flatMap((source) =>
        source._tag === "None" ? Effect.succeed(0) : source.value.tip.pipe(Effect.map((tip) => tip.height), Effect.orElseSucceed(() => 0))
      )
    )
    const routerGraph = RouterGraphAdapter.layer()
    const router = DefaultRouter.layerProbabilistic.pipe(Layer.provide(routerGraph))
    const forwardingPolicy = options.forwardingPolicy ?? defaultForwardingPolicy
    // The router's graph is also where Payments reads the policies of blinded paths to us.
    const payments = Payments.layer({ ...options.payments, secp, blockHeight, forwardingPolicy }).pipe(
      Layer.provide(Layer.mergeAll(router, routerGraph, storeAt(PAYMENTS_DIRECTORY), nodeSignerLayer, OsEntropy.layer))
    )
    const announcer = GossipAnnouncer.layer({
      alias: toHex(nodeSigner.nodeId).slice(0, 20),
      ...options.announce,
      policy: forwardingPolicy,
      secp
    }).pipe(Layer.provide(Layer.mergeAll(channelSignerLayer, nodeSignerLayer)))
    const withoutChain = () => Layer.mergeAll(payments, announcer).pipe(Layer.provideMerge(managerPaying(shutdownScript)))
    const withChain = (bitcoind: BitcoindConfig) => {
      const chain = BitcoindChain.layer(bitcoind)
      // The on-chain wallet (src/actors/Wallet.ts), stored under <data-dir>/wallet: it funds our
      // opens (WalletFunding), and its fresh scripts receive our closes' outputs and every claim.
      const wallet = Wallet.layerPersistent({
        seed: walletSeed,
        network,
        secp,
        ...(options.walletBirthday === undefined ? {} : { birthHeight: options.walletBirthday })
      }).pipe(
        Layer.provide(Layer.mergeAll(storeAt(WALLET_DIRECTORY), OsEntropy.layer))
      )
      const walletScript = Effect.gen(function*() {
        const w = yield* Wallet.Wallet
        return yield* w.sweepScript("p2wpkh")
      })
      const manager = Layer.unwrap(Effect.map(walletScript, managerPaying))
      // Opens the control API asks to fund from the wallet (others keep bring-your-own funding).
      const walletFunding = WalletFunding.layer
      // The chain watcher over bitcoind, fed by the manager's events (src/actors/ChainWatcher.ts).
      const watcher = Layer.effectDiscard(startChainWatcher())
      // BOLT 5 enforcement (src/actors/MonitorChain.ts): claims pay a fresh wallet script (taken at
      // start); its state in <data-dir>/onchain; the wallet's P2WPKH coins pay anchors' zero-fee
      // HTLC transactions and CPFP children (FeeInputs).
      // Below Payments, so that it sees the monitor's on-chain HTLC outcomes.
      const monitorChain = Layer.effect(
        MonitorChain.MonitorChain,
        Effect.gen(function*() {
          const w = yield* Wallet.Wallet
          const sweepScript = yield* w.sweepScript("p2wpkh")
          return yield* MonitorChain.start({ secp, sweepScript, feeInputs: WalletFunding.feeInputs(w) })
        })
      ).pipe(
        Layer.provide(Layer.mergeAll(channelSignerLayer, storeAt(ONCHAIN_DIRECTORY)))
      )
      const enforcing = Layer.mergeAll(payments, announcer).pipe(Layer.provideMerge(monitorChain), Layer.provideMerge(manager))
      return Layer.mergeAll(watcher, walletFunding).pipe(Layer.provideMerge(enforcing), Layer.provideMerge(wallet), Layer.provideMerge(chain))
    }
    return { withoutChain, withChain }
  })
