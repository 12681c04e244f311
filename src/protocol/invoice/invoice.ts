/**
 * BOLT 11 invoices: decode (with signature check and public-key recovery), encode and the
 * signing hash. Pure: the secp256k1 implementation comes in as a parameter and signing is a
 * function the caller supplies (the node signer service holds the key).
 */
import { Result } from "effect"
import { bech32 } from "@scure/base"
import { sha256 } from "@noble/hashes/sha2.js"
import type { Secp256k1 } from "../crypto/secp256k1.ts"
import { allowedIn, featureOfBit } from "../features.ts"
import { concatBytes } from "../bytes.ts"
import type { Msat } from "../units.ts"
import {
  InvalidBech32,
  InvalidField,
  InvalidSignature,
  MissingField,
  Truncated,
  UnknownRequiredFeature,
  type InvoiceError
} from "./errors.ts"
import { formatHrp, parseHrp, type Network } from "./hrp.ts"
import { decodeField, encodeField, type RouteHintHop, type TaggedField } from "./fields.ts"
import { fallbackType, type Fallback } from "./fallback.ts"
import { bigIntToWordsFixed, wordsToBigInt, wordsToBytesPad } from "./words.ts"

/** What is signed: everything but the signature. Field order is kept as written. */
export interface UnsignedInvoice {
  readonly network: Network
  readonly amountMsat: Msat | undefined
  /** Seconds since 1970 (35 bits). */
  readonly timestamp: number
  readonly fields: ReadonlyArray<TaggedField>
  /**
   * The human-readable part as written, when it is not the canonical one (BOLT 11 readers
   * accept non-shortest amounts such as `2500000n`, and the signature covers the text as
   * written). Absent: `ln` + network + the shortest amount.
   */
  readonly hrp?: string
}

/** The human-readable part an invoice is signed and written with. */
export const hrpOf = (invoice: UnsignedInvoice): string => invoice.hrp ?? formatHrp(invoice.network, invoice.amountMsat)

/** A decoded, signature-checked invoice with the reader's view of its fields. */
export interface Invoice extends UnsignedInvoice {
  /** 64-byte compact r || s. */
  readonly signature: Uint8Array
  readonly recovery: number
  /** The payee: the `n` field when given, else the key recovered from the signature. */
  readonly payee: Uint8Array
  readonly payeeFromField: boolean
  readonly paymentHash: Uint8Array
  readonly paymentSecret: Uint8Array
  readonly description: string | undefined
  readonly descriptionHash: Uint8Array | undefined
  readonly metadata: Uint8Array | undefined
  /** Seconds after `timestamp`; 3600 when absent. */
  readonly expirySeconds: number
  /** 18 when absent. */
  readonly minFinalCltvExpiryDelta: number
  /** Set feature bits, ascending. */
  readonly features: ReadonlyArray<number>
  readonly routeHints: ReadonlyArray<ReadonlyArray<RouteHintHop>>
  readonly fallbacks: ReadonlyArray<Fallback>
}

export const DEFAULT_EXPIRY_SECONDS = 3600
export const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA = 18

/** A bit is understood in an invoice when BOLT 9 assigns it and lets it appear in context 9. */
const isKnownInvoiceFeature = (bit: number): boolean => {
  const feature = featureOfBit(bit)
  return feature !== undefined && allowedIn(feature, "9")
}

export interface DecodeOptions {
  /** Whether an even (required) feature bit is understood; defaults to the BOLT 9 invoice table. */
  readonly isKnownFeature?: (bit: number) => boolean
}

const TIMESTAMP_WORDS = 7
const SIGNATURE_WORDS = 104
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

const hrpBytes = (hrp: string): Uint8Array => new TextEncoder().encode(hrp)

/** Splits `str` into hrp and words, with BOLT 11's reader rules (no 90-character limit). */
const splitBech32 = (str: string): Result.Result<{ hrp: string; words: Uint8Array }, InvalidBech32> => {
  if (str.length === 0) return Result.fail(new InvalidBech32({ reason: "empty", message: "empty invoice" }))
  const lower = str.toLowerCase()
  if (str !== lower && str !== str.toUpperCase()) {
    return Result.fail(new InvalidBech32({ reason: "mixed-case", message: "invoice mixes upper and lower case" }))
  }
  const sep = lower.lastIndexOf("1")
  if (sep < 1) return Result.fail(new InvalidBech32({ reason: "no-separator", message: "no bech32 separator '1'" }))
  if (!/^[qpzry9x8gf2tvdw0s3jn54khce6mua7l]*$/.test(lower.slice(sep + 1)) || sep + 7 > lower.length) {
    return Result.fail(new InvalidBech32({ reason: "invalid-character", message: "invalid bech32 data characters" }))
  }
  const decoded = bech32.decodeUnsafe(lower, false)
  if (decoded === undefined) return Result.fail(new InvalidBech32({ reason: "checksum", message: "bech32 checksum is invalid" }))
  // The words array copied by the typed-array constructor (`Uint8Array.from` walks it through the
  // iterator protocol: ~7% of a decode).
  return Result.succeed({ hrp: decoded.prefix, words: new Uint8Array(decoded.words) })
}

