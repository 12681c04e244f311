import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Layer, Result } from "effect"
import { TestClock } from "effect/testing"
import { createInvoice, createInvoiceWith } from "../../src/invoices/createInvoice.ts"
import { SeededEntropy, SeededNodeSigner } from "../../src/layers/test/index.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { decodeInvoice } from "../../src/protocol/invoice/index.ts"
import { msat } from "../../src/protocol/units.ts"
import { Entropy } from "../../src/services/Entropy.ts"
import { NodeSigner } from "../../src/services/NodeSigner.ts"

const layers = Layer.mergeAll(SeededEntropy.layer("invoices"), SeededNodeSigner.layer("invoice-node"))

const create = (includePayee: boolean, paymentHash?: Uint8Array) =>
  createInvoice({
    amountMsat: msat(42_000n),
    description: { text: "a test invoice" },
    expirySeconds: 600,
    includePayee,
    paymentHash
  })

describe("createInvoice", () => {
  it.effect("is signed by the node signer, timed by Clock, and decodes to what went in", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1700000000 seconds")
      const signer = yield* NodeSigner
      for (const includePayee of [false, true]) {
        const created = yield* create(includePayee)
        const decoded = decodeInvoice(created.invoice, nobleSecp256k1)
        assert.isTrue(Result.isSuccess(decoded))
        if (Result.isFailure(decoded)) return
        const inv = decoded.success
        assert.deepStrictEqual(inv.payee, signer.nodeId)
        assert.strictEqual(inv.payeeFromField, includePayee)
        assert.strictEqual(inv.timestamp, 1_700_000_000)
        assert.strictEqual(inv.amountMsat, 42_000n)
        assert.strictEqual(inv.description, "a test invoice")
        assert.strictEqual(inv.expirySeconds, 600)
        assert.deepStrictEqual(inv.paymentSecret, created.paymentSecret)
        assert.isDefined(created.preimage)
        assert.deepStrictEqual(inv.paymentHash, sha256(created.preimage ?? new Uint8Array(0)))
      }
    }).pipe(Effect.provide(layers)))

  it.effect("uses a given payment hash and generates no preimage", () =>
    Effect.gen(function*() {
      const hash = new Uint8Array(32).fill(9)
      const created = yield* create(false, hash)
      assert.isUndefined(created.preimage)
      assert.deepStrictEqual(created.paymentHash, hash)
    }).pipe(Effect.provide(layers)))

  it.effect("is deterministic under the seeded layers", () =>
    Effect.gen(function*() {
      const a = yield* create(false).pipe(Effect.provide(layers))
      const b = yield* create(false).pipe(Effect.provide(layers))
      assert.strictEqual(a.invoice, b.invoice)
      const other = yield* create(false).pipe(Effect.provide(Layer.mergeAll(SeededEntropy.layer("other"), SeededNodeSigner.layer("invoice-node"))))
      assert.notStrictEqual(a.invoice, other.invoice)
    }))

  it.effect("createInvoiceWith (the services given) makes what createInvoice makes from the context", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1700000000 seconds")
      const params = { amountMsat: msat(42_000n), description: { text: "a test invoice" }, expirySeconds: 600 }
      const hash = new Uint8Array(32).fill(7)
      // Each set under its own seeded layers (the same seeds: the same draws).
      const fromContext = yield* Effect.all([create(false), create(true), create(false, hash)]).pipe(Effect.provide(layers))
      const given = yield* Effect.gen(function*() {
        const make = createInvoiceWith(yield* NodeSigner, yield* Entropy)
        return yield* Effect.all([make({ ...params, includePayee: false }), make({ ...params, includePayee: true }), make({ ...params, includePayee: false, paymentHash: hash })])
      }).pipe(Effect.provide(layers))
      assert.deepStrictEqual(given, fromContext)
    }))
})
