/**
 * What the demo page does, without the page: platform-neutral (no DOM, no Node built-ins), so
 * the page runs it in a tab and `browser/demo/server.ts` runs the Node side of it.
 *
 * - `startPair`: two nodes on one in-memory network and one simulated chain. Alice's wallet is
 *   funded from the chain's faucet; she opens a channel to Bob (the wallet answers
 *   `FundingNeeded`, the chain watcher publishes the funding transaction), blocks are mined
 *   until both see `ChannelReady`; `payBothWays` then pays an invoice of Bob's, and one of
 *   Alice's back.
 * - `startBridged`: one node dialing out over a given transport (the page's WebSocket
 *   transport through the bridge) with its own simulated chain and wallet; `openAndPay` opens a
 *   channel to the remote node and pays its invoice.
 * - `watchNode`: every channel and payment event of a node, as text lines, to a callback.
 */
import { Clock, Context, Duration, Effect, Layer, Result, Stream, type Scope } from "effect"
import { PeerNotConnected } from "../../src/actors/PeerEvent.ts"
import * as SimulatedChain from "../../src/layers/chain/SimulatedChain.ts"
import { type BrowserNode, makeBrowserNode } from "../../src/layers/browser/BrowserNode.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import { equalBytes, fromHex, toHex } from "../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { Networks } from "../../src/protocol/network.ts"
import { txidFromBytes } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, type NodeId, sat } from "../../src/protocol/units.ts"
import { scriptFromAddress } from "../../src/protocol/wallet/keys.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import type { Entropy } from "../../src/services/Entropy.ts"
import { FeeEstimator } from "../../src/services/FeeEstimator.ts"
import type { Store } from "../../src/services/Store.ts"
import type { SocketAddress, Transport } from "../../src/services/Transport.ts"

export const PEER_PORT = 9735

/** Where the demo keeps each node's data: a store per (node, purpose). */
export type StoreFactory<E> = (node: string, purpose: "channels" | "payments") => Layer.Layer<Store, E>

export interface DemoKeys {
  /** 32 bytes per node name (kept by the page so a reload finds the same nodes). */
  readonly seed: (node: string) => Effect.Effect<Uint8Array>
  readonly entropy: Layer.Layer<Entropy>
}

type Log = (line: string) => void

/** A node id: 33 bytes that are a point on the curve (a validating guard, not a cast). */
const isNodeId = (bytes: Uint8Array): bytes is NodeId => bytes.length === 33 && nobleSecp256k1.isValidPoint(bytes)

/** Parses a node id from hex; undefined for anything else. */
export const parseNodeId = (hex: string): NodeId | undefined => {
  const bytes = /^[0-9a-f]{66}$/i.test(hex) ? fromHex(hex.toLowerCase()) : undefined
  return bytes !== undefined && isNodeId(bytes) ? bytes : undefined
}

const short = (bytes: Uint8Array): string => toHex(bytes).slice(0, 12)

/** Logs every channel and payment event of `node` under `name` (forked in the scope). */
export const watchNode = (name: string, node: BrowserNode, log: Log): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const channelEvents = yield* node.channels.subscribe
    yield* channelEvents.pipe(
      Stream.runForEach(({ channelId, event }) => Effect.sync(() => log(`${name}: ${event._tag} (channel ${short(channelId)})`))),
      Effect.forkScoped
    )
    const paymentEvents = yield* node.payments.subscribe
    yield* paymentEvents.pipe(
      Stream.runForEach((event) => Effect.sync(() => log(`${name}: ${event._tag}${"paymentHash" in event ? ` (payment ${short(event.paymentHash)})` : ""}`))),
      Effect.forkScoped
    )
  })

/** Polls `found` every 10 ms (live clock) until it gives a value; dies after `timeoutMs`. */
export const eventually = <A, E>(what: string, found: Effect.Effect<A | undefined, E>, timeoutMs = 30_000): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    for (;;) {
      const value = yield* found
      if (value !== undefined) return value
      if ((yield* Clock.currentTimeMillis) - start > timeoutMs) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(Duration.millis(10))
    }
  })

/** A channel in `Normal` with this peer, if any. */
const normalChannelWith = (node: BrowserNode, peer: NodeId): Effect.Effect<ChannelId | undefined> =>
  Effect.map(node.channels.listChannels, (list) => list.find((c) => c.phase === "Normal" && equalBytes(c.nodeId, peer))?.channelId)

