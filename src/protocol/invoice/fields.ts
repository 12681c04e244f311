/**
 * BOLT 11 tagged fields ("Tagged Fields"): each is a 5-bit type, a 10-bit data_length in words
 * and the data. A decoded invoice keeps every field in order, including unknown ones and those
 * a reader must skip, so that re-encoding gives back the exact same string.
 */
import { bech32 } from "@scure/base"
import { Result } from "effect"
import { InvalidField } from "./errors.ts"
import { bigIntToWords, wordsToBigInt, wordsToBytesTrim } from "./words.ts"
import { fallbackType, type Fallback } from "./fallback.ts"
import { ShortChannelId } from "../codec/fields.ts"

/** One hop of an `r` field: a private channel leading towards the payee (BOLT 7 fee fields). */
export interface RouteHintHop {
  readonly pubkey: Uint8Array
  readonly shortChannelId: ShortChannelId
  readonly feeBaseMsat: number
  readonly feeProportionalMillionths: number
  readonly cltvExpiryDelta: number
}

export type TaggedField =
  | { readonly tag: "payment_hash"; readonly value: Uint8Array }
  | { readonly tag: "payment_secret"; readonly value: Uint8Array }
  | { readonly tag: "description"; readonly value: string }
  | { readonly tag: "description_hash"; readonly value: Uint8Array }
  | { readonly tag: "metadata"; readonly value: Uint8Array }
  | { readonly tag: "payee"; readonly value: Uint8Array }
  | { readonly tag: "expiry"; readonly value: number }
  | { readonly tag: "min_final_cltv_expiry_delta"; readonly value: number }
  | { readonly tag: "fallback"; readonly value: Fallback }
  | { readonly tag: "route_hint"; readonly value: ReadonlyArray<RouteHintHop> }
  /** Set feature bits, ascending (bit 0 is the least significant). */
  | { readonly tag: "features"; readonly value: ReadonlyArray<number> }
  /** A type this reader does not know: ignored, kept for re-encoding. */
  | { readonly tag: "unknown"; readonly type: number; readonly words: Uint8Array }
  /** A known type a reader MUST skip (wrong fixed length, unknown fallback version). */
  | { readonly tag: "ignored"; readonly type: number; readonly words: Uint8Array; readonly why: string }

/** Type numbers and their bech32 letters. */
export const FieldType = {
  payment_hash: 1, // p
  payment_secret: 16, // s
  description: 13, // d
  description_hash: 23, // h
  metadata: 27, // m
  payee: 19, // n
  expiry: 6, // x
  min_final_cltv_expiry_delta: 24, // c
  fallback: 9, // f
  route_hint: 3, // r
  features: 5 // 9
} as const

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
export const fieldLetter = (type: number): string => CHARSET[type] ?? "?"

const fixed = (bytes: number): number => Math.ceil((bytes * 8) / 5)
const ROUTE_HOP_BYTES = 33 + 8 + 4 + 4 + 2
const utf8 = new TextDecoder("utf-8", { fatal: true })

const readU = (b: Uint8Array, at: number, n: number): number => {
  let v = 0
  for (let i = 0; i < n; i++) v = v * 256 + (b[at + i] ?? 0)
  return v
}
const writeU = (out: Uint8Array, at: number, n: number, v: number | bigint): void => {
  let x = BigInt(v)
  for (let i = n - 1; i >= 0; i--) {
    out[at + i] = Number(x & 0xffn)
    x >>= 8n
  }
}

const minimalInt = (field: string, words: Uint8Array): Result.Result<number, InvalidField> => {
  if (words.length > 0 && words[0] === 0) {
    return Result.fail(new InvalidField({ field, message: `${field} is not minimally encoded (leading zero word)` }))
  }
  const n = wordsToBigInt(words)
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Result.fail(new InvalidField({ field, message: `${field} is too large` }))
  return Result.succeed(Number(n))
}

