import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { blockHashToHex } from "../../../src/protocol/chain/block.ts"
import { compileScript, OP } from "../../../src/protocol/tx/bitcoin/script.ts"
import { type OutPoint, serializeTransaction, type Transaction, txid as txidOf } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../../src/protocol/units.ts"
import { FAUCET_SCRIPT, layer, SimChain } from "../../../src/layers/chain/SimulatedChain.ts"
import { SimChainCore } from "../../../src/layers/chain/sim/core.ts"
import { Broadcaster } from "../../../src/services/Broadcaster.ts"
import { ChainSource } from "../../../src/services/ChainSource.ts"
import { FEERATE_FLOOR_PER_KW, FeeEstimator } from "../../../src/services/FeeEstimator.ts"

const SCRIPT_A = compileScript([OP.OP_0, new Uint8Array(20).fill(0xaa)])
const SCRIPT_B = compileScript([OP.OP_0, new Uint8Array(20).fill(0xbb)])

/** A transaction spending `inputs` (scripts are not checked by the simulated chain). */
const spend = (
  inputs: ReadonlyArray<OutPoint>,
  outputs: ReadonlyArray<readonly [Uint8Array, bigint]>,
  extra: { readonly version?: number; readonly sequence?: number; readonly locktime?: number } = {}
): Transaction => ({
  version: extra.version ?? 2,
  inputs: inputs.map((prevout) => ({ prevout, scriptSig: new Uint8Array(0), sequence: extra.sequence ?? 0xfffffffd, witness: [] })),
  outputs: outputs.map(([scriptPubKey, value]) => ({ scriptPubKey, value: sat(value) })),
  locktime: extra.locktime ?? 0
})

const broadcastReason = (tx: Transaction) =>
  Effect.gen(function*() {
    const b = yield* Broadcaster
    const r = yield* Effect.result(b.broadcast(tx))
    return r._tag === "Success" ? "Accepted" : r.failure._tag === "BroadcastRejected" ? r.failure.reason : "Unavailable"
  })

