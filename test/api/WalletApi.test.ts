/**
 * The wallet over the control API (issue 9 "The runnable node"), over real HTTP, two channel
 * nodes on the simulated chain: `GET /v1/wallet/balance`, `POST /v1/wallet/address`,
 * `POST /v1/wallet/send` (amount, all, bad input as 4xx), and `POST /v1/channels` funded from
 * the wallet (waiting, and at once with `wait: false`), while bring-your-own funding stays
 * available (`funding: "external"`). A server without a wallet answers 503.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { HttpServer } from "effect/http"
import { start as startChainWatcher } from "../../src/actors/ChainWatcher.ts"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { makePersistent, Wallet } from "../../src/actors/Wallet.ts"
import * as WalletFunding from "../../src/actors/WalletFunding.ts"
import { ControlApiServer } from "../../src/api/ControlApiServer.ts"
import { parseFlags, usage } from "../../src/daemon/NodeFlags.ts"
import { make as makeSimulatedChain } from "../../src/layers/chain/SimulatedChain.ts"
import { makeMemoryStore } from "../../src/layers/store/MemoryStore.ts"
import { makeMemoryNetwork } from "../../src/layers/test/MemoryTransport.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { Networks } from "../../src/protocol/network.ts"
import { type Transaction, txid as txidOf, txidFromHex } from "../../src/protocol/tx/bitcoin/transaction.ts"
import { sat } from "../../src/protocol/units.ts"
import { compileScript, OP } from "../../src/protocol/tx/bitcoin/script.ts"
import { addressFromScript, mnemonicFromEntropy, scriptFromAddress, seedFromMnemonic } from "../../src/protocol/wallet/keys.ts"
import { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import { FeeEstimator } from "../../src/services/FeeEstimator.ts"
import { Store } from "../../src/services/Store.ts"
import { awaitEvent, eventually, PORT, startChannelNode } from "../actors/ChannelManagerHarness.ts"
import { apiToken, field, reachable, request, ServerLive } from "./harness.ts"

const SEED = Result.getOrThrow(seedFromMnemonic(Result.getOrThrow(mnemonicFromEntropy(new Uint8Array(32).fill(9)))))
const network = Networks.regtest
/** Someone else's address (regtest P2WPKH). */
const EXTERNAL = addressFromScript(network, compileScript([OP.OP_0, new Uint8Array(20).fill(0x77)])) ?? ""

const post = (path: string, body: unknown) => request("POST", path, JSON.stringify(body))

