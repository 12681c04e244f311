/**
 * The fuzzing engine behind `npm run fuzz -- TARGET SECONDS` and `test/fuzz/targets.test.ts`.
 *
 * Jazzer.js (coverage-guided) is preferred where its native addon loads. On this machine it
 * does not: the `@jazzer.js/fuzzer` linux-x64 prebuild needs GLIBC 2.38 and the system has
 * 2.36. So the default engine is fast-check: random byte strings plus structure-aware
 * mutations (bit flips, byte sets, inserts, deletes, duplications, splices) of each target's
 * `seeds` (valid encodings it exports), run until the time is up. `FUZZ_ENGINE=jazzer`
 * opts in to the Jazzer.js CLI where its addon loads (untested here, since it cannot load).
 *
 * A target module exports `fuzz(data: Uint8Array): void` (throws only for a real bug) and
 * optionally `seeds: ReadonlyArray<Uint8Array>`.
 *
 * Async targets (whole nodes over a simulated network: `consistency`, `full-node`) export
 * `fuzzAsync(data): Promise<void>` instead, optionally `inputs` (their own fast-check arbitrary
 * of programs) and `seeds`. They run case by case: case `N`'s input is drawn from the arbitrary
 * with fast-check seed `N`, so a failure is reported as its case seed, and
 * `npm run fuzz -- TARGET --seed N` reruns exactly that case (`runCase`).
 */
import { spawnSync } from "node:child_process"
import { createHash, randomInt } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import fc from "fast-check"

export interface FuzzTarget {
  readonly fuzz: (data: Uint8Array) => void
  readonly seeds?: ReadonlyArray<Uint8Array>
}

/** A target that runs whole nodes: one case at a time, each reproducible from its seed. */
export interface AsyncFuzzTarget {
  readonly fuzzAsync: (data: Uint8Array) => Promise<void>
  readonly seeds?: ReadonlyArray<Uint8Array>
  /** The target's own inputs (default: `fuzzInputs(seeds)`). */
  readonly inputs?: fc.Arbitrary<Uint8Array>
}

export type AnyFuzzTarget = ({ readonly kind: "sync" } & FuzzTarget) | ({ readonly kind: "async" } & AsyncFuzzTarget)

const here = dirname(fileURLToPath(import.meta.url))

export const targetPath = (target: string): string => join(here, "targets", `${target}.ts`)

interface TargetModule {
  readonly fuzz?: unknown
  readonly fuzzAsync?: unknown
  readonly seeds?: ReadonlyArray<Uint8Array>
  readonly inputs?: fc.Arbitrary<Uint8Array>
}

const isFunction = <F>(f: unknown): f is F => typeof f === "function"

/** Loads a target of either kind. */
export const loadAnyTarget = async (target: string): Promise<AnyFuzzTarget> => {
  const mod = (await import(pathToFileURL(targetPath(target)).href)) as TargetModule
  const seeds = mod.seeds === undefined ? {} : { seeds: mod.seeds }
  if (isFunction<(data: Uint8Array) => Promise<void>>(mod.fuzzAsync))
    return { kind: "async", fuzzAsync: mod.fuzzAsync, ...seeds, ...(mod.inputs === undefined ? {} : { inputs: mod.inputs }) }
  if (isFunction<(data: Uint8Array) => void>(mod.fuzz)) return { kind: "sync", fuzz: mod.fuzz, ...seeds }
  throw new Error(`fuzz/targets/${target}.ts exports neither fuzz(data) nor fuzzAsync(data)`)
}

/** Loads a synchronous target (fails for an async one). */
export const loadTarget = async (target: string): Promise<FuzzTarget> => {
  const t = await loadAnyTarget(target)
  if (t.kind !== "sync") throw new Error(`fuzz/targets/${target}.ts is an async target (fuzzAsync)`)
  return t
}

// ---- inputs: random bytes and mutations of seeds ---------------------------------------------------

