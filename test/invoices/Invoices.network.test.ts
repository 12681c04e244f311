/** `createInvoice` takes its currency prefix from the node's network setting (`NodeNetwork`). */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { createInvoice } from "../../src/invoices/createInvoice.ts"
import { SeededEntropy, SeededNodeSigner } from "../../src/layers/test/index.ts"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { decodeInvoice } from "../../src/protocol/invoice/index.ts"
import { Networks } from "../../src/protocol/network.ts"
import { msat } from "../../src/protocol/units.ts"
import { NodeNetwork } from "../../src/services/NodeNetwork.ts"

const layers = Layer.mergeAll(SeededEntropy.layer("invoices"), SeededNodeSigner.layer("invoice-node"))
const create = createInvoice({ amountMsat: msat(1000n), description: { text: "network" } })

describe("createInvoice and the network setting", () => {
  it.effect("signet invoices start with lntbs and decode as tbs", () =>
    Effect.gen(function*() {
      const created = yield* create.pipe(Effect.provideService(NodeNetwork, Networks.signet))
      assert.match(created.invoice, /^lntbs10n1/)
      const decoded = decodeInvoice(created.invoice, nobleSecp256k1)
      assert.isTrue(Result.isSuccess(decoded) && decoded.success.network === "tbs")
    }).pipe(Effect.provide(layers)))

  it.effect("each network's prefix; regtest when nothing is provided", () =>
    Effect.gen(function*() {
      assert.match((yield* create).invoice, /^lnbcrt10n1/)
      const prefixes: Array<string> = []
      for (const network of [Networks.mainnet, Networks.testnet, Networks.testnet4, Networks.signet, Networks.regtest]) {
        const created = yield* create.pipe(Effect.provide(NodeNetwork.layer(network)))
        prefixes.push(created.invoice.slice(0, created.invoice.indexOf("10n1")))
      }
      assert.deepStrictEqual(prefixes, ["lnbc", "lntb", "lntb", "lntbs", "lnbcrt"])
    }).pipe(Effect.provide(layers)))
})
