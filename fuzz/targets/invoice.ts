/**
 * BOLT 11 decoder: any string gives a typed result, never an exception; and any invoice that
 * decodes re-encodes to the same (lowercase) string, since decoding keeps every field.
 */
import { Result } from "effect"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { decodeInvoice, encodeInvoice } from "../../src/protocol/invoice/index.ts"

const PREFIX = "lnbc1"

export function fuzz(data: Uint8Array): void {
  // Half the inputs get a plausible prefix, so the fuzzer reaches the field parsers sooner.
  const text = new TextDecoder("latin1").decode(data)
  for (const s of [text, PREFIX + text]) {
    const r = decodeInvoice(s, nobleSecp256k1)
    if (Result.isSuccess(r)) {
      const again = encodeInvoice(r.success, r.success.signature, r.success.recovery)
      if (again !== s.toLowerCase()) throw new Error(`re-encoding differs: ${s} -> ${again}`)
    }
  }
}
