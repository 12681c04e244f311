/**
 * The native libsecp256k1 layer loads its addon directly (never the `secp256k1` package's JS
 * fallback), and the production pick takes native, then WASM, then noble: whichever loads first,
 * with the reasons the others did not. Byte-for-byte agreement with noble and the spec vectors
 * are in `secp256k1-wasm.test.ts` and `secp256k1-bolt03.test.ts`, which run every backend.
 */
import { it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { describe, expect } from "vitest"
import {
  bestSecp256k1,
  chooseSecp256k1,
  fastestSecp256k1,
  loadSecp256k1Best,
  Secp256k1Best,
  secp256k1Candidates
} from "../../../src/layers/crypto/secp256k1-best.ts"
import { loadNativeSecp256k1 } from "../../../src/layers/crypto/secp256k1-native.ts"
import { wasmSecp256k1 } from "../../../src/layers/crypto/secp256k1-wasm.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import { nativeExpected } from "./backends.ts"

describe("native libsecp256k1", () => {
  it("loads where the package ships a prebuilt addon, once", () => {
    const loaded = loadNativeSecp256k1()
    expect(Result.isSuccess(loaded)).toBe(nativeExpected)
    expect(loadNativeSecp256k1()).toBe(loaded)
    if (Result.isSuccess(loaded)) expect(loaded.success.name).toBe("libsecp256k1-native")
  })

  it.runIf(nativeExpected)("signs like noble, and throws on a caller bug like the other backends", () => {
    const loaded = loadNativeSecp256k1()
    if (Result.isFailure(loaded)) throw new Error(loaded.failure)
    const native = loaded.success
    const secret = new Uint8Array(32).fill(9)
    const digest = new Uint8Array(32).fill(3)
    expect(toHex(native.sign(digest, secret))).toBe(toHex(nobleSecp256k1.sign(digest, secret)))
    expect(() => native.sign(digest, new Uint8Array(32))).toThrow()
    expect(() => native.sign(new Uint8Array(31), secret)).toThrow()
  })
})

describe("the production pick: native, then WASM, then noble", () => {
  const unavailable = (reason: string) => () => Result.fail(reason)

  it("takes native where it loads, and says so", () => {
    const choice = chooseSecp256k1()
    expect(choice.backend).toBe(nativeExpected ? "native" : "wasm")
    expect(choice.unavailable.map((u) => u.backend)).toEqual(nativeExpected ? [] : ["native"])
    expect(secp256k1Candidates.map((c) => c.backend)).toEqual(["native", "wasm"])
  })

  it("falls to WASM when native does not load", () => {
    const [, wasm] = secp256k1Candidates
    if (wasm === undefined) throw new Error("no WASM candidate")
    const choice = chooseSecp256k1([{ backend: "native", load: unavailable("no prebuilt binary for this platform") }, wasm])
    expect(choice.backend).toBe("wasm")
    expect(choice.secp).toBe(wasmSecp256k1)
    expect(choice.unavailable).toEqual([{ backend: "native", reason: "no prebuilt binary for this platform" }])
  })

  it("falls to noble when neither loads, a throwing or failing loader counting as unavailable", () => {
    const choice = chooseSecp256k1([
      { backend: "native", load: () => { throw new Error("dlopen failed") } },
      { backend: "wasm", load: unavailable("WebAssembly is not defined") }
    ])
    expect(choice.backend).toBe("noble")
    expect(choice.secp).toBe(nobleSecp256k1)
    expect(choice.unavailable).toEqual([
      { backend: "native", reason: "dlopen failed" },
      { backend: "wasm", reason: "WebAssembly is not defined" }
    ])
  })

  it.effect("is made once per process, as a function, a promise or an effect", () =>
    Effect.gen(function*() {
      const fromEffect = yield* Secp256k1Best
      const fromPromise = yield* Effect.promise(loadSecp256k1Best)
      expect(fromEffect).toBe(fromPromise)
      expect(fromEffect).toBe(bestSecp256k1())
      expect(fromEffect.backend).toBe(nativeExpected ? "native" : "wasm")
    }))

  it("fastestSecp256k1 becomes the chosen implementation on its first call, with the same results", () => {
    const secret = new Uint8Array(32).fill(7)
    const digest = new Uint8Array(32).fill(5)
    const signature = fastestSecp256k1.sign(digest, secret)
    expect(toHex(signature)).toBe(toHex(nobleSecp256k1.sign(digest, secret)))
    const chosen = bestSecp256k1().secp
    expect(fastestSecp256k1.name).toBe(chosen.name)
    expect(fastestSecp256k1.verify).toBe(chosen.verify)
    expect(fastestSecp256k1.ecdh(secret, nobleSecp256k1.publicKey(new Uint8Array(32).fill(8)) ?? new Uint8Array(33)))
      .toEqual(nobleSecp256k1.ecdh(secret, nobleSecp256k1.publicKey(new Uint8Array(32).fill(8)) ?? new Uint8Array(33)))
  })
})
