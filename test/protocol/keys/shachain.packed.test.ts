/**
 * The packed receiver storage (`PackedSecretStore`: the storage held as its own encoding) against
 * the object form it replaced, kept here as the model: an array of 49 buckets of
 * `{ index, secret }` objects, written as BOLT 3 "Efficient Per-commitment Secret Storage" reads
 * (`insert_secret`, `derive_old_secret`). On generated runs (any start index, bad secrets, skips,
 * malformed input) both must accept and refuse the same insertions with the same reasons, hold
 * the same entries, encode to the same bytes and derive the same old secrets; decoding arbitrary
 * bytes must agree too.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { equalBytes, toHex } from "../../../src/protocol/bytes.ts"
import { sha256 } from "../../../src/protocol/tx/bitcoin/hash.ts"
import {
  decodeSecretStore,
  deriveOldSecret,
  emptySecretStore,
  encodeSecretStore,
  FIRST_INDEX,
  insertSecret,
  type KnownSecret,
  PackedSecretStore,
  perCommitmentSecret,
  secretStoreHex,
  type SecretStore,
  storedSecretCount
} from "../../../src/protocol/keys/shachain.ts"

// ---- the model: the object form, as the specification reads -------------------------------------

interface ModelStore {
  readonly buckets: ReadonlyArray<KnownSecret | undefined>
  readonly lastIndex: bigint | undefined
}
const modelEmpty: ModelStore = { buckets: [], lastIndex: undefined }

const modelDerive = (base: Uint8Array, bits: number, index: bigint): Uint8Array => {
  let p: Uint8Array = Uint8Array.from(base)
  for (let b = bits - 1; b >= 0; b--)
    if (((index >> BigInt(b)) & 1n) === 1n) {
      p[b >> 3] = (p[b >> 3] ?? 0) ^ (1 << (b & 7))
      p = sha256(p)
    }
  return p
}

const modelBucket = (index: bigint): number => {
  for (let b = 0; b < 48; b++) if (((index >> BigInt(b)) & 1n) === 1n) return b
  return 48
}

type ModelInsert = { readonly store: ModelStore } | { readonly reason: string }

const modelInsert = (store: ModelStore, secret: Uint8Array, index: bigint): ModelInsert => {
  if (index < 0n || index > FIRST_INDEX) return { reason: "IndexOutOfRange" }
  if (secret.length !== 32) return { reason: "BadSecretLength" }
  if (store.lastIndex !== undefined && index !== store.lastIndex - 1n) return { reason: "UnexpectedIndex" }
  const bucket = modelBucket(index)
  for (let b = 0; b < bucket; b++) {
    const known = store.buckets[b]
    if (known !== undefined && !equalBytes(modelDerive(secret, bucket, known.index), known.secret)) return { reason: "InconsistentSecret" }
  }
  const buckets = store.buckets.slice()
  while (buckets.length <= bucket) buckets.push(undefined)
  buckets[bucket] = { index, secret: Uint8Array.from(secret) }
  return { store: { buckets, lastIndex: index } }
}

const modelDeriveOld = (store: ModelStore, index: bigint): string => {
  if (index < 0n || index > FIRST_INDEX) return "IndexOutOfRange"
  for (let b = 0; b < store.buckets.length; b++) {
    const known = store.buckets[b]
    if (known !== undefined && (index & ~((1n << BigInt(b)) - 1n)) === known.index) return toHex(modelDerive(known.secret, b, index))
  }
  return "UnknownIndex"
}

const modelEncode = (store: ModelStore): string => {
  const entries = store.buckets.filter((k): k is KnownSecret => k !== undefined)
  return (
    toHex(Uint8Array.of(entries.length)) +
    entries.map((e) => e.index.toString(16).padStart(12, "0") + toHex(e.secret)).join("")
  )
}

// ---- runs -----------------------------------------------------------------------------------------

/** One step of a run: the next secret of the seed, or something wrong in its place. */
type Step = "next" | "otherSeed" | "skip" | "short" | "outOfRange"
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 20, arbitrary: fc.constant("next" as const) },
  fc.constantFrom("otherSeed" as const, "skip" as const, "short" as const, "outOfRange" as const)
)