describe("wallet API", () => {
  it.live("balance, addresses, sends and channels funded from the wallet", () =>
    Effect.gen(function*() {
      const chain = yield* makeSimulatedChain({ seed: "wallet-api", feeratePerKw: 1000 })
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
      const { store } = makeMemoryStore()
      const wallet = yield* makePersistent({ seed: SEED, network }).pipe(
        Effect.provide(Layer.mergeAll(chainServices, SeededEntropy.layer("wallet-api"), Layer.succeed(Store, store)))
      )
      const funding = yield* WalletFunding.make({ fundAll: false }).pipe(
        Effect.provideService(ChannelManager, alice.channels),
        Effect.provideService(Wallet, wallet)
      )
      const api = yield* Layer.build(
        ControlApiServer({ host: "127.0.0.1", port: 0, token: apiToken, logRequests: false }).pipe(
          Layer.provide([
            Layer.succeed(PeerManager, alice.peers),
            Layer.succeed(ChannelManager, alice.channels),
            Layer.succeed(Wallet, wallet),
            Layer.succeed(WalletFunding.WalletFunding, funding),
            Layer.succeed(ChainSource, chain.chainSource)
          ])
        )
      )
      const http = <A, E>(e: Effect.Effect<A, E, HttpServer.HttpServer>) => Effect.provide(e, api)
      const mine = (n: number) =>
        Effect.gen(function*() {
          yield* chain.sim.mine(n)
          yield* wallet.awaitHeight(yield* chain.sim.height)
        })

      // Addresses: fresh each time, of the asked type; a bad type is a 400.
      const a1 = yield* http(post("/v1/wallet/address", {}))
      assert.strictEqual(a1.status, 200, JSON.stringify(a1.body))
      assert.strictEqual(field(a1.body, "type"), "p2wpkh")
      const first = String(field(a1.body, "address"))
      assert.isTrue(first.startsWith("bcrt1q"))
      const a2 = yield* http(post("/v1/wallet/address", { type: "p2tr" }))
      assert.isTrue(String(field(a2.body, "address")).startsWith("bcrt1p"))
      assert.strictEqual((yield* http(post("/v1/wallet/address", { type: "p2pkh" }))).status, 400)

      yield* chain.sim.fund(Result.getOrThrow(scriptFromAddress(network, first)), sat(3_000_000n))
      yield* chain.sim.fund(Result.getOrThrow(scriptFromAddress(network, String(field(a2.body, "address")))), sat(500_000n))
      yield* mine(1)
      const balance = yield* http(request("GET", "/v1/wallet/balance"))
      assert.deepStrictEqual(balance.body, { confirmedSat: "3500000", unconfirmedSat: "0", lockedSat: "0", height: yield* chain.sim.height })

      // Sends: bad input is a 400, too much a 422; a good one is in the mempool, its change unconfirmed.
      assert.strictEqual((yield* http(post("/v1/wallet/send", { address: "bc1qnotregtest", amountSat: 1000 }))).status, 400)
      assert.strictEqual((yield* http(post("/v1/wallet/send", { address: EXTERNAL }))).status, 400)
      assert.strictEqual((yield* http(post("/v1/wallet/send", { address: EXTERNAL, amountSat: 1000, all: true }))).status, 400)
      const tooMuch = yield* http(post("/v1/wallet/send", { address: EXTERNAL, amountSat: 9_000_000 }))
      assert.strictEqual(tooMuch.status, 422)
      assert.strictEqual(field(tooMuch.body, "reason"), "InsufficientFunds")
      const dust = yield* http(post("/v1/wallet/send", { address: EXTERNAL, amountSat: 100 }))
      assert.strictEqual(dust.status, 422)
      const sent = yield* http(post("/v1/wallet/send", { address: EXTERNAL, amountSat: 200_000, feeratePerKw: 2000 }))
      assert.strictEqual(sent.status, 200, JSON.stringify(sent.body))
      assert.strictEqual(field(sent.body, "feeratePerKw"), 2000)
      const sendFee = BigInt(String(field(sent.body, "feeSat")))
      assert.isTrue(chain.sim.core.inMempool(txidFromHex(String(field(sent.body, "txid")))))
      const afterSend = yield* http(request("GET", "/v1/wallet/balance"))
      // Largest first: the 3,000,000 coin paid; the 500,000 one is still confirmed.
      assert.strictEqual(field(afterSend.body, "confirmedSat"), "500000")
      assert.strictEqual(field(afterSend.body, "unconfirmedSat"), String(3_000_000n - 200_000n - sendFee))
      yield* mine(1)

      // A channel funded from the wallet: the answer comes once both sides signed, under the final id.
      yield* alice.peers.connect(bob.peers.nodeId, { host: bob.host, port: PORT })
      for (let i = 0; i < 1000 && Result.isFailure(yield* Effect.result(alice.peers.peer(bob.peers.nodeId))); i++) yield* Effect.sleep("2 millis")
      const opened = yield* http(post("/v1/channels", { nodeId: toHex(bob.peers.nodeId), amountSat: 1_000_000, pushMsat: 10_000_000, feeratePerKw: 2500 }))
      assert.strictEqual(opened.status, 200, JSON.stringify(opened.body))
      assert.strictEqual(field(opened.body, "phase"), "WaitChannelReady")
      const pending = (yield* awaitEvent(alice, "ChannelPending")).event
      assert.strictEqual(field(opened.body, "channelId"), toHex(pending.channelId))
      const locked = yield* http(request("GET", "/v1/wallet/balance"))
      assert.notStrictEqual(field(locked.body, "lockedSat"), "0")

      // Too little money: a 422 before anything is sent to the peer.
      const big = yield* http(post("/v1/channels", { nodeId: toHex(bob.peers.nodeId), amountSat: 50_000_000 }))
      assert.strictEqual(big.status, 422, JSON.stringify(big.body))

      // At once: the open goes on in the background and shows in the list.
      const quick = yield* http(post("/v1/channels", { nodeId: toHex(bob.peers.nodeId), amountSat: 300_000, wait: false }))
      assert.strictEqual(quick.status, 200, JSON.stringify(quick.body))
      assert.strictEqual(field(quick.body, "phase"), "WaitAcceptChannel")
      yield* eventually("the second open funded", () => (alice.events.filter((e) => e.event._tag === "ChannelPending").length >= 2 ? true : undefined))

      // Bring your own funding still works: the answer waits for the funding transaction.
      const external = yield* http(post("/v1/channels", { nodeId: toHex(bob.peers.nodeId), amountSat: 200_000, funding: "external" }))
      assert.strictEqual(external.status, 200, JSON.stringify(external.body))
      assert.strictEqual(field(external.body, "phase"), "WaitFundingTx")
      assert.isNotNull(field(external.body, "fundingOutput"))

      // Mined: both funded channels confirm; the wallet's balance is exact to the fees.
      yield* mine(6)
      for (const e of alice.events.filter((x) => x.event._tag === "ChannelPending")) {
        yield* awaitEvent(alice, "ChannelReady", (r) => toHex(r.channelId) === toHex(e.channelId))
      }
      // Every transaction on the chain by txid, to price the funding transactions' inputs.
      const byId = new Map<string, Transaction>()
      for (let h = 0; h <= chain.sim.core.height; h++) {
        const block = chain.sim.core.blockAt(h)
        block?.transactions.forEach((tx, i) => byId.set(toHex(block.txids[i] ?? txidOf(tx)), tx))
      }
      const feeOf = (tx: Transaction) =>
        tx.inputs.reduce((s, i) => s + (byId.get(toHex(i.prevout.txid))?.outputs[i.prevout.vout]?.value ?? 0n), 0n) - tx.outputs.reduce((s, o) => s + o.value, 0n)
      const fundings = alice.events.flatMap((e) => (e.event._tag === "ChannelPending" ? [byId.get(toHex(e.event.fundingOutpoint.txid))] : []))
      assert.strictEqual(fundings.length, 2)
      const fundingFees = fundings.reduce((s, tx) => (tx === undefined ? assert.fail("funding not mined") : s + feeOf(tx)), 0n)

      // GET /v1/channels: state, balances, short channel id and confirmations (from the chain's
      // tip: the funding block is 6 deep, 7 after one more block).
      const listed = (yield* http(request("GET", "/v1/channels"))).body
      const channelOf = (body: unknown) =>
        (Array.isArray(body) ? body : []).find((c: unknown) => field(c, "channelId") === field(opened.body, "channelId"))
      const row = channelOf(listed)
      assert.strictEqual(field(row, "phase"), "Normal")
      // We funded 1,000,000 sat and pushed 10,000 sat (balances before the commitment's fee).
      const channelBalance = field(row, "balance")
      assert.strictEqual(field(channelBalance, "remoteMsat"), 10_000_000)
      assert.strictEqual(field(channelBalance, "htlcs"), 0)
      assert.strictEqual(field(channelBalance, "localMsat"), 990_000_000)
      const scid = String(field(row, "shortChannelId"))
      assert.match(scid, /^\d+x\d+x\d+$/)
      const fundingHeight = Number(scid.split("x")[0])
      assert.strictEqual(field(row, "confirmations"), chain.sim.core.height - fundingHeight + 1)
      assert.isAtLeast(Number(field(row, "confirmations")), 6)
      yield* mine(1)
      const later = channelOf((yield* http(request("GET", `/v1/channels`))).body)
      assert.strictEqual(field(later, "confirmations"), chain.sim.core.height - fundingHeight + 1)
      const final = yield* http(request("GET", "/v1/wallet/balance"))
      assert.strictEqual(field(final.body, "lockedSat"), "0")
      assert.strictEqual(field(final.body, "unconfirmedSat"), "0")
      // Exact to the fees: received - sent - the two channels' capacities - every fee.
      assert.strictEqual(field(final.body, "confirmedSat"), String(3_500_000n - 200_000n - sendFee - 1_000_000n - 300_000n - fundingFees))

      // A send that does not confirm (its feerate below what miners take) is abandoned: its coins
      // come back, and the next send replaces it in the mempool (it signals RBF).
      const stuck = yield* http(post("/v1/wallet/send", { address: EXTERNAL, amountSat: 100_000, feeratePerKw: 253 }))
      assert.strictEqual(stuck.status, 200, JSON.stringify(stuck.body))
      const stuckTxid = String(field(stuck.body, "txid"))
      yield* chain.sim.mine(1, { minFeeratePerKw: 1000 })
      yield* wallet.awaitHeight(yield* chain.sim.height)
      assert.isTrue(chain.sim.core.inMempool(txidFromHex(stuckTxid)))
      assert.notStrictEqual(field((yield* http(request("GET", "/v1/wallet/balance"))).body, "confirmedSat"), field(final.body, "confirmedSat"))
      const abandoned = yield* http(post("/v1/wallet/abandon", { txid: stuckTxid.toUpperCase() }))
      assert.strictEqual(abandoned.status, 200, JSON.stringify(abandoned.body))
      assert.deepStrictEqual(abandoned.body, { abandoned: [stuckTxid] })
      const restored = yield* http(request("GET", "/v1/wallet/balance"))
      assert.strictEqual(field(restored.body, "confirmedSat"), field(final.body, "confirmedSat"))
      assert.strictEqual(field(restored.body, "unconfirmedSat"), "0")
      const again = yield* http(post("/v1/wallet/abandon", { txid: stuckTxid }))
      assert.strictEqual(again.status, 404)
      assert.strictEqual(field(again.body, "_tag"), "WalletSendNotPending")
      assert.strictEqual((yield* http(post("/v1/wallet/abandon", { txid: "ab" }))).status, 400)

      // Send all: one output, nothing left (it replaces the abandoned send, which never confirms).
      const all = yield* http(post("/v1/wallet/send", { address: EXTERNAL, all: true }))
      assert.strictEqual(all.status, 200, JSON.stringify(all.body))
      assert.isFalse(chain.sim.core.inMempool(txidFromHex(stuckTxid)))
      yield* mine(1)
      assert.strictEqual(chain.sim.core.confirmationHeight(txidFromHex(stuckTxid)), undefined)
      const empty = yield* http(request("GET", "/v1/wallet/balance"))
      assert.strictEqual(field(empty.body, "confirmedSat"), "0")
    }).pipe(Effect.scoped))

  it.layer(ServerLive)((it) => {
    it.effect("a server without a wallet answers 503", () =>
      Effect.gen(function*() {
        for (const [method, path, body] of [["GET", "/v1/wallet/balance", undefined], ["POST", "/v1/wallet/address", "{}"], ["POST", "/v1/wallet/send", JSON.stringify({ address: EXTERNAL, amountSat: 1000 })]] as const) {
          const reply = yield* request(method, path, body)
          assert.strictEqual(reply.status, 503, `${method} ${path}`)
          assert.strictEqual(field(reply.body, "_tag"), "WalletUnavailable")
        }
        // Without a wallet, an open asking for wallet funding is refused before anything is sent.
        const open = yield* request("POST", "/v1/channels", JSON.stringify({ nodeId: toHex(reachable), amountSat: 100_000, funding: "wallet" }))
        assert.strictEqual(open.status, 503)
      }))
  })
})

