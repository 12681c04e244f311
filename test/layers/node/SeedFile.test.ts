import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer } from "effect"
import fc from "fast-check"
import { hkdfSync } from "node:crypto"
import { toHex } from "../../../src/protocol/bytes.ts"
import { nobleSecp256k1 } from "../../../src/protocol/crypto/secp256k1.ts"
import * as OsEntropy from "../../../src/layers/node/OsEntropy.ts"
import {
  decodeSeedFile,
  encodeSeedFile,
  loadOrCreateSeed,
  SEED_FILE_LENGTH,
  SEED_FILE_NAME
} from "../../../src/layers/node/SeedFile.ts"
import * as SeedFileSigner from "../../../src/layers/node/SeedFileSigner.ts"
import { deriveNodeSecret, deriveSecret } from "../../../src/protocol/keys/seed.ts"
import * as SeededEntropy from "../../../src/layers/test/SeededEntropy.ts"
import { Entropy } from "../../../src/services/Entropy.ts"
import { NodeSigner } from "../../../src/services/NodeSigner.ts"

const nodeIdOf = (dataDir: string) =>
  Effect.gen(function*() {
    const signer = yield* NodeSigner
    return toHex(signer.nodeId)
  }).pipe(Effect.provide(SeedFileSigner.layer(dataDir)))

describe("SeedFile", () => {
  it.layer(Layer.mergeAll(NodeServices.layer, OsEntropy.layer))((it) => {
    it.effect("first start creates the seed file with mode 0600; later starts reuse it", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const root = yield* fs.makeTempDirectoryScoped()
        const dataDir = `${root}/nested/data`
        const first = yield* loadOrCreateSeed(dataDir)
        assert.isTrue(first.created)
        assert.strictEqual(first.path, `${dataDir}/${SEED_FILE_NAME}`)
        assert.strictEqual(first.seed.length, 32)
        const info = yield* fs.stat(first.path)
        assert.strictEqual(info.mode & 0o777, 0o600)
        assert.strictEqual((yield* fs.stat(dataDir)).mode & 0o777, 0o700)
        assert.strictEqual(Number(info.size), SEED_FILE_LENGTH)
        // No temporary file is left behind.
        assert.deepStrictEqual(yield* fs.readDirectory(dataDir), [SEED_FILE_NAME])

        const second = yield* loadOrCreateSeed(dataDir)
        assert.isFalse(second.created)
        assert.deepStrictEqual(second.seed, first.seed)

        // The signer (node id) is the same on every start.
        const id1 = yield* nodeIdOf(dataDir)
        const id2 = yield* nodeIdOf(dataDir)
        assert.strictEqual(id1, id2)
        assert.strictEqual(id1, toHex(nobleSecp256k1.publicKey(deriveNodeSecret(first.seed)) ?? new Uint8Array()))
        // Another data directory is another node.
        assert.notStrictEqual(yield* nodeIdOf(`${root}/other`), id1)
      }))

    it.effect("a corrupt seed file is a typed error and is never overwritten", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dataDir = yield* fs.makeTempDirectoryScoped()
        const path = `${dataDir}/${SEED_FILE_NAME}`
        const valid = encodeSeedFile(new Uint8Array(32).fill(7))
        const flipped = valid.slice()
        flipped[20] = (flipped[20] ?? 0) ^ 1
        const badMagic = valid.slice()
        badMagic[0] = 0x41
        const cases: ReadonlyArray<readonly [string, Uint8Array, RegExp]> = [
          ["empty", new Uint8Array(0), /expected 44 bytes, found 0/],
          ["truncated", valid.subarray(0, 40), /expected 44 bytes, found 40/],
          ["too long", new Uint8Array([...valid, 0]), /expected 44 bytes, found 45/],
          ["bad magic", badMagic, /bad magic/],
          ["flipped bit", flipped, /checksum mismatch/]
        ]
        for (const [name, bytes, reason] of cases) {
          yield* fs.writeFile(path, bytes, { mode: 0o600 })
          const error = yield* Effect.flip(loadOrCreateSeed(dataDir))
          assert.strictEqual(error._tag, "SeedFileCorrupt", name)
          if (error._tag === "SeedFileCorrupt") {
            assert.match(error.reason, reason, name)
            assert.strictEqual(error.path, path)
          }
          const signerError = yield* Effect.flip(nodeIdOf(dataDir))
          assert.strictEqual(signerError._tag, "SeedFileCorrupt", name)
          assert.deepStrictEqual(yield* fs.readFile(path), bytes, `${name}: file left untouched`)
        }
      }))

    it.effect("concurrent first starts agree on one seed (link never replaces a file)", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dataDir = `${yield* fs.makeTempDirectoryScoped()}/data`
        const results = yield* Effect.all(Array.from({ length: 8 }, () => loadOrCreateSeed(dataDir)), {
          concurrency: "unbounded"
        })
        const first = results[0]
        assert.isDefined(first)
        for (const r of results) assert.deepStrictEqual(r.seed, first?.seed)
        assert.strictEqual(results.filter((r) => r.created).length, 1)
        assert.deepStrictEqual(yield* fs.readDirectory(dataDir), [SEED_FILE_NAME])
      }))

    it.effect("a directory where the seed file should be is a typed error", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dataDir = yield* fs.makeTempDirectoryScoped()
        yield* fs.makeDirectory(`${dataDir}/${SEED_FILE_NAME}`)
        const error = yield* Effect.flip(loadOrCreateSeed(dataDir))
        assert.strictEqual(error._tag, "SeedFileCorrupt")
        if (error._tag === "SeedFileCorrupt") assert.match(error.reason, /not a regular file/)
      }))

    it.effect("a data directory that cannot be created is a typed SeedFileError", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const root = yield* fs.makeTempDirectoryScoped()
        yield* fs.writeFileString(`${root}/file`, "not a directory")
        const error = yield* Effect.flip(loadOrCreateSeed(`${root}/file/data`))
        assert.strictEqual(error._tag, "SeedFileError")
      }))
  })

  it.effect("the seed comes from Entropy: a seeded Entropy gives a reproducible node", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const a = yield* fs.makeTempDirectoryScoped()
      const b = yield* fs.makeTempDirectoryScoped()
      const seedA = (yield* loadOrCreateSeed(a).pipe(Effect.provide(SeededEntropy.layer("seed-test")))).seed
      const seedB = (yield* loadOrCreateSeed(b).pipe(Effect.provide(SeededEntropy.layer("seed-test")))).seed
      assert.deepStrictEqual(seedA, seedB)
      const expected = yield* Effect.provide(
        Effect.gen(function*() {
          const entropy = yield* Entropy
          return yield* entropy.randomBytes(32)
        }),
        SeededEntropy.layer("seed-test")
      )
      assert.deepStrictEqual(seedA, expected)
    }).pipe(Effect.provide(NodeServices.layer)))

  it("the file format round-trips and rejects what it did not write", () => {
    const seed = new Uint8Array(32).map((_, i) => i)
    const encoded = encodeSeedFile(seed)
    assert.strictEqual(encoded.length, SEED_FILE_LENGTH)
    assert.strictEqual(new TextDecoder().decode(encoded.subarray(0, 8)), "ELNSEED1")
    const decoded = decodeSeedFile(encoded)
    assert.isTrue("seed" in decoded && toHex(decoded.seed) === toHex(seed))
    assert.isTrue("error" in decodeSeedFile(seed))
  })
})

