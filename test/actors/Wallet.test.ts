/**
 * The wallet on the simulated chain (G's layer): receive, confirm, send with change (balance exact
 * to the fee), reorgs, funding locks, PSBT round trip. Every transaction the wallet makes goes
 * through the simulated mempool (which checks inputs, not scripts), so signatures are checked
 * here: BIP 143 (P2WPKH, ECDSA) and BIP 341 (P2TR key path, Schnorr).
 */
import { assert, describe, it } from "@effect/vitest"
import { Transaction as BtcTransaction } from "@scure/btc-signer"
import { Effect, Layer, Result } from "effect"
import * as secp from "@noble/secp256k1"
import "../../src/protocol/crypto/secp256k1.ts" // sets noble's hashes
import { derToCompact } from "../../src/protocol/tx/bitcoin/der.ts"
import { Networks } from "../../src/protocol/network.ts"
import { compileScript, OP, p2wshScript } from "../../src/protocol/tx/bitcoin/script.ts"
import { serializeTransaction, type Transaction, txid as txidOf, weight } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { type Sat, sat } from "../../src/protocol/units.ts"
import { mnemonicFromEntropy, scriptFromAddress, seedFromMnemonic, WalletKeys } from "../../src/protocol/wallet/keys.ts"
import { layer as simLayer, SimChain } from "../../src/layers/chain/SimulatedChain.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { layer as walletLayer, make as makeWallet, Wallet } from "../../src/actors/Wallet.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"

const network = Networks.regtest
const SEED = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(1)))))
/** Someone else's P2WPKH output script. */
const EXTERNAL = compileScript([OP.OP_0, new Uint8Array(20).fill(0x77)])

const env = Layer.mergeAll(simLayer({ seed: "wallet", feeratePerKw: 1000 }), SeededEntropy.layer("wallet-aux"))

/** The wallet started on the chain, plus a helper mining `n` blocks and waiting for the wallet. */
const setup = Effect.gen(function*() {
  const sim = yield* SimChain
  const wallet = yield* makeWallet({ seed: SEED, network })
  const mine = (n = 1) =>
    Effect.gen(function*() {
      yield* sim.mine(n)
      yield* wallet.awaitHeight(yield* sim.height)
    })
  const receive = (amount: bigint, kind: "p2wpkh" | "p2tr" = "p2wpkh") =>
    Effect.gen(function*() {
      const address = yield* wallet.newAddress(kind)
      const script = Result.getOrThrow(scriptFromAddress(network, address))
      return yield* sim.fund(script, sat(amount))
    })
  return { sim, wallet, mine, receive }
})

const outputsTotal = (tx: Transaction): bigint => tx.outputs.reduce((s, o) => s + o.value, 0n)

/** Checks every input's signature (BIP 143 / BIP 341) against the outputs it spends. */
const verifySignatures = (tx: Transaction, prevouts: ReadonlyArray<{ readonly script: Uint8Array; readonly amount: Sat }>) => {
  const btx = BtcTransaction.fromRaw(serializeTransaction(tx))
  tx.inputs.forEach((input, i) => {
    const prev = prevouts[i]!
    if (prev.script[0] === OP.OP_0) {
      const [der, pubkey] = input.witness
      const code = compileScript([OP.OP_DUP, OP.OP_HASH160, prev.script.subarray(2), OP.OP_EQUALVERIFY, OP.OP_CHECKSIG])
      const hashType = der![der!.length - 1]!
      assert.strictEqual(hashType, 1)
      const digest = btx.preimageWitnessV0(i, code, hashType, prev.amount)
      assert.isTrue(secp.verify(Result.getOrThrow(derToCompact(der!.subarray(0, der!.length - 1))), digest, pubkey!, { prehash: false }), `input ${i} ECDSA`)
    } else {
      const [sig] = input.witness
      assert.strictEqual(sig!.length, 64)
      const digest = btx.preimageWitnessV1(i, prevouts.map((p) => p.script), 0, prevouts.map((p) => p.amount))
      assert.isTrue(secp.schnorr.verify(sig!, digest, prev.script.subarray(2)), `input ${i} Schnorr`)
    }
  })
}