describe("simulated chain", () => {
  it.effect("is deterministic from its seed", () =>
    Effect.gen(function*() {
      const run = (seed: string) =>
        Effect.gen(function*() {
          const sim = yield* SimChain
          const source = yield* ChainSource
          const { outpoint } = yield* sim.fund(SCRIPT_A, sat(100_000n))
          yield* sim.mine(3)
          yield* sim.reorg(2)
          const tip = yield* source.tip
          return `${tip.height}:${blockHashToHex(tip.hash)}:${toHex(outpoint.txid)}`
        }).pipe(Effect.provide(layer({ seed })))
      const a = yield* run("seed-1")
      const b = yield* run("seed-1")
      const c = yield* run("seed-2")
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
      // 1 genesis + 101 initial + 3 mined, then 2 replaced by 3: height 105.
      assert.isTrue(a.startsWith("105:"))
    }))

  it.effect("mines the mempool on demand, and followers see every block in order", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const source = yield* ChainSource
      const start = yield* source.tip
      const fiber = yield* source.follow(start).pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
      const { tx } = yield* sim.fund(SCRIPT_A, sat(50_000n))
      const id = txidOf(tx)
      assert.isTrue(yield* sim.inMempool(id))
      yield* sim.mine(3)
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(events.map((e) => e._tag === "BlockConnected" ? e.block.header.height : -1), [start.height + 1, start.height + 2, start.height + 3])
      const first = events[0]
      assert.isTrue(first?._tag === "BlockConnected" && first.block.txids.some((t) => toHex(t) === toHex(id)))
      assert.strictEqual(yield* sim.confirmationHeight(id), start.height + 1)
      assert.isFalse(yield* sim.inMempool(id))
      const block = yield* source.block(start.height + 1)
      assert.strictEqual(blockHashToHex(block.header.hash), blockHashToHex((yield* source.header(start.height + 1)).hash))
    }).pipe(Effect.provide(layer({ seed: "follow" }))))

  it.effect("mempool: inputs must exist and be unspent; replacements must pay more (BIP 125 fees)", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const { outpoint } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      assert.strictEqual(yield* broadcastReason(spend([{ txid: txidOf(spend([outpoint], [[SCRIPT_B, 1n]])), vout: 5 }], [[SCRIPT_B, 1000n]])), "MissingInputs")
      assert.strictEqual(yield* broadcastReason(spend([outpoint], [[SCRIPT_B, 100_001n]])), "Invalid") // outputs above inputs
      assert.strictEqual(yield* broadcastReason(spend([outpoint], [[SCRIPT_B, 99_990n]])), "FeeTooLow") // 10 sat for ~400 wu
      assert.strictEqual(yield* broadcastReason(spend([outpoint, outpoint], [[SCRIPT_B, 90_000n]])), "Invalid") // duplicate input
      const first = spend([outpoint], [[SCRIPT_B, 99_000n]])
      assert.strictEqual(yield* broadcastReason(first), "Accepted")
      assert.strictEqual(yield* broadcastReason(first), "Accepted") // idempotent
      // A conflict paying the same is refused; one paying more replaces it.
      assert.strictEqual(yield* broadcastReason(spend([outpoint], [[SCRIPT_A, 99_000n]])), "InputsSpent")
      const replacement = spend([outpoint], [[SCRIPT_A, 98_000n]])
      assert.strictEqual(yield* broadcastReason(replacement), "Accepted")
      assert.isFalse(yield* sim.inMempool(txidOf(first)))
      yield* sim.mine()
      // Spent in the chain now: a later spend has no input.
      assert.strictEqual(yield* broadcastReason(spend([outpoint], [[SCRIPT_B, 90_000n]])), "MissingInputs")
      assert.strictEqual(yield* broadcastReason(replacement), "Accepted") // already confirmed counts as published
      const source = yield* ChainSource
      assert.strictEqual((yield* source.outputStatus(outpoint))._tag, "SpentOrUnknown")
      const paid = yield* source.outputStatus({ txid: txidOf(replacement), vout: 0 })
      assert.isTrue(paid._tag === "Unspent" && paid.confirmedAt === (yield* sim.height) && paid.value === 98_000n)
    }).pipe(Effect.provide(layer({ seed: "mempool" }))))

  it.effect("coinbase outputs mature after 100 blocks", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const [block] = yield* sim.mine(1, { coinbaseScript: SCRIPT_A })
      assert.isDefined(block)
      const coinbaseOut = { txid: block!.txids[0]!, vout: 0 }
      const tx = spend([coinbaseOut], [[SCRIPT_B, 49n * 100_000_000n]])
      assert.strictEqual(yield* broadcastReason(tx), "ImmatureCoinbase")
      yield* sim.mine(98) // the next block is 99 above: still immature
      assert.strictEqual(yield* broadcastReason(tx), "ImmatureCoinbase")
      yield* sim.mine(1)
      assert.strictEqual(yield* broadcastReason(tx), "Accepted")
    }).pipe(Effect.provide(layer({ seed: "maturity" }))))

  it.effect("absolute locks: nLockTime by height and by median time past (BIP 65/113)", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const source = yield* ChainSource
      const { outpoint } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      const h = (yield* source.tip).height
      const byHeight = spend([outpoint], [[SCRIPT_B, 90_000n]], { locktime: h + 2 })
      assert.strictEqual(yield* broadcastReason(byHeight), "NonFinal") // the next block is h + 1
      // Every input final disables the lock.
      assert.strictEqual(yield* broadcastReason(spend([outpoint], [[SCRIPT_B, 90_000n]], { locktime: h + 2, sequence: 0xffffffff })), "Accepted")
      const { outpoint: other } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      const mtp = sim.core.tipMtp
      const byTime = spend([other], [[SCRIPT_B, 90_000n]], { locktime: mtp + 3000 })
      assert.strictEqual(yield* broadcastReason(byTime), "NonFinal")
      yield* sim.mine(5) // the median of the last 11 blocks moves 600 s a block
      assert.strictEqual(yield* broadcastReason(byTime), "NonFinal")
      yield* sim.mine(1)
      assert.strictEqual(yield* broadcastReason(byTime), "Accepted")
    }).pipe(Effect.provide(layer({ seed: "cltv" }))))

  it.effect("relative locks: nSequence in blocks and in time (BIP 68), only for version 2", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const { outpoint } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine() // confirmed at h
      const csv = spend([outpoint], [[SCRIPT_B, 90_000n]], { sequence: 5 })
      assert.strictEqual(yield* broadcastReason(csv), "NonBip68Final")
      yield* sim.mine(3) // the next block is h + 4: a 5-block lock needs h + 5
      assert.strictEqual(yield* broadcastReason(csv), "NonBip68Final")
      yield* sim.mine(1)
      assert.strictEqual(yield* broadcastReason(csv), "Accepted")
      // Version 1: no relative locks.
      const { outpoint: v1 } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      assert.strictEqual(yield* broadcastReason(spend([v1], [[SCRIPT_B, 90_000n]], { sequence: 5, version: 1 })), "Accepted")
      // Time-based: 2 units of 512 s after the median time past before the coin's block.
      const { outpoint: other } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      const timed = spend([other], [[SCRIPT_B, 90_000n]], { sequence: 0x00400000 | 2 })
      assert.strictEqual(yield* broadcastReason(timed), "NonBip68Final") // 600 s passed, 1024 needed
      yield* sim.mine(1)
      assert.strictEqual(yield* broadcastReason(timed), "Accepted")
      // A disabled lock is no lock.
      const { outpoint: third } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      assert.strictEqual(yield* broadcastReason(spend([third], [[SCRIPT_B, 90_000n]], { sequence: 0x80000000 | 100 })), "Accepted")
    }).pipe(Effect.provide(layer({ seed: "csv" }))))

  it.effect("reorgs of any depth: events, UTXOs, the mempool, and catching up from a stale block", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const source = yield* ChainSource
      const { tx: funding, outpoint } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      const [confirmedIn] = yield* sim.mine(1)
      yield* sim.mine(9)
      const before = yield* source.tip
      const staleRef = { height: confirmedIn!.header.height, hash: confirmedIn!.header.hash }
      const fiber = yield* source.follow(before).pipe(Stream.take(10 + 11), Stream.runCollect, Effect.forkChild)
      // Remove the funding transaction: 10 blocks replaced by 11 without it.
      yield* sim.reorg(10, { exclude: [txidOf(funding)] })
      const events = yield* Fiber.join(fiber)
      const tags = events.map((e) => e._tag === "BlockConnected" ? `+${e.block.header.height}` : `-${e.header.height}`)
      const expected = [
        ...Array.from({ length: 10 }, (_, i) => `-${before.height - i}`),
        ...Array.from({ length: 11 }, (_, i) => `+${before.height - 9 + i}`)
      ]
      assert.deepStrictEqual(tags, expected)
      assert.isUndefined(yield* sim.confirmationHeight(txidOf(funding)))
      assert.isFalse(yield* sim.inMempool(txidOf(funding)))
      assert.strictEqual((yield* source.outputStatus(outpoint))._tag, "SpentOrUnknown")
      // A follower that last saw the stale block: disconnect to the fork, then the new branch.
      const caught = yield* source.follow(staleRef).pipe(Stream.take(1 + 11), Stream.runCollect)
      assert.strictEqual(caught[0]?._tag, "BlockDisconnected")
      assert.isTrue(caught.slice(1).every((e) => e._tag === "BlockConnected"))
      // Without `exclude`, a reorged-out transaction returns to the mempool and the new branch confirms it again.
      const { tx: again } = yield* sim.fund(SCRIPT_B, sat(10_000n))
      yield* sim.mine(1)
      const at = yield* sim.confirmationHeight(txidOf(again))
      yield* sim.reorg(1, { blocks: 1, includeMempool: false })
      assert.isTrue(yield* sim.inMempool(txidOf(again)))
      yield* sim.mine(1)
      assert.strictEqual(yield* sim.confirmationHeight(txidOf(again)), (at ?? 0) + 1)
    }).pipe(Effect.provide(layer({ seed: "reorg" }))))

  it("a reorg's later blocks keep its options but not its txs (they include the mempool again by default)", () => {
    const core = new SimChainCore({ seed: "reorg-options" })
    const { tx: first } = core.fund(SCRIPT_A, sat(10_000n))
    const { tx: second } = core.fund(SCRIPT_B, sat(20_000n))
    const mined = core.reorg(0, { blocks: 2, txs: [first], coinbaseScript: SCRIPT_B })
    const ids = mined.map((b) => b.txids.slice(1).map(toHex))
    assert.deepStrictEqual(ids, [[toHex(txidOf(first))], [toHex(txidOf(second))]])
    assert.isTrue(mined.every((b) => toHex(b.transactions[0]?.outputs[0]?.scriptPubKey ?? new Uint8Array(0)) === toHex(SCRIPT_B)))
  })

  it.effect("a reorg is one step for followers: what a follower does on its events is not mined into the reorg's own branch", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const source = yield* ChainSource
      const broadcaster = yield* Broadcaster
      const { tx: funding } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine(1)
      const seen: Array<string> = []
      // A follower that broadcasts the transaction again as soon as it sees a block go (as a monitor would).
      yield* source.follow(yield* source.tip).pipe(
        Stream.runForEach((e) =>
          Effect.suspend(() => {
            seen.push(e._tag === "BlockConnected" ? `+${e.block.header.height}` : `-${e.header.height}`)
            return e._tag === "BlockDisconnected" ? Effect.ignore(broadcaster.broadcast(funding)) : Effect.void
          })
        ),
        Effect.forkChild
      )
      // The follower is waiting for the next event.
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      const height = yield* sim.height
      // The branch (two blocks, mined by others) leaves the transaction out.
      yield* sim.reorg(1, { blocks: 2, exclude: [txidOf(funding)] })
      assert.isUndefined(yield* sim.confirmationHeight(txidOf(funding)))
      // The follower saw the whole reorg at once, after it, and its broadcast waits in the mempool.
      assert.deepStrictEqual(seen, [`-${height}`, `+${height}`, `+${height + 1}`])
      assert.isTrue(yield* sim.inMempool(txidOf(funding)))
      yield* sim.mine(1)
      assert.strictEqual(yield* sim.confirmationHeight(txidOf(funding)), height + 2)
    }).pipe(Effect.provide(layer({ seed: "reorg-follower" }))))

  it.effect("CPFP: a zero-fee parent goes in as a package and is mined with its child", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const { outpoint } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      const parent = spend([outpoint], [[SCRIPT_B, 100_000n]])
      assert.strictEqual(yield* broadcastReason(parent), "FeeTooLow")
      const child = spend([{ txid: txidOf(parent), vout: 0 }], [[SCRIPT_A, 95_000n]])
      const id = yield* sim.broadcastPackage([parent, child])
      assert.strictEqual(toHex(id), toHex(txidOf(child)))
      // A miner asking 2000 sat/kw takes both: the package pays 5000 sat for ~800 wu.
      yield* sim.mine(1, { minFeeratePerKw: 2000 })
      assert.isDefined(yield* sim.confirmationHeight(txidOf(parent)))
      assert.isDefined(yield* sim.confirmationHeight(txidOf(child)))
      // A transaction below the miner's rate waits.
      const { outpoint: low } = yield* sim.fund(SCRIPT_A, sat(100_000n))
      yield* sim.mine()
      const cheap = spend([low], [[SCRIPT_B, 99_500n]])
      assert.strictEqual(yield* broadcastReason(cheap), "Accepted")
      yield* sim.mine(1, { minFeeratePerKw: 100_000 })
      assert.isTrue(yield* sim.inMempool(txidOf(cheap)))
      assert.isTrue(serializeTransaction(cheap).length > 0)
    }).pipe(Effect.provide(layer({ seed: "cpfp" }))))

  it.effect("fee estimates: the fallback without an estimate, never below 253 sat/kw", () =>
    Effect.gen(function*() {
      const sim = yield* SimChain
      const fees = yield* FeeEstimator
      const none = yield* fees.estimate(6)
      assert.strictEqual(none.source, "fallback")
      assert.isAtLeast(none.feeratePerKw, FEERATE_FLOOR_PER_KW)
      yield* sim.setFeerate(100)
      assert.deepStrictEqual(yield* fees.estimate(1), { feeratePerKw: FEERATE_FLOOR_PER_KW, source: "estimate" })
      yield* sim.setFeerate(5000)
      assert.deepStrictEqual(yield* fees.estimate(1), { feeratePerKw: 5000, source: "estimate" })
      assert.strictEqual(FAUCET_SCRIPT.length, 34) // P2WSH
    }).pipe(Effect.provide(layer({ seed: "fees" }))))
})