/** The bytes that are hashed and signed: hrp as UTF-8, then the data words zero-padded to bytes. */
export const signingData = (invoice: UnsignedInvoice): Uint8Array =>
  concatBytes(hrpBytes(hrpOf(invoice)), wordsToBytesPad(dataWords(invoice)))

export const signingHash = (invoice: UnsignedInvoice): Uint8Array => sha256(signingData(invoice))

const dataWords = (invoice: UnsignedInvoice): Array<number> => {
  const words = bigIntToWordsFixed(BigInt(invoice.timestamp), TIMESTAMP_WORDS)
  for (const field of invoice.fields) {
    const raw = encodeField(field)
    // type, 10-bit data_length in two words, then the data.
    words.push(raw.type, (raw.words.length >> 5) & 31, raw.words.length & 31)
    for (let i = 0; i < raw.words.length; i++) words.push(raw.words[i] ?? 0)
  }
  return words
}

const MAX_MSAT = 2_100_000_000_000_000_000n
const isU = (v: number, bits: number): boolean => Number.isSafeInteger(v) && v >= 0 && v < 2 ** bits

/** Why a field's value cannot be written (BOLT 11 lengths and ranges), or undefined. */
const fieldProblem = (field: TaggedField): string | undefined => {
  switch (field.tag) {
    case "payment_hash":
    case "payment_secret":
    case "description_hash":
      return field.value.length === 32 ? undefined : `${field.tag} must be 32 bytes`
    case "payee":
      return field.value.length === 33 ? undefined : "payee must be a 33-byte public key"
    case "expiry":
    case "min_final_cltv_expiry_delta":
      return Number.isSafeInteger(field.value) && field.value >= 0 ? undefined : `${field.tag} must be a non-negative integer`
    case "fallback":
      return fallbackType(field.value) === undefined ? "unknown fallback version or program length" : undefined
    case "route_hint":
      if (field.value.length === 0) return "a route hint needs at least one hop"
      for (const hop of field.value) {
        if (hop.pubkey.length !== 33) return "route hint pubkey must be 33 bytes"
        if (hop.shortChannelId < 0n || hop.shortChannelId >= 1n << 64n) return "short_channel_id must fit in 64 bits"
        if (!isU(hop.feeBaseMsat, 32) || !isU(hop.feeProportionalMillionths, 32)) return "route hint fees must fit in 32 bits"
        if (!isU(hop.cltvExpiryDelta, 16)) return "cltv_expiry_delta must fit in 16 bits"
      }
      return undefined
    case "features":
      return field.value.every((bit) => isU(bit, 13)) && new Set(field.value).size === field.value.length
        ? undefined
        : "feature bits must be distinct integers below 8192"
    default:
      return undefined
  }
}

/**
 * Checks that an invoice can be written as BOLT 11 says: each field's value in range and its
 * data at most 1023 words (639 bytes), timestamp in 35 bits, amount positive and at most
 * 21 million bitcoin. Returns the first problem.
 */
export const validateForEncoding = (invoice: UnsignedInvoice): InvalidField | undefined => {
  for (const field of invoice.fields) {
    const problem = fieldProblem(field)
    if (problem !== undefined) return new InvalidField({ field: field.tag, message: problem })
    if (encodeField(field).words.length > 1023) {
      return new InvalidField({ field: field.tag, message: `${field.tag} is longer than 1023 words (639 bytes)` })
    }
  }
  if (invoice.hrp !== undefined) {
    const parsed = parseHrp(invoice.hrp)
    if (Result.isFailure(parsed) || parsed.success.network !== invoice.network || parsed.success.amountMsat !== invoice.amountMsat) {
      return new InvalidField({ field: "hrp", message: "hrp does not state the invoice's network and amount" })
    }
  }
  if (!isU(invoice.timestamp, 35)) {
    return new InvalidField({ field: "timestamp", message: "timestamp must be an integer in [0, 2^35)" })
  }
  if (invoice.amountMsat !== undefined && (invoice.amountMsat <= 0n || invoice.amountMsat > MAX_MSAT)) {
    return new InvalidField({ field: "amount", message: "amount must be positive and at most 21 million bitcoin" })
  }
  return undefined
}

/**
 * The invoice string (lowercase) from its fields and a 64-byte signature with recovery id. The
 * fields must be writable: as `makeInvoice` returns them, or as `decodeInvoice` read them.
 */