type Mutation = (input: Uint8Array, other: Uint8Array) => Uint8Array

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([pos, bit]): Mutation => (b) => {
    if (b.length === 0) return b
    const out = b.slice()
    const i = pos % b.length
    out[i] = (out[i] ?? 0) ^ (1 << bit)
    return out
  }),
  fc.tuple(fc.nat(), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff, 0x02, 0x03)).map(([pos, v]): Mutation => (b) => {
    if (b.length === 0) return Uint8Array.of(v)
    const out = b.slice()
    out[pos % b.length] = v
    return out
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([pos, ins]): Mutation => (b) => {
    const i = pos % (b.length + 1)
    return Uint8Array.of(...b.subarray(0, i), ...ins, ...b.subarray(i))
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 16 })).map(([pos, n]): Mutation => (b) => {
    if (b.length === 0) return b
    const i = pos % b.length
    return Uint8Array.of(...b.subarray(0, i), ...b.subarray(Math.min(b.length, i + n)))
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 16 })).map(([pos, n]): Mutation => (b) => {
    if (b.length === 0) return b
    const i = pos % b.length
    const chunk = b.subarray(i, Math.min(b.length, i + n))
    return Uint8Array.of(...b.subarray(0, i), ...chunk, ...chunk, ...b.subarray(i + chunk.length))
  }),
  fc.nat().map((pos): Mutation => (b) => b.subarray(0, pos % (b.length + 1))),
  fc.tuple(fc.nat(), fc.nat()).map(([p, q]): Mutation => (a, other) =>
    Uint8Array.of(...a.subarray(0, p % (a.length + 1)), ...other.subarray(q % (other.length + 1)))
  )
)

/** Fuzz inputs: random bytes, and (when seeds exist) seeds with 1-8 stacked mutations. */
export const fuzzInputs = (seeds: ReadonlyArray<Uint8Array>): fc.Arbitrary<Uint8Array> => {
  const random = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 1024 }))
  if (seeds.length === 0) return random
  const seed = fc.constantFrom(...seeds)
  const mutated = fc
    .tuple(seed, seed, fc.array(mutation, { minLength: 1, maxLength: 8 }))
    .map(([s, other, ms]) => ms.reduce((acc, m) => m(acc, other), s))
  return fc.oneof({ arbitrary: random, weight: 1 }, { arbitrary: seed, weight: 1 }, { arbitrary: mutated, weight: 6 })
}

const toHexString = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** Runs `runs` inputs through a target; resolves with the failing input if one throws. */
export const runInputs = (
  target: FuzzTarget,
  runs: number,
  seed: number
): { readonly ok: true } | { readonly ok: false; readonly input: Uint8Array; readonly error: unknown } => {
  const details = fc.check(fc.property(fuzzInputs(target.seeds ?? []), (data) => target.fuzz(data)), {
    numRuns: runs,
    seed,
    endOnFailure: false
  })
  if (!details.failed) return { ok: true }
  const input = details.counterexample?.[0] ?? new Uint8Array(0)
  return { ok: false, input, error: details.errorInstance }
}

// ---- async targets: one case per seed ----------------------------------------------------------

/** Case `seed`'s input: drawn from the target's inputs with that fast-check seed (the same seed, the same bytes). */
export const inputForSeed = (target: AsyncFuzzTarget, seed: number): Uint8Array => {
  const arbitrary = target.inputs ?? fuzzInputs(target.seeds ?? [])
  return fc.sample(arbitrary, { seed, numRuns: 1 })[0] ?? new Uint8Array(0)
}

export type CaseOutcome = { readonly ok: true; readonly seed: number } | { readonly ok: false; readonly seed: number; readonly input: Uint8Array; readonly error: unknown }

/** Runs case `seed` of an async target. */
export const runCase = async (target: AsyncFuzzTarget, seed: number): Promise<CaseOutcome> => {
  const input = inputForSeed(target, seed)
  try {
    await target.fuzzAsync(input)
    return { ok: true, seed }
  } catch (error) {
    return { ok: false, seed, input, error }
  }
}

/**
 * Runs cases `first`, `first + 1`, ... of an async target until one fails, `cases` ran, or the
 * deadline (a `performance.now()` value) passed: the first failure, or how many passed.
 */
export const runCases = async (
  target: AsyncFuzzTarget,
  options: { readonly first: number; readonly cases: number; readonly deadline?: number; readonly onCase?: (o: CaseOutcome) => void }
): Promise<{ readonly ran: number; readonly failure: CaseOutcome | undefined }> => {
  let ran = 0
  for (; ran < options.cases; ran++) {
    if (options.deadline !== undefined && performance.now() > options.deadline) break
    const o = await runCase(target, (options.first + ran) % 2 ** 31)
    options.onCase?.(o)
    if (!o.ok) return { ran: ran + 1, failure: o }
  }
  return { ran, failure: undefined }
}

