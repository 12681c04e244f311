/**
 * The demo page's scenarios run under Node with in-memory stores (the page runs the same code
 * over IndexedDB, see demo.test.ts): two nodes of `BrowserNode` on one in-memory network and a
 * simulated chain open a channel funded from a wallet and pay each other.
 */
import { sha256 } from "@noble/hashes/sha2.js"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { openAndPayBothWays, startPair, summary } from "../../browser/demo/scenario.ts"
import { makeMemoryStore, makeMemoryStoreData, type MemoryStoreData } from "../../src/layers/store/MemoryStore.ts"
import * as SeededEntropy from "../../src/layers/test/SeededEntropy.ts"
import { Store } from "../../src/services/Store.ts"

const keys = {
  seed: (name: string) => Effect.succeed(sha256(new TextEncoder().encode(`browser-demo/${name}`))),
  entropy: SeededEntropy.layer("browser-demo")
}

describe("the demo's two-node scenario (BrowserNode)", () => {
  it.live("opens a channel on the simulated chain and pays both ways; a restart restores it", () =>
    Effect.gen(function*() {
      const data = new Map<string, MemoryStoreData>()
      const stores = (node: string, purpose: string) => {
        const key = `${node}/${purpose}`
        const d = data.get(key) ?? makeMemoryStoreData()
        data.set(key, d)
        return Layer.sync(Store, () => makeMemoryStore(d).store)
      }
      const log: Array<string> = []
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const pair = yield* startPair(keys, stores, (l) => void log.push(l), true)
        return yield* openAndPayBothWays(pair, (l) => void log.push(l))
      }))
      assert.strictEqual(result.toBob.length, 64)
      assert.strictEqual(result.toAlice.length, 64)
      assert.isTrue(log.some((l) => l.startsWith("bob: PaymentReceived")), log.join("\n"))
      assert.isTrue(log.some((l) => l.startsWith("alice: PaymentReceived")), log.join("\n"))
      // A restart over the same stores, without a chain, finds the channel and the payment.
      const restored = yield* Effect.scoped(Effect.gen(function*() {
        const pair = yield* startPair(keys, stores, () => {}, false)
        return yield* summary(pair.alice)
      }))
      assert.deepStrictEqual(restored.channels.map((c) => [c.channelId, c.phase]), [[result.channelId, "Normal"]])
      assert.deepStrictEqual(restored.payments.map((p) => p.status), ["succeeded"])
    }))
})
