/**
 * The bitcoind JSON-RPC layer against a real regtest node: bcoin 1.0.2 (a full node speaking
 * Bitcoin Core's RPC for the calls the layer makes), started as a child process on free ports
 * and stopped after. Where bcoin differs from Bitcoin Core, the TEST adapts (issue 9's notes):
 * `sendrawtransaction` answers the txid even for an invalid transaction (acceptance is checked
 * in the node's mempool), `estimatesmartfee` has no estimate on regtest.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { toHex } from "../../../src/protocol/bytes.ts"
import { blockHashFromHex, blockHashToHex, merkleRoot } from "../../../src/protocol/chain/block.ts"
import { compileScript, OP } from "../../../src/protocol/tx/bitcoin/script.ts"
import { fromHex } from "../../../src/protocol/bytes.ts"
import { txidToHex } from "../../../src/protocol/tx/bitcoin/transaction.ts"
import { classifyRejection, make as makeBitcoind } from "../../../src/layers/chain/BitcoindChain.ts"
import type { ChainEvent } from "../../../src/services/ChainSource.ts"
import { API_KEY, bcoinAvailable, BcoinNode, freePort } from "../../support/bcoin.ts"

if (!bcoinAvailable) console.warn("BitcoindChain regtest tests skipped: the bcoin package is not installed (see package.json, issue 9)")
const SCRIPT = compileScript([OP.OP_0, new Uint8Array(20).fill(0x42)])

/** Polls a condition (live clock; fails after 20 s). */
const waitFor = (ok: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000 && !ok(); i++) yield* Effect.sleep("10 millis")
    if (!ok()) return yield* Effect.die(new Error("condition never held"))
  })
/** Waits until bcoin's mempool holds `txid` (fails after ~10 s). */
const inMempool = (txid: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (((yield* cmd(node, { cmd: "mempool" })).txids ?? []).includes(txid)) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`${txid} never entered the mempool`))
  })
let node: BcoinNode
const cmd = (node: BcoinNode, c: Record<string, unknown>) => Effect.promise(() => node.command(c))
const describeEvent = (e: ChainEvent) => e._tag === "BlockConnected" ? `+${e.block.header.height}:${blockHashToHex(e.block.header.hash)}` : `-${e.header.height}:${blockHashToHex(e.header.hash)}`

