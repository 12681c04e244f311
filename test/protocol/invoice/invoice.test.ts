import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { secp256k1Backends } from "../../layers/crypto/backends.ts"
import {
  decodeInvoice,
  encodeInvoice,
  fallbackAddress,
  fieldLetter,
  FieldType,
  signAndEncode,
  signingData,
  signingHash,
  type Invoice,
  type TaggedField
} from "../../../src/protocol/invoice/index.ts"

interface Hop {
  pubkey: string
  short_channel_id: string
  fee_base_msat: number
  fee_proportional_millionths: number
  cltv_expiry_delta: number
}
interface Expected {
  network: string
  amount_msat: number | null
  timestamp: number
  payment_hash: string
  payment_secret: string
  description?: string
  description_hash?: string
  metadata?: string
  expiry?: number
  min_final_cltv_expiry_delta?: number
  features: { bits: Array<number> }
  fallbacks?: Array<{ version: number; program: string; type: string; address: string }>
  route_hints?: Array<Array<Hop>>
  tagged_field_order: Array<string>
  ignored_fields?: Array<{ tag: string; data_length: number }>
  signature: string
  recovery_flag: number
  signing_data: string
  signing_hash: string
  high_s: boolean
  recovered_pubkey: string
}
const vectors = JSON.parse(readFileSync(new URL("../../vectors/bolt11-invoices.json", import.meta.url), "utf8")) as {
  signing_privkey: string
  valid: Array<{ name: string; invoice: string; expected: Expected }>
  invalid: Array<{ reason: string; invoice: string }>
}
const privkey = fromHex(vectors.signing_privkey)

const scid = (v: bigint): string => `${v >> 40n}x${(v >> 16n) & 0xffffffn}x${v & 0xffffn}`
const letter = (f: TaggedField): string => fieldLetter(f.tag === "unknown" || f.tag === "ignored" ? f.type : FieldType[f.tag])

const decodeOk = (s: string, secp: Secp256k1 = nobleSecp256k1): Invoice => {
  const r = decodeInvoice(s, secp)
  if (Result.isFailure(r)) throw new Error(`decode failed: ${r.failure.message}`)
  return r.success
}

// Every vector with every secp256k1 backend (noble, WASM, native): the payee is recovered from
// the signature, and the invoice signed anew (RFC 6979) gives the same string.
for (const secp of secp256k1Backends) describe(`BOLT 11 valid invoices (all spec examples) with ${secp.name}`, () => {
  it("has the 16 vectors", () => expect(vectors.valid.length).toBe(16))
  for (const v of vectors.valid) {
    it(v.name, () => {
      const e = v.expected
      const inv = decodeOk(v.invoice, secp)
      expect(inv.network).toBe(e.network)
      expect(inv.amountMsat === undefined ? null : Number(inv.amountMsat)).toBe(e.amount_msat)
      expect(inv.timestamp).toBe(e.timestamp)
      expect(toHex(inv.paymentHash)).toBe(e.payment_hash)
      expect(toHex(inv.paymentSecret)).toBe(e.payment_secret)
      expect(inv.description).toBe(e.description)
      expect(inv.descriptionHash === undefined ? undefined : toHex(inv.descriptionHash)).toBe(e.description_hash)
      expect(inv.metadata === undefined ? undefined : toHex(inv.metadata)).toBe(e.metadata)
      expect(inv.expirySeconds).toBe(e.expiry ?? 3600)
      expect(inv.minFinalCltvExpiryDelta).toBe(e.min_final_cltv_expiry_delta ?? 18)
      expect(inv.features).toEqual(e.features.bits)
      expect(
        inv.fallbacks.map((f) => ({ version: f.version, program: toHex(f.program), address: fallbackAddress(f, inv.network) }))
      ).toEqual((e.fallbacks ?? []).map((f) => ({ version: f.version, program: f.program, address: f.address })))
      expect(
        inv.routeHints.map((r) =>
          r.map((h) => ({
            pubkey: toHex(h.pubkey),
            short_channel_id: scid(h.shortChannelId),
            fee_base_msat: h.feeBaseMsat,
            fee_proportional_millionths: h.feeProportionalMillionths,
            cltv_expiry_delta: h.cltvExpiryDelta
          }))
        )
      ).toEqual(e.route_hints ?? [])
      expect(inv.fields.map(letter)).toEqual(e.tagged_field_order)
      expect(inv.fields.filter((f) => f.tag === "ignored").map((f) => letter(f))).toEqual((e.ignored_fields ?? []).map((f) => f.tag))
      expect(toHex(inv.signature)).toBe(e.signature)
      expect(inv.recovery).toBe(e.recovery_flag)
      expect(toHex(signingData(inv))).toBe(e.signing_data)
      expect(toHex(signingHash(inv))).toBe(e.signing_hash)
      expect(toHex(inv.payee)).toBe(e.recovered_pubkey)

      // Encode back to the exact same string: signed anew (RFC 6979 is deterministic), or, for
      // the deliberately non-canonical high-S example, with the given signature.
      const encoded = e.high_s
        ? encodeInvoice(inv, inv.signature, inv.recovery)
        : signAndEncode(inv, (digest) => secp.signRecoverable(digest, privkey))
      const expectedString = v.invoice === v.invoice.toUpperCase() ? v.invoice.toLowerCase() : v.invoice
      expect(encoded).toBe(expectedString)
    })
  }
})

const expectedTag: Record<string, string> = {
  "Same, but adding invalid unknown feature 100": "UnknownRequiredFeature",
  "Bech32 checksum is invalid": "InvalidBech32",
  "Malformed bech32 string (no 1)": "InvalidBech32",
  "Malformed bech32 string (mixed case)": "InvalidBech32",
  "Signature is not recoverable": "InvalidSignature",
  "String is too short": "Truncated",
  "Invalid multiplier": "InvalidHrp",
  "Invalid sub-millisatoshi precision": "InvalidHrp",
  "Missing required `s` field": "MissingField",
  "Non canonical signature (high-S) with 'n' field defined": "InvalidSignature"
}
const expectedReason: Record<string, string> = {
  "Bech32 checksum is invalid": "checksum",
  "Malformed bech32 string (no 1)": "no-separator",
  "Malformed bech32 string (mixed case)": "mixed-case",
  "Signature is not recoverable": "unrecoverable",
  "Invalid multiplier": "multiplier",
  "Invalid sub-millisatoshi precision": "sub-millisatoshi",
  "Non canonical signature (high-S) with 'n' field defined": "high-s"
}

for (const secp of secp256k1Backends) describe(`BOLT 11 invalid invoices (all spec examples) with ${secp.name}`, () => {
  it("has the 10 vectors", () => expect(vectors.invalid.length).toBe(10))
  for (const v of vectors.invalid) {
    it(v.reason, () => {
      const r = decodeInvoice(v.invoice, secp)
      expect(Result.isFailure(r)).toBe(true)
      if (Result.isSuccess(r)) return
      expect(r.failure._tag).toBe(expectedTag[v.reason])
      const reason = expectedReason[v.reason]
      if (reason !== undefined) expect("reason" in r.failure ? r.failure.reason : undefined).toBe(reason)
      if (v.reason === "Missing required `s` field") expect("field" in r.failure ? r.failure.field : undefined).toBe("s")
      if (v.reason.includes("feature 100")) expect("bits" in r.failure ? r.failure.bits : undefined).toEqual([100])
    })
  }
})
