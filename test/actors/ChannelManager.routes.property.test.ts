/**
 * The manager's route table remembers the last peer message's route (no hex or key string made
 * when the next message names the same channel) and forgets it at any change of the map; a miss
 * looks the id's hex up among the peer's routes (no key joined per lookup); the
 * hex of an id array is converted once per array. Property-tested against the plain forms: a
 * map read with a key made per lookup, `toHex` per call.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeRouteTable } from "../../src/actors/ChannelManager.ts"
import { hexOfHeld, toHex } from "../../src/protocol/bytes.ts"

type Op =
  | { readonly _tag: "Set"; readonly peer: number; readonly id: number; readonly value: number }
  | { readonly _tag: "Delete"; readonly peer: number; readonly id: number }
  | { readonly _tag: "Route"; readonly peer: number; readonly id: number }

const peers = ["02" + "aa".repeat(32), "03" + "bb".repeat(32)]
/** Channel id bytes: a fresh array each time (as a decoded message's), ids 0..3 differing in one byte. */
const idBytes = (id: number): Uint8Array => {
  const b = new Uint8Array(32).fill(5)
  b[31] = id
  return b
}
const keyOf = (peer: number, id: number): string => `${peers[peer] ?? ""}/${toHex(idBytes(id))}`

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("Set" as const), peer: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }), value: fc.nat() }),
  fc.record({ _tag: fc.constant("Delete" as const), peer: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ _tag: fc.constant("Route" as const), peer: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }) })
)

describe("ChannelManager route table", () => {
  it("routes as a plain map read with a key made per lookup, whatever the sets and deletes between", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const table = makeRouteTable<{ readonly value: number }>()
        const plain = new Map<string, { readonly value: number }>()
        for (const o of ops) {
          switch (o._tag) {
            case "Set": {
              const entry = { value: o.value }
              table.set(keyOf(o.peer, o.id), entry)
              plain.set(keyOf(o.peer, o.id), entry)
              break
            }
            case "Delete":
              table.delete(keyOf(o.peer, o.id))
              plain.delete(keyOf(o.peer, o.id))
              break
            case "Route":
              expect(table.route(peers[o.peer] ?? "", idBytes(o.id))).toBe(plain.get(keyOf(o.peer, o.id)))
          }
        }
        expect([...table.routes]).toStrictEqual([...plain])
      }),
      { numRuns: 1_000 }
    )
  })

  it("a route replaced or deleted after it was used is not given again", () => {
    const table = makeRouteTable<string>()
    const key = keyOf(0, 1)
    table.set(key, "first")
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("first")
    table.set(key, "second")
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("second")
    table.delete(key)
    expect(table.route(peers[0] ?? "", idBytes(1))).toBeUndefined()
    // Another peer with the same channel id bytes is another route.
    table.set(key, "third")
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("third")
    expect(table.route(peers[1] ?? "", idBytes(1))).toBeUndefined()
  })
})

describe("ChannelManager route table: ids of another length", () => {
  it("are found as the plain map finds them, and never given from the memo for other bytes", () => {
    const table = makeRouteTable<string>()
    const short = Uint8Array.of(1, 2, 3)
    table.set(`${peers[0] ?? ""}/${toHex(short)}`, "short")
    table.set(keyOf(0, 1), "long")
    expect(table.route(peers[0] ?? "", short)).toBe("short")
    expect(table.route(peers[0] ?? "", Uint8Array.of(1, 2, 4))).toBeUndefined()
    expect(table.route(peers[0] ?? "", idBytes(1))).toBe("long")
    expect(table.route(peers[0] ?? "", short)).toBe("short")
  })
})

describe("hexOfHeld", () => {
  it("is toHex, for fresh arrays and for the same array asked again", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        expect(hexOfHeld(bytes)).toBe(toHex(bytes))
        expect(hexOfHeld(bytes)).toBe(toHex(bytes))
      }),
      { numRuns: 500 }
    )
  })
})
