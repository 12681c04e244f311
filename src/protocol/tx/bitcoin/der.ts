/**
 * ECDSA signature encodings: strict DER (BIP 66) <-> 64-byte compact (r || s), low-S checks
 * (BIP 146 LOW_S, which BOLT 2 requires of every signature), and the transaction form
 * DER || sighash byte that goes in witnesses. Decoders return typed errors, never throw.
 */
import { Data, Result } from "effect"
import { concatBytes } from "../../bytes.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_N = N >> 1n

export class SignatureEncodingError extends Data.TaggedError("SignatureEncodingError")<{ readonly reason: string }> {}

const toBig = (b: Uint8Array): bigint => {
  let n = 0n
  for (const x of b) n = (n << 8n) | BigInt(x)
  return n
}

/** Minimal DER INTEGER body of a 32-byte big-endian unsigned value. */
const derInt = (v: Uint8Array): Uint8Array => {
  let i = 0
  while (i < v.length - 1 && v[i] === 0) i++
  const trimmed = v.subarray(i)
  return (trimmed[0] ?? 0) & 0x80 ? concatBytes(Uint8Array.of(0), trimmed) : trimmed
}

/** DER encoding of a compact 64-byte signature (r || s). */
export const compactToDer = (compact: Uint8Array): Uint8Array => {
  const r = derInt(compact.subarray(0, 32))
  const s = derInt(compact.subarray(32, 64))
  return concatBytes(Uint8Array.of(0x30, 4 + r.length + s.length, 0x02, r.length), r, Uint8Array.of(0x02, s.length), s)
}

/** Whether the compact signature's S is at most n/2. */
export const isLowS = (compact: Uint8Array): boolean => compact.length === 64 && toBig(compact.subarray(32, 64)) <= HALF_N

const fail = (reason: string) => Result.fail(new SignatureEncodingError({ reason }))

/** Strict BIP 66 DER -> compact 64 bytes. R and S must be in 1..n-1; high S is accepted here (see `isLowS`). */
export const derToCompact = (der: Uint8Array): Result.Result<Uint8Array, SignatureEncodingError> => {
  if (der.length < 8 || der.length > 72) return fail("bad DER length")
  if (der[0] !== 0x30) return fail("not a DER sequence")
  if (der[1] !== der.length - 2) return fail("DER sequence length mismatch")
  if (der[2] !== 0x02) return fail("R is not an INTEGER")
  const lenR = der[3] ?? 0
  if (lenR === 0) return fail("empty R")
  if (5 + lenR >= der.length) return fail("R overflows")
  if (der[4 + lenR] !== 0x02) return fail("S is not an INTEGER")
  const lenS = der[5 + lenR] ?? 0
  if (lenS === 0) return fail("empty S")
  if (6 + lenR + lenS !== der.length) return fail("S length mismatch")
  const r = der.subarray(4, 4 + lenR)
  const s = der.subarray(6 + lenR, 6 + lenR + lenS)
  for (const [name, v] of [["R", r], ["S", s]] as const) {
    if ((v[0] ?? 0) & 0x80) return fail(`negative ${name}`)
    if (v.length > 1 && v[0] === 0 && ((v[1] ?? 0) & 0x80) === 0) return fail(`non-minimal ${name}`)
    if (v.length > 33 || (v.length === 33 && v[0] !== 0)) return fail(`${name} too large`)
    const n = toBig(v)
    if (n === 0n || n >= N) return fail(`${name} out of range`)
  }
  const out = new Uint8Array(64)
  const rt = r.length === 33 ? r.subarray(1) : r
  const st = s.length === 33 ? s.subarray(1) : s
  out.set(rt, 32 - rt.length)
  out.set(st, 64 - st.length)
  return Result.succeed(out)
}

/** The witness form of a signature: DER followed by the sighash type byte. */
export const encodeTxSignature = (compact: Uint8Array, sighashType: number): Uint8Array =>
  concatBytes(compactToDer(compact), Uint8Array.of(sighashType & 0xff))

/** Splits a witness signature into compact form and sighash type; requires strict DER. */
export const decodeTxSignature = (
  bytes: Uint8Array
): Result.Result<{ readonly compact: Uint8Array; readonly sighashType: number }, SignatureEncodingError> => {
  if (bytes.length < 9) return fail("signature too short")
  const sighashType = bytes[bytes.length - 1] ?? 0
  return Result.map(derToCompact(bytes.subarray(0, bytes.length - 1)), (compact) => ({ compact, sighashType }))
}