/** A simulated chain as the services a node follows, plus its handle. */
export const makeChain = (seed: string) =>
  Effect.map(SimulatedChain.make({ seed, feeratePerKw: 1000 }), (chain) => ({
    sim: chain.sim,
    services: Context.make(ChainSource, chain.chainSource).pipe(
      Context.add(Broadcaster, chain.broadcaster),
      Context.add(FeeEstimator, chain.feeEstimator)
    )
  }))

type Chain = Effect.Success<ReturnType<typeof makeChain>>

/** Pays `amountSat` from the faucet to a fresh address of the node's wallet and confirms it. */
const fundWallet = (node: BrowserNode, chain: Chain, amountSat: bigint) =>
  Effect.gen(function*() {
    const wallet = node.wallet
    if (wallet === undefined) return yield* Effect.die(new Error("the node has no wallet"))
    const address = yield* wallet.newAddress()
    const script = Result.getOrThrow(scriptFromAddress(Networks.regtest, address))
    yield* Effect.orDie(chain.sim.fund(script, sat(amountSat)))
    yield* Effect.orDie(chain.sim.mine(1))
    yield* Effect.orDie(wallet.awaitHeight(yield* chain.sim.height))
  })

/**
 * Opens a channel from `funder` (whose wallet pays) to `peer`, connected at `address`, and
 * mines until the funder's side is `Normal`. Returns the channel id.
 */
export const openChannel = (funder: BrowserNode, chain: Chain, peer: NodeId, address: SocketAddress, amountSat: bigint, log: Log) =>
  Effect.scoped(Effect.gen(function*() {
    // The funding outpoint arrives with `ChannelPending` (after the peer signed our commitment).
    const fundings: Array<Uint8Array> = []
    const events = yield* funder.channels.subscribe
    yield* events.pipe(
      Stream.runForEach(({ event }) => Effect.sync(() => void (event._tag === "ChannelPending" && fundings.push(event.fundingOutpoint.txid)))),
      Effect.forkScoped
    )
    yield* Effect.orDie(funder.peers.connect(peer, address))
    log(`connected to ${short(peer)} at ${address.host}:${address.port}`)
    const opened = yield* eventually(
      "the peer to accept the open",
      Effect.result(funder.channels.openChannel(peer, sat(amountSat))).pipe(
        Effect.flatMap((r) =>
          Result.isSuccess(r)
            ? Effect.succeed(r.success)
            : r.failure instanceof PeerNotConnected ? Effect.succeed(undefined) : Effect.die(r.failure)
        )
      )
    )
    log(`opening channel ${short(opened)} for ${amountSat} sat`)
    const txid = yield* eventually(
      "the funding transaction in the mempool",
      Effect.gen(function*() {
        for (const raw of fundings) {
          const id = txidFromBytes(raw)
          if ((yield* chain.sim.inMempool(id)) || (yield* chain.sim.confirmationHeight(id)) !== undefined) return id
        }
        return undefined
      })
    )
    log(`funding transaction ${toHex(txid).slice(0, 12)} in the mempool; mining`)
    return yield* eventually(
      "the channel to be ready",
      Effect.gen(function*() {
        const ready = yield* normalChannelWith(funder, peer)
        if (ready === undefined) yield* Effect.orDie(chain.sim.mine(1))
        return ready
      })
    )
  }))

/** Bob's invoice paid by Alice (or any payer and payee that share a channel). */
export const payInvoice = (payer: BrowserNode, payee: BrowserNode, amountMsat: bigint, description: string, log: Log) =>
  Effect.gen(function*() {
    const created = yield* Effect.orDie(payee.payments.createInvoice({ amountMsat: msat(amountMsat), description: { text: description } }))
    return yield* payOne(payer, created.invoice, log)
  })

/** Pays a BOLT 11 invoice; the payment's preimage as hex. */
export const payOne = (payer: BrowserNode, invoice: string, log: Log) =>
  Effect.gen(function*() {
    log(`paying ${invoice.slice(0, 24)}...`)
    const paid = yield* Effect.orDie(payer.payments.pay(invoice, { timeoutMillis: 30_000 }))
    log(`paid: preimage ${short(paid.preimage)}, fee ${paid.feePaidMsat} msat`)
    return toHex(paid.preimage)
  })