describe("Wallet on the simulated chain", () => {
  it.effect("receives to an address, counts it once confirmed, follows new blocks", () =>
    Effect.gen(function*() {
      const { wallet, mine, receive } = yield* setup
      const a = yield* wallet.newAddress()
      const b = yield* wallet.newAddress()
      assert.notStrictEqual(a, b)
      assert.isTrue(a.startsWith("bcrt1q"))
      yield* receive(1_000_000n)
      yield* receive(250_000n, "p2tr")
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(0n), locked: sat(0n) })
      yield* mine()
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(1_250_000n), unconfirmed: sat(0n), locked: sat(0n) })
      assert.strictEqual((yield* wallet.utxos).length, 2)
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("sends with change: mempool accepts it, signatures verify, balance exact to the fee", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine, receive } = yield* setup
      const big = yield* receive(600_000n)
      const small = yield* receive(300_000n, "p2tr")
      yield* mine()
      const spend = yield* wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(200_000n) })
      assert.isTrue(yield* sim.inMempool(spend.txid))
      // Largest first: one input (the 600k), a payment and a change output.
      assert.strictEqual(spend.tx.inputs.length, 1)
      assert.strictEqual(spend.tx.outputs.length, 2)
      verifySignatures(spend.tx, [{ script: big.tx.outputs[big.outpoint.vout]!.scriptPubKey, amount: sat(600_000n) }])
      const fee = 600_000n - outputsTotal(spend.tx)
      assert.strictEqual(fee, spend.fee)
      // The fee pays at least 1000 sat/kw on the real weight, and overpays by at most a few weight units.
      const w = weight(spend.tx)
      assert.isTrue(fee >= BigInt(Math.ceil(w * 1000 / 1000)))
      assert.isTrue(fee <= BigInt(Math.ceil((w + 4) * 1000 / 1000)))
      const change = outputsTotal(spend.tx) - 200_000n
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(300_000n), unconfirmed: sat(change), locked: sat(0n) })
      yield* mine()
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(900_000n - 200_000n - fee), unconfirmed: sat(0n), locked: sat(0n) })
      // A second send spends the P2TR coin and the change (Schnorr + whatever the change kind is).
      const second = yield* wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(500_000n) })
      assert.isTrue(yield* sim.inMempool(second.txid))
      assert.strictEqual(second.tx.inputs.length, 2)
      const coins = new Map([[small.outpoint.txid, { script: small.tx.outputs[small.outpoint.vout]!.scriptPubKey, amount: sat(300_000n) }], [spend.txid, { script: spend.tx.outputs[1]!.scriptPubKey, amount: sat(change) }]])
      verifySignatures(second.tx, second.tx.inputs.map((i) => coins.get([...coins.keys()].find((k) => k.every((x, j) => x === i.prevout.txid[j]))!)!))
      yield* mine()
      const left = 900_000n - 200_000n - fee - 500_000n - second.fee
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(left), unconfirmed: sat(0n), locked: sat(0n) })
      // Not enough: a typed failure, nothing published.
      const tooMuch = yield* Effect.flip(wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(10_000_000n) }))
      assert.strictEqual(tooMuch._tag, "InsufficientFunds")
      const dust = yield* Effect.flip(wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(100n) }))
      assert.strictEqual(dust._tag, "DustOutput")
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("sweep scripts are fresh and counted once paid", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine } = yield* setup
      const a = yield* wallet.sweepScript()
      const b = yield* wallet.sweepScript("p2wpkh")
      assert.notDeepEqual(a, b)
      yield* sim.fund(a, sat(50_000n))
      yield* sim.fund(b, sat(60_000n))
      yield* mine()
      assert.strictEqual((yield* wallet.balance).confirmed, sat(110_000n))
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("drops change below dust into the fee", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine, receive } = yield* setup
      yield* receive(100_000n)
      yield* mine()
      // 100k minus the payment leaves ~200 sat: below P2TR dust (330), so no change output.
      const spend = yield* wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(99_700n), feeratePerKw: 253 })
      assert.strictEqual(spend.tx.outputs.length, 1)
      assert.strictEqual(spend.fee, sat(300n))
      assert.isTrue(yield* sim.inMempool(spend.txid))
      yield* mine()
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(0n), locked: sat(0n) })
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("a reorg that removes a received transaction removes it from the balance", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine, receive } = yield* setup
      const kept = yield* receive(400_000n)
      yield* mine()
      const lost = yield* receive(700_000n)
      yield* mine()
      assert.strictEqual((yield* wallet.balance).confirmed, sat(1_100_000n))
      yield* sim.reorg(1, { exclude: [txidOf(lost.tx)] })
      yield* wallet.awaitHeight(yield* sim.height)
      assert.strictEqual((yield* wallet.balance).confirmed, sat(400_000n))
      // A deeper reorg: the kept payment is disconnected and mined again in the new branch's
      // first block; the wallet counts it once, at its new height.
      const before = (yield* wallet.utxos)[0]!.height
      yield* sim.reorg(3, { blocks: 4 })
      yield* wallet.awaitHeight(yield* sim.height)
      assert.isUndefined(yield* sim.confirmationHeight(txidOf(lost.tx)))
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(400_000n), unconfirmed: sat(0n), locked: sat(0n) })
      const utxos = yield* wallet.utxos
      assert.strictEqual(utxos.length, 1)
      assert.strictEqual(utxos[0]!.height, yield* sim.confirmationHeight(txidOf(kept.tx)))
      assert.strictEqual(utxos[0]!.height, before) // the new branch's first block is at the same height
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("a reorg that unconfirms our own send makes it pending again", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine, receive } = yield* setup
      yield* receive(500_000n)
      yield* mine()
      const spend = yield* wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(100_000n) })
      yield* mine()
      const after = yield* wallet.balance
      assert.strictEqual(after.unconfirmed, sat(0n))
      yield* sim.reorg(1, { exclude: [spend.txid] })
      yield* wallet.awaitHeight(yield* sim.height)
      const change = outputsTotal(spend.tx) - 100_000n
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(change), locked: sat(0n) })
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("funding: inputs locked until released, then a funding tx the mempool accepts", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine, receive } = yield* setup
      const broadcaster = yield* Broadcaster
      yield* receive(1_000_000n)
      yield* mine()
      const fundingScript = p2wshScript(compileScript([OP.OP_2, new Uint8Array(33).fill(2), new Uint8Array(33).fill(3), OP.OP_2, OP.OP_CHECKMULTISIG]))
      const first = yield* wallet.fundChannel({ scriptPubKey: fundingScript, amount: sat(400_000n) })
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(0n), unconfirmed: sat(0n), locked: sat(1_000_000n) })
      assert.deepStrictEqual(yield* wallet.lockIds, [first.lockId])
      // The locked coin cannot be spent by a send meanwhile.
      assert.strictEqual((yield* Effect.flip(wallet.send({ to: { scriptPubKey: EXTERNAL }, amount: sat(10_000n) })))._tag, "InsufficientFunds")
      // The open failed: released.
      assert.strictEqual(yield* wallet.releaseFunding(first.lockId), 1)
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(1_000_000n), unconfirmed: sat(0n), locked: sat(0n) })
      // The open that works: the channel manager broadcasts it (here: we do), it confirms.
      const funding = yield* wallet.fundChannel({ scriptPubKey: fundingScript, amount: sat(400_000n) })
      assert.isTrue(funding.tx.outputs.some((o) => o.value === 400_000n && o.scriptPubKey.every((x, i) => x === fundingScript[i])))
      yield* broadcaster.broadcast(funding.tx)
      assert.isTrue(yield* sim.inMempool(funding.txid))
      yield* mine()
      const change = outputsTotal(funding.tx) - 400_000n
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(change), unconfirmed: sat(0n), locked: sat(0n) })
      assert.strictEqual(change, 1_000_000n - 400_000n - funding.fee)
      assert.deepStrictEqual(yield* wallet.lockIds, [])
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("PSBT round trip: unsigned out, signed elsewhere, finalized, published", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine, receive } = yield* setup
      yield* receive(800_000n, "p2tr")
      yield* mine()
      const { psbt, lockId, fee } = yield* wallet.createPsbt({ to: { scriptPubKey: EXTERNAL }, amount: sat(300_000n) })
      assert.strictEqual((yield* wallet.balance).locked, sat(800_000n))
      // An unsigned PSBT does not finalize.
      assert.strictEqual((yield* Effect.flip(wallet.publishPsbt(psbt)))._tag, "InvalidPsbt")
      // "Elsewhere": a signer holding the same seed, reading the key origins from the PSBT.
      const signer = BtcTransaction.fromPSBT(psbt)
      const keys = WalletKeys.fromSeed(SEED, network)
      for (let i = 0; i < signer.inputsLength; i++) {
        const input = signer.getInput(i)
        const der = input.tapBip32Derivation?.[0]?.[1].der
        assert.isDefined(der)
        assert.strictEqual(der!.fingerprint, keys.fingerprint)
        const path = der!.path
        const key = keys.derive({ kind: "p2tr", chain: path[3] === 1 ? 1 : 0, index: path[4]! })
        signer.signIdx(key.privateKey, i, undefined, new Uint8Array(32))
      }
      const spend = yield* wallet.publishPsbt(signer.toPSBT())
      assert.strictEqual(spend.fee, fee)
      assert.isTrue(yield* sim.inMempool(spend.txid))
      // The same PSBT again: its inputs are spent by the pending send now.
      const again = yield* Effect.flip(wallet.publishPsbt(signer.toPSBT()))
      assert.strictEqual(again._tag, "PsbtNotOurs")
      if (again._tag === "PsbtNotOurs") assert.match(again.reason, /^input [0-9a-f]{64}:\d+ is already spent$/)
      assert.deepStrictEqual(yield* wallet.lockIds, [])
      assert.isFalse(lockId === "")
      yield* mine()
      assert.deepStrictEqual(yield* wallet.balance, { confirmed: sat(800_000n - 300_000n - fee), unconfirmed: sat(0n), locked: sat(0n) })
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("publishPsbt refuses a PSBT spending outputs that are not the wallet's", () =>
    Effect.gen(function*() {
      const { sim, wallet, mine } = yield* setup
      const otherSeed = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(2)))))
      const other = yield* makeWallet({ seed: otherSeed, network })
      const address = yield* other.newAddress()
      yield* sim.fund(Result.getOrThrow(scriptFromAddress(network, address)), sat(100_000n))
      yield* mine()
      yield* other.awaitHeight(yield* sim.height)
      const { psbt } = yield* other.createPsbt({ to: { scriptPubKey: EXTERNAL }, amount: sat(50_000n) })
      const signer = BtcTransaction.fromPSBT(psbt)
      const key = WalletKeys.fromSeed(otherSeed, network).derive({ kind: "p2wpkh", chain: 0, index: 0 })
      signer.signIdx(key.privateKey, 0)
      const refused = yield* Effect.flip(wallet.publishPsbt(signer.toPSBT()))
      assert.strictEqual(refused._tag, "PsbtNotOurs")
      if (refused._tag === "PsbtNotOurs") assert.match(refused.reason, /^input [0-9a-f]{64}:\d+ is not a wallet output$/)
      assert.strictEqual(sim.core.mempoolTxids().length, 0)
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.effect("as a layer: the Wallet service follows the chain while the layer lives", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const wallet = yield* Wallet
      const address = yield* wallet.newAddress("p2tr")
      yield* sim.fund(Result.getOrThrow(scriptFromAddress(network, address)), sat(123_456n))
      yield* sim.mine(2)
      yield* wallet.awaitHeight(yield* sim.height)
      assert.strictEqual((yield* wallet.balance).confirmed, sat(123_456n))
    }).pipe(Effect.provide(walletLayer({ seed: SEED, network }).pipe(Layer.provideMerge(env)))))
})
