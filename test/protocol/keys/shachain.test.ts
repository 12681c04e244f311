import { Result } from "effect"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fromHex, toHex } from "../../../src/protocol/bytes.ts"
import {
  decodeSecretStore,
  deriveOldSecret,
  encodeSecretStore,
  encodeSecretStoreEntry,
  emptySecretStore,
  FIRST_INDEX,
  insertSecret,
  perCommitmentSecret,
  perCommitmentSecretFromPrefix,
  prefixServes,
  secretAtCursor,
  secretStoreHex,
  secretCursor,
  secretPrefix,
  storedSecretCount,
  type SecretStore
} from "../../../src/protocol/keys/shachain.ts"
import { VECTORS_DIR } from "../../vectors.ts"

interface Vectors {
  readonly generation: ReadonlyArray<{ name: string; seed: string; index: number; output: string }>
  readonly storage: ReadonlyArray<{ name: string; steps: ReadonlyArray<{ index: number; secret: string; expect: "OK" | "ERROR" }> }>
}
const vectors = JSON.parse(readFileSync(`${VECTORS_DIR}/bolt03-per-commitment-secrets.json`, "utf8")) as Vectors

describe("BOLT 3 Appendix D: generation", () => {
  it("has the 5 generation vectors", () => expect(vectors.generation.length).toBe(5))
  for (const v of vectors.generation) {
    it(v.name, () => {
      expect(toHex(perCommitmentSecret(fromHex(v.seed), BigInt(v.index)))).toBe(v.output)
    })
  }
})

describe("BOLT 3 Appendix D: storage", () => {
  it("has the 9 storage sequences", () => expect(vectors.storage.length).toBe(9))
  for (const seq of vectors.storage) {
    it(seq.name, () => {
      let store: SecretStore = emptySecretStore
      let sawError = false
      for (const step of seq.steps) {
        const r = insertSecret(store, fromHex(step.secret), BigInt(step.index))
        if (step.expect === "OK") {
          expect(Result.isSuccess(r)).toBe(true)
          if (Result.isSuccess(r)) {
            store = r.success
            // every secret received so far is derivable from the compact storage
            for (const earlier of seq.steps) {
              if (earlier.index < step.index) break
              const d = deriveOldSecret(store, BigInt(earlier.index))
              expect(Result.isSuccess(d) && toHex(d.success)).toBe(earlier.secret)
            }
          }
        } else {
          expect(Result.isFailure(r)).toBe(true)
          if (Result.isFailure(r)) {
            expect(r.failure._tag).toBe("ShachainError")
            expect(r.failure.reason).toBe("InconsistentSecret")
          }
          sawError = true
          break
        }
      }
      const expectsError = seq.steps.some((s) => s.expect === "ERROR")
      expect(sawError).toBe(expectsError)
    })
  }
})

