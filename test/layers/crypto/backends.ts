/**
 * The three `Secp256k1` backends every vector runs on: noble (pure JS), libsecp256k1 in WASM, and
 * native libsecp256k1 (the `secp256k1` package's prebuilt addon). Where the package ships a
 * prebuilt binary for this platform (linux-x64, darwin-arm64, win32-x64) the native backend must
 * load, and a failure to load fails the tests that use it; elsewhere it is left out.
 */
import { Result } from "effect"
import { loadNativeSecp256k1 } from "../../../src/layers/crypto/secp256k1-native.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { nobleSecp256k1, type Secp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"

/** Platforms (`process.platform-process.arch`) with a prebuilt addon in `secp256k1` 5.x. */
export const NATIVE_PREBUILT_PLATFORMS: ReadonlyArray<string> = ["linux-x64", "darwin-arm64", "win32-x64"]

export const nativeExpected = NATIVE_PREBUILT_PLATFORMS.includes(`${process.platform}-${process.arch}`)

/** The native backend; throws where it is expected and did not load (a broken install). */
const nativeOrUndefined = (): Secp256k1 | undefined => {
  const loaded = loadNativeSecp256k1()
  if (Result.isSuccess(loaded)) return loaded.success
  if (nativeExpected) throw new Error(`native secp256k1 did not load on ${process.platform}-${process.arch}: ${loaded.failure}`)
  return undefined
}

export const nativeSecp256k1: Secp256k1 | undefined = nativeOrUndefined()

/** noble, WASM and (where it loads) native, in that order. */
export const secp256k1Backends: ReadonlyArray<Secp256k1> = nativeSecp256k1 === undefined
  ? [nobleSecp256k1, wasmSecp256k1]
  : [nobleSecp256k1, wasmSecp256k1, nativeSecp256k1]

/** The fast backends compared against noble on random and malformed inputs. */
export const fastBackends: ReadonlyArray<Secp256k1> = secp256k1Backends.filter((s) => s !== nobleSecp256k1)