export const encodeInvoice = (invoice: UnsignedInvoice, signature: Uint8Array, recovery: number): string => {
  const sig = new Uint8Array(65)
  sig.set(signature)
  sig[64] = recovery
  const words = dataWords(invoice).concat(bech32.toWords(sig))
  return bech32.encode(hrpOf(invoice), words, false)
}

/**
 * The signing hash of an invoice and its encoder, over ONE computation of its data words (a
 * signer in between: hash, sign, then encode, as `createInvoice` does): `encode` gives what
 * `encodeInvoice(invoice, signature, recovery)` gives.
 */
export const prepareSigning = (invoice: UnsignedInvoice): {
  readonly digest: Uint8Array
  readonly encode: (signature: Uint8Array, recovery: number) => string
} => {
  const words = dataWords(invoice)
  const hrp = hrpOf(invoice)
  return {
    digest: sha256(concatBytes(hrpBytes(hrp), wordsToBytesPad(words))),
    encode: (signature, recovery) => {
      const sig = new Uint8Array(65)
      sig.set(signature)
      sig[64] = recovery
      // `concat`, not a spread: no iterator walk (an allocation per word) over ~270 words.
      return bech32.encode(hrp, words.concat(bech32.toWords(sig)), false)
    }
  }
}

/** Signs with a caller-supplied recoverable signer (e.g. the node signer service) and encodes. */
export const signAndEncode = (
  invoice: UnsignedInvoice,
  sign: (digest: Uint8Array) => { readonly signature: Uint8Array; readonly recovery: number }
): string => {
  const signing = prepareSigning(invoice)
  const { recovery, signature } = sign(signing.digest)
  return signing.encode(signature, recovery)
}

export const decodeInvoice = (
  str: string,
  secp: Secp256k1,
  options: DecodeOptions = {}
): Result.Result<Invoice, InvoiceError> => {
  const split = splitBech32(str)
  if (Result.isFailure(split)) return Result.fail(split.failure)
  const { hrp, words } = split.success
  const parsedHrp = parseHrp(hrp)
  if (Result.isFailure(parsedHrp)) return Result.fail(parsedHrp.failure)
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) {
    return Result.fail(new Truncated({ message: "invoice is too short for a timestamp and a signature" }))
  }
  const data = words.subarray(0, words.length - SIGNATURE_WORDS)
  const timestamp = Number(wordsToBigInt(data.subarray(0, TIMESTAMP_WORDS)))

  const fields: Array<TaggedField> = []
  let at = TIMESTAMP_WORDS
  while (at < data.length) {
    if (at + 3 > data.length) return Result.fail(new Truncated({ message: "tagged field header runs past the data" }))
    const type = data[at] ?? 0
    const length = (data[at + 1] ?? 0) * 32 + (data[at + 2] ?? 0)
    if (at + 3 + length > data.length) return Result.fail(new Truncated({ message: `tagged field ${type} runs past the data` }))
    const field = decodeField(type, data.slice(at + 3, at + 3 + length))
    if (Result.isFailure(field)) return Result.fail(field.failure)
    fields.push(field.success)
    at += 3 + length
  }
  const { amountMsat, network } = parsedHrp.success
  const unsigned: UnsignedInvoice = hrp === formatHrp(network, amountMsat)
    ? { network, amountMsat, timestamp, fields }
    : { network, amountMsat, timestamp, fields, hrp }

  // The reader's view: first valid field of each kind wins (BOLT 11: "most-preferred first").
  const first = <T extends TaggedField["tag"]>(tag: T): Extract<TaggedField, { tag: T }> | undefined =>
    fields.find((f): f is Extract<TaggedField, { tag: T }> => f.tag === tag)
  const paymentHash = first("payment_hash")
  if (paymentHash === undefined) return Result.fail(new MissingField({ field: "p", message: "missing payment hash (p)" }))
  const paymentSecret = first("payment_secret")
  if (paymentSecret === undefined) return Result.fail(new MissingField({ field: "s", message: "missing payment secret (s)" }))
  const description = first("description")
  const descriptionHash = first("description_hash")
  if ((description === undefined) === (descriptionHash === undefined)) {
    return Result.fail(new MissingField({ field: "d|h", message: "exactly one of description (d) or description hash (h) is required" }))
  }
  const features = first("features")?.value ?? []
  const isKnown = options.isKnownFeature ?? isKnownInvoiceFeature
  const unknownRequired = features.filter((bit) => bit % 2 === 0 && !isKnown(bit))
  if (unknownRequired.length > 0) {
    return Result.fail(new UnknownRequiredFeature({ bits: unknownRequired, message: `invoice requires unknown feature bit(s) ${unknownRequired.join(", ")}` }))
  }

  // Signature: 64 bytes r || s and a recovery id (BOLT 11 "Data Part").
  const sigBytes = wordsToBytesPad(words.subarray(words.length - SIGNATURE_WORDS)).subarray(0, 65)
  const signature = sigBytes.slice(0, 64)
  const recovery = sigBytes[64] ?? 0
  if (recovery > 3) return Result.fail(new InvalidSignature({ reason: "recovery-id", message: `recovery id ${recovery} is not in 0..3` }))
  // Hash the words as received, not a re-encoding of the parsed fields (BOLT 11 "Data Part").
  const digest = sha256(concatBytes(hrpBytes(hrp), wordsToBytesPad(data)))
  const payeeField = first("payee")
  let payee: Uint8Array
  if (payeeField !== undefined) {
    let s = 0n
    for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(signature[i] ?? 0)
    if (s > HALF_N) return Result.fail(new InvalidSignature({ reason: "high-s", message: "signature is not low-S while the n field is given" }))
    if (!secp.verify(signature, digest, payeeField.value)) {
      return Result.fail(new InvalidSignature({ reason: "mismatch", message: "signature does not match the payee (n) key" }))
    }
    payee = payeeField.value
  } else {
    const recovered = secp.recover(signature, recovery, digest)
    if (recovered === undefined) return Result.fail(new InvalidSignature({ reason: "unrecoverable", message: "no public key can be recovered from the signature" }))
    payee = recovered
  }

  return Result.succeed({
    ...unsigned,
    signature,
    recovery,
    payee,
    payeeFromField: payeeField !== undefined,
    paymentHash: paymentHash.value,
    paymentSecret: paymentSecret.value,
    description: description?.value,
    descriptionHash: descriptionHash?.value,
    metadata: first("metadata")?.value,
    expirySeconds: first("expiry")?.value ?? DEFAULT_EXPIRY_SECONDS,
    minFinalCltvExpiryDelta: first("min_final_cltv_expiry_delta")?.value ?? DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
    features,
    routeHints: fields.flatMap((f) => (f.tag === "route_hint" ? [f.value] : [])),
    fallbacks: fields.flatMap((f) => (f.tag === "fallback" ? [f.value] : []))
  })
}

