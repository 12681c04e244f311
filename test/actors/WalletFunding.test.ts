/**
 * A channel funded from the wallet, end to end on the simulated chain: `FundingNeeded` → the
 * wallet's signed funding transaction (inputs locked) → `fundChannel` → the ChainWatcher
 * publishes it → the mempool accepts it → confirmations → `ChannelReady`; the wallet's balance
 * is then exact to the funding amount and the fee, and nothing stays locked.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { start as startChainWatcher } from "../../src/actors/ChainWatcher.ts"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { make as makeWallet, Wallet } from "../../src/actors/Wallet.ts"
import { start as startWalletFunding } from "../../src/actors/WalletFunding.ts"
import { equalBytes } from "../../src/protocol/bytes.ts"
import { Networks } from "../../src/protocol/network.ts"
import { txidFromBytes } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../src/protocol/units.ts"
import { mnemonicFromEntropy, scriptFromAddress, seedFromMnemonic } from "../../src/protocol/wallet/keys.ts"
import { make as makeSimulatedChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import { FeeEstimator } from "../../src/services/FeeEstimator.ts"
import { awaitEvent, eventually, openWhenConnected, PORT, startChannelNode } from "./ChannelManagerHarness.ts"

const SEED = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(5)))))

describe("channels funded from the wallet", () => {
  it.live("FundingNeeded is answered by the wallet; the funding confirms; the balance is exact", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "wallet-funding", feeratePerKw: 1000 })
      const chainServices = Layer.mergeAll(
        Layer.succeed(ChainSource, chain.chainSource),
        Layer.succeed(Broadcaster, chain.broadcaster),
        Layer.succeed(FeeEstimator, chain.feeEstimator)
      )
      const net = yield* makeMemoryNetwork()
      const alice = yield* startChannelNode(net, "alice", "10.0.0.1")
      const bob = yield* startChannelNode(net, "bob", "10.0.0.2")
      for (const node of [alice, bob]) {
        yield* startChainWatcher().pipe(Effect.provideService(ChannelManager, node.channels), Effect.provide(chainServices))
      }
      const wallet = yield* makeWallet({ seed: SEED, network: Networks.regtest }).pipe(Effect.provide(Layer.merge(chainServices, SeededEntropy.layer("alice-wallet"))))
      yield* startWalletFunding.pipe(Effect.provideService(ChannelManager, alice.channels), Effect.provideService(Wallet, wallet))

      const address = yield* wallet.newAddress()
      yield* chain.sim.fund(Result.getOrThrow(scriptFromAddress(Networks.regtest, address)), sat(2_000_000n))
      yield* chain.sim.mine(1)
      yield* wallet.awaitHeight(yield* chain.sim.height)

      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      const temporaryChannelId = yield* openWhenConnected(alice, bob, 1_000_000n)
      yield* awaitEvent(alice, "FundingNeeded", (e) => equalBytes(e.temporaryChannelId, temporaryChannelId))
      const pending = (yield* awaitEvent(alice, "ChannelPending")).event
      const fundingTxid = txidFromBytes(pending.fundingOutpoint.txid)
      yield* eventually("the funding transaction in the mempool", () => (chain.sim.core.inMempool(fundingTxid) ? true : undefined))
      // While unconfirmed, the wallet's coin is locked for the channel.
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(0n), locked: sat(2_000_000n) })

      yield* chain.sim.mine(6)
      for (const node of [alice, bob]) yield* awaitEvent(node, "ChannelReady", (e) => equalBytes(e.channelId, pending.channelId))
      yield* wallet.awaitHeight(yield* chain.sim.height)
      const block = yield* chain.chainSource.block(chain.sim.core.confirmationHeight(fundingTxid)!)
      const funding = block.transactions[block.txids.findIndex((id) => equalBytes(id, fundingTxid))]!
      const fee = 2_000_000n - funding.outputs.reduce((s, o) => s + o.value, 0n)
      assert.isTrue(fee > 0n)
      assert.strictEqual(funding.outputs[pending.fundingOutpoint.vout]!.value, sat(1_000_000n))
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(1_000_000n - fee), unconfirmed: sat(0n), locked: sat(0n) })
      assert.deepStrictEqual(yield* wallet.lockIds, [])
    }).pipe(Effect.scoped))
})
