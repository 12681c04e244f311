/**
 * A whole node from parts that run anywhere, for a browser tab (and for the demo's peer under
 * Node): peer registry, channel manager, payments and, with a chain, the chain watcher and a
 * wallet that funds channels. `NodeLive` is the same composition over Node's TCP, files and seed
 * file; here every platform piece is a parameter: the `Transport` (WebSockets, or the in-memory
 * network for several nodes in one tab), the `Entropy`, and two `Store`s (IndexedDB in a tab,
 * memory in tests) for the channels (behind the local `MonitorPersister`) and the payments.
 *
 * Keys come from one 32-byte seed with the labels of `protocol/keys/seed.ts` (node key, channel signer seed,
 * shutdown key), as `NodeLive` derives them from its seed file. Routing uses the default router
 * over an empty public graph (no gossip here): payments go to direct peers or along the
 * invoice's route hints.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { start as startChainWatcher } from "../../actors/ChainWatcher.ts"
import * as ChannelManager from "../../actors/ChannelManager.ts"
import { make as makePayments, type PaymentsShape } from "../../actors/Payments.ts"
import * as PeerManager from "../../actors/PeerManager.ts"
import { make as makeWallet, Wallet, type WalletShape } from "../../actors/Wallet.ts"
import { start as startWalletFunding } from "../../actors/WalletFunding.ts"
import type { Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { p2wpkhScript } from "../../protocol/tx/bitcoin/script.ts"
import type { NodeId } from "../../protocol/units.ts"
import { Broadcaster } from "../../services/Broadcaster.ts"
import { ChainSource, type ChainSourceUnavailable } from "../../services/ChainSource.ts"
import { ChannelSigner } from "../../services/ChannelSigner.ts"
import { Crypto } from "../../services/Crypto.ts"
import { Entropy } from "../../services/Entropy.ts"
import { FeeEstimator } from "../../services/FeeEstimator.ts"
import type { PersistUnavailable } from "../../services/MonitorPersister.ts"
import { NodeNetwork } from "../../services/NodeNetwork.ts"
import { NodeSigner } from "../../services/NodeSigner.ts"
import { RouterGraph } from "../../services/Router.ts"
import { Scorer } from "../../services/Scorer.ts"
import { Store } from "../../services/Store.ts"
import { type SocketAddress, Transport, type TransportError } from "../../services/Transport.ts"
import { makeNodeSigner } from "../InMemoryNodeSigner.ts"
import { CHANNEL_SIGNER_SEED_LABEL, deriveNodeSecret, deriveSecret, SHUTDOWN_KEY_LABEL } from "../../protocol/keys/seed.ts"
import * as ReplicatedPersister from "../persister/ReplicatedPersister.ts"
import { DefaultRouter } from "../router/DefaultRouter.ts"
import { makeSeedChannelSigner } from "../signer/SeedChannelSigner.ts"

/** The chain services a node follows (e.g. `SimulatedChain`'s). */
export type ChainServices = ChainSource | Broadcaster | FeeEstimator

export interface BrowserNodeOptions<E1, E2> {
  /** 32 secret bytes: every key of the node is derived from them (see the module doc). */
  readonly seed: Uint8Array
  readonly transport: Layer.Layer<Transport>
  readonly entropy: Layer.Layer<Entropy>
  /** Where the channels are kept (state and monitor updates, through the local persister). */
  readonly channelStore: Layer.Layer<Store, E1>
  /** Where invoices, payments and forwards are kept. */
  readonly paymentStore: Layer.Layer<Store, E2>
  /** Accept peers here (the in-memory network; a WebSocket client cannot listen). */
  readonly listen?: SocketAddress
  /**
   * A chain to follow: a `ChainWatcher` publishes funding transactions and feeds the channels
   * their depth; its tip is the payments' height (0 without one).
   */
  readonly chain?: Context.Context<ChainServices>
  /** With `chain`: a wallet on this BIP 39 / BIP 32 seed answers `FundingNeeded`. */
  readonly walletSeed?: Uint8Array
  /** Channel manager settings (the curve and the shutdown script come from the node). */
  readonly channels?: Omit<ChannelManager.ChannelManagerConfig, "secp" | "shutdownScript">
  /** Peer registry settings (session events always go to the channel manager). */
  readonly peers?: Omit<PeerManager.PeerManagerConfig, "listen" | "sessionEvents">
}

