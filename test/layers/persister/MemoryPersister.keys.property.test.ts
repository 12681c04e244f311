/**
 * The memory persister keys a channel by its id's hex, made once per id array and checked
 * against the array's bytes at each use (a refilled array is keyed again), and `channelKey` is
 * the id's lowercase hex. Property-tested against the plain forms: the key made from the bytes
 * as they are at each write (`toHex`), and the char-code construction `channelKey` had before;
 * `heldChannelKey` (the same key, shared by the persisters on the write path) against `channelKey`.
 */
import fc from "fast-check"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeMemoryPersister, makeMemoryPersisterData } from "../../../src/layers/persister/MemoryPersister.ts"
import { channelKey, heldChannelKey } from "../../../src/layers/persister/replica.ts"
import { toHex } from "../../../src/protocol/bytes.ts"
import type { ChannelId } from "../../../src/protocol/units.ts"
import { channelIdOf, logOf, stateAt } from "./fixtures.ts"

/** `channelKey` as it was: char codes spread into `String.fromCharCode`. */
const plainKey = (bytes: Uint8Array): string => {
  const digits = "0123456789abcdef"
  const codes: Array<number> = []
  for (const b of bytes) codes.push(digits.charCodeAt(b >> 4), digits.charCodeAt(b & 15))
  return String.fromCharCode(...codes)
}

/** Which channel's bytes an id array holds at a write, and whether the array is a fresh copy or one reused (refilled in place). */
type Write = { readonly channel: number; readonly array: number }

const CHANNELS = 3
const logs = Array.from({ length: CHANNELS }, (_, i) => logOf(i, 40))

describe("MemoryPersister keys", () => {
  it("channelKey is the lowercase hex of the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const id = channelIdOf(0)
        id.set(bytes)
        expect(channelKey(id)).toBe(plainKey(bytes))
      }),
      { numRuns: 500 }
    )
  })

  it("each write lands under the key of its id's bytes as they are then, whatever array holds them", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ channel: fc.integer({ min: 0, max: CHANNELS - 1 }), array: fc.integer({ min: 0, max: 3 }) }), { maxLength: 40 }), async (writes: ReadonlyArray<Write>) => {
        const ids = Array.from({ length: CHANNELS }, (_, i) => channelIdOf(i))
        // Four arrays the writes use, refilled in place with the bytes of the channel written (as a caller reusing a buffer).
        const arrays: Array<ChannelId> = Array.from({ length: 4 }, (_, k) => channelIdOf(100 + k))
        const written = new Map<string, number>()
        const data = makeMemoryPersisterData()
        await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function*() {
              const { persister } = yield* makeMemoryPersister({ data, compactEvery: 0 })
              for (const w of writes) {
                const array = arrays[w.array]
                const bytes = ids[w.channel]
                if (array === undefined || bytes === undefined) continue
                array.set(bytes)
                const next = written.get(toHex(array)) ?? 0
                const update = logs[w.channel]?.[next]
                if (update === undefined) continue
                expect(yield* persister.persist(array, [update], stateAt(w.channel, update.updateId))).toBe("Completed")
                written.set(toHex(array), next + 1)
              }
            })
          )
        )
        // Every channel's updates under the key of its bytes, in order.
        expect(new Set(data.channels.keys())).toStrictEqual(new Set(written.keys()))
        for (const [key, n] of written) {
          const channel = ids.findIndex((id) => toHex(id) === key)
          expect(data.channels.get(key)?.updates).toStrictEqual(logs[channel]?.slice(0, n))
        }
      }),
      { numRuns: 200 }
    )
  })
})

describe("heldChannelKey", () => {
  it("is channelKey of the bytes as they are at each call, whatever array holds them (refilled in place or new)", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 3 }), array: fc.integer({ min: 0, max: 2 }) }), { maxLength: 60 }), (calls) => {
        const contents = Array.from({ length: 4 }, (_, i) => channelIdOf(200 + i))
        const arrays: Array<ChannelId> = Array.from({ length: 3 }, (_, k) => channelIdOf(300 + k))
        for (const c of calls) {
          const array = arrays[c.array]
          const bytes = contents[c.bytes]
          if (array === undefined || bytes === undefined) continue
          array.set(bytes)
          expect(heldChannelKey(array)).toBe(plainKey(array))
          expect(heldChannelKey(array)).toBe(channelKey(array))
        }
      }),
      { numRuns: 300, seed: 16 }
    )
  })
})
