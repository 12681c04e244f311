/**
 * BOLT 11: invoices decoded and signature-checked per second. Ours with the portable (noble)
 * and the WASM (libsecp256k1) secp256k1, beside the `bolt11` and `@node-lightning/invoice`
 * packages, all on the same invoices in the same run. Every decoder recovers the payee key
 * from the signature (no `n` field), which is where the time goes.
 */
import bolt11 from "bolt11"
import * as nlInvoice from "@node-lightning/invoice"
import { Result } from "effect"
import { nobleSecp256k1, type Secp256k1 } from "../src/protocol/crypto/secp256k1.ts"
import { wasmSecp256k1 } from "../src/layers/crypto/secp256k1-wasm.ts"
import { loadNativeSecp256k1 } from "../src/layers/crypto/secp256k1-native.ts"
import { decodeInvoice, makeInvoice, signAndEncode } from "../src/protocol/invoice/index.ts"
import { msat } from "../src/protocol/units.ts"

const key = new Uint8Array(32).fill(0x42)
const invoices = Array.from({ length: 64 }, (_, i) =>
  signAndEncode(
    Result.getOrThrow(makeInvoice({
      network: "bc",
      amountMsat: msat(BigInt(1000 + i) * 1000n),
      timestamp: 1_700_000_000 + i,
      paymentHash: new Uint8Array(32).fill(i),
      paymentSecret: new Uint8Array(32).fill(255 - i),
      description: { text: `benchmark invoice ${i}` },
      expirySeconds: 3600,
      minFinalCltvExpiryDelta: 80
    })),
    (digest) => nobleSecp256k1.signRecoverable(digest, key)
  )
)

const measure = (name: string, decode: (s: string) => unknown): void => {
  for (let i = 0; i < 50; i++) decode(invoices[i % invoices.length] ?? "") // warm up
  const started = performance.now()
  let n = 0
  while (performance.now() - started < 1500) {
    for (const s of invoices) decode(s)
    n += invoices.length
  }
  const seconds = (performance.now() - started) / 1000
  console.log(`${name.padEnd(40)} ${Math.round(n / seconds).toString().padStart(8)} invoices/s`)
}

const ours = (secp: Secp256k1) => (s: string) => {
  const r = decodeInvoice(s, secp)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

export async function run(): Promise<void> {
  console.log("decode + signature check (payee recovered from the signature)")
  measure("effect-lightning (noble secp256k1)", ours(nobleSecp256k1))
  measure("effect-lightning (WASM libsecp256k1)", ours(wasmSecp256k1))
  const native = loadNativeSecp256k1()
  if (Result.isSuccess(native)) measure("effect-lightning (native libsecp256k1)", ours(native.success))
  measure("bolt11 1.4", (s) => bolt11.decode(s))
  measure("@node-lightning/invoice 0.28", (s) => nlInvoice.decode(s))
}
