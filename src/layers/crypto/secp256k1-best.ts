/**
 * The fastest `Secp256k1` that loads here: the first of native libsecp256k1
 * (`secp256k1-native.ts`), libsecp256k1 in WASM (`secp256k1-wasm.ts`) and noble (pure JS,
 * always there). All three give the same bytes for the same inputs (the tests run every vector
 * on each), so the choice changes speed only.
 *
 * Both fast backends load synchronously (a native addon through `require`, tiny-secp256k1's
 * WebAssembly compiled and instantiated synchronously), so the choice is a plain function,
 * made once per process on first use (`bestSecp256k1`), never at import. A backend that throws
 * while loading (no prebuilt binary, `node --jitless`...) counts as unavailable.
 *
 * `fastestSecp256k1` is a `Secp256k1` value that makes that choice on its first call and from
 * then on IS the chosen implementation (its methods are replaced by the chosen one's), so it can
 * be the default of the `Crypto` reference without loading anything at import.
 */
import { Effect, Result } from "effect"
import { nobleSecp256k1, pointMultiplyTweakAdd, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { loadNativeSecp256k1 } from "./secp256k1-native.ts"
import { loadWasmSecp256k1 } from "./secp256k1-wasm.ts"

export type Secp256k1Backend = "native" | "wasm" | "noble"

export interface Secp256k1Choice {
  readonly backend: Secp256k1Backend
  readonly secp: Secp256k1
  /** The backends tried before this one, each with the reason it did not load. */
  readonly unavailable: ReadonlyArray<{ readonly backend: Secp256k1Backend; readonly reason: string }>
}

/** One backend to try: loading it gives the implementation or why it is unavailable. */
export interface Secp256k1Candidate {
  readonly backend: Secp256k1Backend
  readonly load: () => Result.Result<Secp256k1, string>
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Native, then WASM, in that order (noble, the last resort, needs no loading). */
export const secp256k1Candidates: ReadonlyArray<Secp256k1Candidate> = [
  { backend: "native", load: loadNativeSecp256k1 },
  { backend: "wasm", load: loadWasmSecp256k1 }
]

const attempt = (candidate: Secp256k1Candidate): Result.Result<Secp256k1, string> => {
  try {
    return candidate.load()
  } catch (e) {
    return Result.fail(describe(e))
  }
}

/** The first candidate that loads, else noble. A candidate that throws counts as unavailable. */
export const chooseSecp256k1 = (candidates: ReadonlyArray<Secp256k1Candidate> = secp256k1Candidates): Secp256k1Choice => {
  const unavailable: Array<{ readonly backend: Secp256k1Backend; readonly reason: string }> = []
  for (const candidate of candidates) {
    const loaded = attempt(candidate)
    if (Result.isSuccess(loaded)) return { backend: candidate.backend, secp: loaded.success, unavailable }
    unavailable.push({ backend: candidate.backend, reason: loaded.failure })
  }
  return { backend: "noble", secp: nobleSecp256k1, unavailable }
}

let best: Secp256k1Choice | undefined

/** The process-wide choice (`chooseSecp256k1` with the default candidates), made on first use. */
export const bestSecp256k1 = (): Secp256k1Choice => {
  best ??= chooseSecp256k1()
  return best
}

/** Whether the process-wide choice has been made (so a fast backend may be loaded). */
export const isSecp256k1Chosen = (): boolean => best !== undefined

/** `bestSecp256k1` as a promise (kept for callers written when the choice was asynchronous). */
export const loadSecp256k1Best = (): Promise<Secp256k1Choice> => Promise.resolve(bestSecp256k1())

/** `bestSecp256k1` as an effect (it never fails: noble always loads). */
export const Secp256k1Best: Effect.Effect<Secp256k1Choice> = Effect.sync(bestSecp256k1)

/**
 * The fastest implementation, chosen on first call: every method first replaces all methods of
 * this object with the chosen implementation's, then runs. `name` says "fastest (not chosen
 * yet)" until then.
 */
export const fastestSecp256k1: Secp256k1 = (() => {
  const target: { -readonly [K in keyof Secp256k1]: Secp256k1[K] } = {
    name: "fastest (not chosen yet)",
    publicKey: (secret) => choose().publicKey(secret),
    isValidSecret: (secret) => choose().isValidSecret(secret),
    isValidPoint: (point) => choose().isValidPoint(point),
    ecdh: (secret, point) => choose().ecdh(secret, point),
    sign: (digest, secret) => choose().sign(digest, secret),
    verify: (signature, digest, publicKey) => choose().verify(signature, digest, publicKey),
    signRecoverable: (digest, secret) => choose().signRecoverable(digest, secret),
    recover: (signature, recovery, digest) => choose().recover(signature, recovery, digest),
    pointAdd: (a, b) => choose().pointAdd(a, b),
    pointTweakAdd: (point, tweak) => choose().pointTweakAdd(point, tweak),
    pointMultiply: (point, scalar) => choose().pointMultiply(point, scalar),
    pointMultiplyTweakAdd: (point, scalar, tweak) => pointMultiplyTweakAdd(choose(), point, scalar, tweak),
    secretAdd: (a, b) => choose().secretAdd(a, b),
    secretMultiply: (a, b) => choose().secretMultiply(a, b)
  }
  const choose = (): Secp256k1 => {
    const { secp } = bestSecp256k1()
    Object.assign(target, secp)
    return secp
  }
  return target
})()
