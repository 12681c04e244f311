/**
 * How `Payments` writes its records (src/actors/Payments.ts `put`): to a store that writes at
 * once (`declareStoreWriteNow`, a store in memory) with no effect of its own; a write it refuses
 * goes the retrying way (`write`, up to 5 more tries, then a defect), so the record is still stored; a store
 * without the declaration gets every record through `write`. The same bytes either way.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import { ChannelManager, type ChannelManagerShape } from "../../src/actors/ChannelManager.ts"
import { make as makePayments } from "../../src/actors/Payments.ts"
import { makeNodeSigner } from "../../src/layers/InMemoryNodeSigner.ts"
import { wasmSecp256k1 } from "../../src/layers/crypto/secp256k1-wasm.ts"
import { makeMemoryStore, makeMemoryStoreData } from "../../src/layers/store/MemoryStore.ts"
import { makeSeededEntropy } from "../../src/layers/test/SeededEntropy.ts"
import { toHex } from "../../src/protocol/bytes.ts"
import { msat } from "../../src/protocol/units.ts"
import { Entropy } from "../../src/services/Entropy.ts"
import { NodeSigner } from "../../src/services/NodeSigner.ts"
import { Router } from "../../src/services/Router.ts"
import { declareStoreWriteNow, Store, StoreError, type StoreShape, storeWriteNowOf } from "../../src/services/Store.ts"

const secp = wasmSecp256k1

/** A manager with no channel: enough for invoices. */
const noChannels: ChannelManagerShape = {
  openChannel: () => Effect.die(new Error("unused")),
  fundChannel: () => Effect.die(new Error("unused")),
  listChannels: Effect.succeed([]),
  channel: () => Effect.die(new Error("unused")),
  monitorState: () => Effect.succeed(undefined),
  closeChannel: () => Effect.die(new Error("unused")),
  forceClose: () => Effect.die(new Error("unused")),
  addHtlc: () => Effect.die(new Error("unused")),
  fulfillHtlc: () => Effect.die(new Error("unused")),
  claimPreimage: () => Effect.die(new Error("unused")),
  failHtlc: () => Effect.die(new Error("unused")),
  failMalformedHtlc: () => Effect.die(new Error("unused")),
  updateFee: () => Effect.die(new Error("unused")),
  chainFact: () => Effect.die(new Error("unused")),
  events: Stream.empty,
  subscribe: Effect.succeed(Stream.empty)
}

/** An invoice created over `store` (its record written), and the stored record's bytes. */
const invoiceOver = (store: StoreShape, read: StoreShape) =>
  Effect.scoped(Effect.gen(function*() {
    const payments = yield* makePayments({ secp, blockHeight: Effect.succeed(800_000) }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(ChannelManager, noChannels),
        Layer.succeed(NodeSigner, makeNodeSigner(new Uint8Array(32).fill(1), secp)),
        Layer.succeed(Entropy, makeSeededEntropy("payments-store")),
        Layer.succeed(Store, store),
        Layer.succeed(Router, Router.of({ findRoute: () => Effect.die(new Error("no routes here")), reportPath: () => Effect.void }))
      ))
    )
    const created = yield* Effect.exit(payments.createInvoice({ amountMsat: msat(1_000_000n), description: { text: "stored" } }))
    if (!Exit.isSuccess(created)) return { created: false, bytes: undefined }
    const entry = yield* Effect.orDie(read.get(`pay/in/${toHex(created.value.paymentHash)}`))
    return { created: true, bytes: entry === undefined ? undefined : new TextDecoder().decode(entry.value) }
  }))

/**
 * A memory store whose write at once and `write` are counted; its write at once refuses the first
 * `refuse` writes, its `write` the first `refuseWrites`.
 */
const countedStore = (refuse: number, refuseWrites = 0) => {
  const { store } = makeMemoryStore(makeMemoryStoreData())
  const now = storeWriteNowOf(store)
  if (now === undefined) throw new Error("the memory store writes at once")
  const counts = { now: 0, write: 0 }
  let left = refuse
  let writesLeft = refuseWrites
  const shape = declareStoreWriteNow({ ...store, write: (ops) => Effect.suspend(() => {
    counts.write += 1
    if (writesLeft > 0) {
      writesLeft -= 1
      return Effect.fail(new StoreError({ operation: "write", reason: "refused (test)" }))
    }
    return store.write(ops)
  }) }, (ops) => {
    counts.now += 1
    if (left > 0) {
      left -= 1
      return new StoreError({ operation: "write", reason: "refused (test)" })
    }
    return now(ops)
  })
  return { shape, store, counts }
}

describe("Payments: record writes", () => {
  it.effect("a store that writes at once: the record is written at once, no `write`", () =>
    Effect.gen(function*() {
      const s = countedStore(0)
      const r = yield* invoiceOver(s.shape, s.store)
      assert.isTrue(r.created)
      assert.deepStrictEqual(s.counts, { now: 1, write: 0 })
      assert.isDefined(r.bytes)
    }))

  it.effect("a write at once refused: retried through `write`, the record stored", () =>
    Effect.gen(function*() {
      const s = countedStore(1)
      const r = yield* invoiceOver(s.shape, s.store)
      assert.isTrue(r.created)
      assert.deepStrictEqual(s.counts, { now: 1, write: 1 })
      assert.isDefined(r.bytes)
    }))

  it.effect("refused again: up to 5 more tries through `write`, then the invoice fails (a defect), nothing stored", () =>
    Effect.gen(function*() {
      const stored = countedStore(1, 4)
      const r = yield* invoiceOver(stored.shape, stored.store)
      assert.isTrue(r.created)
      assert.deepStrictEqual(stored.counts, { now: 1, write: 5 })
      assert.isDefined(r.bytes)
      const lost = countedStore(1, 5)
      const l = yield* invoiceOver(lost.shape, lost.store)
      assert.isFalse(l.created)
      assert.deepStrictEqual(lost.counts, { now: 1, write: 5 })
    }))

  it.effect("the same bytes with and without the write at once", () =>
    Effect.gen(function*() {
      const s = countedStore(0)
      const now = yield* invoiceOver(s.shape, s.store)
      // A wrapper that spreads the fields does not inherit the declaration: every write through `write`.
      const plain = makeMemoryStore(makeMemoryStoreData()).store
      const spread: StoreShape = { ...plain }
      const viaWrite = yield* invoiceOver(spread, plain)
      assert.isUndefined(storeWriteNowOf(spread))
      assert.isDefined(now.bytes)
      assert.strictEqual(now.bytes, viaWrite.bytes)
    }))
})
