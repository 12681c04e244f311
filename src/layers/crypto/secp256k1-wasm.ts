/**
 * Fast `Secp256k1`: libsecp256k1 compiled to WebAssembly (`tiny-secp256k1`), behind the same
 * interface as the portable noble implementation (`src/protocol/crypto/secp256k1.ts`). Protocol
 * code takes a `Secp256k1` value, so swapping this one in changes speed, never results: the
 * tests run both on the same inputs and require byte-identical outputs (RFC 6979 signatures
 * included) and identical `undefined`/`false` on invalid input.
 *
 * tiny-secp256k1 throws on malformed input (wrong lengths, points off the curve); every call
 * here is guarded so that, like the noble implementation, an invalid key, point or signature
 * gives `undefined` (or `false`) rather than an exception.
 *
 * Loading is lazy: importing this module loads no WebAssembly. The first call (or
 * `loadWasmSecp256k1`) loads tiny-secp256k1, which compiles and instantiates its WebAssembly
 * synchronously; where WebAssembly is unavailable (e.g. `node --jitless`) that throws, which
 * `loadWasmSecp256k1` reports as unavailable. It lives in `layers/` because loading a
 * WebAssembly module is a side effect the pure core must not have.
 */
import { createRequire } from "node:module"
import { Result } from "effect"
import type * as Ecc from "tiny-secp256k1"
import { sha256 } from "@noble/hashes/sha2.js"
import { pointMultiplyTweakAddWith, scalarFromBytes, scalarToBytes, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"

type TinySecp256k1 = typeof Ecc

const ECC_FUNCTIONS = [
  "isPrivate", "isPointCompressed", "pointFromScalar", "pointMultiply", "sign", "verify", "signRecoverable", "recover",
  "pointAdd", "pointAddScalar", "privateAdd"
] as const

const isTinySecp256k1 = (u: unknown): u is TinySecp256k1 =>
  typeof u === "object" && u !== null && ECC_FUNCTIONS.every((f) => typeof Reflect.get(u, f) === "function")

let loadedModule: Result.Result<TinySecp256k1, string> | undefined

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Loads tiny-secp256k1 (its CommonJS build, which instantiates the WebAssembly synchronously) once. */
const loadModule = (): Result.Result<TinySecp256k1, string> => {
  if (loadedModule !== undefined) return loadedModule
  try {
    const loaded: unknown = createRequire(import.meta.url)("tiny-secp256k1")
    loadedModule = isTinySecp256k1(loaded) ? Result.succeed(loaded) : Result.fail("tiny-secp256k1 lacks a function this layer needs")
  } catch (e) {
    loadedModule = Result.fail(describe(e))
  }
  return loadedModule
}

/** The loaded module; a defect if it cannot load (choose with `loadWasmSecp256k1` to fall back instead). */
const ecc = (): TinySecp256k1 => {
  const loaded = loadModule()
  if (Result.isFailure(loaded)) throw new Error(`libsecp256k1 (WASM) is unavailable: ${loaded.failure}`)
  return loaded.success
}

/** Whether the WebAssembly module has been loaded (by a call or `loadWasmSecp256k1`). */
export const isWasmSecp256k1Loaded = (): boolean => loadedModule !== undefined && Result.isSuccess(loadedModule)

/** The group order n, for the one operation libsecp256k1 does not export (scalar product). */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

const isZero = (bytes: Uint8Array): boolean => {
  for (const b of bytes) if (b !== 0) return false
  return true
}

/** 32 bytes and 0 < value < n (`isPrivate` checks exactly that, without throwing). */
const isSecret = (bytes: Uint8Array): boolean => bytes.length === 32 && ecc().isPrivate(bytes)

/** 32 bytes and value < n (zero allowed): the range `secretAdd` accepts for each operand. */
const isScalarBelowN = (bytes: Uint8Array): boolean => bytes.length === 32 && (isZero(bytes) || ecc().isPrivate(bytes))

/** A 33-byte compressed encoding of a point on the curve (the only form the BOLTs use). */
const isCompressedPoint = (bytes: Uint8Array): boolean => {
  if (bytes.length !== 33) return false
  const e = ecc()
  try {
    return e.isPointCompressed(bytes)
  } catch {
    return false
  }
}

/** Runs `f` on the module; `orElse` when it throws or gives null (bad input). A module that cannot load is a defect. */
const guard = <A>(f: (e: TinySecp256k1) => A | null, orElse: A): A => {
  const e = ecc()
  try {
    return f(e) ?? orElse
  } catch {
    return orElse
  }
}

/** Public key recovery: undefined for bad lengths, a recovery id not in 0..3 or a signature that does not recover. */
const recover = (signature: Uint8Array, recovery: number, digest: Uint8Array): Uint8Array | undefined => {
  if (signature.length !== 64 || digest.length !== 32) return undefined
  if (recovery !== 0 && recovery !== 1 && recovery !== 2 && recovery !== 3) return undefined
  return guard<Uint8Array | undefined>((e) => e.recover(digest, signature, recovery, true), undefined)
}

const pointTweakAdd = (point: Uint8Array, tweak: Uint8Array): Uint8Array | undefined => {
  if (!isCompressedPoint(point) || !isScalarBelowN(tweak)) return undefined
  return guard<Uint8Array | undefined>((e) => e.pointAddScalar(point, tweak, true), undefined)
}
const pointMultiply = (point: Uint8Array, scalar: Uint8Array): Uint8Array | undefined => {
  if (!isCompressedPoint(point) || !isSecret(scalar)) return undefined
  return guard<Uint8Array | undefined>((e) => e.pointMultiply(point, scalar, true), undefined)
}

/** (a * b) mod n: libsecp256k1 exposes no scalar product; one bigint multiplication mod n is cheap. */
const secretMultiply = (a: Uint8Array, b: Uint8Array): Uint8Array | undefined => {
  if (!isSecret(a) || !isSecret(b)) return undefined
  return scalarToBytes(((scalarFromBytes(a) ?? 0n) * (scalarFromBytes(b) ?? 0n)) % N)
}

/** libsecp256k1 via WASM: the same results as `nobleSecp256k1`, several times faster (loads on first call). */
export const wasmSecp256k1: Secp256k1 = {
  name: "libsecp256k1-wasm",
  publicKey: (secret) => (isSecret(secret) ? guard<Uint8Array | undefined>((e) => e.pointFromScalar(secret, true), undefined) : undefined),
  isValidSecret: isSecret,
  isValidPoint: isCompressedPoint,
  ecdh: (secret, point) => {
    if (!isSecret(secret) || !isCompressedPoint(point)) return undefined
    const shared = guard<Uint8Array | undefined>((e) => e.pointMultiply(point, secret, true), undefined)
    return shared === undefined ? undefined : sha256(shared)
  },
  sign: (digest, secret) => {
    // Same contract as noble: a wrong-length digest or an invalid secret is a caller bug and throws.
    if (digest.length !== 32) throw new Error("sign: digest must be 32 bytes")
    if (!isSecret(secret)) throw new Error("sign: invalid secret key")
    return ecc().sign(digest, secret)
  },
  verify: (signature, digest, publicKey) => {
    if (signature.length !== 64 || publicKey.length !== 33 || digest.length !== 32) return false
    // strict = true: a high-S signature does not verify (noble's `lowS: true`).
    return guard((e) => e.verify(digest, publicKey, signature, true), false)
  },
  signRecoverable: (digest, secret) => {
    if (digest.length !== 32) throw new Error("signRecoverable: digest must be 32 bytes")
    if (!isSecret(secret)) throw new Error("signRecoverable: invalid secret key")
    const { signature, recoveryId } = ecc().signRecoverable(digest, secret)
    return { signature, recovery: recoveryId }
  },
  recover: (signature, recovery, digest) => recover(signature, recovery, digest),
  pointAdd: (a, b) => {
    if (!isCompressedPoint(a) || !isCompressedPoint(b)) return undefined
    return guard<Uint8Array | undefined>((e) => e.pointAdd(a, b, true), undefined)
  },
  pointTweakAdd,
  pointMultiply,
  // Through recovery's double multiplication, as the native layer; where it refuses, the two plain calls decide.
  pointMultiplyTweakAdd: pointMultiplyTweakAddWith(recover, secretMultiply, pointMultiply, pointTweakAdd),
  secretAdd: (a, b) => {
    if (!isScalarBelowN(a) || !isScalarBelowN(b)) return undefined
    // libsecp256k1 wants a nonzero first operand; 0 + b = b.
    if (isZero(a)) return isZero(b) ? undefined : b.slice()
    return guard<Uint8Array | undefined>((e) => e.privateAdd(a, b), undefined)
  },
  secretMultiply
}

/**
 * Loads the WebAssembly module now: the implementation, or why it is unavailable here. Loads
 * once; later calls return the same result.
 */
export const loadWasmSecp256k1 = (): Result.Result<Secp256k1, string> => Result.map(loadModule(), () => wasmSecp256k1)