/** Interprets one raw field. Fixed-length fields of the wrong length become `ignored` (BOLT 11 reader rule). */
export const decodeField = (type: number, words: Uint8Array): Result.Result<TaggedField, InvalidField> => {
  const ignored = (why: string): Result.Result<TaggedField, InvalidField> => Result.succeed({ tag: "ignored", type, words, why })
  switch (type) {
    case FieldType.payment_hash:
    case FieldType.payment_secret:
    case FieldType.description_hash: {
      if (words.length !== fixed(32)) return ignored(`data_length ${words.length}, expected 52`)
      const tag = type === FieldType.payment_hash ? "payment_hash" : type === FieldType.payment_secret ? "payment_secret" : "description_hash"
      return Result.succeed({ tag, value: wordsToBytesTrim(words) })
    }
    case FieldType.payee:
      if (words.length !== fixed(33)) return ignored(`data_length ${words.length}, expected 53`)
      return Result.succeed({ tag: "payee", value: wordsToBytesTrim(words) })
    case FieldType.description: {
      try {
        return Result.succeed({ tag: "description", value: utf8.decode(wordsToBytesTrim(words)) })
      } catch {
        return Result.fail(new InvalidField({ field: "d", message: "description is not valid UTF-8" }))
      }
    }
    case FieldType.metadata:
      return Result.succeed({ tag: "metadata", value: wordsToBytesTrim(words) })
    case FieldType.expiry:
      return Result.map(minimalInt("x", words), (value) => ({ tag: "expiry" as const, value }))
    case FieldType.min_final_cltv_expiry_delta:
      return Result.map(minimalInt("c", words), (value) => ({ tag: "min_final_cltv_expiry_delta" as const, value }))
    case FieldType.fallback: {
      const version = words[0]
      if (version === undefined) return Result.fail(new InvalidField({ field: "f", message: "empty fallback field" }))
      const value = { version, program: wordsToBytesTrim(words.subarray(1)) }
      if (fallbackType(value) === undefined) return ignored(`unknown fallback version ${version} or program length`)
      return Result.succeed({ tag: "fallback", value })
    }
    case FieldType.route_hint: {
      const bytes = wordsToBytesTrim(words)
      if (bytes.length === 0 || bytes.length % ROUTE_HOP_BYTES !== 0) {
        return Result.fail(new InvalidField({ field: "r", message: `route hint of ${bytes.length} bytes is not a whole number of 51-byte hops` }))
      }
      const hops: Array<RouteHintHop> = []
      for (let at = 0; at < bytes.length; at += ROUTE_HOP_BYTES) {
        let scid = 0n
        for (let i = 0; i < 8; i++) scid = (scid << 8n) | BigInt(bytes[at + 33 + i] ?? 0)
        hops.push({
          pubkey: bytes.slice(at, at + 33),
          shortChannelId: ShortChannelId(scid),
          feeBaseMsat: readU(bytes, at + 41, 4),
          feeProportionalMillionths: readU(bytes, at + 45, 4),
          cltvExpiryDelta: readU(bytes, at + 49, 2)
        })
      }
      return Result.succeed({ tag: "route_hint", value: hops })
    }
    case FieldType.features: {
      if (words.length > 0 && words[0] === 0) {
        return Result.fail(new InvalidField({ field: "9", message: "features are not minimally encoded (leading zero word)" }))
      }
      const bits: Array<number> = []
      for (let i = 0; i < words.length; i++) {
        const word = words[words.length - 1 - i] ?? 0
        for (let b = 0; b < 5; b++) if ((word >> b) & 1) bits.push(i * 5 + b)
      }
      return Result.succeed({ tag: "features", value: bits })
    }
    default:
      return Result.succeed({ tag: "unknown", type, words })
  }
}

/** The raw form of a field: its type and data words. */
export const encodeField = (field: TaggedField): { readonly type: number; readonly words: ArrayLike<number> } => {
  switch (field.tag) {
    case "payment_hash":
    case "payment_secret":
    case "description_hash":
    case "payee":
    case "metadata":
      return { type: FieldType[field.tag], words: bech32.toWords(field.value) }
    case "description":
      return { type: FieldType.description, words: bech32.toWords(new TextEncoder().encode(field.value)) }
    case "expiry":
    case "min_final_cltv_expiry_delta":
      return { type: FieldType[field.tag], words: bigIntToWords(BigInt(field.value)) }
    case "fallback":
      return { type: FieldType.fallback, words: [field.value.version, ...bech32.toWords(field.value.program)] }
    case "route_hint": {
      const bytes = new Uint8Array(field.value.length * ROUTE_HOP_BYTES)
      field.value.forEach((hop, i) => {
        const at = i * ROUTE_HOP_BYTES
        bytes.set(hop.pubkey, at)
        writeU(bytes, at + 33, 8, hop.shortChannelId)
        writeU(bytes, at + 41, 4, hop.feeBaseMsat)
        writeU(bytes, at + 45, 4, hop.feeProportionalMillionths)
        writeU(bytes, at + 49, 2, hop.cltvExpiryDelta)
      })
      return { type: FieldType.route_hint, words: bech32.toWords(bytes) }
    }
    case "features": {
      const top = field.value.reduce((m, b) => Math.max(m, b), -1)
      const words = new Array<number>(Math.floor(top / 5) + 1).fill(0)
      for (const bit of field.value) {
        const i = words.length - 1 - Math.floor(bit / 5)
        words[i] = (words[i] ?? 0) | (1 << bit % 5)
      }
      return { type: FieldType.features, words: top < 0 ? [] : words }
    }
    case "unknown":
    case "ignored":
      return { type: field.type, words: field.words }
  }
}