/** What a payee needs to say to build an invoice; optional parts are omitted when undefined. */
export interface InvoiceParams {
  readonly network: Network
  readonly amountMsat?: Msat | undefined
  readonly timestamp: number
  readonly paymentHash: Uint8Array
  readonly paymentSecret: Uint8Array
  readonly description: { readonly text: string } | { readonly hash: Uint8Array }
  readonly expirySeconds?: number | undefined
  readonly minFinalCltvExpiryDelta?: number | undefined
  /** Include the `n` field (saves the payer a recovery). */
  readonly payee?: Uint8Array | undefined
  readonly metadata?: Uint8Array | undefined
  readonly fallbacks?: ReadonlyArray<Fallback> | undefined
  readonly routeHints?: ReadonlyArray<ReadonlyArray<RouteHintHop>> | undefined
  /** Feature bits to set; defaults to var_onion_optin and payment_secret required (8, 14). */
  readonly features?: ReadonlyArray<number> | undefined
}

/**
 * Builds the fields in a conventional order (p, s, d|h, x, c, n, m, f*, r*, 9), or says which
 * value cannot be written (e.g. a description over 639 bytes).
 */
export const makeInvoice = (p: InvoiceParams): Result.Result<UnsignedInvoice, InvalidField> => {
  const fields: Array<TaggedField> = [
    { tag: "payment_hash", value: p.paymentHash },
    { tag: "payment_secret", value: p.paymentSecret },
    "text" in p.description
      ? { tag: "description", value: p.description.text }
      : { tag: "description_hash", value: p.description.hash }
  ]
  if (p.expirySeconds !== undefined) fields.push({ tag: "expiry", value: p.expirySeconds })
  if (p.minFinalCltvExpiryDelta !== undefined) fields.push({ tag: "min_final_cltv_expiry_delta", value: p.minFinalCltvExpiryDelta })
  if (p.payee !== undefined) fields.push({ tag: "payee", value: p.payee })
  if (p.metadata !== undefined) fields.push({ tag: "metadata", value: p.metadata })
  for (const f of p.fallbacks ?? []) fields.push({ tag: "fallback", value: f })
  for (const r of p.routeHints ?? []) fields.push({ tag: "route_hint", value: r })
  const features = [...(p.features ?? [8, 14])].sort((a, b) => a - b)
  if (features.length > 0) fields.push({ tag: "features", value: features })
  const invoice: UnsignedInvoice = { network: p.network, amountMsat: p.amountMsat, timestamp: p.timestamp, fields }
  const problem = validateForEncoding(invoice)
  return problem === undefined ? Result.succeed(invoice) : Result.fail(problem)
}
