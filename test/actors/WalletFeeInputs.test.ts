/**
 * The wallet as the monitor's `FeeInputs` (issue 9, anchors: "HTLC transactions aggregated with
 * wallet inputs for fees"): a zero-fee transaction signed SIGHASH_SINGLE|ANYONECANPAY, like an
 * anchors channel's HTLC transaction, gets a wallet P2WPKH input and a change output; every
 * input verifies in bitcore's interpreter; the fee pays the feerate on the final weight plus the
 * extra asked; the simulated mempool accepts it; a replacement at a higher feerate reuses the
 * same wallet coin; the coin is locked meanwhile, and the change is the wallet's once mined.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Redacted, Result } from "effect"
import { FEE_LOCK_BLOCKS, make as makeWallet } from "../../src/actors/Wallet.ts"
import { feeInputs } from "../../src/actors/WalletFunding.ts"
import { layer as simLayer, SimChain } from "../../src/layers/chain/SimulatedChain.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { nobleSecp256k1 as secp } from "../../src/protocol/crypto/secp256k1.ts"
import { Networks } from "../../src/protocol/network.ts"
import { encodeTxSignature } from "../../src/protocol/tx/bitcoin/der.ts"
import { p2wpkhScript, p2wpkhScriptCode } from "../../src/protocol/tx/bitcoin/script.ts"
import { SIGHASH_SINGLE_ANYONECANPAY } from "../../src/protocol/tx/bitcoin/sighash.ts"
import { makeInput, serializeTransaction, setWitness, type Transaction, txid as txidOf, weight } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { signInput } from "../../src/protocol/tx/signing.ts"
import { sat } from "../../src/protocol/units.ts"
import { mnemonicFromEntropy, scriptFromAddress, seedFromMnemonic } from "../../src/protocol/wallet/keys.ts"
import { verifyTx } from "../interpreter/bitcore.ts"

const network = Networks.regtest
const SEED = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(7)))))
const env = Layer.mergeAll(simLayer({ seed: "wallet-fee-inputs", feeratePerKw: 1000 }), SeededEntropy.layer("wallet-fee-inputs"))

/** A key outside the wallet (the channel's HTLC key, in spirit). */
const secret = sha256(new TextEncoder().encode("fee-inputs/htlc-key"))
const pubkey = secp.publicKey(secret)!
const script = p2wpkhScript(pubkey)

/** Signs input 0 SINGLE|ANYONECANPAY: the signature stays valid when inputs and outputs are added. */
const signOwn = (tx: Transaction, amount: bigint): Transaction => {
  const sig = signInput(secp, { tx, index: 0, scriptCode: p2wpkhScriptCode(pubkey), amount: sat(amount) }, SIGHASH_SINGLE_ANYONECANPAY, Redacted.make(secret))
  return setWitness(tx, 0, [encodeTxSignature(sig, SIGHASH_SINGLE_ANYONECANPAY), pubkey])
}

