/**
 * The wallet over a `Store` (issue 9, "wallet persistence"): restarts keep addresses handed out,
 * outputs, locks and unconfirmed sends; a restarted wallet catches up with blocks it missed,
 * including a reorg that happened while it was stopped; a crash between writes (a write that
 * failed, then a restart) never hands out an address twice and loses no coin.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { makePersistent, WALLET_STORE_KEY } from "../../src/actors/Wallet.ts"
import { layer as simLayer, SimChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../src/layers/store/MemoryStore.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { Networks } from "../../src/protocol/network.ts"
import { compileScript, OP, p2wshScript } from "../../src/protocol/tx/bitcoin/script.ts"
import { txid as txidOf } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../src/protocol/units.ts"
import { mnemonicFromEntropy, scriptFromAddress, seedFromMnemonic, WalletKeys } from "../../src/protocol/wallet/keys.ts"
import { Store } from "../../src/services/Store.ts"

const network = Networks.regtest
const SEED = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(2)))))
const OTHER_SEED = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(3)))))
const EXTERNAL = compileScript([OP.OP_0, new Uint8Array(20).fill(0x77)])

const env = Layer.mergeAll(simLayer({ seed: "wallet-persist", feeratePerKw: 1000 }), SeededEntropy.layer("wallet-persist-aux"))

/** One life of the wallet over `data`: `body` runs with it, then the wallet stops (its scope closes). */
const life = <A, E, R>(data: MemoryStoreData, body: (w: Effect.Success<ReturnType<typeof start>>) => Effect.Effect<A, E, R>, seed = SEED) =>
  Effect.scoped(Effect.flatMap(start(data, seed), body))

const start = (data: MemoryStoreData, seed: Uint8Array) =>
  Effect.gen(function*() {
    const sim = yield* SimChain
    const { store, control } = makeMemoryStore(data)
    const wallet = yield* makePersistent({ seed, network }).pipe(Effect.provideService(Store, store))
    yield* wallet.awaitHeight(yield* sim.height)
    const mine = (n = 1) =>
      Effect.gen(function*() {
        yield* sim.mine(n)
        yield* wallet.awaitHeight(yield* sim.height)
      })
    const receive = (amount: bigint) =>
      Effect.gen(function*() {
        const script = Result.getOrThrow(scriptFromAddress(network, yield* wallet.newAddress()))
        return yield* sim.fund(script, sat(amount))
      })
    return { sim, wallet, control, mine, receive }
  })

