/**
 * ECDSA signature encodings: strict DER (BIP 66) <-> 64-byte compact (r || s), low-S checks
 * (BIP 146 LOW_S, which BOLT 2 requires of every signature), and the transaction form
 * DER || sighash byte that goes in witnesses. Decoders return typed errors, never throw.
 */
import { Data, Result } from "effect"
import { DER } from "@noble/curves/abstract/der.js"
import { bytesToNumberBE, hexToBytes, numberToBytesBE } from "@noble/curves/utils.js"
import { concatBytes } from "../../bytes.ts"

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_N = N >> 1n

export class SignatureEncodingError extends Data.TaggedError("SignatureEncodingError")<{ readonly reason: string }> {}

/** DER encoding of a compact 64-byte signature (r || s), by noble's DER codec. */
export const compactToDer = (compact: Uint8Array): Uint8Array =>
  hexToBytes(DER.hexFromSig({ r: bytesToNumberBE(compact.subarray(0, 32)), s: bytesToNumberBE(compact.subarray(32, 64)) }))

/** Whether the compact signature's S is at most n/2. */
export const isLowS = (compact: Uint8Array): boolean => compact.length === 64 && bytesToNumberBE(compact.subarray(32, 64)) <= HALF_N

const fail = (reason: string) => Result.fail(new SignatureEncodingError({ reason }))

/**
 * Strict BIP 66 DER -> compact 64 bytes. R and S must be in 1..n-1; high S is accepted here
 * (see `isLowS`). noble's DER parser rejects what BIP 66 rejects (negative or non-minimal
 * integers, long-form or mismatched lengths, trailing bytes); the size bounds are BIP 66's.
 */
export const derToCompact = (der: Uint8Array): Result.Result<Uint8Array, SignatureEncodingError> => {
  if (der.length < 8 || der.length > 72) return fail("bad DER length")
  let sig: { readonly r: bigint; readonly s: bigint }
  try {
    sig = DER.toSig(der, 33)
  } catch (e) {
    return fail(e instanceof Error ? e.message : "invalid DER")
  }
  if (sig.r === 0n || sig.r >= N) return fail("R out of range")
  if (sig.s === 0n || sig.s >= N) return fail("S out of range")
  return Result.succeed(concatBytes(numberToBytesBE(sig.r, 32), numberToBytesBE(sig.s, 32)))
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