describe("shachain storage properties", () => {
  it("keeps at most 49 entries and derives every earlier secret, over long runs", () => {
    const seed = fromHex("0101010101010101010101010101010101010101010101010101010101010101")
    let store: SecretStore = emptySecretStore
    const n = 1500
    for (let i = 0n; i < BigInt(n); i++) {
      const index = FIRST_INDEX - i
      const r = insertSecret(store, perCommitmentSecret(seed, index), index)
      expect(Result.isSuccess(r)).toBe(true)
      if (Result.isSuccess(r)) store = r.success
      expect(storedSecretCount(store)).toBeLessThanOrEqual(49)
    }
    for (let i = 0n; i < BigInt(n); i += 7n) {
      const index = FIRST_INDEX - i
      const d = deriveOldSecret(store, index)
      expect(Result.isSuccess(d) && toHex(d.success)).toBe(toHex(perCommitmentSecret(seed, index)))
    }
    // not yet received
    expect(Result.isFailure(deriveOldSecret(store, FIRST_INDEX - BigInt(n)))).toBe(true)
  })

  it("hands out secrets of their own: later derivations and insertions (which derive in one reused buffer) leave them as they were", () => {
    const seed = fromHex("0202020202020202020202020202020202020202020202020202020202020202")
    // Index 0 has no bit set: its secret is the seed's bytes, still a copy.
    const zero = perCommitmentSecret(seed, 0n)
    expect(toHex(zero)).toBe(toHex(seed))
    expect(zero).not.toBe(seed)
    let store: SecretStore = emptySecretStore
    const derived: Array<[bigint, Uint8Array, string]> = []
    for (let i = 0n; i < 40n; i++) {
      const index = FIRST_INDEX - i
      const secret = perCommitmentSecret(seed, index)
      const r = insertSecret(store, secret, index)
      if (Result.isSuccess(r)) store = r.success
      const old = deriveOldSecret(store, FIRST_INDEX - i / 2n)
      if (Result.isSuccess(old)) derived.push([FIRST_INDEX - i / 2n, old.success, toHex(old.success)])
      derived.push([index, secret, toHex(secret)])
    }
    for (const [index, bytes, hex] of derived) {
      expect(toHex(bytes)).toBe(hex)
      expect(hex).toBe(toHex(perCommitmentSecret(seed, index)))
    }
    expect(new Set(derived.map(([, bytes]) => bytes)).size).toBe(derived.length)
    expect(toHex(seed)).toBe("0202020202020202020202020202020202020202020202020202020202020202")
  })

  it("rejects a secret from another seed at any position and leaves the storage unchanged", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 40 }), (seedA, seedB, good) => {
        fc.pre(toHex(seedA) !== toHex(seedB))
        let store: SecretStore = emptySecretStore
        for (let i = 0n; i < BigInt(good); i++) {
          const index = FIRST_INDEX - i
          const r = insertSecret(store, perCommitmentSecret(seedA, index), index)
          if (Result.isFailure(r)) return false
          store = r.success
        }
        const index = FIRST_INDEX - BigInt(good)
        const bad = insertSecret(store, perCommitmentSecret(seedB, index), index)
        // an index with trailing zeros checks the lower buckets; index ending in 1 checks nothing
        const checksSomething = (index & 1n) === 0n
        if (checksSomething && Result.isSuccess(bad)) return false
        // the storage value is immutable: the old store still derives the old secrets
        const d = deriveOldSecret(store, FIRST_INDEX)
        return Result.isSuccess(d) && toHex(d.success) === toHex(perCommitmentSecret(seedA, FIRST_INDEX))
      }),
      { numRuns: 200 }
    )
  })

  it("rejects out-of-order and malformed input with typed errors", () => {
    const seed = new Uint8Array(32)
    const r1 = insertSecret(emptySecretStore, perCommitmentSecret(seed, FIRST_INDEX), FIRST_INDEX)
    expect(Result.isSuccess(r1)).toBe(true)
    if (!Result.isSuccess(r1)) return
    const skip = insertSecret(r1.success, perCommitmentSecret(seed, FIRST_INDEX - 2n), FIRST_INDEX - 2n)
    expect(Result.isFailure(skip) && skip.failure.reason).toBe("UnexpectedIndex")
    const short = insertSecret(r1.success, new Uint8Array(31), FIRST_INDEX - 1n)
    expect(Result.isFailure(short) && short.failure.reason).toBe("BadSecretLength")
    const range = insertSecret(emptySecretStore, new Uint8Array(32), FIRST_INDEX + 1n)
    expect(Result.isFailure(range) && range.failure.reason).toBe("IndexOutOfRange")
  })
})