describe.skipIf(!bcoinAvailable)("bitcoind layer against a bcoin regtest node", () => {
  beforeAll(async () => {
    node = await BcoinNode.start(await freePort())
    await node.command({ cmd: "mine", n: 101 }) // a mature coinbase to spend
  }, 60_000)
  afterAll(async () => {
    await node?.stop()
  })
  const chain = () => makeBitcoind({ url: node.url, pollIntervalMs: 50, reconnectIntervalMs: 50 })

  it.live("reads the tip, headers and blocks (raw hex), and checks what it decodes", () =>
    Effect.gen(function*() {
      const { chainSource } = yield* chain()
      const tip = yield* chainSource.tip
      assert.isAtLeast(tip.height, 101)
      const header = yield* chainSource.header(tip.height)
      assert.strictEqual(toHex(header.hash), toHex(tip.hash))
      const block = yield* chainSource.block(tip.hash)
      assert.strictEqual(block.header.height, tip.height)
      assert.strictEqual(toHex(merkleRoot(block.txids)), toHex(block.header.merkleRoot))
      const parent = yield* chainSource.header(block.header.prevHash)
      assert.strictEqual(parent.height, tip.height - 1)
      const missing = yield* Effect.flip(chainSource.block(tip.height + 1000))
      assert.strictEqual(missing._tag, "BlockNotFound")
    }))

  it.live("follows new blocks and a reorg, walking back to the fork point", () =>
    Effect.gen(function*() {
      const { chainSource } = yield* chain()
      const start = yield* chainSource.tip
      let seen = 0
      const fiber = yield* chainSource.follow(start).pipe(
        Stream.tap(() => Effect.sync(() => void seen++)),
        Stream.take(2 + 3 + 5),
        Stream.runCollect,
        Effect.forkChild
      )
      const mined = yield* cmd(node, { cmd: "mine", n: 2 })
      // The follower takes the two blocks before they are replaced.
      yield* waitFor(() => seen >= 2)
      // A branch from start - 1 that is longer: start, start+1, start+2 go; 5 blocks come.
      const fork = yield* cmd(node, { cmd: "fork", height: start.height - 1, n: 5 })
      const events = (yield* Fiber.join(fiber)).map(describeEvent)
      const h = start.height
      assert.deepStrictEqual(events.slice(0, 2), [`+${h + 1}:${mined.hashes?.[0]}`, `+${h + 2}:${mined.hashes?.[1]}`])
      assert.deepStrictEqual(events.slice(2, 5), [`-${h + 2}:${mined.hashes?.[1]}`, `-${h + 1}:${mined.hashes?.[0]}`, `-${h}:${blockHashToHex(start.hash)}`])
      assert.deepStrictEqual(events.slice(5), (fork.hashes ?? []).map((hash, i) => `+${h + i}:${hash}`))
    }))

  it.live("catches up after being away, including a reorg that happened meanwhile", () =>
    Effect.gen(function*() {
      const { chainSource } = yield* chain()
      // What a follower processed last, then it went away.
      const seen = yield* chainSource.follow(yield* chainSource.tip).pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
      yield* cmd(node, { cmd: "mine", n: 1 })
      const last = (yield* Fiber.join(seen))[0]
      assert.strictEqual(last?._tag, "BlockConnected")
      if (last?._tag !== "BlockConnected") return
      const away = { height: last.block.header.height, hash: last.block.header.hash }
      // Meanwhile: the last 2 blocks it saw are replaced by 3, and 2 more come.
      const fork = yield* cmd(node, { cmd: "fork", height: away.height - 2, n: 3 })
      yield* cmd(node, { cmd: "mine", n: 2 })
      const events = yield* chainSource.follow(away).pipe(Stream.take(2 + 5), Stream.runCollect)
      const tags = events.map(describeEvent)
      assert.strictEqual(tags[0], `-${away.height}:${blockHashToHex(away.hash)}`)
      assert.isTrue(tags[1]?.startsWith(`-${away.height - 1}:`))
      assert.deepStrictEqual(tags.slice(2, 5), (fork.hashes ?? []).map((hash, i) => `+${away.height - 1 + i}:${hash}`))
      const tip = yield* chainSource.tip
      assert.strictEqual(tags[6], `+${tip.height}:${blockHashToHex(tip.hash)}`)
    }))

  it.live("broadcasts a transaction, sees it confirm, reports its output", () =>
    Effect.gen(function*() {
      const { chainSource, broadcaster } = yield* chain()
      const paid = yield* cmd(node, { cmd: "pay", script: toHex(SCRIPT), value: 50_000 })
      const txid = yield* broadcaster.broadcast(fromHex(paid.hex ?? ""))
      assert.strictEqual(txidToHex(txid), paid.txid)
      // bcoin adds to its mempool after answering: wait for it there (acceptance, not just an answer).
      yield* inMempool(paid.txid ?? "")
      const pending = yield* chainSource.outputStatus({ txid, vout: 0 })
      assert.isTrue(pending._tag === "Unspent" && pending.confirmedAt === undefined && pending.value === 50_000n)
      const [hash] = (yield* cmd(node, { cmd: "mine", n: 1 })).hashes ?? []
      const block = yield* chainSource.block(yield* Effect.fromResult(blockHashFromHex(hash ?? "")))
      assert.isTrue(block.txids.some((t) => txidToHex(t) === paid.txid))
      const status = yield* chainSource.outputStatus({ txid, vout: 0 })
      assert.isTrue(status._tag === "Unspent" && status.confirmedAt === block.header.height && toHex(status.scriptPubKey) === toHex(SCRIPT))
      // Published again once confirmed: still a success (idempotent).
      assert.strictEqual(txidToHex(yield* broadcaster.broadcast(fromHex(paid.hex ?? ""))), paid.txid)
      // An invalid transaction: bcoin answers its txid anyway (Bitcoin Core refuses it); it never enters the mempool.
      const bogus = fromHex(paid.hex ?? "")
      bogus[5] = (bogus[5] ?? 0) ^ 0xff // another prevout: an unknown input
      const r = yield* Effect.result(broadcaster.broadcast(bogus))
      // A valid one after it: once that is in the mempool, bcoin has handled the bogus one (its mempool takes them in order).
      const marker = yield* cmd(node, { cmd: "pay", script: toHex(SCRIPT), value: 40_000 })
      yield* broadcaster.broadcast(fromHex(marker.hex ?? ""))
      yield* inMempool(marker.txid ?? "")
      const after = yield* cmd(node, { cmd: "mempool" })
      if (r._tag === "Success") assert.notInclude(after.txids ?? [], txidToHex(r.success))
      else assert.strictEqual(r.failure._tag, "BroadcastRejected")
    }))

  it.live("fee estimates fall back when the node has none; cookie and wrong credentials", () =>
    Effect.gen(function*() {
      const { feeEstimator } = yield* chain()
      const fee = yield* feeEstimator.estimate(6)
      assert.strictEqual(fee.source, "fallback")
      assert.isAtLeast(fee.feeratePerKw, 253)
      const dir = mkdtempSync(join(tmpdir(), "bcoin-cookie-"))
      const cookie = join(dir, ".cookie")
      writeFileSync(cookie, `__cookie__:${API_KEY}\n`)
      const viaCookie = yield* makeBitcoind({ url: `http://127.0.0.1:${node.port}`, cookieFile: cookie })
      assert.isAtLeast((yield* viaCookie.chainSource.tip).height, 101)
      const wrong = yield* makeBitcoind({ url: `http://x:wrong@127.0.0.1:${node.port}` })
      const failure = yield* Effect.flip(wrong.chainSource.tip)
      assert.strictEqual(failure._tag, "ChainSourceUnavailable")
    }))

  it.live("reconnects: a follower started before its node is reachable catches up once it is", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const { chainSource } = yield* makeBitcoind({ url: `http://x:${API_KEY}@127.0.0.1:${port}`, pollIntervalMs: 50, reconnectIntervalMs: 100, timeoutMs: 2000 })
      const fiber = yield* chainSource.follow().pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
      yield* Effect.sleep("300 millis") // failing calls, retried
      const late = yield* Effect.acquireRelease(Effect.promise(() => BcoinNode.start(port)), (n) => Effect.promise(() => n.stop()))
      // Mine until the follower (which takes the tip once the node answers) sees a block.
      const mined: Array<string> = []
      while (fiber.pollUnsafe() === undefined) {
        mined.push(...((yield* cmd(late, { cmd: "mine", n: 1 })).hashes ?? []))
        yield* Effect.sleep("100 millis")
      }
      const events = yield* Fiber.join(fiber)
      const first = events[0]
      assert.isTrue(first?._tag === "BlockConnected" && mined.includes(blockHashToHex(first.block.header.hash)))
    }), 60_000)
})

