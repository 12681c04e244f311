/**
 * Bitcoin script encoding: opcodes, minimal pushes (BIP 62 minimal-push rules, which the
 * BOLT 3 scripts follow byte for byte), script numbers, and the standard output scripts
 * (P2WPKH, P2WSH, P2TR, P2PKH). Decoding arbitrary bytes returns a typed error, never throws.
 */
import { Data, Result } from "effect"
import { concatBytes } from "../../bytes.ts"
import { hash160, sha256Into } from "./hash.ts"

export const OP = {
  OP_0: 0x00,
  OP_PUSHDATA1: 0x4c,
  OP_PUSHDATA2: 0x4d,
  OP_PUSHDATA4: 0x4e,
  OP_1NEGATE: 0x4f,
  OP_1: 0x51,
  OP_2: 0x52,
  OP_16: 0x60,
  OP_NOP: 0x61,
  OP_IF: 0x63,
  OP_NOTIF: 0x64,
  OP_ELSE: 0x67,
  OP_ENDIF: 0x68,
  OP_VERIFY: 0x69,
  OP_RETURN: 0x6a,
  OP_IFDUP: 0x73,
  OP_DROP: 0x75,
  OP_DUP: 0x76,
  OP_SWAP: 0x7c,
  OP_SIZE: 0x82,
  OP_EQUAL: 0x87,
  OP_EQUALVERIFY: 0x88,
  OP_HASH160: 0xa9,
  OP_CHECKSIG: 0xac,
  OP_CHECKSIGVERIFY: 0xad,
  OP_CHECKMULTISIG: 0xae,
  OP_CHECKMULTISIGVERIFY: 0xaf,
  OP_CHECKLOCKTIMEVERIFY: 0xb1,
  OP_CHECKSEQUENCEVERIFY: 0xb2
} as const

/** A script element: an opcode (number) or data to push (Uint8Array, pushed minimally). */
export type ScriptChunk = number | Uint8Array

/** Minimal encoding of a push of `data` (BIP 62): small values use OP_0/OP_1..16/OP_1NEGATE. */
export const encodePush = (data: Uint8Array): Uint8Array => {
  const n = data.length
  if (n === 0) return Uint8Array.of(OP.OP_0)
  if (n === 1) {
    const v = data[0] ?? 0
    if (v >= 1 && v <= 16) return Uint8Array.of(OP.OP_1 + v - 1)
    if (v === 0x81) return Uint8Array.of(OP.OP_1NEGATE)
  }
  if (n <= 75) return concatBytes(Uint8Array.of(n), data)
  if (n <= 0xff) return concatBytes(Uint8Array.of(OP.OP_PUSHDATA1, n), data)
  if (n <= 0xffff) return concatBytes(Uint8Array.of(OP.OP_PUSHDATA2, n & 0xff, n >>> 8), data)
  return concatBytes(Uint8Array.of(OP.OP_PUSHDATA4, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24), data)
}

/** CScriptNum: little-endian sign-magnitude, minimal length. */
export const scriptNumBytes = (value: number | bigint): Uint8Array => {
  let v = BigInt(value)
  if (v === 0n) return new Uint8Array(0)
  const negative = v < 0n
  if (negative) v = -v
  const out: Array<number> = []
  while (v > 0n) {
    out.push(Number(v & 0xffn))
    v >>= 8n
  }
  const last = out[out.length - 1] ?? 0
  if ((last & 0x80) !== 0) out.push(negative ? 0x80 : 0x00)
  else if (negative) out[out.length - 1] = last | 0x80
  return Uint8Array.from(out)
}

/** A number as a script chunk: OP_0, OP_1..OP_16, OP_1NEGATE, or a minimal CScriptNum push. */
export const num = (value: number | bigint): ScriptChunk => {
  const v = BigInt(value)
  if (v === 0n) return OP.OP_0
  if (v === -1n) return OP.OP_1NEGATE
  if (v >= 1n && v <= 16n) return OP.OP_1 + Number(v) - 1
  return scriptNumBytes(v)
}

/** Size of the minimal push of `n` bytes whose first byte is `first`. */
const pushSize = (n: number, first: number): number => {
  if (n === 0) return 1
  if (n === 1 && ((first >= 1 && first <= 16) || first === 0x81)) return 1
  if (n <= 75) return 1 + n
  if (n <= 0xff) return 2 + n
  if (n <= 0xffff) return 3 + n
  return 5 + n
}

/** Serializes chunks: numbers are opcodes, byte arrays are minimal pushes (one allocation). */
export const compileScript = (chunks: ReadonlyArray<ScriptChunk>): Uint8Array => {
  let size = 0
  for (const c of chunks) size += typeof c === "number" ? 1 : pushSize(c.length, c[0] ?? 0)
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    if (typeof c === "number") {
      out[at++] = c
      continue
    }
    if (c.length <= 75 && pushSize(c.length, c[0] ?? 0) === 1 + c.length) {
      out[at++] = c.length
      out.set(c, at)
      at += c.length
    } else {
      const p = encodePush(c)
      out.set(p, at)
      at += p.length
    }
  }
  return out
}

export class ScriptDecodeError extends Data.TaggedError("ScriptDecodeError")<{
  readonly offset: number
  readonly reason: string
}> {}