describe("secret storage encoding", () => {
  it("round-trips stores of any size", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 130 }), (seed, n) => {
        let store: SecretStore = emptySecretStore
        for (let i = 0n; i < BigInt(n); i++) {
          const index = FIRST_INDEX - i
          store = Result.getOrThrow(insertSecret(store, perCommitmentSecret(seed, index), index))
        }
        const back = Result.getOrThrow(decodeSecretStore(encodeSecretStore(store)))
        expect(back.lastIndex).toBe(store.lastIndex)
        expect(storedSecretCount(back)).toBe(storedSecretCount(store))
        if (n > 0) {
          // the decoded store keeps accepting the sequence and deriving old secrets
          const next = FIRST_INDEX - BigInt(n)
          const r = insertSecret(back, perCommitmentSecret(seed, next), next)
          expect(Result.isSuccess(r)).toBe(true)
          const d = deriveOldSecret(back, FIRST_INDEX)
          expect(Result.isSuccess(d) && toHex(d.success)).toBe(toHex(perCommitmentSecret(seed, FIRST_INDEX)))
        }
      }),
      { numRuns: 40 }
    )
  })

  it("is the entry count, then each held entry's encodeSecretStoreEntry in bucket order", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 200n, max: FIRST_INDEX }), fc.integer({ min: 0, max: 150 }), (start, n) => {
        const seed = new Uint8Array(32).fill(5)
        let store: SecretStore = emptySecretStore
        for (let i = 0n; i < BigInt(n); i++) store = Result.getOrThrow(insertSecret(store, perCommitmentSecret(seed, start - i), start - i))
        const entries = store.buckets.flatMap((e) => (e === undefined ? [] : [e]))
        expect(toHex(encodeSecretStore(store))).toBe(toHex(Uint8Array.of(entries.length)) + entries.map((e) => toHex(encodeSecretStoreEntry(e))).join(""))
      }),
      { numRuns: 60 }
    )
  })

  it("secretStoreHex is the hex of encodeSecretStore after every insertion, asked once or again", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 200n, max: FIRST_INDEX }), fc.integer({ min: 0, max: 150 }), (start, n) => {
        const seed = new Uint8Array(32).fill(6)
        let store: SecretStore = emptySecretStore
        expect(secretStoreHex(store)).toBe(toHex(encodeSecretStore(store)))
        for (let i = 0n; i < BigInt(n); i++) {
          store = Result.getOrThrow(insertSecret(store, perCommitmentSecret(seed, start - i), start - i))
          expect(secretStoreHex(store)).toBe(toHex(encodeSecretStore(store)))
        }
        expect(secretStoreHex(store)).toBe(toHex(encodeSecretStore(store)))
      }),
      { numRuns: 30 }
    )
  })

  it("round-trips stores that start at any index (insertSecret accepts any first index)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 200n, max: FIRST_INDEX }), fc.integer({ min: 1, max: 150 }), (start, n) => {
        const seed = new Uint8Array(32).fill(4)
        let store: SecretStore = emptySecretStore
        for (let i = 0n; i < BigInt(n); i++) store = Result.getOrThrow(insertSecret(store, perCommitmentSecret(seed, start - i), start - i))
        const bytes = encodeSecretStore(store)
        expect(toHex(encodeSecretStore(Result.getOrThrow(decodeSecretStore(bytes))))).toBe(toHex(bytes))
      }),
      { numRuns: 60 }
    )
  })

  it("refuses a stored file whose secrets or indexes were altered", () => {
    const seed = new Uint8Array(32).fill(6)
    // 64 secrets down to 2^48 - 64, whose 6 trailing zeros let it derive every other one held.
    let store: SecretStore = emptySecretStore
    for (let i = 0n; i < 64n; i++) store = Result.getOrThrow(insertSecret(store, perCommitmentSecret(seed, FIRST_INDEX - i), FIRST_INDEX - i))
    const good = encodeSecretStore(store)
    const count = good[0] ?? 0
    expect(count).toBe(7)
    const reason = (bytes: Uint8Array): string => {
      const r = decodeSecretStore(bytes)
      return Result.isFailure(r) ? r.failure.reason : "accepted"
    }
    expect(reason(good)).toBe("accepted")
    for (let e = 0; e < count; e++) {
      const secretByte = good.slice()
      secretByte[1 + e * 38 + 6 + 17] = (secretByte[1 + e * 38 + 6 + 17] ?? 0) ^ 0x20
      expect(reason(secretByte)).toBe("secrets are inconsistent")
      // another index in the same bucket (bit 7 of the index flipped keeps its trailing zeros)
      const indexByte = good.slice()
      indexByte[1 + e * 38 + 5] = (indexByte[1 + e * 38 + 5] ?? 0) ^ 0x80
      expect(reason(indexByte)).toBe("indexes are not those of one descending sequence")
    }
    // an entry dropped from the middle (bucket 3) leaves a gap below the largest index
    const dropped = Uint8Array.of(count - 1, ...good.subarray(1, 1 + 3 * 38), ...good.subarray(1 + 4 * 38))
    expect(reason(dropped)).toBe("indexes are not those of one descending sequence")
  })

  it("returns a typed error, never throws, on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 5 }).chain((n) => fc.uint8Array({ minLength: 38 * n, maxLength: 38 * n }).map((b) => Uint8Array.of(n, ...b)))), (bytes) => {
        const r = decodeSecretStore(bytes)
        if (Result.isFailure(r)) return r.failure._tag === "SecretStoreDecodeError"
        return toHex(encodeSecretStore(r.success)) === toHex(bytes)
      }),
      { numRuns: 10_000 }
    )
  })
})

