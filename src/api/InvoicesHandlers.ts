/** Handlers of the `invoices` group (`InvoicesApi.ts`): pure BOLT 11 decoding, no node state needed. */
import { Effect, Result } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Secp256k1Best } from "../layers/crypto/secp256k1-best.ts"
import { toHex } from "../protocol/bytes.ts"
import { formatShortChannelId } from "../protocol/codec/fields.ts"
import { featureOfBit } from "../protocol/features.ts"
import { decodeInvoice, fallbackAddress, fallbackType, type Invoice } from "../protocol/invoice/index.ts"
import { ControlApi } from "./ControlApi.ts"
import { InvalidInvoice } from "./errors.ts"
import type { DecodedInvoice } from "./schemas.ts"

const hexOrNull = (bytes: Uint8Array | undefined): string | null => (bytes === undefined ? null : toHex(bytes))

export const invoiceToJson = (inv: Invoice): DecodedInvoice => ({
  network: inv.network,
  amountMsat: inv.amountMsat === undefined ? null : inv.amountMsat.toString(),
  timestamp: inv.timestamp,
  expirySeconds: inv.expirySeconds,
  expiresAt: inv.timestamp + inv.expirySeconds,
  payee: toHex(inv.payee),
  payeeFromField: inv.payeeFromField,
  paymentHash: toHex(inv.paymentHash),
  paymentSecret: toHex(inv.paymentSecret),
  description: inv.description ?? null,
  descriptionHash: hexOrNull(inv.descriptionHash),
  metadata: hexOrNull(inv.metadata),
  minFinalCltvExpiryDelta: inv.minFinalCltvExpiryDelta,
  features: inv.features.map((bit) => ({
    bit,
    name: featureOfBit(bit)?.name ?? null,
    required: bit % 2 === 0
  })),
  routeHints: inv.routeHints.map((route) =>
    route.map((hop) => ({
      pubkey: toHex(hop.pubkey),
      shortChannelId: formatShortChannelId(hop.shortChannelId),
      feeBaseMsat: hop.feeBaseMsat,
      feeProportionalMillionths: hop.feeProportionalMillionths,
      cltvExpiryDelta: hop.cltvExpiryDelta
    }))
  ),
  fallbacks: inv.fallbacks.map((f) => ({
    version: f.version,
    type: fallbackType(f) ?? "unknown",
    program: toHex(f.program),
    address: fallbackAddress(f, inv.network) ?? null
  })),
  signature: toHex(inv.signature),
  recoveryId: inv.recovery
})

export const InvoicesHandlers = HttpApiBuilder.group(
  ControlApi,
  "invoices",
  (handlers) =>
    handlers.handle("decode", ({ payload }) =>
      Effect.flatMap(Secp256k1Best, ({ secp }) => {
        const decoded = decodeInvoice(payload.invoice.trim(), secp)
        return Result.isSuccess(decoded)
          ? Effect.succeed(invoiceToJson(decoded.success))
          : Effect.fail(
            new InvalidInvoice({
              reason: decoded.failure._tag,
              message: `invalid invoice: ${decoded.failure.message}`
            })
          )
      }))
)
