/**
 * The production choice of `Secp256k1`: the first of native libsecp256k1 (`secp256k1-native.ts`),
 * libsecp256k1 in WASM (`secp256k1-wasm.ts`) and noble (pure JS, always there) that loads on
 * this platform. All three give the same bytes for the same inputs (the tests run every vector
 * on each), so the choice changes speed only.
 *
 * The WASM module is imported dynamically: it instantiates its WebAssembly at import time, which
 * throws where WebAssembly is unavailable (e.g. `node --jitless`); a static import would fail the
 * whole program there instead of falling back to noble. Hence the choice is asynchronous
 * (`loadSecp256k1Best`, or the `Secp256k1Best` effect), made once per process.
 */
import { Effect, Result } from "effect"
import { nobleSecp256k1, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { loadNativeSecp256k1 } from "./secp256k1-native.ts"

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
  readonly load: () => Promise<Result.Result<Secp256k1, string>>
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Native, then WASM, in that order (noble, the last resort, needs no loading). */
export const secp256k1Candidates: ReadonlyArray<Secp256k1Candidate> = [
  { backend: "native", load: () => Promise.resolve(loadNativeSecp256k1()) },
  {
    backend: "wasm",
    load: () =>
      import("./secp256k1-wasm.ts").then(
        (m) => Result.succeed(m.wasmSecp256k1),
        (e: unknown) => Result.fail(describe(e))
      )
  }
]

const attempt = async (candidate: Secp256k1Candidate): Promise<Result.Result<Secp256k1, string>> => {
  try {
    return await candidate.load()
  } catch (e) {
    return Result.fail(describe(e))
  }
}

/**
 * The first candidate that loads, else noble. A candidate that throws or rejects counts as
 * unavailable, like one that reports a failure.
 */
export const chooseSecp256k1 = async (candidates: ReadonlyArray<Secp256k1Candidate> = secp256k1Candidates): Promise<Secp256k1Choice> => {
  const unavailable: Array<{ readonly backend: Secp256k1Backend; readonly reason: string }> = []
  for (const candidate of candidates) {
    const loaded = await attempt(candidate)
    if (Result.isSuccess(loaded)) return { backend: candidate.backend, secp: loaded.success, unavailable }
    unavailable.push({ backend: candidate.backend, reason: loaded.failure })
  }
  return { backend: "noble", secp: nobleSecp256k1, unavailable }
}

let best: Promise<Secp256k1Choice> | undefined

/** The process-wide choice (`chooseSecp256k1` with the default candidates), made on first use. */
export const loadSecp256k1Best = (): Promise<Secp256k1Choice> => {
  best ??= chooseSecp256k1()
  return best
}

/** `loadSecp256k1Best` as an effect (it never fails: noble always loads). */
export const Secp256k1Best: Effect.Effect<Secp256k1Choice> = Effect.promise(loadSecp256k1Best)