/** Start indexes near 0 (bucket 48), below indexes with many trailing zeros, and anywhere. */
const start: fc.Arbitrary<bigint> = fc.oneof(
  fc.constant(FIRST_INDEX),
  fc.bigInt({ min: 0n, max: 400n }),
  fc.tuple(fc.integer({ min: 1, max: 47 }), fc.bigInt({ min: 1n, max: 1n << 8n }), fc.bigInt({ min: 0n, max: 300n })).map(
    ([zeros, k, above]) => {
      const i = ((2n * k + 1n) << BigInt(zeros)) + above
      return i > FIRST_INDEX ? FIRST_INDEX : i
    }
  ),
  fc.bigInt({ min: 0n, max: FIRST_INDEX })
)

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })

const sameStore = (store: SecretStore, model: ModelStore): void => {
  expect(store).toBeInstanceOf(PackedSecretStore)
  expect(store.lastIndex).toBe(model.lastIndex)
  expect(toHex(encodeSecretStore(store))).toBe(modelEncode(model))
  expect(secretStoreHex(store)).toBe(modelEncode(model))
  expect(storedSecretCount(store)).toBe(model.buckets.filter((k) => k !== undefined).length)
  expect(store.buckets).toEqual(model.buckets)
}

const outcome = (r: Result.Result<Uint8Array, { readonly reason: string }>): string => (Result.isSuccess(r) ? toHex(r.success) : r.failure.reason)

describe("the packed secret storage behaves as the object form (model)", () => {
  it("accepts and refuses the same insertions, holds the same entries, encodes and derives the same", () => {
    fc.assert(
      fc.property(bytes32, bytes32, start, fc.array(step, { maxLength: 160 }), fc.array(fc.bigInt({ min: -2n, max: 600n }), { maxLength: 8 }), (seed, other, first, steps, probes) => {
        let store: SecretStore = emptySecretStore
        let model = modelEmpty
        let next = first
        sameStore(store, model)
        for (const s of steps) {
          if (next < 0n) break
          const index = s === "skip" ? next - 1n : s === "outOfRange" ? FIRST_INDEX + 1n : next
          const secret = s === "otherSeed" ? perCommitmentSecret(other, next) : s === "short" ? new Uint8Array(31) : perCommitmentSecret(seed, next)
          const r = insertSecret(store, secret, index)
          const m = modelInsert(model, secret, index)
          if ("reason" in m) {
            expect(Result.isFailure(r) && r.failure.reason).toBe(m.reason)
            continue
          }
          if (Result.isFailure(r)) throw new Error(`refused (${r.failure.reason}) what the model accepts`)
          store = r.success
          model = m.store
          if (s !== "otherSeed") next--
          sameStore(store, model)
        }
        // old secrets (and indexes not received yet, or out of range) around the last one
        const last = store.lastIndex ?? first
        for (const p of probes) {
          const index = last + p
          expect(outcome(deriveOldSecret(store, index))).toBe(modelDeriveOld(model, index))
        }
        expect(outcome(deriveOldSecret(store, FIRST_INDEX))).toBe(modelDeriveOld(model, FIRST_INDEX))
        // the encoding decodes to an equal storage
        const back = Result.getOrThrow(decodeSecretStore(encodeSecretStore(store)))
        sameStore(back, model)
        expect(back).toEqual(store)
      }),
      { numRuns: 300, seed: 1307 }
    )
  })

  it("takes a storage of the plain shape (packed first) as its packed equal", () => {
    fc.assert(
      fc.property(bytes32, start, fc.integer({ min: 0, max: 70 }), (seed, first, n) => {
        let model = modelEmpty
        for (let i = 0n; i < BigInt(n) && first - i >= 0n; i++) {
          const m = modelInsert(model, perCommitmentSecret(seed, first - i), first - i)
          if ("reason" in m) throw new Error(m.reason)
          model = m.store
        }
        const plain: SecretStore = model
        expect(secretStoreHex(plain)).toBe(modelEncode(model))
        expect(storedSecretCount(plain)).toBe(model.buckets.filter((k) => k !== undefined).length)
        expect(outcome(deriveOldSecret(plain, first))).toBe(modelDeriveOld(model, first))
        const index = (model.lastIndex ?? first + 1n) - 1n
        if (index < 0n) return
        const r = insertSecret(plain, perCommitmentSecret(seed, index), index)
        const m = modelInsert(model, perCommitmentSecret(seed, index), index)
        if ("reason" in m) throw new Error(m.reason)
        sameStore(Result.getOrThrow(r), m.store)
      }),
      { numRuns: 100, seed: 1308 }
    )
  })

  it("never changes a storage it was given (each insertion makes a new one)", () => {
    const seed = new Uint8Array(32).fill(9)
    let store: SecretStore = emptySecretStore
    const held: Array<[SecretStore, string]> = []
    for (let i = 0n; i < 40n; i++) {
      held.push([store, toHex(encodeSecretStore(store))])
      store = Result.getOrThrow(insertSecret(store, perCommitmentSecret(seed, FIRST_INDEX - i), FIRST_INDEX - i))
    }
    for (const [s, hex] of held) expect(toHex(encodeSecretStore(s))).toBe(hex)
    // the encoding handed out is a copy
    const bytes = encodeSecretStore(store)
    bytes.fill(0)
    expect(encodeSecretStore(store)).not.toEqual(bytes)
  })
})

