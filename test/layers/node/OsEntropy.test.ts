import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as OsEntropy from "../../../src/layers/node/OsEntropy.ts"
import { Entropy } from "../../../src/services/Entropy.ts"

describe("OsEntropy", () => {
  it.effect("gives fresh arrays of the requested length", () =>
    Effect.gen(function*() {
      const entropy = yield* Entropy
      for (const n of [0, 1, 32, 1000]) assert.strictEqual((yield* entropy.randomBytes(n)).length, n)
      const a = yield* entropy.randomBytes(32)
      const b = yield* entropy.randomBytes(32)
      assert.notDeepEqual(a, b) // equal with probability 2^-256
      assert.strictEqual(Object.getPrototypeOf(a), Uint8Array.prototype) // not a Node Buffer
      // 64 KiB of output uses every byte value (a stuck or biased source would not).
      assert.strictEqual(new Set(yield* entropy.randomBytes(65536)).size, 256)
    }).pipe(Effect.provide(OsEntropy.layer)))
})