describe("bitcoind rejection reasons (Bitcoin Core's strings)", () => {
  it("classifies sendrawtransaction errors", () => {
    assert.strictEqual(classifyRejection(-25, "bad-txns-inputs-missingorspent"), "MissingInputs")
    assert.strictEqual(classifyRejection(-26, "txn-mempool-conflict"), "InputsSpent")
    assert.strictEqual(classifyRejection(-26, "insufficient fee, rejecting replacement 00aa, less fees than conflicting txs; 1 < 2"), "InputsSpent")
    assert.strictEqual(classifyRejection(-26, "non-final"), "NonFinal")
    assert.strictEqual(classifyRejection(-26, "non-BIP68-final"), "NonBip68Final")
    assert.strictEqual(classifyRejection(-26, "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 5"), "ImmatureCoinbase")
    assert.strictEqual(classifyRejection(-26, "min relay fee not met, 0 < 110"), "FeeTooLow")
    assert.strictEqual(classifyRejection(-26, "mempool min fee not met, 100 < 200"), "FeeTooLow")
    assert.strictEqual(classifyRejection(-25, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"), "FeeTooHigh")
    assert.strictEqual(classifyRejection(-26, "mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)"), "Invalid")
    assert.strictEqual(classifyRejection(-22, "TX decode failed"), "Invalid")
    assert.strictEqual(classifyRejection(-27, "Transaction already in block chain"), "AlreadyKnown")
    assert.strictEqual(classifyRejection(-26, "txn-already-in-mempool"), "AlreadyKnown")
  })
})
