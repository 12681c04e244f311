import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { toHex } from "../../src/protocol/bytes.ts"
import { makeStreamReader } from "../../src/actors/StreamReader.ts"
import { TransportClosed, type Connection } from "../../src/services/Transport.ts"

/** A connection that yields the given chunks, then is closed. */
const fromChunks = (chunks: ReadonlyArray<Uint8Array>): Connection => {
  let i = 0
  return {
    remoteAddress: { host: "h", port: 1 },
    read: Effect.suspend(() => {
      const c = chunks[i++]
      return c === undefined ? Effect.fail(new TransportClosed({ reason: "end" })) : Effect.succeed(c)
    }),
    write: () => Effect.void,
    close: Effect.void
  }
}

describe("StreamReader", () => {
  it.effect("exact reads reassemble any chunking, then fail when closed", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.uint8Array({ maxLength: 300 }),
            fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
            fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 20 }),
            async (data, cuts, reads) => {
              const chunks: Array<Uint8Array> = []
              let off = 0
              for (let k = 0; off < data.length; k++) {
                const n = cuts[k % cuts.length] ?? 1
                chunks.push(data.slice(off, off + n))
                off += n
              }
              const reader = makeStreamReader(fromChunks(chunks))
              let pos = 0
              for (const n of reads) {
                const r = await Effect.runPromise(Effect.result(reader.readExactly(n)))
                if (pos + n <= data.length) {
                  assert.strictEqual(r._tag, "Success")
                  if (r._tag === "Success") assert.strictEqual(toHex(r.success), toHex(data.subarray(pos, pos + n)))
                  pos += n
                } else {
                  assert.strictEqual(r._tag, "Failure")
                  return
                }
              }
            }
          ),
          { numRuns: 300 }
        )
      )
    }))
})
