/**
 * Browser stand-in for `src/layers/crypto/secp256k1-wasm.ts`, which loads tiny-secp256k1 through
 * `node:module`'s `require` and compiles its WebAssembly synchronously (a browser allows neither
 * on the main thread for a module that size). The browser build resolves that module to this
 * one: the WASM backend is reported unavailable, so `fastestSecp256k1` picks noble (pure
 * JavaScript, the same bytes). Calling `wasmSecp256k1` directly is a defect, as it is on a Node
 * platform where the WebAssembly does not load.
 */
import { Result } from "effect"
import type { Secp256k1 } from "../../../protocol/crypto/secp256k1.ts"
import type * as NodeWasm from "../../crypto/secp256k1-wasm.ts"

const REASON = "libsecp256k1 (WASM) is not loaded in the browser build"

const unavailable = (): never => {
  throw new Error(REASON)
}

export const isWasmSecp256k1Loaded = (): boolean => false

export const wasmSecp256k1: Secp256k1 = {
  name: "libsecp256k1 (wasm, unavailable)",
  publicKey: unavailable,
  isValidSecret: unavailable,
  isValidPoint: unavailable,
  ecdh: unavailable,
  sign: unavailable,
  verify: unavailable,
  signRecoverable: unavailable,
  recover: unavailable,
  pointAdd: unavailable,
  pointTweakAdd: unavailable,
  pointMultiply: unavailable,
  secretAdd: unavailable,
  secretMultiply: unavailable
}

export const loadWasmSecp256k1 = (): Result.Result<Secp256k1, string> => Result.fail(REASON)

export const exportsMatch = { isWasmSecp256k1Loaded, wasmSecp256k1, loadWasmSecp256k1 } satisfies Omit<typeof NodeWasm, never>