describe("perCommitmentSecretFromPrefix", () => {
  it("gives generate_from_seed's secret for every index its prefix serves", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), (seed, index) => {
        const prefix = secretPrefix(seed, index)
        expect(prefixServes(prefix, index)).toBe(true)
        expect(perCommitmentSecretFromPrefix(prefix, index)).toEqual(perCommitmentSecret(seed, index))
        const neighbour = index ^ 1n
        expect(perCommitmentSecretFromPrefix(prefix, neighbour)).toEqual(perCommitmentSecret(seed, neighbour))
      }),
      { numRuns: 50 }
    )
  })

  it("refuses an index outside the prefix", () => {
    const seed = new Uint8Array(32).fill(3)
    const prefix = secretPrefix(seed, FIRST_INDEX)
    expect(() => perCommitmentSecretFromPrefix(prefix, FIRST_INDEX - (1n << 16n))).toThrow(RangeError)
  })
})

describe("secretAtCursor", () => {
  it("gives generate_from_seed's secret for any sequence of indexes its prefix serves (counting down, jumping, repeating)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }),
        fc.array(fc.oneof(fc.constant(-1), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 1, maxLength: 40 }),
        (seed, high, moves) => {
          const base = high << 16n
          const prefix = secretPrefix(seed, base)
          const cursor = secretCursor(prefix)
          // The cursor's values are one array of its own (17 values of 32 bytes), not the prefix's.
          expect(cursor.states.length).toBe(32 * 17)
          prefix.secret.fill(0)
          let low = 0xffff
          for (const move of moves) {
            // -1: the next commitment (index one below), 0: the same again, else a jump.
            low = move === -1 ? Math.max(0, low - 1) : move === 0 ? low : move
            const index = base + BigInt(low)
            const got = secretAtCursor(cursor, index)
            expect(toHex(got)).toBe(toHex(perCommitmentSecret(seed, index)))
            got.fill(0) // the caller owns its copy: the cursor must not be affected
          }
        }
      ),
      { numRuns: 100 }
    )
  })

  it("matches the BOLT 3 generation vectors from a fresh cursor, and counting down 300 indexes from 2^48-1", () => {
    for (const v of vectors.generation) {
      const index = BigInt(v.index)
      expect(toHex(secretAtCursor(secretCursor(secretPrefix(fromHex(v.seed), index)), index))).toBe(v.output)
    }
    const seed = new Uint8Array(32).fill(7)
    const cursor = secretCursor(secretPrefix(seed, FIRST_INDEX))
    for (let n = 0n; n < 300n; n++) expect(secretAtCursor(cursor, FIRST_INDEX - n)).toEqual(perCommitmentSecret(seed, FIRST_INDEX - n))
  })

  it("refuses an index outside its prefix", () => {
    const cursor = secretCursor(secretPrefix(new Uint8Array(32).fill(3), FIRST_INDEX))
    expect(() => secretAtCursor(cursor, FIRST_INDEX - (1n << 16n))).toThrow(RangeError)
  })
})
