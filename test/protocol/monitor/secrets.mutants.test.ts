/**
 * Tests written against mutants that survived Stryker (`npm run mutate`) in the monitor's
 * `secrets.ts`: the persisted form of the counterparty's secrets (BOLT 3 "Efficient
 * Per-commitment Secret Storage") accepts a real storage and nothing else, both ways.
 */
import { Option, Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { replay } from "../../../src/protocol/monitor/apply.ts"
import { SecretStoreSchema } from "../../../src/protocol/monitor/secrets.ts"
import { LogBuilder, secp } from "./fixtures.ts"

const storeAfterRevocations = () => {
  const b = new LogBuilder()
  for (let i = 0; i < 4; i++) {
    b.signCounterparty([])
    b.revoke()
  }
  const r = replay(secp, b.log)
  if (Result.isFailure(r)) throw new Error(r.failure._tag)
  return r.success.counterpartySecrets
}

describe("the monitor's persisted secret storage", () => {
  it("a storage with secrets round-trips", () => {
    const store = storeAfterRevocations()
    expect(store.lastIndex).toBeDefined()
    expect(store.buckets.length).toBeGreaterThan(1)
    const hex = Schema.encodeSync(SecretStoreSchema)(store)
    expect(Schema.decodeSync(SecretStoreSchema)(hex)).toEqual(store)
  })

  it("anything that is not a storage is refused when encoding, rather than written", () => {
    const secret = new Uint8Array(32).fill(1)
    const encode = Schema.encodeUnknownOption(SecretStoreSchema)
    const bad: ReadonlyArray<unknown> = [
      null,
      "store",
      {},
      { buckets: [] },
      { buckets: "x", lastIndex: undefined },
      { buckets: [], lastIndex: "5" },
      { buckets: [null], lastIndex: undefined },
      { buckets: ["x"], lastIndex: undefined },
      { buckets: [{ index: 5n }], lastIndex: 5n },
      { buckets: [{ secret }], lastIndex: 5n },
      { buckets: [{ index: "5", secret }], lastIndex: 5n },
      { buckets: [{ index: 5n, secret: "00" }], lastIndex: 5n }
    ]
    for (const value of bad) expect(Option.isNone(encode(value))).toBe(true)
  })

  it("bytes that are no storage are refused when decoding, and the message says why", () => {
    const r = Schema.decodeUnknownResult(SecretStoreSchema)("01")
    if (Result.isSuccess(r)) throw new Error("expected a decoding failure")
    expect(String(r.failure)).toContain("invalid secret storage")
  })
})