describe("Wallet FeeInputs", () => {
  it.effect("pays a zero-fee SINGLE|ANYONECANPAY transaction's fee, and a replacement reuses the coin", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const wallet = yield* makeWallet({ seed: SEED, network })
      const inputs = feeInputs(wallet)
      // The wallet: one P2WPKH coin and one P2TR coin (only P2WPKH coins pay fees of foreign transactions).
      yield* sim.fund(Result.getOrThrow(scriptFromAddress(network, yield* wallet.newAddress("p2wpkh"))), sat(80_000n))
      yield* sim.fund(Result.getOrThrow(scriptFromAddress(network, yield* wallet.newAddress("p2tr"))), sat(500_000n))
      const foreign = yield* sim.fund(script, sat(50_000n))
      yield* sim.mine(1)
      yield* wallet.awaitHeight(yield* sim.height)

      // Zero fee: 50,000 in, 50,000 out.
      const zeroFee: Transaction = {
        version: 2,
        inputs: [makeInput(foreign.outpoint, 0xfffffffd)],
        outputs: [{ value: sat(50_000n), scriptPubKey: p2wpkhScript(secp.publicKey(sha256(new TextEncoder().encode("elsewhere")))!) }],
        locktime: 0
      }
      const own = signOwn(zeroFee, 50_000n)
      const funded = yield* inputs.fund(own, 2000, 150n)
      assert.isDefined(funded)
      const tx = yield* funded!.sign(funded!.tx)
      assert.strictEqual(tx.inputs.length, 2)
      assert.strictEqual(tx.outputs.length, 2)
      const verdict = verifyTx(serializeTransaction(tx), [{ script, value: 50_000n }, { script: (yield* wallet.utxos).find((u) => u.value === 80_000n)!.key.scriptPubKey, value: 80_000n }])
      assert.isTrue(verdict.ok, verdict.error)
      const fee = 50_000n + 80_000n - tx.outputs.reduce((s, o) => s + o.value, 0n)
      // At least 2000 sat/kw on the real weight plus the extra 150, overpaying by a few weight units at most.
      assert.isTrue(fee >= BigInt(Math.ceil((2000 * weight(tx)) / 1000)) + 150n, `fee ${fee}`)
      assert.isTrue(fee <= BigInt(Math.ceil((2000 * (weight(tx) + 8)) / 1000)) + 150n, `fee ${fee}`)
      assert.strictEqual((yield* wallet.balance).locked, sat(80_000n))

      // A replacement at a higher feerate: the same wallet coin (so the two conflict), more fee.
      const bumped = yield* inputs.fund(own, 5000)
      assert.isDefined(bumped)
      const tx2 = yield* bumped!.sign(bumped!.tx)
      assert.deepStrictEqual(tx2.inputs.map((i) => i.prevout), tx.inputs.map((i) => i.prevout))
      assert.isTrue(tx2.outputs[1]!.value < tx.outputs[1]!.value)
      yield* sim.mine(1, { txs: [tx2] })
      yield* wallet.awaitHeight(yield* sim.height)
      // Mined: the coin is spent, the change is the wallet's; the P2TR coin was never touched.
      const b = yield* wallet.balance
      assert.strictEqual(b.locked, sat(0n))
      assert.strictEqual(b.confirmed, sat(500_000n + tx2.outputs[1]!.value))
      assert.isDefined(yield* sim.confirmationHeight(txidOf(tx2)))

      // No P2WPKH coin left: nothing to pay with.
      const again = yield* sim.fund(script, sat(40_000n))
      yield* sim.mine(1)
      yield* wallet.awaitHeight(yield* sim.height)
      const lonely: Transaction = { ...zeroFee, inputs: [makeInput(again.outpoint, 0xfffffffd)], outputs: [{ value: sat(40_000n), scriptPubKey: zeroFee.outputs[0]!.scriptPubKey }] }
      // The change of the first bump is P2WPKH: it pays this one; after that, none is left.
      assert.isDefined(yield* inputs.fund(signOwn(lonely, 40_000n), 1000))
      const third = yield* sim.fund(script, sat(30_000n))
      yield* sim.mine(1)
      yield* wallet.awaitHeight(yield* sim.height)
      const none: Transaction = { ...zeroFee, inputs: [makeInput(third.outpoint, 0xfffffffd)], outputs: [{ value: sat(30_000n), scriptPubKey: zeroFee.outputs[0]!.scriptPubKey }] }
      assert.isUndefined(yield* inputs.fund(signOwn(none, 30_000n), 1000))

      // The `lonely` bump was never broadcast: its coin stays locked for FEE_LOCK_BLOCKS blocks
      // after the bump, then is released (and pays for `none`).
      assert.isTrue((yield* wallet.balance).locked > 0n)
      yield* sim.mine(FEE_LOCK_BLOCKS - 2)
      yield* wallet.awaitHeight(yield* sim.height)
      assert.isTrue((yield* wallet.balance).locked > 0n)
      yield* sim.mine(1)
      yield* wallet.awaitHeight(yield* sim.height)
      assert.strictEqual((yield* wallet.balance).locked, sat(0n))
      assert.isDefined(yield* inputs.fund(signOwn(none, 30_000n), 1000))
    }).pipe(Effect.scoped, Effect.provide(env)))
})
