/**
 * `POST /v1/invoices/decode` over real HTTP: every spec example decodes to the fields the
 * vectors list, and every invalid one is a 400 naming the reason.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { field, request, ServerLive } from "./harness.ts"

const vectors = JSON.parse(readFileSync(new URL("../vectors/bolt11-invoices.json", import.meta.url), "utf8")) as {
  valid: Array<{ name: string; invoice: string; expected: Record<string, unknown> & { features: { bits: Array<number> } } }>
  invalid: Array<{ reason: string; invoice: string }>
}

const decode = (invoice: string) => request("POST", "/v1/invoices/decode", JSON.stringify({ invoice }))

describe("POST /v1/invoices/decode", () => {
  it.layer(ServerLive)((it) => {
    it.effect("decodes every spec example to its fields", () =>
      Effect.gen(function*() {
        for (const v of vectors.valid) {
          const e = v.expected
          const reply = yield* decode(v.invoice)
          assert.strictEqual(reply.status, 200, v.name)
          const body = reply.body
          assert.strictEqual(field(body, "network"), e["network"], v.name)
          assert.strictEqual(field(body, "amountMsat"), e["amount_msat"] === null ? null : String(e["amount_msat"]), v.name)
          assert.strictEqual(field(body, "timestamp"), e["timestamp"], v.name)
          assert.strictEqual(field(body, "payee"), e["recovered_pubkey"], v.name)
          assert.strictEqual(field(body, "paymentHash"), e["payment_hash"], v.name)
          assert.strictEqual(field(body, "paymentSecret"), e["payment_secret"], v.name)
          assert.strictEqual(field(body, "description"), e["description"] ?? null, v.name)
          assert.strictEqual(field(body, "descriptionHash"), e["description_hash"] ?? null, v.name)
          assert.strictEqual(field(body, "metadata"), e["metadata"] ?? null, v.name)
          assert.strictEqual(field(body, "expirySeconds"), e["expiry"] ?? 3600, v.name)
          assert.strictEqual(field(body, "minFinalCltvExpiryDelta"), e["min_final_cltv_expiry_delta"] ?? 18, v.name)
          assert.strictEqual(field(body, "signature"), e["signature"], v.name)
          const features = field(body, "features") as Array<{ bit: number; name: string | null }>
          assert.deepStrictEqual(features.map((f) => f.bit), e.features.bits, v.name)
          const hints = (e["route_hints"] ?? []) as Array<Array<Record<string, unknown>>>
          assert.deepStrictEqual(
            field(body, "routeHints"),
            hints.map((r) =>
              r.map((h) => ({
                pubkey: h["pubkey"],
                shortChannelId: h["short_channel_id"],
                feeBaseMsat: h["fee_base_msat"],
                feeProportionalMillionths: h["fee_proportional_millionths"],
                cltvExpiryDelta: h["cltv_expiry_delta"]
              }))
            ),
            v.name
          )
          const fallbacks = (e["fallbacks"] ?? []) as Array<Record<string, unknown>>
          assert.deepStrictEqual(
            field(body, "fallbacks"),
            fallbacks.map((f) => ({ version: f["version"], type: f["type"], program: f["program"], address: f["address"] })),
            v.name
          )
        }
        const first = yield* decode(vectors.valid[0]?.invoice ?? "")
        const names = (field(first.body, "features") as Array<{ bit: number; name: string | null; required: boolean }>)
        assert.deepStrictEqual(names, [
          { bit: 8, name: "var_onion_optin", required: true },
          { bit: 14, name: "payment_secret", required: true }
        ])
      }))

    it.effect("an invalid invoice is a 400 with the reason", () =>
      Effect.gen(function*() {
        for (const v of vectors.invalid) {
          const reply = yield* decode(v.invoice)
          assert.strictEqual(reply.status, 400, v.reason)
          assert.strictEqual(field(reply.body, "_tag"), "InvalidInvoice", v.reason)
          assert.isString(field(reply.body, "reason"), v.reason)
          assert.match(String(field(reply.body, "message")), /^invalid invoice: /, v.reason)
        }
        const checksum = yield* decode(vectors.invalid.find((v) => v.reason.includes("checksum"))?.invoice ?? "")
        assert.strictEqual(field(checksum.body, "reason"), "InvalidBech32")
        const missing = yield* request("POST", "/v1/invoices/decode", JSON.stringify({ bolt11: "lnbc1" }))
        assert.strictEqual(missing.status, 400)
        assert.match(String(field(missing.body, "message")), /invoice/)
      }))
  })
})