export interface BrowserNode {
  readonly nodeId: NodeId
  readonly peers: PeerManager.PeerManagerShape
  readonly channels: ChannelManager.ChannelManagerShape
  readonly payments: PaymentsShape
  /** The wallet, when the node has a chain and a wallet seed. */
  readonly wallet: WalletShape | undefined
}

export type BrowserNodeError =
  | TransportError
  | ChannelManager.ChannelStoreUnavailable
  | PersistUnavailable
  | ChainSourceUnavailable

/** The payout script of closes: P2WPKH to the key derived under `shutdown/0` (as `NodeLive`). */
const shutdownScriptOf = (seed: Uint8Array, secp: Secp256k1): Uint8Array => {
  const secret = deriveSecret(seed, SHUTDOWN_KEY_LABEL, secp)
  const pubkey = secp.publicKey(secret)
  secret.fill(0)
  if (pubkey === undefined) throw new Error("unreachable: a derived secret is valid")
  return p2wpkhScript(pubkey)
}

/** Builds and starts the node in the current scope (closing the scope stops every part). */
export const makeBrowserNode = <E1, E2>(
  options: BrowserNodeOptions<E1, E2>
): Effect.Effect<BrowserNode, E1 | E2 | BrowserNodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const crypto = yield* Crypto
    const secp: Secp256k1 = crypto.secp
    const network = yield* NodeNetwork
    const nodeSecret = deriveNodeSecret(options.seed, secp)
    const nodeSigner = makeNodeSigner(nodeSecret, secp)
    nodeSecret.fill(0)
    const channelSeed = deriveSecret(options.seed, CHANNEL_SIGNER_SEED_LABEL, secp)
    const channelSigner = makeSeedChannelSigner(channelSeed, secp) // keeps its own copy
    channelSeed.fill(0)
    const shutdownScript = shutdownScriptOf(options.seed, secp)

    // Built in this scope, so stores and transports live as long as the node.
    const entropy = yield* Layer.build(options.entropy)
    const transport = yield* Layer.build(options.transport)
    const channelStore = yield* Layer.build(options.channelStore)
    const paymentStore = yield* Layer.build(options.paymentStore)
    const persister = yield* Layer.build(ReplicatedPersister.layerLocal()).pipe(Effect.provide(channelStore))

    const peers = yield* PeerManager.make({
      ...options.peers,
      sessionEvents: "deliver",
      peer: { crypto, chains: [network.chainHash], ...options.peers?.peer, rejectChannels: false },
      ...(options.listen === undefined ? {} : { listen: options.listen })
    }).pipe(
      Effect.provide(Context.merge(entropy, transport)),
      Effect.provideService(NodeSigner, nodeSigner)
    )

    const channels = yield* ChannelManager.make({ ...options.channels, secp, shutdownScript }).pipe(
      Effect.provide(Context.merge(entropy, persister)),
      Effect.provideService(PeerManager.PeerManager, peers),
      Effect.provideService(ChannelSigner, channelSigner)
    )

    const chain = options.chain
    const blockHeight: Effect.Effect<number> =
      chain === undefined
        ? Effect.succeed(0)
        : Context.get(chain, ChainSource).tip.pipe(Effect.map((tip) => tip.height), Effect.orElseSucceed(() => 0))

    // No gossip here: the default router over an empty public graph (direct peers, route hints).
    const router = yield* Layer.build(DefaultRouter.layer.pipe(Layer.provide(Layer.merge(RouterGraph.layerEmpty, Scorer.layerFeesOnly))))
    const payments = yield* makePayments({ secp, blockHeight }).pipe(
      Effect.provide(Context.mergeAll(entropy, paymentStore, router)),
      Effect.provideService(ChannelManager.ChannelManager, channels),
      Effect.provideService(NodeSigner, nodeSigner)
    )

    let wallet: WalletShape | undefined
    if (chain !== undefined) {
      yield* startChainWatcher().pipe(Effect.provide(chain), Effect.provideService(ChannelManager.ChannelManager, channels))
      if (options.walletSeed !== undefined) {
        const w = yield* makeWallet({ seed: options.walletSeed, network }).pipe(Effect.provide(Context.merge(chain, entropy)))
        yield* startWalletFunding.pipe(Effect.provideService(ChannelManager.ChannelManager, channels), Effect.provideService(Wallet, w))
        wallet = w
      }
    }
    const node: BrowserNode = { nodeId: peers.nodeId, peers, channels, payments, wallet }
    return node
  })
