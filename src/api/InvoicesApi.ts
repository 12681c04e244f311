/** `invoices` group of the control API: decode a BOLT 11 invoice into every field it carries. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { InvalidInvoice, InvalidRequest } from "./errors.ts"
import { DecodeInvoiceRequest, DecodedInvoice } from "./schemas.ts"

export class InvoicesApi extends HttpApiGroup.make("invoices")
  .add(
    HttpApiEndpoint.post("decode", "/v1/invoices/decode", {
      payload: DecodeInvoiceRequest,
      success: DecodedInvoice,
      error: [InvalidRequest, InvalidInvoice]
    }).annotate(
      OpenApi.Description,
      "Decodes and signature-checks a BOLT 11 invoice. An invalid invoice is a 400 whose `reason` names what is wrong."
    )
  )
  .annotateMerge(OpenApi.annotations({ title: "Invoices" }))
{}
