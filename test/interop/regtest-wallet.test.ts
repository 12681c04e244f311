/**
 * The runnable node's wallet against a real regtest node (issue 9): bcoin 1.0.2 in a child
 * process, two of our nodes built by `NodeLive` on its bitcoind path (`bitcoind` option: the
 * chain watcher, the on-chain monitor, the stored wallet and `WalletFunding`, over TCP and files
 * stores in temporary directories). Node A's wallet is paid from a mined coinbase; A opens a
 * channel to B funded by its wallet (the funding transaction accepted by bcoin's mempool and
 * mined), pays B over it, and closes it cooperatively (the closing transaction pays both
 * wallets' scripts). Both wallets' balances are then exact to the fees, and A restarted over its
 * data directory finds its stored wallet (same balance, caught up, a new address). bcoin's regtest turns on
 * segwit only after 432 blocks: they are mined first.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Result, Scope } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { Payments } from "../../src/actors/Payments.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { Wallet } from "../../src/actors/Wallet.ts"
import { WalletFunding } from "../../src/actors/WalletFunding.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import { fromHex, toHex } from "../../src/protocol/bytes.ts"
import { defaultLocalChannelConfig } from "../../src/protocol/channel/config.ts"
import { decodeTransaction, type Transaction, txidToHex, txid as txidOf } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type ChannelId, msat, sat } from "../../src/protocol/units.ts"
import { scriptFromAddress } from "../../src/protocol/wallet/keys.ts"
import { Networks } from "../../src/protocol/network.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import { bcoinAvailable, BcoinNode } from "../support/bcoin.ts"

const FUNDS = 3_000_000n
const CAPACITY = 1_000_000n
const PAID_MSAT = 100_000_000n

const sumOut = (tx: Transaction) => tx.outputs.reduce((s, o) => s + o.value, 0n)

describe.runIf(bcoinAvailable)("the node's wallet on bcoin regtest", () => {
  it.live("wallet-funded open, a payment and a cooperative close: both wallets exact to the fees", () =>
    Effect.acquireUseRelease(
      Effect.promise(async () => ({ bcoin: await BcoinNode.start(), dirs: [await mkdtemp(join(tmpdir(), "wallet-a-")), await mkdtemp(join(tmpdir(), "wallet-b-"))] })),
      ({ bcoin, dirs }) =>
        Effect.gen(function*() {
          const cmd = (c: Record<string, unknown>) => Effect.promise(() => bcoin.command(c))
          yield* cmd({ cmd: "mine", n: 440 }) // segwit active, mature coinbases
          const build = (dir: string, seedByte: number) =>
            Layer.build(NodeLive.layer({
              dataDir: dir,
              listen: { host: "127.0.0.1", port: 0 },
              bitcoind: { url: bcoin.url, pollIntervalMs: 30, reconnectIntervalMs: 50 },
              walletSeed: new Uint8Array(32).fill(seedByte),
              channels: { channelConfig: { ...defaultLocalChannelConfig, minimumDepth: 1 } }
            }))
          const scopeA = yield* Scope.make()
          const a = yield* build(dirs[0]!, 0xa1).pipe(Scope.provide(scopeA))
          const b = yield* build(dirs[1]!, 0xb2)
          const walletA = Context.getUnsafe(a, Wallet)
          const walletB = Context.getUnsafe(b, Wallet)
          const chain = Context.getUnsafe(b, ChainSource)
          const mempool = Effect.map(cmd({ cmd: "mempool" }), (m) => m.txids ?? [])
          /** Mines `n` blocks and waits until both wallets applied them. */
          const mine = (n: number) =>
            Effect.gen(function*() {
              yield* cmd({ cmd: "mine", n })
              const tip = yield* Effect.orDie(chain.tip)
              yield* Effect.orDie(walletA.awaitHeight(tip.height))
              yield* Effect.orDie(walletB.awaitHeight(tip.height))
            })
          /** Waits until bcoin's mempool holds a transaction (our broadcast was accepted), and returns its txids. */
          const awaitMempool = Effect.gen(function*() {
            for (let i = 0; i < 1000; i++) {
              const ids = yield* mempool
              if (ids.length > 0) return ids
              yield* Effect.sleep("20 millis")
            }
            return yield* Effect.die(new Error("nothing reached bcoin's mempool"))
          })
          const txOf = (id: string) =>
            Effect.gen(function*() {
              const tip = yield* Effect.orDie(chain.tip)
              for (let h = tip.height; h > tip.height - 5; h--) {
                const block = yield* Effect.orDie(chain.block(h))
                const i = block.transactions.findIndex((tx) => txidToHex(txidOf(tx)) === id)
                if (i >= 0) return block.transactions[i]!
              }
              return yield* Effect.die(new Error(`${id} not mined`))
            })

          // A's wallet is paid from a mined coinbase.
          const address = yield* Effect.orDie(walletA.newAddress())
          const paid = yield* cmd({ cmd: "pay", script: toHex(Result.getOrThrow(scriptFromAddress(Networks.regtest, address))), value: Number(FUNDS) })
          const payTx = decodeTransaction(fromHex(paid.hex ?? ""))
          if (Result.isFailure(payTx)) return yield* Effect.die(new Error("bcoin's transaction does not parse"))
          yield* Effect.orDie(Context.getUnsafe(a, Broadcaster).broadcast(payTx.success))
          yield* awaitMempool
          yield* mine(1)
          assert.deepStrictEqual(yield* walletA.balance, { confirmed: sat(FUNDS), unconfirmed: sat(0n), locked: sat(0n) })

          // A opens a channel to B, funded by its wallet.
          const peersA = Context.get(a, PeerManager)
          const peersB = Context.get(b, PeerManager)
          const channelsA = Context.get(a, ChannelManager)
          const channelsB = Context.get(b, ChannelManager)
          const listenB = peersB.listenAddress
          if (listenB === undefined) return yield* Effect.die(new Error("B does not listen"))
          yield* Effect.orDie(peersA.connect(peersB.nodeId, listenB))
          let temporary: ChannelId | undefined
          for (let i = 0; i < 500 && temporary === undefined; i++) {
            const r = yield* Effect.result(channelsA.openChannel(peersB.nodeId, sat(CAPACITY), {
              pushAmount: msat(0n),
              channelType: { name: "static_remote_key", scidAlias: false, zeroConf: false },
              announce: false
            }))
            if (Result.isSuccess(r)) temporary = r.success
            else yield* Effect.sleep("10 millis")
          }
          if (temporary === undefined) return yield* Effect.die(new Error("open_channel not sent"))
          const funded = yield* Context.getUnsafe(a, WalletFunding).request(temporary)
          const channelId = yield* Effect.orDie(Deferred.await(funded))
          const [fundingId] = yield* awaitMempool
          assert.isTrue((yield* walletA.balance).locked > 0n)
          yield* mine(1)
          const normal = (channels: typeof channelsA) =>
            Effect.gen(function*() {
              for (let i = 0; i < 1000; i++) {
                const info = yield* Effect.result(channels.channel(channelId))
                if (Result.isSuccess(info) && info.success.phase === "Normal") return
                yield* Effect.sleep("20 millis")
              }
              return yield* Effect.die(new Error("the channel did not reach Normal"))
            })
          yield* normal(channelsA)
          yield* normal(channelsB)
          const funding = yield* txOf(fundingId!)
          const fundingFee = FUNDS - sumOut(funding)
          assert.isTrue(funding.outputs.some((o) => o.value === CAPACITY))

          // A pays B over the channel.
          const invoice = yield* Effect.orDie(Context.get(b, Payments).createInvoice({ amountMsat: msat(PAID_MSAT), description: { text: "regtest wallet" } }))
          yield* Effect.orDie(Context.get(a, Payments).pay(invoice.invoice))

          // A closes cooperatively; the closing transaction pays both wallets.
          yield* Effect.orDie(channelsA.closeChannel(channelId, {}))
          const [closingId] = yield* awaitMempool
          yield* mine(1)
          const closing = yield* txOf(closingId!)
          const closingFee = CAPACITY - sumOut(closing)
          assert.isTrue(closingFee > 0n)
          // Each wallet holds exactly its closing output (A also its funding change); the closing
          // fee is paid by one side, all of it (BOLT 2: by the funder with closing_signed, by the
          // side whose closing transaction is mined with closing_complete).
          const paidSat = PAID_MSAT / 1000n
          const balanceB = yield* walletB.balance
          const feeByB = paidSat - balanceB.confirmed
          assert.isTrue(feeByB === 0n || feeByB === closingFee, `B paid ${feeByB} of a ${closingFee} sat closing fee`)
          assert.deepStrictEqual(balanceB, { confirmed: sat(paidSat - feeByB), unconfirmed: sat(0n), locked: sat(0n) })
          assert.deepStrictEqual(yield* walletA.balance, {
            confirmed: sat(FUNDS - fundingFee - paidSat - (closingFee - feeByB)),
            unconfirmed: sat(0n),
            locked: sat(0n)
          })
          for (const u of yield* walletB.utxos) assert.strictEqual(txidToHex(u.outpoint.txid), closingId)

          // A restarts over its data directory: the stored wallet has the same balance, catches up
          // with a block mined while it was down, and hands out a new address.
          const before = yield* walletA.balance
          yield* Scope.close(scopeA, Exit.void)
          yield* cmd({ cmd: "mine", n: 1 })
          const a2 = yield* build(dirs[0]!, 0xa1)
          const walletA2 = Context.getUnsafe(a2, Wallet)
          yield* Effect.orDie(walletA2.awaitHeight((yield* Effect.orDie(chain.tip)).height))
          assert.deepStrictEqual(yield* walletA2.balance, before)
          assert.notStrictEqual(yield* Effect.orDie(walletA2.newAddress()), address)
        }).pipe(Effect.scoped),
      ({ bcoin, dirs }) => Effect.promise(async () => {
        await bcoin.stop()
        for (const d of dirs) await rm(d, { recursive: true, force: true })
      })
    ), 120_000)
})