describe("Wallet persistence", () => {
  it.effect("a restart keeps outputs, tip, locks and unconfirmed sends, and never hands out an address twice", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const handedOut = new Set<string>()
      const first = yield* life(data, ({ wallet, mine, receive }) =>
        Effect.gen(function*() {
          yield* receive(500_000n)
          yield* receive(300_000n)
          yield* mine()
          for (let i = 0; i < 3; i++) handedOut.add(yield* wallet.newAddress())
          handedOut.add(yield* wallet.newAddress("p2tr"))
          const funding = yield* wallet.fundChannel({ scriptPubKey: p2wshScript(new Uint8Array(10).fill(1)), amount: sat(200_000n) })
          const spend = yield* wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(100_000n) })
          return { funding, spend, balance: yield* wallet.balance, tip: yield* wallet.tip }
        }))
      // Locked: the 500k input of the funding; the 300k paid the send (change unconfirmed).
      assert.strictEqual(first.balance.locked, sat(500_000n))
      assert.isTrue(first.balance.unconfirmed > 0n)
      yield* life(data, ({ sim, wallet, mine }) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* wallet.balance, first.balance)
          assert.deepStrictEqual(yield* wallet.lockIds, [first.funding.lockId])
          assert.strictEqual((yield* wallet.tip)?.height, first.tip?.height)
          for (let i = 0; i < 3; i++) {
            const a = yield* wallet.newAddress()
            assert.isFalse(handedOut.has(a), `address ${a} handed out twice`)
            handedOut.add(a)
          }
          assert.isFalse(handedOut.has(yield* wallet.newAddress("p2tr")))
          // The send is still ours: mined, its change becomes confirmed.
          assert.isTrue(yield* sim.inMempool(first.spend.txid))
          yield* mine()
          const b = yield* wallet.balance
          assert.strictEqual(b.unconfirmed, sat(0n))
          assert.strictEqual(b.confirmed, sat(300_000n - 100_000n - first.spend.fee))
          // The open failed after the restart: the lock is released, and that survives another restart.
          assert.strictEqual(yield* wallet.releaseFunding(first.funding.lockId), 1)
        }))
      yield* life(data, ({ wallet }) =>
        Effect.gen(function*() {
          const b = yield* wallet.balance
          assert.strictEqual(b.locked, sat(0n))
          assert.strictEqual(b.confirmed, sat(500_000n + 300_000n - 100_000n - first.spend.fee))
        }))
    }).pipe(Effect.provide(env)))

  it.effect("a restarted wallet catches up with blocks mined and a reorg that happened while it was stopped", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const lost = yield* life(data, ({ mine, receive }) =>
        Effect.gen(function*() {
          yield* receive(400_000n)
          yield* mine()
          const lost = yield* receive(250_000n)
          yield* mine()
          return lost
        }))
      const sim = yield* SimChain
      // While stopped: the block with the 250k payment is replaced, the payment left out, and a
      // payment to an address handed out before the stop arrives.
      yield* sim.reorg(1, { exclude: [txidOf(lost.tx)], blocks: 3, includeMempool: false })
      const stored = yield* life(data, ({ wallet }) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(400_000n), unconfirmed: sat(0n), locked: sat(0n) })
          return yield* wallet.newAddress()
        }))
      const paid = yield* sim.fund(Result.getOrThrow(scriptFromAddress(network, stored)), sat(70_000n))
      yield* sim.mine(2, { txs: [paid.tx] })
      yield* life(data, ({ wallet }) =>
        Effect.gen(function*() {
          assert.strictEqual((yield* wallet.tip)?.height, yield* sim.height)
          assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(470_000n), unconfirmed: sat(0n), locked: sat(0n) })
        }))
    }).pipe(Effect.provide(env)))

  it.effect("a crash between writes: a failed write hands nothing out, a restart loses no coin", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const handedOut = new Set<string>()
      yield* life(data, ({ wallet, control, mine, receive }) =>
        Effect.gen(function*() {
          yield* receive(600_000n)
          yield* mine()
          handedOut.add(yield* wallet.newAddress())
          // The index could not be written: no address is handed out.
          yield* control.failNextWrites(1)
          const failed = yield* Effect.flip(wallet.newAddress())
          assert.strictEqual(failed._tag, "WalletPersistFailed")
          // A block paying us whose write fails: the stored state stays at the block before.
          const paid = yield* receive(90_000n)
          yield* control.failNextWrites(1)
          yield* mine()
          assert.strictEqual((yield* wallet.balance).confirmed, sat(690_000n))
          // A funding whose lock cannot be written is not handed out (and nothing stays locked).
          yield* control.failNextWrites(1)
          const funding = yield* Effect.flip(wallet.fundChannel({ scriptPubKey: p2wshScript(new Uint8Array(10).fill(2)), amount: sat(100_000n) }))
          assert.strictEqual(funding._tag, "WalletPersistFailed")
          assert.deepStrictEqual(yield* wallet.lockIds, [])
          // A send whose write fails is not broadcast.
          yield* control.failNextWrites(1)
          const send = yield* Effect.flip(wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(50_000n) }))
          assert.strictEqual(send._tag, "WalletPersistFailed")
          return paid
        }))
      // "Crash" here: the stored state is the one before the failed block write.
      yield* life(data, ({ sim, wallet, mine }) =>
        Effect.gen(function*() {
          assert.strictEqual((yield* wallet.tip)?.height, yield* sim.height)
          assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(690_000n), unconfirmed: sat(0n), locked: sat(0n) })
          for (let i = 0; i < 25; i++) {
            const a = yield* wallet.newAddress()
            assert.isFalse(handedOut.has(a), `address ${a} handed out twice`)
            handedOut.add(a)
          }
          assert.strictEqual(sim.core.mempoolTxids().length, 0)
          yield* mine()
        }))
    }).pipe(Effect.provide(env)))

  it.effect("a coinbase paying the wallet is spendable only at 100 confirmations, also after a restart", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      const value = yield* life(data, ({ sim, wallet }) =>
        Effect.gen(function*() {
          const script = Result.getOrThrow(scriptFromAddress(network, yield* wallet.newAddress()))
          const [block] = yield* sim.mine(1, { coinbaseScript: script })
          yield* wallet.awaitHeight(yield* sim.height)
          const value = block!.transactions[0]!.outputs.find((o) => o.scriptPubKey.length === script.length && o.scriptPubKey.every((x, i) => x === script[i]))!.value
          assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(value), locked: sat(0n) })
          return value
        }))
      yield* life(data, ({ wallet, mine }) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(value), locked: sat(0n) })
          yield* mine(97)
          const early = yield* Effect.flip(wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(10_000n) }))
          assert.strictEqual(early._tag, "InsufficientFunds")
          // 100 confirmations (99 blocks on top): a spend can enter the next block.
          yield* mine(2)
          assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(value), unconfirmed: sat(0n), locked: sat(0n) })
          const spend = yield* wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(10_000n) })
          yield* mine(1)
          assert.strictEqual((yield* wallet.balance).confirmed, sat(value - 10_000n - spend.fee))
        }))
    }).pipe(Effect.provide(env)))

  it.effect("a stored wallet of another seed is refused at start", () =>
    Effect.gen(function*() {
      const data = makeMemoryStoreData()
      yield* life(data, ({ wallet }) => wallet.newAddress())
      const { store } = makeMemoryStore(data)
      assert.isDefined(yield* store.get(WALLET_STORE_KEY))
      const refused = yield* Effect.flip(Effect.scoped(makePersistent({ seed: OTHER_SEED, network }).pipe(Effect.provideService(Store, store))))
      assert.strictEqual(refused._tag, "WalletSnapshotInvalid")
    }).pipe(Effect.provide(env)))

  it.effect("a restored seed with a birth height finds its old coins; without one it starts at the tip; a stored wallet ignores it", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      // The seed was used before: its 3rd receive address (within the gap) was paid at a height
      // we note, then the chain went on.
      const keys = WalletKeys.fromSeed(SEED, network)
      yield* sim.mine(2)
      const birth = (yield* sim.height) + 1
      yield* sim.fund(keys.derive({ kind: "p2wpkh", chain: 0, index: 2 }).scriptPubKey, sat(70_000n))
      yield* sim.mine(5)
      yield* sim.fund(keys.derive({ kind: "p2wpkh", chain: 1, index: 0 }).scriptPubKey, sat(20_000n))
      yield* sim.mine(3)
      const tip = yield* sim.height
      const open = (config: { readonly birthHeight?: number }, data: MemoryStoreData) =>
        Effect.gen(function*() {
          const wallet = yield* makePersistent({ seed: SEED, network, ...config }).pipe(Effect.provideService(Store, makeMemoryStore(data).store))
          yield* wallet.awaitHeight(tip)
          return yield* wallet.balance
        }).pipe(Effect.scoped)
      // Without a birth height: nothing before the tip is seen.
      assert.strictEqual((yield* open({}, makeMemoryStoreData())).confirmed, sat(0n))
      // From the birth height: both payments (receive and change chains).
      const restored = makeMemoryStoreData()
      assert.strictEqual((yield* open({ birthHeight: birth }, restored)).confirmed, sat(90_000n))
      // One block too late: the first payment is missed.
      assert.strictEqual((yield* open({ birthHeight: birth + 1 }, makeMemoryStoreData())).confirmed, sat(20_000n))
      // Above the tip: the tip.
      assert.strictEqual((yield* open({ birthHeight: tip + 100 }, makeMemoryStoreData())).confirmed, sat(0n))
      // Stored already: the stored state wins (no rescan, nothing counted twice or lost).
      assert.strictEqual((yield* open({ birthHeight: 1 }, restored)).confirmed, sat(90_000n))
      assert.strictEqual((yield* open({}, restored)).confirmed, sat(90_000n))
    }).pipe(Effect.provide(env)))
})
