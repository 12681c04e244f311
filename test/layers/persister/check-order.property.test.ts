/**
 * Every persister's order check (`replica.ts` `checkOrder`) compares update ids as numbers while
 * they are safe integers (no BigInt made per update): property-tested against the plain form,
 * `expected = latest + 1n` stepped with BigInts, around 0 and around 2^53, with ids that follow or
 * skip, repeat, go back or jump far.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { checkOrder } from "../../../src/layers/persister/replica.ts"
import type { MonitorUpdate } from "../../../src/protocol/monitor/update.ts"
import { PersistOutOfOrder } from "../../../src/services/MonitorPersister.ts"

const plain = (key: string, latest: bigint, updates: ReadonlyArray<MonitorUpdate>): PersistOutOfOrder | undefined => {
  let expected = latest + 1n
  for (const u of updates) {
    if (u.updateId !== expected) return new PersistOutOfOrder({ channel: key, expected, received: u.updateId })
    expected += 1n
  }
  return undefined
}

const update = (updateId: bigint): MonitorUpdate => ({ _tag: "PaymentPreimage", updateId, preimage: new Uint8Array(32) })
const SAFE = BigInt(Number.MAX_SAFE_INTEGER)
/** Where a log may stand: none (-1), small, around 2^53 (where numbers stop being exact), far beyond, below -1. */
const latestArb = fc.oneof(
  fc.constantFrom(-1n, 0n, 1n, SAFE - 2n, SAFE - 1n, SAFE, SAFE + 1n, 2n ** 64n - 1n, -2n, -(2n ** 60n)),
  fc.bigInt({ min: -3n, max: 40n }),
  fc.bigInt({ min: SAFE - 4n, max: SAFE + 4n }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })
)
/** The step from the previous id: mostly the next one, sometimes a skip, a repeat, a step back or a far jump (to an id that rounds to the same number). */
const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(1n) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 2n, -1n, 3n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 54n + 1n, -(2n ** 53n)) }
)

describe("persister order check", () => {
  it("refuses exactly what the plain BigInt check refuses, with the same expected and received ids", () => {
    fc.assert(
      fc.property(latestArb, fc.bigInt({ min: -1n, max: 1n }), fc.array(stepArb, { maxLength: 6 }), (latest, firstOffset, steps) => {
        const ids: Array<bigint> = []
        let id = latest + 1n + firstOffset
        for (const step of steps) {
          ids.push(id)
          id += step
        }
        const updates = ids.map(update)
        expect(checkOrder("k", latest, updates)).toStrictEqual(plain("k", latest, updates))
      }),
      { numRuns: 5_000, seed: 18 }
    )
  })

  it("ids one after the other pass; a gap, a repeat or a rounding neighbour past 2^53 does not", () => {
    expect(checkOrder("k", -1n, [update(0n), update(1n), update(2n)])).toBeUndefined()
    expect(checkOrder("k", SAFE - 2n, [update(SAFE - 1n), update(SAFE), update(SAFE + 1n)])).toBeUndefined()
    // 2^53 + 1 is 2^53 as a number: it must not pass for the id after 2^53 - 1.
    expect(checkOrder("k", SAFE, [update(SAFE + 2n)])).toStrictEqual(plain("k", SAFE, [update(SAFE + 2n)]))
    expect(checkOrder("k", 4n, [update(5n), update(5n)])).toStrictEqual(new PersistOutOfOrder({ channel: "k", expected: 6n, received: 5n }))
    expect(checkOrder("k", 4n, [update(7n)])).toStrictEqual(new PersistOutOfOrder({ channel: "k", expected: 5n, received: 7n }))
  })
})