const saveCrash = (target: string, input: Uint8Array): string => {
  // Under fuzz/corpus/ (git-ignored) so a crash input is never committed by accident.
  const dir = join(here, "corpus", "crashes")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${target}-${createHash("sha256").update(input).digest("hex").slice(0, 16)}.bin`)
  writeFileSync(file, input)
  return file
}

const runAsyncTarget = async (name: string, target: AsyncFuzzTarget, seconds: number): Promise<void> => {
  const started = performance.now()
  const deadline = started + seconds * 1000
  // The first case seed is random (printed), so separate runs explore different cases.
  const first = randomInt(2 ** 31 - 1)
  console.log(`${name}: cases ${first}, ${first + 1}, ... (async target, one case per seed)`)
  let total = 0
  let lastReport = started
  const r = await runCases(target, {
    first,
    cases: Number.MAX_SAFE_INTEGER,
    deadline,
    onCase: () => {
      total += 1
      const now = performance.now()
      if (now - lastReport > 10_000) {
        lastReport = now
        console.log(`${name}: ${total} cases, ${Math.round((now - started) / 1000)}s`)
      }
    }
  })
  if (r.failure !== undefined && !r.failure.ok) {
    const file = saveCrash(name, r.failure.input)
    console.error(`FAILURE in ${name}, case seed ${r.failure.seed} (input ${toHexString(r.failure.input)})`)
    console.error(`reproduce: npm run fuzz -- ${name} --seed ${r.failure.seed}\nsaved to ${file}`)
    console.error(r.failure.error)
    process.exitCode = 1
    return
  }
  console.log(`${name}: ${r.ran} cases, no failure (${seconds}s)`)
}

/** `npm run fuzz -- TARGET --seed N`: reruns one case of an async target and prints its outcome. */
export const rerunCase = async (name: string, seed: number): Promise<void> => {
  const t = await loadAnyTarget(name)
  if (t.kind !== "async") {
    console.error(`${name} is a byte target: its failures print the failing input; --seed applies to async targets`)
    process.exitCode = 2
    return
  }
  const input = inputForSeed(t, seed)
  console.log(`${name}, case seed ${seed}: input ${toHexString(input)}`)
  const o = await runCase(t, seed)
  if (o.ok) console.log("passed")
  else {
    console.error(o.error)
    process.exitCode = 1
  }
}

// ---- engines ------------------------------------------------------------------------------------

const jazzerLoads = (): boolean => {
  const probe = spawnSync(process.execPath, ["-e", "require('@jazzer.js/fuzzer')"], { cwd: join(here, ".."), encoding: "utf8" })
  return probe.status === 0
}

const runJazzer = (target: string, seconds: number): void => {
  const cli = join(here, "..", "node_modules", "@jazzer.js", "core", "dist", "cli.js")
  const corpus = join(here, "corpus", target)
  mkdirSync(corpus, { recursive: true })
  const r = spawnSync(
    process.execPath,
    [cli, targetPath(target), corpus, "--sync", "--", `-max_total_time=${seconds}`],
    { stdio: "inherit", cwd: join(here, "..") }
  )
  if (r.status !== 0) process.exitCode = r.status ?? 1
}

const runFastCheck = async (target: string, seconds: number): Promise<void> => {
  const loaded = await loadAnyTarget(target)
  if (loaded.kind === "async") return runAsyncTarget(target, loaded, seconds)
  const t: FuzzTarget = loaded
  const deadline = Date.now() + seconds * 1000
  let total = 0
  let batch = 0
  const base = Date.now() % 2 ** 31
  while (Date.now() < deadline) {
    const seed = (base + batch++) % 2 ** 31
    const r = runInputs(t, 2000, seed)
    if (!r.ok) {
      const file = saveCrash(target, r.input)
      console.error(`CRASH in ${target} (seed ${seed}) on input ${toHexString(r.input)}\nsaved to ${file}`)
      console.error(r.error)
      process.exitCode = 1
      return
    }
    total += 2000
  }
  console.log(`${target}: ${total} inputs, no failure (engine: fast-check, ${seconds}s)`)
}

export const runTarget = async (target: string, seconds: number): Promise<void> => {
  if (process.env["FUZZ_ENGINE"] === "jazzer" && (await loadAnyTarget(target)).kind === "sync") {
    if (!jazzerLoads()) {
      console.error("Jazzer.js native addon does not load here (see fuzz/engine.ts); unset FUZZ_ENGINE")
      process.exitCode = 2
      return
    }
    console.log("engine: Jazzer.js")
    runJazzer(target, seconds)
    return
  }
  console.log("engine: fast-check (random + mutated seeds)")
  await runFastCheck(target, seconds)
}