describe("seed file format (properties)", () => {
  it("decodeSeedFile never throws and accepts exactly what encodeSeedFile wrote", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const decoded = decodeSeedFile(bytes)
        if ("seed" in decoded) assert.deepStrictEqual(encodeSeedFile(decoded.seed), bytes)
      }),
      { numRuns: 10_000 }
    )
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const decoded = decodeSeedFile(encodeSeedFile(seed))
        assert.isTrue("seed" in decoded && toHex(decoded.seed) === toHex(seed))
      }),
      { numRuns: 10_000 }
    )
  })

  it("any single-bit flip of a seed file is detected", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: SEED_FILE_LENGTH * 8 - 1 }),
        (seed, bit) => {
          const file = encodeSeedFile(seed)
          file[bit >> 3] = (file[bit >> 3] ?? 0) ^ (1 << (bit & 7))
          assert.isTrue("error" in decodeSeedFile(file))
        }
      ),
      { numRuns: 10_000 }
    )
  })
})

describe("SeedKeys", () => {
  it("derives with HKDF-SHA256 (salt effect-lightning/seed/v1, info label || counter), as documented", () => {
    const seed = new Uint8Array(32).map((_, i) => 255 - i)
    // Independent implementation: Node's own HKDF.
    const expected = new Uint8Array(
      hkdfSync("sha256", seed, "effect-lightning/seed/v1", Buffer.concat([Buffer.from("node"), Buffer.of(0)]), 32)
    )
    assert.strictEqual(toHex(deriveNodeSecret(seed)), toHex(expected))
    assert.strictEqual(toHex(deriveSecret(seed, "node")), toHex(expected))
  })

  it("different labels and different seeds give different valid secrets", () => {
    const seed = new Uint8Array(32).fill(1)
    const secrets = [
      deriveSecret(seed, "node"),
      deriveSecret(seed, "channel/0"),
      deriveSecret(seed, "channel/1"),
      deriveSecret(new Uint8Array(32).fill(2), "node")
    ]
    for (const s of secrets) assert.isTrue(nobleSecp256k1.isValidSecret(s))
    assert.strictEqual(new Set(secrets.map(toHex)).size, secrets.length)
  })
})
