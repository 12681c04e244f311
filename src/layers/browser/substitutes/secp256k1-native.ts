/**
 * Browser stand-in for `src/layers/crypto/secp256k1-native.ts` (a Node addon loaded through
 * `node:module`): the browser build resolves that module to this one. A browser has no native
 * addons, so the backend is reported unavailable and `secp256k1-best.ts` moves on (to the WASM
 * stand-in, then noble), exactly as on a Node platform without a prebuilt binary.
 */
import { Result } from "effect"
import type { Secp256k1 } from "../../../protocol/crypto/secp256k1.ts"
import type * as NodeNative from "../../crypto/secp256k1-native.ts"

export const loadNativeSecp256k1 = (): Result.Result<Secp256k1, string> => Result.fail("no native addons in a browser")

export const exportsMatch = { loadNativeSecp256k1 } satisfies Omit<typeof NodeNative, never>