describe("an insertion repeated on an equal storage (the channel's, then its monitor's)", () => {
  const reasonOf = (r: Result.Result<SecretStore, { readonly reason: string }>): string => (Result.isSuccess(r) ? "ok" : r.failure.reason)
  const asModel = (r: Result.Result<SecretStore, { readonly reason: string }>, m: ModelInsert): void => {
    if ("reason" in m) expect(reasonOf(r)).toBe(m.reason)
    else sameStore(Result.getOrThrow(r), m.store)
  }

  it("gives the first insertion's storage for the same secret into an equal storage, and the model's result in every other case", () => {
    fc.assert(
      fc.property(bytes32, bytes32, start, fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 31 }), (seed, other, first, n, flip) => {
        let store: SecretStore = emptySecretStore
        let model = modelEmpty
        // A second chain from another seed at the same indexes: equal indexes, other secrets.
        let stranger: SecretStore = emptySecretStore
        for (let i = 0n; i < BigInt(n) && first - i >= 0n; i++) {
          const index = first - i
          const secret = perCommitmentSecret(seed, index)
          const m = modelInsert(model, secret, index)
          if ("reason" in m) throw new Error(m.reason)
          const twin = Result.getOrThrow(decodeSecretStore(encodeSecretStore(store)))
          const r1 = insertSecret(store, secret, index)
          asModel(r1, m)
          // the monitor's storage: equal bytes, another object: the channel's result, shared
          const r2 = insertSecret(twin, secret, index)
          asModel(r2, m)
          expect(Result.getOrThrow(r2)).toBe(Result.getOrThrow(r1))
          // once taken, the same insertion again is computed afresh (equal, not the same object)
          const r3 = insertSecret(store, secret, index)
          asModel(r3, m)
          // the same secret object into a storage of other secrets: refused as the model refuses it
          const theirs = insertSecret(stranger, secret, index)
          const strangerModel = Result.getOrThrow(decodeSecretStore(encodeSecretStore(stranger)))
          expect(reasonOf(theirs)).toBe(reasonOf(insertSecret(strangerModel, secret.slice(), index)))
          // a secret changed after its first insertion is no hit
          const copy = secret.slice()
          asModel(insertSecret(store, copy, index), m)
          copy[flip] = (copy[flip] ?? 0) ^ 1
          asModel(insertSecret(twin, copy, index), modelInsert(model, copy, index))
          store = Result.getOrThrow(r1)
          model = m.store
          stranger = Result.getOrThrow(insertSecret(stranger, perCommitmentSecret(other, index), index))
        }
      }),
      { numRuns: 60, seed: 1309 }
    )
  })
})