/** A decoded script element: an opcode, or a push with the exact data it pushes. */
export type DecodedChunk =
  | { readonly _tag: "Op"; readonly opcode: number }
  | { readonly _tag: "Push"; readonly opcode: number; readonly data: Uint8Array }

/** Splits a script into opcodes and pushes; a truncated push is an error. */
export const decompileScript = (script: Uint8Array): Result.Result<ReadonlyArray<DecodedChunk>, ScriptDecodeError> => {
  const out: Array<DecodedChunk> = []
  let i = 0
  while (i < script.length) {
    const start = i
    const op = script[i++] ?? 0
    let len = -1
    if (op >= 1 && op <= 75) len = op
    else if (op === OP.OP_PUSHDATA1) {
      if (i + 1 > script.length) return Result.fail(new ScriptDecodeError({ offset: start, reason: "truncated PUSHDATA1" }))
      len = script[i] ?? 0
      i += 1
    } else if (op === OP.OP_PUSHDATA2) {
      if (i + 2 > script.length) return Result.fail(new ScriptDecodeError({ offset: start, reason: "truncated PUSHDATA2" }))
      len = (script[i] ?? 0) | ((script[i + 1] ?? 0) << 8)
      i += 2
    } else if (op === OP.OP_PUSHDATA4) {
      if (i + 4 > script.length) return Result.fail(new ScriptDecodeError({ offset: start, reason: "truncated PUSHDATA4" }))
      len = ((script[i] ?? 0) | ((script[i + 1] ?? 0) << 8) | ((script[i + 2] ?? 0) << 16)) + (script[i + 3] ?? 0) * 0x1000000
      i += 4
    }
    if (len < 0) {
      out.push({ _tag: "Op", opcode: op })
      continue
    }
    if (i + len > script.length) return Result.fail(new ScriptDecodeError({ offset: start, reason: "push beyond end of script" }))
    out.push({ _tag: "Push", opcode: op, data: script.slice(i, i + len) })
    i += len
  }
  return Result.succeed(out)
}

/** P2WPKH output script: OP_0 <HASH160(pubkey)>. */
export const p2wpkhScript = (pubkey: Uint8Array): Uint8Array => witnessProgram(hash160(pubkey))
/**
 * P2WSH output script: OP_0 <SHA256(witnessScript)>, the hash written straight into it (no array of
 * its own: one per output script of every commitment built).
 */
export const p2wshScript = (witnessScript: Uint8Array): Uint8Array => {
  const out = new Uint8Array(34)
  out[0] = OP.OP_0
  out[1] = 32
  sha256Into(witnessScript, out, 2)
  return out
}
/** OP_0 and the push of a 20- or 32-byte hash (what `compileScript([OP_0, hash])` writes), one per output built. */
const witnessProgram = (hash: Uint8Array): Uint8Array => {
  const out = new Uint8Array(2 + hash.length)
  out[0] = OP.OP_0
  out[1] = hash.length
  out.set(hash, 2)
  return out
}
/** P2TR output script: OP_1 <32-byte x-only output key>. */
export const p2trScript = (outputKey: Uint8Array): Uint8Array => compileScript([OP.OP_1, outputKey])
/** P2PKH output script (legacy; needed for the BOLT 3 Appendix B funding input). */
export const p2pkhScript = (pubkey: Uint8Array): Uint8Array =>
  compileScript([OP.OP_DUP, OP.OP_HASH160, hash160(pubkey), OP.OP_EQUALVERIFY, OP.OP_CHECKSIG])

/** BIP 143 scriptCode of a P2WPKH input: the P2PKH script of the key hash. */
export const p2wpkhScriptCode = (pubkey: Uint8Array): Uint8Array => p2pkhScript(pubkey)

export const isP2wpkh = (s: Uint8Array): boolean => s.length === 22 && s[0] === OP.OP_0 && s[1] === 20
export const isP2wsh = (s: Uint8Array): boolean => s.length === 34 && s[0] === OP.OP_0 && s[1] === 32
export const isP2tr = (s: Uint8Array): boolean => s.length === 34 && s[0] === OP.OP_1 && s[1] === 32
export const isP2pkh = (s: Uint8Array): boolean =>
  s.length === 25 && s[0] === OP.OP_DUP && s[1] === OP.OP_HASH160 && s[2] === 20 && s[23] === OP.OP_EQUALVERIFY && s[24] === OP.OP_CHECKSIG
export const isP2sh = (s: Uint8Array): boolean => s.length === 23 && s[0] === OP.OP_HASH160 && s[1] === 20 && s[22] === OP.OP_EQUAL
/** Pay-to-anchor (BIP 433): OP_1 <0x4e73>. */
export const isP2a = (s: Uint8Array): boolean => s.length === 4 && s[0] === OP.OP_1 && s[1] === 2 && s[2] === 0x4e && s[3] === 0x73
/** A witness program of version 1..16 with a 2..40 byte program (BIP 141). */
export const isSegwitV1Plus = (s: Uint8Array): boolean => {
  const v = s[0] ?? 0
  const len = s[1] ?? 0
  return s.length >= 4 && s.length <= 42 && v >= OP.OP_1 && v <= OP.OP_16 && len >= 2 && len <= 40 && s.length === len + 2
}
export const isOpReturn = (s: Uint8Array): boolean => s.length > 0 && s[0] === OP.OP_RETURN