export interface Pair {
  readonly alice: BrowserNode
  readonly bob: BrowserNode
  readonly chain: Chain | undefined
}

/** A fixed, public wallet seed for the demo (regtest coins from a simulated faucet only). */
const DEMO_WALLET_SEED = new Uint8Array(64).fill(7)

/**
 * Alice and Bob on one in-memory network. With `chain` (a fresh run) they follow a simulated
 * chain and Alice has a funded wallet; without one (after a reload) they only restore what
 * their stores hold.
 */
export const startPair = <E>(keys: DemoKeys, stores: StoreFactory<E>, log: Log, withChain: boolean) =>
  Effect.gen(function*() {
    const net = yield* makeMemoryNetwork()
    const chain = withChain ? yield* makeChain("effect-lightning demo") : undefined
    const start = (name: string, wallet: boolean) =>
      Effect.gen(function*() {
        const node = yield* makeBrowserNode({
          seed: yield* keys.seed(name),
          transport: net.layer(name),
          entropy: keys.entropy,
          channelStore: stores(name, "channels"),
          paymentStore: stores(name, "payments"),
          listen: { host: name, port: PEER_PORT },
          ...(chain === undefined ? {} : { chain: chain.services }),
          ...(wallet ? { walletSeed: DEMO_WALLET_SEED } : {})
        })
        yield* watchNode(name, node, log)
        log(`${name}: node ${short(node.nodeId)} started`)
        return node
      })
    const alice = yield* start("alice", true)
    const bob = yield* start("bob", false)
    const pair: Pair = { alice, bob, chain }
    return pair
  })

/** The fresh-run scenario: fund, open Alice -> Bob, pay Bob, pay Alice back. */
export const openAndPayBothWays = (pair: Pair, log: Log) =>
  Effect.gen(function*() {
    const chain = pair.chain
    if (chain === undefined) return yield* Effect.die(new Error("no chain: restore only"))
    yield* fundWallet(pair.alice, chain, 2_000_000n)
    log("alice: wallet funded with 2,000,000 sat from the faucet")
    const channelId = yield* openChannel(pair.alice, chain, pair.bob.nodeId, { host: "bob", port: PEER_PORT }, 1_000_000n, log)
    // Bob's side is ready once he has seen the depth too.
    yield* eventually("bob's side of the channel", normalChannelWith(pair.bob, pair.alice.nodeId))
    const toBob = yield* payInvoice(pair.alice, pair.bob, 50_000_000n, "coffee for bob", log)
    const toAlice = yield* payInvoice(pair.bob, pair.alice, 20_000_000n, "change for alice", log)
    return { channelId: toHex(channelId), toBob, toAlice }
  })

/** What a node's stores hold now: its channels (phase) and its outgoing payments (status). */
export const summary = (node: BrowserNode) =>
  Effect.gen(function*() {
    const channels = (yield* node.channels.listChannels).map((c) => ({ channelId: toHex(c.channelId), phase: c.phase }))
    const payments = (yield* node.payments.payments).map((p) => ({ paymentHash: toHex(p.paymentHash), status: p.status, amountMsat: String(p.amountMsat) }))
    return { nodeId: toHex(node.nodeId), channels, payments }
  })

/** One node dialing out over `transport`, with its own simulated chain and a funded wallet. */
export const startBridged = <E>(
  keys: DemoKeys,
  stores: StoreFactory<E>,
  transport: Layer.Layer<Transport>,
  log: Log
) =>
  Effect.gen(function*() {
    const chain = yield* makeChain("effect-lightning bridge demo")
    const node = yield* makeBrowserNode({
      seed: yield* keys.seed("carol"),
      transport,
      entropy: keys.entropy,
      channelStore: stores("carol", "channels"),
      paymentStore: stores("carol", "payments"),
      chain: chain.services,
      walletSeed: DEMO_WALLET_SEED
    })
    yield* watchNode("carol", node, log)
    log(`carol: node ${short(node.nodeId)} started`)
    yield* fundWallet(node, chain, 2_000_000n)
    log("carol: wallet funded with 2,000,000 sat from the faucet")
    return { node, chain }
  })