describe("--wallet-birthday", () => {
  it("takes a block height, with --bitcoind-rpc only", () => {
    const rpc = ["--bitcoind-rpc", "http://u:p@127.0.0.1:18443"]
    const ok = parseFlags([...rpc, "--wallet-birthday", "812000"])
    assert.isTrue(Result.isSuccess(ok) && ok.success._tag === "Run" && ok.success.config.walletBirthday === 812000)
    const none = parseFlags(rpc)
    assert.isTrue(Result.isSuccess(none) && none.success._tag === "Run" && none.success.config.walletBirthday === undefined)
    const noChain = parseFlags(["--wallet-birthday", "100"])
    assert.isTrue(Result.isFailure(noChain) && noChain.failure.includes("needs --bitcoind-rpc"))
    for (const bad of ["1.5", "abc", "", "123456789", "=-1"]) {
      const r = parseFlags([...rpc, bad.startsWith("=") ? `--wallet-birthday${bad}` : "--wallet-birthday", ...(bad.startsWith("=") ? [] : [bad])])
      assert.isTrue(Result.isFailure(r) && r.failure.includes("--wallet-birthday expects a block height"), bad)
    }
    assert.include(usage, "--wallet-birthday")
  })
})

describe("--dev-wallet-seed", () => {
  const parsed = (argv: ReadonlyArray<string>) => parseFlags(argv)
  it("sets the wallet's seed with --dev --network regtest, and only then", () => {
    const ok = parsed(["--dev", "--network", "regtest", "--dev-wallet-seed", "AB".repeat(32)])
    assert.isTrue(Result.isSuccess(ok) && ok.success._tag === "Run" && toHex(ok.success.config.dev?.walletSeed ?? new Uint8Array()) === "ab".repeat(32))
    const noDev = parsed(["--network", "regtest", "--dev-wallet-seed", "ab".repeat(32)])
    assert.isTrue(Result.isFailure(noDev) && noDev.failure.includes("--dev-wallet-seed needs --dev"))
    const mainnet = parsed(["--dev", "--network", "mainnet", "--dev-wallet-seed", "ab".repeat(32)])
    assert.isTrue(Result.isFailure(mainnet) && mainnet.failure.includes("regtest"))
    for (const bad of ["ab".repeat(15), "ab".repeat(65), "zz".repeat(32), "abc"]) {
      const r = parsed(["--dev", "--network", "regtest", "--dev-wallet-seed", bad])
      assert.isTrue(Result.isFailure(r) && r.failure.includes("16 to 64 bytes"), bad)
    }
    assert.include(usage, "--dev-wallet-seed")
  })
})
